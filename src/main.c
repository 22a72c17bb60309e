/*
 * main.c - the front end: gdb-style options, opening the target, running
 * -ex/-x commands, the shell, and the exit status.  The only code that
 * exits.
 *
 * Exit status: 0 every command succeeded; 1 a command failed; 2 the
 * target could not be attached or opened; 64 usage error; N from
 * --error-exitcode=N when a leak or heap corruption was reported.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"
#include "reach.h"
#include "session.h"
#include "shell.h"
#include "tracer.h"
#include "signals.h"
#include "suppress.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 64
#define EXIT_TARGET 2

static struct session *g_session;

struct script_item {
	bool is_file;
	const char *text;
};

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: heapdbg [OPTIONS] -p PID                 attach to a running process\n"
"       heapdbg [OPTIONS] -c CORE [EXE]          open a core file\n"
"       heapdbg [OPTIONS] --args PROG [ARG...]   start PROG under heapdbg\n"
"       heapdbg [OPTIONS]                        no target (saved snapshots)\n"
"\n"
"A heap debugger for glibc malloc: walks arenas and chunks, checks heap\n"
"integrity, finds leaks by reachability, traces allocations, snapshots\n"
"and diffs heaps, on a live process without restarting it or on a core.\n"
"\n"
"Options:\n"
"  -ex CMD, --eval-command=CMD   run CMD (repeatable, in order)\n"
"  -x FILE, --command=FILE       run the commands in FILE\n"
"  -batch, --batch               exit after the -ex/-x commands; a live\n"
"                                target is detached and left running\n"
"  --json                        one JSON object per command on stdout\n"
"  --json=FILE                   the same, into FILE\n"
"  --log-file=FILE               heapdbg's command output into FILE, not stdout\n"
"  --inferior-output=FILE        the --args program's stdout and stderr into\n"
"                                FILE (default: as heapdbg's; with --json\n"
"                                its stdout goes to heapdbg's stderr)\n"
"  -q, --quiet                   no banner\n"
"  --error-exitcode=N            exit N if a leak or heap corruption was found\n"
"  --allocator-frames            allocation stacks keep malloc's own frames\n"
"  --debug-file-directory=DIR    look for separate debug files in DIR\n"
"  --run-libc-freeres=no|yes     --args: at the exit, run glibc's __libc_freeres\n"
"                                first, as valgrind does (default yes)\n"
"  --run-cxx-freeres=no|yes      likewise libstdc++'s __gnu_cxx::__freeres\n"
"  --suppressions=FILE           valgrind suppressions for `leaks` (repeatable)\n"
"  --gen-suppressions=all|no     `leaks` writes one after each record\n"
"  --show-leak-kinds=K           `leaks` shows these records (valgrind's values:\n"
"                                definite,indirect,possible,reachable, all, none;\n"
"                                default definite,possible, as valgrind's)\n"
"  --errors-for-leak-kinds=K     these count for --error-exitcode\n"
"                                (default definite,indirect)\n"
"  --version, --help\n"
"\n"
"Exit status: 0 ok; 1 a command failed; 2 cannot attach or open the target;\n"
"64 usage error; N as set by --error-exitcode.  See heapdbg(1).\n");
}

static void
fatal_hook(void)
{
	session_emergency_cleanup(g_session);
}

/* gdb accepts -opt, --opt, -opt=VAL, --opt=VAL and -opt VAL. */
static bool
opt_is(const char *arg, const char *name, const char **val, int *i, int argc, char **argv,
       bool takes_value)
{
	const char *a = arg;
	size_t nl = strlen(name);

	if (a[0] != '-')
		return false;
	a++;
	if (a[0] == '-')
		a++;
	if (strncmp(a, name, nl))
		return false;
	if (!takes_value)
		return a[nl] == 0;
	if (a[nl] == '=') {
		*val = a + nl + 1;
		return true;
	}
	if (a[nl] != 0)
		return false;
	if (*i + 1 >= argc) {
		error_msg("option '%s' needs a value", arg);
		exit(EXIT_USAGE);
	}
	*val = argv[++*i];
	return true;
}

/* End the session: let a program held at its exit finish, kill one
 * heapdbg started that is not at its exit, detach from an attached one,
 * close a core; say how a live process ended, if it did (once:
 * a death noticed between commands was said then). */
static void
finish_target(struct session *s, bool say)
{
	if (!s->t)
		return;
	if (s->t->kind == TARGET_LIVE) {
		live_poll(s->t);
		if (say && !live_launched(s->t) && !live_gone(s->t) && !live_at_exit(s->t))
			fprintf(stderr, "heapdbg: detaching from process %d, held stopped %.1f ms in all\n",
				(int)s->t->pid, live_held_ns(s->t) / 1e6);
		if (live_at_exit(s->t) && live_launched(s->t)) {
			live_finish(s->t);
		} else if (live_launched(s->t) && !live_gone(s->t)) {
			/* what heapdbg started dies with the session, as in
			 * gdb (quit asked first on a terminal) */
			pid_t pid = s->t->pid;
			if (live_kill(s->t) == 0) {
				s->end_noted = true;
				error_msg("killed process %d, which heapdbg started (`detach` first leaves it running)",
					  (int)pid);
			}
		}
		session_note_end(s, false);
	}
	session_drop_target(s);
}

int
main(int argc, char **argv)
{
	VEC(struct script_item) script = { 0 };
	const char *pid_arg = NULL, *core = NULL, *exe = NULL, *val;
	char **prog_argv = NULL;
	bool batch = false, json = false, quiet = false, no_libc_freeres = false, no_cxx_freeres = false;
	const char *log_file = NULL, *inferior_output = NULL;
	bool keep_alloc_frames = false;
	VEC(const char *) supp_files = { 0 };
	const char *show_kinds = NULL, *error_kinds = NULL, *gen_supp = NULL;
	FILE *out = stdout;
	int inf_out = -1, inf_err = -1;
	uint64_t errcode = 0;
	const char *debug_dir = NULL;
	struct session *s;
	struct target *t = NULL;
	int rc, term;

	uint64_t t_start = hd_now_ns();

	if (getenv("HEAPDBG_DEBUG"))
		hd_debug = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opt_is(a, "p", &pid_arg, &i, argc, argv, true) ||
		    opt_is(a, "pid", &pid_arg, &i, argc, argv, true))
			continue;
		if (opt_is(a, "c", &core, &i, argc, argv, true) ||
		    opt_is(a, "core", &core, &i, argc, argv, true))
			continue;
		if (opt_is(a, "ex", &val, &i, argc, argv, true) ||
		    opt_is(a, "eval-command", &val, &i, argc, argv, true)) {
			struct script_item it = { false, val };
			vec_push(&script, it);
			continue;
		}
		if (opt_is(a, "x", &val, &i, argc, argv, true) ||
		    opt_is(a, "command", &val, &i, argc, argv, true)) {
			struct script_item it = { true, val };
			vec_push(&script, it);
			continue;
		}
		if (opt_is(a, "batch", NULL, &i, argc, argv, false)) {
			batch = true;
			continue;
		}
		if (opt_is(a, "json", NULL, &i, argc, argv, false)) {
			json = true;
			continue;
		}
		if (!strncmp(a, "--json=", 7) || !strncmp(a, "-json=", 6)) {
			json = true;
			log_file = strchr(a, '=') + 1;
			continue;
		}
		if (opt_is(a, "log-file", &log_file, &i, argc, argv, true))
			continue;
		if (opt_is(a, "inferior-output", &inferior_output, &i, argc, argv, true))
			continue;
		if (opt_is(a, "allocator-frames", NULL, &i, argc, argv, false)) {
			keep_alloc_frames = true;
			continue;
		}
		if (opt_is(a, "q", NULL, &i, argc, argv, false) || opt_is(a, "quiet", NULL, &i, argc, argv, false) ||
		    opt_is(a, "silent", NULL, &i, argc, argv, false)) {
			quiet = true;
			continue;
		}
		if (opt_is(a, "error-exitcode", &val, &i, argc, argv, true)) {
			if (parse_u64(val, &errcode, false) < 0 || errcode > 255) {
				error_msg("--error-exitcode: '%s' is not an exit status (0-255)", val);
				goto usage;
			}
			continue;
		}
		if (opt_is(a, "debug-file-directory", &debug_dir, &i, argc, argv, true))
			continue;
		if (opt_is(a, "suppressions", &val, &i, argc, argv, true)) {
			vec_push(&supp_files, val);
			continue;
		}
		if (opt_is(a, "gen-suppressions", &gen_supp, &i, argc, argv, true)) {
			if (strcmp(gen_supp, "all") && strcmp(gen_supp, "no")) {
				error_msg("--gen-suppressions: 'all' or 'no', not '%s' (heapdbg does not ask)", gen_supp);
				goto usage;
			}
			continue;
		}
		if (opt_is(a, "show-leak-kinds", &show_kinds, &i, argc, argv, true) ||
		    opt_is(a, "errors-for-leak-kinds", &error_kinds, &i, argc, argv, true))
			continue;
		if (opt_is(a, "run-libc-freeres", &val, &i, argc, argv, true) ||
		    opt_is(a, "run-cxx-freeres", &val, &i, argc, argv, true)) {
			bool no = !strcmp(val, "no");
			if (!no && strcmp(val, "yes")) {
				error_msg("%s: 'yes' or 'no', not '%s'", a, val);
				goto usage;
			}
			if (strstr(a, "libc"))
				no_libc_freeres = no;
			else
				no_cxx_freeres = no;
			continue;
		}
		if (opt_is(a, "version", NULL, &i, argc, argv, false)) {
			printf("heapdbg %s\n", HEAPDBG_VERSION);
			return 0;
		}
		if (opt_is(a, "help", NULL, &i, argc, argv, false) || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (opt_is(a, "args", NULL, &i, argc, argv, false)) {
			if (i + 1 >= argc) {
				error_msg("--args needs a program");
				goto usage;
			}
			prog_argv = &argv[i + 1];
			break;
		}
		if (a[0] != '-' && core && !exe) {
			exe = a;
			continue;
		}
		error_msg("unrecognized argument '%s' (see --help)", a);
		goto usage;
	}
	if (!!pid_arg + !!core + !!prog_argv > 1) {
		error_msg("give only one of -p PID, -c CORE and --args PROG");
		goto usage;
	}

	if (log_file && !*log_file) {
		error_msg("--log-file/--json=: a file name is needed");
		goto usage;
	}
	if (inferior_output && !prog_argv) {
		error_msg("--inferior-output is for a program started with --args");
		goto usage;
	}
	if (log_file) {
		out = fopen(log_file, "w");
		if (!out) {
			perror_msg("%s", log_file);
			goto usage;
		}
	}
	if (inferior_output) {
		inf_out = inf_err = open(inferior_output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
		if (inf_out < 0) {
			perror_msg("%s", inferior_output);
			goto usage;
		}
	} else if (json && !log_file) {
		inf_out = STDERR_FILENO;	/* stdout is for JSON */
	}

	s = session_new();
	g_session = s;
	s->batch = batch;
	s->json = json;
	s->quiet = quiet;
	s->keep_alloc_frames = keep_alloc_frames;
	s->error_exitcode = (int)errcode;
	s->debug_dir = debug_dir ? xstrdup(debug_dir) : NULL;
	s->no_libc_freeres = no_libc_freeres;
	s->no_cxx_freeres = no_cxx_freeres;
	if (show_kinds && leak_kinds_parse(show_kinds, &s->show_kinds) < 0) {
		error_msg("--show-leak-kinds: %s", hd_errmsg());
		session_free(s);
		goto usage;
	}
	if (error_kinds && leak_kinds_parse(error_kinds, &s->error_kinds) < 0) {
		error_msg("--errors-for-leak-kinds: %s", hd_errmsg());
		session_free(s);
		goto usage;
	}
	s->gen_supp = gen_supp && !strcmp(gen_supp, "all");
	if (supp_files.n) {
		s->supp = xcalloc(1, sizeof(*s->supp));
		for (size_t k = 0; k < supp_files.n; k++) {
			if (supp_load(s->supp, supp_files.v[k]) < 0) {
				error_msg("%s", hd_errmsg());
				session_free(s);
				goto usage;
			}
		}
	}
	vec_free(&supp_files);
	s->em = em_new(out, json ? EM_JSON : EM_TEXT);
	if (!batch && isatty(STDIN_FILENO))
		s->query = shell_query;	/* a person can answer */
	hd_set_fatal_hook(fatal_hook);
	if (sig_setup() < 0) {
		error_msg("%s", hd_errmsg());
		return 1;
	}
	sig_set_batch(batch);

	if (pid_arg) {
		uint64_t pid;
		if (parse_u64(pid_arg, &pid, false) < 0 || pid == 0 || pid > 0x7fffffff) {
			error_msg("-p: '%s' is not a process id", pid_arg);
			session_free(s);
			goto usage;
		}
		if (session_attach_prepared(s, (pid_t)pid) == 0)
			t = s->t;
	} else if (core) {
		t = target_open_core(core, exe);
	} else if (prog_argv) {
		t = live_launch(prog_argv, inf_out, inf_err);
		if (inferior_output)
			close(inf_out);
	}
	if ((pid_arg || core || prog_argv) && !t) {
		error_msg("%s", hd_errmsg());
		session_free(s);
		vec_free(&script);
		return EXIT_TARGET;
	}
	if (t) {
		if (!pid_arg)
			session_set_target(s, t);
		for (size_t i = 0; target_core_warning(t, i); i++)
			warn_msg("%s", target_core_warning(t, i));
	}
	if (t && prog_argv)
		session_arm_exit(s);
	debug_msg("target open after %.1f ms", (hd_now_ns() - t_start) / 1e6);
	if (!quiet && !json) {
		char *vexe = t && t->exe ? str_visible(t->exe) : NULL;
		const char *shown = vexe ? vexe : t && t->exe ? t->exe : "?";
		if (!t)
			fprintf(stderr, "heapdbg %s: no target\n", HEAPDBG_VERSION);
		else if (t->kind == TARGET_CORE)
			fprintf(stderr, "heapdbg %s: core file %s of process %d (%s), %zu thread%s\n",
				HEAPDBG_VERSION, core, (int)t->pid, shown, t->nthreads,
				t->nthreads == 1 ? "" : "s");
		else
			fprintf(stderr, "heapdbg %s: %s process %d (%s), %zu thread%s, stopped%s\n",
				HEAPDBG_VERSION, prog_argv ? "started" : "attached to", (int)t->pid,
				shown, t->nthreads, t->nthreads == 1 ? "" : "s",
				prog_argv ? " before its initialisers" : "");
		free(vexe);
	}

	for (size_t i = 0; i < script.n && !s->quit && !sig_terminating() && !sig_batch_interrupted(); i++) {
		if (script.v[i].is_file) {
			FILE *f = fopen(script.v[i].text, "r");
			if (!f) {
				em_begin(s->em, "source");
				hd_fail_errno(HD_ENOENT, errno, "%s", script.v[i].text);
				em_error(s->em, hd_errmsg());
				s->status = 1;
				continue;
			}
			shell_run_script(s, f);
			fclose(f);
		} else {
			cmd_run_line(s, script.v[i].text);
		}
	}
	vec_free(&script);

	if (!batch && !s->quit && !sig_terminating()) {
		s->interactive = isatty(STDIN_FILENO);
		if (s->interactive)
			shell_run_interactive(s);
		else
			shell_run_script(s, stdin);
	}

	term = sig_terminating();
	if (!term && sig_batch_interrupted()) {
		term = SIGINT;	/* batch: Ctrl-C ends the run */
		error_msg("interrupted: the remaining commands do not run");
	}
	if (term) {
		/* restore the target, then die the way we were asked to */
		session_emergency_cleanup(s);
		finish_target(s, false);
		session_free(s);
		signal(term, SIG_DFL);
		raise(term);
		return 128 + term;
	}
	if (s->tracer) {
		/* memory errors the tracer found count, reported or not */
		struct trace_status tst;
		tracer_status(s->tracer, &tst);
		if (tst.memerrs)
			s->found_problem = true;
	}
	finish_target(s, !quiet && !json);
	if (s->error_exitcode && s->found_problem)
		rc = s->error_exitcode;
	else
		rc = s->status ? 1 : 0;
	session_free(s);
	g_session = NULL;
	if (fflush(stdout) != 0 && errno == EPIPE)
		rc = rc ? rc : 1;
	if (out != stdout && fclose(out) != 0) {
		perror_msg("%s", log_file);
		rc = rc ? rc : 1;
	}
	return rc;

usage:
	/* (the script's list, so that a usage error leaks nothing: LeakSanitizer
	 * would turn the exit status into 1) */
	vec_free(&script);
	vec_free(&supp_files);
	return EXIT_USAGE;
}
