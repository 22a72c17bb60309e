/*
 * sampled N - the sampling tracer's oracle: once heapdbg has patched
 * malloc (its first byte changes) it makes N allocations of 100 bytes
 * (small()) keeping every 10th, 200 of 65536 bytes (big()) keeping all,
 * and N/10 blocks grown by realloc from 40 to 400 bytes (grown()),
 * freeing every other one; then prints
 *   small=BLOCKS,BYTES big=BLOCKS,BYTES grown=BLOCKS,BYTES
 * (what is still allocated from each stack) and exits without freeing.
 * sampled N pause: the same in two phases for snapshots and diffs: after
 * small()'s it prints "phase1 small=BLOCKS,BYTES" and waits for SIGUSR1;
 * then big()'s and grown()'s, the full line as above, and it waits for
 * SIGUSR1 (or SIGTERM) again before exiting.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void **keep;
static volatile sig_atomic_t go;

static void
on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

/* Wait for SIGUSR1 (blocked until here, so none is lost). */
static void
wait_usr1(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
	go = 0;
}
static long nkeep;

__attribute__((noinline)) static void *
small(void)
{
	return malloc(100);
}

__attribute__((noinline)) static void *
big(void)
{
	return malloc(65536);
}

__attribute__((noinline)) static void *
grown(void *p)
{
	return realloc(p, 400);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, ks = 0, kg = 0;
	int pause_mode = argc > 2 && !strcmp(argv[2], "pause");
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGUSR1, on_usr1);
	unsigned char orig = *(volatile unsigned char *)(void *)&malloc;

	keep = malloc(sizeof(void *) * (size_t)(n + 400));
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (*(volatile unsigned char *)(void *)&malloc == orig)
		usleep(1000);
	for (long i = 0; i < n; i++) {
		void *p = small();
		memset(p, 1, 8);
		if (i % 10 == 0) {
			keep[nkeep++] = p;
			ks++;
		} else {
			free(p);
		}
	}
	if (pause_mode) {
		printf("phase1 small=%ld,%ld\n", ks, ks * 100);
		wait_usr1();
	}
	for (int i = 0; i < 200; i++)
		keep[nkeep++] = big();
	for (long i = 0; i < n / 10; i++) {
		void *p = malloc(40);
		p = grown(p);
		if (i % 2) {
			keep[nkeep++] = p;
			kg++;
		} else {
			free(p);
		}
	}
	printf("small=%ld,%ld big=%d,%d grown=%ld,%ld\n", ks, ks * 100, 200, 200 * 65536, kg, kg * 400);
	if (pause_mode)
		wait_usr1();
	return 0;
}
