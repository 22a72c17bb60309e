/*
 * leaky - a program with known leaks of every kind, for the leak check:
 *   - 3 lost blocks (definitely lost)
 *   - a lost list of 4 nodes: head definitely lost, 3 indirectly lost
 *   - a lost cycle of 2: 1 definitely, 1 indirectly lost
 *   - 2 blocks reachable only through an interior pointer (possibly lost)
 *   - a block pointed to only from a freed chunk (definitely lost: free
 *     chunks are never roots)
 *   - a list of 5 held by a global, a block held by a stack variable, one
 *     held only in a register of a parked thread (still reachable)
 *   - 200 freed chunks (tcache, fastbins) full of stale pointers: no leak
 * Prints "expect definite=N indirect=N possible=N", "global ADDR",
 * "stack ADDR", "reg ADDR", "lostlist ADDR" (its head), then "ready PID".
 * With argument "exit" it returns from main after building the heap (for
 * leak checks at exit), without the register thread and the stack block.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct node {
	struct node *next;
	char pad[40];
};

struct node *held_list;		/* reachable: 5 nodes */
char *interior;			/* possibly lost: points 16 bytes into a block */
struct node *interior_node;	/* ... and into a node whose next is a start pointer */
static char outbuf[1 << 14];

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

static void *
reg_holder(void *arg)
{
	/* keep the only pointer to a block in r12 across a pause(): the
	 * kernel preserves r12, and nothing else holds the value */
	void *p = malloc(72);
	memset(p, 0, 72);
	printf("reg %p\n", p);
	fflush(stdout);
	__asm__ volatile(
		"mov %0, %%r12\n\t"
		"xor %0, %0\n\t"
		"1: mov $34, %%eax\n\t"	/* SYS_pause */
		"syscall\n\t"
		"jmp 1b\n\t"
		: "+r"(p) : : "r12", "rax", "rcx", "r11", "memory");
	return NULL;
}

__attribute__((noinline)) static void
park(void)
{
	void *volatile on_stack = malloc(56);	/* reachable from this frame */
	printf("stack %p\n", on_stack);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	int at_exit = argc > 1 && !strcmp(argv[1], "exit");
	pthread_t th;
	struct node *lost, *a, *b;
	void *junk[200];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	held_list = list(5);
	printf("global %p\n", (void *)held_list);
	for (int i = 0; i < 3; i++)
		malloc(32 + 16 * i);		/* definitely lost */
	lost = list(4);				/* 1 definite + 3 indirect */
	printf("lostlist %p\n", (void *)lost);
	lost = NULL;
	a = calloc(1, sizeof(*a));		/* a lost cycle */
	b = calloc(1, sizeof(*b));
	a->next = b;
	b->next = a;
	a = b = NULL;
	interior = (char *)malloc(64) + 16;	/* possibly lost */
	interior_node = (struct node *)((char *)calloc(1, sizeof(struct node)) + 8);
	/* a block referenced only from a chunk that is then freed */
	{
		void *victim = malloc(48), *f = malloc(48);
		((void **)f)[2] = victim;
		free(f);
		victim = NULL;
	}
	/* chunks freed into the tcache and fastbins, full of pointers to
	 * held blocks: they must neither keep anything alive nor be
	 * reported */
	for (int i = 0; i < 200; i++) {
		junk[i] = malloc(16 + (i % 5) * 16);
		((void **)junk[i])[1] = held_list;
	}
	for (int i = 0; i < 200; i++)
		free(junk[i]);
	memset(junk, 0, sizeof(junk));
	printf("expect definite=%d indirect=%d possible=%d\n", 3 + 1 + 1 + 1, 3 + 1, 2);
	if (at_exit) {
		/* "leaky exit": end here, for leak checks at exit (valgrind,
		 * heapdbg --args); no thread, no stack-held block */
		fflush(stdout);
		return 0;
	}
	pthread_create(&th, NULL, reg_holder, NULL);
	usleep(100000);
	park();
	return 0;
}
