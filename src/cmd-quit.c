/*
 * cmd-quit.c - `quit`: end the session.  A process heapdbg attached to is
 * detached and left running (a program started with --args and held at
 * its exit is let finish); heapdbg never kills what it attached to.  A
 * program heapdbg started with --args that has not reached its exit is
 * killed, as gdb kills what it started: after asking, on a terminal.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"

#include <stdlib.h>

static int
quit_exec(struct session *s, int argc, char **argv)
{
	struct target *t = s->t;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_quit_entry.usage);
	if (t && t->kind == TARGET_LIVE && live_launched(t) && !live_at_exit(t) && !live_gone(t)) {
		char *q = xasprintf("A debugging session is active: process %d was started by heapdbg and "
				    "will be killed\n(`detach` first leaves it running).\nQuit anyway? (y or n) ",
				    (int)t->pid);
		bool yes = session_confirm(s, q, true);
		free(q);
		if (!yes) {
			em_text(s->em, "Not confirmed.\n");
			em_bool(s->em, "quit", false);
			return 0;
		}
		if (live_kill(t) < 0)
			return -1;
		s->end_noted = s->end_seen = true;	/* said here */
		em_fmt(s->em, "Killed process {killed:%d}, which heapdbg started.\n", (int)t->pid);
	}
	s->quit = true;
	em_bool(s->em, "quit", true);
	return 0;
}

const struct cmd_entry cmd_quit_entry = {
	.name = "quit",
	.alias = "q",
	.usage = "quit",
	.summary = "leave heapdbg (an attached process is detached and keeps running)",
	.help = "Ends the session.  A process heapdbg attached to (-p) is detached and\n"
		"left running as it was; one held at its exit finishes.  A program\n"
		"heapdbg started (--args) that has not reached its exit is killed, as\n"
		"gdb does; on a terminal heapdbg asks first (y or n); `detach` first\n"
		"leaves it running.  Ctrl-D does the same as quit.  JSON: quit (false\n"
		"when the answer was no), killed (the pid, when it killed one).",
	.flags = CMD_NO_REPEAT,
	.exec = quit_exec,
};
