/*
 * cmd-kill.c - `kill`: kill the live process (SIGKILL), after asking
 * "Kill the program being debugged? (y or n)" as gdb does when stdin is
 * a terminal (never in batch mode or with commands from a pipe).
 */
#include "config.h"
#include "cmd.h"
#include "live.h"
#include "tracer.h"

static int
kill_exec(struct session *s, int argc, char **argv)
{
	int status;
	char b[64];
	pid_t pid = s->t->pid;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_kill_entry.usage);
	if (!session_confirm(s, "Kill the program being debugged? (y or n) ", false)) {
		em_fmt(s->em, "Not confirmed: process {pid:%d} ", (int)pid);
		em_text(s->em, "left as it was.\n");
		em_bool(s->em, "confirmed", false);
		return 0;
	}
	if (live_kill(s->t) < 0)
		return -1;
	em_fmt(s->em, "Process {pid:%d} ", (int)pid);
	if (live_exit_status(s->t, &status))
		em_fmt(s->em, "{status:%s}\n", wait_status_str(status, b));
	else
		em_fmt(s->em, "{status:%s}\n", "killed");
	/* the dead process stays the target, for `info` to describe; the
	 * tracer is put away (nothing left to restore) */
	s->end_seen = s->end_noted = true;
	if (s->tracer && tracer_active(s->tracer))
		tracer_stop(s->tracer);
	session_target_ran(s);
	return 0;
}

const struct cmd_entry cmd_kill_entry = {
	.name = "kill",
	.usage = "kill",
	.summary = "kill the process",
	.help = "Sends SIGKILL to the process and waits until it is gone.  On a\n"
		"terminal it asks first (y or n); in batch mode or with commands from\n"
		"a pipe it does not.  JSON: pid, status; confirmed false when the\n"
		"answer was no.",
	.flags = CMD_NEEDS_LIVE | CMD_NO_REPEAT,
	.exec = kill_exec,
};
