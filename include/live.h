/*
 * live.h - process control for a live target: attach, launch, stop every
 * thread, run until something happens, detach, kill.
 *
 * One place owns ptrace's wait loop (as strace's strace.c does): every
 * waitpid status is decoded here.  Layers above that need to see
 * breakpoint traps, new threads, forks and execs (the tracer) register
 * hooks; everything else (signals for the target, job-control stops, the
 * process exiting) is handled here so the target behaves exactly as it
 * would without heapdbg.
 *
 * Attachment uses PTRACE_SEIZE on every thread (never PTRACE_O_EXITKILL:
 * if heapdbg dies the target lives on).  Detach puts back the run state the
 * process had at attach: a job that was stopped stays stopped.
 */
#ifndef HEAPDBG_LIVE_H
#define HEAPDBG_LIVE_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "target.h"

/* Attach to every thread of PID and stop them all.  NULL with an hd
 * error: HD_ENOPROC (no such process, zombie, kernel thread), HD_EPERM
 * (with the reason: another tracer, other user, Yama, heapdbg itself). */
struct target *live_attach(pid_t pid);
/* The same without stopping it: every thread is seized (new ones are
 * traced from their start, PTRACE_O_TRACECLONE) and left running, so
 * that what needs no memory held still (symbols, libc's debug info) is
 * loaded while the process runs; /proc's maps, auxv and names are read.
 * Only memory (process_vm_readv) and /proc may be read until
 * live_stop_all(), which the caller must call before anything else (a
 * thread that meets a ptrace event meanwhile waits in it until then). */
struct target *live_attach_running(pid_t pid);

/* Start argv[0] (searched in PATH) and stop it where the dynamic loader
 * reports every library loaded and relocated (_dl_debug_state with
 * r_debug.r_state RT_CONSISTENT), before any initialiser has run, so the
 * program has made no allocation yet; a static program at its entry
 * point.  The program runs in its own process group.  out_fd, err_fd:
 * descriptors of heapdbg's that become the program's stdout and stderr
 * (-1: heapdbg's own, inherited); heapdbg keeps its copies.  NULL with an
 * hd error. */
struct target *live_launch(char *const argv[], int out_fd, int err_fd);

/* What a hook wants done with the thread that trapped. */
enum trap_action {
	TRAP_NOT_MINE,		/* not ours: deliver SIGTRAP to the target */
	TRAP_RESUME,		/* handled: resume the thread (no signal) */
	TRAP_HOLD,		/* handled: leave it stopped, the hook resumes it */
};

struct live_hooks {
	void *ctx;
	/* A SIGTRAP stop that is not a ptrace event (int3, single step, or a
	 * SIGTRAP sent to the target).  No siginfo is fetched (a ptrace call
	 * at every traced allocation): the hook tells its traps by where the
	 * thread stopped. */
	enum trap_action (*on_trap)(void *ctx, struct target *t, struct target_thread *th);
	/* A thread was created (it is stopped or about to report its start). */
	void (*on_thread_new)(void *ctx, struct target *t, struct target_thread *th);
	/* A thread is gone; called before it is removed. */
	void (*on_thread_exit)(void *ctx, struct target *t, struct target_thread *th);
	/* fork/vfork: the child is attached and stopped (parent: the thread
	 * that forked, or NULL when unknown).  The hook must make the child
	 * clean (remove breakpoints).  Return true to keep it traced instead
	 * of detaching it: a vfork child shares the parent's memory, so its
	 * traps are handed to on_foreign_trap until it execs or exits. */
	bool (*on_fork)(void *ctx, struct target *t, struct target_thread *parent, pid_t child, bool is_vfork);
	/* A SIGTRAP in a kept child: adjust *regs and return true if it was a
	 * breakpoint of ours; false delivers the SIGTRAP. */
	bool (*on_foreign_trap)(void *ctx, struct target *t, pid_t pid, hd_regs_t *regs);
	/* execve happened: the image is new; maps and auxv are re-read. */
	void (*on_exec)(void *ctx, struct target *t);
	/* Before the loop waits again; return true to end the run (RUN_HOOK). */
	bool (*want_stop)(void *ctx, struct target *t);
	/* The thread that vforked is back (PTRACE_EVENT_VFORK_DONE): its
	 * child has exec'd or exited. */
	void (*on_vfork_done)(void *ctx, struct target *t, struct target_thread *th);
	/* Work to do while the target runs (the fast tracer drains its
	 * ring): called by live_run's loop at least every poll_ms
	 * milliseconds and whenever the loop wakes.  It returns how many
	 * milliseconds it may wait until the next call (<= 0: poll_ms). */
	int (*on_poll)(void *ctx, struct target *t);
	int poll_ms;
};

enum run_end {
	RUN_TIMEOUT,		/* the time given ran out */
	RUN_INTERRUPTED,	/* Ctrl-C */
	RUN_EXITED,		/* the process is exiting; stopped with memory intact */
	RUN_GONE,		/* the process no longer exists */
	RUN_TERMINATE,		/* heapdbg got SIGTERM or SIGHUP: clean up and exit */
	RUN_HOOK,		/* a hook asked to stop */
};

struct run_result {
	enum run_end end;
	int wait_status;	/* RUN_EXITED/RUN_GONE: how it ended, when known */
	bool have_status;
	double seconds;		/* time spent running */
	unsigned long signals;	/* signals passed on to the target */
	unsigned long new_threads, exited_threads, forks, execs;
};

const char *run_end_name(enum run_end e);

/* Resume every thread and handle events until SECONDS pass (<= 0: no
 * limit), Ctrl-C, exit, or a hook's want_stop.  On return every thread is
 * stopped again (or the process is gone).  0, or -1 with an hd error. */
int live_run(struct target *t, double seconds, const struct live_hooks *hooks,
	     struct run_result *res);

/* Work of the caller's own to do while the process runs, in the next
 * live_run only (monitor reads the free lists before it stops the
 * process to confirm them): fn is called from live_run's loop, events
 * handled between calls, first at once, then again after the number of
 * milliseconds it returns (0: at once; -1: no more calls in this run;
 * -2: none, and end the run now, RUN_HOOK).  deadline_ns is when the run will end by its SECONDS (0: no
 * limit), on hd_now_ns()'s clock.  fn must not stop or resume threads;
 * it may read memory (target_read_many, target_read_uncached).  The run
 * ends at its deadline whether fn is done or not.  NULL fn: none. */
void live_set_work(struct target *t, int (*fn)(void *ctx, struct target *t, uint64_t deadline_ns), void *ctx);

/* Stop every running thread (PTRACE_INTERRUPT) and wait for each. */
int live_stop_all(struct target *t);
/* Resume one stopped thread, delivering its pending signal. */
int live_resume(struct target *t, struct target_thread *th);
/* Single-step one stopped thread and wait for the step to finish (other
 * events for that thread that arrive meanwhile are handled). 0 or -1. */
int live_step(struct target *t, struct target_thread *th);
/* A stopped thread that executed an int3 whose SIGTRAP the kernel has
 * not reported yet (an interrupt stop came first) still has it pending:
 * take it out, so it is never delivered.  The thread stays stopped and
 * runs no instruction.  0, or -1 with an hd error. */
int live_drain_signal(struct target *t, struct target_thread *th, int sig);
/* Is sig pending for the thread (its private pending set)? */
bool live_signal_pending(const struct target *t, pid_t tid, int sig);

/* Write registers of a stopped thread. */
int live_set_regs(struct target *t, struct target_thread *th, const hd_regs_t *regs);

/* Detach from every thread, leaving the process as it was found (a stopped
 * job stays stopped); a process stopped at its exit finishes exiting.
 * The target is closed afterwards by target_close(). 0 or -1. */
int live_detach(struct target *t);
/* Kill the process (SIGKILL) and reap what we can. */
int live_kill(struct target *t);

/* Collect what happened to a stopped process behind heapdbg's back: a
 * SIGKILL from outside ends it even while every thread is held stopped.
 * Statuses already queued are decoded, every thread kept stopped; once
 * one thread reported its death, the others are waited for (bounded).
 * Never blocks otherwise.  True when the process is now at its exit
 * (memory intact) or gone; live_exit_status() tells how it ended. */
bool live_poll(struct target *t);

/* The process is stopped at its exit (memory intact). */
bool live_at_exit(const struct target *t);
/* The process no longer exists. */
bool live_gone(const struct target *t);
/* Exit wait-status recorded for an exited process; false if unknown. */
bool live_exit_status(const struct target *t, int *status);
/* We started this process (launch mode). */
bool live_launched(const struct target *t);
/* Let a process stopped at its exit finish, reap it, record its status. */
int live_finish(struct target *t);

/* Describe a wait status: "exited with status 3", "killed by SIGSEGV". */
const char *wait_status_str(int status, char buf[64]);

/* The exit break: an int3 at addr (the C library's _exit).  When a
 * thread reaches it, every other thread is stopped and fn(ctx, t, th) is
 * called with that thread stopped at addr, where fn may use live_call;
 * then the break is removed and the threads run on, th into _exit.  The
 * break is kept out of fork children, lifted while a vfork child shares
 * the memory, gone at an exec, and removed at detach.  addr 0 removes
 * it.  0 or -1. */
int live_set_exit_break(struct target *t, uint64_t addr,
			void (*fn)(void *ctx, struct target *t, struct target_thread *th), void *ctx);
/* In the exit break's callback only: run the function at fn in th (no
 * arguments), the other threads stopped, events (the tracer's
 * breakpoints) handled as in live_run, until it returns (*ret: rax) or
 * timeout seconds pass (then th is taken back).  th's registers are
 * restored either way.  0, or -1 with an hd error. */
int live_call(struct target *t, struct target_thread *th, uint64_t fn, double timeout, uint64_t *ret);

/* Hooks the tracer installs while active, used by stop/resume paths that
 * are not live_run (detach, the front end's emergency cleanup). */
void live_set_hooks(struct target *t, const struct live_hooks *hooks);

/* True while live_stop_all() is stopping every thread (hooks must then
 * leave the thread they handle stopped). */
bool live_stopping(const struct target *t);

/* Number of ptrace stops handled so far (statistics). */
unsigned long live_stop_count(const struct target *t);

/* How long the process has been held so far, in ns: the time every one
 * of its threads was in a ptrace-stop at once (attach to resume, a
 * command's reads, a traced call's stop in a one-thread process), the
 * current hold included. */
uint64_t live_held_ns(const struct target *t);

#endif
