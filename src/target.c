/*
 * target.c - what every target backend shares: the block cache in front of
 * the backend's read, the sorted mapping table and its parser for
 * /proc/PID/maps, thread bookkeeping, the auxiliary vector and the dynamic
 * linker's link map.
 */
#include "config.h"
#include "target.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
target_kind_name(enum target_kind k)
{
	switch (k) {
	case TARGET_LIVE: return "live";
	case TARGET_CORE: return "core";
	case TARGET_IMAGE: return "image";
	}
	return "?";
}

void
target_init(struct target *t, const struct target_ops *ops, enum target_kind kind)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->kind = kind;
	t->cache.gen = 1;
	for (size_t i = 0; i < CACHE_NBLOCKS; i++)
		t->cache.blocks[i].base = UINT64_MAX;
}

void
target_free_common(struct target *t)
{
	/* (the blocks share one allocation: see cache_fill) */
	big_free(t->cache.blocks[0].data, CACHE_NBLOCKS, CACHE_BLOCK);
	maps_free(t->maps, t->nmaps);
	for (size_t i = 0; i < t->nthreads; i++)
		free(t->threads[i]);
	free(t->threads);
	free(t->auxv);
	free(t->exe);
	free(t->cmdline);
}

void
target_close(struct target *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->destroy)
		t->ops->destroy(t);
	target_free_common(t);
	free(t);
}

struct target_thread *
target_add_thread(struct target *t, pid_t tid)
{
	struct target_thread *th = target_find_thread(t, tid);
	if (th)
		return th;
	th = xcalloc(1, sizeof(*th));
	th->tid = tid;
	th->state = t->kind == TARGET_LIVE ? THREAD_RUNNING : THREAD_DEAD;
	t->threads = xreallocarray(t->threads, t->nthreads + 1, sizeof(*t->threads));
	t->threads[t->nthreads++] = th;
	return th;
}

void
target_remove_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		if (t->threads[i]->tid == tid) {
			free(t->threads[i]);
			memmove(&t->threads[i], &t->threads[i + 1],
				(t->nthreads - i - 1) * sizeof(*t->threads));
			t->nthreads--;
			return;
		}
	}
}

struct target_thread *
target_find_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->tid == tid)
			return t->threads[i];
	return NULL;
}

pid_t
target_mem_pid(const struct target *t)
{
	if (t->kind != TARGET_LIVE)
		return t->pid;
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->tid == t->pid && t->threads[i]->state != THREAD_EXITED)
			return t->pid;
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->state != THREAD_EXITED)
			return t->threads[i]->tid;
	return t->pid;
}

const hd_regs_t *
target_regs(struct target *t, struct target_thread *th)
{
	if (!th->regs_valid) {
		if (!t->ops->get_regs) {
			hd_fail(HD_ENOTSUP, "no registers for thread %d", th->tid);
			return NULL;
		}
		if (t->ops->get_regs(t, th) < 0)
			return NULL;
		th->regs_valid = true;
	}
	return &th->regs;
}

bool
target_auxv(const struct target *t, uint64_t type, uint64_t *val)
{
	for (size_t i = 0; i + 1 < t->nauxv * 2; i += 2) {
		if (t->auxv[i] == type) {
			if (val)
				*val = t->auxv[i + 1];
			return true;
		}
	}
	return false;
}

/* ---- the dynamic linker's link map ---- */

size_t
target_link_map(struct target *t, bool (*fn)(void *ctx, const struct link_map_entry *e), void *ctx)
{
	uint64_t phdr = 0, phnum = 0, bias = 0, dyn = 0, rdebug = 0;

	if (!target_auxv(t, AT_PHDR, &phdr) || !target_auxv(t, AT_PHNUM, &phnum) || phnum > 64)
		return 0;
	/* PT_PHDR gives the load bias, whatever the order of the headers */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t i = 0; i < phnum; i++) {
			Elf64_Phdr ph;
			if (target_read(t, phdr + i * sizeof(ph), &ph, sizeof(ph)) < 0)
				return 0;
			if (pass == 0 && ph.p_type == PT_PHDR)
				bias = phdr - ph.p_vaddr;
			if (pass == 1 && ph.p_type == PT_DYNAMIC)
				dyn = bias + ph.p_vaddr;
		}
	}
	for (int i = 0; dyn && i < 512; i++) {
		Elf64_Dyn d;
		if (target_read(t, dyn + i * sizeof(d), &d, sizeof(d)) < 0 || d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_DEBUG)
			rdebug = d.d_un.d_val;
	}
	return rdebug ? target_link_map_at(t, rdebug, fn, ctx) : 0;
}

size_t
target_link_map_at(struct target *t, uint64_t rdebug, bool (*fn)(void *ctx, const struct link_map_entry *e),
		   void *ctx)
{
	uint64_t lm;
	size_t n = 0;

	/* struct r_debug { int r_version; struct link_map *r_map; ... } */
	if (!rdebug || target_read_u64(t, rdebug + 8, &lm) < 0)
		return 0;
	/* struct link_map { l_addr, l_name, l_ld, l_next, l_prev, ... } */
	while (lm && n < 1024) {
		uint64_t f[4];
		struct link_map_entry e;
		if (target_read(t, lm, f, sizeof(f)) < 0)
			break;
		e.l_addr = f[0];
		e.l_name = f[1];
		e.l_ld = f[2];
		lm = f[3];
		n++;
		if (!fn(ctx, &e))
			break;
	}
	return n;
}

/* ---- mappings ---- */

const struct mapping *
target_find_mapping(const struct target *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mapping *m = &t->maps[mid];
		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

bool
target_readable(const struct target *t, uint64_t addr, size_t len)
{
	uint64_t end = addr + len;
	if (end < addr)
		return false;
	while (addr < end) {
		const struct mapping *m = target_find_mapping(t, addr);
		if (!m || !(m->perms & MAP_PERM_R))
			return false;
		addr = m->end;
	}
	return true;
}

int
target_refresh_maps(struct target *t)
{
	if (!t->ops->refresh_maps)
		return 0;
	return t->ops->refresh_maps(t);
}

void
maps_free(struct mapping *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
}

void
maps_insert(struct mapping **maps, size_t *n, const struct mapping *m)
{
	size_t i = *n;
	*maps = xreallocarray(*maps, *n + 1, sizeof(**maps));
	while (i > 0 && (*maps)[i - 1].start > m->start) {
		(*maps)[i] = (*maps)[i - 1];
		i--;
	}
	(*maps)[i] = *m;
	(*n)++;
}

const char *
mapping_basename(const struct mapping *m)
{
	const char *s;
	if (!m || !m->path)
		return "";
	s = strrchr(m->path, '/');
	return s ? s + 1 : m->path;
}

int
maps_parse(const char *text, struct mapping **out, size_t *nout)
{
	struct mapping *maps = NULL;
	size_t n = 0;
	const char *line = text;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char perms[8] = "", *buf = xstrndup(line, len);
		unsigned long long start, end, off, inode;
		unsigned dmaj, dmin;
		int pathpos = 0;
		struct mapping m;

		if (sscanf(buf, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end,
			   perms, &off, &dmaj, &dmin, &inode, &pathpos) < 7 || end < start) {
			free(buf);
			maps_free(maps, n);
			return hd_fail(HD_EFORMAT, "malformed maps line: %.*s", (int)MIN(len, 80), line);
		}
		memset(&m, 0, sizeof(m));
		m.start = start;
		m.end = end;
		m.offset = off;
		m.inode = inode;
		m.dumped = end - start;
		m.perms = (perms[0] == 'r' ? MAP_PERM_R : 0) | (perms[1] == 'w' ? MAP_PERM_W : 0) |
			  (perms[2] == 'x' ? MAP_PERM_X : 0) | (perms[3] == 'p' ? MAP_PERM_P : 0);
		if (pathpos > 0 && buf[pathpos])
			m.path = xstrdup(buf + pathpos);
		free(buf);
		maps_insert(&maps, &n, &m);
		line = eol ? eol + 1 : NULL;
	}
	*out = maps;
	*nout = n;
	return 0;
}

/* ---- memory and the block cache ---- */

void
target_invalidate(struct target *t)
{
	t->cache.gen++;
}

/* Fill a cache block with the readable bytes around addr (a miss); NULL
 * if addr is unreadable.  The block covers [base, base+len) where base is
 * the 64 KiB-aligned address clipped to the start of addr's mapping and the
 * end is clipped to the mapping's end, so holes are never read. */
static struct cache_block *
cache_fill(struct target *t, uint64_t addr)
{
	struct mem_cache *c = &t->cache;
	uint64_t base = addr & ~(uint64_t)(CACHE_BLOCK - 1);
	uint64_t hi = base + CACHE_BLOCK;
	struct cache_block *victim = NULL;
	const struct mapping *m;
	ssize_t n;

	for (size_t i = 0; i < CACHE_NBLOCKS; i++) {
		struct cache_block *b = &c->blocks[i];
		if (!victim || b->gen != c->gen || (victim->gen == c->gen && b->lru < victim->lru))
			victim = b;
	}
	c->misses++;
	m = target_find_mapping(t, addr);
	if (t->nmaps && (!m || !(m->perms & MAP_PERM_R))) {
		hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
		return NULL;
	}
	if (m) {
		base = MAX(base, m->start);
		hi = MIN(hi, m->end);
	}
	if (!victim->data) {
		/* every block at once, in huge pages: 2 page faults instead
		 * of 1024 (each costs microseconds on a VM) */
		unsigned char *pool = big_calloc(CACHE_NBLOCKS, CACHE_BLOCK);
		for (size_t i = 0; i < CACHE_NBLOCKS; i++)
			c->blocks[i].data = pool + i * CACHE_BLOCK;
	}
	victim->base = UINT64_MAX;
	n = t->ops->read(t, base, victim->data, hi - base);
	if (n <= 0 || addr >= base + (uint64_t)n) {
		if (n >= 0)
			hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
		return NULL;
	}
	victim->base = base;
	victim->len = (uint32_t)n;
	victim->gen = c->gen;
	victim->lru = ++c->tick;
	return victim;
}

static struct cache_block *
cache_lookup(struct target *t, uint64_t addr)
{
	struct mem_cache *c = &t->cache;
	for (size_t i = 0; i < CACHE_NBLOCKS; i++) {
		struct cache_block *b = &c->blocks[i];
		if (b->gen == c->gen && b->base != UINT64_MAX && addr >= b->base && addr - b->base < b->len) {
			b->lru = ++c->tick;
			c->hits++;
			return b;
		}
	}
	return cache_fill(t, addr);
}

size_t
target_read_partial(struct target *t, uint64_t addr, void *buf, size_t len)
{
	unsigned char *out = buf;
	size_t done = 0;

	if (len >= CACHE_BLOCK) {
		ssize_t n;
		t->cache.bypass++;
		n = t->ops->read(t, addr, buf, len);
		return n > 0 ? (size_t)n : 0;
	}
	while (done < len) {
		uint64_t a = addr + done;
		struct cache_block *b;
		size_t off, chunk;

		if (a < addr)
			break;	/* wrapped */
		b = cache_lookup(t, a);
		if (!b)
			break;
		off = a - b->base;
		chunk = MIN(len - done, b->len - off);
		memcpy(out + done, b->data + off, chunk);
		done += chunk;
	}
	return done;
}

size_t
target_read_uncached(struct target *t, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = t->ops->read(t, addr, buf, len);
	return n > 0 ? (size_t)n : 0;
}

int
target_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	size_t n;
	if (len == 0)
		return 0;
	n = target_read_partial(t, addr, buf, len);
	if (n < len)
		return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr + n);
	return 0;
}

int
target_read_u64(struct target *t, uint64_t addr, uint64_t *val)
{
	return target_read(t, addr, val, sizeof(*val));
}

int
target_read_u32(struct target *t, uint64_t addr, uint32_t *val)
{
	return target_read(t, addr, val, sizeof(*val));
}

char *
target_read_string(struct target *t, uint64_t addr, size_t max)
{
	struct sbuf sb;
	char buf[256];

	sb_init(&sb);
	while (sb.len < max) {
		size_t want = MIN(sizeof(buf), max - sb.len);
		size_t n = target_read_partial(t, addr + sb.len, buf, want);
		size_t l;
		if (n == 0) {
			if (sb.len == 0) {
				hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
				return NULL;
			}
			break;
		}
		l = strnlen(buf, n);
		sb_putn(&sb, buf, l);
		if (l < n)
			break;
	}
	return sb_steal(&sb);
}

void
target_read_many(struct target *t, const uint64_t *addrs, size_t n, size_t each, uint8_t *out, bool *ok)
{
	if (t->ops->read_many) {
		t->ops->read_many(t, addrs, n, each, out, ok);
		return;
	}
	for (size_t i = 0; i < n; i++)
		ok[i] = target_read(t, addrs[i], out + i * each, each) == 0;
}

uint64_t
target_skip_unreadable(struct target *t, uint64_t addr, uint64_t hi)
{
	if (addr >= hi)
		return hi;
	if (!t->ops->skip_unreadable)
		return addr;
	return MIN(t->ops->skip_unreadable(t, addr, hi), hi);
}

const void *
target_direct(struct target *t, uint64_t addr, size_t len)
{
	if (!t->ops->direct || addr + len < addr)
		return NULL;
	return t->ops->direct(t, addr, len);
}

int
target_write(struct target *t, uint64_t addr, const void *buf, size_t len)
{
	struct mem_cache *c = &t->cache;
	if (!t->ops->write)
		return hd_fail(HD_ENOTSUP, "cannot write to a %s target", target_kind_name(t->kind));
	for (size_t i = 0; i < CACHE_NBLOCKS; i++) {
		struct cache_block *b = &c->blocks[i];
		if (b->gen == c->gen && b->base != UINT64_MAX &&
		    addr < b->base + b->len && addr + len > b->base)
			b->gen = 0;
	}
	return t->ops->write(t, addr, buf, len);
}
