/*
 * pairs THREADS PAIRS [nowait|signal] - the tracer's benchmark: THREADS
 * threads each make PAIRS malloc+free pairs, 4 frames deep (worker ->
 * level1 -> level2 -> level3 -> malloc), sizes 16..271 bytes.  It prints
 * "ready PID", waits until heapdbg has patched malloc (its first byte
 * changes; not with nowait; with signal: until it gets SIGUSR1, for a
 * tracer that patches no code, heaptrack -p), runs, and prints
 *   pairs=N threads=T seconds=S ns_per_pair=X
 *   malloc-intact=1      (malloc's first 16 bytes as they were at start)
 * then exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long npairs = 1000000;
static int nowait;
static volatile sig_atomic_t got_usr1;
static unsigned char malloc_orig[16];
static pthread_barrier_t go;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void *
level3(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) static void *
level2(size_t n)
{
	void *p = level3(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) static void *
level1(size_t n)
{
	void *p = level2(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static void
on_usr1(int sig)
{
	got_usr1 = 1;
}

static void *
worker(void *arg)
{
	unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
	pthread_barrier_wait(&go);
	for (long i = 0; i < npairs; i++) {
		void *p;
		x = x * 1103515245u + 12345u;
		p = level1(16 + ((x >> 16) & 255));
		free(p);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 1;
	pthread_t th[64];
	double t0, t1;

	if (argc > 2)
		npairs = atol(argv[2]);
	nowait = argc > 3 && !strcmp(argv[3], "nowait");
	if (argc > 3 && !strcmp(argv[3], "signal")) {
		signal(SIGUSR1, on_usr1);
		nowait = 1;
	}
	if (nthreads < 1 || nthreads > 64)
		return 2;
	memcpy(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig));
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (!nowait && *(volatile unsigned char *)(uintptr_t)&malloc == malloc_orig[0])
		usleep(2000);
	while (argc > 3 && !strcmp(argv[3], "signal") && !got_usr1)
		usleep(2000);
	pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&go);
	t0 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	printf("pairs=%ld threads=%d seconds=%.6f ns_per_pair=%.1f\n", npairs * nthreads, nthreads, t1 - t0,
	       (t1 - t0) * 1e9 / (double)(npairs * nthreads));
	printf("malloc-intact=%d\n", !memcmp(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig)));
	return 0;
}
