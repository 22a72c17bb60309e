/*
 * forkmix [ROUNDS] - processes and threads coming and going under the
 * fast tracer.  It waits until malloc is patched, then ROUNDS times
 * (default 20): makes 100 malloc+free pairs; forks a child that makes
 * 1000 pairs and exits 42 unless it finds a jump or a breakpoint at
 * malloc (1); vforks a child that makes one pair and _exits 0 (the parent
 * thread's calls pass through meanwhile: the child runs on its stack);
 * vforks a child that execs /bin/true; starts 3 threads that make 200
 * pairs each, keep one block each, and end.  It prints
 *   calls malloc=N free=N        (its own, the children's not counted)
 *   children ok=N bad=N
 *   held blocks=N bytes=N
 * then exits 0 (heapdbg sees it at its exit).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_ulong n_malloc, n_free;
static unsigned char malloc_orig;
static void *kept[4096];
static atomic_int nkept;

static unsigned char
malloc_byte(void)
{
	return *(volatile unsigned char *)(uintptr_t)&malloc;
}

static void *
thread_main(void *arg)
{
	for (int i = 0; i < 200; i++) {
		free(malloc(32 + i));
		n_malloc++;
		n_free++;
	}
	kept[atomic_fetch_add(&nkept, 1)] = malloc(100);
	n_malloc++;
	return NULL;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20, ok = 0, bad = 0;

	malloc_orig = malloc_byte();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (malloc_byte() == malloc_orig)
		usleep(2000);
	for (int r = 0; r < rounds; r++) {
		pid_t pid;
		int st;
		pthread_t th[3];
		for (int i = 0; i < 100; i++) {
			free(malloc(16 + i));
			n_malloc++;
			n_free++;
		}
		pid = fork();
		if (pid == 0) {
			for (int i = 0; i < 1000; i++)
				free(malloc(16 + i));
			_exit(malloc_byte() == 0xcc || malloc_byte() == 0xe9 ? 1 : 42);
		}
		waitpid(pid, &st, 0);
		WIFEXITED(st) && WEXITSTATUS(st) == 42 ? ok++ : bad++;
		pid = vfork();
		if (pid == 0) {
			free(malloc(77));	/* in the parent's memory, on its stack */
			_exit(0);
		}
		waitpid(pid, &st, 0);
		WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ok++ : bad++;
		pid = vfork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ok++ : bad++;
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, thread_main, NULL);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
	}
	printf("calls malloc=%lu free=%lu\n", (unsigned long)n_malloc, (unsigned long)n_free);
	printf("children ok=%d bad=%d\n", ok, bad);
	printf("held blocks=%d bytes=%d\n", (int)nkept, 100 * (int)nkept);
	fflush(stdout);
	exit(0);
}
