/*
 * snapshot.h - heap snapshots: the set of live chunks at one moment
 * (user address, chunk size, state, arena) and, for chunks the tracer
 * saw, the allocation's requested size, sequence number, time and stack.
 * Stacks are stored with their pcs and symbolically (module + offset,
 * function, file, line per frame), so snapshots of different processes
 * (other ASLR) or of other heapdbg runs compare by call site.
 *
 * A snapshot is data: it never refers to the target, survives `detach`
 * and the target running, and can be saved to a file and loaded into a
 * heapdbg that has no target at all.  No heap contents are recorded.
 *
 * Also here: diffs between two snapshots, the file format
 * (docs/snapshot-format.md), exports (pprof, folded stacks) and the named
 * set of snapshots a session keeps.
 */
#ifndef HEAPDBG_SNAPSHOT_H
#define HEAPDBG_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocinfo.h"
#include "heap.h"
#include "symbols.h"
#include "util.h"

/* One live chunk: 16 bytes (the size in 45 bits, as a walk's chunk,
 * heap.h; pass it to printf-like functions as (uint64_t)c->size).  What
 * the tracer knew of it is out of line: snap_chunk_trace(). */
struct snap_chunk {
	uint64_t addr;		/* user pointer (chunk header + 16) */
	uint64_t size : 45;	/* chunksize() */
	uint64_t state : 3;	/* CS_USED or CS_MMAPPED */
	uint64_t arena : 16;	/* arena index, HEAP_NO_ARENA for mmapped */
};

/* What the tracer knew about a chunk's allocation. */
struct snap_trace {
	uint64_t req;		/* requested size */
	uint64_t seq;		/* allocation number in its tracing run */
	double time;		/* wall-clock time of the allocation */
	uint32_t stack;		/* 1 + index into stacks, 0 when no stack */
};

/* One source-level frame; inlined calls are frames of their own, before
 * the frame of the function they were inlined into (same pc). */
struct snap_frame {
	uint64_t pc;
	uint64_t module_off;	/* pc - module start (module != 0) */
	uint64_t func_off;	/* pc - function start (func != 0, not inlined) */
	uint32_t module;	/* 1 + index into modules, 0 if unknown */
	uint32_t func, file;	/* string ids, 0 if unknown */
	int32_t line;		/* 0 if unknown */
	bool inlined;
};

struct snap_stack {
	uint32_t first, n;	/* frames[first .. first + n), innermost first */
	uint64_t key;		/* snapshot_frame_key() of the frames, combined */
};

struct snap_module {
	uint32_t name;		/* string id: the module's path */
	uint32_t build_id;	/* string id: hex, or 0 */
	uint64_t start, end;	/* address range in the process */
	uint32_t source_root;	/* string id: symbols_source_root(), or 0 */
};

struct snapshot {
	char *name;
	char *file;		/* the file it was loaded from, or NULL */
	double time;		/* wall-clock time it was taken */
	char *target;		/* "live", "core", ... or NULL */
	int64_t pid;		/* 0 if unknown */
	char *exe, *cmdline;	/* or NULL */
	char *glibc;		/* glibc version, or NULL */
	char *version;		/* heapdbg version that took it */
	uint32_t narenas;
	uint64_t sample_rate;		/* trace start --sample BYTES it was taken under;
					 * 0: not sampled (every traced call recorded) */

	struct snap_chunk *chunks;	/* sorted by address, no duplicates */
	size_t nchunks;
	uint64_t bytes;			/* sum of the chunk sizes */
	uint32_t *trace_of;		/* per chunk: 1 + index into traces, 0 when not
					 * traced; NULL when no chunk is (trace_cap) */
	size_t trace_cap;
	VEC(struct snap_trace) traces;
	VEC(struct snap_frame) frames;
	VEC(struct snap_stack) stacks;
	VEC(struct snap_module) modules;
	VEC(char *) strings;		/* strings.v[0] is "" */
	struct u64map string_index;	/* hash -> id, for interning */
};

/* --- building --- */

/* An empty snapshot (no chunks, no strings but ""). */
struct snapshot *snapshot_new(void);
void snapshot_free(struct snapshot *sn);
/* Chunk c's allocation record: 1 + its index in sn->traces, 0 when the
 * tracer did not see it. */
static inline uint32_t
snap_chunk_trace(const struct snapshot *sn, const struct snap_chunk *c)
{
	size_t i = (size_t)(c - sn->chunks);
	return sn->trace_of && i < sn->trace_cap ? sn->trace_of[i] : 0;
}
/* Set chunk i's (1 + index into traces). */
void snap_set_trace(struct snapshot *sn, size_t i, uint32_t trace);
/* The id of string s in sn's table (interned; "" and NULL are 0). */
uint32_t snapshot_intern(struct snapshot *sn, const char *s);
static inline const char *
snapshot_str(const struct snapshot *sn, uint32_t id)
{
	return id < sn->strings.n ? sn->strings.v[id] : "";
}
/* "live process 1234 (/usr/bin/prog)" into buf, for people. */
const char *snapshot_describe(const struct snapshot *sn, char *buf, size_t size);
/* The module's base name ("libc.so.6"), or NULL. */
const char *snapshot_module_name(const struct snapshot *sn, uint32_t module);

/* The live chunks of walk h (states used and mmapped), with what src
 * knows about each (src may be NULL), stacks resolved with sym (may be
 * NULL: pcs only).  Metadata (name, time, target) is left to the caller.
 * Never fails (runs out of memory fatally, like every allocation). */
struct snapshot *snapshot_capture(const struct heap *h, const struct alloc_source *src,
				  struct symbols *sym);
/* The same, made of h's own chunk array, which it takes over (h is left
 * with no chunks; free it with heap_free): no second array. */
struct snapshot *snapshot_capture_take(struct heap *h, const struct alloc_source *src,
				       struct symbols *sym);

/* The symbolic identity of a frame, the same in every process running the
 * same code: module base name with function, file and line (function
 * offset when there is no line), else module and offset, else the pc. */
uint64_t snapshot_frame_key(const struct snapshot *sn, const struct snap_frame *f);
/* A frame's source file as people read it: relative to its module's
 * source root when under it, else the full path ("" if none). */
const char *snapshot_file_rel(const struct snapshot *sn, const struct snap_frame *f);
/* Recompute every stack's key (after loading or building by hand). */
void snapshot_rekey(struct snapshot *sn);

/* Size classes for grouping untraced chunks: each size up to 1024 is a
 * class of its own; above, four classes per power of two. */
void snapshot_size_class(uint64_t size, uint64_t *lo, uint64_t *hi);
/* "208 B", "1024..1279 B" into buf (64 bytes). */
const char *snapshot_size_class_name(uint64_t lo, uint64_t hi, char buf[64]);

/* What a traced chunk of sn stands for in estimates: 1 when sn is not
 * sampled, else 1 / (1 - exp(-req / sample_rate)) (pprof's weight). */
double snapshot_weight(const struct snapshot *sn, const struct snap_trace *t);

/* --- diffs --- */

struct snap_count {
	uint64_t chunks, bytes;
};

struct snap_group {
	uint64_t key;
	bool has_stack;			/* grouped by stack, else by size class */
	uint64_t size_lo, size_hi;	/* the size class (no stack) */
	const struct snapshot *sn;	/* where the stack is (has_stack) */
	uint32_t stack;			/* 1 + index into sn->stacks */
	struct snap_count new_, freed;	/* chunks only in B, only in A */
	struct snap_count from, to;	/* all of the group's chunks in A, in B */
	/* sampled diffs: the estimates (each chunk weighed snapshot_weight()
	 * of its own snapshot; bytes: chunk size times that); the counts
	 * above are then the samples behind them */
	struct snap_est {
		double chunks, bytes;
	} est_new_, est_freed, est_from, est_to;
};

struct snap_diff {
	const struct snapshot *a, *b;
	struct snap_count new_, freed, kept;	/* always exact: the walks */
	bool traced;			/* some group is a stack */
	bool sampled;			/* a or b was sampled: groups are stacks
					 * only, their counts estimates */
	VEC(struct snap_group) groups;	/* biggest growth (bytes) first */
};

/*
 * What changed from a to b.  A chunk of a and a chunk of b are the same
 * allocation when they have the same address and size and, if both were
 * traced, the same sequence number and time (so an address reused by
 * another allocation is a free plus a new).  Chunks are grouped by their
 * symbolic stack when traced, else by size class.  When a or b was
 * taken under sampling, chunks without a trace record are counted in the
 * totals only (the samples' weights stand for them), and each group's
 * est_* are estimates, each snapshot's chunks weighed under its own rate
 * (weight 1 when not sampled), so the growth is the difference of two
 * estimates even when the rates differ.
 */
void snapshot_diff(const struct snapshot *a, const struct snapshot *b, struct snap_diff *out);
void snap_diff_free(struct snap_diff *d);

/* --- files (docs/snapshot-format.md) --- */

#define SNAPFILE_MAGIC "\x89HDSNAP\n"
#define SNAPFILE_VERSION 1
#define SNAPFILE_HEADER 20	/* magic, version, flags, message length */
#define SNAPFILE_TRAILER 4	/* CRC-32 */

/* The file's bytes, appended to out. */
void snapshot_encode(const struct snapshot *sn, struct sbuf *out);
/* Parse a whole file held in memory.  NULL with an hd error (HD_EFORMAT:
 * not a snapshot, corrupted, unsupported version; HD_ETRUNC: truncated)
 * whose message says what is wrong. */
struct snapshot *snapshot_decode(const void *buf, size_t len);
/* Write to path (created with mode 0600, replaced atomically). 0 or -1. */
int snapshot_save(const struct snapshot *sn, const char *path);
/* Read path; NULL with an hd error naming the file. */
struct snapshot *snapshot_load(const char *path);
/* CRC-32 (IEEE 802.3, as zlib and gzip compute it). */
uint32_t snap_crc32(uint32_t crc, const void *p, size_t n);

/* --- exports --- */

struct export_stats {
	uint64_t samples, locations, functions;
	uint64_t bytes;			/* file size */
	bool compressed;
	uint64_t objects, inuse_bytes;	/* the sums of the values written (sampled:
					 * the estimates) */
	uint64_t sampled_chunks;	/* the chunks behind them */
};

/* How to export (NULL: the defaults, all false). */
struct export_opts {
	bool keep_alloc_frames;		/* stacks keep the allocator's own frames */
};

/* The number of frames at the top of stack (1-based id) that are the
 * allocator's own (frame_is_allocator), which exports and diffs leave
 * out: 0 when there are none, or when nothing else is left. */
uint32_t snapshot_alloc_frames(const struct snapshot *sn, uint32_t stack);

/* The snapshot as a pprof profile (profile.proto: inuse_objects and
 * inuse_space by stack, from the allocator's caller, so that the bytes
 * are "flat" in the function that asked for them; a synthetic frame per
 * size class for untraced chunks), uncompressed, appended to out.  A
 * sampled snapshot (sample_rate != 0) gives a Go/tcmalloc heap profile:
 * its sampled chunks only, by stack, each weighed snapshot_weight()
 * (inuse_space: the chunk size times it), the sums truncated as pprof
 * does, period sample_rate, and a comment saying the values are
 * estimates; the unsampled chunks are left out. */
void pprof_encode(const struct snapshot *sn, struct sbuf *out, struct export_stats *st,
		  const struct export_opts *o);
/* Write it gzip'd (uncompressed without zlib) to path.  0 or -1. */
int pprof_export(const struct snapshot *sn, const char *path, struct export_stats *st,
		 const struct export_opts *o);
/* Folded stacks ("root;...;leaf BYTES" per line) for FlameGraph; a
 * sampled snapshot's bytes are estimates as pprof_encode()'s. */
void folded_encode(const struct snapshot *sn, struct sbuf *out, struct export_stats *st,
		   const struct export_opts *o);
int folded_export(const struct snapshot *sn, const char *path, struct export_stats *st,
		  const struct export_opts *o);
/* Write buf to path (mode: 0600 or 0666 less the umask): a new or plain
 * file via a temporary file in the same directory renamed into place;
 * anything else (a symlink, /dev/stdout, a FIFO) is written through,
 * never replaced (a regular file behind it is made 0600 when private).
 * 0 or -1. */
int snap_write_file(const char *path, const void *buf, size_t len, bool private_mode);

/* --- the named snapshots of a session --- */

struct snapset {
	VEC(struct snapshot *) v;	/* in the order taken or loaded */
	unsigned next;			/* for automatic names s1, s2, ... */
};

struct snapset *snapset_new(void);
void snapset_free(struct snapset *ss);
struct snapshot *snapset_find(const struct snapset *ss, const char *name);
/* Add sn (owned from now on), replacing a snapshot of the same name;
 * returns true if one was replaced. */
bool snapset_put(struct snapset *ss, struct snapshot *sn);
/* A name no snapshot has: s1, s2, ... (caller frees). */
char *snapset_auto_name(struct snapset *ss);
/* Names a user may give: not empty, not "now", printable, no spaces. */
int snapshot_check_name(const char *name);

struct session;
/* A snapshot of the session's target as it is now, named name (NULL: no
 * name yet), with the target's metadata.  NULL with an hd error. */
struct snapshot *snapshot_take(struct session *s, const char *name);

#endif
