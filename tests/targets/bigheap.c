/*
 * bigheap [NTHREADS [CHUNKS_PER_THREAD [exit]]] - the benchmark heap: NTHREADS
 * threads (default 3, each with its own arena) allocate CHUNKS_PER_THREAD
 * chunks each (default 400000) of mixed sizes, each block's first word
 * pointing to the block before it, free one in ten (so every free list has
 * members) and forget one in a hundred from the array (still reachable
 * through its neighbour), then park.  Prints "ready PID" when all are
 * parked.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long per_thread = 400000;
static pthread_barrier_t built;
static void **keep[64];

static void *
worker(void *arg)
{
	long id = (long)arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
	void **v = malloc(sizeof(void *) * (size_t)per_thread);

	keep[id] = v;
	for (long i = 0; i < per_thread; i++) {
		size_t sz;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sz = 16 + (x % 8 == 0 ? x % 2000 : x % 400);
		v[i] = malloc(sz);
		memset(v[i], (int)i, sz < 32 ? sz : 32);
		/* a pointer to the previous block: lists for the leak check */
		if (i && sz >= 16)
			*(void **)v[i] = v[i - 1];
	}
	for (long i = 0; i < per_thread; i += 10) {
		free(v[i]);
		v[i] = NULL;
	}
	for (long i = 5; i < per_thread; i += 100)
		v[i] = NULL;	/* reachable only from v[i+1] now */
	pthread_barrier_wait(&built);
	for (;;)
		pause();
	return NULL;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3;
	pthread_t th[64];

	if (argc > 2)
		per_thread = atol(argv[2]);
	int at_exit = argc > 3 && !strcmp(argv[3], "exit");
	if (n < 1 || n > 64)
		n = 3;
	pthread_barrier_init(&built, NULL, (unsigned)n + 1);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&built);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (at_exit)
		exit(0);	/* "exit": end here, the heap intact (benchmarks) */
	for (;;)
		pause();
}
