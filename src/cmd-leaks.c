/*
 * cmd-leaks.c - `leaks`: valgrind memcheck's leak categories, on demand,
 * on a live process or a core file: a LEAK SUMMARY, then loss records in
 * valgrind's order (smallest first; JSON biggest first), grouped by
 * allocation stack when the blocks were traced,
 * otherwise by what the blocks look like (a C++ class by its vtable, C
 * strings, or blocks of one size).  valgrind's --show-leak-kinds,
 * --errors-for-leak-kinds, --suppressions and --gen-suppressions, with
 * its values and file format.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "reach.h"
#include "stacks.h"
#include "suppress.h"
#include "tracer.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct record {
	enum leak_kind kind;
	enum block_look look;
	uint64_t value;		/* LOOK_SIZE: the size; LOOK_VTABLE: the vtable address */
	uint32_t stack;		/* allocation stack when traced */
	uint64_t blocks, bytes, indirect;
	uint64_t sample;
	char *what;		/* text, made once per record */
	struct supp *supp;	/* the suppression that matched, or NULL */
};

static char *
look_text(struct session *s, enum block_look look, uint64_t value)
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

/* valgrind's state order for records of equal size (memcheck's
 * Reachedness: reachable, possible, indirect, definite) */
static int
vg_state(enum leak_kind k)
{
	return k == LEAK_REACHABLE ? 0 : k == LEAK_POSSIBLE ? 1 : k == LEAK_INDIRECT ? 2 : 3;
}

/* memcheck's order of loss records (cmp_LossRecords): by total bytes
 * (direct and indirect), then by state, then by number of blocks, all
 * ascending; then the allocation stack first seen (valgrind: the older
 * ExeContext), then the sample address, so the order is deterministic */
static int
record_cmp(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	uint64_t tx = x->bytes + x->indirect, ty = y->bytes + y->indirect;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	if (vg_state(x->kind) != vg_state(y->kind))
		return vg_state(x->kind) < vg_state(y->kind) ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks < y->blocks ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->sample < y->sample ? -1 : x->sample > y->sample;
}

static void
summary_line(struct session *s, const char *key, const char *label, uint64_t blocks, uint64_t bytes)
{
	em_obj_open(s->em, key);
	em_fmt(s->em, "   %15s: ", label);
	em_fmt(s->em, "{bytes:%" PRIu64 "} bytes in ", bytes);
	em_fmt(s->em, "{blocks:%" PRIu64 "} blocks\n", blocks);
	em_obj_close(s->em);
}

/* The records' suppressions: valgrind's frames of each traced record,
 * matched against the session's and this command's files; a record
 * without a stack (untraced, allocated before tracing, or without
 * symbols) only by an entry that matches any stack (supp_any_stack); a
 * record suppressed leaves its category for "suppressed".  Whether any
 * stackless record was left unsuppressed into *stackless. */
static void
suppress_records(struct session *s, struct record *recs, size_t n, struct supp_set *set, bool *stackless)
{
	const struct alloc_source *src = session_alloc_source(s);
	struct symbols *sym = session_symbols(s);

	*stackless = false;
	for (size_t i = 0; i < n; i++) {
		struct vg_frame *f = NULL;
		size_t nf = 0;
		int np;
		const uint64_t *pcs;

		if (recs[i].stack && sym) {
			pcs = stack_pcs(src ? src->stacks : NULL, recs[i].stack, &np);
			nf = vg_stack(sym, pcs, np, &f);
		}
		recs[i].supp = supp_match(set, recs[i].kind, f, nf);
		if (!nf && !recs[i].supp)
			*stackless = true;
		if (recs[i].supp) {
			recs[i].supp->records++;
			recs[i].supp->blocks += recs[i].blocks;
			recs[i].supp->bytes += recs[i].bytes;
		}
		free(f);
	}
}

/* --gen-suppressions: the record's suppression, as valgrind writes it */
static void
emit_suppression(struct session *s, const struct record *rec)
{
	const struct alloc_source *src = session_alloc_source(s);
	struct symbols *sym = session_symbols(s);
	struct vg_frame *f;
	struct sbuf sb;
	size_t nf;
	int np;
	const uint64_t *pcs;

	if (!rec->stack || !sym)
		return;
	pcs = stack_pcs(src ? src->stacks : NULL, rec->stack, &np);
	nf = vg_stack(sym, pcs, np, &f);
	if (nf) {
		sb_init(&sb);
		supp_format(&sb, rec->kind, f, nf);
		em_str(s->em, "suppression", sb.s);
		em_text(s->em, "%s", sb.s);
		sb_free(&sb);
	}
	free(f);
}

static int
leaks_exec(struct session *s, int argc, char **argv)
{
	bool show_reachable = false;
	uint64_t limit = UINT64_MAX;
	const char *show_opt = NULL, *errors_opt = NULL, *gen_opt = NULL, *supp_opt = NULL;
	int npos;
	const struct opt_spec opts[] = {
		{ "--show-reachable", OPT_FLAG, &show_reachable, NULL },
		{ "--limit", OPT_U64, &limit, NULL },
		{ "--show-leak-kinds", OPT_STR, &show_opt, NULL },
		{ "--errors-for-leak-kinds", OPT_STR, &errors_opt, NULL },
		{ "--gen-suppressions", OPT_STR, &gen_opt, NULL },
		{ "--suppressions", OPT_STR, &supp_opt, NULL },
		{ NULL, 0, NULL, NULL },
	};
	struct reach *r;
	struct u64map index;
	VEC(struct record) recs = { 0 };
	size_t total = 0, cut = 0;
	unsigned show = s->show_kinds, errors = s->error_kinds;
	bool gen = s->gen_supp, problem = false, stackless = false;
	struct supp_set set = { 0 };
	uint64_t blocks[LEAK_NKINDS], bytes[LEAK_NKINDS], sup_blocks = 0, sup_bytes = 0;
	int rc = -1;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_leaks_entry.usage);
	if (show_opt && leak_kinds_parse(show_opt, &show) < 0)
		return hd_fail_context("--show-leak-kinds");
	if (show_reachable)
		show = LEAK_KINDS_ALL;	/* valgrind's --show-reachable=yes */
	if (errors_opt && leak_kinds_parse(errors_opt, &errors) < 0)
		return hd_fail_context("--errors-for-leak-kinds");
	if (gen_opt) {
		if (strcmp(gen_opt, "all") && strcmp(gen_opt, "no"))
			return hd_fail(HD_EUSAGE, "--gen-suppressions: 'all' or 'no', not '%s'", gen_opt);
		gen = !strcmp(gen_opt, "all");
	}
	/* the session's files, then this command's (tried first, as a file
	 * valgrind read later is) */
	if (s->supp) {
		for (size_t i = 0; i < s->supp->v.n; i++) {
			s->supp->v.v[i].records = s->supp->v.v[i].blocks = s->supp->v.v[i].bytes = 0;
			vec_push(&set.v, s->supp->v.v[i]);
		}
	}
	if (supp_opt && supp_load(&set, supp_opt) < 0)
		goto out_set;
	r = session_reach(s);
	if (!r)
		goto out_set;

	/* loss records */
	u64map_init(&index);
	for (size_t b = 0; b < r->n; b++) {
		enum leak_kind k = (enum leak_kind)r->state[b];
		uint64_t value = 0, key;
		enum block_look look = reach_stack(r, b) ? LOOK_SIZE : reach_look(r, b, &value);
		uint64_t *slot;
		bool created;
		struct record *rec;

		if (reach_stack(r, b))
			value = 0;	/* traced: one record per stack */
		key = hash_u64(value ^ hash_u64(((uint64_t)k << 48) | ((uint64_t)look << 40) | reach_stack(r, b)));
		if (key == UINT64_MAX)
			key--;
		slot = u64map_slot(&index, key, &created);
		if (created) {
			struct record nr = { k, look, value, reach_stack(r, b), 0, 0, 0, reach_start(r, b), NULL, NULL };
			vec_push(&recs, nr);
			*slot = recs.n - 1;
		}
		rec = &recs.v[*slot];
		rec->blocks++;
		rec->bytes += reach_len(r, b);
		if (k == LEAK_DEFINITE)
			rec->indirect += reach_indirect(r, b);
	}
	u64map_free(&index);
	if (recs.n > 1)
		qsort(recs.v, recs.n, sizeof(*recs.v), record_cmp);
	for (size_t i = 0; i < recs.n; i++)
		if (!recs.v[i].stack)
			recs.v[i].what = look_text(s, recs.v[i].look, recs.v[i].value);
	if (set.v.n)
		suppress_records(s, recs.v, recs.n, &set, &stackless);
	memcpy(blocks, r->blocks, sizeof(blocks));
	memcpy(bytes, r->bytes, sizeof(bytes));
	for (size_t i = 0; i < recs.n; i++) {
		const struct record *rec = &recs.v[i];
		if (rec->supp) {
			blocks[rec->kind] -= rec->blocks;
			bytes[rec->kind] -= rec->bytes;
			sup_blocks += rec->blocks;
			sup_bytes += rec->bytes;
		} else if (errors & (1u << rec->kind)) {
			problem = true;
		}
	}

	em_fmt(s->em, "Leak check of {blocks:%zu} block%s in use", r->n, plural(r->n));
	em_fmt(s->em, " ({seconds:%.3f} s", r->seconds);
	em_fmt(s->em, "; roots: {root_bytes:%" PRIu64 "} bytes", r->root_bytes);
	em_fmt(s->em, " in {root_regions:%u} region%s", r->root_regions, plural(r->root_regions));
	em_text(s->em, " and the registers of %zu thread%s)\n", s->t->nthreads, plural(s->t->nthreads));
	em_bool(s->em, "traced", r->traced);
	em_text(s->em, "Sizes are %s.\n", r->traced ? "requested sizes (traced)" : "usable sizes (not traced)");
	if (s->tracer && tracer_sample_rate(s->tracer)) {
		/* the walk counts every block; a sampled trace gives a stack
		 * to the sampled ones only */
		em_obj_open(s->em, "sampled");
		em_fmt(s->em, "The trace is sampled (about one allocation per {rate:%" PRIu64 "} bytes): ",
		       tracer_sample_rate(s->tracer));
		em_text(s->em, "only sampled blocks carry their allocation stack and requested size; "
			"the counts are the heap walk's, exact, not estimates.\n");
		em_obj_close(s->em);
	}
	em_text(s->em, "\n");
	/* the records shown: of the kinds asked for, not suppressed, the
	 * biggest --limit of them (from index cut up) */
	for (size_t i = recs.n; i-- > 0;) {
		if (!(show & (1u << recs.v[i].kind)) || recs.v[i].supp)
			continue;
		if (total++ == limit) {
			cut = i + 1;
			break;
		}
	}
	/* text: valgrind's order, smallest first, each record numbered
	 * among all of them ("loss record N of M" counts the records not
	 * shown too, as valgrind does), --limit keeping the biggest; JSON:
	 * the same records biggest first */
	em_list_open(s->em, "records");
	for (size_t j = 0; j < recs.n; j++) {
		size_t i = em_json(s->em) ? recs.n - 1 - j : j;
		struct record *rec = &recs.v[i];
		bool text = (show & (1u << rec->kind)) && !rec->supp && i >= cut;
		em_item_open(s->em);
		em_uint(s->em, "loss_record", i + 1);
		em_str(s->em, "kind", leak_kind_name(rec->kind));
		em_uint(s->em, "blocks", rec->blocks);
		em_uint(s->em, "bytes", rec->bytes);
		if (rec->kind == LEAK_DEFINITE)
			em_uint(s->em, "indirect_bytes", rec->indirect);
		em_addr(s->em, "sample", rec->sample);
		if (rec->what)
			em_str(s->em, "what", rec->what);
		if (rec->supp) {
			em_obj_open(s->em, "suppressed_by");
			em_str(s->em, "name", rec->supp->name);
			em_str(s->em, "file", rec->supp->file);
			em_int(s->em, "line", rec->supp->line);
			em_obj_close(s->em);
		}
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
			if (rec->kind == LEAK_DEFINITE && rec->indirect)
				em_text(s->em, "%" PRIu64 " (%" PRIu64 " direct, %" PRIu64 " indirect) bytes", rec->bytes +
					rec->indirect, rec->bytes, rec->indirect);
			else
				em_text(s->em, "%" PRIu64 " bytes", rec->bytes);
			em_text(s->em, " in %" PRIu64 " block%s %s %s in loss record %zu of %zu\n", rec->blocks,
				rec->blocks == 1 ? "" : "s", rec->blocks == 1 ? "is" : "are",
				rec->kind == LEAK_DEFINITE ? "definitely lost" : rec->kind == LEAK_INDIRECT ?
				"indirectly lost" : rec->kind == LEAK_POSSIBLE ? "possibly lost" : "still reachable",
				i + 1, recs.n);
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
		if (gen && (text || em_json(s->em)) && !rec->supp)
			emit_suppression(s, rec);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_text(s->em, "LEAK SUMMARY:\n");
	summary_line(s, "definite", "definitely lost", blocks[LEAK_DEFINITE], bytes[LEAK_DEFINITE]);
	summary_line(s, "indirect", "indirectly lost", blocks[LEAK_INDIRECT], bytes[LEAK_INDIRECT]);
	summary_line(s, "possible", "possibly lost", blocks[LEAK_POSSIBLE], bytes[LEAK_POSSIBLE]);
	summary_line(s, "reachable", "still reachable", blocks[LEAK_REACHABLE], bytes[LEAK_REACHABLE]);
	if (set.v.n) {
		summary_line(s, "suppressed", "suppressed", sup_blocks, sup_bytes);
		em_list_open(s->em, "suppressions_used");
		for (size_t i = set.v.n; i-- > 0;) {
			const struct supp *sp = &set.v.v[i];
			if (!sp->records)
				continue;
			em_item_open(s->em);
			em_fmt(s->em, "used_suppression: {records:%" PRIu64 "}", sp->records);
			em_fmt(s->em, " {name:%s}", sp->name);
			em_fmt(s->em, " {file:%s}", sp->file);
			em_fmt(s->em, ":{line:%d}", sp->line);
			em_fmt(s->em, " suppressed: {bytes:%" PRIu64 "} bytes", sp->bytes);
			em_fmt(s->em, " in {blocks:%" PRIu64 "} blocks\n", sp->blocks);
			em_item_close(s->em);
		}
		em_list_close(s->em);
		if (stackless)
			em_text(s->em, "%s: only a suppression whose frames are all `...`, `fun:*` or `obj:*` "
				"suppresses a record without an allocation stack (`trace start` before the "
				"program allocates).\n", r->traced ? "Some blocks have no stack" : "Nothing was traced");
	}
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
	if (show == s->show_kinds) {
		/* the kinds with blocks that the default leaves out, as
		 * valgrind says of them */
		bool ind = !(show & (1u << LEAK_INDIRECT)) && blocks[LEAK_INDIRECT];
		bool rea = !(show & (1u << LEAK_REACHABLE)) && blocks[LEAK_REACHABLE];
		if (ind || rea)
			em_text(s->em, "%s blocks are not shown; `leaks --show-leak-kinds=all` shows them.\n",
				ind && rea ? "Indirectly lost and reachable" : ind ? "Indirectly lost" : "Reachable");
	}
	if (problem)
		s->found_problem = true;
	for (size_t i = 0; i < recs.n; i++)
		free(recs.v[i].what);
	vec_free(&recs);
	rc = 0;
out_set:
	/* the session's entries are borrowed: copy their counts back */
	if (s->supp)
		for (size_t i = 0; i < s->supp->v.n && i < set.v.n; i++)
			s->supp->v.v[i] = set.v.v[i];
	for (size_t i = s->supp ? s->supp->v.n : 0; i < set.v.n; i++) {
		struct supp *sp = &set.v.v[i];
		free(sp->name);
		for (size_t k = 0; k < sp->nframes; k++)
			free(sp->frames[k].pat);
		free(sp->frames);
	}
	vec_free(&set.v);
	for (size_t i = 0; i < set.files.n; i++)
		free(set.files.v[i]);
	vec_free(&set.files);
	return rc;
}

static const char *const leaks_opts[] = { "--show-reachable", "--limit", "--show-leak-kinds", "--errors-for-leak-kinds",
					  "--gen-suppressions", "--suppressions", NULL };

const struct cmd_entry cmd_leaks_entry = {
	.name = "leaks",
	.usage = "leaks [--show-reachable] [--show-leak-kinds=K] [--errors-for-leak-kinds=K] [--suppressions=FILE] "
		 "[--gen-suppressions=all|no] [--limit N]",
	.summary = "leak check by reachability: definite, indirect, possible, reachable",
	.help = "A conservative mark-and-sweep over the heap, as valgrind memcheck does at\n"
		"exit, on demand.  Roots are every thread's registers and every writable\n"
		"mapping that is not heap: stacks (from the stack pointer up), .data and\n"
		".bss, TLS, other anonymous memory.  A block is still reachable if a chain\n"
		"of start pointers leads to it from a root; possibly lost if only interior\n"
		"pointers do; indirectly lost if only lost blocks point to it; definitely\n"
		"lost otherwise.  Free chunks are never roots and never reported.\n"
		"Records are grouped by allocation stack when blocks were traced (`trace\n"
		"start`), otherwise by what the blocks look like, in valgrind's order\n"
		"(smallest first, numbered among all records; --limit N: the N biggest).  With\n"
		"--error-exitcode=N a definite or indirect leak makes heapdbg exit N.\n"
		"valgrind's options, with its values (definite, indirect, possible,\n"
		"reachable, all, none): --show-leak-kinds= the records shown (default\n"
		"definite,possible, as valgrind's; --show-reachable: all), --errors-for-leak-kinds=\n"
		"what counts for --error-exitcode (default definite,indirect).\n"
		"--suppressions=FILE: a valgrind suppression file (also given to heapdbg\n"
		"itself, repeatable); a traced record whose allocation stack and kind it\n"
		"matches is not shown and counts as suppressed; a record without a stack\n"
		"(untraced) only by an entry whose frames are all fun:*, obj:* or ....\n"
		"--gen-suppressions=all:\n"
		"a suppression after each record, as valgrind writes them.",
	.options = leaks_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = leaks_exec,
};
