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

#include <stdint.h>

#include "symbols.h"
#include "target.h"

struct unwinder;

struct unwind_ops {
	const char *name;
	void *(*init)(struct target *t, struct symbols *s);
	/* Unwind from regs; memory through mem_read.  pcs[0] is the pc, the
	 * rest are return addresses.  Returns the number of frames (>= 1 if
	 * regs are valid) or -1. */
	int (*unwind)(void *state, pid_t tid, const hd_regs_t *regs,
		      uint64_t *pcs, int max);
	void (*fini)(void *state);
};

extern const struct unwind_ops unwind_libunwind_ops;
extern const struct unwind_ops unwind_libdw_ops;

/* Pick the backend for the target (libunwind for live, libdw otherwise). */
struct unwinder *unwinder_new(struct target *t, struct symbols *s);
void unwinder_free(struct unwinder *u);
const char *unwinder_name(const struct unwinder *u);
/* Unwind a thread of the target. Returns frame count or -1. */
int unwind_thread(struct unwinder *u, struct target_thread *th, uint64_t *pcs, int max);
/* Unwind from a register set (e.g. captured at a breakpoint). */
int unwind_regs(struct unwinder *u, pid_t tid, const hd_regs_t *regs, uint64_t *pcs, int max);

#endif
