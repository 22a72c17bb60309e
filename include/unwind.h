/*
 * unwind.h - call stacks of target threads.
 *
 * Two backends behind one small ops table (as strace's unwind.h):
 * libunwind-ptrace for live threads, with accessors that read memory
 * through the target's block cache and registers from heapdbg's copy (no
 * ptrace call per word), and libdw's unwinder for core files and images.
 */
#ifndef HEAPDBG_UNWIND_H
#define HEAPDBG_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "symbols.h"
#include "target.h"

struct unwinder;

/* A copy of the top of a thread's stack, taken when it stopped, so the
 * thread can run again while heapdbg unwinds (the tracer does this). */
struct stack_copy {
	const uint8_t *data;
	uint64_t addr;		/* the stack pointer the copy starts at */
	size_t len;
	/* if set: raised to the end of the furthest read of the stack
	 * above addr, inside the copy or not (how much the next copy of
	 * this thread's stack should hold) */
	uint64_t *reach;
};

/* Stacks unwound from a stack copy (the tracer's): by cached CFI rules,
 * or by the full unwinder where the rules were not simple.  With
 * HEAPDBG_UNWIND_VERIFY set in the environment, every fast unwind is
 * checked against the full unwinder and differences are counted. */
struct unwind_stats {
	uint64_t fast, full, verified, mismatches;
	size_t cached_pcs;
};

struct unwind_ops {
	const char *name;
	void *(*init)(struct target *t, struct symbols *s);
	/* Unwind from regs; stack memory from sc when given, other memory
	 * through the target.  pcs[0] is the pc, the rest are return
	 * addresses.  Returns the number of frames (>= 1 if regs are valid)
	 * or -1. */
	int (*unwind)(void *state, pid_t tid, const hd_regs_t *regs, const struct stack_copy *sc,
		      uint64_t *pcs, int max);
	void (*fini)(void *state);
	/* optional: how the stacks given with a stack copy were unwound */
	void (*stats)(void *state, struct unwind_stats *out);
};

/* Memory reads for unwinders: the stack copy first; read-only file-backed
 * memory (text, eh_frame) from a cache that outlives target resumes; the
 * rest from the target.  0 or -1. */
int unwind_read(struct target *t, const struct stack_copy *sc, uint64_t addr, void *buf, size_t len);

/* A live target's mappings are those of its last stop: read them again
 * because addr was unreadable or in no module (at most once per page
 * until they change): true when a mapping covers addr now.  Only while
 * no caller holds a mapping pointer (the tracer's unwinds from a stack
 * copy). */
bool unwind_maps_again(struct target *t, uint64_t addr);

extern const struct unwind_ops unwind_libunwind_ops;
extern const struct unwind_ops unwind_libdw_ops;

/* Pick the backend for the target (libunwind for live, libdw otherwise). */
struct unwinder *unwinder_new(struct target *t, struct symbols *s);
void unwinder_free(struct unwinder *u);
const char *unwinder_name(const struct unwinder *u);
/* Unwind a thread of the target. Returns frame count or -1. */
int unwind_thread(struct unwinder *u, struct target_thread *th, uint64_t *pcs, int max);
/* Unwind from a register set (e.g. captured at a breakpoint), with the
 * top of the stack copied (sc may be NULL). */
void unwinder_stats(const struct unwinder *u, struct unwind_stats *out);
int unwind_regs(struct unwinder *u, pid_t tid, const hd_regs_t *regs, const struct stack_copy *sc,
		uint64_t *pcs, int max);

#endif
