/*
 * aborter - a program glibc's malloc aborts, for the tests of what a
 * core of it says: prints "victim ADDR" (the user pointer the abort is
 * about) and then makes the mistake.
 *
 * Usage: aborter MODE, MODE one of
 *   tcache2   free() a block twice: "free(): double free detected in tcache 2"
 *   fasttop   the tcache full, free() a block twice in a row into its
 *             fastbin: "double free or corruption (fasttop)"
 *   prev      a one-byte overflow clears the next chunk's PREV_INUSE,
 *             then free() of a small-bin-sized block: "double free or
 *             corruption (!prev)"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"	/* on purpose */
#endif

static void *keep[32];

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "tcache2";
	char *v;

	for (int i = 0; i < 32; i++)
		keep[i] = malloc(16 + (size_t)i * 24);
	if (!strcmp(mode, "tcache2")) {
		v = malloc(0x48);
		printf("victim %p\n", (void *)v);
		fflush(stdout);
		free(v);
		free(v);
	} else if (!strcmp(mode, "fasttop")) {
		char *t[7];
		for (int i = 0; i < 7; i++)
			t[i] = malloc(0x38);
		v = malloc(0x38);
		malloc(0x18);
		for (int i = 0; i < 7; i++)
			free(t[i]);
		printf("victim %p\n", (void *)v);
		fflush(stdout);
		free(v);
		free(v);
	} else if (!strcmp(mode, "prev")) {
		/* beyond the tcache's sizes, so free() checks the neighbour */
		char *n;
		v = malloc(0x500);
		n = malloc(0x100);
		malloc(0x18);
		printf("victim %p\n", (void *)v);
		fflush(stdout);
		((size_t *)n)[-1] &= ~(size_t)1;	/* n's PREV_INUSE */
		free(v);
	} else {
		fprintf(stderr, "aborter: unknown mode %s\n", mode);
		return 64;
	}
	return 0;
}
