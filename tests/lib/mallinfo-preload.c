/*
 * mallinfo-preload.c - an LD_PRELOAD oracle for heap tests on programs we
 * did not write: on SIGUSR2 the program calls its own glibc mallinfo2()
 * and appends "mallinfo2 arena=.. ordblks=.. ..." to the file named by
 * HEAPDBG_MALLINFO_OUT (another signal with HEAPDBG_MALLINFO_SIGNAL=N, for
 * programs that use SIGUSR2 themselves, like nginx).  Nothing here
 * allocates (static buffer, raw write), so the report describes the heap
 * exactly as heapdbg saw it while the program was idle.  (gdb would be the usual oracle, but its
 * inferior calls fail on some kernels: "Couldn't write extended state".)
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[4096];

static void
report(int sig)
{
	static char buf[512];
	struct mallinfo2 mi = mallinfo2();
	int n, fd;

	(void)sig;
	n = snprintf(buf, sizeof(buf), "mallinfo2 arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu "
		     "fsmblks=%zu uordblks=%zu fordblks=%zu keepcost=%zu\n", mi.arena, mi.ordblks, mi.smblks,
		     mi.hblks, mi.hblkhd, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, buf, (size_t)n);
		close(fd);
	}
}

__attribute__((constructor)) static void
init(void)
{
	const char *p = getenv("HEAPDBG_MALLINFO_OUT");
	const char *sig = getenv("HEAPDBG_MALLINFO_SIGNAL");	/* (a program that uses SIGUSR2 itself) */
	struct sigaction sa;
	if (!p || strlen(p) >= sizeof(path))
		return;
	strcpy(path, p);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = report;
	sa.sa_flags = SA_RESTART;
	sigaction(sig ? atoi(sig) : SIGUSR2, &sa, NULL);
}
