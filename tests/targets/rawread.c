/*
 * rawread PID START-END... - the floor for the walk benchmark: read the
 * given address ranges of process PID with process_vm_readv in 1 MiB
 * calls, once, and print "bytes=N seconds=S".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>

int
main(int argc, char **argv)
{
	pid_t pid = argc > 1 ? atoi(argv[1]) : 0;
	static char buf[1 << 20];
	struct timespec a, b;
	uint64_t total = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 2; i < argc; i++) {
		uint64_t s, e;
		if (sscanf(argv[i], "%lx-%lx", &s, &e) != 2)
			return 2;
		for (uint64_t p = s; p < e;) {
			size_t n = (size_t)(e - p < sizeof(buf) ? e - p : sizeof(buf));
			struct iovec l = { buf, n }, r = { (void *)(uintptr_t)p, n };
			ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
			if (got <= 0)
				break;
			total += (uint64_t)got;
			p += (uint64_t)got;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("bytes=%llu seconds=%.6f\n", (unsigned long long)total,
	       (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
