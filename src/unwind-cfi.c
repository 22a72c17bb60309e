/*
 * unwind-cfi.c - a fast unwinder over cached per-pc CFI rules (see
 * unwind-cfi.h).
 */
#include "config.h"
#include "unwind-cfi.h"
#include "util.h"

#include <dwarf.h>
#include <inttypes.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

/* DWARF register numbers, x86-64 */
#define DW_RBP 6
#define DW_RSP 7
#define DW_RA 16

enum saved { SAVED_SAME, SAVED_AT, SAVED_UNDEF };

struct rule {
	uint8_t ok;		/* 0: not simple, unwind with libunwind */
	uint8_t cfa_reg;	/* DW_RSP or DW_RBP */
	uint8_t ra, rbp;	/* enum saved */
	int32_t cfa_off, ra_off, rbp_off;	/* ra_off, rbp_off: from the CFA */
};

struct cfi_cache {
	struct target *t;
	struct symbols *s;
	struct u64map idx;	/* lookup pc -> index in rules */
	VEC(struct rule) rules;
};

struct cfi_cache *
cfi_cache_new(struct target *t, struct symbols *s)
{
	struct cfi_cache *c = xcalloc(1, sizeof(*c));
	c->t = t;
	c->s = s;
	u64map_init(&c->idx);
	return c;
}

void
cfi_cache_free(struct cfi_cache *c)
{
	if (!c)
		return;
	u64map_free(&c->idx);
	vec_free(&c->rules);
	free(c);
}

size_t
cfi_cache_size(const struct cfi_cache *c)
{
	return c ? c->rules.n : 0;
}

/* A register's rule as libdw gives it: same value, undefined, or saved
 * at CFA + constant (anything else: false). */
static bool
saved_rule(Dwarf_Frame *fr, int regno, uint8_t *kind, int32_t *off)
{
	Dwarf_Op mem[3], *ops = NULL;
	size_t n = 0;
	int64_t o = 0;

	if (dwarf_frame_register(fr, regno, mem, &ops, &n) != 0)
		return false;
	if (n == 0) {
		*kind = ops ? SAVED_UNDEF : SAVED_SAME;
		*off = 0;
		return true;
	}
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst)
		o = (int64_t)ops[1].number;
	else if (n == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus)
		o = (int64_t)ops[1].number;
	else if (n != 1)
		return false;	/* val_offset (DW_OP_stack_value), expressions */
	if (o < INT32_MIN || o > INT32_MAX)
		return false;
	*kind = SAVED_AT;
	*off = (int32_t)o;
	return true;
}

/* The CFI frame of mod at pc, from .eh_frame, else .debug_frame. */
static bool
frame_at(Dwfl_Module *mod, uint64_t pc, Dwarf_Frame **fr)
{
	Dwarf_Addr bias = 0;
	Dwarf_CFI *cfi;

	*fr = NULL;
	if (!mod)
		return false;
	cfi = dwfl_module_eh_cfi(mod, &bias);
	if (cfi && dwarf_cfi_addrframe(cfi, pc - bias, fr) == 0)
		return true;
	free(*fr);
	*fr = NULL;
	cfi = dwfl_module_dwarf_cfi(mod, &bias);
	if (cfi && dwarf_cfi_addrframe(cfi, pc - bias, fr) == 0)
		return true;
	free(*fr);
	*fr = NULL;
	return false;
}

static void
compute_rule(struct cfi_cache *c, uint64_t pc, struct rule *r)
{
	Dwfl *dwfl = symbols_dwfl(c->s);
	Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, pc) : NULL;
	Dwarf_Frame *fr = NULL;
	Dwarf_Op *ops = NULL;
	size_t n = 0;
	bool signal = false;
	uint64_t reg;
	int64_t off;

	memset(r, 0, sizeof(*r));
	if (!frame_at(mod, pc, &fr)) {
		/* a library loaded since the last stop (dlopen), where the
		 * modules of that stop have none or another file */
		if (!unwind_maps_again(c->t, pc) || symbols_refresh(c->s) < 0)
			return;
		dwfl = symbols_dwfl(c->s);
		mod = dwfl ? dwfl_addrmodule(dwfl, pc) : NULL;
		if (!frame_at(mod, pc, &fr))
			return;
	}
	if (dwarf_frame_info(fr, NULL, NULL, &signal) != DW_RA || signal)
		goto out;
	if (dwarf_frame_cfa(fr, &ops, &n) != 0 || n != 1)
		goto out;
	/* libdw gives reg+offset as DW_OP_bregx (reg, offset) */
	if (ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number;
		off = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		off = (int64_t)ops[0].number;
	} else {
		goto out;
	}
	if ((reg != DW_RSP && reg != DW_RBP) || off < INT32_MIN || off > INT32_MAX)
		goto out;
	r->cfa_reg = (uint8_t)reg;
	r->cfa_off = (int32_t)off;
	if (!saved_rule(fr, DW_RA, &r->ra, &r->ra_off) || r->ra == SAVED_SAME)
		goto out;
	if (!saved_rule(fr, DW_RBP, &r->rbp, &r->rbp_off))
		goto out;
	r->ok = 1;
out:
	free(fr);
}

static const struct rule *
rule_at(struct cfi_cache *c, uint64_t pc)
{
	uint64_t i;
	struct rule r;
	if (u64map_get(&c->idx, pc, &i))
		return &c->rules.v[i];
	compute_rule(c, pc, &r);
	vec_push(&c->rules, r);
	u64map_put(&c->idx, pc, c->rules.n - 1);
	return &c->rules.v[c->rules.n - 1];
}

void
cfi_rule_info(struct cfi_cache *c, uint64_t pc, struct cfi_rule_info *out)
{
	const struct rule *r = rule_at(c, pc);
	memset(out, 0, sizeof(*out));
	out->ok = r->ok;
	out->cfa_rbp = r->cfa_reg == DW_RBP;
	out->ra = r->ra;
	out->rbp = r->rbp;
	out->cfa_off = r->cfa_off;
	out->ra_off = r->ra_off;
	out->rbp_off = r->rbp_off;
}

static bool
load8(struct cfi_cache *c, const struct stack_copy *sc, uint64_t addr, uint64_t *v)
{
	return unwind_read(c->t, sc, addr, v, 8) == 0;
}

int
cfi_unwind(struct cfi_cache *c, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs, int max)
{
	uint64_t rip = regs->rip, rsp = regs->rsp, rbp = regs->rbp;
	bool rbp_known = true;
	int n = 0;

	if (max <= 0)
		return 0;
	pcs[n++] = rip;
	while (n < max) {
		/* a return address is the instruction after a call: its
		 * frame's rules are those of the call (the innermost frame's
		 * pc is exact) */
		const struct rule *r = rule_at(c, n == 1 ? rip : rip - 1);
		uint64_t cfa, ra;
		if (!r->ok)
			return -1;
		if (r->cfa_reg == DW_RBP && !rbp_known)
			return -1;
		cfa = (r->cfa_reg == DW_RSP ? rsp : rbp) + (uint64_t)(int64_t)r->cfa_off;
		if (r->ra == SAVED_UNDEF)
			break;	/* the outermost frame */
		if (cfa <= rsp || !load8(c, sc, cfa + (uint64_t)(int64_t)r->ra_off, &ra))
			break;	/* going backwards, or off the stack: stop */
		if (r->rbp == SAVED_AT) {
			if (!load8(c, sc, cfa + (uint64_t)(int64_t)r->rbp_off, &rbp))
				rbp_known = false;
		} else if (r->rbp == SAVED_UNDEF) {
			rbp_known = false;
		}
		rsp = cfa;
		if (ra == 0)
			break;
		pcs[n++] = ra;
		rip = ra;
	}
	return n;
}
