/*
 * target-image.c - a target assembled from memory buffers: the backend the
 * unit tests and the fuzz harnesses use to serve synthetic heaps, arenas
 * and thread registers to the layers above without any process.
 */
#include "config.h"
#include "target.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct image_region {
	uint64_t addr;
	size_t len;
	unsigned char *data;
	bool owned;
};

struct image_priv {
	VEC(struct image_region) regions;
};

static struct image_region *
find_region(struct image_priv *p, uint64_t addr)
{
	for (size_t i = 0; i < p->regions.n; i++) {
		struct image_region *r = &p->regions.v[i];
		if (addr >= r->addr && addr - r->addr < r->len)
			return r;
	}
	return NULL;
}

static ssize_t
image_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct image_priv *p = t->priv;
	size_t done = 0;

	while (done < len) {
		struct image_region *r = find_region(p, addr + done);
		const struct mapping *m = target_find_mapping(t, addr + done);
		size_t off, n;
		if (!r || (m && !(m->perms & MAP_PERM_R)))
			break;	/* (unreadable like a PROT_NONE page) */
		off = addr + done - r->addr;
		n = MIN(len - done, r->len - off);
		memcpy((char *)buf + done, r->data + off, n);
		done += n;
	}
	if (done == 0)
		return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
	return done;
}

static const void *
image_direct(struct target *t, uint64_t addr, size_t len)
{
	struct image_region *r = find_region(t->priv, addr);
	const struct mapping *m = target_find_mapping(t, addr);
	if (!r || addr - r->addr + len > r->len || (m && !(m->perms & MAP_PERM_R)))
		return NULL;
	return r->data + (addr - r->addr);
}

static int
image_get_regs(struct target *t, struct target_thread *th)
{
	return hd_fail(HD_ENOTSUP, "no registers for thread %d", th->tid);
}

static void
image_destroy(struct target *t)
{
	struct image_priv *p = t->priv;
	for (size_t i = 0; i < p->regions.n; i++)
		if (p->regions.v[i].owned)
			free(p->regions.v[i].data);
	vec_free(&p->regions);
	free(p);
}

static const struct target_ops image_ops = {
	.name = "image",
	.read = image_read,
	.direct = image_direct,
	.get_regs = image_get_regs,
	.destroy = image_destroy,
};

struct target *
target_new_image(void)
{
	struct target *t = xmalloc(sizeof(*t));
	target_init(t, &image_ops, TARGET_IMAGE);
	t->priv = xcalloc(1, sizeof(struct image_priv));
	return t;
}

static int
add_region(struct target *t, uint64_t addr, unsigned char *data, size_t len,
	   bool owned, unsigned perms, const char *path)
{
	struct image_priv *p = t->priv;
	struct image_region r = { addr, len, data, owned };
	struct mapping m;

	if (len == 0 || addr + len < addr)
		return hd_fail(HD_EUSAGE, "bad image region");
	for (size_t i = 0; i < t->nmaps; i++)
		if (addr < t->maps[i].end && addr + len > t->maps[i].start)
			return hd_fail(HD_EUSAGE, "image region 0x%" PRIx64 " overlaps another", addr);
	vec_push(&p->regions, r);
	memset(&m, 0, sizeof(m));
	m.start = addr;
	m.end = addr + len;
	m.perms = perms;
	m.dumped = len;
	m.path = path ? xstrdup(path) : NULL;
	maps_insert(&t->maps, &t->nmaps, &m);
	return 0;
}

int
image_add_region(struct target *t, uint64_t addr, const void *data, size_t len,
		 unsigned perms, const char *path)
{
	unsigned char *copy = xcalloc(1, len ? len : 1);
	if (data)
		memcpy(copy, data, len);
	if (add_region(t, addr, copy, len, true, perms, path) < 0) {
		free(copy);
		return -1;
	}
	return 0;
}

int
image_add_region_ref(struct target *t, uint64_t addr, void *data, size_t len,
		     unsigned perms, const char *path)
{
	return add_region(t, addr, data, len, false, perms, path);
}

void *
image_ptr(struct target *t, uint64_t addr, size_t len)
{
	struct image_region *r;
	if (t->kind != TARGET_IMAGE)
		return NULL;
	r = find_region(t->priv, addr);
	if (!r || addr + len < addr || addr + len > r->addr + r->len)
		return NULL;
	target_invalidate(t);	/* the caller is about to change the bytes */
	return r->data + (addr - r->addr);
}

struct target_thread *
image_add_thread(struct target *t, pid_t tid, const hd_regs_t *regs)
{
	struct target_thread *th = target_add_thread(t, tid);
	if (regs) {
		th->regs = *regs;
		th->regs_valid = true;
	}
	return th;
}

void
image_set_auxv(struct target *t, const uint64_t *pairs, size_t npairs)
{
	free(t->auxv);
	t->auxv = xreallocarray(NULL, npairs ? npairs * 2 : 1, sizeof(uint64_t));
	memcpy(t->auxv, pairs, npairs * 2 * sizeof(uint64_t));
	t->nauxv = npairs;
}
