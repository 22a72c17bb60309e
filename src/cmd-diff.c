/*
 * cmd-diff.c - `diff A [B]`: what changed between two snapshots, or
 * between a snapshot and the heap now: new and freed chunks with counts
 * and bytes, grouped by allocation stack where traced (so an address
 * reused by another allocation is a free plus a new), else by size
 * class; groups biggest growth first, each line as tracemalloc's
 * compare_to prints it (size=... (+...), count=... (+...), average=...).
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_GROUPS 20	/* groups shown in text mode without --limit */

static const char *
sbytes(int64_t v, char buf[40])
{
	char b[32];

	snprintf(buf, 40, "%s%s", v < 0 ? "-" : "+", fmt_bytes(v < 0 ? (uint64_t)-v : (uint64_t)v, b));
	return buf;
}

static void
count_obj(struct emitter *em, const char *key, const struct snap_count *c)
{
	em_obj_open(em, key);
	em_uint(em, "chunks", c->chunks);
	em_uint(em, "bytes", c->bytes);
	em_obj_close(em);
}

static void
net_obj(struct emitter *em, const struct snap_count *n, const struct snap_count *f)
{
	em_obj_open(em, "net");
	em_int(em, "chunks", (int64_t)(n->chunks - f->chunks));
	em_int(em, "bytes", (int64_t)(n->bytes - f->bytes));
	em_obj_close(em);
}

static void
emit_stack(struct session *s, const struct snapshot *sn, uint32_t stack)
{
	const struct snap_stack *st = &sn->stacks.v[stack - 1];
	uint32_t skip = 0;

	/* from the allocator's caller, as top and leaks show stacks */
	if (!s->keep_alloc_frames && (skip = snapshot_alloc_frames(sn, stack)))
		em_uint(s->em, "allocator_frames", skip);
	em_list_open(s->em, "stack");
	for (uint32_t i = skip; i < st->n; i++) {
		const struct snap_frame *f = &sn->frames.v[st->first + i];
		struct frame_info fi = {
			.pc = f->pc,
			.func = f->func ? snapshot_str(sn, f->func) : NULL,
			.off = f->func_off,
			.file = f->file ? snapshot_str(sn, f->file) : NULL,
			.file_rel = f->file ? snapshot_file_rel(sn, f) : NULL,
			.line = f->line,
			.module = snapshot_module_name(sn, f->module),
			.inlined = f->inlined,
		};

		em_item_open(s->em);
		cmd_emit_frame(s, "      ", (int)(i - skip), &fi);
		if (fi.module)
			em_uint(s->em, "module_off", f->module_off);
		em_item_close(s->em);
	}
	em_list_close(s->em);
}

static struct snap_count
rounded(const struct snap_est *e)
{
	struct snap_count c = { (uint64_t)llround(e->chunks), (uint64_t)llround(e->bytes) };

	return c;
}

static void
emit_group(struct session *s, const struct snap_group *g, bool sampled)
{
	/* sampled: the estimates take the counts' place, the samples are
	 * given too */
	struct snap_count nw = sampled ? rounded(&g->est_new_) : g->new_;
	struct snap_count fr = sampled ? rounded(&g->est_freed) : g->freed;
	struct snap_count from = sampled ? rounded(&g->est_from) : g->from;
	struct snap_count to = sampled ? rounded(&g->est_to) : g->to;
	int64_t dbytes = (int64_t)(to.bytes - from.bytes);
	int64_t dchunks = (int64_t)(to.chunks - from.chunks);
	const char *est = sampled ? "~" : "";
	char b1[32], b2[40], b3[32], cls[64];

	em_item_open(s->em);
	count_obj(s->em, "new", &nw);
	count_obj(s->em, "freed", &fr);
	net_obj(s->em, &nw, &fr);
	count_obj(s->em, "from", &from);
	count_obj(s->em, "to", &to);
	if (sampled) {
		em_bool(s->em, "estimated", true);
		em_obj_open(s->em, "samples");
		em_uint(s->em, "new", g->new_.chunks);
		em_uint(s->em, "freed", g->freed.chunks);
		em_uint(s->em, "from", g->from.chunks);
		em_uint(s->em, "to", g->to.chunks);
		em_obj_close(s->em);
	}
	{
		if (g->has_stack)
			em_text(s->em, "  allocated at:");
		else
			em_text(s->em, "  [%s chunks]:", snapshot_size_class_name(g->size_lo, g->size_hi, cls));
		em_text(s->em, " size=%s%s (%s%s), count=%s%" PRIu64 " (%s%+" PRId64 "), average=%s;"
			" new %s%" PRIu64 ", freed %s%" PRIu64, est, fmt_bytes(to.bytes, b1), est, sbytes(dbytes, b2),
			est, to.chunks, est, dchunks, fmt_bytes(to.chunks ? to.bytes / to.chunks : 0, b3),
			est, nw.chunks, est, fr.chunks);
		if (sampled)
			em_text(s->em, " (estimated from %" PRIu64 " sample%s in A, %" PRIu64 " in B: %" PRIu64
				" new, %" PRIu64 " freed)", g->from.chunks, plural(g->from.chunks), g->to.chunks,
				g->new_.chunks, g->freed.chunks);
		em_text(s->em, "\n");
	}
	if (g->has_stack) {
		emit_stack(s, g->sn, g->stack);
	} else {
		em_uint(s->em, "size", g->size_lo);
		em_uint(s->em, "size_max", g->size_hi);
	}
	em_item_close(s->em);
}

/* A snapshot by name; "now" takes one of the target (into *tmp). */
static const struct snapshot *
resolve(struct session *s, const char *name, struct snapshot **tmp)
{
	const struct snapshot *sn;

	if (strcmp(name, "now")) {
		sn = snapset_find(session_snapshots(s), name);
		if (!sn)
			hd_fail(HD_ENOENT, "no snapshot named '%s' (see `snapshots`)", name);
		return sn;
	}
	if (*tmp)
		return *tmp;
	if (!s->t) {
		hd_fail(HD_EUSAGE, "no target, so no heap now: give two snapshots (`diff A B`)");
		return NULL;
	}
	if (session_need_target(s, false) < 0)
		return NULL;
	*tmp = snapshot_take(s, "now");
	return *tmp;
}

static void
count_line(struct session *s, const char *label, const struct snap_count *c)
{
	char b[32];

	em_text(s->em, "  %-6s %10" PRIu64 " chunks %14" PRIu64 " bytes (%s)\n", label, c->chunks, c->bytes,
		fmt_bytes(c->bytes, b));
}

/* One line on what a diff of sampled snapshots compares. */
static void
sampled_note(struct session *s, const struct snapshot *a, const struct snapshot *b)
{
	uint64_t ra = a->sample_rate, rb = b->sample_rate;

	em_obj_open(s->em, "sampled");
	em_uint(s->em, "from_rate", ra);
	em_uint(s->em, "to_rate", rb);
	em_bool(s->em, "same_rate", ra == rb);
	em_bool(s->em, "totals_exact", true);
	em_text(s->em, "  (totals above: exact, from the heap walks)\n");
	if (ra == rb)
		em_text(s->em, "Sampled: both about one allocation per %" PRIu64 " bytes; the growth by stack "
			"below is the difference of the estimates (each sample weighs 1/(1-exp(-size/rate)), "
			"as pprof's), unsampled chunks in the totals only\n", ra);
	else if (!ra || !rb) {
		const struct snapshot *u = ra ? b : a;

		em_text(s->em, "Sampled: only %s (one allocation per %" PRIu64 " bytes), so growth by stack is "
			"estimated: %s's estimates against ", ra ? "A" : "B", ra ? ra : rb, ra ? "A" : "B");
		if (u->traces.n)
			em_text(s->em, "%s's traced chunks, counted exactly (weight 1)", ra ? "B" : "A");
		else
			em_text(s->em, "nothing (%s has no stacks: counted as 0)", ra ? "B" : "A");
		em_text(s->em, "; chunks without a trace record in the totals only\n");
	}
	else
		em_text(s->em, "Sampled at different rates (A: one allocation per %" PRIu64 " bytes, B: per %" PRIu64
			"); each snapshot's stacks are estimated under its own rate and the growth by stack is "
			"their difference; unsampled chunks in the totals only\n", ra, rb);
	em_obj_close(s->em);
}

static int
diff_exec(struct session *s, int argc, char **argv)
{
	uint64_t limit = UINT64_MAX;
	bool limit_seen = false;
	const struct opt_spec opts[] = {
		{ "--limit", OPT_U64, &limit, &limit_seen },
		{ NULL, 0, NULL, NULL },
	};
	const struct snapshot *a, *b;
	struct snapshot *now = NULL;
	struct snap_diff d;
	int npos;
	size_t shown;
	char b1[40], of[512];

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos < 1 || npos > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_diff_entry.usage);
	a = resolve(s, argv[1], &now);
	b = a ? resolve(s, npos == 2 ? argv[2] : "now", &now) : NULL;
	if (!a || !b) {
		snapshot_free(now);
		return -1;
	}
	snapshot_diff(a, b, &d);
	if (!limit_seen && !em_json(s->em))
		limit = TEXT_GROUPS;

	em_fmt(s->em, "Heap diff {from:%s}", a->name);
	em_fmt(s->em, " -> {to:%s}", b->name);
	em_text(s->em, " (%s)\n", snapshot_describe(b, of, sizeof(of)));
	count_obj(s->em, "new", &d.new_);
	count_obj(s->em, "freed", &d.freed);
	net_obj(s->em, &d.new_, &d.freed);
	count_obj(s->em, "kept", &d.kept);
	count_line(s, "new", &d.new_);
	count_line(s, "freed", &d.freed);
	em_text(s->em, "  %-6s %+10" PRId64 " chunks %+14" PRId64 " bytes (%s)\n", "net",
		(int64_t)(d.new_.chunks - d.freed.chunks), (int64_t)(d.new_.bytes - d.freed.bytes),
		sbytes((int64_t)(d.new_.bytes - d.freed.bytes), b1));
	count_line(s, "kept", &d.kept);
	em_bool(s->em, "traced", d.traced);
	if (d.sampled)
		sampled_note(s, a, b);
	em_uint(s->em, "ngroups", d.groups.n);
	shown = 0;
	for (size_t i = 0; i < d.groups.n; i++)
		if (d.groups.v[i].new_.chunks || d.groups.v[i].freed.chunks) {
			em_text(s->em, "\nGrowth by %s, biggest first:\n",
				d.sampled ? "allocation stack (estimated from the samples, ~)" :
				d.traced ? "allocation stack (untraced chunks by size class)" : "size class");
			break;
		}
	em_list_open(s->em, "groups");
	for (size_t i = 0; i < d.groups.n && shown < limit; i++) {
		const struct snap_group *g = &d.groups.v[i];
		if (!g->new_.chunks && !g->freed.chunks)
			continue;	/* unchanged groups are not differences */
		emit_group(s, g, d.sampled);
		shown++;
	}
	em_list_close(s->em);
	em_uint(s->em, "listed", shown);
	{
		size_t changed = 0;
		for (size_t i = 0; i < d.groups.n; i++)
			if (d.groups.v[i].new_.chunks || d.groups.v[i].freed.chunks)
				changed++;
		em_uint(s->em, "changed_groups", changed);
		if (changed > shown)
			em_text(s->em, "  ... %zu more group%s (diff --limit N shows more)\n", changed - shown,
				changed - shown == 1 ? "" : "s");
		if (!changed)
			em_text(s->em, "\nNo differences.\n");
	}
	snap_diff_free(&d);
	snapshot_free(now);
	return 0;
}

static const char *const diff_opts[] = { "--limit", NULL };

const struct cmd_entry cmd_diff_entry = {
	.name = "diff",
	.usage = "diff [--limit N] A [B]",
	.summary = "what grew between snapshots A and B (B: the heap now)",
	.help = "Compares snapshot A with snapshot B, or with the heap as it is now\n"
		"when B is not given (or is `now`).  A chunk in both with the same\n"
		"address and size is kept, unless both were traced with different\n"
		"allocation numbers: an address reused by another allocation is a free\n"
		"plus a new.  Prints the new and freed chunks (counts, bytes), then the\n"
		"groups that changed, biggest growth first: by allocation stack for\n"
		"traced chunks (symbolic, so snapshots of different processes group by\n"
		"call site), else by size class, each as `size=TOTAL (+CHANGE),\n"
		"count=N (+CHANGE), average=SIZE` like tracemalloc's compare_to.\n"
		"Text mode shows 20 groups unless --limit N is given.\n"
		"JSON: from, to, new, freed, net, kept ({chunks, bytes}), traced,\n"
		"ngroups, changed_groups, listed, groups: [{new, freed, net, from,\n"
		"to, and stack (frames) or size and size_max}].\n"
		"Snapshots taken under `trace start --sample`: the totals stay exact\n"
		"(the walks), the groups are stacks only and their counts estimates\n"
		"(each sample weighs 1/(1-exp(-size/rate)) under its own snapshot's\n"
		"rate), with the samples behind each; JSON adds sampled {from_rate,\n"
		"to_rate, same_rate, totals_exact} and per group estimated, samples.",
	.options = diff_opts,
	.complete = "ss",
	.exec = diff_exec,
};
