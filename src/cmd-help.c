/*
 * cmd-help.c - `help [CMD]`, generated from the command table.
 */
#include "config.h"
#include "cmd.h"

#include <string.h>

static int
help_exec(struct session *s, int argc, char **argv)
{
	if (argc > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_help_entry.usage);
	if (argc == 2) {
		bool amb;
		const struct cmd_entry *c = cmd_find(argv[1], &amb);
		if (!c)
			return hd_fail(HD_ENOENT, "%s command '%s'", amb ? "ambiguous" : "no", argv[1]);
		em_fmt(s->em, "Usage: {usage:%s}\n", c->usage);
		em_str(s->em, "name", c->name);
		if (c->alias)
			em_fmt(s->em, "Alias: {alias:%s}\n", c->alias);
		em_fmt(s->em, "{summary:%s}\n\n", c->summary);
		/* heapdbg's own lines: text as written (a keyed field
		 * would show its newlines escaped) */
		em_text(s->em, "%s\n", c->help);
		em_str(s->em, "help", c->help);
		if (c->options && c->options[0]) {
			em_text(s->em, "Options:");
			em_list_open(s->em, "options");
			for (const char *const *o = c->options; *o; o++) {
				em_str(s->em, NULL, *o);
				em_text(s->em, " %s", *o);
			}
			em_list_close(s->em);
			em_text(s->em, "\n");
		}
		return 0;
	}
	em_text(s->em, "Commands (help CMD for more):\n");
	em_list_open(s->em, "commands");
	for (size_t i = 0; i < cmd_count; i++) {
		const struct cmd_entry *c = cmd_table[i];
		em_item_open(s->em);
		em_fmt(s->em, "  {usage:%-44s} {summary:%s}\n", c->usage, c->summary);
		em_str(s->em, "name", c->name);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	return 0;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.alias = "h",
	.usage = "help [CMD]",
	.summary = "list the commands, or describe CMD",
	.help = "Without an argument lists every command with a one-line summary;\n"
		"with one, shows the command's usage, description and options.",
	.flags = CMD_NO_REPEAT,
	.exec = help_exec,
};
