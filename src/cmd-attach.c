/*
 * cmd-attach.c - `attach PID` and `core FILE [EXE]` inside the shell, as
 * gdb has them: a session goes on after its target died or was
 * detached, with its snapshots, to look at another process or a core of
 * the one that died.  A live process heapdbg still holds must be let go
 * (detach or kill) first.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"

#include <stdlib.h>

static int
free_for_target(struct session *s)
{
	if (s->t && s->t->kind == TARGET_LIVE && !live_gone(s->t))
		return hd_fail(HD_EUSAGE, "already debugging process %d: detach or kill it first", (int)s->t->pid);
	return 0;
}

static void
describe(struct session *s, const char *what, const char *file)
{
	struct target *t = s->t;
	char *vexe = t->exe ? str_visible(t->exe) : NULL;

	em_str(s->em, "target", target_kind_name(t->kind));
	em_int(s->em, "pid", t->pid);
	em_str(s->em, "exe", t->exe);
	em_uint(s->em, "threads", t->nthreads);
	if (file) {
		em_str(s->em, "file", file);
		em_text(s->em, "%s %s of process %d", what, file, (int)t->pid);
	} else {
		em_text(s->em, "%s process %d", what, (int)t->pid);
	}
	em_text(s->em, " (%s), %zu thread%s%s\n", vexe ? vexe : t->exe ? t->exe : "?", t->nthreads, t->nthreads == 1 ? "" : "s",
		t->kind == TARGET_LIVE ? ", stopped" : "");
	free(vexe);
}

static int
attach_exec(struct session *s, int argc, char **argv)
{
	uint64_t pid;

	if (argc != 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_attach_entry.usage);
	if (parse_u64(argv[1], &pid, false) < 0 || pid == 0 || pid > 0x7fffffff)
		return hd_fail(HD_EUSAGE, "attach: '%s' is not a process id", argv[1]);
	if (free_for_target(s) < 0)
		return -1;
	if (session_attach_prepared(s, (pid_t)pid) < 0)
		return -1;
	describe(s, "Attached to", NULL);
	return 0;
}

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.usage = "attach PID",
	.summary = "attach to a running process (after the last target is gone or let go)",
	.help = "Attaches to process PID as -p PID does (symbols and libc's debug\n"
		"info loaded while it runs) and stops it; the session's\n"
		"snapshots stay, so a new process can be compared with an earlier one.\n"
		"A live process heapdbg still holds must be detached or killed first.\n"
		"JSON: target, pid, exe, threads.",
	.flags = CMD_NO_REPEAT,
	.exec = attach_exec,
};

static int
core_exec(struct session *s, int argc, char **argv)
{
	struct target *t;

	if (argc < 2 || argc > 3)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_core_entry.usage);
	if (free_for_target(s) < 0)
		return -1;
	t = target_open_core(argv[1], argc == 3 ? argv[2] : NULL);
	if (!t)
		return -1;
	session_set_target(s, t);
	describe(s, "Core file", argv[1]);
	em_list_open(s->em, "warnings");
	for (size_t i = 0; target_core_warning(t, i); i++) {
		warn_msg("%s", target_core_warning(t, i));
		em_str(s->em, NULL, target_core_warning(t, i));
	}
	em_list_close(s->em);
	return 0;
}

const struct cmd_entry cmd_core_entry = {
	.name = "core",
	.alias = "core-file",
	.usage = "core FILE [EXE]",
	.summary = "open a core file (after the last target is gone or let go)",
	.help = "Opens core file FILE as -c FILE [EXE] does; EXE is the executable when\n"
		"the one the core names moved (heapdbg warns when build ids differ).\n"
		"The session's snapshots stay: diff the heap of a crashed process's\n"
		"core with a snapshot taken while it ran.\n"
		"JSON: target, pid, exe, threads, file, warnings.",
	.complete = "ff",
	.flags = CMD_NO_REPEAT,
	.exec = core_exec,
};
