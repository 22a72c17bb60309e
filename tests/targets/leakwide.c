/*
 * leakwide - blocks of the arena bigger than the leak check's read window
 * (512 KiB), for the streaming pass: malloc's mmap threshold is raised so
 * that they sit in the main heap among small blocks.
 *   - wide: a 3 MiB block held by a global, with pointers to four small
 *     blocks at offsets 0, 600 KiB, 1.5 MiB and its last word (reachable
 *     only through it)
 *   - lost: a 2 MiB block nothing points to (definitely lost) whose word
 *     at 1 MiB + 8 points to a small block (indirectly lost)
 *   - mid: a 1 MiB block held only by a global pointing 700 KiB into it
 *     (possibly lost)
 * Prints "wide ADDR", "small0..small3 ADDR", "lost ADDR", "under ADDR",
 * "mid ADDR", then "ready PID".
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u

void **wide;
char *mid_inside;

static void *
small(void)
{
	void *p = malloc(40);
	memset(p, 0x11, 40);
	return p;
}

/* (its own frame, gone before the check: no stale copy of a pointer) */
static __attribute__((noinline)) void
build(void)
{
	static const size_t offs[4] = { 0, 600 * KIB, 1536 * KIB, 3 * 1024 * KIB - 8 };
	void **lost, *s, *under;
	char *mid;

	wide = malloc(3 * 1024 * KIB);
	memset(wide, 0, 3 * 1024 * KIB);
	printf("wide %p\n", (void *)wide);
	for (int i = 0; i < 4; i++) {
		s = small();
		*(void **)((char *)wide + offs[i]) = s;
		printf("small%d %p\n", i, s);
	}
	lost = malloc(2 * 1024 * KIB);
	memset(lost, 0, 2 * 1024 * KIB);
	under = small();
	*(void **)((char *)lost + 1024 * KIB + 8) = under;
	mid = malloc(1024 * KIB);
	memset(mid, 0, 1024 * KIB);
	mid_inside = mid + 700 * KIB;
	printf("lost %p\nunder %p\nmid %p\n", (void *)lost, under, (void *)mid);
}

static __attribute__((noinline)) void
scrub(void)
{
	volatile char junk[1 << 14];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0;
}

int
main(void)
{
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	build();
	scrub();
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
