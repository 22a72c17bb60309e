/*
 * layout-cache.c - DWARF malloc layouts remembered per debug file (see
 * layout-cache.h).
 */
#include "config.h"
#include "layout-cache.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LC_MAGIC "HDLAYC1"

/* One entry, as written.  Every field is checked on reading. */
struct lc_entry {
	char magic[8];
	char version[24];	/* HEAPDBG_VERSION */
	uint32_t layout_size;	/* sizeof(struct malloc_layout) */
	int32_t rc;
	uint64_t dev, ino, size, mtime_s, mtime_ns;
	uint32_t has_base;
	struct malloc_layout base, out;
};

static char *cache_dir;
static bool cache_dir_known;

const char *
layout_cache_dir(void)
{
	const char *e;
	if (cache_dir_known)
		return cache_dir;
	cache_dir_known = true;
	if ((e = getenv("HEAPDBG_CACHE_DIR"))) {
		if (*e && strcmp(e, "off"))
			cache_dir = xstrdup(e);
	} else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/') {
		cache_dir = xasprintf("%s/heapdbg", e);
	} else if ((e = getenv("HOME")) && *e == '/') {
		cache_dir = xasprintf("%s/.cache/heapdbg", e);
	}
	return cache_dir;
}

/* FNV-1a over the parts of the key. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The entry's key fields for path (false: it cannot be stat()ed) and the
 * name of its file in the cache (caller frees). */
static bool
entry_key(const char *path, const struct malloc_layout *base, struct lc_entry *e, char **file)
{
	struct stat st;
	const char *dir = layout_cache_dir();
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!dir || stat(path, &st) < 0)
		return false;
	memset(e, 0, sizeof(*e));
	memcpy(e->magic, LC_MAGIC, sizeof(LC_MAGIC));
	snprintf(e->version, sizeof(e->version), "%s", HEAPDBG_VERSION);
	e->layout_size = sizeof(struct malloc_layout);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime_s = st.st_mtim.tv_sec;
	e->mtime_ns = st.st_mtim.tv_nsec;
	if (base) {
		e->has_base = 1;
		e->base = *base;
	}
	h = fnv(h, path, strlen(path));
	h = fnv(h, &e->dev, sizeof(uint64_t) * 5);
	h = fnv(h, &e->base, sizeof(e->base));
	h = fnv(h, e->version, sizeof(e->version));
	*file = xasprintf("%s/layout-%016" PRIx64, dir, h);
	return true;
}

/* What this process itself read from DWARF (layout_cache_put), on disk
 * or not: a second locate in one run (after the one made while the
 * process ran, session_attach_prepared) takes it from here. */
struct here_entry {
	char *path;
	bool has_base;
	struct malloc_layout base, out;
	int rc;
};
static struct here_entry here[8];
static size_t nhere;
static pthread_mutex_t here_lock = PTHREAD_MUTEX_INITIALIZER;

static void
here_put(const char *path, const struct malloc_layout *base, int rc, const struct malloc_layout *out)
{
	struct here_entry *e;

	pthread_mutex_lock(&here_lock);
	e = &here[nhere < ARRAY_SIZE(here) ? nhere++ : ARRAY_SIZE(here) - 1];
	free(e->path);
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->has_base = base != NULL;
	if (base)
		e->base = *base;
	e->rc = rc;
	if (rc == 0)
		e->out = *out;
	pthread_mutex_unlock(&here_lock);
}

bool
layout_cache_get_here(const char *path, const struct malloc_layout *base, int *rc, struct malloc_layout *out)
{
	bool hit = false;

	if (!path)
		return false;
	pthread_mutex_lock(&here_lock);
	for (size_t i = nhere; i-- > 0 && !hit;) {
		const struct here_entry *e = &here[i];
		if (strcmp(e->path, path) || e->has_base != (base != NULL) ||
		    (base && memcmp(&e->base, base, sizeof(*base))))
			continue;
		*rc = e->rc;
		if (e->rc == 0)
			*out = e->out;
		hit = true;
	}
	pthread_mutex_unlock(&here_lock);
	return hit;
}

bool
layout_cache_get(const char *path, const struct malloc_layout *base, int *rc, struct malloc_layout *out)
{
	struct lc_entry want, got;
	char *file = NULL;
	struct stat st;
	bool hit = false;
	int fd;

	if (!path || !entry_key(path, base, &want, &file))
		return false;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    read(fd, &got, sizeof(got)) == (ssize_t)sizeof(got) &&
	    !memcmp(got.magic, want.magic, sizeof(got.magic)) &&
	    !memcmp(got.version, want.version, sizeof(got.version)) && got.layout_size == want.layout_size &&
	    got.dev == want.dev && got.ino == want.ino && got.size == want.size && got.mtime_s == want.mtime_s &&
	    got.mtime_ns == want.mtime_ns && got.has_base == want.has_base &&
	    !memcmp(&got.base, &want.base, sizeof(got.base)) &&
	    (got.rc != 0 || (got.out.source == LAYOUT_FROM_DWARF && got.out.ms_size <= 8192 &&
			     got.out.mp_size <= 512 && !layout_problem(&got.out)))) {
		*rc = got.rc;
		if (got.rc == 0)
			*out = got.out;
		hit = true;
	}
	if (fd >= 0)
		close(fd);
	free(file);
	return hit;
}

void
layout_cache_put(const char *path, const struct malloc_layout *base, int rc, const struct malloc_layout *out)
{
	struct lc_entry e;
	char *file = NULL, *tmp, *parent;
	const char *dir;
	int fd;
	bool ok;

	if (!path)
		return;
	here_put(path, base, rc, out);
	if (!entry_key(path, base, &e, &file))
		return;
	e.rc = rc;
	if (rc == 0)
		e.out = *out;
	dir = layout_cache_dir();
	/* the directory and, for ~/.cache/heapdbg, its parent */
	parent = xstrdup(dir);
	if (strrchr(parent, '/') && strrchr(parent, '/') != parent) {
		*strrchr(parent, '/') = 0;
		(void)mkdir(parent, 0700);
	}
	free(parent);
	(void)mkdir(dir, 0700);
	tmp = xasprintf("%s.%d.tmp", file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(tmp);
		free(file);
		return;
	}
	ok = write(fd, &e, sizeof(e)) == (ssize_t)sizeof(e);
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, file) < 0)
		unlink(tmp);
	free(tmp);
	free(file);
}
