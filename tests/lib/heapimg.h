/*
 * heapimg.h - a synthetic glibc heap in an image target, for unit tests
 * and fuzz harnesses of the heap walker.
 *
 * The builder lays out, for one struct malloc_layout (any table row):
 * main_arena and mp_ in a fake libc .data mapping, the main arena's sbrk
 * heap, optional non-main arenas (heap_info and malloc_state at the start
 * of a heap_max-aligned heap, later heaps chained by heap_info.prev with
 * fenceposts closing the older one), per-thread tcaches (the first chunk
 * a thread allocates), and mmapped chunks in their own mappings.  Chunks
 * are carved from top in order and then moved into free lists the way
 * glibc would leave them: tcache (safe-linked next, the version's key,
 * char or u16 counts, or 2.42's free-slot counters), fastbins (safe-linked
 * fd), and the unsorted, small and large bins (doubly linked through
 * bin_at, with footers, the successor's PREV_INUSE cleared and the large
 * bins' nextsize ring).
 *
 * Everything the builder does is also recorded as the expected state of
 * every chunk, so a test can walk the image with heap_walk_info() and
 * compare (hi_check) before and after corrupting bytes on purpose.
 *
 * Misuse (a request that does not fit, a list the layout does not have)
 * is a bug in the test: it prints the reason and aborts.
 */
#ifndef HEAPDBG_HEAPIMG_H
#define HEAPDBG_HEAPIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "glibc-layout.h"
#include "heap.h"
#include "locate.h"
#include "target.h"
#include "util.h"

/* Where things live in every image. */
#define HI_LIBC_DATA	0x7ffff7dd0000ULL	/* fake libc .data mapping */
#define HI_LIBC_LEN	0x8000ULL
#define HI_MAIN_ARENA	(HI_LIBC_DATA + 0x3c60)
#define HI_MP		(HI_LIBC_DATA + 0x1340)
#define HI_SBRK_BASE	0x555555559000ULL	/* the main arena's heap */
#define HI_HEAPS_TOP	0x7ff000000000ULL	/* non-main heaps grow down from here */
#define HI_MMAP_BASE	0x7fe000000000ULL	/* mmapped chunks */
#define HI_STACKS	0x7ffd00000000ULL	/* thread stacks */
#define HI_STACK_LEN	0x4000ULL
#define HI_TCACHE_KEY	0x3a5c96e1d27b4f08ULL	/* 2.34+ tcache_key */
#define HI_PAGE		0x1000ULL

/* The expected state of one chunk. */
struct hi_chunk {
	uint64_t addr, size;
	int arena;		/* builder arena index; -1 for mmapped */
	enum chunk_state state;
	unsigned list;		/* tcache, fastbin or bin index */
	int owner;		/* tcache: builder thread index */
	uint64_t mmap_len;	/* mmapped: the whole mapping */
	uint64_t mmap_off;	/* mmapped: offset from the mapping start */
};

struct hi_heap {
	uint64_t base;		/* heap_info (0 for the sbrk heap: base = sbrk base) */
	uint64_t len;		/* mapped length */
	uint64_t info;		/* heap_info address, 0 for the sbrk heap */
	int arena;
};

struct hi_arena {
	uint64_t addr;		/* malloc_state */
	bool main;
	uint64_t top;		/* top chunk */
	int heap;		/* current heap (index in heaps) */
	uint64_t system_mem;
};

struct hi_thread {
	pid_t tid;
	uint64_t tcache;	/* tcache_perthread_struct (chunk + 16), 0 if none */
	int arena;
};

struct heapimg {
	struct target *t;
	const struct malloc_layout *L;
	uint64_t heap_max;
	uint64_t hp_pagesize;
	uint64_t next_heap;	/* next non-main heap base (downwards) */
	uint64_t next_mmap;
	uint64_t tcache_count;	/* mp_.tcache_count */
	VEC(struct hi_arena) arenas;	/* creation order: 0 is main */
	VEC(struct hi_heap) heaps;
	VEC(struct hi_thread) threads;
	VEC(struct hi_chunk) chunks;	/* every chunk but the tops */
	uint64_t n_mmaps, mmapped_mem;
};

/* A builder for layout L with a main-arena sbrk heap of sbrk_len bytes
 * (a page multiple).  hp_pagesize is mp_.hp_pagesize (0 normally; on 2.35+
 * a non-zero value makes heap_max 4 * hp_pagesize, as glibc.malloc.hugetlb
 * does).  The main arena is initialised and its heap is one top chunk. */
struct heapimg *hi_new(const struct malloc_layout *L, uint64_t sbrk_len, uint64_t hp_pagesize);
/* Layout for glibc 2.MINOR (exact table row), or abort. */
const struct malloc_layout *hi_layout(unsigned minor);
void hi_free(struct heapimg *b);

/* A non-main arena with its first heap of heap_len mapped bytes.  Returns
 * the builder arena index.  Arenas join the ring right after main_arena,
 * as glibc inserts them. */
int hi_new_arena(struct heapimg *b, uint64_t heap_len);
/* Give a non-main arena a new heap of heap_len bytes (chained by prev) and
 * close its current one: the old top shrinks by MINSIZE to make room for
 * the two fenceposts and stays an in-use chunk (free it with one of the
 * put functions, as glibc does).  Returns the old top's address, or 0
 * when it was too small to stay a chunk (then it is a pseudo-chunk before
 * the last fencepost). */
uint64_t hi_grow_heap(struct heapimg *b, int arena, uint64_t heap_len);

/* The main arena's brk heap grows by a new mapping at its end (as after
 * fork(), or madvise()): `foreign` bytes another sbrk() user took first
 * (filled with 0x21), then glibc's memory up to a page boundary at least
 * `grow` bytes on.  Without foreign bytes top just grows.  With them,
 * glibc's double fencepost closes the old top, which shrinks by 32 bytes
 * and stays an in-use chunk (free it with a put function, as glibc does),
 * and top starts at the next 16-aligned address.  Returns the old top
 * when it stayed a chunk, else 0. */
uint64_t hi_sbrk_extend(struct heapimg *b, uint64_t foreign, uint64_t grow);
/* brk cannot grow: the main arena goes on in a new anonymous mapping of
 * len bytes (non-contiguous from now on), the old top closed by glibc's
 * double fencepost as above.  A later segment is mapped right below the
 * one before (the kernel maps top-down).  Returns the old top if it
 * stayed a chunk. */
uint64_t hi_sbrk_mmap_segment(struct heapimg *b, uint64_t len);
/* Make the image region that starts at addr unreadable (PROT_NONE). */
void hi_unreadable(struct heapimg *b, uint64_t addr);

/* Carve a chunk of chunk size csize (a multiple of 16, >= 0x20) from the
 * arena's top.  Returns its address (the chunk header). */
uint64_t hi_alloc(struct heapimg *b, int arena, uint64_t csize);
/* Carve n chunks of the given sizes; addrs (may be NULL) receives them. */
void hi_alloc_n(struct heapimg *b, int arena, const uint64_t *sizes, size_t n, uint64_t *addrs);

/* A thread whose tcache is the next chunk carved from arena (no tcache
 * when tcache is false).  Returns the builder thread index.  Its stack is
 * an anonymous mapping at HI_STACKS + i * 2 * HI_STACK_LEN, with a fake
 * mmapped-chunk header at its start (the walker must skip stacks). */
int hi_add_thread(struct heapimg *b, pid_t tid, int arena, bool tcache);

/* Free lists.  Each records the new expected state. */
/* tcache_put into the thread's bin for the chunk's size (a large bin on
 * 2.42+ for sizes above 0x410). */
void hi_tcache_put(struct heapimg *b, int thread, uint64_t chunk);
/* Into the fastbin of its size; aborts when the layout has no fastbins. */
void hi_fastbin_put(struct heapimg *b, uint64_t chunk);
/* Into the unsorted bin (unsorted true) or the small/large bin of its
 * size: fd/bk through bin_at, footer, successor's P cleared, N cleared,
 * binmap bit, the large bins kept sorted with their nextsize ring. */
void hi_bin_put(struct heapimg *b, uint64_t chunk, bool unsorted);
/* As hi_bin_put, but into bin `bin` whatever the chunk's size (for
 * bin-index corruption tests).  The expected state follows the bin. */
void hi_bin_put_at(struct heapimg *b, uint64_t chunk, unsigned bin);

/* An mmapped chunk: a mapping of its own with the chunk at offset off
 * (0 for plain malloc, non-zero like memalign); csize is the wanted chunk
 * size, rounded up so the mapping is a page multiple.  The size field
 * follows the layout (2.43+: mapping length - offset - 16).  hugepage
 * sets bit 0 of prev_size where the layout has that flag.  Counted in
 * mp_.n_mmaps and mp_.mmapped_mem.  Returns the chunk. */
uint64_t hi_mmap(struct heapimg *b, uint64_t csize, uint64_t off, bool hugepage);
/* n mmapped chunks (offset 0) in one mapping, as the kernel merges
 * adjacent anonymous mappings.  addrs (may be NULL) receives them. */
void hi_mmap_merged(struct heapimg *b, const uint64_t *csizes, size_t n, uint64_t *addrs);

/* The malloc_info a test hands to heap_walk_info (which takes it). */
struct malloc_info *hi_info(const struct heapimg *b);

/* Raw access to the image, for corrupting it. */
uint8_t *hi_mem(struct heapimg *b, uint64_t addr, size_t len);
uint64_t hi_r64(struct heapimg *b, uint64_t addr);
void hi_w64(struct heapimg *b, uint64_t addr, uint64_t v);
/* mp_ as in the image (also copied into every hi_info). */
uint64_t hi_mp_get(struct heapimg *b, int32_t off);
void hi_mp_set(struct heapimg *b, int32_t off, uint64_t v, unsigned width);

/* Expectations. */
struct hi_chunk *hi_expect(struct heapimg *b, uint64_t addr);
/* Stop expecting the chunk at addr (a test corrupted it away). */
void hi_forget(struct heapimg *b, uint64_t addr);
/* The walker's index of builder arena a (main first, then the ring). */
unsigned hi_walk_index(const struct heapimg *b, int arena);
/* Compare a walk with the expectations: every chunk (address, size,
 * state, list, owner, arena), the number of chunks, each arena's top and
 * counters, each thread's tcache totals and the mmapped totals.  Returns
 * the number of differences; the first few are described in why (may be
 * NULL). */
int hi_check(const struct heapimg *b, const struct heap *h, char *why, size_t whylen);

#endif
