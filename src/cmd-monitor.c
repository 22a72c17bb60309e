/*
 * cmd-monitor.c - `monitor INTERVAL [COUNT]`: let a live target run and,
 * every INTERVAL seconds, stop it, read its RSS and walk the heap for its
 * totals (or, for a heap too big to walk that often, take glibc's totals
 * from the free lists, followed while it runs and read again stopped:
 * arenastat.h); print a growth line per sample and, at the end, a plot of
 * the series in the terminal.  Ctrl-C (or the process exiting) ends it early
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
	/* quick: how the free lists were read (arenastat.h) */
	uint64_t hinted, confirmed, changed, unconfirmed, rounds, cut;
	bool hint_done;		/* the hint was complete at the stop */
	bool approximate;	/* not all read under the stop */
};

struct sample_vec {
	struct sample *v;
	size_t n, cap;
};

/* What a monitor does while the process runs between samples
 * (live_set_work): first the report of the sample just taken (so that
 * its output does not hold the process, and its hold is known whole),
 * then, for a quick sample, the free lists followed before the stop
 * (the hint), starting lead_ns before the interval ends so that the
 * hint is fresh when the stop confirms it. */
struct hint_job {
	struct session *s;
	const struct malloc_info *mi;
	struct arenas_hint *hint;
	uint64_t lead_ns;
	uint64_t began, took;	/* when the chase began; how long it took */
	bool done;
	bool end_run;		/* end the run once the hint is done */
	uint64_t due_ns;	/* the sample's time (0: the run's end) */
	/* the sample to report, if any */
	bool due;
	struct sample x;
	const struct heap *h;
	const struct arenas_stat *q;
	uint64_t held_before;	/* live_held_ns before its stop */
	uint64_t held_mark;	/* live_held_ns when the last report was made
				 * (the process running): the next sample's
				 * hold counts from there */
	/* the monitor's */
	struct sample_vec *v;
	const char *prom;
	bool prom_warned;
	uint64_t held_start;
};

static void report_due(struct hint_job *j);

static int
hint_work(void *ctx, struct target *t, uint64_t deadline)
{
	struct hint_job *j = ctx;
	uint64_t now;

	report_due(j);
	now = hd_now_ns();
	if (!j->hint || j->done) {
		/* the hint done: the sample at its time (the run's own
		 * deadline is later, for a hint not done in time) */
		if (j->end_run || (j->due_ns && now >= j->due_ns))
			return -2;
		if (!j->due_ns)
			return -1;
		return (int)MIN((j->due_ns - now) / 1000000 + 1, 1000);
	}
	if (j->due_ns && now + j->lead_ns < j->due_ns) {
		uint64_t ms = (j->due_ns - j->lead_ns - now) / 1000000;
		return ms ? (int)MIN(ms, 1000) : 1;
	}
	if (!j->began)
		j->began = now;
	/* slices of 2 ms: live_run handles the process's events between */
	if (arenas_hint_step(t, j->mi, j->hint, 2000000)) {
		j->done = true;
		j->took = hd_now_ns() - j->began;
	}
	return 0;
}

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

/* What a quick sample needs of malloc_info, kept across samples (the
 * session drops its own each time the process runs, and locating it
 * again would be done with the process stopped): glibc's state does not
 * move while the process lives. */
static const struct malloc_info *
quick_info(struct session *s, struct malloc_info *keep, bool *have)
{
	const struct malloc_info *mi;

	if (*have)
		return keep;
	mi = session_malloc_info(s);
	if (!mi || mi->allocator != ALLOC_GLIBC)
		return mi;
	memset(keep, 0, sizeof(*keep));
	keep->allocator = mi->allocator;
	keep->L = mi->L;
	keep->main_arena = mi->main_arena;
	keep->mp = mi->mp;
	*have = true;
	return keep;
}

/* A quick sample: mallinfo2()'s totals from the free lists. */
static bool
take_quick(struct session *s, struct sample *out, bool *warned, struct arenas_stat *q, const struct malloc_info *mi,
	   const struct arenas_hint *hint, uint64_t deadline)
{
	if (!mi || mi->allocator != ALLOC_GLIBC || arenas_stat_read(s->t, mi, hint, deadline, q) < 0) {
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
	out->hinted = q->hinted;
	out->confirmed = q->confirmed;
	out->changed = q->changed;
	out->unconfirmed = q->unconfirmed;
	out->rounds = q->rounds;
	out->cut = q->cut;
	out->approximate = q->approximate;
	return true;
}

/* One sample of the stopped target; false if the walk was interrupted. */
static bool
take(struct session *s, double t, struct sample *out, bool *warned, struct heap **hp, struct arenas_stat *q,
     const struct malloc_info *mi, const struct arenas_hint *hint, uint64_t deadline)
{
	struct heap *h;

	*hp = NULL;
	memset(out, 0, sizeof(*out));
	out->t = t;
	out->rss = read_rss(s->t->pid);
	if (q) {
		arenas_stat_free(q);
		return take_quick(s, out, warned, q, mi, hint, deadline);
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
		em_text(s->em, "  in use %10s (%9s)  free %s%s", fmt_bytes(x->in_use.bytes, b3),
			signed_bytes(prev && prev->have_heap ? (int64_t)(x->in_use.bytes - prev->in_use.bytes) : 0, b4),
			fmt_bytes(x->free_bytes, b5), x->approximate ? "  (approximate: lists read while it ran)" : "");
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
		em_bool(em, "approximate", x->approximate);
		em_obj_open(em, "lists");
		em_uint(em, "hinted", x->hinted);
		em_uint(em, "confirmed", x->confirmed);
		em_uint(em, "changed", x->changed);
		em_uint(em, "unconfirmed", x->unconfirmed);
		em_uint(em, "rounds", x->rounds);
		em_uint(em, "cut", x->cut);
		em_obj_close(em);
	} else if (x->have_heap) {
		em_uint(em, "system_mem", x->system_mem);
		cmd_emit_count(em, "in_use", &x->in_use);
		cmd_emit_count(em, "mmapped", &x->mmapped);
		em_obj_open(em, "free");
		em_uint(em, "bytes", x->free_bytes);
		em_obj_close(em);
	}
	em_str(em, "source", x->quick ? "free-lists" : "walk");
	em_double(em, "stopped_seconds", x->stopped);
}

/* After a sample: the Prometheus file, its text line, its JSON line;
 * x->stopped is the hold since held_before (live_held_ns): called once
 * the process runs again, it is the sample's whole hold. */
static void
report_due(struct hint_job *j)
{
	struct session *s = j->s;
	struct sample *x = &j->x;
	const struct sample *prev = j->v->n ? &j->v->v[j->v->n - 1] : NULL;
	uint64_t n = j->v->n + 1;

	if (!j->due)
		return;
	j->due = false;
	j->held_mark = live_held_ns(s->t);
	x->stopped = (j->held_mark - j->held_before) / 1e9;
	/* the file first: whoever reads the line may look at it */
	if (j->prom && prom_write(j->prom, s->t->pid, x->quick ? NULL : j->h, x->quick ? j->q : NULL, x,
				  (live_held_ns(s->t) - j->held_start) / 1e9, n) < 0) {
		if (!j->prom_warned)
			warn_msg("monitor: %s", hd_errmsg());
		j->prom_warned = true;
		hd_clear_error();
	}
	text_line(s, x, prev && prev->quick == x->quick ? prev : NULL);
	em_uint(s->em, "sample", n - 1);
	emit_sample(s->em, x);
	em_next(s->em);
	vec_push(j->v, *x);
}

/* The stop's deadline for a quick sample: 3% of the interval held in
 * all, the stop itself (held_ns so far) included; the resume and the
 * rest take the remaining 2% of the 5% goal; 10 ms at least (a shorter
 * interval cannot keep to 5% anyway, and a small heap's lists are read
 * again whole in that time).  None with --exact. */
static uint64_t
quick_deadline(double interval, bool exact, uint64_t held_ns)
{
	uint64_t budget = MAX((uint64_t)(interval * 0.03e9), 10000000ULL);
	return exact ? 0 : hd_now_ns() + (budget > held_ns ? budget - held_ns : 0);
}

/* Run the process until `until` (hd_now_ns's clock; at least 1 ms), the
 * hint job (if any) following the free lists meanwhile.  For the first
 * sample (end_run) the run ends as soon as the hint is done. */
static int
run_with_hint(struct session *s, struct hint_job *job, const struct malloc_info *mi, uint64_t until, uint64_t lead_ns,
	      double interval, bool end_run, struct run_result *res)
{
	uint64_t now = hd_now_ns();
	double secs = until > now + 1000000 ? (until - now) / 1e9 : 0.001;
	int rc;

	arenas_hint_free(job->hint);
	job->hint = NULL;
	job->began = job->took = 0;
	job->done = false;
	job->mi = mi;
	job->end_run = end_run;
	job->due_ns = 0;
	if (mi && (job->hint = arenas_hint_new(mi))) {
		/* the last chase, twice over, and 20 ms, at most 90% of the
		 * interval, before the interval ends */
		job->lead_ns = end_run ? UINT64_MAX / 2 : MIN(2 * lead_ns + 20000000ULL, (uint64_t)(interval * 0.9e9));
		if (!end_run) {
			/* a hint not done at the sample's time may take a
			 * fifth of the interval more (the process runs):
			 * a sample a little late rather than lists cut */
			job->due_ns = now + (uint64_t)(secs * 1e9);
			secs += interval * 0.2;
		}
	}
	job->held_mark = live_held_ns(s->t);	/* (no report in this run) */
	live_set_work(s->t, hint_work, job);
	rc = live_run(s->t, secs, NULL, res);
	live_set_work(s->t, NULL, NULL);
	report_due(job);	/* (a run that ended at once) */
	return rc;
}

/* The sample just taken is reported once the process runs again. */
static void
sample_due(struct hint_job *j, const struct sample *x, const struct heap *h, const struct arenas_stat *q,
	   uint64_t held_before)
{
	j->x = *x;
	j->h = h;
	j->q = q;
	j->held_before = held_before;
	j->due = true;
}

static int
monitor_exec(struct session *s, int argc, char **argv)
{
	double interval;
	uint64_t count = 0, held_start, held_before;
	struct sample_vec v = { 0 };
	struct sample x;
	struct heap *h;
	const char *reason = "done", *prom = NULL;
	uint64_t t0 = hd_now_ns();
	bool warned = false, quick = false, walk = false, exact = false, switched = false;
	bool have_mi = false;
	int rc = 0, npos;
	char b1[40], b2[40];
	struct arenas_stat qs = { 0 }, *q;
	struct malloc_info qmi;
	const struct malloc_info *mi = NULL;
	struct hint_job job = { 0 };
	uint64_t lead_ns = 0;
	enum run_end first_end = RUN_TIMEOUT;
	const struct opt_spec opts[] = {
		{ "--prometheus", OPT_STR, &prom, NULL },
		{ "--quick", OPT_FLAG, &quick, NULL },
		{ "--walk", OPT_FLAG, &walk, NULL },
		{ "--exact", OPT_FLAG, &exact, NULL },
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
	if (quick && walk)
		return hd_fail(HD_EUSAGE, "--quick and --walk exclude each other");
	if (s->batch && !count)
		warn_msg("monitor without COUNT runs until the process exits or Ctrl-C");
	held_start = held_before = live_held_ns(s->t);
	job.s = s;
	job.v = &v;
	job.prom = prom;
	job.held_start = held_start;
	if (!quick && !walk) {
		/* a walk costs about the arenas' bytes at the read floor (a
		 * few GiB/s); a heap that would take more than 5% of the
		 * interval at 1 GiB/s gets glibc's totals instead (a
		 * process whose RSS is below that has no such heap) */
		double most = 0.05 * interval * (double)(1ULL << 30);
		if ((double)read_rss(s->t->pid) > most)
			mi = quick_info(s, &qmi, &have_mi);
		if (mi && mi->allocator == ALLOC_GLIBC) {
			uint64_t bytes = arenas_system_mem(s->t, mi);
			if ((double)bytes > most) {
				warn_msg("monitor: a walk of a heap this size (%s in the arenas) would hold the process "
					 "more than 5%% of the interval; the samples are glibc's totals from the free "
					 "lists (as --quick; no chunk counts; --walk walks every time)",
					 fmt_bytes(bytes, b1));
				quick = true;
			}
		}
		hd_clear_error();
	}
	q = quick ? &qs : NULL;
	if (quick)
		mi = quick_info(s, &qmi, &have_mi);
	em_text(s->em, "Monitoring process %d every %g s%s%s (Ctrl-C ends):\n", (int)s->t->pid, interval,
		count ? "" : " until it exits", quick ? ", totals from the free lists (mallinfo2's)" : "");
	if (q && mi && mi->allocator == ALLOC_GLIBC) {
		/* the first sample's lists followed while the process runs */
		struct run_result res;
		rc = run_with_hint(s, &job, mi, hd_now_ns() + (uint64_t)(MAX(interval * 0.9, 2.0) * 1e9), 0, interval,
				   true, &res);
		session_target_ran(s);
		if (res.end == RUN_EXITED || res.end == RUN_GONE)
			s->end_seen = true;
		if (rc < 0 || res.end == RUN_GONE) {
			reason = rc < 0 ? "error" : "gone";
		} else if (res.end == RUN_TERMINATE) {
			reason = "terminated";
			s->quit = true;
		} else if (res.end == RUN_INTERRUPTED || res.end == RUN_EXITED) {
			first_end = res.end;	/* the sample is still taken */
		}
		if (job.done)
			lead_ns = job.took;
	}
	if (strcmp(reason, "done")) {
		/* no sample */
	} else if (!take(s, (hd_now_ns() - t0) / 1e9, &x, &warned, &h, q, mi, job.hint,
			 quick_deadline(interval, exact, live_held_ns(s->t) - held_before))) {
		reason = "interrupted";
	} else {
		x.stopped = (live_held_ns(s->t) - held_before) / 1e9;
		sample_due(&job, &x, h, q, held_before);
		if (!quick && !walk && x.have_heap && x.stopped > 0.05 * interval) {
			/* a walk holds the process too long for this interval:
			 * the totals of glibc's own counters and free lists,
			 * read mostly while the process runs, from now on */
			mi = quick_info(s, &qmi, &have_mi);
			if (mi && mi->allocator == ALLOC_GLIBC) {
				warn_msg("monitor: a walk holds the process %.0f ms, %.0f%% of the interval; the samples "
					 "from now on are glibc's totals from the free lists (as --quick; no chunk "
					 "counts; --walk walks every time)", x.stopped * 1e3, 100 * x.stopped / interval);
				switched = true;
				q = &qs;
			}
		}
		if (first_end == RUN_INTERRUPTED)
			reason = "interrupted";
		else if (first_end == RUN_EXITED)
			reason = "exited";
	}
	for (uint64_t i = 0; !strcmp(reason, "done") && (!count || i < count); i++) {
		struct run_result res;

		if (sig_interrupted()) {
			reason = "interrupted";
			break;
		}
		/* samples at their times: t0 + k * interval */
		rc = run_with_hint(s, &job, q ? mi : NULL, t0 + (uint64_t)((double)(i + 1) * interval * 1e9), lead_ns,
				   interval, false, &res);
		held_before = job.held_mark;
		if (job.done)
			lead_ns = job.took;
		else if (job.began)
			lead_ns += hd_now_ns() - job.began;	/* not done in time: start earlier */
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
		if (!take(s, (hd_now_ns() - t0) / 1e9, &x, &warned, &h, q, mi, job.began ? job.hint : NULL,
			  quick_deadline(interval, exact, live_held_ns(s->t) - held_before))) {
			reason = "interrupted";
			break;
		}
		x.stopped = (live_held_ns(s->t) - held_before) / 1e9;
		sample_due(&job, &x, h, q, held_before);
		if (!q && !walk && x.stopped > 0.05 * interval)
			warn_msg("monitor: each walk holds the process %.0f ms, %.0f%% of the interval; --quick takes "
				 "glibc's totals from the free lists alone", x.stopped * 1e3, 100 * x.stopped / interval);
		if (res.end == RUN_INTERRUPTED)
			reason = "interrupted";
		else if (res.end == RUN_EXITED)
			reason = "exited";
	}
	report_due(&job);	/* the last one, with the process held */
	arenas_hint_free(job.hint);
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
	em_str(s->em, "source", quick ? "free-lists" : switched ? "walk, then free-lists" : "walk");
	{
		size_t napprox = 0;
		for (size_t i = 0; i < v.n; i++)
			napprox += v.v[i].approximate;
		if (q)
			em_uint(s->em, "approximate_samples", napprox);
		if (napprox)
			em_text(s->em, "%zu of %zu samples approximate: their free lists could not all be read again "
				"within 3%% of the interval with the process stopped (--exact holds it as long as "
				"that takes)\n", napprox, v.n);
	}
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
		/* growth over the samples of one source (the last's): a walk
		 * and glibc's totals count bytes in use differently */
		const struct sample *l = &v.v[v.n - 1], *f = &v.v[0], *hf;
		size_t k = 0;
		while (k < v.n && v.v[k].quick != l->quick)
			k++;
		hf = &v.v[k];
		em_obj_open(s->em, "growth");
		em_double(s->em, "seconds", l->t - f->t);
		em_int(s->em, "rss", (int64_t)(l->rss - f->rss));
		if (hf->have_heap && l->have_heap) {
			em_int(s->em, "in_use_bytes", (int64_t)(l->in_use.bytes - hf->in_use.bytes));
			if (!l->quick)
				em_int(s->em, "in_use_chunks", (int64_t)(l->in_use.chunks - hf->in_use.chunks));
			if (hf != f)
				em_double(s->em, "in_use_seconds", l->t - hf->t);
		}
		em_obj_close(s->em);
		em_text(s->em, "\n%zu sample%s over %.1f s (%s): rss %s", v.n, v.n == 1 ? "" : "s", l->t - f->t, reason,
			signed_bytes((int64_t)(l->rss - f->rss), b1));
		if (hf->have_heap && l->have_heap && l->quick)
			em_text(s->em, ", heap in use %s", signed_bytes((int64_t)(l->in_use.bytes - hf->in_use.bytes), b2));
		else if (hf->have_heap && l->have_heap)
			em_text(s->em, ", heap in use %s (%+" PRId64 " chunks)",
				signed_bytes((int64_t)(l->in_use.bytes - hf->in_use.bytes), b2),
				(int64_t)(l->in_use.chunks - hf->in_use.chunks));
		if (l->t > hf->t && hf->have_heap && l->have_heap)
			em_text(s->em, ", %s/s", signed_bytes((int64_t)((double)(int64_t)(l->in_use.bytes -
				hf->in_use.bytes) / (l->t - hf->t)), b1));
		if (hf != f)
			em_text(s->em, " (since sample %zu)", k);
		em_text(s->em, "\n");
		if (hf->have_heap && l->have_heap)
			plot(s, "Heap in use", hf, v.n - k, true);
		plot(s, "RSS", v.v, v.n, false);
	}
	{
		double total = (live_held_ns(s->t) - held_start) / 1e9, wall = (hd_now_ns() - t0) / 1e9;
		em_double(s->em, "stopped_seconds", total);
		em_double(s->em, "stopped_share", wall > 0 ? total / wall : 0);
		em_text(s->em, "process held stopped %.1f ms in all, %.1f%% of %.1f s\n", total * 1e3,
			wall > 0 ? 100 * total / wall : 0.0, wall);
	}
	vec_free(&v);
	arenas_stat_free(&qs);
	return 0;
}

static const char *const monitor_opts[] = { "--prometheus", "--quick", "--walk", "--exact", NULL };

const struct cmd_entry cmd_monitor_entry = {
	.name = "monitor",
	.usage = "monitor INTERVAL [COUNT] [--quick|--walk] [--exact] [--prometheus=FILE]",
	.summary = "sample RSS and heap totals every INTERVAL seconds while the process runs",
	.help = "Samples the process (RSS, and from a heap walk: bytes and chunks in\n"
		"use, free, system memory) every INTERVAL seconds, COUNT times (or\n"
		"until it exits, or Ctrl-C); the target is stopped only for each\n"
		"sample.  Prints a growth line per sample and, at the end, a plot of\n"
		"each series and the time the process was held.  A walk that would\n"
		"hold the process more than 5% of the interval (judged from the\n"
		"arenas' bytes, or the first walk's hold) gives way to --quick's\n"
		"totals; --walk walks every time.\n"
		"--quick takes glibc's own totals (mallinfo2's, to the byte) from each\n"
		"arena's counters and free lists instead of a walk; no chunk counts,\n"
		"and tcache'd chunks count as in use, as for glibc.  The lists are\n"
		"followed while the process runs; the stop reads their nodes again in\n"
		"batches for at most 3% of the interval (10 ms at least).  Nodes it\n"
		"could not read again in time are taken as read while the process ran\n"
		"and the sample says it is approximate; --exact reads them all again,\n"
		"however long the stop.\n"
		"--prometheus=FILE rewrites FILE after each sample, atomically (a\n"
		"temporary file renamed over it), in Prometheus' text format, for\n"
		"node_exporter's textfile collector: per arena heapdbg_heap_in_use_bytes,\n"
		"_free_bytes, _top_bytes, _system_bytes, _chunks{state}; mmapped bytes\n"
		"and chunks, heapdbg_process_resident_bytes, heapdbg_stopped_seconds_total.\n"
		"JSON: one line per sample: sample (0, 1, ...), t, rss, system_mem,\n"
		"in_use {chunks, bytes}, mmapped {chunks, bytes}, free {bytes}, source,\n"
		"stopped_seconds (quick: approximate, lists {hinted, confirmed, changed,\n"
		"unconfirmed, rounds, cut}); then the summary: interval, count, source,\n"
		"reason (done, interrupted, exited, gone, terminated), samples, pid,\n"
		"series (every sample again), growth {seconds, rss, in_use_bytes,\n"
		"in_use_chunks}, stopped_seconds (in all), stopped_share.",
	.options = monitor_opts,
	.flags = CMD_NEEDS_LIVE,
	.exec = monitor_exec,
};
