/*
 * cmd.c - the command table, the dispatcher, the word splitter, option
 * parsing and completion.  Adding a command: write cmd-NAME.c with its
 * cmd_entry, declare it in cmd.h, list it here.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "live.h"
#include "signals.h"
#include "snapshot.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const struct cmd_entry *const cmd_table[] = {
	/* the target */
	&cmd_info_entry,
	&cmd_bt_entry,
	&cmd_x_entry,
	/* the heap */
	&cmd_heap_entry,
	&cmd_chunks_entry,
	&cmd_chunk_entry,
	&cmd_bins_entry,
	&cmd_check_entry,
	&cmd_leaks_entry,
	&cmd_refs_entry,
	/* allocations over time */
	&cmd_trace_entry,
	&cmd_top_entry,
	&cmd_snapshot_entry,
	&cmd_snapshots_entry,
	&cmd_diff_entry,
	&cmd_save_entry,
	&cmd_load_entry,
	&cmd_export_entry,
	&cmd_monitor_entry,
	/* running */
	&cmd_continue_entry,
	&cmd_detach_entry,
	&cmd_kill_entry,
	&cmd_set_entry,
	&cmd_help_entry,
	&cmd_quit_entry,
};
const size_t cmd_count = ARRAY_SIZE(cmd_table);

const struct cmd_entry *
cmd_find(const char *name, bool *ambiguous)
{
	const struct cmd_entry *found = NULL;
	size_t len = strlen(name);
	int matches = 0;

	if (ambiguous)
		*ambiguous = false;
	for (size_t i = 0; i < cmd_count; i++) {
		const struct cmd_entry *c = cmd_table[i];
		if (!strcmp(c->name, name) || (c->alias && !strcmp(c->alias, name)))
			return c;
	}
	if (len == 0)
		return NULL;
	for (size_t i = 0; i < cmd_count; i++) {
		if (!strncmp(cmd_table[i]->name, name, len)) {
			found = cmd_table[i];
			matches++;
		}
	}
	if (matches > 1) {
		if (ambiguous)
			*ambiguous = true;
		return NULL;
	}
	return found;
}

void
cmd_free_words(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int
cmd_split(const char *line, int *argcp, char ***argvp)
{
	VEC(char *) words = { 0 };
	struct sbuf w;
	const char *p = line;

	sb_init(&w);
	for (;;) {
		bool have = false;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		sb_reset(&w);
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				while (*p && *p != q) {
					if (q == '"' && *p == '\\' && p[1])
						p++;
					sb_putc(&w, *p++);
				}
				if (*p != q) {
					sb_free(&w);
					cmd_free_words((int)words.n, words.v);
					return hd_fail(HD_EUSAGE, "unbalanced quote");
				}
				p++;
				have = true;
			} else if (*p == '\\' && p[1]) {
				sb_putc(&w, p[1]);
				p += 2;
			} else {
				sb_putc(&w, *p++);
			}
		}
		if (w.len || have)
			vec_push(&words, xstrdup(w.s ? w.s : ""));
	}
	sb_free(&w);
	vec_push(&words, NULL);
	*argcp = (int)words.n - 1;
	*argvp = words.v;
	return 0;
}

int
cmd_parse_opts(int argc, char **argv, const struct opt_spec *specs, int *npos)
{
	/* every word stays in argv (cmd_free_words frees them all):
	 * positionals first, then the option words; argv is left as it
	 * was when parsing fails */
	char **pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	int out = 1, nrest = 0, rc = -1;
	bool no_more = false;

	pos[0] = argv[0];
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct opt_spec *sp = NULL;
		const char *val = NULL;
		size_t nl;

		if (no_more || a[0] != '-' || a[1] != '-' || (a[1] == '-' && a[2] == 0)) {
			if (!no_more && !strcmp(a, "--")) {
				no_more = true;
				rest[nrest++] = a;
				continue;
			}
			pos[out++] = a;
			continue;
		}
		nl = strcspn(a, "=");
		for (const struct opt_spec *o = specs; o && o->name; o++)
			if (strlen(o->name) == nl && !strncmp(o->name, a, nl))
				sp = o;
		if (!sp) {
			hd_fail(HD_EUSAGE, "unknown option '%.*s'", (int)nl, a);
			goto out;
		}
		rest[nrest++] = a;
		if (sp->seen)
			*sp->seen = true;
		if (sp->kind == OPT_FLAG) {
			if (a[nl]) {
				hd_fail(HD_EUSAGE, "option '%s' takes no value", sp->name);
				goto out;
			}
			*(bool *)sp->out = true;
			continue;
		}
		if (a[nl] == '=')
			val = a + nl + 1;
		else if (i + 1 < argc)
			val = rest[nrest++] = argv[++i];
		else {
			hd_fail(HD_EUSAGE, "option '%s' needs a value", sp->name);
			goto out;
		}
		switch (sp->kind) {
		case OPT_STR:
			*(const char **)sp->out = val;
			break;
		case OPT_U64:
			if (parse_u64(val, sp->out, true) < 0) {
				hd_fail_context("%s", sp->name);
				goto out;
			}
			break;
		case OPT_DOUBLE:
			if (parse_double(val, sp->out) < 0) {
				hd_fail_context("%s", sp->name);
				goto out;
			}
			break;
		case OPT_FLAG:
			break;
		}
	}
	memcpy(argv, pos, (size_t)out * sizeof(*argv));
	memcpy(argv + out, rest, (size_t)nrest * sizeof(*argv));
	*npos = out - 1;
	rc = 0;
out:
	free(pos);
	free(rest);
	return rc;
}

int
cmd_run_line(struct session *s, const char *line)
{
	int argc, rc;
	char **argv;
	const struct cmd_entry *c;
	bool ambiguous, ended;

	hd_clear_error();
	if (cmd_split(line, &argc, &argv) < 0) {
		em_begin(s->em, "?");
		em_error(s->em, hd_errmsg());
		s->status = 1;
		return -1;
	}
	if (argc == 0) {
		cmd_free_words(argc, argv);
		return 0;
	}
	c = cmd_find(argv[0], &ambiguous);
	if (!c) {
		em_begin(s->em, argv[0]);
		hd_fail(HD_EUSAGE, ambiguous ? "ambiguous command '%s' (see 'help')" :
			"unknown command '%s' (see 'help')", argv[0]);
		em_error(s->em, hd_errmsg());
		s->status = 1;
		cmd_free_words(argc, argv);
		return -1;
	}
	em_begin(s->em, c->name);
	sig_clear_interrupt();
	session_poll_target(s);
	ended = s->end_seen;
	rc = 0;
	if ((c->flags & (CMD_NEEDS_TARGET | CMD_NEEDS_LIVE)) &&
	    session_need_target(s, (c->flags & CMD_NEEDS_LIVE) != 0) < 0)
		rc = -1;
	else
		rc = c->exec(s, argc, argv);
	if (rc < 0) {
		/* killed while the command ran (a SIGKILL ends even a process
		 * held stopped): that is why it failed, whatever failed on
		 * the way; the next command tells how it ended */
		if (!ended && hd_errcode() != HD_EGONE && session_target_ended_now(s))
			hd_fail(HD_EGONE, "process %d is %s", (int)s->t->pid, live_gone(s->t) ? "gone" : "exiting");
		em_error(s->em, hd_errmsg());
		s->status = 1;
	} else if (em_end(s->em) < 0) {
		/* stdout is gone (EPIPE): nobody reads us any more */
		s->quit = true;
	}
	cmd_free_words(argc, argv);
	return rc;
}

/* ---- completion ---- */

char *
cmd_complete(const char *line, const char *text, int state)
{
	static size_t idx;
	static const struct cmd_entry *ctx;
	static int phase;
	size_t tl = strlen(text);
	bool first_word = true;

	for (const char *p = line; *p; p++)
		if (isspace((unsigned char)*p)) {
			first_word = false;
			break;
		}
	if (state == 0) {
		idx = 0;
		phase = 0;
		ctx = NULL;
		if (!first_word) {
			char name[64];
			size_t n = strcspn(line, " \t");
			snprintf(name, sizeof(name), "%.*s", (int)MIN(n, sizeof(name) - 1), line);
			ctx = cmd_find(name, NULL);
		}
	}
	if (first_word) {
		while (idx < cmd_count) {
			const struct cmd_entry *c = cmd_table[idx++];
			if (!strncmp(c->name, text, tl))
				return xstrdup(c->name);
		}
		return NULL;
	}
	if (!ctx)
		return NULL;
	/* options, then words (subcommands), and for help, command names */
	for (;;) {
		const char *const *list = phase == 0 ? ctx->options : phase == 1 ? ctx->words : NULL;
		if (phase == 2) {
			if (ctx != &cmd_help_entry)
				return NULL;
			while (idx < cmd_count) {
				const struct cmd_entry *c = cmd_table[idx++];
				if (!strncmp(c->name, text, tl))
					return xstrdup(c->name);
			}
			return NULL;
		}
		if (list) {
			while (list[idx]) {
				const char *w = list[idx++];
				if (!strncmp(w, text, tl))
					return xstrdup(w);
			}
		}
		phase++;
		idx = 0;
	}
}

void
cmd_emit_origin(struct emitter *em, const struct snapshot *sn)
{
	if (sn->target)
		em_str(em, "target", sn->target);
	if (sn->pid)
		em_int(em, "pid", sn->pid);
	if (sn->exe)
		em_str(em, "exe", sn->exe);
}

void
cmd_emit_count(struct emitter *em, const char *key, const struct hcount *c)
{
	em_obj_open(em, key);
	em_uint(em, "chunks", c->chunks);
	em_uint(em, "bytes", c->bytes);
	em_obj_close(em);
}
