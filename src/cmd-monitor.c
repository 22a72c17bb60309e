/*
 * cmd-monitor.c - `monitor INTERVAL [COUNT]`: let a live target run and,
 * every INTERVAL seconds, stop it, read its RSS and walk the heap for its
 * totals; print a growth line per sample and, at the end, a plot of the
 * series in the terminal.  Ctrl-C (or the process exiting) ends it early
 * with the series so far.  In JSON each sample is a line of its own as it
 * is taken, so a pipeline sees it at once; --prometheus=FILE rewrites FILE
 * after each sample (a temporary file renamed over it: a reader never
 * sees half of one) in Prometheus' text exposition format, per arena, for
 * node_exporter's textfile collector.
 */
#include "config.h"
#include "cmd.h"
#include "arenastat.h"
#include "heap.h"
#include "live.h"
#include "signals.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLOT_ROWS 8
#define PLOT_COLS 60

struct sample {
	double t;		/* seconds since monitor started */
	uint64_t rss;		/* bytes; 0 if unknown */
	bool have_heap;
	uint64_t system_mem;
	struct hcount in_use;	/* used + mmapped chunks */
	struct hcount mmapped;
	uint64_t free_bytes;	/* tcache, fastbins, bins, top (quick: no tcache) */
	double stopped;		/* seconds the process was stopped for it */
	bool quick;		/* from the free lists (arenastat.h): no chunk counts */
	/* quick: mallinfo2's parts */
	struct hcount fastbins, bins;
	uint64_t top, arenas;
};

/* The Prometheus text exposition format (version 0.0.4) of one sample. */
static void
prom_family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One arena's figures, from a walk or from --quick's free lists. */
struct prom_row {
	uint64_t addr;
	bool main;
	uint64_t system, in_use, free, top, free_chunks;
	bool have_used_chunks;	/* a walk counts the chunks in use */
	uint64_t used_chunks;
};

static void
prom_series(struct sbuf *b, const char *name, pid_t pid, size_t i, const struct prom_row *r, const char *extra,
	    uint64_t v)
{
	sb_printf(b, "%s{pid=\"%d\",arena=\"%zu\",addr=\"0x%" PRIx64 "\",main=\"%s\"%s} %" PRIu64 "\n", name,
		  (int)pid, i, r->addr, r->main ? "true" : "false", extra, v);
}

/* The heap's families, per arena, then the mmapped chunks. */
static void
prom_heap(struct sbuf *b, pid_t pid, const struct prom_row *rows, size_t n, bool quick, uint64_t mm_bytes,
	  uint64_t mm_chunks)
{
	prom_family(b, "heapdbg_heap_system_bytes", "gauge", "Memory the arena got from the system (system_mem).");
	for (size_t i = 0; i < n; i++)
		prom_series(b, "heapdbg_heap_system_bytes", pid, i, &rows[i], "", rows[i].system);
	prom_family(b, "heapdbg_heap_in_use_bytes", "gauge", quick ?
		    "Bytes of the arena not free and not top (mallinfo2's uordblks: tcache'd chunks count)." :
		    "Bytes in chunks in use in the arena.");
	for (size_t i = 0; i < n; i++)
		prom_series(b, "heapdbg_heap_in_use_bytes", pid, i, &rows[i], "", rows[i].in_use);
	prom_family(b, "heapdbg_heap_free_bytes", "gauge", quick ?
		    "Bytes in free chunks of the arena (fastbins, bins; not top)." :
		    "Bytes in free chunks of the arena (tcache, fastbins, bins; not top).");
	for (size_t i = 0; i < n; i++)
		prom_series(b, "heapdbg_heap_free_bytes", pid, i, &rows[i], "", rows[i].free);
	prom_family(b, "heapdbg_heap_top_bytes", "gauge", "Size of the arena's top chunk.");
	for (size_t i = 0; i < n; i++)
		prom_series(b, "heapdbg_heap_top_bytes", pid, i, &rows[i], "", rows[i].top);
	prom_family(b, "heapdbg_heap_chunks", "gauge", quick ? "Free chunks of the arena (fastbins, bins)." :
		    "Chunks of the arena, in use and free (top not counted).");
	for (size_t i = 0; i < n; i++) {
		if (rows[i].have_used_chunks)
			prom_series(b, "heapdbg_heap_chunks", pid, i, &rows[i], ",state=\"in_use\"", rows[i].used_chunks);
		prom_series(b, "heapdbg_heap_chunks", pid, i, &rows[i], ",state=\"free\"", rows[i].free_chunks);
	}
	prom_family(b, "heapdbg_heap_mmapped_bytes", "gauge", "Bytes in chunks mmapped on their own (no arena).");
	sb_printf(b, "heapdbg_heap_mmapped_bytes{pid=\"%d\"} %" PRIu64 "\n", (int)pid, mm_bytes);
	prom_family(b, "heapdbg_heap_mmapped_chunks", "gauge", "Chunks mmapped on their own (no arena).");
	sb_printf(b, "heapdbg_heap_mmapped_chunks{pid=\"%d\"} %" PRIu64 "\n", (int)pid, mm_chunks);
}

static int
prom_write(const char *path, pid_t pid, const struct heap *h, const struct arenas_stat *q, const struct sample *x,
	   double stopped_total, uint64_t nsamples)
{
	struct sbuf b;
	int rc;

	sb_init(&b);
	prom_family(&b, "heapdbg_process_resident_bytes", "gauge", "Resident set size of the process (RSS).");
	sb_printf(&b, "heapdbg_process_resident_bytes{pid=\"%d\"} %" PRIu64 "\n", (int)pid, x->rss);
	prom_family(&b, "heapdbg_stopped_seconds_total", "counter",
		    "Time heapdbg held the process stopped to take samples.");
	sb_printf(&b, "heapdbg_stopped_seconds_total{pid=\"%d\"} %.6f\n", (int)pid, stopped_total);
	prom_family(&b, "heapdbg_last_stop_seconds", "gauge", "How long the last sample stopped the process.");
	sb_printf(&b, "heapdbg_last_stop_seconds{pid=\"%d\"} %.6f\n", (int)pid, x->stopped);
	prom_family(&b, "heapdbg_samples_total", "counter", "Samples taken by this monitor.");
	sb_printf(&b, "heapdbg_samples_total{pid=\"%d\"} %" PRIu64 "\n", (int)pid, nsamples);
	if (q && q->arenas.n) {
		struct prom_row *rows = xcalloc(q->arenas.n, sizeof(*rows));
		for (size_t i = 0; i < q->arenas.n; i++) {
			const struct arena_stat *a = &q->arenas.v[i];
			rows[i] = (struct prom_row){ .addr = a->addr, .main = a->main, .system = a->system_mem,
						     .in_use = a->in_use, .free = a->fastbins.bytes + a->bins.bytes,
						     .top = a->top_size,
						     .free_chunks = a->fastbins.chunks + a->bins.chunks };
		}
		prom_heap(&b, pid, rows, q->arenas.n, true, q->mmapped_mem, q->n_mmaps);
		free(rows);
	} else if (h && h->initialised) {
		struct prom_row *rows = xcalloc(h->arenas.n ? h->arenas.n : 1, sizeof(*rows));
		for (size_t i = 0; i < h->arenas.n; i++) {
			const struct harena *a = &h->arenas.v[i];
			rows[i] = (struct prom_row){ .addr = a->addr, .main = a->main, .system = a->system_mem,
						     .in_use = a->used.bytes,
						     .free = a->tcache.bytes + a->fastbins.bytes + a->bins.bytes,
						     .top = a->top_size,
						     .free_chunks = a->tcache.chunks + a->fastbins.chunks + a->bins.chunks,
						     .have_used_chunks = true, .used_chunks = a->used.chunks };
		}
		prom_heap(&b, pid, rows, h->arenas.n, false, h->mmapped.bytes, h->mmapped.chunks);
		free(rows);
	}
	rc = snap_write_file(path, b.s, b.len, false);
	sb_free(&b);
	return rc;
}

static uint64_t
read_rss(pid_t pid)
{
	char path[64], *text;
	unsigned long long size = 0, resident = 0;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	text = read_file(path, &len);
	if (!text)
		return 0;
	if (sscanf(text, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	free(text);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A quick sample: mallinfo2()'s totals from the free lists. */
static bool
take_quick(struct session *s, struct sample *out, bool *warned, struct arenas_stat *q)
{
	const struct malloc_info *mi = session_malloc_info(s);

	if (!mi || mi->allocator != ALLOC_GLIBC || arenas_stat_read(s->t, mi, q) < 0) {
		if (!*warned)
			warn_msg("monitor: no heap totals (%s); RSS only",
				 mi && mi->allocator != ALLOC_GLIBC ? mi->detail : hd_errmsg());
		*warned = true;
		hd_clear_error();
		return true;
	}
	if (q->problem && !*warned) {
		warn_msg("monitor: %s; the totals stop there (`check` says more)", q->problem);
		*warned = true;
	}
	out->have_heap = true;
	out->quick = true;
	for (size_t i = 0; i < q->arenas.n; i++) {
		const struct arena_stat *a = &q->arenas.v[i];
		out->system_mem += a->system_mem;
		out->in_use.bytes += a->in_use;
		out->free_bytes += a->top_size + a->bins.bytes + a->fastbins.bytes;
		out->fastbins.chunks += a->fastbins.chunks;
		out->fastbins.bytes += a->fastbins.bytes;
		out->bins.chunks += a->bins.chunks;
		out->bins.bytes += a->bins.bytes;
		out->top += a->top_size;
	}
	out->arenas = q->arenas.n;
	out->mmapped.chunks = q->n_mmaps;
	out->mmapped.bytes = q->mmapped_mem;
	out->in_use.bytes += q->mmapped_mem;
	return true;
}

/* One sample of the stopped target; false if the walk was interrupted. */
static bool
take(struct session *s, double t, struct sample *out, bool *warned, struct heap **hp, struct arenas_stat *q)
{
	struct heap *h;

	*hp = NULL;
	memset(out, 0, sizeof(*out));
	out->t = t;
	out->rss = read_rss(s->t->pid);
	if (q) {
		arenas_stat_free(q);
		return take_quick(s, out, warned, q);
	}
	h = session_glibc_heap_nocopy(s);
	if (!h) {
		if (hd_errcode() == HD_EINTR)
			return false;
		if (!*warned)
			warn_msg("monitor: no heap totals (%s); RSS only", hd_errmsg());
		*warned = true;
		hd_clear_error();
		return true;
	}
	out->have_heap = true;
	*hp = h;
	for (size_t i = 0; i < h->arenas.n; i++) {
		const struct harena *a = &h->arenas.v[i];
		out->system_mem += a->system_mem;
		out->in_use.chunks += a->used.chunks;
		out->in_use.bytes += a->used.bytes;
		out->free_bytes += a->tcache.bytes + a->fastbins.bytes + a->bins.bytes + a->top_size;
	}
	out->mmapped = h->mmapped;
	out->in_use.chunks += h->mmapped.chunks;
	out->in_use.bytes += h->mmapped.bytes;
	return true;
}

static const char *
signed_bytes(int64_t v, char buf[40])
{
	char b[32];

	snprintf(buf, 40, "%s%s", v < 0 ? "-" : "+", fmt_bytes(v < 0 ? (uint64_t)-v : (uint64_t)v, b));
	return buf;
}

static void
text_line(struct session *s, const struct sample *x, const struct sample *prev)
{
	char b1[32], b2[40], b3[32], b4[40], b5[32];

	em_text(s->em, "%8.1f s  rss %10s (%9s)", x->t, fmt_bytes(x->rss, b1),
		signed_bytes(prev ? (int64_t)(x->rss - prev->rss) : 0, b2));
	if (x->have_heap && x->quick)
		em_text(s->em, "  in use %10s (%9s)  free %s", fmt_bytes(x->in_use.bytes, b3),
			signed_bytes(prev && prev->have_heap ? (int64_t)(x->in_use.bytes - prev->in_use.bytes) : 0, b4),
			fmt_bytes(x->free_bytes, b5));
	else if (x->have_heap)
		em_text(s->em, "  in use %10s (%9s) in %" PRIu64 " chunks (%+" PRId64 ")  free %s",
			fmt_bytes(x->in_use.bytes, b3),
			signed_bytes(prev && prev->have_heap ? (int64_t)(x->in_use.bytes - prev->in_use.bytes) : 0, b4),
			x->in_use.chunks,
			prev && prev->have_heap ? (int64_t)(x->in_use.chunks - prev->in_use.chunks) : 0,
			fmt_bytes(x->free_bytes, b5));
	em_text(s->em, "\n");	/* em_next sends it at once */
}

/* A bar chart of one series: PLOT_ROWS rows, at most PLOT_COLS columns
 * (each the last sample of its stretch of the series). */
static void
plot(struct session *s, const char *title, const struct sample *v, size_t n, bool heap)
{
	size_t cols = MIN(n, (size_t)PLOT_COLS);
	uint64_t val[PLOT_COLS], lo = UINT64_MAX, hi = 0;
	int level[PLOT_COLS];
	char b[32];

	if (n < 2)
		return;
	for (size_t c = 0; c < cols; c++) {
		const struct sample *x = &v[((c + 1) * n) / cols - 1];
		val[c] = heap ? x->in_use.bytes : x->rss;
		lo = MIN(lo, val[c]);
		hi = MAX(hi, val[c]);
	}
	for (size_t c = 0; c < cols; c++)
		level[c] = hi > lo ? (int)(((val[c] - lo) * (PLOT_ROWS - 1) + (hi - lo) / 2) / (hi - lo)) : 0;
	em_text(s->em, "\n%s, %.1f s:\n", title, v[n - 1].t);
	for (int row = PLOT_ROWS - 1; row >= 0; row--) {
		const char *label = row == PLOT_ROWS - 1 ? fmt_bytes(hi, b) : row == 0 ? fmt_bytes(lo, b) : "";
		em_text(s->em, "%11s |", label);
		for (size_t c = 0; c < cols; c++)
			em_text(s->em, "%c", level[c] >= row ? (level[c] == row ? '*' : ':') : ' ');
		em_text(s->em, "\n");
	}
	em_text(s->em, "%11s +", "");
	for (size_t c = 0; c < cols; c++)
		em_text(s->em, "-");
	em_text(s->em, "\n%11s  0 s%*s%.1f s\n", "", (int)cols > 12 ? (int)cols - 10 : 2, "", v[n - 1].t);
}

static void
emit_sample(struct emitter *em, const struct sample *x)
{
	em_double(em, "t", x->t);
	em_uint(em, "rss", x->rss);
	if (x->have_heap && x->quick) {
		em_uint(em, "system_mem", x->system_mem);
		em_obj_open(em, "in_use");
		em_uint(em, "bytes", x->in_use.bytes);
		em_obj_close(em);
		cmd_emit_count(em, "mmapped", &x->mmapped);
		em_obj_open(em, "free");
		em_uint(em, "bytes", x->free_bytes);
		cmd_emit_count(em, "fastbins", &x->fastbins);
		cmd_emit_count(em, "bins", &x->bins);
		em_uint(em, "top", x->top);
		em_obj_close(em);
		em_uint(em, "arenas", x->arenas);
	} else if (x->have_heap) {
		em_uint(em, "system_mem", x->system_mem);
		cmd_emit_count(em, "in_use", &x->in_use);
		cmd_emit_count(em, "mmapped", &x->mmapped);
		em_obj_open(em, "free");
		em_uint(em, "bytes", x->free_bytes);
		em_obj_close(em);
	}
	em_double(em, "stopped_seconds", x->stopped);
}

/* After a sample: the Prometheus file, its text line, its JSON line. */
static void
report_sample(struct session *s, struct sample *x, const struct sample *prev, const struct heap *h,
	      const struct arenas_stat *q, uint64_t stop_start, double stopped_before, uint64_t n, const char *prom,
	      bool *prom_warned)
{
	x->stopped = (hd_now_ns() - stop_start) / 1e9;
	/* the file first: whoever reads the line may look at it */
	if (prom && prom_write(prom, s->t->pid, h, q, x, stopped_before + x->stopped, n) < 0) {
		if (!*prom_warned)
			warn_msg("monitor: %s", hd_errmsg());
		*prom_warned = true;
		hd_clear_error();
	}
	text_line(s, x, prev);
	em_uint(s->em, "sample", n - 1);
	em_str(s->em, "source", x->quick ? "free-lists" : "walk");
	emit_sample(s->em, x);
	em_next(s->em);
}

static int
monitor_exec(struct session *s, int argc, char **argv)
{
	double interval, stopped_total = 0;
	uint64_t count = 0, stop_start;
	VEC(struct sample) v = { 0 };
	struct sample x;
	struct heap *h;
	const char *reason = "done", *prom = NULL;
	uint64_t t0 = hd_now_ns();
	bool warned = false, prom_warned = false, quick = false, slow_warned = false;
	int rc = 0, npos;
	char b1[40], b2[40];
	struct arenas_stat qs = { 0 }, *q;
	const struct opt_spec opts[] = {
		{ "--prometheus", OPT_STR, &prom, NULL },
		{ "--quick", OPT_FLAG, &quick, NULL },
		{ NULL, 0, NULL, NULL },
	};

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos < 1 || npos > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_monitor_entry.usage);
	if (parse_double(argv[1], &interval) < 0 || !(interval > 0) || interval > 86400)
		return hd_fail(HD_EUSAGE, "INTERVAL must be a number of seconds above 0");
	if (npos == 2 && (parse_u64(argv[2], &count, false) < 0 || count == 0))
		return hd_fail(HD_EUSAGE, "COUNT must be a positive number of samples");
	if (prom && !*prom)
		return hd_fail(HD_EUSAGE, "--prometheus needs a file name");
	if (s->batch && !count)
		warn_msg("monitor without COUNT runs until the process exits or Ctrl-C");
	q = quick ? &qs : NULL;
	em_text(s->em, "Monitoring process %d every %g s%s%s (Ctrl-C ends):\n", (int)s->t->pid, interval,
		count ? "" : " until it exits", quick ? ", totals from the free lists (mallinfo2's)" : "");
	stop_start = t0;
	if (!take(s, 0, &x, &warned, &h, q)) {
		reason = "interrupted";
	} else {
		report_sample(s, &x, NULL, h, q, stop_start, stopped_total, 1, prom, &prom_warned);
		vec_push(&v, x);
	}
	for (uint64_t i = 0; !strcmp(reason, "done") && (!count || i < count); i++) {
		struct run_result res;

		if (sig_interrupted()) {
			reason = "interrupted";
			break;
		}
		stopped_total += (hd_now_ns() - stop_start) / 1e9;
		rc = live_run(s->t, interval, NULL, &res);
		stop_start = hd_now_ns();
		session_target_ran(s);
		if (res.end == RUN_EXITED || res.end == RUN_GONE)
			s->end_seen = true;	/* our output says so */
		if (rc < 0)
			break;
		if (res.end == RUN_GONE) {
			reason = "gone";
			break;
		}
		if (res.end == RUN_TERMINATE) {
			reason = "terminated";
			s->quit = true;
			break;
		}
		if (res.end == RUN_INTERRUPTED)
			sig_clear_interrupt();	/* the sample is still taken */
		if (!take(s, (hd_now_ns() - t0) / 1e9, &x, &warned, &h, q)) {
			reason = "interrupted";
			break;
		}
		report_sample(s, &x, v.n ? &v.v[v.n - 1] : NULL, h, q, stop_start, stopped_total, v.n + 1, prom,
			      &prom_warned);
		vec_push(&v, x);
		if (!quick && !slow_warned && x.stopped > 0.05 * interval) {
			warn_msg("monitor: each walk holds the process %.0f ms, %.0f%% of the interval; --quick takes "
				 "glibc's totals from the free lists alone", x.stopped * 1e3, 100 * x.stopped / interval);
			slow_warned = true;
		}
		if (res.end == RUN_INTERRUPTED)
			reason = "interrupted";
		else if (res.end == RUN_EXITED)
			reason = "exited";
	}
	if (rc < 0 && !v.n) {
		vec_free(&v);
		arenas_stat_free(&qs);
		return -1;
	}
	if (rc < 0) {
		warn_msg("monitor: %s", hd_errmsg());
		reason = "error";
	}
	hd_clear_error();

	em_double(s->em, "interval", interval);
	em_uint(s->em, "count", count);
	em_str(s->em, "source", quick ? "free-lists" : "walk");
	em_str(s->em, "reason", reason);
	em_uint(s->em, "samples", v.n);
	em_int(s->em, "pid", s->t->pid);
	if (prom)
		em_str(s->em, "prometheus", prom);
	em_list_open(s->em, "series");
	for (size_t i = 0; i < v.n; i++) {
		em_item_open(s->em);
		emit_sample(s->em, &v.v[i]);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	if (v.n) {
		const struct sample *f = &v.v[0], *l = &v.v[v.n - 1];
		em_obj_open(s->em, "growth");
		em_double(s->em, "seconds", l->t - f->t);
		em_int(s->em, "rss", (int64_t)(l->rss - f->rss));
		if (f->have_heap && l->have_heap) {
			em_int(s->em, "in_use_bytes", (int64_t)(l->in_use.bytes - f->in_use.bytes));
			if (!quick)
				em_int(s->em, "in_use_chunks", (int64_t)(l->in_use.chunks - f->in_use.chunks));
		}
		em_obj_close(s->em);
		em_text(s->em, "\n%zu sample%s over %.1f s (%s): rss %s", v.n, v.n == 1 ? "" : "s", l->t - f->t, reason,
			signed_bytes((int64_t)(l->rss - f->rss), b1));
		if (f->have_heap && l->have_heap && quick)
			em_text(s->em, ", heap in use %s", signed_bytes((int64_t)(l->in_use.bytes - f->in_use.bytes), b2));
		else if (f->have_heap && l->have_heap)
			em_text(s->em, ", heap in use %s (%+" PRId64 " chunks)",
				signed_bytes((int64_t)(l->in_use.bytes - f->in_use.bytes), b2),
				(int64_t)(l->in_use.chunks - f->in_use.chunks));
		if (l->t > f->t && f->have_heap && l->have_heap)
			em_text(s->em, ", %s/s", signed_bytes((int64_t)((double)(int64_t)(l->in_use.bytes -
				f->in_use.bytes) / (l->t - f->t)), b1));
		em_text(s->em, "\n");
		if (f->have_heap && l->have_heap)
			plot(s, "Heap in use", v.v, v.n, true);
		plot(s, "RSS", v.v, v.n, false);
	}
	stopped_total += (hd_now_ns() - stop_start) / 1e9;
	em_double(s->em, "stopped_seconds", stopped_total);
	vec_free(&v);
	arenas_stat_free(&qs);
	return 0;
}

static const char *const monitor_opts[] = { "--prometheus", "--quick", NULL };

const struct cmd_entry cmd_monitor_entry = {
	.name = "monitor",
	.usage = "monitor INTERVAL [COUNT] [--quick] [--prometheus=FILE]",
	.summary = "sample RSS and heap totals every INTERVAL seconds while the process runs",
	.help = "Samples the process (RSS, and from a heap walk: bytes and chunks in\n"
		"use, free, system memory), then lets it run INTERVAL seconds, COUNT\n"
		"times (or until it exits, or Ctrl-C); the target is stopped only for\n"
		"each walk.  Prints a growth line per sample and, at the end, a plot of\n"
		"each series.  Ctrl-C ends it with the series so far.\n"
		"--quick takes glibc's own totals (mallinfo2's, to the byte) from each\n"
		"arena's counters and free lists instead of a walk: the process is held\n"
		"for the free chunks only, milliseconds on a heap of millions of chunks;\n"
		"no chunk counts, and tcache'd chunks count as in use, as for glibc.\n"
		"--prometheus=FILE rewrites FILE after each sample, atomically (a\n"
		"temporary file renamed over it), in Prometheus' text format, for\n"
		"node_exporter's textfile collector: per arena heapdbg_heap_in_use_bytes,\n"
		"_free_bytes, _top_bytes, _system_bytes, _chunks{state}; mmapped bytes\n"
		"and chunks, heapdbg_process_resident_bytes, heapdbg_stopped_seconds_total.\n"
		"JSON: one line per sample as it is taken: sample (0, 1, ...), t, rss,\n"
		"system_mem, in_use {chunks, bytes}, mmapped {chunks, bytes}, free\n"
		"{bytes}, stopped_seconds; then the summary: interval, count, reason\n"
		"(done, interrupted, exited, gone, terminated), samples, pid, series\n"
		"(every sample again), growth {seconds, rss, in_use_bytes,\n"
		"in_use_chunks}, stopped_seconds (in all).",
	.options = monitor_opts,
	.flags = CMD_NEEDS_LIVE,
	.exec = monitor_exec,
};
