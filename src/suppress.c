/*
 * suppress.c - valgrind's suppression files for the leak check (see
 * suppress.h): the reader follows m_errormgr.c's load_one_suppressions_file
 * and memcheck's extra line, the matcher its generic_match over frames,
 * the stacks valgrind's view of an allocation (its replacement malloc as
 * the first frame, inlined calls as frames, names as its symbol table
 * picks them, main as the last frame).
 */
#include "config.h"
#include "suppress.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* where valgrind's replacement malloc is (Debian's path); the first frame
 * of every allocation stack is there for valgrind */
#define VG_PRELOAD "/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"

/* ---- reading ---- */

struct reader {
	FILE *f;
	const char *path;
	int lineno;
	char *buf;
	size_t cap;
};

/* The next line that is neither blank nor a comment, trimmed; NULL at
 * the end of the file. */
static char *
next_line(struct reader *r)
{
	ssize_t n;

	while ((n = getline(&r->buf, &r->cap, r->f)) >= 0) {
		char *p = r->buf, *e;
		r->lineno++;
		while (*p && isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (*p && *p != '#')
			return p;
	}
	return NULL;
}

static bool
is_location(const char *l)
{
	return !strncmp(l, "fun:", 4) || !strncmp(l, "obj:", 4) || !strncmp(l, "src:", 4) || !strcmp(l, "...");
}

/* "Memcheck" among "Tool1,Tool2" */
static bool
tool_present(const char *name, const char *names)
{
	size_t len = strlen(name);
	for (const char *s = names; (s = strstr(s, name)); s++)
		if ((s == names || s[-1] == ',') && (s[len] == ',' || s[len] == 0))
			return true;
	return false;
}

static bool
memcheck_kind(const char *k)
{
	static const char *const kinds[] = {
		"Param", "User", "CoreMem", "Addr1", "Addr2", "Addr4", "Addr8", "Addr16", "Addr32", "Jump",
		"Free", "Leak", "Overlap", "Mempool", "Cond", "Value0", "Value1", "Value2", "Value4", "Value8",
		"Value16", "Value32", "FishyValue", "ReallocZero", "BadAlign", "BadSize", "UnsafeZeroSize",
		"SizeMismatch", "AlignMismatch", NULL,
	};
	for (size_t i = 0; kinds[i]; i++)
		if (!strcmp(k, kinds[i]))
			return true;
	return false;
}

static void
supp_free_one(struct supp *sp)
{
	free(sp->name);
	for (size_t i = 0; i < sp->nframes; i++)
		free(sp->frames[i].pat);
	free(sp->frames);
}

int
supp_load(struct supp_set *set, const char *path)
{
	struct reader r = { NULL, path, 0, NULL, 0 };
	const char *err = NULL;
	char *l, *file;
	int rc = 0;

	r.f = fopen(path, "r");
	if (!r.f)
		return hd_fail_errno(HD_ENOENT, errno, "cannot open suppressions file '%s'", path);
	file = xstrdup(path);
	vec_push(&set->files, file);
	while ((l = next_line(&r))) {
		struct supp sp;
		VEC(struct supp_frame) fr = { 0 };
		char *colon;
		bool skip = false, pending = false;

		memset(&sp, 0, sizeof(sp));
		sp.file = file;
		sp.kinds = LEAK_KINDS_ALL;
		if (strcmp(l, "{")) {
			err = "expected '{' or end-of-file";
			goto bad;
		}
		l = next_line(&r);
		if (!l || !strcmp(l, "}")) {
			err = "unexpected '}'";
			goto bad;
		}
		sp.name = xstrdup(l);
		sp.line = r.lineno;
		l = next_line(&r);
		if (!l) {
			err = "unexpected end-of-file (expecting tool:suppr)";
			goto bad_sp;
		}
		colon = strchr(l, ':');
		if (!colon) {
			err = "malformed 'tool1,tool2,...:supp' line";
			goto bad_sp;
		}
		*colon = 0;
		if (!tool_present("Memcheck", l)) {
			skip = true;	/* another tool's: skipped to its '}' */
		} else if (!memcheck_kind(colon + 1)) {
			err = "unknown tool suppression type";
			goto bad_sp;
		}
		sp.leak = !skip && !strcmp(colon + 1, "Leak");
		if (skip) {
			while ((l = next_line(&r)) && strcmp(l, "}"))
				;
			if (!l) {
				err = "unexpected end-of-file (when skipping suppression)";
				goto bad_sp;
			}
			supp_free_one(&sp);
			continue;
		}
		/* memcheck's extra line: Leak's optional match-leak-kinds,
		 * the syscall parameter of Param, FishyValue's function */
		l = next_line(&r);
		if (l && sp.leak && !is_location(l) && strcmp(l, "}")) {
			const char *k = l + 17;
			if (strncmp(l, "match-leak-kinds:", 17)) {
				err = "bad or missing extra suppression info";
				goto bad_sp;
			}
			while (isspace((unsigned char)*k))
				k++;
			if (leak_kinds_parse(k, &sp.kinds) < 0) {
				err = "bad or missing extra suppression info";
				goto bad_sp;
			}
			l = NULL;
		} else if (l && (!strcmp(colon + 1, "Param") || !strcmp(colon + 1, "FishyValue"))) {
			l = NULL;
		}
		pending = l != NULL;
		for (;;) {
			struct supp_frame f = { SL_DOTS, NULL, 0 };
			if (!pending)
				l = next_line(&r);
			pending = false;
			if (!l) {
				err = "unexpected end-of-file (when reading stack trace)";
				goto bad_fr;
			}
			if (!strcmp(l, "}")) {
				if (!fr.n) {
					err = "missing stack trace";
					goto bad_fr;
				}
				break;
			}
			if (fr.n >= VG_NUM_CALLERS) {
				/* valgrind ignores frames past --num-callers */
				while ((l = next_line(&r)) && strcmp(l, "}"))
					;
				if (!l) {
					err = "unexpected end-of-file (when reading stack trace)";
					goto bad_fr;
				}
				break;
			}
			if (!strncmp(l, "fun:", 4)) {
				f.kind = SL_FUN;
				f.pat = xstrdup(l + 4);
			} else if (!strncmp(l, "obj:", 4)) {
				f.kind = SL_OBJ;
				f.pat = xstrdup(l + 4);
			} else if (!strncmp(l, "src:", 4)) {
				char *c;
				f.kind = SL_SRC;
				f.pat = xstrdup(l + 4);
				if ((c = strchr(f.pat, ':'))) {
					*c = 0;
					f.line = atoi(c + 1);
				}
			} else if (strcmp(l, "...")) {
				err = "location should be \"...\", or should start with \"fun:\", \"obj:\", or \"src:\"";
				goto bad_fr;
			}
			vec_push(&fr, f);
		}
		{
			size_t k = 0;
			while (k < fr.n && fr.v[k].kind == SL_DOTS)
				k++;
			if (k == fr.n) {
				err = "suppression must contain at least one location line which is not \"...\"";
				goto bad_fr;
			}
		}
		sp.frames = fr.v;
		sp.nframes = fr.n;
		vec_push(&set->v, sp);
		continue;
bad_fr:
		for (size_t i = 0; i < fr.n; i++)
			free(fr.v[i].pat);
		vec_free(&fr);
bad_sp:
		supp_free_one(&sp);
		goto bad;
	}
	goto out;
bad:
	rc = hd_fail(HD_EFORMAT, "%s:%d: %s", path, r.lineno, err);
out:
	free(r.buf);
	fclose(r.f);
	return rc;
}

void
supp_set_free(struct supp_set *set)
{
	for (size_t i = 0; i < set->v.n; i++)
		supp_free_one(&set->v.v[i]);
	vec_free(&set->v);
	for (size_t i = 0; i < set->files.n; i++)
		free(set->files.v[i]);
	vec_free(&set->files);
}

/* ---- matching ---- */

bool
supp_string_match(const char *p, const char *s)
{
	/* non-greedy '*', as generic_match: try the shortest run first */
	for (;;) {
		if (*p == '*') {
			if (supp_string_match(p + 1, s))
				return true;
			if (!*s)
				return false;
			s++;
			continue;
		}
		if (!*p)
			return !*s;
		if (!*s)
			return false;
		if (*p != '?' && *p != *s)
			return false;
		p++;
		s++;
	}
}

static const char *
base_name(const char *path)
{
	const char *sl = path ? strrchr(path, '/') : NULL;
	return sl ? sl + 1 : path;
}

static bool
frame_eq(const struct supp_frame *pf, const struct vg_frame *f)
{
	switch (pf->kind) {
	case SL_FUN:
		return supp_string_match(pf->pat, f->fun ? f->fun : "???");
	case SL_OBJ:
		return supp_string_match(pf->pat, f->obj ? f->obj : "???");
	case SL_SRC:
		return f->src_file && supp_string_match(pf->pat, base_name(f->src_file)) &&
		       (!pf->line || pf->line == f->src_line);
	case SL_DOTS:
		break;
	}
	return false;
}

/* generic_match in prefix mode: "..." matches any run of frames */
static bool
frames_match(const struct supp_frame *p, size_t np, const struct vg_frame *f, size_t nf)
{
	for (;;) {
		if (np && p->kind == SL_DOTS) {
			if (frames_match(p + 1, np - 1, f, nf))
				return true;
			if (!nf)
				return false;
			f++;
			nf--;
			continue;
		}
		if (!np)
			return true;	/* a prefix of the stack */
		if (!nf || !frame_eq(p, f))
			return false;
		p++;
		np--;
		f++;
		nf--;
	}
}

/* a location line any frame matches: "...", or fun: or obj: with a
 * pattern of '*' only */
static bool
frame_any(const struct supp_frame *pf)
{
	if (pf->kind == SL_DOTS)
		return true;
	if (pf->kind == SL_SRC || !pf->pat[0])
		return false;
	return strspn(pf->pat, "*") == strlen(pf->pat);
}

bool
supp_any_stack(const struct supp *sp)
{
	for (size_t k = 0; k < sp->nframes; k++)
		if (!frame_any(&sp->frames[k]))
			return false;
	return true;
}

struct supp *
supp_match(struct supp_set *set, enum leak_kind kind, const struct vg_frame *f, size_t n)
{
	/* valgrind puts each entry it reads in front of the others */
	for (size_t i = set->v.n; i-- > 0;) {
		struct supp *sp = &set->v.v[i];
		if (!sp->leak || !(sp->kinds & (1u << kind)))
			continue;
		if (n ? frames_match(sp->frames, sp->nframes, f, n) : supp_any_stack(sp))
			return sp;
	}
	return NULL;
}

/* ---- valgrind's view of a stack ---- */

/* A function valgrind's preload replaces: the malloc family, and operator
 * new and new[] in every variant (mangled). */
static bool
vg_replaced(const char *name)
{
	static const char *const names[] = {
		"malloc", "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc", "posix_memalign",
		"valloc", "pvalloc", "free", "cfree", NULL,
	};
	if (!name)
		return false;
	if (!strncmp(name, "_Znw", 4) || !strncmp(name, "_Zna", 4))
		return true;
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static bool
is_main(const char *n)
{
	return n && !strcmp(n, "main");
}

/* m_debuginfo's Vg_FnNameBelowMain */
static bool
below_main(const char *n)
{
	return n && (!strcmp(n, "__libc_start_main") || !strcmp(n, "__libc_start_call_main") ||
		     !strncmp(n, "__libc_start_main.", 18) || !strcmp(n, "generic_start_main") ||
		     !strncmp(n, "generic_start_main.", 19) || !strcmp(n, "_start"));
}

/* the non-inlined frame of a pc's frames (the last one) */
static const struct frame_info *
outer_frame(const struct frame_info *fi, int nf)
{
	return nf > 0 ? &fi[nf - 1] : NULL;
}

static const char *
module_path(struct symbols *sym, uint64_t pc)
{
	struct module_info mi;
	if (!symbols_module_at(sym, pc, &mi))
		return NULL;
	return mi.name;
}

static bool
is_new(const char *n)
{
	return n && (!strncmp(n, "_Znw", 4) || !strncmp(n, "_Zna", 4));
}

/* The function the call before return address ra called, when the call
 * is direct (e8 rel32, through a PLT stub or not) or through the GOT (ff
 * 15, -fno-plt), by the name valgrind gives it; else NULL.  operator
 * new[] tail-calls operator new, so only the caller's call tells which
 * of them the program called. */
static const char *
call_target(struct symbols *sym, uint64_t ra)
{
	struct target *t = symbols_target(sym);
	uint8_t b[16];
	uint64_t to = 0, slot = 0;
	const struct frame_info *fi;
	int nf;

	if (!t || ra < 6 || target_read(t, ra - 6, b, 6) < 0)
		return NULL;
	if (b[1] == 0xe8) {
		int32_t rel;
		memcpy(&rel, b + 2, 4);
		to = ra + (uint64_t)(int64_t)rel;
	} else if (b[0] == 0xff && b[1] == 0x15) {
		int32_t rel;
		memcpy(&rel, b + 2, 4);
		slot = ra + (uint64_t)(int64_t)rel;
	} else {
		return NULL;
	}
	if (to) {
		nf = symbols_resolve(sym, to, false, &fi);
		if (nf > 0 && fi[nf - 1].vg_name)
			return fi[nf - 1].vg_name;
		/* a PLT stub: [endbr64] [bnd] jmp *slot(%rip) */
		if (target_read(t, to, b, 11) < 0)
			return NULL;
		{
			size_t k = 0;
			int32_t rel;
			if (b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
				k = 4;
			if (b[k] == 0xf2)
				k++;
			if (b[k] != 0xff || b[k + 1] != 0x25)
				return NULL;
			memcpy(&rel, b + k + 2, 4);
			slot = to + k + 6 + (uint64_t)(int64_t)rel;
		}
	}
	if (target_read(t, slot, &to, 8) < 0 || !to)
		return NULL;
	nf = symbols_resolve(sym, to, false, &fi);
	return nf > 0 ? fi[nf - 1].vg_name : NULL;
}

size_t
vg_stack(struct symbols *sym, const uint64_t *pcs, int n, struct vg_frame **out)
{
	VEC(struct vg_frame) v = { 0 }, raw = { 0 };
	const char *alloc = NULL;
	int i = 0, used = 0;
	const struct frame_info *fi;
	int nf;

	*out = NULL;
	if (!sym || n <= 0)
		return 0;
	/* the allocator the program called: pcs[0] is its entry, and
	 * operator new's frames around malloc fold into it */
	nf = symbols_resolve(sym, pcs[0], false, &fi);
	if (outer_frame(fi, nf) && vg_replaced(outer_frame(fi, nf)->vg_name)) {
		alloc = outer_frame(fi, nf)->vg_name;
		for (i = 1; i < n; i++) {
			nf = symbols_resolve(sym, pcs[i], true, &fi);
			if (nf != 1 || fi[0].inlined || !is_new(fi[0].vg_name))
				break;
			alloc = fi[0].vg_name;
		}
		if (i < n && is_new(alloc)) {
			const char *called = call_target(sym, pcs[i]);
			if (is_new(called))
				alloc = called;
		}
		{
			struct vg_frame f = { alloc, VG_PRELOAD, NULL, 0, NULL, 0 };
			vec_push(&v, f);
			vec_push(&raw, f);	/* no line: valgrind's preload has no debug info */
		}
		used = 1;
	}
	for (; i < n && used < VG_NUM_CALLERS; i++, used++) {
		bool caller = i > 0;
		nf = symbols_resolve(sym, pcs[i], caller, &fi);
		for (int k = 0; k < nf; k++) {
			struct vg_frame f = { fi[k].vg_name, module_path(sym, caller ? pcs[i] - 1 : pcs[i]), fi[k].file,
					      fi[k].line, NULL, 0 };
			if (!fi[k].inlined && below_main(f.fun))
				f.fun = "(below main)";
			vec_push(&v, f);
			if (!k)
				vec_push(&raw, f);	/* the pc's own location: its innermost frame */
		}
	}
	for (size_t k = 0; k < v.n && k < raw.n; k++) {
		v.v[k].src_file = raw.v[k].file;
		v.v[k].src_line = raw.v[k].line;
	}
	vec_free(&raw);
	*out = v.v;
	return v.n;
}

void
supp_format(struct sbuf *sb, enum leak_kind kind, const struct vg_frame *f, size_t n)
{
	/* as valgrind prints a stack: up to main, else up to the innermost
	 * function below main */
	size_t end = n;
	for (size_t i = n; i-- > 0;) {
		if (f[i].fun && (is_main(f[i].fun) || !strcmp(f[i].fun, "(below main)")))
			end = i + 1;
		if (f[i].fun && is_main(f[i].fun))
			break;
	}
	/* (an inlined frame inside main's pc would be cut with it: main
	 * is the last frame of its pc, so nothing after it is lost) */
	sb_printf(sb, "{\n   <insert_a_suppression_name_here>\n   Memcheck:Leak\n   match-leak-kinds: %s\n",
		  leak_kind_name(kind));
	for (size_t i = 0; i < end; i++) {
		if (f[i].fun)
			sb_printf(sb, "   fun:%s\n", f[i].fun);
		else if (f[i].obj)
			sb_printf(sb, "   obj:%s\n", f[i].obj);
		else
			sb_puts(sb, "   obj:*\n");
	}
	sb_puts(sb, "}\n");
}
