/*
 * threads4 - four threads parked in distinct functions, for bt tests.
 *
 * Prints "ready PID" once every thread is parked, then sleeps until
 * killed (or until it has run for the number of seconds in argv[1],
 * default 600).  Each thread allocates a little so that each has a tcache
 * and (for the workers) an arena.  worker_gamma parks through an inlined
 * function.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t ready;
static int lifetime = 600;
void *keep[4];

__attribute__((noinline)) static void
park(void)
{
	sleep(lifetime);
}

__attribute__((noinline)) void
worker_alpha(void)
{
	keep[1] = malloc(100);
	pthread_barrier_wait(&ready);
	park();
}

__attribute__((noinline)) void
worker_beta(void)
{
	keep[2] = malloc(200);
	pthread_barrier_wait(&ready);
	park();
}

/* inlined even at -O0: bt shows it as gdb does, without an address */
static inline __attribute__((always_inline)) void
gamma_rest(void)
{
	park();
}

__attribute__((noinline)) void
worker_gamma(void)
{
	keep[3] = malloc(300);
	pthread_barrier_wait(&ready);
	gamma_rest();
}

static void *
start(void *arg)
{
	switch ((int)(long)arg) {
	case 1: worker_alpha(); break;
	case 2: worker_beta(); break;
	default: worker_gamma(); break;
	}
	return NULL;
}

__attribute__((noinline)) static void
main_wait(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	park();
}

int
main(int argc, char **argv)
{
	pthread_t th[3];
	if (argc > 1)
		lifetime = atoi(argv[1]);
	keep[0] = malloc(50);
	pthread_barrier_init(&ready, NULL, 4);
	for (long i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, start, (void *)(i + 1));
	pthread_barrier_wait(&ready);
	main_wait();
	return 0;
}
