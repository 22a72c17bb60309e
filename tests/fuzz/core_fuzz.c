/*
 * core_fuzz.c - libFuzzer harness for the core-file reader and for what
 * heapdbg does with a core.  The input is the core file itself, written
 * to a memfd and opened by its /proc/self/fd path.  When it opens, the
 * harness reads what every layer above the reader reads: each thread's
 * registers, the auxiliary vector, memory at the start, middle and end
 * of every mapping (dumped bytes and bytes from mapped files alike),
 * across mapping boundaries, as strings and in batches; then it runs the
 * commands of a post-mortem session: info (symbols, the allocator), bt
 * all (the unwinder), heap and check (locate and the walk), leaks (the
 * reachability scan) and x.  Any crash, sanitizer report, hang, leak or
 * exit is a bug in the library.
 *
 * Determinism: the seed cores (tests/fuzz/make-core-seeds.py) are of
 * build/fuzz/coreseed and coreseed-static, which `make fuzz` builds next
 * to this harness; a core naming an executable of that name is opened
 * again with the one here, as `heapdbg -c CORE EXE` would.  Other mapped
 * files are read where the core says they are (the system's libc and
 * ld.so for the dynamic seed) or not at all.  Separate debug files are
 * not searched (a directory that does not exist is given as the debug
 * file directory): libc's DWARF costs 0.1 s a run and is not input.
 * The output goes to /dev/null, JSON or text as the input's last byte
 * says; command errors still reach stderr (run with -close_fd_mask=2 to
 * hide them, as scripts/fuzz.sh does).
 *
 * A custom mutator aims most mutations at the headers and notes (below).
 *
 * Build with `make fuzz`, run with scripts/fuzz.sh core.
 */
#include "config.h"
#include "cmd.h"
#include "session.h"
#include "target.h"

#include <elf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static int memfd = -1;
static char core_path[64];
static char exe_dir[PATH_MAX];
static FILE *devnull;

static void
init(void)
{
	ssize_t n;
	char *slash;

	hd_quiet_warnings = true;
	memfd = memfd_create("core_fuzz", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(core_path, sizeof(core_path), "/proc/self/fd/%d", memfd);
	n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);
	if (n <= 0)
		abort();
	exe_dir[n] = 0;
	slash = strrchr(exe_dir, '/');
	if (slash)
		*slash = 0;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
}

/* The executable to open the core with: ours when it names coreseed. */
static char *
seed_exe(const struct target *t)
{
	const char *base;
	char *p;

	if (!t->exe)
		return NULL;
	base = strrchr(t->exe, '/');
	base = base ? base + 1 : t->exe;
	if (strcmp(base, "coreseed") && strcmp(base, "coreseed-static"))
		return NULL;
	p = xasprintf("%s/%s", exe_dir, base);
	if (access(p, R_OK) == 0 && strcmp(p, t->exe))
		return p;
	free(p);
	return NULL;
}

static void
read_memory(struct target *t)
{
	uint8_t buf[512];
	uint64_t addrs[16], v;
	uint8_t out[16 * 8];
	bool ok[16];
	size_t n = 0;

	for (size_t i = 0; i < t->nmaps; i++) {
		const struct mapping *m = &t->maps[i];
		uint64_t len = m->end - m->start;
		uint64_t at[] = { m->start, m->start + len / 2, m->end - MIN(len, sizeof(buf)),
				  m->end - 8, m->end - 4 };
		for (size_t k = 0; k < ARRAY_SIZE(at); k++) {
			(void)target_read_partial(t, at[k], buf, sizeof(buf));	/* may cross into the next */
			(void)target_direct(t, at[k], 16);
		}
		(void)target_read_uncached(t, m->start, buf, MIN(len, sizeof(buf)));
		free(target_read_string(t, m->start, 64));
		if (n < ARRAY_SIZE(addrs))
			addrs[n++] = m->end - 8;
		(void)target_readable(t, m->start, len + 1);
	}
	target_read_many(t, addrs, n, 8, out, ok);
	/* a large read goes around the cache to the backend whole */
	if (t->nmaps) {
		size_t big = 3 * CACHE_BLOCK;
		uint8_t *b = malloc(big);
		if (b) {
			(void)target_read_partial(t, t->maps[0].start, b, big);
			free(b);
		}
	}
	if (target_auxv(t, AT_PHDR, &v))
		(void)target_read_u64(t, v, &v);
	if (target_auxv(t, AT_EXECFN, &v))
		free(target_read_string(t, v, 4096));
	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *r = target_regs(t, t->threads[i]);
		if (r) {
			(void)target_read_partial(t, REG_SP(r), buf, sizeof(buf));
			(void)target_read_partial(t, REG_PC(r), buf, 16);
		}
	}
}

/*
 * Most of a core is memory, so libFuzzer's own mutations (anywhere, often
 * changing the size) rarely touch the headers and notes.  Three times in
 * four a window of up to 64 bytes is mutated in place instead, half the
 * time in the first 16 KiB (the ELF header, the program headers and the
 * notes of the seeds), half the time anywhere (heap chunks, arenas, the
 * link map); the size and so every offset stay as they were.
 */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint64_t r = hash_u64(seed);
	size_t off, len;

	if (size < 256 || r % 4 == 0)
		return LLVMFuzzerMutate(data, size, max_size);
	r >>= 2;
	off = (r & 1) ? (r >> 1) % MIN(size, 16384) : (r >> 1) % size;
	len = MIN(64, size - off);
	LLVMFuzzerMutate(data + off, len, len);
	return size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cmds[] = {
		"info", "bt all", "heap", "check", "leaks", "x $sp 64", "x $pc 16",
	};
	struct target *t;
	struct session *s;
	char *exe;

	if (memfd < 0)
		init();
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	t = target_open_core(core_path, NULL);
	if (!t)
		return 0;
	exe = seed_exe(t);
	if (exe) {
		target_close(t);
		t = target_open_core(core_path, exe);
		free(exe);
		if (!t)
			return 0;
	}
	read_memory(t);

	s = session_new();
	s->batch = true;
	s->quiet = true;
	s->json = size && (data[size - 1] & 1);
	s->debug_dir = xstrdup("/nonexistent/heapdbg-core-fuzz");
	s->em = em_new(devnull, s->json ? EM_JSON : EM_TEXT);
	session_set_target(s, t);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		cmd_run_line(s, cmds[i]);
	session_free(s);
	return 0;
}
