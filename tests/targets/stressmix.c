/*
 * stressmix [NTHREADS [OPTION...]] - threads busy in the allocator all
 * the time, checking their own data, for heapdbg's stress tests.
 *
 * NTHREADS workers (default 6; each gets an arena of its own) loop over
 * malloc, calloc, realloc, reallocarray, memalign, aligned_alloc,
 * posix_memalign, valloc and free, mostly small blocks, some of a few
 * pages, one in a thousand above the mmap threshold.  Every block holds
 * its size and a tag in its first 16 bytes and then a pattern derived from
 * its address, size and tag; it is checked before every free and realloc
 * (realloc must also have kept the old bytes), calloc's blocks must be
 * zero and aligned allocations aligned.  Some blocks are handed to other
 * threads through a shared ring and freed there (frees into another
 * thread's arena).  Options:
 *   spawn        main creates and joins short-lived allocating threads
 *                all the time (their arenas are recycled)
 *   exit=MS:CODE main calls exit(CODE) after MS milliseconds, the workers
 *                still churning (no final check)
 *   exitslow=MS:CODE  the same, but an atexit handler says "exiting CODE"
 *                and keeps allocating (inside exit(), the workers still
 *                running) until SIGUSR1; then the process ends with CODE
 *   patched-ok   entry points found changed at the end are reported but
 *                are no error (heapdbg was killed while its fast
 *                tracepoints were in place: they pass calls through)
 * It prints
 *   entry malloc=0x.. free=0x.. ...   where the entry points are
 *   ready PID
 * and runs until SIGUSR1: then every worker stops, checks and frees
 * every block it holds, main drains the ring, compares the entry points'
 * first bytes with what they were at start (a breakpoint left behind
 * would differ) and prints
 *   result ops=N blocks=N bytes=N spawned=N errors=N
 *   checksum held=0x.. memory=0x..   (the running sum of what was
 *                                     written, and the blocks re-read)
 *   entry ok                          (or "entry changed NAME ...")
 * then exits 0 if there was no error, 1 otherwise.
 */
#include <malloc.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXTHREADS 32
#define SLOTS 128
#define RING 64
#define HDR 16

struct block {
	unsigned char *p;
	size_t size;	/* requested */
	uint64_t tag;
};

static atomic_int stop;
static atomic_ulong errors, total_ops, spawned;
static _Atomic(unsigned char *) ring[RING];
static atomic_uint_fast64_t ring_sum;	/* checksum of the blocks in the ring */
static uint64_t held_sum[MAXTHREADS], mem_sum[MAXTHREADS];
static unsigned long held_blocks[MAXTHREADS], held_bytes[MAXTHREADS];
static size_t page;
static int exit_ms = -1, exit_code, exit_slow, patched_ok;

static const struct {
	const char *name;
	void *addr;
} entries[] = {
	{ "malloc", (void *)&malloc }, { "free", (void *)&free }, { "calloc", (void *)&calloc },
	{ "realloc", (void *)&realloc }, { "reallocarray", (void *)&reallocarray },
	{ "memalign", (void *)&memalign }, { "aligned_alloc", (void *)&aligned_alloc },
	{ "posix_memalign", (void *)&posix_memalign }, { "valloc", (void *)&valloc },
	{ "pvalloc", (void *)&pvalloc },
};
#define NENTRIES (sizeof(entries) / sizeof(entries[0]))
static unsigned char entry_bytes[NENTRIES][16];

/* Count an error; print the first few. */
__attribute__((format(printf, 1, 2))) static void
complain(const char *fmt, ...)
{
	va_list ap;
	if (atomic_fetch_add(&errors, 1) >= 20)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
on_usr1(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The pattern word at byte offset off of a block at p. */
static uint64_t
word(const unsigned char *p, size_t size, uint64_t tag, size_t off)
{
	return mix((uint64_t)(uintptr_t)p ^ (size << 20) ^ tag ^ (off * 0x9e3779b97f4a7c15ULL));
}

/* Offsets filled: every word of the first 256 and the last 64 bytes,
 * one word in 64 bytes up to 4 KiB and one per page after that (filling
 * everything would keep the threads out of malloc most of the time). */
static size_t
next_off(size_t off, size_t size)
{
	size_t tail = (size - 64) & ~(size_t)7;
	off += 8;
	if (size > 512 && off >= 256 && off < tail) {
		size_t step = off < 4096 ? 64 : page;
		size_t n = (off + step - 1) & ~(step - 1);
		off = n < tail ? n : tail;
	}
	return off;
}

static uint64_t
fill(unsigned char *p, size_t size, uint64_t tag)
{
	uint64_t sum = 0, w;
	memcpy(p, &size, 8);
	memcpy(p + 8, &tag, 8);
	for (size_t off = HDR; off + 8 <= size; off = next_off(off, size)) {
		w = word(p, size, tag, off);
		memcpy(p + off, &w, 8);
		sum += w;
	}
	return sum;
}

/* Check a block; the checksum of what it holds, or report and count. */
static uint64_t
verify(const unsigned char *p, size_t size, uint64_t tag, const char *what)
{
	uint64_t sum = 0, w, hs, ht;
	memcpy(&hs, p, 8);
	memcpy(&ht, p + 8, 8);
	if (hs != size || ht != tag || size > (1 << 20)) {
		complain("corrupt %s %p: header size=%lu tag=%lx, want %lu %lx\n", what, (void *)p,
			 (unsigned long)hs, (unsigned long)ht, (unsigned long)size, (unsigned long)tag);
		return 0;
	}
	for (size_t off = HDR; off + 8 <= size; off = next_off(off, size)) {
		memcpy(&w, p + off, 8);
		if (w != word(p, size, tag, off)) {
			complain("corrupt %s %p size %lu at +%lu\n", what, (void *)p, (unsigned long)size,
				 (unsigned long)off);
			return 0;
		}
		sum += w;
	}
	return sum;
}

static size_t
pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	if (r % 1000 == 0)
		return 140000 + r % 100000;	/* mmapped */
	if (r % 20 == 0)
		return 4096 + r % 12000;
	if (r % 2)
		return 1100 + r % 3000;	/* past the tcache: the arena's lock */
	return HDR + 8 + r % 400;
}

static void
bad(const char *what, void *p)
{
	complain("bad %s %p\n", what, p);
}

/* Allocate a block by one of the entry points. */
static unsigned char *
allocate(uint64_t *s, size_t size)
{
	unsigned char *p = NULL;
	void *q = NULL;
	size_t al;

	switch (rnd(s) % 9) {
	case 0:
	case 1:
	case 2:
		p = malloc(size);
		break;
	case 3:
		p = calloc(1, size);
		if (p)
			for (size_t i = 0; i < size; i += size > 4096 ? 61 : 1)
				if (p[i]) {
					bad("calloc not zero", p);
					break;
				}
		break;
	case 4:
		p = reallocarray(NULL, 1, size);
		break;
	case 5:
		al = (size_t)16 << (rnd(s) % 6);
		p = memalign(al, size);
		if (p && (uintptr_t)p % al)
			bad("memalign", p);
		break;
	case 6:
		al = (size_t)32 << (rnd(s) % 4);
		p = aligned_alloc(al, (size + al - 1) / al * al);
		if (p && (uintptr_t)p % al)
			bad("aligned_alloc", p);
		break;
	case 7:
		al = (size_t)8 << (rnd(s) % 5);
		if (posix_memalign(&q, al, size))
			q = NULL;
		p = q;
		if (p && (uintptr_t)p % al)
			bad("posix_memalign", p);
		break;
	case 8:
		if (rnd(s) % 8 == 0) {
			p = valloc(size);
			if (p && (uintptr_t)p % page)
				bad("valloc", p);
		} else {
			p = malloc(size);
		}
		break;
	}
	if (!p)
		bad("allocation failed", NULL);
	return p;
}

static void *
worker(void *arg)
{
	long id = (long)arg;
	struct block b[SLOTS];
	uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1), sum = 0, tagc = (uint64_t)id << 48;
	unsigned long ops = 0;

	memset(b, 0, sizeof(b));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct block *x = &b[rnd(&s) % SLOTS];
		uint64_t r = rnd(&s) % 8;
		ops++;
		if (!x->p) {
			x->size = pick_size(&s);
			x->tag = ++tagc;
			x->p = allocate(&s, x->size);
			if (x->p)
				sum += fill(x->p, x->size, x->tag);
			continue;
		}
		sum -= verify(x->p, x->size, x->tag, "before free");
		if (r < 4) {
			free(x->p);
			x->p = NULL;
		} else if (r < 7) {
			size_t ns = pick_size(&s), keep = (ns < x->size ? ns : x->size) & ~(size_t)7;
			unsigned char *old = x->p, *n;
			uint64_t oldw[64];
			size_t nw = 0;
			/* what must survive the move: a sample of the old words */
			for (size_t off = HDR; off + 8 <= keep && nw < 64; off = next_off(off, x->size))
				oldw[nw++] = word(old, x->size, x->tag, off);
			n = r == 6 ? reallocarray(old, 1, ns) : realloc(old, ns);
			if (!n) {
				bad("realloc failed", old);
				sum += verify(old, x->size, x->tag, "after failed realloc");
				continue;
			}
			nw = 0;
			for (size_t off = HDR; off + 8 <= keep && nw < 64; off = next_off(off, x->size), nw++) {
				uint64_t w;
				memcpy(&w, n + off, 8);
				if (w != oldw[nw]) {
					complain("corrupt realloc %p -> %p (%lu -> %lu) at +%lu\n", (void *)old,
						 (void *)n, (unsigned long)x->size, (unsigned long)ns, (unsigned long)off);
					break;
				}
			}
			x->p = n;
			x->size = ns;
			x->tag = ++tagc;
			sum += fill(n, ns, x->tag);
		} else {
			/* hand it over; free what was there (another thread's) */
			unsigned char *got;
			uint64_t hs, ht;
			atomic_fetch_add(&ring_sum, verify(x->p, x->size, x->tag, "handed over"));
			got = atomic_exchange(&ring[rnd(&s) % RING], x->p);
			x->p = NULL;
			if (got) {
				memcpy(&hs, got, 8);
				memcpy(&ht, got + 8, 8);
				atomic_fetch_sub(&ring_sum, verify(got, hs, ht, "taken over"));
				free(got);
			}
		}
	}
	/* stop: check and free everything */
	for (int i = 0; i < SLOTS; i++) {
		if (!b[i].p)
			continue;
		held_blocks[id]++;
		held_bytes[id] += b[i].size;
		mem_sum[id] += verify(b[i].p, b[i].size, b[i].tag, "at the end");
		free(b[i].p);
	}
	held_sum[id] = sum;
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

/* A short-lived thread: a few blocks, checked, freed; then it exits
 * (its tcache is flushed, its arena goes back to glibc's free list). */
static void *
shortlived(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1dULL + 1;
	struct block b[16];
	for (int i = 0; i < 16; i++) {
		b[i].size = HDR + 8 + rnd(&s) % 300;
		b[i].tag = s;
		b[i].p = allocate(&s, b[i].size);
		if (b[i].p)
			fill(b[i].p, b[i].size, b[i].tag);
	}
	for (int i = 0; i < 16; i++)
		if (b[i].p) {
			verify(b[i].p, b[i].size, b[i].tag, "short-lived");
			free(b[i].p);
		}
	return NULL;
}

static void *
spawner(void *arg)
{
	unsigned long n = (unsigned long)(uintptr_t)arg;
	while (!atomic_load(&stop)) {
		pthread_t t[4];
		int k = 0;
		for (; k < 4; k++)
			if (pthread_create(&t[k], NULL, shortlived, (void *)(uintptr_t)++n))
				break;
		for (int i = 0; i < k; i++)
			pthread_join(t[i], NULL);
		atomic_fetch_add(&spawned, (unsigned long)k);
	}
	return NULL;
}


__attribute__((noinline)) static void
slow_atexit(void)
{
	/* keeps the allocator busy from inside exit() until SIGUSR1 (at
	 * most a minute) */
	uint64_t s = 12345;
	time_t end = time(NULL) + 60;
	printf("exiting %d\n", exit_code);	/* from inside exit() */
	fflush(stdout);
	while (!atomic_load(&stop) && time(NULL) < end) {
		size_t n = pick_size(&s);
		unsigned char *p = malloc(n);
		if (p) {
			fill(p, n, 7);
			verify(p, n, 7, "in atexit");
			free(p);
		}
	}
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 6;
	int spawn = 0;
	pthread_t th[MAXTHREADS], sp[2];
	uint64_t held = 0, mem = 0;
	unsigned long blocks = 0, bytes = 0;
	int changed = 0;
	struct sigaction sa;

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (n < 1 || n > MAXTHREADS)
		n = 6;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "patched-ok"))
			patched_ok = 1;
		else if (!strcmp(argv[i], "spawn"))
			spawn = 1;
		else if (!strncmp(argv[i], "exit=", 5))
			sscanf(argv[i] + 5, "%d:%d", &exit_ms, &exit_code);
		else if (!strncmp(argv[i], "exitslow=", 9)) {
			sscanf(argv[i] + 9, "%d:%d", &exit_ms, &exit_code);
			exit_slow = 1;
		}
	}
	for (size_t i = 0; i < NENTRIES; i++)
		memcpy(entry_bytes[i], entries[i].addr, 16);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	printf("entry");
	for (size_t i = 0; i < NENTRIES; i++)
		printf(" %s=%p", entries[i].name, entries[i].addr);
	printf("\n");
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	if (spawn)
		for (int i = 0; i < 2; i++)
			pthread_create(&sp[i], NULL, spawner, (void *)(uintptr_t)(i * 1000000000UL));
	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	if (exit_ms >= 0) {
		struct timespec ts = { exit_ms / 1000, (exit_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts))
			;
		if (exit_slow) {
			atexit(slow_atexit);	/* it says "exiting" */
		} else {
			printf("exiting %d\n", exit_code);
			fflush(stdout);
		}
		exit(exit_code);
	}
	while (!atomic_load(&stop))
		usleep(10000);	/* (SIGUSR1 may go to any thread) */
	for (long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (spawn)
		for (int i = 0; i < 2; i++)
			pthread_join(sp[i], NULL);
	for (int i = 0; i < RING; i++) {
		unsigned char *p = atomic_exchange(&ring[i], NULL);
		uint64_t hs, ht;
		if (!p)
			continue;
		memcpy(&hs, p, 8);
		memcpy(&ht, p + 8, 8);
		mem += verify(p, hs, ht, "in the ring");
		blocks++;
		bytes += hs;
		free(p);
	}
	held = atomic_load(&ring_sum);
	for (long i = 0; i < n; i++) {
		held += held_sum[i];
		mem += mem_sum[i];
		blocks += held_blocks[i];
		bytes += held_bytes[i];
	}
	printf("result ops=%lu blocks=%lu bytes=%lu spawned=%lu errors=%lu\n", atomic_load(&total_ops), blocks, bytes,
	       atomic_load(&spawned), atomic_load(&errors));
	printf("checksum held=0x%016llx memory=0x%016llx\n", (unsigned long long)held, (unsigned long long)mem);
	for (size_t i = 0; i < NENTRIES; i++)
		if (memcmp(entry_bytes[i], entries[i].addr, 16)) {
			if (!changed)
				printf("entry changed");
			printf(" %s", entries[i].name);
			changed = 1;
		}
	printf(changed ? "\n" : "entry ok\n");
	fflush(stdout);
	return atomic_load(&errors) || (changed && !patched_ok) || held != mem ? 1 : 0;
}
