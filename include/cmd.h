/*
 * cmd.h - commands: one file each (cmd-NAME.c) with one const struct
 * cmd_entry; cmd.c collects them in a table that drives dispatch, help
 * and completion (the tmux way).
 *
 * The dispatcher opens the command's output object (em_begin) before
 * exec and closes it after; exec adds fields and returns 0, or -1 with an
 * hd error, which the dispatcher turns into the command's error output.
 */
#ifndef HEAPDBG_CMD_H
#define HEAPDBG_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

#define CMD_NEEDS_TARGET	0x1	/* fails without a target */
#define CMD_NEEDS_LIVE		0x2	/* fails unless the target is live */
#define CMD_NO_REPEAT		0x4	/* Enter on an empty line does not repeat it */

struct cmd_entry {
	const char *name;
	const char *alias;		/* or NULL */
	const char *usage;		/* "bt [TID|all]" */
	const char *summary;		/* one line */
	const char *help;		/* full description */
	const char *const *options;	/* option names, for completion */
	const char *const *words;	/* other completion words (subcommands) */
	const char *complete;		/* what each argument is, for completion:
					 * f file, s snapshot, w a word, 0 nothing;
					 * an upper-case last letter repeats (NULL:
					 * words, command names for help) */
	unsigned flags;
	int (*exec)(struct session *s, int argc, char **argv);
};

extern const struct cmd_entry *const cmd_table[];
extern const size_t cmd_count;

/* Exact name, alias, or a unique prefix of a name. NULL if none/ambiguous. */
const struct cmd_entry *cmd_find(const char *name, bool *ambiguous);
/* Run one command line.  Blank lines and # comments do nothing.
 * Returns 0 or -1 (the command failed; its error was emitted). */
int cmd_run_line(struct session *s, const char *line);
/* Split a line into words (quotes and backslashes); caller frees with
 * cmd_free_words.  -1 on unbalanced quotes. */
int cmd_split(const char *line, int *argc, char ***argv);
void cmd_free_words(int argc, char **argv);

/* The candidate closest to word, if it is near enough to be a typo of
 * it (one edit for a word of up to 4 letters, two up to 8, three
 * beyond; a swap of neighbours is one edit); NULL if none.  NULL entries
 * are skipped. */
const char *cmd_suggest(const char *word, const char *const *cands, size_t n);

/* May Enter on an empty line run line again (gdb's repeat)?  Not for
 * commands that change what is there (kill, detach, quit, save, ...). */
bool cmd_repeatable(const char *line);

/* Completion of the word of line that starts at start (text, what is
 * typed of it): the command's options, its words, snapshot names, or
 * command names, never one that is already on the line; state 0 starts,
 * NULL ends.  For a file argument (cmd_complete_files) the shell
 * completes file names itself. */
char *cmd_complete(struct session *s, const char *line, size_t start, const char *text, int state);
bool cmd_complete_files(const char *line, size_t start);

/* Option parsing for commands. */
enum opt_kind { OPT_FLAG, OPT_STR, OPT_U64, OPT_DOUBLE };
struct opt_spec {
	const char *name;	/* "--state" */
	enum opt_kind kind;
	void *out;		/* bool*, const char**, uint64_t*, double* */
	bool *seen;		/* optional */
};
/* Parse argv[1..] in place: positionals are left in argv[1..*npos], the
 * option words after them (every word stays in argv, for cmd_free_words);
 * "--name=value" and "--name value" both work. 0 or -1 (argv as it was). */
int cmd_parse_opts(int argc, char **argv, const struct opt_spec *specs, int *npos);

/* Emit a stack (pcs[0] the pc, the rest return addresses) as a "frames"
 * list, resolved to functions and file:line; text lines start with indent. */
void cmd_emit_frames(struct session *s, const uint64_t *pcs, int n, const char *indent);
/* The same for an allocation stack: it starts at the allocator's caller
 * (frame_is_allocator frames at the top are left out, and counted as
 * "allocator_frames" in JSON) unless `set allocator-frames on`. */
void cmd_emit_alloc_frames(struct session *s, const uint64_t *pcs, int n, const char *indent);
/* One frame in the format every command uses, into the item open. */
struct frame_info;
void cmd_emit_frame(struct session *s, const char *indent, int level, const struct frame_info *f);

/* Report the memory errors the tracer found since the last report (a
 * "memory_errors" list in the command's object; text: valgrind's
 * "Invalid free()" with the stacks) and count them for --error-exitcode.
 * Nothing when there are none. */
void cmd_emit_memerrs(struct session *s);

/* Emit {chunks, bytes} as the JSON object KEY. */
struct hcount;
void cmd_emit_count(struct emitter *em, const char *key, const struct hcount *c);

/* Emit a snapshot's origin, the fields it has of target, pid and exe. */
struct snapshot;
void cmd_emit_origin(struct emitter *em, const struct snapshot *sn);

/* Each command. */
extern const struct cmd_entry cmd_info_entry, cmd_bt_entry, cmd_x_entry,
	cmd_continue_entry, cmd_detach_entry, cmd_kill_entry, cmd_quit_entry,
	cmd_help_entry, cmd_heap_entry, cmd_chunks_entry, cmd_chunk_entry, cmd_bins_entry,
	cmd_check_entry, cmd_leaks_entry, cmd_refs_entry, cmd_trace_entry, cmd_top_entry;
extern const struct cmd_entry cmd_snapshot_entry, cmd_snapshots_entry, cmd_diff_entry,
	cmd_save_entry, cmd_load_entry, cmd_export_entry, cmd_monitor_entry, cmd_set_entry,
	cmd_attach_entry, cmd_core_entry, cmd_retained_entry;

#endif
