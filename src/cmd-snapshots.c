/*
 * cmd-snapshots.c - `snapshots`: list the session's snapshots, taken here
 * or loaded from files, with where they came from.
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <time.h>

static const char *
when(double t, char buf[32])
{
	time_t tt = t > 0 && t < 1e12 ? (time_t)t : 0;
	struct tm tm;

	if (tt <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, 32, "?");
	return buf;
}

static int
snapshots_exec(struct session *s, int argc, char **argv)
{
	struct snapset *ss = session_snapshots(s);
	char b[32], w[32], of[512];

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_snapshots_entry.usage);
	if (!ss->v.n)
		em_text(s->em, "No snapshots (take one with `snapshot`, or `load` a file).\n");
	else
		em_text(s->em, "%-12s %-19s %9s %12s %7s  %s\n", "Name", "Taken", "Chunks", "Bytes", "Traced",
			"Of");
	em_list_open(s->em, "snapshots");
	for (size_t i = 0; i < ss->v.n; i++) {
		const struct snapshot *sn = ss->v.v[i];
		em_item_open(s->em);
		em_str(s->em, "name", sn->name);
		em_double(s->em, "time", sn->time);
		em_uint(s->em, "chunks", sn->nchunks);
		em_uint(s->em, "bytes", sn->bytes);
		em_uint(s->em, "traced", sn->traces.n);
		em_uint(s->em, "stacks", sn->stacks.n);
		em_uint(s->em, "sample_rate", sn->sample_rate);
		cmd_emit_origin(s->em, sn);
		if (sn->file)
			em_str(s->em, "file", sn->file);
		em_item_close(s->em);
		em_text(s->em, "%-12s %-19s %9zu %12s %7zu  %s%s%s\n", sn->name, when(sn->time, w),
			sn->nchunks, fmt_bytes(sn->bytes, b), sn->traces.n, snapshot_describe(sn, of, sizeof(of)),
			sn->file ? ", loaded from " : "", sn->file ? sn->file : "");
	}
	em_list_close(s->em);
	em_uint(s->em, "count", ss->v.n);
	return 0;
}

const struct cmd_entry cmd_snapshots_entry = {
	.name = "snapshots",
	.usage = "snapshots",
	.summary = "list the snapshots taken or loaded",
	.help = "Lists every snapshot of this session: its name, when it was taken,\n"
		"its chunks and bytes in use, how many chunks were traced, and the\n"
		"process it was taken of (and the file it was loaded from).\n"
		"JSON: snapshots: [{name, time, chunks, bytes, traced, stacks,\n"
		"sample_rate (0: not sampled), target,\n"
		"pid, exe, file}], count.",
	.exec = snapshots_exec,
};
