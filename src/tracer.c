/*
 * tracer.c - allocation tracing with never-lifted breakpoints, out-of-line
 * execution of the displaced instruction, a return trampoline and a
 * per-thread shadow stack (see tracer.h).
 *
 * The scratch page, mapped next to the allocator by a system call run in
 * a stopped thread of the target:
 *
 *	+0	int3                      the return trampoline
 *	+16	slot 0: displaced instruction of entry point 0, jmp back
 *	+48	slot 1: ...
 */
#include "config.h"
#include "tracer.h"
#include "tracer-fast.h"
#include "x86dec.h"
#include "agent/hdagent.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <math.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "locate.h"
#include "unwind-cfi.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SCRATCH_SIZE 4096
#define SLOT_BASE 16
#define SLOT_SIZE 32
/* an allocation's stack copy: the first of each thread, then what its
 * unwinds have needed, up to STACK_COPY_MAX */
#define STACK_COPY 8192
#define STACK_COPY_MAX 65536
#define MAX_BPS 16
/* the fast path's ring, and how often heapdbg drains it while it fills */
#define RING_SIZE (16u << 20)
#define POLL_MS 2

static const struct {
	const char *name;
	enum tfunc func;
} entry_points[] = {
	{ "malloc", TF_MALLOC },
	{ "free", TF_FREE },
	{ "calloc", TF_CALLOC },
	{ "realloc", TF_REALLOC },
	{ "reallocarray", TF_REALLOCARRAY },
	{ "memalign", TF_MEMALIGN },
	{ "aligned_alloc", TF_ALIGNED_ALLOC },
	{ "posix_memalign", TF_POSIX_MEMALIGN },
	{ "valloc", TF_VALLOC },
	{ "pvalloc", TF_PVALLOC },
	{ "cfree", TF_CFREE },
};

const char *
tfunc_name(enum tfunc f)
{
	for (size_t i = 0; i < ARRAY_SIZE(entry_points); i++)
		if (entry_points[i].func == f)
			return entry_points[i].name;
	return "?";
}

struct bp {
	uint64_t addr;
	enum tfunc func;	/* the first name found at this address */
	const char *module;	/* the module defining it */
	uint8_t orig[16];	/* original bytes at addr */
	uint8_t len;		/* length of the displaced instruction */
	uint64_t slot;		/* its out-of-line copy, or 0: single-step it */
	/* it is endbr64 (f3 0f 1e fa): behind our int3 its last three bytes
	 * are `nop edx`, so the thread resumes right there -- no register
	 * to change, the cheapest possible stop */
	bool in_place;
	bool armed;
	bool fast;		/* a jump to a pad, not a breakpoint */
	bool untouched;		/* neither: its bytes changed under us */
	const char *why;	/* a breakpoint although fast was asked: why */
};

struct shadow {
	enum tfunc func;
	uint64_t ret;		/* the real return address */
	uint64_t rsp;		/* the stack pointer at entry (holds ret) */
	uint64_t arg[3];
	uint32_t stack;
	double time;
};

struct tthread {
	VEC(struct shadow) sh;
	/* the call held at a memory error: let go unchecked when it traps again */
	bool pass;
	uint64_t pass_rsp, pass_addr;
	uint64_t expect_free;	/* realloc(p, 0) recorded: its inner free(p) is not a call */
	/* how much of its stack to copy at an allocation: what its
	 * unwinds have needed so far, plus a margin (0: not known yet,
	 * copy STACK_COPY) */
	uint32_t stack_need;
};

/* A block in use (used), or freed since tracing started (freed: the
 * last FREED_MAX of them stay, for the report of a second free: who
 * allocated it, who freed it).  Both are in the address index. */
struct trec {
	uint64_t addr;
	struct alloc_record rec;	/* (a block from before tracing: its usable size, no stack) */
	bool used;
	bool freed;
	bool pre;		/* freed, and in use when tracing started */
	uint32_t free_stack;
	uint64_t free_caller;	/* or only the free's caller (fast), interned when reported */
	bool aligned;		/* memalign and the like: its chunk may be bigger */
};
#define FREED_MAX 65536

/* A free the agent's check trapped on, judged later (see confirm_error). */
struct deferred {
	uint64_t pos;		/* the ring's head at the trap */
	uint64_t addr, caller;
	uint32_t stack;
	enum tfunc func;
	pid_t tid;
};

struct tracer {
	struct target *t;
	struct symbols *s;
	struct unwinder *u;
	struct unwind_stats unw_acc;	/* of the unwinders before u */
	int depth;
	bool no_free_stacks;	/* a free's stack is its caller alone (trace start --no-free-stacks) */
	bool active;
	const char *end_reason;
	struct bp bps[MAX_BPS];
	unsigned nbps;
	struct bp *by_func[TF_NFUNCS];	/* NULL when not traced */
	bool glibc_chain;		/* malloc, free, realloc, reallocarray from one module */
	uint64_t scratch;		/* 0 when not mapped */
	uint64_t syscall_insn;		/* a `syscall` instruction in the target */
	struct live_hooks hooks;
	struct alloc_source source;
	struct stack_table *stacks;
	struct u64map live;		/* user address -> index in recs (in use or freed) */
	VEC(struct trec) recs;
	VEC(uint32_t) free_recs;
	uint64_t seq;
	uint8_t stackbuf[STACK_COPY_MAX];
	uint64_t *pcs;
	struct trace_status st;
	double started;
	/* fast tracepoints (NULL: none) */
	struct fastpath *fp;
	struct fast_entry fe[MAX_BPS];
	uint64_t code;			/* the code page, mapped by us */
	const char *fast_error;
	unsigned narmed_bps;		/* breakpoints armed */
	struct cfi_cache *cfi;		/* the rules the agent is given */
	uint64_t agent_unwinds;		/* stacks the agent unwound itself */
	uint64_t stack_ids;		/* of them, sent as a published stack's id */
	uint64_t sample_rate, sample_seed;	/* trace start --sample (0: every call) */
	VEC(struct vforked { pid_t tid; uint64_t tp; }) vforks;
	/* memory errors (see tracer.h) */
	struct freed_slot { uint32_t idx; uint64_t seq; } *freedq;	/* the freed records, oldest first: a ring of FREED_MAX */
	size_t freed_next;
	struct u64map pre;		/* in use at the start, not freed since: address -> size */
	struct trace_preblock *prev;	/* the same, sorted (freed ones stay: check pre) */
	size_t npre;
	bool pre_known;
	bool stop_on_error;
	bool held;			/* a thread is held at an error: live_run stops */
	uint64_t own_lo, own_hi;	/* glibc's text: its own frees are not the program's errors */
	int64_t tcache_tpoff;		/* the TLS tcache (glibc_own_free) */
	bool have_tcache_tpoff;
	VEC(struct memerr) errs;
	/* frees the agent's check trapped while earlier events were still
	 * being written: judged once the ring is read up to pos */
	VEC(struct deferred) deferred;
};

/* ---- records ---- */

/* A record's index for a block: one a forgotten block left, or a new (zeroed) one. */
static uint64_t
rec_new(struct tracer *tr)
{
	struct trec z;

	if (tr->free_recs.n)
		return tr->free_recs.v[--tr->free_recs.n];
	memset(&z, 0, sizeof(z));
	vec_push(&tr->recs, z);
	return tr->recs.n - 1;
}

static void
rec_add(struct tracer *tr, uint64_t addr, uint64_t req, uint32_t stack, double time)
{
	uint64_t *slot, idx;
	bool created;
	struct trec *r;

	if (!addr)
		return;
	slot = u64map_slot(&tr->live, addr, &created);
	if (!created && !tr->recs.v[*slot].used) {
		/* a freed block handed out again: the record is its own */
		idx = *slot;
		tr->recs.v[idx].freed = false;
		tr->st.outstanding_blocks++;
	} else if (created) {
		idx = rec_new(tr);
		*slot = idx;
		tr->st.outstanding_blocks++;
	} else {
		/* an address we thought live came back: its free went by
		 * unseen (an untraced path); replace the record */
		idx = *slot;
		tr->st.outstanding_bytes -= tr->recs.v[idx].rec.req;
	}
	r = &tr->recs.v[idx];
	r->addr = addr;
	r->used = true;
	r->freed = false;
	r->pre = false;
	r->aligned = false;
	r->rec.req = req;
	r->rec.stack = stack;
	r->rec.seq = ++tr->seq;
	r->rec.time = time;
	tr->st.outstanding_bytes += req;
}

static void sync_ring(const struct tracer *ctr);
static bool is_allocation(enum tfunc f);
static void apply_deferred(struct tracer *tr, uint64_t upto);

const char *
memerr_kind_name(enum memerr_kind k)
{
	switch (k) {
	case ME_DOUBLE_FREE: return "double-free";
	case ME_INVALID_FREE: return "invalid-free";
	case ME_INTERIOR_FREE: return "interior-free";
	case ME_REALLOC_FREED: return "realloc-freed";
	case ME_INVALID_REALLOC: return "invalid-realloc";
	case ME_OVERFLOW: return "overflow";
	}
	return "?";
}

/* A free's one-frame stack (its caller), as the fast tracer has it. */
static uint32_t
caller_stack(struct tracer *tr, uint64_t caller)
{
	uint64_t pcs[2] = { tr->by_func[TF_FREE] ? tr->by_func[TF_FREE]->addr : 0, caller };
	if (tr->depth <= 0 || !caller)
		return 0;
	return stack_intern(tr->stacks, pcs, 2);
}

/* Record idx is freed now (its free stack, or caller): it joins the
 * ring of freed records, whose oldest goes unless it was handed out and
 * freed again since. */
static void
freed_mark(struct tracer *tr, uint64_t idx, uint32_t free_stack, uint64_t free_caller)
{
	struct freed_slot *f;
	struct trec *r = &tr->recs.v[idx];

	if (!tr->freedq)
		tr->freedq = xcalloc(FREED_MAX, sizeof(*tr->freedq));
	f = &tr->freedq[tr->freed_next];
	if (f->seq) {
		struct trec *old = &tr->recs.v[f->idx];
		if (old->freed && old->rec.seq == f->seq) {
			u64map_del(&tr->live, old->addr);
			old->freed = false;
			vec_push(&tr->free_recs, f->idx);
		}
	}
	r->used = false;
	r->freed = true;
	r->free_stack = free_stack;
	r->free_caller = free_caller;
	if (!r->rec.seq)
		r->rec.seq = ++tr->seq;
	f->idx = (uint32_t)idx;
	f->seq = r->rec.seq;
	tr->freed_next = (tr->freed_next + 1) % FREED_MAX;
}

/* A freed record for a block heapdbg did not see allocated: one in use
 * or free when tracing started (pre). */
static void
freed_add(struct tracer *tr, uint64_t addr, uint64_t size, uint32_t free_stack, uint64_t free_caller)
{
	uint64_t *slot, idx;
	bool created;
	struct trec *r;

	slot = u64map_slot(&tr->live, addr, &created);
	if (!created)
		return;		/* (known already) */
	idx = rec_new(tr);
	*slot = idx;
	r = &tr->recs.v[idx];
	memset(r, 0, sizeof(*r));
	r->addr = addr;
	r->rec.req = size;
	r->rec.seq = ++tr->seq;
	r->pre = true;
	freed_mark(tr, idx, free_stack, free_caller);
}

/* Record idx, in use, is freed. */
static void
rec_free_idx(struct tracer *tr, uint64_t idx, uint32_t free_stack, uint64_t free_caller)
{
	tr->st.outstanding_blocks--;
	tr->st.outstanding_bytes -= tr->recs.v[idx].rec.req;
	freed_mark(tr, idx, free_stack, free_caller);
}

/* The ledger after a free of addr (free_stack: the call's, or only its
 * caller): a block in use goes to the freed ones; anything else was
 * reported or counted at the call's check (ledger_check). */
static void
rec_free(struct tracer *tr, uint64_t addr, uint32_t free_stack, uint64_t free_caller)
{
	uint64_t idx, size;
	if (!addr)
		return;
	if (u64map_get(&tr->live, addr, &idx)) {
		if (tr->recs.v[idx].used)
			rec_free_idx(tr, idx, free_stack, free_caller);
		return;		/* (freed already: reported) */
	}
	if (tr->pre.n && u64map_get(&tr->pre, addr, &size)) {
		u64map_del(&tr->pre, addr);
		tr->st.untracked_frees++;
		freed_add(tr, addr, size, free_stack, free_caller);
	}
}

/* A chunk header, as glibc's free and realloc check it. */
enum hdr_verdict {
	HDR_SOUND,
	HDR_BAD,	/* the chunk's own header (or the pointer's alignment) */
	HDR_NEXT,	/* the next chunk's header: an overflow out of this block */
	HDR_OWN,	/* the block's own size field does not fit the block */
	HDR_UNREAD,	/* not readable */
};

/*
 * Does a block's own header still fit it?  nb: the chunk size glibc makes
 * of its request (request2size).  A chunk glibc handed out is nb, or nb +
 * 16 when the remainder was too small to split (malloc from a bin,
 * realloc in place); memalign's may keep up to nb + MINSIZE.  An mmapped
 * one is nb + 8 and its lead (prev_size) rounded to pages (huge pages with
 * glibc.malloc.hugetlb), less the lead; an aligned mmapped one, up to its
 * alignment more, which the ledger does not know: only the lower bound.
 */
static bool
size_fits(const uint64_t hdr[2], uint64_t nb, bool aligned)
{
	uint64_t size = hdr[1] & ~7ULL, lead = hdr[0];

	if (size < nb)
		return false;
	if (hdr[1] & 2) {
		if (aligned || lead > (1ULL << 40))
			return true;
		return size <= ALIGN_UP(nb + 8 + lead, 4096) - lead ||
		       ((size + lead) % (2u << 20) == 0 && size <= ALIGN_UP(nb + 8 + lead, 2u << 20) - lead);
	}
	return size <= nb + (aligned ? 32 : 16);
}

/* guess: the chunk size the ledger expects (0: none), to read both
 * headers in one read when it is right, and to check the block's own
 * size field against (aligned: made by memalign and the like) */
static enum hdr_verdict
header_check(struct tracer *tr, uint64_t addr, bool realloc, uint64_t guess, bool aligned, struct memerr *me)
{
	uint64_t hdr[2], nxt[2], size, nb = guess;
	uint8_t both[512];

	if (addr & 15)
		return HDR_BAD;
	if (guess >= 32 && guess + 16 <= sizeof(both)) {
		if (target_read_uncached(tr->t, addr - 16, both, guess + 16) != guess + 16)
			guess = 0;
		memcpy(hdr, both, 16);
		memcpy(nxt, both + guess, 16);
	} else {
		guess = 0;
	}
	if (!guess && target_read_uncached(tr->t, addr - 16, hdr, 16) != 16)
		return HDR_UNREAD;
	if (nb && !size_fits(hdr, nb, aligned)) {
		me->chunk = addr - 16;
		me->bytes_at = addr - 16;
		memcpy(me->bytes, hdr, 16);
		me->nbytes = 16;
		me->own_header = true;
		me->hdr_size = hdr[1] & ~7ULL;
		me->want_size = (hdr[1] & 2) && hdr[0] < (1ULL << 40) ? ALIGN_UP(nb + 8 + hdr[0], 4096) - hdr[0] : nb;
		me->glibc = NULL;	/* glibc may well take it: a chunk that overlaps the next */
		return HDR_OWN;
	}
	if (hdr[1] & 2)
		return HDR_SOUND;	/* mmapped: munmap_chunk's own check */
	size = hdr[1] & ~7ULL;
	if (size < 32 || (size & 15) || addr - 16 > -size)
		return HDR_BAD;
	if (size != guess && target_read_uncached(tr->t, addr - 16 + size, nxt, 16) != 16)
		return HDR_BAD;
	if ((nxt[1] & 1) && (nxt[1] & ~7ULL) > 16 && (nxt[1] & ~7ULL) < (1ULL << 40))
		return HDR_SOUND;
	me->chunk = addr - 16 + size;
	me->bytes_at = me->chunk;
	memcpy(me->bytes, nxt, 16);
	me->nbytes = 16;
	if (realloc)
		me->glibc = "realloc(): invalid next size";
	else if (!(nxt[1] & 1) && size > 0x80)
		me->glibc = "double free or corruption (!prev)";
	else
		me->glibc = size <= 0x80 ? "free(): invalid next size (fast)" : "free(): invalid next size (normal)";
	return HDR_NEXT;
}

/* The block in use that addr points inside of, if any. */
static bool
find_containing(struct tracer *tr, uint64_t addr, struct memerr *me)
{
	size_t lo = 0, hi = tr->npre;
	uint64_t size;

	for (size_t i = 0; i < tr->recs.n; i++) {
		const struct trec *r = &tr->recs.v[i];
		if (r->used && addr > r->addr && addr < r->addr + MAX(r->rec.req, 1)) {
			me->block = r->addr;
			me->block_size = r->rec.req;
			me->alloc_stack = r->rec.stack;
			return true;
		}
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tr->prev[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && addr > tr->prev[lo - 1].addr && addr < tr->prev[lo - 1].addr + tr->prev[lo - 1].size &&
	    u64map_get(&tr->pre, tr->prev[lo - 1].addr, &size)) {
		me->block = tr->prev[lo - 1].addr;
		me->block_size = size;
		me->block_pre = true;
		return true;
	}
	return false;
}

/* The traced block in use whose chunk ends at chunk (an overflow out of
 * it reaches chunk's header): true with it in me's block. */
static bool
find_below(struct tracer *tr, uint64_t chunk, struct memerr *me)
{
	for (size_t i = 0; i < tr->recs.n; i++) {
		const struct trec *r = &tr->recs.v[i];
		uint64_t nb = MAX(ALIGN_UP(r->rec.req + 8, 16), 32);
		if (r->used && r->addr < chunk && r->addr - 16 + nb <= chunk && r->addr - 16 + nb + 32 >= chunk) {
			me->block = r->addr;
			me->block_size = r->rec.req;
			me->alloc_stack = r->rec.stack;
			return true;
		}
	}
	return false;
}

/*
 * Is a free returning to caller glibc's own, of what glibc holds, and
 * no error of the program's?  Those come from tcache_thread_shutdown at
 * a thread's exit, after it set the thread's tcache to NULL: the cached
 * entries (freed by the program before, so the ledger has them freed)
 * and the tcache itself (never allocated through malloc).  Any other
 * free glibc makes (fclose's of its FILE, closedir, freeaddrinfo, ...)
 * frees what the program handed it and is checked as the program's.
 * tp: the calling thread's pointer (fs_base) at the call, 0 after it
 * (a free read from the fast path's ring): without it, or without the
 * TLS offset of tcache, every free from glibc's text is its own.
 */
static bool
glibc_own_free(struct tracer *tr, uint64_t caller, uint64_t tp)
{
	uint64_t tc = 0;

	if (!caller || caller < tr->own_lo || caller >= tr->own_hi)
		return false;
	if (!tp || !tr->have_tcache_tpoff)
		return true;
	if (target_read_uncached(tr->t, tp + (uint64_t)tr->tcache_tpoff, &tc, 8) != 8)
		return true;
	return tc == 0;
}

/*
 * What the ledger says of a free (or realloc) of addr, at the call:
 * true with *me filled (but for the stack of the call) when it is a
 * memory error.  caller: the call's return address, or 0 and caller_sp:
 * where it is (read only when needed); tp: the thread pointer at the
 * call (0: unknown, and always after the call).  at_read: after the call
 * (the fast tracer's event).  A free of a sound chunk the tracer never
 * saw allocated (glibc's own allocations: a thread's tcache; or no walk
 * at the start) is counted, not reported; so is glibc's own free of
 * what it holds (glibc_own_free).
 */
static bool
ledger_check(struct tracer *tr, uint64_t addr, enum tfunc func, pid_t tid, uint64_t caller, uint64_t caller_sp,
	     uint64_t tp, bool at_read, struct memerr *me)
{
	bool realloc = func == TF_REALLOC || func == TF_REALLOCARRAY, live;
	uint64_t idx, size;
	enum hdr_verdict v;

	memset(me, 0, sizeof(*me));
	me->func = func;
	me->tid = tid;
	me->addr = addr;
	live = u64map_get(&tr->live, addr, &idx);
	if (live && !tr->recs.v[idx].used)
		live = false;	/* freed: below */
	else if (!live)
		idx = UINT64_MAX;
	if (live || (idx == UINT64_MAX && tr->pre.n && u64map_get(&tr->pre, addr, &size))) {
		/* the chunk size glibc gave a request of that size (a
		 * block from before tracing: its usable size + 8) */
		uint64_t guess = live ? MAX(ALIGN_UP(tr->recs.v[idx].rec.req + 8, 16), 32) : size + 8;
		/* (after the call, the headers are no evidence: the agent's
		 * check saw them at the call) */
		if (at_read)
			return false;
		v = header_check(tr, addr, realloc, guess, live && tr->recs.v[idx].aligned, me);
		if (v != HDR_NEXT && v != HDR_OWN)
			return false;
		me->kind = ME_OVERFLOW;
		me->block = addr;
		if (live) {
			me->block_size = tr->recs.v[idx].rec.req;
			me->alloc_stack = tr->recs.v[idx].rec.stack;
		} else {
			me->block_size = size;
			me->block_pre = true;
		}
		if (v == HDR_OWN) {
			/* the damaged block is this one; the bug is likely in
			 * the block below it */
			me->damaged = addr;
			me->damaged_size = me->block_size;
			me->damaged_stack = me->alloc_stack;
			if (find_below(tr, addr - 16, me))
				me->block_pre = false;
		}
		return true;
	}
	if (!caller && caller_sp)
		(void)!target_read_uncached(tr->t, caller_sp, &caller, 8);
	if (glibc_own_free(tr, caller, tp)) {
		/* glibc's own free of what it holds: a thread's tcache
		 * entries and tcache at its exit (freed already, or never
		 * allocated through malloc) */
		tr->st.unseen_frees++;
		return false;
	}
	if (idx != UINT64_MAX) {
		const struct trec *f = &tr->recs.v[idx];
		me->kind = realloc ? ME_REALLOC_FREED : ME_DOUBLE_FREE;
		me->block = addr;
		me->block_size = f->rec.req;
		me->block_pre = f->pre;
		me->alloc_stack = f->rec.stack;
		me->free_stack = f->free_stack ? f->free_stack : caller_stack(tr, f->free_caller);
		return true;
	}
	if (find_containing(tr, addr, me)) {
		me->kind = realloc ? ME_INVALID_REALLOC : ME_INTERIOR_FREE;
		return true;
	}
	/* after the call: glibc took the chunk's header quietly at the
	 * agent's check, or the agent would have trapped */
	v = at_read ? HDR_SOUND : header_check(tr, addr, realloc, 0, false, me);
	if (!tr->pre_known || v == HDR_SOUND) {
		/* without the walk at the start, the old count of frees of
		 * blocks heapdbg did not see allocated */
		if (tr->pre_known)
			tr->st.unseen_frees++;
		else
			tr->st.untracked_frees++;
		me->nbytes = 0;
		return false;
	}
	me->nbytes = 0;
	me->chunk = 0;
	me->glibc = NULL;
	me->kind = realloc ? ME_INVALID_REALLOC : ME_INVALID_FREE;
	return true;
}

static void tr_fast_event(void *ctx, const struct fast_event *ev);

/* At the call, with fast tracepoints beside: the ledger is only as
 * recent as the ring read so far, and another thread may still be
 * writing an allocation that came before this call.  An error is
 * confirmed once every event reserved before it was read; false when
 * that takes too long (a signal handler's call, its thread holding a
 * reservation it cannot commit until the handler returns): the caller
 * then defers the verdict. */
static bool
confirm_error(struct tracer *tr, uint64_t addr, enum tfunc func, pid_t tid, uint64_t caller_sp, uint64_t tp,
	      struct memerr *me)
{
	if (!tr->fp)
		return true;
	if (!fast_drain_all(tr->fp, tr_fast_event, tr, 0.05))
		return false;
	if (tr->deferred.n)
		apply_deferred(tr, fast_read_pos(tr->fp));
	return ledger_check(tr, addr, func, tid, 0, caller_sp, tp, false, me);
}

static void
add_error(struct tracer *tr, const struct memerr *me)
{
	vec_push(&tr->errs, *me);
	tr->st.memerrs++;
}

/* The deferred frees whose place in the ring is before upto, in order:
 * judged by the ledger as a free read from the ring is. */
static void
apply_deferred(struct tracer *tr, uint64_t upto)
{
	size_t k = 0;
	for (size_t i = 0; i < tr->deferred.n; i++) {
		const struct deferred *d = &tr->deferred.v[i];
		struct memerr me;
		if ((int64_t)(upto - d->pos) < 0) {
			tr->deferred.v[k++] = *d;
			continue;
		}
		if (ledger_check(tr, d->addr, d->func, d->tid, d->caller, 0, 0, true, &me)) {
			me.call_stack = d->stack;
			me.at_read = true;
			add_error(tr, &me);
		}
		if (!is_allocation(d->func))
			rec_free(tr, d->addr, d->stack, 0);
	}
	tr->deferred.n = k;
}

/* Read the fast path's ring (the deferred frees in their place). */
static void
drain(struct tracer *tr)
{
	fast_drain(tr->fp, tr_fast_event, tr);
	if (tr->deferred.n)
		apply_deferred(tr, fast_read_pos(tr->fp));
}

const struct memerr *
tracer_errors(struct tracer *tr, size_t *n)
{
	sync_ring(tr);
	*n = tr->errs.n;
	return tr->errs.v;
}

void
tracer_clear_errors(struct tracer *tr)
{
	tr->errs.n = 0;
}

static void tr_fast_event(void *ctx, const struct fast_event *ev);

/* Read what the fast path's threads wrote since the last poll (the
 * process may have stopped, or exited, with events in the ring). */
static void
sync_ring(const struct tracer *ctr)
{
	struct tracer *tr = (struct tracer *)ctr;
	if (tr->fp)
		drain(tr);
}

static bool
source_lookup(void *ctx, uint64_t addr, struct alloc_record *out)
{
	struct tracer *tr = ctx;
	uint64_t idx;
	sync_ring(tr);
	if (!u64map_get(&tr->live, addr, &idx) || !tr->recs.v[idx].used)
		return false;
	*out = tr->recs.v[idx].rec;
	return true;
}

bool
tracer_next(const struct tracer *tr, size_t *iter, struct trace_block *out)
{
	if (*iter == 0)
		sync_ring(tr);
	while (*iter < tr->recs.n) {
		const struct trec *r = &tr->recs.v[(*iter)++];
		if (r->used) {
			out->addr = r->addr;
			out->rec = r->rec;
			return true;
		}
	}
	return false;
}

/* ---- threads ---- */

static struct tthread *
tthread(struct target_thread *th)
{
	if (!th->priv)
		th->priv = xcalloc(1, sizeof(struct tthread));
	return th->priv;
}

static void
tthread_free(struct target_thread *th)
{
	struct tthread *tt = th->priv;
	if (tt) {
		vec_free(&tt->sh);
		free(tt);
		th->priv = NULL;
	}
}

/* ---- the events ---- */

static struct bp *
bp_at(struct tracer *tr, uint64_t addr)
{
	for (unsigned i = 0; i < tr->nbps; i++)
		if (tr->bps[i].addr == addr && tr->bps[i].armed)
			return &tr->bps[i];
	return NULL;
}

static bool
is_allocation(enum tfunc f)
{
	return f != TF_FREE && f != TF_CFREE;
}

/* Run the displaced instruction of bp out of line, or single-step it
 * with every other thread stopped when it could not be relocated. */
static int
step_over(struct tracer *tr, struct target_thread *th, struct bp *bp, hd_regs_t *regs)
{
	struct target *t = tr->t;
	uint8_t int3 = 0xcc;

	if (bp->slot) {
		regs->rip = bp->in_place ? bp->addr + 1 : bp->slot;
		tr->st.in_place += bp->in_place;
		return live_set_regs(t, th, regs);
	}
	/* stop-all single step: nothing else may run while the original
	 * byte is back.  Afterwards every thread the stop stopped runs
	 * again, those created meanwhile too (remembered by tid: stopping
	 * and stepping decode whatever the threads report, their deaths
	 * included, and a dead thread is freed) -- unless the process is
	 * ending. */
	{
		VEC(pid_t) stopped = { 0 };
		pid_t tid = th->tid;
		int rc;
		for (size_t i = 0; i < t->nthreads; i++)
			if (t->threads[i]->state == THREAD_STOPPED)
				vec_push(&stopped, t->threads[i]->tid);
		live_stop_all(t);
		th = target_find_thread(t, tid);
		if (th && th->state == THREAD_STOPPED) {
			regs->rip = bp->addr;
			rc = live_set_regs(t, th, regs);
			if (rc == 0 && target_write(t, bp->addr, bp->orig, 1) == 0) {
				rc = live_step(t, th);
				if (target_write(t, bp->addr, &int3, 1) < 0)
					rc = -1;
			}
		} else {
			rc = hd_fail(HD_EGONE, "thread %d is gone", (int)tid);
		}
		for (size_t i = 0; i < t->nthreads && !live_at_exit(t) && !live_gone(t); i++) {
			struct target_thread *o = t->threads[i];
			bool was = o->tid == tid;
			for (size_t k = 0; k < stopped.n && !was; k++)
				was = stopped.v[k] == o->tid;
			if (!was && o->state == THREAD_STOPPED)
				live_resume(t, o);
		}
		vec_free(&stopped);
		tr->st.stepall++;
		return rc;
	}
}

/* How much of a thread's stack to copy from now on, after an unwind
 * that read up to reach: what it used, a margin for a deeper call next
 * time, in 512-byte steps; never less than before. */
static uint32_t
stack_need_after(uint64_t reach, uint64_t rsp, uint32_t before)
{
	uint64_t need = ((reach - rsp) + 1024 + 511) & ~(uint64_t)511;
	if (need < 1024)
		need = 1024;
	if (need > STACK_COPY_MAX)
		need = STACK_COPY_MAX;
	return need > before ? (uint32_t)need : before;
}

/* In mixed mode (some entry points fast, some breakpoints): is the call
 * of a breakpoint's thread an inner or tail call of a function the fast
 * path traces (its return address in a traced function's body, or in
 * the code page, where the pad called the body)? */
static bool
inner_of_fast(struct tracer *tr, uint64_t rsp)
{
	uint64_t ret = 0;
	if (!tr->fp || target_read_uncached(tr->t, rsp, &ret, 8) != 8)
		return false;
	if (ret >= tr->code && ret < tr->code + HDA_CODE_SIZE)
		return true;
	for (unsigned i = 0; i < tr->nbps; i++)
		if (tr->fe[i].body_hi && ret >= tr->fe[i].body_lo && ret < tr->fe[i].body_hi)
			return true;
	return false;
}

/* The block at addr came from memalign or the like: its chunk may be up
 * to MINSIZE bigger than its request makes (size_fits). */
static void
mark_aligned(struct tracer *tr, uint64_t addr)
{
	uint64_t idx;

	if (addr && u64map_get(&tr->live, addr, &idx))
		tr->recs.v[idx].aligned = true;
}

/* The result of a traced call, now that it returned. */
static void
record_return(struct tracer *tr, const struct shadow *e, const hd_regs_t *regs, const uint64_t *out)
{
	uint64_t r = regs->rax;
	switch (e->func) {
	case TF_MALLOC:
	case TF_VALLOC:
		if (!r)
			tr->st.failed++;
		rec_add(tr, r, e->arg[0], e->stack, e->time);
		break;
	case TF_PVALLOC: {
		uint64_t sz = ALIGN_UP(e->arg[0] ? e->arg[0] : 1, 4096);
		if (!r)
			tr->st.failed++;
		rec_add(tr, r, sz, e->stack, e->time);
		break;
	}
	case TF_CALLOC:
		if (!r)
			tr->st.failed++;
		rec_add(tr, r, e->arg[0] * e->arg[1], e->stack, e->time);
		break;
	case TF_MEMALIGN:
	case TF_ALIGNED_ALLOC:
		if (!r)
			tr->st.failed++;
		rec_add(tr, r, e->arg[1], e->stack, e->time);
		break;
	case TF_POSIX_MEMALIGN: {
		uint64_t p = 0;
		if (out && (int)r == 0)
			rec_add(tr, p = *out, e->arg[2], e->stack, e->time);
		else if (!out && (int)r == 0 && target_read_uncached(tr->t, e->arg[0], &p, 8) == 8)
			rec_add(tr, p, e->arg[2], e->stack, e->time);
		else
			tr->st.failed++;
		mark_aligned(tr, p);
		break;
	}
	case TF_REALLOC:
	case TF_REALLOCARRAY: {
		uint64_t old = e->arg[0], size = e->func == TF_REALLOC ? e->arg[1] : e->arg[1] * e->arg[2];
		if (r) {
			if (old)
				rec_free(tr, old, e->stack, 0);
			rec_add(tr, r, size, e->stack, e->time);
		} else if (old && size == 0) {
			rec_free(tr, old, e->stack, 0);	/* realloc(p, 0) freed p */
		} else {
			tr->st.failed++;	/* p is untouched */
		}
		break;
	}
	default:
		break;
	}
	if (e->func == TF_MEMALIGN || e->func == TF_ALIGNED_ALLOC || e->func == TF_VALLOC || e->func == TF_PVALLOC)
		mark_aligned(tr, r);
}

static enum trap_action
on_return(struct tracer *tr, struct target_thread *th, hd_regs_t *regs)
{
	struct tthread *tt = tthread(th);
	struct shadow e;
	size_t k;

	/* after ret, rsp is one word above the entry's; entries above it
	 * were left by longjmp and the like */
	for (k = tt->sh.n; k > 0; k--)
		if (tt->sh.v[k - 1].rsp + 8 == regs->rsp)
			break;
	if (k == 0) {
		warn_msg("thread %d returned to the trampoline without a matching call; "
			 "its state is unknown", th->tid);
		return TRAP_NOT_MINE;
	}
	e = tt->sh.v[k - 1];
	tt->sh.n = k - 1;
	tr->st.stops++;
	record_return(tr, &e, regs, NULL);
	regs->rip = e.ret;
	if (live_set_regs(tr->t, th, regs) < 0)
		return TRAP_NOT_MINE;
	return TRAP_RESUME;
}

/*
 * glibc's realloc(NULL, n) tail-jumps into malloc, realloc(p, 0) calls
 * free(p), reallocarray(p, n, m) tail-calls realloc(p, n*m).  Letting them
 * would cost a third stop for one call; when all of them come from one
 * module (glibc), take the inner call directly at the outer entry, with
 * the arguments glibc passes it: into the inner function's out-of-line
 * copy, never past a breakpoint, so the semantics are glibc's own.
 * Returns the bp whose displaced instruction runs next.
 */
static struct bp *
shortcut(struct tracer *tr, struct tthread *tt, struct bp *bp, hd_regs_t *regs, enum tfunc *as)
{
	struct bp *m = tr->by_func[TF_MALLOC], *r = tr->by_func[TF_REALLOC];

	*as = bp->func;
	if (!tr->glibc_chain)
		return bp;
	if (bp->func == TF_REALLOCARRAY && r && r->slot) {
		unsigned __int128 bytes = (unsigned __int128)regs->rsi * regs->rdx;
		if (bytes >> 64)
			return bp;	/* overflow: it fails by itself, no realloc */
		regs->rsi = (uint64_t)bytes;
		bp = r;		/* now a realloc(p, n*m) */
	}
	if (bp->func == TF_REALLOC && !regs->rdi && m && m->slot) {
		regs->rdi = regs->rsi;	/* realloc(NULL, n) = malloc(n) */
		*as = TF_MALLOC;
		return m;
	}
	if (bp->func == TF_REALLOC && regs->rdi && !regs->rsi) {
		*as = TF_FREE;		/* realloc(p, 0) frees p, returns NULL */
		tt->expect_free = regs->rdi;
		return bp;
	}
	if (bp->func == TF_REALLOC)
		*as = TF_REALLOC;
	return bp;
}

/* The stack of a stopped thread at an entry point (regs as it called),
 * interned; 0 when none. */
static uint32_t
take_stack(struct tracer *tr, struct target_thread *th, const hd_regs_t *at)
{
	struct tthread *tt = tthread(th);
	size_t got;
	uint64_t reach = at->rsp + 8;
	int n;

	if (!tr->u || tr->depth <= 0)
		return 0;
	got = target_read_uncached(tr->t, at->rsp, tr->stackbuf, tt->stack_need ? tt->stack_need : STACK_COPY);
	if (got < 8)
		return 0;
	{
		struct stack_copy sc = { tr->stackbuf, at->rsp, got, &reach };
		n = unwind_regs(tr->u, th->tid, at, &sc, tr->pcs, tr->depth);
	}
	tt->stack_need = stack_need_after(reach, at->rsp, tt->stack_need);
	return n > 0 ? stack_intern(tr->stacks, tr->pcs, n) : 0;
}

/* A memory error at the call of a stopped thread whose registers are at
 * as it called: its stack, then held (the shell: live_run stops, the
 * call traps again when it runs and goes on unchecked) or only reported
 * (batch).  Returns true when held. */
static bool
error_at_call(struct tracer *tr, struct target_thread *th, struct memerr *me, const hd_regs_t *at)
{
	me->call_stack = take_stack(tr, th, at);
	me->held = tr->stop_on_error;
	add_error(tr, me);
	if (!me->held)
		return false;
	tr->held = true;
	return true;
}

static enum trap_action
on_entry(struct tracer *tr, struct target_thread *th, struct bp *bp, hd_regs_t *regs)
{
	struct target *t = tr->t;
	struct tthread *tt = tthread(th);
	uint64_t tramp = tr->scratch;
	struct shadow e;
	enum tfunc as, called;
	size_t got;
	hd_regs_t at_entry;
	bool deferred = false;

	tr->st.stops++;
	regs->rip = bp->addr;	/* back from the int3 */
	if (tt->sh.n || ((bp->func == TF_FREE || bp->func == TF_CFREE) && tt->expect_free &&
			 tt->expect_free == regs->rdi) || inner_of_fast(tr, regs->rsp)) {
		/* inside a traced call: a tail call or an inner call, counted
		 * once, as the caller made it */
		tt->expect_free = 0;
		tr->st.nested++;
		return step_over(tr, th, bp, regs) < 0 ? TRAP_NOT_MINE : TRAP_RESUME;
	}
	tt->expect_free = 0;
	tr->st.events[bp->func]++;
	called = bp->func;
	at_entry = *regs;	/* as the program called it: for the stack */
	bp = shortcut(tr, tt, bp, regs, &as);
	if (as == TF_MALLOC && at_entry.rip != bp->addr)
		at_entry.rip = bp->addr;	/* realloc(NULL, n): malloc's stack, as valgrind has it */
	if ((!is_allocation(as) || as == TF_REALLOC) && at_entry.rdi) {
		/* the pointer freed (or realloc'ed), checked at the call */
		uint64_t p = at_entry.rdi;
		struct memerr me;
		bool let_go = tt->pass && tt->pass_rsp == at_entry.rsp && tt->pass_addr == p;
		tt->pass = false;
		bool err = !let_go && ledger_check(tr, p, called, th->tid, 0, at_entry.rsp, REG_TP(&at_entry), false, &me);
		if (err && !confirm_error(tr, p, called, th->tid, at_entry.rsp, REG_TP(&at_entry), &me)) {
			/* judged when the ring is read up to this call */
			struct deferred d = { fast_reserved(tr->fp), p, 0, 0, called, th->tid };
			(void)!target_read_uncached(t, at_entry.rsp, &d.caller, 8);
			if (!glibc_own_free(tr, d.caller, REG_TP(&at_entry)))
				d.caller = 0;	/* (judged now: the program's) */
			d.stack = take_stack(tr, th, &at_entry);
			vec_push(&tr->deferred, d);
			tr->st.deferred++;
			err = false;
			deferred = true;	/* (not freed now) */
		}
		if (err && error_at_call(tr, th, &me, &at_entry)) {
			tr->st.events[called]--;	/* counted when it goes on */
			tt->pass = true;
			tt->pass_rsp = at_entry.rsp;
			tt->pass_addr = p;
			return live_set_regs(tr->t, th, &at_entry) < 0 ? TRAP_NOT_MINE : TRAP_HOLD;
		}
	}
	if (!is_allocation(as)) {
		/* the free's stack, unwound from a copy once it runs */
		uint64_t p = at_entry.rdi;
		size_t fgot = 0;
		uint64_t caller = 0;
		if (p && tr->u && tr->depth > 0 && !tr->no_free_stacks)
			fgot = target_read_uncached(t, regs->rsp, tr->stackbuf, tt->stack_need ? tt->stack_need : STACK_COPY);
		else if (p && tr->no_free_stacks)
			(void)!target_read_uncached(t, regs->rsp, &caller, 8);	/* its caller alone */
		if (step_over(tr, th, bp, regs) < 0)
			return TRAP_NOT_MINE;
		live_resume(t, th);
		{
			uint32_t id = 0;
			if (fgot >= 8) {
				uint64_t reach = at_entry.rsp + 8;
				struct stack_copy sc = { tr->stackbuf, at_entry.rsp, fgot, &reach };
				int n = unwind_regs(tr->u, th->tid, &at_entry, &sc, tr->pcs, tr->depth);
				tt->stack_need = stack_need_after(reach, at_entry.rsp, tt->stack_need);
				if (n > 0)
					id = stack_intern(tr->stacks, tr->pcs, n);
			}
			if (!deferred)
				rec_free(tr, p, id, caller);
		}
		return TRAP_HOLD;
	}
	/* the top of the stack, once: the return address and the frames.
	 * As much as this thread's unwinds have needed (its first copies
	 * STACK_COPY): copying pins and copies pages, the biggest cost of
	 * a stop after ptrace's own.  A call deeper than any before reads
	 * the rest from the running thread, once; the next copy holds it. */
	got = target_read_uncached(t, regs->rsp, tr->stackbuf,
				   tr->u && tr->depth > 0 && tt->stack_need ? tt->stack_need : STACK_COPY);
	if (got < 8) {
		warn_msg("thread %d: cannot read its stack at 0x%" PRIx64 "; call not traced", th->tid, (uint64_t)regs->rsp);
		return step_over(tr, th, bp, regs) < 0 ? TRAP_NOT_MINE : TRAP_RESUME;
	}
	memset(&e, 0, sizeof(e));
	e.func = as;		/* how to read the result */
	memcpy(&e.ret, tr->stackbuf, 8);
	e.rsp = regs->rsp;
	e.arg[0] = regs->rdi;
	e.arg[1] = regs->rsi;
	e.arg[2] = regs->rdx;
	e.time = hd_wall_time();
	if (target_write(t, regs->rsp, &tramp, 8) < 0) {
		warn_msg("thread %d: cannot redirect its return; call not traced", th->tid);
		return step_over(tr, th, bp, regs) < 0 ? TRAP_NOT_MINE : TRAP_RESUME;
	}
	vec_push(&tt->sh, e);
	if (step_over(tr, th, bp, regs) < 0)
		return TRAP_NOT_MINE;
	/* let it run, then unwind from the copy */
	live_resume(t, th);
	if (tr->u && tr->depth > 0) {
		uint64_t reach = at_entry.rsp + 8;
		struct stack_copy sc = { tr->stackbuf, at_entry.rsp, got, &reach };
		int n = unwind_regs(tr->u, th->tid, &at_entry, &sc, tr->pcs, tr->depth);
		tt->stack_need = stack_need_after(reach, at_entry.rsp, tt->stack_need);
		if (n > 0) {
			uint32_t id = stack_intern(tr->stacks, tr->pcs, n);
			/* the entry may have moved if the vector grew: find it */
			for (size_t i = tt->sh.n; i-- > 0;)
				if (tt->sh.v[i].rsp == at_entry.rsp) {
					tt->sh.v[i].stack = id;
					break;
				}
		}
	}
	return TRAP_HOLD;
}

/*
 * The agent's check at a free or realloc found the chunk suspicious and
 * trapped (hdagent.h: %rdi its pad frame, %rsi its slot).  The thread
 * is set back to the call's entry, with the registers it called with,
 * and its slot lets that call through once (unchecked, unrecorded: the
 * ledger takes it here).  Held at an error (the shell), else resumed.
 */
static enum trap_action
on_agent_check(struct tracer *tr, struct target_thread *th, hd_regs_t *regs)
{
	struct hda_frame f;
	hd_regs_t at;
	struct memerr me;
	uint64_t entry;
	enum tfunc func;
	bool err;
	if (target_read_uncached(tr->t, regs->rdi, &f, sizeof(f)) != sizeof(f) ||
	    !(entry = fast_entry_pc(tr->fp, f.func))) {
		warn_msg("thread %d: the agent's check trap has no frame at 0x%" PRIx64, th->tid, (uint64_t)regs->rdi);
		return TRAP_NOT_MINE;
	}
	func = tr->bps[f.func & HDA_FN_INDEX].func;
	at = *regs;
	at.rip = entry;
	at.rsp = f.rsp;
	at.rdi = f.rdi;
	at.rsi = f.rsi;
	at.rdx = f.rdx;
	at.rcx = f.rcx;
	at.r8 = f.r8;
	at.r9 = f.r9;
	at.rbx = f.rbx;
	at.rbp = f.rbp;
	at.r12 = f.r12;
	at.r13 = f.r13;
	at.r14 = f.r14;
	at.r15 = f.r15;
	/* a free goes on unrecorded (its ledger is taken here); a realloc
	 * recorded, its pointer not checked again */
	if ((is_allocation(func) ? fast_pass_checked(tr->fp, regs->rsi) : fast_pass_once(tr->fp, regs->rsi)) < 0 ||
	    live_set_regs(tr->t, th, &at) < 0) {
		warn_msg("thread %d: cannot take it back to its call at the agent's check: %s", th->tid, hd_errmsg());
		return TRAP_NOT_MINE;
	}
	tr->st.stops++;
	tr->st.agent_checks++;
	/* the events before this call first */
	drain(tr);
	if (!is_allocation(func))
		tr->st.events[func]++;	/* (a realloc: counted at its event) */
	err = ledger_check(tr, f.rdi, func, th->tid, 0, f.rsp, REG_TP(&at), false, &me);
	if (err && !confirm_error(tr, f.rdi, func, th->tid, f.rsp, REG_TP(&at), &me)) {
		/* judged when the ring is read up to this call */
		struct deferred d = { fast_reserved(tr->fp), f.rdi, 0, 0, func, th->tid };
		(void)!target_read_uncached(tr->t, f.rsp, &d.caller, 8);
		if (!glibc_own_free(tr, d.caller, REG_TP(&at)))
			d.caller = 0;	/* (judged now: the program's) */
		d.stack = take_stack(tr, th, &at);
		vec_push(&tr->deferred, d);
		tr->st.deferred++;
		return TRAP_RESUME;
	}
	if (err && error_at_call(tr, th, &me, &at)) {
		if (!is_allocation(func))
			rec_free(tr, f.rdi, me.call_stack, 0);
		return TRAP_HOLD;
	}
	/* (a realloc is recorded when it returns) */
	if (!is_allocation(func))
		rec_free(tr, f.rdi, err ? me.call_stack : take_stack(tr, th, &at), 0);
	return TRAP_RESUME;
}

static bool
tr_want_stop(void *ctx, struct target *t)
{
	struct tracer *tr = ctx;
	if (!tr->held)
		return false;
	tr->held = false;
	return true;
}

static enum trap_action
tr_on_trap(void *ctx, struct target *t, struct target_thread *th)
{
	struct tracer *tr = ctx;
	const hd_regs_t *cur;
	hd_regs_t regs;
	struct bp *bp;

	if (!tr->active)
		return TRAP_NOT_MINE;
	cur = target_regs(t, th);
	if (!cur)
		return TRAP_NOT_MINE;
	regs = *cur;
	if (tr->fp && fast_is_check_trap(tr->fp, regs.rip))
		return on_agent_check(tr, th, &regs);
	bp = bp_at(tr, regs.rip - 1);
	if (!bp && regs.rip - 1 != tr->scratch)
		return TRAP_NOT_MINE;
	if (live_stopping(t)) {
		/* everything is being stopped: put the thread back on its int3
		 * and leave it; it traps again when it runs (or, once tracing
		 * stops, runs the restored instruction) */
		regs.rip--;
		live_set_regs(t, th, &regs);
		return TRAP_HOLD;
	}
	if (!bp)
		return on_return(tr, th, &regs);
	return on_entry(tr, th, bp, &regs);
}

/* ---- the fast path's events ---- */

/* The interned stack of an event (an allocation's or a free's): the id
 * of a stack published before, the agent's pcs, or unwound here from
 * its stack copy (and its rules published); 0 when it has none. */
static uint32_t
fast_stack(struct tracer *tr, const struct fast_event *ev)
{
	uint32_t stack = 0;

	if (ev->stack_id && ev->stack_id <= stack_count(tr->stacks)) {
		stack = ev->stack_id;	/* a stack published before */
		tr->agent_unwinds++;
		tr->stack_ids++;
	} else if (ev->npcs > 0 && tr->depth > 0) {
		stack = stack_intern(tr->stacks, ev->pcs, MIN(ev->npcs, tr->depth));
		fast_publish_stack(tr->fp, ev->pcs, ev->npcs, stack);
		tr->agent_unwinds++;
	} else if (tr->u && tr->depth > 0 && ev->stack_len >= 8) {
		uint64_t reach = ev->regs.rsp + 8;
		struct stack_copy sc = { ev->stack, ev->regs.rsp, ev->stack_len, &reach };
		int n = unwind_regs(tr->u, ev->tid, &ev->regs, &sc, tr->pcs, tr->depth);
		fast_set_need(tr->fp, ev->slot, stack_need_after(reach, ev->regs.rsp, 0));
		if (n > 0)
			stack = stack_intern(tr->stacks, tr->pcs, n);
		/* the agent unwinds the same stack itself from now on */
		for (int i = 0; tr->cfi && i < n; i++) {
			struct cfi_rule_info ri;
			uint64_t pc = i == 0 ? tr->pcs[0] : tr->pcs[i] - 1;
			cfi_rule_info(tr->cfi, pc, &ri);
			fast_publish_rule(tr->fp, pc, &ri);
		}
	}
	return stack;
}

static void
tr_fast_event(void *ctx, const struct fast_event *ev)
{
	struct tracer *tr = ctx;
	struct bp *bp = &tr->bps[ev->index];
	struct shadow e;
	hd_regs_t r;

	if (tr->deferred.n)
		apply_deferred(tr, ev->pos);	/* the frees trapped before this event was reserved */
	tr->st.events[bp->func]++;
	if (!ev->is_call) {
		/* checked now, after the call: what the agent's check at the
		 * entry let through (a fastbin double free, a free of a block
		 * freed long ago); the free's stack as the agent sent it, or
		 * (--no-free-stacks) its caller */
		struct memerr me;
		uint64_t idx;
		uint32_t fs = fast_stack(tr, ev);
		if (u64map_get(&tr->live, ev->arg[0], &idx) && tr->recs.v[idx].used) {
			rec_free_idx(tr, idx, fs, ev->arg[1]);	/* a block in use: the common case */
			return;
		}
		if (ledger_check(tr, ev->arg[0], bp->func, ev->tid, ev->arg[1], 0, 0, true, &me)) {
			me.call_stack = fs ? fs : caller_stack(tr, ev->arg[1]);
			me.at_read = true;
			add_error(tr, &me);
		}
		rec_free(tr, ev->arg[0], fs, ev->arg[1]);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.func = bp->func;
	e.arg[0] = ev->arg[0];
	if (tr->sample_rate && (bp->func == TF_REALLOC || bp->func == TF_REALLOCARRAY)) {
		/* the old block is in the records only if it was sampled, the
		 * result only if it is */
		if (ev->old_sampled)
			rec_free(tr, ev->arg[0], 0, 0);
		if (!ev->sampled)
			return;
		e.arg[0] = 0;
	}
	e.arg[1] = ev->arg[1];
	e.arg[2] = ev->arg[2];
	e.time = ev->time;
	e.stack = fast_stack(tr, ev);
	if ((bp->func == TF_REALLOC || bp->func == TF_REALLOCARRAY) && ev->arg[0] && !ev->checked) {
		/* a realloc's pointer, checked as a free's after the call
		 * (unless checked at the agent's trap already) */
		struct memerr me;
		uint64_t caller = ev->npcs > 1 ? ev->pcs[1] : 0;
		if (!caller && ev->stack_len >= 8)
			memcpy(&caller, ev->stack, 8);
		if (ledger_check(tr, ev->arg[0], bp->func, ev->tid, caller, 0, 0, true, &me)) {
			me.call_stack = e.stack;
			me.at_read = true;
			add_error(tr, &me);
		}
	}
	memset(&r, 0, sizeof(r));
	r.rax = ev->ret;
	record_return(tr, &e, &r, ev->have_out ? &ev->out : NULL);
}

static int
tr_on_poll(void *ctx, struct target *t)
{
	struct tracer *tr = ctx;
	if (!tr->active || !tr->fp)
		return 100;
	drain(tr);
	/* a ring that filled up meanwhile is read again sooner */
	return fast_fill(tr->fp) > 0.25 ? 1 : POLL_MS;
}

static void
tr_on_thread_exit(void *ctx, struct target *t, struct target_thread *th)
{
	struct tracer *tr = ctx;
	if (tr->fp && tr->active)
		fast_thread_exit(tr->fp, th->tid);
	tthread_free(th);
}

static void
tr_on_vfork_done(void *ctx, struct target *t, struct target_thread *th)
{
	struct tracer *tr = ctx;
	const hd_regs_t *r = target_regs(t, th);
	for (size_t i = 0; i < tr->vforks.n; i++)
		if (tr->vforks.v[i].tid == th->tid || (r && tr->vforks.v[i].tp == REG_TP(r))) {
			if (tr->fp && tr->active)
				fast_pass_thread(tr->fp, tr->vforks.v[i].tp, false);
			tr->vforks.v[i] = tr->vforks.v[--tr->vforks.n];
			break;
		}
}

/* A forked child has the breakpoints in its copy of memory: put the
 * original bytes and return addresses back there, then it goes free.  A
 * vfork child shares our memory: keep it traced until it execs. */
static bool
tr_on_fork(void *ctx, struct target *t, struct target_thread *parent, pid_t child, bool is_vfork)
{
	struct tracer *tr = ctx;
	char path[64];
	int fd;

	if (!tr->active)
		return false;
	/* a child that reported before its parent's event is told apart by
	 * its memory: a vfork child shares ours (cleaning "its" copy would
	 * clean ours) */
	if (!is_vfork && !parent && syscall(SYS_kcmp, t->pid, child, KCMP_VM, 0, 0) == 0)
		is_vfork = true;
	if (is_vfork) {
		/* it runs in our memory, on the parent's stack, with the
		 * parent thread's pointer: that thread's calls pass through
		 * until it is back (VFORK_DONE) */
		const hd_regs_t *r = parent ? target_regs(t, parent) : NULL;
		hd_regs_t cr;
		if (!r && ptrace(PTRACE_GETREGS, child, 0, &cr) == 0)
			r = &cr;
		if (tr->fp && r) {
			struct vforked v = { parent ? parent->tid : 0, REG_TP(r) };
			fast_pass_thread(tr->fp, v.tp, true);
			vec_push(&tr->vforks, v);
		}
		/* its breakpoints' traps need us until it execs */
		return tr->narmed_bps > 0;
	}
	if (tr->fp)
		fast_clean_child(tr->fp, child);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)child);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		warn_msg("cannot clean the breakpoints out of forked child %d: %s", (int)child, strerror(errno));
		return false;
	}
	for (unsigned i = 0; i < tr->nbps; i++)
		if (tr->bps[i].armed && pwrite(fd, tr->bps[i].orig, 1, (off_t)tr->bps[i].addr) != 1)
			warn_msg("cannot clean breakpoint at 0x%" PRIx64 " in child %d", tr->bps[i].addr, (int)child);
	if (parent && parent->priv) {
		struct tthread *tt = parent->priv;
		for (size_t i = 0; i < tt->sh.n; i++)
			(void)!pwrite(fd, &tt->sh.v[i].ret, 8, (off_t)tt->sh.v[i].rsp);
	}
	close(fd);
	return false;
}

static bool
tr_on_foreign_trap(void *ctx, struct target *t, pid_t pid, hd_regs_t *regs)
{
	struct tracer *tr = ctx;
	struct bp *bp = tr->active ? bp_at(tr, regs->rip - 1) : NULL;
	if (!bp || !bp->slot)
		return false;
	regs->rip = bp->slot;	/* run it, record nothing */
	return true;
}

static void
tr_on_exec(void *ctx, struct target *t)
{
	struct tracer *tr = ctx;
	/* a new image: our breakpoints and scratch page went with the old;
	 * the events written before it are still in the ring */
	if (tr->fp)
		drain(tr);
	tr->active = false;
	tr->st.seconds = hd_wall_time() - tr->started;
	tr->scratch = 0;
	for (unsigned i = 0; i < tr->nbps; i++)
		tr->bps[i].armed = false;
	tr->narmed_bps = 0;
	if (tr->fp)
		fast_forget_target(tr->fp);
	tr->code = 0;
	for (size_t i = 0; i < t->nthreads; i++)
		tthread_free(t->threads[i]);
	tr->end_reason = "the process executed a new program; tracing ended";
	warn_msg("%s", tr->end_reason);
}

/* ---- setting up ---- */

/* A `syscall` instruction in the allocator's module, to run injected
 * system calls with. */
static uint64_t
find_syscall_insn(struct tracer *tr, Dwfl_Module *mod)
{
	Dwarf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t phnum, rawsz = 0;
	const unsigned char *raw = elf ? (const unsigned char *)elf_rawfile(elf, &rawsz) : NULL;

	if (!raw || elf_getphdrnum(elf, &phnum) < 0)
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (ph.p_offset > rawsz || ph.p_filesz > rawsz - ph.p_offset)
			continue;
		for (uint64_t o = 0; o + 3 <= ph.p_filesz; o++) {
			const unsigned char *q = raw + ph.p_offset + o;
			if (q[0] == 0x0f && q[1] == 0x05 && q[2] == 0xc3) {
				uint64_t a = bias + ph.p_vaddr + o;
				uint8_t mem[2];
				if (target_read_uncached(tr->t, a, mem, 2) == 2 && mem[0] == 0x0f && mem[1] == 0x05)
					return a;
			}
		}
	}
	return 0;
}

/* Run a system call in a stopped thread of the target. */
static int
inject_syscall(struct tracer *tr, long nr, const uint64_t a[6], uint64_t *ret)
{
	struct target *t = tr->t;
	struct target_thread *th = NULL;
	const hd_regs_t *cur;
	hd_regs_t saved, r;
	int pending, rc = -1;
	pid_t tid;

	for (size_t i = 0; i < t->nthreads && !th; i++)
		if (t->threads[i]->state == THREAD_STOPPED && !t->threads[i]->at_exit)
			th = t->threads[i];
	if (!th || !tr->syscall_insn)
		return hd_fail(HD_ENOTSUP, "no stopped thread to run a system call in");
	cur = target_regs(t, th);
	if (!cur)
		return -1;
	saved = *cur;
	r = saved;
	r.rip = tr->syscall_insn;
	r.rax = (uint64_t)nr;
	r.rdi = a[0];
	r.rsi = a[1];
	r.rdx = a[2];
	r.r10 = a[3];
	r.r8 = a[4];
	r.r9 = a[5];
	r.orig_rax = (uint64_t)-1;	/* no syscall restart on the way back */
	pending = th->pending_sig;
	th->pending_sig = 0;
	tid = th->tid;
	if (live_set_regs(t, th, &r) == 0 && live_step(t, th) == 0) {
		const hd_regs_t *after = target_regs(t, th);
		if (after && after->rip == tr->syscall_insn + 2) {
			*ret = after->rax;
			rc = 0;
		} else {
			hd_fail(HD_EGENERIC, "the injected system call did not complete");
		}
	}
	/* a thread that died during the step is freed */
	th = target_find_thread(t, tid);
	if (!th)
		return rc;
	th->pending_sig = pending;
	if (live_set_regs(t, th, &saved) < 0)
		rc = -1;
	return rc;
}

/* Map size bytes r-x within reach of rel32 jumps from every entry
 * point: the free pages closest below the lowest of them. */
static int
map_near(struct tracer *tr, uint64_t lo, uint64_t hi, uint64_t size, uint64_t *out)
{
	struct target *t = tr->t;
	target_refresh_maps(t);
	for (size_t i = t->nmaps; i-- > 0;) {
		/* gaps below lo, nearest first */
		uint64_t gap_hi = t->maps[i].start, gap_lo = i ? t->maps[i - 1].end : 0x10000;
		uint64_t cand, ret = 0, a[6];
		if (gap_hi > lo || gap_hi - gap_lo < size + 4096)
			continue;
		cand = gap_hi - size - 4096;	/* leave a guard page */
		if (hi - cand > (1ULL << 31) - 4096)
			break;	/* out of reach */
		a[0] = cand;
		a[1] = size;
		a[2] = PROT_READ | PROT_EXEC;
		a[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
		a[4] = (uint64_t)-1;
		a[5] = 0;
		if (inject_syscall(tr, SYS_mmap, a, &ret) < 0)
			return -1;
		if (ret == cand) {
			*out = ret;
			target_refresh_maps(t);
			return 0;
		}
		if (ret < (uint64_t)-4096) {
			/* an old kernel took it as a hint elsewhere: give it back */
			uint64_t u[6] = { ret, size, 0, 0, 0, 0 }, dummy;
			inject_syscall(tr, SYS_munmap, u, &dummy);
		}
	}
	return hd_fail(HD_EGENERIC, "no free page within 2 GiB of the allocator for the scratch page");
}

static int
map_scratch(struct tracer *tr, uint64_t lo, uint64_t hi)
{
	return map_near(tr, lo, hi, SCRATCH_SIZE, &tr->scratch);
}

static int
fast_inject(void *ctx, long nr, const uint64_t a[6], uint64_t *ret)
{
	return inject_syscall(ctx, nr, a, ret);
}

static void
unmap_scratch(struct tracer *tr)
{
	uint64_t a[6] = { tr->scratch, SCRATCH_SIZE, 0, 0, 0, 0 }, ret;
	if (!tr->scratch)
		return;
	if (inject_syscall(tr, SYS_munmap, a, &ret) == 0 && ret == 0)
		tr->scratch = 0;
	else
		debug_msg("scratch page at 0x%" PRIx64 " left mapped (no trap is reachable in it)", tr->scratch);
}

/* The original bytes of [addr, addr+len) from the module's file. */
static bool
file_bytes(Dwfl_Module *mod, uint64_t addr, uint8_t *out, size_t len)
{
	Dwarf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t phnum, rawsz = 0;
	const unsigned char *raw = elf ? (const unsigned char *)elf_rawfile(elf, &rawsz) : NULL;
	uint64_t v = addr - bias;

	if (!raw || elf_getphdrnum(elf, &phnum) < 0)
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (v >= ph.p_vaddr && v + len <= ph.p_vaddr + ph.p_filesz &&
		    ph.p_offset + (v - ph.p_vaddr) + len <= rawsz) {
			memcpy(out, raw + ph.p_offset + (v - ph.p_vaddr), len);
			return true;
		}
	}
	return false;
}

/* Verify bp's bytes against the file. */
static int
verify_bp(struct tracer *tr, struct bp *bp)
{
	struct target *t = tr->t;
	Dwfl_Module *mod = dwfl_addrmodule(symbols_dwfl(tr->s), bp->addr);
	uint8_t disk[16];
	const char *name = tfunc_name(bp->func);

	if (target_read_uncached(t, bp->addr, bp->orig, sizeof(bp->orig)) != sizeof(bp->orig))
		return hd_fail(HD_EIO, "cannot read %s at 0x%" PRIx64, name, bp->addr);
	if (bp->orig[0] == 0xcc)
		return hd_fail(HD_EGENERIC, "%s at 0x%" PRIx64 " already starts with a breakpoint (another "
			       "debugger or tracer?)", name, bp->addr);
	if (!mod || !file_bytes(mod, bp->addr, disk, sizeof(disk)))
		return hd_fail(HD_EGENERIC, "cannot read %s's bytes from its file: not patching it", name);
	if (memcmp(disk, bp->orig, sizeof(disk)))
		return hd_fail(HD_EGENERIC, "%s at 0x%" PRIx64 " differs from its file on disk (patched by "
			       "someone else, or the file changed): not patching it", name, bp->addr);
	return 0;
}

/* Prepare bp: relocate its first instruction into its slot. */
static int
prepare_bp(struct tracer *tr, struct bp *bp, unsigned slotno, bool force_step)
{
	struct target *t = tr->t;
	uint8_t code[16 + 8];
	struct x86_insn in;
	size_t outlen = 0;
	const char *name = tfunc_name(bp->func);

	if (x86_decode(bp->orig, sizeof(bp->orig), &in) < 0)
		return hd_fail(HD_EGENERIC, "cannot decode the first instruction of %s", name);
	bp->len = in.len;
	bp->slot = tr->scratch + SLOT_BASE + (uint64_t)slotno * SLOT_SIZE;
	if (force_step ||
	    x86_relocate(bp->orig, &in, bp->addr, bp->slot, code, &outlen) < 0 || outlen > SLOT_SIZE - 5) {
		bp->slot = 0;	/* single-step it with all threads stopped */
		return 0;
	}
	{
		/* jmp rel32 back to the instruction after it */
		int64_t rel = (int64_t)(bp->addr + bp->len) - (int64_t)(bp->slot + outlen + 5);
		int32_t r32 = (int32_t)rel;
		if (rel != r32) {
			bp->slot = 0;
			return 0;
		}
		code[outlen] = 0xe9;
		memcpy(code + outlen + 1, &r32, 4);
		if (target_write(t, bp->slot, code, outlen + 5) < 0)
			return -1;
	}
	{
		static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
		bp->in_place = bp->len == 4 && !memcmp(bp->orig, endbr64, 4);
	}
	return 0;
}

struct syscall_search {
	struct tracer *tr;
	uint64_t found;
};

static int
syscall_search_cb(Dwfl_Module *mod, void **user, const char *name, Dwarf_Addr start, void *arg)
{
	struct syscall_search *ss = arg;
	ss->found = find_syscall_insn(ss->tr, mod);
	return ss->found ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* Unmap the fast path's pages in the target, if nothing can be in them
 * any more; the code page stays otherwise (and is said to). */
static void
unmap_fast(struct tracer *tr)
{
	uint64_t a[6] = { tr->code, HDA_MAP_SIZE, 0, 0, 0, 0 }, ret;
	if (tr->fp) {
		struct fast_stats fs;
		fast_stats(tr->fp, &fs);
		if (fs.mapped && fast_unmap(tr->fp) < 0) {
			debug_msg("fast tracepoints: pages at 0x%" PRIx64 " left mapped", tr->code);
			return;
		}
		tr->code = 0;	/* fast_unmap() unmapped the code page too */
		return;
	}
	if (tr->code && inject_syscall(tr, SYS_munmap, a, &ret) == 0 && ret == 0)
		tr->code = 0;
}

/*
 * Fast tracepoints for every entry point that can take a jump; the others
 * stay breakpoints (bp->why says why).  When the agent cannot be set up at
 * all (no room for a code page, no memfd in the target...), every entry
 * point is a breakpoint and tr->fast_error says why.
 */
static void
setup_fast(struct tracer *tr, uint64_t lo, uint64_t hi, const struct trace_opts *o)
{
	struct fast_config cfg;
	const char *force = getenv("HEAPDBG_TRACE_FORCE_BREAKPOINT");

	if (map_near(tr, lo, hi, HDA_MAP_SIZE, &tr->code) < 0) {
		tr->fast_error = "no room for the code page within 2 GiB of the allocator";
		return;
	}
	for (unsigned i = 0; i < tr->nbps; i++) {
		tr->fe[i].addr = tr->bps[i].addr;
		tr->fe[i].index = i;
		tr->fe[i].is_free = tr->bps[i].func == TF_FREE || tr->bps[i].func == TF_CFREE;
		tr->fe[i].out_ptr = tr->bps[i].func == TF_POSIX_MEMALIGN;
		tr->fe[i].frees_old = tr->bps[i].func == TF_REALLOC || tr->bps[i].func == TF_REALLOCARRAY;
		switch (tr->bps[i].func) {
		case TF_CALLOC:
			tr->fe[i].size_kind = HDA_SIZE_RDI_RSI;
			break;
		case TF_REALLOC:
		case TF_MEMALIGN:
		case TF_ALIGNED_ALLOC:
			tr->fe[i].size_kind = HDA_SIZE_RSI;
			break;
		case TF_REALLOCARRAY:
			tr->fe[i].size_kind = HDA_SIZE_RSI_RDX;
			break;
		case TF_POSIX_MEMALIGN:
			tr->fe[i].size_kind = HDA_SIZE_RDX;
			break;
		default:
			tr->fe[i].size_kind = HDA_SIZE_RDI;
			break;
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.code = tr->code;
	cfg.ring_size = RING_SIZE;
	cfg.stack_first = STACK_COPY;
	cfg.stack_max = STACK_COPY_MAX;
	cfg.depth = tr->depth;
	cfg.sample_rate = tr->sample_rate;
	cfg.sample_seed = tr->sample_seed;
	cfg.free_stacks = !o->no_free_stacks;
	/* HEAPDBG_UNWIND_VERIFY: every stack is unwound by heapdbg from a
	 * copy, to be checked against libunwind */
	cfg.agent_unwinds = tr->u && !getenv("HEAPDBG_UNWIND_VERIFY");
	if (cfg.agent_unwinds)
		tr->cfi = cfi_cache_new(tr->t, tr->s);
	cfg.inject = fast_inject;
	cfg.inject_ctx = tr;
	tr->fp = fast_setup(tr->t, tr->s, tr->fe, tr->nbps, &cfg);
	if (!tr->fp) {
		uint64_t a[6] = { tr->code, HDA_MAP_SIZE, 0, 0, 0, 0 }, ret;
		static char why[160];
		snprintf(why, sizeof(why), "%s", hd_errmsg());
		tr->fast_error = why;
		warn_msg("fast tracepoints unavailable (%s): breakpoints instead", why);
		if (inject_syscall(tr, SYS_munmap, a, &ret) == 0 && ret == 0)
			tr->code = 0;
		return;
	}
	/* the memory-error check at free needs every free: not while
	 * sampling (an unsampled free goes straight to glibc in pad.S) */
	if (!cfg.sample_rate)
		fast_set_check(tr->fp, o ? o->tcache_key : 0, o ? o->tcache_key_addr : 0, tr->own_lo, tr->own_hi,
			       tr->have_tcache_tpoff && tr->tcache_tpoff == (int32_t)tr->tcache_tpoff ?
				       (int32_t)tr->tcache_tpoff : 0);
	for (unsigned i = 0; i < tr->nbps; i++) {
		struct bp *bp = &tr->bps[i];
		/* a test hook: the names in HEAPDBG_TRACE_FORCE_BREAKPOINT
		 * (comma-separated) stay breakpoints */
		if (force && tr->fe[i].patched) {
			const char *n = tfunc_name(bp->func), *p = strstr(force, n);
			if (p && (p == force || p[-1] == ',') && (p[strlen(n)] == 0 || p[strlen(n)] == ',')) {
				tr->fe[i].patched = false;
				tr->fe[i].why = "HEAPDBG_TRACE_FORCE_BREAKPOINT names it";
			}
		}
		bp->fast = tr->fe[i].patched;
		bp->why = tr->fe[i].why;
	}
}

struct tracer *
tracer_start(struct target *t, struct symbols *s, struct unwinder *u, const struct trace_opts *o)
{
	struct tracer *tr;
	uint64_t lo = UINT64_MAX, hi = 0;
	uint8_t int3 = 0xcc;
	bool force_step = getenv("HEAPDBG_TRACE_STEPALL") != NULL;
	const char *first_module = NULL;
	unsigned nbp;

	if (t->kind != TARGET_LIVE)
		return hd_fail(HD_ENOTSUP, "tracing needs a live process"), NULL;
	tr = xcalloc(1, sizeof(*tr));
	tr->t = t;
	tr->s = s;
	tr->u = u;
	tr->depth = o && o->depth > 0 ? o->depth : 32;
	tr->sample_rate = o ? o->sample : 0;
	tr->no_free_stacks = o && o->no_free_stacks;
	tr->sample_seed = o && o->sample_seed ? o->sample_seed : 0;
	if (tr->sample_rate && !tr->sample_seed && getrandom(&tr->sample_seed, sizeof(tr->sample_seed), GRND_NONBLOCK) != 8)
		tr->sample_seed = (uint64_t)(hd_wall_time() * 1e9);
	if (tr->sample_rate && o->breakpoints) {
		free(tr->pcs);
		stack_table_free(tr->stacks);
		free(tr);
		return hd_fail(HD_EUSAGE, "trace start: --sample needs fast tracepoints, not --breakpoints"), NULL;
	}
	tr->pcs = xreallocarray(NULL, (size_t)tr->depth, sizeof(uint64_t));
	tr->stacks = stack_table_new();
	u64map_init(&tr->live);
	u64map_init(&tr->pre);
	if (o) {
		tr->stop_on_error = o->stop_on_error;
		tr->pre_known = o->pre_known;
		tr->tcache_tpoff = o->tcache_tpoff;
		tr->have_tcache_tpoff = o->have_tcache_tpoff && o->tcache_tpoff;
		if (o->npre) {
			tr->prev = xreallocarray(NULL, o->npre, sizeof(*tr->prev));
			memcpy(tr->prev, o->pre, o->npre * sizeof(*tr->prev));
			tr->npre = o->npre;
			for (size_t i = 0; i < o->npre; i++)
				u64map_put(&tr->pre, o->pre[i].addr, o->pre[i].size);
		}
		for (size_t i = 0; i < o->nprefreed; i++)
			freed_add(tr, o->prefreed[i].addr, o->prefreed[i].size, 0, 0);
	}

	/* the definitions the program calls, one breakpoint per address */
	for (size_t i = 0; i < ARRAY_SIZE(entry_points); i++) {
		uint64_t addr;
		const char *mod;
		unsigned k;
		if (locate_dynamic_symbol(t, s, entry_points[i].name, &addr, &mod) < 0)
			continue;
		if (!first_module)
			first_module = mod;
		/* cfree is glibc's compat alias of its own free: when free is
		 * interposed, a wrapper that forwards to glibc (__libc_free)
		 * would count every free twice; and nothing else may call
		 * glibc's free for the interposer's blocks */
		if (entry_points[i].func == TF_CFREE && tr->by_func[TF_FREE] &&
		    (!mod || !tr->by_func[TF_FREE]->module || strcmp(mod, tr->by_func[TF_FREE]->module)))
			continue;
		for (k = 0; k < tr->nbps; k++)
			if (tr->bps[k].addr == addr)
				break;
		if (k < tr->nbps) {
			if (!tr->by_func[entry_points[i].func])
				tr->by_func[entry_points[i].func] = &tr->bps[k];
			continue;	/* an alias (aligned_alloc = memalign) */
		}
		if (tr->nbps == MAX_BPS)
			continue;
		tr->by_func[entry_points[i].func] = &tr->bps[tr->nbps];
		tr->bps[tr->nbps].addr = addr;
		tr->bps[tr->nbps].func = entry_points[i].func;
		tr->bps[tr->nbps].module = mod;
		tr->nbps++;
		lo = MIN(lo, addr);
		hi = MAX(hi, addr);
	}
	if (!tr->nbps) {
		hd_fail(HD_ENOTSUP, "no allocator entry point found in the program");
		goto fail;
	}
	{
		const struct bp *m = tr->by_func[TF_MALLOC], *f = tr->by_func[TF_FREE];
		const struct bp *r = tr->by_func[TF_REALLOC], *ra = tr->by_func[TF_REALLOCARRAY];
		tr->glibc_chain = m && f && r && m->module && f->module == m->module && r->module == m->module &&
				  (!ra || ra->module == m->module) && strstr(m->module, "libc.so");
	}
	if (tr->by_func[TF_FREE] && tr->by_func[TF_FREE]->module && strstr(tr->by_func[TF_FREE]->module, "libc.so")) {
		struct module_info mi;
		if (symbols_module_at(s, tr->by_func[TF_FREE]->addr, &mi)) {
			tr->own_lo = mi.start;
			tr->own_hi = mi.end;
		}
	}
	tr->syscall_insn = find_syscall_insn(tr, dwfl_addrmodule(symbols_dwfl(s), lo));
	if (!tr->syscall_insn) {
		/* an interposed allocator may hold none (a small wrapper):
		 * any module's will do */
		struct syscall_search ss = { tr, 0 };
		dwfl_getmodules(symbols_dwfl(s), syscall_search_cb, &ss, 0);
		tr->syscall_insn = ss.found;
	}
	if (!tr->syscall_insn) {
		hd_fail(HD_ENOTSUP, "no syscall instruction found to map the scratch page with");
		goto fail;
	}
	for (unsigned i = 0; i < tr->nbps; i++)
		if (verify_bp(tr, &tr->bps[i]) < 0)
			goto fail;
	hd_test_pause("trace-scratch");	/* nothing mapped or armed yet */
	if (!(o && o->breakpoints))
		setup_fast(tr, lo, hi, o);
	nbp = 0;
	for (unsigned i = 0; i < tr->nbps; i++)
		nbp += !tr->bps[i].fast;
	if (tr->sample_rate && (nbp || !tr->fp)) {
		/* a breakpoint would record every call, the agent a sample */
		for (unsigned i = 0; i < tr->nbps; i++)
			if (!tr->bps[i].fast) {
				hd_fail(HD_ENOTSUP, "trace start --sample: %s cannot take a fast tracepoint (%s)",
					tfunc_name(tr->bps[i].func),
					tr->bps[i].why ? tr->bps[i].why : tr->fast_error ? tr->fast_error : "?");
				break;
			}
		goto fail_unmap;
	}
	if (nbp) {
		if (map_scratch(tr, lo, hi) < 0)
			goto fail_unmap;
		if (tr->fp)
			fast_add_inner(tr->fp, tr->scratch, tr->scratch + SCRATCH_SIZE);
	}
	hd_test_pause("trace-start");	/* pages mapped, nothing armed */
	if (tr->scratch && target_write(t, tr->scratch, &int3, 1) < 0)
		goto fail_unmap;
	for (unsigned i = 0; i < tr->nbps; i++)
		if (!tr->bps[i].fast && prepare_bp(tr, &tr->bps[i], i, force_step) < 0)
			goto fail_unmap;
	/* all checked: arm them */
	if (tr->fp) {
		fast_prime_threads(tr->fp);
		if (fast_arm(tr->fp) < 0)
			goto fail_unmap;
		/* an entry point whose bytes changed meanwhile was not
		 * patched: it gets no breakpoint either */
		for (unsigned i = 0; i < tr->nbps; i++)
			if (tr->bps[i].fast && !tr->fe[i].patched) {
				tr->bps[i].fast = false;
				tr->bps[i].untouched = true;
				tr->bps[i].why = tr->fe[i].why;
				warn_msg("%s: %s; not traced", tfunc_name(tr->bps[i].func), tr->fe[i].why);
			}
	}
	for (unsigned i = 0; i < tr->nbps; i++) {
		if (tr->bps[i].fast || tr->bps[i].untouched)
			continue;
		if (target_write(t, tr->bps[i].addr, &int3, 1) < 0) {
			for (unsigned k = 0; k < i; k++) {
				if (tr->bps[k].armed)
					target_write(t, tr->bps[k].addr, tr->bps[k].orig, 1);
				tr->bps[k].armed = false;
			}
			if (tr->fp)
				fast_disarm(tr->fp);
			goto fail_unmap;
		}
		tr->bps[i].armed = true;
		tr->narmed_bps++;
	}
	tr->active = true;
	tr->started = hd_wall_time();
	tr->hooks.ctx = tr;
	tr->hooks.on_trap = tr_on_trap;
	tr->hooks.on_thread_exit = tr_on_thread_exit;
	tr->hooks.on_fork = tr_on_fork;
	tr->hooks.on_foreign_trap = tr_on_foreign_trap;
	tr->hooks.on_exec = tr_on_exec;
	tr->hooks.on_vfork_done = tr_on_vfork_done;
	tr->hooks.want_stop = tr_want_stop;
	if (tr->fp) {
		tr->hooks.on_poll = tr_on_poll;
		tr->hooks.poll_ms = POLL_MS;
	}
	tr->source.ctx = tr;
	tr->source.lookup = source_lookup;
	tr->source.stacks = tr->stacks;
	live_set_hooks(t, &tr->hooks);
	(void)first_module;
	return tr;
fail_unmap:
	{
		char *msg = xstrdup(hd_errmsg());
		enum hd_err code = hd_errcode();
		unmap_scratch(tr);
		unmap_fast(tr);
		hd_fail(code, "%s", msg);
		free(msg);
	}
fail:
	tracer_free(tr);
	return NULL;
}

/* Put a thread that is somewhere in our machinery back on its own path. */
static void
unwind_thread_state(struct tracer *tr, struct target_thread *th)
{
	struct target *t = tr->t;
	struct tthread *tt = th->priv;
	const hd_regs_t *cur;
	hd_regs_t regs;
	bool changed = false;

	if (th->state != THREAD_STOPPED) {
		debug_msg("trace stop: thread %d is not stopped (state %d)", th->tid, th->state);
		return;
	}
	cur = target_regs(t, th);
	if (!cur)
		return;
	regs = *cur;
	/* right after the agent's check trap, its SIGTRAP not reported yet:
	 * drop the signal and take the call back to its entry (unchecked) */
	if (tr->fp && fast_is_check_trap(tr->fp, regs.rip)) {
		pid_t tid = th->tid;
		if (live_drain_signal(t, th, SIGTRAP) < 0)
			warn_msg("thread %d: %s", tid, hd_errmsg());
		th = target_find_thread(t, tid);
		if (!th || th->state != THREAD_STOPPED)
			return;
		tt = th->priv;
		on_agent_check(tr, th, &regs);
		tr->held = false;
		cur = target_regs(t, th);
		if (!cur)
			return;
		regs = *cur;
	}
	/* right after one of our int3s, its SIGTRAP not reported yet (an
	 * interrupt stop came first): back onto it, and drop the signal */
	if (regs.rip - 1 == tr->scratch || bp_at(tr, regs.rip - 1)) {
		pid_t tid = th->tid;
		regs.rip--;
		live_set_regs(t, th, &regs);
		if (live_drain_signal(t, th, SIGTRAP) < 0)
			warn_msg("thread %d: %s", tid, hd_errmsg());
		/* (a thread that died meanwhile is freed, its state too) */
		th = target_find_thread(t, tid);
		if (!th || th->state != THREAD_STOPPED)
			return;
		tt = th->priv;
		cur = target_regs(t, th);
		if (cur)
			regs = *cur;
		changed = false;
	}
	if (tr->scratch && regs.rip >= tr->scratch && regs.rip < tr->scratch + SCRATCH_SIZE) {
		if (regs.rip == tr->scratch && tt && tt->sh.n) {
			/* returned to the trampoline, int3 not yet run */
			regs.rip = tt->sh.v[--tt->sh.n].ret;
			changed = true;
		}
		for (unsigned i = 0; i < tr->nbps && !changed; i++) {
			struct bp *bp = &tr->bps[i];
			if (!bp->slot || regs.rip < bp->slot || regs.rip >= bp->slot + SLOT_SIZE)
				continue;
			/* before the displaced instruction: redo it in place;
			 * after it (at the jmp back): go on after it */
			regs.rip = regs.rip == bp->slot ? bp->addr : bp->addr + bp->len;
			changed = true;
		}
	}
	debug_msg("trace stop: thread %d at 0x%llx, %zu shadow entries%s", th->tid, regs.rip,
		  tt ? tt->sh.n : 0, changed ? " (moved out of the scratch page)" : "");
	if (changed)
		live_set_regs(t, th, &regs);
	/* return addresses we replaced */
	if (tt) {
		for (size_t i = tt->sh.n; i-- > 0;) {
			uint64_t v = 0;
			if (target_read_uncached(t, tt->sh.v[i].rsp, &v, 8) == 8 && v == tr->scratch)
				target_write(t, tt->sh.v[i].rsp, &tt->sh.v[i].ret, 8);
			else
				debug_msg("trace stop: thread %d: slot 0x%" PRIx64 " holds 0x%" PRIx64 ", not the "
					  "trampoline", th->tid, tt->sh.v[i].rsp, v);
		}
		tt->sh.n = 0;
	}
}

static bool
settle_want_stop(void *ctx, struct target *t)
{
	struct tracer *tr = ctx;
	drain(tr);
	return !fast_busy(tr->fp);
}

/*
 * The jumps are gone and the agent is off, but a thread may still be in
 * the code page or inside a function a pad called, and return into the
 * pad.  If one may, let the process run until none may (at most
 * SETTLE_SECONDS, the threads stopped again after), then unmap the pages;
 * else they stay mapped, harmless, and trace status says so.
 */
#define SETTLE_SECONDS 0.5
static void
settle_fast(struct tracer *tr)
{
	struct target *t = tr->t;
	if (fast_busy(tr->fp)) {
		struct live_hooks h;
		struct run_result res;
		memset(&h, 0, sizeof(h));
		h.ctx = tr;
		h.want_stop = settle_want_stop;
		for (int round = 0; round < 5 && fast_busy(tr->fp); round++) {
			if (live_run(t, SETTLE_SECONDS / 5, &h, &res) < 0 || res.end == RUN_GONE ||
			    res.end == RUN_EXITED || res.end == RUN_TERMINATE || res.end == RUN_INTERRUPTED)
				break;
		}
		live_set_hooks(t, NULL);
		if (live_gone(t) || live_at_exit(t))
			return;
	}
	drain(tr);
	if (fast_busy(tr->fp)) {
		warn_msg("a thread may still return into heapdbg's code page at 0x%" PRIx64 ": it stays mapped "
			 "(harmless; unmapped at the next trace stop or detach that finds it unused)", tr->code);
		return;
	}
	unmap_fast(tr);
}

int
tracer_stop(struct tracer *tr)
{
	struct target *t;
	int rc = 0;

	if (!tr || !tr->active)
		return 0;
	t = tr->t;
	tr->st.seconds = hd_wall_time() - tr->started;
	hd_test_pause("trace-stop");	/* every breakpoint still armed */
	if (tr->fp) {
		/* what the threads wrote up to now */
		drain(tr);
		if (!live_gone(t) && fast_disarm(tr->fp) < 0)
			rc = hd_fail(HD_EIO, "an entry point no longer held heapdbg's jump (left as it was)");
	}
	if (!live_gone(t)) {
		/* by tid: putting one thread back may see another die, and
		 * the list shrink under the loop */
		VEC(pid_t) tids = { 0 };
		for (size_t i = 0; i < t->nthreads; i++)
			vec_push(&tids, t->threads[i]->tid);
		for (size_t i = 0; i < tids.n; i++) {
			struct target_thread *th = target_find_thread(t, tids.v[i]);
			if (th)
				unwind_thread_state(tr, th);
		}
		vec_free(&tids);
		for (unsigned i = 0; i < tr->nbps; i++) {
			if (tr->bps[i].armed && target_write(t, tr->bps[i].addr, tr->bps[i].orig, 1) < 0)
				rc = hd_fail(HD_EIO, "cannot restore %s at 0x%" PRIx64, tfunc_name(tr->bps[i].func),
					     tr->bps[i].addr);
			tr->bps[i].armed = false;
		}
		tr->narmed_bps = 0;
		unmap_scratch(tr);
	}
	for (size_t i = 0; i < t->nthreads; i++)
		tthread_free(t->threads[i]);
	tr->active = false;
	live_set_hooks(t, NULL);
	/* (a SIGKILL from outside while every thread was held: settling
	 * would run the threads into their deaths without an exit stop, and
	 * the process would be gone instead of held at its exit) */
	if (tr->fp && !live_poll(t) && !live_gone(t) && !live_at_exit(t))
		settle_fast(tr);
	return rc;
}

void
tracer_free(struct tracer *tr)
{
	if (!tr)
		return;
	if (tr->active)
		tracer_stop(tr);
	if (tr->fp && tr->code && !live_gone(tr->t) && !live_at_exit(tr->t) && !fast_busy(tr->fp))
		unmap_fast(tr);
	fast_free(tr->fp);
	cfi_cache_free(tr->cfi);
	vec_free(&tr->vforks);
	stack_table_free(tr->stacks);
	u64map_free(&tr->live);
	u64map_free(&tr->pre);
	free(tr->freedq);
	free(tr->prev);
	vec_free(&tr->errs);
	vec_free(&tr->deferred);
	vec_free(&tr->recs);
	vec_free(&tr->free_recs);
	free(tr->pcs);
	free(tr);
}

/* a's counts plus those of unwinder u (cached_pcs: u's own) */
static void
unwind_stats_sum(struct unwind_stats *out, const struct unwind_stats *a, const struct unwinder *u)
{
	struct unwind_stats b;
	unwinder_stats(u, &b);
	out->fast = a->fast + b.fast;
	out->full = a->full + b.full;
	out->verified = a->verified + b.verified;
	out->mismatches = a->mismatches + b.mismatches;
	out->cached_pcs = b.cached_pcs;
}

void
tracer_set_unwinder(struct tracer *tr, struct unwinder *u)
{
	if (!tr)
		return;
	/* the counts so far stay with the tracer */
	unwind_stats_sum(&tr->unw_acc, &tr->unw_acc, tr->u);
	tr->u = u;
}

const struct live_hooks *
tracer_hooks(struct tracer *tr)
{
	return tr && tr->active ? &tr->hooks : NULL;
}

bool
tracer_active(const struct tracer *tr)
{
	return tr && tr->active;
}

const char *
tracer_end_reason(const struct tracer *tr)
{
	return tr ? tr->end_reason : NULL;
}

const struct alloc_source *
tracer_source(struct tracer *tr)
{
	return tr ? &tr->source : NULL;
}

uint64_t
tracer_sample_rate(const struct tracer *tr)
{
	return tr ? tr->sample_rate : 0;
}

double
sample_weight(uint64_t req, uint64_t rate)
{
	double p;
	if (!rate)
		return 1;
	p = -expm1(-(double)req / (double)rate);	/* 1 - exp(-req/rate) */
	return p > 0 ? 1 / p : 1;
}

const struct stack_table *
tracer_stacks(const struct tracer *tr)
{
	if (tr)
		sync_ring(tr);
	return tr ? tr->stacks : NULL;
}

void
tracer_status(const struct tracer *tr, struct trace_status *st)
{
	sync_ring(tr);
	*st = tr->st;
	st->active = tr->active;
	st->nbreakpoints = tr->nbps;
	st->stacks = stack_count(tr->stacks);
	st->memory = stack_memory(tr->stacks) + tr->recs.cap * sizeof(struct trec) +
		     tr->live.cap * 2 * sizeof(uint64_t) + tr->free_recs.cap * sizeof(uint32_t);
	st->depth = tr->depth;
	unwind_stats_sum(&st->unwind, &tr->unw_acc, tr->u);
	st->fast_tried = tr->fp || tr->fast_error;
	st->fast_error = tr->fast_error;
	st->nfast = 0;
	st->nentries = 0;
	for (unsigned i = 0; i < tr->nbps && i < ARRAY_SIZE(st->entries); i++) {
		struct trace_entry *e = &st->entries[st->nentries++];
		e->name = tfunc_name(tr->bps[i].func);
		e->addr = tr->bps[i].addr;
		e->mode = tr->bps[i].fast ? "fast" : tr->bps[i].untouched ? "none" : "breakpoint";
		e->why = tr->bps[i].fast ? NULL : tr->bps[i].why ? tr->bps[i].why : tr->fast_error;
		st->nfast += tr->bps[i].fast;
	}
	st->nbreakpoints = tr->nbps - st->nfast;
	st->unwind.fast += tr->agent_unwinds;
	st->agent_unwinds = tr->agent_unwinds;
	st->stack_ids = tr->stack_ids;
	st->sample_rate = tr->sample_rate;
	st->free_stacks = !tr->no_free_stacks;
	if (tr->fp) {
		struct fast_stats fs;
		fast_stats(tr->fp, &fs);
		st->ring_events = fs.events;
		st->ring_waits = fs.waits;
		st->ring_lost = fs.lost;
		st->ring_noslot = fs.noslot;
		st->ring_hellos = fs.hellos;
		st->ring_size = fs.ring_size;
		st->ring_threads = fs.threads;
		st->sampled = fs.sampled;
		st->sample_dropped = fs.sset_full;
		st->pages_mapped = fs.mapped;
		st->code = fs.mapped ? tr->code : 0;
	}
	if (tr->active)
		st->seconds = hd_wall_time() - tr->started;
}
