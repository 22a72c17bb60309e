/*
 * util.h - the error vocabulary and small containers every layer uses.
 *
 * Errors: library code never exits and never prints errors itself.  A
 * failing function records what went wrong with hd_fail() (a code from
 * enum hd_err and a one-line message) and returns -1 or NULL; the caller
 * either adds context or hands it up.  Only the front end prints the
 * message (error_msg) and chooses the exit status.
 *
 * The one exception is running out of memory in xmalloc() and friends:
 * that calls hd_fatal(), which first runs the emergency hook the front end
 * registered (it restores every byte heapdbg patched in a target and
 * detaches) and then exits.  The target is never left with a trap in it.
 */
#ifndef HEAPDBG_UTIL_H
#define HEAPDBG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define UNUSED __attribute__((unused))

/* What kind of failure the last hd_fail() recorded. */
enum hd_err {
	HD_OK = 0,
	HD_EGENERIC,	/* a command failed for a reason given in the message */
	HD_ENOMEM,	/* out of memory (when not fatal) */
	HD_ENOPROC,	/* no such process */
	HD_EPERM,	/* not permitted (ptrace, file access) */
	HD_ENOTCORE,	/* not a core file, or one for another machine */
	HD_ETRUNC,	/* truncated core or data file */
	HD_EFORMAT,	/* malformed input (corrupted file, bad snapshot) */
	HD_EIO,		/* target memory could not be read or written */
	HD_EGONE,	/* the target process exited or was killed */
	HD_EUSAGE,	/* bad command arguments */
	HD_ENOTSUP,	/* not available for this target or allocator */
	HD_EINTR,	/* interrupted by the user (Ctrl-C) */
	HD_ENOENT,	/* no such file, symbol, snapshot, thread, chunk */
};

/* Record an error; always returns -1 so `return hd_fail(...)` reads well. */
int hd_fail(enum hd_err code, const char *fmt, ...) PRINTF(2, 3);
/* Same, with ": strerror(errnum)" appended. */
int hd_fail_errno(enum hd_err code, int errnum, const char *fmt, ...) PRINTF(3, 4);
/* Prefix the recorded message with "CONTEXT: ", keeping the code. */
int hd_fail_context(const char *fmt, ...) PRINTF(1, 2);
const char *hd_errmsg(void);
enum hd_err hd_errcode(void);
void hd_clear_error(void);

/* Diagnostics on stderr, "heapdbg: ..." (front end and warnings only). */
void error_msg(const char *fmt, ...) PRINTF(1, 2);
void perror_msg(const char *fmt, ...) PRINTF(1, 2);
void warn_msg(const char *fmt, ...) PRINTF(1, 2);
void debug_msg(const char *fmt, ...) PRINTF(1, 2);
extern int hd_debug;		/* HEAPDBG_DEBUG set: debug_msg prints */
extern bool hd_quiet_warnings;	/* suppress warn_msg (tests) */

/* Emergency exit: runs the registered hook (restore the target), exits. */
typedef void (*hd_fatal_hook)(void);
void hd_set_fatal_hook(hd_fatal_hook hook);
void hd_run_fatal_hook(void);
__attribute__((noreturn)) void hd_fatal(const char *fmt, ...) PRINTF(1, 2);

/* Fault injection for the test suite: when HEAPDBG_TEST_PAUSE names this
 * point ("walk", "trace-scratch", "trace-start", "trace-stop"), heapdbg
 * stops itself (SIGSTOP) there, so a test can do something to the target
 * at exactly that moment and then let heapdbg go on (SIGCONT). */
void hd_test_pause(const char *point);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
/* Ask for transparent huge pages over the 2 MiB-aligned part of
 * [p, p+len), memory from malloc that is about to be written (only
 * advice; where the kernel gives them on request).  On a VM a 4 KiB
 * page's first-touch fault costs microseconds to tens of them: a 64 MiB
 * array written end to end faults in 30 ms with huge pages, 600 ms
 * without. */
void mem_huge_pages(void *p, size_t len);
/* xreallocarray(), then mem_huge_pages() over the whole array: for the
 * big arrays a walk fills (free() them as usual). */
void *xhugearray(void *p, size_t n, size_t size);
/* Zeroed room for n elements of size, in huge pages from 256 KiB up (its
 * own mapping, 2 MiB-aligned: a 1 MiB table costs one fault, not 256);
 * calloc() below.  Free with big_free() and the same n and size. */
void *big_calloc(size_t n, size_t size);
void big_free(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* A string from a target (a path, a command line, a thread name) made safe
 * for a terminal: control bytes shown as \n, \t, \r or \xNN.  NULL when
 * there is nothing to escape (use s as it is); else the caller frees. */
char *str_visible(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);

/* Growable array of T: VEC(T) v = {0}; vec_push(&v, x); v.v[i]; vec_free(&v). */
#define VEC(T) struct { T *v; size_t n, cap; }
#define vec_reserve(vec, want) do {					\
	if ((want) > (vec)->cap) {					\
		size_t nc_ = (vec)->cap ? (vec)->cap * 2 : 8;		\
		while (nc_ < (want)) nc_ *= 2;				\
		(vec)->v = xreallocarray((vec)->v, nc_, sizeof(*(vec)->v)); \
		(vec)->cap = nc_;					\
	}								\
} while (0)
#define vec_push(vec, x) do {						\
	vec_reserve((vec), (vec)->n + 1);				\
	(vec)->v[(vec)->n++] = (x);					\
} while (0)
#define vec_free(vec) do { free((vec)->v); (vec)->v = NULL; (vec)->n = (vec)->cap = 0; } while (0)

/* A growable string. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sb_init(struct sbuf *sb);
void sb_reserve(struct sbuf *sb, size_t extra);
void sb_putc(struct sbuf *sb, char c);
void sb_puts(struct sbuf *sb, const char *s);
void sb_putn(struct sbuf *sb, const char *s, size_t n);
void sb_printf(struct sbuf *sb, const char *fmt, ...) PRINTF(2, 3);
void sb_vprintf(struct sbuf *sb, const char *fmt, va_list ap);
void sb_reset(struct sbuf *sb);
void sb_free(struct sbuf *sb);
/* Detach the string (caller frees); the buffer is left empty. */
char *sb_steal(struct sbuf *sb);

/*
 * Open-addressing hash map from uint64_t keys to uint64_t values.  The key
 * UINT64_MAX is reserved (marks empty slots).  Values are often indices or
 * pointers cast to uintptr_t.
 */
struct u64map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap, n;	/* cap is a power of two or 0 */
};
void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
void u64map_clear(struct u64map *m);
/* Returns a pointer to the value slot for key, inserting 0 if absent. */
uint64_t *u64map_slot(struct u64map *m, uint64_t key, bool *created);
void u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Returns true and sets *val when present. */
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *val);
bool u64map_del(struct u64map *m, uint64_t key);
/* Iterate: for (size_t i = 0; u64map_next(m, &i, &k, &v);) */
bool u64map_next(const struct u64map *m, size_t *iter, uint64_t *key, uint64_t *val);

static inline uint64_t
hash_u64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* Monotonic clock in nanoseconds; wall clock in seconds since the epoch. */
uint64_t hd_now_ns(void);
double hd_wall_time(void);

/* Parse an unsigned integer: decimal, 0x hex, or 0 octal; with optional
 * k/K/m/M/g/G suffix when allow_suffix.  Returns 0 or -1 (HD_EUSAGE). */
int parse_u64(const char *s, uint64_t *out, bool allow_suffix);
int parse_double(const char *s, double *out);

/* Open a file that must be a regular file, for reading: its type is
 * looked at before open(2), which is done with O_NONBLOCK (a FIFO must
 * not block heapdbg forever; one put in place meanwhile does not either)
 * and checked again on the descriptor.  A directory, FIFO, socket or
 * device fails with code (the caller's kind of error) and the message
 * "PATH: a directory, not a regular file"; a missing or unreadable file
 * with HD_ENOENT or HD_EPERM and strerror.  Returns the fd or -1. */
int open_regular(const char *path, int code, struct stat *st);

/* A path with "." and "dir/.." components and repeated slashes taken
 * out, lexically ("./csu/../sysdeps/x.h" -> "sysdeps/x.h"; a leading
 * ".." of a relative path stays).  dir, when given and path is relative,
 * is joined in front first.  Returns a new string. */
char *path_clean(const char *dir, const char *path);
/* path relative to root when it lies under it ("" or NULL root: path as
 * it is), else NULL.  Points into path. */
const char *path_under(const char *path, const char *root);

/* Read a whole small file (e.g. under /proc) into a NUL-terminated buffer. */
char *read_file(const char *path, size_t *lenp);

/* "s" unless n is 1: "%zu thread%s", n, plural(n). */
static inline const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* Human-readable byte count: "1.5 MiB"; buf must hold 32 bytes. */
const char *fmt_bytes(uint64_t n, char buf[32]);

#endif
