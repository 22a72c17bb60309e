/*
 * cmd-load.c - `load FILE [NAME]`: read a snapshot saved by `save` (this
 * run or another, of this process or another, or with no target at all)
 * into the session, to `diff` or `export` it.
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
load_exec(struct session *s, int argc, char **argv)
{
	struct snapset *ss = session_snapshots(s);
	struct snapshot *sn;
	char *stored = NULL, b[32], of[512], w[32];
	bool replaced;

	if (argc < 2 || argc > 3)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_load_entry.usage);
	if (argc == 3 && snapshot_check_name(argv[2]) < 0)
		return -1;
	sn = snapshot_load(argv[1]);
	if (!sn)
		return -1;
	stored = sn->name;
	if (argc == 3)
		sn->name = xstrdup(argv[2]);
	else if (stored && snapshot_check_name(stored) == 0 && !snapset_find(ss, stored))
		sn->name = xstrdup(stored);
	else
		sn->name = snapset_auto_name(ss);
	hd_clear_error();
	replaced = snapset_put(ss, sn);
	em_fmt(s->em, "Loaded snapshot {name:%s}", sn->name);
	if (stored && strcmp(stored, sn->name))
		em_fmt(s->em, " (saved as {saved_name:%s})", stored);
	em_fmt(s->em, " from {file:%s}: ", argv[1]);
	em_fmt(s->em, "{chunks:%zu} chunk%s, ", sn->nchunks, plural(sn->nchunks));
	em_fmt(s->em, "{bytes:%" PRIu64 "} bytes", sn->bytes);
	em_text(s->em, " (%s)", fmt_bytes(sn->bytes, b));
	em_fmt(s->em, ", {traced:%zu} traced", sn->traces.n);
	em_fmt(s->em, ", {stacks:%zu} stack%s", sn->stacks.n, plural(sn->stacks.n));
	em_uint(s->em, "sample_rate", sn->sample_rate);
	if (sn->sample_rate)
		em_text(s->em, " (sampled: about one allocation per %" PRIu64 " bytes)", sn->sample_rate);
	em_double(s->em, "time", sn->time);
	{
		time_t tt = sn->time > 0 && sn->time < 1e12 ? (time_t)sn->time : 0;
		struct tm tm;
		if (tt > 0 && localtime_r(&tt, &tm) && strftime(w, sizeof(w), "%Y-%m-%d %H:%M:%S", &tm))
			em_text(s->em, "; taken %s", w);
	}
	em_text(s->em, " of %s", snapshot_describe(sn, of, sizeof(of)));
	cmd_emit_origin(s->em, sn);
	if (sn->glibc)
		em_str(s->em, "glibc", sn->glibc);
	if (sn->version)
		em_str(s->em, "heapdbg_version", sn->version);
	em_bool(s->em, "replaced", replaced);
	if (replaced)
		em_text(s->em, " (replaces the earlier snapshot of that name)");
	em_text(s->em, "\n");
	free(stored);
	return 0;
}

const struct cmd_entry cmd_load_entry = {
	.name = "load",
	.usage = "load FILE [NAME]",
	.summary = "read a snapshot saved by `save`",
	.help = "Reads a snapshot file written by `save` (by this or another heapdbg\n"
		"run) and adds it to the session under NAME, or under the name it was\n"
		"saved with when that is free, else under the next free sN.  Needs no\n"
		"target: heapdbg started without -p/-c can load two files and diff\n"
		"them.  A truncated, corrupted or foreign file is an error that says so.\n"
		"JSON: name, saved_name (when renamed), file, chunks, bytes, traced,\n"
		"stacks, sample_rate (0: not sampled), time, target, pid, exe, glibc,\n"
		"heapdbg_version, replaced.",
	.flags = CMD_NO_REPEAT,
	.complete = "f",
	.exec = load_exec,
};
