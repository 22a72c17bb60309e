/*
 * lifecycle - what a traced process does besides allocating: once
 * heapdbg has patched malloc (its first byte changed), it creates and joins threads that
 * allocate, takes signals (SIGUSR1, and a SIGTRAP of its own), forks a
 * child that allocates (it must not die of a trap), vforks a child that
 * execs /bin/true, posix_spawns /bin/true, then execs itself with
 * "after-exec", which allocates, checks that no patch was carried into
 * the new image (malloc's first byte is 0xcc for a breakpoint, 0xe9 for a
 * jump: glibc's malloc starts with neither), and exits 0.  It prints what happened:
 *   threads ok N
 *   signals usr1=3 trap=1
 *   fork status=42
 *   vfork status=0
 *   spawn status=0
 *   after-exec ok malloc-byte=0xXX
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t usr1, trap;

static void on_usr1(int s) { usr1++; }
static void on_trap(int s) { trap++; }

static void *
thread_main(void *arg)
{
	void *v[100];
	for (int i = 0; i < 100; i++)
		v[i] = malloc(32 + i);
	for (int i = 0; i < 100; i++)
		free(v[i]);
	return malloc(77);	/* handed back to main, which frees it */
}

static unsigned char
malloc_byte(void)
{
	return *(volatile unsigned char *)(uintptr_t)&malloc;
}

int
main(int argc, char **argv)
{
	int st;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "after-exec")) {
		void *p = malloc(1000);
		free(p);
		printf("after-exec ok malloc-byte=0x%02x\n", malloc_byte());
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	{
		unsigned char orig = malloc_byte();
		while (malloc_byte() == orig)
			usleep(2000);
	}

	{
		pthread_t th[3];
		int n = 0;
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, thread_main, NULL);
		for (int i = 0; i < 3; i++) {
			void *r;
			pthread_join(th[i], &r);
			free(r);
			n++;
		}
		printf("threads ok %d\n", n);
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGTRAP, on_trap);
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGUSR1);
	raise(SIGTRAP);
	printf("signals usr1=%d trap=%d\n", (int)usr1, (int)trap);

	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			free(malloc(16 + i));
		/* a trap or a jump left in the child: 1 */
		_exit(malloc_byte() == 0xcc || malloc_byte() == 0xe9 ? 1 : 42);
	}
	waitpid(pid, &st, 0);
	printf("fork status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));

	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("vfork status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));

	{
		char *args[] = { "true", NULL };
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) == 0) {
			waitpid(pid, &st, 0);
			printf("spawn status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		} else {
			printf("spawn failed\n");
		}
	}
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "after-exec", (char *)NULL);
	printf("exec failed\n");
	return 1;
}
