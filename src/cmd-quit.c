/*
 * cmd-quit.c - `quit`: end the session.  A live process is detached and
 * left running (a program started with --args and held at its exit is let
 * finish); heapdbg never kills what it attached to.
 */
#include "config.h"
#include "cmd.h"

static int
quit_exec(struct session *s, int argc, char **argv)
{
	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_quit_entry.usage);
	s->quit = true;
	em_bool(s->em, "quit", true);
	return 0;
}

const struct cmd_entry cmd_quit_entry = {
	.name = "quit",
	.alias = "q",
	.usage = "quit",
	.summary = "leave heapdbg (a live process is detached and keeps running)",
	.help = "Ends the session.  A live process is detached and left running as\n"
		"it was; one held at its exit finishes.  Ctrl-D does the same.",
	.exec = quit_exec,
};
