/*
 * stacks.c - interned call stacks (see stacks.h): pcs stored back to back
 * in one array, a hash of the pcs to the id.
 */
#include "config.h"
#include "stacks.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct stack_ent {
	uint32_t first;		/* index in pcs */
	uint32_t n;
};

struct stack_table {
	VEC(uint64_t) pcs;
	VEC(struct stack_ent) ent;	/* ent[id - 1] */
	struct u64map index;		/* hash -> id (chained by probing the hash) */
};

struct stack_table *
stack_table_new(void)
{
	struct stack_table *st = xcalloc(1, sizeof(*st));
	u64map_init(&st->index);
	return st;
}

void
stack_table_free(struct stack_table *st)
{
	if (!st)
		return;
	vec_free(&st->pcs);
	vec_free(&st->ent);
	u64map_free(&st->index);
	free(st);
}

uint32_t
stack_intern(struct stack_table *st, const uint64_t *pcs, int n)
{
	uint64_t h = hash_bytes(pcs, (size_t)n * sizeof(*pcs), (uint64_t)n), id;
	struct stack_ent e;

	if (n < 0)
		n = 0;
	for (;; h++) {
		if (h == UINT64_MAX)
			h = 0;
		if (!u64map_get(&st->index, h, &id))
			break;
		{
			const struct stack_ent *x = &st->ent.v[id - 1];
			if (x->n == (uint32_t)n && !memcmp(st->pcs.v + x->first, pcs, (size_t)n * sizeof(*pcs)))
				return (uint32_t)id;
		}
	}
	e.first = (uint32_t)st->pcs.n;
	e.n = (uint32_t)n;
	vec_reserve(&st->pcs, st->pcs.n + (size_t)n);
	memcpy(st->pcs.v + st->pcs.n, pcs, (size_t)n * sizeof(*pcs));
	st->pcs.n += (size_t)n;
	vec_push(&st->ent, e);
	u64map_put(&st->index, h, st->ent.n);
	return (uint32_t)st->ent.n;
}

const uint64_t *
stack_pcs(const struct stack_table *st, uint32_t id, int *n)
{
	if (!st || id == 0 || id > st->ent.n) {
		*n = 0;
		return NULL;
	}
	*n = (int)st->ent.v[id - 1].n;
	return st->pcs.v + st->ent.v[id - 1].first;
}

size_t
stack_count(const struct stack_table *st)
{
	return st ? st->ent.n : 0;
}

size_t
stack_memory(const struct stack_table *st)
{
	if (!st)
		return 0;
	return st->pcs.cap * sizeof(uint64_t) + st->ent.cap * sizeof(struct stack_ent) +
	       st->index.cap * 2 * sizeof(uint64_t);
}
