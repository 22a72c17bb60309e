/*
 * forkexit - at heapdbg's exit break (an int3 at _exit) a fork child, a
 * vfork child and a failed posix_spawn each _exit on their own: each must
 * exit with its own status, never trap.  Prints (to stdout, through
 * stdio's buffer, which glibc's freeres frees at the exit):
 *   fork child: 5 sig 0
 *   vfork child: 6 sig 0
 *   spawn: 2
 * and exits 3.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void
report(const char *what, int st)
{
	printf("%s: %d sig %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int
main(void)
{
	char *av[] = { "/nonexistent/program", NULL };
	int st = 0, r;
	pid_t p = fork();

	if (p == 0)
		exit(5);
	waitpid(p, &st, 0);
	report("fork child", st);
	p = vfork();
	if (p == 0)
		_exit(6);
	waitpid(p, &st, 0);
	report("vfork child", st);
	r = posix_spawn(&p, av[0], NULL, NULL, av, environ);
	if (r == 0)
		waitpid(p, &st, 0);
	printf("spawn: %d\n", r ? r : WEXITSTATUS(st));
	return 3;
}
