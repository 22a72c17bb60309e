/*
 * cmd-save.c - `save NAME FILE`: write a snapshot to a file (format in
 * docs/snapshot-format.md; mode 0600; no heap contents), to diff later
 * against a core of the same program or a snapshot of another run.
 * `save now FILE` saves the heap as it is now without keeping it.
 */
#include "config.h"
#include "cmd.h"
#include "snapshot.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static int
save_exec(struct session *s, int argc, char **argv)
{
	struct snapshot *now = NULL;
	const struct snapshot *sn;
	struct stat st;
	int rc;

	if (argc != 3)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_save_entry.usage);
	if (!strcmp(argv[1], "now")) {
		if (session_need_target(s, false) < 0)
			return -1;
		sn = now = snapshot_take(s, "now");
	} else {
		sn = snapset_find(session_snapshots(s), argv[1]);
		if (!sn)
			hd_fail(HD_ENOENT, "no snapshot named '%s' (see `snapshots`)", argv[1]);
	}
	if (!sn)
		return -1;
	rc = snapshot_save(sn, argv[2]);
	if (rc == 0) {
		em_fmt(s->em, "Saved snapshot {name:%s}", sn->name);
		em_fmt(s->em, " ({chunks:%zu} chunk%s", sn->nchunks, plural(sn->nchunks));
		em_fmt(s->em, ", {traced:%zu} traced)", sn->traces.n);
		em_fmt(s->em, " to {file:%s}", argv[2]);
		if (stat(argv[2], &st) == 0)
			em_fmt(s->em, " ({file_bytes:%" PRIu64 "} bytes)", (uint64_t)st.st_size);
		em_text(s->em, "\n");
	}
	snapshot_free(now);
	return rc;
}

const struct cmd_entry cmd_save_entry = {
	.name = "save",
	.usage = "save NAME FILE",
	.summary = "write snapshot NAME (or `now`) to FILE",
	.help = "Writes the snapshot to FILE in heapdbg's snapshot format: chunk\n"
		"addresses, sizes, states and arenas, and for traced chunks the\n"
		"allocation's size, number, time and stack (pcs, and module+offset,\n"
		"function, file and line per frame).  No heap contents are written.\n"
		"The format: " HEAPDBG_DOCDIR "/snapshot-format.md.\n"
		"FILE is created with mode 0600 and replaced whole.  `load` reads it\n"
		"into any heapdbg, with or without a target.\n"
		"NAME `now` saves the heap as it is now.\n"
		"JSON: name, chunks, traced, file, file_bytes.",
	.flags = CMD_NO_REPEAT,
	.complete = "sf",
	.exec = save_exec,
};
