/*
 * symbols.c - libdwfl over a live process (dwfl_linux_proc_report) or a
 * core file (dwfl_core_file_report): pc -> function, file:line and the
 * inline chain; name -> address in any module, including libc's local
 * symbols from its separate debug file.  Results are cached by pc.
 */
#include "config.h"
#include "symbols.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct symtab_entry {
	const char *name;	/* points into the module's ELF string table */
	uint64_t addr, size;
	unsigned char type, bind;
};

struct modsyms {
	Dwfl_Module *mod;
	struct symtab_entry *e;	/* sorted by name */
	size_t n;
	bool from_debug;
	uint32_t *byaddr;	/* indexes into e by address (made on demand) */
};

struct modroot {
	Dwfl_Module *mod;
	const char *root;	/* interned, or NULL */
};

struct pc_entry {
	int first, count;	/* range in frames */
};

struct symbols {
	struct target *t;
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
	char *debug_path;	/* storage for cb.debuginfo_path */
	struct u64map pc_cache;	/* pc|caller -> index into pcs */
	VEC(struct pc_entry) pcs;
	VEC(struct frame_info) frames;
	VEC(char *) strings;	/* interned strings owned here */
	struct u64map str_index;	/* hash -> index in strings (chained by linear probe) */
	VEC(struct modsyms) modsyms;
	VEC(struct modroot) roots;
};

static char *
intern(struct symbols *s, const char *str)
{
	uint64_t h, idx;
	if (!str)
		return NULL;
	h = hash_bytes(str, strlen(str), 1);
	for (;; h++) {
		if (h == UINT64_MAX)
			h = 0;
		if (!u64map_get(&s->str_index, h, &idx))
			break;
		if (!strcmp(s->strings.v[idx], str))
			return s->strings.v[idx];
	}
	vec_push(&s->strings, xstrdup(str));
	u64map_put(&s->str_index, h, s->strings.n - 1);
	return s->strings.v[s->strings.n - 1];
}

/* ---- opening ---- */

/* Paths in a core are the core's word: libdwfl opens them as they are.
 * Only those target_core_path_ok accepts are handed on; a name that is
 * not a path at all ("[vdso]") is libdwfl's business. */
static bool
refused_path(const char *path)
{
	return path && path[0] == '/' && !target_core_path_ok(path);
}

static int
find_elf_core(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
	      char **file_name, Elf **elfp)
{
	if (refused_path(modname))
		return -1;
	return dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp);
}

static int
report(struct symbols *s)
{
	struct target *t = s->t;
	int r = 0;

	dwfl_report_begin(s->dwfl);
	switch (t->kind) {
	case TARGET_LIVE:
		r = dwfl_linux_proc_report(s->dwfl, target_mem_pid(t));
		if (r != 0) {
			dwfl_report_end(s->dwfl, NULL, NULL);
			return hd_fail(HD_EGENERIC, "cannot report modules of process %d: %s", t->pid,
				       r > 0 ? strerror(r) : dwfl_errmsg(-1));
		}
		break;
	case TARGET_CORE:
		r = dwfl_core_file_report(s->dwfl, target_core_elf(t), refused_path(t->exe) ? NULL : t->exe);
		if (r < 0) {
			dwfl_report_end(s->dwfl, NULL, NULL);
			return hd_fail(HD_EGENERIC, "cannot report modules of the core: %s", dwfl_errmsg(-1));
		}
		break;
	case TARGET_IMAGE:
		/* modules of an image: each mapping with a path and offset 0
		 * that is an ELF file on disk */
		for (size_t i = 0; i < t->nmaps; i++) {
			const struct mapping *m = &t->maps[i];
			if (m->path && m->path[0] == '/' && m->offset == 0 && access(m->path, R_OK) == 0)
				dwfl_report_elf(s->dwfl, m->path, m->path, -1, m->start, false);
		}
		break;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0)
		return hd_fail(HD_EGENERIC, "dwfl_report_end: %s", dwfl_errmsg(-1));
	return 0;
}

struct symbols *
symbols_open(struct target *t, const char *debug_dir)
{
	struct symbols *s = xcalloc(1, sizeof(*s));

	s->t = t;
	u64map_init(&s->pc_cache);
	u64map_init(&s->str_index);
	s->cb.find_debuginfo = dwfl_standard_find_debuginfo;
	s->cb.section_address = dwfl_offline_section_address;
	if (debug_dir) {
		s->debug_path = xstrdup(debug_dir);
		s->cb.debuginfo_path = &s->debug_path;
	}
	switch (t->kind) {
	case TARGET_LIVE:
		s->cb.find_elf = dwfl_linux_proc_find_elf;
		break;
	case TARGET_CORE:
		s->cb.find_elf = find_elf_core;
		break;
	case TARGET_IMAGE:
		s->cb.find_elf = dwfl_build_id_find_elf;
		break;
	}
	s->dwfl = dwfl_begin(&s->cb);
	if (!s->dwfl) {
		hd_fail(HD_EGENERIC, "dwfl_begin: %s", dwfl_errmsg(-1));
		free(s->debug_path);
		free(s);
		return NULL;
	}
	if (report(s) < 0) {
		symbols_close(s);
		return NULL;
	}
	return s;
}

static void
clear_caches(struct symbols *s)
{
	u64map_clear(&s->pc_cache);
	s->pcs.n = 0;
	s->frames.n = 0;
	for (size_t i = 0; i < s->modsyms.n; i++) {
		free(s->modsyms.v[i].e);
		free(s->modsyms.v[i].byaddr);
	}
	s->modsyms.n = 0;
	s->roots.n = 0;
}

int
symbols_refresh(struct symbols *s)
{
	clear_caches(s);
	return report(s);
}

void
symbols_close(struct symbols *s)
{
	if (!s)
		return;
	clear_caches(s);
	vec_free(&s->modsyms);
	vec_free(&s->roots);
	u64map_free(&s->pc_cache);
	vec_free(&s->pcs);
	vec_free(&s->frames);
	for (size_t i = 0; i < s->strings.n; i++)
		free(s->strings.v[i]);
	vec_free(&s->strings);
	u64map_free(&s->str_index);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s->debug_path);
	free(s);
}

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

static demangle_fn
demangler(void)
{
	static bool tried;
	static demangle_fn fn;
	if (!tried) {
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		tried = true;
		if (h)
			fn = (demangle_fn)(uintptr_t)dlsym(h, "__cxa_demangle");
		/* the handle stays open for the life of the process */
	}
	return fn;
}

const char *
symbols_demangle(struct symbols *s, const char *name)
{
	demangle_fn fn;
	char *d;
	int status = -1;
	const char *r;

	if (!name || strncmp(name, "_Z", 2))
		return name;
	fn = demangler();
	if (!fn)
		return name;
	d = fn(name, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d);
		return name;
	}
	r = intern(s, d);
	free(d);
	return r;
}

Dwfl *
symbols_dwfl(struct symbols *s)
{
	return s->dwfl;
}

struct target *
symbols_target(struct symbols *s)
{
	return s->t;
}

/* ---- pc -> frames ---- */

/* The name gdb shows for a function DIE: its linkage name when it has one
 * (glibc's __GI_ aliases, C++ mangled names), else DW_AT_name, following
 * abstract_origin and specification. */
static const char *
die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name;
}

/* An ELF symbol name without its version suffix (name@GLIBC_2.2.5). */
static const char *
strip_version(struct symbols *s, const char *name)
{
	const char *at = name ? strchr(name, '@') : NULL;
	char buf[512];
	if (!at || at == name)
		return name;
	snprintf(buf, sizeof(buf), "%.*s", (int)(at - name), name);
	return intern(s, buf);
}

static const char *
call_file(Dwarf_Die *cudie, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t nfiles;
	if (!dwarf_attr(die, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &idx) != 0)
		return NULL;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static int
call_line(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Word line;
	if (!dwarf_attr(die, DW_AT_call_line, &attr) || dwarf_formudata(&attr, &line) != 0)
		return 0;
	return (int)line;
}

/* ---- source paths ---- */

static const char *
die_string(Dwarf_Die *die, int at)
{
	Dwarf_Attribute attr;
	return dwarf_attr(die, at, &attr) ? dwarf_formstring(&attr) : NULL;
}

/* The common leading directories of a and b (both cleaned), in a. */
static void
common_dir(char *a, const char *b)
{
	size_t i = 0, last = 0;

	if ((a[0] == '/') != (b[0] == '/')) {
		strcpy(a, "\x01");	/* absolute and relative: nothing common */
		return;
	}
	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			last = i;
	if (!a[i] && (!b[i] || b[i] == '/'))
		return;		/* a is a directory of b, or b itself */
	if (!b[i] && a[i] == '/') {
		a[i] = 0;	/* b is a directory of a */
		return;
	}
	a[last == 0 && a[0] == '/' ? 1 : last] = 0;
}

static const char *
module_root(struct symbols *s, Dwfl_Module *mod)
{
	struct modroot mr = { mod, NULL };
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;
	char *root = NULL;
	size_t n = 0;

	for (size_t i = 0; i < s->roots.n; i++)
		if (s->roots.v[i].mod == mod)
			return s->roots.v[i].root;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias)) && n++ < 100000) {
		const char *dir = die_string(cu, DW_AT_comp_dir), *name = die_string(cu, DW_AT_name);
		char *d = dir ? path_clean(NULL, dir) : NULL, *f = name ? path_clean(dir, name) : NULL;
		char *slash = f ? strrchr(f, '/') : NULL;
		if (slash)
			*slash = 0;	/* the file's directory */
		else if (f)
			strcpy(f, ".");
		for (int k = 0; k < 2; k++) {
			const char *x = k ? f : d;
			if (!x)
				continue;
			if (!root)
				root = xstrdup(x);
			else if (!strcmp(root, "."))
				;	/* relative paths: nothing to strip */
			else if (!strcmp(x, "."))
				strcpy(root, root[0] == '/' ? "\x01" : ".");
			else
				common_dir(root, x);
		}
		free(d);
		free(f);
	}
	/* relative paths with nothing in common: they are relative to the
	 * build's top already (""); absolute ones with only "/": none */
	if (root && strcmp(root, "\x01") && strcmp(root, "/"))
		mr.root = intern(s, strcmp(root, ".") ? root : "");
	free(root);
	vec_push(&s->roots, mr);
	return mr.root;
}

const char *
symbols_source_root(struct symbols *s, uint64_t addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	return mod ? module_root(s, mod) : NULL;
}

static void
add_frame(struct symbols *s, Dwfl_Module *mod, Dwarf_Die *cudie, uint64_t pc, const char *func, uint64_t off,
	  const char *file, int line, const char *module, bool inlined, const char *vg_name)
{
	struct frame_info f = { pc, intern(s, symbols_demangle(s, func)), off, NULL, NULL, line,
				intern(s, module), inlined, intern(s, vg_name) };

	if (file) {
		/* libdw joins a line-table entry with its directory, but
		 * leaves a relative one relative to the compilation
		 * directory: join that too, unless the name has it already */
		const char *dir = cudie ? die_string(cudie, DW_AT_comp_dir) : NULL;
		char *cdir = dir ? path_clean(NULL, dir) : NULL, *cfile = path_clean(NULL, file), *full;
		const char *root = mod ? module_root(s, mod) : NULL, *rel;
		if (cdir && cfile[0] != '/' && !path_under(cfile, cdir))
			full = path_clean(cdir, cfile);
		else
			full = xstrdup(cfile);
		f.file = intern(s, full);
		rel = root ? path_under(f.file, root) : NULL;
		if (!rel && cdir)
			rel = path_under(f.file, cdir);
		f.file_rel = rel && *rel ? intern(s, rel) : f.file;
		free(full);
		free(cfile);
		free(cdir);
	}
	vec_push(&s->frames, f);
}

static struct modsyms *module_syms(struct symbols *s, Dwfl_Module *mod);

/* valgrind's preferName (m_debuginfo/storage.c) between two names of
 * one address range: the shortest without its version, then one with a
 * version, then the first alphabetically.  True if a wins. */
static bool
vg_prefer(const char *a, const char *b)
{
	const char *va = strchr(a, '@'), *vb = strchr(b, '@');
	size_t la = va ? (size_t)(va - a) : strlen(a), lb = vb ? (size_t)(vb - b) : strlen(b);

	if (la && !lb)
		return true;
	if (lb && !la)
		return false;
	if (la != lb)
		return la < lb;
	if (!!va != !!vb)
		return va != NULL;
	return strcmp(a, b) <= 0;
}

static int
byaddr_cmp(const void *x, const void *y, void *arg)
{
	const struct symtab_entry *e = arg;
	const struct symtab_entry *a = &e[*(const uint32_t *)x], *b = &e[*(const uint32_t *)y];
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static bool
vg_text_sym(const struct symtab_entry *e)
{
	return e->type == STT_FUNC || e->type == STT_GNU_IFUNC || e->type == STT_NOTYPE;
}

/* The name valgrind uses for the function at [addr, addr+size) of mod,
 * among its ELF symbols of that exact range (valgrind merges them into
 * one entry and names it by preferName). */
static const char *
vg_symbol(struct symbols *s, Dwfl_Module *mod, uint64_t addr, uint64_t size, const char *name)
{
	struct modsyms *ms = module_syms(s, mod);
	const char *best = name;
	size_t lo = 0, hi;

	if (!ms->n)
		return name;
	if (!ms->byaddr) {
		ms->byaddr = xreallocarray(NULL, ms->n, sizeof(*ms->byaddr));
		for (size_t i = 0; i < ms->n; i++)
			ms->byaddr[i] = (uint32_t)i;
		qsort_r(ms->byaddr, ms->n, sizeof(*ms->byaddr), byaddr_cmp, ms->e);
	}
	hi = ms->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ms->e[ms->byaddr[mid]].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ms->n && ms->e[ms->byaddr[lo]].addr == addr; lo++) {
		const struct symtab_entry *e = &ms->e[ms->byaddr[lo]];
		if (e->size == size && vg_text_sym(e) && !vg_prefer(best, e->name))
			best = e->name;
	}
	return best;
}

static void
resolve_uncached(struct symbols *s, uint64_t pc, bool caller)
{
	uint64_t lookup = caller && pc ? pc - 1 : pc;
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, lookup);
	const char *modname = NULL, *symname = NULL, *file = NULL;
	const char *slash;
	GElf_Off symoff = 0;
	GElf_Sym sym;
	int line = 0;
	Dwarf_Addr bias = 0;
	Dwarf_Die *cudie = NULL, *scopes = NULL;
	int nscopes = 0;
	Dwfl_Line *ln;
	bool any_inline = false;
	const char *vgname = NULL;

	if (!mod) {
		add_frame(s, NULL, NULL, pc, NULL, 0, NULL, 0, NULL, false, NULL);
		return;
	}
	modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	if (modname && (slash = strrchr(modname, '/')))
		modname = slash + 1;
	symname = dwfl_module_addrinfo(mod, lookup, &symoff, &sym, NULL, NULL, NULL);
	if (symname) {
		vgname = vg_symbol(s, mod, lookup - symoff, sym.st_size, symname);
		symoff += pc - lookup;	/* the offset of the pc itself */
		symname = strip_version(s, symname);
	}
	ln = dwfl_module_getsrc(mod, lookup);
	if (ln) {
		file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
	}
	cudie = dwfl_module_addrdie(mod, lookup, &bias);
	if (cudie)
		nscopes = dwarf_getscopes(cudie, lookup - bias, &scopes);
	/* dwarf_getscopes follows an inlined instance into its abstract
	 * definition's scopes, so a call inlined into an inlined call ends
	 * the chain after one level: from the innermost inlined instance,
	 * dwarf_getscopes_die gives every instance out to the subprogram */
	for (int i = 0; i < nscopes; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine) {
			Dwarf_Die *chain = NULL;
			int n = dwarf_getscopes_die(&scopes[i], &chain);
			if (n > 0) {
				free(scopes);
				scopes = chain;
				nscopes = n;
			} else {
				free(chain);
			}
			break;
		}
	}
	/* the inline chain: each DW_TAG_inlined_subroutine scope is a frame
	 * whose location is where the next inner one was called from */
	if (nscopes > 0) {
		const char *cur_file = file;
		int cur_line = line;
		for (int i = 0; i < nscopes; i++) {
			Dwarf_Die *die = &scopes[i];
			int tag = dwarf_tag(die);
			if (tag == DW_TAG_inlined_subroutine) {
				Dwarf_Attribute attr;
				const char *vn = dwarf_attr_integrate(die, DW_AT_name, &attr) ?
						 dwarf_formstring(&attr) : NULL;
				add_frame(s, mod, cudie, pc, die_name(die), 0, cur_file, cur_line, modname, true, vn);
				any_inline = true;
				cur_file = call_file(cudie, die);
				cur_line = call_line(die);
			} else if (tag == DW_TAG_subprogram) {
				const char *name = die_name(die);
				add_frame(s, mod, cudie, pc, name ? name : symname, symoff, cur_file,
					  cur_line, modname, false, vgname);
				free(scopes);
				return;
			}
		}
		free(scopes);
		if (any_inline) {
			add_frame(s, mod, cudie, pc, symname, symoff, cur_file, cur_line, modname, false, vgname);
			return;
		}
	}
	add_frame(s, mod, cudie, pc, symname, symoff, file, line, modname, false, vgname);
}

int
symbols_resolve(struct symbols *s, uint64_t pc, bool caller, const struct frame_info **out)
{
	uint64_t key = (pc << 1 | (caller ? 1 : 0)), idx;
	struct pc_entry e;

	if (pc >= (1ULL << 63))
		key = pc ^ (caller ? 1 : 0);	/* kernel-range pcs: keep unique enough */
	if (!u64map_get(&s->pc_cache, key, &idx)) {
		e.first = (int)s->frames.n;
		resolve_uncached(s, pc, caller);
		e.count = (int)s->frames.n - e.first;
		vec_push(&s->pcs, e);
		idx = s->pcs.n - 1;
		u64map_put(&s->pc_cache, key, idx);
	}
	e = s->pcs.v[idx];
	*out = &s->frames.v[e.first];
	return e.count;
}

/* ---- name -> address ---- */

static int
entry_cmp(const void *a, const void *b)
{
	const struct symtab_entry *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static struct modsyms *
module_syms(struct symbols *s, Dwfl_Module *mod)
{
	struct modsyms ms;
	int n;

	for (size_t i = 0; i < s->modsyms.n; i++)
		if (s->modsyms.v[i].mod == mod)
			return &s->modsyms.v[i];
	memset(&ms, 0, sizeof(ms));
	ms.mod = mod;
	n = dwfl_module_getsymtab(mod);
	if (n > 0) {
		const char *mainfile = NULL, *debugfile = NULL;
		ms.e = xreallocarray(NULL, n, sizeof(*ms.e));
		for (int i = 1; i < n; i++) {
			GElf_Sym sym;
			GElf_Addr addr;
			const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
			if (!name || !*name || sym.st_shndx == SHN_UNDEF)
				continue;
			ms.e[ms.n].name = name;
			ms.e[ms.n].addr = GELF_ST_TYPE(sym.st_info) == STT_TLS ? sym.st_value : addr;
			ms.e[ms.n].size = sym.st_size;
			ms.e[ms.n].type = GELF_ST_TYPE(sym.st_info);
			ms.e[ms.n].bind = GELF_ST_BIND(sym.st_info);
			ms.n++;
		}
		qsort(ms.e, ms.n, sizeof(*ms.e), entry_cmp);
		dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
		ms.from_debug = debugfile != NULL;
	}
	vec_push(&s->modsyms, ms);
	return &s->modsyms.v[s->modsyms.n - 1];
}

struct collect {
	Dwfl_Module **v;
	size_t n, cap;
};

static int
collect_mod(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n++] = mod;
	return DWARF_CB_OK;
}

/* Modules in search order: the executable first, then by load address. */
static void
modules(struct symbols *s, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	dwfl_getmodules(s->dwfl, collect_mod, c, 0);
	/* sort by start address */
	for (size_t i = 1; i < c->n; i++) {
		Dwfl_Module *m = c->v[i];
		Dwarf_Addr a, b;
		size_t j = i;
		dwfl_module_info(m, NULL, &a, NULL, NULL, NULL, NULL, NULL);
		while (j > 0) {
			dwfl_module_info(c->v[j - 1], NULL, &b, NULL, NULL, NULL, NULL, NULL);
			if (b <= a)
				break;
			c->v[j] = c->v[j - 1];
			j--;
		}
		c->v[j] = m;
	}
	/* the executable first */
	if (s->t->exe) {
		for (size_t i = 0; i < c->n; i++) {
			const char *mainfile = NULL;
			const char *name = dwfl_module_info(c->v[i], NULL, NULL, NULL, NULL, NULL, &mainfile, NULL);
			if ((name && !strcmp(name, s->t->exe)) || (mainfile && !strcmp(mainfile, s->t->exe))) {
				Dwfl_Module *m = c->v[i];
				memmove(&c->v[1], &c->v[0], i * sizeof(*c->v));
				c->v[0] = m;
				break;
			}
		}
	}
}

static int
rank(const struct symtab_entry *e)
{
	int r = 0;
	if (e->type == STT_FUNC || e->type == STT_OBJECT || e->type == STT_TLS || e->type == STT_GNU_IFUNC)
		r += 4;
	if (e->bind == STB_GLOBAL)
		r += 2;
	else if (e->bind == STB_WEAK)
		r += 1;
	return r;
}

int
symbols_lookup(struct symbols *s, const char *module, const char *name, struct sym_info *out)
{
	struct collect c;

	modules(s, &c);
	for (size_t i = 0; i < c.n; i++) {
		Dwfl_Module *mod = c.v[i];
		Dwarf_Addr start;
		const char *mname = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
		struct modsyms *ms;
		struct symtab_entry key = { name, 0, 0, 0, 0 }, *hit, *best = NULL;

		if (module) {
			const char *base = mname ? strrchr(mname, '/') : NULL;
			base = base ? base + 1 : mname;
			if (!base || !strstr(base, module))
				continue;
		}
		ms = module_syms(s, mod);
		if (!ms->n)
			continue;
		hit = bsearch(&key, ms->e, ms->n, sizeof(*ms->e), entry_cmp);
		if (!hit)
			continue;
		/* several entries may share the name: take the best ranked */
		while (hit > ms->e && !strcmp(hit[-1].name, name))
			hit--;
		for (; hit < ms->e + ms->n && !strcmp(hit->name, name); hit++)
			if (!best || rank(hit) > rank(best))
				best = hit;
		if (best) {
			Dwarf_Addr bias = 0;
			dwfl_module_getelf(mod, &bias);
			out->addr = best->addr;
			out->size = best->size;
			out->type = best->type;
			out->bind = best->bind;
			out->module = mname;
			out->module_start = start;
			out->bias = bias;
			out->from_debug_file = ms->from_debug;
			free(c.v);
			return 0;
		}
	}
	free(c.v);
	return hd_fail(HD_ENOENT, "no symbol '%s'%s%s", name, module ? " in " : "", module ? module : "");
}

bool
symbols_addr_sym(struct symbols *s, uint64_t addr, const char **name, uint64_t *off, const char **module)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	GElf_Off o = 0;
	GElf_Sym sym;
	const char *n;
	if (!mod)
		return false;
	n = dwfl_module_addrinfo(mod, addr, &o, &sym, NULL, NULL, NULL);
	if (!n)
		return false;
	/* only if addr lies inside the symbol (sizes known) */
	if (sym.st_size && o >= sym.st_size)
		return false;
	if (name)
		*name = intern(s, n);
	if (off)
		*off = o;
	if (module) {
		const char *m = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		const char *sl = m ? strrchr(m, '/') : NULL;
		*module = intern(s, sl ? sl + 1 : m);
	}
	return true;
}

bool
symbols_addr_extent(struct symbols *s, uint64_t addr, const char **name, uint64_t *start, uint64_t *size,
		    const char **module)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	GElf_Off o = 0;
	GElf_Sym sym;
	const char *n;

	if (!mod || !(n = dwfl_module_addrinfo(mod, addr, &o, &sym, NULL, NULL, NULL)))
		return false;
	if (sym.st_size && o >= sym.st_size)
		return false;
	if (name)
		*name = intern(s, n);
	if (start)
		*start = addr - o;
	if (size)
		*size = sym.st_size;
	if (module) {
		const char *m = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		*module = m ? intern(s, m) : NULL;
	}
	return true;
}

bool
symbols_addr_section(struct symbols *s, uint64_t addr, const char **name, uint64_t *start, uint64_t *end)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	Dwarf_Addr a = addr, bias = 0;
	Elf_Scn *scn = mod ? dwfl_module_address_section(mod, &a, &bias) : NULL;
	Elf *elf = mod ? dwfl_module_getelf(mod, &bias) : NULL;
	GElf_Shdr sh;
	size_t shstrndx;
	const char *n;

	if (!scn || !elf || !gelf_getshdr(scn, &sh) || elf_getshdrstrndx(elf, &shstrndx) != 0 ||
	    !(n = elf_strptr(elf, shstrndx, sh.sh_name)))
		return false;
	if (name)
		*name = intern(s, n);
	if (start)
		*start = sh.sh_addr + bias;
	if (end)
		*end = sh.sh_addr + bias + sh.sh_size;
	return true;
}

/* Depth-first over a DIE's children: the function whose scope holds
 * the variable at file address vaddr (DW_OP_addr), or NULL. */
static const char *
static_scope_in(Dwarf_Die *parent, Dwarf_Addr vaddr, const char *fn, int depth)
{
	Dwarf_Die die;

	if (depth > 64 || dwarf_child(parent, &die) != 0)
		return NULL;
	do {
		int tag = dwarf_tag(&die);
		if (tag == DW_TAG_variable && fn) {
			Dwarf_Attribute at;
			Dwarf_Op *expr;
			size_t len;
			if (dwarf_attr(&die, DW_AT_location, &at) && dwarf_getlocation(&at, &expr, &len) == 0 &&
			    len == 1 && expr[0].atom == DW_OP_addr && expr[0].number == vaddr)
				return fn;
		} else if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block || tag == DW_TAG_namespace ||
			   tag == DW_TAG_class_type || tag == DW_TAG_structure_type) {
			const char *inner = tag == DW_TAG_subprogram ? dwarf_diename(&die) : fn;
			const char *r = static_scope_in(&die, vaddr, inner, depth + 1);
			if (r)
				return r;
		}
	} while (dwarf_siblingof(&die, &die) == 0);
	return NULL;
}

const char *
symbols_static_scope(struct symbols *s, uint64_t addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	Dwarf_Addr bias = 0;
	Dwarf *dw = mod ? dwfl_module_getdwarf(mod, &bias) : NULL;
	Dwarf_Off off = 0, next;
	size_t hsize;

	if (!dw)
		return NULL;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		if (dwarf_offdie(dw, off + hsize, &cu)) {
			const char *fn = static_scope_in(&cu, addr - bias, NULL, 0);
			if (fn)
				return intern(s, fn);
		}
		off = next;
	}
	return NULL;
}

static bool
elf_has_section(Elf *elf, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;
		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name))
			return sh.sh_type != SHT_NOBITS;
	}
	return false;
}

static void
fill_module(Dwfl_Module *mod, struct module_info *out)
{
	Dwarf_Addr start, end, bias = 0;
	const char *mainfile = NULL, *debugfile = NULL;
	GElf_Addr vaddr;
	Elf *elf;

	memset(out, 0, sizeof(*out));
	/* Find the files without loading DWARF: the symbol table search looks
	 * for the separate debug file; the main file may carry .debug_info. */
	elf = dwfl_module_getelf(mod, &bias);
	out->has_symtab = dwfl_module_getsymtab(mod) > 0;
	out->name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, &mainfile, &debugfile);
	out->has_dwarf = debugfile != NULL || (elf && elf_has_section(elf, ".debug_info"));
	out->start = start;
	out->end = end;
	out->bias = bias;
	out->file = mainfile;
	out->debug_file = debugfile;
	out->build_id_len = dwfl_module_build_id(mod, &out->build_id, &vaddr);
	if (out->build_id_len < 0)
		out->build_id_len = 0;
}

bool
symbols_module(struct symbols *s, size_t i, struct module_info *out)
{
	struct collect c;
	bool ok = false;
	modules(s, &c);
	if (i < c.n) {
		fill_module(c.v[i], out);
		ok = true;
	}
	free(c.v);
	return ok;
}

bool
symbols_module_at(struct symbols *s, uint64_t addr, struct module_info *out)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	if (!mod)
		return false;
	fill_module(mod, out);
	return true;
}
