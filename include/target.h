/*
 * target.h - one interface over the three ways heapdbg sees a process:
 * a live process under ptrace (target-live.c), an ELF core file
 * (target-core.c), and an in-memory image assembled from buffers for unit
 * tests (target-image.c).
 *
 * Everything above this layer (symbols, the ptmalloc model, the walker,
 * the analyses) reads memory, registers, mappings and the auxiliary vector
 * only through these functions and never knows which backend it has.
 * Process control that only makes sense for a live process (resume, wait,
 * breakpoints) lives in live.h.
 *
 * Memory reads go through a block cache (64 KiB blocks clipped to
 * mappings) that is dropped whenever the target runs (target_invalidate);
 * reads of a block or more bypass the cache and go to the backend whole.
 */
#ifndef HEAPDBG_TARGET_H
#define HEAPDBG_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "util.h"

enum target_kind {
	TARGET_LIVE,
	TARGET_CORE,
	TARGET_IMAGE,
};

/* Mapping permission bits. */
#define MAP_PERM_R	0x1
#define MAP_PERM_W	0x2
#define MAP_PERM_X	0x4
#define MAP_PERM_P	0x8	/* private (copy on write) */

struct mapping {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* file offset of start */
	unsigned perms;		/* MAP_PERM_* */
	uint64_t inode;
	char *path;		/* NULL if anonymous; "[heap]", "[stack]", ... */
	/* core files: how many bytes from start the core holds (the rest is
	 * read from the mapped file, when there is one); live: == end-start */
	uint64_t dumped;
};

/* x86-64 registers as ptrace and NT_PRSTATUS give them. */
typedef struct user_regs_struct hd_regs_t;
#define REG_PC(r) ((r)->rip)
#define REG_SP(r) ((r)->rsp)
#define REG_FP(r) ((r)->rbp)
#define REG_TP(r) ((r)->fs_base)

enum thread_state {
	THREAD_STOPPED,		/* live: in a ptrace-stop we control */
	THREAD_RUNNING,		/* live: resumed */
	THREAD_EXITED,		/* live: gone (exit event seen or reaped) */
	THREAD_DEAD,		/* core/image: frozen state */
};

struct target_thread {
	pid_t tid;
	enum thread_state state;
	bool regs_valid;
	hd_regs_t regs;
	char name[16];		/* comm, when known */
	int signal;		/* core: the signal that stopped it (pr_cursig) */
	/* live only (target-live.c): */
	int pending_sig;	/* signal to deliver when resumed */
	bool group_stop;	/* reported a job-control stop */
	bool listening;		/* resumed with PTRACE_LISTEN (still job-stopped) */
	bool at_exit;		/* in PTRACE_EVENT_EXIT stop */
	bool interrupt_sent;	/* PTRACE_INTERRUPT sent, stop not yet seen */
	void *priv;		/* for layers above (the tracer) */
};

struct target;

struct target_ops {
	const char *name;
	/* Read up to len bytes at addr, bypassing the cache; returns the number
	 * of bytes read (short at the first unreadable byte), or -1 with an
	 * hd error when nothing could be read. */
	ssize_t (*read)(struct target *t, uint64_t addr, void *buf, size_t len);
	/* Write len bytes at addr (live only; NULL elsewhere). 0 or -1. */
	int (*write)(struct target *t, uint64_t addr, const void *buf, size_t len);
	/* Fetch registers of thread t->threads[i] into .regs. 0 or -1. */
	int (*get_regs)(struct target *t, struct target_thread *th);
	/* Optional: read n small pieces (each bytes from addrs[i]) into out
	 * (n*each bytes); sets ok[i]. Falls back to read() when NULL. */
	void (*read_many)(struct target *t, const uint64_t *addrs, size_t n, size_t each,
			  uint8_t *out, bool *ok);
	/* Optional: a pointer to [addr, addr+len) when the backend holds it
	 * in memory already (core files, images); NULL otherwise. */
	const void *(*direct)(struct target *t, uint64_t addr, size_t len);
	/* Optional: the first address in [addr, hi) that may be readable,
	 * or hi; for backends that know where their holes are (core files:
	 * bytes neither dumped nor in a mapped file).  NULL: addr. */
	uint64_t (*skip_unreadable)(struct target *t, uint64_t addr, uint64_t hi);
	/* Re-read mappings (live: /proc/PID/maps). 0 or -1. */
	int (*refresh_maps)(struct target *t);
	/* Release backend state (live: restore and detach first). */
	void (*destroy)(struct target *t);
};

#define CACHE_BLOCK_SHIFT 16
#define CACHE_BLOCK ((size_t)1 << CACHE_BLOCK_SHIFT)
#define CACHE_NBLOCKS 64

struct cache_block {
	uint64_t base;		/* block-aligned address; UINT64_MAX = unused */
	uint64_t gen;		/* valid when == cache gen */
	uint32_t len;		/* bytes valid from base */
	uint32_t lru;
	unsigned char *data;
};

struct mem_cache {
	uint64_t gen;
	uint32_t tick;
	struct cache_block blocks[CACHE_NBLOCKS];
	uint64_t hits, misses, bypass;	/* statistics */
};

struct target {
	const struct target_ops *ops;
	enum target_kind kind;
	pid_t pid;		/* live, core (pr_pid); 0 for images */
	char *exe;		/* path of the main executable, if known */
	char *cmdline;		/* argv joined by spaces, if known */
	struct mapping *maps;
	size_t nmaps;		/* sorted by start, non-overlapping */
	struct target_thread **threads;	/* stable pointers */
	size_t nthreads;	/* threads[0] is the main (or crashing) thread */
	uint64_t *auxv;		/* pairs (type, value), AT_NULL excluded */
	size_t nauxv;
	struct mem_cache cache;
	void *priv;		/* backend state */
};

/* --- construction (each backend) --- */

/* Open a core file; exe_override, if set, is the executable to use
 * instead of the path recorded in the core.  NULL with an hd error:
 * HD_ENOENT/HD_EPERM (cannot open), HD_ENOTCORE, HD_ETRUNC. */
struct target *target_open_core(const char *path, const char *exe_override);

/* Core targets: the libelf handle (Elf *) of the core file, for
 * dwfl_core_file_report; NULL for other targets. */
void *target_core_elf(struct target *t);
/* Core targets: the signal that ended the process (0 if unknown). */
int target_core_signal(struct target *t);
/* Core targets: the i-th warning about the executable (NULL past the
 * last): the executable given does not match the core's build id, the
 * file the core names has another build id (rebuilt since), or it does
 * not exist (give it as EXE).  Said by the front end when the core is
 * opened, and by `info`. */
const char *target_core_warning(struct target *t, size_t i);
/* Core targets: the executable's path as the core records it, or NULL. */
const char *target_core_exe_recorded(struct target *t);
/* May a file a core names be opened (by heapdbg or libdwfl)?  The path
 * is the core's word: only an absolute path that does not exist (libdwfl
 * then goes by build-id), or that is a regular file whose real path is
 * not in /proc or /sys.  A FIFO would block the open, a device never end;
 * /proc/kmsg is a "regular" file whose read blocks, /proc/kcore one the
 * size of the address space; /proc/PID/exe leads to the program. */
bool target_core_path_ok(const char *path);

/* An empty image target; fill it with image_add_*. */
struct target *target_new_image(void);
/* Add a region of memory (copied).  Returns 0 or -1 (overlap). */
int image_add_region(struct target *t, uint64_t addr, const void *data,
		     size_t len, unsigned perms, const char *path);
/* Add a region backed by the caller's buffer, which must outlive t. */
int image_add_region_ref(struct target *t, uint64_t addr, void *data,
			 size_t len, unsigned perms, const char *path);
/* Direct pointer to image memory at addr (for building test heaps), or
 * NULL when [addr, addr+len) is not inside one region. */
void *image_ptr(struct target *t, uint64_t addr, size_t len);
/* Add a thread with the given registers. Returns the thread. */
struct target_thread *image_add_thread(struct target *t, pid_t tid,
				       const hd_regs_t *regs);
void image_set_auxv(struct target *t, const uint64_t *pairs, size_t npairs);

/* Close any target (live ones are detached cleanly first). */
void target_close(struct target *t);

/* --- memory --- */

/* Read exactly len bytes or fail (HD_EIO, message names the address). */
int target_read(struct target *t, uint64_t addr, void *buf, size_t len);
/* Read as many bytes as are readable from addr, up to len; 0 if none. */
size_t target_read_partial(struct target *t, uint64_t addr, void *buf, size_t len);
int target_read_u64(struct target *t, uint64_t addr, uint64_t *val);
int target_read_u32(struct target *t, uint64_t addr, uint32_t *val);
/* Read straight from the backend, bypassing the block cache (no 64 KiB
 * block fill for a small read of memory that is about to change); returns
 * the bytes read. */
size_t target_read_uncached(struct target *t, uint64_t addr, void *buf, size_t len);
/* Read a NUL-terminated string of at most max bytes; caller frees. */
char *target_read_string(struct target *t, uint64_t addr, size_t max);
/* Read n small pieces at once (the live backend batches them into one
 * process_vm_readv per 1024); ok[i] says which succeeded. */
void target_read_many(struct target *t, const uint64_t *addrs, size_t n, size_t each,
		      uint8_t *out, bool *ok);
/* Where a scan that could not read addr should go on: the first address
 * in [addr, hi) that may be readable (hi if none).  Core files know their
 * holes (a terabyte of reserved memory the kernel did not dump is skipped
 * in one step); other backends return addr. */
uint64_t target_skip_unreadable(struct target *t, uint64_t addr, uint64_t hi);
/* Zero-copy access for backends that hold memory (core, image): a
 * pointer valid until the target is closed, or NULL (then read). */
const void *target_direct(struct target *t, uint64_t addr, size_t len);
/* Write (live only); drops the cached blocks it overlaps. */
int target_write(struct target *t, uint64_t addr, const void *buf, size_t len);
/* Drop every cached block (call whenever the target may have run). */
void target_invalidate(struct target *t);

/* --- mappings --- */

const struct mapping *target_find_mapping(const struct target *t, uint64_t addr);
/* True when [addr, addr+len) lies in readable mappings. */
bool target_readable(const struct target *t, uint64_t addr, size_t len);
int target_refresh_maps(struct target *t);
/* Parse /proc/PID/maps text into a sorted array (used by live and tests). */
int maps_parse(const char *text, struct mapping **out, size_t *nout);
void maps_free(struct mapping *maps, size_t n);
/* Insert a mapping keeping the array sorted (backends and images). */
void maps_insert(struct mapping **maps, size_t *n, const struct mapping *m);
/* Base name of a mapping's path, or "" */
const char *mapping_basename(const struct mapping *m);

/* --- threads, registers, auxv --- */

struct target_thread *target_find_thread(struct target *t, pid_t tid);
/* The id to use for per-process access (/proc/ID/maps, memory): a thread
 * that still has the address space.  The leader is a zombie with an empty
 * /proc/PID/maps once it has exited (pthread_exit in main, or past its
 * exit while other threads are still being held at theirs). */
pid_t target_mem_pid(const struct target *t);

/* Registers of a thread, fetched on first use. NULL with error. */
const hd_regs_t *target_regs(struct target *t, struct target_thread *th);
/* Look up an auxv entry; returns true if present. */
bool target_auxv(const struct target *t, uint64_t type, uint64_t *val);

/* The dynamic linker's list of loaded objects, in its search order: from
 * the executable's program headers (AT_PHDR) to PT_DYNAMIC, DT_DEBUG,
 * r_debug.r_map.  Each entry (l_addr, l_name's address, l_ld) goes to fn,
 * which returns false to stop.  Bounded (1024 entries, 512 dynamic tags,
 * 64 program headers); a bad read ends the walk.  Returns the number of
 * entries seen: 0 for a static program or before the loader ran. */
struct link_map_entry {
	uint64_t l_addr, l_name, l_ld;
};
size_t target_link_map(struct target *t, bool (*fn)(void *ctx, const struct link_map_entry *e), void *ctx);
/* The same walk from a struct r_debug at r_debug (the dynamic linker's
 * _r_debug): for a program started as `ld.so ./prog`, whose AT_PHDR is
 * ld.so's own, without DT_DEBUG. */
size_t target_link_map_at(struct target *t, uint64_t r_debug, bool (*fn)(void *ctx, const struct link_map_entry *e),
			  void *ctx);

const char *target_kind_name(enum target_kind k);

/* For backends: common initialisation / teardown of the shared fields. */
void target_init(struct target *t, const struct target_ops *ops, enum target_kind kind);
void target_free_common(struct target *t);
struct target_thread *target_add_thread(struct target *t, pid_t tid);
void target_remove_thread(struct target *t, pid_t tid);

#endif
