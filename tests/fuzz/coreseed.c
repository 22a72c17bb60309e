/*
 * coreseed.c - the program whose cores seed the core-file fuzzer
 * (tests/fuzz/make-core-seeds.sh dumps it with gcore).  Small on purpose:
 * a heap with a chunk in every state (tcache, fastbin, unsorted, small
 * and large bins, mmapped), a second thread with its own arena and a
 * 64 KiB stack, a definite leak and a held pointer; run with
 * glibc.malloc.top_pad=0 and a low mmap threshold the whole core is a few
 * hundred KiB, most of it the main thread's stack, which the script trims.
 *
 * Prints "ready PID" once both threads are parked in sleep().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *held[64];
static pthread_barrier_t built;

static void
states(int salt)
{
	void *f[10], *sm[9], *l[2], *u;
	int n = 0;

	for (int i = 0; i < 12; i++)
		held[salt * 32 + n++] = malloc(16 + (size_t)(i * 40 + salt * 8));
	for (int i = 0; i < 2; i++) {
		l[i] = malloc(0x600 + i * 0x100);
		held[salt * 32 + n++] = malloc(0x18);
	}
	for (int i = 0; i < 9; i++) {
		sm[i] = malloc(0x88);
		held[salt * 32 + n++] = malloc(0x18);
	}
	for (int i = 0; i < 2; i++)
		free(l[i]);
	for (int i = 0; i < 9; i++)
		free(sm[i]);
	held[salt * 32 + n++] = malloc(0x800);	/* sorts into small and large bins */
	u = malloc(0x4f0);
	held[salt * 32 + n++] = malloc(0x18);
	free(u);				/* unsorted */
	for (int i = 0; i < 9; i++)
		f[i] = malloc(0x38);
	for (int i = 0; i < 9; i++)
		free(f[i]);			/* 7 tcache, 2 fastbin */
	memset(malloc(0x48), 0x5a, 0x48);	/* a definite leak */
	held[salt * 32 + n++] = malloc(5000);	/* mmapped (threshold 4096) */
}

static void *
worker(void *arg)
{
	states(1);
	pthread_barrier_wait(&built);
	for (;;)
		sleep(100);
	return NULL;
}

int
main(void)
{
	pthread_attr_t a;
	pthread_t th;

	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_barrier_init(&built, NULL, 2);
	states(0);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 65536);
	if (pthread_create(&th, &a, worker, NULL))
		return 1;
	pthread_barrier_wait(&built);
	printf("ready %d\n", (int)getpid());
	for (;;)
		sleep(100);
}
