/*
 * churn [ITERATIONS] - four threads churning through every allocator
 * entry point, for the tracer.  Each thread first allocates blocks while
 * untraced, then waits until heapdbg has patched malloc (its first byte
 * changes: a breakpoint or a jump), then runs ITERATIONS rounds (default 20000) of
 * malloc, calloc, realloc (grow, shrink, from NULL, to 0), reallocarray,
 * memalign, aligned_alloc, posix_memalign, valloc, pvalloc and free,
 * keeping one block in fifty, and frees the blocks it made before tracing.
 * It counts its own calls per entry point and the blocks and requested
 * bytes it still holds from the traced period; when every worker is done
 * (they park: an exiting thread's tcache shutdown would call free), main
 * prints
 *   calls malloc=.. calloc=.. ...
 *   held blocks=.. bytes=..
 *   malloc-byte=0x..       (its first byte now)
 *   malloc-intact=1        (its first 16 bytes as they were before
 *                           heapdbg came: 0 would be a patch left behind)
 *   seconds=S              how long the traced phase took
 * and exits (heapdbg then sees it at its exit).  "ready PID" comes first.
 * With "nowait" it does not wait for a patch (untraced timing).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define PRE 2000

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_REALLOCARRAY, C_FREE, C_MEMALIGN, C_ALIGNED_ALLOC,
       C_POSIX_MEMALIGN, C_VALLOC, C_PVALLOC, C_N };
static const char *const names[C_N] = { "malloc", "calloc", "realloc", "reallocarray", "free", "memalign",
					 "aligned_alloc", "posix_memalign", "valloc", "pvalloc" };

static atomic_ulong calls[C_N];
static atomic_ulong held_blocks, held_bytes;
static long iterations = 20000;
static int nowait;
static pthread_barrier_t go;
static atomic_int done;
static double phase_seconds;
static void *volatile null_ptr;	/* realloc(NULL, n) through a variable: with a
				 * literal NULL the compiler calls malloc */
static char outbuf[1 << 14];
static unsigned char malloc_orig[16];

struct held {
	void *p;
	size_t req;
};

static void
wait_for_breakpoint(void)
{
	volatile unsigned char *code = (volatile unsigned char *)(uintptr_t)&malloc;
	while (!nowait && *code == malloc_orig[0])
		usleep(2000);
}

static void *
worker(void *arg)
{
	unsigned long c[C_N] = { 0 };
	void *pre[PRE];
	struct held *keep = calloc((size_t)iterations, sizeof(*keep));
	size_t nkeep = 0, keepbytes = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)((uintptr_t)arg + 1);

	for (int i = 0; i < PRE; i++)
		pre[i] = malloc(16 + (size_t)(i % 300));	/* before tracing */
	pthread_barrier_wait(&go);
	wait_for_breakpoint();
	pthread_barrier_wait(&go);

	for (long it = 0; it < iterations; it++) {
		void *p = NULL, *q;
		size_t req = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (it % 12) {
		case 0: req = 16 + x % 500; p = malloc(req); c[C_MALLOC]++; break;
		case 1: req = 8 * (1 + x % 40); p = calloc(8, req / 8); c[C_CALLOC]++; break;
		case 2:
			q = malloc(40); c[C_MALLOC]++;
			req = 200 + x % 300; p = realloc(q, req); c[C_REALLOC]++;	/* grow */
			break;
		case 3:
			q = malloc(400); c[C_MALLOC]++;
			req = 24; p = realloc(q, req); c[C_REALLOC]++;		/* shrink */
			break;
		case 4: req = 64 + x % 64; p = realloc(null_ptr, req); c[C_REALLOC]++; break;
		case 5:
			q = malloc(50); c[C_MALLOC]++;
			p = realloc(q, 0); c[C_REALLOC]++;			/* frees q */
			p = NULL;
			break;
		case 6:
			q = malloc(32); c[C_MALLOC]++;
			req = 16 * (1 + x % 20); p = reallocarray(q, 16, req / 16); c[C_REALLOCARRAY]++;
			break;
		case 7: req = 100 + x % 100; p = memalign(64, req); c[C_MEMALIGN]++; break;
		case 8: req = 128; p = aligned_alloc(128, req); c[C_ALIGNED_ALLOC]++; break;
		case 9:
			req = 48 + x % 80;
			if (posix_memalign(&p, 32, req))
				p = NULL;
			c[C_POSIX_MEMALIGN]++;
			break;
		case 10: req = 100; p = valloc(req); c[C_VALLOC]++; break;
		case 11: req = 4096; p = pvalloc(10); c[C_PVALLOC]++; break;	/* one page */
		}
		if (!p)
			continue;
		memset(p, 0x5a, req < 64 ? req : 64);
		if (it % 50 == 7) {
			keep[nkeep].p = p;
			keep[nkeep].req = req;
			nkeep++;
			keepbytes += req;
		} else {
			free(p);
			c[C_FREE]++;
		}
		if (it < PRE) {
			free(pre[it]);		/* allocated before tracing */
			c[C_FREE]++;
		}
	}
	/* the calloc'ed keep array itself came before tracing */
	for (int i = 0; i < C_N; i++)
		atomic_fetch_add(&calls[i], c[i]);
	atomic_fetch_add(&held_blocks, nkeep);
	atomic_fetch_add(&held_bytes, keepbytes);
	atomic_fetch_add(&done, 1);
	/* park, never exit: an exiting thread's tcache shutdown calls free()
	 * for every chunk in it, calls this program did not make */
	for (;;)
		pause();
	return keep;
}

int
main(int argc, char **argv)
{
	pthread_t th[NTHREADS];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	memcpy(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "nowait"))
			nowait = 1;
		else
			iterations = atol(argv[i]);
	}
	pthread_barrier_init(&go, NULL, NTHREADS + 1);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&go);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	pthread_barrier_wait(&go);
	{
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		while (atomic_load(&done) < NTHREADS)
			usleep(200);
		clock_gettime(CLOCK_MONOTONIC, &b);
		phase_seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	}
	(void)th;
	printf("calls");
	for (int i = 0; i < C_N; i++)
		printf(" %s=%lu", names[i], (unsigned long)calls[i]);
	printf("\nheld blocks=%lu bytes=%lu\n", (unsigned long)held_blocks, (unsigned long)held_bytes);
	printf("malloc-byte=0x%02x\n", *(volatile unsigned char *)(uintptr_t)&malloc);
	printf("malloc-intact=%d\n", !memcmp(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig)));
	printf("seconds=%.6f\n", phase_seconds);
	fflush(stdout);
	exit(0);	/* exit_group: the parked workers go with it */
}
