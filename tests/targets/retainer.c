/*
 * retainer - roots that keep memory alive, for `retained`: an unbounded
 * cache in a global hash table (grown by cache_grow), a function-static
 * pool (pool_fill), a list only a thread's stack holds, and a block two
 * globals share.  Everything is reachable: no leak check names any of it.
 * Prints what each root retains in usable sizes (the untraced view) and
 * requested sizes (traced):
 *	expect NAME BLOCKS USABLE_BYTES REQUESTED_BYTES
 * then "ready PID", and parks.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBUCKETS 64
#define NENTRIES 2000

struct entry {
	struct entry *next;
	char *value;
	unsigned long key;
	char pad[24];
};

struct node {
	struct node *next;
	long payload[3];
};

struct entry **cache;		/* the cache: a bucket table */
void *shared_a, *shared_b;	/* two globals holding one block */

static unsigned long exp_blocks[4], exp_usable[4], exp_req[4];
static pthread_barrier_t parked;

static void *
track(int who, size_t n)
{
	void *p = malloc(n);
	exp_blocks[who]++;
	exp_usable[who] += malloc_usable_size(p);
	exp_req[who] += n;
	return p;
}

__attribute__((noinline)) static void
cache_grow(unsigned long key)
{
	struct entry *e;
	if (!cache) {
		cache = track(0, NBUCKETS * sizeof(*cache));
		memset(cache, 0, NBUCKETS * sizeof(*cache));
	}
	e = track(0, sizeof(*e));
	e->key = key;
	e->value = track(0, 20 + key % 13);
	snprintf(e->value, 20, "v%lu", key);
	e->next = cache[key % NBUCKETS];
	cache[key % NBUCKETS] = e;
}

__attribute__((noinline)) static void
pool_fill(void)
{
	static char *pool[100];
	for (int i = 0; i < 100; i++)
		pool[i] = track(1, 256);
}

static struct node *
list(int who, int n)
{
	struct node *head = NULL;
	for (int i = 0; i < n; i++) {
		struct node *x = track(who, sizeof(*x));
		x->next = head;
		head = x;
	}
	return head;
}

static void *
holder(void *arg)
{
	struct node *volatile head = list(2, 30);	/* only this stack holds it */
	(void)arg;
	pthread_barrier_wait(&parked);
	for (;;)
		pause();
	return (void *)head;
}

/* Stale pointers left below main's frame would be roots of their own. */
__attribute__((noinline)) static void
wipe_stack(void)
{
	volatile char buf[32768];
	memset((char *)buf, 0, sizeof(buf));
}

int
main(void)
{
	static const char *const names[] = { "cache", "pool", "stack", "shared" };
	pthread_t th;
	void **s;

	for (unsigned long k = 0; k < NENTRIES; k++)
		cache_grow(k * 7919);
	pool_fill();
	s = track(3, 100);
	*s = list(3, 10);
	shared_a = shared_b = s;
	s = NULL;
	pthread_barrier_init(&parked, NULL, 2);
	pthread_create(&th, NULL, holder, NULL);
	pthread_barrier_wait(&parked);
	for (int i = 0; i < 4; i++)
		printf("expect %s %lu %lu %lu\n", names[i], exp_blocks[i], exp_usable[i], exp_req[i]);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	wipe_stack();
	for (;;)
		pause();
}
