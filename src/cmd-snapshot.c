/*
 * cmd-snapshot.c - `snapshot [NAME]`: record the live chunks of the heap
 * as it is now (address, size, state, arena, and for traced chunks the
 * allocation's stack, requested size, number and time) under a name, for
 * `diff`, `save` and `export`.  The target is stopped only for the walk;
 * the snapshot is data and outlives it.
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdlib.h>

static int
snapshot_exec(struct session *s, int argc, char **argv)
{
	struct snapset *ss;
	struct snapshot *sn;
	uint64_t t0 = hd_now_ns();
	bool replaced;
	char b[32];

	if (argc > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_snapshot_entry.usage);
	if (argc == 2 && snapshot_check_name(argv[1]) < 0)
		return -1;
	sn = snapshot_take(s, NULL);
	if (!sn)
		return -1;
	ss = session_snapshots(s);
	sn->name = argc == 2 ? xstrdup(argv[1]) : snapset_auto_name(ss);
	replaced = snapset_put(ss, sn);
	em_fmt(s->em, "Snapshot {name:%s}: ", sn->name);
	em_fmt(s->em, "{chunks:%zu} chunk%s in use, ", sn->nchunks, plural(sn->nchunks));
	em_fmt(s->em, "{bytes:%" PRIu64 "} bytes", sn->bytes);
	em_text(s->em, " (%s)", fmt_bytes(sn->bytes, b));
	em_fmt(s->em, "; {traced:%zu} traced", sn->traces.n);
	em_fmt(s->em, ", {stacks:%zu} stack%s", sn->stacks.n, plural(sn->stacks.n));
	em_uint(s->em, "sample_rate", sn->sample_rate);
	if (sn->sample_rate)
		em_text(s->em, " (sampled: about one allocation per %" PRIu64 " bytes)", sn->sample_rate);
	em_fmt(s->em, "; took {seconds:%.3f} s", (hd_now_ns() - t0) / 1e9);
	em_double(s->em, "time", sn->time);
	em_bool(s->em, "replaced", replaced);
	if (replaced)
		em_text(s->em, " (replaces the earlier snapshot of that name)");
	em_text(s->em, "\n");
	return 0;
}

const struct cmd_entry cmd_snapshot_entry = {
	.name = "snapshot",
	.usage = "snapshot [NAME]",
	.summary = "record the live chunks (and their allocation stacks where traced)",
	.help = "Walks the heap and records every chunk in use (used and mmapped): its\n"
		"address, size, state and arena, and for chunks the tracer saw, the\n"
		"allocation's requested size, sequence number, time and stack, resolved\n"
		"to module+offset, function, file and line.  No heap contents are kept.\n"
		"Without NAME the snapshot is called s1, s2, ...; a NAME already in use\n"
		"is replaced.  Snapshots are data: they survive `detach` and the target\n"
		"running, and `diff`, `save` and `export` use them.\n"
		"JSON: name, chunks, bytes (sum of chunk sizes), traced, stacks,\n"
		"seconds, time, replaced, sample_rate (trace start --sample BYTES the\n"
		"stacks were recorded under; 0: not sampled).",
	.flags = CMD_NEEDS_TARGET | CMD_NO_REPEAT,
	.exec = snapshot_exec,
};
