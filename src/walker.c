/*
 * walker.c - the full heap walk (see heap.h).
 *
 * 1. Arenas: main_arena's `next` ring, bounded; each arena's heaps (the
 *    sbrk heap for main_arena, the heap_info chain for the others).
 * 2. One bulk copy per heap region (or a direct pointer into a core).
 * 3. Free lists, walked in the copies: every thread's tcache (safe-linking
 *    revealed), every arena's fastbins and bins, and top.  Each list walk
 *    is bounded and every pointer is checked against the heap regions
 *    before it is followed; a chunk found twice is a double free.
 * 4. Chunks, in address order, from each heap's start to its end: each
 *    classified by the free lists (a chunk in a tcache or a fastbin is
 *    free though its successor's PREV_INUSE says otherwise) and checked
 *    the way glibc checks it; a corrupted size is a finding and the walk
 *    resynchronises on the next plausible chunk, as chap does.
 * 5. mmapped chunks, found by scanning anonymous mappings for their
 *    header pattern, validated against mp_.n_mmaps and mp_.mmapped_mem.
 */
#include "config.h"
#include "heap.h"
#include "ptmalloc.h"
#include "signals.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_ARENAS 4096
#define MAX_HEAPS_PER_ARENA 65536
#define MAX_TCACHE_LIST 65536
#define PAGE 4096ULL

static const char *const state_names[CS_NSTATES] = {
	"used", "tcache", "fastbin", "unsorted", "smallbin", "largebin", "top", "mmapped",
};

const char *
chunk_state_name(enum chunk_state s)
{
	return s < CS_NSTATES ? state_names[s] : "?";
}

int
chunk_state_parse(const char *name)
{
	for (int i = 0; i < CS_NSTATES; i++)
		if (!strcmp(state_names[i], name))
			return i;
	if (!strcmp(name, "free") || !strcmp(name, "bins"))
		return -2;	/* callers treat these as groups */
	return -1;
}

/* membership of a chunk in a free list: packed into a u64map value */
#define MEMB(state, list, owner, arena) \
	((uint64_t)(state) | (uint64_t)(list) << 8 | (uint64_t)(owner) << 24 | (uint64_t)(arena) << 40)
#define MEMB_STATE(v) ((unsigned)((v) & 0xff))
#define MEMB_LIST(v) ((unsigned)(((v) >> 8) & 0xffff))
#define MEMB_OWNER(v) ((unsigned)(((v) >> 24) & 0xffff))
#define MEMB_ARENA(v) ((unsigned)(((v) >> 40) & 0xffff))

struct rspan {
	uint64_t start, end;	/* chunk range */
	unsigned arena;
	uint64_t info;		/* heap_info or 0 */
	bool has_top;
	/* the copy, filled as the chunk walk reaches it (see span_fill) */
	uint8_t *buf;		/* the region's buffer (from info, or start), or NULL */
	uint64_t rstart;	/* the region's start (heap_info, or start) */
	uint64_t wlo;		/* the target address of buf[0] */
	uint64_t filled;	/* buf holds [wlo, filled); [rstart, filled) was read */
	bool win;		/* buf is the walker's reused window, not a copy */
	uint64_t resume;	/* the walk stopped at a bad size here (0: it did not) */
	uint64_t resume_prev;	/* the chunk walked right before it (0: none) */
	size_t resume_prev_idx;	/* its index in walker.chunks */
	bool segment;		/* a main-arena segment that ends with fenceposts
				 * (non-contiguous: brk could not grow) */
	uint64_t walked_end;	/* where the chunk walk ended */
	/* the captures in it, by address bucket (see cap_index) */
	uint64_t cap_base;	/* bucket 0's address */
	unsigned cap_shift;	/* bytes per bucket: 1 << cap_shift */
	size_t cap_nb, cap_tab;	/* buckets; their starts in walker.cap_tab */
};

/* Memory of a span that could not be read (zeros in the copy). */
struct hole {
	uint64_t start, end;
};

/* A stretch the walk went through out of step: from a bad size to the
 * first chunk boundary it could trust again (a free-list member, top,
 * the end).  Findings inside follow from the one at `cause`. */
struct desync {
	uint64_t from, to, cause;
};

/* Bits the chunk walk leaves in hchunk.list for classify_chunks (which
 * sets list properly): facts from the chunk's header, read while it was
 * in the cache. */
#define CF_HAS_PREV	0x1	/* walked right after the chunk before it */
#define CF_PS_EQ	0x2	/* its prev_size is that chunk's size */
#define CF_PREV_FREE	0x4	/* PREV_INUSE clear and prev_size right: the chunk before must be free */

struct member {
	uint64_t addr, memb;
};

/* The first bytes of a chunk walked through the window (no copies): its
 * size field and the links of a free chunk, for the free-list walks
 * ([addr + CAP_FROM, addr + CAP_BYTES): prev_size is not kept, no list
 * walk reads it). */
#define CAP_BYTES 32
#define CAP_FROM 8
#define CAP_FENCE 32	/* captures a fence stands for */
struct cap {
	uint64_t addr;
	uint8_t b[CAP_BYTES - CAP_FROM];
};

/* A tcache entry's key, for the check once tcache_key is known. */
struct tckey {
	uint64_t chunk, key, tcache;
	unsigned thread, bin;
};

struct walker {
	struct target *t;
	struct heap *h;
	struct malloc_info *mi;
	const struct malloc_layout *L;
	struct member *mtab;		/* free-list membership: open addressing on
					 * the address (0: an empty slot) */
	size_t mtab_cap, mtab_n;
	uint64_t prev_frees;		/* chunks that say the one before is free
					 * (how big to make mtab) */
	uint8_t **ms;			/* arena struct bytes */
	VEC(struct rspan) spans;
	VEC(struct hchunk) chunks;
	VEC(struct hchunk) mm;
	struct member *members;		/* free-list members sorted by address */
	size_t nmembers, next_member;	/* the merge position of the chunk walk */
	bool unsorted;			/* a chunk was walked below its predecessor */
	uint64_t list_cap;		/* bound for any list walk */
	bool interrupted;
	VEC(struct hole) holes;
	VEC(struct desync) desyncs;
	/* free tcache entries and their key, checked once tcache_key is known */
	VEC(struct tckey) tc_keys;
	uint64_t run_end;		/* mmapped scan: end of the anonymous mappings
					 * adjoining the one scanned (a chunk the program
					 * partly mprotect()ed spans several) */
	uint64_t mm_end;		/* end of the last mmapped chunk's mapping */
	/* no copies (walk_opts.keep_copies false): one window for every span */
	bool copies;
	bool no_direct;
	uint8_t *win;
	size_t wincap, window;
	size_t win_span;		/* the span whose bytes the window holds */
	VEC(struct cap) caps;		/* by address (caps_unsorted: not yet) */
	bool caps_unsorted;
	VEC(uint64_t) cap_fence;	/* the address of every CAP_FENCE-th capture */
	size_t cap_last;		/* the capture cap_bytes() found last */
	VEC(uint32_t) cap_tab;		/* per span bucket: the first capture at or
					 * above the bucket's address (cap_index) */
	uint64_t fast_cap;		/* chunks this small are captured ... */
	uint64_t link_lo, link_hi;	/* ... when their first word could be a
					 * tcache or fastbin link: revealed, 0 or
					 * 16-aligned in [link_lo, link_hi) */
	uint64_t copied;		/* bytes of copies made */
};

static struct finding *
finding(struct walker *w, enum finding_severity sev, const char *kind, uint64_t chunk, int arena,
	const char *fmt, ...) PRINTF(6, 7);

/* Record a finding; returns it, for the caller to add the evidence (the
 * pointer is good until the next finding). */
static struct finding *
finding(struct walker *w, enum finding_severity sev, const char *kind, uint64_t chunk, int arena,
	const char *fmt, ...)
{
	static struct finding dropped;
	struct finding f;
	struct sbuf sb;
	va_list ap;

	if (w->h->findings.n >= 100000) {
		memset(&dropped, 0, sizeof(dropped));
		return &dropped;	/* a heap that bad says enough already */
	}
	memset(&f, 0, sizeof(f));
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	f.kind = kind;
	f.severity = sev;
	f.chunk = chunk;
	f.arena = arena;
	f.message = sb_steal(&sb);
	vec_push(&w->h->findings, f);
	if (sev == FIND_ERROR)
		w->h->errors++;
	else
		w->h->warnings++;
	return &w->h->findings.v[w->h->findings.n - 1];
}

/* ---- free-list membership ---- */

/* The slot an address hashes to in a table of nc slots (any nc, not
 * only powers of two: the table is sized to its members, at most 3/4
 * full, so that a walk's largest table is not up to twice that). */
static inline size_t
mtab_home(uint64_t addr, size_t nc)
{
	return (size_t)(((unsigned __int128)hash_u64(addr) * nc) >> 64);
}

/* The membership table at room for want members (at most three quarters
 * full), rehashed; calloc()ed room with huge pages. */
static void
mtab_grow(struct walker *w, size_t want)
{
	struct member *old = w->mtab;
	size_t oc = w->mtab_cap, nc = MAX(want + want / 3 + 1, 1024);

	if (nc <= oc)
		return;
	w->mtab = big_calloc(nc, sizeof(*w->mtab));
	w->mtab_cap = nc;
	for (size_t i = 0; i < oc; i++) {
		size_t k;
		if (!old[i].addr)
			continue;
		for (k = mtab_home(old[i].addr, nc); w->mtab[k].addr; k = k + 1 == nc ? 0 : k + 1)
			;
		w->mtab[k] = old[i];
	}
	big_free(old, oc, sizeof(*old));
}

/* The membership of the chunk at addr (nonzero: never 0), inserting 0
 * (*created) if it has none. */
static uint64_t *
mtab_slot(struct walker *w, uint64_t addr, bool *created)
{
	size_t k, nc;

	if ((w->mtab_n + 1) * 4 > w->mtab_cap * 3)
		mtab_grow(w, MAX(w->mtab_n + 1, w->mtab_cap));
	nc = w->mtab_cap;
	for (k = mtab_home(addr, nc); w->mtab[k].addr; k = k + 1 == nc ? 0 : k + 1)
		if (w->mtab[k].addr == addr) {
			*created = false;
			return &w->mtab[k].memb;
		}
	w->mtab[k].addr = addr;
	w->mtab[k].memb = 0;
	w->mtab_n++;
	*created = true;
	return &w->mtab[k].memb;
}

/* Is the chunk at addr a free-list member (top included)?  Its
 * membership into *memb if so. */
static bool
mtab_get(const struct walker *w, uint64_t addr, uint64_t *memb)
{
	size_t k, nc = w->mtab_cap;

	if (!nc || !addr)
		return false;
	for (k = mtab_home(addr, nc); w->mtab[k].addr; k = k + 1 == nc ? 0 : k + 1)
		if (w->mtab[k].addr == addr) {
			if (memb)
				*memb = w->mtab[k].memb;
			return true;
		}
	return false;
}

/* ---- memory: the copies first, the target otherwise ---- */

/* The region [addr, addr+len) lies in, or NULL. */
static const struct region *
region_find(const struct heap *h, uint64_t addr, size_t len)
{
	size_t lo = 0, hi = h->regions.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct region *r = &h->regions.v[mid];
		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return (addr + len <= r->end && addr + len >= addr) ? r : NULL;
	}
	return NULL;
}

const uint8_t *
heap_bytes(const struct heap *h, uint64_t addr, size_t len)
{
	const struct region *r = region_find(h, addr, len);
	return r && r->data ? r->data + (addr - r->start) : NULL;
}

bool
heap_in_region(const struct heap *h, uint64_t addr, size_t len)
{
	return region_find(h, addr, len) != NULL;
}

static bool in_hole(const struct walker *w, uint64_t addr, uint64_t len);

/* Heap memory the walk kept no copy of, from the target, as a copy would
 * hold it: what could not be read when the walk got there (a hole) is
 * zeros. */
static bool
region_read(struct walker *w, uint64_t addr, void *buf, size_t len)
{
	uint8_t *o = buf;
	uint64_t a = addr, end = addr + len;

	memset(buf, 0, len);
	while (a < end) {
		uint64_t next = end;
		bool hole = false;
		for (size_t i = 0; i < w->holes.n; i++) {
			const struct hole *hl = &w->holes.v[i];
			if (a >= hl->start && a < hl->end) {
				hole = true;
				next = MIN(end, hl->end);
				break;
			}
			if (hl->start > a && hl->start < next)
				next = hl->start;
		}
		if (!hole && target_read(w->t, a, o + (a - addr), (size_t)(next - a)) < 0)
			return false;
		a = next;
	}
	return true;
}

static inline const uint8_t *
cap_in(const struct cap *c, uint64_t addr, size_t len)
{
	if (c->addr + CAP_FROM <= addr && addr + len <= c->addr + CAP_BYTES && addr + len >= addr)
		return c->b + (addr - c->addr - CAP_FROM);
	return NULL;
}


/* The last capture in [lo, hi) at or below addr, or lo (the caller
 * knows caps.v[lo] is at or below it, or checks). */
static size_t
cap_last_at(const struct walker *w, size_t lo, size_t hi, uint64_t addr)
{
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->caps.v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
/* The capture the bucket table of span si says is the last one at or
 * below addr (the one that may hold it), or SIZE_MAX when the table does
 * not say (then the fences do). */
static size_t
cap_bucket(const struct walker *w, size_t si, uint64_t addr)
{
	const struct rspan *s;
	const uint32_t *t;
	size_t b, lo, hi, i;

	if (si >= w->spans.n)
		return SIZE_MAX;
	s = &w->spans.v[si];
	if (!s->cap_nb || addr < s->cap_base || ((addr - s->cap_base) >> s->cap_shift) >= s->cap_nb)
		return SIZE_MAX;
	b = (size_t)((addr - s->cap_base) >> s->cap_shift);
	t = w->cap_tab.v + s->cap_tab;
	lo = t[b];
	hi = t[b + 1];
	if (lo == hi || w->caps.v[lo].addr > addr) {
		if (!lo)
			return SIZE_MAX;
		i = lo - 1;	/* (in a bucket below) */
	} else {
		i = cap_last_at(w, lo, hi, addr);
	}
	/* it is the last capture at or below addr of all (they are sorted)
	 * only if the next one is above it */
	if (w->caps.v[i].addr > addr || (i + 1 < w->caps.n && w->caps.v[i + 1].addr <= addr))
		return SIZE_MAX;
	return i;
}

/* The captured first bytes of a chunk that hold [addr, addr+len), or
 * NULL; si is the span of the region addr is in.  The last one found
 * first (a list walk reads a member's header and links one after the
 * other), then the span's buckets (cap_index: one or two captures a
 * bucket), else the fences (every CAP_FENCE-th address, a small array)
 * and the captures between two fences. */
static const uint8_t *
cap_bytes(struct walker *w, size_t si, uint64_t addr, size_t len)
{
	size_t lo = 0, hi = w->cap_fence.n;
	const uint8_t *p;

	if (w->caps_unsorted || !w->caps.n || !hi)
		return NULL;
	if (w->cap_last < w->caps.n && (p = cap_in(&w->caps.v[w->cap_last], addr, len)))
		return p;
	if ((lo = cap_bucket(w, si, addr)) != SIZE_MAX) {
		if ((p = cap_in(&w->caps.v[lo], addr, len)))
			w->cap_last = lo;
		return p;
	}
	lo = 0;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->cap_fence.v[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	lo = cap_last_at(w, lo * CAP_FENCE, MIN(w->caps.n, (lo + 1) * CAP_FENCE), addr);
	if ((p = cap_in(&w->caps.v[lo], addr, len)))
		w->cap_last = lo;
	return p;
}

#define WB_MAX 64	/* the most wbytes() reads into its caller's buffer */

/* [addr, addr+len) of heap memory as a copy holds it, or NULL (outside
 * the regions): the copy, the window, a chunk's captured bytes, else read
 * into tmp (WB_MAX bytes; longer: NULL). */
static const uint8_t *
wbytes(struct walker *w, uint64_t addr, size_t len, uint8_t *tmp)
{
	const struct region *r = region_find(w->h, addr, len);
	const uint8_t *p;

	if (!r)
		return NULL;
	if (r->data)
		return r->data + (addr - r->start);
	if (w->win_span < w->spans.n) {
		const struct rspan *s = &w->spans.v[w->win_span];
		if (s->win && addr >= s->wlo && addr + len <= s->filled)
			return s->buf + (addr - s->wlo);
	}
	if ((p = cap_bytes(w, r->span, addr, len)))
		return p;
	if (len > WB_MAX || !region_read(w, addr, tmp, len))
		return NULL;
	return tmp;
}

static bool
wread(struct walker *w, uint64_t addr, void *buf, size_t len)
{
	uint8_t tmp[WB_MAX];
	const uint8_t *p = len <= WB_MAX ? wbytes(w, addr, len, tmp) : heap_bytes(w->h, addr, len);
	if (p) {
		memcpy(buf, p, len);
		return true;
	}
	if (len > WB_MAX && heap_in_region(w->h, addr, len))
		return region_read(w, addr, buf, len);
	return target_read(w->t, addr, buf, len) == 0;
}

static bool
wread64(struct walker *w, uint64_t addr, uint64_t *v)
{
	return wread(w, addr, v, 8);
}

/* Is [addr, addr+len) inside a heap region (a chunk can live there)? */
static bool
in_heap(struct walker *w, uint64_t addr, size_t len)
{
	return heap_in_region(w->h, addr, len);
}

/* ---- 1. arenas and heaps ---- */

static int
arena_index(struct walker *w, uint64_t addr)
{
	for (size_t i = 0; i < w->h->arenas.n; i++)
		if (w->h->arenas.v[i].addr == addr)
			return (int)i;
	return -1;
}

/* The end of the memory mapped from addr on, across adjacent mappings
 * whatever their permissions (the kernel splits one heap into several
 * mappings after fork(), madvise() or mprotect(): how it splits them says
 * nothing about the heap), or addr when addr is not mapped. */
static uint64_t
mapped_end(struct walker *w, uint64_t addr)
{
	const struct mapping *m = target_find_mapping(w->t, addr);
	uint64_t end;

	if (!m)
		return addr;
	end = m->end;
	for (size_t i = (size_t)(m - w->t->maps) + 1; i < w->t->nmaps; i++) {
		if (w->t->maps[i].start != end)
			break;
		end = w->t->maps[i].end;
	}
	return end;
}

/* The start of the mapped memory that runs up to addr (adjacent
 * mappings), or addr when addr is not mapped. */
static uint64_t
mapped_start(struct walker *w, uint64_t addr)
{
	const struct mapping *m = target_find_mapping(w->t, addr);
	size_t i;

	if (!m)
		return addr;
	for (i = (size_t)(m - w->t->maps); i > 0 && w->t->maps[i - 1].end == w->t->maps[i].start; i--)
		;
	return w->t->maps[i].start;
}

/* a + b, or UINT64_MAX when that wraps */
static inline uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t
top_size_at(struct walker *w, uint64_t top)
{
	uint64_t sf;
	return target_read_u64(w->t, top + 8, &sf) == 0 ? ptm_chunksize(sf) : 0;
}

/* Is [start, end) mapped but for gaps that add up to less than a
 * quarter of it, with memory at both ends?  (A core made by gcore leaves
 * out an mprotect()ed page: the heap goes on after it.) */
static bool
gaps_small(struct walker *w, uint64_t start, uint64_t end)
{
	uint64_t covered = 0;

	if (end <= start || !target_find_mapping(w->t, start) || !target_find_mapping(w->t, end - 1))
		return false;
	for (size_t i = 0; i < w->t->nmaps; i++) {
		const struct mapping *m = &w->t->maps[i];
		if (m->end > start && m->start < end)
			covered += MIN(m->end, end) - MAX(m->start, start);
	}
	return end - start - covered < (end - start) / 4;
}

/* A chunk range to walk.  Its end comes from glibc's state (system_mem,
 * heap_info), which a corruption can make anything: it is clipped to the
 * memory that is there, so a bad value costs a finding, not a huge copy. */
static struct rspan *
add_span(struct walker *w, unsigned arena, uint64_t info, uint64_t start, uint64_t end, uint64_t top)
{
	uint64_t lim = mapped_end(w, info ? info : start);
	struct rspan s;

	if (end > lim && !(top && end == add_sat(top, top_size_at(w, top)) && gaps_small(w, start, end)))
		end = lim;
	memset(&s, 0, sizeof(s));
	s.start = start;
	s.end = end;
	s.arena = arena;
	s.info = info;
	s.has_top = top && top >= start && top < end;
	s.buf = NULL;
	s.rstart = info ? info : start;
	s.wlo = s.rstart;
	s.filled = s.rstart;
	s.walked_end = end;
	if (end <= start)
		return NULL;
	vec_push(&w->spans, s);
	return &w->spans.v[w->spans.n - 1];
}

static int
collect_arenas(struct walker *w)
{
	const struct malloc_layout *L = w->L;
	uint64_t a = w->mi->main_arena;

	for (int n = 0; n < MAX_ARENAS; n++) {
		struct harena ar;
		uint8_t *ms = xmalloc(L->ms_size);

		if (target_read(w->t, a, ms, L->ms_size) < 0) {
			finding(w, FIND_ERROR, "arena-unreadable", 0, -1,
				"arena at 0x%" PRIx64 " cannot be read (the arena ring is broken)", a);
			free(ms);
			break;
		}
		memset(&ar, 0, sizeof(ar));
		ar.addr = a;
		ar.main = n == 0;
		ar.flags = ms_flags(L, ms);
		ar.mutex = ms_mutex(L, ms);
		ar.system_mem = ms_system_mem(L, ms);
		ar.max_system_mem = ms_max_system_mem(L, ms);
		ar.attached_threads = ms_attached_threads(L, ms);
		ar.top = ms_top(L, ms);
		ar.nfast = L->nfastbins;
		for (unsigned i = 0; i < L->nfastbins && i < 16; i++)
			ar.fastbin_heads[i] = ms_fastbin(L, ms, i);
		vec_push(&w->h->arenas, ar);
		w->ms = xreallocarray(w->ms, w->h->arenas.n, sizeof(*w->ms));
		w->ms[w->h->arenas.n - 1] = ms;
		if (ar.mutex)
			finding(w, FIND_WARNING, "arena-locked", 0, n,
				"arena 0x%" PRIx64 " is locked (a thread is inside malloc): its lists may be "
				"mid-update", a);
		a = ms_next(L, ms);
		if (a == w->mi->main_arena)
			return 0;
		if (arena_index(w, a) >= 0) {
			finding(w, FIND_ERROR, "arena-cycle", 0, n,
				"arena ring loops back to 0x%" PRIx64 " without passing main_arena", a);
			return 0;
		}
		if (!a || (a & 7)) {
			finding(w, FIND_ERROR, "arena-link", 0, n, "arena %d's next pointer 0x%" PRIx64
				" is invalid", n, a);
			return 0;
		}
	}
	return 0;
}

static uint64_t
top_size_of(struct walker *w, struct harena *ar)
{
	uint64_t sf;
	if (!ar->top || target_read_u64(w->t, ar->top + 8, &sf) < 0)
		return 0;
	return ptm_chunksize(sf);
}

static bool
plausible_size(uint64_t sf, uint64_t at, uint64_t end)
{
	uint64_t sz = ptm_chunksize(sf);
	/* sz <= end - at: a huge size must not wrap around to a lower address */
	return sz >= PTM_MINSIZE && ptm_aligned(sz) && at <= end && sz <= end - at && !(sf & PTM_IS_MMAPPED);
}

/* Is there a run of fencepost headers at p (main arena: two or more of
 * size 0x10, the last 0x10|P)?  Returns where the run ends, or 0. */
static uint64_t
fencepost_run(struct walker *w, uint64_t p, uint64_t end)
{
	uint64_t q = p, last = 0;

	while (q + 16 <= end && q - p < 64) {
		uint8_t hdr[16];
		if (!wread(w, q, hdr, 16) || !ptm_fencepost(chunk_size_field(hdr)))
			break;
		last = chunk_size_field(hdr);
		q += 16;
	}
	return q - p >= 32 && ptm_main_fencepost_last(last) ? q : 0;
}

/*
 * Does a chain of plausible chunks start at q and run to a place the walk
 * trusts: top, `end`, glibc's fenceposts, a chunk of `good` (if given),
 * or (once the lists are known) a free-list member?  At most max chunks
 * are followed (0: no bound); a chain that long is taken as good.  The
 * chunk addresses followed are added to `good` when it is given and the
 * chain reaches it or top.  Main-arena chunks never carry
 * NON_MAIN_ARENA, and no chunk runs over top.
 */
static bool
chain_reaches(struct walker *w, uint64_t q, uint64_t end, uint64_t top, bool main, unsigned max,
	      struct u64map *good)
{
	VEC(uint64_t) seen;
	uint64_t p = q;
	bool ok = false;

	memset(&seen, 0, sizeof(seen));
	for (unsigned k = 0; !max || k < max; k++) {
		uint8_t hdr[16];
		uint64_t sf, sz;

		if (p == top || (good && k && u64map_get(good, p, NULL))) {
			ok = true;
			break;
		}
		if (p >= end) {
			ok = k > 0 && p == end && !good;
			break;
		}
		if (k && w->members && mtab_get(w, p, NULL)) {
			ok = !good;
			break;
		}
		if (!wread(w, p, hdr, 16))
			break;
		sf = chunk_size_field(hdr);
		if (k && main && ptm_fencepost(sf)) {
			ok = !good && fencepost_run(w, p, end) != 0;
			break;
		}
		sz = ptm_chunksize(sf);
		if (!plausible_size(sf, p, end) || (main && (sf & PTM_NON_MAIN_ARENA)) ||
		    (top && p < top && p + sz > top))
			break;
		if (good)
			vec_push(&seen, p);
		p += sz;
		if (max && k + 1 == max)
			ok = !good;
	}
	if (ok && good)
		for (size_t i = 0; i < seen.n; i++)
			u64map_put(good, seen.v[i], 1);
	vec_free(&seen);
	return ok;
}

/* Top against the end of its heap: glibc's own state says where the heap
 * ends (main arena: mp_.sbrk_base + system_mem; others: heap_info.size),
 * so a top of another size is damaged, and the finding is top's. */
static void
check_top(struct walker *w, unsigned ai, uint64_t end, const char *how)
{
	struct harena *ar = &w->h->arenas.v[ai];
	uint64_t top = ar->top, sz = ar->top_size, top_end = add_sat(top, sz);
	struct finding *f;

	if (ar->system_mem && sz > ar->system_mem)
		f = finding(w, FIND_ERROR, "top-size", top, (int)ai,
			    "top chunk 0x%" PRIx64 " has size 0x%" PRIx64 ", more than the arena's system_mem 0x%"
			    PRIx64 " (malloc(): corrupted top size)", top, sz, ar->system_mem);
	else if (top_end > end)
		f = finding(w, FIND_ERROR, "top-size", top, (int)ai,
			    "top chunk 0x%" PRIx64 " has size 0x%" PRIx64 ": it runs 0x%" PRIx64 " bytes past the "
			    "end of its heap at 0x%" PRIx64 " (%s): its size was enlarged", top, sz, top_end - end, end,
			    how);
	else if (top_end < end)
		f = finding(w, FIND_ERROR, "top-size", top, (int)ai,
			    "top chunk 0x%" PRIx64 " has size 0x%" PRIx64 ": it ends at 0x%" PRIx64 ", 0x%" PRIx64
			    " bytes before the end of its heap at 0x%" PRIx64 " (%s): its size was shrunk", top, sz,
			    top_end, end - top_end, end, how);
	else
		return;
	{
		const uint8_t *b = NULL;
		uint8_t hdr[8];
		if (target_read(w->t, top + 8, hdr, 8) == 0)
			b = hdr;
		if (b) {
			memcpy(f->bytes, b, 8);
			f->nbytes = 8;
			f->bytes_at = top + 8;
		}
	}
}

/* Non-contiguous main arena: where does the segment holding top start?
 * Segments are mmap()ed, so page-aligned: the lowest page start of the
 * mapped memory around top from which a chain of chunks reaches top. */
static uint64_t
segment_start(struct walker *w, uint64_t top)
{
	uint64_t lo = mapped_start(w, top), best = 0, pg = ALIGN_DOWN(top, PAGE);
	struct u64map good;

	if (!target_find_mapping(w->t, top))
		return 0;
	if (top - lo > (256ULL << 20))
		lo = ALIGN_DOWN(top - (256ULL << 20), PAGE);
	u64map_init(&good);
	for (;;) {
		if (pg == top || chain_reaches(w, pg, UINT64_MAX, top, true, 0, &good))
			best = pg;
		if (pg <= lo)
			break;
		pg -= PAGE;
	}
	u64map_free(&good);
	return best ? best : top;
}

/*
 * The main arena's heap.  Contiguous (NONCONTIGUOUS_BIT clear, the usual
 * case): one stretch from mp_.sbrk_base of system_mem bytes, however the
 * kernel happens to split it into mappings; memory another sbrk() user
 * took in between sits behind glibc's fenceposts inside it.  Non-
 * contiguous (brk could not grow, glibc went on in mmap()ed memory): the
 * sbrk segment up to its fenceposts, the segment holding top, and older
 * segments merged into the same mapping after it.
 */
static void
collect_main(struct walker *w, unsigned ai)
{
	const struct malloc_layout *L = w->L;
	struct harena *ar = &w->h->arenas.v[ai];
	uint64_t base = mi_mp(w->mi, L->mp_sbrk_base), start, end;
	const struct mapping *tm = ar->top ? target_find_mapping(w->t, ar->top) : NULL;
	bool from_mp = base != 0 && w->mi->mp;

	ar->contiguous = !(ar->flags & PTM_NONCONTIGUOUS_BIT);
	if (base && !target_find_mapping(w->t, base)) {
		finding(w, FIND_ERROR, "mp-field", 0, (int)ai,
			"mp_.sbrk_base 0x%" PRIx64 " is not mapped memory: the start of the main heap is lost; "
			"walking from [heap]", base);
		base = 0;
		from_mp = false;
	}
	if (!base) {
		for (size_t i = 0; i < w->t->nmaps; i++)
			if (w->t->maps[i].path && !strcmp(w->t->maps[i].path, "[heap]")) {
				base = w->t->maps[i].start;
				break;
			}
	}
	if (!base && tm)
		base = tm->start;
	if (!base || !ar->top)
		return;
	start = ALIGN_UP(base, PTM_ALIGN);
	if (ar->contiguous) {
		struct hheap hh;
		const char *how = "mp_.sbrk_base + system_mem";
		if (from_mp && ar->system_mem) {
			end = add_sat(base, ar->system_mem);
		} else {
			end = add_sat(ar->top, ar->top_size);
			how = "top's end: mp_ not found";
		}
		if (end > mapped_end(w, start) &&
		    !(ar->top >= start && add_sat(ar->top, ar->top_size) == end && gaps_small(w, start, end))) {
			finding(w, FIND_ERROR, "heap-size", 0, (int)ai,
				"the main heap should end at 0x%" PRIx64 " (%s), but its memory ends at 0x%" PRIx64
				": system_mem 0x%" PRIx64 " is damaged, or the memory was taken away", end, how,
				mapped_end(w, start), ar->system_mem);
			end = mapped_end(w, start);
		}
		if (ar->top < start || ar->top >= end)
			finding(w, FIND_ERROR, "top-pointer", 0, (int)ai,
				"main_arena.top 0x%" PRIx64 " is outside the main heap 0x%" PRIx64 "-0x%" PRIx64,
				ar->top, start, end);
		else
			check_top(w, ai, end, how);
		hh.info = 0;
		hh.start = start;
		hh.end = end;
		hh.size = end - base;
		vec_push(&ar->heaps, hh);
		add_span(w, ai, 0, start, end, ar->top);
		return;
	}
	/* non-contiguous: the first segment, up to its fenceposts (the walk
	 * stops there), unless top is in it */
	{
		uint64_t lim = mapped_end(w, start), top_end, s2;
		struct rspan *sp;
		if (ar->top >= start && ar->top < lim) {
			end = add_sat(ar->top, ar->top_size);
			if (end > lim)
				end = lim;
			check_top(w, ai, end, "the end of its mapping");
			add_span(w, ai, 0, start, end, ar->top);
			return;
		}
		sp = add_span(w, ai, 0, start, lim, 0);
		if (sp)
			sp->segment = true;
		if (!tm)
			return;
		/* the segment holding top */
		s2 = segment_start(w, ar->top);
		top_end = add_sat(ar->top, ar->top_size);
		if (top_end > mapped_end(w, ar->top)) {
			check_top(w, ai, mapped_end(w, ar->top), "the end of its mapping");
			top_end = mapped_end(w, ar->top);
		}
		add_span(w, ai, 0, s2, top_end, ar->top);
		/* older segments mmap()ed above it, merged into one mapping */
		for (int n = 0; n < 1024 && top_end + PAGE <= mapped_end(w, top_end) &&
				(top_end & (PAGE - 1)) == 0; n++) {
			uint64_t fp = 0, p = top_end;
			uint64_t lim2 = mapped_end(w, top_end);
			if (!chain_reaches(w, p, lim2, 0, true, 0, NULL))
				break;
			/* walk to its fenceposts to know where it ends */
			for (int k = 0; k < 1 << 24 && p + 16 <= lim2; k++) {
				uint8_t hdr[16];
				if (!wread(w, p, hdr, 16))
					break;
				if (ptm_fencepost(chunk_size_field(hdr))) {
					fp = fencepost_run(w, p, lim2);
					break;
				}
				if (!plausible_size(chunk_size_field(hdr), p, lim2))
					break;
				p += ptm_chunksize(chunk_size_field(hdr));
			}
			if (!fp)
				break;
			sp = add_span(w, ai, 0, top_end, fp, 0);
			if (sp)
				sp->segment = true;
			top_end = fp;
		}
	}
}

static void
collect_heaps(struct walker *w)
{
	const struct malloc_layout *L = w->L;
	uint64_t hmask = ~(w->mi->heap_max - 1);
	struct u64map seen;	/* heap_info addresses already taken */

	u64map_init(&seen);

	for (size_t ai = 0; ai < w->h->arenas.n; ai++) {
		struct harena *ar = &w->h->arenas.v[ai];
		ar->top_size = top_size_of(w, ar);
		if (ar->main) {
			collect_main(w, (unsigned)ai);
			continue;
		}
		/* non-main: from the heap holding top back through prev */
		{
			uint64_t h = ar->top & hmask;
			int n;
			for (n = 0; h && n < MAX_HEAPS_PER_ARENA; n++) {
				uint8_t hi[64];
				uint64_t size, start, end;
				bool first, holds_top;
				bool created;
				if (h & ~hmask) {
					finding(w, FIND_ERROR, "heap-link", 0, (int)ai,
						"heap_info.prev 0x%" PRIx64 " of arena 0x%" PRIx64 " is not aligned to the "
						"heap size 0x%" PRIx64, h, ar->addr, w->mi->heap_max);
					break;
				}
				u64map_slot(&seen, h, &created);
				if (!created) {
					finding(w, FIND_ERROR, "heap-cycle", 0, (int)ai,
						"heap 0x%" PRIx64 " of arena 0x%" PRIx64 " is reached twice (the heap_info "
						"prev chain loops)", h, ar->addr);
					break;
				}
				if (L->hi_size > sizeof(hi) || target_read(w->t, h, hi, L->hi_size) < 0) {
					finding(w, FIND_ERROR, "heap-unreadable", 0, (int)ai,
						"heap_info at 0x%" PRIx64 " of arena 0x%" PRIx64 " cannot be read", h,
						ar->addr);
					break;
				}
				if (hi_ar_ptr(L, hi) != ar->addr) {
					finding(w, FIND_ERROR, "heap-arena", 0, (int)ai,
						"heap_info at 0x%" PRIx64 " names arena 0x%" PRIx64 ", not 0x%" PRIx64, h,
						hi_ar_ptr(L, hi), ar->addr);
					break;
				}
				size = hi_size(L, hi);
				if (size < L->hi_size || size > w->mi->heap_max) {
					finding(w, FIND_ERROR, "heap-size", 0, (int)ai,
						"heap_info at 0x%" PRIx64 " has size 0x%" PRIx64, h, size);
					break;
				}
				first = h + L->hi_size == ar->addr;
				start = first ? ptm_first_chunk_first_heap(L, h) : ptm_first_chunk_heap(L, h);
				holds_top = ar->top >= h && ar->top < h + w->mi->heap_max;
				if (hi_mprotect_size(L, hi) && size > hi_mprotect_size(L, hi) && L->hi_mprotect_size >= 0)
					finding(w, FIND_ERROR, "heap-size", 0, (int)ai,
						"heap_info at 0x%" PRIx64 " has size 0x%" PRIx64 ", more than its "
						"mprotect_size 0x%" PRIx64 " (glibc never makes it so)", h, size,
						hi_mprotect_size(L, hi));
				end = h + size;
				if (holds_top && ar->top >= end)
					finding(w, FIND_ERROR, "top-pointer", 0, (int)ai,
						"top 0x%" PRIx64 " of arena 0x%" PRIx64 " lies beyond the end of its heap "
						"0x%" PRIx64 "-0x%" PRIx64 " (heap_info.size)", ar->top, ar->addr, h, end);
				else if (holds_top)
					check_top(w, (unsigned)ai, end, "heap_info.size");
				{
					struct hheap hh = { h, start, end, size };
					vec_push(&ar->heaps, hh);
				}
				add_span(w, (unsigned)ai, h, start, end, ar->top);
				if (first)
					break;
				h = hi_prev(L, hi);
			}
		}
	}
	u64map_free(&seen);
}

/* mp_ (malloc_par) holds values glibc never sets: each is a finding,
 * since malloc acts on them at its next call. */
static void
check_mp(struct walker *w)
{
	const struct malloc_layout *L = w->L;
	struct malloc_info *mi = w->mi;

	if (!mi->mp)
		return;
	if (L->has_tcache) {
		uint64_t bins = mi_mp(mi, L->mp_tcache_bins), nsmall = MIN(L->tc_nbins, 64);
		uint64_t count = mi_mp(mi, L->mp_tcache_count);
		uint64_t count_max = L->tc_count_width == 1 ? 0xff : 0xffff;
		uint64_t max_bytes = mi_mp(mi, L->mp_tcache_max_bytes);
		if (bins > nsmall)
			finding(w, FIND_ERROR, "mp-field", 0, -1,
				"mp_.tcache_bins (at 0x%" PRIx64 ") is %" PRIu64 ", more than the %" PRIu64 " bins a "
				"tcache has: malloc and free would index past the tcache_perthread_struct",
				mi->mp + (uint64_t)L->mp_tcache_bins, bins, nsmall);
		if (count > count_max)
			finding(w, FIND_ERROR, "mp-field", 0, -1,
				"mp_.tcache_count (at 0x%" PRIx64 ") is %" PRIu64 ", more than a tcache counter "
				"holds (%" PRIu64 ")", mi->mp + (uint64_t)L->mp_tcache_count, count, count_max);
		if (L->tc_nbins <= 64 && max_bytes > ptm_tcache_size(L->tc_nbins - 1) - PTM_SIZE_SZ)
			finding(w, FIND_ERROR, "mp-field", 0, -1,
				"mp_.tcache_max_bytes (at 0x%" PRIx64 ") is 0x%" PRIx64 ", beyond the largest "
				"tcache'd request 0x%" PRIx64, mi->mp + (uint64_t)L->mp_tcache_max_bytes, max_bytes,
				ptm_tcache_size(L->tc_nbins - 1) - PTM_SIZE_SZ);
	}
	if (L->mp_hp_pagesize >= 0) {
		uint64_t hp = mi_mp(mi, L->mp_hp_pagesize);
		if (hp & (hp - 1))
			finding(w, FIND_ERROR, "mp-field", 0, -1,
				"mp_.hp_pagesize (at 0x%" PRIx64 ") is 0x%" PRIx64 ", not a power of two",
				mi->mp + (uint64_t)L->mp_hp_pagesize, hp);
	}
	{
		/* DEFAULT_MMAP_THRESHOLD_MAX: 4 MiB * sizeof(long) */
		uint64_t thr = mi_mp(mi, L->mp_mmap_threshold);
		if (thr > (32ULL << 20))
			finding(w, FIND_WARNING, "mp-field", 0, -1,
				"mp_.mmap_threshold (at 0x%" PRIx64 ") is 0x%" PRIx64 ", above the 32 MiB glibc "
				"allows", mi->mp + (uint64_t)L->mp_mmap_threshold, thr);
	}
}

/* Heaps must not overlap (corrupted top or heap_info pointers can make
 * them): a span that starts inside the previous one is not walked. */
static void
drop_overlaps(struct walker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->spans.n; i++) {
		struct rspan *s = &w->spans.v[i];
		uint64_t base = s->info ? s->info : s->start;
		if (n && base < w->spans.v[n - 1].end) {
			finding(w, FIND_ERROR, "heap-overlap", 0, (int)s->arena,
				"heap 0x%" PRIx64 "-0x%" PRIx64 " of arena %u overlaps heap 0x%" PRIx64 "-0x%" PRIx64
				" of arena %u: not walked", base, s->end, s->arena, w->spans.v[n - 1].start,
				w->spans.v[n - 1].end, w->spans.v[n - 1].arena);
			continue;
		}
		w->spans.v[n++] = *s;
	}
	w->spans.n = n;
}

static int
span_cmp(const void *a, const void *b)
{
	const struct rspan *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int
cap_cmp(const void *a, const void *b)
{
	const struct cap *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int
region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- 2. bulk copies ---- */

/* Copy buffers are their own mappings, with transparent huge pages when
 * the kernel offers them: a 400 MB heap copy then costs a few hundred
 * page faults instead of a hundred thousand. */
static uint8_t *
region_alloc(size_t len)
{
	size_t maplen = ALIGN_UP(len + 16, 4096);
	uint8_t *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (len >= (2u << 20))
		madvise(p, maplen, MADV_HUGEPAGE);
#endif
	/* remember the length in front of the data for region_free */
	memcpy(p, &maplen, sizeof(maplen));
	return p + 16;
}

static void
region_free(uint8_t *owned)
{
	size_t maplen;
	if (!owned)
		return;
	memcpy(&maplen, owned - 16, sizeof(maplen));
	munmap(owned - 16, maplen);
}

#define FILL_WINDOW (512u << 10)	/* fits in L2 with room to spare */
#define WIN_KEEP 4096u			/* bytes a window slide keeps below its end */

/* A buffer for every span's region (from heap_info on, so the arena
 * struct and heap header are in the copy too).  Nothing is read yet: the
 * chunk walk fills each buffer as it gets there (span_fill), so the
 * headers it reads are still in the cache.  Core files and images are
 * used in place.  Without copies, every span's buffer is the one window. */
static void
plan_regions(struct walker *w)
{
	struct heap *h = w->h;

	for (size_t i = 0; i < w->spans.n; i++) {
		struct rspan *s = &w->spans.v[i];
		uint64_t start = s->rstart, len = s->end - start;
		struct region r = { start, s->end, NULL, NULL, i };
		const void *d = w->no_direct ? NULL : target_direct(w->t, start, len);

		if (s->end <= start)
			continue;
		if (!d && !w->copies) {
			if (!w->win) {
				w->wincap = w->window + WIN_KEEP;
				w->win = xmalloc(w->wincap);
			}
			s->buf = w->win;
			s->win = true;
		} else if (d) {
			r.data = d;
			s->buf = (uint8_t *)(uintptr_t)d;	/* (never written: filled already) */
			s->filled = s->end;
		} else {
			r.owned = region_alloc(len);
			w->copied += len;
			if (!r.owned) {
				finding(w, FIND_WARNING, "no-memory", 0, (int)s->arena,
					"cannot copy %" PRIu64 " bytes of heap at 0x%" PRIx64, len, start);
				s->end = s->start;	/* not walked */
				continue;
			}
			r.data = r.owned;
			s->buf = r.owned;
		}
		vec_push(&h->regions, r);
	}
	if (h->regions.n > 1)
		qsort(h->regions.v, h->regions.n, sizeof(*h->regions.v), region_cmp);
	/* regions must not overlap (a corrupted heap_info could make them):
	 * clip each one to start where the previous one ends */
	for (size_t i = 1; i < h->regions.n; i++) {
		struct region *r = &h->regions.v[i], *prev = &h->regions.v[i - 1];
		if (r->start < prev->end) {
			uint64_t cut = MIN(prev->end, r->end) - r->start;
			r->start += cut;
			r->data += cut;
		}
	}
}

/* The first address in [addr, hi) from which memory may be read again:
 * past mappings without read permission, past what a core did not
 * dump, else at the next page; hi if none. */
static uint64_t
next_readable(struct walker *w, uint64_t addr, uint64_t hi)
{
	while (addr < hi) {
		const struct mapping *m = target_find_mapping(w->t, addr);
		uint8_t b;
		uint64_t skip;
		if (!m) {
			/* a gap in the mappings (a core left it out) */
			uint64_t next = hi;
			for (size_t i = 0; i < w->t->nmaps; i++)
				if (w->t->maps[i].start > addr) {
					next = MIN(w->t->maps[i].start, hi);
					break;
				}
			addr = next;
			continue;
		}
		if (!(m->perms & MAP_PERM_R)) {
			addr = m->end;
			continue;
		}
		skip = target_skip_unreadable(w->t, addr, MIN(hi, m->end));
		if (skip > addr) {
			addr = skip;
			continue;
		}
		if (target_read_partial(w->t, addr, &b, 1) == 1)
			return addr;
		addr = ALIGN_DOWN(addr, PAGE) + PAGE;
	}
	return hi;
}

/* Is any of [addr, addr+len) in memory that could not be read? */
static bool
in_hole(const struct walker *w, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < w->holes.n; i++)
		if (addr < w->holes.v[i].end && addr + len > w->holes.v[i].start)
			return true;
	return false;
}

/* Keep the damaged header's bytes with the finding. */
static void
header_evidence(struct walker *w, struct finding *f, uint64_t at, size_t len)
{
	uint8_t tmp[WB_MAX];
	const uint8_t *b = len <= WB_MAX ? wbytes(w, at, len, tmp) : NULL;
	if (!b || len > sizeof(f->bytes) || in_hole(w, at, len))
		return;
	memcpy(f->bytes, b, len);
	f->nbytes = (uint8_t)len;
	f->bytes_at = at;
}

/* The window is the span's, and has room for [s->filled, to): else it
 * slides, keeping its last WIN_KEEP bytes (the chunk walk's header and
 * look-ahead).  Returns the end of the read that fits. */
static uint64_t
win_room(struct walker *w, struct rspan *s, uint64_t to)
{
	size_t si = (size_t)(s - w->spans.v);

	if (w->win_span != si) {
		/* another span's bytes: start empty */
		w->win_span = si;
		s->wlo = s->filled;
	}
	if (to - s->wlo > w->wincap) {
		uint64_t keep = s->filled - s->wlo > WIN_KEEP ? ALIGN_DOWN(s->filled - WIN_KEEP, 16) : s->wlo;
		memmove(s->buf, s->buf + (keep - s->wlo), (size_t)(s->filled - keep));
		s->wlo = keep;
		to = MIN(to, s->wlo + w->wincap);
	}
	return to;
}

/* Copy the span's region up to at least upto (a window at a time).
 * Memory that cannot be read (an mprotect()ed page inside a block, a
 * page a core did not dump) stays zero in the copy and is remembered as
 * a hole; when nothing after it can be read, the region and the span end
 * there.  Without a copy the bytes go through the window, which slides;
 * all of them are read all the same. */
static void
span_fill(struct walker *w, struct rspan *s, uint64_t upto)
{
	while (s->filled < upto && s->filled < s->end) {
		uint64_t to = MIN(s->end, MAX(upto, s->filled + FILL_WINDOW));
		size_t want, got;

		if (s->win)
			to = win_room(w, s, to);
		want = (size_t)(to - s->filled);
		got = target_read_partial(w->t, s->filled, s->buf + (s->filled - s->wlo), want);
		w->h->bytes_read += got;
		if (got < want) {
			uint64_t stop = s->filled + got, again = next_readable(w, stop, s->end);
			if (again < s->end) {
				struct hole hl = { stop, again };
				vec_push(&w->holes, hl);
				w->h->arenas.v[s->arena].unreadable += again - stop;
				debug_msg("heap memory 0x%" PRIx64 "-0x%" PRIx64 " cannot be read: zeros in the copy",
					  stop, again);
				if (s->win) {
					/* zeros in the window too, as far as it goes */
					uint64_t z = MIN(again, s->wlo + w->wincap);
					memset(s->buf + (stop - s->wlo), 0, (size_t)(z - stop));
					if (z < again)
						s->wlo = again;	/* (nothing below it kept) */
				}
				s->filled = again;
				continue;
			}
			finding(w, FIND_ERROR, "heap-unreadable", 0, (int)s->arena,
				"heap memory at 0x%" PRIx64 " cannot be read (%" PRIu64 " of %" PRIu64
				" bytes read)", stop, stop - s->rstart, s->end - s->rstart);
			for (size_t i = 0; i < w->h->regions.n; i++) {
				struct region *r = &w->h->regions.v[i];
				if (r->span == (size_t)(s - w->spans.v))
					r->end = MAX(stop, r->start);
			}
			s->end = MAX(stop, s->start);
			s->filled = stop;
			return;
		}
		s->filled = to;
	}
}
/* A bucket table over each span's captures (sorted by now): about two
 * captures a bucket, so that a free-list walk finds a member's first
 * bytes with one or two cache misses instead of a binary search through
 * the captures (its members come in no address order). */
static void
cap_index(struct walker *w)
{
	size_t at = 0;

	if (w->caps_unsorted || !w->caps.n || w->caps.n >= UINT32_MAX)
		return;
	for (size_t si = 0; si < w->spans.n; si++) {
		struct rspan *s = &w->spans.v[si];
		uint64_t lo = s->rstart, len = MAX(s->end, s->filled) - s->rstart;
		size_t first, n, nb, k;
		unsigned shift = 5;

		s->cap_nb = 0;
		while (at < w->caps.n && w->caps.v[at].addr < lo)
			at++;
		first = at;
		while (at < w->caps.n && w->caps.v[at].addr < lo + len)
			at++;
		n = at - first;
		if (!n || !len)
			continue;
		while (shift < 40 && (len >> shift) > n / 2 + 1)
			shift++;
		nb = (size_t)((len - 1) >> shift) + 1;
		s->cap_base = lo;
		s->cap_shift = shift;
		s->cap_nb = nb;
		s->cap_tab = w->cap_tab.n;
		vec_reserve(&w->cap_tab, w->cap_tab.n + nb + 1);
		k = first;
		for (size_t b = 0; b <= nb; b++) {
			uint64_t ba = lo + ((uint64_t)b << shift);
			while (k < at && (b == nb || w->caps.v[k].addr < ba))
				k++;
			w->cap_tab.v[w->cap_tab.n++] = (uint32_t)k;
		}
	}
}

/* ---- 3. free lists ---- */

static struct hlist *
list_begin(struct walker *w, enum chunk_state st, unsigned index, unsigned owner, uint32_t declared)
{
	struct hlist l = { (uint8_t)st, (uint16_t)index, (uint16_t)owner, (uint32_t)w->h->list_chunks.n, 0,
			   declared, false };
	vec_push(&w->h->lists, l);
	return &w->h->lists.v[w->h->lists.n - 1];
}

static void
list_add(struct walker *w, uint64_t chunk)
{
	vec_push(&w->h->list_chunks, chunk);
	w->h->lists.v[w->h->lists.n - 1].count++;
}

static void
list_end(struct walker *w, bool broken)
{
	struct hlist *l = &w->h->lists.v[w->h->lists.n - 1];
	l->broken = broken;
	if (l->count == 0 && !broken && l->declared == 0)
		w->h->lists.n--;	/* keep only lists with something to say */
}

/* The arena whose heap holds addr, or -1. */
static int
arena_of(const struct walker *w, uint64_t addr)
{
	for (size_t i = 0; i < w->spans.n; i++) {
		const struct rspan *sp = &w->spans.v[i];
		if (addr >= (sp->info ? sp->info : sp->start) && addr < sp->end)
			return (int)sp->arena;
	}
	return -1;
}

/* The usable bytes of the chunk at c as its header says (0 if unknown). */
static uint64_t
usable_at(struct walker *w, uint64_t c)
{
	uint64_t sf;
	if (!wread64(w, c + 8, &sf))
		return 0;
	return ptm_usable(ptm_chunksize(sf), ptm_is_mmapped(sf));
}

/* "tcache bin 3 of thread 123", "fastbin 2 of arena 0", ... */
static void
memb_where(const struct walker *w, uint64_t memb, char *buf, size_t len)
{
	unsigned st = MEMB_STATE(memb);
	if (st == CS_TCACHE && MEMB_OWNER(memb) < w->h->tcaches.n)
		snprintf(buf, len, "tcache bin %u of thread %d", MEMB_LIST(memb),
			 (int)w->h->tcaches.v[MEMB_OWNER(memb)].tid);
	else if (st == CS_TOP)
		snprintf(buf, len, "top of arena %u", MEMB_ARENA(memb));
	else
		snprintf(buf, len, "%s %u of arena %u", chunk_state_name(st), MEMB_LIST(memb), MEMB_ARENA(memb));
}

/* Record p as a member of a list; false (and a finding) if it is already
 * in one. */
static bool
add_member(struct walker *w, uint64_t p, uint64_t memb, const char *where)
{
	bool created;
	uint64_t *slot = mtab_slot(w, p, &created);
	if (!created) {
		uint64_t old = *slot;
		char was[64];
		struct finding *f;
		if (old == memb)
			return false;	/* a cycle: the caller reports it */
		memb_where(w, old, was, sizeof(was));
		f = finding(w, FIND_ERROR, "double-free", p,
			    MEMB_STATE(memb) == CS_TCACHE ? arena_of(w, p) : (int)MEMB_ARENA(memb),
			    "double free of block 0x%" PRIx64 " (%" PRIu64 " bytes): it is in two free lists, %s "
			    "and %s", p + 16, usable_at(w, p), was, where);
		f->block = p + 16;
		f->block_size = usable_at(w, p);
		if (MEMB_STATE(memb) == CS_TCACHE && MEMB_OWNER(memb) < w->h->tcaches.n)
			f->tid = (int)w->h->tcaches.v[MEMB_OWNER(memb)].tid;
		return false;
	}
	*slot = memb;
	return true;
}

/* Every counter and every list head zero? */
static bool
tcache_all_zero(const struct malloc_layout *L, const uint8_t *tc)
{
	for (unsigned i = 0; i < L->tc_nbins; i++)
		if (tc_count(L, tc, i) || tc_entry(L, tc, i))
			return false;
	return true;
}

/* A tcache finding: on the chunk named, in the arena whose heap holds it,
 * for the thread. */
static struct finding *
tc_finding(struct walker *w, const char *kind, uint64_t chunk, pid_t tid, const char *fmt, ...) PRINTF(5, 6);

static struct finding *
tc_finding(struct walker *w, const char *kind, uint64_t chunk, pid_t tid, const char *fmt, ...)
{
	struct finding *f;
	struct sbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	f = finding(w, FIND_ERROR, kind, chunk, arena_of(w, chunk), "%s", sb.s ? sb.s : "");
	sb_free(&sb);
	f->tid = (int)tid;
	return f;
}

static void
walk_tcaches(struct walker *w)
{
	const struct malloc_layout *L = w->L;
	struct malloc_info *mi = w->mi;
	uint64_t count_max = mi_mp(mi, L->mp_tcache_count);
	uint64_t tc_cap = mi_mp(mi, L->mp_tcache_count);
	struct u64map keys;

	u64map_init(&keys);
	if (!count_max || count_max > MAX_TCACHE_LIST)
		count_max = MAX_TCACHE_LIST;
	for (size_t k = 0; k < mi->tcaches.n; k++) {
		struct tcache_ref *ref = &mi->tcaches.v[k];
		struct htcache ht = { ref->tid, ref->tcache, ref->known, 0, 0 };
		uint64_t tchunk = ref->tcache - 16;	/* the struct's own chunk */
		uint8_t *tc;

		vec_push(&w->h->tcaches, ht);
		if (!ref->known || !ref->tcache)
			continue;
		tc = xmalloc(L->tc_size);
		if (!ptm_aligned(ref->tcache) || !wread(w, ref->tcache, tc, L->tc_size)) {
			tc_finding(w, "tcache-unreadable", tchunk, ref->tid,
				   "thread %d's tcache pointer 0x%" PRIx64 " is %s", ref->tid, ref->tcache,
				   ptm_aligned(ref->tcache) ? "not readable memory" : "misaligned");
			free(tc);
			continue;
		}
		if (L->tc_counts_are_free_slots && tcache_all_zero(L, tc)) {
			/* 2.43+: the static dummy a thread's tcache pointer holds
			 * before its tcache exists (or once it is disabled) */
			free(tc);
			continue;
		}
		for (unsigned i = 0; i < L->tc_nbins; i++) {
			uint64_t e = tc_entry(L, tc, i), n = 0, want = tc_count(L, tc, i);
			uint64_t limit;
			char where[64];
			bool broken = true;
			if (!e && want == (L->tc_counts_are_free_slots ? tc_cap : 0))
				continue;	/* empty and declared empty */
			snprintf(where, sizeof(where), "tcache bin %u of thread %d", i, ref->tid);
			if (L->tc_counts_are_free_slots) {
				/* num_slots[] counts the free slots left of
				 * mp_.tcache_count: the entries are the rest */
				if (want > tc_cap) {
					struct finding *f = tc_finding(w, "tcache-count", tchunk, ref->tid,
						"thread %d's tcache_perthread_struct is damaged: num_slots[%u] says %"
						PRIu64 " free slots, more than tcache_count %" PRIu64, ref->tid, i,
						want, tc_cap);
					f->field = ref->tcache + L->tc_counts_off + (uint64_t)i * L->tc_count_width;
					want = 0;
				} else {
					want = tc_cap - want;
				}
			} else if (tc_cap && want > tc_cap) {
				/* tcache_put never counts past mp_.tcache_count */
				struct finding *f = tc_finding(w, "tcache-count", tchunk, ref->tid,
					"thread %d's tcache_perthread_struct is damaged: counts[%u] is %" PRIu64
					", more than mp_.tcache_count %" PRIu64 " (free never fills a bin past it)",
					ref->tid, i, want, tc_cap);
				f->field = ref->tcache + L->tc_counts_off + (uint64_t)i * L->tc_count_width;
			}
			limit = MAX(want, count_max) + 1;
			list_begin(w, CS_TCACHE, i, (unsigned)k, (uint32_t)want);
			uint64_t holder = tchunk;	/* the chunk holding the pointer */
			uint64_t field = ref->tcache + L->tc_entries_off + 8 * (uint64_t)i;
			while (e && n < limit) {
				uint64_t c = e - 16, sf, next, key;
				if (!ptm_aligned(e) || !in_heap(w, c, 32)) {
					const char *what = ptm_aligned(e) ? "outside every heap" : "misaligned";
					struct finding *f;
					if (n)
						f = tc_finding(w, ptm_aligned(e) ? "tcache-outside-heap" : "tcache-misaligned",
							       holder, ref->tid,
							       "free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after "
							       "free: its tcache next pointer (in %s) is 0x%" PRIx64 ", %s%s",
							       holder + 16, usable_at(w, holder), where, e, what,
							       ptm_aligned(e) ? "" : " (malloc(): unaligned tcache chunk detected)");
					else
						f = tc_finding(w, ptm_aligned(e) ? "tcache-outside-heap" : "tcache-misaligned",
							       holder, ref->tid,
							       "thread %d's tcache_perthread_struct is damaged: the head of "
							       "tcache bin %u is 0x%" PRIx64 ", %s%s", ref->tid, i, e, what,
							       ptm_aligned(e) ? "" : " (malloc(): unaligned tcache chunk detected)");
					f->field = field;
					header_evidence(w, f, field, 8);
					break;
				}
				wread64(w, c + 8, &sf);
				if (ptm_chunksize(sf) != ptm_tcache_size(i) && !(L->tc_nbins > 64 && i >= 64)) {
					struct finding *f = tc_finding(w, "tcache-size", c, ref->tid,
						"free block 0x%" PRIx64 " in %s has chunk size 0x%" PRIx64 ", the bin holds "
						"0x%" PRIx64 ": its size field or the list was overwritten", e, where,
						ptm_chunksize(sf), ptm_tcache_size(i));
					header_evidence(w, f, c + 8, 8);
				}
				if (!add_member(w, c, MEMB(CS_TCACHE, i, k, HEAP_NO_ARENA), where)) {
					uint64_t old = 0;
					mtab_get(w, c, &old);
					if (old == MEMB(CS_TCACHE, i, k, HEAP_NO_ARENA)) {
						struct finding *f = tc_finding(w, "tcache-cycle", c, ref->tid,
							"double free of block 0x%" PRIx64 " (%" PRIu64 " bytes): %s loops back "
							"to it", e, usable_at(w, c), where);
						f->block = e;
						f->block_size = usable_at(w, c);
					}
					break;
				}
				list_add(w, c);
				w->h->tcaches.v[k].chunks++;
				w->h->tcaches.v[k].bytes += ptm_chunksize(sf);
				if (L->te_key >= 0 && wread64(w, e + L->te_key, &key)) {
					struct tckey tk = { c, key, ref->tcache, (unsigned)k, i };
					(*u64map_slot(&keys, key, NULL))++;
					vec_push(&w->tc_keys, tk);
				}
				wread64(w, e + L->te_next, &next);
				holder = c;
				field = e + L->te_next;
				e = L->safe_linking ? ptm_reveal(e + L->te_next, next) : next;
				n++;
			}
			if (!e)
				broken = false;
			list_end(w, broken);
			if (e && n >= limit)
				tc_finding(w, "tcache-too-long", tchunk, ref->tid,
					   "%s: more than %" PRIu64 " entries (free(): too many chunks detected in tcache)",
					   where, limit - 1);
			if (n != want && !e) {
				struct finding *f = tc_finding(w, "tcache-count", tchunk, ref->tid,
					"thread %d's tcache_perthread_struct is damaged, or a list: %s %s %" PRIu64
					" entries, the list has %" PRIu64, ref->tid, where,
					L->tc_counts_are_free_slots ? "num_slots[] leaves" : "counts[] says", want, n);
				f->field = ref->tcache + L->tc_counts_off + (uint64_t)i * L->tc_count_width;
			}
		}
		free(tc);
	}
	/* without the tcache_key symbol: the key every entry carries (2.34+) */
	if (!mi->have_tcache_key && L->te_key >= 0 && !L->te_key_is_tcache_ptr) {
		size_t it = 0, total = 0;
		uint64_t k, v, best = 0, bestv = 0;
		while (u64map_next(&keys, &it, &k, &v)) {
			total += v;
			if (v > bestv) {
				best = k;
				bestv = v;
			}
		}
		if (bestv >= 2 && bestv * 2 > total) {
			mi->tcache_key = best;
			mi->have_tcache_key = true;
			mi->tcache_key_how = "entries-vote";
		}
	}
	u64map_free(&keys);
	/* every free tcache chunk carries the key glibc's double-free check
	 * looks for: one that does not was written after free */
	for (size_t i = 0; i < w->tc_keys.n; i++) {
		const struct tckey *tk = &w->tc_keys.v[i];
		uint64_t want = L->te_key_is_tcache_ptr ? tk->tcache : mi->tcache_key;
		struct finding *f;
		if (!L->te_key_is_tcache_ptr && !mi->have_tcache_key)
			break;
		if (tk->key == want)
			continue;
		f = tc_finding(w, "tcache-key", tk->chunk, w->h->tcaches.v[tk->thread].tid,
			       "free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: its tcache key "
			       "is 0x%" PRIx64 ", not %s 0x%" PRIx64 " (tcache bin %u of thread %d)", tk->chunk + 16,
			       usable_at(w, tk->chunk), tk->key, L->te_key_is_tcache_ptr ? "its tcache" : "tcache_key",
			       want, tk->bin, (int)w->h->tcaches.v[tk->thread].tid);
		f->block = tk->chunk + 16;
		f->block_size = usable_at(w, tk->chunk);
		header_evidence(w, f, tk->chunk + 16, 16);
	}
}

static void
walk_fastbins(struct walker *w, unsigned ai)
{
	struct harena *ar = &w->h->arenas.v[ai];
	const struct malloc_layout *L = w->L;

	for (unsigned i = 0; i < ar->nfast && i < 16; i++) {
		uint64_t p = ar->fastbin_heads[i], n = 0;
		char where[64];
		if (!p)
			continue;	/* empty */
		snprintf(where, sizeof(where), "fastbin %u of arena %u", i, ai);
		list_begin(w, CS_FASTBIN, i, ai, 0);
		uint64_t holder = 0;	/* the chunk whose fd led here (0: the head) */
		uint64_t field = ar->addr + (uint64_t)L->ms_fastbins + 8 * (uint64_t)i;
		while (p && n < w->list_cap) {
			uint64_t sf, fd;
			if (!ptm_aligned(p) || !in_heap(w, p, 32)) {
				const char *kind = ptm_aligned(p) ? "fastbin-outside-heap" : "fastbin-misaligned";
				const char *what = ptm_aligned(p) ? "outside every heap" :
						   "misaligned (malloc(): unaligned fastbin chunk detected)";
				struct finding *f;
				if (holder)
					f = finding(w, FIND_ERROR, kind, holder, (int)ai,
						    "free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: its "
						    "fd (in %s) is 0x%" PRIx64 ", %s", holder + 16, usable_at(w, holder), where,
						    p, what);
				else
					f = finding(w, FIND_ERROR, kind, p, (int)ai,
						    "arena %u's malloc_state is damaged: the head of fastbin %u is 0x%" PRIx64
						    ", %s", ai, i, p, what);
				f->field = field;
				header_evidence(w, f, field, 8);
				break;
			}
			wread64(w, p + 8, &sf);
			if (ptm_chunksize(sf) < PTM_MINSIZE || ptm_fastbin_index(ptm_chunksize(sf)) != i) {
				struct finding *f = finding(w, FIND_ERROR, "fastbin-size", p, (int)ai,
					"free block 0x%" PRIx64 " in %s has chunk size 0x%" PRIx64 ", the bin holds 0x%"
					PRIx64 ": its size field or the list was overwritten (malloc(): memory corruption "
					"(fast))", p + 16, where, ptm_chunksize(sf), ptm_fastbin_size(i));
				header_evidence(w, f, p + 8, 8);
			}
			if (!add_member(w, p, MEMB(CS_FASTBIN, i, 0, ai), where)) {
				uint64_t old = 0;
				mtab_get(w, p, &old);
				if (old == MEMB(CS_FASTBIN, i, 0, ai)) {
					struct finding *f = finding(w, FIND_ERROR, "fastbin-cycle", p, (int)ai,
						"double free of block 0x%" PRIx64 " (%" PRIu64 " bytes): %s loops back to "
						"it", p + 16, usable_at(w, p), where);
					f->block = p + 16;
					f->block_size = usable_at(w, p);
				}
				break;
			}
			list_add(w, p);
			wread64(w, p + 16, &fd);
			holder = p;
			field = p + 16;
			p = L->safe_linking ? ptm_reveal(p + 16, fd) : fd;
			n++;
		}
		w->h->lists.v[w->h->lists.n - 1].declared = (uint32_t)n;
		list_end(w, p != 0);
	}
}

/* A large bin, just walked (the last list): sorted by decreasing size,
 * the first chunk of each size in the fd_nextsize/bk_nextsize ring of
 * first chunks, the others with both NULL (unlink_chunk follows a
 * non-NULL fd_nextsize: "corrupted double-linked list (not small)"). */
static void
check_nextsize(struct walker *w, unsigned ai, unsigned bin, const char *where)
{
	const struct hlist *l = &w->h->lists.v[w->h->lists.n - 1];
	const uint64_t *c = w->h->list_chunks.v + l->first;
	VEC(uint64_t) firsts;
	uint64_t prev_sz = 0;

	memset(&firsts, 0, sizeof(firsts));
	for (uint32_t k = 0; k < l->count; k++) {
		uint64_t sf = 0, sz;
		wread64(w, c[k] + 8, &sf);
		sz = ptm_chunksize(sf);
		if (k && sz > prev_sz) {
			struct finding *f = finding(w, FIND_ERROR, "largebin-order", c[k], (int)ai,
				"free block 0x%" PRIx64 " of chunk size 0x%" PRIx64 " follows a smaller one (0x%" PRIx64 ") "
				"in %s, which glibc keeps sorted: a size field was overwritten", c[k] + 16, sz, prev_sz,
				where);
			header_evidence(w, f, c[k] + 8, 8);
		}
		if (!k || sz != prev_sz)
			vec_push(&firsts, c[k]);
		else {
			uint64_t fdn = 0, bkn = 0;
			wread64(w, c[k] + 32, &fdn);
			wread64(w, c[k] + 40, &bkn);
			if (fdn || bkn) {
				struct finding *f = finding(w, FIND_ERROR, "largebin-nextsize", c[k], (int)ai,
					"free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: it is not the "
					"first of its size in %s, yet its fd_nextsize/bk_nextsize are 0x%" PRIx64 "/0x%"
					PRIx64 ", not NULL (corrupted double-linked list (not small))", c[k] + 16,
					usable_at(w, c[k]), where, fdn, bkn);
				f->field = c[k] + 32;
				header_evidence(w, f, c[k] + 32, 16);
			}
		}
		prev_sz = sz;
	}
	for (size_t j = 0; j < firsts.n; j++) {
		uint64_t p = firsts.v[j], fdn = 0, bkn = 0;
		uint64_t want_fd = firsts.v[(j + 1) % firsts.n], want_bk = firsts.v[(j + firsts.n - 1) % firsts.n];
		wread64(w, p + 32, &fdn);
		wread64(w, p + 40, &bkn);
		if (fdn != want_fd || bkn != want_bk) {
			struct finding *f = finding(w, FIND_ERROR, "largebin-nextsize", p, (int)ai,
				"free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: its fd_nextsize/"
				"bk_nextsize (in %s) are 0x%" PRIx64 "/0x%" PRIx64 ", the ring of the bin's sizes wants "
				"0x%" PRIx64 "/0x%" PRIx64 " (corrupted double-linked list (not small); malloc(): "
				"largebin double linked list corrupted (nextsize))", p + 16, usable_at(w, p), where,
				fdn, bkn, want_fd, want_bk);
			f->field = fdn != want_fd ? p + 32 : p + 40;
			header_evidence(w, f, p + 32, 16);
		}
	}
	vec_free(&firsts);
	(void)bin;
}

static void
walk_bins(struct walker *w, unsigned ai)
{
	struct harena *ar = &w->h->arenas.v[ai];
	const struct malloc_layout *L = w->L;
	const uint8_t *ms = w->ms[ai];

	for (unsigned i = 1; i < L->nbins; i++) {
		uint64_t head = ms_bin_at(L, ar->addr, i), p = ms_bin_fd(L, ms, i), prev = head, n = 0;
		enum chunk_state st = i == 1 ? CS_UNSORTED : i < PTM_NSMALLBINS ? CS_SMALLBIN : CS_LARGEBIN;
		char where[64];

		if (!p && !ms_bin_bk(L, ms, i))
			continue;	/* not initialised */
		if (p == head && ms_bin_bk(L, ms, i) == head)
			continue;	/* empty */
		snprintf(where, sizeof(where), "%s %u of arena %u", chunk_state_name(st), i, ai);
		list_begin(w, st, i, ai, 0);
		while (p != head && n < w->list_cap) {
			uint64_t sf, fd, bk, sz;
			if (!ptm_aligned(p) || !in_heap(w, p, 32)) {
				const char *what = ptm_aligned(p) ? "outside every heap" : "misaligned";
				struct finding *f;
				if (prev == head)
					f = finding(w, FIND_ERROR, "bin-link", p, (int)ai,
						    "arena %u's malloc_state is damaged: the head of %s is 0x%" PRIx64 ", %s "
						    "(corrupted double-linked list)", ai, where, p, what);
				else
					f = finding(w, FIND_ERROR, "bin-link", prev, (int)ai,
						    "free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: its fd "
						    "(in %s) is 0x%" PRIx64 ", %s (corrupted double-linked list)", prev + 16,
						    usable_at(w, prev), where, p, what);
				f->field = prev + 16;
				header_evidence(w, f, prev + 16, 8);
				break;
			}
			{
				/* size and links in one look-up (the same bytes
				 * as three: [p+8, p+32) is in one region) */
				uint8_t tmp[24];
				const uint8_t *b = wbytes(w, p + 8, 24, tmp);
				if (b) {
					memcpy(&sf, b, 8);
					memcpy(&fd, b + 8, 8);
					memcpy(&bk, b + 16, 8);
				} else {
					wread64(w, p + 8, &sf);
					wread64(w, p + 16, &fd);
					wread64(w, p + 24, &bk);
				}
			}
			sz = ptm_chunksize(sf);
			if (bk != prev) {
				struct finding *f = finding(w, FIND_ERROR, "bin-link", p, (int)ai,
					"free block 0x%" PRIx64 " (%" PRIu64 " bytes) was written after free: its bk (in %s) "
					"is 0x%" PRIx64 ", expected 0x%" PRIx64 " (corrupted double-linked list)", p + 16,
					usable_at(w, p), where, bk, prev);
				f->field = p + 24;
				header_evidence(w, f, p + 16, 16);
			}
			if (sz < PTM_MINSIZE || (i > 1 && ptm_bin_index(sz) != i)) {
				struct finding *f = finding(w, FIND_ERROR, "bin-index", p, (int)ai,
					"free block 0x%" PRIx64 " in %s has chunk size 0x%" PRIx64 ", which belongs in bin %u: "
					"its size field was overwritten, or the list", p + 16, where, sz,
					sz >= PTM_MINSIZE ? ptm_bin_index(sz) : 0);
				header_evidence(w, f, p + 8, 8);
			}
			if (!add_member(w, p, MEMB(st, i, 0, ai), where)) {
				uint64_t old = 0;
				mtab_get(w, p, &old);
				if (old == MEMB(st, i, 0, ai)) {
					struct finding *f = finding(w, FIND_ERROR, "bin-cycle", p, (int)ai,
						"probable double free of block 0x%" PRIx64 " (%" PRIu64 " bytes): %s loops "
						"back to it (or its links were written after free)", p + 16, usable_at(w, p),
						where);
					f->block = p + 16;
					f->block_size = usable_at(w, p);
				}
				break;
			}
			list_add(w, p);
			prev = p;
			p = fd;
			n++;
		}
		w->h->lists.v[w->h->lists.n - 1].declared = (uint32_t)n;
		list_end(w, p != head);
		if (p == head && ms_bin_bk(L, ms, i) != prev) {
			struct finding *f = finding(w, FIND_ERROR, "bin-link", prev, (int)ai,
				"arena %u's malloc_state is damaged, or a list: the bk of %s's head is 0x%" PRIx64
				", its last chunk is 0x%" PRIx64 " (corrupted double-linked list)", ai, where,
				ms_bin_bk(L, ms, i), prev);
			f->field = head + 24;
		}
		if (st == CS_LARGEBIN && p == head && n)
			check_nextsize(w, ai, i, where);
	}
	if (ar->top) {
		bool created;
		uint64_t *slot = mtab_slot(w, ar->top, &created);
		if (!created && MEMB_STATE(*slot) == CS_TOP)
			;	/* two arenas' tops: a top-pointer finding says which is wrong */
		else if (!created)
			finding(w, FIND_ERROR, "top-in-bin", ar->top, (int)ai,
				"top chunk 0x%" PRIx64 " of arena %u is also in a free list", ar->top, ai);
		if (created || MEMB_STATE(*slot) != CS_TOP)
			*slot = MEMB(CS_TOP, 0, 0, ai);
	}
}

/* ---- 4. the chunk walk ---- */

static void
not_a_chunk(struct walker *w, const struct member *m)
{
	unsigned st = MEMB_STATE(m->memb);
	finding(w, FIND_ERROR, "list-not-chunk", m->addr, st == CS_TCACHE ? arena_of(w, m->addr) : (int)MEMB_ARENA(m->memb),
		"0x%" PRIx64 " is in %s %u but is not a chunk boundary of the heap walk", m->addr,
		chunk_state_name(st), MEMB_LIST(m->memb));
}

/* The membership map as an array sorted by address: an LSD radix sort
 * on 11-bit digits of the address (chunks are 16-aligned: bits 4..63). */
static void
sort_members(struct walker *w)
{
	size_t n = 0;
	uint64_t all = 0;
	struct member *tmp;

	w->members = big_calloc(w->mtab_n, sizeof(*w->members));
	for (size_t i = 0; i < w->mtab_cap; i++)
		if (w->mtab[i].addr) {
			w->members[n++] = w->mtab[i];
			all |= w->mtab[i].addr;
		}
	tmp = big_calloc(n, sizeof(*tmp));
	for (unsigned shift = 0; shift < 64 && (all >> shift); shift += 11) {
		size_t count[2048] = { 0 }, pos = 0;
		for (size_t i = 0; i < n; i++)
			count[(w->members[i].addr >> shift) & 2047]++;
		if (count[(w->members[0].addr >> shift) & 2047] == n)
			continue;	/* one bucket: nothing to move */
		for (size_t b = 0; b < 2048; b++) {
			size_t c = count[b];
			count[b] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(w->members[i].addr >> shift) & 2047]++] = w->members[i];
		{
			struct member *x = w->members;
			w->members = tmp;
			tmp = x;
		}
	}
	big_free(tmp, n, sizeof(*tmp));
	w->nmembers = n;	/* (== mtab_n: the size of both arrays) */
	w->next_member = 0;
}

/* After a corrupted size: the next address from which a chain of
 * plausible chunks reaches the end of the span (or a known list member). */
static uint64_t
resync(struct walker *w, const struct rspan *s, uint64_t from)
{
	for (uint64_t q = ALIGN_UP(from, 16); q + 16 <= s->end; q += 16) {
		uint64_t sf, p = q;
		int ok = 0;
		if (mtab_get(w, q, NULL))
			return q;
		for (int k = 0; k < 4; k++) {
			uint8_t tmp[16];
			const uint8_t *b = wbytes(w, p, 16, tmp);
			if (!b)
				break;
			sf = chunk_size_field(b);
			if (!plausible_size(sf, p, s->end) && !(s->has_top && p == w->h->arenas.v[s->arena].top))
				break;
			ok++;
			if (s->has_top && p == w->h->arenas.v[s->arena].top)
				return q;
			p += ptm_chunksize(sf);
			if (p == s->end)
				return q;
		}
		if (ok == 4)
			return q;
	}
	return 0;
}

static void
count_chunk(struct harena *ar, const struct hchunk *c)
{
	struct hcount *k;
	switch (c->state) {
	case CS_USED: k = &ar->used; break;
	case CS_TCACHE: k = &ar->tcache; break;
	case CS_FASTBIN: k = &ar->fastbins; break;
	case CS_UNSORTED: k = &ar->unsorted; break;
	case CS_SMALLBIN: k = &ar->smallbins; break;
	case CS_LARGEBIN: k = &ar->largebins; break;
	default: return;
	}
	k->chunks++;
	k->bytes += c->size;
}

/* A span read through the window gets a copy after all (what follows
 * damage reads anywhere in it): [rstart, filled) is read again, its holes
 * zeros, and the rest is filled as before. */
static void
span_copy(struct walker *w, struct rspan *s)
{
	size_t si = (size_t)(s - w->spans.v);
	uint64_t len = MAX(s->end, s->filled) - s->rstart;
	struct region *r = NULL;
	uint8_t *buf;

	if (!s->win)
		return;
	for (size_t i = 0; i < w->h->regions.n; i++)
		if (w->h->regions.v[i].span == si)
			r = &w->h->regions.v[i];
	buf = region_alloc(len);
	if (!buf) {
		finding(w, FIND_WARNING, "no-memory", 0, (int)s->arena,
			"cannot copy %" PRIu64 " bytes of heap at 0x%" PRIx64, len, s->rstart);
		return;
	}
	debug_msg("walk: heap span 0x%" PRIx64 "-0x%" PRIx64 " copied (damage)", s->rstart, s->end);
	if (s->filled > s->rstart && !region_read(w, s->rstart, buf, (size_t)(s->filled - s->rstart)))
		debug_msg("walk: heap memory 0x%" PRIx64 "-0x%" PRIx64 " read again only in part",
			  s->rstart, s->filled);
	if (w->win_span == si)
		w->win_span = SIZE_MAX;
	s->buf = buf;
	s->wlo = s->rstart;
	s->win = false;
	if (r) {
		r->owned = buf;
		r->data = buf + (r->start - s->rstart);
	}
	w->copied += len;
}

/* The rest of the span's region, copied (see span_copy). */
static void
span_full(struct walker *w, struct rspan *s)
{
	span_copy(w, s);
	span_fill(w, s, s->end);
}

/* The 16-byte header at p, copied in if the walk just got there. */
static inline const uint8_t *
span_header(struct walker *w, struct rspan *s, uint64_t p)
{
	if (p + 16 > s->filled)
		span_fill(w, s, p + 16);
	if (s->win && p < s->wlo)
		span_copy(w, s);	/* (the window let it go) */
	return p + 16 <= s->filled && p + 16 <= s->end && p >= s->wlo ? s->buf + (p - s->wlo) : NULL;
}

/* The first bytes of the chunk at p into *c (window only); false if the
 * window does not hold them. */
static inline bool
capture(const struct rspan *s, uint64_t p, struct cap *c)
{
	if (!s->win || p < s->wlo || p + CAP_BYTES > s->filled)
		return false;
	c->addr = p;
	memcpy(c->b, s->buf + (p + CAP_FROM - s->wlo), CAP_BYTES - CAP_FROM);
	return true;
}

/* heapdbg's resident memory now (for HEAPDBG_DEBUG's phase lines). */
static size_t
resident_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	size_t size = 0, res = 0;

	if (f) {
		if (fscanf(f, "%zu %zu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (size_t)(sysconf(_SC_PAGESIZE) / 1024);
}

/* Could the first word of the block at chunk p (stored at b) be a tcache
 * or fastbin link: once revealed, the end of a list (0) or a chunk (or a
 * tcache entry) in the heaps?  A block in use whose first word is not is
 * in no such list, so its bytes need not be kept: that is most of the
 * small blocks a program uses (its data, or a pointer that safe-linking's
 * reveal turns into noise).  Only a cache: a list walk that meets a chunk
 * whose bytes were not kept reads them from the target. */
static inline bool
may_link(const struct walker *w, uint64_t p, const uint8_t *b)
{
	uint64_t v;

	if (w->L->te_next != 0)
		return true;	/* (no such layout: tcache's next is its first word) */
	memcpy(&v, b, 8);
	if (w->L->safe_linking)
		v = ptm_reveal(p + 16, v);
	return !v || (!(v & 15) && v >= w->link_lo && v < w->link_hi);
}

/* Keep a chunk's first bytes for the free-list walks. */
static inline void
cap_keep(struct walker *w, const struct cap *c)
{
	if (w->caps.n && w->caps.v[w->caps.n - 1].addr >= c->addr)
		w->caps_unsorted = true;
	if (w->caps.n == w->caps.cap) {
		w->caps.cap = w->caps.cap ? w->caps.cap * 2 : 1024;
		w->caps.v = xhugearray(w->caps.v, w->caps.cap, sizeof(*w->caps.v));
	}
	w->caps.v[w->caps.n++] = *c;
}

/* After the bad size at p: was it the chunk before, prev, whose size was
 * enlarged over the chunks after it?  Then a chain of chunks starts
 * again inside prev's claimed extent and runs to a boundary the walk
 * trusts.  Returns that place, or 0. */
static uint64_t
enlarged_before(struct walker *w, const struct rspan *s, uint64_t prev, uint64_t p)
{
	const struct harena *ar = &w->h->arenas.v[s->arena];
	uint64_t top = s->has_top ? ar->top : 0;

	for (uint64_t q = prev + PTM_MINSIZE; q < p; q += 16)
		if (!in_hole(w, q, 16) && chain_reaches(w, q, s->end, top, ar->main, 4096, NULL))
			return q;
	return 0;
}

/* Glibc's first chunk after a main-arena double fencepost, when the heap
 * goes on (foreign sbrk memory in between): the first 16-aligned place
 * from which a chain of chunks, the first with PREV_INUSE, runs to top
 * or the end. */
static uint64_t
after_foreign(struct walker *w, const struct rspan *s, uint64_t from)
{
	const struct harena *ar = &w->h->arenas.v[s->arena];
	uint64_t top = s->has_top ? ar->top : 0;

	for (uint64_t q = ALIGN_UP(from, 16); q + 16 <= s->end; q += 16) {
		uint8_t tmp[16];
		const uint8_t *b = wbytes(w, q, 16, tmp);
		if (!b || in_hole(w, q, 16))
			continue;
		if (q != top && !(chunk_size_field(b) & PTM_PREV_INUSE))
			continue;
		if (chain_reaches(w, q, s->end, top, true, 1u << 20, NULL))
			return q;
	}
	return 0;
}

static void
close_desync(struct walker *w, size_t *open, uint64_t at)
{
	if (*open != SIZE_MAX) {
		w->desyncs.v[*open].to = at;
		*open = SIZE_MAX;
	}
}

/*
 * The chunk walk proper: chunk boundaries from `from` to the end of the
 * span, as the copy comes in.  Only what a chunk's own header says is
 * checked here; the states (the free lists are walked after this) and what
 * neighbours say about each other are settled by classify_chunks.  A bad
 * size stops the first pass (s->resume): the walk resumes once the free
 * lists are known, since their members are trusted chunk boundaries.
 * Glibc's fenceposts end a segment or a closed heap, or (main arena) lead
 * over memory the program took with sbrk() to where the heap goes on.
 */
static void
walk_span(struct walker *w, struct rspan *s, uint64_t from, bool lists_known)
{
	struct harena *ar = &w->h->arenas.v[s->arena];
	uint64_t p = from, prev = 0, prev_size = 0;
	size_t prev_idx = 0, open = SIZE_MAX;
	struct cap last;	/* the chunk before p's first bytes, if have_last */
	bool have_last = false;

	if (lists_known && s->resume_prev && s->resume_prev_idx < w->chunks.n &&
	    w->chunks.v[s->resume_prev_idx].addr == s->resume_prev) {
		prev = s->resume_prev;
		prev_idx = s->resume_prev_idx;
		prev_size = w->chunks.v[prev_idx].size;
	}
	s->walked_end = s->end;
	while (p + 16 <= s->end) {
		const uint8_t *b, *nb;
		uint8_t tmp[16];
		uint64_t sf, sz, ps;
		struct hchunk c;

		if (p + 64 > s->filled)
			span_fill(w, s, MIN(s->end, p + 64));	/* (fenceposts look ahead) */
		b = span_header(w, s, p);

		if (!b)
			break;
		if (s->win) {
			/* what may be in a free list: a chunk the next one
			 * says is free, one of fastbin size (tcache entries,
			 * few, and anything else are read from the target) */
			if (have_last && last.addr == prev && !(chunk_size_field(b) & PTM_PREV_INUSE))
				cap_keep(w, &last);
			have_last = capture(s, p, &last);
			if (have_last && ptm_chunksize(chunk_size_field(b)) <= w->fast_cap && may_link(w, p, last.b + 16 - CAP_FROM)) {
				cap_keep(w, &last);
				have_last = false;
			}
		}
		if ((w->chunks.n & 0xffff) == 0 && sig_stop_work()) {
			w->interrupted = true;
			return;
		}
		if (open != SIZE_MAX && (p == ar->top || mtab_get(w, p, NULL)))
			close_desync(w, &open, p);
		sf = chunk_size_field(b);
		ps = chunk_prev_size(b);
		sz = ptm_chunksize(sf);
		w->prev_frees += !(sf & PTM_PREV_INUSE);
		c.addr = p;
		c.size = sz;
		c.arena = (uint16_t)s->arena;
		c.bits = sf & PTM_SIZE_BITS;
		c.list = 0;
		c.state = CS_USED;
		if (prev) {
			c.list |= CF_HAS_PREV;
			if (ps == prev_size)
				c.list |= CF_PS_EQ;
		}
		if (w->chunks.n && w->chunks.v[w->chunks.n - 1].addr >= p)
			w->unsorted = true;
		if (p == ar->top) {
			/* (its size against the heap's end: check_top) */
			c.state = CS_TOP;
			c.size = MIN(sz, s->end - p);
			vec_push(&w->chunks, c);
			s->walked_end = p + c.size;
			close_desync(w, &open, p);
			return;
		}
		/* fenceposts: a closed non-main heap ends with 0x10|P, 0|P */
		if (s->info && !s->has_top &&
		    ((sz == PTM_FENCEPOST && p + 32 == s->end && (nb = wbytes(w, p + 16, 16, tmp)) &&
		      ptm_heap_end_marker(chunk_size_field(nb))) ||
		     (ptm_heap_end_marker(sf) && p + 16 == s->end))) {
			ar->fenceposts++;
			break;
		}
		/* main arena: two (or three) 0x10 headers after an old top */
		if (ar->main && ptm_fencepost(sf) && !in_hole(w, p, 32)) {
			uint64_t q, r;
			q = fencepost_run(w, p, s->end);
			if (q) {
				ar->fenceposts++;
				if (q == s->end || s->segment) {
					s->walked_end = q;
					close_desync(w, &open, q);
					return;
				}
				span_full(w, s);
				r = after_foreign(w, s, q);
				if (r) {
					debug_msg("walk: fenceposts at 0x%" PRIx64 ", foreign memory 0x%" PRIx64
						  "-0x%" PRIx64, p, q, r);
					ar->foreign += r - q;
					close_desync(w, &open, r);
					p = r;
					prev = 0;
					continue;
				}
				finding(w, FIND_ERROR, "fencepost", p, (int)s->arena,
					"glibc's fenceposts at 0x%" PRIx64 " close the main heap there, but no chunk "
					"follows before its end at 0x%" PRIx64 ": the last 0x%" PRIx64 " bytes are not "
					"walked", p, s->end, s->end - q);
				s->walked_end = q;
				close_desync(w, &open, q);
				return;
			}
		}
		if (!plausible_size(sf, p, s->end) || in_hole(w, p, 16)) {
			uint64_t q;
			char resume[64] = "the rest of this heap is skipped";
			struct finding *f;
			bool hole = in_hole(w, p, 16);
			if (!lists_known) {
				s->resume = p;
				s->resume_prev = prev;
				s->resume_prev_idx = prev ? prev_idx : 0;
				return;
			}
			span_full(w, s);
			if (prev && !hole && (q = enlarged_before(w, s, prev, p))) {
				/* the chunk below was enlarged: it is the damaged one */
				f = finding(w, FIND_ERROR, "size-overlap", prev, (int)s->arena,
					    "chunk 0x%" PRIx64 " has size 0x%" PRIx64 ", but the chunks after it start "
					    "at 0x%" PRIx64 ": its size was enlarged by 0x%" PRIx64 " and runs over "
					    "them", prev, prev_size, q, prev + prev_size - q);
				header_evidence(w, f, prev + 8, 8);
				w->chunks.v[prev_idx].size = q - prev;
				close_desync(w, &open, q);
				p = q;
				prev = 0;
				continue;
			}
			q = resync(w, s, p + 16);
			if (q)
				snprintf(resume, sizeof(resume), "the walk resumes at 0x%" PRIx64, q);
			if (hole)
				f = finding(w, FIND_ERROR, "heap-unreadable", p, (int)s->arena,
					    "the chunk header at 0x%" PRIx64 " lies in memory that cannot be read; %s",
					    p, resume);
			else
				f = finding(w, FIND_ERROR, "invalid-size", p, (int)s->arena,
					    "chunk 0x%" PRIx64 " has an invalid size field 0x%" PRIx64 "%s; %s", p, sf,
					    (sf & PTM_IS_MMAPPED) ? " (IS_MMAPPED inside a heap)" : "", resume);
			if (!hole)
				header_evidence(w, f, p, 16);
			if (prev)
				f->block = prev + 16;
			{
				/* until the walk meets a chunk it can trust, what it
				 * finds follows from this */
				struct desync d = { p, UINT64_MAX, p };
				if (open != SIZE_MAX)
					d.cause = w->desyncs.v[open].cause;
				close_desync(w, &open, p);
				vec_push(&w->desyncs, d);
				open = w->desyncs.n - 1;
			}
			if (!q) {
				s->walked_end = p;
				break;
			}
			/* the damaged chunk is still the program's memory: one
			 * chunk up to where the walk resumes, so that `leaks`
			 * and `heap` count it (the finding says why) */
			c.size = q - p;
			c.bits = PTM_PREV_INUSE;
			c.list = 0;
			vec_push(&w->chunks, c);
			p = q;
			prev = 0;
			continue;
		}
		/* a chunk running over top: its size was enlarged */
		if (s->has_top && p < ar->top && p + sz > ar->top) {
			struct finding *f = finding(w, FIND_ERROR, "size-overlap", p, (int)s->arena,
						    "chunk 0x%" PRIx64 " has size 0x%" PRIx64 ", but top starts at 0x%"
						    PRIx64 ": its size was enlarged by 0x%" PRIx64 " and runs into top",
						    p, sz, ar->top, p + sz - ar->top);
			header_evidence(w, f, p + 8, 8);
			if (prev)
				f->block = prev + 16;
			sz = c.size = ar->top - p;
		}
		/* what the header says of the chunk before it */
		if (!(sf & PTM_PREV_INUSE) && prev) {
			if (ps != prev_size) {
				struct finding *f = finding(w, FIND_ERROR, "prev-size", p, (int)s->arena,
					"chunk 0x%" PRIx64 " says the previous chunk is free with size 0x%" PRIx64
					", but it has size 0x%" PRIx64 " (corrupted size vs. prev_size while "
					"consolidating)", p, ps, prev_size);
				header_evidence(w, f, p, 16);
				f->block = prev + 16;
			} else {
				c.list |= CF_PREV_FREE;
			}
		}
		if (ar->main && (sf & PTM_NON_MAIN_ARENA)) {
			struct finding *f = finding(w, FIND_ERROR, "arena-bit", p, (int)s->arena,
				"chunk 0x%" PRIx64 " of the main arena has the NON_MAIN_ARENA bit", p);
			header_evidence(w, f, p + 8, 8);
			if (prev)
				f->block = prev + 16;
		}
		prev_idx = w->chunks.n;
		vec_push(&w->chunks, c);
		prev = p;
		prev_size = sz;
		p += sz;
		s->walked_end = p;
	}
	if (open != SIZE_MAX)
		close_desync(w, &open, s->end);
}

/* The kinds whose damage is a chunk header, which the block below it
 * (in use: an overflow; free: a write after free) is the likely source of. */
static bool
header_damage(const char *kind)
{
	static const char *const kinds[] = { "invalid-size", "prev-size", "prev-inuse", "arena-bit", "size-overlap",
					     };
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kind, kinds[i]))
			return true;
	return false;
}

/* Say the bug first: a damaged header with a block right below it is a
 * probable overflow from that block (or a write after free of it). */
static void
describe_findings(struct walker *w)
{
	struct heap *h = w->h;

	for (size_t i = 0; i < h->findings.n; i++) {
		struct finding *f = &h->findings.v[i];
		const struct hchunk *below;
		struct sbuf sb;
		uint64_t at = f->chunk;
		if (!f->chunk || !header_damage(f->kind) || f->after)
			continue;
		below = heap_chunk_at(h, at - 1);
		if (!below || below->addr + below->size != at || below->state == CS_TOP || below->state == CS_MMAPPED)
			continue;
		f->block = hchunk_mem(below);
		f->block_size = hchunk_usable(below);
		sb_init(&sb);
		if (below->state == CS_USED)
			sb_printf(&sb, "probable overflow from block 0x%" PRIx64 " below it (%" PRIu64 " bytes): %s",
				  f->block, f->block_size, f->message);
		else
			sb_printf(&sb, "probable write after free of block 0x%" PRIx64 " below it (%" PRIu64 " bytes, "
				  "in a %s): %s", f->block, f->block_size, chunk_state_name(below->state), f->message);
		free(f->message);
		f->message = sb_steal(&sb);
	}
}

/* Findings met while the walk was out of step follow from the one that
 * threw it out: say so (the key `after`, and in the message). */
static void
mark_after(struct walker *w)
{
	for (size_t i = 0; i < w->h->findings.n; i++) {
		struct finding *f = &w->h->findings.v[i];
		if (!f->chunk || f->after)
			continue;
		for (size_t k = 0; k < w->desyncs.n; k++) {
			const struct desync *d = &w->desyncs.v[k];
			if (f->chunk >= d->from && f->chunk < d->to && f->chunk != d->cause) {
				struct sbuf sb;
				f->after = d->cause;
				sb_init(&sb);
				sb_printf(&sb, "%s; this follows from the damage at chunk 0x%" PRIx64 " (the walk was out "
					  "of step after it)", f->message, d->cause);
				free(f->message);
				f->message = sb_steal(&sb);
				break;
			}
		}
	}
}

/* The main arena's heaps as walked (a segment ends at its fenceposts),
 * and for a non-contiguous one, whether they add up to system_mem. */
static void
settle_main(struct walker *w)
{
	uint64_t base = mi_mp(w->mi, w->L->mp_sbrk_base);

	for (size_t ai = 0; ai < w->h->arenas.n; ai++) {
		struct harena *ar = &w->h->arenas.v[ai];
		uint64_t covered = 0;
		if (!ar->main)
			continue;
		ar->heaps.n = 0;
		for (size_t i = 0; i < w->spans.n; i++) {
			const struct rspan *sp = &w->spans.v[i];
			struct hheap hh;
			uint64_t from = sp->start;
			if (sp->arena != ai)
				continue;
			if (base && base <= from && ALIGN_UP(base, PTM_ALIGN) == from)
				from = base;
			hh.info = 0;
			hh.start = sp->start;
			hh.end = sp->segment ? MAX(sp->walked_end, sp->start) : sp->end;
			hh.size = hh.end - from;
			covered += hh.size;
			vec_push(&ar->heaps, hh);
		}
		if (!ar->contiguous && covered < ar->system_mem)
			finding(w, FIND_WARNING, "main-noncontiguous", 0, (int)ai,
				"the main arena is non-contiguous (brk could not grow, glibc went on in mmap()ed "
				"memory): %zu segment%s found hold 0x%" PRIx64 " of its 0x%" PRIx64 " bytes of "
				"system_mem; the rest is in segments heapdbg did not find", ar->heaps.n,
				ar->heaps.n == 1 ? "" : "s", covered, ar->system_mem);
	}
}

static int hchunk_cmp(const void *a, const void *b);

/* What the chunk after a free chunk c says of it. */
static void
check_free_neighbour(struct walker *w, const struct hchunk *c, bool next_says_free, bool ps_eq, uint64_t next)
{
	switch (c->state) {
	case CS_UNSORTED:
	case CS_SMALLBIN:
	case CS_LARGEBIN:
		if (!next_says_free) {
			struct finding *f = finding(w, FIND_ERROR, "bin-chunk-inuse", c->addr, (int)c->arena,
				"free block 0x%" PRIx64 " (%" PRIu64 " bytes, in %s %u) was written after free past its "
				"end, or the header after it was overwritten: the next chunk 0x%" PRIx64 " says it is "
				"in use (double free or corruption (!prev))", (uint64_t)c->addr + 16, hchunk_usable(c),
				chunk_state_name(c->state), c->list, next);
			header_evidence(w, f, next, 16);
		} else if (!ps_eq) {
			uint8_t tmp[16];
			const uint8_t *nb = wbytes(w, next, 16, tmp);
			struct finding *f = finding(w, FIND_ERROR, "size-vs-prev-size", c->addr, (int)c->arena,
				"free block 0x%" PRIx64 " is damaged: its chunk size is 0x%" PRIx64 " but the footer "
				"(the next chunk's prev_size) says 0x%" PRIx64 ": its size was overwritten from the "
				"block below, or its end written after free (corrupted size vs. prev_size)",
				(uint64_t)c->addr + 16, (uint64_t)c->size, nb ? chunk_prev_size(nb) : 0);
			header_evidence(w, f, next, 8);
		}
		break;
	case CS_TCACHE:
	case CS_FASTBIN:
		if (next_says_free) {
			struct finding *f = finding(w, FIND_ERROR, "fast-chunk-prev-inuse", c->addr, (int)c->arena,
				"free block 0x%" PRIx64 " (%" PRIu64 " bytes, in a %s) was written after free past its "
				"end, or the header after it was overwritten: the next chunk's PREV_INUSE is clear",
				(uint64_t)c->addr + 16, hchunk_usable(c), chunk_state_name(c->state));
			header_evidence(w, f, next, 16);
		}
		break;
	default:
		break;
	}
}

/* The chunk after c, if the walk went straight from c to it. */
static inline const struct hchunk *
next_walked(const struct hchunk *v, size_t n, size_t i)
{
	if (i + 1 < n && (v[i + 1].list & CF_HAS_PREV) && v[i + 1].addr == v[i].addr + v[i].size)
		return &v[i + 1];
	return NULL;
}

/*
 * Every chunk's state from the free lists (chunks and members both in
 * address order, merged in step), the counts, and the checks between
 * neighbours: a free chunk's successor must say it is free (and its size),
 * a tcache or fastbin chunk's successor that it is in use; a chunk that
 * says its predecessor is free must have a free predecessor.
 */
static void
classify_chunks(struct walker *w)
{
	struct hchunk *v = w->chunks.v;
	size_t n = w->chunks.n;

	if (w->unsorted && n > 1) {
		qsort(v, n, sizeof(*v), hchunk_cmp);
		w->unsorted = false;
	}
	for (size_t i = 0; i < n; i++) {
		struct hchunk *c = &v[i];
		struct harena *ar = &w->h->arenas.v[c->arena];
		unsigned flags = c->list;
		uint64_t memb = 0;

		c->list = 0;
		while (w->next_member < w->nmembers && w->members[w->next_member].addr < c->addr)
			not_a_chunk(w, &w->members[w->next_member++]);
		if (w->next_member < w->nmembers && w->members[w->next_member].addr == c->addr)
			memb = w->members[w->next_member++].memb;
		if (c->state == CS_TOP)
			continue;
		if (memb) {
			c->state = (uint8_t)MEMB_STATE(memb);
			c->list = (uint16_t)MEMB_LIST(memb);
			if (c->state == CS_TCACHE && MEMB_OWNER(memb))
				u64map_put(&w->h->tc_owners, c->addr, MEMB_OWNER(memb));
			if (c->state != CS_TCACHE && MEMB_ARENA(memb) != c->arena)
				finding(w, FIND_ERROR, "foreign-chunk", c->addr, (int)c->arena,
					"chunk 0x%" PRIx64 " of arena %u is in a free list of arena %u", (uint64_t)c->addr,
					c->arena, MEMB_ARENA(memb));
		}
		count_chunk(ar, c);
		if ((flags & CF_PREV_FREE) && i > 0 && v[i - 1].state == CS_USED &&
		    v[i - 1].addr + v[i - 1].size == c->addr)
		{
			struct finding *f = finding(w, FIND_ERROR, "prev-inuse", c->addr, (int)c->arena,
				"chunk 0x%" PRIx64 "'s PREV_INUSE bit is clear, but the chunk before it, 0x%" PRIx64
				", is in no free list", (uint64_t)c->addr, (uint64_t)v[i - 1].addr);
			header_evidence(w, f, c->addr, 16);
		}
		if (c->state != CS_USED) {
			const struct hchunk *nx = next_walked(v, n, i);
			bool have = nx != NULL, next_says_free = false, ps_eq = false;
			if (nx) {
				next_says_free = !(nx->bits & PTM_PREV_INUSE);
				ps_eq = (nx->list & CF_PS_EQ) != 0;
			} else {
				uint8_t tmp[16];
				const uint8_t *nb = wbytes(w, c->addr + c->size, 16, tmp);
				if (nb) {
					have = true;
					next_says_free = !(chunk_size_field(nb) & PTM_PREV_INUSE);
					ps_eq = chunk_prev_size(nb) == c->size;
				}
			}
			if (have)
				check_free_neighbour(w, c, next_says_free, ps_eq, nx ? nx->addr : c->addr + c->size);
		}
	}
	/* free-list members beyond the last chunk walked */
	while (w->next_member < w->nmembers)
		not_a_chunk(w, &w->members[w->next_member++]);
}
/* ---- 5. mmapped chunks ---- */

/* Why an anonymous mapping cannot hold mmapped chunks (NULL if it can). */
static const char *
excluded_mapping(struct walker *w, const struct mapping *m)
{
	if (!(m->perms & MAP_PERM_R) || !(m->perms & MAP_PERM_W))
		return "not read-write";
	if (m->path && strncmp(m->path, "[anon:", 6) != 0)
		return "named";	/* files, [heap], [stack], [vvar] ... */
	for (size_t i = 0; i < w->t->nthreads; i++) {
		struct target_thread *th = w->t->threads[i];
		if (th->regs_valid && REG_SP(&th->regs) >= m->start && REG_SP(&th->regs) < m->end)
			return "a thread stack";
	}
	return NULL;
}

/* An mmapped chunk header at q for a mapping starting at base? Returns
 * the chunk size (and in *map_len the length of its mapping: offset +
 * size, or from 2.43 offset + size + 16), 0 if not. */
static uint64_t
mmapped_header(struct walker *w, uint64_t base, uint64_t q, uint64_t prev_size, uint64_t sf, uint64_t map_end,
	       uint64_t *map_len)
{
	uint64_t off = prev_size, sz = ptm_chunksize(sf);
	if (w->L->mmapped_prev_size_hugepage_bit)
		off &= ~(uint64_t)1;
	if ((sf & PTM_SIZE_BITS) != PTM_IS_MMAPPED || off != q - base || sz < PTM_MINSIZE || !ptm_aligned(sz))
		return 0;
	map_end = MAX(map_end, w->run_end);
	if (q >= map_end || sz > map_end - q)	/* (no wrap-around) */
		return 0;
	if (((off + sz) & (PAGE - 1)) == 0)
		*map_len = off + sz;
	else if (w->L->mmapped_size_excludes_hdr && ((off + sz + 16) & (PAGE - 1)) == 0)
		*map_len = off + sz + 16;
	else
		return 0;
	return sz;
}

static void
add_mmapped(struct walker *w, uint64_t q, uint64_t sz, uint64_t off, uint64_t sf, uint64_t map_len)
{
	struct hchunk c = { .addr = q, .size = sz, .arena = HEAP_NO_ARENA, .state = CS_MMAPPED,
			    .bits = sf & PTM_SIZE_BITS, .list = 0 };
	uint64_t base = q - off, end = ALIGN_UP(base + map_len, PAGE);

	vec_push(&w->mm, c);
	if (off)
		u64map_put(&w->h->mmap_offsets, q, off);
	w->h->mmapped.chunks++;
	w->h->mmapped.bytes += map_len;
	w->mm_end = MAX(w->mm_end, end);
	/* pages the program protected: still its block, said once */
	for (uint64_t a = base; a < end;) {
		const struct mapping *m = target_find_mapping(w->t, a);
		if (!m)
			break;
		if ((m->perms & (MAP_PERM_R | MAP_PERM_W)) != (MAP_PERM_R | MAP_PERM_W)) {
			finding(w, FIND_WARNING, "mmapped-protected", q, -1,
				"mmapped chunk 0x%" PRIx64 " (%" PRIu64 " bytes): its pages at 0x%" PRIx64 "-0x%" PRIx64
				" are %s (the program changed their protection); they are not scanned for pointers",
				q, sz, m->start, MIN(m->end, end), (m->perms & MAP_PERM_R) ? "read-only" : "PROT_NONE");
			break;
		}
		a = m->end;
	}
}

/*
 * A memalign'd mmapped chunk: glibc maps nb+alignment, leaves the header of
 * that first allocation in place at the mapping start, and puts the real
 * chunk at q with prev_size = q - base, so that q+16 is aligned.  For
 * alignments up to a page q is in the first page; beyond that q+16 is a
 * page boundary.  Look at exactly those places; want_total, if not 0, is
 * the mapping length the inner chunk must account for (the stale size).
 */
static bool
find_inner_header(struct walker *w, uint64_t base, uint64_t map_end, uint64_t want_len,
		  uint64_t *q_out, uint64_t *sz_out, uint64_t *sf_out, uint64_t *len_out)
{
	uint8_t first[PAGE];
	size_t got = target_read_partial(w->t, base, first, (size_t)MIN(PAGE, map_end - base));
	uint64_t limit = want_len ? MIN(want_len, map_end - base) : MIN(map_end - base, 64ULL << 20);

	for (size_t o = 16; o + 16 <= got; o += 16) {
		uint64_t ps = chunk_prev_size(first + o), sf = chunk_size_field(first + o), len = 0;
		uint64_t sz = mmapped_header(w, base, base + o, ps, sf, map_end, &len);
		if (sz && (!want_len || len == want_len)) {
			*q_out = base + o;
			*sz_out = sz;
			*sf_out = sf;
			*len_out = len;
			return true;
		}
	}
	for (uint64_t k = 1; k * PAGE < limit;) {
		uint64_t addrs[256];
		uint8_t hdrs[256 * 16];
		bool ok[256];
		size_t n = 0;
		for (; k * PAGE < limit && n < 256; k++)
			addrs[n++] = base + k * PAGE - 16;
		target_read_many(w->t, addrs, n, 16, hdrs, ok);
		for (size_t i = 0; i < n; i++) {
			uint64_t ps = chunk_prev_size(hdrs + 16 * i), sf = chunk_size_field(hdrs + 16 * i), sz, len = 0;
			if (!ok[i])
				continue;
			sz = mmapped_header(w, base, addrs[i], ps, sf, map_end, &len);
			if (sz && (!want_len || len == want_len)) {
				*q_out = addrs[i];
				*sz_out = sz;
				*sf_out = sf;
				*len_out = len;
				return true;
			}
		}
	}
	return false;
}

/* Look for a chunk whose mapping starts at base: the header is at base
 * (or, memalign'd, further in).  Returns the bytes the mapping accounts
 * for, 0 if there is no chunk. */
static uint64_t
probe_mmapped(struct walker *w, uint64_t base, uint64_t map_end, bool window)
{
	uint8_t hdr[16];
	uint64_t sz, q, isz, isf, len = 0, ilen = 0;

	if ((target_read(w->t, base, hdr, 16) == 0 || target_read_uncached(w->t, base, hdr, 16) == 16) &&
	    (sz = mmapped_header(w, base, base, chunk_prev_size(hdr), chunk_size_field(hdr), map_end, &len))) {
		/* a plain chunk, or the stale header of a memalign'd one */
		if (find_inner_header(w, base, map_end, len, &q, &isz, &isf, &ilen)) {
			add_mmapped(w, q, isz, q - base, isf, ilen);
			return ALIGN_UP(ilen, PAGE);
		}
		add_mmapped(w, base, sz, 0, chunk_size_field(hdr), len);
		return ALIGN_UP(len, PAGE);
	}
	if (window && find_inner_header(w, base, map_end, 0, &q, &isz, &isf, &ilen)) {
		add_mmapped(w, q, isz, q - base, isf, ilen);
		return ALIGN_UP(ilen, PAGE);
	}
	return 0;
}

/* The next page start in [from, end) whose first 16 bytes look like a
 * plain mmapped chunk header (M set, P and A clear), or 0.  Page starts are
 * read in batches of 256 (one process_vm_readv each on a live target). */
static uint64_t
next_header_page(struct walker *w, uint64_t from, uint64_t end)
{
	uint64_t addrs[256];
	uint8_t hdrs[256 * 16];
	bool ok[256];

	while (from + 32 <= end) {
		size_t n = 0;
		for (uint64_t a = from; a + 32 <= end && n < 256; a += PAGE)
			addrs[n++] = a;
		target_read_many(w->t, addrs, n, 16, hdrs, ok);
		for (size_t k = 0; k < n; k++) {
			uint64_t ps = chunk_prev_size(hdrs + 16 * k);
			if (w->L->mmapped_prev_size_hugepage_bit)
				ps &= ~(uint64_t)1;	/* a huge-page mapping */
			if (ok[k] && ps == 0 && (chunk_size_field(hdrs + 16 * k) & PTM_SIZE_BITS) == PTM_IS_MMAPPED)
				return addrs[k];
		}
		from = addrs[n - 1] + PAGE;
	}
	return 0;
}

/* Scan [start, end) of an anonymous mapping for mmapped chunks. */
static void
scan_range(struct walker *w, uint64_t start, uint64_t end)
{
	uint64_t pos = start;

	debug_msg("mmapped scan: 0x%" PRIx64 "-0x%" PRIx64, start, end);
	while (pos + 32 <= end) {
		/* a mapping start, or right after a chunk: the header is at
		 * pos, or (memalign) further in */
		uint64_t used = probe_mmapped(w, pos, end, true);
		if (used) {
			pos += used;
			continue;
		}
		/* another mmap user's memory merged with ours: look for the
		 * next plain header at a page start */
		pos = next_header_page(w, pos + PAGE, end);
		if (!pos)
			break;
		used = probe_mmapped(w, pos, end, false);
		pos += used ? used : PAGE;
	}
}

/* Anonymous memory (no file, or a name given by prctl). */
static bool
anonymous(const struct mapping *m)
{
	return !m->path || !strncmp(m->path, "[anon:", 6);
}

/* Inside an arena heap's reservation? */
static bool
in_spans(const struct walker *w, uint64_t a)
{
	for (size_t k = 0; k < w->spans.n; k++) {
		const struct rspan *sp = &w->spans.v[k];
		if (a >= ALIGN_DOWN(sp->info ? sp->info : sp->start, PAGE) && a < ALIGN_UP(sp->end, PAGE))
			return true;
	}
	return false;
}

static void
scan_mmapped(struct walker *w)
{
	for (size_t i = 0; i < w->t->nmaps; i++) {
		const struct mapping *m = &w->t->maps[i];
		uint64_t pos = MAX(m->start, w->mm_end);
		/* a core holds only the first m->dumped bytes of an anonymous
		 * mapping: never probe the rest page by page (terabytes of
		 * reserved memory the kernel did not dump, at times) */
		uint64_t end = m->start + MIN(m->end - m->start, m->dumped);
		const char *why = excluded_mapping(w, m);

		if (pos >= m->end)
			continue;	/* inside the chunk found last */
		w->run_end = m->end;
		for (size_t j = i + 1; j < w->t->nmaps && w->t->maps[j].start == w->run_end &&
		     anonymous(&w->t->maps[j]); j++)
			w->run_end = w->t->maps[j].end;
		if (why) {
			/* a chunk whose pages the program made PROT_NONE (or
			 * read-only): its header at the mapping start, read
			 * through ptrace; one probe, never a page-by-page scan
			 * (reserved memory is PROT_NONE too, terabytes at times) */
			if (anonymous(m) && !strcmp(why, "not read-write") && pos == m->start && !in_spans(w, pos)) {
				uint64_t used = probe_mmapped(w, pos, w->run_end, false);
				if (used)
					w->mm_end = MAX(w->mm_end, pos + used);
			} else if (!m->path) {
				debug_msg("mmapped scan: 0x%" PRIx64 "-0x%" PRIx64 " skipped: %s", m->start, m->end, why);
			}
			continue;
		}
		/* the kernel merges neighbouring anonymous mappings: an arena's
		 * heap may share a mapping with mmapped chunks; scan around the
		 * heaps (spans are sorted) */
		for (size_t k = 0; k < w->spans.n && pos < end; k++) {
			const struct rspan *sp = &w->spans.v[k];
			uint64_t lo = ALIGN_DOWN(sp->info ? sp->info : sp->start, PAGE), hi = ALIGN_UP(sp->end, PAGE);
			if (hi <= pos || lo >= end)
				continue;
			if (lo > pos)
				scan_range(w, pos, lo);
			pos = MAX(pos, hi);
		}
		if (pos < end)
			scan_range(w, pos, end);
	}
	w->run_end = 0;
	if (w->mi->mp) {
		const struct malloc_layout *L = w->L;
		w->h->mmapped_expected_chunks = mi_mp(w->mi, L->mp_n_mmaps) & 0xffffffff;
		w->h->mmapped_expected_bytes = mi_mp(w->mi, L->mp_mmapped_mem);
		w->h->mmapped_checked = true;
		if (w->h->mmapped.chunks != w->h->mmapped_expected_chunks ||
		    w->h->mmapped.bytes != w->h->mmapped_expected_bytes)
			finding(w, FIND_WARNING, "mmapped-count", 0, -1,
				"found %" PRIu64 " mmapped chunks (%" PRIu64 " bytes); mp_ counts %" PRIu64 " (%" PRIu64
				" bytes)", w->h->mmapped.chunks, w->h->mmapped.bytes, w->h->mmapped_expected_chunks,
				w->h->mmapped_expected_bytes);
	}
}

/* ---- 6. accounting ---- */

static void
account(struct walker *w)
{
	struct heap *h = w->h;
	/* (chunks were counted per arena by classify_chunks) */
	for (size_t i = 0; i < h->arenas.n; i++) {
		struct harena *ar = &h->arenas.v[i];
		ar->bins.chunks = ar->unsorted.chunks + ar->smallbins.chunks + ar->largebins.chunks;
		ar->bins.bytes = ar->unsorted.bytes + ar->smallbins.bytes + ar->largebins.bytes;
	}
}

static int
hchunk_cmp(const void *a, const void *b)
{
	const struct hchunk *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

size_t
heap_chunk_lower_bound(const struct heap *h, uint64_t addr)
{
	size_t lo = 0, hi = h->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->chunks[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct hchunk *
heap_chunk_at(const struct heap *h, uint64_t addr)
{
	size_t i = heap_chunk_lower_bound(h, addr + 1);
	const struct hchunk *c;
	if (i == 0)
		return NULL;
	c = &h->chunks[i - 1];
	return addr < c->addr + c->size ? c : NULL;
}

uint64_t
hchunk_usable(const struct hchunk *c)
{
	return ptm_usable(c->size, c->state == CS_MMAPPED);
}

unsigned
hchunk_owner(const struct heap *h, const struct hchunk *c)
{
	uint64_t v = 0;
	if (c->state == CS_TCACHE)
		u64map_get(&h->tc_owners, c->addr, &v);
	return (unsigned)v;
}

uint64_t
hchunk_mmap_offset(const struct heap *h, const struct hchunk *c)
{
	uint64_t off = 0;
	if (c->state == CS_MMAPPED)
		u64map_get(&h->mmap_offsets, c->addr, &off);
	return off;
}

void
heap_free(struct heap *h)
{
	if (!h)
		return;
	malloc_info_free(h->mi);
	for (size_t i = 0; i < h->arenas.n; i++)
		vec_free(&h->arenas.v[i].heaps);
	vec_free(&h->arenas);
	free(h->chunks);
	for (size_t i = 0; i < h->regions.n; i++)
		region_free(h->regions.v[i].owned);
	vec_free(&h->regions);
	for (size_t i = 0; i < h->findings.n; i++)
		free(h->findings.v[i].message);
	vec_free(&h->findings);
	vec_free(&h->tcaches);
	vec_free(&h->lists);
	vec_free(&h->list_chunks);
	u64map_free(&h->mmap_offsets);
	u64map_free(&h->tc_owners);
	free(h);
}

int
heap_walk(struct target *t, struct symbols *s, const struct walk_opts *o, struct heap **out)
{
	struct malloc_info *mi;
	uint64_t t0 = hd_now_ns();
	struct malloc_layout dwarf;

	*out = NULL;
	if (malloc_locate(t, s, &mi) < 0)
		return -1;
	debug_msg("walk: locate %.1f ms", (hd_now_ns() - t0) / 1e6);
	if (heap_walk_info(t, mi, o, out) < 0)
		return -1;
	if (malloc_layout_confirm((*out)->mi, &dwarf) == 1) {
		/* libc's DWARF disagrees with the table: trust DWARF, again */
		debug_msg("walk: the table layout differs from DWARF; walking again");
		heap_free(*out);
		*out = NULL;
		if (malloc_locate_layout(t, s, &dwarf, &mi) < 0)
			return -1;
		if (heap_walk_info(t, mi, o, out) < 0)
			return -1;
	}
	debug_msg("walk: layout confirmed %.1f ms", (hd_now_ns() - t0) / 1e6);
	(*out)->seconds = (hd_now_ns() - t0) / 1e9;
	return 0;
}

int
heap_walk_info(struct target *t, struct malloc_info *mi, const struct walk_opts *o, struct heap **out)
{
	struct walker w;
	struct heap *h;
	uint64_t t0 = hd_now_ns();
	int rc = 0;
	size_t ncaps = 0;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	h = xcalloc(1, sizeof(*h));
	h->mi = mi;
	if (h->mi->allocator == ALLOC_GLIBC && mi->layout_problem) {
		/* (whether malloc is initialised is unknown too; the walk
		 * owns mi: the message first, then the free) */
		hd_fail(HD_EFORMAT, "cannot walk the heap with this malloc layout: %s", mi->layout_problem);
		heap_free(h);
		return -1;
	}
	if (h->mi->allocator != ALLOC_GLIBC || !h->mi->initialised) {
		h->initialised = h->mi->initialised;
		*out = h;
		return 0;
	}
	{
		const char *why = layout_problem(&mi->L);
		if (why) {
			heap_free(h);
			return hd_fail(HD_EFORMAT, "cannot walk the heap with this malloc layout: %s", why);
		}
	}
	h->initialised = true;
	w.t = t;
	w.h = h;
	w.mi = h->mi;
	w.L = &h->mi->L;
	w.copies = !o || o->keep_copies;
	w.no_direct = o && o->no_direct;
	w.window = o && o->window ? MAX(o->window, (size_t)256) : FILL_WINDOW;
	w.win_span = SIZE_MAX;
	w.fast_cap = mi->have_global_max_fast ? MIN(mi->global_max_fast, PTM_MAX_FAST_CHUNK) : PTM_MAX_FAST_CHUNK;
	u64map_init(&h->mmap_offsets);
	u64map_init(&h->tc_owners);
	/* make sure every thread's registers are known (stack exclusion) */
	for (size_t i = 0; i < t->nthreads; i++)
		target_regs(t, t->threads[i]);

#define PHASE(name) do { if (hd_debug) debug_msg("walk: %-12s %.1f ms, %zu KiB resident", name, \
	(hd_now_ns() - t0) / 1e6, resident_kib()); } while (0)
	collect_arenas(&w);
	check_mp(&w);
	collect_heaps(&w);
	if (w.spans.n > 1)	/* (qsort and memcpy want non-NULL arrays) */
		qsort(w.spans.v, w.spans.n, sizeof(*w.spans.v), span_cmp);
	drop_overlaps(&w);
	hd_test_pause("walk");	/* arenas found, heap memory not read yet */
	for (size_t i = 0; i < w.spans.n; i++)
		debug_msg("heap span: arena %u, 0x%" PRIx64 "-0x%" PRIx64 " (heap_info 0x%" PRIx64 ")%s",
			  w.spans.v[i].arena, w.spans.v[i].start, w.spans.v[i].end, w.spans.v[i].info,
			  w.spans.v[i].has_top ? ", top" : "");
	plan_regions(&w);
	{
		uint64_t total = 0;
		for (size_t i = 0; i < h->regions.n; i++)
			total += h->regions.v[i].end - h->regions.v[i].start;
		w.list_cap = total / PTM_MINSIZE + 16;
	}
	if (h->regions.n) {
		w.link_lo = h->regions.v[0].start;
		w.link_hi = h->regions.v[h->regions.n - 1].end;
	}
	/* room for the chunks: a guess from the heap's size saves the
	 * array's growth copies (untouched room costs no memory) */
	{
		uint64_t bytes = 0;
		for (size_t i = 0; i < w.spans.n; i++)
			bytes += w.spans.v[i].end - w.spans.v[i].start;
		vec_reserve(&w.chunks, (size_t)MIN(bytes / 256 + 64, 1ULL << 28));
		mem_huge_pages(w.chunks.v, w.chunks.cap * sizeof(*w.chunks.v));
		if (w.win) {
			/* the captures too: as much room (a third is used on
			 * a typical heap; the rest is never touched) */
			w.caps.v = xhugearray(NULL, w.chunks.cap, sizeof(*w.caps.v));
			w.caps.cap = w.chunks.cap;
		}
	}
	/* the chunks, as the copy comes in; then the rest of the copy (past
	 * a bad size, or a last chunk that ends early) */
	for (size_t i = 0; i < w.spans.n && !w.interrupted; i++)
		walk_span(&w, &w.spans.v[i], w.spans.v[i].start, false);
	for (size_t i = 0; i < w.spans.n && !w.interrupted; i++) {
		if (w.spans.v[i].resume)
			span_full(&w, &w.spans.v[i]);	/* (the walk resumes in it) */
		else
			span_fill(&w, &w.spans.v[i], w.spans.v[i].end);
	}
	if (w.caps_unsorted) {
		qsort(w.caps.v, w.caps.n, sizeof(*w.caps.v), cap_cmp);
		w.caps_unsorted = false;
	}
	for (size_t i = 0; i < w.caps.n; i += CAP_FENCE)
		vec_push(&w.cap_fence, w.caps.v[i].addr);
	cap_index(&w);
	PHASE(w.win ? "read+chunks" : "copy+chunks");
	if (w.interrupted) {
		rc = hd_fail(HD_EINTR, "interrupted");
		goto out;
	}
	/* room for the members: every chunk a successor says is free, or
	 * every capture (they include the fastbin and small tcache chunks),
	 * and some (other tcache chunks are found as the lists go): growing
	 * the table later would hold two tables at once */
	mtab_grow(&w, MAX(w.prev_frees, w.caps.n) + w.prev_frees / 4 + 1024);
	walk_tcaches(&w);
	for (size_t i = 0; i < h->arenas.n; i++) {
		walk_fastbins(&w, (unsigned)i);
		walk_bins(&w, (unsigned)i);
	}
	PHASE("free lists");
	/* the captures served the list walks: free them before the members'
	 * sort needs its arrays (what reads a chunk's bytes later, a walk
	 * resumed past damage or a damaged neighbour's header, reads the
	 * target as it did for a chunk not captured) */
	ncaps = w.caps.n;
	vec_free(&w.caps);
	vec_free(&w.cap_fence);
	vec_free(&w.cap_tab);
	for (size_t i = 0; i < w.spans.n; i++)
		w.spans.v[i].cap_nb = 0;
	sort_members(&w);
	PHASE("members");
	/* a walk stopped by a bad size resumes where a chain of chunks (or a
	 * free-list member) starts again */
	for (size_t i = 0; i < w.spans.n && !w.interrupted; i++)
		if (w.spans.v[i].resume)
			walk_span(&w, &w.spans.v[i], w.spans.v[i].resume, true);
	settle_main(&w);
	classify_chunks(&w);
	mark_after(&w);
	PHASE("classified");
	if (w.interrupted) {
		rc = hd_fail(HD_EINTR, "interrupted");
		goto out;
	}
	scan_mmapped(&w);
	PHASE("mmapped");
	/* merge heap chunks (address order already, spans are sorted) with
	 * mmapped ones */
	{
		/* both lists are in address order already (spans are sorted and
		 * each is walked upwards; mappings are sorted): merge them */
		size_t n = w.chunks.n + w.mm.n, i = w.chunks.n, j = w.mm.n, k = n;
		bool sorted = !w.unsorted;
		for (size_t x = 1; x < w.mm.n && sorted; x++)
			sorted = w.mm.v[x - 1].addr < w.mm.v[x].addr;
		/* merge the (few) mmapped chunks in from the back, in place */
		vec_reserve(&w.chunks, n + 1);
		while (j > 0) {
			if (i > 0 && w.chunks.v[i - 1].addr > w.mm.v[j - 1].addr)
				w.chunks.v[--k] = w.chunks.v[--i];
			else
				w.chunks.v[--k] = w.mm.v[--j];
		}
		h->chunks = w.chunks.v;
		h->nchunks = n;
		w.chunks.v = NULL;
		w.chunks.n = 0;
		if (!sorted)	/* overlapping spans of a corrupted heap */
			qsort(h->chunks, n, sizeof(*h->chunks), hchunk_cmp);
	}
	account(&w);
	describe_findings(&w);
	PHASE("accounted");
	h->copies = true;
	for (size_t i = 0; i < h->regions.n; i++)
		if (!h->regions.v[i].data)
			h->copies = false;
	h->walk_memory = w.copied + w.wincap + ncaps * sizeof(struct cap) +
			 h->nchunks * sizeof(*h->chunks);
	debug_msg("walk: %s, %" PRIu64 " KiB held (copies %" PRIu64 " KiB, window %zu KiB, %zu chunk captures)",
		  h->copies ? "copies kept" : "no copies", h->walk_memory >> 10, w.copied >> 10, w.wincap >> 10,
		  ncaps);
out:
	for (size_t i = 0; i < h->arenas.n; i++)
		free(w.ms[i]);
	free(w.ms);
	vec_free(&w.spans);
	vec_free(&w.chunks);
	vec_free(&w.mm);
	big_free(w.members, w.nmembers, sizeof(*w.members));
	big_free(w.mtab, w.mtab_cap, sizeof(*w.mtab));
	vec_free(&w.holes);
	vec_free(&w.desyncs);
	vec_free(&w.tc_keys);
	vec_free(&w.caps);
	vec_free(&w.cap_fence);
	vec_free(&w.cap_tab);
	free(w.win);
	h->seconds = (hd_now_ns() - t0) / 1e9;
	if (rc < 0) {
		heap_free(h);
		return -1;
	}
	*out = h;
	return 0;
}
