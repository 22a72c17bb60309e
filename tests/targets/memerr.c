/*
 * memerr - the memory errors heapdbg's tracer reports at the call, one
 * per mode, each made by its own function (so that the stacks name
 * them).  Prints "block ADDR SIZE" for the block the error is about and
 * "call ADDR" for the pointer passed, then makes the mistake, then
 * "survived" if the program goes on.
 *
 * Usage: memerr MODE, MODE one of
 *   fastbin   a-b-a double free of 40-byte blocks (run it with the tcache
 *             off, GLIBC_TUNABLES=glibc.malloc.tcache_count=0: glibc's
 *             fastbin check sees only a-a, so the program runs on)
 *   tcache    free() a block twice: glibc aborts ("free(): double free
 *             detected in tcache 2")
 *   stack     free() of a stack address: glibc aborts ("free(): invalid
 *             pointer")
 *   interior  free() of p+16 of a calloc'ed block: glibc aborts
 *   realloc   realloc() of a freed 40-byte block (tcache off: the program
 *             runs on)
 *   overflow  16 bytes written past a 2000-byte block over the next
 *             chunk's header ("overflowOVERFLOW"), then free() of the
 *             block: glibc aborts ("free(): invalid next size (normal)")
 *   fclose    fclose() of a FILE twice: the second frees the FILE again
 *             from inside glibc (glibc aborts: "free(): double free
 *             detected in tcache 2"); "block" and "call" are the FILE
 *   threads   no error: four threads each free blocks into their tcache,
 *             fclose a FILE and exit, twice (glibc frees each thread's
 *             tcache entries and tcache at its exit)
 *   keyword   no error: a live 40-byte block whose second word holds
 *             glibc's tcache key (copied from a freed block's), then
 *             realloc() of it to 80 bytes (the fast tracer's check traps
 *             there and heapdbg lets it go on: still traced)
 *   header    a 40-byte block's overflow writes the next block's size
 *             field ("headerOV" at its end, then 0xe1: b's chunk covers the
 *             block above it too, as in how2heap's overlapping_chunks),
 *             then free() of that next block: glibc takes it quietly and
 *             the program runs on
 *   mmaphdr   two mmapped blocks, the lower one's size field made to
 *             cover the upper one too (how2heap's mmap_overlapping_chunks),
 *             then free() of the lower: glibc unmaps both; the program
 *             runs on without touching the upper
 *   sound     no error: mmapped, aligned, grown, shrunk and calloc'ed
 *             blocks of many sizes, each freed once (no header may look
 *             damaged)
 *   pre       for attaching: blocks a, b, c allocated and b freed, then
 *             "ready PID"; once malloc's first byte changes (tracing is
 *             on), free(a) (a block from before tracing) and free(b)
 *             again (run it with the tcache off: glibc does not see it)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <malloc.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"	/* on purpose */
#endif
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

NOINLINE static void *
make_block(size_t n)
{
	void *p = malloc(n);
	sink = p;
	return p;
}

NOINLINE static void
free_once(void *p)
{
	free(p);
	sink = 0;
}

NOINLINE static void
free_again(void *p)
{
	free(p);
	sink = 0;
}

NOINLINE static void
free_bad(void *p)
{
	free(p);
	sink = 0;
}

NOINLINE static void *
realloc_freed(void *p)
{
	void *q = realloc(p, 80);
	sink = q;
	return q;
}

NOINLINE static FILE *
open_file(void)
{
	FILE *f = fopen("/dev/null", "r");
	sink = f;
	return f;
}

NOINLINE static void
close_once(FILE *f)
{
	fclose(f);
	sink = 0;
}

NOINLINE static void
close_twice(FILE *f)
{
	fclose(f);
	sink = 0;
}

static void *
thread_body(void *arg)
{
	void *p[16];
	for (int i = 0; i < 16; i++)
		p[i] = make_block(24 + 16 * (i % 4));
	for (int i = 0; i < 16; i++)
		free_once(p[i]);	/* into this thread's tcache */
	close_once(open_file());
	return arg;
}

NOINLINE static void *
realloc_live(void *p)
{
	void *q = realloc(p, 80);
	sink = q;
	return q;
}

NOINLINE static void
write_past(char *p, size_t at, const char *what)
{
	char *volatile vp = p;
	for (size_t i = 0; what[i]; i++)
		vp[at + i] = what[i];
}

NOINLINE static void
stack_free(void)
{
	char buf[64] __attribute__((aligned(16)));
	memset(buf, 0, sizeof(buf));
	printf("call %p\n", (void *)(buf + 16));
	fflush(stdout);
	free_bad(buf + 16);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fastbin";
	char *a, *b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "fastbin")) {
		a = make_block(40);
		b = make_block(40);
		printf("block %p 40\ncall %p\n", (void *)a, (void *)a);
		free_once(a);
		free_once(b);
		free_again(a);
	} else if (!strcmp(mode, "tcache")) {
		a = make_block(40);
		printf("block %p 40\ncall %p\n", (void *)a, (void *)a);
		free_once(a);
		free_again(a);
	} else if (!strcmp(mode, "stack")) {
		stack_free();
	} else if (!strcmp(mode, "interior")) {
		a = calloc(1, 64);
		sink = a;
		printf("block %p 64\ncall %p\n", (void *)a, (void *)(a + 16));
		free_bad(a + 16);
	} else if (!strcmp(mode, "realloc")) {
		a = make_block(40);
		b = make_block(40);	/* a is not next to top */
		printf("block %p 40\ncall %p\n", (void *)a, (void *)a);
		free_once(a);
		realloc_freed(a);
	} else if (!strcmp(mode, "overflow")) {
		a = make_block(2000);
		b = make_block(2000);
		printf("block %p 2000\ncall %p\n", (void *)a, (void *)a);
		write_past(a, 2000, "overflowOVERFLOW");
		free_bad(a);
		sink = b;
	} else if (!strcmp(mode, "fclose")) {
		FILE *f = open_file();
		if (!f)
			return 1;
		printf("block %p\ncall %p\n", (void *)f, (void *)f);
		close_once(f);
		close_twice(f);
	} else if (!strcmp(mode, "threads")) {
		pthread_t t[4];
		for (int k = 0; k < 2; k++) {
			for (int i = 0; i < 4; i++)
				if (pthread_create(&t[i], NULL, thread_body, NULL))
					return 1;
			for (int i = 0; i < 4; i++)
				pthread_join(t[i], NULL);
		}
	} else if (!strcmp(mode, "keyword")) {
		a = make_block(40);
		b = make_block(40);
		free_once(b);
		memcpy(a + 8, b + 8, 8);	/* (the tcache entry's key word) */
		a = realloc_live(a);
		printf("block %p 80\n", (void *)a);
		sink = a;
	} else if (!strcmp(mode, "header")) {
		char *c;
		a = make_block(40);
		b = make_block(100);
		c = make_block(100);
		printf("block %p 40\ndamaged %p 100\ncall %p\n", (void *)a, (void *)b, (void *)b);
		write_past(a, 32, "headerOV");	/* its last 8 bytes (b's prev_size) */
		*(uint64_t *volatile)(void *)(a + 40) = 0xe1;	/* past its end: b's size */
		free_bad(b);
		sink = c;
	} else if (!strcmp(mode, "mmaphdr")) {
		char *hi = make_block(1 << 20), *lo = make_block(1 << 20);
		uint64_t *lsz = (uint64_t *)(void *)lo - 1, *hsz = (uint64_t *)(void *)hi - 1;
		if (lo + (*lsz & ~7ULL) != hi) {
			printf("mmapped blocks not adjacent: %p %p\nsurvived\n", (void *)lo, (void *)hi);
			return 0;
		}
		printf("damaged %p 1048576\ncall %p\n", (void *)lo, (void *)lo);
		*lsz = ((*lsz & ~7ULL) + (*hsz & ~7ULL)) | 2;
		free_bad(lo);
	} else if (!strcmp(mode, "sound")) {
		static const size_t sizes[] = { 1, 24, 25, 40, 100, 1000, 5000, 70000, 140000, 300000, 1 << 20, 3 << 20 };
		static const size_t aligns[] = { 16, 64, 256, 4096, 65536 };
		for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			void *p[10];
			size_t n = sizes[i];
			p[0] = make_block(n);
			p[1] = calloc(1, n);
			p[2] = realloc(make_block(n), n * 2);
			p[3] = realloc(make_block(n * 2 + 100), n);
			p[4] = valloc(n);
			p[5] = pvalloc(n);
			p[6] = aligned_alloc(aligns[i % 5], (n + aligns[i % 5] - 1) / aligns[i % 5] * aligns[i % 5]);
			p[7] = memalign(aligns[(i + 1) % 5], n);
			if (posix_memalign(&p[8], aligns[(i + 2) % 5], n))
				p[8] = NULL;
			p[9] = realloc(memalign(aligns[(i + 3) % 5], n), n + 4096);
			for (int k = 9; k >= 0; k--)
				free_once(p[k]);
		}
	} else if (!strcmp(mode, "pre")) {
		unsigned char orig = *(volatile unsigned char *)(uintptr_t)&malloc;
		char *c;
		a = make_block(40);
		b = make_block(40);
		c = make_block(40);
		free_once(b);
		printf("block %p 40\ncall %p\npre %p\nready %d\n", (void *)b, (void *)b, (void *)a, (int)getpid());
		while (*(volatile unsigned char *)(uintptr_t)&malloc == orig)
			usleep(2000);
		free_once(a);
		free_again(b);
		sink = c;
	} else {
		fprintf(stderr, "memerr: unknown mode %s\n", mode);
		return 2;
	}
	printf("survived\n");
	return 0;
}
