/*
 * libstackplug.so - a library tests/targets/stackshapes dlopen()s while
 * it is traced: a block allocated two calls deep inside it, so that its
 * allocation stack runs through a module loaded after `trace start`.
 */
#include <stdlib.h>

__attribute__((noinline)) void *
plug_inner(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" ::: "memory");	/* no tail call */
	return p;
}

__attribute__((noinline)) void *
plug_leak(size_t n)
{
	void *p = plug_inner(n);
	__asm__ volatile("" ::: "memory");
	return p;
}
