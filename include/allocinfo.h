/*
 * allocinfo.h - what is known about how a block was allocated, when the
 * tracer saw it: the requested size, the interned allocation stack, the
 * allocation's sequence number and its time.  Analyses (leaks, snapshots,
 * exports, `chunk`) take a `struct alloc_source`, which is NULL when
 * nothing was traced.
 */
#ifndef HEAPDBG_ALLOCINFO_H
#define HEAPDBG_ALLOCINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "stacks.h"

struct alloc_record {
	uint64_t req;		/* requested size */
	uint32_t stack;		/* id in the source's stack table, 0 if none */
	uint64_t seq;		/* allocation number (1, 2, ...) since tracing began */
	double time;		/* wall-clock time of the allocation (seconds) */
};

struct alloc_source {
	void *ctx;
	/* true when the block at user address addr was traced */
	bool (*lookup)(void *ctx, uint64_t addr, struct alloc_record *out);
	const struct stack_table *stacks;
};

static inline bool
alloc_lookup(const struct alloc_source *src, uint64_t addr, struct alloc_record *out)
{
	return src && src->lookup && src->lookup(src->ctx, addr, out);
}

#endif
