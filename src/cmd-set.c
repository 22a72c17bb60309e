/*
 * cmd-set.c - `set [NAME VALUE]`: the session's settings, gdb's way
 * (`set confirm off`).  Without arguments it lists them.
 *
 *	allocator-frames on|off	allocation stacks (top, leaks, chunk, diff,
 *				export) keep malloc's own frames (off:
 *				they start at its caller)
 *	confirm on|off		ask before kill and quit on a terminal
 *	name-width N		C++ names longer than N are shortened in
 *				text (0: never); JSON has them in full
 *	tracer fast|breakpoints	what `trace start` uses without --fast or
 *				--breakpoints (fast by default)
 */
#include "config.h"
#include "cmd.h"

#include <string.h>

static int
parse_onoff(const char *name, const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return hd_fail(HD_EUSAGE, "set %s: '%s' is not on or off", name, v);
}

static void
show(struct session *s)
{
	em_fmt(s->em, "allocator-frames  {allocator_frames:%s}\n", s->keep_alloc_frames ? "on" : "off");
	em_fmt(s->em, "confirm           {confirm:%s}\n", s->no_confirm ? "off" : "on");
	em_fmt(s->em, "name-width        {name_width:%u}\n", s->name_width);
	em_fmt(s->em, "tracer            {tracer:%s}\n", session_fast_tracer(s) ? "fast" : "breakpoints");
}

static int
set_exec(struct session *s, int argc, char **argv)
{
	bool on;

	if (argc == 1) {
		show(s);
		return 0;
	}
	if (argc != 3)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_set_entry.usage);
	if (!strcmp(argv[1], "allocator-frames")) {
		if (parse_onoff(argv[1], argv[2], &on) < 0)
			return -1;
		s->keep_alloc_frames = on;
	} else if (!strcmp(argv[1], "confirm")) {
		if (parse_onoff(argv[1], argv[2], &on) < 0)
			return -1;
		s->no_confirm = !on;
	} else if (!strcmp(argv[1], "name-width")) {
		uint64_t w;
		if (parse_u64(argv[2], &w, false) < 0 || w > 100000)
			return hd_fail(HD_EUSAGE, "set name-width: '%s' is not a width (0 for none)", argv[2]);
		s->name_width = (unsigned)w;
	} else if (!strcmp(argv[1], "tracer")) {
		if (strcmp(argv[2], "fast") && strcmp(argv[2], "breakpoints"))
			return hd_fail(HD_EUSAGE, "set tracer: '%s' is not fast or breakpoints", argv[2]);
		s->fast_tracer = !strcmp(argv[2], "fast");
		s->tracer_set = true;
	} else {
		return hd_fail(HD_EUSAGE, "set: no setting '%s' (allocator-frames, confirm, name-width, tracer)",
			       argv[1]);
	}
	show(s);
	return 0;
}

static const char *const set_words[] = { "allocator-frames", "confirm", "name-width", "tracer", "on", "off",
					 "fast", "breakpoints", NULL };

const struct cmd_entry cmd_set_entry = {
	.name = "set",
	.usage = "set [allocator-frames on|off | confirm on|off | name-width N | tracer fast|breakpoints]",
	.summary = "change a setting (without arguments: show them)",
	.help = "allocator-frames on: allocation stacks (top, leaks, chunk, diff,\n"
		"export) keep the allocator's own frames (malloc, __libc_calloc,\n"
		"operator new, ...); off, the default: they start at its caller, as\n"
		"valgrind, heaptrack and pprof show them.  --allocator-frames sets it\n"
		"on from the command line.\n"
		"confirm off: kill and quit never ask (gdb's `set confirm off`).\n"
		"name-width N: C++ names longer than N characters (default 100) are\n"
		"shown with their template arguments, then their parameters, elided\n"
		"(`std::map<...>::find(...)`); 0 never shortens.  JSON has full names.\n"
		"tracer fast, the default: `trace start` uses fast tracepoints (as\n"
		"`trace start --fast`); breakpoints: breakpoints (as `trace start\n"
		"--breakpoints`).  HEAPDBG_TRACER=breakpoints in the environment makes\n"
		"breakpoints the default.\n"
		"JSON: allocator_frames, confirm, name_width, tracer.",
	.words = set_words,
	.flags = CMD_NO_REPEAT,
	.complete = "ww",
	.exec = set_exec,
};
