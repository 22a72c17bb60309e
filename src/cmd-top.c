/*
 * cmd-top.c - `top [N] [--older-than SECONDS]`: outstanding traced
 * allocations grouped by allocation stack, biggest first (like bcc's
 * memleak or mtrace's "Memory not freed"), with functions and file:line.
 */
#include "config.h"
#include "cmd.h"
#include "stacks.h"
#include "tracer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

struct group {
	uint32_t stack;
	uint64_t blocks, bytes, sample;
	double oldest;
	uint64_t samples;		/* sampled: the samples behind the estimates */
	double wblocks, wbytes;		/* sampled: the estimates */
};

static int
group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->blocks > y->blocks ? -1 : x->blocks < y->blocks;
}

static int
top_exec(struct session *s, int argc, char **argv)
{
	double older = -1, now = hd_wall_time();
	uint64_t n = 10, total_blocks = 0, total_bytes = 0, rate, samples = 0;
	double est_blocks = 0, est_bytes = 0;
	int npos;
	const struct opt_spec opts[] = {
		{ "--older-than", OPT_DOUBLE, &older, NULL },
		{ NULL, 0, NULL, NULL },
	};
	struct u64map index;
	VEC(struct group) groups = { 0 };
	struct trace_block b;
	const struct stack_table *st;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_top_entry.usage);
	if (npos == 1 && parse_u64(argv[1], &n, false) < 0)
		return -1;
	if (!s->tracer)
		return hd_fail(HD_EUSAGE, "nothing traced: `trace start` first");
	st = tracer_stacks(s->tracer);
	rate = tracer_sample_rate(s->tracer);
	u64map_init(&index);
	for (size_t it = 0; tracer_next(s->tracer, &it, &b);) {
		uint64_t *slot;
		bool created;
		struct group *g;
		if (older >= 0 && now - b.rec.time < older)
			continue;
		slot = u64map_slot(&index, b.rec.stack, &created);
		if (created) {
			struct group ng = { b.rec.stack, 0, 0, b.addr, b.rec.time, 0, 0, 0 };
			vec_push(&groups, ng);
			*slot = groups.n - 1;
		}
		g = &groups.v[*slot];
		if (rate) {
			/* a sample stands for 1 / (1 - exp(-size/rate)) blocks */
			double w = sample_weight(b.rec.req, rate);
			g->wblocks += w;
			g->wbytes += w * (double)b.rec.req;
			est_blocks += w;
			est_bytes += w * (double)b.rec.req;
			samples++;
		}
		g->blocks++;
		g->bytes += b.rec.req;
		if (b.rec.time < g->oldest)
			g->oldest = b.rec.time;
		total_blocks++;
		total_bytes += b.rec.req;
	}
	u64map_free(&index);
	if (rate) {
		/* the estimates take the traced counts' place; the samples
		 * themselves are given too */
		for (size_t i = 0; i < groups.n; i++) {
			groups.v[i].samples = groups.v[i].blocks;
			groups.v[i].blocks = (uint64_t)llround(groups.v[i].wblocks);
			groups.v[i].bytes = (uint64_t)llround(groups.v[i].wbytes);
		}
		total_blocks = (uint64_t)llround(est_blocks);
		total_bytes = (uint64_t)llround(est_bytes);
	}
	if (groups.n > 1)
		qsort(groups.v, groups.n, sizeof(*groups.v), group_cmp);
	if (rate) {
		em_obj_open(s->em, "sampled");
		em_fmt(s->em, "Sampled: about one allocation per {rate:%" PRIu64 "} bytes; ", rate);
		em_fmt(s->em, "{samples:%" PRIu64 "} samples outstanding, the counts below are estimates "
		       "(each sample weighs 1/(1-exp(-size/rate)), as pprof's)\n", samples);
		em_obj_close(s->em);
	}
	em_obj_open(s->em, "outstanding");
	em_fmt(s->em, "Outstanding: {blocks:%" PRIu64 "} block%s, ", total_blocks, plural(total_blocks));
	em_fmt(s->em, "{bytes:%" PRIu64 "} byte%s", total_bytes, plural(total_bytes));
	em_obj_close(s->em);
	em_fmt(s->em, " in {ngroups:%zu} stack%s", groups.n, plural(groups.n));
	if (older >= 0)
		em_text(s->em, ", allocated more than %.1f s ago", older);
	em_text(s->em, "%s\n", tracer_active(s->tracer) ? "" : " (tracing is off: as of when it stopped)");
	em_list_open(s->em, "groups");
	for (size_t i = 0; i < groups.n && i < n; i++) {
		const struct group *g = &groups.v[i];
		int np;
		const uint64_t *pcs = stack_pcs(st, g->stack, &np);
		em_item_open(s->em);
		em_fmt(s->em, "\n{bytes:%" PRIu64 "} byte%s in ", g->bytes, plural(g->bytes));
		em_fmt(s->em, "{blocks:%" PRIu64 "} block%s", g->blocks, plural(g->blocks));
		if (rate)
			em_fmt(s->em, " (estimated from {samples:%" PRIu64 "} sample%s)", g->samples,
			       plural(g->samples));
		em_fmt(s->em, ", oldest {age:%.1f} s ago, e.g. ", now - g->oldest);
		em_fmt(s->em, "{sample:%A}\n", g->sample);
		em_obj_open(s->em, "stack");
		cmd_emit_alloc_frames(s, pcs, np, "   ");
		em_obj_close(s->em);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	vec_free(&groups);
	return 0;
}

static const char *const top_opts[] = { "--older-than", NULL };

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.usage = "top [N] [--older-than SECONDS]",
	.summary = "outstanding traced allocations grouped by stack, biggest first",
	.help = "Groups the blocks allocated while tracing and not freed since by their\n"
		"allocation stack and lists the N biggest groups (default 10) with their\n"
		"block count, requested bytes, age and stack (function, file:line).\n"
		"--older-than SECONDS keeps only blocks allocated longer ago: a leak\n"
		"suspect list for a long-running service.",
	.options = top_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = top_exec,
};
