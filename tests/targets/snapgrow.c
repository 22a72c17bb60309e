/*
 * snapgrow - a heap that changes on cue, for snapshots and diffs.
 *
 * At start it holds 300 blocks of 1000 bytes (1008-byte chunks, the
 * biggest group by far, for the exports) and 3 rounds' worth of 50
 * "victims" of 40 bytes (48-byte chunks), prints "ready PID" and waits.
 * Each SIGUSR1 runs one round in main (not in the handler): free 50
 * victims, then allocate 100 blocks of 200 bytes (208-byte chunks), and
 * print "grew round=N freed=50 freed_size=48 new=100 new_size=208".
 * Nothing else allocates after "ready" (stdout's buffer exists by then).
 *
 * With the argument "grow" it allocates 20 blocks of 1000 bytes every
 * 20 ms instead, forever (for `monitor`).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 3
#define VICTIMS 50
#define NEW 100

static volatile sig_atomic_t pending;
static void *big[300], *victims[ROUNDS * VICTIMS], *grown[ROUNDS * NEW];

static void
on_usr1(int sig)
{
	(void)sig;
	pending++;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, old;
	int round = 0;

	if (argc > 1 && !strcmp(argv[1], "grow")) {
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		for (;;) {
			for (int i = 0; i < 20; i++)
				memset(malloc(1000), 1, 1000);
			usleep(20000);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);	/* no signal lost before sigsuspend */
	for (int i = 0; i < 300; i++)
		memset(big[i] = malloc(1000), 2, 1000);
	for (int i = 0; i < ROUNDS * VICTIMS; i++)
		memset(victims[i] = malloc(40), 3, 40);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		while (!pending)
			sigsuspend(&old);
		pending--;
		if (round >= ROUNDS)
			continue;
		for (int i = 0; i < VICTIMS; i++)
			free(victims[round * VICTIMS + i]);
		for (int i = 0; i < NEW; i++)
			memset(grown[round * NEW + i] = malloc(200), 4, 200);
		round++;
		printf("grew round=%d freed=%d freed_size=48 new=%d new_size=208\n", round, VICTIMS, NEW);
		fflush(stdout);
	}
}
