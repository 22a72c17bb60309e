/*
 * session.h - the state one heapdbg run carries between commands: the
 * target, its symbols and unwinder (opened on first use), the output
 * emitter, and what the analyses cached (the last heap walk, the tracer,
 * snapshots).
 */
#ifndef HEAPDBG_SESSION_H
#define HEAPDBG_SESSION_H

#include <stdbool.h>

#include "emit.h"
#include "symbols.h"
#include "target.h"
#include "unwind.h"

struct supp_set;

struct session {
	struct target *t;		/* NULL when no target */
	struct symbols *sym;		/* lazily opened */
	struct unwinder *unw;		/* lazily opened */
	struct emitter *em;
	char *debug_dir;		/* --debug-file-directory */
	bool batch, json, quiet, interactive;
	/* settings (`set`) */
	bool keep_alloc_frames;		/* allocation stacks keep malloc's own frames */
	bool no_confirm;		/* `set confirm off`: no question is asked */
	unsigned name_width;		/* C++ names longer are shortened in text (0: never) */
	bool fast_tracer;		/* `set tracer fast|breakpoints`: what trace start uses */
	bool tracer_set;		/* `set tracer` was given (else HEAPDBG_TRACER) */
	int error_exitcode;		/* --error-exitcode=N, 0 if unset */
	bool found_problem;		/* a leak of error_kinds or corruption seen */
	/* the leak check, in valgrind's options */
	unsigned show_kinds;		/* --show-leak-kinds: records shown (bits 1 << leak_kind) */
	unsigned error_kinds;		/* --errors-for-leak-kinds: what counts for --error-exitcode */
	struct supp_set *supp;		/* --suppressions=FILE..., or NULL */
	bool gen_supp;			/* --gen-suppressions=all */
	bool no_libc_freeres;		/* --run-libc-freeres=no */
	bool no_cxx_freeres;		/* --run-cxx-freeres=no */
	unsigned freeres_ran;		/* freeres functions run at the exit (launch) */
	int status;			/* 0, or 1 once a command failed */
	bool quit;			/* quit requested */
	bool end_seen;			/* the process's end was reported (continue, or a note) */
	bool end_noted;			/* how it ended was said on stderr */
	double started;			/* wall time the session started */
	/* Ask the person at the terminal a yes/no question (set by the front
	 * end only when stdin is a terminal and not in batch mode); NULL:
	 * every question is answered yes, as gdb does without a terminal. */
	bool (*query)(struct session *s, const char *question, bool on_eof);

	struct heap *heap;		/* the last walk, valid until the target runs */
	struct malloc_info *mi;		/* a look at malloc without a walk (info), same lifetime */
	struct reach *reach;		/* the last leak check, same lifetime */
	struct tracer *tracer;		/* allocation tracer (active or stopped) */
	struct snapset *snaps;		/* named snapshots: data, they outlive the target */
};

struct session *session_new(void);
/* Detach or close the target and free everything. */
void session_free(struct session *s);
/* Attach a target to the session (takes ownership). */
void session_set_target(struct session *s, struct target *t);
/* Close the target (live: detach first). */
void session_drop_target(struct session *s);
/* Attach to process pid and make it the session's target, loading what
 * needs no memory held still while it runs (live_attach_running): the
 * symbols, the modules malloc is found through, libc's debug info for
 * the layout check (and the layout cache); then stop it.  The commands
 * that follow hold it only for their reads.  0, or -1 with an hd error
 * (no target then). */
int session_attach_prepared(struct session *s, pid_t pid);
/* Symbols and unwinder, opened on first use; NULL with an hd error. */
struct symbols *session_symbols(struct session *s);
struct unwinder *session_unwinder(struct session *s);
struct heap;
/* The heap walk of the target as it is now (cached until it runs);
 * NULL with an hd error.  The walk fails for other allocators (with the
 * allocator named), succeeds with initialised=false before the first
 * malloc. */
struct heap *session_heap(struct session *s);
/* How malloc is found in the target, without walking the heap (the
 * walk's if there is one): a quick look for `info`.  NULL with an hd
 * error. */
struct malloc_info;
const struct malloc_info *session_malloc_info(struct session *s);
/* Same, but the walk must be of an initialised glibc heap. */
struct heap *session_glibc_heap(struct session *s);
/* session_heap and session_glibc_heap for commands that need nothing of
 * the chunks' contents after the walk (heap, chunks, snapshot, monitor):
 * a walk made now keeps no copies of live memory (heap_bytes() NULL), so
 * heapdbg's memory grows with the chunks, not the heap's bytes; a walk
 * already made is returned as it is.  session_heap() walks again with
 * copies when it meets a walk without them. */
struct heap *session_heap_nocopy(struct session *s);
struct heap *session_glibc_heap_nocopy(struct session *s);

/* What the tracer knows about blocks, or NULL when nothing is traced. */
const struct alloc_source *session_alloc_source(struct session *s);

struct reach;
/* The leak check of the current heap (cached like the walk). */
struct reach *session_reach(struct session *s);

struct snapset;
/* The session's named snapshots (created on first use, freed by
 * session_free; detaching or running the target leaves them alone). */
struct snapset *session_snapshots(struct session *s);

/* Hand the cached heap walk to the caller, who frees it (the session
 * walks again when a command needs one); NULL when there is none or the
 * cached leak check is made of it. */
struct heap *session_take_heap(struct session *s);
/* The target ran (or its memory may have changed): drop cached analyses,
 * refresh symbols when modules may have changed. */
void session_target_ran(struct session *s);
/* Before a command: a live process may have been killed while heapdbg
 * held it stopped (SIGKILL cannot be held off), or during the last
 * command.  Finds out, drops what was cached, and, unless a command
 * already reported the end (continue), says so once on stderr. */
void session_poll_target(struct session *s);
/* After a failed command: is the live process now at its exit or gone
 * (killed while the command ran)?  Collects what happened, says nothing;
 * the next session_poll_target tells. */
bool session_target_ended_now(struct session *s);
/* Say once on stderr how a live process ended ("process N killed by
 * SIGKILL"), if it did; held: it is held at its exit. */
void session_note_end(struct session *s, bool held);

/* A program heapdbg started: at its exit, before exit_group, run
 * libstdc++'s __gnu_cxx::__freeres and glibc's __libc_freeres in the
 * exiting thread, as valgrind does (unless --run-*-freeres=no), so that
 * the C and C++ runtimes' own buffers are freed before the leak check at
 * exit.  Silently nothing when _exit cannot be found. */
void session_arm_exit(struct session *s);

/* Emergency cleanup for signals and fatal errors: restore every byte the
 * tracer patched, resume and detach.  Safe to call more than once. */
void session_emergency_cleanup(struct session *s);

/* The hooks live_run() must use now (the tracer's while it runs). */
const struct live_hooks *session_hooks(struct session *s);

/* Ask question (ending in "(y or n) ") when a person can answer: true
 * for yes.  Without one (batch, stdin not a terminal) true at once; at
 * the end of input on_eof. */
bool session_confirm(struct session *s, const char *question, bool on_eof);

/* Fail unless there is a target (and, when live is true, a live one). */
int session_need_target(struct session *s, bool live);

/* Parse an address expression: a number, a symbol, symbol+off, or a
 * register of the first thread ($rsp, $pc).  0 or -1. */
int session_parse_addr(struct session *s, const char *expr, uint64_t *out);

/* Whether `trace start` without --fast or --breakpoints uses fast
 * tracepoints: `set tracer`, else HEAPDBG_TRACER=fast in the environment;
 * breakpoints by default. */
bool session_fast_tracer(const struct session *s);

#endif
