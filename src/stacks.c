/*
 * stacks.c - interned call stacks (see stacks.h): pcs stored back to back
 * in one array, a hash of the pcs to the id; and the two rules that make
 * a stack readable: which frames are the allocator's, and how a long C++
 * name is shortened.
 */
#include "config.h"
#include "stacks.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stack_ent {
	uint32_t first;		/* index in pcs */
	uint32_t n;
};

struct stack_table {
	VEC(uint64_t) pcs;
	VEC(struct stack_ent) ent;	/* ent[id - 1] */
	struct u64map index;		/* hash -> id (chained by probing the hash) */
};

struct stack_table *
stack_table_new(void)
{
	struct stack_table *st = xcalloc(1, sizeof(*st));
	u64map_init(&st->index);
	return st;
}

void
stack_table_free(struct stack_table *st)
{
	if (!st)
		return;
	vec_free(&st->pcs);
	vec_free(&st->ent);
	u64map_free(&st->index);
	free(st);
}

uint32_t
stack_intern(struct stack_table *st, const uint64_t *pcs, int n)
{
	uint64_t h = hash_bytes(pcs, (size_t)n * sizeof(*pcs), (uint64_t)n), id;
	struct stack_ent e;

	if (n < 0)
		n = 0;
	for (;; h++) {
		if (h == UINT64_MAX)
			h = 0;
		if (!u64map_get(&st->index, h, &id))
			break;
		{
			const struct stack_ent *x = &st->ent.v[id - 1];
			if (x->n == (uint32_t)n && !memcmp(st->pcs.v + x->first, pcs, (size_t)n * sizeof(*pcs)))
				return (uint32_t)id;
		}
	}
	e.first = (uint32_t)st->pcs.n;
	e.n = (uint32_t)n;
	vec_reserve(&st->pcs, st->pcs.n + (size_t)n);
	memcpy(st->pcs.v + st->pcs.n, pcs, (size_t)n * sizeof(*pcs));
	st->pcs.n += (size_t)n;
	vec_push(&st->ent, e);
	u64map_put(&st->index, h, st->ent.n);
	return (uint32_t)st->ent.n;
}

const uint64_t *
stack_pcs(const struct stack_table *st, uint32_t id, int *n)
{
	if (!st || id == 0 || id > st->ent.n) {
		*n = 0;
		return NULL;
	}
	*n = (int)st->ent.v[id - 1].n;
	return st->pcs.v + st->ent.v[id - 1].first;
}

size_t
stack_count(const struct stack_table *st)
{
	return st ? st->ent.n : 0;
}

size_t
stack_memory(const struct stack_table *st)
{
	if (!st)
		return 0;
	return st->pcs.cap * sizeof(uint64_t) + st->ent.cap * sizeof(struct stack_ent) +
	       st->index.cap * 2 * sizeof(uint64_t);
}

bool
frame_is_allocator(const char *func)
{
	static const char *const names[] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "memalign", "aligned_alloc",
		"posix_memalign", "valloc", "pvalloc", "mid_memalign", "int_malloc", "int_realloc",
		"int_memalign", "int_free", "tcache_init", "ptmalloc_init", "malloc_hook_ini",
		"realloc_hook_ini", "memalign_hook_ini", NULL,
	};
	const char *f = func;
	char base[64];
	size_t n;
	bool changed = true;

	if (!f)
		return false;
	if (!strncmp(f, "operator new", 12) || !strncmp(f, "operator delete", 15))
		return true;
	if (!strncmp(f, "_Znw", 4) || !strncmp(f, "_Zna", 4) || !strncmp(f, "_Zdl", 4) || !strncmp(f, "_Zda", 4))
		return true;
	/* libstdc++'s allocator plumbing between a container and operator
	 * new (frames of their own when not inlined, at -O0) */
	if ((!strncmp(f, "std::__new_allocator<", 21) || !strncmp(f, "__gnu_cxx::new_allocator<", 25) ||
	     !strncmp(f, "std::allocator_traits<", 22) || !strncmp(f, "std::allocator<", 15)) &&
	    strstr(f, "::allocate("))
		return true;
	/* __GI___libc_malloc, __libc_malloc, __malloc, malloc@@GLIBC_2.2.5 */
	while (changed) {
		changed = false;
		while (*f == '_') {
			f++;
			changed = true;
		}
		if (!strncmp(f, "GI_", 3) || !strncmp(f, "libc_", 5)) {
			f += f[0] == 'G' ? 3 : 5;
			changed = true;
		}
	}
	n = strcspn(f, "@");
	if (n == 0 || n >= sizeof(base))
		return false;
	memcpy(base, f, n);
	base[n] = 0;
	for (int i = 0; names[i]; i++)
		if (!strcmp(base, names[i]))
			return true;
	return false;
}

/* Copy name to out, the contents of every outermost open..close pair
 * replaced by "...".  "operator<", "operator<<" and the like are not
 * brackets; "(anonymous namespace)" is kept. */
static void
elide(const char *name, char open, char close, struct sbuf *out)
{
	int depth = 0;

	for (const char *p = name; *p; p++) {
		if (!strncmp(p, "operator", 8) && !isalnum((unsigned char)p[8]) && p[8] != '_') {
			/* the operator's own symbols are not brackets */
			const char *q = p + 8;
			while (*q == ' ')
				q++;
			while (*q && strchr("<>=!+-*/%&|^~[]", *q))
				q++;
			if (*q == '(' && q[1] == ')')
				q += 2;	/* operator() */
			if (!depth)
				sb_putn(out, p, (size_t)(q - p));
			p = q - 1;
			continue;
		}
		if (open == '(' && !strncmp(p, "(anonymous namespace)", 21)) {
			if (!depth)
				sb_puts(out, "(anonymous namespace)");
			p += 20;
			continue;
		}
		if (*p == open) {
			if (!depth++) {
				sb_putc(out, open);
				sb_puts(out, "...");
			}
			continue;
		}
		if (*p == close && depth) {
			if (!--depth)
				sb_putc(out, close);
			continue;
		}
		if (!depth)
			sb_putc(out, *p);
	}
}

const char *
frame_short_name(const char *name, size_t width, char *buf, size_t size)
{
	struct sbuf a, b;
	const char *r;

	if (!name || !width || strlen(name) <= width || size < 8)
		return name;
	sb_init(&a);
	sb_init(&b);
	elide(name, '<', '>', &a);
	r = a.s ? a.s : "";
	if (strlen(r) > width) {
		elide(r, '(', ')', &b);
		r = b.s ? b.s : "";
	}
	if (strlen(r) > width || strlen(r) >= size) {
		size_t keep = MIN(width, size - 1);
		keep = keep > 3 ? keep - 3 : 0;
		snprintf(buf, size, "%.*s...", (int)keep, r);
	} else {
		snprintf(buf, size, "%s", r);
	}
	sb_free(&a);
	sb_free(&b);
	return buf;
}
