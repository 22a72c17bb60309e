/*
 * agent.c - heapdbg's in-target collector (see hdagent.h for the
 * contract, pad.S for how it is entered).
 *
 * Freestanding: no libc, no global data, no relocations.  It reaches its
 * two pages through hda_priv, which the linker script (agent.lds) puts at
 * a fixed distance from the code, so every access is %rip-relative.  It
 * runs on the calling thread's stack, in any thread, in signal handlers
 * that interrupt it: per-call state lives in the pad's frame, per-thread
 * state in the slot, and nothing waits while it holds a reservation.
 */
#include "hdagent.h"

extern volatile struct hda_priv hda_priv __attribute__((visibility("hidden")));

int hda_enter(struct hda_frame *f) __attribute__((visibility("hidden")));
void hda_exit(struct hda_frame *f) __attribute__((visibility("hidden")));
void *memcpy(void *d, const void *s, unsigned long n) __attribute__((visibility("hidden")));
void *memset(void *d, int c, unsigned long n) __attribute__((visibility("hidden")));

#define NR_poll 7
#define NR_getpid 39
#define NR_gettid 186
#define NR_tgkill 234
#define NR_futex 202
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define POLLIN 1
#define POLLERR 8
#define POLLHUP 16
#define POLLNVAL 32
#define WAIT_NS 50000000L	/* a futex wait, then ask whether heapdbg lives */

struct ts {
	long sec, nsec;
};

struct pollfd_k {
	int fd;
	short events, revents;
};

static inline long
sys1(long n, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

static inline long
sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static inline long
sys4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return r;
}

void *
memcpy(void *d, const void *s, unsigned long n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n >= 8) {
		uint64_t w;
		__builtin_memcpy(&w, sp, 8);
		__builtin_memcpy(dp, &w, 8);
		dp += 8;
		sp += 8;
		n -= 8;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *
memset(void *d, int c, unsigned long n)
{
	unsigned char *dp = d;
	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t
thread_pointer(void)
{
	uint64_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* single-instruction updates: atomic with respect to a signal handler
 * of the same thread (the only other writer of a slot's counters) */
static inline void
inc32(volatile uint32_t *p)
{
	__asm__ volatile("incl %0" : "+m"(*p));
}

static inline void
dec32(volatile uint32_t *p)
{
	__asm__ volatile("decl %0" : "+m"(*p));
}

#define barrier() __asm__ volatile("" ::: "memory")
#define LOAD(x) (*(volatile __typeof__(x) *)&(x))
#define STORE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

static inline struct hda_shm *
shm(void)
{
	return (struct hda_shm *)(uintptr_t)hda_priv.shm;
}

static struct hda_slot *
slot_get(struct hda_shm *s)
{
	struct hda_slot *slots = (struct hda_slot *)((char *)s + s->slots_off);
	uint64_t tp = thread_pointer(), mask = s->nslots - 1;
	uint64_t i = (tp * 0x9e3779b97f4a7c15ULL) >> 40;

	if (!tp)
		return 0;
	for (uint32_t n = 0; n < s->nslots; n++, i++) {
		struct hda_slot *sl = &slots[i & mask];
		uint64_t k = LOAD(sl->key);
		if (k == tp)
			return sl;
		if (k == 0) {
			uint64_t expect = 0;
			if (__atomic_compare_exchange_n(&sl->key, &expect, tp, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE) || expect == tp)
				return sl;
		}
	}
	return 0;
}

/* Is heapdbg still there?  Its pipe's only writer is heapdbg. */
static int
consumer_alive(struct hda_shm *s)
{
	struct pollfd_k p = { s->live_fd, POLLIN, 0 };
	long r = sys3(NR_poll, (long)&p, 1, 0);
	if (r < 0)
		return 1;	/* (EINTR and the like: ask again later) */
	return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void
consumer_gone(struct hda_shm *s)
{
	STORE(hda_priv.enabled, 0);
	STORE(s->gone, 1);
}

/* Wait (bounded) on a futex word that still holds val; false when
 * heapdbg is gone. */
static int
wait_on(struct hda_shm *s, uint32_t *word, uint32_t val)
{
	struct ts t = { 0, WAIT_NS };
	long r = sys4(NR_futex, (long)word, FUTEX_WAIT, val, (long)&t);
	if (r == -110 /* ETIMEDOUT */ && !consumer_alive(s)) {
		consumer_gone(s);
		return 0;
	}
	return LOAD(hda_priv.enabled) != 0;
}

static void
ring_put(struct hda_shm *s, uint64_t pos, const void *src, uint64_t n)
{
	uint64_t size = s->ring_size, off = pos & (size - 1);
	char *ring = (char *)s + s->ring_off;
	if (off + n <= size) {
		memcpy(ring + off, src, n);
	} else {
		memcpy(ring + off, src, size - off);
		memcpy(ring, (const char *)src + (size - off), n - (size - off));
	}
}

/*
 * Write one event: the header h (hlen bytes, its commit word excluded
 * from what is copied first), then stack bytes.  Returns 0 when written,
 * -1 when dropped (heapdbg gone, tracing off, or no room for a thread
 * that cannot wait).
 */
static int
ring_write(struct hda_shm *s, struct hda_slot *sl, void *hdr, uint32_t hlen, const void *stack, uint32_t slen)
{
	struct hda_ev_head *h = hdr;
	uint64_t len = ((uint64_t)hlen + slen + 7) & ~7ULL;
	int nested = sl && LOAD(sl->holding);
	uint64_t pos;
	int waited = 0;

	for (;;) {
		uint64_t head = LOAD(s->head), tail = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
		uint64_t room = s->ring_size - (head - tail);
		uint64_t want = len + (nested ? 0 : HDA_RESERVE(s->ring_size));
		if (room >= want) {
			if (sl)
				inc32(&sl->holding);
			if (__atomic_compare_exchange_n(&s->head, &head, head + len, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				pos = head;
				break;
			}
			if (sl)
				dec32(&sl->holding);
			continue;
		}
		if (nested) {
			__atomic_fetch_add(&s->lost, 1, __ATOMIC_RELAXED);
			return -1;
		}
		/* full: wait for heapdbg to drain it */
		{
			uint32_t seq = LOAD(s->wake);
			if (!waited) {
				__atomic_fetch_add(&s->waits, 1, __ATOMIC_RELAXED);
				waited = 1;
			}
			__atomic_fetch_add(&s->waiters, 1, __ATOMIC_ACQ_REL);
			head = LOAD(s->head);
			tail = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
			if (s->ring_size - (head - tail) >= want) {
				__atomic_fetch_sub(&s->waiters, 1, __ATOMIC_RELAXED);
				continue;
			}
			if (!wait_on(s, &s->wake, seq)) {
				__atomic_fetch_sub(&s->waiters, 1, __ATOMIC_RELAXED);
				return -1;
			}
			__atomic_fetch_sub(&s->waiters, 1, __ATOMIC_RELAXED);
			if (!LOAD(hda_priv.enabled))
				return -1;
		}
	}
	if (h->type == HDA_EV_HELLO && !nested && LOAD(s->test_hello_sig))
		sys4(NR_tgkill, sys1(NR_getpid, 0), sys1(NR_gettid, 0), (long)s->test_hello_sig, 0);
	h->len = (uint32_t)len;
	ring_put(s, pos + 8, (char *)hdr + 8, hlen - 8);
	if (slen)
		ring_put(s, pos + hlen, stack, slen);
	barrier();
	/* the commit word: 8-aligned, never split by the ring's end */
	STORE(*(uint64_t *)((char *)s + s->ring_off + (pos & (s->ring_size - 1))), pos ^ s->key);
	barrier();
	if (sl) {
		dec32(&sl->holding);
		sl->events++;
	}
	return 0;
}

/* A call whose return address is in a traced function's body (or in our
 * code: a tail call of a body we called) is counted with its caller. */
static int
inner_call(struct hda_shm *s, uint64_t ret)
{
	for (uint32_t i = 0; i < s->ninner; i++)
		if (ret >= s->inner[i].lo && ret < s->inner[i].hi)
			return 1;
	return 0;
}

/* This thread's stack range covers rsp (1), or heapdbg is asked for it (a
 * new thread, a signal stack) and the thread waits for the answer; 0: no
 * stack to copy (heapdbg gone, or no mapping there), -1: unknown and it
 * cannot ask (see below). */
static int
stack_known(struct hda_shm *s, struct hda_slot *sl, uint32_t slotno, uint64_t rsp)
{
	while (!(rsp >= LOAD(sl->stack_lo) && rsp < LOAD(sl->stack_hi))) {
		struct hda_ev_head h;
		uint32_t seq = LOAD(sl->hello_seq);
		/* A signal handler on a stack heapdbg has not seen, run
		 * while this thread holds a reservation in the ring: a
		 * sigaltstack, or any handler that interrupts a new thread's
		 * first event (its own HELLO, before heapdbg has told it its
		 * stack).  heapdbg cannot read a question past that
		 * uncommitted event, so waiting for its answer would wait
		 * forever.  The call is sent without a stack. */
		if (LOAD(sl->holding))
			return -1;
		if (!sl->tid)
			sl->tid = (uint32_t)sys1(NR_gettid, 0);
		memset(&h, 0, sizeof(h));
		h.type = HDA_EV_HELLO;
		h.tid = sl->tid;
		h.slot = slotno;
		h.arg[0] = rsp;
		__atomic_fetch_add(&s->hellos, 1, __ATOMIC_RELAXED);
		if (ring_write(s, sl, &h, sizeof(h), 0, 0) < 0)
			return 0;
		while (LOAD(sl->hello_seq) == seq)
			if (!wait_on(s, &sl->hello_seq, seq))
				return 0;
		if (LOAD(sl->stack_hi) == 1)
			return 0;	/* heapdbg found no mapping there */
	}
	return 1;
}

static const struct hda_rule *
rule_get(struct hda_shm *s, uint64_t pc)
{
	const struct hda_rule *rules = (const struct hda_rule *)((const char *)s + s->rules_off);
	uint64_t mask = s->nrules - 1, i = (pc * 0x9e3779b97f4a7c15ULL) >> 40;
	for (int n = 0; n < 16; n++, i++) {
		const struct hda_rule *r = &rules[i & mask];
		uint64_t k = __atomic_load_n(&r->pc, __ATOMIC_ACQUIRE);
		if (k == pc)
			return r;
		if (k == 0)
			return 0;
	}
	return 0;
}

/* An 8-byte load from this thread's stack, inside its known range. */
static inline int
stack_load(struct hda_slot *sl, uint64_t lo, uint64_t addr, uint64_t *v)
{
	if (addr < lo || addr + 8 > sl->stack_hi || addr + 8 < addr)
		return 0;
	*v = *(const uint64_t *)(uintptr_t)addr;
	return 1;
}

/* unwind-cfi.c's cfi_unwind() over the published rules: the frames, or
 * -1 when a pc has no usable rule (heapdbg then unwinds a copy). */
static int
agent_unwind(struct hda_shm *s, struct hda_slot *sl, const struct hda_frame *f, uint64_t *pcs)
{
	uint64_t rip = s->entry_pc[f->func & HDA_FN_INDEX], rsp = f->rsp, rbp = f->rbp;
	int rbp_known = 1, n = 0, max = (int)s->depth;

	if (!s->nrules || max <= 0)
		return -1;
	pcs[n++] = rip;
	while (n < max) {
		const struct hda_rule *r = rule_get(s, n == 1 ? rip : rip - 1);
		uint64_t cfa, ra;
		if (!r || !r->ok)
			return -1;
		if (r->cfa_rbp && !rbp_known)
			return -1;
		cfa = (r->cfa_rbp ? rbp : rsp) + (uint64_t)(int64_t)r->cfa_off;
		if (r->ra == HDA_SAVED_UNDEF)
			break;
		if (cfa <= rsp || !stack_load(sl, f->rsp, cfa + (uint64_t)(int64_t)r->ra_off, &ra))
			break;
		if (r->rbp == HDA_SAVED_AT) {
			if (!stack_load(sl, f->rsp, cfa + (uint64_t)(int64_t)r->rbp_off, &rbp))
				rbp_known = 0;
		} else if (r->rbp == HDA_SAVED_UNDEF) {
			rbp_known = 0;
		}
		rsp = cfa;
		if (ra == 0)
			break;
		pcs[n++] = ra;
		rip = ra;
	}
	return n;
}

/* Would glibc's free (or realloc) take the chunk of user pointer p
 * quietly?  The loads glibc makes itself, in its order (a bad size is
 * not followed to a next header); a chunk beyond 64 MiB that is not
 * mmapped is left to heapdbg's reads.  1: suspicious. */
static int
chunk_suspect(struct hda_shm *s, uint64_t p)
{
	uint64_t sz, size, nsz, key;

	if (p & 15)
		return 1;
	sz = *(const volatile uint64_t *)(uintptr_t)(p - 8);
	if (sz & 2)
		return 0;	/* mmapped: munmap_chunk's own check */
	size = sz & ~7ULL;
	if (size < 32 || (size & 15) || size >= (1ULL << 26) || p - 16 > -size)
		return 1;
	key = s->tcache_key_addr ? *(const volatile uint64_t *)(uintptr_t)s->tcache_key_addr : s->tcache_key;
	if (key && *(const volatile uint64_t *)(uintptr_t)(p + 8) == key)
		return 1;
	nsz = *(const volatile uint64_t *)(uintptr_t)(p - 16 + size + 8);
	nsz &= ~6ULL;
	return !(nsz & 1) || nsz <= 17 || nsz >= (1ULL << 40);
}

/* A call glibc makes itself (hda_shm.own_lo..own_hi) of what it holds:
 * once the thread's tcache is gone (hda_shm.tcache_tpoff), at its exit. */
static inline int
own_call(struct hda_shm *s, struct hda_frame *f)
{
	uint64_t ret = *(uint64_t *)f->rsp, tc;
	if (ret < s->own_lo || ret >= s->own_hi)
		return 0;
	if (!s->tcache_tpoff)
		return 1;
	__asm__ volatile("movq %%fs:(%1), %0" : "=r"(tc) : "r"((int64_t)s->tcache_tpoff));
	return !tc;
}

/* Stop for heapdbg (see hda_shm.check) at its trap gate: it sets the
 * registers back to the call's entry, so this never returns when heapdbg
 * takes it.  Not when heapdbg is gone (its SIGTRAP would kill the
 * process) or tracing is off; a thread that was on its way when tracing
 * stopped finds the gate a plain `ret`. */
static void
hold_for_heapdbg(struct hda_shm *s, struct hda_slot *sl, struct hda_frame *f)
{
	uintptr_t gate = (uintptr_t)&hda_priv - HDA_PRIV_OFF + HDA_TRAP_OFF;

	if (!consumer_alive(s) || !LOAD(hda_priv.enabled))
		return;
	/* (below the red zone: the call pushes its return address) */
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\tcall *%2\n\tlea 128(%%rsp), %%rsp"
			 : "+D"(f), "+S"(sl) : "r"(gate) : "memory", "cc");
}

/* The id of the published stack whose pcs are pcs[0..n), or 0. */
static uint32_t
stack_id(struct hda_shm *s, const uint64_t *pcs, uint32_t n)
{
	const struct hda_stack *tab;
	const uint64_t *pool;
	uint64_t h, mask = s->nstacks - 1;

	if (!s->nstacks)
		return 0;
	tab = (const struct hda_stack *)((const char *)s + s->stacks_off);
	pool = (const uint64_t *)((const char *)s + s->spool_off);
	h = hda_stack_hash(pcs, n);
	for (uint64_t i = h, k = 0; k < HDA_STACK_PROBES; k++, i++) {
		const struct hda_stack *e = &tab[i & mask];
		uint64_t eh = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);
		uint32_t j;
		if (eh == 0)
			return 0;
		if (eh != h || e->n != n || e->first > s->spool_words || n > s->spool_words - e->first)
			continue;
		for (j = 0; j < n && pool[e->first + j] == pcs[j]; j++)
			;
		if (j == n)
			return e->id;
	}
	return 0;
}

/* ---- sampling ---- */

static inline uint64_t
splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* log2(x) in 16.16 fixed point, x >= 1: the integer part from the top
 * bit, the fraction by repeated squaring of the mantissa (exact to the
 * 16 bits kept; integers only: the agent has no floating point). */
static uint64_t
log2_q16(uint64_t x)
{
	int k = 63 - __builtin_clzll(x);
	uint64_t m = x << (63 - k), r = (uint64_t)k << 16;	/* m: [1, 2) in Q63 */
	for (int bit = 15; bit >= 0; bit--) {
		unsigned __int128 sq = (unsigned __int128)m * m;	/* [1, 4) in Q126 */
		if (sq >> 127) {
			m = (uint64_t)(sq >> 64);	/* /2: Q63 again */
			r |= (uint64_t)1 << bit;
		} else {
			m = (uint64_t)(sq >> 63);
		}
	}
	return r;
}

/* Bytes to the next sample: -ln(u) * rate, u uniform in (0, 1]. */
static int64_t
sample_draw(struct hda_slot *sl, uint64_t rate)
{
	uint64_t r = (splitmix(&sl->rng) >> 32) + 1;	/* u = r / 2^32 */
	uint64_t nl2 = (32ULL << 16) - log2_q16(r);	/* -log2(u), Q16 */
	/* * ln 2 (Q32) * rate */
	unsigned __int128 v = (unsigned __int128)nl2 * 2977044472ULL * rate;
	uint64_t n = (uint64_t)(v >> 48);
	return n ? (int64_t)n : 1;
}

/* Is an allocation of size bytes sampled? */
static int
sample_hit(struct hda_shm *s, struct hda_slot *sl, uint64_t size)
{
	int64_t left;
	if (!sl->rng) {
		uint64_t st = s->sample_seed + __atomic_fetch_add(&s->seeded, 1, __ATOMIC_RELAXED) * 0x632be59bd9b4e019ULL;
		sl->rng = splitmix(&st) | 1;
		sl->sample_left = sample_draw(sl, s->sample_rate);
	}
	left = sl->sample_left;
	if (left > 0 && (uint64_t)left > size) {
		sl->sample_left = left - (int64_t)size;
		return 0;
	}
	sl->sample_left = sample_draw(sl, s->sample_rate);
	return 1;
}

static inline struct hda_sbucket *
sset(struct hda_shm *s)
{
	return (struct hda_sbucket *)((char *)s + s->sset_off);
}

/* Keep p in the sample set; false when its buckets are full. */
static int
sset_add(struct hda_shm *s, uint64_t p)
{
	struct hda_sbucket *b = sset(s);
	uint64_t mask = s->nsset - 1, home = hda_sset_hash(p) & mask;
	for (uint64_t k = 0; k < HDA_SSET_SPILL; k++) {
		struct hda_sbucket *x = &b[(home + k) & mask];
		for (int i = 0; i < 7; i++) {
			uint64_t z = 0;
			if (LOAD(x->p[i]) == 0 &&
			    __atomic_compare_exchange_n(&x->p[i], &z, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return 1;
		}
		if (k == 0)
			__atomic_fetch_add(&b[home].spill, 1, __ATOMIC_ACQ_REL);
	}
	__atomic_fetch_sub(&b[home].spill, 1, __ATOMIC_ACQ_REL);
	return 0;
}

/* Take p out of the sample set: true when it was there (a sampled block). */
static int
sset_take(struct hda_shm *s, uint64_t p)
{
	struct hda_sbucket *b = sset(s);
	uint64_t mask = s->nsset - 1, home = hda_sset_hash(p) & mask;
	for (int i = 0; i < 7; i++)
		if (LOAD(b[home].p[i]) == p) {
			uint64_t e = p;
			return __atomic_compare_exchange_n(&b[home].p[i], &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
		}
	if (!LOAD(b[home].spill))
		return 0;
	for (uint64_t k = 1; k < HDA_SSET_SPILL; k++) {
		struct hda_sbucket *x = &b[(home + k) & mask];
		for (int i = 0; i < 7; i++)
			if (LOAD(x->p[i]) == p) {
				uint64_t e = p;
				if (!__atomic_compare_exchange_n(&x->p[i], &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
					return 0;
				__atomic_fetch_sub(&b[home].spill, 1, __ATOMIC_ACQ_REL);
				return 1;
			}
	}
	return 0;
}

static uint64_t
call_size(const struct hda_frame *f)
{
	switch ((f->func & HDA_FN_SIZE_MASK) >> HDA_FN_SIZE_SHIFT) {
	case HDA_SIZE_RDI_RSI:
		return __builtin_mul_overflow(f->rdi, f->rsi, &(uint64_t){ 0 }) ? ~0ULL : f->rdi * f->rsi;
	case HDA_SIZE_RSI:
		return f->rsi;
	case HDA_SIZE_RSI_RDX:
		return __builtin_mul_overflow(f->rsi, f->rdx, &(uint64_t){ 0 }) ? ~0ULL : f->rsi * f->rdx;
	case HDA_SIZE_RDX:
		return f->rdx;
	default:
		return f->rdi;
	}
}

/* How many bytes of the stack at rsp an event carries for heapdbg's
 * unwinder: what the thread's stacks needed so far (or the first guess),
 * no more than the cap, nor past the stack's top (known > 0: its range
 * is known). */
static uint64_t
stack_bytes(const struct hda_shm *s, struct hda_slot *sl, int known, uint64_t rsp)
{
	uint64_t need = LOAD(sl->stack_need), avail;

	if (!need)
		need = s->stack_first;
	if (need > s->stack_max)
		need = s->stack_max;
	avail = known > 0 ? LOAD(sl->stack_hi) - rsp : 0;
	return need < avail ? need : avail;
}

/*
 * A free's event, at its entry, with its whole stack (hda_shm.free_stacks):
 * unwound here as an allocation's is at its return (the entry's rsp points
 * at the return address, the callee-saved registers are the caller's), and
 * sent as the published stack's id (HDA_EV_FREEID), else its pcs, else a
 * copy of the stack (HDA_EV_FREESTK); h is the head, filled in.  A thread
 * whose stack is unknown and cannot ask sends the head alone (HDA_EV_FREE:
 * the caller's one frame).
 */
static void
free_event(struct hda_shm *s, struct hda_slot *sl, struct hda_frame *f, struct hda_ev_head *h)
{
	uint32_t slotno = h->slot;
	uint64_t pcs[HDA_MAX_DEPTH];
	uint64_t need;
	struct hda_ev e;
	int known = stack_known(s, sl, slotno, f->rsp), n;
	uint32_t id;

	if (known < 0 || !LOAD(hda_priv.enabled)) {
		if (LOAD(hda_priv.enabled))
			ring_write(s, sl, h, sizeof(*h), 0, 0);
		return;
	}
	n = known > 0 ? agent_unwind(s, sl, f, pcs) : 0;
	id = n > 0 ? stack_id(s, pcs, (uint32_t)n) : 0;
	if (id) {
		struct hda_ev_id ei;
		ei.h = *h;
		ei.h.type = HDA_EV_FREEID;
		ei.ret = 0;
		ei.out = 0;
		ei.stack_id = id;
		ei.flags = 0;
		ring_write(s, sl, &ei, sizeof(ei), 0, 0);
		return;
	}
	e.h = *h;
	e.h.type = HDA_EV_FREESTK;
	e.ret = 0;
	e.out = 0;
	e.pc = 0;
	e.rsp = f->rsp;
	e.rbp = f->rbp;
	e.rbx = f->rbx;
	e.r12 = f->r12;
	e.r13 = f->r13;
	e.r14 = f->r14;
	e.r15 = f->r15;
	e.flags = 0;
	if (n > 0) {
		e.flags = HDA_EVF_PCS;
		e.stack_len = (uint32_t)n * 8;
		ring_write(s, sl, &e, sizeof(e), pcs, e.stack_len);
		return;
	}
	need = stack_bytes(s, sl, known, f->rsp);
	e.stack_len = (uint32_t)need;
	ring_write(s, sl, &e, sizeof(e), (const void *)(uintptr_t)f->rsp, (uint32_t)need);
}

/* The call heapdbg checked at its trap and let go (HDA_SLOT_NOCHECK):
 * recorded, unchecked, its event flagged so heapdbg does not check it
 * again.  (Not while sampling: there is no check then.) */
static void
pass_checked(struct hda_slot *sl, struct hda_frame *f)
{
	__atomic_fetch_and(&sl->flags, ~HDA_SLOT_NOCHECK, __ATOMIC_ACQ_REL);
	f->samp |= HDA_EVF_CHECKED;
}

int
hda_enter(struct hda_frame *f)
{
	struct hda_shm *s;
	struct hda_slot *sl;

	if (!LOAD(hda_priv.enabled))
		return 0;
	s = shm();
	f->samp = 0;
	if (s->sample_rate) {
		/* sampling: an unsampled call costs a look-up, no more */
		if (f->func & HDA_FN_FREE) {
			if (!f->rdi || !sset_take(s, f->rdi))
				return 0;
			if (inner_call(s, *(uint64_t *)f->rsp)) {
				sset_add(s, f->rdi);	/* its outer call's (not ours) */
				return 0;
			}
		} else {
			if ((f->func & HDA_FN_OLD) && f->rdi && !inner_call(s, *(uint64_t *)f->rsp) &&
			    sset_take(s, f->rdi))
				f->samp |= HDA_EVF_OLD_SAMPLED;
			sl = slot_get(s);
			if (sl && !(LOAD(sl->flags) & HDA_SLOT_PASS) && sample_hit(s, sl, call_size(f)))
				f->samp |= HDA_EVF_SAMPLED;
			if (!f->samp)
				return 0;
		}
	}
	if (inner_call(s, *(uint64_t *)f->rsp))
		return 0;
	sl = slot_get(s);
	if (!sl) {
		__atomic_fetch_add(&s->noslot, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (LOAD(sl->flags) & (HDA_SLOT_PASS | HDA_SLOT_ONCE)) {
		if (LOAD(sl->flags) & HDA_SLOT_ONCE)
			__atomic_fetch_and(&sl->flags, ~HDA_SLOT_ONCE, __ATOMIC_ACQ_REL);
		return 0;
	}
	if (LOAD(sl->flags) & HDA_SLOT_NOCHECK)
		pass_checked(sl, f);
	f->tsc = rdtsc();
	if ((f->func & HDA_FN_FREE)) {
		struct hda_ev_head h;
		if (!f->rdi)
			return 0;	/* free(NULL) does nothing */
		if (LOAD(s->check) && !own_call(s, f) && chunk_suspect(s, f->rdi))
			hold_for_heapdbg(s, sl, f);
		if (!sl->tid)
			sl->tid = (uint32_t)sys1(NR_gettid, 0);
		h.type = HDA_EV_FREE;
		h.func = (uint16_t)(f->func & HDA_FN_INDEX);
		h.tid = sl->tid;
		h.slot = (uint32_t)(sl - (struct hda_slot *)((char *)s + s->slots_off));
		h.tsc = f->tsc;
		h.arg[0] = f->rdi;
		h.arg[1] = *(uint64_t *)f->rsp;	/* the caller */
		h.arg[2] = f->rdx;
		if (LOAD(s->free_stacks))
			free_event(s, sl, f, &h);
		else
			ring_write(s, sl, &h, sizeof(h), 0, 0);
		return 0;	/* then the free itself, as called */
	}
	if ((f->func & HDA_FN_OLD) && f->rdi && LOAD(s->check) && !(f->samp & HDA_EVF_CHECKED) && !own_call(s, f) &&
	    chunk_suspect(s, f->rdi))
		hold_for_heapdbg(s, sl, f);
	f->slot = (uint64_t)(uintptr_t)sl;
	inc32(&sl->in_flight);
	return 1;
}

void
hda_exit(struct hda_frame *f)
{
	struct hda_shm *s = shm();
	struct hda_slot *sl = (struct hda_slot *)(uintptr_t)f->slot;
	uint32_t slotno = (uint32_t)(sl - (struct hda_slot *)((char *)s + s->slots_off));
	struct hda_ev e;
	uint64_t need;
	int known;

	if (f->samp) {
		/* the block to remember: the result, or posix_memalign's *arg[0] */
		uint64_t blk = (f->func & HDA_FN_OUTPTR) ? ((int)f->ret == 0 ? *(uint64_t *)f->rdi : 0) : f->ret;
		if ((f->samp & HDA_EVF_OLD_SAMPLED) && !f->ret && call_size(f)) {
			/* a failed realloc: the old block stays, sampled */
			sset_add(s, f->rdi);
			f->samp &= ~(uint64_t)HDA_EVF_OLD_SAMPLED;
		}
		if ((f->samp & HDA_EVF_SAMPLED) && blk) {
			if (sset_add(s, blk)) {
				__atomic_fetch_add(&s->sampled, 1, __ATOMIC_RELAXED);
			} else {
				__atomic_fetch_add(&s->sset_full, 1, __ATOMIC_RELAXED);
				f->samp &= ~(uint64_t)HDA_EVF_SAMPLED;
			}
		} else {
			f->samp &= ~(uint64_t)HDA_EVF_SAMPLED;
		}
		if (!f->samp) {
			dec32(&sl->in_flight);
			return;
		}
	}
	if (!LOAD(hda_priv.enabled) || !(known = stack_known(s, sl, slotno, f->rsp))) {
		dec32(&sl->in_flight);
		return;
	}
	need = stack_bytes(s, sl, known, f->rsp);
	e.h.type = HDA_EV_CALL;
	e.h.func = (uint16_t)(f->func & HDA_FN_INDEX);
	e.h.tid = sl->tid;
	e.h.slot = slotno;
	e.h.tsc = f->tsc;
	e.h.arg[0] = f->rdi;
	e.h.arg[1] = f->rsi;
	e.h.arg[2] = f->rdx;
	e.ret = f->ret;
	e.flags = (uint32_t)f->samp;
	e.out = 0;
	if ((f->func & HDA_FN_OUTPTR) && (int)f->ret == 0) {
		e.out = *(uint64_t *)f->rdi;	/* posix_memalign's *memptr */
		e.flags |= HDA_EVF_OUT;
	}
	e.pc = 0;
	e.rsp = f->rsp;
	e.rbp = f->rbp;
	e.rbx = f->rbx;
	e.r12 = f->r12;
	e.r13 = f->r13;
	e.r14 = f->r14;
	e.r15 = f->r15;
	{
		uint64_t pcs[HDA_MAX_DEPTH];
		int n = known > 0 ? agent_unwind(s, sl, f, pcs) : 0;
		uint32_t id = n > 0 ? stack_id(s, pcs, (uint32_t)n) : 0;
		if (id) {
			struct hda_ev_id ei;
			ei.h = e.h;
			ei.h.type = HDA_EV_CALLID;
			ei.ret = e.ret;
			ei.out = e.out;
			ei.stack_id = id;
			ei.flags = e.flags;
			ring_write(s, sl, &ei, sizeof(ei), 0, 0);
		} else if (n > 0) {
			e.flags |= HDA_EVF_PCS;
			e.stack_len = (uint32_t)n * 8;
			ring_write(s, sl, &e, sizeof(e), pcs, e.stack_len);
		} else {
			e.stack_len = (uint32_t)need;
			ring_write(s, sl, &e, sizeof(e), (const void *)(uintptr_t)f->rsp, (uint32_t)need);
		}
	}
	dec32(&sl->in_flight);
}
