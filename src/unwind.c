/*
 * unwind.c - choose an unwinding backend for a target and run it.
 */
#include "config.h"
#include "unwind.h"

#include <stdlib.h>

struct unwinder {
	const struct unwind_ops *ops;
	void *state;
	struct target *t;
};

struct unwinder *
unwinder_new(struct target *t, struct symbols *s)
{
	struct unwinder *u = xcalloc(1, sizeof(*u));
	u->t = t;
	u->ops = t->kind == TARGET_LIVE ? &unwind_libunwind_ops : &unwind_libdw_ops;
	u->state = u->ops->init(t, s);
	if (!u->state && t->kind == TARGET_LIVE) {
		/* libunwind unavailable for this process: libdw reads through
		 * the same target interface */
		u->ops = &unwind_libdw_ops;
		u->state = u->ops->init(t, s);
	}
	if (!u->state) {
		free(u);
		return NULL;
	}
	return u;
}

void
unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	u->ops->fini(u->state);
	free(u);
}

const char *
unwinder_name(const struct unwinder *u)
{
	return u->ops->name;
}

int
unwind_regs(struct unwinder *u, pid_t tid, const hd_regs_t *regs, uint64_t *pcs, int max)
{
	return u->ops->unwind(u->state, tid, regs, pcs, max);
}

int
unwind_thread(struct unwinder *u, struct target_thread *th, uint64_t *pcs, int max)
{
	const hd_regs_t *regs = target_regs(u->t, th);
	if (!regs)
		return -1;
	return unwind_regs(u, th->tid, regs, pcs, max);
}
