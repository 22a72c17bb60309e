/*
 * cmd-retained.c - `retained [N]`: the memory each root keeps alive,
 * largest first.  A leak tool names what nothing points to; an unbounded
 * cache is reachable, so it names nothing.  This answers the growth
 * question instead: "34.5 MiB in 120,312 blocks retained by global
 * `cache`", from the dominator tree of the leak check's reachable blocks
 * (reach_retained), untraced, on a live process or a core.  With tracing,
 * the biggest block a root holds directly shows its allocation stack.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "reach.h"
#include "stacks.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *
root_kind(enum ref_region r)
{
	switch (r) {
	case REF_GLOBAL: return "global";
	case REF_STACK: return "stack";
	case REF_REGISTER: return "registers";
	case REF_ANON: return "anonymous";
	default: return "?";
	}
}

/* Who the root is, in words. */
static void
emit_root_name(struct session *s, const struct retain_root *rr)
{
	struct symbols *sym = session_symbols(s);
	const char *base = rr->module ? strrchr(rr->module, '/') : NULL;

	switch (rr->region) {
	case REF_GLOBAL:
		if (rr->name) {
			const char *d = sym ? symbols_demangle(sym, rr->name) : rr->name;
			const char *dot = strrchr(d, '.');
			const char *scope = NULL;
			/* gcc's name for a function's static variable: "pool.1" */
			if (dot && dot > d && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1) && sym)
				scope = symbols_static_scope(sym, rr->lo);
			if (scope) {
				em_text(s->em, "static `%.*s' in %s()", (int)(dot - d), d, scope);
				em_str(s->em, "function", scope);
			} else {
				em_text(s->em, "global `%s'", d);
			}
			em_str(s->em, "symbol", d);
			if (strcmp(d, rr->name))
				em_str(s->em, "mangled", rr->name);
		} else {
			if (rr->section)
				em_fmt(s->em, "the {section:%s} section (no symbol)", rr->section);
			else if (base || rr->module)
				em_text(s->em, "the data of its module (no symbol)");
			else
				em_text(s->em, "a writable mapping of no module");
		}
		if (base || rr->module)
			em_text(s->em, " in %s", base ? base + 1 : rr->module);
		em_str(s->em, "module", rr->module);
		em_fmt(s->em, " at {addr:%A}", rr->lo);
		em_uint(s->em, "size", rr->hi - rr->lo);
		break;
	case REF_STACK:
		em_fmt(s->em, "the stack of thread {thread:%d}", (int)rr->tid);
		break;
	case REF_REGISTER:
		em_fmt(s->em, "the registers of thread {thread:%d}", (int)rr->tid);
		break;
	default:
		em_fmt(s->em, "anonymous memory {addr:%A}", rr->lo);
		em_fmt(s->em, "-{end:%A}", rr->hi);
		break;
	}
}

static int
retained_exec(struct session *s, int argc, char **argv)
{
	uint64_t limit = 20;
	int npos;
	const struct opt_spec opts[] = {
		{ "--limit", OPT_U64, &limit, NULL },
		{ NULL, 0, NULL, NULL },
	};
	struct reach *r;
	struct retain *res;
	char b1[32], b2[32];
	const struct alloc_source *src;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_retained_entry.usage);
	if (npos == 1 && parse_u64(argv[1], &limit, false) < 0)
		return hd_fail(HD_EUSAGE, "retained: '%s' is not a number", argv[1]);
	r = session_reach(s);
	if (!r)
		return -1;
	if (reach_retained(s->t, session_symbols(s), r, &res) < 0)
		return -1;
	src = session_alloc_source(s);

	em_obj_open(s->em, "reachable");
	em_fmt(s->em, "Retained by root: {blocks:%" PRIu64 "} reachable block", res->reachable_blocks);
	em_fmt(s->em, "%s ({bytes:%" PRIu64 "} bytes", plural(res->reachable_blocks), res->reachable_bytes);
	em_obj_close(s->em);
	em_text(s->em, ", %s; dominators over the leak check's pointers, %.3f s)\n",
		fmt_bytes(res->reachable_bytes, b1), res->seconds);
	em_double(s->em, "seconds", res->seconds);
	em_uint(s->em, "edges", res->edges);
	em_bool(s->em, "traced", r->traced);
	em_list_open(s->em, "roots");
	for (size_t i = 0; i < res->n; i++) {
		const struct retain_root *rr = &res->roots[i];
		bool text = i < limit;

		em_item_open(s->em);
		em_str(s->em, "kind", root_kind(rr->region));
		em_uint(s->em, "bytes", rr->bytes);
		em_uint(s->em, "blocks", rr->blocks);
		em_uint(s->em, "refs", rr->refs);
		if (text) {
			em_text(s->em, "%10s in %" PRIu64 " block%s retained by ", fmt_bytes(rr->bytes, b1),
				rr->blocks, plural(rr->blocks));
			emit_root_name(s, rr);
			em_text(s->em, "\n");
		} else if (em_json(s->em)) {
			emit_root_name(s, rr);
		}
		if (rr->top >= 0 && (text || em_json(s->em))) {
			em_obj_open(s->em, "top");
			em_addr(s->em, "addr", reach_start(r, rr->top));
			em_uint(s->em, "size", reach_len(r, rr->top));
			em_uint(s->em, "bytes", rr->top_bytes);
			em_uint(s->em, "blocks", rr->top_blocks);
			if (text && rr->top_blocks > 1)
				em_text(s->em, "           most of it (%s in %" PRIu64 " blocks) below the %" PRIu64
					"-byte block at 0x%" PRIx64 "\n", fmt_bytes(rr->top_bytes, b2), rr->top_blocks,
					reach_len(r, rr->top), reach_start(r, rr->top));
			if (reach_stack(r, rr->top)) {
				int np;
				const uint64_t *pcs = stack_pcs(src ? src->stacks : NULL, reach_stack(r, rr->top), &np);
				if (text)
					em_text(s->em, "           the %" PRIu64 "-byte block at 0x%" PRIx64
						" allocated at\n", reach_len(r, rr->top), reach_start(r, rr->top));
				em_obj_open(s->em, "stack");
				if (text || em_json(s->em))
					cmd_emit_alloc_frames(s, pcs, np, "             ");
				em_obj_close(s->em);
			}
			em_obj_close(s->em);
		}
		em_item_close(s->em);
	}
	em_list_close(s->em);
	if (res->n > limit)
		em_text(s->em, "... %zu more root%s (retained [N] shows more)\n", res->n - (size_t)limit,
			plural(res->n - limit));
	em_obj_open(s->em, "shared");
	em_text(s->em, "%10s in ", fmt_bytes(res->shared_bytes, b1));
	em_fmt(s->em, "{blocks:%" PRIu64 "} block", res->shared_blocks);
	em_fmt(s->em, "%s ({bytes:%" PRIu64 "} bytes) held by several roots together, by none alone",
	       plural(res->shared_blocks), res->shared_bytes);
	em_text(s->em, "%s\n", res->nshared ? "; the biggest of them:" : "");
	em_list_open(s->em, "biggest");
	for (size_t k = 0; k < res->nshared && (k < MIN(limit, 5) || em_json(s->em)); k++) {
		const struct retain_shared *sh = &res->shared[k];
		em_item_open(s->em);
		em_text(s->em, "%10s in %" PRIu64 " block%s", fmt_bytes(sh->bytes, b1), sh->blocks, plural(sh->blocks));
		em_uint(s->em, "bytes", sh->bytes);
		em_uint(s->em, "blocks", sh->blocks);
		em_fmt(s->em, " from the {size:%" PRIu64 "}-byte block", reach_len(r, sh->block));
		em_fmt(s->em, " at {addr:%A}, pointed to by ", reach_start(r, sh->block));
		em_uint(s->em, "root_refs", sh->root_refs);
		em_uint(s->em, "block_refs", sh->block_refs);
		em_list_open(s->em, "holders");
		for (unsigned h = 0; h < sh->nholders; h++) {
			em_item_open(s->em);
			em_text(s->em, "%s", h == 0 ? "" : h + 1 == sh->nholders && sh->block_refs == 0 ? " and " : ", ");
			em_str(s->em, "kind", root_kind(sh->holders[h].region));
			emit_root_name(s, &sh->holders[h]);
			em_item_close(s->em);
		}
		em_list_close(s->em);
		if (sh->block_refs)
			em_text(s->em, "%s%" PRIu64 " other block%s", sh->nholders ? " and " : "", sh->block_refs,
				plural(sh->block_refs));
		em_text(s->em, "\n");
		if (reach_stack(r, sh->block)) {
			int np;
			const uint64_t *pcs = stack_pcs(src ? src->stacks : NULL, reach_stack(r, sh->block), &np);
			em_text(s->em, "           allocated at\n");
			em_obj_open(s->em, "stack");
			cmd_emit_alloc_frames(s, pcs, np, "             ");
			em_obj_close(s->em);
		}
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_obj_close(s->em);
	if (res->unattributed_blocks) {
		em_obj_open(s->em, "unattributed");
		em_fmt(s->em, "{blocks:%" PRIu64 "} reachable block", res->unattributed_blocks);
		em_fmt(s->em, "%s ({bytes:%" PRIu64 "} bytes) found on no path from a root (a bug: please report)\n",
		       plural(res->unattributed_blocks), res->unattributed_bytes);
		em_obj_close(s->em);
	}
	retain_free(res);
	return 0;
}

static const char *const retained_opts[] = { "--limit", NULL };

const struct cmd_entry cmd_retained_entry = {
	.name = "retained",
	.usage = "retained [N]",
	.summary = "the memory each root (a global, a thread's stack) keeps alive, largest first",
	.help = "What each root retains: the blocks every path to which from the roots\n"
		"passes through it, so that they would be freed or lost if that root\n"
		"forgot its pointers (the dominator tree over the leak check's reachable\n"
		"blocks and pointers, as Eclipse MAT computes retained sizes).  Roots are\n"
		"global symbols (all words of a symbol together), thread stacks, thread\n"
		"registers and other anonymous memory.  Blocks reachable from several\n"
		"roots, none of which holds them alone, are counted as shared.  An\n"
		"unbounded cache is reachable, so no leak check names it: this does,\n"
		"untraced.  Sizes are those of `leaks` (requested when traced, usable\n"
		"otherwise); traced, the biggest block a root holds shows its allocation\n"
		"stack.  N (default 20) roots are shown; JSON lists them all.",
	.options = retained_opts,
	.complete = "0",
	.flags = CMD_NEEDS_TARGET,
	.exec = retained_exec,
};
