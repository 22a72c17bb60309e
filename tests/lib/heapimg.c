/*
 * heapimg.c - a synthetic glibc heap in an image target (see heapimg.h):
 * arenas, heaps, tcaches, fastbins, bins and mmapped chunks laid out
 * byte for byte as glibc would leave them, for one layout table row, and
 * the expected state of every chunk for comparing with a heap walk.
 */
#include "config.h"
#include "heapimg.h"
#include "ptmalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hi_bug(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));

static void
hi_bug(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "heapimg: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* ---- raw memory ---- */

uint8_t *
hi_mem(struct heapimg *b, uint64_t addr, size_t len)
{
	uint8_t *p = image_ptr(b->t, addr, len);
	if (!p)
		hi_bug("no image memory at 0x%" PRIx64 " (+%zu)", addr, len);
	return p;
}

uint64_t
hi_r64(struct heapimg *b, uint64_t addr)
{
	return ptm_rd64(hi_mem(b, addr, 8));
}

void
hi_w64(struct heapimg *b, uint64_t addr, uint64_t v)
{
	memcpy(hi_mem(b, addr, 8), &v, 8);
}

static void
wn(struct heapimg *b, uint64_t addr, uint64_t v, unsigned width)
{
	uint8_t *p = hi_mem(b, addr, width);
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
rn(struct heapimg *b, uint64_t addr, unsigned width)
{
	uint8_t *p = hi_mem(b, addr, width);
	uint64_t v = 0;
	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A field of an arena (off < 0: absent in this layout, ignored). */
static void
ms_set(struct heapimg *b, uint64_t av, int32_t off, uint64_t v, unsigned width)
{
	if (off >= 0)
		wn(b, av + (uint64_t)off, v, width);
}

void
hi_mp_set(struct heapimg *b, int32_t off, uint64_t v, unsigned width)
{
	if (off >= 0)
		wn(b, HI_MP + (uint64_t)off, v, width);
}

uint64_t
hi_mp_get(struct heapimg *b, int32_t off)
{
	return off < 0 ? 0 : hi_r64(b, HI_MP + (uint64_t)off);
}

static void
add_region(struct heapimg *b, uint64_t addr, uint64_t len, const char *path)
{
	if (image_add_region(b->t, addr, NULL, len, MAP_PERM_R | MAP_PERM_W | MAP_PERM_P, path) < 0)
		hi_bug("cannot add a region at 0x%" PRIx64 ": %s", addr, hd_errmsg());
}

/* ---- expectations ---- */

static struct hi_chunk *
find_chunk(const struct heapimg *b, uint64_t addr)
{
	for (size_t i = 0; i < b->chunks.n; i++)
		if (b->chunks.v[i].addr == addr)
			return &b->chunks.v[i];
	return NULL;
}

struct hi_chunk *
hi_expect(struct heapimg *b, uint64_t addr)
{
	return find_chunk(b, addr);
}

void
hi_forget(struct heapimg *b, uint64_t addr)
{
	for (size_t i = 0; i < b->chunks.n; i++) {
		if (b->chunks.v[i].addr == addr) {
			memmove(&b->chunks.v[i], &b->chunks.v[i + 1], (b->chunks.n - i - 1) * sizeof(b->chunks.v[0]));
			b->chunks.n--;
			return;
		}
	}
}

static void
expect(struct heapimg *b, uint64_t addr, uint64_t size, int arena, enum chunk_state st)
{
	struct hi_chunk c = { addr, size, arena, st, 0, -1, 0, 0 };
	vec_push(&b->chunks, c);
}

unsigned
hi_walk_index(const struct heapimg *b, int arena)
{
	/* main_arena, then the newest arena (glibc inserts after main) */
	return arena <= 0 ? 0 : (unsigned)(b->arenas.n - (size_t)arena);
}

/* ---- arenas and heaps ---- */

const struct malloc_layout *
hi_layout(unsigned minor)
{
	bool exact;
	const struct malloc_layout *L = layout_for_version(2, minor, LAYOUT_X86_64, &exact);
	if (!L || !exact)
		hi_bug("no table layout for glibc 2.%u", minor);
	return L;
}

static uint64_t
heap_end(const struct heapimg *b, int heap)
{
	return b->heaps.v[heap].base + b->heaps.v[heap].len;
}

static void
set_top(struct heapimg *b, int arena, uint64_t top)
{
	struct hi_arena *a = &b->arenas.v[arena];
	uint64_t end = heap_end(b, a->heap);

	a->top = top;
	ms_set(b, a->addr, b->L->ms_top, top, 8);
	hi_w64(b, top + 8, (end - top) | PTM_PREV_INUSE);
}

/* malloc_init_state plus what the first sysmalloc leaves. */
static void
arena_init(struct heapimg *b, uint64_t av, bool main)
{
	const struct malloc_layout *L = b->L;
	uint32_t flags = main ? 0 : 2;	/* NONCONTIGUOUS_BIT for non-main arenas */

	for (unsigned i = 1; i < L->nbins; i++) {
		uint64_t bin = ms_bin_at(L, av, i);
		hi_w64(b, bin + 16, bin);
		hi_w64(b, bin + 24, bin);
	}
	if (L->ms_have_fastchunks < 0 && L->nfastbins)
		flags |= 1;	/* 2.26: FASTCHUNKS_BIT set means "no fast chunks" */
	ms_set(b, av, L->ms_flags, flags, 4);
	ms_set(b, av, L->ms_attached_threads, 1, 8);
}

struct heapimg *
hi_new(const struct malloc_layout *L, uint64_t sbrk_len, uint64_t hp_pagesize)
{
	struct heapimg *b = xcalloc(1, sizeof(*b));
	struct hi_arena main = { HI_MAIN_ARENA, true, 0, 0, sbrk_len };
	struct hi_heap sbrk = { HI_SBRK_BASE, sbrk_len, 0, 0 };

	if (!sbrk_len || sbrk_len % HI_PAGE)
		hi_bug("sbrk heap length 0x%" PRIx64 " is not a page multiple", sbrk_len);
	b->L = L;
	b->hp_pagesize = L->mp_hp_pagesize >= 0 ? hp_pagesize : 0;
	b->heap_max = b->hp_pagesize ? 4 * b->hp_pagesize : L->heap_max_default;
	b->next_heap = ALIGN_DOWN(HI_HEAPS_TOP, b->heap_max) - b->heap_max;
	b->next_mmap = HI_MMAP_BASE;
	b->tcache_count = L->tcache_count_default ? L->tcache_count_default : 7;
	b->t = target_new_image();
	add_region(b, HI_LIBC_DATA, HI_LIBC_LEN, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	add_region(b, HI_SBRK_BASE, sbrk_len, "[heap]");

	vec_push(&b->heaps, sbrk);
	vec_push(&b->arenas, main);
	arena_init(b, HI_MAIN_ARENA, true);
	ms_set(b, HI_MAIN_ARENA, L->ms_next, HI_MAIN_ARENA, 8);
	ms_set(b, HI_MAIN_ARENA, L->ms_system_mem, sbrk_len, 8);
	ms_set(b, HI_MAIN_ARENA, L->ms_max_system_mem, sbrk_len, 8);
	set_top(b, 0, HI_SBRK_BASE);

	/* mp_ with glibc's defaults */
	hi_mp_set(b, L->mp_trim_threshold, 0x20000, 8);
	hi_mp_set(b, L->mp_top_pad, 0x20000, 8);
	hi_mp_set(b, L->mp_mmap_threshold, 0x20000, 8);
	hi_mp_set(b, L->mp_arena_test, 8, 8);
	hi_mp_set(b, L->mp_hp_pagesize, b->hp_pagesize, 8);
	hi_mp_set(b, L->mp_hp_flags, b->hp_pagesize ? 0x40000 : 0, 4);	/* MAP_HUGETLB */
	hi_mp_set(b, L->mp_n_mmaps_max, 65536, 4);
	hi_mp_set(b, L->mp_sbrk_base, HI_SBRK_BASE, 8);
	hi_mp_set(b, L->mp_tcache_bins, 64, 8);
	hi_mp_set(b, L->mp_tcache_max_bytes, L->tcache_max_bytes_default ? L->tcache_max_bytes_default : 0x408, 8);
	hi_mp_set(b, L->mp_tcache_count, b->tcache_count, 8);
	return b;
}

void
hi_free(struct heapimg *b)
{
	if (!b)
		return;
	target_close(b->t);
	vec_free(&b->arenas);
	vec_free(&b->heaps);
	vec_free(&b->threads);
	vec_free(&b->chunks);
	free(b);
}

static uint64_t
new_heap(struct heapimg *b, uint64_t heap_len, int arena, uint64_t ar_ptr, uint64_t prev)
{
	const struct malloc_layout *L = b->L;
	uint64_t h = b->next_heap;
	struct hi_heap hh = { h, heap_len, h, arena };

	if (!heap_len || heap_len % HI_PAGE || heap_len > b->heap_max)
		hi_bug("bad heap length 0x%" PRIx64, heap_len);
	b->next_heap -= b->heap_max;
	add_region(b, h, heap_len, NULL);
	wn(b, h + (uint64_t)L->hi_ar_ptr, ar_ptr, 8);
	wn(b, h + (uint64_t)L->hi_prev, prev, 8);
	wn(b, h + (uint64_t)L->hi_size_field, heap_len, 8);
	wn(b, h + (uint64_t)L->hi_mprotect_size, heap_len, 8);
	if (L->hi_pagesize >= 0)
		wn(b, h + (uint64_t)L->hi_pagesize, HI_PAGE, 8);
	vec_push(&b->heaps, hh);
	return h;
}

int
hi_new_arena(struct heapimg *b, uint64_t heap_len)
{
	const struct malloc_layout *L = b->L;
	int idx = (int)b->arenas.n;
	uint64_t h = b->next_heap, av = h + L->hi_size;
	struct hi_arena a = { av, false, 0, 0, heap_len };

	new_heap(b, heap_len, idx, av, 0);
	a.heap = (int)b->heaps.n - 1;
	vec_push(&b->arenas, a);
	arena_init(b, av, false);
	/* into the ring right after main_arena */
	ms_set(b, av, L->ms_next, hi_r64(b, HI_MAIN_ARENA + (uint64_t)L->ms_next), 8);
	ms_set(b, HI_MAIN_ARENA, L->ms_next, av, 8);
	ms_set(b, av, L->ms_system_mem, heap_len, 8);
	ms_set(b, av, L->ms_max_system_mem, heap_len, 8);
	set_top(b, idx, ptm_first_chunk_first_heap(L, h));
	return idx;
}

uint64_t
hi_grow_heap(struct heapimg *b, int arena, uint64_t heap_len)
{
	const struct malloc_layout *L = b->L;
	struct hi_arena *a = &b->arenas.v[arena];
	uint64_t old_top = a->top, old_end = heap_end(b, a->heap), old_heap = b->heaps.v[a->heap].base;
	uint64_t top_size = old_end - old_top, old_size, h, ret = 0;

	if (a->main)
		hi_bug("the main arena has no heap_info chain");
	/* sysmalloc: the fenceposts, then the old top freed (by the caller) */
	old_size = (top_size - PTM_MINSIZE) & ~(uint64_t)PTM_ALIGN_MASK;
	hi_w64(b, old_top + old_size + 16 + 8, 0 | PTM_PREV_INUSE);
	if (old_size >= PTM_MINSIZE) {
		hi_w64(b, old_top + old_size + 8, 16 | PTM_PREV_INUSE);
		hi_w64(b, old_top + old_size + 16, 16);	/* set_foot */
		hi_w64(b, old_top + 8, old_size | PTM_PREV_INUSE | PTM_NON_MAIN_ARENA);
		expect(b, old_top, old_size, arena, CS_USED);
		ret = old_top;
	} else {
		hi_w64(b, old_top + 8, (old_size + 16) | PTM_PREV_INUSE);
		hi_w64(b, old_top + old_size + 16, old_size + 16);
		if (old_size + 16 >= PTM_MINSIZE)
			expect(b, old_top, old_size + 16, arena, CS_USED);
	}
	h = new_heap(b, heap_len, arena, a->addr, old_heap);
	a = &b->arenas.v[arena];
	a->heap = (int)b->heaps.n - 1;
	a->system_mem += heap_len;
	ms_set(b, a->addr, L->ms_system_mem, a->system_mem, 8);
	ms_set(b, a->addr, L->ms_max_system_mem, a->system_mem, 8);
	set_top(b, arena, ptm_first_chunk_heap(L, h));
	return ret;
}

/* The main arena's old top closed by a double fencepost (sysmalloc, a
 * foreign sbrk or the switch to mmap()ed memory); returns the shrunk old
 * top if it stays a chunk. */
static uint64_t
main_fenceposts(struct heapimg *b, uint64_t old_top, uint64_t top_size)
{
	uint64_t old_size = (top_size - 2 * PTM_HDR) & ~(uint64_t)PTM_ALIGN_MASK;

	hi_w64(b, old_top + 8, old_size | PTM_PREV_INUSE);
	hi_w64(b, old_top + old_size + 8, PTM_HDR | PTM_PREV_INUSE);
	hi_w64(b, old_top + old_size + 16 + 8, PTM_HDR | PTM_PREV_INUSE);
	if (old_size < PTM_MINSIZE)
		return 0;	/* (a 0x10 remnant is no chunk) */
	expect(b, old_top, old_size, 0, CS_USED);
	return old_top;
}

uint64_t
hi_sbrk_extend(struct heapimg *b, uint64_t foreign, uint64_t grow)
{
	struct hi_arena *a = &b->arenas.v[0];
	uint64_t old_end = heap_end(b, a->heap), old_top = a->top, new_end, ret = 0;

	if (a->heap != 0)
		hi_bug("the main arena is not contiguous any more");
	new_end = ALIGN_UP(old_end + foreign + grow, HI_PAGE);
	add_region(b, old_end, new_end - old_end, "[heap]");
	b->heaps.v[0].len = new_end - b->heaps.v[0].base;
	a->system_mem += new_end - old_end;
	ms_set(b, a->addr, b->L->ms_system_mem, a->system_mem, 8);
	ms_set(b, a->addr, b->L->ms_max_system_mem, a->system_mem, 8);
	if (!foreign) {
		set_top(b, 0, old_top);
		return 0;
	}
	memset(hi_mem(b, old_end, foreign), 0x21, foreign);
	ret = main_fenceposts(b, old_top, old_end - old_top);
	set_top(b, 0, ALIGN_UP(old_end + foreign, PTM_ALIGN));
	return ret;
}

uint64_t
hi_sbrk_mmap_segment(struct heapimg *b, uint64_t len)
{
	const struct malloc_layout *L = b->L;
	struct hi_arena *a = &b->arenas.v[0];
	uint64_t old_end = heap_end(b, a->heap), old_top = a->top, base, ret;
	struct hi_heap seg;

	if (len % HI_PAGE)
		hi_bug("segment length 0x%" PRIx64 " is not a page multiple", len);
	if (a->heap != 0) {
		/* the kernel maps top-down: right below the last segment */
		base = b->heaps.v[a->heap].base - len;
	} else {
		/* room below for the segments to come */
		base = b->next_mmap + (1ULL << 20);
		b->next_mmap = base + len + 4 * HI_PAGE;
	}
	add_region(b, base, len, NULL);
	ret = main_fenceposts(b, old_top, old_end - old_top);
	seg.base = base;
	seg.len = len;
	seg.info = 0;
	seg.arena = 0;
	vec_push(&b->heaps, seg);
	a = &b->arenas.v[0];
	a->heap = (int)b->heaps.n - 1;
	a->system_mem += len;
	ms_set(b, a->addr, L->ms_system_mem, a->system_mem, 8);
	ms_set(b, a->addr, L->ms_max_system_mem, a->system_mem, 8);
	ms_set(b, a->addr, L->ms_flags, rn(b, a->addr + (uint64_t)L->ms_flags, 4) | PTM_NONCONTIGUOUS_BIT, 4);
	set_top(b, 0, base);
	return ret;
}

void
hi_unreadable(struct heapimg *b, uint64_t addr)
{
	for (size_t i = 0; i < b->t->nmaps; i++)
		if (b->t->maps[i].start == addr) {
			b->t->maps[i].perms &= ~(unsigned)(MAP_PERM_R | MAP_PERM_W);
			target_invalidate(b->t);
			return;
		}
	hi_bug("no image region starts at 0x%" PRIx64, addr);
}

/* ---- chunks ---- */

uint64_t
hi_alloc(struct heapimg *b, int arena, uint64_t csize)
{
	struct hi_arena *a = &b->arenas.v[arena];
	uint64_t top = a->top, end = heap_end(b, a->heap), sf = hi_r64(b, top + 8);

	if (csize < PTM_MINSIZE || !ptm_aligned(csize) || end - top < csize + PTM_MINSIZE)
		hi_bug("cannot carve 0x%" PRIx64 " bytes from top 0x%" PRIx64 " (0x%" PRIx64 " left)", csize, top,
		       end - top);
	hi_w64(b, top + 8, csize | (sf & PTM_PREV_INUSE) | (a->main ? 0 : PTM_NON_MAIN_ARENA));
	set_top(b, arena, top + csize);
	expect(b, top, csize, arena, CS_USED);
	return top;
}

void
hi_alloc_n(struct heapimg *b, int arena, const uint64_t *sizes, size_t n, uint64_t *addrs)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t c = hi_alloc(b, arena, sizes[i]);
		if (addrs)
			addrs[i] = c;
	}
}

int
hi_add_thread(struct heapimg *b, pid_t tid, int arena, bool tcache)
{
	const struct malloc_layout *L = b->L;
	struct hi_thread th = { tid, 0, arena };
	int idx = (int)b->threads.n;
	uint64_t stack = HI_STACKS + (uint64_t)idx * 2 * HI_STACK_LEN;
	hd_regs_t regs;

	add_region(b, stack, HI_STACK_LEN, NULL);
	/* stack bytes that look like a plain mmapped chunk: not one */
	hi_w64(b, stack, 0);
	hi_w64(b, stack + 8, HI_STACK_LEN | PTM_IS_MMAPPED);
	memset(&regs, 0, sizeof(regs));
	regs.rsp = stack + HI_STACK_LEN - 0x100;
	regs.rip = 0x401000;
	regs.fs_base = 0x7ffff7f00000ULL + (uint64_t)idx * 0x1000;
	image_add_thread(b->t, tid, &regs);
	if (tcache && L->has_tcache) {
		uint64_t c = hi_alloc(b, arena, ptm_tcache_chunk_size(L));
		th.tcache = c + 16;
		if (L->tc_counts_are_free_slots)
			for (unsigned i = 0; i < L->tc_nbins; i++)
				wn(b, th.tcache + L->tc_counts_off + (uint64_t)i * L->tc_count_width,
				   b->tcache_count, L->tc_count_width);
	}
	vec_push(&b->threads, th);
	return idx;
}

static struct hi_chunk *
must_chunk(struct heapimg *b, uint64_t chunk)
{
	struct hi_chunk *c = find_chunk(b, chunk);
	if (!c)
		hi_bug("0x%" PRIx64 " is not a chunk of this image", chunk);
	return c;
}

/* Record a free-list state, unless the chunk is free already (a double
 * free: the walker keeps the list it walks first). */
static void
set_state(struct hi_chunk *c, enum chunk_state st, unsigned list, int owner)
{
	if (c->state != CS_USED)
		return;
	c->state = st;
	c->list = list;
	c->owner = owner;
}

static unsigned
tcache_index(const struct malloc_layout *L, uint64_t size)
{
	if (size <= ptm_tcache_size(63))
		return ptm_tcache_index(size);
	if (L->tc_nbins <= 64)
		hi_bug("chunk size 0x%" PRIx64 " has no tcache bin before 2.42", size);
	/* 2.42 large_csize2tidx: 64 + clz(MAX_TCACHE_SMALL_SIZE) - clz(size) */
	return 64 + (unsigned)__builtin_clz((unsigned)ptm_tcache_size(63)) - (unsigned)__builtin_clz((unsigned)size);
}

void
hi_tcache_put(struct heapimg *b, int thread, uint64_t chunk)
{
	const struct malloc_layout *L = b->L;
	struct hi_thread *th = &b->threads.v[thread];
	struct hi_chunk *c = must_chunk(b, chunk);
	uint64_t e = chunk + 16, tc = th->tcache, head, cnt_at;
	unsigned i = tcache_index(L, c->size), w = L->tc_count_width;

	if (!tc)
		hi_bug("thread %d has no tcache", th->tid);
	if (i >= L->tc_nbins)
		hi_bug("chunk size 0x%" PRIx64 " is beyond the tcache", c->size);
	head = hi_r64(b, tc + L->tc_entries_off + 8 * (uint64_t)i);
	hi_w64(b, e + (uint64_t)L->te_next, L->safe_linking ? ptm_protect(e + (uint64_t)L->te_next, head) : head);
	if (L->te_key >= 0)
		hi_w64(b, e + (uint64_t)L->te_key, L->te_key_is_tcache_ptr ? tc : HI_TCACHE_KEY);
	hi_w64(b, tc + L->tc_entries_off + 8 * (uint64_t)i, e);
	cnt_at = tc + L->tc_counts_off + (uint64_t)i * w;
	if (L->tc_counts_are_free_slots)
		wn(b, cnt_at, rn(b, cnt_at, w) - 1, w);
	else
		wn(b, cnt_at, rn(b, cnt_at, w) + 1, w);
	set_state(c, CS_TCACHE, i, thread);
}

void
hi_fastbin_put(struct heapimg *b, uint64_t chunk)
{
	const struct malloc_layout *L = b->L;
	struct hi_chunk *c = must_chunk(b, chunk);
	struct hi_arena *a;
	uint64_t slot, head;
	unsigned i;

	if (!L->nfastbins || L->ms_fastbins < 0)
		hi_bug("glibc %u.%u has no fastbins", L->version / 100, L->version % 100);
	if (c->size > PTM_MAX_FAST_CHUNK || c->arena < 0)
		hi_bug("chunk 0x%" PRIx64 " of size 0x%" PRIx64 " cannot be a fast chunk", chunk, c->size);
	a = &b->arenas.v[c->arena];
	i = ptm_fastbin_index(c->size);
	slot = a->addr + (uint64_t)L->ms_fastbins + 8 * (uint64_t)i;
	head = hi_r64(b, slot);
	hi_w64(b, chunk + 16, L->safe_linking ? ptm_protect(chunk + 16, head) : head);
	hi_w64(b, slot, chunk);
	if (L->ms_have_fastchunks >= 0)
		ms_set(b, a->addr, L->ms_have_fastchunks, 1, 4);
	else
		ms_set(b, a->addr, L->ms_flags, rn(b, a->addr + (uint64_t)L->ms_flags, 4) & ~1u, 4);
	set_state(c, CS_FASTBIN, i, -1);
}

/* The chunks of bin i in fd order. */
static size_t
bin_chunks(struct heapimg *b, uint64_t av, unsigned i, uint64_t *out, size_t max)
{
	uint64_t head = ms_bin_at(b->L, av, i), p = hi_r64(b, head + 16);
	size_t n = 0;

	while (p != head && n < max) {
		out[n++] = p;
		p = hi_r64(b, p + 16);
	}
	return n;
}

/* Rewrite a bin's links (fd/bk, and the nextsize ring for large bins)
 * for the chunks in order. */
static void
bin_link(struct heapimg *b, uint64_t av, unsigned i, const uint64_t *c, size_t n)
{
	uint64_t head = ms_bin_at(b->L, av, i);
	uint64_t first_of_size[512];
	size_t nf = 0;

	for (size_t k = 0; k < n; k++) {
		hi_w64(b, c[k] + 16, k + 1 < n ? c[k + 1] : head);
		hi_w64(b, c[k] + 24, k ? c[k - 1] : head);
	}
	hi_w64(b, head + 16, n ? c[0] : head);
	hi_w64(b, head + 24, n ? c[n - 1] : head);
	if (i < PTM_NSMALLBINS)
		return;
	for (size_t k = 0; k < n; k++) {
		uint64_t sz = ptm_chunksize(hi_r64(b, c[k] + 8));
		hi_w64(b, c[k] + 32, 0);
		hi_w64(b, c[k] + 40, 0);
		if ((k == 0 || ptm_chunksize(hi_r64(b, c[k - 1] + 8)) != sz) && nf < ARRAY_SIZE(first_of_size))
			first_of_size[nf++] = c[k];
	}
	for (size_t k = 0; k < nf; k++) {
		hi_w64(b, first_of_size[k] + 32, first_of_size[(k + 1) % nf]);
		hi_w64(b, first_of_size[k] + 40, first_of_size[(k + nf - 1) % nf]);
	}
}

void
hi_bin_put_at(struct heapimg *b, uint64_t chunk, unsigned bin)
{
	const struct malloc_layout *L = b->L;
	struct hi_chunk *c = must_chunk(b, chunk);
	uint64_t list[512], sf, nsf;
	struct hi_arena *a;
	size_t n;

	if (c->arena < 0 || bin < 1 || bin >= L->nbins - 1)
		hi_bug("chunk 0x%" PRIx64 " cannot go into bin %u", chunk, bin);
	a = &b->arenas.v[c->arena];
	/* _int_free: set_head(p, size | PREV_INUSE) drops NON_MAIN_ARENA;
	 * set_foot and clear_inuse_bit on the successor */
	sf = hi_r64(b, chunk + 8);
	hi_w64(b, chunk + 8, c->size | (sf & PTM_PREV_INUSE));
	hi_w64(b, chunk + c->size, c->size);
	nsf = hi_r64(b, chunk + c->size + 8);
	hi_w64(b, chunk + c->size + 8, nsf & ~(uint64_t)PTM_PREV_INUSE);
	n = bin_chunks(b, a->addr, bin, list, ARRAY_SIZE(list) - 1);
	if (bin < PTM_NSMALLBINS) {
		/* unsorted and small bins: in at the front */
		memmove(list + 1, list, n * sizeof(list[0]));
		list[0] = chunk;
		if (!ptm_in_smallbin_range(c->size)) {
			hi_w64(b, chunk + 32, 0);
			hi_w64(b, chunk + 40, 0);
		}
	} else {
		/* large bins: sorted by decreasing size; a chunk whose size is
		 * there already goes in second position */
		size_t k = 0;
		while (k < n && ptm_chunksize(hi_r64(b, list[k] + 8)) > c->size)
			k++;
		if (k < n && ptm_chunksize(hi_r64(b, list[k] + 8)) == c->size)
			k++;
		memmove(list + k + 1, list + k, (n - k) * sizeof(list[0]));
		list[k] = chunk;
	}
	bin_link(b, a->addr, bin, list, n + 1);
	if (bin > 1 && L->ms_binmap >= 0) {
		uint64_t at = a->addr + (uint64_t)L->ms_binmap + 4 * (bin >> 5);
		wn(b, at, rn(b, at, 4) | (1u << (bin & 31)), 4);
	}
	set_state(c, bin == 1 ? CS_UNSORTED : bin < PTM_NSMALLBINS ? CS_SMALLBIN : CS_LARGEBIN, bin, -1);
}

void
hi_bin_put(struct heapimg *b, uint64_t chunk, bool unsorted)
{
	struct hi_chunk *c = must_chunk(b, chunk);
	hi_bin_put_at(b, chunk, unsorted ? 1 : ptm_bin_index(c->size));
}

/* ---- mmapped chunks ---- */

static uint64_t
mmap_region(struct heapimg *b, uint64_t len)
{
	uint64_t base = b->next_mmap;
	add_region(b, base, len, NULL);
	b->next_mmap += ALIGN_UP(len, HI_PAGE) + 4 * HI_PAGE;
	return base;
}

/* Write an mmapped header at base+off for a mapping of len bytes; returns
 * the chunk size. */
static uint64_t
mmap_header(struct heapimg *b, uint64_t base, uint64_t len, uint64_t off, bool hugepage)
{
	const struct malloc_layout *L = b->L;
	uint64_t size = len - off - (L->mmapped_size_excludes_hdr ? 16 : 0);
	uint64_t ps = off | (hugepage && L->mmapped_prev_size_hugepage_bit ? 1 : 0);

	hi_w64(b, base + off, ps);
	hi_w64(b, base + off + 8, size | PTM_IS_MMAPPED);
	return size;
}

static void
count_mmap(struct heapimg *b, uint64_t chunk, uint64_t size, uint64_t len, uint64_t off)
{
	struct hi_chunk c = { chunk, size, -1, CS_MMAPPED, 0, -1, len, off };
	vec_push(&b->chunks, c);
	b->n_mmaps++;
	b->mmapped_mem += len;
	hi_mp_set(b, b->L->mp_n_mmaps, b->n_mmaps, 4);
	hi_mp_set(b, b->L->mp_max_n_mmaps, b->n_mmaps, 4);
	hi_mp_set(b, b->L->mp_mmapped_mem, b->mmapped_mem, 8);
	hi_mp_set(b, b->L->mp_max_mmapped_mem, b->mmapped_mem, 8);
}

uint64_t
hi_mmap(struct heapimg *b, uint64_t csize, uint64_t off, bool hugepage)
{
	uint64_t hdr = b->L->mmapped_size_excludes_hdr ? 16 : 0;
	uint64_t len = ALIGN_UP(csize + hdr, HI_PAGE), base, size;

	if (off % 16 || (off && off < PTM_MINSIZE))
		hi_bug("bad mmapped chunk offset 0x%" PRIx64, off);
	if (off)
		len = ALIGN_UP(off + csize + hdr, HI_PAGE);
	base = mmap_region(b, len);
	/* memalign on an mmapped chunk (_int_memalign) leaves the original
	 * header at the mapping start and only writes the new one */
	size = mmap_header(b, base, len, 0, hugepage);
	if (off)
		size = mmap_header(b, base, len, off, hugepage);
	count_mmap(b, base + off, size, len, off);
	return base + off;
}

void
hi_mmap_merged(struct heapimg *b, const uint64_t *csizes, size_t n, uint64_t *addrs)
{
	uint64_t hdr = b->L->mmapped_size_excludes_hdr ? 16 : 0, total = 0, base, at;

	for (size_t i = 0; i < n; i++)
		total += ALIGN_UP(csizes[i] + hdr, HI_PAGE);
	base = mmap_region(b, total);
	at = base;
	for (size_t i = 0; i < n; i++) {
		uint64_t len = ALIGN_UP(csizes[i] + hdr, HI_PAGE);
		uint64_t size = mmap_header(b, at, len, 0, false);
		count_mmap(b, at, size, len, 0);
		if (addrs)
			addrs[i] = at;
		at += len;
	}
}

/* ---- the malloc_info ---- */

struct malloc_info *
hi_info(const struct heapimg *b)
{
	const struct malloc_layout *L = b->L;
	struct malloc_info *mi = xcalloc(1, sizeof(*mi));

	mi->allocator = ALLOC_GLIBC;
	mi->vmajor = L->version / 100;
	mi->vminor = L->version % 100;
	snprintf(mi->version, sizeof(mi->version), "%u.%u", mi->vmajor, mi->vminor);
	mi->L = *L;
	layout_describe(L, mi->layout_desc, sizeof(mi->layout_desc));
	mi->main_arena = HI_MAIN_ARENA;
	mi->main_arena_how = "synthetic";
	mi->mp = HI_MP;
	mi->mp_how = "synthetic";
	if (target_read(b->t, HI_MP, mi->mp_bytes, MIN(L->mp_size, sizeof(mi->mp_bytes))) < 0)
		hi_bug("cannot read mp_ back");
	mi->initialised = true;
	mi->heap_max = b->heap_max;
	mi->tcache_how = "synthetic";
	for (size_t i = 0; i < b->threads.n; i++) {
		struct tcache_ref r = { b->threads.v[i].tid, b->threads.v[i].tcache, true, false };
		vec_push(&mi->tcaches, r);
	}
	if (L->te_key >= 0 && !L->te_key_is_tcache_ptr) {
		mi->tcache_key = HI_TCACHE_KEY;
		mi->have_tcache_key = true;
		mi->tcache_key_how = "synthetic";
	}
	mi->global_max_fast = L->nfastbins ? 0x80 : 0x10;
	mi->have_global_max_fast = true;
	mi->narenas = b->arenas.n;
	mi->have_narenas = true;
	return mi;
}

/* ---- comparing with a walk ---- */

struct tally {
	struct hcount used, tcache, fastbins, unsorted, smallbins, largebins;
};

static void
tally_add(struct tally *t, const struct hi_chunk *c)
{
	struct hcount *k;

	switch (c->state) {
	case CS_USED: k = &t->used; break;
	case CS_TCACHE: k = &t->tcache; break;
	case CS_FASTBIN: k = &t->fastbins; break;
	case CS_UNSORTED: k = &t->unsorted; break;
	case CS_SMALLBIN: k = &t->smallbins; break;
	case CS_LARGEBIN: k = &t->largebins; break;
	default: return;
	}
	k->chunks++;
	k->bytes += c->size;
}

int
hi_check(const struct heapimg *b, const struct heap *h, char *why, size_t whylen)
{
	struct sbuf sb;
	int bad = 0;
	size_t want_n = b->chunks.n + b->arenas.n;
	uint64_t mm_chunks = 0, mm_bytes = 0;

#define BAD(...) do {							\
		if (bad++ < 4) {					\
			sb_printf(&sb, __VA_ARGS__);			\
			sb_puts(&sb, "; ");				\
		}							\
	} while (0)

	sb_init(&sb);
	for (size_t i = 0; i < b->chunks.n; i++) {
		const struct hi_chunk *e = &b->chunks.v[i];
		const struct hchunk *c = heap_chunk_at(h, e->addr);
		unsigned want_arena = e->arena < 0 ? HEAP_NO_ARENA : hi_walk_index(b, e->arena);

		if (e->state == CS_MMAPPED) {
			mm_chunks++;
			mm_bytes += e->mmap_len;
		}
		if (!c || c->addr != e->addr) {
			BAD("chunk 0x%" PRIx64 " (%s) not found", e->addr, chunk_state_name(e->state));
			continue;
		}
		if (c->size != e->size)
			BAD("chunk 0x%" PRIx64 ": size 0x%" PRIx64 ", want 0x%" PRIx64, e->addr, (uint64_t)c->size, e->size);
		if (c->state != e->state)
			BAD("chunk 0x%" PRIx64 ": state %s, want %s", e->addr, chunk_state_name(c->state),
			    chunk_state_name(e->state));
		else if (c->state != CS_USED && c->state != CS_MMAPPED && c->list != e->list)
			BAD("chunk 0x%" PRIx64 ": list %u, want %u", e->addr, c->list, e->list);
		if (c->state == CS_TCACHE && e->state == CS_TCACHE && (int)hchunk_owner(h, c) != e->owner)
			BAD("chunk 0x%" PRIx64 ": tcache of thread %u, want %d", e->addr, hchunk_owner(h, c), e->owner);
		if (c->arena != want_arena)
			BAD("chunk 0x%" PRIx64 ": arena %u, want %u", e->addr, c->arena, want_arena);
		if (e->state == CS_MMAPPED && hchunk_mmap_offset(h, c) != e->mmap_off)
			BAD("mmapped chunk 0x%" PRIx64 ": offset 0x%" PRIx64 ", want 0x%" PRIx64, e->addr,
			    hchunk_mmap_offset(h, c), e->mmap_off);
	}
	if (h->arenas.n != b->arenas.n)
		BAD("%zu arenas, want %zu", h->arenas.n, b->arenas.n);
	for (size_t ai = 0; ai < b->arenas.n && ai < h->arenas.n; ai++) {
		const struct hi_arena *a = &b->arenas.v[ai];
		unsigned wi = hi_walk_index(b, (int)ai);
		const struct harena *ha = &h->arenas.v[wi];
		const struct hchunk *c = heap_chunk_at(h, a->top);
		uint64_t top_size = heap_end(b, a->heap) - a->top;
		struct tally t;
		size_t nheaps = 0;

		if (ha->addr != a->addr)
			BAD("arena %u at 0x%" PRIx64 ", want 0x%" PRIx64, wi, ha->addr, a->addr);
		if (!c || c->addr != a->top || c->state != CS_TOP || c->size != top_size || c->arena != wi)
			BAD("arena %u: top 0x%" PRIx64 " (0x%" PRIx64 ") not found as top", wi, a->top, top_size);
		if (ha->top != a->top || ha->top_size != top_size)
			BAD("arena %u: top 0x%" PRIx64 "/0x%" PRIx64 ", want 0x%" PRIx64 "/0x%" PRIx64, wi, ha->top,
			    ha->top_size, a->top, top_size);
		if (ha->system_mem != a->system_mem)
			BAD("arena %u: system_mem 0x%" PRIx64 ", want 0x%" PRIx64, wi, ha->system_mem, a->system_mem);
		for (size_t k = 0; k < b->heaps.n; k++)
			if (b->heaps.v[k].arena == (int)ai)
				nheaps++;
		if (ha->heaps.n != nheaps)
			BAD("arena %u: %zu heaps, want %zu", wi, ha->heaps.n, nheaps);
		memset(&t, 0, sizeof(t));
		for (size_t i = 0; i < b->chunks.n; i++)
			if (b->chunks.v[i].arena == (int)ai)
				tally_add(&t, &b->chunks.v[i]);
#define CMP(f)								\
		if (ha->f.chunks != t.f.chunks || ha->f.bytes != t.f.bytes) \
			BAD("arena %u: " #f " %" PRIu64 "/0x%" PRIx64 ", want %" PRIu64 "/0x%" PRIx64, wi, \
			    ha->f.chunks, ha->f.bytes, t.f.chunks, t.f.bytes)
		CMP(used);
		CMP(tcache);
		CMP(fastbins);
		CMP(unsorted);
		CMP(smallbins);
		CMP(largebins);
#undef CMP
		if (ha->bins.chunks != t.unsorted.chunks + t.smallbins.chunks + t.largebins.chunks ||
		    ha->bins.bytes != t.unsorted.bytes + t.smallbins.bytes + t.largebins.bytes)
			BAD("arena %u: bins totals differ", wi);
	}
	if (h->tcaches.n != b->threads.n)
		BAD("%zu threads' tcaches, want %zu", h->tcaches.n, b->threads.n);
	for (size_t k = 0; k < b->threads.n && k < h->tcaches.n; k++) {
		uint64_t n = 0, bytes = 0;
		for (size_t i = 0; i < b->chunks.n; i++)
			if (b->chunks.v[i].state == CS_TCACHE && b->chunks.v[i].owner == (int)k) {
				n++;
				bytes += b->chunks.v[i].size;
			}
		if (h->tcaches.v[k].addr != b->threads.v[k].tcache || h->tcaches.v[k].chunks != n ||
		    h->tcaches.v[k].bytes != bytes)
			BAD("thread %d: tcache 0x%" PRIx64 " with %" PRIu64 "/0x%" PRIx64 ", want 0x%" PRIx64
			    " with %" PRIu64 "/0x%" PRIx64, b->threads.v[k].tid, h->tcaches.v[k].addr,
			    h->tcaches.v[k].chunks, h->tcaches.v[k].bytes, b->threads.v[k].tcache, n, bytes);
	}
	if (h->nchunks != want_n)
		BAD("%zu chunks, want %zu", h->nchunks, want_n);
	if (h->mmapped.chunks != mm_chunks || h->mmapped.bytes != mm_bytes)
		BAD("mmapped %" PRIu64 "/0x%" PRIx64 ", want %" PRIu64 "/0x%" PRIx64, h->mmapped.chunks,
		    h->mmapped.bytes, mm_chunks, mm_bytes);
	if (!h->mmapped_checked || h->mmapped_expected_chunks != b->n_mmaps ||
	    h->mmapped_expected_bytes != b->mmapped_mem)
		BAD("mp_ mmapped totals %" PRIu64 "/0x%" PRIx64 ", want %" PRIu64 "/0x%" PRIx64,
		    h->mmapped_expected_chunks, h->mmapped_expected_bytes, b->n_mmaps, b->mmapped_mem);
#undef BAD
	if (why && whylen) {
		snprintf(why, whylen, "%s", sb.s ? sb.s : "");
	}
	sb_free(&sb);
	return bad;
}
