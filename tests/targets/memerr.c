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
