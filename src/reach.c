/*
 * reach.c - the leak check (see reach.h): memcheck's mark phase from the
 * roots, then its clique phase over what was not reached.  One streaming
 * pass reads the blocks in address order through a reused window (or
 * the walk's copies, or a core in place) and keeps of their contents only
 * the pointer edges between blocks (compressed sparse rows of block
 * indices), what memcheck's heuristics decide about each interior edge
 * (the few words of the blocks they need, read again in batches) and how
 * each block looks for its loss record.  Marking then follows the edges
 * in memory; roots are read in pieces.
 */
#include "config.h"
#include "reach.h"
#include "ptmalloc.h"
#include "signals.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RED_ZONE 128		/* x86-64 ABI red zone below the stack pointer */
#define ROOT_PIECE (1u << 20)
#define WINDOW (512u << 10)	/* the streaming pass's read window */
#define BATCH 1024		/* heuristics' words read at once */

/* r->look: the enum block_look, and what the pass saw */
#define LOOK_MASK 0x03
#define LOOK_HEUR_SHIFT 2	/* the enum leak_heuristic that made it reachable (3 bits) */
#define LOOK_HEUR (7 << LOOK_HEUR_SHIFT)
#define LOOK_PENDING 0x20	/* on the mark stack */
#define LOOK_DONE 0x40		/* computed */
#define LOOK_ZERO 0x80		/* the block's first word is 0 */
#define VTABLE_MAX_CHECK 20

const char *
leak_kind_name(enum leak_kind k)
{
	switch (k) {
	case LEAK_DEFINITE: return "definite";
	case LEAK_INDIRECT: return "indirect";
	case LEAK_POSSIBLE: return "possible";
	case LEAK_REACHABLE: return "reachable";
	default: return "?";
	}
}

int
leak_kinds_parse(const char *text, unsigned *mask)
{
	char *copy = xstrdup(text), *save = NULL, *w;
	bool all = false, none = false;
	unsigned m = 0;
	int words = 0;

	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save), words++) {
		int k;
		if (!strcmp(w, "all")) {
			all = true;
			continue;
		}
		if (!strcmp(w, "none")) {
			none = true;
			continue;
		}
		for (k = 0; k < LEAK_NKINDS && strcmp(w, leak_kind_name((enum leak_kind)k)); k++)
			;
		if (k == LEAK_NKINDS) {
			hd_fail(HD_EUSAGE, "'%s' is not a leak kind (definite, indirect, possible, reachable, all, none)",
				w);
			free(copy);
			return -1;
		}
		m |= 1u << k;
	}
	free(copy);
	if (!words || ((all || none) && words > 1))
		return hd_fail(HD_EUSAGE, "'%s': kinds separated by commas, or 'all' or 'none' alone", text);
	*mask = all ? LEAK_KINDS_ALL : m;
	return 0;
}

const char *
leak_kinds_str(unsigned mask, char buf[64])
{
	size_t n = 0;

	if ((mask & LEAK_KINDS_ALL) == LEAK_KINDS_ALL)
		return strcpy(buf, "all");
	if (!(mask & LEAK_KINDS_ALL))
		return strcpy(buf, "none");
	buf[0] = 0;
	for (int k = 0; k < LEAK_NKINDS; k++)
		if (mask & (1u << k))
			n += (size_t)snprintf(buf + n, 64 - n, "%s%s", n ? "," : "", leak_kind_name((enum leak_kind)k));
	return buf;
}

const char *
ref_region_name(enum ref_region r)
{
	switch (r) {
	case REF_REGISTER: return "register";
	case REF_STACK: return "stack";
	case REF_GLOBAL: return "global";
	case REF_ANON: return "anonymous";
	case REF_HEAP: return "heap";
	}
	return "?";
}

/*
 * Memory.  Every array of a run is sized by the blocks, or grows with
 * the edges, and is written soon after it is made: each has a mapping
 * of its own in huge pages (big_calloc: zeroed, faulted 2 MiB at a time
 * as it is first written; on a VM a 4 KiB page's first touch costs
 * microseconds, which made up most of a big check's time).  The edges
 * grow by mremap, which moves the pages and copies nothing.
 */
struct marr {
	uint8_t *p;
	size_t cap;	/* bytes mapped */
};

/* Room for `bytes` bytes in m, keeping what it holds. */
static void
marr_need(struct marr *m, size_t bytes)
{
	size_t nc = m->cap ? m->cap : (size_t)2 << 20;
	void *q;

	if (bytes <= m->cap)
		return;
	while (nc < bytes)
		nc *= 2;
	if (!m->p)
		q = mmap(NULL, nc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		q = mremap(m->p, m->cap, nc, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		hd_fatal("out of memory: %zu bytes for the leak check's edges", nc);
#ifdef MADV_HUGEPAGE
	(void)madvise(q, nc, MADV_HUGEPAGE);
#endif
	m->p = q;
	m->cap = nc;
}

static void
edges_free(struct reach *r)
{
	if (r->edges_map)
		munmap(r->edges, r->edges_map);
	else
		free(r->edges);
	r->edges = NULL;
	r->edges_map = 0;
}

/* HEAPDBG_DEBUG: the time since t0 and the resident set, at a step */
static void
phase(const char *what, uint64_t t0)
{
	FILE *f;
	unsigned long size = 0, rss = 0;

	if (!hd_debug)
		return;
	if ((f = fopen("/proc/self/statm", "r"))) {
		if (fscanf(f, "%lu %lu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	debug_msg("leaks: %-12s %8.1f ms, rss %lu KiB", what, (hd_now_ns() - t0) / 1e6, rss * 4);
}

/* ---- the state of one run ---- */

struct rc {
	struct target *t;
	struct reach *r;
	const struct reach_opts *o;
	uint64_t lo, hi;		/* [lowest block start, highest block end) */
	uint32_t *stack;		/* mark stack: a block is on it once at most
					 * (LOOK_PENDING), so r->n entries */
	size_t nstack;
	/* scratch for reads, one per use: a root piece is scanned from one
	 * while the blocks it reaches are read into the other (heuristics
	 * read into buffers of their own) */
	struct rbuf {
		uint8_t *p;
		size_t cap;
	} rootbuf, blockbuf;
	int clique;			/* -1: marking from roots; else the leader */
	uint32_t scanning;		/* the block being scanned */
	bool interrupted;
	bool toobig;			/* more edges than a u32 counts */
	uint64_t t0;			/* (HEAPDBG_DEBUG's timings) */
	uint64_t vt_lo, vt_hi;		/* maybe_vtable's last mapping */
	bool vt_yes;
	size_t hint;			/* block_at's last region */
};

/* The index: blocks sit in a few dense regions (arena heaps, mmapped
 * chunks); for each region, the first block starting in or before each
 * of its buckets, a bucket a power of two bytes sized for about two
 * blocks.  A lookup is a search among the regions, one array read and
 * a forward scan of a block or two (a binary search where a bucket
 * holds many): no search over a million blocks, and an index of a few
 * bytes a block whatever the blocks' sizes. */
static void
build_index(struct reach *r)
{
	VEC(struct reach_index) v = { 0 };
	size_t i = 0, total = 0, at = 0;

	while (i < r->n) {
		/* a region: blocks no more than a page apart */
		size_t j = i + 1;
		struct reach_index x;
		uint64_t end = reach_start(r, i) + MAX(reach_len(r, i), 1), span, per;
		while (j < r->n && reach_start(r, j) < ALIGN_UP(end, 4096) + 4096) {
			end = MAX(end, reach_start(r, j) + MAX(reach_len(r, j), 1));
			j++;
		}
		x.lo = ALIGN_DOWN(reach_start(r, i), 4096);
		x.hi = ALIGN_UP(end, 4096);
		span = x.hi - x.lo;
		per = 4 * span / (j - i);	/* a bucket: 1 << shift in (per / 4, per / 2] */
		for (x.shift = 6; x.shift < 40 && ((uint64_t)2 << x.shift) <= per; x.shift++)
			;
		x.nb = (size_t)(span >> x.shift) + 1;
		x.b1 = (uint32_t)j;
		x.first = NULL;
		total += x.nb + 1;
		vec_push(&v, x);
		i = j;
	}
	/* the buckets of every region in one mapping */
	r->imemlen = total * sizeof(uint32_t);
	r->imem = big_calloc(total, sizeof(uint32_t));
	for (size_t g = 0, k = 0; g < v.n; g++) {
		struct reach_index *x = &v.v[g];
		x->first = (uint32_t *)r->imem + at;
		at += x->nb + 1;
		/* first[q]: the last block starting at or below bucket q's
		 * start (the region's first block for those before it) */
		for (size_t q = 0; k < x->b1; k++) {
			size_t upto = x->nb + 1;	/* the last block: the rest */
			if (k + 1 < x->b1) {
				/* the buckets starting below the next block */
				uint64_t d = reach_start(r, k + 1) - x->lo;
				upto = (size_t)(d >> x->shift) + ((d & (((uint64_t)1 << x->shift) - 1)) != 0);
			}
			for (; q < upto; q++)
				x->first[q] = (uint32_t)k;
		}
	}
	r->idx = v.v;
	r->nidx = v.n;
}

/* The region holding v, or NULL; *hint: the last one found (a guess). */
static inline const struct reach_index *
index_region(const struct reach *r, uint64_t v, size_t *hint)
{
	size_t lo = 0, hi = r->nidx;

	if (*hint < r->nidx && v >= r->idx[*hint].lo && v < r->idx[*hint].hi)
		return &r->idx[*hint];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < r->idx[mid].lo)
			hi = mid;
		else if (v >= r->idx[mid].hi)
			lo = mid + 1;
		else
			return &r->idx[*hint = mid];
	}
	return NULL;
}

static inline long
block_at(const struct reach *r, uint64_t v, size_t *hint)
{
	const struct reach_index *x = index_region(r, v, hint);
	size_t q, b, last;

	if (!x)
		return -1;
	q = (size_t)((v - x->lo) >> x->shift);
	b = x->first[q];
	if (reach_start(r, b) > v)
		return -1;	/* before the region's first block */
	/* the block is among first[q] .. first[q + 1] */
	last = q + 1 <= x->nb ? x->first[q + 1] : x->b1 - 1;
	if (last > b + 8) {
		size_t lo = b, hi = last;	/* start(lo) <= v */
		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;
			if (reach_start(r, mid) <= v)
				lo = mid;
			else
				hi = mid - 1;
		}
		b = lo;
	} else {
		while (b < last && reach_start(r, b + 1) <= v)
			b++;
	}
	if (v - reach_start(r, b) < (reach_len(r, b) ? reach_len(r, b) : 1))
		return (long)b;
	return -1;
}

long
reach_block_at(const struct reach *r, uint64_t v)
{
	size_t hint = 0;
	return block_at(r, v, &hint);
}

/* Bytes of [addr, addr+len): the walk's copy, a core's memory, or a read
 * into the scratch buffer b (valid until b's next use).  *got says how
 * many are valid. */
static const uint8_t *
memory(struct rc *c, struct rbuf *b, uint64_t addr, size_t len, size_t *got)
{
	const uint8_t *p = heap_bytes(c->r->h, addr, len);
	if (!p)
		p = target_direct(c->t, addr, len);
	if (p) {
		*got = len;
		return p;
	}
	if (len > b->cap) {
		free(b->p);
		b->cap = MAX(len, (size_t)ROOT_PIECE);
		b->p = xmalloc(b->cap);
	}
	*got = target_read_partial(c->t, addr, b->p, len);
	return b->p;
}

/* A few bytes into the caller's buffer. */
static size_t
peek(struct rc *c, uint64_t addr, void *out, size_t len)
{
	const uint8_t *p = heap_bytes(c->r->h, addr, len);
	if (!p)
		p = target_direct(c->t, addr, len);
	if (p) {
		memcpy(out, p, len);
		return len;
	}
	return target_read_partial(c->t, addr, out, len);
}

/* ---- memcheck's heuristics ---- */

static bool
is_vtable(struct rc *c, uint64_t p)
{
	const struct mapping *m = target_find_mapping(c->t, p);
	uint64_t words[VTABLE_MAX_CHECK];
	size_t n, got;
	int fns = 0;

	if (!m || !m->path || m->path[0] != '/' || !(m->perms & MAP_PERM_R) || (p & 7))
		return false;
	n = (size_t)MIN((uint64_t)VTABLE_MAX_CHECK, (m->end - p) / 8);
	got = target_read_partial(c->t, p, words, n * 8) / 8;
	for (size_t i = 0; i < got; i++) {
		const struct mapping *fm;
		if (!words[i])
			continue;
		fm = target_find_mapping(c->t, words[i]);
		if (!fm || !fm->path || fm->path[0] != '/' || !(fm->perms & MAP_PERM_X))
			return false;
		if (++fns == 2)
			return true;
	}
	return false;
}

/*
 * The requests that could have made block b, [*lo, *hi]: its requested
 * size when traced.  Untraced only the chunk is known, and malloc rounds a
 * request up: request2size() for a chunk of an arena (and a chunk split
 * from a bin keeps a remainder smaller than a minimum chunk, so S can be
 * request2size + 16), whole pages for an mmapped chunk.  memcheck's
 * heuristics compare a block's requested size with its first words; so
 * do ours, with every request this chunk could have been.
 */
static void
req_range(const struct reach *r, uint32_t b, uint64_t *lo, uint64_t *hi)
{
	const struct hchunk *ch = &r->h->chunks[r->chunk[b]];
	uint64_t s = ch->size;

	if (r->sized && r->sized[b]) {
		*lo = *hi = reach_len(r, b);
	} else if (ch->state == CS_MMAPPED) {
		uint64_t u = hchunk_usable(ch);
		*hi = u >= 8 ? u - 8 : 0;	/* nb + SIZE_SZ fits in the pages */
		*lo = u > 4096 + 16 ? u - 4096 - 15 : 0;
	} else {
		*hi = s >= 8 ? s - 8 : 0;	/* request2size(hi) == s */
		*lo = s >= 64 ? s - 39 : 0;	/* request2size(lo) == s - 16 */
	}
}

static bool
in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi;
}

/* The heuristics for ptr into block b, given the block's first words
 * (got bytes of them) and, when inner_ok, the word at ptr. */
static enum leak_heuristic
heuristic_words(struct rc *c, uint64_t ptr, uint32_t b, const uint64_t w[3], size_t got, bool inner_ok,
		uint64_t inner)
{
	uint64_t start = reach_start(c->r, b), lo, hi;

	req_range(c->r, b, &lo, &hi);
	if (ptr == start + 24 && got >= 16) {
		uint64_t capacity = w[1], length = w[0];
		if (capacity < hi && in_range(3 * 8 + capacity + 1, lo, hi) && length <= capacity)
			return HEUR_STDSTRING;
	}
	if (ptr == start + 8 && got >= 8 && w[0] > 0 && w[0] < hi && in_range(w[0] + 8, lo, hi))
		return HEUR_LENGTH64;
	if (ptr == start + 8 && got >= 8 && w[0] > 0) {
		/* the smallest request >= max(lo, 8) with (req - 8) % n == 0 */
		uint64_t n = w[0], from = MAX(lo, (uint64_t)8);
		uint64_t req = from + (n - (from - 8) % n) % n;
		if (req >= from && req <= hi)
			return HEUR_NEWARRAY;
	}
	if (!(ptr & 7) && got >= 8) {
		if (inner_ok && !(inner & 7) && inner >= 4096 &&
		    !(w[0] & 7) && w[0] >= 4096 && is_vtable(c, inner) && is_vtable(c, w[0]))
			return HEUR_MULTIPLE_INHERITANCE;
	}
	return HEUR_NONE;
}

/* Could a heuristic accept an interior pointer to ptr into block b? */
static bool
heuristic_candidate(const struct reach *r, uint64_t ptr, uint32_t b)
{
	return ptr == reach_start(r, b) + 24 || ptr == reach_start(r, b) + 8 || !(ptr & 7);
}

static enum leak_heuristic
heuristic(struct rc *c, uint64_t ptr, uint32_t b)
{
	uint64_t w[3], inner = 0;
	size_t got;
	bool inner_ok = false;

	if (!heuristic_candidate(c->r, ptr, b))
		return HEUR_NONE;
	memset(w, 0, sizeof(w));
	got = peek(c, reach_start(c->r, b), w, (size_t)MIN(reach_len(c->r, b), sizeof(w)));
	if (!(ptr & 7) && got >= 8)
		inner_ok = peek(c, ptr, &inner, 8) == 8;
	return heuristic_words(c, ptr, b, w, got, inner_ok, inner);
}

/*
 * Is v, inside block b's extent, a pointer to b at all?  Not when it is
 * the header of the next chunk: untraced, a block's extent is its usable
 * size, which ends with the next chunk's prev_size word, and glibc's
 * pointers to that chunk (top, bins, free lists; what malloc leaves in
 * registers) point right there.  Not when it is just past an 8-byte
 * request whose first word is 0, untraced: `new T[0]` for a T with a
 * destructor allocates the element count alone and returns the address
 * after it, outside the block (valgrind: definitely lost).
 */
static bool
is_new_array0(const struct reach *r, uint64_t v, uint32_t b)
{
	const struct hchunk *ch = &r->h->chunks[r->chunk[b]];
	return !(r->sized && r->sized[b]) && v == reach_start(r, b) + 8 && ch->state != CS_MMAPPED && ch->size == PTM_MINSIZE;
}

/* The test without the block's first word (the pass over the contents
 * finds an edge this way, and drops it once that word is known). */
static bool
points_into_chunk(const struct reach *r, uint64_t v, uint32_t b)
{
	const struct hchunk *ch = &r->h->chunks[r->chunk[b]];
	return ch->state == CS_MMAPPED || v < ch->addr + ch->size;
}

static bool
points_into(const struct reach *r, uint64_t v, uint32_t b)
{
	return points_into_chunk(r, v, b) && !(is_new_array0(r, v, b) && (r->look[b] & LOOK_ZERO));
}

/* ---- marking ---- */

static void
push(struct rc *c, uint32_t b)
{
	if (!(c->r->look[b] & LOOK_PENDING)) {
		c->r->look[b] |= LOOK_PENDING;
		c->stack[c->nstack++] = b;
	}
}

static enum leak_heuristic
edge_heuristic(const struct reach *r, uint32_t e)
{
	uint64_t h;
	return u64map_get(&r->eheur, e, &h) ? (enum leak_heuristic)h : HEUR_NONE;
}

static void
set_heur(struct reach *r, uint32_t b, enum leak_heuristic h)
{
	r->look[b] = (uint8_t)((r->look[b] & ~LOOK_HEUR) | ((unsigned)h << LOOK_HEUR_SHIFT));
}

/*
 * A pointer to block b, a start pointer or an interior one, found in
 * memory whose provenance is definite (a root, a reachable block) or
 * not.  src: the block holding it, or -1 for a root; via: the root's
 * address holding it, or for a block which of its edges this is.  heur:
 * what memcheck's heuristics say of an interior pointer, or -1 to ask
 * them (v is the pointer) when it matters.
 */
static void
mark(struct rc *c, uint32_t b, bool interior, int heur, uint64_t v, bool definite, long src, uint64_t via)
{
	struct reach *r = c->r;
	uint8_t kind;

	if (c->clique >= 0) {
		/* clique phase: everything unreached below the leader is
		 * indirectly lost, start or interior pointer alike */
		if (r->state[b] == LEAK_DEFINITE && b != (uint32_t)c->clique) {
			push(c, b);
			uint64_t below = 0;
			bool created;
			if (u64map_get(&r->indirect, b, &below))
				u64map_del(&r->indirect, b);
			*u64map_slot(&r->indirect, (uint64_t)c->clique, &created) += reach_len(r, b) + below;
			r->state[b] = LEAK_INDIRECT;
			u64map_put(&r->clique, b, c->scanning);
		}
		return;
	}
	if (r->state[b] == LEAK_REACHABLE) {
		if ((r->look[b] & LOOK_HEUR) && !interior)
			set_heur(r, b, HEUR_NONE);
		return;
	}
	if (!interior) {
		kind = LEAK_REACHABLE;
	} else if (c->o && c->o->heuristics) {
		enum leak_heuristic h = heur >= 0 ? (enum leak_heuristic)heur : heuristic(c, v, b);
		set_heur(r, b, h);
		kind = h != HEUR_NONE ? LEAK_REACHABLE : LEAK_POSSIBLE;
	} else {
		kind = LEAK_POSSIBLE;
	}
	if (kind == LEAK_REACHABLE && definite)
		r->state[b] = LEAK_REACHABLE;
	else if (r->state[b] == LEAK_DEFINITE)
		r->state[b] = LEAK_POSSIBLE;
	else
		return;
	if (r->parent) {
		/* (reach_parents: the check's run keeps no paths) */
		r->parent[b] = (int32_t)src;
		if (src < 0)
			u64map_put(&r->root_via, b, via);
	}
	push(c, b);
}

/* A word found in a root at `from` (0 for a register). */
static inline void
found(struct rc *c, uint64_t v, uint64_t from)
{
	struct reach *r = c->r;
	long b;

	if (v < c->lo || v >= c->hi)
		return;
	b = reach_block_at(r, v);
	if (b < 0 || !points_into(r, v, (uint32_t)b))
		return;
	mark(c, (uint32_t)b, v != reach_start(r, b), -1, v, true, -1, from);
}

static void
scan_words(struct rc *c, uint64_t addr, const uint8_t *data, size_t len)
{
	uint64_t a = ALIGN_UP(addr, 8);
	size_t off = (size_t)(a - addr);

	for (; off + 8 <= len; off += 8)
		found(c, ptm_rd64(data + off), addr + off);
}

/* Follow block b's edges. */
static void
scan_block(struct rc *c, uint32_t b)
{
	struct reach *r = c->r;
	bool definite = r->state[b] != LEAK_POSSIBLE;

	c->scanning = b;
	for (uint32_t e = r->eoff[b], end = r->eoff[b + 1]; e < end; e++) {
		uint32_t x = r->edges[e], tb = x & ~REACH_EDGE_INTERIOR;
		bool interior = x & REACH_EDGE_INTERIOR;
		if (x == REACH_EDGE_NONE)
			continue;
		if (c->clique < 0 && r->state[tb] == LEAK_REACHABLE) {
			/* (mark()'s first case, without the call: most
			 * edges lead to blocks already reached) */
			if (!interior && (r->look[tb] & LOOK_HEUR))
				set_heur(r, tb, HEUR_NONE);
			continue;
		}
		mark(c, tb, interior, interior ? (int)edge_heuristic(r, e) : 0, 0, definite, (long)b, 0);
	}
}

static void
process_stack(struct rc *c)
{
	while (c->nstack) {
		uint32_t b = c->stack[--c->nstack];
		c->r->look[b] &= (uint8_t)~LOOK_PENDING;
		scan_block(c, b);
		if ((c->nstack & 0xfff) == 0 && sig_stop_work()) {
			c->interrupted = true;
			return;
		}
	}
}

/* ---- reading the blocks ---- */

/* fn on each piece of block b's contents that is scanned: all of it,
 * but for an mmapped chunk only its read-write pages (memcheck skips
 * pages the program made unreadable; a core made by gdb does not tell
 * PROT_NONE from read-only, so neither counts, live or on a core).  A
 * piece ends where the memory stops being readable (c->scanning is b). */
typedef void (*piece_fn)(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg);

/* [a, hi) in pieces of at most ROOT_PIECE, up to the first unreadable byte. */
static void
block_range(struct rc *c, uint64_t a, uint64_t hi, piece_fn fn, void *arg)
{
	while (a < hi) {
		size_t len = (size_t)MIN((uint64_t)ROOT_PIECE, hi - a), got;
		const uint8_t *d = memory(c, &c->blockbuf, a, len, &got);
		if (got)
			fn(c, a, d, got, arg);
		if (got < len)
			break;
		a += len;
	}
}

static void
for_each_block_piece(struct rc *c, uint32_t b, piece_fn fn, void *arg)
{
	struct reach *r = c->r;
	uint64_t a = reach_start(r, b), end = reach_start(r, b) + reach_len(r, b);

	c->scanning = b;
	if (r->h->chunks[r->chunk[b]].state != CS_MMAPPED) {
		block_range(c, a, end, fn, arg);
		return;
	}
	while (a < end) {
		const struct mapping *m = target_find_mapping(c->t, a);
		uint64_t hi;
		if (!m)
			break;
		hi = MIN(end, m->end);
		if ((m->perms & (MAP_PERM_R | MAP_PERM_W)) == (MAP_PERM_R | MAP_PERM_W))
			block_range(c, a, hi, fn, arg);
		a = hi;
	}
}

/*
 * fn on every piece of every block, in address order: the blocks of an
 * arena are read a window at a time (one read for many blocks and the
 * free chunks between them), a block bigger than the window in several;
 * the walk's copies and a core's memory are used in place.  Exactly the
 * pieces for_each_block_piece gives, block after block.
 */
static void
stream_blocks(struct rc *c, piece_fn fn, void *arg)
{
	struct reach *r = c->r;
	uint64_t wlo = 0;
	size_t wn = 0, ext = 0;
	uint8_t *buf = NULL;

	for (uint32_t b = 0; b < r->n && !c->interrupted; b++) {
		uint64_t a = reach_start(r, b), end = a + reach_len(r, b);
		const uint8_t *d;

		if ((b & 0xffff) == 0 && sig_stop_work()) {
			c->interrupted = true;
			break;
		}
		if (r->h->chunks[r->chunk[b]].state == CS_MMAPPED) {
			for_each_block_piece(c, b, fn, arg);
			continue;
		}
		c->scanning = b;
		if (a == end)
			continue;
		if ((d = heap_bytes(r->h, a, (size_t)(end - a))) || (d = target_direct(c->t, a, (size_t)(end - a)))) {
			fn(c, a, d, (size_t)(end - a), arg);
			continue;
		}
		while (a < end) {
			uint64_t hi, top;
			if (a >= wlo && a < wlo + wn) {
				size_t k = (size_t)(MIN(end, wlo + wn) - a);
				fn(c, a, buf + (a - wlo), k, arg);
				a += k;
				continue;
			}
			/* refill from a: up to the window's size, over the
			 * blocks that follow closely (not across the gap
			 * between two heaps) */
			if (!buf)
				buf = xmalloc(WINDOW);
			hi = a + WINDOW;
			top = end;
			if (ext <= b)
				ext = b + 1;
			else
				top = MAX(top, reach_start(r, ext - 1) + reach_len(r, ext - 1));
			while (ext < r->n && reach_start(r, ext) < hi && reach_start(r, ext) <= top + 4096 &&
			       r->h->chunks[r->chunk[ext]].state != CS_MMAPPED) {
				top = MAX(top, reach_start(r, ext) + reach_len(r, ext));
				ext++;
			}
			hi = MIN(hi, top);
			wlo = a;
			wn = target_read_partial(c->t, a, buf, (size_t)(hi - a));
			if (!wn)
				break;	/* the rest of the block is unreadable */
		}
	}
	free(buf);
}

/* ---- the pass: edges and looks ---- */

struct pending_heur {
	uint32_t e, b;
	uint64_t v;
};

struct build {
	struct marr edges;		/* u32 a pointer edge */
	size_t nedges, capedges;
	VEC(struct pending_heur) heur;	/* interior edges a heuristic may accept */
	VEC(uint32_t) array0;		/* edges that are new T[0]'s pointer past the count
					 * if the block's first word is 0 */
};

/* A vtable pointer points into a read-only part of a file mapping. */
static bool
maybe_vtable(struct rc *c, uint64_t v)
{
	const struct mapping *m;
	if (!v || (v & 7))
		return false;
	if (v >= c->vt_lo && v < c->vt_hi)
		return c->vt_yes;	/* the mapping of the last lookup */
	m = target_find_mapping(c->t, v);
	if (!m)
		return false;
	c->vt_lo = m->start;
	c->vt_hi = m->end;
	c->vt_yes = m->path && m->path[0] == '/' && (m->perms & MAP_PERM_R) && !(m->perms & MAP_PERM_X);
	return c->vt_yes;
}

/* How block b looks, from its first bytes d (avail of them; read again
 * if fewer than the 64 the look needs). */
static void
set_look(struct rc *c, uint32_t b, const uint8_t *d, size_t avail)
{
	struct reach *r = c->r;
	size_t n = (size_t)MIN(64, reach_len(r, b));
	uint8_t buf[64], look = LOOK_SIZE;

	if (avail < n) {
		n = peek(c, reach_start(r, b), buf, n);
		d = buf;
	}
	if (n >= 8 && !ptm_rd64(d))
		r->look[b] |= LOOK_ZERO;
	if (n >= 8 && maybe_vtable(c, ptm_rd64(d))) {
		look = LOOK_VTABLE;
		u64map_put(&r->vtables, b, ptm_rd64(d));
	} else {
		size_t k = 0;
		while (k < n && (isprint(d[k]) || d[k] == '\t' || d[k] == '\n'))
			k++;
		if (k >= 4 && k < n && d[k] == 0)
			look = LOOK_STRING;
	}
	r->look[b] |= look | LOOK_DONE;
}

/* A word of block b that falls among the blocks: an edge if it points
 * into one.  false when the edges are too many. */
static inline bool
build_word(struct rc *c, struct build *B, uint32_t b, uint64_t v)
{
	struct reach *r = c->r;
	long tb = block_at(r, v, &c->hint);
	uint32_t e, *ev;

	if (tb < 0 || !points_into_chunk(r, v, (uint32_t)tb))
		return true;
	if (B->nedges >= UINT32_MAX - 1) {
		c->toobig = c->interrupted = true;
		return false;
	}
	if (B->nedges == B->capedges) {
		marr_need(&B->edges, (B->nedges + 1) * sizeof(uint32_t));
		B->capedges = B->edges.cap / sizeof(uint32_t);
	}
	e = (uint32_t)B->nedges++;
	ev = (uint32_t *)B->edges.p + e;
	r->eoff[b + 1] = e + 1;
	if (v == reach_start(r, tb)) {
		*ev = (uint32_t)tb;
		return true;
	}
	*ev = (uint32_t)tb | REACH_EDGE_INTERIOR;
	if (is_new_array0(r, v, (uint32_t)tb))
		vec_push(&B->array0, e);
	if (heuristic_candidate(r, v, (uint32_t)tb)) {
		struct pending_heur ph = { e, (uint32_t)tb, v };
		vec_push(&B->heur, ph);
	}
	return true;
}

static void
build_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	struct build *B = arg;
	struct reach *r = c->r;
	uint32_t b = c->scanning;
	size_t off = (size_t)(ALIGN_UP(addr, 8) - addr);
	const uint64_t lo = c->lo, span = c->hi - c->lo;

	if (addr == reach_start(r, b) && !(r->look[b] & LOOK_DONE))
		set_look(c, b, d, len);
	r->heap_bytes += len;
	/* four words at a time, one branch for the four (most words are
	 * no pointer: one subtraction and compare each) */
	for (; off + 32 <= len; off += 32) {
		uint64_t w[4];
		memcpy(w, d + off, 32);
		if (((w[0] - lo) >= span) & ((w[1] - lo) >= span) & ((w[2] - lo) >= span) & ((w[3] - lo) >= span))
			continue;
		for (int k = 0; k < 4; k++)
			if (w[k] - lo < span && !build_word(c, B, b, w[k]))
				return;
	}
	for (; off + 8 <= len; off += 8) {
		uint64_t v = ptm_rd64(d + off);
		if (v - lo < span && !build_word(c, B, b, v))
			return;
	}
}

/* What memcheck's heuristics say of each interior edge that one of them
 * may accept: the first words of the blocks pointed into, and the word
 * pointed at, read in batches. */
static void
decide_heuristics(struct rc *c, struct build *B)
{
	struct reach *r = c->r;
	uint64_t addrs[BATCH], inner_addrs[BATCH], inner[BATCH];
	uint8_t words[BATCH * 24];
	bool ok[BATCH], inner_ok[BATCH];

	for (size_t i = 0; i < B->heur.n && !c->interrupted; i += BATCH) {
		size_t n = MIN((size_t)BATCH, B->heur.n - i);
		for (size_t k = 0; k < n; k++) {
			const struct pending_heur *ph = &B->heur.v[i + k];
			addrs[k] = reach_start(r, ph->b);
			inner_addrs[k] = ph->v & ~7ULL;
		}
		target_read_many(c->t, addrs, n, 24, words, ok);
		target_read_many(c->t, inner_addrs, n, 8, (uint8_t *)inner, inner_ok);
		for (size_t k = 0; k < n; k++) {
			const struct pending_heur *ph = &B->heur.v[i + k];
			uint64_t w[3] = { 0, 0, 0 }, in = 0;
			if (r->edges[ph->e] == REACH_EDGE_NONE)
				continue;
			size_t want = (size_t)MIN(reach_len(r, ph->b), sizeof(w)), got = want;
			bool iok = false;
			enum leak_heuristic h;
			if (ok[k])
				memcpy(w, words + k * 24, want);
			else
				got = peek(c, addrs[k], w, want);
			if (!(ph->v & 7) && got >= 8) {
				if (inner_ok[k]) {
					in = inner[k];
					iok = true;
				} else {
					iok = peek(c, ph->v, &in, 8) == 8;
				}
			}
			h = heuristic_words(c, ph->v, ph->b, w, got, iok, in);
			if (h != HEUR_NONE)
				u64map_put(&r->eheur, ph->e, h);
		}
		if (sig_stop_work())
			c->interrupted = true;
	}
}

/* The pass: every block's edges (r->eoff, r->edges), heuristics'
 * decisions, looks.  0, or -1 with an hd error. */
static int
build_edges(struct rc *c)
{
	struct reach *r = c->r;
	struct build B;

	memset(&B, 0, sizeof(B));

	stream_blocks(c, build_piece, &B);
	phase("streamed", c->t0);
	/* a block without a piece (empty, unreadable) has no edges */
	for (size_t b = 0; b < r->n; b++)
		if (r->eoff[b + 1] < r->eoff[b])
			r->eoff[b + 1] = r->eoff[b];
	for (size_t b = 0; b < r->n && !c->interrupted; b++)
		if (!(r->look[b] & LOOK_DONE))
			set_look(c, (uint32_t)b, NULL, 0);
	r->edges = (uint32_t *)B.edges.p;
	r->edges_map = B.edges.cap;
	r->nedges = B.nedges;
	for (size_t i = 0; i < B.array0.n; i++) {
		uint32_t e = B.array0.v[i];
		if (r->look[r->edges[e] & ~REACH_EDGE_INTERIOR] & LOOK_ZERO)
			r->edges[e] = REACH_EDGE_NONE;
	}
	vec_free(&B.array0);
	phase("edges kept", c->t0);
	if (!c->interrupted)
		decide_heuristics(c, &B);
	vec_free(&B.heur);
	phase("heuristics", c->t0);
	if (c->toobig)
		return hd_fail(HD_ENOTSUP, "too many pointers between blocks for the leak check (%zu)", r->nedges);
	if (c->interrupted)
		return hd_fail(HD_EINTR, "interrupted");
	return 0;
}

/* ---- roots ---- */

struct range {
	uint64_t lo, hi;
};

struct range_vec {
	struct range *v;
	size_t n, cap;
};

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Memory that is never a root: arena heaps (whole reservations), the
 * sbrk heap, mmapped chunks (a pointer stored in one is a pointer from a
 * heap block), and the allocator's own bookkeeping outside the heap:
 * main_arena (its top, bins and fastbins point at chunk headers) and mp_
 * (sbrk_base).  Under valgrind none of these exist (its malloc replaces
 * glibc's), so none may keep a block alive. */
static void
heap_ranges(const struct heap *h, struct range_vec *out)
{
	if (h->mi->main_arena && h->mi->L.ms_size) {
		struct range rg = { h->mi->main_arena, h->mi->main_arena + h->mi->L.ms_size };
		vec_push(out, rg);
	}
	if (h->mi->mp && h->mi->L.mp_size) {
		struct range rg = { h->mi->mp, h->mi->mp + h->mi->L.mp_size };
		vec_push(out, rg);
	}
	for (size_t i = 0; i < h->arenas.n; i++) {
		const struct harena *a = &h->arenas.v[i];
		for (size_t k = 0; k < a->heaps.n; k++) {
			struct range rg;
			if (a->heaps.v[k].info) {
				rg.lo = a->heaps.v[k].info;
				rg.hi = a->heaps.v[k].info + h->mi->heap_max;
			} else {
				rg.lo = a->heaps.v[k].start;
				rg.hi = a->heaps.v[k].end;
			}
			vec_push(out, rg);
		}
	}
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hchunk *c = &h->chunks[i];
		if (c->state == CS_MMAPPED) {
			struct range rg = { c->addr - hchunk_mmap_offset(h, c),
					    ALIGN_UP(c->addr + c->size, 4096) };
			vec_push(out, rg);
		}
	}
	if (out->n > 1)	/* (qsort wants a non-NULL array) */
		qsort(out->v, out->n, sizeof(*out->v), range_cmp);
}

/* Memory made read-only once relocated (PT_GNU_RELRO: the GOT,
 * .data.rel.ro, and what a static program's startup stored there before
 * it was protected, pointers to blocks included): a read-only private
 * mapping of a module's file that runs straight into a writable mapping
 * of the same file. */
static bool
is_relro(const struct target *t, size_t i)
{
	const struct mapping *m = &t->maps[i], *n = i + 1 < t->nmaps ? &t->maps[i + 1] : NULL;

	return (m->perms & (MAP_PERM_R | MAP_PERM_W | MAP_PERM_X | MAP_PERM_P)) == (MAP_PERM_R | MAP_PERM_P) &&
	       m->path && m->path[0] == '/' && n && n->start == m->end &&
	       (n->perms & (MAP_PERM_R | MAP_PERM_W)) == (MAP_PERM_R | MAP_PERM_W) && n->path &&
	       !strcmp(n->path, m->path);
}

/* Each root range, clipped: fn(arg, lo, hi, region, tid). */
typedef void (*root_fn)(struct rc *c, uint64_t lo, uint64_t hi, enum ref_region region, pid_t tid, void *arg);

static void
for_each_root(struct rc *c, root_fn fn, void *arg)
{
	struct target *t = c->t;
	struct range_vec heap = { 0 };

	heap_ranges(c->r->h, &heap);
	for (size_t i = 0; i < t->nmaps; i++) {
		const struct mapping *m = &t->maps[i];
		uint64_t lo = m->start, hi = m->end;
		enum ref_region region = REF_ANON;
		pid_t tid = 0;

		if ((m->perms & (MAP_PERM_R | MAP_PERM_W)) != (MAP_PERM_R | MAP_PERM_W) && !is_relro(t, i))
			continue;
		/* (the fast tracer's ring, tracer-fast.c, holds copies of
		 * stacks: heapdbg's, not the program's) */
		if (m->path && (!strcmp(m->path, "[heap]") || !strncmp(m->path, "/dev/", 5) ||
				!strncmp(m->path, "/memfd:heapdbg-trace", 20)))
			continue;
		/* a core holds only the first m->dumped bytes of an anonymous
		 * mapping: the rest (beyond what the kernel dumped, terabytes
		 * of reserved memory at times) cannot be read, page by page */
		if (!m->path)
			hi = MIN(hi, m->start + m->dumped);
		if (m->path && m->path[0] == '/')
			region = REF_GLOBAL;
		else if (!m->path && i > 0 && t->maps[i - 1].end == m->start && t->maps[i - 1].path &&
			 t->maps[i - 1].path[0] == '/')
			region = REF_GLOBAL;	/* .bss continuing a module's data */
		/* a thread's stack: only from its stack pointer up */
		for (size_t k = 0; k < t->nthreads; k++) {
			const hd_regs_t *regs = target_regs(t, t->threads[k]);
			if (regs && REG_SP(regs) >= lo && REG_SP(regs) < hi) {
				lo = MAX(lo, REG_SP(regs) - RED_ZONE);
				region = REF_STACK;
				tid = t->threads[k]->tid;
				for (size_t f = 0; c->o && f < c->o->nfloors; f++)
					if (c->o->floors[f].tid == tid && c->o->floors[f].lo < hi)
						lo = MAX(lo, c->o->floors[f].lo);
			}
		}
		/* minus the heap */
		for (size_t k = 0; k < heap.n && lo < hi; k++) {
			if (heap.v[k].hi <= lo || heap.v[k].lo >= hi)
				continue;
			if (heap.v[k].lo > lo)
				fn(c, lo, heap.v[k].lo, region, tid, arg);
			lo = MAX(lo, heap.v[k].hi);
		}
		if (lo < hi)
			fn(c, lo, hi, region, tid, arg);
	}
	vec_free(&heap);
}

/* Call fn on each readable piece of [lo, hi); unreadable pages are
 * skipped. */
static void
for_each_piece(struct rc *c, uint64_t lo, uint64_t hi,
	       void (*fn)(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg), void *arg)
{
	uint64_t a = lo, next;
	while (a < hi && !c->interrupted) {
		size_t len = (size_t)MIN((uint64_t)ROOT_PIECE, hi - a), got;
		const uint8_t *d = memory(c, &c->rootbuf, a, len, &got);
		if (got)
			fn(c, a, d, got, arg);
		if (got == len) {
			a += len;
			continue;
		}
		/* past the unreadable page, and past the whole hole when the
		 * target knows it (a core's undumped memory) */
		next = ALIGN_DOWN(a + got, 4096) + 4096;
		if (next <= a)
			break;	/* the last page of the address space */
		a = target_skip_unreadable(c->t, next, hi);
	}
}

static void
root_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	(void)arg;
	c->r->root_bytes += len;
	scan_words(c, addr, d, len);
	process_stack(c);
}

static void
scan_root(struct rc *c, uint64_t lo, uint64_t hi, enum ref_region region, pid_t tid, void *arg)
{
	(void)region;
	(void)tid;
	(void)arg;
	c->r->root_regions++;
	for_each_piece(c, lo, hi, root_piece, NULL);
}

static const char *const reg_names[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static uint64_t
reg_value(const hd_regs_t *r, size_t i)
{
	const uint64_t v[] = {
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
	};
	return v[i];
}

/* ---- the run ---- */

/* Mark from the roots: registers, then memory. */
static void
mark_roots(struct rc *c)
{
	struct target *t = c->t;

	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *regs = target_regs(t, t->threads[i]);
		if (!regs)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(reg_names); k++)
			found(c, reg_value(regs, k), 0);
	}
	process_stack(c);
	for_each_root(c, scan_root, NULL);
	process_stack(c);
}

/*
 * The paths (r->parent, r->root_via): the check itself keeps none (4
 * bytes a block, and a map entry for each block a root reaches), so the
 * first chain asked for marks from the roots again, the same way over
 * the same edges and roots (the target is as it was), with a fresh state
 * array; the check's states (cliques included) are kept.
 */
int
reach_parents(struct target *t, struct reach *r)
{
	struct reach_opts o = { NULL, r->heuristics, r->floors, r->nfloors };
	struct rc c;
	uint8_t *state = r->state;
	uint64_t root_bytes = r->root_bytes;
	unsigned root_regions = r->root_regions;
	size_t differ = 0;

	if (r->parent)
		return 0;
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.r = r;
	c.o = &o;
	c.clique = -1;
	if (r->n) {
		c.lo = reach_start(r, 0);
		c.hi = reach_start(r, r->n - 1) + MAX(reach_len(r, r->n - 1), 1);
	}
	r->parent = big_calloc(r->cap, sizeof(*r->parent));
	memset(r->parent, 0xff, r->n * sizeof(*r->parent));	/* -1: no parent */
	r->state = big_calloc(r->cap, 1);
	c.stack = big_calloc(r->cap, sizeof(*c.stack));
	mark_roots(&c);
	for (size_t b = 0; b < r->n; b++)
		if (r->state[b] != (state[b] == LEAK_INDIRECT ? LEAK_DEFINITE : state[b]))
			differ++;
	big_free(c.stack, r->cap, sizeof(*c.stack));
	big_free(r->state, r->cap, 1);
	r->state = state;
	r->root_bytes = root_bytes;
	r->root_regions = root_regions;
	free(c.rootbuf.p);
	free(c.blockbuf.p);
	if (differ)
		debug_msg("leaks: %zu blocks marked otherwise the second time (the target changed?)", differ);
	if (c.interrupted) {
		big_free(r->parent, r->cap, sizeof(*r->parent));
		r->parent = NULL;
		u64map_free(&r->root_via);
		u64map_init(&r->root_via);
		return hd_fail(HD_EINTR, "interrupted");
	}
	return 0;
}

static bool
is_tcache_struct(const struct heap *h, uint64_t chunk)
{
	for (size_t i = 0; i < h->tcaches.n; i++)
		if (h->tcaches.v[i].addr && h->tcaches.v[i].addr - 16 == chunk)
			return true;
	return false;
}

static void
build_blocks(struct reach *r, const struct reach_opts *o)
{
	const struct heap *h = r->h;
	size_t n = 0;

	for (size_t i = 0; i < h->nchunks; i++)
		if ((h->chunks[i].state == CS_USED || h->chunks[i].state == CS_MMAPPED) &&
		    !is_tcache_struct(h, h->chunks[i].addr))
			n++;
	/* every per-block array in one mapping of huge pages, faulted as it
	 * is written (big_calloc) */
	r->cap = n;
	for (int pass = 0; pass < 2; pass++) {
		uint8_t *base = r->mem;
		size_t off = 0;
#define CARVE(field, count) do {						\
		if (pass)							\
			r->field = (void *)(base + off);			\
		off += ALIGN_UP((count) * sizeof(*r->field), 8);		\
	} while (0)
		CARVE(chunk, n);
		CARVE(state, n);
		CARVE(look, n);
		CARVE(eoff, n + 1);
		if (o && o->alloc) {
			CARVE(len, n);
			CARVE(stack, n);
			CARVE(sized, n);
		}
#undef CARVE
		if (!pass) {
			r->memlen = off;
			r->mem = big_calloc(off, 1);
		}
	}
	n = 0;
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hchunk *c = &h->chunks[i];
		struct alloc_record ar;
		if (c->state != CS_USED && c->state != CS_MMAPPED)
			continue;
		if (is_tcache_struct(h, c->addr))
			continue;	/* glibc's own: not the program's block */
		r->chunk[n] = (uint32_t)i;
		if (r->len) {
			r->len[n] = hchunk_usable(c);
			if (alloc_lookup(o->alloc, hchunk_mem(c), &ar)) {
				if (ar.req <= r->len[n]) {
					r->len[n] = ar.req;
					r->sized[n] = 1;
				}
				r->stack[n] = ar.stack;
			}
		}
		n++;
	}
	r->n = n;
	r->traced = o && o->alloc;
	r->heuristics = o && o->heuristics;
	/* state: all LEAK_DEFINITE (unreached) */
	u64map_init(&r->clique);
	u64map_init(&r->indirect);
	u64map_init(&r->root_via);
	u64map_init(&r->eheur);
	u64map_init(&r->vtables);
}

int
reach_run(struct target *t, const struct heap *h, const struct reach_opts *o, struct reach **out)
{
	struct reach *r = xcalloc(1, sizeof(*r));
	struct rc c;
	uint64_t t0 = hd_now_ns();

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.r = r;
	c.o = o;
	c.clique = -1;
	c.t0 = t0;
	r->h = h;
	if (o && o->nfloors) {
		r->floors = xreallocarray(NULL, o->nfloors, sizeof(*r->floors));
		memcpy(r->floors, o->floors, o->nfloors * sizeof(*r->floors));
		r->nfloors = o->nfloors;
	}
	phase("start", t0);
	build_blocks(r, o);
	phase("blocks", t0);
	if (r->n > REACH_MAX_BLOCKS) {
		reach_free(r);
		return hd_fail(HD_ENOTSUP, "too many blocks for the leak check (%zu)", r->n);
	}
	build_index(r);
	phase("index", t0);
	if (r->n) {
		c.lo = reach_start(r, 0);
		c.hi = reach_start(r, r->n - 1) + MAX(reach_len(r, r->n - 1), 1);
	}
	if (build_edges(&c) < 0) {
		free(c.rootbuf.p);
		free(c.blockbuf.p);
		reach_free(r);
		return -1;
	}
	debug_msg("leaks: %zu blocks, %zu edges, %zu interior edges a heuristic accepts, %.1f ms",
		  r->n, r->nedges, r->eheur.n, (hd_now_ns() - t0) / 1e6);

	c.stack = big_calloc(r->cap, sizeof(*c.stack));
	mark_roots(&c);
	phase("marked", t0);

	/* cliques of what no root reaches */
	for (size_t i = 0; i < r->n && !c.interrupted; i++) {
		if (r->state[i] != LEAK_DEFINITE)
			continue;
		c.clique = (int)i;
		push(&c, (uint32_t)i);
		process_stack(&c);
	}
	phase("cliques", t0);
	free(c.rootbuf.p);
	free(c.blockbuf.p);
	big_free(c.stack, r->cap, sizeof(*c.stack));
	if (c.interrupted) {
		reach_free(r);
		return hd_fail(HD_EINTR, "interrupted");
	}
	for (size_t i = 0; i < r->n; i++) {
		r->blocks[r->state[i]]++;
		r->bytes[r->state[i]] += reach_len(r, i);
	}
	r->seconds = (hd_now_ns() - t0) / 1e9;
	*out = r;
	return 0;
}

void
reach_free(struct reach *r)
{
	if (!r)
		return;
	big_free(r->mem, r->memlen, 1);
	u64map_free(&r->clique);
	u64map_free(&r->indirect);
	u64map_free(&r->root_via);
	big_free(r->parent, r->cap, sizeof(*r->parent));
	edges_free(r);
	u64map_free(&r->eheur);
	u64map_free(&r->vtables);
	free(r->floors);
	big_free(r->imem, r->imemlen, 1);
	free(r->idx);
	free(r);
}

long
reach_clique(const struct reach *r, size_t b)
{
	uint64_t v;
	return u64map_get(&r->clique, b, &v) ? (long)v : -1;
}

uint64_t
reach_indirect(const struct reach *r, size_t b)
{
	uint64_t v = 0;
	u64map_get(&r->indirect, b, &v);
	return v;
}

enum leak_heuristic
reach_heuristic(const struct reach *r, size_t b)
{
	return (enum leak_heuristic)((r->look[b] & LOOK_HEUR) >> LOOK_HEUR_SHIFT);
}

enum block_look
reach_look(const struct reach *r, size_t b, uint64_t *value)
{
	enum block_look l = (enum block_look)(r->look[b] & LOOK_MASK);

	*value = 0;
	if (l == LOOK_VTABLE)
		u64map_get(&r->vtables, b, value);
	else if (l == LOOK_SIZE)
		*value = reach_len(r, b);
	return l;
}

/* reach_via: the want-th edge of the block scanned, as the pass found it */
struct via_find {
	uint32_t want, seen;
	uint64_t at;
};

static void
via_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	struct via_find *vf = arg;
	const struct reach *r = c->r;

	for (size_t off = (size_t)(ALIGN_UP(addr, 8) - addr); off + 8 <= len && !vf->at; off += 8) {
		uint64_t v = ptm_rd64(d + off);
		long tb;
		if (v < c->lo || v >= c->hi)
			continue;
		tb = reach_block_at(r, v);
		if (tb < 0 || !points_into_chunk(r, v, (uint32_t)tb))
			continue;
		if (vf->seen++ == vf->want)
			vf->at = addr + off;
	}
}

/*
 * Which of its parent's edges reached block b (counting those that are
 * no pointer, REACH_EDGE_NONE, as the pass found them): the one that
 * gave b its state, as mark() met them.  A block's state only rises
 * (definite, possible, reachable) and its parent is set with each rise:
 * reachable from parent p, the first of p's edges to b that makes it
 * so from a reachable block (a start pointer, or an interior one a
 * heuristic accepts); possibly lost, the first of p's edges to b (p
 * met b while still unreached).
 */
static uint32_t
parent_edge(const struct reach *r, uint32_t b)
{
	uint32_t p = (uint32_t)r->parent[b];

	for (uint32_t e = r->eoff[p]; e < r->eoff[p + 1]; e++) {
		uint32_t x = r->edges[e];
		if (x == REACH_EDGE_NONE || (x & ~REACH_EDGE_INTERIOR) != b)
			continue;
		if (r->state[b] == LEAK_REACHABLE && (x & REACH_EDGE_INTERIOR) &&
		    !(r->heuristics && edge_heuristic(r, e) != HEUR_NONE))
			continue;
		return e - r->eoff[p];
	}
	return 0;
}

uint64_t
reach_via(struct target *t, const struct reach *r, long b)
{
	struct via_find vf = { 0, 0, 0 };
	struct rc c;

	if (b < 0 || (size_t)b >= r->n || !r->parent)
		return 0;
	if (r->parent[b] < 0) {
		u64map_get(&r->root_via, (uint64_t)b, &vf.at);
		return vf.at;
	}
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.r = (struct reach *)r;
	c.clique = -1;
	c.lo = reach_start(r, 0);
	c.hi = reach_start(r, r->n - 1) + MAX(reach_len(r, r->n - 1), 1);
	vf.want = parent_edge(r, (uint32_t)b);
	for_each_block_piece(&c, (uint32_t)r->parent[b], via_piece, &vf);
	free(c.blockbuf.p);
	return vf.at;
}

/* ---- refs: who points into [lo, hi) ---- */

struct refs_arg {
	uint64_t lo, hi;
	void (*fn)(void *arg, const struct ref *ref);
	void *arg;
	long block;		/* the block [lo, hi) is, or -1 (a free chunk) */
};

/* Does v point into what refs looks for, as the leak check sees it? */
static bool
is_edge(const struct refs_arg *ra, const struct reach *r, uint64_t v)
{
	if (ra->block < 0)
		return v >= ra->lo && v < ra->hi;
	return reach_block_at(r, v) == ra->block && points_into(r, v, (uint32_t)ra->block);
}

struct refs_region {
	struct refs_arg *ra;
	enum ref_region region;
	pid_t tid;
};

static void
refs_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	struct refs_region *rr = arg;
	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t v = ptm_rd64(d + off);
		if (is_edge(rr->ra, c->r, v)) {
			struct ref ref = { addr + off, v, rr->region, rr->tid, NULL, -1 };
			rr->ra->fn(rr->ra->arg, &ref);
		}
	}
}

static void
refs_block_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	struct refs_arg *ra = arg;
	for (size_t off = (size_t)(ALIGN_UP(addr, 8) - addr); off + 8 <= len; off += 8) {
		uint64_t v = ptm_rd64(d + off);
		if (is_edge(ra, c->r, v)) {
			struct ref ref = { addr + off, v, REF_HEAP, 0, NULL, (long)c->scanning };
			ra->fn(ra->arg, &ref);
		}
	}
}

static void
refs_scan(struct rc *c, uint64_t lo, uint64_t hi, enum ref_region region, pid_t tid, void *arg)
{
	struct refs_region rr = { arg, region, tid };
	for_each_piece(c, ALIGN_UP(lo, 8), hi, refs_piece, &rr);
}

int
reach_refs(struct target *t, const struct reach *r, uint64_t lo, uint64_t hi,
	   void (*fn)(void *arg, const struct ref *ref), void *arg)
{
	struct rc c;
	struct refs_arg ra = { lo, hi, fn, arg, -1 };
	long tb = reach_block_at(r, lo);
	struct reach_opts o = { NULL, false, r->floors, r->nfloors };

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.r = (struct reach *)r;
	c.o = &o;
	if (tb >= 0 && reach_start(r, tb) == lo)
		ra.block = tb;	/* a block: exactly the edges the leak check follows */
	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *regs = target_regs(t, t->threads[i]);
		if (!regs)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(reg_names); k++) {
			uint64_t v = reg_value(regs, k);
			if (is_edge(&ra, r, v)) {
				struct ref ref = { 0, v, REF_REGISTER, t->threads[i]->tid, reg_names[k], -1 };
				fn(arg, &ref);
			}
		}
	}
	for_each_root(&c, refs_scan, &ra);
	stream_blocks(&c, refs_block_piece, &ra);
	free(c.rootbuf.p);
	free(c.blockbuf.p);
	if (c.interrupted)
		return hd_fail(HD_EINTR, "interrupted");
	return 0;
}

/* ---- retained: what each root keeps alive ----
 *
 * The graph: a super-root above every root (a global symbol, a thread's
 * stack, a thread's registers, a piece of anonymous memory), an edge from
 * a root or a reachable block to each reachable block it points to the
 * way the leak check follows pointers (a start pointer, or an interior
 * pointer one of memcheck's heuristics accepts).  Block X dominates block
 * Y when every path from the super-root to Y passes through X; a root
 * retains what it dominates, the bytes that would be lost if that root
 * forgot its pointers (Eclipse MAT's retained size).  Dominators by
 * Lengauer and Tarjan's algorithm (the simple version with path
 * compression), iteratively: a linked list a million blocks long is a
 * path that deep.
 */

#define RT_ROOT 0x80000000u	/* an edge's source that is a root, not a block */

struct rt_edge {
	uint32_t from, to;	/* from: a block, or RT_ROOT | root index; to: a block */
};

struct rt {
	struct rc *c;
	struct symbols *s;
	VEC(struct retain_root) roots;
	struct u64map root_of;		/* root key -> index */
	VEC(struct rt_edge) edges;
	/* the last global symbol a word was found in */
	uint64_t sym_lo, sym_hi;
	uint32_t sym_root;
	bool sym_valid;
};

/* Block v points to as the leak check follows it to a reachable block,
 * or -1. */
static long
rt_target(struct rc *c, uint64_t v)
{
	struct reach *r = c->r;
	long b;

	if (v < c->lo || v >= c->hi)
		return -1;
	b = reach_block_at(r, v);
	if (b < 0 || r->state[b] != LEAK_REACHABLE || !points_into(r, v, (uint32_t)b))
		return -1;
	if (v != reach_start(r, b) && heuristic(c, v, (uint32_t)b) == HEUR_NONE)
		return -1;
	return b;
}

static uint32_t
rt_root(struct rt *x, uint64_t key, enum ref_region region, pid_t tid, uint64_t lo, uint64_t hi,
	const char *name, const char *module)
{
	bool created;
	uint64_t *slot = u64map_slot(&x->root_of, key, &created);

	if (created) {
		struct retain_root rr;
		memset(&rr, 0, sizeof(rr));
		rr.region = region;
		rr.tid = tid;
		rr.lo = lo;
		rr.hi = hi;
		rr.name = name;
		rr.module = module;
		rr.top = -1;
		vec_push(&x->roots, rr);
		*slot = x->roots.n - 1;
	}
	return (uint32_t)*slot;
}

static void
rt_edge(struct rt *x, uint32_t from, long b)
{
	struct rt_edge e = { from, (uint32_t)b };
	vec_push(&x->edges, e);
}

/* Keys: a global by its symbol's start (or its mapping's, without a
 * symbol), the others by kind and thread or mapping. */
#define RT_KEY(kind, v) (((uint64_t)(kind) << 60) | ((v) & 0x0fffffffffffffffULL))

struct rt_region {
	struct rt *x;
	enum ref_region region;
	pid_t tid;
	uint64_t lo, hi;	/* the root range */
};

static void
rt_root_piece(struct rc *c, uint64_t addr, const uint8_t *d, size_t len, void *arg)
{
	struct rt_region *rg = arg;
	struct rt *x = rg->x;

	for (size_t off = (size_t)(ALIGN_UP(addr, 8) - addr); off + 8 <= len; off += 8) {
		uint64_t at = addr + off;
		long b = rt_target(c, ptm_rd64(d + off));
		uint32_t ri;

		if (b < 0)
			continue;
		if (rg->region != REF_GLOBAL) {
			ri = rt_root(x, RT_KEY(rg->region + 1, rg->tid ? (uint64_t)rg->tid : rg->lo), rg->region,
				     rg->tid, rg->lo, rg->hi, NULL, NULL);
		} else if (x->sym_valid && at >= x->sym_lo && at < x->sym_hi) {
			ri = x->sym_root;
		} else {
			const char *name = NULL, *module = NULL;
			uint64_t start = 0, size = 0;
			if (x->s && symbols_addr_extent(x->s, at, &name, &start, &size, &module) && size) {
				ri = rt_root(x, RT_KEY(0, start), REF_GLOBAL, 0, start, start + size, name, module);
				x->sym_lo = start;
				x->sym_hi = start + size;
			} else {
				/* no symbol: the module's section (.data, .bss), or
				 * its mapping */
				const struct mapping *m = target_find_mapping(c->t, at);
				uint64_t lo = m ? m->start : rg->lo, hi = m ? m->end : rg->hi;
				const char *sec = NULL;
				if (x->s) {
					struct module_info mi;
					uint64_t slo, shi;
					if (symbols_addr_section(x->s, at, &sec, &slo, &shi) && at >= slo && at < shi) {
						lo = slo;
						hi = shi;
					} else {
						sec = NULL;
					}
					if (symbols_module_at(x->s, at, &mi) ||
					    (m && m->start && symbols_module_at(x->s, m->start - 1, &mi)))
						module = mi.name;
				}
				ri = rt_root(x, RT_KEY(8, lo), REF_GLOBAL, 0, lo, hi, NULL,
					     module ? module : m ? m->path : NULL);
				x->roots.v[ri].section = sec;
				x->sym_lo = lo;
				x->sym_hi = hi;
			}
			x->sym_root = ri;
			x->sym_valid = true;
		}
		x->roots.v[ri].refs++;
		rt_edge(x, RT_ROOT | ri, b);
	}
}

static void
rt_root_range(struct rc *c, uint64_t lo, uint64_t hi, enum ref_region region, pid_t tid, void *arg)
{
	struct rt_region rg = { arg, region, tid, lo, hi };
	for_each_piece(c, lo, hi, rt_root_piece, &rg);
}

/* Block b's edges to reachable blocks that the leak check follows. */
static void
rt_block_edges(struct rt *x, uint32_t b)
{
	const struct reach *r = x->c->r;

	for (uint32_t e = r->eoff[b]; e < r->eoff[b + 1]; e++) {
		uint32_t y = r->edges[e], tb = y & ~REACH_EDGE_INTERIOR;
		if (y == REACH_EDGE_NONE || r->state[tb] != LEAK_REACHABLE)
			continue;
		if ((y & REACH_EDGE_INTERIOR) && edge_heuristic(r, e) == HEUR_NONE)
			continue;
		rt_edge(x, b, tb);
	}
}

struct lt_stack {
	uint32_t *v;
	size_t n, cap;
};

/* Path compression for eval(): the vertex of least semi on the path from
 * v up to (not including) the root of its tree in the forest, the path
 * compressed as it is walked (an explicit stack: no recursion). */
static uint32_t
lt_eval(uint32_t v, uint32_t *ancestor, uint32_t *best, const uint32_t *semi, struct lt_stack *stk)
{
	uint32_t a = ancestor[v], v0 = v;

	if (a == UINT32_MAX)
		return v;
	stk->n = 0;
	while (ancestor[a] != UINT32_MAX) {
		vec_push(stk, v);
		v = a;
		a = ancestor[v];
	}
	/* v's ancestor is a tree root: compress from the top down */
	while (stk->n) {
		uint32_t u = stk->v[--stk->n];
		uint32_t au = ancestor[u];
		if (semi[best[au]] < semi[best[u]])
			best[u] = best[au];
		ancestor[u] = ancestor[au];
	}
	return best[v0];
}

static int
root_cmp(const void *a, const void *b)
{
	const struct retain_root *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->blocks > y->blocks ? -1 : x->blocks < y->blocks;
}

int
reach_retained(struct target *t, struct symbols *s, const struct reach *r, struct retain **out)
{
	struct rt x;
	struct rc c;
	struct retain *res = xcalloc(1, sizeof(*res));
	struct reach_opts o = { NULL, true, r->floors, r->nfloors };
	uint64_t t0 = hd_now_ns();
	uint32_t R, N, *off = NULL, *adj = NULL, *poff = NULL, *padj = NULL;
	uint32_t *dfn = NULL, *vertex = NULL, *parent = NULL, *semi = NULL, *idom = NULL;
	uint32_t *ancestor = NULL, *best = NULL, *samedom = NULL, *bucket = NULL, *bnext = NULL;
	uint64_t *bytes = NULL, *blocks = NULL;
	struct lt_stack stk = { 0 };
	uint32_t n = 0;

	*out = NULL;
	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.r = (struct reach *)r;
	c.o = &o;
	c.clique = -1;
	if (r->n) {
		c.lo = reach_start(r, 0);
		c.hi = reach_start(r, r->n - 1) + MAX(reach_len(r, r->n - 1), 1);
	}
	x.c = &c;
	x.s = s;
	u64map_init(&x.root_of);

	/* the edges: registers, root memory, reachable blocks */
	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *regs = target_regs(t, t->threads[i]);
		if (!regs)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(reg_names); k++) {
			long b = rt_target(&c, reg_value(regs, k));
			uint32_t ri;
			if (b < 0)
				continue;
			ri = rt_root(&x, RT_KEY(REF_REGISTER + 1, (uint64_t)t->threads[i]->tid), REF_REGISTER,
				     t->threads[i]->tid, 0, 0, NULL, NULL);
			x.roots.v[ri].refs++;
			rt_edge(&x, RT_ROOT | ri, b);
		}
	}
	for_each_root(&c, rt_root_range, &x);
	for (size_t b = 0; b < r->n && !c.interrupted; b++) {
		if (r->state[b] != LEAK_REACHABLE)
			continue;
		rt_block_edges(&x, (uint32_t)b);
		if ((b & 0xffff) == 0 && sig_stop_work())
			c.interrupted = true;
	}
	if (c.interrupted)
		goto fail;

	/* nodes: 0 the super-root, 1..R the roots, R+1+b block b */
	R = (uint32_t)x.roots.n;
	if ((uint64_t)r->n + R + 1 >= RT_ROOT)
		goto toobig;
	N = R + 1 + (uint32_t)r->n;
	off = xcalloc((size_t)N + 1, sizeof(*off));
	poff = xcalloc((size_t)N + 1, sizeof(*poff));
	adj = xreallocarray(NULL, x.edges.n + R + 1, sizeof(*adj));
	padj = xreallocarray(NULL, x.edges.n + R + 1, sizeof(*padj));
#define RT_NODE(e) (((e) & RT_ROOT) ? 1 + ((e) & ~RT_ROOT) : R + 1 + (e))
	for (uint32_t i = 0; i < R; i++) {
		off[0 + 1]++;
		poff[1 + i + 1]++;
	}
	for (size_t i = 0; i < x.edges.n; i++) {
		off[RT_NODE(x.edges.v[i].from) + 1]++;
		poff[R + 1 + x.edges.v[i].to + 1]++;
	}
	for (uint32_t i = 0; i < N; i++) {
		off[i + 1] += off[i];
		poff[i + 1] += poff[i];
	}
	{
		uint32_t *fill = xreallocarray(NULL, N, sizeof(*fill)), *pfill = xreallocarray(NULL, N, sizeof(*pfill));
		memcpy(fill, off, N * sizeof(*fill));
		memcpy(pfill, poff, N * sizeof(*pfill));
		for (uint32_t i = 0; i < R; i++) {
			adj[fill[0]++] = 1 + i;
			padj[pfill[1 + i]++] = 0;
		}
		for (size_t i = 0; i < x.edges.n; i++) {
			uint32_t u = RT_NODE(x.edges.v[i].from), v = R + 1 + x.edges.v[i].to;
			adj[fill[u]++] = v;
			padj[pfill[v]++] = u;
		}
		free(fill);
		free(pfill);
	}
#undef RT_NODE
	vec_free(&x.edges);

	/* depth-first preorder from the super-root (dfn 1-based; 0: not
	 * reached), with an explicit stack of (node, next edge) */
	dfn = xcalloc(N, sizeof(*dfn));
	vertex = xreallocarray(NULL, (size_t)N + 1, sizeof(*vertex));
	parent = xreallocarray(NULL, (size_t)N + 1, sizeof(*parent));
	{
		uint32_t *edge = xcalloc(N, sizeof(*edge));
		vec_push(&stk, 0u);
		dfn[0] = ++n;
		vertex[n] = 0;
		parent[n] = 0;
		edge[0] = off[0];
		while (stk.n) {
			uint32_t u = stk.v[stk.n - 1];
			if (edge[u] < off[u + 1]) {
				uint32_t v = adj[edge[u]++];
				if (!dfn[v]) {
					dfn[v] = ++n;
					vertex[n] = v;
					parent[n] = dfn[u];
					edge[v] = off[v];
					vec_push(&stk, v);
				}
			} else {
				stk.n--;
			}
		}
		free(edge);
	}

	/* Lengauer-Tarjan over preorder numbers 1..n */
	semi = xreallocarray(NULL, (size_t)n + 1, sizeof(*semi));
	idom = xcalloc((size_t)n + 1, sizeof(*idom));
	ancestor = xreallocarray(NULL, (size_t)n + 1, sizeof(*ancestor));
	best = xreallocarray(NULL, (size_t)n + 1, sizeof(*best));
	samedom = xreallocarray(NULL, (size_t)n + 1, sizeof(*samedom));
	bucket = xreallocarray(NULL, (size_t)n + 1, sizeof(*bucket));
	bnext = xreallocarray(NULL, (size_t)n + 1, sizeof(*bnext));
	for (uint32_t i = 0; i <= n; i++) {
		semi[i] = i;
		ancestor[i] = UINT32_MAX;
		best[i] = i;
		samedom[i] = UINT32_MAX;
		bucket[i] = UINT32_MAX;
	}
	for (uint32_t i = n; i >= 2; i--) {
		uint32_t w = vertex[i], p = parent[i], sd = p;
		for (uint32_t k = poff[w]; k < poff[w + 1]; k++) {
			uint32_t v = dfn[padj[k]], s2;
			if (!v)
				continue;	/* (not reached: cannot happen for a reachable source) */
			s2 = v <= i ? v : semi[lt_eval(v, ancestor, best, semi, &stk)];
			if (s2 < sd)
				sd = s2;
		}
		semi[i] = sd;
		bnext[i] = bucket[sd];
		bucket[sd] = i;
		ancestor[i] = p;	/* link(p, i) */
		for (uint32_t v = bucket[p]; v != UINT32_MAX; v = bnext[v]) {
			uint32_t y = lt_eval(v, ancestor, best, semi, &stk);
			if (semi[y] == semi[v])
				idom[v] = p;
			else
				samedom[v] = y;
		}
		bucket[p] = UINT32_MAX;
	}
	for (uint32_t i = 2; i <= n; i++)
		if (samedom[i] != UINT32_MAX)
			idom[i] = idom[samedom[i]];

	/* retained bytes: each vertex's own, summed up the dominator tree
	 * (a dominator comes before what it dominates in preorder) */
	bytes = xcalloc((size_t)n + 1, sizeof(*bytes));
	blocks = xcalloc((size_t)n + 1, sizeof(*blocks));
	for (uint32_t i = 2; i <= n; i++) {
		uint32_t v = vertex[i];
		if (v > R) {
			bytes[i] = reach_len(r, v - R - 1);
			blocks[i] = 1;
			res->reachable_blocks++;
			res->reachable_bytes += reach_len(r, v - R - 1);
		}
	}
	for (uint32_t i = n; i >= 2; i--) {
		bytes[idom[i]] += bytes[i];
		blocks[idom[i]] += blocks[i];
	}
	for (uint32_t i = 2; i <= n; i++) {
		uint32_t v = vertex[i], d = vertex[idom[i]];
		if (v <= R) {
			x.roots.v[v - 1].bytes = bytes[i];
			x.roots.v[v - 1].blocks = blocks[i];
		} else if (d == 0) {
			/* dominated by no single root: reached from several */
			size_t k = res->nshared;
			res->shared_blocks += blocks[i];
			res->shared_bytes += bytes[i];
			if (k == RETAIN_SHARED_MAX && bytes[i] <= res->shared[k - 1].bytes)
				continue;
			if (k == RETAIN_SHARED_MAX)
				k--;
			else
				res->nshared++;
			while (k > 0 && res->shared[k - 1].bytes < bytes[i]) {
				res->shared[k] = res->shared[k - 1];
				k--;
			}
			memset(&res->shared[k], 0, sizeof(res->shared[k]));
			res->shared[k].block = (long)(v - R - 1);
			res->shared[k].bytes = bytes[i];
			res->shared[k].blocks = blocks[i];
		} else if (d <= R) {
			/* the root's biggest directly held block */
			struct retain_root *rr = &x.roots.v[d - 1];
			if (rr->top < 0 || bytes[i] > rr->top_bytes) {
				rr->top = (long)(v - R - 1);
				rr->top_bytes = bytes[i];
				rr->top_blocks = blocks[i];
			}
		}
	}
	for (size_t b = 0; b < r->n; b++)
		if (r->state[b] == LEAK_REACHABLE && !dfn[R + 1 + b]) {
			/* (every reachable block has a path; say so if not) */
			res->unattributed_blocks++;
			res->unattributed_bytes += reach_len(r, b);
		}
	/* who points at the biggest shared blocks (the roots' totals are
	 * final now) */
	for (size_t k = 0; k < res->nshared; k++) {
		struct retain_shared *sh = &res->shared[k];
		uint32_t v = R + 1 + (uint32_t)sh->block;
		for (uint32_t e = poff[v]; e < poff[v + 1]; e++) {
			uint32_t u = padj[e];
			if (u > R) {
				sh->block_refs++;
			} else if (u > 0) {
				const struct retain_root *rr = &x.roots.v[u - 1];
				unsigned h;
				sh->root_refs++;
				for (h = 0; h < sh->nholders; h++)
					if (sh->holders[h].region == rr->region && sh->holders[h].tid == rr->tid &&
					    sh->holders[h].lo == rr->lo)
						break;
				if (h == sh->nholders && h < RETAIN_HOLDERS_MAX)
					sh->holders[sh->nholders++] = *rr;
			}
		}
	}
	if (x.roots.n > 1)
		qsort(x.roots.v, x.roots.n, sizeof(*x.roots.v), root_cmp);
	while (x.roots.n && !x.roots.v[x.roots.n - 1].bytes)
		x.roots.n--;	/* roots whose every block another root holds too */
	res->roots = x.roots.v;
	res->n = x.roots.n;
	x.roots.v = NULL;
	res->edges = off[N];
	res->seconds = (hd_now_ns() - t0) / 1e9;
	*out = res;
	goto done;

toobig:
	hd_fail(HD_ENOTSUP, "too many blocks for the dominator tree");
	goto fail2;
fail:
	hd_fail(HD_EINTR, "interrupted");
fail2:
	free(res);
done:
	free(off);
	free(adj);
	free(poff);
	free(padj);
	free(dfn);
	free(vertex);
	free(parent);
	free(semi);
	free(idom);
	free(ancestor);
	free(best);
	free(samedom);
	free(bucket);
	free(bnext);
	free(bytes);
	free(blocks);
	vec_free(&stk);
	vec_free(&x.edges);
	vec_free(&x.roots);
	u64map_free(&x.root_of);
	free(c.rootbuf.p);
	free(c.blockbuf.p);
	return *out ? 0 : -1;
}

void
retain_free(struct retain *res)
{
	if (!res)
		return;
	free(res->roots);
	free(res);
}
