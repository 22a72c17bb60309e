/*
 * unwind-cfi.h - a fast unwinder over cached per-pc CFI rules.
 *
 * An allocation's stack is unwound at every traced call, mostly through
 * the same few hundred return addresses.  For each pc the frame's rules
 * are read once from the module's CFI (libdw: .eh_frame, else
 * .debug_frame) and kept in their simplest form: CFA = rsp or rbp plus a
 * constant, the return address and rbp saved at constant offsets from
 * the CFA.  Unwinding is then a few loads from the stack copy per frame,
 * with no locking (libunwind's global cache takes a signal mask twice per
 * step).  A pc whose rules are anything else (a signal frame, a CFA
 * expression, code outside any module) makes cfi_unwind() decline: the
 * caller unwinds that stack with libunwind.
 */
#ifndef HEAPDBG_UNWIND_CFI_H
#define HEAPDBG_UNWIND_CFI_H

#include "symbols.h"
#include "unwind.h"

struct cfi_cache;

struct cfi_cache *cfi_cache_new(struct target *t, struct symbols *s);
void cfi_cache_free(struct cfi_cache *c);
/* Frames into pcs (pcs[0] = regs->rip), at most max; -1: declined. */
int cfi_unwind(struct cfi_cache *c, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs, int max);
/* The rule at lookup pc (the innermost frame's pc, or a return address
 * minus 1), in the form the fast tracer's agent executes (hdagent.h):
 * ok false when it is not simple (cfi_unwind() declines it). */
struct cfi_rule_info {
	bool ok;
	bool cfa_rbp;		/* CFA = rbp + cfa_off, else rsp + cfa_off */
	uint8_t ra, rbp;	/* 0: same value, 1: saved at CFA + *_off, 2: undefined */
	int32_t cfa_off, ra_off, rbp_off;
};
void cfi_rule_info(struct cfi_cache *c, uint64_t pc, struct cfi_rule_info *out);
/* pcs with cached rules (usable or not) */
size_t cfi_cache_size(const struct cfi_cache *c);

#endif
