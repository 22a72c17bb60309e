/*
 * leakshapes - blocks held only by interior pointers that memcheck's
 * heuristics accept, with requests that are not usable sizes (untraced,
 * heapdbg must allow for ptmalloc's rounding), for the leak check against
 * valgrind memcheck:
 *   - stdstring: a libstdc++ string rep (length, capacity, refcount,
 *     chars) held by a pointer to its chars          -> reachable
 *   - length64: SQLite's allocation (its rounded size, then the data)
 *     held by a pointer past the size                -> reachable
 *   - newarray: new T[3] of a T with a destructor (the count, then the
 *     elements) held by a pointer past the count     -> reachable
 *   - multipleinheritance: an object with two vtable pointers held by a
 *     pointer to the second                          -> reachable
 *   - new T[0]: the count 0 alone, held by the pointer just past it
 *                                                    -> definitely lost
 *   - a plain interior pointer                       -> possibly lost
 *   - an anonymous mapping (a root, read through a buffer when live)
 *     holding an interior pointer into an mmapped chunk, then the only
 *     pointer to a small block                       -> the mmapped chunk
 *     possibly lost (no heuristic fits), the small block reachable
 * Prints "block KIND REQ USABLE" for each (KIND: valgrind's category),
 * then "ready PID" and pauses.  Argument "vg": memcheck's leak check by
 * client request at that point instead, then exit ("novalgrind" without
 * <valgrind/memcheck.h>).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif
#endif

static char outbuf[1 << 14];
static int under_vg;
void *h_string, *h_len64, *h_array, *h_mi, *h_array0, *h_interior;
void **h_root;

static void f1(void) { }
static void f2(void) { }
static void f3(void) { }
typedef void (*fn)(void);
static fn const vtable_a[] = { f1, f2, f3, 0 };
static fn const vtable_b[] = { f3, f2, f1, 0 };

static void *
take(const char *kind, size_t req)
{
	void *p = malloc(req);
	memset(p, 0, req);
	if (!under_vg)
		printf("block %s %zu %zu\n", kind, req, malloc_usable_size(p));
	return p;
}

__attribute__((noinline)) static void
build(void)
{
	uint64_t *w;

	/* stdstring: capacity 50, length 20: requested 3*8 + 50 + 1 = 75 */
	w = take("reachable", 75);
	w[0] = 20;
	w[1] = 50;
	memset(w + 3, 'x', 20);
	h_string = w + 3;
	/* length64: SQLite's sqlite3MemMalloc(100): ROUND8 = 104, stored,
	 * then 104 bytes: requested 112 */
	w = take("reachable", 112);
	w[0] = 104;
	h_len64 = w + 1;
	/* newarray: 3 elements of 20 bytes: requested 8 + 60 = 68 */
	w = take("reachable", 68);
	w[0] = 3;
	h_array = w + 1;
	/* multiple inheritance: two vtable pointers, held by the second */
	w = take("reachable", 40);
	w[0] = (uint64_t)(uintptr_t)vtable_a;
	w[2] = (uint64_t)(uintptr_t)vtable_b;
	h_mi = w + 2;
	/* new T[0]: the count alone */
	w = take("definite", 8);
	w[0] = 0;
	h_array0 = w + 1;
	/* a plain interior pointer (no heuristic fits: first word 0) */
	w = take("possible", 90);
	h_interior = (char *)w + 16;
	/* a root read through a buffer: an interior pointer into an mmapped
	 * chunk, then the only pointer to a small block */
	h_root = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w = take("possible", 300000);
	w[0] = 0;
	w[1] = 0x4141414141414141ULL;
	h_root[0] = (char *)w + 16;
	h_root[1] = take("reachable", 24);
	/* the root's own slot for h_root is a global: make the mapping the
	 * only holder of the small block (valgrind scans the mapping too) */
}

__attribute__((noinline)) static void
scrub(void)
{
	volatile char pad[16384];
	memset((char *)pad, 0, sizeof(pad));
}

int
main(int argc, char **argv)
{
	under_vg = argc > 1 && !strcmp(argv[1], "vg");
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	build();
	scrub();
	if (under_vg) {
#ifdef HAVE_MEMCHECK
		VALGRIND_DO_LEAK_CHECK;
#else
		printf("novalgrind\n");
#endif
		fflush(stdout);
		_exit(0);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
