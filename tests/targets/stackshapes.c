/*
 * stackshapes - leaks whose allocation stacks differ in known ways, to
 * compare heapdbg's traced report at exit with valgrind's (stacks,
 * suppressions, leak kinds).  Run as `stackshapes LIBSTACKPLUG`:
 *   - a block allocated through three nested inlined calls
 *   - a block allocated inside LIBSTACKPLUG, dlopen()ed here (after
 *     `trace start` in launch mode), two of its calls deep
 *   - one lost block each from malloc, calloc, realloc(NULL, n), strdup,
 *     operator new and operator new[]
 *   - a lost list of 3: 1 definitely, 2 indirectly lost
 *   - a block possibly lost (a global holds a pointer into it)
 *   - a block still reachable (a global holds it)
 * then returns from main.  Sizes are distinct, so that each record is
 * told by its size as well.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *_Znwm(unsigned long);
void *_Znam(unsigned long);

void *held;			/* still reachable */
char *inside;			/* possibly lost: 8 bytes into a block */

static inline __attribute__((always_inline)) void *
inner(size_t n)
{
	void *p = malloc(n);
	return p;
}

static inline __attribute__((always_inline)) void *
middle(size_t n)
{
	void *p = inner(n + 1);
	return p;
}

static inline __attribute__((always_inline)) void *
outer(size_t n)
{
	void *p = middle(n + 1);
	return p;
}

__attribute__((noinline)) void
leak_inlined(void)
{
	void *p = outer(29);	/* 31 bytes */
	__asm__ volatile("" : : "r"(p) : "memory");
}

__attribute__((noinline)) void
leak_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	void *(*fn)(size_t);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		exit(1);
	}
	fn = (void *(*)(size_t))dlsym(h, "plug_leak");
	fn(77);
	/* the library stays loaded: valgrind names its frames at exit */
}

__attribute__((noinline)) void leak_malloc(void) { malloc(40); }
__attribute__((noinline)) void leak_calloc(void) { calloc(3, 17); }
__attribute__((noinline)) void leak_realloc(void) { realloc(NULL, 70); }
__attribute__((noinline)) void leak_strdup(void) { strdup("a string of twenty-six"); }
__attribute__((noinline)) void leak_new(void) { _Znwm(24); }
__attribute__((noinline)) void leak_newarr(void) { _Znam(88); }

struct node {
	struct node *next;
	char pad[48];
};

__attribute__((noinline)) void
leak_list(void)
{
	struct node *head = NULL;
	for (int i = 0; i < 3; i++) {
		struct node *n = calloc(1, sizeof(*n));
		n->next = head;
		head = n;
	}
}

__attribute__((noinline)) void
keep(void)
{
	held = malloc(100);
	inside = (char *)malloc(120) + 8;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		printf("usage: stackshapes LIBSTACKPLUG\n");
		return 2;
	}
	leak_inlined();
	leak_plugin(argv[1]);
	leak_malloc();
	leak_calloc();
	leak_realloc();
	leak_strdup();
	leak_new();
	leak_newarr();
	leak_list();
	keep();
	printf("done\n");
	return 0;
}
