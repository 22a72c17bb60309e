/*
 * ptmalloc.h - glibc malloc's data structures as pure functions over bytes
 * and a layout (struct malloc_layout, glibc-layout.h).  No target access
 * here: callers copy memory in bulk and ask these accessors about it.
 *
 * A chunk (LP64):
 *
 *	chunk ->  +-------------------------------+
 *	          | prev_size (if previous free)  |  8
 *	          +-------------------------------+
 *	          | size                    |A|M|P|  8
 *	mem ->    +-------------------------------+
 *	          | fd    (free: next in list)    |  user data starts here
 *	          | bk    (bins: previous)        |
 *	          | fd_nextsize, bk_nextsize      |  (large bins only)
 *	          | ...                           |
 *	next ->   +-------------------------------+
 *	          | prev_size = size (if free)    |  a footer only for chunks
 *	          | size of next            |A|M|P|  in normal bins
 *
 * P (PREV_INUSE): the previous physical chunk is in use.  Chunks in a
 * tcache or a fastbin keep their successor's P set: only list membership
 * says they are free.  M (IS_MMAPPED): the chunk is its own mapping and
 * prev_size holds its offset from the mapping start.  A (NON_MAIN_ARENA):
 * the chunk was handed out by a non-main arena.
 *
 * Safe-linking (2.32+): tcache `next` and fastbin `fd` are stored as
 * value ^ (address_of_the_field >> 12).
 */
#ifndef HEAPDBG_PTMALLOC_H
#define HEAPDBG_PTMALLOC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "glibc-layout.h"
#include "util.h"

#define PTM_SIZE_SZ		8
#define PTM_ALIGN		16
#define PTM_ALIGN_MASK		15
#define PTM_HDR			16	/* CHUNK_HDR_SZ */
#define PTM_MINSIZE		0x20
#define PTM_PREV_INUSE		0x1
#define PTM_IS_MMAPPED		0x2
#define PTM_NON_MAIN_ARENA	0x4
#define PTM_SIZE_BITS		0x7
#define PTM_MIN_LARGE		0x400	/* MIN_LARGE_SIZE */
#define PTM_NSMALLBINS		64
#define PTM_MAX_FAST_CHUNK	0xb0	/* request2size(MAX_FAST_SIZE) */

static inline uint64_t
ptm_rd64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t
ptm_rd32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* A field at a layout offset; 0 when the field is absent (off < 0). */
static inline uint64_t
ptm_field(const uint8_t *base, int32_t off)
{
	return off < 0 ? 0 : ptm_rd64(base + off);
}

static inline uint32_t
ptm_field32(const uint8_t *base, int32_t off)
{
	return off < 0 ? 0 : ptm_rd32(base + off);
}

/* ---- chunks (p points at the chunk header's bytes) ---- */

static inline uint64_t chunk_prev_size(const uint8_t *p) { return ptm_rd64(p); }
static inline uint64_t chunk_size_field(const uint8_t *p) { return ptm_rd64(p + 8); }
static inline uint64_t chunk_fd(const uint8_t *p) { return ptm_rd64(p + 16); }
static inline uint64_t chunk_bk(const uint8_t *p) { return ptm_rd64(p + 24); }
static inline uint64_t chunk_fd_nextsize(const uint8_t *p) { return ptm_rd64(p + 32); }
static inline uint64_t chunk_bk_nextsize(const uint8_t *p) { return ptm_rd64(p + 40); }

static inline uint64_t ptm_chunksize(uint64_t size_field) { return size_field & ~(uint64_t)PTM_SIZE_BITS; }
static inline bool ptm_prev_inuse(uint64_t size_field) { return size_field & PTM_PREV_INUSE; }
static inline bool ptm_is_mmapped(uint64_t size_field) { return size_field & PTM_IS_MMAPPED; }
static inline bool ptm_non_main(uint64_t size_field) { return size_field & PTM_NON_MAIN_ARENA; }
static inline uint64_t ptm_chunk2mem(uint64_t chunk) { return chunk + PTM_HDR; }
static inline uint64_t ptm_mem2chunk(uint64_t mem) { return mem - PTM_HDR; }
static inline bool ptm_aligned(uint64_t v) { return (v & PTM_ALIGN_MASK) == 0; }

/* Usable bytes of a chunk (malloc_usable_size without MTE). */
static inline uint64_t
ptm_usable(uint64_t chunksize, bool mmapped)
{
	if (chunksize < PTM_HDR)
		return 0;
	return mmapped ? chunksize - PTM_HDR : chunksize - PTM_SIZE_SZ;
}

/* The chunk size malloc uses for a request (request2size). */
static inline uint64_t
ptm_request2size(uint64_t req)
{
	if (req + PTM_SIZE_SZ + PTM_ALIGN_MASK < PTM_MINSIZE)
		return PTM_MINSIZE;
	return (req + PTM_SIZE_SZ + PTM_ALIGN_MASK) & ~(uint64_t)PTM_ALIGN_MASK;
}

/* ---- bins ---- */

static inline unsigned ptm_fastbin_index(uint64_t sz) { return (unsigned)((sz >> 4) - 2); }
static inline uint64_t ptm_fastbin_size(unsigned idx) { return ((uint64_t)idx + 2) << 4; }
static inline unsigned ptm_tcache_index(uint64_t sz) { return (unsigned)((sz - PTM_MINSIZE + PTM_ALIGN - 1) / PTM_ALIGN); }
static inline uint64_t ptm_tcache_size(unsigned idx) { return (uint64_t)idx * PTM_ALIGN + PTM_MINSIZE; }
static inline bool ptm_in_smallbin_range(uint64_t sz) { return sz < PTM_MIN_LARGE; }

static inline unsigned
ptm_largebin_index(uint64_t sz)
{
	if ((sz >> 6) <= 48)
		return 48 + (unsigned)(sz >> 6);
	if ((sz >> 9) <= 20)
		return 91 + (unsigned)(sz >> 9);
	if ((sz >> 12) <= 10)
		return 110 + (unsigned)(sz >> 12);
	if ((sz >> 15) <= 4)
		return 119 + (unsigned)(sz >> 15);
	if ((sz >> 18) <= 2)
		return 124 + (unsigned)(sz >> 18);
	return 126;
}

/* The bin (2..126) a free chunk of size sz is sorted into. */
static inline unsigned
ptm_bin_index(uint64_t sz)
{
	return ptm_in_smallbin_range(sz) ? (unsigned)(sz >> 4) : ptm_largebin_index(sz);
}

/* Safe-linking. pos is the address of the field holding the pointer. */
static inline uint64_t ptm_reveal(uint64_t pos, uint64_t stored) { return stored ^ (pos >> 12); }
static inline uint64_t ptm_protect(uint64_t pos, uint64_t ptr) { return ptr ^ (pos >> 12); }

/* ---- fenceposts ----
 *
 * Pseudo-chunks glibc writes where its memory stops being contiguous.
 * They are not chunks: no list holds them and malloc never hands them
 * out.  Two shapes:
 *
 *   main arena, after an old top, when sbrk() returned memory that does
 *   not continue the heap (another sbrk() user took the memory between:
 *   a "foreign sbrk"; or brk could not grow and glibc carried on in
 *   mmap()ed memory):
 *
 *	old top (shrunk by 32, then freed) | 0x10|P | 0x10|P | ...
 *
 *   the old top keeps its footer in the first fencepost's prev_size and
 *   clears its PREV_INUSE when it went to a bin.  The heap goes on after
 *   the memory in between (foreign data: not malloc's), at the next
 *   16-aligned address; a top of 0x20 or 0x30 is swallowed (0x30 leaves
 *   one more 0x10 header in front).
 *
 *   non-main arena, closing a heap when the arena moved to a new one:
 *
 *	old top (shrunk by MINSIZE, then freed) | 0x10|P | 0|P |  heap end
 *
 *   with the first fencepost's footer set; an old top of 0x20 leaves
 *   0x10|P followed by 0|P, one of 0x30 an in-use 0x20 chunk and 0|P.
 */
#define PTM_FENCEPOST		PTM_HDR		/* a fencepost's chunksize */

/* A size field that can be a fencepost (chunksize 16, neither
 * IS_MMAPPED nor NON_MAIN_ARENA). */
static inline bool
ptm_fencepost(uint64_t size_field)
{
	return ptm_chunksize(size_field) == PTM_FENCEPOST && !(size_field & (PTM_IS_MMAPPED | PTM_NON_MAIN_ARENA));
}

/* The last header of a closed non-main heap: size 0, PREV_INUSE. */
static inline bool ptm_heap_end_marker(uint64_t size_field) { return size_field == PTM_PREV_INUSE; }

/* The second of a main-arena double fencepost: exactly 0x10|P. */
static inline bool ptm_main_fencepost_last(uint64_t size_field) { return size_field == (PTM_FENCEPOST | PTM_PREV_INUSE); }

/* ---- struct malloc_state (ms points at the arena's bytes) ---- */

/* malloc_state.flags: set for every non-main arena, and for the main
 * arena once brk could not grow and it went on in mmap()ed memory; clear
 * means the main heap is one contiguous stretch from mp_.sbrk_base of
 * system_mem bytes (foreign sbrk memory included). */
#define PTM_NONCONTIGUOUS_BIT	0x2

static inline uint32_t ms_mutex(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field32(ms, L->ms_mutex); }
static inline uint32_t ms_flags(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field32(ms, L->ms_flags); }
static inline uint64_t ms_top(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_top); }
static inline uint64_t ms_last_remainder(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_last_remainder); }
static inline uint64_t ms_next(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_next); }
static inline uint64_t ms_next_free(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_next_free); }
static inline uint64_t ms_attached_threads(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_attached_threads); }
static inline uint64_t ms_system_mem(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_system_mem); }
static inline uint64_t ms_max_system_mem(const struct malloc_layout *L, const uint8_t *ms) { return ptm_field(ms, L->ms_max_system_mem); }
static inline uint32_t ms_binmap(const struct malloc_layout *L, const uint8_t *ms, unsigned word) { return L->ms_binmap < 0 ? 0 : ptm_rd32(ms + L->ms_binmap + 4 * word); }

/* Fastbin head i (a chunk pointer, never mangled); 0 without fastbins. */
static inline uint64_t
ms_fastbin(const struct malloc_layout *L, const uint8_t *ms, unsigned i)
{
	if (L->ms_fastbins < 0 || i >= L->nfastbins)
		return 0;
	return ptm_rd64(ms + L->ms_fastbins + 8 * i);
}

/* Bin i (1 = unsorted, 2..63 small, 64..126 large): fd and bk of the
 * fake chunk bin_at(i), which overlays bins[2(i-1)] and bins[2(i-1)+1]. */
static inline uint64_t ms_bin_fd(const struct malloc_layout *L, const uint8_t *ms, unsigned i) { return ptm_rd64(ms + L->ms_bins + 16 * (i - 1)); }
static inline uint64_t ms_bin_bk(const struct malloc_layout *L, const uint8_t *ms, unsigned i) { return ptm_rd64(ms + L->ms_bins + 16 * (i - 1) + 8); }
/* Address of the fake chunk bin_at(i) for an arena at av. */
static inline uint64_t ms_bin_at(const struct malloc_layout *L, uint64_t av, unsigned i) { return av + L->ms_bins + 16 * (i - 1) - 16; }

/* ---- struct malloc_par mp_ ---- */

static inline uint64_t mp_u64(const uint8_t *mp, int32_t off) { return ptm_field(mp, off); }
static inline uint32_t mp_u32(const uint8_t *mp, int32_t off) { return ptm_field32(mp, off); }

/* ---- heap_info ---- */

static inline uint64_t hi_ar_ptr(const struct malloc_layout *L, const uint8_t *h) { return ptm_field(h, L->hi_ar_ptr); }
static inline uint64_t hi_prev(const struct malloc_layout *L, const uint8_t *h) { return ptm_field(h, L->hi_prev); }
static inline uint64_t hi_size(const struct malloc_layout *L, const uint8_t *h) { return ptm_field(h, L->hi_size_field); }
static inline uint64_t hi_mprotect_size(const struct malloc_layout *L, const uint8_t *h) { return ptm_field(h, L->hi_mprotect_size); }

/* First chunk of a non-main arena's first heap (after heap_info and the
 * arena), and of its later heaps (after heap_info only). */
static inline uint64_t
ptm_first_chunk_first_heap(const struct malloc_layout *L, uint64_t h)
{
	/* the user pointer of the first chunk is MALLOC_ALIGNMENT aligned */
	return ALIGN_UP(h + L->hi_size + L->ms_size + PTM_HDR, PTM_ALIGN) - PTM_HDR;
}

static inline uint64_t
ptm_first_chunk_heap(const struct malloc_layout *L, uint64_t h)
{
	return ALIGN_UP(h + L->hi_size + PTM_HDR, PTM_ALIGN) - PTM_HDR;
}

/* ---- tcache_perthread_struct (tc points at its bytes) ---- */

static inline unsigned
tc_count(const struct malloc_layout *L, const uint8_t *tc, unsigned i)
{
	if (L->tc_count_width == 1)
		return tc[L->tc_counts_off + i];
	{
		uint16_t v;
		memcpy(&v, tc + L->tc_counts_off + 2 * i, 2);
		return v;
	}
}

static inline uint64_t tc_entry(const struct malloc_layout *L, const uint8_t *tc, unsigned i) { return ptm_rd64(tc + L->tc_entries_off + 8 * i); }

/* The chunk size of the tcache_perthread_struct's own chunk. */
static inline uint64_t ptm_tcache_chunk_size(const struct malloc_layout *L) { return ptm_request2size(L->tc_size); }

#endif
