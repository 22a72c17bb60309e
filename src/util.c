/*
 * util.c - error recording, diagnostics, checked allocation, string
 * buffers, a u64 hash map and small parsers shared by every layer.
 */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int hd_debug;
bool hd_quiet_warnings;

static __thread enum hd_err last_code;
static __thread char last_msg[1024];

static int
vfail(enum hd_err code, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(last_msg))
		snprintf(last_msg + n, sizeof(last_msg) - n, ": %s", strerror(errnum));
	last_code = code;
	return -1;
}

int
hd_fail(enum hd_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
hd_fail_errno(enum hd_err code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int
hd_fail_context(const char *fmt, ...)
{
	char prefix[512], old[sizeof(last_msg)];
	va_list ap;

	memcpy(old, last_msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(last_msg, sizeof(last_msg), "%.255s: %.760s", prefix, old);
	if (last_code == HD_OK)
		last_code = HD_EGENERIC;
	return -1;
}

const char *
hd_errmsg(void)
{
	return last_msg[0] ? last_msg : "unknown error";
}

enum hd_err
hd_errcode(void)
{
	return last_code;
}

void
hd_clear_error(void)
{
	last_code = HD_OK;
	last_msg[0] = 0;
}

static void
vmsg(const char *kind, int errnum, const char *fmt, va_list ap)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "heapdbg: %s", kind);
	if (n < 0)
		return;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (errnum) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, ": %s", strerror(errnum));
	}
	fflush(stdout);
	fprintf(stderr, "%s\n", buf);
}

void
error_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", 0, fmt, ap);
	va_end(ap);
}

void
perror_msg(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vmsg("", e, fmt, ap);
	va_end(ap);
}

void
warn_msg(const char *fmt, ...)
{
	va_list ap;
	if (hd_quiet_warnings)
		return;
	va_start(ap, fmt);
	vmsg("warning: ", 0, fmt, ap);
	va_end(ap);
}

void
debug_msg(const char *fmt, ...)
{
	va_list ap;
	if (!hd_debug)
		return;
	va_start(ap, fmt);
	vmsg("debug: ", 0, fmt, ap);
	va_end(ap);
}

static hd_fatal_hook fatal_hook;

void
hd_set_fatal_hook(hd_fatal_hook hook)
{
	fatal_hook = hook;
}

void
hd_run_fatal_hook(void)
{
	hd_fatal_hook h = fatal_hook;
	fatal_hook = NULL;	/* never twice, never recursively */
	if (h)
		h();
}

void
hd_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("fatal: ", 0, fmt, ap);
	va_end(ap);
	hd_run_fatal_hook();
	_exit(2);
}

void
hd_test_pause(const char *point)
{
	static bool done;
	const char *want = getenv("HEAPDBG_TEST_PAUSE");
	if (!done && want && !strcmp(want, point)) {
		done = true;	/* once per run */
		raise(SIGSTOP);
	}
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		hd_fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		hd_fatal("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		hd_fatal("out of memory reallocating %zu bytes", n);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		hd_fatal("allocation of %zu x %zu bytes overflows", n, size);
	return xrealloc(p, n * size);
}

void
mem_huge_pages(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	uintptr_t lo = ALIGN_UP((uintptr_t)p, (uintptr_t)2 << 20), hi = ALIGN_DOWN((uintptr_t)p + len, (uintptr_t)2 << 20);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

#define BIG_MIN ((size_t)256 << 10)
#define BIG_ALIGN ((size_t)2 << 20)

void *
big_calloc(size_t n, size_t size)
{
	size_t len, maplen;
	uint8_t *p, *a;

	if (size && n > SIZE_MAX / size)
		hd_fatal("allocation of %zu x %zu bytes overflows", n, size);
	len = n * size;
	if (len < BIG_MIN)
		return xcalloc(n ? n : 1, size ? size : 1);
	maplen = ALIGN_UP(len, BIG_ALIGN);
	p = mmap(NULL, maplen + BIG_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		hd_fatal("out of memory allocating %zu bytes", len);
	/* keep the 2 MiB-aligned part: one huge page per 2 MiB */
	a = (uint8_t *)ALIGN_UP((uintptr_t)p, BIG_ALIGN);
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + maplen < p + maplen + BIG_ALIGN)
		munmap(a + maplen, (size_t)(p + maplen + BIG_ALIGN - (a + maplen)));
#ifdef MADV_HUGEPAGE
	(void)madvise(a, maplen, MADV_HUGEPAGE);
#endif
	return a;
}

void
big_free(void *p, size_t n, size_t size)
{
	size_t len = n * size;

	if (!p)
		return;
	if (len < BIG_MIN)
		free(p);
	else
		munmap(p, ALIGN_UP(len, BIG_ALIGN));
}

void *
xhugearray(void *p, size_t n, size_t size)
{
	p = xreallocarray(p, n, size);
	mem_huge_pages(p, n * size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
str_visible(const char *s)
{
	size_t n = 0, need = 0;
	char *out, *o;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
		if (*p < 0x20 || *p == 0x7f)
			need++;
	if (!need)
		return NULL;
	out = o = xmalloc(n + need * 3 + 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			*o++ = (char)*p;
			continue;
		}
		*o++ = '\\';
		switch (*p) {
		case '\n': *o++ = 'n'; break;
		case '\t': *o++ = 't'; break;
		case '\r': *o++ = 'r'; break;
		default:
			o += sprintf(o, "x%02x", *p);
			break;
		}
	}
	*o = 0;
	return out;
}

char *
xstrndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *p = xmalloc(l + 1);
	memcpy(p, s, l);
	p[l] = 0;
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct sbuf sb;
	va_list ap;
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	return sb_steal(&sb);
}

void
sb_init(struct sbuf *sb)
{
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

void
sb_reserve(struct sbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 > sb->cap) {
		size_t nc = sb->cap ? sb->cap * 2 : 64;
		while (nc < sb->len + extra + 1)
			nc *= 2;
		sb->s = xrealloc(sb->s, nc);
		sb->cap = nc;
	}
}

void
sb_putc(struct sbuf *sb, char c)
{
	sb_reserve(sb, 1);
	sb->s[sb->len++] = c;
	sb->s[sb->len] = 0;
}

void
sb_putn(struct sbuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = 0;
}

void
sb_puts(struct sbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

void
sb_vprintf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	sb_reserve(sb, 64);
	va_copy(ap2, ap);
	n = vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= sb->cap - sb->len) {
		sb_reserve(sb, n);
		vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += n;
}

void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void
sb_reset(struct sbuf *sb)
{
	sb->len = 0;
	if (sb->s)
		sb->s[0] = 0;
}

void
sb_free(struct sbuf *sb)
{
	free(sb->s);
	sb_init(sb);
}

char *
sb_steal(struct sbuf *sb)
{
	char *s = sb->s ? sb->s : xstrdup("");
	sb_init(sb);
	return s;
}

#define EMPTY_KEY UINT64_MAX

void
u64map_init(struct u64map *m)
{
	memset(m, 0, sizeof(*m));
}

void
u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	u64map_init(m);
}

void
u64map_clear(struct u64map *m)
{
	if (m->keys)
		memset(m->keys, 0xff, m->cap * sizeof(uint64_t));
	m->n = 0;
}

static void
u64map_grow(struct u64map *m)
{
	size_t oc = m->cap, nc = oc ? oc * 2 : 16;
	uint64_t *ok = m->keys, *ov = m->vals;

	m->keys = xreallocarray(NULL, nc, sizeof(uint64_t));
	m->vals = xreallocarray(NULL, nc, sizeof(uint64_t));
	memset(m->keys, 0xff, nc * sizeof(uint64_t));
	m->cap = nc;
	m->n = 0;
	for (size_t i = 0; i < oc; i++)
		if (ok[i] != EMPTY_KEY)
			u64map_put(m, ok[i], ov[i]);
	free(ok);
	free(ov);
}

uint64_t *
u64map_slot(struct u64map *m, uint64_t key, bool *created)
{
	size_t i, mask;

	if ((m->n + 1) * 4 > m->cap * 3)
		u64map_grow(m);
	mask = m->cap - 1;
	for (i = hash_u64(key) & mask;; i = (i + 1) & mask) {
		if (m->keys[i] == key) {
			if (created)
				*created = false;
			return &m->vals[i];
		}
		if (m->keys[i] == EMPTY_KEY) {
			m->keys[i] = key;
			m->vals[i] = 0;
			m->n++;
			if (created)
				*created = true;
			return &m->vals[i];
		}
	}
}

void
u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	*u64map_slot(m, key, NULL) = val;
}

bool
u64map_get(const struct u64map *m, uint64_t key, uint64_t *val)
{
	size_t i, mask;

	if (!m->cap)
		return false;
	mask = m->cap - 1;
	for (i = hash_u64(key) & mask;; i = (i + 1) & mask) {
		if (m->keys[i] == key) {
			if (val)
				*val = m->vals[i];
			return true;
		}
		if (m->keys[i] == EMPTY_KEY)
			return false;
	}
}

bool
u64map_del(struct u64map *m, uint64_t key)
{
	size_t i, j, mask;

	if (!m->cap)
		return false;
	mask = m->cap - 1;
	for (i = hash_u64(key) & mask;; i = (i + 1) & mask) {
		if (m->keys[i] == EMPTY_KEY)
			return false;
		if (m->keys[i] == key)
			break;
	}
	/* backward-shift deletion keeps probe chains intact */
	m->keys[i] = EMPTY_KEY;
	m->n--;
	for (j = (i + 1) & mask; m->keys[j] != EMPTY_KEY; j = (j + 1) & mask) {
		size_t home = hash_u64(m->keys[j]) & mask;
		/* move j back to i if its home is not in (i, j] cyclically */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = EMPTY_KEY;
			i = j;
		}
	}
	return true;
}

bool
u64map_next(const struct u64map *m, size_t *iter, uint64_t *key, uint64_t *val)
{
	for (size_t i = *iter; i < m->cap; i++) {
		if (m->keys[i] != EMPTY_KEY) {
			if (key)
				*key = m->keys[i];
			if (val)
				*val = m->vals[i];
			*iter = i + 1;
			return true;
		}
	}
	*iter = m->cap;
	return false;
}

uint64_t
hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = hash_u64(h ^ w);
		s += 8;
		n -= 8;
	}
	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	return hash_u64(h);
}

uint64_t
hd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

double
hd_wall_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
parse_u64(const char *s, uint64_t *out, bool allow_suffix)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return hd_fail(HD_EUSAGE, "invalid number '%s'", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return hd_fail(HD_EUSAGE, "invalid number '%s'", s);
	if (allow_suffix && *end) {
		unsigned shift = 0;
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		}
		if (shift) {
			if (v > (UINT64_MAX >> shift))
				return hd_fail(HD_EUSAGE, "number too large '%s'", s);
			v <<= shift;
			end++;
			if (*end == 'i' && (end[1] == 'B' || end[1] == 'b'))
				end += 2;
			else if (*end == 'B' || *end == 'b')
				end++;
		}
	}
	if (*end)
		return hd_fail(HD_EUSAGE, "invalid number '%s'", s);
	*out = v;
	return 0;
}

int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return hd_fail(HD_EUSAGE, "invalid number ''");
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v != v)
		return hd_fail(HD_EUSAGE, "invalid number '%s'", s);
	*out = v;
	return 0;
}

char *
path_clean(const char *dir, const char *path)
{
	char *joined = dir && *dir && path[0] != '/' ? xasprintf("%s/%s", dir, path) : xstrdup(path);
	bool abs = joined[0] == '/';
	VEC(char *) parts = { 0 };
	struct sbuf out;
	char *save = NULL;

	for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..") && parts.n && strcmp(parts.v[parts.n - 1], "..")) {
			parts.n--;
			continue;
		}
		if (!strcmp(c, "..") && abs)
			continue;	/* /.. is / */
		vec_push(&parts, c);
	}
	sb_init(&out);
	if (abs)
		sb_putc(&out, '/');
	for (size_t i = 0; i < parts.n; i++) {
		if (i)
			sb_putc(&out, '/');
		sb_puts(&out, parts.v[i]);
	}
	if (!out.len)
		sb_putc(&out, '.');
	vec_free(&parts);
	free(joined);
	return sb_steal(&out);
}

const char *
path_under(const char *path, const char *root)
{
	size_t n = root ? strlen(root) : 0;

	if (!n || !strcmp(root, "."))
		return path;
	if (strncmp(path, root, n))
		return NULL;
	if (root[n - 1] == '/')
		return path + n;
	if (path[n] == '/')
		return path + n + 1;
	return NULL;
}

static const char *
file_type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

static int
open_fail(const char *path, int err)
{
	return hd_fail_errno(err == ENOENT || err == ENOTDIR ? HD_ENOENT : err == EACCES || err == EPERM ? HD_EPERM :
			     HD_EGENERIC, err, "%s", path);
}

int
open_regular(const char *path, int code, struct stat *stp)
{
	struct stat st;
	int fd, fl;

	if (stat(path, &st) < 0)
		return open_fail(path, errno);
	if (!S_ISREG(st.st_mode))
		return hd_fail(code, "%s: %s, not a regular file", path, file_type_name(st.st_mode));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return open_fail(path, errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hd_fail(code, "%s: %s, not a regular file", path, file_type_name(st.st_mode));
	}
	/* a regular file: reads never block anyway, drop the flag */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (stp)
		*stp = st;
	return fd;
}

char *
read_file(const char *path, size_t *lenp)
{
	struct sbuf sb;
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		hd_fail_errno(errno == ENOENT ? HD_ENOENT : errno == EACCES || errno == EPERM ? HD_EPERM : HD_EGENERIC,
			      errno, "%s", path);
		return NULL;
	}
	sb_init(&sb);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hd_fail_errno(HD_EGENERIC, errno, "reading %s", path);
			close(fd);
			sb_free(&sb);
			return NULL;
		}
		if (n == 0)
			break;
		sb_putn(&sb, buf, n);
	}
	close(fd);
	if (lenp)
		*lenp = sb.len;
	return sb_steal(&sb);
}

const char *
fmt_bytes(uint64_t n, char buf[32])
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = n;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, 32, "%.1f %s", v, units[u]);
	return buf;
}
