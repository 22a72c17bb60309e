/*
 * cmd-detach.c - `detach`: let go of a live process (left exactly as it
 * was found: running, or stopped if it was a stopped job), or close a core.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"

static int
detach_exec(struct session *s, int argc, char **argv)
{
	pid_t pid = s->t->pid;
	bool live = s->t->kind == TARGET_LIVE;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_detach_entry.usage);
	if (live && live_detach(s->t) < 0)
		return -1;
	session_drop_target(s);
	em_str(s->em, "detached", live ? "process" : "core");
	em_int(s->em, "pid", pid);
	if (live)
		em_text(s->em, "Detached from process %d; it runs on as before (`attach PID` or `core FILE` "
			"for another target).\n", (int)pid);
	else
		em_text(s->em, "Closed the core file of process %d.\n", (int)pid);
	return 0;
}

const struct cmd_entry cmd_detach_entry = {
	.name = "detach",
	.usage = "detach",
	.summary = "let go of the process (it runs on as before) or close the core",
	.help = "Restores every byte heapdbg changed, resumes every thread and\n"
		"detaches: a process that was running runs, a stopped job stays\n"
		"stopped.  A process held at its exit finishes exiting.",
	.flags = CMD_NEEDS_TARGET | CMD_NO_REPEAT,
	.exec = detach_exec,
};
