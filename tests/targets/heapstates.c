/*
 * heapstates - build a heap with chunks in every state, over three
 * threads (each with its own arena and tcache; one arena grows a second
 * heap), then print what heapdbg must find and park.
 *
 * Output (stdout has a static buffer: printing never allocates):
 *   held ADDR REQ          every pointer the program still holds
 *   mallinfo2 arena=.. ordblks=.. smblks=.. hblks=.. hblkhd=.. fsmblks=.. uordblks=.. fordblks=.. keepcost=..
 *   ready PID
 * and on SIGUSR1 the mallinfo2 line again, for the heap as it is then.
 * On a glibc without mallinfo2() (before 2.33) the line is "mallinfo ..."
 * with the same keys, from mallinfo(): the program runs on the glibc
 * versions the suite tests (tests/integration/glibc-versions.t), built
 * against this machine's headers or against an older version's.
 *
 * Arguments (optional): "corrupt=KIND" damages the heap after building it
 * (KIND: size, tcache-next, fastbin-cycle, prev-size, bin-link,
 * tcache-count, tcache-entry, tcache-key, double-free, top-shrunk,
 * size-enlarged, nextsize), printing "corrupted ADDR KIND" before ready.  "nothreads" uses the main thread
 * only.  "workers=N" starts N worker threads (default 2, at most 8).
 * "big" makes worker 1's arena grow a second heap.  "mainheap=KB" makes
 * the main thread hold about KB more KiB in 64 KiB blocks of its brk heap
 * (under glibc.malloc.hugetlb=1 glibc then madvise()s part of [heap],
 * which splits it into two mappings).
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"	/* corrupt= does it on purpose */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"	/* (reads headers) */
#endif

#define MAXHELD 20000

static void *held[MAXHELD];
static size_t held_req[MAXHELD];
static int nheld;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t built, parked;
static int big;
static long mainheap;
static const char *corrupt;

static void *
hold(void *p, size_t req)
{
	pthread_mutex_lock(&lock);
	if (nheld < MAXHELD) {
		held[nheld] = p;
		held_req[nheld] = req;
		nheld++;
	}
	pthread_mutex_unlock(&lock);
	return p;
}

static void *
take(size_t n)
{
	void *p = malloc(n);
	memset(p, 0x11, n < 64 ? n : 64);
	return hold(p, n);
}

/* Every free-list state, in the calling thread's arena and tcache.  The
 * order matters: requests are served from the bins, and a large request
 * consolidates the fastbins, so the states are made last to first. */
static void
build_states(int salt)
{
	void *t[3], *f[10], *u, *sm[9], *l[4];

	/* plenty of in-use chunks of assorted sizes */
	for (int i = 0; i < 200; i++)
		take(8 + (size_t)(i * 37 + salt) % 700);

	/* largebin and smallbin: free chunks beyond tcache range or capacity,
	 * then a request that sorts the unsorted bin into the bins */
	for (int i = 0; i < 4; i++) {
		l[i] = malloc(0x1000 + i * 0x100);
		take(0x18);
	}
	for (int i = 0; i < 9; i++) {
		sm[i] = malloc(0x88);
		take(0x18);
	}
	for (int i = 0; i < 4; i++)
		free(l[i]);
	for (int i = 0; i < 9; i++)
		free(sm[i]);	/* 7 to tcache, 2 to unsorted */
	take(0x2000);		/* sorts: 2 x 0x90 -> smallbin, 4 -> largebin */

	/* unsorted: a large freed chunk, not next to top */
	u = malloc(0x4f0 + salt * 0x10);
	take(0x18);
	free(u);

	/* one more unsorted chunk, bigger than any free chunk so it comes
	 * from top, with a guard bigger still so that too comes from top */
	u = malloc(0x1800);
	take(0x2100);
	free(u);

	/* fastbins: 10 freed 0x40 chunks = 7 in tcache + 3 in the fastbin */
	for (int i = 0; i < 10; i++) {
		f[i] = malloc(0x38);
		take(0x18);	/* keep them apart */
	}
	for (int i = 0; i < 10; i++)
		free(f[i]);

	/* tcache: 3 freed 0x30 chunks */
	for (int i = 0; i < 3; i++)
		t[i] = malloc(0x28);
	take(0x18);
	for (int i = 0; i < 3; i++)
		free(t[i]);

	/* smallbin: 9 freed 0xb0 chunks = 7 in tcache + 2 unsorted, then a
	 * small request with no exact fit sorts those 2 into their smallbin
	 * (small requests never consolidate the fastbins) */
	for (int i = 0; i < 9; i++) {
		sm[i] = malloc(0xa8);
		take(0x18);
	}
	for (int i = 0; i < 9; i++)
		free(sm[i]);
	take(0x1f8);
}

static void *
worker(void *arg)
{
	int id = (int)(long)arg;
	sigset_t usr1;

	/* SIGUSR1 is the main thread's: a worker that took it would set
	 * want_report where nothing looks at it */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	build_states(id);
	if (id == 1 && big) {
		/* grow this arena past one heap: 70 x 1 MiB below the mmap
		 * threshold (raised by mallopt in main) */
		for (int i = 0; i < 70; i++)
			hold(malloc(1 << 20), 1 << 20);
	}
	pthread_barrier_wait(&built);
	pthread_barrier_wait(&parked);
	for (;;)
		pause();
	return NULL;
}

static char outbuf[1 << 16];
static volatile sig_atomic_t want_report;

/* mallinfo2() where the glibc the program runs on has it, else
 * mallinfo().  Weak references, not dlsym: they resolve in a static
 * program too, and looking up a missing symbol with dlsym allocates its
 * error message.  Declared under names of their own (the asm labels give
 * glibc's), so that the headers of any version, with or without
 * struct mallinfo2 and with mallinfo deprecated or not, agree. */
struct hs_mallinfo2 {
	size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct hs_mallinfo {
	int arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
extern struct hs_mallinfo2 hs_mallinfo2(void) __asm__("mallinfo2") __attribute__((weak));
extern struct hs_mallinfo hs_mallinfo(void) __asm__("mallinfo");

static void
on_usr1(int sig)
{
	want_report = 1;
}

static void
print_mallinfo(void)
{
	struct hs_mallinfo2 mi;
	const char *name = "mallinfo2";

	if (hs_mallinfo2) {
		mi = hs_mallinfo2();
	} else {
		/* int fields: they wrap past 2 GiB, far above this heap */
		struct hs_mallinfo m = hs_mallinfo();
		mi = (struct hs_mallinfo2){ (unsigned)m.arena, (unsigned)m.ordblks, (unsigned)m.smblks,
					    (unsigned)m.hblks, (unsigned)m.hblkhd, (unsigned)m.usmblks,
					    (unsigned)m.fsmblks, (unsigned)m.uordblks, (unsigned)m.fordblks,
					    (unsigned)m.keepcost };
		name = "mallinfo";
	}
	printf("%s arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu fsmblks=%zu "
	       "uordblks=%zu fordblks=%zu keepcost=%zu\n", name, mi.arena, mi.ordblks, mi.smblks,
	       mi.hblks, mi.hblkhd, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost);
	fflush(stdout);
}

static void
print_state(void)
{
	for (int i = 0; i < nheld; i++)
		printf("held %p %zu\n", held[i], held_req[i]);
	print_mallinfo();
}

/* The main thread's tcache_perthread_struct: the first chunk of the brk
 * heap (its user pointer). */
static uint16_t *
main_tcache(void)
{
	char line[256];
	unsigned long lo = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[heap]")) {
			lo = strtoul(line, NULL, 16);
			break;
		}
	if (f)
		fclose(f);
	return (uint16_t *)(lo + 16);
}

static void
do_corrupt(void)
{
	if (!strcmp(corrupt, "size")) {
		/* overflow into the next chunk's size field */
		char *a = malloc(0x28), *b = malloc(0x28);
		hold(a, 0x28);
		hold(b, 0x28);
		((size_t *)b)[-1] = 0x4141414141414141ULL;
		printf("corrupted %p size\n", b);
	} else if (!strcmp(corrupt, "tcache-next")) {
		/* garble the next pointer of a tcache entry (use after free) */
		char *a = malloc(0x58), *b = malloc(0x58);
		take(0x18);
		free(a);
		free(b);	/* b -> a */
		((uint64_t *)b)[0] ^= 0x00dead00beef0000ULL;
		printf("corrupted %p tcache-next\n", b);
	} else if (!strcmp(corrupt, "fastbin-cycle")) {
		/* 8 frees fill tcache (7) and put 1 in the fastbin; then point
		 * the fastbin chunk's fd at itself */
		void *v[9];
		for (int i = 0; i < 9; i++) {
			v[i] = malloc(0x68);
			take(0x18);
		}
		for (int i = 0; i < 9; i++)
			free(v[i]);
		/* v[7] and v[8] are in the fastbin (8 -> 7); make 7 -> 8 */
		{
			uint64_t pos = (uint64_t)v[7];
			((uint64_t *)v[7])[0] = ((uint64_t)v[8] - 16) ^ (pos >> 12);
		}
		printf("corrupted %p fastbin-cycle\n", v[8]);
	} else if (!strcmp(corrupt, "prev-size")) {
		/* a free smallbin chunk whose successor's prev_size lies */
		void *v[9];
		for (int i = 0; i < 9; i++) {
			v[i] = malloc(0xa8);
			take(0x18);
		}
		for (int i = 0; i < 9; i++)
			free(v[i]);
		take(0x3000);	/* sort: v[7], v[8] -> unsorted -> smallbin */
		((size_t *)((char *)v[8] + 0xb0 - 16))[0] = 0x1234560;
		printf("corrupted %p prev-size\n", v[8]);
	} else if (!strcmp(corrupt, "tcache-count")) {
		/* a counter above mp_.tcache_count (7) */
		uint16_t *tc = main_tcache();
		tc[5] = 200;
		printf("corrupted %p tcache-count\n", (void *)tc);
	} else if (!strcmp(corrupt, "tcache-entry")) {
		/* a misaligned head of an empty bin */
		uint16_t *tc = main_tcache();
		((uint64_t *)((char *)tc + 0x80))[60] = 0x4141414141414141ULL;
		tc[60] = 1;
		printf("corrupted %p tcache-entry\n", (void *)tc);
	} else if (!strcmp(corrupt, "tcache-key")) {
		/* a write after free over a tcache chunk's key */
		char *a = malloc(0x148);
		take(0x18);
		free(a);
		((uint64_t *)a)[1] = 0x4141414141414141ULL;
		printf("corrupted %p tcache-key\n", (void *)a);
	} else if (!strcmp(corrupt, "double-free")) {
		/* the key wiped between two frees: glibc's check misses it */
		char *a = malloc(0x148);
		take(0x18);
		free(a);
		((uint64_t *)a)[1] = 0;
		free(a);
		printf("corrupted %p double-free\n", (void *)a);
	} else if (!strcmp(corrupt, "top-shrunk")) {
		/* a block carved from top (nothing free fits it), then top's
		 * size made smaller */
		char *a = malloc(0x10000 - 0x18);
		size_t *top = (size_t *)(a - 16 + (((size_t *)a)[-1] & ~(size_t)7));
		hold(a, 0x10000 - 0x18);
		top[1] -= 0x1000;
		printf("corrupted %p top-shrunk\n", (void *)(top + 2));
	} else if (!strcmp(corrupt, "size-enlarged")) {
		/* the block right below top enlarged into it */
		char *a = malloc(0x10000 - 0x18);
		hold(a, 0x10000 - 0x18);
		((size_t *)a)[-1] += 0x200;
		printf("corrupted %p size-enlarged\n", (void *)a);
	} else if (!strcmp(corrupt, "nextsize")) {
		/* two large free chunks of different sizes sorted into their
		 * bin, then one's fd_nextsize written after free */
		void *v[2];
		for (int i = 0; i < 2; i++) {
			v[i] = malloc(0x2400 + i * 0x100);
			take(0x2200);	/* (from top too: keeps them apart) */
		}
		for (int i = 0; i < 2; i++)
			free(v[i]);
		take(0x4000);
		((uint64_t *)v[1])[2] += 0x40;
		printf("corrupted %p nextsize\n", v[1]);
	} else if (!strcmp(corrupt, "bin-link")) {
		void *v[9];
		for (int i = 0; i < 9; i++) {
			v[i] = malloc(0xc8);
			take(0x18);
		}
		for (int i = 0; i < 9; i++)
			free(v[i]);
		take(0x3000);
		((uint64_t *)v[8])[1] = (uint64_t)v[8] + 0x100;	/* bk */
		printf("corrupted %p bin-link\n", v[8]);
	}
}

int
main(int argc, char **argv)
{
	pthread_t th[8];
	int nthreads = 2;

	/* stdout's buffer must never come from malloc: printing would change
	 * the heap this program describes */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	signal(SIGUSR1, on_usr1);
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "corrupt=", 8))
			corrupt = argv[i] + 8;
		else if (!strcmp(argv[i], "nothreads"))
			nthreads = 0;
		else if (!strncmp(argv[i], "workers=", 8))
			nthreads = atoi(argv[i] + 8) < 8 ? atoi(argv[i] + 8) : 8;
		else if (!strcmp(argv[i], "big"))
			big = 1;
		else if (!strncmp(argv[i], "mainheap=", 9))
			mainheap = atol(argv[i] + 9);
	}
	if (big)
		mallopt(M_MMAP_THRESHOLD, 2 << 20);
	pthread_barrier_init(&built, NULL, nthreads + 1);
	pthread_barrier_init(&parked, NULL, nthreads + 1);
	/* mmapped chunks, plain and aligned (first: a large request would
	 * consolidate the fastbins) */
	hold(malloc(4 << 20), 4 << 20);
	{
		void *p = NULL;
		if (posix_memalign(&p, 1 << 16, 3 << 20) == 0)
			hold(p, 3 << 20);
	}
	for (long k = 0; k < mainheap; k += 64)
		take(64 << 10);
	build_states(0);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)(i + 1));
	pthread_barrier_wait(&built);
	if (corrupt) {
		/* no mallinfo2 line: glibc's own mallinfo2() loops forever on a
		 * cyclic fastbin */
		do_corrupt();
		for (int i = 0; i < nheld; i++)
			printf("held %p %zu\n", held[i], held_req[i]);
	} else {
		print_state();
	}
	pthread_barrier_wait(&parked);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	/* SIGUSR1: print mallinfo2 again (the heap is quiescent here) */
	for (;;) {
		pause();
		if (want_report) {
			want_report = 0;
			print_mallinfo();
		}
	}
}
