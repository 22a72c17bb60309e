/*
 * sigcount - counts the SIGUSR1 signals it receives; on SIGUSR2 prints
 * "count=N" and exits 0.  Prints "ready PID" first.  For tests that
 * heapdbg passes every signal on to its target unchanged.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t count, done;

static void on_usr1(int s) { count++; }
static void on_usr2(int s) { done = 1; }

int
main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (!done)
		pause();
	printf("count=%d\n", (int)count);
	fflush(stdout);
	return 0;
}
