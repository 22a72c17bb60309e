/*
 * reach.h - leaks by reachability: a conservative mark-and-sweep over the
 * walked heap, with valgrind memcheck's categories and rules, on a live
 * process or a core file.
 *
 * Blocks are the chunks in use (glibc's own tcache_perthread_structs
 * excluded: valgrind never sees them).  Roots are every thread's general
 * registers and every readable-writable mapping that is not heap: stacks
 * (from the stack pointer less the 128-byte red zone upwards, the part
 * memcheck considers defined), .data and .bss of every object, TLS, and
 * anonymous mappings that are neither arena heaps nor mmapped chunks.
 * Free chunks are never roots and never blocks.
 *
 * As memcheck: a start pointer from a root or a reachable block makes a
 * block reachable; an interior pointer (or any pointer from a possibly
 * lost block) makes it possibly lost; memcheck's default heuristics
 * (stdstring, length64, newarray, multipleinheritance) turn some interior
 * pointers into start pointers.  Unreached blocks form cliques: the leader
 * is definitely lost, every block reachable from it is indirectly lost.
 *
 * The walk need keep no copy (session_heap_nocopy): the check reads the
 * blocks itself, once, in address order through a reused window, and
 * keeps the pointer edges between blocks (struct reach's CSR arrays), not
 * their contents.  The target must stay as it was (stopped) for as long
 * as the result is used: reach_via, reach_refs and reach_retained read
 * it again.
 */
#ifndef HEAPDBG_REACH_H
#define HEAPDBG_REACH_H

#include <stdbool.h>
#include <stdint.h>

#include "allocinfo.h"
#include "heap.h"
#include "symbols.h"
#include "target.h"

enum leak_kind {
	LEAK_DEFINITE,
	LEAK_INDIRECT,
	LEAK_POSSIBLE,
	LEAK_REACHABLE,
	LEAK_NKINDS
};

const char *leak_kind_name(enum leak_kind k);

/* A set of leak kinds, one bit (1 << kind) each. */
#define LEAK_KINDS_ALL ((1u << LEAK_NKINDS) - 1)
/* Parse a set in valgrind's words (--show-leak-kinds=, match-leak-kinds:):
 * kinds separated by commas ("definite,possible"), "all" or "none"
 * (alone).  0, or -1 with an hd error naming the bad word. */
int leak_kinds_parse(const char *text, unsigned *mask);
/* The set in the same words ("definite,indirect"; "all"; "none"). */
const char *leak_kinds_str(unsigned mask, char buf[64]);

enum leak_heuristic {
	HEUR_NONE,
	HEUR_STDSTRING,
	HEUR_LENGTH64,
	HEUR_NEWARRAY,
	HEUR_MULTIPLE_INHERITANCE,
};

/* The lowest address of a thread's stack that is a root, when that is
 * above its stack pointer less the red zone. */
struct stack_floor {
	pid_t tid;
	uint64_t lo;
};

struct reach_opts {
	const struct alloc_source *alloc;	/* NULL: sizes are usable sizes */
	bool heuristics;			/* memcheck's default: true */
	const struct stack_floor *floors;	/* (may be NULL) */
	size_t nfloors;
};

/* Where a pointer to a block was found. */
enum ref_region {
	REF_REGISTER,
	REF_STACK,
	REF_GLOBAL,	/* .data/.bss of a module */
	REF_ANON,	/* other anonymous memory (TLS of the main thread, pools) */
	REF_HEAP,	/* inside another block */
};

const char *ref_region_name(enum ref_region r);

/* What a block looks like, from its first 64 bytes: a loss record's
 * grouping when untraced. */
enum block_look { LOOK_SIZE, LOOK_STRING, LOOK_VTABLE };

#define REACH_EDGE_INTERIOR 0x80000000u
#define REACH_EDGE_NONE 0xffffffffu
#define REACH_MAX_BLOCKS 0x7fffffffu

struct reach {
	const struct heap *h;
	size_t n;		/* blocks */
	uint32_t *chunk;	/* index into h->chunks (ascending: blocks are in
				 * address order); see reach_start, reach_len */
	uint64_t *len;		/* traced: the scanned size, the requested size
				 * when known (NULL untraced: the usable size) */
	uint32_t *stack;	/* allocation stack id, or 0 (NULL untraced: see
				 * reach_stack) */
	uint8_t *sized;		/* 1: len is the requested size (traced; NULL
				 * untraced) */
	uint8_t *state;		/* enum leak_kind */
	struct u64map clique;	/* indirect block -> the block whose clique holds it */
	struct u64map indirect;	/* definite leaders -> bytes indirectly lost below */
	int32_t *parent;	/* first block it was reached from, -1: a root
				 * (which of the parent's edges: reach_via());
				 * NULL until reach_parents() */
	struct u64map root_via;	/* parent -1: block -> the root address holding
				 * the pointer that reached it (absent: a register) */
	/* the pointer edges, one streaming pass over the blocks' contents
	 * (compressed sparse rows): block b's are edges[eoff[b]..eoff[b+1]),
	 * in address order, each a block index with REACH_EDGE_INTERIOR for
	 * a pointer past the block's start; REACH_EDGE_NONE: a word that
	 * looked like a pointer but is not one (new T[0]: see points_into) */
	uint32_t *eoff;
	uint32_t *edges;
	size_t nedges;
	size_t edges_map;	/* (bytes mapped for edges: reach.c's) */
	size_t cap;		/* (blocks the per-block arrays were made for) */
	void *mem, *imem;	/* (reach.c's: the mappings holding the per-block
				 * arrays, and the index's buckets) */
	size_t memlen, imemlen;
	bool heuristics;	/* the run applied memcheck's heuristics */
	struct u64map eheur;	/* interior edge index -> the enum leak_heuristic
				 * that accepts it (absent: none) */
	uint8_t *look;		/* enum block_look, and bits of reach.c's (the
				 * heuristic: reach_heuristic) */
	struct u64map vtables;	/* LOOK_VTABLE blocks -> their first word */
	uint64_t blocks[LEAK_NKINDS], bytes[LEAK_NKINDS];
	uint64_t root_bytes;	/* root memory scanned */
	uint64_t heap_bytes;	/* block memory scanned */
	unsigned root_regions;
	bool traced;		/* sizes are requested sizes */
	struct stack_floor *floors;	/* the run's, for reach_refs */
	size_t nfloors;
	double seconds;
	/* the block index: per region of memory holding blocks, the first
	 * block at or below the start of each bucket of its bytes (about
	 * two blocks a bucket: the index grows with the blocks, not with
	 * the bytes) */
	struct reach_index {
		uint64_t lo, hi;	/* page-aligned */
		uint32_t *first;	/* per bucket, nb + 1 */
		size_t nb;
		unsigned shift;		/* a bucket is 1 << shift bytes */
		uint32_t b1;		/* one past the region's last block */
	} *idx;
	size_t nidx;
};

/* Run the leak check over a walk.  0, or -1 with an hd error (HD_EINTR). */
int reach_run(struct target *t, const struct heap *h, const struct reach_opts *o, struct reach **out);
void reach_free(struct reach *r);
/* The block containing addr (user data only), or -1. */
long reach_block_at(const struct reach *r, uint64_t addr);
/* Block b's user address. */
static inline uint64_t reach_start(const struct reach *r, size_t b) { return hchunk_mem(&r->h->chunks[r->chunk[b]]); }
/* Its scanned size: the requested size when traced, else the usable size. */
static inline uint64_t
reach_len(const struct reach *r, size_t b)
{
	return r->len ? r->len[b] : hchunk_usable(&r->h->chunks[r->chunk[b]]);
}
/* Block b's allocation stack id, or 0. */
static inline uint32_t reach_stack(const struct reach *r, size_t b) { return r->stack ? r->stack[b] : 0; }
/* An indirectly lost block: the block whose clique holds it; else -1. */
long reach_clique(const struct reach *r, size_t b);
/* A definitely lost block: the bytes indirectly lost below it. */
uint64_t reach_indirect(const struct reach *r, size_t b);
/* The memcheck heuristic that made block b reachable, or HEUR_NONE (a
 * start pointer reached it too). */
enum leak_heuristic reach_heuristic(const struct reach *r, size_t b);
/* How block b looks (from the pass over the contents); *value: the
 * vtable address for LOOK_VTABLE, the block's size for LOOK_SIZE. */
enum block_look reach_look(const struct reach *r, size_t b, uint64_t *value);
/* The paths from the roots (r->parent, and the root word that reached
 * each block a root reached): the check keeps none, so they are marked
 * again, from the same roots over the same edges, the first time they
 * are asked for.  0, or -1 with an hd error (HD_EINTR). */
int reach_parents(struct target *t, struct reach *r);
/* The address holding the pointer that first reached block b (the one
 * that gave it its state): a root's or its parent block's word, found
 * again by reading the parent (the edges keep no addresses); 0 for a
 * register, for a block no pointer reached, or before reach_parents(). */
uint64_t reach_via(struct target *t, const struct reach *r, long b);

/* Every place that points into [lo, hi): roots (registers, stacks,
 * globals, anonymous memory) and blocks in use.  Calls fn for each. */
struct ref {
	uint64_t from;		/* address holding the pointer (0 for registers) */
	uint64_t value;		/* the pointer */
	enum ref_region region;
	pid_t tid;		/* REF_REGISTER, REF_STACK */
	const char *reg;	/* REF_REGISTER */
	long block;		/* REF_HEAP: the block holding the pointer */
};
int reach_refs(struct target *t, const struct reach *r, uint64_t lo, uint64_t hi,
	       void (*fn)(void *arg, const struct ref *ref), void *arg);

/* What each root retains (`retained`): the dominator tree of the
 * reachable blocks under a super-root above every root, the edges those
 * the leak check follows (a start pointer, or an interior pointer one of
 * memcheck's heuristics accepts).  A root retains every block all of
 * whose paths from the roots pass through it: what would be lost if it
 * forgot its pointers.  Roots: a global symbol (all its words together;
 * without a symbol, its module's data mapping), a thread's stack, a
 * thread's registers, a piece of other anonymous memory. */
struct retain_root {
	enum ref_region region;	/* REF_GLOBAL, REF_STACK, REF_REGISTER, REF_ANON */
	pid_t tid;		/* REF_STACK, REF_REGISTER */
	uint64_t lo, hi;	/* the root's memory: the symbol, or the mapping piece */
	const char *name;	/* REF_GLOBAL: the symbol (owned by the symbols), or NULL */
	const char *module;	/* REF_GLOBAL: the module's path, or NULL */
	const char *section;	/* REF_GLOBAL without a symbol: its ELF section, or NULL */
	uint64_t blocks, bytes;	/* retained */
	uint64_t refs;		/* its pointers to reachable blocks */
	long top;		/* the block it holds directly that retains most, or -1 */
	uint64_t top_blocks, top_bytes;
};

/* A block no single root retains (several roots reach it), with what
 * it retains itself and who points to it. */
#define RETAIN_SHARED_MAX 16
#define RETAIN_HOLDERS_MAX 4
struct retain_shared {
	long block;
	uint64_t blocks, bytes;		/* retained by the block */
	struct retain_root holders[RETAIN_HOLDERS_MAX];	/* roots pointing at it (blocks, bytes: theirs) */
	unsigned nholders;		/* shown */
	uint64_t root_refs, block_refs;	/* pointers to it from roots, from other blocks */
};

struct retain {
	struct retain_root *roots;	/* biggest first; none retaining nothing */
	size_t n;
	struct retain_shared shared[RETAIN_SHARED_MAX];	/* the biggest shared ones, biggest first */
	size_t nshared;
	uint64_t reachable_blocks, reachable_bytes;
	uint64_t shared_blocks, shared_bytes;	/* reachable from several roots, none alone */
	uint64_t unattributed_blocks, unattributed_bytes;	/* (0: a consistency check) */
	uint64_t edges;
	double seconds;
};

/* Compute what each root of r's leak check retains; s (may be NULL)
 * names global roots.  0 with *out, or -1 with an hd error (HD_EINTR). */
int reach_retained(struct target *t, struct symbols *s, const struct reach *r, struct retain **out);
void retain_free(struct retain *res);

#endif
