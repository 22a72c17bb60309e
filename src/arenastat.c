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

static void
follow(struct target *t, const struct malloc_layout *L, struct arenas_stat *st, struct cursor *cur, size_t ncur)
{
	uint64_t *addrs = xmalloc(ncur * sizeof(*addrs));
	uint64_t (*hdr)[3] = xmalloc(ncur * sizeof(*hdr));
	bool *ok = xmalloc(ncur * sizeof(*ok));
	size_t *which = xmalloc(ncur * sizeof(*which));
	uint64_t total = 0;

	for (;;) {
		size_t n = 0;
		for (size_t i = 0; i < ncur; i++) {
			struct cursor *c = &cur[i];
			if (c->fast ? !c->p : c->p == c->head)
				continue;
			if (c->n >= LIST_MAX || total >= TOTAL_MAX) {
				problem(st, "arena %zu: %s %u has more than %u chunks (a loop?)", c->ai,
					c->fast ? "fastbin" : "bin", c->idx, c->n);
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			if (!c->p || !ptm_aligned(c->p)) {
				problem(st, "arena %zu: %s %u: bad link 0x%" PRIx64, c->ai, c->fast ? "fastbin" : "bin",
					c->idx, c->p);
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			addrs[n] = c->p;
			which[n++] = i;
		}
		if (!n)
			break;
		memset(ok, 0, n * sizeof(*ok));
		target_read_many(t, addrs, n, sizeof(hdr[0]), (uint8_t *)hdr, ok);
		for (size_t k = 0; k < n; k++) {
			struct cursor *c = &cur[which[k]];
			struct arena_stat *a = &st->arenas.v[c->ai];
			struct hcount *hc = c->fast ? &a->fastbins : &a->bins;
			if (!ok[k]) {
				problem(st, "arena %zu: %s %u: chunk 0x%" PRIx64 " cannot be read", c->ai,
					c->fast ? "fastbin" : "bin", c->idx, c->p);
				c->p = c->head = 0, c->fast = true;
				continue;
			}
			hc->chunks++;
			hc->bytes += ptm_chunksize(hdr[k][1]);
			c->n++;
			total++;
			c->p = c->fast && L->safe_linking ? ptm_reveal(c->p + 16, hdr[k][2]) : hdr[k][2];
		}
	}
	free(addrs);
	free(hdr);
	free(ok);
	free(which);
}

int
arenas_stat_read(struct target *t, const struct malloc_info *mi, struct arenas_stat *out)
{
	const struct malloc_layout *L = &mi->L;
	uint64_t a = mi->main_arena;
	VEC(struct cursor) cur = { 0 };
	uint8_t *ms;

	memset(out, 0, sizeof(*out));
	if (mi->allocator != ALLOC_GLIBC || !a || L->ms_size == 0 || L->ms_size > 8192 || L->ms_top < 0 ||
	    L->ms_bins < 0 || L->ms_system_mem < 0)
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
	ms = xmalloc(L->ms_size);
	for (size_t ai = 0; ai < 4096; ai++) {
		struct arena_stat as = { .addr = a, .main = a == mi->main_arena };
		uint64_t top, next, sf = 0;

		if (target_read_uncached(t, a, ms, L->ms_size) != L->ms_size) {
			if (ai == 0) {
				free(ms);
				return hd_fail(HD_EGENERIC, "main_arena at 0x%" PRIx64 " cannot be read", a);
			}
			problem(out, "arena %zu at 0x%" PRIx64 " cannot be read", ai, a);
			break;
		}
		as.system_mem = ptm_field(ms, L->ms_system_mem);
		top = ptm_field(ms, L->ms_top);
		if (top && target_read_uncached(t, top + 8, &sf, 8) == 8)
			as.top_size = ptm_chunksize(sf);
		else if (top)
			problem(out, "arena %zu: top 0x%" PRIx64 " cannot be read", ai, top);
		for (unsigned i = 0; L->ms_fastbins >= 0 && i < L->nfastbins; i++) {
			struct cursor c = { .p = ptm_field(ms, L->ms_fastbins + 8 * (int32_t)i), .ai = ai, .idx = i,
					    .fast = true };
			if (c.p)
				vec_push(&cur, c);
		}
		for (unsigned i = 1; i < L->nbins; i++) {
			/* bin_at(av, i): the pseudo-chunk whose fd is bins[2(i-1)] */
			int32_t off = L->ms_bins + 16 * (int32_t)(i - 1);
			struct cursor c = { .p = ptm_field(ms, off), .head = a + (uint64_t)off - 16, .ai = ai, .idx = i };
			if (c.p != c.head)
				vec_push(&cur, c);
		}
		vec_push(&out->arenas, as);
		next = L->ms_next >= 0 ? ptm_field(ms, L->ms_next) : 0;
		if (!next || next == mi->main_arena || (next & 7))
			break;
		for (size_t k = 0; k < out->arenas.n; k++)
			if (out->arenas.v[k].addr == next) {
				next = 0;
				break;
			}
		if (!next) {
			problem(out, "the arena ring loops without returning to main_arena");
			break;
		}
		a = next;
	}
	free(ms);
	follow(t, L, out, cur.v, cur.n);
	vec_free(&cur);
	for (size_t i = 0; i < out->arenas.n; i++) {
		struct arena_stat *as = &out->arenas.v[i];
		as->in_use = as->system_mem - MIN(as->system_mem, as->top_size + as->bins.bytes + as->fastbins.bytes);
	}
	return 0;
}

void
arenas_stat_free(struct arenas_stat *st)
{
	vec_free(&st->arenas);
	free(st->problem);
	st->problem = NULL;
}
