/*
 * cmd-refs.c - `refs [--chain] ADDR`: everything that points into the
 * chunk holding ADDR (registers, stacks, globals by symbol, anonymous
 * memory, other blocks); with --chain, one path from a root to it.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "reach.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REFS 10000

struct refs_ctx {
	struct session *s;
	const struct reach *r;
	size_t n;
};

/* Where addr is: region, thread, symbol. */
static enum ref_region
classify(struct session *s, uint64_t addr, pid_t *tid)
{
	const struct mapping *m = target_find_mapping(s->t, addr);
	*tid = 0;
	for (size_t i = 0; m && i < s->t->nthreads; i++) {
		const hd_regs_t *r = target_regs(s->t, s->t->threads[i]);
		if (r && REG_SP(r) >= m->start && REG_SP(r) < m->end) {
			*tid = s->t->threads[i]->tid;
			return REF_STACK;
		}
	}
	if (m && m->path && m->path[0] == '/')
		return REF_GLOBAL;
	if (m) {
		size_t i = (size_t)(m - s->t->maps);
		if (i > 0 && s->t->maps[i - 1].end == m->start && s->t->maps[i - 1].path &&
		    s->t->maps[i - 1].path[0] == '/')
			return REF_GLOBAL;
	}
	return REF_ANON;
}

static void
emit_place(struct session *s, const struct reach *r, enum ref_region region, uint64_t from, pid_t tid,
	   const char *reg, long block)
{
	struct symbols *sym = session_symbols(s);
	em_fmt(s->em, "  {region:%-9s} ", ref_region_name(region));
	switch (region) {
	case REF_REGISTER:
		em_fmt(s->em, "{register:%s}", reg);
		em_fmt(s->em, " of thread {thread:%d}", (int)tid);
		break;
	case REF_STACK:
		em_fmt(s->em, "{from:%A} on the stack of thread {thread:%d}", from, (int)tid);
		break;
	case REF_HEAP: {
		const struct hchunk *c = &r->h->chunks[r->chunk[block]];
		em_fmt(s->em, "{from:%A} in block ", from);
		em_fmt(s->em, "{chunk:%A}", reach_start(r, block));
		em_fmt(s->em, " (+%" PRIu64 ", %s, ", from - reach_start(r, block), chunk_state_name(c->state));
		em_fmt(s->em, "{block_kind:%s})", leak_kind_name(r->state[block]));
		break;
	}
	default: {
		const char *name, *mod;
		uint64_t off;
		em_fmt(s->em, "{from:%A}", from);
		if (sym && symbols_addr_sym(sym, from, &name, &off, &mod)) {
			char *sy = off ? xasprintf("%s+%" PRIu64, symbols_demangle(sym, name), off) :
					 xstrdup(symbols_demangle(sym, name));
			em_fmt(s->em, " {symbol:%s}", sy);
			em_fmt(s->em, " in {module:%s}", mod);
			free(sy);
		} else {
			const struct mapping *m = target_find_mapping(s->t, from);
			if (m && m->path)
				em_text(s->em, " in %s", m->path);
		}
		break;
	}
	}
}

static void
on_ref(void *arg, const struct ref *ref)
{
	struct refs_ctx *c = arg;
	if (c->n++ >= MAX_REFS)
		return;
	em_item_open(c->s->em);
	em_addr(c->s->em, "value", ref->value);
	emit_place(c->s, c->r, ref->region, ref->from, ref->tid, ref->reg, ref->block);
	em_text(c->s->em, " -> 0x%" PRIx64 "\n", ref->value);
	em_item_close(c->s->em);
}

/* runs of this many similar hops or more are one line of a chain */
#define CHAIN_RUN_MIN 4

static int
chain(struct session *s, struct reach *r, long b)
{
	VEC(long) path = { 0 };
	uint64_t *via;
	long cur = b;
	int guard = 0;

	if (r->state[b] == LEAK_DEFINITE || r->state[b] == LEAK_INDIRECT) {
		em_fmt(s->em, "Block {addr:%A} is ", reach_start(r, b));
		em_fmt(s->em, "{kind:%s}", leak_kind_name(r->state[b]));
		em_text(s->em, " lost: no chain leads to it from a root");
		if (r->state[b] == LEAK_INDIRECT) {
			/* the lost blocks it hangs from */
			em_text(s->em, "; it is reached from lost blocks:\n");
			em_list_open(s->em, "lost_chain");
			for (cur = b; cur >= 0 && guard++ < 10000; cur = reach_clique(r, (size_t)cur)) {
				em_item_open(s->em);
				em_fmt(s->em, "  {addr:%A}", reach_start(r, cur));
				em_fmt(s->em, " ({kind:%s})\n", leak_kind_name(r->state[cur]));
				em_item_close(s->em);
				if (r->state[cur] == LEAK_DEFINITE)
					break;
			}
			em_list_close(s->em);
		} else {
			em_text(s->em, ".\n");
		}
		return 0;
	}
	if (reach_parents(s->t, r) < 0)
		return -1;
	for (cur = b; cur >= 0 && guard++ < 1000000; cur = r->parent[cur])
		vec_push(&path, cur);
	/* the addresses holding each hop's pointer (read again: the leak
	 * check keeps no addresses) */
	via = xcalloc(path.n, sizeof(*via));
	for (size_t i = 0; i < path.n; i++)
		via[i] = reach_via(s->t, r, path.v[i]);
	em_fmt(s->em, "Block {addr:%A} is ", reach_start(r, b));
	em_fmt(s->em, "{kind:%s}; a path from a root:\n", leak_kind_name(r->state[b]));
	em_list_open(s->em, "chain");
	/* the root */
	{
		uint64_t from = via[path.n - 1];
		pid_t tid;
		em_item_open(s->em);
		if (!from) {
			em_fmt(s->em, "  {region:%s} of a thread\n", "register");
		} else {
			enum ref_region region = classify(s, from, &tid);
			emit_place(s, r, region, from, tid, NULL, -1);
			em_text(s->em, "\n");
		}
		em_item_close(s->em);
	}
	for (size_t i = path.n; i-- > 0;) {
		long k = path.v[i];
		size_t run = 1;
		em_item_open(s->em);
		/* a run of blocks of one size, each pointing to the next from
		 * the same offset (a list, a tree's spine): one line */
		while (i >= run + 1 && reach_len(r, path.v[i - run]) == reach_len(r, k) &&
		       via[i - run - 1] - reach_start(r, path.v[i - run]) == via[i - 1] - reach_start(r, k))
			run++;
		if (run >= CHAIN_RUN_MIN) {
			long last = path.v[i - run + 1];
			em_fmt(s->em, "  -> {count:%zu} x ", run);
			em_fmt(s->em, "{size:%" PRIu64 "}-byte blocks", reach_len(r, k));
			em_fmt(s->em, " via offset {offset:%" PRIu64 "}", via[i - 1] - reach_start(r, k));
			em_fmt(s->em, " ({addr:%A} ...", reach_start(r, k));
			em_fmt(s->em, " {last:%A})", reach_start(r, last));
			em_fmt(s->em, ", pointer at {from:%A}\n", via[i - run]);
			em_item_close(s->em);
			i -= run - 1;
			continue;
		}
		em_fmt(s->em, "  -> block {addr:%A}", reach_start(r, k));
		em_fmt(s->em, " ({size:%" PRIu64 "} bytes)", reach_len(r, k));
		if (i > 0)
			em_fmt(s->em, ", pointer at {from:%A}", via[i - 1]);
		em_text(s->em, "\n");
		em_item_close(s->em);
	}
	em_list_close(s->em);
	vec_free(&path);
	free(via);
	return 0;
}

static int
refs_exec(struct session *s, int argc, char **argv)
{
	bool want_chain = false;
	int npos;
	const struct opt_spec opts[] = {
		{ "--chain", OPT_FLAG, &want_chain, NULL },
		{ NULL, 0, NULL, NULL },
	};
	uint64_t addr;
	struct reach *r;
	const struct hchunk *c;
	struct refs_ctx ctx;
	long b;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos != 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_refs_entry.usage);
	if (session_parse_addr(s, argv[1], &addr) < 0)
		return -1;
	r = session_reach(s);
	if (!r)
		return -1;
	c = heap_chunk_at(r->h, addr);
	if (!c)
		return hd_fail(HD_ENOENT, "0x%" PRIx64 " is not inside any chunk of the heap", addr);
	b = reach_block_at(r, hchunk_mem(c));
	if (want_chain) {
		if (b < 0)
			return hd_fail(HD_ENOENT, "chunk 0x%" PRIx64 " is %s, not a block in use", (uint64_t)c->addr,
				       chunk_state_name(c->state));
		return chain(s, r, b);
	}
	em_fmt(s->em, "Pointers into chunk {chunk:%A}", c->addr);
	em_fmt(s->em, " (user {addr:%A}, ", hchunk_mem(c));
	em_fmt(s->em, "{state:%s}", chunk_state_name(c->state));
	if (b >= 0)
		em_fmt(s->em, ", {kind:%s}", leak_kind_name(r->state[b]));
	em_text(s->em, "):\n");
	ctx.s = s;
	ctx.r = r;
	ctx.n = 0;
	em_list_open(s->em, "refs");
	if (reach_refs(s->t, r, hchunk_mem(c), c->addr + c->size, on_ref, &ctx) < 0)
		return -1;
	em_list_close(s->em);
	em_uint(s->em, "count", ctx.n);
	em_text(s->em, "%zu reference%s%s\n", ctx.n, ctx.n == 1 ? "" : "s",
		ctx.n > MAX_REFS ? " (first 10000 listed)" : "");
	return 0;
}

static const char *const refs_opts[] = { "--chain", NULL };

const struct cmd_entry cmd_refs_entry = {
	.name = "refs",
	.usage = "refs [--chain] ADDR",
	.summary = "what points into the chunk holding ADDR; --chain: a path from a root",
	.help = "Lists every place holding a pointer into the chunk that contains ADDR:\n"
		"registers and stacks (with the thread), globals (by symbol), other\n"
		"anonymous memory, and blocks in use (with their leak category).  With\n"
		"--chain, one chain of pointers from a root to the block, as the leak\n"
		"check found it; for a lost block, the lost blocks it hangs from.  A run\n"
		"of 4 or more blocks of one size, each pointing to the next from the same\n"
		"offset (a list), is one line: \"-> 700 x 88-byte blocks via offset 0\".",
	.options = refs_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = refs_exec,
};
