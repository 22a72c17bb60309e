/*
 * walker_fuzz.c - libFuzzer harness for the heap walker: the input is a
 * patch over a synthetic glibc heap (built once per layout by heapimg),
 * applied to a fresh image target, walked with heap_walk_info() and
 * freed.  Any crash, sanitizer report, hang, leak or broken invariant of
 * the result (chunks sorted and unique, indices in range) is a bug.
 *
 * Input:
 *	byte 0		layout (an index into the layouts below)
 *	byte 1		flags: 1 forget tcache_key (the walker votes for it);
 *			2 no direct access to the image (the walker copies
 *			heaps through the block cache, as on a live target)
 *	bytes 2..	records of 12 bytes, at most MAX_RECORDS:
 *			  op << 5 | region, offset (3 bytes, little endian,
 *			  modulo the region's length), value (8 bytes)
 *
 * Ops: 0 xor a byte; 1 store value; 2 store a pointer into another
 * region (chosen by value); 3 the same pointer safe-linked for where it
 * is stored; 4 store a size-like value (a small multiple of 16 with
 * flag bits); 5 store 32 bits; 6 point a thread's tcache somewhere;
 * 7 copy 16 bytes (a chunk header) from elsewhere.
 *
 * Build with `make fuzz`, run with scripts/fuzz.sh.
 */
#include "config.h"
#include "heap.h"
#include "heapimg.h"
#include "ptmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 64
#define RECORD 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tregion {
	uint64_t addr, len;
	unsigned perms;
	char *path;
	uint8_t *bytes;
};

struct tthread {
	pid_t tid;
	hd_regs_t regs;
};

struct templ {
	struct heapimg *b;
	VEC(struct tregion) regions;
	VEC(struct tthread) threads;
};

static const struct {
	unsigned minor;
	uint64_t hp_pagesize;
} layouts[] = {
	{ 26, 0 }, { 27, 0 }, { 29, 0 }, { 31, 0 }, { 33, 0 }, { 34, 0 },
	{ 36, 0 }, { 36, 0x200000 }, { 42, 0 }, { 43, 0 },
};

static struct templ templs[ARRAY_SIZE(layouts)];

/* The image backend without its zero-copy access. */
static struct target_ops copy_ops;

/* A small heap with every chunk state: two arenas (the second with two
 * heaps), three threads, four mmapped chunks. */
static void
build(struct heapimg *b)
{
	const struct malloc_layout *L = b->L;
	int t0, t1, a1;
	uint64_t c[24], old;

	t0 = hi_add_thread(b, 100, 0, true);
	for (int i = 0; i < 16; i++)
		c[i] = hi_alloc(b, 0, (i % 4 == 3) ? 0x110 + 0x100 * (uint64_t)(i / 4) : 0x20 + 0x10 * (uint64_t)(i % 3));
	c[16] = hi_alloc(b, 0, 0x420);
	c[17] = hi_alloc(b, 0, 0x20);
	c[18] = hi_alloc(b, 0, 0x440);
	c[19] = hi_alloc(b, 0, 0x20);
	hi_tcache_put(b, t0, c[0]);
	hi_tcache_put(b, t0, c[4]);
	hi_tcache_put(b, t0, c[1]);
	if (L->nfastbins) {
		hi_fastbin_put(b, c[5]);
		hi_fastbin_put(b, c[8]);
		hi_fastbin_put(b, c[9]);
	} else {
		hi_tcache_put(b, t0, c[5]);
	}
	hi_bin_put(b, c[3], false);
	hi_bin_put(b, c[7], true);
	hi_bin_put(b, c[11], false);
	hi_bin_put(b, c[16], false);
	hi_bin_put(b, c[18], false);

	a1 = hi_new_arena(b, 0x2000);
	t1 = hi_add_thread(b, 101, a1, true);
	for (int i = 20; i < 24; i++)
		c[i] = hi_alloc(b, a1, 0x30 + 0x10 * (uint64_t)(i - 20));
	hi_tcache_put(b, t1, c[20]);
	hi_tcache_put(b, t0, c[22]);
	if (L->nfastbins)
		hi_fastbin_put(b, c[21]);
	old = hi_grow_heap(b, a1, 0x1000);
	if (old)
		hi_bin_put(b, old, true);
	hi_tcache_put(b, t1, hi_alloc(b, a1, 0x40));
	hi_alloc(b, a1, 0x80);
	hi_add_thread(b, 102, 0, false);

	hi_mmap(b, 0x1000, 0, false);
	hi_mmap(b, 0x2000, 0x30, true);
	{
		uint64_t sizes[2] = { 0x1000, 0x1000 };
		hi_mmap_merged(b, sizes, 2, NULL);
	}
}

static void
init_templates(void)
{
	hd_quiet_warnings = true;
	for (size_t k = 0; k < ARRAY_SIZE(layouts); k++) {
		struct templ *tp = &templs[k];
		struct target *t;

		tp->b = hi_new(hi_layout(layouts[k].minor), 0x3000, layouts[k].hp_pagesize);
		build(tp->b);
		t = tp->b->t;
		for (size_t i = 0; i < t->nmaps; i++) {
			const struct mapping *m = &t->maps[i];
			struct tregion r = { m->start, m->end - m->start, m->perms, m->path ? xstrdup(m->path) : NULL,
					     xmalloc(m->end - m->start) };
			if (target_read(t, m->start, r.bytes, r.len) < 0)
				abort();
			vec_push(&tp->regions, r);
		}
		for (size_t i = 0; i < t->nthreads; i++) {
			struct tthread th = { t->threads[i]->tid, t->threads[i]->regs };
			vec_push(&tp->threads, th);
		}
	}
}

static uint64_t
pick_pointer(const struct templ *tp, uint64_t v)
{
	const struct tregion *r = &tp->regions.v[(v & 0xff) % tp->regions.n];
	uint64_t off = (v >> 8) % r->len;
	/* mostly 16-aligned, sometimes not */
	if ((v >> 40) & 0xf0)
		off &= ~15ULL;
	else
		off = (off & ~15ULL) | ((v >> 40) & 15);
	return r->addr + off;
}

static uint8_t *
bytes_at(struct target *t, const struct tregion *r, uint64_t off, size_t len)
{
	if (r->len < len)
		return NULL;
	if (off > r->len - len)
		off = r->len - len;
	return image_ptr(t, r->addr + off, len);
}

static void
check_invariants(const struct heap *h)
{
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hchunk *c = &h->chunks[i];
		if (i && c->addr <= h->chunks[i - 1].addr)
			abort();	/* heap_chunk_at needs sorted, unique chunks */
		if (c->state >= CS_NSTATES)
			abort();
		if (c->arena != HEAP_NO_ARENA && c->arena >= h->arenas.n)
			abort();
		if (c->state == CS_TCACHE && hchunk_owner(h, c) >= h->tcaches.n)
			abort();
		if (heap_chunk_at(h, c->addr) != c && c->size)
			abort();
		(void)hchunk_usable(c);
		(void)hchunk_mmap_offset(h, c);
	}
	for (size_t i = 0; i < h->lists.n; i++) {
		const struct hlist *l = &h->lists.v[i];
		if ((uint64_t)l->first + l->count > h->list_chunks.n)
			abort();
		for (uint32_t k = 0; k < l->count; k++)
			(void)heap_chunk_at(h, h->list_chunks.v[l->first + k]);
	}
	for (size_t i = 0; i < h->findings.n; i++)
		if (!h->findings.v[i].kind || !h->findings.v[i].message)
			abort();
	for (size_t i = 1; i < h->regions.n; i++)
		(void)heap_bytes(h, h->regions.v[i].start, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	const struct templ *tp;
	const struct malloc_layout *L;
	struct target *t;
	struct malloc_info *mi;
	struct heap *h = NULL;
	uint8_t flags;
	size_t nrec;

	if (!ready) {
		init_templates();
		ready = true;
	}
	if (size < 2)
		return 0;
	tp = &templs[data[0] % ARRAY_SIZE(layouts)];
	L = tp->b->L;
	flags = data[1];
	t = target_new_image();
	for (size_t i = 0; i < tp->regions.n; i++) {
		const struct tregion *r = &tp->regions.v[i];
		image_add_region(t, r->addr, r->bytes, r->len, r->perms, r->path);
	}
	for (size_t i = 0; i < tp->threads.n; i++)
		image_add_thread(t, tp->threads.v[i].tid, &tp->threads.v[i].regs);
	mi = hi_info(tp->b);
	if (flags & 2) {
		copy_ops = *t->ops;
		copy_ops.direct = NULL;
	}

	nrec = MIN((size - 2) / RECORD, MAX_RECORDS);
	for (size_t k = 0; k < nrec; k++) {
		const uint8_t *rec = data + 2 + k * RECORD;
		unsigned op = rec[0] >> 5;
		const struct tregion *r = &tp->regions.v[(rec[0] & 31) % tp->regions.n];
		uint64_t off = ((uint64_t)rec[1] | (uint64_t)rec[2] << 8 | (uint64_t)rec[3] << 16) % r->len;
		uint64_t v = ptm_rd64(rec + 4), p;
		uint8_t *b;

		switch (op) {
		case 0:
			if ((b = bytes_at(t, r, off, 1)))
				b[0] ^= (uint8_t)v;
			break;
		case 1:
			if ((b = bytes_at(t, r, off & ~7ULL, 8)))
				memcpy(b, &v, 8);
			break;
		case 2:
		case 3:
			p = pick_pointer(tp, v);
			off &= ~7ULL;
			if (op == 3)
				p = ptm_protect(r->addr + MIN(off, r->len - 8), p);
			if ((b = bytes_at(t, r, off, 8)))
				memcpy(b, &p, 8);
			break;
		case 4:
			p = ((v & 0x3ff) << 4) | ((v >> 16) & 7);
			if ((b = bytes_at(t, r, (off & ~15ULL) + 8, 8)))
				memcpy(b, &p, 8);
			break;
		case 5:
			if ((b = bytes_at(t, r, off & ~3ULL, 4)))
				memcpy(b, &v, 4);
			break;
		case 6:
			if (mi->tcaches.n) {
				struct tcache_ref *ref = &mi->tcaches.v[off % mi->tcaches.n];
				ref->tcache = (v >> 63) ? v : pick_pointer(tp, v);
				ref->known = true;
			}
			break;
		case 7: {
			const struct tregion *src = &tp->regions.v[(v & 0xff) % tp->regions.n];
			uint8_t hdr[16];
			const uint8_t *s = bytes_at(t, src, ((v >> 8) % src->len) & ~15ULL, 16);
			if (s) {
				memcpy(hdr, s, 16);
				if ((b = bytes_at(t, r, off & ~15ULL, 16)))
					memcpy(b, hdr, 16);
			}
			break;
		}
		}
	}
	/* mp_ as the patched image has it, heap_max derived as locate does */
	target_read(t, HI_MP, mi->mp_bytes, MIN(L->mp_size, sizeof(mi->mp_bytes)));
	{
		uint64_t hp = mi_mp(mi, L->mp_hp_pagesize);
		mi->heap_max = L->mp_hp_pagesize >= 0 && hp ? 4 * hp : L->heap_max_default;
		if (mi->heap_max == 0 || (mi->heap_max & (mi->heap_max - 1)))
			mi->heap_max = L->heap_max_default;
	}
	if (flags & 1) {
		mi->have_tcache_key = false;
		mi->tcache_key = 0;
	}
	if (flags & 2)
		t->ops = &copy_ops;	/* after the patches: they need image_ptr */
	if (heap_walk_info(t, mi, NULL, &h) == 0) {
		check_invariants(h);
		heap_free(h);
	}
	target_close(t);
	return 0;
}
