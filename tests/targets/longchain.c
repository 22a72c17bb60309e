/*
 * longchain - a long path from a root, for `refs --chain`: the global
 * g_head holds a 40-byte block, which points to the first of 700 80-byte
 * list nodes (next at offset 0), then 3 nodes of 120 bytes with next at
 * offset 16 (a run too short to collapse), then a 200-byte block, the
 * end of the chain.  Prints the blocks' addresses ("head", "first",
 * "last", "short0" to "short2", "end"), then "ready PID",
 * and waits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NLIST 700

void **g_head;

int
main(void)
{
	void **list[NLIST], **shortl[3], *end = malloc(200);

	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 0; i < 3; i++)
		shortl[i] = calloc(1, 120);
	for (int i = 0; i < 2; i++)
		shortl[i][2] = shortl[i + 1];
	shortl[2][2] = end;
	for (int i = 0; i < NLIST; i++)
		list[i] = calloc(1, 80);
	for (int i = 0; i < NLIST - 1; i++)
		list[i][0] = list[i + 1];
	list[NLIST - 1][0] = shortl[0];
	g_head = calloc(1, 40);
	g_head[1] = list[0];
	printf("head %p\nfirst %p\nlast %p\nshort0 %p\nshort1 %p\nshort2 %p\nend %p\n", (void *)g_head,
	       (void *)list[0], (void *)list[NLIST - 1], (void *)shortl[0], (void *)shortl[1], (void *)shortl[2], end);
	/* only g_head keeps them */
	for (int i = 0; i < NLIST; i++)
		list[i] = NULL;
	shortl[0] = shortl[1] = shortl[2] = NULL;
	end = NULL;
	__asm__ volatile("" : : "r"(list), "r"(shortl), "r"(end) : "memory");
	printf("ready %d\n", (int)getpid());
	for (;;)
		pause();
}
