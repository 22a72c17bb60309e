/*
 * exitcode - allocate a little, then end as argv[1] says: a number N
 * (exit N), "segv" (die by SIGSEGV), "abort" (SIGABRT).  Used for launch
 * mode (--args) tests: heapdbg must hold it at its exit with its memory
 * intact and report how it ended.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *kept[8];

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "0";
	for (int i = 0; i < 8; i++)
		kept[i] = malloc(16 << i);
	printf("allocated 8 blocks\n");
	fflush(stdout);
	if (!strcmp(how, "segv"))
		raise(SIGSEGV);
	if (!strcmp(how, "abort"))
		abort();
	return atoi(how);
}
