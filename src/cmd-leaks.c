/*
 * cmd-leaks.c - `leaks`: valgrind memcheck's leak categories, on demand,
 * on a live process or a core file: a LEAK SUMMARY, then loss records,
 * biggest first, grouped by allocation stack when the blocks were traced,
 * otherwise by what the blocks look like (a C++ class by its vtable, C
 * strings, or blocks of one size).
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "reach.h"
#include "stacks.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* What a block looks like, compactly: a record's grouping key. */
enum look { LOOK_SIZE, LOOK_STRING, LOOK_VTABLE };

struct record {
	enum leak_kind kind;
	enum look look;
	uint64_t value;		/* LOOK_SIZE: the size; LOOK_VTABLE: the vtable address */
	uint32_t stack;		/* allocation stack when traced */
	uint64_t blocks, bytes, indirect;
	uint64_t sample;
	char *what;		/* text, made once per record */
};

/* A vtable pointer points into a read-only part of a file mapping. */
static bool
maybe_vtable(struct session *s, uint64_t v)
{
	const struct mapping *m;
	if (!v || (v & 7))
		return false;
	m = target_find_mapping(s->t, v);
	return m && m->path && m->path[0] == '/' && (m->perms & MAP_PERM_R) && !(m->perms & MAP_PERM_X);
}

static enum look
look_of(struct session *s, const struct reach *r, size_t b, uint64_t *value)
{
	size_t n = (size_t)MIN(64, r->len[b]);
	const uint8_t *d = heap_bytes(r->h, r->start[b], n);
	uint8_t buf[64];

	if (!d) {
		n = target_read_partial(s->t, r->start[b], buf, n);
		d = buf;
	}
	if (n >= 8) {
		uint64_t v;
		memcpy(&v, d, 8);
		if (maybe_vtable(s, v)) {
			*value = v;
			return LOOK_VTABLE;
		}
	}
	{
		size_t k = 0;
		while (k < n && (isprint(d[k]) || d[k] == '\t' || d[k] == '\n'))
			k++;
		if (k >= 4 && k < n && d[k] == 0)
			return LOOK_STRING;
	}
	*value = r->len[b];
	return LOOK_SIZE;
}

static char *
look_text(struct session *s, enum look look, uint64_t value)
{
	struct symbols *sym = session_symbols(s);
	const char *name;
	uint64_t off;

	switch (look) {
	case LOOK_STRING:
		return xstrdup("C strings");
	case LOOK_VTABLE:
		if (sym && symbols_addr_sym(sym, value, &name, &off, NULL) && !strncmp(name, "_ZTV", 4)) {
			const char *d = symbols_demangle(sym, name);
			return !strncmp(d, "vtable for ", 11) ? xasprintf("objects of class %s", d + 11) :
								 xasprintf("objects with %s", d);
		}
		return xasprintf("objects whose first word is 0x%" PRIx64, value);
	case LOOK_SIZE:
		break;
	}
	return xasprintf("%" PRIu64 "-byte blocks", value);
}

static int
record_cmp(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	uint64_t tx = x->bytes + x->indirect, ty = y->bytes + y->indirect;
	if (tx != ty)
		return tx > ty ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->blocks > y->blocks ? -1 : x->blocks < y->blocks;
}

static void
summary_line(struct session *s, const struct reach *r, enum leak_kind k, const char *label)
{
	em_obj_open(s->em, leak_kind_name(k));
	em_fmt(s->em, "   %15s: ", label);
	em_fmt(s->em, "{bytes:%" PRIu64 "} bytes in ", r->bytes[k]);
	em_fmt(s->em, "{blocks:%" PRIu64 "} blocks\n", r->blocks[k]);
	em_obj_close(s->em);
}

static int
leaks_exec(struct session *s, int argc, char **argv)
{
	bool show_reachable = false;
	uint64_t limit = UINT64_MAX;
	int npos;
	const struct opt_spec opts[] = {
		{ "--show-reachable", OPT_FLAG, &show_reachable, NULL },
		{ "--limit", OPT_U64, &limit, NULL },
		{ NULL, 0, NULL, NULL },
	};
	struct reach *r;
	struct u64map index;
	VEC(struct record) recs = { 0 };
	size_t shown = 0, total = 0;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_leaks_entry.usage);
	r = session_reach(s);
	if (!r)
		return -1;

	/* loss records */
	u64map_init(&index);
	for (size_t b = 0; b < r->n; b++) {
		enum leak_kind k = (enum leak_kind)r->state[b];
		uint64_t value = 0, key;
		enum look look = r->stack[b] ? LOOK_SIZE : look_of(s, r, b, &value);
		uint64_t *slot;
		bool created;
		struct record *rec;

		if (r->stack[b])
			value = 0;	/* traced: one record per stack */
		key = hash_u64(value ^ hash_u64(((uint64_t)k << 48) | ((uint64_t)look << 40) | r->stack[b]));
		if (key == UINT64_MAX)
			key--;
		slot = u64map_slot(&index, key, &created);
		if (created) {
			struct record nr = { k, look, value, r->stack[b], 0, 0, 0, r->start[b], NULL };
			vec_push(&recs, nr);
			*slot = recs.n - 1;
		}
		rec = &recs.v[*slot];
		rec->blocks++;
		rec->bytes += r->len[b];
		if (k == LEAK_DEFINITE)
			rec->indirect += r->indirect[b];
	}
	u64map_free(&index);
	if (recs.n > 1)
		qsort(recs.v, recs.n, sizeof(*recs.v), record_cmp);
	for (size_t i = 0; i < recs.n; i++)
		if (!recs.v[i].stack)
			recs.v[i].what = look_text(s, recs.v[i].look, recs.v[i].value);

	em_fmt(s->em, "Leak check of {blocks:%zu} block%s in use", r->n, plural(r->n));
	em_fmt(s->em, " ({seconds:%.3f} s", r->seconds);
	em_fmt(s->em, "; roots: {root_bytes:%" PRIu64 "} bytes", r->root_bytes);
	em_fmt(s->em, " in {root_regions:%u} region%s", r->root_regions, plural(r->root_regions));
	em_text(s->em, " and the registers of %zu thread%s)\n", s->t->nthreads, plural(s->t->nthreads));
	em_bool(s->em, "traced", r->traced);
	em_text(s->em, "Sizes are %s.\n\n", r->traced ? "requested sizes (traced)" : "usable sizes (not traced)");
	for (size_t i = 0; i < recs.n; i++)
		if (recs.v[i].kind != LEAK_REACHABLE || show_reachable)
			total++;
	em_list_open(s->em, "records");
	for (size_t i = 0; i < recs.n; i++) {
		struct record *rec = &recs.v[i];
		bool text = rec->kind != LEAK_REACHABLE || show_reachable;
		if (text && shown >= limit)
			text = false;
		em_item_open(s->em);
		em_str(s->em, "kind", leak_kind_name(rec->kind));
		em_uint(s->em, "blocks", rec->blocks);
		em_uint(s->em, "bytes", rec->bytes);
		if (rec->kind == LEAK_DEFINITE)
			em_uint(s->em, "indirect_bytes", rec->indirect);
		em_addr(s->em, "sample", rec->sample);
		if (rec->what)
			em_str(s->em, "what", rec->what);
		if (rec->stack && !text) {
			int np;
			const struct alloc_source *src = session_alloc_source(s);
			const uint64_t *pcs = stack_pcs(src ? src->stacks : NULL, rec->stack, &np);
			em_obj_open(s->em, "stack");
			if (em_json(s->em))
				cmd_emit_alloc_frames(s, pcs, np, "   ");
			em_obj_close(s->em);
		}
		if (text) {
			shown++;
			if (rec->kind == LEAK_DEFINITE && rec->indirect)
				em_text(s->em, "%" PRIu64 " (%" PRIu64 " direct, %" PRIu64 " indirect) bytes", rec->bytes +
					rec->indirect, rec->bytes, rec->indirect);
			else
				em_text(s->em, "%" PRIu64 " bytes", rec->bytes);
			em_text(s->em, " in %" PRIu64 " block%s %s %s in loss record %zu of %zu\n", rec->blocks,
				rec->blocks == 1 ? "" : "s", rec->blocks == 1 ? "is" : "are",
				rec->kind == LEAK_DEFINITE ? "definitely lost" : rec->kind == LEAK_INDIRECT ?
				"indirectly lost" : rec->kind == LEAK_POSSIBLE ? "possibly lost" : "still reachable",
				shown, total);
			if (rec->stack) {
				int np;
				const struct alloc_source *src = session_alloc_source(s);
				const uint64_t *pcs = stack_pcs(src ? src->stacks : NULL, rec->stack, &np);
				em_text(s->em, "   e.g. at 0x%" PRIx64 ", allocated at\n", rec->sample);
				em_obj_open(s->em, "stack");
				cmd_emit_alloc_frames(s, pcs, np, "   ");
				em_obj_close(s->em);
				em_text(s->em, "\n");
			} else {
				em_text(s->em, "   %s, e.g. at 0x%" PRIx64 "\n\n", rec->what, rec->sample);
			}
		}
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_text(s->em, "LEAK SUMMARY:\n");
	summary_line(s, r, LEAK_DEFINITE, "definitely lost");
	summary_line(s, r, LEAK_INDIRECT, "indirectly lost");
	summary_line(s, r, LEAK_POSSIBLE, "possibly lost");
	summary_line(s, r, LEAK_REACHABLE, "still reachable");
	if (r->h->errors || r->h->warnings) {
		/* what the walk found (damaged headers, protected chunks) is
		 * counted above; say where it is told */
		em_obj_open(s->em, "heap_findings");
		em_fmt(s->em, "The heap has {errors:%u} integrity error", r->h->errors);
		em_fmt(s->em, "%s and {warnings:%u} warning", r->h->errors == 1 ? "" : "s", r->h->warnings);
		em_text(s->em, "%s (`check` lists them); every chunk in use they concern is counted above.\n",
			r->h->warnings == 1 ? "" : "s");
		em_obj_close(s->em);
	}
	if (!show_reachable && r->blocks[LEAK_REACHABLE])
		em_text(s->em, "Reachable blocks are not shown; `leaks --show-reachable` shows them.\n");
	if (r->blocks[LEAK_DEFINITE] || r->blocks[LEAK_INDIRECT])
		s->found_problem = true;
	for (size_t i = 0; i < recs.n; i++)
		free(recs.v[i].what);
	vec_free(&recs);
	return 0;
}

static const char *const leaks_opts[] = { "--show-reachable", "--limit", NULL };

const struct cmd_entry cmd_leaks_entry = {
	.name = "leaks",
	.usage = "leaks [--show-reachable] [--limit N]",
	.summary = "leak check by reachability: definite, indirect, possible, reachable",
	.help = "A conservative mark-and-sweep over the heap, as valgrind memcheck does at\n"
		"exit, on demand.  Roots are every thread's registers and every writable\n"
		"mapping that is not heap: stacks (from the stack pointer up), .data and\n"
		".bss, TLS, other anonymous memory.  A block is still reachable if a chain\n"
		"of start pointers leads to it from a root; possibly lost if only interior\n"
		"pointers do; indirectly lost if only lost blocks point to it; definitely\n"
		"lost otherwise.  Free chunks are never roots and never reported.\n"
		"Records are grouped by allocation stack when blocks were traced (`trace\n"
		"start`), otherwise by what the blocks look like, biggest first.  With\n"
		"--error-exitcode=N a definite or indirect leak makes heapdbg exit N.",
	.options = leaks_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = leaks_exec,
};
