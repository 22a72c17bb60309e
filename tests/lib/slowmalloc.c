/*
 * slowmalloc.c - libslowmalloc.so, an LD_PRELOAD malloc that sleeps
 * SLOWMALLOC_MS milliseconds (raw nanosleep: no allocation) before it
 * asks glibc's realloc(NULL, n) for the block (realloc is not
 * interposed; called through a volatile pointer, since the compiler
 * would turn realloc(NULL, n) into a call of malloc: this one).  Threads of a program traced with fast tracepoints then
 * spend most of their time inside a malloc called from a pad: `trace stop`
 * must let them return into it, and unmap it only once none can.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long slow_ms = -1;
static void *(*volatile glibc_realloc)(void *, size_t) = realloc;

void *
malloc(size_t n)
{
	if (slow_ms < 0) {
		const char *e = getenv("SLOWMALLOC_MS");
		slow_ms = e ? atol(e) : 0;
	}
	if (slow_ms > 0) {
		struct timespec ts = { slow_ms / 1000, (slow_ms % 1000) * 1000000L };
		syscall(SYS_nanosleep, &ts, NULL);
	}
	return glibc_realloc(NULL, n);
}
