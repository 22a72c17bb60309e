/*
 * tracer_hold PID - attach to PID with ptrace (PTRACE_SEIZE, so the
 * tracee keeps running), print "ready PID", and hold it until killed.
 * Lets tests check heapdbg's "already traced by process N" diagnosis.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	pid_t pid = argc > 1 ? atoi(argv[1]) : 0;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
		perror("ptrace");
		return 1;
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
