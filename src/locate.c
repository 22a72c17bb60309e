/*
 * locate.c - find the allocator and glibc malloc's state in a target
 * (see locate.h).  Every candidate address is validated against the
 * target's memory before it is used; the methods follow
 * ../shared/ptmalloc-facts.md: symbols first, then pwndbg's static-image
 * pattern, then runtime scans.
 */
#include "config.h"
#include "locate.h"
#include "layout-cache.h"
#include "ptmalloc.h"

#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef R_X86_64_TPOFF64
#define R_X86_64_TPOFF64 18
#endif
#ifndef R_X86_64_RELATIVE
#define R_X86_64_RELATIVE 8
#endif

struct layout_check;
static void layout_check_join(struct layout_check *lc);

const char *
allocator_name(enum allocator_kind k)
{
	switch (k) {
	case ALLOC_GLIBC: return "glibc-ptmalloc";
	case ALLOC_JEMALLOC: return "jemalloc";
	case ALLOC_TCMALLOC: return "tcmalloc";
	case ALLOC_MIMALLOC: return "mimalloc";
	case ALLOC_MUSL: return "musl";
	case ALLOC_SANITIZER: return "sanitizer";
	case ALLOC_UNKNOWN: return "unknown";
	}
	return "unknown";
}

size_t
malloc_count_arenas(struct target *t, const struct malloc_info *mi)
{
	uint64_t a = mi->main_arena, seen[64];
	size_t n = 0;

	if (mi->allocator != ALLOC_GLIBC || !a || mi->L.ms_next < 0)
		return 0;
	for (;;) {
		uint64_t next;
		n++;
		if (n >= 4096 || target_read_u64(t, a + (uint64_t)mi->L.ms_next, &next) < 0 || !next || (next & 7) ||
		    next == mi->main_arena)
			return n;
		/* a ring that loops without passing main_arena: stop at a
		 * repeat among the last 64 arenas */
		for (size_t i = 0; i < MIN(n - 1, ARRAY_SIZE(seen)); i++)
			if (seen[i] == next)
				return n;
		seen[(n - 1) % ARRAY_SIZE(seen)] = next;
		a = next;
	}
}

void
malloc_info_free(struct malloc_info *mi)
{
	if (!mi)
		return;
	if (mi->layout_check)
		layout_check_join(mi->layout_check);
	free(mi->provider);
	free(mi->detail);
	free(mi->libc_path);
	free(mi->layout_problem);
	vec_free(&mi->tcaches);
	for (size_t i = 0; i < mi->notes.n; i++)
		free(mi->notes.v[i]);
	vec_free(&mi->notes);
	free(mi);
}

uint64_t
mi_mp(const struct malloc_info *mi, int32_t off)
{
	if (off < 0 || (size_t)off + 8 > sizeof(mi->mp_bytes))
		return 0;
	return ptm_rd64(mi->mp_bytes + off);
}

static void
note(struct malloc_info *mi, const char *fmt, ...) PRINTF(2, 3);

static void
note(struct malloc_info *mi, const char *fmt, ...)
{
	struct sbuf sb;
	va_list ap;
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	vec_push(&mi->notes, sb_steal(&sb));
}

/* ---- modules and ELF files ---- */

struct module {
	Dwfl_Module *mod;
	const char *name;	/* as reported */
	uint64_t start, end, bias;
	Elf *elf;		/* main file (may be NULL) */
	const unsigned char *raw;	/* the file's bytes */
	size_t rawsize;
};

static bool
get_module(struct symbols *s, Dwfl_Module *mod, struct module *m)
{
	Dwarf_Addr start, end, bias = 0;
	memset(m, 0, sizeof(*m));
	m->mod = mod;
	m->name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	m->start = start;
	m->end = end;
	m->elf = dwfl_module_getelf(mod, &bias);
	m->bias = bias;
	if (m->elf) {
		size_t sz = 0;
		m->raw = (const unsigned char *)elf_rawfile(m->elf, &sz);
		m->rawsize = sz;
	}
	return m->elf != NULL;
}

static const char *
base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : (p ? p : "");
}

/* Section by name: header and file bytes (NULL for NOBITS). */
static bool
find_section(const struct module *m, const char *name, GElf_Shdr *out, const unsigned char **data)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (!m->elf || elf_getshdrstrndx(m->elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;
		const char *n;
		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(m->elf, shstrndx, sh.sh_name);
		if (!n || strcmp(n, name))
			continue;
		*out = sh;
		*data = NULL;
		if (sh.sh_type != SHT_NOBITS && m->raw && sh.sh_offset <= m->rawsize &&
		    sh.sh_size <= m->rawsize - sh.sh_offset)
			*data = m->raw + sh.sh_offset;
		return true;
	}
	return false;
}

/* Call fn for every RELA relocation in the module's SHT_RELA sections. */
static void
for_each_rela(const struct module *m, void (*fn)(void *arg, const Elf64_Rela *r), void *arg)
{
	Elf_Scn *scn = NULL;
	if (!m->elf || !m->raw)
		return;
	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || sh.sh_entsize != sizeof(Elf64_Rela))
			continue;
		if (sh.sh_offset > m->rawsize || sh.sh_size > m->rawsize - sh.sh_offset)
			continue;
		for (size_t off = 0; off + sizeof(Elf64_Rela) <= sh.sh_size; off += sizeof(Elf64_Rela)) {
			Elf64_Rela r;
			memcpy(&r, m->raw + sh.sh_offset + off, sizeof(r));
			fn(arg, &r);
		}
	}
}

/* Does the module define (export) symbol name? Looks at .dynsym only:
 * that is what the dynamic linker binds to. */
static bool
defines_dynamic(const struct module *m, const char *name)
{
	Elf_Scn *scn = NULL;
	if (!m->elf)
		return false;
	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		for (size_t i = 1; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;
			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
				continue;
			n = elf_strptr(m->elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name))
				return true;
		}
	}
	return false;
}

/* The value (link-time address) of a defined, exported symbol in .dynsym;
 * false if absent. */
static bool
dynamic_value(const struct module *m, const char *name, uint64_t *value)
{
	Elf_Scn *scn = NULL;
	if (!m->elf)
		return false;
	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		for (size_t i = 1; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;
			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			if (GELF_ST_BIND(sym.st_info) == STB_LOCAL || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			n = elf_strptr(m->elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name)) {
				*value = sym.st_value;
				return true;
			}
		}
	}
	return false;
}

/* Any symbol (dynsym or symtab, any binding) named name, defined. */
static bool
has_symbol(struct symbols *s, const struct module *m, const char *name)
{
	struct sym_info si;
	const char *b = base_name(m->name);
	return symbols_lookup(s, b[0] ? b : NULL, name, &si) == 0 && si.module_start == m->start;
}

/* ---- who provides malloc: the link map's search order ---- */

struct lm_entry {
	uint64_t l_addr, l_ld;
	char *name;
};

struct lm_walk {
	struct target *t;
	VEC(struct lm_entry) v;
};

static bool
lm_collect(void *ctx, const struct link_map_entry *le)
{
	struct lm_walk *w = ctx;
	struct lm_entry e;
	e.l_addr = le->l_addr;
	e.l_ld = le->l_ld;
	e.name = le->l_name ? target_read_string(w->t, le->l_name, 4096) : NULL;
	if (!e.name)
		e.name = xstrdup("");
	vec_push(&w->v, e);
	return true;
}

/* Is the module the dynamic linker (ld-linux-x86-64.so.2, ld-2.31.so)? */
static bool
is_rtld_name(const char *name)
{
	const char *b = base_name(name);
	return !strncmp(b, "ld-linux", 8) || !strncmp(b, "ld-2.", 5) || !strncmp(b, "ld64.so", 7);
}

/* Objects in the dynamic linker's search order (target_link_map), with
 * their names.  0 entries for static programs or before the loader ran.
 * A program started as `ld.so ./prog` has ld.so's program headers in its
 * auxv, and no DT_DEBUG there: the walk starts from the dynamic linker's
 * _r_debug instead. */
static size_t
link_map_order(struct target *t, struct symbols *s, struct lm_entry **out)
{
	struct lm_walk w = { t, { 0 } };
	struct module_info info;
	struct sym_info si;

	if (target_link_map(t, lm_collect, &w) == 0 && t->exe && is_rtld_name(t->exe)) {
		for (size_t i = 0; symbols_module(s, i, &info); i++)
			if (is_rtld_name(info.name) &&
			    symbols_lookup(s, base_name(info.name), "_r_debug", &si) == 0 && si.type == STT_OBJECT) {
				target_link_map_at(t, si.addr, lm_collect, &w);
				break;
			}
	}
	*out = w.v.v;
	return w.v.n;
}

/* The module a link-map entry refers to: the one holding its dynamic
 * section (names differ: a preloaded libfoo.so.4 maps libfoo.so.4.5.10). */
static bool
lm_module(struct symbols *s, struct target *t, const struct lm_entry *e, bool first, struct module *m)
{
	Dwfl_Module *mod = e->l_ld ? dwfl_addrmodule(symbols_dwfl(s), e->l_ld) : NULL;
	(void)t;
	(void)first;
	return mod && get_module(s, mod, m);
}

static enum allocator_kind
classify_provider(struct symbols *s, const struct module *m, bool is_exe, struct malloc_info *mi)
{
	const char *b = base_name(m->name);

	if (strstr(b, "libc.so") || strstr(b, "libc-2.") || !strcmp(b, "libc_malloc_debug.so.0"))
		return ALLOC_GLIBC;
	if (strstr(b, "jemalloc") || defines_dynamic(m, "mallctl") || defines_dynamic(m, "je_malloc"))
		return ALLOC_JEMALLOC;
	if (strstr(b, "tcmalloc") || defines_dynamic(m, "tc_malloc"))
		return ALLOC_TCMALLOC;
	if (strstr(b, "mimalloc") || defines_dynamic(m, "mi_malloc"))
		return ALLOC_MIMALLOC;
	if (strstr(b, "asan") || strstr(b, "tsan") || strstr(b, "msan") || strstr(b, "lsan") ||
	    defines_dynamic(m, "__asan_init") || defines_dynamic(m, "__tsan_init") || has_symbol(s, m, "__asan_init"))
		return ALLOC_SANITIZER;
	if (strstr(b, "musl") || strstr(b, "ld-musl"))
		return ALLOC_MUSL;
	if (is_exe) {
		/* a static program: glibc's malloc is inside it when its
		 * symbols or its check strings are */
		if (has_symbol(s, m, "main_arena") || has_symbol(s, m, "_int_malloc") ||
		    (m->raw && memmem(m->raw, m->rawsize, "malloc(): corrupted top size", 28)))
			return ALLOC_GLIBC;
		if (has_symbol(s, m, "je_malloc") || has_symbol(s, m, "mallctl") ||
		    (m->raw && memmem(m->raw, m->rawsize, "<jemalloc>", 10)))
			return ALLOC_JEMALLOC;
		if (has_symbol(s, m, "tc_malloc") || has_symbol(s, m, "TCMalloc_SystemAlloc"))
			return ALLOC_TCMALLOC;
		if (has_symbol(s, m, "mi_malloc"))
			return ALLOC_MIMALLOC;
		if (has_symbol(s, m, "__malloc_context") || has_symbol(s, m, "__libc_malloc_impl"))
			return ALLOC_MUSL;
	}
	(void)mi;
	return ALLOC_UNKNOWN;
}

int
locate_dynamic_symbol(struct target *t, struct symbols *s, const char *name, uint64_t *addr, const char **module)
{
	struct lm_entry *lm;
	size_t n = link_map_order(t, s, &lm);
	int rc = -1;

	for (size_t i = 0; i < n && rc < 0; i++) {
		struct module m;
		uint64_t v;
		if (lm_module(s, t, &lm[i], i == 0, &m) && dynamic_value(&m, name, &v)) {
			*addr = m.bias + v;
			if (module)
				*module = m.name;
			rc = 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lm[i].name);
	free(lm);
	if (rc == 0)
		return 0;
	if (n == 0 && t->exe && is_rtld_name(t->exe))
		return hd_fail(HD_ENOENT, "no definition of %s yet: the program was started through the dynamic "
			       "linker, which has not loaded it", name);
	if (n == 0) {
		/* a static program: its own symbol table */
		struct sym_info si;
		if (symbols_lookup(s, NULL, name, &si) == 0 && si.type == STT_FUNC) {
			*addr = si.addr;
			if (module)
				*module = si.module;
			return 0;
		}
	}
	return hd_fail(HD_ENOENT, "no definition of %s in the program", name);
}

/* Decide which module's malloc the program calls. */
static int
find_provider(struct target *t, struct symbols *s, struct malloc_info *mi, struct module *prov)
{
	struct lm_entry *lm;
	size_t n = link_map_order(t, s, &lm);
	bool found = false, is_exe = false;

	for (size_t i = 0; i < n && !found; i++) {
		struct module m;
		if (!lm_module(s, t, &lm[i], i == 0, &m))
			continue;
		/* up to 2.31 ld.so exports the malloc it starts with; the
		 * program's calls (and ld.so's own, once libc is relocated)
		 * go to libc's */
		if (is_rtld_name(m.name))
			continue;
		if (defines_dynamic(&m, "malloc")) {
			*prov = m;
			found = true;
			is_exe = i == 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lm[i].name);
	free(lm);
	if (!found) {
		/* static program, or no link map: the executable if it has
		 * malloc, else libc by name */
		struct module_info info;
		for (size_t i = 0; symbols_module(s, i, &info) && !found; i++) {
			struct module m;
			Dwfl_Module *mod = dwfl_addrmodule(symbols_dwfl(s), info.start);
			if (!mod || !get_module(s, mod, &m) || is_rtld_name(m.name))
				continue;
			/* a static program: malloc by name, or (fully stripped)
			 * glibc's malloc check strings in it */
			if (i == 0 && t->exe && (has_symbol(s, &m, "malloc") || defines_dynamic(&m, "malloc") ||
						 (m.raw && memmem(m.raw, m.rawsize, "malloc(): corrupted top size", 28)))) {
				*prov = m;
				found = is_exe = true;
			} else if (strstr(base_name(m.name), "libc.so")) {
				*prov = m;
				found = true;
			}
		}
	}
	if (!found)
		return hd_fail(HD_ENOTSUP, "no module of the target defines malloc (the program does not "
			       "allocate with malloc)");
	mi->provider = xstrdup(prov->name ? prov->name : "?");
	mi->allocator = classify_provider(s, prov, is_exe, mi);
	mi->static_glibc = is_exe && mi->allocator == ALLOC_GLIBC;
	return 0;
}

/* ---- glibc version and layout ---- */

static bool
read_version(const struct module *m, struct malloc_info *mi)
{
	const unsigned char *p;
	unsigned maj, min;
	if (!m->raw)
		return false;
	p = memmem(m->raw, m->rawsize, "GNU C Library", 13);
	if (p) {
		char buf[256];
		size_t room = m->rawsize - (size_t)(p - m->raw);
		size_t l = strnlen((const char *)p, MIN(room, sizeof(buf) - 1));
		memcpy(buf, p, l);
		buf[l] = 0;
		if (layout_parse_version(buf, &maj, &min) == 0) {
			mi->vmajor = maj;
			mi->vminor = min;
			snprintf(mi->version, sizeof(mi->version), "%u.%u", maj, min);
			mi->version_how = "banner";
			return true;
		}
	}
	/* the highest GLIBC_2.x version definition */
	{
		unsigned best = 0;
		const unsigned char *q = m->raw, *end = m->raw + m->rawsize;
		while ((q = memmem(q, (size_t)(end - q), "GLIBC_2.", 8))) {
			unsigned mn = 0;
			const unsigned char *d = q + 8;
			while (d < end && *d >= '0' && *d <= '9')
				mn = mn * 10 + (unsigned)(*d++ - '0');
			if (d < end && *d == 0 && mn > best && mn < 100)
				best = mn;
			q += 8;
		}
		if (best) {
			mi->vmajor = 2;
			mi->vminor = best;
			snprintf(mi->version, sizeof(mi->version), "2.%u", best);
			mi->version_how = "version definitions";
			return true;
		}
	}
	return false;
}

/* The DWARF check of a table layout, on its own thread with its own libdw
 * handle (a Dwfl is not thread-safe; a separate Dwarf on its own fd is). */
struct layout_check {
	pthread_t thread;
	char *path;
	struct malloc_layout table, dwarf;
	int rc;			/* layout_from_dwarf's result */
};

static void *
layout_check_run(void *arg)
{
	struct layout_check *lc = arg;
	int fd = open(lc->path, O_RDONLY | O_CLOEXEC);
	Dwarf *dw;

	lc->rc = -1;
	if (fd < 0)
		return NULL;
	dw = dwarf_begin(fd, DWARF_C_READ);
	if (dw) {
		lc->rc = layout_from_dwarf(dw, &lc->table, &lc->dwarf);
		dwarf_end(dw);
		layout_cache_put(lc->path, &lc->table, lc->rc, &lc->dwarf);
	}
	close(fd);
	return NULL;
}

static void
layout_check_join(struct layout_check *lc)
{
	pthread_join(lc->thread, NULL);
	free(lc->path);
	free(lc);
}

/* Same offsets, sizes and behaviour? (source and version aside) */
static bool
layouts_equal(const struct malloc_layout *a, const struct malloc_layout *b)
{
	struct malloc_layout x = *a, y = *b;
	x.source = y.source = LAYOUT_FROM_TABLE;
	x.version = y.version = 0;
	x.uncertain = y.uncertain = false;
	x.tcache_count_default = y.tcache_count_default = 0;
	x.tcache_max_bytes_default = y.tcache_max_bytes_default = 0;
	return !memcmp(&x, &y, sizeof(x));
}

int
malloc_layout_confirm(struct malloc_info *mi, struct malloc_layout *dwarf)
{
	struct layout_check *lc = mi->layout_check;
	char d[64];
	int r = 0;

	if (!lc)
		return 0;
	mi->layout_check = NULL;
	pthread_join(lc->thread, NULL);
	if (lc->rc == 0) {
		if (layouts_equal(&lc->dwarf, &mi->L)) {
			snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s, confirmed by DWARF",
				 layout_describe(&mi->L, d, sizeof(d)));
			snprintf(mi->layout_table, sizeof(mi->layout_table), "agrees");
		} else {
			*dwarf = lc->dwarf;
			r = 1;
		}
	}
	free(lc->path);
	free(lc);
	return r;
}

int
malloc_locate_confirmed(struct target *t, struct symbols *s, struct malloc_info **out)
{
	struct malloc_layout dwarf;

	if (malloc_locate(t, s, out) < 0)
		return -1;
	if (malloc_layout_confirm(*out, &dwarf) == 1) {
		malloc_info_free(*out);
		*out = NULL;
		return malloc_locate_layout(t, s, &dwarf, out);
	}
	return 0;
}

/* Say how the table's row compares with DWARF's layout dw (in use). */
static void
compare_row(struct malloc_info *mi, const struct malloc_layout *row, bool exact, const struct malloc_layout *dw)
{
	char names[128];

	if (!row || !exact) {
		snprintf(mi->layout_table, sizeof(mi->layout_table), "nearest row");
		return;
	}
	if (layout_diff(row, dw, names, sizeof(names)) == 0)
		snprintf(mi->layout_table, sizeof(mi->layout_table), "agrees");
	else
		snprintf(mi->layout_table, sizeof(mi->layout_table), "differs: %s", names);
}

/* The layout: DWARF's when libc carries it, else the table's row, checked
 * against DWARF in the background when a debug file is there; forced, a
 * DWARF layout that differed from the row.  no_tcache: the module is
 * libc_malloc_debug.so, whose malloc is built without the tcache. */
static void
choose_layout(struct malloc_info *mi, const struct module *libc, const struct malloc_layout *forced, bool no_tcache)
{
	bool exact = false;
	const struct malloc_layout *tab = layout_for_version(mi->vmajor ? mi->vmajor : 2, mi->vmajor ? mi->vminor : 36,
							     LAYOUT_X86_64, &exact);
	struct malloc_layout row;
	const char *debugfile = NULL, *mainfile = NULL;
	char d[64];

	if (tab) {
		row = *tab;
		if (no_tcache)
			layout_without_tcache(&row);
		tab = &row;
	}
	if (forced) {
		mi->L = *forced;
		snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s (the table row differed)",
			 layout_describe(&mi->L, d, sizeof(d)));
		compare_row(mi, tab, exact, forced);
		return;
	}
	snprintf(mi->layout_table, sizeof(mi->layout_table), "%s", tab && exact ? "unchecked" : "nearest row");
	if (tab)
		mi->L = *tab;
	if (libc->mod) {
		/* the symbol table (main_arena, mp_ are looked up there next)
		 * finds the separate debug file: its path is known after */
		dwfl_module_getsymtab(libc->mod);
		dwfl_module_info(libc->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
	}
	if (tab && exact && !tab->uncertain && debugfile) {
		struct malloc_layout cached;
		int crc;
		bool here = layout_cache_get_here(debugfile, tab, &crc, &cached);
		/* here: checked against DWARF in this run already (with the
		 * process running: session_attach_prepared); else maybe checked
		 * before against this very file */
		if (here || layout_cache_get(debugfile, tab, &crc, &cached)) {
			mi->layout_cached = !here;
			if (crc == 0 && layouts_equal(&cached, tab)) {
				snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s, confirmed by DWARF%s",
					 layout_describe(&mi->L, d, sizeof(d)), here ? "" : " (cached)");
				snprintf(mi->layout_table, sizeof(mi->layout_table), "agrees");
			} else if (crc == 0) {
				mi->L = cached;
				snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s (the table row differed%s)",
					 layout_describe(&mi->L, d, sizeof(d)), here ? "" : "; cached");
				compare_row(mi, tab, exact, &cached);
			} else {
				snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s",
					 layout_describe(&mi->L, d, sizeof(d)));
			}
			return;
		}
		(void)layout_cache_dir();	/* decided here, not on the thread */
	}
	if (tab && exact && !tab->uncertain && debugfile) {
		/* use the verified row now, check it against DWARF meanwhile */
		struct layout_check *lc = xcalloc(1, sizeof(*lc));
		lc->path = xstrdup(debugfile);
		lc->table = *tab;
		sigset_t all, old;
		int prc;
		/* the thread takes no signal: they all go to the main thread,
		 * whose waits they must end */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		prc = pthread_create(&lc->thread, NULL, layout_check_run, lc);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (prc == 0) {
			mi->layout_check = lc;
			snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s", layout_describe(&mi->L, d, sizeof(d)));
			return;
		}
		free(lc->path);
		free(lc);
	}
	{
		Dwarf_Addr bias;
		const char *file = debugfile ? debugfile : mainfile;
		struct malloc_layout got;
		int crc = -1;
		Dwarf *dw = NULL;
		if (libc->mod && file && layout_cache_get_here(file, tab, &crc, &got)) {
			/* read from DWARF in this run already */
		} else if (libc->mod && file && layout_cache_get(file, tab, &crc, &got)) {
			mi->layout_cached = true;
		} else if (libc->mod && (dw = dwfl_module_getdwarf(libc->mod, &bias))) {
			crc = layout_from_dwarf(dw, tab, &got);
			/* keyed as the lookup above was */
			layout_cache_put(file, tab, crc, &got);
		}
		if (crc == 0) {
			mi->L = got;
			snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s%s", layout_describe(&mi->L, d, sizeof(d)),
				 mi->layout_cached ? " (cached)" : "");
			compare_row(mi, tab, exact, &mi->L);
			return;
		}
	}
	if (!tab) {
		/* older than anything we know: 2.26 is the oldest row */
		row = *layout_for_version(2, 26, LAYOUT_X86_64, &exact);
		if (no_tcache)
			layout_without_tcache(&row);
		mi->L = row;
		exact = false;
	}
	snprintf(mi->layout_desc, sizeof(mi->layout_desc), "%s%s", layout_describe(&mi->L, d, sizeof(d)),
		 exact ? "" : ", nearest known version");
}

/* ---- main_arena ---- */

static bool valid_arena(struct target *t, const struct malloc_layout *L, uint64_t a, bool *initialised);
static bool layouts_equal(const struct malloc_layout *a, const struct malloc_layout *b);
static bool valid_mp(const struct malloc_layout *L, const uint8_t *mp);

/* Static glibc carries no banner; gnu_get_libc_version's string does. */
static bool
read_version_symbol(struct target *t, struct symbols *s, const char *lb, struct malloc_info *mi)
{
	struct sym_info si;
	char *v;
	unsigned maj, min;
	if (symbols_lookup(s, lb, "__libc_version", &si) < 0 || si.type == STT_TLS)
		return false;
	v = target_read_string(t, si.addr, 16);
	if (!v)
		return false;
	if (layout_parse_version(v, &maj, &min) == 0) {
		mi->vmajor = maj;
		mi->vminor = min;
		snprintf(mi->version, sizeof(mi->version), "%u.%u", maj, min);
		mi->version_how = "__libc_version";
		free(v);
		return true;
	}
	free(v);
	return false;
}

/* Does mp_ at addr fit layout L in memory and, once malloc ran (init)
 * with the tcache on, is the main heap's first chunk the size of a
 * tcache_perthread_struct (the main thread's tcache)? */
static bool
mp_fits(struct target *t, const struct malloc_layout *L, uint64_t addr, bool init)
{
	uint8_t buf[512];
	uint64_t base, sf;

	if (!addr || L->mp_size > sizeof(buf) || target_read(t, addr, buf, L->mp_size) < 0 || !valid_mp(L, buf))
		return false;
	base = mp_u64(buf, L->mp_sbrk_base);
	if (init && base && L->has_tcache && mp_u64(buf, L->mp_tcache_count) &&
	    target_read_u64(t, ALIGN_UP(base + 16, 16) - 16 + 8, &sf) == 0 &&
	    ptm_chunksize(sf) != ptm_tcache_chunk_size(L))
		return false;
	return true;
}

/* Does layout L fit what is in memory: main_arena and mp_ (found by
 * symbol) and, once malloc ran, the size of the first chunk of the main
 * heap, which is the main thread's tcache? */
static bool
layout_fits(struct target *t, const struct malloc_layout *L, const struct sym_info *arena,
	    const struct sym_info *mp)
{
	bool init = false;

	if (arena->size && arena->size != L->ms_size)
		return false;
	if (mp->size && mp->size != L->mp_size)
		return false;
	if (!valid_arena(t, L, arena->addr, &init))
		return false;
	return mp_fits(t, L, mp->addr, init);
}

static bool layout_fits_image(struct target *t, const struct malloc_layout *L, const struct module *m);

/* The versions "2.NN" (NUL-delimited, as gnu_get_libc_version's string)
 * in the module's read-only data that have a table row, as a bit set of
 * NN (26..63). */
static uint64_t
rodata_versions(const struct module *m)
{
	GElf_Shdr sh;
	const unsigned char *d;
	uint64_t set = 0;

	if (!find_section(m, ".rodata", &sh, &d) || !d)
		return 0;
	for (const unsigned char *p = d, *end = d + sh.sh_size; (p = memmem(p, (size_t)(end - p), "2.", 2));
	     p += 2) {
		unsigned nn;
		if (p + 5 > end || (p > d && p[-1]) || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9' || p[4])
			continue;
		nn = (unsigned)(p[2] - '0') * 10 + (unsigned)(p[3] - '0');
		if (nn >= 26 && nn < 64 && layout_for_version(2, nn, LAYOUT_X86_64, NULL))
			set |= 1ULL << nn;
	}
	return set;
}

/* Version unknown (a static program without the banner): the newest table
 * layout that fits; *oldest is the oldest version with the same layout
 * that fits too, so the version can be given as a range.  What must fit:
 * with main_arena's and mp_'s symbols, their sizes and contents; without
 * symbols, their static images in the program's .data, and the tcache
 * chunk size.  Then a version string of the program's .rodata whose row
 * fits names the version exactly (*exact_string). */
static const struct malloc_layout *
guess_layout(struct target *t, struct symbols *s, const struct module *libc, const char *lb, unsigned *oldest,
	     bool *exact_string)
{
	size_t n;
	const struct malloc_layout *tab = layout_table(LAYOUT_X86_64, &n), *best = NULL;
	struct sym_info arena, mp;
	bool named = symbols_lookup(s, lb, "main_arena", &arena) == 0 && symbols_lookup(s, lb, "mp_", &mp) == 0;
	uint64_t strings = named ? 0 : rodata_versions(libc);
#define FITS(L) (named ? layout_fits(t, (L), &arena, &mp) : layout_fits_image(t, (L), libc))

	*exact_string = false;
	if (strings & (strings - 1)) {
		strings = 0;	/* several: none is the version */
	} else if (strings) {
		unsigned nn = (unsigned)__builtin_ctzll(strings);
		bool exact;
		const struct malloc_layout *L = layout_for_version(2, nn, LAYOUT_X86_64, &exact);
		if (L && exact && FITS(L)) {
			*oldest = L->version;
			*exact_string = true;
			return L;
		}
	}
	for (size_t i = n; i-- > 0;) {
		const struct malloc_layout *L = &tab[i];
		if (best) {
			if (!layouts_equal(best, L) || !FITS(L))
				break;
			*oldest = L->version;
			continue;
		}
		if (FITS(L)) {
			best = L;
			*oldest = L->version;
		}
	}
#undef FITS
	return best;
}

/* Is there a plausible malloc_state at a? (readable, next ring closes) */
static bool
valid_arena(struct target *t, const struct malloc_layout *L, uint64_t a, bool *initialised)
{
	uint8_t *ms = xmalloc(L->ms_size);
	uint64_t cur = a;
	bool ok = false;
	int steps;

	if (!a || (a & 7) || target_read(t, a, ms, L->ms_size) < 0)
		goto out;
	if (initialised)
		*initialised = ms_top(L, ms) != 0;
	for (steps = 0; steps < 1024; steps++) {
		uint64_t next;
		if (target_read_u64(t, cur + L->ms_next, &next) < 0 || !next || (next & 7))
			goto out;
		if (next == a) {
			ok = true;
			break;
		}
		cur = next;
	}
	if (ok && ms_top(L, ms)) {
		/* initialised: top must be readable and in a sane place */
		uint64_t top = ms_top(L, ms), sz;
		if (target_read_u64(t, top + 8, &sz) < 0)
			ok = false;
	}
out:
	free(ms);
	return ok;
}

struct rela_map {
	struct u64map relative;	/* r_offset -> addend (R_X86_64_RELATIVE) */
	VEC(Elf64_Rela) tpoff;	/* R_X86_64_TPOFF64 */
};

static void
collect_rela(void *arg, const Elf64_Rela *r)
{
	struct rela_map *rm = arg;
	unsigned type = ELF64_R_TYPE(r->r_info);
	if (type == R_X86_64_RELATIVE)
		u64map_put(&rm->relative, r->r_offset, (uint64_t)r->r_addend);
	else if (type == R_X86_64_TPOFF64)
		vec_push(&rm->tpoff, *r);
}

/* pwndbg's method: an all-zero malloc_state-sized block in .data whose
 * `next` is its own address (in place, for RELR, or as a RELATIVE
 * relocation's addend) and attached_threads is 1. */
static uint64_t
arena_static_image(const struct module *m, const struct malloc_layout *L, struct rela_map *rm)
{
	GElf_Shdr sh;
	const unsigned char *data;
	uint64_t found = 0;
	int hits = 0;

	if (!find_section(m, ".data", &sh, &data) || !data || sh.sh_size < L->ms_size)
		return 0;
	for (uint64_t off = 0; off + L->ms_size <= sh.sh_size; off += 8) {
		uint64_t a = sh.sh_addr + off, next, attached, addend;
		const unsigned char *p = data + off;
		bool zero = true;

		next = ptm_rd64(p + L->ms_next);
		attached = ptm_rd64(p + L->ms_attached_threads);
		if (attached != 1)
			continue;
		if (next != a && !(u64map_get(&rm->relative, a + L->ms_next, &addend) && addend == a))
			continue;
		for (uint32_t k = 0; k < L->ms_size && zero; k += 8) {
			if ((int32_t)k == L->ms_next || (int32_t)k == L->ms_attached_threads)
				continue;
			if (ptm_rd64(p + k) != 0)
				zero = false;
		}
		if (!zero)
			continue;
		found = a;
		hits++;
	}
	return hits == 1 ? found + m->bias : 0;
}

/* Readable-writable memory of a module and the anonymous mapping right
 * after it (.bss continues there). */
static void
module_rw_ranges(struct target *t, const struct module *m, uint64_t *lo, uint64_t *hi, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nmaps && n < max; i++) {
		const struct mapping *mp = &t->maps[i];
		if (mp->start < m->start || mp->start >= m->end + 0x200000)
			continue;
		if ((mp->perms & (MAP_PERM_R | MAP_PERM_W)) != (MAP_PERM_R | MAP_PERM_W))
			continue;
		if (mp->path && m->name && strcmp(mp->path, m->name) && strcmp(base_name(mp->path), base_name(m->name)))
			continue;
		if (!mp->path && (i == 0 || !t->maps[i - 1].path ||
				  strcmp(base_name(t->maps[i - 1].path), base_name(m->name))))
			continue;
		lo[n] = mp->start;
		hi[n] = mp->end;
		n++;
	}
	for (; n < max; n++)
		lo[n] = hi[n] = 0;
}

/* Runtime scan: empty bins point to themselves (fd == bk == bin_at);
 * vote for the arena start each self-pointing pair implies. */
static uint64_t
arena_runtime_scan(struct target *t, const struct module *m, const struct malloc_layout *L)
{
	uint64_t lo[4], hi[4];
	struct u64map votes;
	uint64_t best = 0, bestv = 0;

	module_rw_ranges(t, m, lo, hi, 4);
	u64map_init(&votes);
	for (int r = 0; r < 4; r++) {
		size_t len = hi[r] - lo[r];
		uint8_t *buf;
		if (!len || len > (64u << 20))
			continue;
		buf = xmalloc(len);
		len = target_read_partial(t, lo[r], buf, len);
		for (size_t off = 0; off + 16 <= len; off += 8) {
			uint64_t q = lo[r] + off;
			if (ptm_rd64(buf + off) != q - 16 || ptm_rd64(buf + off + 8) != q - 16)
				continue;
			for (unsigned i = 1; i < 128; i++) {
				uint64_t a = q - L->ms_bins - 16 * (i - 1);
				if (a < lo[r])
					break;
				(*u64map_slot(&votes, a, NULL))++;
			}
		}
		free(buf);
	}
	{
		size_t it = 0;
		uint64_t k, v;
		while (u64map_next(&votes, &it, &k, &v))
			if (v > bestv && valid_arena(t, L, k, NULL)) {
				best = k;
				bestv = v;
			}
	}
	u64map_free(&votes);
	return bestv >= 16 ? best : 0;
}

/* ---- mp_ ---- */

static bool
valid_mp(const struct malloc_layout *L, const uint8_t *mp)
{
	uint64_t tb = mp_u64(mp, L->mp_tcache_bins), tc = mp_u64(mp, L->mp_tcache_count);
	uint64_t thr = mp_u64(mp, L->mp_mmap_threshold), nmax = mp_u32(mp, L->mp_n_mmaps_max);
	uint64_t at = mp_u64(mp, L->mp_arena_test);
	if (L->has_tcache && (tb > 128 || tc > 65535))
		return false;
	if (thr > (64ULL << 20) || at > 1024 || nmax > (1u << 24))
		return false;
	return true;
}

/* mp_ by its sbrk_base: the one qword in libc's writable memory equal to
 * the start of [heap]. */
static uint64_t
mp_by_sbrk_base(struct target *t, const struct module *m, const struct malloc_layout *L)
{
	uint64_t lo[4], hi[4], heap = 0, found = 0;
	int hits = 0;

	for (size_t i = 0; i < t->nmaps; i++)
		if (t->maps[i].path && !strcmp(t->maps[i].path, "[heap]"))
			heap = t->maps[i].start;
	if (!heap || L->mp_sbrk_base < 0)
		return 0;
	module_rw_ranges(t, m, lo, hi, 4);
	for (int r = 0; r < 4; r++) {
		size_t len = hi[r] - lo[r];
		uint8_t *buf;
		if (!len || len > (64u << 20))
			continue;
		buf = xmalloc(len);
		len = target_read_partial(t, lo[r], buf, len);
		for (size_t off = 0; off + 8 <= len; off += 8) {
			uint64_t cand = lo[r] + off - L->mp_sbrk_base;
			uint8_t mp[512];
			if (ptm_rd64(buf + off) != heap)
				continue;
			if (L->mp_size > sizeof(mp) || target_read(t, cand, mp, L->mp_size) < 0 || !valid_mp(L, mp))
				continue;
			found = cand;
			hits++;
		}
		free(buf);
	}
	return hits == 1 ? found : 0;
}

/* mp_ by its static initialiser in .data (pwndbg's DEFAULT_MP_). */
static uint64_t
mp_static_image(const struct module *m, const struct malloc_layout *L)
{
	GElf_Shdr sh;
	const unsigned char *data;
	uint64_t found = 0;
	int hits = 0;

	if (!find_section(m, ".data", &sh, &data) || !data || sh.sh_size < L->mp_size)
		return 0;
	for (uint64_t off = 0; off + L->mp_size <= sh.sh_size; off += 8) {
		const unsigned char *p = data + off;
		if (mp_u64(p, L->mp_trim_threshold) != 0x20000 || mp_u64(p, L->mp_mmap_threshold) != 0x20000)
			continue;
		if (mp_u64(p, L->mp_arena_test) != 8 || mp_u32(p, L->mp_n_mmaps_max) != 65536)
			continue;
		if (L->has_tcache && mp_u64(p, L->mp_tcache_bins) != (L->tc_nbins == 76 ? 64 : L->tc_nbins))
			continue;
		found = sh.sh_addr + off;
		hits++;
	}
	return hits == 1 ? found + m->bias : 0;
}

/* Does layout L fit a module's images without symbols: exactly one
 * main_arena image and one mp_ initialiser in its .data, the arena valid
 * in memory, and (malloc initialised, tcache on) the main heap's first
 * chunk the size of a tcache_perthread_struct? */
static bool
layout_fits_image(struct target *t, const struct malloc_layout *L, const struct module *m)
{
	struct rela_map rm;
	uint64_t a;
	bool init = false;

	u64map_init(&rm.relative);
	memset(&rm.tpoff, 0, sizeof(rm.tpoff));
	for_each_rela(m, collect_rela, &rm);
	a = arena_static_image(m, L, &rm);
	u64map_free(&rm.relative);
	vec_free(&rm.tpoff);
	if (!a || !valid_arena(t, L, a, &init))
		return false;
	return mp_fits(t, L, mp_static_image(m, L), init);
}

/* ---- tcache ---- */

/* Does tc look like a tcache_perthread_struct?  0: no; 1: it is one
 * (aligned, readable, in a chunk of the tcache's size) whose content is
 * damaged (a count above count_max, a misaligned entry): the heap walk
 * reports that and walks the rest; 2: it is one and its content is
 * sane. */
static int
valid_tcache(struct target *t, const struct malloc_layout *L, uint64_t tc, uint64_t count_max)
{
	uint8_t *buf;
	uint64_t sz;
	int ok = 2;

	if (!tc)
		return 2;	/* no tcache yet */
	if (!ptm_aligned(tc) || target_read_u64(t, tc - 8, &sz) < 0)
		return 0;
	if (ptm_chunksize(sz) != ptm_tcache_chunk_size(L))
		return 0;
	buf = xmalloc(L->tc_size);
	if (target_read(t, tc, buf, L->tc_size) < 0) {
		free(buf);
		return 0;
	}
	for (unsigned i = 0; i < L->tc_nbins && ok == 2; i++) {
		uint64_t e = tc_entry(L, buf, i);
		if (tc_count(L, buf, i) > count_max)
			ok = 1;
		if (e && !ptm_aligned(e))
			ok = 1;
	}
	free(buf);
	return ok;
}

/* Does the thread's TLS hold what the thread wrote?  On x86-64 the
 * thread pointer points to the thread's TCB, whose first word (tcb) is
 * its own address.  A core whose writer could not read the memory there
 * (gdb's gcore over a thread stack mapping with guard pages, as glibc
 * 2.42 installs them with MADV_GUARD_INSTALL) holds zeros instead. */
static bool
tls_intact(struct target *t, uint64_t tp)
{
	uint64_t self;
	return target_read_u64(t, tp, &self) == 0 && self == tp;
}

/* Every thread's tcache through the thread-pointer offset tpoff.  With
 * check, a value that is not a tcache_perthread_struct (valid_tcache 0)
 * is not taken; *valid (may be NULL) counts the threads whose value was
 * taken, *clean (may be NULL) those whose tcache is also undamaged. */
static int
tcache_per_thread(struct target *t, struct malloc_info *mi, int64_t tpoff, bool check, int *valid, int *clean)
{
	uint64_t count_max = mi_mp(mi, mi->L.mp_tcache_count);
	int good = 0, sane = 0;
	if (count_max == 0 || count_max > 65535)
		count_max = 65535;
	mi->tcaches.n = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *r = target_regs(t, t->threads[i]);
		struct tcache_ref ref = { t->threads[i]->tid, 0, false, false };
		if (r && REG_TP(r) && !tls_intact(t, REG_TP(r))) {
			ref.tls_lost = true;
		} else if (r && REG_TP(r) && target_read_u64(t, REG_TP(r) + (uint64_t)tpoff, &ref.tcache) == 0) {
			int v = check ? valid_tcache(t, &mi->L, ref.tcache, count_max) : 2;
			ref.known = v > 0;
			sane += v == 2;
		}
		if (ref.known)
			good++;
		vec_push(&mi->tcaches, ref);
	}
	if (valid)
		*valid = good;
	if (clean)
		*clean = sane;
	return good;
}

/* A static program without symbols: the tcache variable is one of the
 * few words of the program's TLS block (tp - round_up(memsz, align) up to
 * tp); take the offset whose values are valid tcaches (or null) in every
 * thread whose TLS is intact, the main thread's the first chunk of the
 * main heap, as glibc allocates it at the first malloc. */
static bool
static_tls_scan(struct target *t, const struct module *exe, struct malloc_info *mi)
{
	Elf *elf = exe->elf;
	size_t phnum;
	int64_t block = 0, found = 0;
	int hits = 0;
	uint64_t first = 0, base = mi_mp(mi, mi->L.mp_sbrk_base);
	const hd_regs_t *r0 = t->nthreads ? target_regs(t, t->threads[0]) : NULL;

	if (!elf || elf_getphdrnum(elf, &phnum) != 0 || !base || !r0 || !REG_TP(r0))
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_TLS && ph.p_memsz <= 0x10000)
			block = (int64_t)ALIGN_UP(ph.p_memsz, ph.p_align ? ph.p_align : 1);
	}
	if (!block)
		return false;
	first = ALIGN_UP(base + 16, 16);	/* the main heap's first chunk's memory */
	for (int64_t off = -block; off < 0; off += 8) {
		uint64_t v;
		int good, nz = 0;
		if (target_read_u64(t, REG_TP(r0) + (uint64_t)off, &v) < 0 || v != first)
			continue;
		tcache_per_thread(t, mi, off, true, &good, NULL);
		for (size_t k = 0; k < mi->tcaches.n; k++) {
			if (mi->tcaches.v[k].known && mi->tcaches.v[k].tcache)
				nz++;
			if (!mi->tcaches.v[k].known && !mi->tcaches.v[k].tls_lost)
				good = -1;
		}
		if (good > 0 && nz) {
			found = off;
			hits++;
		}
	}
	if (hits != 1)
		return false;
	mi->tcache_tpoff = found;
	mi->have_tcache_tpoff = true;
	mi->tcache_how = "static-tls-scan";
	tcache_per_thread(t, mi, found, true, NULL, NULL);
	return true;
}

/* Name the threads whose TLS a core lacks: their tcaches are unknown. */
static void
note_lost_tls(struct target *t, struct malloc_info *mi)
{
	struct sbuf sb;
	size_t n = 0;

	sb_init(&sb);
	for (size_t i = 0; i < mi->tcaches.n; i++)
		if (mi->tcaches.v[i].tls_lost)
			sb_printf(&sb, "%s%d", n++ ? ", " : "", (int)mi->tcaches.v[i].tid);
	if (n)
		note(mi, "thread%s %s: the TLS reads as zeros in this %s%s, so %s tcache%s unknown and %s "
		     "tcache'd chunks count as in use", n > 1 ? "s" : "", sb.s,
		     t->kind == TARGET_CORE ? "core" : "process",
		     t->kind == TARGET_CORE ? " (the program that wrote it could not read that memory: gdb's gcore "
		     "cannot read thread stacks with guard pages, as glibc 2.42 makes them)" : "",
		     n > 1 ? "their" : "its", n > 1 ? "s are" : " is", n > 1 ? "their" : "its");
	sb_free(&sb);
}

static void
find_tcaches(struct target *t, struct symbols *s, const struct module *libc, struct rela_map *rm,
	     struct malloc_info *mi)
{
	struct sym_info si;
	const char *lb = base_name(libc->name);

	if (!mi->L.has_tcache)
		return;
	/* the TLS variable `tcache`: its offset in libc's TLS block is its
	 * st_value; libc reaches it through a GOT slot with a TPOFF64
	 * relocation whose addend is that offset */
	if (!mi->static_glibc && symbols_lookup(s, lb, "tcache", &si) == 0 && si.type == STT_TLS) {
		for (size_t i = 0; i < rm->tpoff.n; i++) {
			const Elf64_Rela *r = &rm->tpoff.v[i];
			uint64_t slot;
			if (ELF64_R_SYM(r->r_info) != 0 || (uint64_t)r->r_addend != si.addr)
				continue;
			if (target_read_u64(t, libc->bias + r->r_offset, &slot) == 0) {
				int good;
				mi->tcache_tpoff = (int64_t)slot;
				mi->have_tcache_tpoff = true;
				mi->tcache_how = "symbol+tls-got";
				/* the variable itself: its value is the tcache, damaged
				 * or not (the walk says what is wrong with it) */
				tcache_per_thread(t, mi, mi->tcache_tpoff, false, &good, NULL);
				return;
			}
		}
	}
	if (mi->static_glibc && symbols_lookup(s, lb, "tcache", &si) == 0 && si.type == STT_TLS) {
		/* static program: TLS block at tp - round_up(memsz, align) */
		Elf *elf = libc->elf;
		size_t phnum;
		if (elf && elf_getphdrnum(elf, &phnum) == 0) {
			for (size_t i = 0; i < phnum; i++) {
				GElf_Phdr ph;
				if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_TLS) {
					uint64_t al = ph.p_align ? ph.p_align : 1;
					mi->tcache_tpoff = (int64_t)si.addr - (int64_t)ALIGN_UP(ph.p_memsz, al);
					mi->have_tcache_tpoff = true;
					mi->tcache_how = "symbol+static-tls";
					tcache_per_thread(t, mi, mi->tcache_tpoff, false, NULL, NULL);
					return;
				}
			}
		}
	}
	if (mi->static_glibc && static_tls_scan(t, libc, mi))
		return;
	/* without symbols: try every TPOFF64 slot of libc with a small
	 * addend; keep the one whose values validate as tcaches for the
	 * most threads (and at least one non-null) */
	{
		int64_t best = 0;
		int bestn = -1, bestnz = 0, bestclean = 0;
		for (size_t i = 0; i < rm->tpoff.n; i++) {
			const Elf64_Rela *r = &rm->tpoff.v[i];
			uint64_t slot;
			int good, clean, nz = 0;
			if (ELF64_R_SYM(r->r_info) != 0 || r->r_addend < 0 || r->r_addend > 0x400)
				continue;
			if (target_read_u64(t, libc->bias + r->r_offset, &slot) < 0)
				continue;
			tcache_per_thread(t, mi, (int64_t)slot, true, &good, &clean);
			for (size_t k = 0; k < mi->tcaches.n; k++)
				if (mi->tcaches.v[k].known && mi->tcaches.v[k].tcache)
					nz++;
			if (nz == 0)
				continue;
			/* (a damaged tcache is still the tcache: sane content
			 * only breaks ties) */
			if (good > bestn || (good == bestn && (nz > bestnz || (nz == bestnz && clean > bestclean)))) {
				best = (int64_t)slot;
				bestn = good;
				bestnz = nz;
				bestclean = clean;
			}
		}
		int intact = 0;
		for (size_t i = 0; i < t->nthreads; i++) {
			const hd_regs_t *r = target_regs(t, t->threads[i]);
			if (!r || !REG_TP(r) || tls_intact(t, REG_TP(r)))
				intact++;
		}
		if (bestn > 0 && bestn == intact) {
			mi->tcache_tpoff = best;
			mi->have_tcache_tpoff = true;
			mi->tcache_how = "tls-got-scan";
			tcache_per_thread(t, mi, best, true, NULL, NULL);
			return;
		}
	}
	mi->tcaches.n = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		const hd_regs_t *r = target_regs(t, t->threads[i]);
		struct tcache_ref ref = { t->threads[i]->tid, 0, false, r && REG_TP(r) && !tls_intact(t, REG_TP(r)) };
		vec_push(&mi->tcaches, ref);
	}
	mi->tcache_how = "not found";
	note(mi, "the per-thread tcache could not be located: tcache'd chunks will show as in use");
}

static bool
read_sym_u64(struct target *t, struct symbols *s, const char *mod, const char *name, uint64_t *val,
	     uint64_t *size)
{
	struct sym_info si;
	if (symbols_lookup(s, mod, name, &si) < 0 || si.type == STT_TLS || si.type == STT_FUNC)
		return false;
	if (size)
		*size = si.size;
	if (si.size == 1) {
		uint8_t b;
		if (target_read(t, si.addr, &b, 1) < 0)
			return false;
		*val = b;
		return true;
	}
	if (si.size == 4) {
		uint32_t w;
		if (target_read_u32(t, si.addr, &w) < 0)
			return false;
		*val = w;
		return true;
	}
	return target_read_u64(t, si.addr, val) == 0;
}

/* Is libc_malloc_debug.so's own malloc in use: does its main_arena (by
 * symbol, or its static image with the layout of libc's version) hold
 * memory? */
static bool
debug_state_in_use(struct target *t, struct symbols *s, const struct module *dbg, const struct malloc_info *mi)
{
	const struct malloc_layout *row = layout_for_version(mi->vmajor ? mi->vmajor : 2, mi->vmajor ? mi->vminor : 36,
							     LAYOUT_X86_64, NULL);
	struct malloc_layout L;
	struct rela_map rm;
	struct sym_info si;
	uint64_t a = 0, sysmem = 0;
	bool init = false;

	if (!row)
		return false;
	L = *row;
	layout_without_tcache(&L);
	if (symbols_lookup(s, base_name(dbg->name), "main_arena", &si) == 0 && si.type == STT_OBJECT) {
		a = si.addr;
	} else {
		u64map_init(&rm.relative);
		memset(&rm.tpoff, 0, sizeof(rm.tpoff));
		for_each_rela(dbg, collect_rela, &rm);
		a = arena_static_image(dbg, &L, &rm);
		u64map_free(&rm.relative);
		vec_free(&rm.tpoff);
	}
	/* initialised is not enough: its ptmalloc_init runs either way */
	return a && valid_arena(t, &L, a, &init) && init &&
	       target_read_u64(t, a + (uint64_t)L.ms_system_mem, &sysmem) == 0 && sysmem != 0;
}

/* The layout's own consistency, and the size the symbol table gives mp_
 * against that of struct malloc_par (main_arena's was checked when it was
 * looked up). */
static void
check_layout(struct symbols *s, const char *lb, struct malloc_info *mi)
{
	const char *why = layout_problem(&mi->L);
	struct sym_info si;

	if (mi->layout_problem)
		return;
	if (why) {
		mi->layout_problem = xstrdup(why);
		return;
	}
	if (mi->mp_how && !strcmp(mi->mp_how, "symbol") && symbols_lookup(s, lb, "mp_", &si) == 0 && si.size &&
	    si.size != mi->L.mp_size)
		mi->layout_problem = xasprintf("mp_ is %" PRIu64 " bytes in the symbol table, struct malloc_par %u "
					       "in the layout", si.size, mi->L.mp_size);
}

int
malloc_locate(struct target *t, struct symbols *s, struct malloc_info **out)
{
	return malloc_locate_layout(t, s, NULL, out);
}

int
malloc_locate_layout(struct target *t, struct symbols *s, const struct malloc_layout *forced,
		     struct malloc_info **out)
{
	struct malloc_info *mi = xcalloc(1, sizeof(*mi));
	struct module prov, libc;
	struct rela_map rm;
	struct sym_info si;
	const char *lb;
	char buf[64];
	bool debug_lib = false;

	u64map_init(&rm.relative);
	memset(&rm.tpoff, 0, sizeof(rm.tpoff));
	*out = NULL;
	if (find_provider(t, s, mi, &prov) < 0) {
		malloc_info_free(mi);
		return -1;
	}
	if (mi->allocator != ALLOC_GLIBC) {
		mi->detail = xasprintf("%s (%s provides malloc); heap walking is available for glibc malloc only",
				       allocator_name(mi->allocator), base_name(mi->provider));
		*out = mi;
		return 0;
	}
	/* the module holding main_arena: libc.so.6, or the static
	 * executable, or libc_malloc_debug.so when its own malloc is in use
	 * (below); the version is libc's */
	libc = prov;
	if (!mi->static_glibc && !strstr(base_name(prov.name), "libc.so") && !strstr(base_name(prov.name), "libc-2.")) {
		struct module_info info;
		for (size_t i = 0; symbols_module(s, i, &info); i++)
			if (strstr(base_name(info.name), "libc.so") || !strncmp(base_name(info.name), "libc-2.", 7)) {
				Dwfl_Module *mod = dwfl_addrmodule(symbols_dwfl(s), info.start);
				if (mod)
					get_module(s, mod, &libc);
			}
		debug_lib = strstr(base_name(prov.name), "malloc_debug") != NULL;
	}
	lb = mi->static_glibc ? NULL : base_name(libc.name);
	if (!read_version(&libc, mi) && !read_version_symbol(t, s, lb, mi)) {
		unsigned oldest = 0;
		bool string = false;
		const struct malloc_layout *L = guess_layout(t, s, &libc, lb, &oldest, &string);
		if (L) {
			mi->vmajor = L->version / 100;
			mi->vminor = L->version % 100;
			if (oldest != L->version)
				snprintf(mi->version, sizeof(mi->version), "%u.%u-%u.%u", oldest / 100, oldest % 100,
					 mi->vmajor, mi->vminor);
			else
				snprintf(mi->version, sizeof(mi->version), "%u.%u", mi->vmajor, mi->vminor);
			mi->version_how = string ? "a version string that fits the layout" : "the layout that fits";
			if (!string)
				note(mi, "the glibc version could not be read from %s; its memory fits the layout of "
				     "glibc %s", base_name(libc.name), mi->version);
		} else {
			note(mi, "the glibc version could not be read from %s, and no known layout fits; "
			     "assuming the newest", base_name(libc.name));
		}
	}
	if (debug_lib) {
		/* 2.34+: libc_malloc_debug.so carries a malloc of its own,
		 * without the tcache, which holds the heap when
		 * glibc.malloc.check (MALLOC_CHECK_) is on; else it forwards
		 * to libc.so.6's */
		if (debug_state_in_use(t, s, &prov, mi)) {
			libc = prov;
			lb = base_name(libc.name);
			note(mi, "libc_malloc_debug.so is preloaded with glibc.malloc.check on: its own malloc holds "
			     "the heap (one arena, no tcache, a check byte after each chunk's data)");
		} else {
			debug_lib = false;
			note(mi, "libc_malloc_debug.so is preloaded, glibc.malloc.check off: it forwards to %s's malloc",
			     base_name(libc.name));
		}
	}
	mi->libc_path = xstrdup(libc.name ? libc.name : "?");
	mi->libc_bias = libc.bias;
	choose_layout(mi, &libc, forced, debug_lib);
	for_each_rela(&libc, collect_rela, &rm);

	/* main_arena */
	if (symbols_lookup(s, lb, "main_arena", &si) == 0 && si.type == STT_OBJECT && si.size &&
	    si.size != mi->L.ms_size) {
		/* the symbol says the layout is wrong: keep what it says
		 * for info, walk nothing */
		mi->main_arena = si.addr;
		mi->main_arena_how = "symbol";
		mi->layout_problem = xasprintf("main_arena is %" PRIu64 " bytes in the symbol table, struct "
					       "malloc_state %u in the layout", si.size, mi->L.ms_size);
	} else if (symbols_lookup(s, lb, "main_arena", &si) == 0 && si.type == STT_OBJECT &&
		   valid_arena(t, &mi->L, si.addr, &mi->initialised)) {
		mi->main_arena = si.addr;
		mi->main_arena_how = "symbol";
	} else if ((mi->main_arena = arena_static_image(&libc, &mi->L, &rm)) &&
		   valid_arena(t, &mi->L, mi->main_arena, &mi->initialised)) {
		mi->main_arena_how = "static-image";
	} else if ((mi->main_arena = arena_runtime_scan(t, &libc, &mi->L)) &&
		   valid_arena(t, &mi->L, mi->main_arena, &mi->initialised)) {
		mi->main_arena_how = "runtime-scan";
	} else {
		u64map_free(&rm.relative);
		vec_free(&rm.tpoff);
		hd_fail(HD_ENOENT, "glibc %s: main_arena not found in %s (no symbols, and neither its static image "
			"nor its runtime shape matched)", mi->version[0] ? mi->version : "?", base_name(libc.name));
		malloc_info_free(mi);
		return -1;
	}

	/* mp_ */
	if (symbols_lookup(s, lb, "mp_", &si) == 0 && si.type == STT_OBJECT) {
		mi->mp = si.addr;
		mi->mp_how = "symbol";
	} else if ((mi->mp = mp_by_sbrk_base(t, &libc, &mi->L))) {
		mi->mp_how = "sbrk-base";
	} else if ((mi->mp = mp_static_image(&libc, &mi->L))) {
		mi->mp_how = "static-image";
	}
	if (mi->mp) {
		bool readable = mi->L.mp_size <= sizeof(mi->mp_bytes) &&
				target_read(t, mi->mp, mi->mp_bytes, mi->L.mp_size) == 0;
		if (readable && !valid_mp(&mi->L, mi->mp_bytes) && !strcmp(mi->mp_how, "symbol")) {
			/* it is mp_, damaged: the heap walk says what is wrong */
			note(mi, "mp_ at 0x%" PRIx64 " holds values glibc never sets (see `check`)", mi->mp);
		} else if (!readable || !valid_mp(&mi->L, mi->mp_bytes)) {
			note(mi, "mp_ at 0x%" PRIx64 " does not look right; tunables are unknown", mi->mp);
			memset(mi->mp_bytes, 0, sizeof(mi->mp_bytes));
			mi->mp = 0;
			mi->mp_how = "invalid";
		}
	} else {
		mi->mp_how = "not found";
		note(mi, "mp_ not found: mmapped chunks cannot be cross-checked and tunables are unknown");
	}
	check_layout(s, lb, mi);
	{
		uint64_t hp = mi_mp(mi, mi->L.mp_hp_pagesize);
		mi->heap_max = mi->L.mp_hp_pagesize >= 0 && hp ? 4 * hp : mi->L.heap_max_default;
		if (mi->heap_max == 0 || (mi->heap_max & (mi->heap_max - 1)))
			mi->heap_max = mi->L.heap_max_default;
	}
	find_tcaches(t, s, &libc, &rm, mi);
	note_lost_tls(t, mi);
	if (read_sym_u64(t, s, lb, "tcache_key", &mi->tcache_key, NULL)) {
		struct sym_info ks;
		mi->have_tcache_key = true;
		mi->tcache_key_how = "symbol";
		if (symbols_lookup(s, lb, "tcache_key", &ks) == 0 && ks.size == 8)
			mi->tcache_key_addr = ks.addr;
	}
	if (read_sym_u64(t, s, lb, "global_max_fast", &mi->global_max_fast, NULL))
		mi->have_global_max_fast = true;
	if (read_sym_u64(t, s, lb, "narenas", &mi->narenas, NULL))
		mi->have_narenas = true;
	if (!mi->initialised)
		note(mi, "malloc is not initialised yet (the program has not called malloc)");
	(void)buf;
	u64map_free(&rm.relative);
	vec_free(&rm.tpoff);
	*out = mi;
	return 0;
}
