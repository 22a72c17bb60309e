/*
 * hdagent.h - the contract between heapdbg and its in-target collector
 * (the agent): the layout of the memory both sides read and write.
 * Nothing else crosses the boundary.  Every field has a fixed width; the
 * layout is versioned (HDA_VERSION) and heapdbg checks the agent it
 * embeds against it at build time (static asserts below) and the agent
 * checks nothing: heapdbg wrote every byte it reads.
 *
 * What heapdbg maps in the target with injected system calls, within
 * +-2 GiB of the allocator's text (rel32 jumps reach it):
 *
 *	code	HDA_CODE_SIZE bytes, r-x, private anonymous:
 *		+0	the agent (src/agent/pad.S + agent.c, position
 *			independent, no libc, no data; built by the Makefile
 *			into hda_blob[] in heapdbg)
 *		+HDA_STUB_OFF	one stub per patched entry point (heapdbg
 *			writes them: see tracer-fast.c), HDA_STUB_SIZE each
 *	priv	one page right after the code, rw, private anonymous,
 *		MADV_WIPEONFORK: struct hda_priv.  A fork child reads zeros
 *		there, so it passes every call straight through.
 *
 * and, anywhere (the kernel picks the address), the shared region: a
 * memfd (created by an injected memfd_create, closed again once mapped)
 * mapped MAP_SHARED by the target and by heapdbg (which opens it through
 * /proc/PID/fd/N):
 *
 *	+0		struct hda_shm (the header)
 *	+slots_off	struct hda_slot[nslots]: per-thread state
 *	+rules_off	struct hda_rule[nrules]: published CFI rules
 *	+stacks_off	struct hda_stack[nstacks]: published stacks
 *	+spool_off	uint64_t[spool_words]: their pcs
 *	+ring_off	ring_size bytes of events
 *
 * Each patched entry point starts with `jmp rel32` to its stub:
 *
 *	stub:	cmpl $0, priv.enabled(%rip); je body   (off: run the function)
 *		mov $index, %eax; lea body(%rip), %r11; jmp hda_pad
 *	body:	the displaced instructions, relocated by heapdbg; jmp entry+len
 *
 * hda_pad (pad.S) saves the arguments and the callee-saved registers in a
 * frame on the thread's stack below the caller's red zone and calls
 * hda_enter().  When that says "record" the pad CALLs the body (the
 * caller's return address stays where it is: no shadow stack, nothing to
 * restore), then hda_exit() records the call with its result, and the pad
 * returns to the caller.  Otherwise it jumps to the body with every
 * register as it was.  A free is recorded at entry, before the block can
 * be handed out again, with its stack unwound there (the entry's stack
 * pointer points at the return address); an allocation at return, with
 * the stack copied from the entry's stack pointer up (the caller's frames
 * do not change while it waits for the call).
 *
 * The ring: producers reserve [pos, pos+len) by compare-and-swap on head,
 * only when it fits (so a reservation is never waited on), write the
 * event and then its commit word (pos ^ key) last; heapdbg reads events in
 * order from tail, stopping at the first whose commit word is not yet
 * there, and advances tail.  A full ring makes the producer wait on the
 * futex `wake` (a shared mapping: never FUTEX_PRIVATE) with a timeout,
 * after which it asks whether heapdbg still lives (poll on the read end
 * of a pipe whose only writer is heapdbg: POLLHUP once heapdbg is gone,
 * however it died).  If not, it clears priv.enabled and every later call
 * passes straight through.  HDA_RESERVE bytes at the end of the ring are
 * kept for a thread that already holds a reservation (a signal handler
 * allocating while its thread writes an event): it cannot wait, since
 * heapdbg cannot read past the event the thread is writing.
 *
 * Stacks: heapdbg unwinds a stack copy with its cached CFI rules (the
 * breakpoint tracer's path) and publishes each pc's rule in the rule
 * table (pc -> CFA = rsp or rbp + offset, return address and rbp saved at
 * offsets from the CFA).  An allocation whose frames all have published,
 * simple rules is unwound by the agent itself, in exactly the same steps
 * (unwind-cfi.c's), and its event carries the pcs (HDA_EVF_PCS); else it
 * carries a copy of the stack, as much as that thread's unwinds need.
 * heapdbg publishes each stack it interned from pcs in the stack table
 * (struct hda_stack); a later allocation with the same pcs is sent as
 * the stack's id alone (HDA_EV_CALLID: 80 bytes instead of 144 + 8 a
 * frame, and nothing for heapdbg to hash).  A free's stack takes the same
 * three forms (HDA_EV_FREEID, HDA_EV_FREESTK with or without HDA_EVF_PCS),
 * unless free stacks are off (hda_shm.free_stacks 0: HDA_EV_FREE, the
 * caller alone).
 *
 * Per thread (keyed by its thread pointer, %fs:0): the stack range it may
 * copy from (heapdbg fills it: at trace start, and when a thread asks with
 * a HELLO event and waits on hello_seq), how many bytes its unwinds need,
 * and counters heapdbg reads to know when the code page may go: in_flight
 * (calls between hda_enter and their return) and holding (a reservation
 * not yet committed).
 */
#ifndef HEAPDBG_HDAGENT_H
#define HEAPDBG_HDAGENT_H

#include <stdint.h>

#include "hdagent-off.h"	/* the offsets pad.S reads */

#define HDA_MAGIC 0x48444147u	/* "HDAG" */
#define HDA_VERSION 2

#define HDA_CODE_SIZE 16384	/* the code mapping */
#define HDA_STUB_OFF 8192	/* the first stub */
#define HDA_STUB_SIZE 96
#define HDA_MAX_ENTRIES 16
#define HDA_PRIV_OFF HDA_CODE_SIZE	/* struct hda_priv */
/* The check's trap gate, after the stubs: heapdbg writes `int3; ret`
 * there while it takes the traps and `ret` once it disarms, so a thread
 * stopped on its way to the gate at trace stop passes through. */
#define HDA_TRAP_OFF (HDA_STUB_OFF + HDA_MAX_ENTRIES * HDA_STUB_SIZE)
#define HDA_MAP_SIZE (HDA_CODE_SIZE + 4096)	/* code + priv */

#define HDA_MAX_INNER 24	/* ranges whose calls are inner calls */

/* The stub's %eax: the entry point's index (heapdbg's order) and what
 * kind of function it is. */
#define HDA_FN_INDEX 0xffu
#define HDA_FN_FREE 0x100u	/* free, cfree: recorded at entry */
#define HDA_FN_OUTPTR 0x200u	/* posix_memalign: the result is *arg[0] */
#define HDA_FN_OLD 0x400u	/* realloc, reallocarray: rdi is a block it frees */
#define HDA_FN_SIZE_SHIFT 12	/* bits 12-14: where the size is (sampling) */
#define HDA_FN_SIZE_MASK (7u << HDA_FN_SIZE_SHIFT)
#define HDA_SIZE_RDI 0		/* malloc, valloc, pvalloc */
#define HDA_SIZE_RDI_RSI 1	/* calloc: rdi * rsi */
#define HDA_SIZE_RSI 2		/* realloc, memalign, aligned_alloc */
#define HDA_SIZE_RSI_RDX 3	/* reallocarray: rsi * rdx */
#define HDA_SIZE_RDX 4		/* posix_memalign */

/* struct hda_priv: the private page (wiped in a fork child) */
struct hda_priv {
	uint32_t enabled;	/* 1: record calls; 0: pass straight through */
	uint32_t pad0;
	uint64_t shm;		/* address of struct hda_shm in the target */
};

/* A published CFI rule (heapdbg writes pc last; 0: empty).  The pc is
 * the lookup pc: the entry point for the innermost frame, a return
 * address minus 1 for the others. */
struct hda_rule {
	uint64_t pc;
	uint8_t ok;		/* 0: not simple (the agent sends a stack copy) */
	uint8_t cfa_rbp;	/* CFA from rbp (else rsp) */
	uint8_t ra, rbp;	/* HDA_SAVED_* */
	int32_t cfa_off, ra_off, rbp_off;	/* ra_off, rbp_off: from the CFA */
};
#define HDA_SAVED_SAME 0
#define HDA_SAVED_AT 1
#define HDA_SAVED_UNDEF 2
#define HDA_MAX_DEPTH 256

/* hda_slot.flags */
#define HDA_SLOT_PASS 1u	/* pass through (a vfork child shares this thread) */
#define HDA_SLOT_ONCE 2u	/* pass the next call through, then clear it (the call heapdbg
				 * held at a memory error, let go: it runs as called, unchecked) */
#define HDA_SLOT_NOCHECK 4u	/* the next call goes on unchecked but recorded, its event flagged
				 * HDA_EVF_CHECKED (a realloc heapdbg checked at its trap) */

struct hda_slot {
	uint64_t key;		/* the thread pointer (%fs:0); 0: free */
	uint32_t tid;		/* 0: unknown (the agent asks gettid) */
	uint32_t flags;		/* HDA_SLOT_* (heapdbg sets them) */
	uint64_t stack_lo, stack_hi;	/* the mapping its stack is in (0: unknown) */
	uint32_t stack_need;	/* bytes to copy at an allocation (0: shm.stack_first) */
	uint32_t in_flight;	/* calls recorded at entry, not yet returned */
	uint32_t holding;	/* a ring reservation not yet committed */
	uint32_t hello_seq;	/* futex: heapdbg answered this slot's HELLO */
	uint64_t events;	/* events written (statistics) */
	uint64_t pad1;
	/* sampling (hda_shm.sample_rate != 0): the thread's own */
	int64_t sample_left;	/* bytes until its next sample */
	uint64_t rng;		/* its PRNG state (0: not seeded yet) */
	uint64_t pad4[6];
};

struct hda_range {
	uint64_t lo, hi;
};

struct hda_shm {
	uint32_t magic, version;
	uint32_t nslots;	/* a power of two */
	uint32_t slots_off;
	uint64_t ring_off;
	uint64_t ring_size;	/* a power of two */
	uint64_t key;		/* the commit word of the event at pos is pos ^ key */
	uint32_t stack_first;	/* bytes copied for a thread whose need is unknown */
	uint32_t stack_max;
	int32_t live_fd;	/* the target's read end of heapdbg's liveness pipe */
	uint32_t ninner;
	uint32_t nrules;	/* a power of two (0: the agent never unwinds) */
	uint32_t rules_off;	/* struct hda_rule[nrules] */
	uint32_t depth;		/* frames per stack (<= HDA_MAX_DEPTH) */
	uint32_t free_stacks;	/* 1: a free's event carries its stack (HDA_EV_FREEID,
				 * HDA_EV_FREESTK); 0: only its caller (HDA_EV_FREE) */
	uint64_t entry_pc[HDA_MAX_ENTRIES];	/* the entry points, by index */
	/* A call whose return address is in one of these is an inner call
	 * of a traced one (realloc(p, 0) calls free) or its tail call (the
	 * return address is then in the code page): not counted. */
	struct hda_range inner[HDA_MAX_INNER];
	/* Known stacks (0 entries: none): struct hda_stack[nstacks] at
	 * stacks_off, their pcs in a pool of spool_words u64 at spool_off. */
	uint32_t nstacks;	/* a power of two */
	uint32_t stacks_off;
	uint32_t spool_off;
	uint32_t spool_words;
	/* Sampling (trace start --sample BYTES): 0, every call; else about
	 * one allocation per sample_rate bytes allocated, each thread
	 * drawing the bytes to its next sample from an exponential
	 * distribution of that mean (a Poisson process over the bytes, as
	 * tcmalloc and Go's MemProfileRate).  A sampled block's address is
	 * kept in the sample set (sset_off, nsset buckets of struct
	 * hda_sbucket) until its free, the only frees recorded. */
	uint64_t sample_rate;
	uint32_t sset_off;
	uint32_t nsset;		/* a power of two */

	uint64_t head __attribute__((aligned(64)));	/* bytes reserved (producers, CAS) */
	uint64_t tail __attribute__((aligned(64)));	/* bytes consumed (heapdbg) */
	uint32_t wake __attribute__((aligned(64)));	/* futex: heapdbg bumps it after freeing space */
	uint32_t waiters;	/* producers in a futex wait */
	uint32_t hello_pending;	/* HELLO events not answered yet */
	uint32_t gone;		/* a producer found heapdbg gone */
	uint64_t waits __attribute__((aligned(64)));	/* events that waited for room */
	uint64_t lost;		/* events that found no room and could not wait */
	uint64_t noslot;	/* calls passed through: the slot table was full */
	uint64_t hellos;	/* HELLO events written */
	/* The check at a free and at a realloc's pointer (check != 0): the
	 * agent traps (int3 with %rdi = the pad's frame, %rsi = the slot)
	 * when the chunk is not what glibc would accept quietly -- a
	 * misaligned pointer, a bad size, a damaged next header, or its
	 * tcache key in the tcache entry's key word (a tcache double free,
	 * which glibc aborts on).  heapdbg then reports it, sets the
	 * registers back to the call's entry and HDA_SLOT_ONCE. */
	uint64_t tcache_key;	/* glibc 2.34+'s tcache_key (0: not checked) */
	uint64_t tcache_key_addr;	/* or where the agent reads it (set at malloc's init) */
	uint32_t check;
	/* glibc's TLS tcache at this offset from the thread pointer (0:
	 * unknown): a call from glibc's text is its own only when the
	 * thread's tcache is NULL (see own_lo) */
	int32_t tcache_tpoff;
	/* calls from here (glibc's text) are not checked: glibc's own frees
	 * (a dying thread's tcache entries keep their key, once
	 * tcache_thread_shutdown set its tcache to NULL) are no error; with
	 * tcache_tpoff, glibc's frees in a thread with a tcache (fclose's
	 * free of a FILE freed already) are checked as the program's */
	uint64_t own_lo, own_hi;
	uint64_t sample_seed;	/* each thread's PRNG: from this and seeded */
	uint64_t seeded;	/* threads seeded so far */
	uint64_t sampled;	/* allocations sampled */
	uint64_t sset_full;	/* sampled allocations dropped: their bucket and the next were full */
	/* a test hook (HEAPDBG_TEST_HELLO_SIGNAL in heapdbg's environment):
	 * a thread sends itself this signal while it holds the reservation
	 * of its HELLO, so a handler that allocates runs inside it */
	uint32_t test_hello_sig;
	uint32_t pad5;
};

/* A bucket of the sample set: a 64-byte line.  A block lives in the
 * bucket its address hashes to (hda_sset_hash), or when that is full in
 * one of the HDA_SSET_SPILL buckets after it, counted in the home
 * bucket's spill; 0 is empty.  Agent threads insert and remove by
 * compare-and-swap; heapdbg only reads. */
struct hda_sbucket {
	uint64_t p[7];
	uint64_t spill;		/* entries of this bucket kept in later ones */
};
#define HDA_SSET_SPILL 8

static inline uint64_t
hda_sset_hash(uint64_t p)
{
	return ((p >> 4) * 0x9e3779b97f4a7c15ULL) >> 32;
}

/*
 * A stack heapdbg knows (it interned it from an event's pcs): an
 * allocation whose unwound pcs equal a published stack's, frame for frame
 * (the hash only finds the entry), is sent as an HDA_EV_CALLID with the
 * stack's id instead of its pcs.  heapdbg writes hash last (0: empty),
 * the pcs before it; entries and pool words are never rewritten.
 * Open addressing from hda_stack_hash() & (nstacks - 1), at most
 * HDA_STACK_PROBES entries.
 */
struct hda_stack {
	uint64_t hash;		/* hda_stack_hash(pcs, n) */
	uint32_t id;		/* heapdbg's stack id */
	uint32_t n;		/* frames */
	uint32_t first;		/* its pcs: pool words [first, first + n) */
	uint32_t pad;
};
#define HDA_STACK_PROBES 16

static inline uint64_t
hda_stack_hash(const uint64_t *pcs, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	for (uint32_t i = 0; i < n; i++) {
		h = (h ^ pcs[i]) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h | 1;
}

/* event types */
#define HDA_EV_CALL 1		/* an allocation, at its return */
#define HDA_EV_FREE 2		/* a free, at its entry (struct hda_ev_head only; arg[1] is
				 * the caller's return address, the free's one-frame stack) */
#define HDA_EV_HELLO 3		/* a thread asks for its stack range (head only; arg[0] = rsp) */
#define HDA_EV_CALLID 4		/* an allocation with a known stack (struct hda_ev_id) */
#define HDA_EV_FREEID 5		/* a free, at its entry, with a known stack (struct hda_ev_id;
				 * ret and out 0, arg[1] the caller) */
#define HDA_EV_FREESTK 6	/* a free, at its entry, with its pcs (HDA_EVF_PCS) or a stack
				 * copy (struct hda_ev; ret and out 0, arg[1] the caller) */

/* hda_ev.flags */
#define HDA_EVF_OUT 1u		/* out holds *arg[0] after a successful posix_memalign */
#define HDA_EVF_PCS 2u		/* the agent unwound it: stack_len bytes of pcs (u64) follow */
#define HDA_EVF_SAMPLED 4u	/* sampling: its result was sampled (else it only freed a sampled arg[0]) */
#define HDA_EVF_OLD_SAMPLED 8u	/* sampling: realloc's arg[0] was a sampled block */
#define HDA_EVF_CHECKED 16u	/* realloc's arg[0] was checked by heapdbg at the agent's trap */

struct hda_ev_head {
	uint64_t commit;	/* pos ^ key, written last */
	uint32_t len;		/* the whole event, a multiple of 8 */
	uint16_t type;		/* HDA_EV_* */
	uint16_t func;		/* the entry point's index (heapdbg's order) */
	uint32_t tid;
	uint32_t slot;		/* index into the slot table */
	uint64_t tsc;		/* rdtsc at entry */
	uint64_t arg[3];	/* rdi, rsi, rdx at entry */
};

struct hda_ev {
	struct hda_ev_head h;
	uint64_t ret;		/* rax at return */
	uint64_t out;		/* HDA_EVF_OUT: *arg[0] */
	uint64_t pc;		/* the entry point */
	uint64_t rsp;		/* at entry: it points at the return address */
	uint64_t rbp, rbx, r12, r13, r14, r15;	/* at entry (callee-saved: the unwinder's) */
	uint32_t stack_len;	/* bytes of stack copied from rsp up, after this header */
	uint32_t flags;		/* HDA_EVF_* */
	/* uint8_t stack[stack_len], padded to 8 */
};

/* An allocation whose stack heapdbg published (struct hda_stack): no
 * registers, no stack, no pcs. */
struct hda_ev_id {
	struct hda_ev_head h;
	uint64_t ret;		/* rax at return */
	uint64_t out;		/* HDA_EVF_OUT: *arg[0] */
	uint32_t stack_id;	/* heapdbg's id */
	uint32_t flags;		/* HDA_EVF_OUT */
};

/* Kept free at the end of the ring for a thread that cannot wait. */
#define HDA_RESERVE(ring_size) ((ring_size) / 8)

/* The frame hda_pad builds on the thread's stack (pad.S uses the
 * offsets: keep them in step). */
struct hda_frame {
	uint64_t rdi, rsi, rdx, rcx, r8, r9;	/* 0..40 */
	uint64_t rbx, rbp, r12, r13, r14, r15;	/* 48..88 */
	uint64_t rsp;		/* 96: at entry */
	uint64_t func;		/* 104 */
	uint64_t body;		/* 112 */
	uint64_t ret;		/* 120 */
	uint64_t slot;		/* 128: struct hda_slot *, set by hda_enter */
	uint64_t tsc;		/* 136 */
	uint64_t samp;		/* 144: HDA_EVF_SAMPLED | HDA_EVF_OLD_SAMPLED | HDA_EVF_CHECKED,
				 * set by hda_enter (the event's flags) */
};				/* 152 bytes (pad.S's FRAME: 160) */

#define HDA_FRAME_SIZE 152

#endif
