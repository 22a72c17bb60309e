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
	&cmd_retained_entry,
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
	&cmd_attach_entry,
	&cmd_core_entry,
	&cmd_detach_entry,
	&cmd_kill_entry,
	&cmd_set_entry,
	&cmd_help_entry,
	&cmd_quit_entry,
};
const size_t cmd_count = ARRAY_SIZE(cmd_table);

/* Optimal string alignment distance (a swap of two neighbours is one
 * edit), bounded: anything above 3 is 4. */
static int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[34][34];

	if (la > 32 || lb > 32)
		return 4;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int c = a[i - 1] != b[j - 1];
			int v = MIN(MIN(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + c);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				v = MIN(v, d[i - 2][j - 2] + 1);
			d[i][j] = v;
		}
	return MIN(d[la][lb], 4);
}

const char *
cmd_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	int bd = 4;
	size_t wl = strlen(word);

	for (size_t i = 0; i < n; i++) {
		int dd;
		if (!cands[i])
			continue;
		dd = edit_distance(word, cands[i]);
		if (dd < bd) {
			bd = dd;
			best = cands[i];
		}
	}
	/* one edit for short words, two for longer ones */
	if (!best || bd > (wl <= 4 ? 1 : wl <= 8 ? 2 : 3) || bd >= (int)MAX(wl, strlen(best)))
		return NULL;
	return best;
}

static const char *
suggest_command(const char *name)
{
	const char *names[2 * ARRAY_SIZE(cmd_table)];
	size_t n = 0;

	for (size_t i = 0; i < cmd_count; i++) {
		names[n++] = cmd_table[i]->name;
		if (cmd_table[i]->alias && strlen(cmd_table[i]->alias) > 2)
			names[n++] = cmd_table[i]->alias;
	}
	return cmd_suggest(name, names, n);
}

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
			const char *names[32], *near;
			char *word = xstrndup(a, nl);
			size_t n = 0;
			for (const struct opt_spec *o = specs; o && o->name && n < ARRAY_SIZE(names); o++)
				names[n++] = o->name;
			near = cmd_suggest(word, names, n);
			if (near)
				hd_fail(HD_EUSAGE, "unknown option '%s'; did you mean '%s'?", word, near);
			else
				hd_fail(HD_EUSAGE, "unknown option '%s'", word);
			free(word);
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

/* How long a command held a live process stopped: stopped_ms in JSON;
 * in text after the commands that read the whole heap, whose hold is the
 * one that matters (issue 12: every command that stops a live target
 * reports it). */
static void
report_held(struct session *s, const struct cmd_entry *c, uint64_t ns)
{
	static const char *const heap_readers[] = { "heap", "check", "leaks", "snapshot", "retained", "chunks", "bins" };
	em_double(s->em, "stopped_ms", (double)(ns / 10000) / 100.0);
	for (size_t i = 0; i < ARRAY_SIZE(heap_readers); i++)
		if (!strcmp(c->name, heap_readers[i]) && ns) {
			em_text(s->em, "(process %d held stopped %.1f ms by this command)\n", (int)s->t->pid, ns / 1e6);
			break;
		}
}

int
cmd_run_line(struct session *s, const char *line)
{
	int argc, rc;
	char **argv;
	const struct cmd_entry *c;
	bool ambiguous, ended;
	uint64_t held;

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
		const char *near = ambiguous ? NULL : suggest_command(argv[0]);
		em_begin(s->em, argv[0]);
		if (ambiguous) {
			struct sbuf m;
			sb_init(&m);
			for (size_t i = 0; i < cmd_count; i++)
				if (!strncmp(cmd_table[i]->name, argv[0], strlen(argv[0])))
					sb_printf(&m, "%s%s", m.len ? ", " : "", cmd_table[i]->name);
			hd_fail(HD_EUSAGE, "ambiguous command '%s': %s", argv[0], m.s ? m.s : "");
			sb_free(&m);
		} else if (near) {
			hd_fail(HD_EUSAGE, "unknown command '%s'; did you mean '%s'? (see 'help')", argv[0], near);
		} else {
			hd_fail(HD_EUSAGE, "unknown command '%s' (see 'help')", argv[0]);
		}
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
	held = s->t && s->t->kind == TARGET_LIVE && !live_gone(s->t) ? live_held_ns(s->t) : UINT64_MAX;
	if ((c->flags & (CMD_NEEDS_TARGET | CMD_NEEDS_LIVE)) &&
	    session_need_target(s, (c->flags & CMD_NEEDS_LIVE) != 0) < 0)
		rc = -1;
	else
		rc = c->exec(s, argc, argv);
	if (rc == 0)
		cmd_emit_memerrs(s);	/* found while the command drained the tracer */
	if (rc == 0 && held != UINT64_MAX && s->t && s->t->kind == TARGET_LIVE)
		report_held(s, c, live_held_ns(s->t) - held);
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

bool
cmd_repeatable(const char *line)
{
	char name[64];
	const struct cmd_entry *c;
	size_t n;

	while (*line && isspace((unsigned char)*line))
		line++;
	n = strcspn(line, " \t");
	if (!n || *line == '#' || n >= sizeof(name))
		return false;
	memcpy(name, line, n);
	name[n] = 0;
	c = cmd_find(name, NULL);
	return c && !(c->flags & CMD_NO_REPEAT);
}

/* ---- completion ---- */

struct cline {
	const struct cmd_entry *c;	/* NULL: the command name is typed */
	char **w;			/* the complete words before the one typed */
	int nw;
	int arg;			/* 1-based position of the argument typed (options not counted) */
};

static void
cline_parse(const char *line, size_t start, struct cline *cl)
{
	char *head = xstrndup(line, start), *save = NULL;
	VEC(char *) w = { 0 };

	memset(cl, 0, sizeof(*cl));
	for (char *t = strtok_r(head, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		vec_push(&w, xstrdup(t));
	free(head);
	cl->w = w.v;
	cl->nw = (int)w.n;
	if (cl->nw == 0)
		return;
	cl->c = cmd_find(cl->w[0], NULL);
	cl->arg = 1;
	for (int i = 1; i < cl->nw; i++)
		if (cl->w[i][0] != '-')
			cl->arg++;
}

static void
cline_free(struct cline *cl)
{
	for (int i = 0; i < cl->nw; i++)
		free(cl->w[i]);
	free(cl->w);
}

/* Is word already one of the line's words (an option up to its '=')? */
static bool
typed(const struct cline *cl, const char *word)
{
	for (int i = 1; i < cl->nw; i++) {
		size_t n = strcspn(cl->w[i], "=");
		if (strlen(word) == n && !strncmp(cl->w[i], word, n))
			return true;
	}
	return false;
}

/* What the argument at position arg is: 'f' a file, 's' a snapshot name,
 * 'w' one of the command's words, 'c' a command name, 0 nothing. */
static char
arg_kind(const struct cline *cl)
{
	const char *k = cl->c ? cl->c->complete : NULL;
	size_t n;

	if (!cl->c)
		return 0;
	if (!k)
		return cl->c == &cmd_help_entry ? 'c' : cl->c->words ? 'w' : 0;
	n = strlen(k);
	if (!n)
		return 0;
	/* the last letter, upper case, stands for every later argument */
	if ((size_t)cl->arg > n)
		return isupper((unsigned char)k[n - 1]) ? (char)tolower((unsigned char)k[n - 1]) : 0;
	return (char)tolower((unsigned char)k[cl->arg - 1]);
}

bool
cmd_complete_files(const char *line, size_t start)
{
	struct cline cl;
	bool r;

	cline_parse(line, start, &cl);
	r = cl.nw > 0 && line[start] != '-' && arg_kind(&cl) == 'f';
	cline_free(&cl);
	return r;
}

char *
cmd_complete(struct session *s, const char *line, size_t start, const char *text, int state)
{
	static VEC(const char *) cands;
	static size_t idx;
	size_t tl = strlen(text);

	if (state == 0) {
		struct cline cl;
		char kind;

		cands.n = 0;
		idx = 0;
		cline_parse(line, start, &cl);
		kind = arg_kind(&cl);
		if (cl.nw == 0 || kind == 'c') {
			for (size_t i = 0; i < cmd_count; i++)
				if (cl.nw == 0 || !typed(&cl, cmd_table[i]->name))
					vec_push(&cands, cmd_table[i]->name);
		} else if (cl.c && text[0] == '-') {
			for (const char *const *o = cl.c->options; o && *o; o++)
				if (!typed(&cl, *o))
					vec_push(&cands, *o);
		} else if (kind == 'w') {
			for (const char *const *o = cl.c->words; o && *o; o++)
				if (!typed(&cl, *o))
					vec_push(&cands, *o);
		} else if (kind == 's' && s && s->snaps) {
			for (size_t i = 0; i < s->snaps->v.n; i++)
				if (!typed(&cl, s->snaps->v.v[i]->name))
					vec_push(&cands, s->snaps->v.v[i]->name);
			if (cl.c == &cmd_diff_entry && !typed(&cl, "now"))
				vec_push(&cands, "now");
		}
		cline_free(&cl);
	}
	while (idx < cands.n) {
		const char *c = cands.v[idx++];
		if (!strncmp(c, text, tl))
			return xstrdup(c);
	}
	return NULL;
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
