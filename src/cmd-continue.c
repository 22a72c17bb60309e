/*
 * cmd-continue.c - `continue [SECONDS]`: let a live target run until
 * SECONDS pass, Ctrl-C, or it exits; then every thread is stopped again.
 * A process that exits is held at its exit with its memory intact, so
 * later commands see its final heap; continuing again lets it finish.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int
continue_exec(struct session *s, int argc, char **argv)
{
	double secs = 0;
	struct run_result res;
	char b[64];
	int rc;

	if (argc > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_continue_entry.usage);
	if (argc == 2 && (parse_double(argv[1], &secs) < 0 || secs < 0))
		return hd_fail(HD_EUSAGE, "SECONDS must be a non-negative number");
	if (s->batch && secs == 0 && !live_launched(s->t) && !live_at_exit(s->t))
		warn_msg("continue without SECONDS runs until the process exits or Ctrl-C");
	em_text(s->em, "Continuing.\n");
	em_flush(s->em);	/* said before it runs, as gdb */
	rc = live_run(s->t, secs, session_hooks(s), &res);
	session_target_ran(s);
	if (res.end == RUN_EXITED || res.end == RUN_GONE)
		s->end_seen = true;	/* our output says so */
	cmd_emit_memerrs(s);	/* what the tracer found while it ran */
	if (rc < 0)
		return -1;
	em_fmt(s->em, "{reason:%s}", run_end_name(res.end));
	em_fmt(s->em, " after {seconds:%.3f} s", res.seconds);
	switch (res.end) {
	case RUN_EXITED:
		em_fmt(s->em, ": process {pid:%d} {status:%s}; held at its exit with its memory intact",
		       (int)s->t->pid, res.have_status ? wait_status_str(res.wait_status, b) : "exiting");
		break;
	case RUN_HOOK:
		em_text(s->em, " at a memory error: the thread is held at the call (bt, chunk, refs); "
			"`continue` lets the call go on");
		em_fmt(s->em, "; {threads:%zu} thread%s stopped", s->t->nthreads, plural(s->t->nthreads));
		break;
	case RUN_GONE:
		em_fmt(s->em, ": process {pid:%d} {status:%s}", (int)s->t->pid,
		       res.have_status ? wait_status_str(res.wait_status, b) : "is gone");
		break;
	default:
		em_fmt(s->em, "; {threads:%zu} thread%s stopped", s->t->nthreads, plural(s->t->nthreads));
		break;
	}
	if (res.have_status) {
		if (WIFEXITED(res.wait_status))
			em_int(s->em, "exit_code", WEXITSTATUS(res.wait_status));
		else if (WIFSIGNALED(res.wait_status)) {
			const char *ab = sigabbrev_np(WTERMSIG(res.wait_status));
			char sig[32];
			snprintf(sig, sizeof(sig), "SIG%s", ab ? ab : "?");
			em_str(s->em, "signal", sig);
		}
	}
	em_uint(s->em, "signals_passed", res.signals);
	em_uint(s->em, "new_threads", res.new_threads);
	em_uint(s->em, "exited_threads", res.exited_threads);
	em_uint(s->em, "forks", res.forks);
	em_uint(s->em, "execs", res.execs);
	if (res.signals)
		em_text(s->em, " (%lu signal%s passed on)", res.signals, plural(res.signals));
	em_text(s->em, "\n");
	if (res.end == RUN_TERMINATE) {
		s->quit = true;
	}
	return 0;
}

const struct cmd_entry cmd_continue_entry = {
	.name = "continue",
	.alias = "c",
	.usage = "continue [SECONDS]",
	.summary = "let the process run (SECONDS, until Ctrl-C, or until it exits)",
	.help = "Resumes every thread.  Signals for the process are passed on as they\n"
		"are; job-control stops are honoured.  When SECONDS pass, Ctrl-C is\n"
		"pressed or the process exits, every thread is stopped again.  A\n"
		"process that exits is held at its exit with its memory intact, so\n"
		"heap, leaks and top see its final state; `continue` again lets it\n"
		"finish.  JSON: reason (timeout, interrupted, exited, gone,\n"
		"terminated), seconds, status, exit_code or signal.",
	.flags = CMD_NEEDS_LIVE,
	.exec = continue_exec,
};
