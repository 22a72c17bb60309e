/*
 * target-core.c - the core-file backend: an ELF core read with libelf.
 *
 * PT_LOAD segments give the memory; NT_PRSTATUS one thread each (the
 * first is the thread that crashed); NT_FILE names the mapped files;
 * NT_AUXV and NT_PRPSINFO the rest.  Bytes the kernel did not dump
 * (file-backed text) are read from the mapped files, or from the
 * executable given on the command line when the core's one moved.
 * Everything in the file is validated before use: a truncated or foreign
 * core is an error, never a crash.
 */
#include "config.h"
#include "target.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_SIGINFO
#define NT_SIGINFO 0x53494749
#endif

/* x86-64 struct elf_prstatus layout */
#define PRSTATUS_SIZE 336
#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112
#define PRPSINFO_SIZE 136
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56

struct core_seg {
	uint64_t vaddr, memsz;
	uint64_t offset, filesz;	/* filesz: bytes present in the core */
};

struct core_file {
	uint64_t start, end, pgoff;	/* pgoff in bytes */
	char *path;			/* as recorded */
	int fd;				/* -1 not tried, -2 unavailable */
	uint64_t size;			/* of the file, once open */
	size_t order;			/* index in the note */
};

struct core_priv {
	int fd;
	Elf *elf;
	unsigned char *map;
	size_t size;
	VEC(struct core_seg) segs;	/* sorted by vaddr */
	VEC(struct core_file) files;
	char *exe_override;
	char *exe_recorded;
	int signal;
	struct u64map tids;		/* threads seen while reading the notes */
	VEC(char *) warnings;		/* about the executable */
};

static struct core_priv *
CP(const struct target *t)
{
	return t->priv;
}

void *
target_core_elf(struct target *t)
{
	return t && t->kind == TARGET_CORE ? CP(t)->elf : NULL;
}

int
target_core_signal(struct target *t)
{
	return t && t->kind == TARGET_CORE ? CP(t)->signal : 0;
}

static bool
in_pseudo_fs(const char *path)
{
	return !strncmp(path, "/proc/", 6) || !strcmp(path, "/proc") || !strncmp(path, "/sys/", 5) ||
	       !strcmp(path, "/sys");
}

const char *
target_core_warning(struct target *t, size_t i)
{
	if (!t || t->kind != TARGET_CORE || i >= CP(t)->warnings.n)
		return NULL;
	return CP(t)->warnings.v[i];
}

const char *
target_core_exe_recorded(struct target *t)
{
	return t && t->kind == TARGET_CORE ? CP(t)->exe_recorded : NULL;
}

bool
target_core_path_ok(const char *path)
{
	struct stat st;
	char *real;
	bool ok;

	if (!path || path[0] != '/')
		return false;
	if (stat(path, &st) < 0)
		return true;	/* nothing there: libdwfl goes by build-id */
	if (!S_ISREG(st.st_mode))
		return false;
	/* where it leads: /proc/PID/exe is the program's file, while
	 * /proc/kmsg blocks a read (it is a "regular" file) */
	real = realpath(path, NULL);
	ok = real && !in_pseudo_fs(real);
	free(real);
	return ok;
}

/* Open a mapped file the core names: target_core_path_ok, and a regular
 * file once open. */
static int
open_mapped(const char *path, uint64_t *size)
{
	struct stat st;
	int fd;

	if (!target_core_path_ok(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int
file_fd(struct core_priv *cp, struct core_file *f)
{
	if (f->fd == -1) {
		const char *path = f->path;
		if (cp->exe_override && cp->exe_recorded && !strcmp(f->path, cp->exe_recorded))
			path = cp->exe_override;
		f->fd = open_mapped(path, &f->size);
		if (f->fd < 0 && cp->exe_override) {
			/* a moved library: look beside the executable given */
			const char *base = strrchr(f->path, '/');
			char *dir = xstrdup(cp->exe_override), *slash = strrchr(dir, '/');
			if (base && slash) {
				char *alt;
				*slash = 0;
				alt = xasprintf("%s/%s", dir, base + 1);
				f->fd = open_mapped(alt, &f->size);
				free(alt);
			}
			free(dir);
		}
		if (f->fd < 0)
			f->fd = -2;
	}
	return f->fd;
}

/* The NT_FILE entry holding addr (files sorted by start), or NULL.  With
 * overlapping entries (only a corrupted core has them) one that holds
 * addr is found when the one starting last before addr does. */
/* The index of the first NT_FILE entry starting after addr. */
static size_t
files_after(const struct core_priv *cp, uint64_t addr)
{
	size_t lo = 0, hi = cp->files.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp->files.v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct core_file *
find_file(struct core_priv *cp, uint64_t addr)
{
	size_t lo = files_after(cp, addr);
	if (lo == 0 || addr >= cp->files.v[lo - 1].end)
		return NULL;
	return &cp->files.v[lo - 1];
}

/* Read bytes of addr that the core does not hold from the mapped file. */
static size_t
read_from_file(struct core_priv *cp, uint64_t addr, void *buf, size_t len)
{
	struct core_file *f = find_file(cp, addr);
	uint64_t off;
	int fd;
	ssize_t n;

	if (!f)
		return 0;
	fd = file_fd(cp, f);
	if (fd < 0)
		return 0;
	len = MIN(len, f->end - addr);
	off = f->pgoff + (addr - f->start);
	if (off < f->pgoff || off > INT64_MAX || len > INT64_MAX - off)
		return 0;	/* no file is that long */
	n = pread(fd, buf, len, (off_t)off);
	if (n <= 0)
		return 0;
	if ((size_t)n < len) {
		/* beyond the file's end inside the mapping: zero fill, as
		 * the kernel maps it */
		memset((char *)buf + n, 0, len - n);
	}
	return len;
}

static int seg_cmp(const void *a, const void *b);

/* The permissions the file's own program headers give the bytes at file
 * offset off (the PT_LOAD that maps them), or -1 when the file is not an
 * ELF object that maps them. */
static int
file_perms(struct core_priv *cp, struct core_file *f, uint64_t off)
{
	Elf64_Ehdr eh;
	int fd = file_fd(cp, f);

	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
		return -1;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t lo, hi;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return -1;
		if (ph.p_type != PT_LOAD || ph.p_offset > UINT64_MAX - ph.p_filesz - 4096)
			continue;
		lo = ALIGN_DOWN(ph.p_offset, 4096);
		hi = ALIGN_UP(ph.p_offset + ph.p_filesz, 4096);
		if (off >= lo && off < hi)
			return (ph.p_flags & PF_R ? MAP_PERM_R : 0) | (ph.p_flags & PF_W ? MAP_PERM_W : 0) |
			       (ph.p_flags & PF_X ? MAP_PERM_X : 0) | MAP_PERM_P;
	}
	return -1;
}

/*
 * File mappings that NT_FILE names but no PT_LOAD covers: gdb's gcore
 * leaves out unmodified text altogether (the kernel writes a PT_LOAD
 * without bytes).  Each becomes a mapping whose bytes come from the file,
 * with the permissions the file's program headers give it, so that code
 * addresses are known as such on either kind of core (memcheck's vtable
 * test asks whether a word points into executable file memory).
 */
static void
add_file_gaps(struct target *t, struct core_priv *cp)
{
	size_t nfiles = cp->files.n;

	for (size_t i = 0; i < nfiles; i++) {
		struct core_file *f = &cp->files.v[i];
		uint64_t a = f->start;
		while (a < f->end) {
			const struct mapping *m = target_find_mapping(t, a);
			uint64_t b = f->end;
			int perms;
			if (m) {
				a = m->end;
				continue;
			}
			for (size_t k = 0; k < t->nmaps; k++)
				if (t->maps[k].start > a) {
					b = MIN(b, t->maps[k].start);
					break;
				}
			perms = file_perms(cp, f, f->pgoff + (a - f->start));
			if (perms >= 0) {
				struct mapping nm;
				struct core_seg sg = { a, b - a, 0, 0 };
				memset(&nm, 0, sizeof(nm));
				nm.start = a;
				nm.end = b;
				nm.perms = (unsigned)perms;
				nm.path = xstrdup(f->path);
				nm.offset = f->pgoff + (a - f->start);
				maps_insert(&t->maps, &t->nmaps, &nm);
				vec_push(&cp->segs, sg);
			}
			a = b;
		}
	}
	if (cp->segs.n > 1)
		qsort(cp->segs.v, cp->segs.n, sizeof(*cp->segs.v), seg_cmp);
}

/* The first segment ending after addr, or NULL. */
static struct core_seg *
seg_at_or_after(struct core_priv *cp, uint64_t addr)
{
	size_t lo = 0, hi = cp->segs.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct core_seg *s = &cp->segs.v[mid];
		if (addr - s->vaddr < s->memsz || addr < s->vaddr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < cp->segs.n ? &cp->segs.v[lo] : NULL;
}

/* The segment holding addr, or NULL (segments are sorted and never
 * overlap: the first one ending after addr holds it if it starts by then). */
static struct core_seg *
find_seg(struct core_priv *cp, uint64_t addr)
{
	struct core_seg *s = seg_at_or_after(cp, addr);
	return s && addr >= s->vaddr ? s : NULL;
}

static ssize_t
core_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct core_priv *cp = CP(t);
	size_t done = 0;

	while (done < len) {
		uint64_t a = addr + done;
		struct core_seg *s = find_seg(cp, a);
		uint64_t off;
		size_t n;

		if (!s)
			break;
		off = a - s->vaddr;
		if (off < s->filesz) {
			n = MIN(len - done, s->filesz - off);
			memcpy((char *)buf + done, cp->map + s->offset + off, n);
		} else {
			size_t want = MIN(len - done, s->memsz - off);
			n = read_from_file(cp, a, (char *)buf + done, want);
			if (n == 0)
				break;
		}
		done += n;
	}
	if (done == 0)
		return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64 " (not in the core file)", addr);
	return done;
}

/* Bytes are readable where a segment has them or a mapped file that
 * opens covers them (up to the file's end); everything else is a hole,
 * skipped in one step. */
static uint64_t
core_skip_unreadable(struct target *t, uint64_t addr, uint64_t hi)
{
	struct core_priv *cp = CP(t);

	while (addr < hi) {
		struct core_seg *s = seg_at_or_after(cp, addr);
		struct core_file *f;
		uint64_t next;

		if (!s)
			return hi;
		if (addr < s->vaddr) {
			addr = s->vaddr;
			continue;
		}
		if (addr - s->vaddr < s->filesz)
			return addr;
		f = find_file(cp, addr);
		if (f && file_fd(cp, f) >= 0) {
			/* the file's bytes, to its end (page-rounded) */
			uint64_t off = f->pgoff + (addr - f->start);
			if (off >= f->pgoff && off < ALIGN_UP(f->size, 4096))
				return addr;
			next = MIN(f->end, s->vaddr + s->memsz);	/* > addr */
			addr = next;
			continue;
		}
		/* up to the end of the segment or the next file in it */
		next = s->vaddr + s->memsz;
		{
			size_t lo = files_after(cp, addr);
			if (lo < cp->files.n)
				next = MIN(next, cp->files.v[lo].start);
		}
		if (next <= addr)
			return hi;	/* (a segment reaching 2^64) */
		addr = next;
	}
	return hi;
}

static const void *
core_direct(struct target *t, uint64_t addr, size_t len)
{
	struct core_priv *cp = CP(t);
	struct core_seg *s = find_seg(cp, addr);
	if (!s || addr - s->vaddr + len > s->filesz)
		return NULL;
	return cp->map + s->offset + (addr - s->vaddr);
}

static int
core_get_regs(struct target *t, struct target_thread *th)
{
	return hd_fail(HD_ENOTSUP, "no registers for thread %d in the core", th->tid);
}

static void
core_destroy(struct target *t)
{
	struct core_priv *cp = CP(t);
	if (!cp)
		return;
	for (size_t i = 0; i < cp->files.n; i++) {
		if (cp->files.v[i].fd >= 0)
			close(cp->files.v[i].fd);
		free(cp->files.v[i].path);
	}
	vec_free(&cp->files);
	vec_free(&cp->segs);
	for (size_t i = 0; i < cp->warnings.n; i++)
		free(cp->warnings.v[i]);
	vec_free(&cp->warnings);
	u64map_free(&cp->tids);
	if (cp->elf)
		elf_end(cp->elf);
	if (cp->map && cp->map != MAP_FAILED)
		munmap(cp->map, cp->size);
	if (cp->fd >= 0)
		close(cp->fd);
	free(cp->exe_override);
	free(cp->exe_recorded);
	free(cp);
	t->priv = NULL;
}

static const struct target_ops core_ops = {
	.name = "core",
	.read = core_read,
	.direct = core_direct,
	.skip_unreadable = core_skip_unreadable,
	.get_regs = core_get_regs,
	.destroy = core_destroy,
};

static const char *
machine_name(unsigned m)
{
	switch (m) {
	case EM_386: return "i386";
	case EM_X86_64: return "x86-64";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	case EM_RISCV: return "riscv";
	case EM_MIPS: return "mips";
	}
	return "an unknown machine";
}

/*
 * libdwfl (symbols.c) opens the files NT_FILE names itself, with a plain
 * open(): a path that is a FIFO would block it forever, a device would
 * never end.  A name target_core_path_ok refuses is cut to "" in our
 * private copy-on-write mapping of the core, which is what libdwfl reads;
 * we keep the name.
 */
static void
hide_from_libdwfl(const char *name)
{
	uintptr_t page = (uintptr_t)name & ~(uintptr_t)4095;
	size_t len = (uintptr_t)name + 1 - page;

	if (name[0] != '/' || target_core_path_ok(name))
		return;
	if (mprotect((void *)page, len, PROT_READ | PROT_WRITE) < 0)
		return;
	*(char *)name = 0;
	mprotect((void *)page, len, PROT_READ);
}

/* The same for the names in the dynamic linker's list of loaded objects
 * (r_debug through the executable's DT_DEBUG), which libdwfl reads from
 * the core's memory and opens too. */
static bool
hide_link_map_name(void *ctx, const struct link_map_entry *e)
{
	struct target *t = ctx;
	const struct mapping *m = target_find_mapping(t, e->l_name);
	const char *name;
	size_t avail;

	/* only a name held in the core itself, NUL-terminated there */
	if (!m || e->l_name - m->start >= m->dumped)
		return true;
	avail = MIN(m->dumped - (e->l_name - m->start), 4096);
	name = target_direct(t, e->l_name, avail);
	if (name && memchr(name, 0, avail))
		hide_from_libdwfl(name);
	return true;
}

static void
hide_link_map_names(struct target *t)
{
	target_link_map(t, hide_link_map_name, t);
}

static int
parse_nt_file(struct core_priv *cp, const unsigned char *d, size_t sz)
{
	uint64_t count, pagesz;
	size_t tab, p;

	if (sz < 16)
		return hd_fail(HD_EFORMAT, "corrupted NT_FILE note");
	memcpy(&count, d, 8);
	memcpy(&pagesz, d + 8, 8);
	if (count > sz / 24 || pagesz == 0 || pagesz > (1u << 30))
		return hd_fail(HD_EFORMAT, "corrupted NT_FILE note");
	tab = 16;
	p = tab + count * 24;
	for (uint64_t i = 0; i < count; i++) {
		struct core_file f;
		uint64_t v[3];
		size_t l;
		memcpy(v, d + tab + i * 24, 24);
		if (p >= sz)
			return hd_fail(HD_EFORMAT, "corrupted NT_FILE note (names)");
		l = strnlen((const char *)d + p, sz - p);
		if (p + l >= sz)
			return hd_fail(HD_EFORMAT, "corrupted NT_FILE note (names)");
		if (v[1] < v[0] || v[2] > UINT64_MAX / pagesz)
			return hd_fail(HD_EFORMAT, "corrupted NT_FILE note (ranges)");
		f.start = v[0];
		f.end = v[1];
		f.pgoff = v[2] * pagesz;
		f.path = xstrndup((const char *)d + p, l);
		f.fd = -1;
		f.size = 0;
		f.order = cp->files.n;
		vec_push(&cp->files, f);
		hide_from_libdwfl((const char *)d + p);
		p += l + 1;
	}
	return 0;
}

static int
parse_notes(struct target *t, const unsigned char *d, size_t sz)
{
	struct core_priv *cp = CP(t);
	size_t off = 0;

	while (off + 12 <= sz) {
		uint32_t namesz, descsz, type;
		size_t name_off, desc_off, next;
		const unsigned char *desc;

		memcpy(&namesz, d + off, 4);
		memcpy(&descsz, d + off + 4, 4);
		memcpy(&type, d + off + 8, 4);
		name_off = off + 12;
		desc_off = name_off + ALIGN_UP((uint64_t)namesz, 4);
		next = desc_off + ALIGN_UP((uint64_t)descsz, 4);
		if (namesz > sz || descsz > sz || desc_off > sz || next > sz || desc_off + descsz > sz)
			return hd_fail(HD_ETRUNC, "truncated or corrupted note in the core file");
		desc = d + desc_off;
		/* only "CORE" and "LINUX" notes */
		if (namesz >= 5 && !memcmp(d + name_off, "CORE", 4)) {
			switch (type) {
			case NT_PRSTATUS: {
				struct target_thread *th;
				bool created;
				int32_t pid;
				int16_t cursig;
				if (descsz < PRSTATUS_REG + sizeof(hd_regs_t))
					return hd_fail(HD_EFORMAT, "NT_PRSTATUS note has %u bytes, expected %d "
						       "(a core for another architecture?)", descsz, PRSTATUS_SIZE);
				memcpy(&pid, desc + PRSTATUS_PID, 4);
				memcpy(&cursig, desc + PRSTATUS_CURSIG, 2);
				u64map_slot(&cp->tids, (uint32_t)pid, &created);
				if (!created)
					break;	/* duplicate: keep the first */
				th = target_add_thread(t, pid);
				memcpy(&th->regs, desc + PRSTATUS_REG, sizeof(hd_regs_t));
				th->regs_valid = true;
				th->signal = cursig;
				if (t->nthreads == 1) {
					t->pid = pid;
					cp->signal = cursig;
				}
				break;
			}
			case NT_PRPSINFO:
				if (descsz >= PRPSINFO_SIZE) {
					free(t->cmdline);
					t->cmdline = xstrndup((const char *)desc + PRPSINFO_PSARGS, 80);
					for (char *c = t->cmdline + strlen(t->cmdline); c > t->cmdline && c[-1] == ' ';)
						*--c = 0;
				}
				break;
			case NT_AUXV: {
				size_t n = descsz / 16;
				free(t->auxv);
				t->auxv = xreallocarray(NULL, n ? n * 2 : 1, sizeof(uint64_t));
				memcpy(t->auxv, desc, n * 16);
				t->nauxv = n;
				for (size_t i = 0; i < n; i++)
					if (t->auxv[2 * i] == AT_NULL) {
						t->nauxv = i;
						break;
					}
				break;
			}
			case NT_FILE:
				if (parse_nt_file(cp, desc, descsz) < 0)
					return -1;
				break;
			}
		}
		off = next;
	}
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct core_seg *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int
map_cmp(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* NT_FILE entries by start; equal starts keep the note's order. */
static int
file_cmp(const void *a, const void *b)
{
	const struct core_file *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- the executable's build id, in the core and in a file ---- */

#define BUILD_ID_MAX 64

/* Bytes the core itself holds at addr (never the mapped file's: with
 * an EXE given those are EXE's own), or NULL. */
static const unsigned char *
dumped(struct core_priv *cp, uint64_t addr, uint64_t len)
{
	struct core_seg *s = find_seg(cp, addr);
	if (!s || len > s->filesz || addr - s->vaddr > s->filesz - len)
		return NULL;
	return cp->map + s->offset + (addr - s->vaddr);
}

/* The NT_GNU_BUILD_ID descriptor in a run of ELF notes, or 0. */
static size_t
notes_build_id(const unsigned char *d, uint64_t sz, unsigned char out[BUILD_ID_MAX])
{
	uint64_t off = 0;

	while (off + 12 <= sz) {
		uint32_t namesz, descsz, type;
		uint64_t desc_off, next;
		memcpy(&namesz, d + off, 4);
		memcpy(&descsz, d + off + 4, 4);
		memcpy(&type, d + off + 8, 4);
		desc_off = off + 12 + ALIGN_UP((uint64_t)namesz, 4);
		next = desc_off + ALIGN_UP((uint64_t)descsz, 4);
		if (desc_off > sz || descsz > sz - desc_off)
			return 0;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(d + off + 12, "GNU", 4) && descsz &&
		    descsz <= BUILD_ID_MAX) {
			memcpy(out, d + desc_off, descsz);
			return descsz;
		}
		off = next;
	}
	return 0;
}

/* The build id of the executable as the core holds it: the ELF header
 * and program headers at the start of its first mapping (dumped by
 * default: coredump_filter bit 4, and by gdb's gcore), then its PT_NOTE
 * segments.  0 when the core does not have those bytes. */
static size_t
core_exe_build_id(struct core_priv *cp, unsigned char out[BUILD_ID_MAX])
{
	const struct core_file *f = NULL;
	const unsigned char *eh, *ph;
	Elf64_Ehdr e;
	uint64_t bias = 0;
	bool have_bias = false;

	if (!cp->exe_recorded)
		return 0;
	for (size_t i = 0; i < cp->files.n && !f; i++)
		if (cp->files.v[i].pgoff == 0 && !strcmp(cp->files.v[i].path, cp->exe_recorded))
			f = &cp->files.v[i];
	if (!f || !(eh = dumped(cp, f->start, sizeof(e))))
		return 0;
	memcpy(&e, eh, sizeof(e));
	if (memcmp(e.e_ident, ELFMAG, SELFMAG) || e.e_ident[EI_CLASS] != ELFCLASS64 ||
	    e.e_phentsize != sizeof(Elf64_Phdr) || e.e_phnum == 0 || e.e_phnum > 256 || e.e_phoff > 65536)
		return 0;
	ph = dumped(cp, f->start + e.e_phoff, (uint64_t)e.e_phnum * sizeof(Elf64_Phdr));
	if (!ph)
		return 0;
	for (int i = 0; i < e.e_phnum && !have_bias; i++) {
		Elf64_Phdr p;
		memcpy(&p, ph + i * sizeof(p), sizeof(p));
		if (p.p_type == PT_LOAD && p.p_offset == 0) {
			bias = f->start - (p.p_vaddr & ~(uint64_t)4095);
			have_bias = true;
		}
	}
	if (!have_bias)
		return 0;
	for (int i = 0; i < e.e_phnum; i++) {
		Elf64_Phdr p;
		const unsigned char *d;
		size_t n;
		memcpy(&p, ph + i * sizeof(p), sizeof(p));
		if (p.p_type != PT_NOTE || p.p_filesz > 65536)
			continue;
		d = dumped(cp, bias + p.p_vaddr, p.p_filesz);
		if (d && (n = notes_build_id(d, p.p_filesz, out)))
			return n;
	}
	return 0;
}

/* The build id of an ELF file on disk (its PT_NOTE segments), or 0. */
static size_t
file_build_id(const char *path, unsigned char out[BUILD_ID_MAX])
{
	int fd = open_regular(path, HD_EFORMAT, NULL);
	Elf *elf;
	size_t phnum, n = 0;

	if (fd < 0) {
		hd_clear_error();
		return 0;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &phnum) == 0) {
		for (size_t i = 0; i < phnum && !n; i++) {
			GElf_Phdr p;
			Elf_Data *d;
			if (!gelf_getphdr(elf, (int)i, &p) || p.p_type != PT_NOTE)
				continue;
			d = elf_getdata_rawchunk(elf, p.p_offset, p.p_filesz, ELF_T_BYTE);
			if (d && d->d_buf)
				n = notes_build_id(d->d_buf, d->d_size, out);
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return n;
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	out[2 * n] = 0;
}

/* Compare the executable heapdbg will use with the one the core was
 * made of, as gdb does; keep what does not match as a warning. */
static void
check_exe(struct core_priv *cp, const char *core_path)
{
	unsigned char in_core[BUILD_ID_MAX], in_file[BUILD_ID_MAX];
	char hc[2 * BUILD_ID_MAX + 1], hf[2 * BUILD_ID_MAX + 1];
	size_t nc, nf;
	const char *exe = cp->exe_override ? cp->exe_override : cp->exe_recorded;
	struct stat st;

	if (!exe)
		return;
	if (!cp->exe_override && exe[0] == '/' && stat(exe, &st) < 0) {
		vec_push(&cp->warnings, xasprintf("the core names the executable %s, which does not exist (moved "
						   "or deleted?): give it as EXE, `heapdbg -c %s EXE`, for its "
						   "symbols", exe, core_path));
		return;
	}
	if (!cp->exe_override && !target_core_path_ok(exe)) {
		vec_push(&cp->warnings, xasprintf("the core names the executable %s, which is not a regular file "
						   "outside /proc and /sys: not read; give the executable as EXE, "
						   "`heapdbg -c %s EXE`, for its symbols", exe, core_path));
		return;
	}
	nc = core_exe_build_id(cp, in_core);
	if (!nc)
		return;
	if (access(exe, R_OK) < 0)
		return;
	nf = file_build_id(exe, in_file);
	if (nf == nc && !memcmp(in_core, in_file, nc))
		return;
	hex(in_core, nc, hc);
	if (nf)
		hex(in_file, nf, hf);
	else
		snprintf(hf, sizeof(hf), "none");
	if (cp->exe_override)
		vec_push(&cp->warnings, xasprintf("core file may not match the executable given: %s has build id "
						   "%s, the core's executable (%s) had %s; symbols and stacks "
						   "may be wrong", exe, hf, cp->exe_recorded ? cp->exe_recorded :
						   "?", hc));
	else
		vec_push(&cp->warnings, xasprintf("core file may not match %s, the executable it names: its build "
						   "id is %s, the core's is %s (rebuilt since?); give the "
						   "matching executable as EXE, `heapdbg -c %s EXE`", exe, hf, hc,
						   core_path));
}

struct target *
target_open_core(const char *path, const char *exe_override)
{
	struct target *t;
	struct core_priv *cp;
	struct stat st;
	GElf_Ehdr eh;
	size_t phnum;
	uint64_t missing = 0, needed = 0;
	unsigned char ident[EI_NIDENT];
	VEC(struct mapping) maps = { 0 };

	elf_version(EV_CURRENT);
	t = xmalloc(sizeof(*t));
	target_init(t, &core_ops, TARGET_CORE);
	cp = xcalloc(1, sizeof(*cp));
	cp->fd = -1;
	u64map_init(&cp->tids);
	t->priv = cp;

	/* a FIFO or a device would block open(2) or read(2) forever */
	cp->fd = open_regular(path, HD_ENOTCORE, &st);
	if (cp->fd < 0)
		goto fail;
	cp->size = st.st_size;
	if (cp->size < EI_NIDENT || pread(cp->fd, ident, EI_NIDENT, 0) != EI_NIDENT ||
	    memcmp(ident, ELFMAG, SELFMAG)) {
		hd_fail(HD_ENOTCORE, "%s: not a core file (not an ELF file)", path);
		goto fail;
	}
	if (ident[EI_CLASS] != ELFCLASS64) {
		hd_fail(HD_ENOTCORE, "%s: a 32-bit ELF file; heapdbg reads x86-64 core files", path);
		goto fail;
	}
	if (ident[EI_DATA] != ELFDATA2LSB) {
		hd_fail(HD_ENOTCORE, "%s: a big-endian ELF file; heapdbg reads x86-64 core files", path);
		goto fail;
	}
	cp->map = mmap(NULL, cp->size, PROT_READ, MAP_PRIVATE, cp->fd, 0);
	if (cp->map == MAP_FAILED) {
		cp->map = NULL;
		hd_fail_errno(HD_EGENERIC, errno, "%s: mmap", path);
		goto fail;
	}
	cp->elf = elf_memory((char *)cp->map, cp->size);
	if (!cp->elf || elf_kind(cp->elf) != ELF_K_ELF || !gelf_getehdr(cp->elf, &eh)) {
		hd_fail(HD_ENOTCORE, "%s: not a core file (%s)", path,
			cp->elf ? elf_errmsg(-1) : "unreadable ELF header");
		goto fail;
	}
	if (eh.e_type != ET_CORE) {
		hd_fail(HD_ENOTCORE, "%s: not a core file (an ELF %s)", path,
			eh.e_type == ET_EXEC ? "executable" : eh.e_type == ET_DYN ? "shared object or PIE executable" :
			eh.e_type == ET_REL ? "object file" : "file of another type");
		goto fail;
	}
	if (eh.e_machine != EM_X86_64) {
		hd_fail(HD_ENOTCORE, "%s: a core file for %s; heapdbg reads x86-64 core files", path,
			machine_name(eh.e_machine));
		goto fail;
	}
	if (eh.e_phoff > cp->size || elf_getphdrnum(cp->elf, &phnum) < 0 ||
	    eh.e_phoff + (uint64_t)phnum * sizeof(Elf64_Phdr) > cp->size) {
		hd_fail(HD_ETRUNC, "%s: truncated core file (program headers missing)", path);
		goto fail;
	}
	if (phnum == 0) {
		hd_fail(HD_ENOTCORE, "%s: core file with no program headers", path);
		goto fail;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(cp->elf, (int)i, &ph)) {
			hd_fail(HD_EFORMAT, "%s: corrupted program header %zu", path, i);
			goto fail;
		}
		if (ph.p_type == PT_LOAD) {
			struct core_seg s = { ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz };
			struct mapping m;
			if (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr) {
				hd_fail(HD_EFORMAT, "%s: corrupted PT_LOAD segment at 0x%" PRIx64, path,
					(uint64_t)ph.p_vaddr);
				goto fail;
			}
			if (ph.p_offset > UINT64_MAX - ph.p_filesz) {
				hd_fail(HD_EFORMAT, "%s: corrupted PT_LOAD segment at 0x%" PRIx64
					" (offset and size beyond 2^64)", path, (uint64_t)ph.p_vaddr);
				goto fail;
			}
			needed = MAX(needed, ph.p_offset + ph.p_filesz);
			if (ph.p_offset >= cp->size) {
				missing += ph.p_filesz;
				s.filesz = 0;
			} else if (ph.p_filesz > cp->size - ph.p_offset) {
				missing += ph.p_offset + ph.p_filesz - cp->size;
				s.filesz = cp->size - ph.p_offset;
			}
			if (ph.p_memsz == 0)
				continue;
			vec_push(&cp->segs, s);
			memset(&m, 0, sizeof(m));
			m.start = ph.p_vaddr;
			m.end = ph.p_vaddr + ph.p_memsz;
			m.perms = (ph.p_flags & PF_R ? MAP_PERM_R : 0) | (ph.p_flags & PF_W ? MAP_PERM_W : 0) |
				  (ph.p_flags & PF_X ? MAP_PERM_X : 0) | MAP_PERM_P;
			m.dumped = s.filesz;
			vec_push(&maps, m);
		} else if (ph.p_type == PT_NOTE) {
			if (ph.p_offset > cp->size || ph.p_filesz > cp->size - ph.p_offset) {
				hd_fail(HD_ETRUNC, "%s: truncated core file: notes end at byte %" PRIu64
					" but the file has %zu bytes", path, (uint64_t)(ph.p_offset + ph.p_filesz), cp->size);
				goto fail;
			}
			if (parse_notes(t, cp->map + ph.p_offset, ph.p_filesz) < 0) {
				hd_fail_context("%s", path);
				goto fail;
			}
		}
	}
	if (missing) {
		hd_fail(HD_ETRUNC, "%s: truncated core file: %zu bytes, %" PRIu64 " expected (%" PRIu64
			" bytes of memory missing)", path, cp->size, needed, missing);
		goto fail;
	}
	if (t->nthreads == 0) {
		hd_fail(HD_EFORMAT, "%s: core file without any thread (no NT_PRSTATUS note)", path);
		goto fail;
	}
	/* sorted once (a core may have tens of thousands of segments), and
	 * never overlapping: every reader of the mapping table relies on it */
	if (cp->segs.n > 1)
		qsort(cp->segs.v, cp->segs.n, sizeof(*cp->segs.v), seg_cmp);
	if (maps.n > 1)
		qsort(maps.v, maps.n, sizeof(*maps.v), map_cmp);
	for (size_t i = 1; i < maps.n; i++) {
		if (maps.v[i].start < maps.v[i - 1].end) {
			hd_fail(HD_EFORMAT, "%s: corrupted core file: PT_LOAD segments at 0x%" PRIx64
				" and 0x%" PRIx64 " overlap", path, maps.v[i - 1].start, maps.v[i].start);
			goto fail;
		}
	}
	t->maps = maps.v;
	t->nmaps = maps.n;
	maps.v = NULL;
	maps.n = 0;
	if (cp->files.n) {
		/* the first file mapping is the executable when auxv does not say */
		cp->exe_recorded = xstrdup(cp->files.v[0].path);
		if (cp->files.n > 1)
			qsort(cp->files.v, cp->files.n, sizeof(*cp->files.v), file_cmp);
	}

	/* names and file offsets of the mappings, from NT_FILE */
	for (size_t i = 0; i < t->nmaps; i++) {
		struct mapping *m = &t->maps[i];
		struct core_file *f = find_file(cp, m->start);
		if (f) {
			m->path = xstrdup(f->path);
			m->offset = f->pgoff + (m->start - f->start);
		}
	}
	add_file_gaps(t, cp);
	/* the executable: the file mapping holding AT_PHDR (or AT_ENTRY) */
	{
		uint64_t a = 0;
		struct core_file *f = NULL;
		if (target_auxv(t, AT_PHDR, &a) || target_auxv(t, AT_ENTRY, &a))
			f = find_file(cp, a);
		if (f) {
			free(cp->exe_recorded);
			cp->exe_recorded = xstrdup(f->path);
		}
	}
	if (exe_override) {
		if (access(exe_override, R_OK) < 0) {
			hd_fail_errno(errno == ENOENT ? HD_ENOENT : HD_EPERM, errno, "%s", exe_override);
			goto fail;
		}
		cp->exe_override = xstrdup(exe_override);
		t->exe = xstrdup(exe_override);
	} else if (cp->exe_recorded) {
		t->exe = xstrdup(cp->exe_recorded);
	}
	check_exe(cp, path);
	hide_link_map_names(t);
	return t;
fail:
	vec_free(&maps);
	target_close(t);
	return NULL;
}
