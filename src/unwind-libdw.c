/*
 * unwind-libdw.c - the libdw (libdwfl) unwinder, for core files and
 * images, and for live threads when libunwind cannot be used.  Memory is
 * read through the target interface; the registers are the ones the
 * caller passes (from NT_PRSTATUS, or captured live).
 */
#include "config.h"
#include "unwind.h"

#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

struct dw_state {
	struct target *t;
	struct symbols *s;
	Dwfl *dwfl;
	bool attached;
	/* the unwind in progress */
	pid_t tid;
	const hd_regs_t *regs;
	const struct stack_copy *sc;
	uint64_t *pcs;
	int max, n;
};

static pid_t
dw_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	return 0;	/* we only ever ask for one thread by tid */
}

static bool
dw_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct dw_state *st = arg;
	if (tid != st->tid)
		return false;
	*thread_argp = st;
	return true;
}

static bool
dw_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct dw_state *st = arg;
	uint64_t v;
	if (unwind_read(st->t, st->sc, addr, &v, sizeof(v)) < 0)
		return false;
	*result = v;
	return true;
}

static bool
dw_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct dw_state *st = arg;
	const hd_regs_t *r = st->regs;
	Dwarf_Word regs[17] = {
		r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip,
	};
	if (!dwfl_thread_state_registers(thread, 0, 17, regs))
		return false;
	dwfl_thread_state_register_pc(thread, r->rip);
	return true;
}

static const Dwfl_Thread_Callbacks dw_callbacks = {
	.next_thread = dw_next_thread,
	.get_thread = dw_get_thread,
	.memory_read = dw_memory_read,
	.set_initial_registers = dw_set_initial_registers,
};

static void *
dw_init(struct target *t, struct symbols *s)
{
	struct dw_state *st;
	if (!s)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->t = t;
	st->s = s;
	st->dwfl = symbols_dwfl(s);
	return st;
}

static int
dw_frame(Dwfl_Frame *frame, void *arg)
{
	struct dw_state *st = arg;
	Dwarf_Addr pc;
	bool act;
	if (!dwfl_frame_pc(frame, &pc, &act))
		return DWARF_CB_ABORT;
	if (st->n > 0 && pc == 0)
		return DWARF_CB_ABORT;
	st->pcs[st->n++] = pc;
	return st->n < st->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static int
dw_unwind(void *state, pid_t tid, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs, int max)
{
	struct dw_state *st = state;

	if (max <= 0)
		return 0;
	if (!st->attached) {
		Elf *elf = target_core_elf(st->t);
		if (!dwfl_attach_state(st->dwfl, elf, st->t->pid ? st->t->pid : 1, &dw_callbacks, st))
			goto only_pc;
		st->attached = true;
	}
	st->tid = tid;
	st->regs = regs;
	st->sc = sc;
	st->pcs = pcs;
	st->max = max;
	st->n = 0;
	dwfl_getthread_frames(st->dwfl, tid, dw_frame, st);
	if (st->n == 0)
		goto only_pc;
	return st->n;
only_pc:
	pcs[0] = regs->rip;
	return 1;
}

static void
dw_fini(void *state)
{
	free(state);
}

const struct unwind_ops unwind_libdw_ops = {
	.name = "libdw",
	.init = dw_init,
	.unwind = dw_unwind,
	.fini = dw_fini,
};
