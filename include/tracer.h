/*
 * tracer.h - allocation tracing with breakpoints in a live process.
 *
 * An int3 goes on the first byte of each allocator entry point the
 * program calls (malloc, free, calloc, realloc, reallocarray, memalign,
 * aligned_alloc, posix_memalign, valloc, pvalloc, cfree; one breakpoint
 * per address), resolved in the dynamic linker's search order, so an
 * interposed allocator is traced too.  The breakpoint is never lifted
 * while any thread may run: the displaced first instruction runs out of
 * line from a scratch page mapped next to the allocator (one stop per
 * call entry).  Allocations also stop once on return: their return address
 * is replaced by a trampoline (an int3 in the scratch page) and kept on a
 * per-thread shadow stack.  So: at most 2 stops per allocation, 1 per free.
 *
 * At each allocation entry the registers and the top of the stack are
 * copied in one read, the thread is resumed, and the stack is unwound from
 * the copy and interned.  Nested and tail calls (realloc(NULL, n) into
 * malloc, realloc(p, 0) into free, reallocarray into realloc) are counted
 * once, as the caller made them.
 *
 * Stopping the tracer (trace stop, detach, quit, SIGINT/SIGTERM/SIGHUP, a
 * failed command, the end of a batch run, or a fatal error) puts back every
 * patched byte and every return address it replaced.  SIGKILL of heapdbg
 * cannot be survived by any breakpoint design: a thread that then reaches
 * a breakpoint dies of SIGTRAP (one that was stopped on it may also die of
 * SIGSEGV or SIGILL: the kernel resumes it past the int3).
 */
#ifndef HEAPDBG_TRACER_H
#define HEAPDBG_TRACER_H

#include <stdbool.h>
#include <stdint.h>

#include "allocinfo.h"
#include "live.h"
#include "stacks.h"
#include "symbols.h"
#include "target.h"
#include "unwind.h"

enum tfunc {
	TF_MALLOC,
	TF_CALLOC,
	TF_REALLOC,
	TF_REALLOCARRAY,
	TF_FREE,
	TF_CFREE,
	TF_MEMALIGN,
	TF_ALIGNED_ALLOC,
	TF_POSIX_MEMALIGN,
	TF_VALLOC,
	TF_PVALLOC,
	TF_NFUNCS
};

const char *tfunc_name(enum tfunc f);

struct tracer;

/* A block in use when tracing starts (from the heap walk). */
struct trace_preblock {
	uint64_t addr;		/* user address */
	uint64_t size;		/* usable size */
};

struct trace_opts {
	int depth;		/* frames per stack (default 32) */
	bool breakpoints;	/* breakpoints only (no fast tracepoints) */
	/* the blocks in use at the start, sorted by address (known: the
	 * walk succeeded, and a free of a block neither in it nor traced
	 * since is an invalid free; else such a free is only counted) */
	const struct trace_preblock *pre;
	size_t npre;
	bool pre_known;
	/* the free chunks then (tcache, fastbins, bins): a free of one is a
	 * double free of a block freed before tracing */
	const struct trace_preblock *prefreed;
	size_t nprefreed;
	uint64_t tcache_key;	/* glibc 2.34+'s tcache_key (0: unknown) */
	uint64_t tcache_key_addr;	/* where it is (0: unknown) */
	/* the TLS variable tcache (the thread's tcache_perthread_struct) at
	 * this offset from the thread pointer: a free glibc makes itself is
	 * its own (not checked) only once the thread's tcache is gone, at
	 * its exit; without it, every free glibc makes is its own */
	int64_t tcache_tpoff;
	bool have_tcache_tpoff;
	/* hold a thread at a memory error (the shell); else report it and
	 * let the call go on (batch) */
	bool stop_on_error;
	uint64_t sample;	/* 0: every call; else sample about one allocation per this
				 * many bytes (fast tracepoints on every entry point only) */
	uint64_t sample_seed;	/* the agent's PRNGs (0: a random one) */
	bool no_free_stacks;	/* fast tracepoints: a free's stack is its caller alone */
};

/* Place the breakpoints; every thread must be stopped.  NULL with an hd
 * error (the process is left untouched on failure). */
struct tracer *tracer_start(struct target *t, struct symbols *s, struct unwinder *u,
			    const struct trace_opts *o);
/* The mean bytes between samples (0: not sampled: every call traced). */
uint64_t tracer_sample_rate(const struct tracer *tr);
/* What a sampled block of req bytes stands for: 1 / (1 - exp(-req / rate)),
 * pprof's and Go's weight of a sample (1 when rate is 0). */
double sample_weight(uint64_t req, uint64_t rate);
/* Put every byte and return address back (all threads must be stopped);
 * the records stay for `top`.  Safe to call twice. */
int tracer_stop(struct tracer *tr);
void tracer_free(struct tracer *tr);
/* The unwinder to take allocation stacks with from now on (the session
 * replaces its unwinder when the target has run: modules may have
 * changed); NULL: no stacks. */
void tracer_set_unwinder(struct tracer *tr, struct unwinder *u);
/* The hooks live_run() must use while the tracer is active. */
const struct live_hooks *tracer_hooks(struct tracer *tr);
bool tracer_active(const struct tracer *tr);
/* Why tracing ended by itself (exec), or NULL. */
const char *tracer_end_reason(const struct tracer *tr);
/* What the tracer knows about blocks (for leaks, snapshots, chunk). */
const struct alloc_source *tracer_source(struct tracer *tr);
const struct stack_table *tracer_stacks(const struct tracer *tr);

struct trace_status {
	bool active;
	unsigned nbreakpoints;
	unsigned long events[TF_NFUNCS];	/* calls, as the program made them */
	unsigned long stops;		/* ptrace stops handled */
	unsigned long stepall;		/* stops that needed a stop-all single step */
	unsigned long nested;		/* inner/tail calls not counted as calls */
	unsigned long in_place;		/* stops resumed behind the int3 (endbr64) */
	unsigned long untracked_frees;	/* frees of blocks in use when tracing started */
	unsigned long unseen_frees;	/* glibc's own frees (a thread's tcache entries and tcache
					 * at its exit), and frees of sound chunks the tracer did
					 * not see allocated (glibc's own allocations) */
	unsigned long memerrs;		/* memory errors found (struct memerr) */
	unsigned long agent_checks;	/* frees and reallocs the agent's check stopped (fast) */
	unsigned long deferred;		/* of them, judged later: earlier events were being written */
	unsigned long failed;		/* allocations that returned NULL */
	uint64_t outstanding_blocks, outstanding_bytes;
	size_t stacks;
	size_t memory;			/* bytes heapdbg holds for records and stacks */
	double seconds;			/* since trace start */
	int depth;
	struct unwind_stats unwind;	/* how the allocation stacks were unwound */
	/* fast tracepoints */
	unsigned nfast;			/* entry points with a jump to a pad */
	bool fast_tried;		/* they were asked for (not --breakpoints) */
	const char *fast_error;		/* why none could be set up, or NULL */
	uint64_t ring_events;		/* events read from the ring */
	uint64_t agent_unwinds;		/* stacks unwound in the target by the cached CFI rules (in unwind.fast) */
	uint64_t stack_ids;		/* of them, sent as the id of a stack heapdbg published */
	uint64_t sample_rate;		/* 0: every call traced; else the mean bytes between samples */
	bool free_stacks;		/* a free's whole stack is kept (else its caller alone) */
	uint64_t sampled;		/* allocations the agent sampled */
	uint64_t sample_dropped;	/* sampled allocations dropped (the sample set was full there) */
	uint64_t ring_waits;		/* calls that waited for room in the ring */
	uint64_t ring_lost;		/* calls that found no room and could not wait */
	uint64_t ring_noslot;		/* calls not traced: the thread table was full */
	uint64_t ring_hellos;		/* threads that asked for their stack range */
	uint64_t ring_size;
	uint32_t ring_threads;		/* threads the agent has seen */
	bool pages_mapped;		/* the code page and ring are mapped in the target */
	uint64_t code;			/* where the code page is (0: none) */
	unsigned nentries;
	struct trace_entry {
		const char *name;
		uint64_t addr;
		const char *mode;	/* "fast" or "breakpoint" */
		const char *why;	/* why a breakpoint (NULL: asked for, or fast) */
	} entries[16];
};

void tracer_status(const struct tracer *tr, struct trace_status *st);

/*
 * Memory errors the tracer sees at a free or realloc: the pointer is not
 * a block in use (freed already, never allocated, inside a block), or the
 * header of the chunk after it is damaged (an overflow out of the block).
 * Found at the call by the breakpoint tracer; by the fast tracer at the
 * call when the agent's check at the entry finds the chunk suspicious
 * (a tcache key, a bad size or next header), else when heapdbg reads the
 * event (a fastbin double free, which only the ledger can tell).
 */
enum memerr_kind {
	ME_DOUBLE_FREE,		/* free of a block freed already */
	ME_INVALID_FREE,	/* free of an address that is no block */
	ME_INTERIOR_FREE,	/* free of an address inside a block in use */
	ME_REALLOC_FREED,	/* realloc of a block freed already */
	ME_INVALID_REALLOC,	/* realloc of an address that is no block (or inside one) */
	ME_OVERFLOW,		/* the next chunk's header is damaged */
};
const char *memerr_kind_name(enum memerr_kind k);

struct memerr {
	enum memerr_kind kind;
	enum tfunc func;	/* the call (free, realloc, ...) */
	pid_t tid;
	uint64_t addr;		/* the pointer passed */
	uint64_t block;		/* the block it is (or is in, or was), 0: none */
	uint64_t block_size;	/* its requested size (usable size: before tracing) */
	bool block_pre;		/* the block was in use when tracing started */
	uint32_t alloc_stack, free_stack, call_stack;	/* 0: not known */
	bool held;		/* the thread is held at the call's entry */
	bool at_read;		/* found when the fast tracer's event was read, after the call */
	const char *glibc;	/* what glibc's check says of it, or NULL */
	uint64_t chunk;		/* ME_OVERFLOW: the damaged chunk header (after the block) */
	uint64_t bytes_at;	/* the bytes found there */
	uint8_t bytes[16];
	uint8_t nbytes;
	/* ME_OVERFLOW into the freed block's own header (its size field no
	 * longer fits the block: the block below, if any, is in block) */
	bool own_header;
	uint64_t hdr_size, want_size;	/* what the header says; what the block's size gives */
	uint64_t damaged;		/* the block whose header it is */
	uint64_t damaged_size;
	uint32_t damaged_stack;
};
/* The errors found since the last tracer_clear_errors(), in order. */
const struct memerr *tracer_errors(struct tracer *tr, size_t *n);
void tracer_clear_errors(struct tracer *tr);

/* One outstanding (allocated, not freed) block. */
struct trace_block {
	uint64_t addr;
	struct alloc_record rec;
};
/* Iterate outstanding blocks: for (size_t i = 0; tracer_next(tr, &i, &b);) */
bool tracer_next(const struct tracer *tr, size_t *iter, struct trace_block *out);

#endif
