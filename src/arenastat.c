/*
 * arenastat.c - mallinfo2()'s totals from the arenas' counters and free
 * lists, without a chunk walk (see arenastat.h).
 */
#include "config.h"
#include "arenastat.h"
#include "ptmalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds: the most chunks one list may have, and all lists of a sample. */
#define LIST_MAX	(1u << 22)
#define TOTAL_MAX	(1u << 25)

static void
problem(struct arenas_stat *st, const char *fmt, ...) PRINTF(2, 3);

static void
problem(struct arenas_stat *st, const char *fmt, ...)
{
	va_list ap;
	char buf[256];
	if (st->problem)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	st->problem = xstrdup(buf);
}

/* One free list being followed: all lists advance together, one node
 * each per round, so that a round is one batched read (process_vm_readv
 * with many iovecs) and the rounds are as many as the longest list's
 * chunks, not as all the lists' together. */
struct cursor {
	uint64_t p;		/* the next chunk to read (fastbin: 0 ends) */
	uint64_t head;		/* a bin's own pseudo-chunk (ends its ring) */
	size_t ai;
	unsigned idx;
	bool fast;
	uint32_t n;
};

/* An open-addressing map of chunk addresses to an index (the hint's
 * nodes). */
struct memo {
	uint64_t *key;		/* 0: empty */
	uint32_t *val;
	size_t mask, n;
};

static size_t
memo_slot(const struct memo *m, uint64_t a)
{
	uint64_t h = (a >> 4) * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(h >> 20) & m->mask;
	while (m->key[i] && m->key[i] != a)
		i = (i + 1) & m->mask;
	return i;
}

static void
memo_init(struct memo *m, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap <<= 1;
	m->key = xcalloc(cap, sizeof(*m->key));
	m->val = xmalloc(cap * sizeof(*m->val));
	m->mask = cap - 1;
	m->n = 0;
}

static void
memo_free(struct memo *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* The index of a in m, or -1. */
static int64_t
memo_get(const struct memo *m, uint64_t a)
{
	size_t slot;
	if (!m->key)
		return -1;
	slot = memo_slot(m, a);
	return m->key[slot] ? (int64_t)m->val[slot] : -1;
}

/* The prechase: every list followed with the process running, each node
 * kept in the order found with the (size, fd) words read for it and the
 * index of the node after it in its list.  Only a hint: what the stop
 * confirms it reads again. */
struct arenas_hint {
	const struct malloc_layout *L;
	VEC(struct cursor) cur;
	VEC(uint64_t) nodes;
	VEC(uint32_t) next;	/* the next node of its list (UINT32_MAX: none yet) */
	uint64_t (*words)[2];	/* as read with the process running */
	size_t words_cap;
	uint32_t *last;		/* per cursor: its latest node (UINT32_MAX: none) */
	struct memo map;	/* address -> index; loops end a list */
	bool started, done;
};

/* The arenas' list heads (and, when st is given, their counters): the
 * ring from mi->main_arena.  -1 when main_arena cannot be read. */
static int
read_heads(struct target *t, const struct malloc_info *mi, struct arenas_stat *st, void *curv)
{
	const struct malloc_layout *L = &mi->L;
	VEC(struct cursor) *cur = curv;
	VEC(uint64_t) seen = { 0 };
	uint64_t a = mi->main_arena;
	uint8_t *ms = xmalloc(L->ms_size);
	int rc = 0;

	for (size_t ai = 0; ai < 4096; ai++) {
		struct arena_stat as = { .addr = a, .main = a == mi->main_arena };
		uint64_t top, next, sf = 0;

		if (target_read_uncached(t, a, ms, L->ms_size) != L->ms_size) {
			if (ai == 0) {
				rc = -1;
				break;
			}
			if (st)
				problem(st, "arena %zu at 0x%" PRIx64 " cannot be read", ai, a);
			break;
		}
		if (st) {
			as.system_mem = ptm_field(ms, L->ms_system_mem);
			top = ptm_field(ms, L->ms_top);
			if (top && target_read_uncached(t, top + 8, &sf, 8) == 8)
				as.top_size = ptm_chunksize(sf);
			else if (top)
				problem(st, "arena %zu: top 0x%" PRIx64 " cannot be read", ai, top);
		}
		for (unsigned i = 0; L->ms_fastbins >= 0 && i < L->nfastbins; i++) {
			struct cursor c = { .p = ptm_field(ms, L->ms_fastbins + 8 * (int32_t)i), .ai = ai, .idx = i,
					    .fast = true };
			if (c.p)
				vec_push(cur, c);
		}
		for (unsigned i = 1; i < L->nbins; i++) {
			/* bin_at(av, i): the pseudo-chunk whose fd is bins[2(i-1)] */
			int32_t off = L->ms_bins + 16 * (int32_t)(i - 1);
			struct cursor c = { .p = ptm_field(ms, off), .head = a + (uint64_t)off - 16, .ai = ai, .idx = i };
			if (c.p != c.head)
				vec_push(cur, c);
		}
		if (st)
			vec_push(&st->arenas, as);
		vec_push(&seen, a);
		next = L->ms_next >= 0 ? ptm_field(ms, L->ms_next) : 0;
		if (!next || next == mi->main_arena || (next & 7))
			break;
		for (size_t k = 0; k < seen.n; k++)
			if (seen.v[k] == next) {
				next = 0;
				break;
			}
		if (!next) {
			if (st)
				problem(st, "the arena ring loops without returning to main_arena");
			break;
		}
		a = next;
	}
	free(ms);
	vec_free(&seen);
	return rc;
}

/* Follow every list under the stop.  A node of the hint whose words the
 * stop read again (index below nconf: conf) costs no read; one beyond it
 * is taken as the hint read it when approx allows (the sample is then
 * approximate); the others are read a round at a time, until the
 * deadline (0: none), after which the lists are cut. */
static void
follow(struct target *t, const struct malloc_layout *L, struct arenas_stat *st, struct cursor *cur, size_t ncur,
       const struct arenas_hint *hint, const uint64_t (*conf)[2], size_t nconf, uint64_t deadline)
{
	uint64_t *addrs = xmalloc(ncur * sizeof(*addrs));
	uint64_t (*hdr)[2] = xmalloc(ncur * sizeof(*hdr));
	bool *ok = xmalloc(ncur * sizeof(*ok));
	size_t *which = xmalloc(ncur * sizeof(*which));
	int64_t *hi = xmalloc(ncur * sizeof(*hi));	/* the cursor's node's hint index */
	uint64_t total = 0;

	for (size_t i = 0; i < ncur; i++)
		hi[i] = hint ? memo_get(&hint->map, cur[i].p) : -1;
	for (;;) {
		size_t n = 0;
		for (size_t i = 0; i < ncur; i++) {
			struct cursor *c = &cur[i];
			for (;;) {
				struct arena_stat *a = &st->arenas.v[c->ai];
				struct hcount *hc = c->fast ? &a->fastbins : &a->bins;
				const uint64_t *w;
				if (c->fast ? !c->p : c->p == c->head)
					break;
				if (c->n >= LIST_MAX || total >= TOTAL_MAX) {
					problem(st, "arena %zu: %s %u has more than %u chunks (a loop?)", c->ai,
						c->fast ? "fastbin" : "bin", c->idx, c->n);
					c->p = c->head = 0, c->fast = true;
					break;
				}
				if (!c->p || !ptm_aligned(c->p)) {
					problem(st, "arena %zu: %s %u: bad link 0x%" PRIx64, c->ai,
						c->fast ? "fastbin" : "bin", c->idx, c->p);
					c->p = c->head = 0, c->fast = true;
					break;
				}
				if (hi[i] >= 0 && (size_t)hi[i] < nconf) {
					w = conf[hi[i]];	/* read in this stop */
					st->confirmed++;
				} else if (hi[i] >= 0 && deadline) {
					w = hint->words[hi[i]];	/* as read while it ran */
					st->unconfirmed++;
					st->approximate = true;
				} else {
					addrs[n] = c->p + 8;
					which[n++] = i;
					break;
				}
				hc->chunks++;
				hc->bytes += ptm_chunksize(w[0]);
				c->n++;
				total++;
				c->p = c->fast && L->safe_linking ? ptm_reveal(c->p + 16, w[1]) : w[1];
				/* most often the hint's next node: no lookup */
				if (hint->next.v[hi[i]] != UINT32_MAX && hint->nodes.v[hint->next.v[hi[i]]] == c->p)
					hi[i] = hint->next.v[hi[i]];
				else
					hi[i] = memo_get(&hint->map, c->p);
			}
		}
		if (!n)
			break;
		if (deadline && hd_now_ns() >= deadline) {
			/* out of time: the lists stop here */
			for (size_t k = 0; k < n; k++) {
				cur[which[k]].p = cur[which[k]].head = 0;
				cur[which[k]].fast = true;
			}
			st->approximate = true;
			st->cut += n;
			break;
		}
		memset(ok, 0, n * sizeof(*ok));
		target_read_many(t, addrs, n, sizeof(hdr[0]), (uint8_t *)hdr, ok);
		st->rounds++;
		for (size_t k = 0; k < n; k++) {
			size_t i = which[k];
			struct cursor *c = &cur[i];
			struct arena_stat *a = &st->arenas.v[c->ai];
			struct hcount *hc = c->fast ? &a->fastbins : &a->bins;
			if (!ok[k]) {
				problem(st, "arena %zu: %s %u: chunk 0x%" PRIx64 " cannot be read", c->ai,
					c->fast ? "fastbin" : "bin", c->idx, c->p);
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			hc->chunks++;
			hc->bytes += ptm_chunksize(hdr[k][0]);
			c->n++;
			total++;
			c->p = c->fast && L->safe_linking ? ptm_reveal(c->p + 16, hdr[k][1]) : hdr[k][1];
			hi[i] = hint ? memo_get(&hint->map, c->p) : -1;
		}
	}
	free(addrs);
	free(hdr);
	free(ok);
	free(which);
	free(hi);
}

struct arenas_hint *
arenas_hint_new(const struct malloc_info *mi)
{
	struct arenas_hint *h;

	if (!mi || mi->allocator != ALLOC_GLIBC || !mi->main_arena || mi->L.ms_size == 0 || mi->L.ms_size > 8192 ||
	    mi->L.ms_bins < 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->L = &mi->L;
	return h;
}

/* Add node a (words w) to the hint after its cursor's last node; false
 * when the hint holds it already (a loop, or a chunk that moved from
 * one list to another while we read). */
static bool
hint_add(struct arenas_hint *h, size_t ci, uint64_t a, const uint64_t w[2])
{
	size_t slot;
	uint32_t idx;

	if (2 * (h->map.n + 1) > h->map.mask + 1) {
		struct memo m;
		memo_init(&m, 2 * (h->map.n + 1));
		for (size_t i = 0; i <= h->map.mask; i++)
			if (h->map.key[i]) {
				size_t sl = memo_slot(&m, h->map.key[i]);
				m.key[sl] = h->map.key[i];
				m.val[sl] = h->map.val[i];
			}
		m.n = h->map.n;
		memo_free(&h->map);
		h->map = m;
	}
	slot = memo_slot(&h->map, a);
	if (h->map.key[slot])
		return false;
	idx = (uint32_t)h->nodes.n;
	h->map.key[slot] = a;
	h->map.val[slot] = idx;
	h->map.n++;
	vec_push(&h->nodes, a);
	vec_push(&h->next, UINT32_MAX);
	if (h->words_cap < h->nodes.n) {
		h->words_cap = h->words_cap ? 2 * h->words_cap : 1024;
		h->words = xrealloc(h->words, h->words_cap * sizeof(*h->words));
	}
	h->words[idx][0] = w[0];
	h->words[idx][1] = w[1];
	if (h->last[ci] != UINT32_MAX)
		h->next.v[h->last[ci]] = idx;
	h->last[ci] = idx;
	return true;
}

int
arenas_hint_step(struct target *t, const struct malloc_info *mi, struct arenas_hint *h, uint64_t budget_ns)
{
	const struct malloc_layout *L = h->L;
	uint64_t until = hd_now_ns() + budget_ns;
	size_t ncur;
	uint64_t *addrs, (*hdr)[2];
	bool *ok;
	size_t *which;

	if (h->done)
		return 1;
	if (!h->started) {
		h->started = true;
		memo_init(&h->map, 1024);
		if (read_heads(t, mi, NULL, &h->cur) < 0) {
			h->done = true;
			return 1;
		}
		h->last = xmalloc((h->cur.n + 1) * sizeof(*h->last));
		for (size_t i = 0; i < h->cur.n; i++)
			h->last[i] = UINT32_MAX;
	}
	ncur = h->cur.n;
	addrs = xmalloc((ncur + 1) * sizeof(*addrs));
	hdr = xmalloc((ncur + 1) * sizeof(*hdr));
	ok = xmalloc((ncur + 1) * sizeof(*ok));
	which = xmalloc((ncur + 1) * sizeof(*which));
	for (;;) {
		size_t n = 0;
		for (size_t i = 0; i < ncur; i++) {
			struct cursor *c = &h->cur.v[i];
			if (c->fast ? !c->p : c->p == c->head)
				continue;
			/* the process runs: a list may change under us; a bad
			 * link or the bounds end it quietly */
			if (c->n >= LIST_MAX || h->nodes.n >= TOTAL_MAX || !c->p || !ptm_aligned(c->p)) {
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			addrs[n] = c->p + 8;
			which[n++] = i;
		}
		if (!n) {
			h->done = true;
			break;
		}
		memset(ok, 0, n * sizeof(*ok));
		target_read_many(t, addrs, n, sizeof(hdr[0]), (uint8_t *)hdr, ok);
		for (size_t k = 0; k < n; k++) {
			struct cursor *c = &h->cur.v[which[k]];
			if (!ok[k] || !hint_add(h, which[k], c->p, hdr[k])) {
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			c->n++;
			c->p = c->fast && L->safe_linking ? ptm_reveal(c->p + 16, hdr[k][1]) : hdr[k][1];
		}
		if (hd_now_ns() >= until)
			break;
	}
	free(addrs);
	free(hdr);
	free(ok);
	free(which);
	return h->done;
}

size_t
arenas_hint_nodes(const struct arenas_hint *h)
{
	return h ? h->nodes.n : 0;
}

void
arenas_hint_free(struct arenas_hint *h)
{
	if (!h)
		return;
	vec_free(&h->cur);
	vec_free(&h->nodes);
	vec_free(&h->next);
	free(h->words);
	free(h->last);
	memo_free(&h->map);
	free(h);
}

/* The hint's nodes read again under the stop, in the hint's order (the
 * lists' first nodes first), in batches of many iovecs, until all are or
 * the deadline passes (0: none).  Returns how many; a node that cannot
 * be read gets the words 0 (a size of 0, a bad link: a problem). */
static size_t
confirm(struct target *t, const struct arenas_hint *h, uint64_t (*conf)[2], uint64_t deadline)
{
	enum { BATCH = 1024 };
	uint64_t addrs[BATCH];
	bool ok[BATCH];
	size_t done = 0;

	while (done < h->nodes.n) {
		size_t n = MIN(h->nodes.n - done, (size_t)BATCH);
		if (deadline && done && hd_now_ns() >= deadline)
			break;
		for (size_t i = 0; i < n; i++)
			addrs[i] = h->nodes.v[done + i] + 8;
		memset(ok, 0, n * sizeof(ok[0]));
		target_read_many(t, addrs, n, sizeof(conf[0]), (uint8_t *)conf[done], ok);
		for (size_t i = 0; i < n; i++)
			if (!ok[i])
				conf[done + i][0] = conf[done + i][1] = 0;
		done += n;
	}
	return done;
}

int
arenas_stat_read(struct target *t, const struct malloc_info *mi, const struct arenas_hint *hint, uint64_t deadline,
		 struct arenas_stat *out)
{
	const struct malloc_layout *L = &mi->L;
	VEC(struct cursor) cur = { 0 };
	uint64_t (*conf)[2] = NULL;
	size_t nconf = 0;

	memset(out, 0, sizeof(*out));
	if (mi->allocator != ALLOC_GLIBC || !mi->main_arena || L->ms_size == 0 || L->ms_size > 8192 ||
	    L->ms_top < 0 || L->ms_bins < 0 || L->ms_system_mem < 0)
		return hd_fail(HD_ENOTSUP, "no glibc malloc state to read");
	if (mi->mp && L->mp_n_mmaps >= 0 && L->mp_mmapped_mem >= 0) {
		uint32_t n = 0;
		uint64_t bytes = 0;
		if (target_read_u32(t, mi->mp + (uint64_t)L->mp_n_mmaps, &n) == 0 &&
		    target_read_u64(t, mi->mp + (uint64_t)L->mp_mmapped_mem, &bytes) == 0) {
			out->n_mmaps = n;
			out->mmapped_mem = bytes;
		}
	}
	if (read_heads(t, mi, out, &cur) < 0) {
		vec_free(&cur);
		arenas_stat_free(out);
		return hd_fail(HD_EGENERIC, "main_arena at 0x%" PRIx64 " cannot be read", mi->main_arena);
	}
	if (hint && hint->nodes.n) {
		out->hinted = hint->nodes.n;
		conf = xmalloc(hint->nodes.n * sizeof(*conf));
		nconf = confirm(t, hint, conf, deadline);
		for (size_t i = 0; i < nconf; i++)
			if (conf[i][0] != hint->words[i][0] || conf[i][1] != hint->words[i][1])
				out->changed++;
	}
	follow(t, L, out, cur.v, cur.n, hint && hint->nodes.n ? hint : NULL, conf, nconf, deadline);
	free(conf);
	vec_free(&cur);
	for (size_t i = 0; i < out->arenas.n; i++) {
		struct arena_stat *as = &out->arenas.v[i];
		as->in_use = as->system_mem - MIN(as->system_mem, as->top_size + as->bins.bytes + as->fastbins.bytes);
	}
	return 0;
}

uint64_t
arenas_system_mem(struct target *t, const struct malloc_info *mi)
{
	struct arenas_stat st = { 0 };
	VEC(struct cursor) cur = { 0 };
	uint64_t sum = 0;

	if (!mi || mi->allocator != ALLOC_GLIBC || !mi->main_arena || mi->L.ms_size == 0 || mi->L.ms_size > 8192 ||
	    mi->L.ms_top < 0 || mi->L.ms_bins < 0 || mi->L.ms_system_mem < 0)
		return 0;
	if (read_heads(t, mi, &st, &cur) == 0)
		for (size_t i = 0; i < st.arenas.n; i++)
			sum += st.arenas.v[i].system_mem;
	vec_free(&cur);
	arenas_stat_free(&st);
	return sum;
}

void
arenas_stat_free(struct arenas_stat *st)
{
	vec_free(&st->arenas);
	free(st->problem);
	st->problem = NULL;
}
