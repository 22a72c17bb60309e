/*
 * leakspots - lost blocks where glibc's own bookkeeping points next to
 * them, for the untraced leak check against valgrind memcheck:
 *   - a lost 50-node list whose head sits right below the top chunk
 *   - a lost 8-node list whose head sits right below a chunk in the
 *     unsorted bin, another right below a chunk in a small bin
 *   - a lost 4-node list whose head sits right below a fastbin chunk
 *   - a lost mmapped chunk holding the only pointers to 6 small blocks
 *     (1 definite + 6 indirect), and a mmapped chunk held by a global
 *     holding the only pointers to 5 small blocks (all reachable)
 *   - a list of 3 held by a global (reachable)
 * Every small block's request is its usable size (16k+8 bytes), so
 * valgrind's bytes (requested) equal heapdbg's untraced bytes (usable);
 * the two mmapped requests are printed ("mmapped REQ ...") so a test can
 * add ptmalloc's rounding.
 *
 * Prints "top ADDR" (the head of the list below top), "mmapped REQ REQ",
 * then "ready PID" and waits (pause).  Arguments: "vg" (under valgrind)
 * runs memcheck's leak check at that point instead (a client request, when
 * <valgrind/memcheck.h> is installed; else it prints "novalgrind") and
 * exits; "exit" returns from main there, for a leak check at exit;
 * "tombstone" first overwrites the header of the lost head below top, and
 * "protnone" makes the lost mmapped chunk PROT_NONE; a last argument
 * "toponly" builds the list below top alone.
 */
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

#define MMAP_REQ1 200000
#define MMAP_REQ2 300000

struct node {			/* 40 bytes: a 48-byte chunk, usable 40 */
	struct node *next;
	char pad[32];
};

static char outbuf[1 << 14];
struct node *held_list;
void **held_map;
static void *volatile sink;
/* addresses the program keeps without keeping a pointer */
#define HIDE(p) ((unsigned long)(p) ^ 0xa5a5a5a5a5a5a5a5UL)
static unsigned long hidden_top, hidden_map;

static struct node *
list(int n)
{
	struct node *head = NULL;
	for (int i = 0; i < n; i++) {
		struct node *x = calloc(1, sizeof(*x));
		x->next = head;
		head = x;
	}
	return head;
}

/* A lost list whose head is allocated right below a chunk of `size`
 * that is then freed into the unsorted bin (a guard keeps it out of
 * top); sort: a bigger request sorts it into its small bin. */
__attribute__((noinline)) static void
below_bin(int sort)
{
	struct node *rest = list(7), *head;
	void *big, *guard;

	head = calloc(1, sizeof(*head));
	big = malloc(1048);		/* > tcache's 1032: unsorted bin when freed */
	guard = malloc(24);
	head->next = rest;
	free(big);
	if (sort) {
		sink = malloc(2040);	/* sorts the unsorted chunk into a small bin */
		free((void *)sink);
		sink = NULL;
	}
	(void)guard;			/* the guard block stays: a 24-byte definite leak */
}

/* A lost list whose head sits right below a fastbin chunk: fill the
 * tcache of 0x50 chunks, then free one more right above the head. */
__attribute__((noinline)) static void
below_fastbin(void)
{
	void *fill[7], *fast, *guard;
	struct node *rest = list(3), *head;

	for (int i = 0; i < 7; i++)
		fill[i] = malloc(72);
	head = calloc(1, sizeof(*head));
	fast = malloc(72);
	guard = malloc(24);
	head->next = rest;
	for (int i = 0; i < 7; i++)
		free(fill[i]);
	free(fast);			/* the tcache bin is full: a fastbin */
	(void)guard;			/* a 24-byte definite leak */
}

/* mmapped chunks holding the only pointers to small blocks */
__attribute__((noinline)) static void
in_mmapped(void)
{
	void **lost = malloc(MMAP_REQ1), **kept = malloc(MMAP_REQ2);
	memset(lost, 0, 64);
	memset(kept, 0, 64);
	for (int i = 0; i < 6; i++)
		lost[i] = malloc(56);
	hidden_map = HIDE(lost);
	for (int i = 0; i < 5; i++)
		kept[i] = malloc(88);
	held_map = kept;
}

/* the last allocations: a lost 50-node list, its head right below top */
__attribute__((noinline)) static void
below_top(void)
{
	struct node *l = list(50);
	printf("top %p\n", (void *)l);
	hidden_top = HIDE(l);
}

/* Overwrite what the calls above left on the stack below us. */
__attribute__((noinline)) static void
scrub(void)
{
	volatile char pad[16384];
	memset((char *)pad, 0, sizeof(pad));
}

__attribute__((noinline)) static void
wait_here(int mode)
{
	if (mode == 1) {
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
	if (mode == 2)
		return;
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	int mode = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "vg"))
			mode = 1;
		else if (!strcmp(argv[i], "exit"))
			mode = 2;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (argc < 2 || strcmp(argv[argc - 1], "toponly")) {
		held_list = list(3);
		below_bin(0);
		below_bin(1);
		below_fastbin();
		in_mmapped();
		scrub();
	}
	below_top();
	scrub();
	printf("mmapped %d %d\n", MMAP_REQ1, MMAP_REQ2);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "tombstone"))
			memset((char *)HIDE(hidden_top) - 16, 0x41, 16);
		if (!strcmp(argv[i], "protnone"))
			mprotect((char *)(HIDE(hidden_map) & ~4095UL), 4096 * 49, PROT_NONE);
	}
	wait_here(mode);
	return 0;
}
