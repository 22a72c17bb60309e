/*
 * unwind-libunwind.c - the libunwind-ptrace backend for live threads.
 *
 * libunwind's _UPT accessors read the tracee a word at a time with
 * PTRACE_PEEKDATA and fetch registers with PTRACE_PEEKUSER: far too slow
 * and unnecessary, since heapdbg already holds the registers and a block
 * cache of memory.  We keep _UPT only for finding unwind tables (it maps
 * the ELF files named in /proc/PID/maps) and serve memory and registers
 * ourselves.  _UPT passes its own argument to access_mem, so the current
 * unwind context is kept in a static (unwinding is single-threaded).
 */
#include "config.h"
#include "unwind.h"
#include "unwind-cfi.h"

#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <string.h>

struct lu_state {
	struct target *t;
	unw_addr_space_t as;
	void *upt;		/* _UPT_create(pid) */
	pid_t upt_pid;
	struct cfi_cache *cfi;	/* the fast path for stacks with a copy */
	bool verify;		/* HEAPDBG_UNWIND_VERIFY: check it against libunwind */
	struct unwind_stats st;
};

/* the unwind in progress */
static struct lu_state *cur_state;
static const hd_regs_t *cur_regs;
static const struct stack_copy *cur_stack;

static int
lu_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need, void *arg)
{
	return _UPT_find_proc_info(as, ip, pi, need, cur_state->upt);
}

static void
lu_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	_UPT_put_unwind_info(as, pi, cur_state->upt);
}

static int
lu_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dil, void *arg)
{
	return -UNW_ENOINFO;
}

static int
lu_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	if (write)
		return -UNW_EINVAL;
	if (unwind_read(cur_state->t, cur_stack, addr, val, sizeof(*val)) < 0)
		return -UNW_EINVAL;
	return 0;
}

static int
lu_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	const hd_regs_t *r = cur_regs;
	if (write)
		return -UNW_EINVAL;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default:
		return -UNW_EBADREG;
	}
	return 0;
}

static int
lu_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
	return -UNW_EBADREG;
}

static int
lu_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int
lu_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len, unw_word_t *off, void *arg)
{
	return -UNW_ENOINFO;
}

static unw_accessors_t lu_accessors = {
	.find_proc_info = lu_find_proc_info,
	.put_unwind_info = lu_put_unwind_info,
	.get_dyn_info_list_addr = lu_get_dyn_info_list_addr,
	.access_mem = lu_access_mem,
	.access_reg = lu_access_reg,
	.access_fpreg = lu_access_fpreg,
	.resume = lu_resume,
	.get_proc_name = lu_get_proc_name,
};

static void *
lu_init(struct target *t, struct symbols *s)
{
	struct lu_state *st;
	if (t->kind != TARGET_LIVE)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->t = t;
	st->as = unw_create_addr_space(&lu_accessors, 0);
	if (!st->as) {
		free(st);
		return NULL;
	}
	unw_set_caching_policy(st->as, UNW_CACHE_GLOBAL);
	st->upt = _UPT_create(target_mem_pid(t));
	if (!st->upt) {
		unw_destroy_addr_space(st->as);
		free(st);
		return NULL;
	}
	st->upt_pid = target_mem_pid(t);
	if (s)
		st->cfi = cfi_cache_new(t, s);
	st->verify = getenv("HEAPDBG_UNWIND_VERIFY") != NULL;
	return st;
}

static int lu_unwind_full(struct lu_state *st, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs,
			  int max);

static int
lu_unwind(void *state, pid_t tid, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs, int max)
{
	struct lu_state *st = state;
	int n;

	if (!sc || !st->cfi)
		return lu_unwind_full(st, regs, sc, pcs, max);
	/* a traced call: the cached rules, libunwind where they decline */
	n = cfi_unwind(st->cfi, regs, sc, pcs, max);
	if (n < 0) {
		st->st.full++;
		return lu_unwind_full(st, regs, sc, pcs, max);
	}
	st->st.fast++;
	if (st->verify && max > 0) {
		uint64_t *chk = xcalloc((size_t)max, sizeof(*chk));
		int m = lu_unwind_full(st, regs, sc, chk, max);
		st->st.verified++;
		if (m != n || memcmp(chk, pcs, (size_t)n * sizeof(*pcs)) != 0) {
			st->st.mismatches++;
			debug_msg("unwind: cached CFI gave %d frames, libunwind %d (first pc 0x%" PRIx64 ")", n, m,
				  pcs[0]);
			for (int i = 0; i < n || i < m; i++)
				debug_msg("  #%d 0x%" PRIx64 " 0x%" PRIx64, i, i < n ? pcs[i] : 0, i < m ? chk[i] : 0);
		}
		free(chk);
	}
	return n;
}

static void
lu_stats(void *state, struct unwind_stats *out)
{
	struct lu_state *st = state;
	*out = st->st;
	out->cached_pcs = cfi_cache_size(st->cfi);
}

static int
lu_unwind_full(struct lu_state *st, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs, int max)
{
	unw_cursor_t cursor;
	int n = 0;

	if (max <= 0)
		return 0;
	if (st->upt_pid != target_mem_pid(st->t)) {
		/* the thread we read /proc through is gone: a new one */
		_UPT_destroy(st->upt);
		st->upt = _UPT_create(target_mem_pid(st->t));
		st->upt_pid = target_mem_pid(st->t);
	}
	cur_state = st;
	cur_regs = regs;
	cur_stack = sc;
	pcs[n++] = regs->rip;
	if (unw_init_remote(&cursor, st->as, st) < 0)
		goto out;
	while (n < max) {
		unw_word_t ip = 0, sp = 0, prev_sp = 0;
		unw_get_reg(&cursor, UNW_REG_SP, &prev_sp);
		if (unw_step(&cursor) <= 0)
			break;
		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		unw_get_reg(&cursor, UNW_REG_SP, &sp);
		if (sp < prev_sp)
			break;	/* going backwards: stop rather than loop */
		pcs[n++] = ip;
		if (sp == prev_sp && ip == pcs[n - 2])
			break;
	}
out:
	cur_state = NULL;
	cur_regs = NULL;
	cur_stack = NULL;
	return n;
}

static void
lu_fini(void *state)
{
	struct lu_state *st = state;
	if (!st)
		return;
	_UPT_destroy(st->upt);
	unw_destroy_addr_space(st->as);
	cfi_cache_free(st->cfi);
	free(st);
}

const struct unwind_ops unwind_libunwind_ops = {
	.name = "libunwind",
	.init = lu_init,
	.unwind = lu_unwind,
	.fini = lu_fini,
	.stats = lu_stats,
};
