/*
 * tracer-fast.h - fast tracepoints for the allocation tracer: a jump at
 * each allocator entry point into a pad in a code page heapdbg maps in
 * the target, an in-target collector (src/agent/, whose header hdagent.h
 * is the contract for the memory both sides share) that writes every
 * call into a ring in shared memory, and heapdbg reading that ring while
 * the target runs.  No traced call stops the thread.
 *
 * The tracer (tracer.c) decides which entry points to trace and handles
 * the events (records, stacks); this module owns the code page, the
 * shared memory, the patched bytes and the agent's state.  Entry points
 * it cannot patch (too short, a branch target among the first bytes, a
 * displaced instruction that cannot move) are left to the tracer's
 * breakpoints, with the reason.
 *
 * Lifetime in the target: fast_setup() maps the code page (given) with
 * its private page and the ring, fast_arm() writes the jumps, fast_disarm()
 * puts the original bytes back (every thread stopped, none with its pc in
 * a patched range: a 5-byte jmp is one instruction) and turns the agent
 * off.  A thread may still be inside a pad, or inside a function the pad
 * called, and return into the code page later: fast_busy() says whether
 * any may, and fast_unmap() removes the pages only when none may.
 * If heapdbg dies without any of this, the agent finds its pipe closed
 * the next time it would wait, and passes every call straight through.
 */
#ifndef HEAPDBG_TRACER_FAST_H
#define HEAPDBG_TRACER_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "symbols.h"
#include "target.h"

struct fastpath;

struct fast_entry {
	uint64_t addr;		/* the entry point */
	unsigned index;		/* the tracer's, handed back in events (< 256) */
	bool is_free;		/* recorded at entry, no result */
	bool out_ptr;		/* posix_memalign: the block is *arg[0] */
	bool frees_old;		/* realloc, reallocarray: arg[0] is a block it frees */
	uint8_t size_kind;	/* HDA_SIZE_*: where its size is (sampling) */
	/* set by fast_setup: */
	bool patched;
	const char *why;	/* why not (static text), when !patched */
	uint64_t body_lo, body_hi;	/* the function's bounds (0: unknown) */
	uint8_t len;		/* bytes displaced */
};

/* Run a system call in a stopped thread of the target (the tracer's). */
typedef int (*fast_inject_fn)(void *ctx, long nr, const uint64_t a[6], uint64_t *ret);

struct fast_config {
	uint64_t code;		/* HDA_MAP_SIZE bytes mapped r-x within rel32 reach of every entry */
	size_t ring_size;	/* bytes, a power of two */
	uint32_t stack_first;	/* stack bytes copied while a thread's need is unknown */
	uint32_t stack_max;
	int depth;		/* frames per stack */
	bool agent_unwinds;	/* the agent unwinds with published rules */
	bool free_stacks;	/* a free's event carries its whole stack (else its caller) */
	uint64_t sample_rate;	/* 0: every call; else about one allocation per this many bytes */
	uint64_t sample_seed;	/* the threads' PRNGs start from it */
	fast_inject_fn inject;
	void *inject_ctx;
};

/* Set up the agent in the target (every thread stopped): the private
 * page, the ring, the agent's code and one stub per entry point that can
 * be patched (e[i].patched, else e[i].why).  Nothing is patched yet.
 * NULL with an hd error; whatever was mapped is then unmapped again,
 * except the code page (the caller's). */
struct fastpath *fast_setup(struct target *t, struct symbols *s, struct fast_entry *e, unsigned n,
			    const struct fast_config *cfg);
/* Calls returning to [lo, hi) are inner calls (the breakpoint tracer's
 * trampoline).  Before fast_arm(). */
void fast_add_inner(struct fastpath *fp, uint64_t lo, uint64_t hi);
/* Give the agent each stopped thread's stack range (saves each a HELLO). */
void fast_prime_threads(struct fastpath *fp);
/* Write the jumps and turn the agent on (every thread stopped; a thread
 * whose pc is inside a range about to be patched is stepped out first).
 * 0, or -1 with an hd error and nothing patched. */
int fast_arm(struct fastpath *fp);

/* One event, as fast_drain() hands it over. */
struct fast_event {
	bool is_call;		/* an allocation at its return; else a free at entry (its
				 * stack as an allocation's, or none: arg[1] is the caller) */
	uint64_t pos;		/* where it is in the ring (bytes since the start) */
	unsigned index;
	pid_t tid;
	uint32_t slot;
	double time;		/* wall clock, from the thread's rdtsc */
	uint64_t arg[3];
	uint64_t ret;
	bool have_out;
	uint64_t out;
	hd_regs_t regs;		/* at entry: rip, rsp, rbp, rbx, r12-r15 (the rest 0) */
	const uint8_t *stack;	/* copied from regs.rsp up */
	size_t stack_len;
	const uint64_t *pcs;	/* or the frames, unwound by the agent */
	int npcs;
	uint32_t stack_id;	/* or the id of a stack published with fast_publish_stack() (0: none) */
	bool sampled;		/* sampling: the result is a sampled block */
	bool old_sampled;	/* sampling: realloc's arg[0] was a sampled block */
	bool checked;		/* realloc's arg[0] was checked at the agent's trap (fast_pass_checked) */
};

typedef void (*fast_event_fn)(void *ctx, const struct fast_event *ev);
/* Hand every committed event to fn, in order, and free their room
 * (waking producers that wait for it); answer threads that asked for
 * their stack range.  Never waits, and reads at most one ring's worth of
 * bytes (the threads of a running process may write as fast as it
 * reads): a stopped process's ring is emptied.  Returns the number of
 * events. */
size_t fast_drain(struct fastpath *fp, fast_event_fn fn, void *ctx);
/* Drain until every event reserved before the call is read (other
 * threads may still be writing theirs), for at most timeout seconds.
 * False when some were not committed in time. */
bool fast_drain_all(struct fastpath *fp, fast_event_fn fn, void *ctx, double timeout);
/* Bytes reserved in the ring so far (events before this are written or
 * being written), and bytes read by fast_drain. */
uint64_t fast_reserved(const struct fastpath *fp);
uint64_t fast_read_pos(const struct fastpath *fp);
/* How full the ring is, 0..1. */
double fast_fill(const struct fastpath *fp);
/* Publish the CFI rule at lookup pc for the agent's unwinds. */
struct cfi_rule_info;
void fast_publish_rule(struct fastpath *fp, uint64_t pc, const struct cfi_rule_info *r);
/* Publish stack id, interned from the agent's pcs[0..n), for the agent:
 * its next allocations with these pcs carry the id alone.  Silently
 * nothing once the table or its pool is full. */
void fast_publish_stack(struct fastpath *fp, const uint64_t *pcs, int n, uint32_t id);
/* The thread of slot copies need bytes of stack from now on (raised only). */
void fast_set_need(struct fastpath *fp, uint32_t slot, uint32_t need);

/* The agent checks the chunk at every free and realloc from now on and
 * traps when it is suspicious (hdagent.h, hda_shm.check); tcache_key:
 * glibc's (0: unknown, not compared), or tcache_key_addr: where the
 * agent reads it at each check (it is set when malloc initialises).
 * Calls returning into [own_lo, own_hi) (glibc's own) are not checked,
 * but when tcache_tpoff is not 0 only those of a thread whose TLS word
 * there (glibc's tcache) is NULL: a dying thread's, freeing its tcache;
 * glibc's other frees (fclose's, ...) free what the program gave it. */
void fast_set_check(struct fastpath *fp, uint64_t tcache_key, uint64_t tcache_key_addr, uint64_t own_lo,
		    uint64_t own_hi, int32_t tcache_tpoff);
/* Is pc (a thread's rip after an int3) the agent's check trap gate?
 * Then the thread's %rdi is its pad frame and %rsi its slot. */
bool fast_is_check_trap(const struct fastpath *fp, uint64_t pc);
/* The entry point the pad frame's func names (0: unknown). */
uint64_t fast_entry_pc(const struct fastpath *fp, uint64_t func);
/* The thread of slot (its address in the target) passes its next call
 * through unchecked and unrecorded (HDA_SLOT_ONCE).  0 or -1. */
int fast_pass_once(struct fastpath *fp, uint64_t slot);
/* The same for a realloc, but its call is recorded (its event says
 * `checked`: heapdbg judged its pointer at the trap) (HDA_SLOT_NOCHECK). */
int fast_pass_checked(struct fastpath *fp, uint64_t slot);

/* A thread is gone: forget what its slot says about it. */
void fast_thread_exit(struct fastpath *fp, pid_t tid);
/* The thread with thread pointer tp vforked (on) or its child released
 * it (off): while on, its calls pass through (the child runs in its
 * memory, on its stack, with its thread pointer). */
void fast_pass_thread(struct fastpath *fp, uint64_t tp, bool on);
/* A fork child (stopped): put the original bytes back in its memory. */
void fast_clean_child(struct fastpath *fp, pid_t child);

/* Put every original byte back and turn the agent off (every thread
 * stopped).  0, or -1 when an entry point held other bytes than our jump
 * (left alone, with a warning). */
int fast_disarm(struct fastpath *fp);
/* Could a thread still be in, or return into, the code page?  (Threads
 * must be stopped for their pcs to count.) */
bool fast_busy(struct fastpath *fp);
/* Unmap the pages in the target (only when !fast_busy()) and close the
 * agent's pipe end there. */
int fast_unmap(struct fastpath *fp);
/* The target executed a new program: its side is gone; forget it. */
void fast_forget_target(struct fastpath *fp);
/* heapdbg's side: unmap, close. */
void fast_free(struct fastpath *fp);

struct fast_stats {
	uint64_t events;	/* drained */
	uint64_t waits;		/* events that waited for room in the ring */
	uint64_t lost;		/* events that found no room and could not wait */
	uint64_t noslot;	/* calls not traced: the thread table was full */
	uint64_t hellos;	/* threads that asked for their stack range */
	uint64_t ring_size;
	uint32_t threads;	/* slots in use */
	uint64_t sampled;	/* sampling: allocations sampled */
	uint64_t sset_full;	/* sampling: sampled allocations dropped (the sample set was full there) */
	bool gone;		/* the agent found heapdbg gone (cannot be seen by heapdbg, but kept) */
	bool mapped;		/* the pages are still mapped in the target */
	uint64_t code;		/* where */
};
void fast_stats(const struct fastpath *fp, struct fast_stats *st);

#endif
