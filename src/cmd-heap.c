/*
 * cmd-heap.c - `heap`: the per-arena summary of a full heap walk, totals
 * that reconcile with glibc's own mallinfo2(), and a size histogram of
 * the chunks in use.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"

#include <inttypes.h>
#include <string.h>

static void
count_line(struct emitter *em, const char *label, const struct hcount *c)
{
	char b[32];
	em_text(em, "  %-10s %9" PRIu64 " chunks %12s\n", label, c->chunks, fmt_bytes(c->bytes, b));
}

static void
add(struct hcount *a, const struct hcount *b)
{
	a->chunks += b->chunks;
	a->bytes += b->bytes;
}

/* Histogram buckets: powers of two of the chunk size. */
static void
histogram(struct session *s, const struct heap *h, bool by_bytes)
{
	uint64_t cnt[64] = { 0 }, bytes[64] = { 0 }, max = 0;
	int lo = 64, hi = -1;

	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hchunk *c = &h->chunks[i];
		int b;
		if (c->state != CS_USED && c->state != CS_MMAPPED)
			continue;
		b = 63 - __builtin_clzll(c->size | 1);
		cnt[b]++;
		bytes[b] += c->size;
		lo = MIN(lo, b);
		hi = MAX(hi, b);
	}
	for (int b = lo; b <= hi; b++)
		max = MAX(max, by_bytes ? bytes[b] : cnt[b]);
	em_text(s->em, "\nChunks in use by size (bars: %s):\n", by_bytes ? "bytes" : "count");
	em_str(s->em, "by", by_bytes ? "bytes" : "count");
	em_list_open(s->em, "histogram");
	for (int b = lo; b <= hi; b++) {
		char r[40], bb[32];
		uint64_t v = by_bytes ? bytes[b] : cnt[b];
		int bar = max ? (int)(((unsigned __int128)v * 40 + max - 1) / max) : 0;
		if (!cnt[b])
			continue;
		em_item_open(s->em);
		em_uint(s->em, "min", 1ULL << b);
		em_uint(s->em, "max", (2ULL << b) - 1);
		em_uint(s->em, "chunks", cnt[b]);
		em_uint(s->em, "bytes", bytes[b]);
		em_item_close(s->em);
		snprintf(r, sizeof(r), "%s", fmt_bytes(1ULL << b, bb));
		em_text(s->em, "  >= %-10s %9" PRIu64 " %-40.*s %s\n", r, cnt[b], bar,
			"########################################", fmt_bytes(bytes[b], bb));
	}
	em_list_close(s->em);
}

static void
emit_findings_summary(struct session *s, const struct heap *h)
{
	em_uint(s->em, "errors", h->errors);
	em_uint(s->em, "warnings", h->warnings);
	if (h->errors || h->warnings)
		em_text(s->em, "\n%u integrity error%s, %u warning%s: see `check`\n", h->errors,
			h->errors == 1 ? "" : "s", h->warnings, h->warnings == 1 ? "" : "s");
	if (h->errors)
		s->found_problem = true;
}

/* What locating malloc's state found missing or unusual (info's notes):
 * a walk that lacks a thread's tcache says so where its totals are. */
static void
emit_notes(struct session *s, const struct heap *h)
{
	em_list_open(s->em, "notes");
	for (size_t i = 0; i < h->mi->notes.n; i++) {
		em_str(s->em, NULL, h->mi->notes.v[i]);
		em_text(s->em, "%snote: %s\n", i ? "" : "\n", h->mi->notes.v[i]);
	}
	em_list_close(s->em);
}

static int
heap_exec(struct session *s, int argc, char **argv)
{
	struct heap *h;
	struct hcount used = { 0 }, tc = { 0 }, fast = { 0 }, bins = { 0 }, top = { 0 };
	uint64_t sysmem = 0;
	char b1[32], b2[32], b3[32], b4[32];
	const char *by = "count";
	int npos;
	const struct opt_spec opts[] = {
		{ "--by", OPT_STR, &by, NULL },
		{ NULL, 0, NULL, NULL },
	};

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos > 0)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_heap_entry.usage);
	if (strcmp(by, "count") && strcmp(by, "bytes"))
		return hd_fail(HD_EUSAGE, "heap --by: '%s' is not count or bytes", by);
	h = session_glibc_heap_nocopy(s);
	if (!h)
		return -1;
	em_fmt(s->em, "glibc {glibc:%s} ptmalloc", h->mi->version);
	em_str(s->em, "allocator", allocator_name(h->mi->allocator));
	em_bool(s->em, "initialised", h->initialised);
	if (!h->initialised) {
		em_text(s->em, ": malloc not initialised yet (the program has not called malloc)\n");
		em_list_open(s->em, "arenas");
		em_list_close(s->em);
		return 0;
	}
	em_fmt(s->em, ", {narenas:%zu} arena%s, ", h->arenas.n, h->arenas.n == 1 ? "" : "s");
	em_fmt(s->em, "{nchunks:%zu} chunk%s", h->nchunks, plural(h->nchunks));
	em_fmt(s->em, " (walk {walk_seconds:%.3f} s", h->seconds);
	em_fmt(s->em, ", {bytes_read:%" PRIu64 "} bytes %s)\n", h->bytes_read, h->copies ? "copied" : "read");

	em_list_open(s->em, "arenas");
	for (size_t i = 0; i < h->arenas.n; i++) {
		const struct harena *a = &h->arenas.v[i];
		struct hcount t = { a->top ? 1 : 0, a->top_size };
		em_item_open(s->em);
		em_fmt(s->em, "\nArena {addr:%A}", a->addr);
		em_bool(s->em, "main", a->main);
		em_fmt(s->em, "%s: system_mem {system_mem:%" PRIu64 "} (%s), ", a->main ? " (main)" : "",
		       a->system_mem, fmt_bytes(a->system_mem, b1));
		em_fmt(s->em, "{heaps:%zu} heap%s", a->heaps.n, a->heaps.n == 1 ? "" : "s");
		if (a->mutex)
			em_text(s->em, ", LOCKED");
		em_bool(s->em, "locked", a->mutex != 0);
		em_uint(s->em, "attached_threads", a->attached_threads);
		if (a->main) {
			em_bool(s->em, "contiguous", a->contiguous);
			if (!a->contiguous)
				em_text(s->em, ", non-contiguous");
		}
		em_text(s->em, "\n");
		em_uint(s->em, "fenceposts", a->fenceposts);
		em_uint(s->em, "foreign", a->foreign);
		em_uint(s->em, "unreadable", a->unreadable);
		if (a->foreign)
			em_text(s->em, "  (glibc's fenceposts %" PRIu64 "x; %s between them and the heap's next "
				"chunk are the program's own sbrk() memory)\n", a->fenceposts, fmt_bytes(a->foreign, b1));
		if (a->unreadable)
			em_text(s->em, "  (%s of its heap cannot be read: mprotect()ed, or not in the core)\n",
				fmt_bytes(a->unreadable, b1));
		em_obj_open(s->em, "top");
		em_addr(s->em, "chunk", a->top);
		em_uint(s->em, "size", a->top_size);
		em_obj_close(s->em);
		cmd_emit_count(s->em, "used", &a->used);
		cmd_emit_count(s->em, "tcache", &a->tcache);
		cmd_emit_count(s->em, "fastbins", &a->fastbins);
		cmd_emit_count(s->em, "bins", &a->bins);
		cmd_emit_count(s->em, "unsorted", &a->unsorted);
		cmd_emit_count(s->em, "smallbins", &a->smallbins);
		cmd_emit_count(s->em, "largebins", &a->largebins);
		em_list_open(s->em, "heap_list");
		for (size_t k = 0; k < a->heaps.n; k++) {
			em_item_open(s->em);
			em_addr(s->em, "info", a->heaps.v[k].info);
			em_addr(s->em, "start", a->heaps.v[k].start);
			em_addr(s->em, "end", a->heaps.v[k].end);
			em_uint(s->em, "size", a->heaps.v[k].size);
			em_item_close(s->em);
		}
		em_list_close(s->em);
		em_item_close(s->em);
		count_line(s->em, "in use", &a->used);
		count_line(s->em, "tcache", &a->tcache);
		count_line(s->em, "fastbins", &a->fastbins);
		em_text(s->em, "  %-10s %9" PRIu64 " chunks %12s  (unsorted %" PRIu64 ", small %" PRIu64
			", large %" PRIu64 ")\n", "bins", a->bins.chunks, fmt_bytes(a->bins.bytes, b1),
			a->unsorted.chunks, a->smallbins.chunks, a->largebins.chunks);
		em_text(s->em, "  %-10s %16s %12s  at 0x%" PRIx64 "\n", "top", "", fmt_bytes(a->top_size, b2), a->top);
		add(&used, &a->used);
		add(&tc, &a->tcache);
		add(&fast, &a->fastbins);
		add(&bins, &a->bins);
		add(&top, &t);
		sysmem += a->system_mem;
	}
	em_list_close(s->em);
	cmd_emit_count(s->em, "mmapped", &h->mmapped);
	em_text(s->em, "\nmmapped    %9" PRIu64 " chunks %12s", h->mmapped.chunks, fmt_bytes(h->mmapped.bytes, b1));
	if (h->mmapped_checked && (h->mmapped.chunks != h->mmapped_expected_chunks ||
				   h->mmapped.bytes != h->mmapped_expected_bytes))
		em_text(s->em, "  (glibc counts %" PRIu64 ")", h->mmapped_expected_chunks);
	em_text(s->em, "\n");

	em_obj_open(s->em, "totals");
	em_uint(s->em, "system_mem", sysmem);
	cmd_emit_count(s->em, "used", &used);
	cmd_emit_count(s->em, "tcache", &tc);
	cmd_emit_count(s->em, "fastbins", &fast);
	cmd_emit_count(s->em, "bins", &bins);
	cmd_emit_count(s->em, "mmapped", &h->mmapped);
	cmd_emit_count(s->em, "top", &top);
	em_obj_close(s->em);
	/* one buffer per size: all four are formatted before the line is */
	em_text(s->em, "\nTotals: system_mem %s; in use %" PRIu64 " chunks (%s); free %" PRIu64
		" chunks (%s) + top %s\n", fmt_bytes(sysmem, b1), used.chunks + h->mmapped.chunks,
		fmt_bytes(used.bytes + h->mmapped.bytes, b2), tc.chunks + fast.chunks + bins.chunks,
		fmt_bytes(tc.bytes + fast.bytes + bins.bytes, b3), fmt_bytes(top.bytes, b4));
	histogram(s, h, !strcmp(by, "bytes"));
	emit_findings_summary(s, h);
	emit_notes(s, h);
	return 0;
}

static const char *const heap_opts[] = { "--by", NULL };

const struct cmd_entry cmd_heap_entry = {
	.name = "heap",
	.usage = "heap [--by count|bytes]",
	.summary = "walk the whole heap: per-arena summary, totals, size histogram",
	.help = "Walks every arena, every heap, every chunk and every free list, and\n"
		"prints per arena: system memory, chunks in use, in the tcache, in\n"
		"fastbins and in bins (unsorted, small, large), and top; then mmapped\n"
		"chunks, totals, and a histogram of chunk sizes in use.  The totals\n"
		"reconcile with glibc's mallinfo2(): see\n"
		HEAPDBG_DOCDIR "/heap-model.md.\n"
		"Integrity problems met on the way are counted; `check` lists them.\n"
		"--by bytes scales the histogram's bars by the bytes of each size\n"
		"class instead of its chunk count (a few big chunks show).",
	.options = heap_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = heap_exec,
};
