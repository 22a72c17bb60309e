/*
 * cmd-export.c - `export pprof|folded FILE [SNAPSHOT]`: the heap now, or
 * a snapshot, for the tools people already have: a gzip'd pprof profile
 * (inuse_objects, inuse_space by allocation stack: flame graphs, -base
 * diffs, the web UI) or FlameGraph's folded stacks.  Untraced chunks get
 * one synthetic frame per size class.
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <string.h>

static int
export_exec(struct session *s, int argc, char **argv)
{
	struct snapshot *now = NULL;
	const struct snapshot *sn;
	struct export_stats st;
	bool pprof;
	int rc;

	if (argc < 3 || argc > 4)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_export_entry.usage);
	if (!strcmp(argv[1], "pprof"))
		pprof = true;
	else if (!strcmp(argv[1], "folded"))
		pprof = false;
	else
		return hd_fail(HD_EUSAGE, "unknown export format '%s' (pprof or folded)", argv[1]);
	if (argc == 4 && strcmp(argv[3], "now")) {
		sn = snapset_find(session_snapshots(s), argv[3]);
		if (!sn)
			return hd_fail(HD_ENOENT, "no snapshot named '%s' (see `snapshots`)", argv[3]);
	} else {
		if (!s->t)
			return hd_fail(HD_EUSAGE, "no target: name a snapshot to export");
		if (session_need_target(s, false) < 0)
			return -1;
		sn = now = snapshot_take(s, "now");
		if (!sn)
			return -1;
	}
	{
		struct export_opts o = { s->keep_alloc_frames };
		rc = pprof ? pprof_export(sn, argv[2], &st, &o) : folded_export(sn, argv[2], &st, &o);
	}
	if (rc == 0) {
		em_fmt(s->em, "Wrote {format:%s}", argv[1]);
		em_fmt(s->em, " {file:%s}", argv[2]);
		em_fmt(s->em, " of {snapshot:%s}:", sn->name);
		em_fmt(s->em, " {samples:%" PRIu64 "} %s", st.samples, pprof ? "samples" : "stacks");
		if (pprof) {
			em_fmt(s->em, ", {locations:%" PRIu64 "} locations", st.locations);
			em_fmt(s->em, ", {functions:%" PRIu64 "} functions", st.functions);
			em_bool(s->em, "compressed", st.compressed);
		}
		em_fmt(s->em, ", {file_bytes:%" PRIu64 "} bytes", st.bytes);
		em_fmt(s->em, "; {chunks:%zu} chunk%s", sn->nchunks, plural(sn->nchunks));
		em_fmt(s->em, ", {bytes:%" PRIu64 "} bytes in use", sn->bytes);
		em_bool(s->em, "traced", sn->traces.n != 0);
		if (!sn->traces.n && !sn->sample_rate)
			em_text(s->em, " (not traced: one frame per size class)");
		em_text(s->em, "\n");
		if (sn->sample_rate) {
			em_obj_open(s->em, "sampled");
			em_fmt(s->em, "Sampled: about one allocation per {rate:%" PRIu64 "} bytes; ", sn->sample_rate);
			em_fmt(s->em, "the profile's values are estimates from {samples:%" PRIu64 "} sampled chunk%s",
			       st.sampled_chunks, plural(st.sampled_chunks));
			em_fmt(s->em, " ({objects:%" PRIu64 "} objects", st.objects);
			em_fmt(s->em, ", {bytes:%" PRIu64 "} bytes; each sample weighs 1/(1-exp(-size/rate)), as "
			       "pprof's); the chunk and byte totals above are the heap walk's, exact\n", st.inuse_bytes);
			em_obj_close(s->em);
		}
		if (pprof)
			em_text(s->em, "View it with: go tool pprof -http=: %s   (or pprof -top %s)\n", argv[2], argv[2]);
	}
	snapshot_free(now);
	return rc;
}

static const char *const export_words[] = { "pprof", "folded", NULL };

const struct cmd_entry cmd_export_entry = {
	.name = "export",
	.usage = "export pprof|folded FILE [SNAPSHOT]",
	.summary = "write the heap (or a snapshot) as a pprof profile or folded stacks",
	.help = "pprof: a gzip'd profile.proto with two sample types, inuse_objects\n"
		"(count) and inuse_space (bytes, the default), by allocation stack, with\n"
		"functions, files, lines and modules already symbolized; `go tool pprof`\n"
		"(or pprof) reads it: -top, -http for flame graphs, -base for diffs.\n"
		"folded: one line per stack, `root;...;leaf BYTES`, for flamegraph.pl.\n"
		"Chunks that were not traced get one synthetic frame per size class\n"
		"(\"[208 B chunks]\").  Without SNAPSHOT the heap now is exported.\n"
		"Without zlib the profile is written uncompressed (pprof reads both).\n"
		"Stacks start at the allocator's caller (malloc's own frames left out,\n"
		"so bytes are flat in the function that asked for them) unless\n"
		"`set allocator-frames on`.\n"
		"A snapshot traced with `trace start --sample BYTES` is written as a\n"
		"Go/tcmalloc heap profile: only its sampled chunks, by stack, each\n"
		"weighed 1/(1-exp(-size/BYTES)) (inuse_space: chunk size times that),\n"
		"sums truncated as pprof does, period BYTES, a comment saying the values\n"
		"are estimates; unsampled chunks get no size-class frames (the weights\n"
		"stand for them).  folded: the same estimates.\n"
		"JSON: format, file, snapshot, samples, locations, functions,\n"
		"compressed, file_bytes, chunks, bytes (exact: the heap walk), traced,\n"
		"and when sampled: sampled {rate, samples, objects, bytes} (the\n"
		"profile's totals, estimates).",
	.words = export_words,
	.flags = CMD_NO_REPEAT,
	.complete = "wfs",
	.exec = export_exec,
};
