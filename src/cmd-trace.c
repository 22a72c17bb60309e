/*
 * cmd-trace.c - `trace start [--depth N] [--fast|--breakpoints]`, `trace stop`,
 * `trace status`: allocation tracing of every allocator entry point the
 * program calls, with fast tracepoints (the default: a jump into an
 * in-process collector, tracer-fast.h) where they can be set and
 * breakpoints elsewhere, or with --breakpoints with breakpoints only (see
 * tracer.h).
 */
#include "config.h"
#include "cmd.h"
#include "live.h"
#include "tracer.h"
#include "heap.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int
trace_start(struct session *s, int argc, char **argv)
{
	uint64_t depth = 32, sample = 0;
	bool breakpoints = false, fast = false, no_free_stacks = false;
	int npos;
	const struct opt_spec opts[] = {
		{ "--depth", OPT_U64, &depth, NULL },
		{ "--breakpoints", OPT_FLAG, &breakpoints, NULL },
		{ "--fast", OPT_FLAG, &fast, NULL },
		{ "--sample", OPT_U64, &sample, NULL },
		{ "--no-free-stacks", OPT_FLAG, &no_free_stacks, NULL },
		{ NULL, 0, NULL, NULL },
	};
	struct trace_opts o;
	VEC(struct trace_preblock) pre = { 0 }, prefreed = { 0 };
	struct symbols *sym;
	struct unwinder *u;
	struct tracer *tr;

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos)
		return hd_fail(HD_EUSAGE, "usage: trace start [--depth N] [--fast | --breakpoints] [--sample BYTES] [--no-free-stacks]");
	if (depth > 256)
		return hd_fail(HD_EUSAGE, "--depth: at most 256 frames");
	if (s->tracer && tracer_active(s->tracer))
		return hd_fail(HD_EUSAGE, "tracing is already on (trace stop first)");
	if (live_at_exit(s->t))
		return hd_fail(HD_ENOTSUP, "the process is exiting: nothing left to trace");
	sym = session_symbols(s);
	if (!sym)
		return -1;
	u = session_unwinder(s);
	memset(&o, 0, sizeof(o));
	o.depth = (int)depth;
	if (fast && breakpoints)
		return hd_fail(HD_EUSAGE, "trace start: --fast or --breakpoints, not both");
	/* fast tracepoints by default; `set tracer breakpoints` or
	 * HEAPDBG_TRACER=breakpoints (to run the suite's trace tests with
	 * the breakpoint tracer) make breakpoints the default */
	if (sample && breakpoints)
		return hd_fail(HD_EUSAGE, "trace start: --sample needs fast tracepoints, not --breakpoints");
	if (!fast && !breakpoints)
		fast = sample || session_fast_tracer(s);
	o.breakpoints = !fast;
	o.no_free_stacks = no_free_stacks;
	o.stop_on_error = !s->batch;
	/* the blocks in use now: a free of anything else, not allocated
	 * since, is an invalid free */
	{
		struct heap *h = session_heap_nocopy(s);
		if (h && h->mi->allocator == ALLOC_GLIBC) {
			o.pre_known = true;
			for (size_t i = 0; h->initialised && i < h->nchunks; i++) {
				const struct hchunk *c = &h->chunks[i];
				struct trace_preblock b;
				if (c->state == CS_TOP)
					continue;
				b.addr = hchunk_mem(c);
				b.size = hchunk_usable(c);
				if (c->state == CS_USED || c->state == CS_MMAPPED)
					vec_push(&pre, b);
				else
					vec_push(&prefreed, b);
			}
			if (h->mi->have_tcache_key) {
				o.tcache_key = h->mi->tcache_key;
				o.tcache_key_addr = h->mi->tcache_key_addr;
			}
			o.tcache_tpoff = h->mi->tcache_tpoff;
			o.have_tcache_tpoff = h->mi->have_tcache_tpoff;
		} else {
			hd_clear_error();
		}
		o.pre = pre.v;
		o.npre = pre.n;
		o.prefreed = prefreed.v;
		o.nprefreed = prefreed.n;
	}
	o.sample = sample;
	if (sample && getenv("HEAPDBG_SAMPLE_SEED") && parse_u64(getenv("HEAPDBG_SAMPLE_SEED"), &o.sample_seed, false) < 0)
		return -1;
	tr = tracer_start(s->t, sym, u, &o);
	vec_free(&pre);
	vec_free(&prefreed);
	if (!tr)
		return -1;
	tracer_free(s->tracer);	/* the records of an earlier trace */
	s->tracer = tr;
	{
		struct trace_status st;
		tracer_status(tr, &st);
		em_fmt(s->em, "Tracing %u allocator entry points: {fast:%u} fast tracepoints", st.nentries, st.nfast);
		em_fmt(s->em, ", {breakpoints:%u} breakpoints", st.nbreakpoints);
		if (st.fast_error)
			em_fmt(s->em, " ({fast_error:%s})", st.fast_error);
		em_fmt(s->em, ", stacks of up to {depth:%d} frames", st.depth);
		em_bool(s->em, "free_stacks", st.free_stacks);
		if (!st.free_stacks)
			em_text(s->em, " (a free's: its caller alone)");
		if (st.sample_rate)
			em_fmt(s->em, ", sampling about one allocation per {sample_rate:%" PRIu64 "} bytes",
			       st.sample_rate);
		em_text(s->em, "; `continue` lets the program run.\n");
		em_bool(s->em, "active", true);
	}
	return 0;
}

static int
trace_stop(struct session *s)
{
	if (!s->tracer || !tracer_active(s->tracer))
		return hd_fail(HD_EUSAGE, "tracing is not on");
	struct trace_status st;
	if (tracer_stop(s->tracer) < 0)
		return -1;
	tracer_status(s->tracer, &st);
	em_fmt(s->em, "Tracing stopped after {seconds:%.1f} s", st.seconds);
	em_text(s->em, ": every patched byte and return address is back; the records stay for "
		"`top` and `leaks`.\n");
	em_bool(s->em, "active", false);
	em_bool(s->em, "pages_mapped", st.pages_mapped);
	if (st.pages_mapped)
		em_fmt(s->em, "A thread may still return into the code page at {code:%A}: it stays "
		       "mapped until a later stop finds it unused.\n", st.code);
	return 0;
}

static int
trace_status(struct session *s)
{
	struct trace_status st;
	char b[32];

	if (!s->tracer)
		return hd_fail(HD_EUSAGE, "tracing was never started (trace start)");
	tracer_status(s->tracer, &st);
	em_fmt(s->em, "Tracing {state:%s}", st.active ? "on" : "off");
	em_bool(s->em, "active", st.active);
	if (tracer_end_reason(s->tracer))
		em_fmt(s->em, " ({end_reason:%s})", tracer_end_reason(s->tracer));
	if (st.active)
		em_fmt(s->em, " for {seconds:%.1f} s", st.seconds);
	else
		em_fmt(s->em, "; it was on for {seconds:%.1f} s", st.seconds);
	em_fmt(s->em, ", {fast:%u} fast tracepoints", st.nfast);
	em_fmt(s->em, ", {breakpoints:%u} breakpoints\n", st.nbreakpoints);
	em_list_open(s->em, "entries");
	for (unsigned i = 0; i < st.nentries; i++) {
		const struct trace_entry *e = &st.entries[i];
		em_item_open(s->em);
		em_fmt(s->em, "  {name:%s}", e->name);
		em_fmt(s->em, " at {addr:%A}", e->addr);
		em_fmt(s->em, ": {mode:%s}", e->mode);
		if (e->why)
			em_fmt(s->em, " ({why:%s})", e->why);
		em_text(s->em, "\n");
		em_item_close(s->em);
	}
	em_list_close(s->em);
	if (st.fast_tried) {
		em_obj_open(s->em, "ring");
		em_fmt(s->em, "Ring: {events:%" PRIu64 "} events read", st.ring_events);
		em_fmt(s->em, ", {waits:%" PRIu64 "} calls waited for room", st.ring_waits);
		em_fmt(s->em, ", {lost:%" PRIu64 "} lost", st.ring_lost);
		em_fmt(s->em, ", {untraced_noslot:%" PRIu64 "} untraced (thread table full)", st.ring_noslot);
		em_fmt(s->em, "; {threads:%u} threads", st.ring_threads);
		em_fmt(s->em, ", {hellos:%" PRIu64 "} asked for their stack", st.ring_hellos);
		em_fmt(s->em, "; {size:%" PRIu64 "} bytes\n", st.ring_size);
		em_obj_close(s->em);
		em_bool(s->em, "pages_mapped", st.pages_mapped);
	}
	if (st.sample_rate) {
		em_obj_open(s->em, "sampled");
		em_fmt(s->em, "Sampled: about one allocation per {rate:%" PRIu64 "} bytes", st.sample_rate);
		em_fmt(s->em, "; {allocations:%" PRIu64 "} allocations sampled", st.sampled);
		em_fmt(s->em, ", {dropped:%" PRIu64 "} dropped (sample set full); the calls below are the "
		       "sampled ones and their frees\n", st.sample_dropped);
		em_obj_close(s->em);
	}
	em_obj_open(s->em, "events");
	em_text(s->em, "Calls:");
	for (int f = 0; f < TF_NFUNCS; f++) {
		em_uint(s->em, tfunc_name((enum tfunc)f), st.events[f]);
		if (st.events[f])
			em_text(s->em, " %s %lu", tfunc_name((enum tfunc)f), st.events[f]);
	}
	em_obj_close(s->em);
	em_text(s->em, "\n");
	em_fmt(s->em, "Stops: {stops:%lu}", st.stops);
	em_fmt(s->em, " ({stepall:%lu} needed a stop-all step, {in_place:%lu} resumed in place)", st.stepall,
	       st.in_place);
	em_fmt(s->em, "; inner and tail calls not counted: {nested:%lu}\n", st.nested);
	em_obj_open(s->em, "outstanding");
	em_fmt(s->em, "Outstanding: {blocks:%" PRIu64 "} blocks", st.outstanding_blocks);
	em_fmt(s->em, ", {bytes:%" PRIu64 "} bytes requested", st.outstanding_bytes);
	em_obj_close(s->em);
	em_text(s->em, "\n");
	em_fmt(s->em, "Frees of blocks allocated before tracing: {untracked_frees:%lu}", st.untracked_frees);
	if (st.unseen_frees)
		em_fmt(s->em, "; glibc's own frees (a thread's tcache at its exit): {unseen_frees:%lu}", st.unseen_frees);
	else
		em_uint(s->em, "unseen_frees", 0);
	em_fmt(s->em, "; memory errors: {memory_errors:%lu}", st.memerrs);
	if (st.agent_checks)
		em_fmt(s->em, " ({agent_checks:%lu} calls stopped by the collector's check, {deferred_checks:%lu} "
		       "judged later)", st.agent_checks, st.deferred);
	else
		em_uint(s->em, "agent_checks", 0);
	em_fmt(s->em, "; failed allocations: {failed:%lu}\n", st.failed);
	em_fmt(s->em, "Stacks: {stacks:%zu} distinct, depth {depth:%d}", st.stacks, st.depth);
	em_fmt(s->em, "; heapdbg's memory for the records: {memory:%zu}", st.memory);
	em_text(s->em, " (%s)\n", fmt_bytes(st.memory, b));
	em_obj_open(s->em, "unwind");
	em_fmt(s->em, "Unwound: {fast:%" PRIu64 "} by cached CFI rules", st.unwind.fast);
	em_fmt(s->em, ", {full:%" PRIu64 "} by libunwind", st.unwind.full);
	if (st.unwind.verified || st.unwind.mismatches) {
		em_fmt(s->em, "; {verified:%" PRIu64 "} checked against libunwind", st.unwind.verified);
		em_fmt(s->em, ", {mismatches:%" PRIu64 "} differed", st.unwind.mismatches);
	}
	if (st.fast_tried)
	{
		em_fmt(s->em, "; {agent_unwinds:%" PRIu64 "} of them in the target", st.agent_unwinds);
		em_fmt(s->em, ", {stack_ids:%" PRIu64 "} sent as a known stack's id", st.stack_ids);
	}
	em_obj_close(s->em);
	em_text(s->em, "\n");
	return 0;
}

static int
trace_exec(struct session *s, int argc, char **argv)
{
	if (argc < 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_trace_entry.usage);
	em_str(s->em, "action", argv[1]);
	if (!strcmp(argv[1], "start")) {
		if (session_need_target(s, true) < 0)
			return -1;
		return trace_start(s, argc - 1, argv + 1);
	}
	if (argc != 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_trace_entry.usage);
	if (!strcmp(argv[1], "stop"))
		return trace_stop(s);
	if (!strcmp(argv[1], "status"))
		return trace_status(s);
	return hd_fail(HD_EUSAGE, "trace: '%s' is not start, stop or status", argv[1]);
}

static const char *const trace_words[] = { "start", "stop", "status", NULL };
static const char *const trace_opts[] = { "--depth", "--breakpoints", "--fast", "--sample", "--no-free-stacks", NULL };

const struct cmd_entry cmd_trace_entry = {
	.name = "trace",
	.usage = "trace start [--depth N] [--fast | --breakpoints] [--sample BYTES] [--no-free-stacks] | trace stop | "
		 "trace status",
	.summary = "trace every allocation with its stack (fast tracepoints, or breakpoints)",
	.help = "trace start traces every allocator entry point the program calls\n"
		"(malloc, free, calloc, realloc, reallocarray, memalign, aligned_alloc,\n"
		"posix_memalign, valloc, pvalloc), resolved as the dynamic linker does, so\n"
		"an interposed allocator is traced too.  Each allocation is recorded with\n"
		"its requested size and its stack (--depth frames, default 32), each free\n"
		"with its stack (--no-free-stacks: its caller alone); frees remove them.\n"
		"By default with fast tracepoints: a jump at each entry point into a code\n"
		"page heapdbg maps in the program, whose collector records each call in a\n"
		"ring shared with heapdbg; no call stops its thread.  An entry point that\n"
		"cannot take the jump gets a breakpoint, and all of them do when the code\n"
		"page cannot be mapped (trace start and trace status say which and why).\n"
		"If heapdbg dies while fast tracing, the collector passes every call\n"
		"through and the program goes on.\n"
		"trace start --breakpoints (or set tracer breakpoints, or\n"
		"HEAPDBG_TRACER=breakpoints) places a breakpoint on every entry point\n"
		"instead, never lifted while threads run: the displaced instruction runs\n"
		"out of line, so no call of any thread is missed.  At most 2 stops per\n"
		"allocation and 1 per free.  If heapdbg is killed with SIGKILL while\n"
		"tracing with breakpoints, the program dies of SIGTRAP at its next\n"
		"allocation (or of SIGSEGV or SIGILL, for a thread that was stopped on a\n"
		"breakpoint): no breakpoint design survives that.  SIGTERM, SIGINT and\n"
		"SIGHUP put everything back first.\n"
		"trace stop puts every byte back; the records stay for `top` and `leaks`.\n"
		"trace status: calls per entry point and the mode of each, stops,\n"
		"outstanding blocks and bytes.\n"
		"trace start --sample BYTES (fast tracepoints) records about one allocation\n"
		"per BYTES allocated (a Poisson draw, as tcmalloc's) and the frees of those\n"
		"blocks; top scales the samples as pprof does and says they are estimates.",
	.options = trace_opts,
	.words = trace_words,
	.flags = CMD_NEEDS_TARGET,
	.exec = trace_exec,
};
