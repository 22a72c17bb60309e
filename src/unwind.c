/*
 * unwind.c - choose an unwinding backend for a target and run it.
 */
#include "config.h"
#include "unwind.h"

#include <stdlib.h>
#include <string.h>

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

void
unwinder_stats(const struct unwinder *u, struct unwind_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (u && u->ops->stats)
		u->ops->stats(u->state, out);
}

int
unwind_regs(struct unwinder *u, pid_t tid, const hd_regs_t *regs, const struct stack_copy *sc, uint64_t *pcs,
	    int max)
{
	return u->ops->unwind(u->state, tid, regs, sc, pcs, max);
}

/*
 * The read-only page cache: pages of file-backed mappings without write
 * permission (code, eh_frame) never change while a process runs, so they
 * are kept across resumes, unlike the target's block cache.  At most
 * RO_PAGES pages; the oldest are dropped.
 */
#define RO_PAGES 4096

struct ro_cache {
	struct target *t;
	pid_t pid;
	struct u64map pages;	/* page address -> index in data */
	uint8_t (*data)[4096];
	uint64_t *addr;
	size_t n, next;
};

static struct ro_cache ro;

static const uint8_t *
ro_page(struct target *t, uint64_t page)
{
	uint64_t idx;
	if (ro.t != t || ro.pid != t->pid) {
		u64map_free(&ro.pages);
		free(ro.data);
		free(ro.addr);
		memset(&ro, 0, sizeof(ro));
		ro.t = t;
		ro.pid = t->pid;
		ro.data = xcalloc(RO_PAGES, 4096);
		ro.addr = xcalloc(RO_PAGES, sizeof(uint64_t));
	}
	if (u64map_get(&ro.pages, page, &idx))
		return ro.data[idx];
	idx = ro.next;
	if (ro.n == RO_PAGES)
		u64map_del(&ro.pages, ro.addr[idx]);
	else
		ro.n++;
	ro.next = (ro.next + 1) % RO_PAGES;
	if (target_read_partial(t, page, ro.data[idx], 4096) != 4096) {
		if (ro.n)
			ro.n--;
		ro.next = idx;
		return NULL;
	}
	ro.addr[idx] = page;
	u64map_put(&ro.pages, page, idx);
	return ro.data[idx];
}

/* reads this far above the stack pointer are stack reads (a thread's
 * stack is 8 MiB by default) */
#define STACK_REACH_MAX (8ULL << 20)

int
unwind_read(struct target *t, const struct stack_copy *sc, uint64_t addr, void *buf, size_t len)
{
	const struct mapping *m;

	if (sc && sc->reach && addr >= sc->addr && addr - sc->addr < STACK_REACH_MAX &&
	    addr + len > *sc->reach)
		*sc->reach = addr + len;
	if (sc && addr >= sc->addr && addr + len <= sc->addr + sc->len) {
		memcpy(buf, sc->data + (addr - sc->addr), len);
		return 0;
	}
	m = target_find_mapping(t, addr);
	if (t->kind == TARGET_LIVE && m && m->path && m->path[0] == '/' && !(m->perms & MAP_PERM_W) &&
	    (addr & 4095) + len <= 4096) {
		const uint8_t *p = ro_page(t, addr & ~4095ULL);
		if (p) {
			memcpy(buf, p + (addr & 4095), len);
			return 0;
		}
	}
	return target_read(t, addr, buf, len);
}

int
unwind_thread(struct unwinder *u, struct target_thread *th, uint64_t *pcs, int max)
{
	const hd_regs_t *regs = target_regs(u->t, th);
	if (!regs)
		return -1;
	return unwind_regs(u, th->tid, regs, NULL, pcs, max);
}
