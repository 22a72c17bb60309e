/*
 * exitrace - main returns while another thread still runs (it spins, its
 * only pointer to a block on its stack), for the leak check at exit: the
 * main thread's registers, stack and tcache must be there when the
 * process is held at its exit, whichever thread's exit the kernel reports
 * first.  Holds one block from a global, loses one.  Prints nothing
 * (no stdout buffer is allocated).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *held;
static volatile int started;

static void *
spin(void *arg)
{
	void *volatile mine = malloc(40);
	(void)arg;
	memset(mine, 0, 40);
	started = 1;
	for (;;)
		__asm__ volatile("" ::: "memory");
	return NULL;
}

int
main(void)
{
	pthread_t t;

	held = malloc(24);
	free(malloc(56));	/* the main thread's tcache holds a chunk */
	malloc(88);		/* definitely lost */
	pthread_create(&t, NULL, spin, NULL);
	while (!started)
		usleep(1000);
	return 0;
}
