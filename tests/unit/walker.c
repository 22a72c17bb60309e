/*
 * Unit tests: the heap walker (walker.c) over synthetic heaps built by
 * heapimg for every glibc layout in the table: every chunk state, every
 * list, several arenas and heaps, mmapped chunks, then one corruption at
 * a time, each of which must give its finding without a crash or a hang
 * and leave the rest of the heap classified.
 */
#include "config.h"
#include "heap.h"
#include "heapimg.h"
#include "ptmalloc.h"
#include "tap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The standard heap: one chunk of every kind in two arenas, the second
 * arena with two heaps, three threads, four mmapped chunks. */
struct std {
	struct heapimg *b;
	const struct malloc_layout *L;
	char name[16];
	int a1, t0, t1, t2;
	uint64_t used[10];		/* main arena, in use */
	uint64_t tc[3];			/* t0's 0x20 tcache bin, in put order */
	uint64_t fast[2];		/* main fastbin 0x30 (used on 2.43+) */
	uint64_t small, small2;		/* main smallbin 0x110 */
	uint64_t unsorted;		/* 0x510 */
	uint64_t large[3];		/* 0x1410, 0x1410, 0x1510: bin 101 */
	uint64_t ltc;			/* 2.42+: 0x520 in t0's large tcache bin 64 */
	uint64_t a1_used, a1_tc, a1_fast, a1_cross, a1_small, a1_used2;
	uint64_t a1_old_top, a1_fp1, a1_fp2;	/* end of the first heap */
	uint64_t a2_used, a2_tc;		/* in the second heap */
	uint64_t mm_plain, mm_align, mm_merged[2], mm_huge;
};

static bool
has_fastbins(const struct malloc_layout *L)
{
	return L->nfastbins > 0;
}

static void
build_std(struct std *s, const struct malloc_layout *L, uint64_t hp_pagesize)
{
	struct heapimg *b;
	uint64_t old_top_size;

	memset(s, 0, sizeof(*s));
	s->L = L;
	snprintf(s->name, sizeof(s->name), "2.%u%s", L->version % 100, hp_pagesize ? " hugetlb" : "");
	s->b = b = hi_new(L, 0x21000, hp_pagesize);
	s->t0 = hi_add_thread(b, 1000, 0, true);

	/* main arena */
	s->used[0] = hi_alloc(b, 0, 0x20);
	for (int i = 0; i < 3; i++)
		s->tc[i] = hi_alloc(b, 0, 0x20);
	for (int i = 0; i < 2; i++)
		s->fast[i] = hi_alloc(b, 0, 0x30);
	s->used[1] = hi_alloc(b, 0, 0x40);
	s->small = hi_alloc(b, 0, 0x110);
	s->used[2] = hi_alloc(b, 0, 0x20);
	s->unsorted = hi_alloc(b, 0, 0x510);
	s->used[3] = hi_alloc(b, 0, 0x20);
	s->large[0] = hi_alloc(b, 0, 0x1410);
	s->used[4] = hi_alloc(b, 0, 0x20);
	s->large[1] = hi_alloc(b, 0, 0x1410);
	s->used[5] = hi_alloc(b, 0, 0x20);
	s->large[2] = hi_alloc(b, 0, 0x1510);
	s->used[6] = hi_alloc(b, 0, 0x20);
	s->small2 = hi_alloc(b, 0, 0x110);
	s->used[7] = hi_alloc(b, 0, 0x30);
	if (L->tc_nbins > 64) {
		s->ltc = hi_alloc(b, 0, 0x520);
		s->used[8] = hi_alloc(b, 0, 0x20);
	}
	s->used[9] = hi_alloc(b, 0, 0x20);

	for (int i = 0; i < 3; i++)
		hi_tcache_put(b, s->t0, s->tc[i]);
	if (has_fastbins(L))
		for (int i = 0; i < 2; i++)
			hi_fastbin_put(b, s->fast[i]);
	hi_bin_put(b, s->small, false);
	hi_bin_put(b, s->small2, false);
	hi_bin_put(b, s->unsorted, true);
	for (int i = 0; i < 3; i++)
		hi_bin_put(b, s->large[i], false);
	if (s->ltc)
		hi_tcache_put(b, s->t0, s->ltc);

	/* a second arena, used by thread 1001, that grew a second heap */
	s->a1 = hi_new_arena(b, 0x21000);
	s->t1 = hi_add_thread(b, 1001, s->a1, true);
	s->a1_used = hi_alloc(b, s->a1, 0x100);
	s->a1_tc = hi_alloc(b, s->a1, 0x50);
	s->a1_fast = hi_alloc(b, s->a1, 0x70);
	s->a1_cross = hi_alloc(b, s->a1, 0x90);
	s->a1_small = hi_alloc(b, s->a1, 0x200);
	s->a1_used2 = hi_alloc(b, s->a1, 0x20);
	hi_tcache_put(b, s->t1, s->a1_tc);
	if (has_fastbins(L))
		hi_fastbin_put(b, s->a1_fast);
	hi_tcache_put(b, s->t0, s->a1_cross);	/* a thread caches another arena's chunk */
	hi_bin_put(b, s->a1_small, false);
	s->a1_old_top = hi_grow_heap(b, s->a1, 0x21000);
	old_top_size = hi_expect(b, s->a1_old_top)->size;
	s->a1_fp1 = s->a1_old_top + old_top_size;
	s->a1_fp2 = s->a1_fp1 + 16;
	hi_bin_put(b, s->a1_old_top, true);	/* _int_free of the old top */
	s->a2_used = hi_alloc(b, s->a1, 0x40);
	s->a2_tc = hi_alloc(b, s->a1, 0x40);
	hi_tcache_put(b, s->t1, s->a2_tc);

	/* a thread without a tcache yet */
	s->t2 = hi_add_thread(b, 1002, 0, false);

	/* mmapped chunks */
	s->mm_plain = hi_mmap(b, 0x21000, 0, false);
	s->mm_align = hi_mmap(b, 0x30000, 0x30, false);	/* memalign(64, ...) */
	{
		uint64_t sizes[2] = { 0x22000, 0x23000 };
		hi_mmap_merged(b, sizes, 2, s->mm_merged);
	}
	if (L->mmapped_prev_size_hugepage_bit)
		s->mm_huge = hi_mmap(b, 0x200000, 0, true);
}

static struct heap *
walk_mi(struct std *s, struct malloc_info *mi)
{
	struct heap *h = NULL;
	if (heap_walk_info(s->b->t, mi, NULL, &h) < 0) {
		diag("%s: heap_walk_info failed: %s", s->name, hd_errmsg());
		return NULL;
	}
	return h;
}

/* Where two walks of the same heap differ ("" if nowhere). */
static void
walk_diff(const struct heap *a, const struct heap *b, char *why, size_t n)
{
	why[0] = 0;
	if (a->nchunks != b->nchunks) {
		snprintf(why, n, "%zu chunks against %zu", a->nchunks, b->nchunks);
		return;
	}
	for (size_t i = 0; i < a->nchunks; i++) {
		const struct hchunk *x = &a->chunks[i], *y = &b->chunks[i];
		if (x->addr != y->addr || x->size != y->size || x->arena != y->arena || x->state != y->state ||
		    x->bits != y->bits || x->list != y->list || hchunk_owner(a, x) != hchunk_owner(b, y)) {
			snprintf(why, n, "chunk %zu: 0x%" PRIx64 " size 0x%" PRIx64 " %s against 0x%" PRIx64
				 " size 0x%" PRIx64 " %s", i, (uint64_t)x->addr, (uint64_t)x->size, chunk_state_name(x->state),
				 (uint64_t)y->addr, (uint64_t)y->size, chunk_state_name(y->state));
			return;
		}
	}
	if (a->findings.n != b->findings.n) {
		snprintf(why, n, "%zu findings against %zu (%s)", a->findings.n, b->findings.n,
			 b->findings.n ? b->findings.v[0].message : a->findings.v[0].message);
		return;
	}
	for (size_t i = 0; i < a->findings.n; i++) {
		const struct finding *x = &a->findings.v[i], *y = &b->findings.v[i];
		if (strcmp(x->kind, y->kind) || strcmp(x->message, y->message) || x->chunk != y->chunk ||
		    x->severity != y->severity || x->block != y->block || x->after != y->after ||
		    x->nbytes != y->nbytes || memcmp(x->bytes, y->bytes, x->nbytes) || x->field != y->field) {
			snprintf(why, n, "finding %zu: %s against %s", i, x->message, y->message);
			return;
		}
	}
	if (a->lists.n != b->lists.n || a->list_chunks.n != b->list_chunks.n ||
	    (a->list_chunks.n && memcmp(a->list_chunks.v, b->list_chunks.v, a->list_chunks.n * 8))) {
		snprintf(why, n, "the free lists differ");
		return;
	}
	if (a->tcaches.n != b->tcaches.n || a->arenas.n != b->arenas.n) {
		snprintf(why, n, "tcaches or arenas differ");
		return;
	}
	for (size_t i = 0; i < a->arenas.n; i++) {
		const struct harena *x = &a->arenas.v[i], *y = &b->arenas.v[i];
		if (memcmp(&x->used, &y->used, sizeof(x->used)) || memcmp(&x->bins, &y->bins, sizeof(x->bins)) ||
		    memcmp(&x->tcache, &y->tcache, sizeof(x->tcache)) ||
		    memcmp(&x->fastbins, &y->fastbins, sizeof(x->fastbins)) || x->fenceposts != y->fenceposts ||
		    x->foreign != y->foreign || x->unreadable != y->unreadable || x->top_size != y->top_size) {
			snprintf(why, n, "arena %zu's counts differ", i);
			return;
		}
	}
	if (a->errors != b->errors || a->warnings != b->warnings ||
	    memcmp(&a->mmapped, &b->mmapped, sizeof(a->mmapped)))
		snprintf(why, n, "errors, warnings or mmapped differ");
}

/* The image walked again as a live target is walked (keep_copies off):
 * through a small window that slides, chunks' first bytes kept for the
 * free lists, a heap region copied only where damage needs it.  Every
 * result must be the walk in place's. */
static void
same_through_window(struct heapimg *b, const struct heap *h, const char *name)
{
	struct walk_opts o = { .keep_copies = false, .no_direct = true, .window = 256 };
	struct heap *w = NULL;
	char why[600];

	if (!h)
		return;
	if (heap_walk_info(b->t, hi_info(b), &o, &w) < 0) {
		ok(0, "%s: the walk through a window: %s", name, hd_errmsg());
		return;
	}
	walk_diff(h, w, why, sizeof(why));
	if (!ok(!why[0], "%s: the walk through a 256-byte window without copies is the same", name))
		diag("  %s", why);
	heap_free(w);
}

static struct heap *
walk(struct std *s)
{
	struct heap *h = walk_mi(s, hi_info(s->b));
	same_through_window(s->b, h, s->name);
	return h;
}

/* heap_walk_info of the image in place, and the same through a window. */
static int
walk_img(struct heapimg *b, struct heap **h)
{
	int rc = heap_walk_info(b->t, hi_info(b), NULL, h);
	if (rc == 0)
		same_through_window(b, *h, "image");
	return rc;
}

static void
show_findings(const struct heap *h)
{
	for (size_t i = 0; i < h->findings.n && i < 12; i++)
		diag("  finding %s: %s", h->findings.v[i].kind, h->findings.v[i].message);
}

static unsigned
nkind(const struct heap *h, const char *kind)
{
	unsigned n = 0;
	for (size_t i = 0; i < h->findings.n; i++)
		if (!strcmp(h->findings.v[i].kind, kind))
			n++;
	return n;
}

static bool
has_kind_at(const struct heap *h, const char *kind, uint64_t chunk)
{
	for (size_t i = 0; i < h->findings.n; i++)
		if (!strcmp(h->findings.v[i].kind, kind) && h->findings.v[i].chunk == chunk)
			return true;
	return false;
}

static const struct hlist *
find_list(const struct heap *h, enum chunk_state st, unsigned index, unsigned owner)
{
	for (size_t i = 0; i < h->lists.n; i++)
		if (h->lists.v[i].state == st && h->lists.v[i].index == index && h->lists.v[i].owner == owner)
			return &h->lists.v[i];
	return NULL;
}

static bool
check_matches(struct std *s, const struct heap *h, const char *what)
{
	char why[1024];
	int bad = hi_check(s->b, h, why, sizeof(why));
	if (!ok(bad == 0, "%s: %s: every chunk, arena, tcache and mmapped total as built", s->name, what))
		diag("  %d differences: %s", bad, why);
	return bad == 0;
}

/* ---- the clean heap, every layout ---- */

static void
test_clean(const struct malloc_layout *L, uint64_t hp_pagesize)
{
	struct std s;
	struct heap *h;
	const struct hchunk *c;
	const struct hlist *l;
	uint64_t nsf;

	build_std(&s, L, hp_pagesize);
	h = walk(&s);
	if (!ok(h != NULL, "%s: walk", s.name)) {
		hi_free(s.b);
		return;
	}
	check_matches(&s, h, "clean heap");
	if (!ok(h->findings.n == 0, "%s: clean heap: no findings", s.name))
		show_findings(h);

	/* tcache and fastbin chunks are free though their successor's
	 * PREV_INUSE says "in use" */
	nsf = hi_r64(s.b, s.tc[1] + 0x20 + 8);
	c = heap_chunk_at(h, s.tc[1]);
	ok((nsf & PTM_PREV_INUSE) && c && c->state == CS_TCACHE && hchunk_owner(h, c) == 0,
	   "%s: tcache chunk is free while its successor has PREV_INUSE", s.name);
	if (has_fastbins(L)) {
		nsf = hi_r64(s.b, s.fast[0] + 0x30 + 8);
		c = heap_chunk_at(h, s.fast[0]);
		ok((nsf & PTM_PREV_INUSE) && c && c->state == CS_FASTBIN && c->list == 1,
		   "%s: fastbin chunk is free while its successor has PREV_INUSE", s.name);
	} else {
		ok(h->arenas.v[0].nfast == 0 && heap_chunk_at(h, s.fast[0])->state == CS_USED,
		   "%s: no fastbins in this layout", s.name);
	}
	/* normal bins: footer and successor's P clear */
	nsf = hi_r64(s.b, s.small + 0x110 + 8);
	ok(!(nsf & PTM_PREV_INUSE) && hi_r64(s.b, s.small + 0x110) == 0x110 &&
	   heap_chunk_at(h, s.small)->state == CS_SMALLBIN && heap_chunk_at(h, s.small)->list == 0x11,
	   "%s: smallbin chunk with footer, in bin 17", s.name);
	c = heap_chunk_at(h, s.large[2]);
	ok(c && c->state == CS_LARGEBIN && c->list == 101, "%s: 0x1510 chunk in largebin 101", s.name);
	l = find_list(h, CS_LARGEBIN, 101, 0);
	ok(l && l->count == 3 && h->list_chunks.v[l->first] == s.large[2] &&
	   h->list_chunks.v[l->first + 1] == s.large[0] && h->list_chunks.v[l->first + 2] == s.large[1],
	   "%s: largebin 101 sorted by size, equal sizes in second position", s.name);
	ok(hi_r64(s.b, s.large[2] + 32) == s.large[0] && hi_r64(s.b, s.large[0] + 40) == s.large[2] &&
	   hi_r64(s.b, s.large[1] + 32) == 0, "%s: builder: largebin nextsize ring", s.name);
	/* tcache lists in order, the declared counts */
	l = find_list(h, CS_TCACHE, 0, 0);
	ok(l && l->count == 3 && l->declared == 3 && !l->broken && h->list_chunks.v[l->first] == s.tc[2],
	   "%s: tcache bin 0 of thread 0: 3 chunks, newest first, counts agree", s.name);
	if (s.ltc) {
		c = heap_chunk_at(h, s.ltc);
		l = find_list(h, CS_TCACHE, 64, 0);
		ok(c && c->state == CS_TCACHE && c->list == 64 && l && l->count == 1 && l->declared == 1,
		   "%s: 0x520 chunk in large tcache bin 64", s.name);
	}
	c = heap_chunk_at(h, s.a1_cross);
	ok(c && c->state == CS_TCACHE && hchunk_owner(h, c) == 0 && c->arena == hi_walk_index(s.b, s.a1),
	   "%s: another arena's chunk in thread 0's tcache", s.name);
	/* the second arena: two heaps through heap_info.prev, fenceposts */
	{
		const struct harena *ar = &h->arenas.v[hi_walk_index(s.b, s.a1)];
		ok(ar->heaps.n == 2 && ar->heaps.v[0].info == s.b->heaps.v[2].base &&
		   ar->heaps.v[1].info == s.b->heaps.v[1].base, "%s: arena 1: both heaps, newest first", s.name);
		ok(!ar->main && (ar->flags & 2), "%s: arena 1 is non-main and non-contiguous", s.name);
	}
	ok(heap_chunk_at(h, s.a1_fp1) == NULL && heap_chunk_at(h, s.a1_fp2) == NULL &&
	   heap_chunk_at(h, s.a1_old_top)->state == CS_UNSORTED,
	   "%s: fenceposts closing the old heap are not chunks; the freed old top is", s.name);
	/* mmapped */
	c = heap_chunk_at(h, s.mm_align);
	ok(c && c->addr == s.mm_align && c->state == CS_MMAPPED && hchunk_mmap_offset(h, c) == 0x30 &&
	   heap_chunk_at(h, s.mm_align - 0x30) == NULL,
	   "%s: memalign'd mmapped chunk found at its offset, not at the stale header", s.name);
	ok(h->mmapped.chunks == s.b->n_mmaps && h->mmapped.bytes == s.b->mmapped_mem,
	   "%s: mmapped totals equal mp_ (%" PRIu64 " chunks, 0x%" PRIx64 " bytes)", s.name, h->mmapped.chunks,
	   h->mmapped.bytes);
	heap_free(h);

	/* the 2.34+ tcache_key found by the entries' vote */
	if (L->te_key >= 0 && !L->te_key_is_tcache_ptr) {
		struct malloc_info *mi = hi_info(s.b);
		mi->have_tcache_key = false;
		mi->tcache_key = 0;
		h = walk_mi(&s, mi);
		ok(h && h->mi->have_tcache_key && h->mi->tcache_key == HI_TCACHE_KEY,
		   "%s: tcache_key recovered from the entries", s.name);
		heap_free(h);
	} else if (L->te_key >= 0) {
		ok(hi_r64(s.b, s.tc[0] + 16 + 8) == s.b->threads.v[s.t0].tcache,
		   "%s: builder: the key is the owning tcache", s.name);
	} else {
		ok(hi_r64(s.b, s.tc[0] + 16 + 8) == 0, "%s: builder: no key before 2.29", s.name);
	}
	hi_free(s.b);
}

/* ---- corruptions ---- */

typedef void (*corrupt_fn)(struct std *s);

struct corruption {
	const char *name;
	const char *kind;		/* the finding it must give */
	bool needs_fastbins;
	corrupt_fn fn;
	uint64_t (*at)(struct std *s);	/* the chunk the finding names, or NULL */
	bool rest_intact;		/* hi_check still passes (a chunk with a damaged
					 * size is still counted, up to the next one) */
};

static uint64_t at_used3(struct std *s) { return s->used[3]; }

/* a small garbage size: the walk resynchronises on the next chunk */
static void
c_invalid_size(struct std *s)
{
	hi_w64(s->b, s->used[3] + 8, 0x13);
}

/* a huge size that wraps the address space */
static void
c_invalid_size_wrap(struct std *s)
{
	hi_w64(s->b, s->used[3] + 8, 0xfffffffffffffff1ULL);
}

static void
c_invalid_size_big(struct std *s)
{
	hi_w64(s->b, s->used[3] + 8, 0x7ffff0000001ULL);
}

static void
c_mmapped_bit(struct std *s)
{
	hi_w64(s->b, s->used[3] + 8, 0x20 | PTM_IS_MMAPPED | PTM_PREV_INUSE);
}

static uint64_t at_after_unsorted(struct std *s) { return s->unsorted + 0x510; }
static uint64_t at_unsorted(struct std *s) { return s->unsorted; }

static void
c_prev_size(struct std *s)
{
	hi_w64(s->b, s->unsorted + 0x510, 0x500);
}

static uint64_t at_used2(struct std *s) { return s->used[2]; }
static uint64_t at_used1(struct std *s) { return s->used[1]; }

/* a size that leads back to the previous chunk, whose size leads here */
static void
c_invalid_size_loop(struct std *s)
{
	hi_w64(s->b, s->used[1] + 8, (uint64_t)-0x30 | PTM_PREV_INUSE);
}

/* a used chunk whose successor says it is free (with a good footer) */
static void
c_prev_inuse(struct std *s)
{
	/* used[2] is followed by the unsorted chunk */
	hi_w64(s->b, s->unsorted, 0x20);
	hi_w64(s->b, s->unsorted + 8, hi_r64(s->b, s->unsorted + 8) & ~(uint64_t)PTM_PREV_INUSE);
}

static uint64_t at_small(struct std *s) { return s->small; }

static void
c_bin_chunk_inuse(struct std *s)
{
	hi_w64(s->b, s->small + 0x110 + 8, hi_r64(s->b, s->small + 0x118) | PTM_PREV_INUSE);
}

static void
c_bin_link_bk(struct std *s)
{
	hi_w64(s->b, s->small + 24, s->used[0]);
}

static uint64_t at_small2(struct std *s) { return s->small2; }

static void
c_bin_link_fd_outside(struct std *s)
{
	/* small2 is first in bin 17, small second: small2->fd leaves the heap */
	hi_w64(s->b, s->small2 + 16, 0x10000000);
}

static void
c_bin_index(struct std *s)
{
	/* the 0x110 chunk filed under bin 20 (0x140) */
	struct hi_chunk *c = hi_expect(s->b, s->small);
	uint64_t head17 = ms_bin_at(s->L, HI_MAIN_ARENA, 17);
	/* take it out of bin 17: small2 -> small -> head; make it small2 -> head */
	hi_w64(s->b, s->small2 + 16, head17);
	hi_w64(s->b, head17 + 24, s->small2);
	c->state = CS_USED;
	hi_bin_put_at(s->b, s->small, 20);
}

static void
c_bin_cycle(struct std *s)
{
	/* small -> small2 -> small ... */
	hi_w64(s->b, s->small + 16, s->small2);
}

static uint64_t at_fast1(struct std *s) { return s->fast[1]; }

static void
c_fastbin_cycle(struct std *s)
{
	/* fast[1] (head) -> fast[0] -> fast[1] */
	uint64_t pos = s->fast[0] + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, s->fast[1]) : s->fast[1]);
}

static void
c_fastbin_self(struct std *s)
{
	uint64_t pos = s->fast[1] + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, s->fast[1]) : s->fast[1]);
}

static void
c_fastbin_size(struct std *s)
{
	/* the 0x30 list filed under fastbin 2 (0x40) */
	uint64_t fb = HI_MAIN_ARENA + (uint64_t)s->L->ms_fastbins;
	hi_w64(s->b, fb + 16, hi_r64(s->b, fb + 8));
	hi_w64(s->b, fb + 8, 0);
	hi_expect(s->b, s->fast[0])->list = 2;
	hi_expect(s->b, s->fast[1])->list = 2;
}

static void
c_fastbin_misaligned(struct std *s)
{
	uint64_t pos = s->fast[1] + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, s->fast[0] + 8) : s->fast[0] + 8);
	hi_expect(s->b, s->fast[0])->state = CS_USED;
}


static void
c_fastbin_outside(struct std *s)
{
	uint64_t pos = s->fast[1] + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, 0xdead0000) : 0xdead0000);
	hi_expect(s->b, s->fast[0])->state = CS_USED;
}


/* a fastbin head that is not mangled although the layout safe-links:
 * the revealed pointer is garbage */
static void
c_fastbin_unmangled(struct std *s)
{
	hi_w64(s->b, s->fast[1] + 16, s->fast[0]);
	if (s->L->safe_linking)
		hi_expect(s->b, s->fast[0])->state = CS_USED;
}

static uint64_t
tc_entries(struct std *s, int thread, unsigned i)
{
	return s->b->threads.v[thread].tcache + s->L->tc_entries_off + 8 * (uint64_t)i;
}

/* counts[bin] of a thread's tcache as glibc would store "n entries" */
static void
set_count(struct std *s, int thread, unsigned bin, unsigned n)
{
	uint64_t at = s->b->threads.v[thread].tcache + s->L->tc_counts_off + bin * (uint64_t)s->L->tc_count_width;
	unsigned v = s->L->tc_counts_are_free_slots ? (unsigned)s->b->tcache_count - n : n;
	uint8_t *p = hi_mem(s->b, at, s->L->tc_count_width);
	p[0] = (uint8_t)v;
	if (s->L->tc_count_width == 2)
		p[1] = (uint8_t)(v >> 8);
}


static void
c_tcache_misaligned_head(struct std *s)
{
	hi_w64(s->b, tc_entries(s, s->t0, 0), s->tc[2] + 16 + 8);
	for (int i = 0; i < 3; i++)
		hi_expect(s->b, s->tc[i])->state = CS_USED;
}


static void
c_tcache_misaligned_next(struct std *s)
{
	uint64_t pos = s->tc[2] + 16;
	uint64_t v = s->tc[1] + 16 + 8;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, v) : v);
	hi_expect(s->b, s->tc[1])->state = CS_USED;
	hi_expect(s->b, s->tc[0])->state = CS_USED;
}

static void
c_tcache_outside(struct std *s)
{
	uint64_t pos = s->tc[2] + 16;
	uint64_t v = 0xdead0000 + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, v) : v);
	hi_expect(s->b, s->tc[1])->state = CS_USED;
	hi_expect(s->b, s->tc[0])->state = CS_USED;
}

static uint64_t at_tc2(struct std *s) { return s->tc[2]; }

static void
c_tcache_cycle(struct std *s)
{
	/* tc[2] -> tc[1] -> tc[0] -> tc[2] */
	uint64_t pos = s->tc[0] + 16, v = s->tc[2] + 16;
	hi_w64(s->b, pos, s->L->safe_linking ? ptm_protect(pos, v) : v);
}

static uint64_t at_tcache0(struct std *s) { return s->b->threads.v[s->t0].tcache - 16; }

static void
c_tcache_count(struct std *s)
{
	/* one more entry than the list has (2.42+: one free slot fewer) */
	set_count(s, s->t0, 0, 4);
}

static void
c_tcache_size(struct std *s)
{
	/* the 0x20 list filed under bin 1 (0x30) */
	hi_w64(s->b, tc_entries(s, s->t0, 1), hi_r64(s->b, tc_entries(s, s->t0, 0)));
	hi_w64(s->b, tc_entries(s, s->t0, 0), 0);
	set_count(s, s->t0, 0, 0);
	set_count(s, s->t0, 1, 3);
	for (int i = 0; i < 3; i++)
		hi_expect(s->b, s->tc[i])->list = 1;
}

static uint64_t at_used0(struct std *s) { return s->used[0]; }

static void
c_double_free_tcache_fast(struct std *s)
{
	/* used[0] (0x20) freed into the tcache and into... a fastbin of 0x20 */
	hi_tcache_put(s->b, s->t0, s->used[0]);
	hi_fastbin_put(s->b, s->used[0]);
}

static void
c_double_free_two_threads(struct std *s)
{
	hi_tcache_put(s->b, s->t0, s->used[0]);
	hi_tcache_put(s->b, s->t1, s->used[0]);
}

static void
c_double_free_tcache_bin(struct std *s)
{
	/* small is in bin 17 and (as if freed again) in t1's tcache */
	hi_tcache_put(s->b, s->t1, s->small);
}

static uint64_t at_small_dbl(struct std *s) { return s->small; }

static uint64_t at_top0(struct std *s) { return s->b->arenas.v[0].top; }

static void
c_top_size_big(struct std *s)
{
	uint64_t top = s->b->arenas.v[0].top;
	hi_w64(s->b, top + 8, 0x7ffffffff000ULL | PTM_PREV_INUSE);
}

static uint64_t at_top1(struct std *s) { return s->b->arenas.v[s->a1].top; }

/* arena 1's top ends before heap_info.size says the heap does */
static void
c_top_size_short(struct std *s)
{
	uint64_t top = s->b->arenas.v[s->a1].top;
	hi_w64(s->b, top + 8, (hi_r64(s->b, top + 8) - 0x100) | PTM_PREV_INUSE);
}

static uint64_t at_mid(struct std *s) { return s->large[0] + 0x100; }

static void
c_list_not_chunk(struct std *s)
{
	/* a tcache entry into the middle of a chunk, with a plausible size */
	uint64_t fake = s->large[0] + 0x100;
	hi_w64(s->b, fake + 8, 0x30 | PTM_PREV_INUSE);
	hi_w64(s->b, fake + 16, s->L->safe_linking ? ptm_protect(fake + 16, 0) : 0);
	hi_w64(s->b, tc_entries(s, s->t0, 1), fake + 16);
	set_count(s, s->t0, 1, 1);
}

static uint64_t at_tc1(struct std *s) { return s->tc[1]; }

static void
c_fast_prev_inuse(struct std *s)
{
	/* tc[1]'s successor (tc[2]) loses PREV_INUSE */
	uint64_t n = s->tc[1] + 0x20;
	hi_w64(s->b, n + 8, hi_r64(s->b, n + 8) & ~(uint64_t)PTM_PREV_INUSE);
}

static uint64_t at_a1used(struct std *s) { return s->a1_used; }

static void
c_foreign_chunk(struct std *s)
{
	/* arena 1's 0x100 chunk linked into main_arena's bin 16 */
	uint64_t head = ms_bin_at(s->L, HI_MAIN_ARENA, 16), c = s->a1_used;
	hi_w64(s->b, c + 16, head);
	hi_w64(s->b, c + 24, head);
	hi_w64(s->b, head + 16, c);
	hi_w64(s->b, head + 24, c);
	hi_w64(s->b, c + 8, 0x100 | PTM_PREV_INUSE);
	hi_w64(s->b, c + 0x100, 0x100);
	hi_w64(s->b, c + 0x108, hi_r64(s->b, c + 0x108) & ~(uint64_t)PTM_PREV_INUSE);
}

static void
c_arena_bit(struct std *s)
{
	hi_w64(s->b, s->used[2] + 8, hi_r64(s->b, s->used[2] + 8) | PTM_NON_MAIN_ARENA);
}

static void
c_heap_arena(struct std *s)
{
	/* the newer heap of arena 1 names another arena */
	uint64_t h = s->b->heaps.v[2].base;
	hi_w64(s->b, h + (uint64_t)s->L->hi_ar_ptr, HI_MAIN_ARENA);
}

static void
c_heap_size(struct std *s)
{
	uint64_t h = s->b->heaps.v[1].base;
	hi_w64(s->b, h + (uint64_t)s->L->hi_size_field, s->b->heap_max * 2);
}

static void
c_heap_cycle(struct std *s)
{
	/* the newer heap's prev points at itself */
	uint64_t h = s->b->heaps.v[2].base;
	hi_w64(s->b, h + (uint64_t)s->L->hi_prev, h);
}

static void
c_heap_prev_unmapped(struct std *s)
{
	uint64_t h = s->b->heaps.v[2].base;
	hi_w64(s->b, h + (uint64_t)s->L->hi_prev, h - 16 * s->b->heap_max);
}

static void
c_arena_cycle(struct std *s)
{
	uint64_t av = s->b->arenas.v[s->a1].addr;
	hi_w64(s->b, av + (uint64_t)s->L->ms_next, av);
}

static void
c_arena_link(struct std *s)
{
	uint64_t av = s->b->arenas.v[s->a1].addr;
	hi_w64(s->b, av + (uint64_t)s->L->ms_next, 0x1234567);
}

static void
c_arena_unreadable(struct std *s)
{
	uint64_t av = s->b->arenas.v[s->a1].addr;
	hi_w64(s->b, av + (uint64_t)s->L->ms_next, 0x10000000);
}

static void
c_arena_locked(struct std *s)
{
	hi_mem(s->b, s->b->arenas.v[s->a1].addr + (uint64_t)s->L->ms_mutex, 1)[0] = 1;
}

static void
c_mmapped_count(struct std *s)
{
	hi_mp_set(s->b, s->L->mp_n_mmaps, s->b->n_mmaps + 1, 4);
}

static void
c_mmapped_wrap(struct std *s)
{
	/* a plain mmapped header whose size wraps the address space */
	hi_w64(s->b, s->mm_plain + 8, 0xfffffffffffff000ULL | PTM_IS_MMAPPED);
}

static void
c_tcache_too_long(struct std *s)
{
	uint64_t c[32];
	int n = (int)s->b->tcache_count + 3;
	for (int i = 0; i < n; i++)
		c[i] = hi_alloc(s->b, 0, 0x50);
	for (int i = 0; i < n; i++)
		hi_tcache_put(s->b, s->t0, c[i]);
	set_count(s, s->t0, 3, 2);
	/* the walk stops after tcache_count + 1 entries: the rest are "used" */
	for (int i = 0; i < n - ((int)s->b->tcache_count + 1); i++)
		hi_expect(s->b, c[i])->state = CS_USED;
}

static void
c_tcache_unreadable(struct std *s)
{
	s->b->threads.v[s->t1].tcache = 0x10000000;
	hi_expect(s->b, s->a1_tc)->state = CS_USED;
	hi_expect(s->b, s->a2_tc)->state = CS_USED;
}

static void
c_top_in_bin(struct std *s)
{
	/* top linked into the unsorted bin as well */
	uint64_t head = ms_bin_at(s->L, HI_MAIN_ARENA, 1), top = s->b->arenas.v[0].top;
	hi_w64(s->b, s->unsorted + 16, top);
	hi_w64(s->b, top + 16, head);
	hi_w64(s->b, top + 24, s->unsorted);
	hi_w64(s->b, head + 24, top);
}

static void
c_main_top_elsewhere(struct std *s)
{
	/* main_arena.top points into arena 1's heap: spans would overlap */
	hi_w64(s->b, HI_MAIN_ARENA + (uint64_t)s->L->ms_top, s->b->arenas.v[s->a1].top);
}

static void
c_all_sizes_zero(struct std *s)
{
	/* every size field of the main heap after used[3] wiped */
	for (uint64_t p = s->used[3]; p < s->b->arenas.v[0].top; p += 16)
		hi_w64(s->b, p + 8, 0);
}

static uint64_t at_large2(struct std *s) { return s->large[2]; }
static uint64_t at_large1(struct std *s) { return s->large[1]; }

/* the first 0x1510 chunk's fd_nextsize written after free */
static void
c_nextsize_fd(struct std *s)
{
	hi_w64(s->b, s->large[2] + 32, s->large[2] + 0x100);
}

/* a second-of-its-size chunk with a nextsize pointer */
static void
c_nextsize_stale(struct std *s)
{
	hi_w64(s->b, s->large[1] + 40, s->large[0]);
}

/* the bin out of order: the second chunk's size made bigger than the first's
 * (and its footer, so the neighbour checks agree) */
static void
c_largebin_order(struct std *s)
{
	hi_w64(s->b, s->large[1] + 8, (hi_r64(s->b, s->large[1] + 8) & 7) | 0x1610);
}

static uint64_t at_none(struct std *s) { return 0; }

static const struct corruption corruptions[] = {
	{ "small invalid size", "invalid-size", false, c_invalid_size, at_used3, true },
	{ "size wrapping the address space", "invalid-size", false, c_invalid_size_wrap, at_used3, true },
	{ "size beyond the heap", "invalid-size", false, c_invalid_size_big, at_used3, true },
	{ "size leading back to the previous chunk", "invalid-size", false, c_invalid_size_loop, at_used1, true },
	{ "IS_MMAPPED inside a heap", "invalid-size", false, c_mmapped_bit, at_used3, true },
	{ "footer differs from the size", "size-vs-prev-size", false, c_prev_size, at_unsorted, false },
	{ "prev_size differs from the previous size", "prev-size", false, c_prev_size, at_after_unsorted, false },
	{ "successor says a used chunk is free", "prev-inuse", false, c_prev_inuse, at_unsorted, false },
	{ "bin chunk whose successor says in use", "bin-chunk-inuse", false, c_bin_chunk_inuse, at_small, false },
	{ "bin chunk with a bad bk", "bin-link", false, c_bin_link_bk, at_small, false },
	{ "bin fd outside every heap", "bin-link", false, c_bin_link_fd_outside, at_small2, false },
	{ "chunk in the wrong small bin", "bin-index", false, c_bin_index, at_small, true },
	{ "small bin cycle", "bin-cycle", false, c_bin_cycle, at_small2, false },
	{ "fastbin cycle", "fastbin-cycle", true, c_fastbin_cycle, at_fast1, true },
	{ "fastbin pointing at itself", "fastbin-cycle", true, c_fastbin_self, at_fast1, false },
	{ "fastbin list in the wrong bin", "fastbin-size", true, c_fastbin_size, at_fast1, true },
	{ "fastbin fd misaligned", "fastbin-misaligned", true, c_fastbin_misaligned, at_fast1, true },
	{ "fastbin fd outside every heap", "fastbin-outside-heap", true, c_fastbin_outside, at_fast1, true },
	{ "tcache head misaligned", "tcache-misaligned", false, c_tcache_misaligned_head, at_tcache0, true },
	{ "tcache next misaligned", "tcache-misaligned", false, c_tcache_misaligned_next, at_tc2, true },
	{ "tcache next outside every heap", "tcache-outside-heap", false, c_tcache_outside, at_tc2, true },
	{ "tcache cycle", "tcache-cycle", false, c_tcache_cycle, at_tc2, true },
	{ "tcache count off by one", "tcache-count", false, c_tcache_count, at_tcache0, true },
	{ "tcache list in the wrong bin", "tcache-size", false, c_tcache_size, at_tc2, true },
	{ "tcache and fastbin: double free", "double-free", true, c_double_free_tcache_fast, at_used0, false },
	{ "two threads' tcaches: double free", "double-free", false, c_double_free_two_threads, at_used0, false },
	{ "tcache and small bin: double free", "double-free", false, c_double_free_tcache_bin, at_small_dbl, false },
	{ "top bigger than system_mem", "top-size", false, c_top_size_big, at_top0, false },
	{ "top short of the heap end", "top-size", false, c_top_size_short, at_top1, false },
	{ "tcache entry inside a chunk", "list-not-chunk", false, c_list_not_chunk, at_mid, false },
	{ "tcache chunk's successor without PREV_INUSE", "fast-chunk-prev-inuse", false, c_fast_prev_inuse, at_tc1,
	  false },
	{ "another arena's chunk in a bin", "foreign-chunk", false, c_foreign_chunk, at_a1used, false },
	{ "NON_MAIN_ARENA in the main heap", "arena-bit", false, c_arena_bit, at_used2, true },
	{ "heap_info names another arena", "heap-arena", false, c_heap_arena, at_none, false },
	{ "heap_info size beyond heap_max", "heap-size", false, c_heap_size, at_none, false },
	{ "heap_info prev loops", "heap-cycle", false, c_heap_cycle, at_none, false },
	{ "heap_info prev unmapped", "heap-unreadable", false, c_heap_prev_unmapped, at_none, false },
	{ "arena ring loops", "arena-cycle", false, c_arena_cycle, at_none, false },
	{ "arena next misaligned", "arena-link", false, c_arena_link, at_none, false },
	{ "arena next unmapped", "arena-unreadable", false, c_arena_unreadable, at_none, false },
	{ "arena locked", "arena-locked", false, c_arena_locked, at_none, true },
	{ "mp_.n_mmaps off by one", "mmapped-count", false, c_mmapped_count, at_none, false },
	{ "mmapped size wrapping the address space", "mmapped-count", false, c_mmapped_wrap, at_none, false },
	{ "tcache list longer than any count", "tcache-too-long", false, c_tcache_too_long, at_none, false },
	{ "tcache unreadable", "tcache-unreadable", false, c_tcache_unreadable, at_none, true },
	{ "top also in the unsorted bin", "top-in-bin", false, c_top_in_bin, at_top0, false },
	{ "main top inside another arena's heap", "top-pointer", false, c_main_top_elsewhere, at_none, false },
	{ "every size zero after a chunk", "invalid-size", false, c_all_sizes_zero, at_used3, false },
	{ "fastbin head not mangled", NULL, true, c_fastbin_unmangled, at_none, false },
	{ "largebin fd_nextsize written after free", "largebin-nextsize", false, c_nextsize_fd, at_large2, true },
	{ "largebin nextsize on a second chunk", "largebin-nextsize", false, c_nextsize_stale, at_large1, true },
	{ "largebin out of order", "largebin-order", false, c_largebin_order, at_large1, false },
};

static void
test_corruption(const struct malloc_layout *L, const struct corruption *k)
{
	struct std s;
	struct heap *h;
	uint64_t t0;
	double secs;

	if (k->needs_fastbins && !has_fastbins(L))
		return;
	build_std(&s, L, 0);
	k->fn(&s);
	t0 = hd_now_ns();
	h = walk(&s);
	secs = (hd_now_ns() - t0) / 1e9;
	if (!ok(h != NULL && secs < 5, "%s: %s: the walk ends (%.3f s)", s.name, k->name, secs)) {
		heap_free(h);
		hi_free(s.b);
		return;
	}
	if (k->kind) {
		uint64_t at = k->at ? k->at(&s) : 0;
		bool found = at ? has_kind_at(h, k->kind, at) : nkind(h, k->kind) > 0;
		if (!ok(found, "%s: %s: finding %s%s", s.name, k->name, k->kind, at ? " at the chunk" : ""))
			show_findings(h);
	} else {
		/* no finding required: a safe-linked head read raw */
		ok(!s.L->safe_linking || h->errors > 0, "%s: %s: reported when safe-linking", s.name, k->name);
	}
	if (k->rest_intact)
		check_matches(&s, h, k->name);
	heap_free(h);
	hi_free(s.b);
}

/* The walk resumes after a corrupted size and still finds every later
 * chunk, in each arena. */
static void
test_resync(const struct malloc_layout *L)
{
	struct std s;
	struct heap *h;
	size_t i;

	build_std(&s, L, 0);
	/* arena 1's first used chunk, and a bin chunk's size in main */
	hi_w64(s.b, s.a1_used + 8, 0x5);
	h = walk(&s);
	ok(h && has_kind_at(h, "invalid-size", s.a1_used), "%s: arena 1: invalid size found", s.name);
	if (h) {
		/* the damaged chunk is still counted, up to where the walk
		 * resumes: the next chunk */
		i = heap_chunk_lower_bound(h, s.a1_used);
		ok(i + 1 < h->nchunks && h->chunks[i].addr == s.a1_used && h->chunks[i].state == CS_USED &&
		   h->chunks[i + 1].addr == s.a1_tc, "%s: arena 1: the walk resumes at the next chunk, the damaged "
		   "one counted up to it", s.name);
		check_matches(&s, h, "after a corrupted size in arena 1");
	}
	heap_free(h);
	hi_free(s.b);
}

/* Many heaps' worth of the same corruption everywhere: random bytes over
 * the whole sbrk heap must not crash or hang the walk. */
static void
test_noise(const struct malloc_layout *L)
{
	struct std s;
	unsigned seed = 12345;
	int fine = 0, runs = 60;

	for (int r = 0; r < runs; r++) {
		struct heap *h;
		build_std(&s, L, 0);
		for (int k = 0; k < 64; k++) {
			uint64_t off;
			seed = seed * 1103515245 + 12345;
			off = (seed >> 4) % (0x21000 - 8);
			seed = seed * 1103515245 + 12345;
			if (r % 2)
				hi_w64(s.b, HI_SBRK_BASE + (off & ~7ULL), ((uint64_t)seed << 32) | (seed >> 3));
			else
				hi_mem(s.b, HI_SBRK_BASE + off, 1)[0] ^= (uint8_t)(1u << (seed % 8));
		}
		h = walk(&s);
		if (h && h->nchunks > 0)
			fine++;
		heap_free(h);
		hi_free(s.b);
	}
	ok(fine == runs, "%s: %d random corruptions of the sbrk heap: every walk ends", s.name, runs);
}

/* 2.42+: num_slots counts free slots; a full bin has 0. */
static void
test_free_slots(void)
{
	const struct malloc_layout *L = hi_layout(42);
	struct heapimg *b = hi_new(L, 0x21000, 0);
	int t = hi_add_thread(b, 1, 0, true);
	uint64_t c[7], tc = b->threads.v[t].tcache;
	struct heap *h;
	const struct hlist *l;
	char why[512];

	for (int i = 0; i < 7; i++)
		c[i] = hi_alloc(b, 0, 0x40);
	hi_alloc(b, 0, 0x20);
	for (int i = 0; i < 7; i++)
		hi_tcache_put(b, t, c[i]);
	ok(ptm_rd32(hi_mem(b, tc + 2 * 2, 4)) % 65536 == 0, "2.42: builder: a full bin has no free slot left");
	if (walk_img(b, &h) == 0) {
		l = NULL;
		for (size_t i = 0; i < h->lists.n; i++)
			if (h->lists.v[i].state == CS_TCACHE && h->lists.v[i].index == 2)
				l = &h->lists.v[i];
		ok(l && l->count == 7 && l->declared == 7, "2.42: 7 entries declared by 0 free slots");
		ok(h->findings.n == 0 && hi_check(b, h, why, sizeof(why)) == 0, "2.42: full bin walks clean");
		heap_free(h);
	}
	/* more free slots than the capacity is corruption */
	hi_mem(b, tc + 2 * 3, 2)[0] = 9;
	if (walk_img(b, &h) == 0) {
		ok(nkind(h, "tcache-count") == 1, "2.42: num_slots above tcache_count is a tcache-count finding");
		heap_free(h);
	}
	hi_free(b);
}

/* An arena whose old heap's top was too small to free: only the pseudo
 * chunks are left before the new heap. */
static void
test_small_old_top(const struct malloc_layout *L)
{
	struct heapimg *b = hi_new(L, 0x1000, 0);
	int a = hi_new_arena(b, 0x2000);
	uint64_t first = ptm_first_chunk_first_heap(L, b->heaps.v[1].base), left;
	struct heap *h;
	char why[512];

	/* leave exactly 0x30 (then 0x20) bytes of top */
	left = b->heaps.v[1].base + 0x2000 - first;
	hi_alloc(b, a, left - 0x30);
	hi_grow_heap(b, a, 0x1000);
	hi_alloc(b, a, 0x100);
	if (walk_img(b, &h) == 0) {
		ok(h->findings.n == 0 && hi_check(b, h, why, sizeof(why)) == 0,
		   "2.%u: an old top of 0x30 becomes a 0x20 chunk and a fencepost", L->version % 100);
		if (h->findings.n)
			show_findings(h);
		heap_free(h);
	}
	hi_free(b);

	b = hi_new(L, 0x1000, 0);
	a = hi_new_arena(b, 0x2000);
	hi_alloc(b, a, left - 0x20);
	hi_grow_heap(b, a, 0x1000);
	if (walk_img(b, &h) == 0) {
		ok(h->findings.n == 0 && hi_check(b, h, why, sizeof(why)) == 0,
		   "2.%u: an old top of 0x20 leaves only fenceposts", L->version % 100);
		if (h->findings.n)
			show_findings(h);
		heap_free(h);
	}
	hi_free(b);
}

/* ---- the main heap's shape: glibc's state, not the mappings ---- */

static const struct harena *
main_arena_of(const struct heap *h)
{
	return h && h->arenas.n ? &h->arenas.v[0] : NULL;
}

/* Walk, and say whether the walk matches the image with no finding. */
static struct heap *
walk_clean(struct std *s, const char *what)
{
	struct heap *h = walk(s);
	if (!ok(h != NULL, "%s: %s: walk", s->name, what))
		return NULL;
	check_matches(s, h, what);
	if (!ok(h->findings.n == 0, "%s: %s: no finding", s->name, what))
		show_findings(h);
	return h;
}

static void
test_main_shapes(const struct malloc_layout *L)
{
	struct std s;
	struct heap *h;
	const struct harena *ar;
	uint64_t top, c, old, end0 = HI_SBRK_BASE + 0x21000;

	/* [heap] in two mappings (a fork()ed worker grew it), a chunk
	 * across the boundary */
	build_std(&s, L, 0);
	hi_sbrk_extend(s.b, 0, 0x3000);
	top = s.b->arenas.v[0].top;
	c = hi_alloc(s.b, 0, end0 - top + 0x100);
	hi_alloc(s.b, 0, 0x40);
	h = walk_clean(&s, "[heap] split in two mappings");
	ar = main_arena_of(h);
	ok(ar && ar->contiguous && ar->heaps.n == 1 && heap_chunk_at(h, end0) && heap_chunk_at(h, end0)->addr == c,
	   "%s: one contiguous main heap; the chunk across the split is one chunk", s.name);
	heap_free(h);
	hi_free(s.b);

	/* the program's own sbrk() twice: fenceposts, foreign memory */
	build_std(&s, L, 0);
	old = hi_sbrk_extend(s.b, 0x3028, 0x8000);
	ok(old != 0, "%s: builder: the old top stays a chunk", s.name);
	hi_bin_put(s.b, old, true);
	c = hi_alloc(s.b, 0, 0x50);
	hi_alloc(s.b, 0, 0x90);
	hi_tcache_put(s.b, s.t0, c);
	old = hi_sbrk_extend(s.b, 0x1000, 0x2000);
	hi_alloc(s.b, 0, 0x100);
	h = walk_clean(&s, "foreign sbrk memory behind fenceposts");
	ar = main_arena_of(h);
	ok(ar && ar->fenceposts == 2 && ar->foreign == 0x3030 + 0x1000 + (old ? 0 : 0),
	   "%s: 2 fencepost groups, 0x%" PRIx64 " foreign bytes (want 0x4030)", s.name, ar ? ar->foreign : 0);
	ok(h && heap_chunk_at(h, end0 + 0x100) == NULL, "%s: foreign memory is no chunk", s.name);
	heap_free(h);
	hi_free(s.b);

	/* an old top of 0x30 and of 0x20: glibc swallows it */
	for (uint64_t left = 0x20; left <= 0x30; left += 0x10) {
		struct heapimg *b = hi_new(L, 0x1000, 0);
		char why[512];
		hi_alloc(b, 0, 0x1000 - left);
		ok(hi_sbrk_extend(b, 0x100, 0x1000) == 0, "2.%u: builder: an old top of 0x%" PRIx64 " is swallowed",
		   L->version % 100, left);
		hi_alloc(b, 0, 0x40);
		if (walk_img(b, &h) == 0) {
			if (!ok(h->findings.n == 0 && hi_check(b, h, why, sizeof(why)) == 0,
				"2.%u: an old top of 0x%" PRIx64 " behind fenceposts walks clean", L->version % 100,
				left))
				show_findings(h);
			heap_free(h);
		}
		hi_free(b);
	}

	/* an unreadable page inside a block, then one on chunk headers */
	build_std(&s, L, 0);
	hi_sbrk_extend(s.b, 0, 0x1000);
	hi_sbrk_extend(s.b, 0, 0x1000);
	hi_sbrk_extend(s.b, 0, 0x10000);
	top = s.b->arenas.v[0].top;
	c = hi_alloc(s.b, 0, end0 + 0x2000 - top + 0x40);
	hi_alloc(s.b, 0, 0x30);
	hi_unreadable(s.b, end0 + 0x1000);
	h = walk_clean(&s, "an unreadable page inside a block");
	ar = main_arena_of(h);
	ok(ar && ar->unreadable == 0x1000, "%s: 0x1000 unreadable bytes counted", s.name);
	heap_free(h);
	hi_free(s.b);
	build_std(&s, L, 0);
	hi_sbrk_extend(s.b, 0, 0x1000);
	hi_sbrk_extend(s.b, 0, 0x1000);
	hi_sbrk_extend(s.b, 0, 0x10000);
	top = s.b->arenas.v[0].top;
	hi_alloc(s.b, 0, end0 + 0x1000 - top + 0x40);
	c = hi_alloc(s.b, 0, 0x100);	/* its header is in the page */
	hi_alloc(s.b, 0, 0x2000);
	hi_unreadable(s.b, end0 + 0x1000);
	h = walk(&s);
	ok(h && has_kind_at(h, "heap-unreadable", c), "%s: a chunk header in an unreadable page is a finding",
	   s.name);
	if (h && !has_kind_at(h, "heap-unreadable", c))
		show_findings(h);
	heap_free(h);
	hi_free(s.b);

	/* brk cannot grow: three mmap()ed segments, each new one below */
	build_std(&s, L, 0);
	old = hi_sbrk_mmap_segment(s.b, 0x10000);
	hi_bin_put(s.b, old, true);
	c = hi_alloc(s.b, 0, 0x60);
	hi_alloc(s.b, 0, 0x9000);
	hi_tcache_put(s.b, s.t0, c);
	old = hi_sbrk_mmap_segment(s.b, 0x8000);
	hi_bin_put(s.b, old, true);
	old = hi_sbrk_mmap_segment(s.b, 0x4000);
	hi_alloc(s.b, 0, 0x100);
	h = walk_clean(&s, "non-contiguous main arena, 4 segments");
	ar = main_arena_of(h);
	ok(ar && !ar->contiguous && ar->heaps.n == 4 && ar->fenceposts == 3,
	   "%s: non-contiguous: 4 segments found, 3 fencepost groups (%zu, %" PRIu64 ")", s.name,
	   ar ? ar->heaps.n : 0, ar ? ar->fenceposts : 0);
	heap_free(h);
	hi_free(s.b);
}

/* Damage to the main heap's bounds: each finding on the right chunk, and
 * never on the valid chunk before top. */
static void
test_main_damage(const struct malloc_layout *L)
{
	struct std s;
	struct heap *h;
	uint64_t top, before_top, sys;
	const struct harena *ar;

	/* shrunk and enlarged top (within system_mem), and one that wraps */
	static const int64_t deltas[] = { -0x1000, 0x1000, 0 };
	for (size_t k = 0; k < ARRAY_SIZE(deltas); k++) {
		build_std(&s, L, 0);
		top = s.b->arenas.v[0].top;
		before_top = s.used[9];
		if (deltas[k])
			hi_w64(s.b, top + 8, (uint64_t)((int64_t)hi_r64(s.b, top + 8) + deltas[k]));
		else
			hi_w64(s.b, top + 8, 0xfffffffffffff001ULL);
		h = walk(&s);
		ok(h && has_kind_at(h, "top-size", top) && nkind(h, "top-size") == 1,
		   "%s: main top %s: top-size on top", s.name, k == 0 ? "shrunk" : k == 1 ? "enlarged" : "wrapping");
		ok(h && !has_kind_at(h, "invalid-size", before_top) && !nkind(h, "invalid-size") &&
		   !nkind(h, "size-overlap"), "%s: ... and nothing on the chunk before it", s.name);
		if (h && (!has_kind_at(h, "top-size", top) || nkind(h, "invalid-size")))
			show_findings(h);
		ar = main_arena_of(h);
		ok(ar && ar->heaps.n == 1 && ar->heaps.v[0].end == HI_SBRK_BASE + 0x21000,
		   "%s: ... the heap still ends at sbrk_base + system_mem", s.name);
		heap_free(h);
		hi_free(s.b);
	}

	/* system_mem beyond the memory */
	build_std(&s, L, 0);
	hi_w64(s.b, HI_MAIN_ARENA + (uint64_t)L->ms_system_mem, 0x121000);
	h = walk(&s);
	ok(h && nkind(h, "heap-size") == 1, "%s: system_mem beyond the memory: heap-size", s.name);
	heap_free(h);
	hi_free(s.b);

	/* sbrk_base unmapped: said, and the walk goes by [heap] */
	build_std(&s, L, 0);
	hi_mp_set(s.b, L->mp_sbrk_base, 0x10000, 8);
	h = walk(&s);
	ok(h && nkind(h, "mp-field") >= 1, "%s: mp_.sbrk_base unmapped: mp-field", s.name);
	if (h)
		check_matches(&s, h, "sbrk_base unmapped");
	heap_free(h);
	hi_free(s.b);

	/* the chunk before top enlarged into top: blamed on it, top not
	 * counted twice */
	build_std(&s, L, 0);
	top = s.b->arenas.v[0].top;
	hi_w64(s.b, s.used[9] + 8, hi_r64(s.b, s.used[9] + 8) + 0x200);
	h = walk(&s);
	ok(h && has_kind_at(h, "size-overlap", s.used[9]) && !nkind(h, "invalid-size"),
	   "%s: a chunk enlarged into top: size-overlap on it", s.name);
	ar = main_arena_of(h);
	sys = ar ? ar->used.bytes + ar->tcache.bytes + ar->fastbins.bytes + ar->bins.bytes + ar->top_size : 0;
	ok(ar && sys == ar->system_mem, "%s: ... in use + free + top = system_mem (0x%" PRIx64 " vs 0x%" PRIx64 ")",
	   s.name, sys, ar ? ar->system_mem : 0);
	if (h)
		check_matches(&s, h, "chunk enlarged into top");
	heap_free(h);
	hi_free(s.b);

	/* a chunk enlarged over its neighbours, landing inside a chunk */
	build_std(&s, L, 0);
	hi_w64(s.b, s.used[3] + 8, (0x20 + 0x1410 + 0x10) | PTM_PREV_INUSE);
	h = walk(&s);
	ok(h && has_kind_at(h, "size-overlap", s.used[3]) && !nkind(h, "invalid-size"),
	   "%s: a chunk enlarged over the next: size-overlap on it", s.name);
	if (h && !has_kind_at(h, "size-overlap", s.used[3]))
		show_findings(h);
	if (h)
		check_matches(&s, h, "chunk enlarged over the next");
	heap_free(h);
	hi_free(s.b);
}

/* A bad size whose resynchronisation lands on a wrong chain: what the
 * walk finds before it meets a trusted chunk again follows from it. */
static void
test_after(const struct malloc_layout *L)
{
	struct heapimg *b = hi_new(L, 0x4000, 0);
	uint64_t z = hi_alloc(b, 0, 0x40), a = hi_alloc(b, 0, 0x200), c = hi_alloc(b, 0, 0x40), fake = a + 0x20;
	struct heap *h;
	const struct finding *f1 = NULL, *f2 = NULL;

	(void)z;
	(void)c;
	hi_w64(b, a + 8, 0x5);
	for (int i = 0; i < 4; i++)
		hi_w64(b, fake + 0x20 * (uint64_t)i + 8, 0x20 | PTM_PREV_INUSE);
	hi_w64(b, fake + 0x80 + 8, 0x7);
	if (walk_img(b, &h) < 0) {
		ok(false, "2.%u: walk", L->version % 100);
		hi_free(b);
		return;
	}
	for (size_t i = 0; i < h->findings.n; i++) {
		if (h->findings.v[i].chunk == a)
			f1 = &h->findings.v[i];
		if (h->findings.v[i].chunk == fake + 0x80)
			f2 = &h->findings.v[i];
	}
	ok(f1 && f1->after == 0 && f2 && f2->after == a && strstr(f2->message, "follows from"),
	   "2.%u: a finding met out of step is marked as following from the first", L->version % 100);
	if (!(f2 && f2->after == a))
		show_findings(h);
	ok(heap_chunk_at(h, c) && heap_chunk_at(h, c)->addr == c, "2.%u: the walk is back in step after it",
	   L->version % 100);
	heap_free(h);
	hi_free(b);
}

static const struct finding *
first_kind(const struct heap *h, const char *kind)
{
	for (size_t i = 0; h && i < h->findings.n; i++)
		if (!strcmp(h->findings.v[i].kind, kind))
			return &h->findings.v[i];
	return NULL;
}

/* A damaged tcache_perthread_struct, a tcache key written after free,
 * damage to mp_: each named, the rest walked. */
static void
test_tcache_damage(const struct malloc_layout *L)
{
	struct std s;
	struct heap *h;
	const struct finding *f;

	/* a count above mp_.tcache_count (counters, not free slots) */
	if (!L->tc_counts_are_free_slots) {
		build_std(&s, L, 0);
		set_count(&s, s.t0, 5, 200);
		h = walk(&s);
		f = first_kind(h, "tcache-count");
		ok(f && f->chunk == at_tcache0(&s) && f->arena == 0 && f->tid == 1000 && strstr(f->message, "200") &&
		   strstr(f->message, "mp_.tcache_count"),
		   "%s: a count above tcache_count: tcache-count on the struct, arena 0, thread 1000", s.name);
		if (h)
			check_matches(&s, h, "count above tcache_count (the other bins walked)");
		heap_free(h);
		hi_free(s.b);
	}
	/* a misaligned head: named with arena and thread, the other bins
	 * (and the other thread's) walked */
	build_std(&s, L, 0);
	c_tcache_misaligned_head(&s);
	h = walk(&s);
	f = first_kind(h, "tcache-misaligned");
	ok(f && f->arena == 0 && f->tid == 1000 && f->field == tc_entries(&s, s.t0, 0) && f->nbytes == 8,
	   "%s: a misaligned tcache head: arena, thread, the field and its bytes", s.name);
	if (h)
		check_matches(&s, h, "misaligned tcache head");
	heap_free(h);
	hi_free(s.b);
	/* a key written after free */
	if (L->te_key >= 0) {
		build_std(&s, L, 0);
		hi_w64(s.b, s.tc[1] + 16 + (uint64_t)L->te_key, 0x4141414141414141ULL);
		h = walk(&s);
		f = first_kind(h, "tcache-key");
		ok(f && f->chunk == s.tc[1] && f->block == s.tc[1] + 16 && f->nbytes == 16 &&
		   strstr(f->message, "written after free"),
		   "%s: a tcache key overwritten: tcache-key, 'written after free', with the bytes", s.name);
		if (!f)
			show_findings(h);
		if (h)
			check_matches(&s, h, "tcache key overwritten");
		heap_free(h);
		hi_free(s.b);
	}
	/* mp_.tcache_bins absurd */
	if (L->has_tcache) {
		build_std(&s, L, 0);
		hi_mp_set(s.b, L->mp_tcache_bins, 5000, 8);
		h = walk(&s);
		f = first_kind(h, "mp-field");
		ok(f && f->severity == FIND_ERROR && strstr(f->message, "tcache_bins") && h->errors > 0,
		   "%s: mp_.tcache_bins of 5000: an mp-field error", s.name);
		heap_free(h);
		hi_free(s.b);
	}
}

/* The user's words: an overwritten header below a block in use is a
 * probable overflow from that block, with the bytes; a chunk in two
 * lists a double free of the block. */
static void
test_wording(const struct malloc_layout *L)
{
	struct heapimg *b = hi_new(L, 0x4000, 0);
	uint64_t a = hi_alloc(b, 0, 0x30), v = hi_alloc(b, 0, 0x30);
	struct heap *h;
	const struct finding *f;

	hi_alloc(b, 0, 0x40);
	memset(hi_mem(b, v, 16), 'A', 16);
	if (walk_img(b, &h) == 0) {
		f = first_kind(h, "invalid-size");
		ok(f && f->chunk == v && f->block == a + 16 && f->block_size == 0x28 &&
		   !strncmp(f->message, "probable overflow from block ", 29) && f->nbytes == 16 &&
		   f->bytes_at == v && !memcmp(f->bytes, "AAAAAAAAAAAAAAAA", 16),
		   "2.%u: an overwritten size: 'probable overflow from block' below it, with the bytes",
		   L->version % 100);
		if (!f)
			show_findings(h);
		heap_free(h);
	}
	hi_free(b);
	if (L->has_tcache) {
		struct std s;
		build_std(&s, L, 0);
		c_double_free_two_threads(&s);
		h = walk(&s);
		f = first_kind(h, "double-free");
		ok(f && f->block == s.used[0] + 16 && !strncmp(f->message, "double free of block ", 21) &&
		   f->tid != 0, "%s: a chunk in two threads' tcaches: 'double free of block', the thread",
		   s.name);
		heap_free(h);
		hi_free(s.b);
	}
}

/* Not initialised, and not glibc: nothing is walked. */
static void
test_uninitialised(void)
{
	struct heapimg *b = hi_new(hi_layout(36), 0x1000, 0);
	struct malloc_info *mi = hi_info(b);
	struct heap *h;

	mi->initialised = false;
	ok(heap_walk_info(b->t, mi, NULL, &h) == 0 && !h->initialised && h->nchunks == 0,
	   "malloc not initialised: an empty walk");
	heap_free(h);
	mi = hi_info(b);
	mi->allocator = ALLOC_JEMALLOC;
	ok(heap_walk_info(b->t, mi, NULL, &h) == 0 && h->nchunks == 0, "another allocator: an empty walk");
	heap_free(h);
	hi_free(b);
}

/* A layout whose offsets do not fit its structures (a bad DWARF) is
 * refused, not used to read past the walker's copies. */
static void
test_bad_layout(void)
{
	struct heapimg *b = hi_new(hi_layout(36), 0x1000, 0);
	struct malloc_info *mi;
	struct heap *h = NULL;
	int rc;

	hi_add_thread(b, 1, 0, true);
	mi = hi_info(b);
	mi->L.tc_nbins = 200;
	rc = heap_walk_info(b->t, mi, NULL, &h);
	ok(rc < 0 && hd_errcode() == HD_EFORMAT && !h, "tcache arrays beyond the struct: refused (%s)", hd_errmsg());
	mi = hi_info(b);
	mi->L.ms_size = 0x100;
	rc = heap_walk_info(b->t, mi, NULL, &h);
	ok(rc < 0 && hd_errcode() == HD_EFORMAT, "bins beyond malloc_state: refused");
	mi = hi_info(b);
	mi->L.tc_count_width = 4;
	ok(heap_walk_info(b->t, mi, NULL, &h) < 0, "32-bit tcache counters: refused");
	mi = hi_info(b);
	mi->L.hi_prev = 0x40;
	ok(heap_walk_info(b->t, mi, NULL, &h) < 0, "heap_info.prev beyond heap_info: refused");
	hi_free(b);
}

int
main(void)
{
	const struct malloc_layout *tab;
	size_t n;
	static const unsigned corrupt_versions[] = { 26, 29, 31, 33, 36, 42, 43 };

	alarm(300);	/* a walk that hangs fails the test instead of the run */
	hd_quiet_warnings = true;
	tab = layout_table(LAYOUT_X86_64, &n);
	for (size_t i = 0; i < n; i++)
		test_clean(&tab[i], 0);
	test_clean(hi_layout(36), 0x200000);	/* hugetlb=2: 8 MiB heaps */
	test_clean(hi_layout(43), 0x200000);
	for (size_t v = 0; v < ARRAY_SIZE(corrupt_versions); v++) {
		const struct malloc_layout *L = hi_layout(corrupt_versions[v]);
		for (size_t k = 0; k < ARRAY_SIZE(corruptions); k++)
			test_corruption(L, &corruptions[k]);
		test_resync(L);
		test_small_old_top(L);
		test_main_shapes(L);
		test_main_damage(L);
		test_after(L);
		test_tcache_damage(L);
		test_wording(L);
	}
	test_noise(hi_layout(36));
	test_noise(hi_layout(26));
	test_noise(hi_layout(43));
	test_free_slots();
	test_uninitialised();
	test_bad_layout();
	return tap_done();
}
