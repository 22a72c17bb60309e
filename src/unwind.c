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

static void
ro_reset(void)
{
	ro.t = NULL;	/* emptied at the next ro_page */
}

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

/*
 * The mappings as of the last stop: the tracer unwinds a call while the
 * thread runs on, and a library dlopen()ed since is no mapping yet, or
 * sits where the loader had something else mapped (ld.so.cache, while it
 * looked for the library): its text and unwind tables could not be read
 * and the stack ended at its first frame.  A read that fails or a pc in
 * no module rereads them, once per page until they change (a garbage
 * address met while unwinding does not reread them every time).
 */
static struct {
	const struct target *t;
	pid_t pid;
	struct u64map tried;	/* pages reread for since the last change */
} again;

static void ro_reset(void);

bool
unwind_maps_again(struct target *t, uint64_t addr)
{
	uint64_t page = addr & ~4095ULL, dummy;

	if (t->kind != TARGET_LIVE)
		return false;
	if (again.t != t || again.pid != t->pid || again.tried.n > 4096) {
		u64map_free(&again.tried);
		u64map_init(&again.tried);
		again.t = t;
		again.pid = t->pid;
	}
	if (u64map_get(&again.tried, page, &dummy))
		return false;
	u64map_put(&again.tried, page, 1);
	if (target_refresh_maps(t) < 0)
		return false;
	ro_reset();	/* what it cached may have been unmapped since */
	if (!target_find_mapping(t, addr))
		return false;
	u64map_clear(&again.tried);
	u64map_put(&again.tried, page, 1);
	return true;
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
	if (target_read(t, addr, buf, len) == 0)
		return 0;
	/* the tracer's unwinds: a library loaded since the last stop */
	if (sc && unwind_maps_again(t, addr))
		return unwind_read(t, NULL, addr, buf, len);
	return -1;
}

int
unwind_thread(struct unwinder *u, struct target_thread *th, uint64_t *pcs, int max)
{
	const hd_regs_t *regs = target_regs(u->t, th);
	if (!regs)
		return -1;
	return unwind_regs(u, th->tid, regs, NULL, pcs, max);
}
