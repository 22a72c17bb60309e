/*
 * heap.h - a full walk of glibc malloc's heap in a target: every arena,
 * every heap of every arena, every chunk from each heap's start to top,
 * every mmapped chunk, every free list (per-thread tcaches, fastbins,
 * unsorted, small and large bins), each chunk classified exactly as
 * glibc would see it, and integrity findings for everything glibc's own
 * checks would abort on.
 *
 * Memory is read in address order, a window at a time, as the chunk walk
 * goes.  With walk_opts.keep_copies (the default) every heap region is
 * copied and the copies stay with the walk, so later analyses (leaks,
 * refs, check's abort examination) scan them without reading again.
 * Without it the windows go through one reused buffer, and what the free
 * lists need of a chunk that may be in one (its size field and links) is
 * kept from that pass:
 * heapdbg's memory then grows with the heap's chunks, not its bytes.  A
 * walk that meets damage (a bad size, fenceposts over foreign memory)
 * copies that one heap region after all, so its results are the same
 * either way.  Core files and images are read in place.  A bad read or a
 * corrupted field never aborts the walk: it becomes a finding and the
 * walk goes on.
 */
#ifndef HEAPDBG_HEAP_H
#define HEAPDBG_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "locate.h"
#include "util.h"
#include "symbols.h"
#include "target.h"

enum chunk_state {
	CS_USED,
	CS_TCACHE,
	CS_FASTBIN,
	CS_UNSORTED,
	CS_SMALLBIN,
	CS_LARGEBIN,
	CS_TOP,
	CS_MMAPPED,
	CS_NSTATES
};

const char *chunk_state_name(enum chunk_state s);
/* Parse a state name; -1 if unknown. */
int chunk_state_parse(const char *name);
static inline bool chunk_state_free(enum chunk_state s) { return s != CS_USED && s != CS_MMAPPED; }

#define HEAP_NO_ARENA 0xffff

/* One chunk in 16 bytes, so that a million chunks cost 16 MB: the walk's
 * memory (and the time the kernel takes to give it pages) follows the
 * chunks.  Bit-fields, read as the plain fields they were: an address
 * fits in 48 bits (the user half of x86-64's and aarch64's 48-bit
 * address space; glibc's heaps and mappings are there), a chunk's size in
 * 45 (32 TiB: no span or mapping the walk records is larger).  Pass them
 * to printf-like functions as (uint64_t)c->addr.  A tcache chunk's thread
 * is kept out of line (hchunk_owner). */
struct hchunk {
	uint64_t addr : 48;	/* chunk header address (user pointer is addr+16) */
	uint64_t arena : 16;	/* index into heap->arenas, HEAP_NO_ARENA for mmapped */
	uint64_t size : 45;	/* chunksize() */
	uint64_t state : 3;	/* enum chunk_state */
	uint64_t bits : 3;	/* the size field's low 3 bits */
	uint64_t list : 13;	/* tcache/fastbin/bin index */
};
#define HCHUNK_MAX_SIZE ((UINT64_C(1) << 45) - 8)

struct hcount {
	uint64_t chunks, bytes;
};

struct hheap {
	uint64_t info;		/* heap_info address (0 for the main sbrk heap) */
	uint64_t start, end;	/* chunk range */
	uint64_t size;		/* heap_info.size, or the sbrk heap's length */
};

struct harena {
	uint64_t addr;
	bool main;
	bool contiguous;	/* main arena: NONCONTIGUOUS_BIT clear (one stretch from
				 * mp_.sbrk_base of system_mem bytes) */
	uint32_t flags, mutex;
	uint64_t system_mem, max_system_mem, attached_threads;
	uint64_t top, top_size;
	VEC(struct hheap) heaps;
	struct hcount used, tcache, fastbins, bins;	/* bins = unsorted+small+large */
	struct hcount unsorted, smallbins, largebins;
	uint64_t fastbin_heads[16];
	unsigned nfast;
	uint64_t fenceposts;	/* glibc's fencepost groups met (ptmalloc.h) */
	uint64_t foreign;	/* main arena: bytes between fenceposts and the
				 * next chunk (memory the program took with sbrk) */
	uint64_t unreadable;	/* bytes of its heaps that could not be read
				 * (an mprotect()ed page inside a block) */
};

struct htcache {
	pid_t tid;
	uint64_t addr;		/* tcache_perthread_struct, 0 if none */
	bool known;
	uint64_t chunks, bytes;
};

enum finding_severity { FIND_ERROR, FIND_WARNING };

struct finding {
	const char *kind;	/* short stable identifier, e.g. "invalid-size" */
	enum finding_severity severity;
	uint64_t chunk;		/* chunk address, 0 when not about a chunk */
	int arena;		/* arena index or -1 */
	int tid;		/* tcache findings: the thread, 0 otherwise */
	char *message;		/* the bug first, then the mechanism */
	/* the evidence, where there is some */
	uint64_t after;		/* a consequence of the finding at this chunk (the
				 * walk was out of step after it), 0 if not */
	uint64_t block;		/* the user block the bug is in: the one below an
				 * overflowed header, the one freed twice; 0 */
	uint64_t block_size;	/* its usable size */
	uint64_t bytes_at;	/* the damaged bytes (nbytes at bytes_at) */
	uint8_t bytes[16];
	uint8_t nbytes;
	uint64_t field;		/* list findings: the address of the bad pointer, 0 */
};

/* One free list in the order glibc would take from it. */
struct hlist {
	uint8_t state;		/* CS_TCACHE, CS_FASTBIN, CS_UNSORTED, CS_SMALLBIN, CS_LARGEBIN */
	uint16_t index;		/* bin index */
	uint16_t owner;		/* tcache: thread index in heap->tcaches; else arena index */
	uint32_t first, count;	/* range in heap->list_chunks */
	uint32_t declared;	/* tcache: the entries counts[index] declares (2.42+:
				 * tcache_count - num_slots[index]); else = count */
	bool broken;		/* the walk stopped on a bad link or a cycle */
};

struct region {
	uint64_t start, end;
	const uint8_t *data;	/* copy (or direct core mapping) of [start, end),
				 * NULL when the walk kept no copy of it */
	uint8_t *owned;		/* non-NULL when data was allocated here */
	size_t span;		/* (the walker's: the heap span it belongs to) */
};

struct heap {
	struct malloc_info *mi;		/* owned */
	bool initialised;
	VEC(struct harena) arenas;
	struct hchunk *chunks;		/* sorted by address */
	size_t nchunks;
	VEC(struct region) regions;	/* sorted by start */
	VEC(struct finding) findings;
	VEC(struct htcache) tcaches;
	VEC(struct hlist) lists;
	VEC(uint64_t) list_chunks;	/* chunk addresses, list after list */
	struct hcount mmapped;		/* bytes: whole mappings (prev_size + size) */
	struct u64map mmap_offsets;	/* mmapped chunk -> its offset (prev_size), if not 0 */
	struct u64map tc_owners;	/* tcache chunk -> its thread (index in tcaches), if not 0 */
	uint64_t mmapped_expected_chunks, mmapped_expected_bytes;	/* mp_ */
	bool mmapped_checked;
	uint64_t bytes_read;
	bool copies;			/* every region has data (a copy or in place) */
	uint64_t walk_memory;		/* bytes the walk's buffers held at most
					 * (copies, window, chunk captures) */
	double seconds;
	unsigned errors, warnings;
};

struct walk_opts {
	bool keep_copies;	/* copy every heap region and keep the copies for
				 * later analyses (NULL options: true).  false:
				 * bounded windows, heap_bytes() NULL for live
				 * memory (use heap_read) */
	bool no_direct;		/* (tests) read a core or an image through the
				 * window as a live target is read */
	size_t window;		/* bytes per read window; 0: 512 KiB (tests make
				 * it small) */
};

/* Walk the heap.  Returns 0 with *out (also when malloc is not
 * initialised, or another allocator is in use: check out->mi), or -1 with
 * an hd error (the target cannot be examined at all, Ctrl-C). */
int heap_walk(struct target *t, struct symbols *s, const struct walk_opts *o, struct heap **out);
/* The walk proper, for a malloc_info found by malloc_locate() or built by
 * hand (unit tests over synthetic images).  Takes ownership of mi, also
 * on failure. */
int heap_walk_info(struct target *t, struct malloc_info *mi, const struct walk_opts *o, struct heap **out);
void heap_free(struct heap *h);

/* The chunk containing addr (header or user data), or NULL. */
const struct hchunk *heap_chunk_at(const struct heap *h, uint64_t addr);
/* Index of the first chunk with address >= addr. */
size_t heap_chunk_lower_bound(const struct heap *h, uint64_t addr);
/* Bytes of [addr, addr+len) from the walk's copies (or a core's or
 * image's memory in place), or NULL: outside the heap regions, or the
 * walk kept no copy (walk_opts.keep_copies false). */
const uint8_t *heap_bytes(const struct heap *h, uint64_t addr, size_t len);
/* Is [addr, addr+len) inside a heap region (memory chunks live in)? */
bool heap_in_region(const struct heap *h, uint64_t addr, size_t len);

/* Usable bytes of a chunk, and its user pointer. */
uint64_t hchunk_usable(const struct hchunk *c);
static inline uint64_t hchunk_mem(const struct hchunk *c) { return c->addr + 16; }
/* A tcache chunk's thread: its index in heap->tcaches (0 for any other
 * chunk). */
unsigned hchunk_owner(const struct heap *h, const struct hchunk *c);
/* The mmapped chunk's offset from its mapping start (prev_size). */
uint64_t hchunk_mmap_offset(const struct heap *h, const struct hchunk *c);

#endif
