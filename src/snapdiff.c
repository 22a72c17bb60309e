/*
 * snapdiff.c - what changed between two snapshots: one merge of the two
 * address-sorted chunk lists; chunks present in only one are freed or
 * new, and every chunk is counted in its group (its symbolic allocation
 * stack when traced, else its size class) so each group also has its
 * totals before and after, as tracemalloc's compare_to shows them.
 */
#include "config.h"
#include "snapshot.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct acc {
	struct snap_diff *d;
	struct u64map index;	/* group key -> index in d->groups */
};

static struct snap_group *
group_of(struct acc *ac, const struct snapshot *sn, const struct snap_chunk *c)
{
	uint32_t tr = snap_chunk_trace(sn, c);
	const struct snap_trace *t = tr ? &sn->traces.v[tr - 1] : NULL;
	struct snap_group g = { 0 };
	uint64_t *slot;
	bool created;

	if (t && t->stack) {
		g.has_stack = true;
		g.sn = sn;
		g.stack = t->stack;
		g.key = sn->stacks.v[t->stack - 1].key & ~(1ULL << 63);
	} else {
		snapshot_size_class(c->size, &g.size_lo, &g.size_hi);
		g.key = (1ULL << 63) | MIN(g.size_lo, 1ULL << 62);
	}
	if (!g.has_stack && ac->d->sampled && !t)
		return NULL;	/* unsampled: in the totals only */
	slot = u64map_slot(&ac->index, g.key, &created);
	if (created) {
		vec_push(&ac->d->groups, g);
		*slot = ac->d->groups.n - 1;
		if (g.has_stack)
			ac->d->traced = true;
	}
	return &ac->d->groups.v[*slot];
}

static void
count(struct snap_count *c, uint64_t size)
{
	c->chunks++;
	c->bytes += size;
}

/* Count chunk c of sn in group g (NULL: none) as n and its estimate e. */
static void
gcount(struct snap_group *g, const struct snapshot *sn, const struct snap_chunk *c, size_t n_off, size_t e_off)
{
	double w;
	struct snap_est *e;

	if (!g)
		return;
	count((struct snap_count *)((char *)g + n_off), c->size);
	w = snap_chunk_trace(sn, c) ? snapshot_weight(sn, &sn->traces.v[snap_chunk_trace(sn, c) - 1]) : 1;
	e = (struct snap_est *)((char *)g + e_off);
	e->chunks += w;
	e->bytes += w * (double)c->size;
}

#define GC(g, sn, c, which) gcount(g, sn, c, offsetof(struct snap_group, which), \
				   offsetof(struct snap_group, est_##which))

/* The same allocation in both snapshots? */
static bool
same_alloc(const struct snapshot *a, const struct snap_chunk *x,
	   const struct snapshot *b, const struct snap_chunk *y)
{
	const struct snap_trace *tx, *ty;

	if (x->size != y->size)
		return false;
	if (!snap_chunk_trace(a, x) || !snap_chunk_trace(b, y))
		return true;
	tx = &a->traces.v[snap_chunk_trace(a, x) - 1];
	ty = &b->traces.v[snap_chunk_trace(b, y) - 1];
	return tx->seq == ty->seq && !memcmp(&tx->time, &ty->time, sizeof(tx->time));
}

static int64_t
growth(const struct snap_group *g)
{
	return (int64_t)llround(g->est_new_.bytes - g->est_freed.bytes);
}

static int
group_cmp(const void *pa, const void *pb)
{
	const struct snap_group *x = pa, *y = pb;
	int64_t gx = growth(x), gy = growth(y);
	int64_t cx = llround(x->est_new_.chunks - x->est_freed.chunks);
	int64_t cy = llround(y->est_new_.chunks - y->est_freed.chunks);

	if (gx != gy)
		return gx > gy ? -1 : 1;
	if (cx != cy)
		return cx > cy ? -1 : 1;
	if (x->to.bytes != y->to.bytes)
		return x->to.bytes > y->to.bytes ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

void
snapshot_diff(const struct snapshot *a, const struct snapshot *b, struct snap_diff *d)
{
	struct acc ac = { d, { 0 } };
	size_t i = 0, j = 0;

	memset(d, 0, sizeof(*d));
	d->a = a;
	d->b = b;
	d->sampled = a->sample_rate || b->sample_rate;
	u64map_init(&ac.index);
	while (i < a->nchunks || j < b->nchunks) {
		const struct snap_chunk *x = i < a->nchunks ? &a->chunks[i] : NULL;
		const struct snap_chunk *y = j < b->nchunks ? &b->chunks[j] : NULL;

		if (x && (!y || x->addr < y->addr)) {
			struct snap_group *g = group_of(&ac, a, x);
			GC(g, a, x, from);
			GC(g, a, x, freed);
			count(&d->freed, x->size);
			i++;
		} else if (y && (!x || y->addr < x->addr)) {
			struct snap_group *g = group_of(&ac, b, y);
			GC(g, b, y, to);
			GC(g, b, y, new_);
			count(&d->new_, y->size);
			j++;
		} else {
			struct snap_group *g = group_of(&ac, a, x);
			bool same = same_alloc(a, x, b, y);
			GC(g, a, x, from);
			if (!same) {
				GC(g, a, x, freed);
				count(&d->freed, x->size);
			}
			g = group_of(&ac, b, y);
			GC(g, b, y, to);
			if (!same) {
				GC(g, b, y, new_);
				count(&d->new_, y->size);
			} else {
				count(&d->kept, y->size);
			}
			i++;
			j++;
		}
	}
	u64map_free(&ac.index);
	if (d->groups.n)
		qsort(d->groups.v, d->groups.n, sizeof(*d->groups.v), group_cmp);
}

void
snap_diff_free(struct snap_diff *d)
{
	vec_free(&d->groups);
}
