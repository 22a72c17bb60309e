/*
 * tracer-fast.c - fast tracepoints: the agent, its pages and ring in the
 * target, the patched entry points, and the reading of the ring (see
 * tracer-fast.h, and src/agent/hdagent.h for the shared layout).
 *
 * A stub per entry point, in the code page at HDA_STUB_OFF:
 *
 *	83 3d <rel32> 00	cmpl $0, priv.enabled(%rip)
 *	0f 84 <rel32>		je body
 *	b8 <imm32>		mov $index|HDA_FN_*, %eax
 *	4c 8d 1d <rel32>	lea body(%rip), %r11
 *	e9 <rel32>		jmp hda_pad
 *   body:
 *	the displaced instructions, relocated (x86_relocate)
 *	e9 <rel32>		jmp entry + len
 */
#include "config.h"
#include "tracer-fast.h"
#include "x86dec.h"
#include "live.h"
#include "unwind-cfi.h"
#include "agent/hdagent.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern const unsigned char hda_blob[];
extern const size_t hda_blob_len, hda_blob_pad;

_Static_assert(sizeof(struct hda_slot) == 128, "hda_slot is two cache lines");
_Static_assert(sizeof(struct hda_sbucket) == 64, "a sample set bucket is one cache line");
_Static_assert(offsetof(struct hda_priv, shm) == HDA_PRIV_SHM_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_shm, nslots) == HDA_SHM_NSLOTS_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_shm, slots_off) == HDA_SHM_SLOTS_OFF_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_shm, sample_rate) == HDA_SHM_SAMPLE_RATE_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_shm, sset_off) == HDA_SHM_SSET_OFF_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_shm, nsset) == HDA_SHM_NSSET_OFF, "hdagent-off.h");
_Static_assert(sizeof(struct hda_slot) == 1u << HDA_SLOT_SHIFT, "hdagent-off.h");
_Static_assert(offsetof(struct hda_slot, flags) == HDA_SLOT_FLAGS_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_slot, sample_left) == HDA_SLOT_SAMPLE_LEFT_OFF, "hdagent-off.h");
_Static_assert(offsetof(struct hda_slot, rng) == HDA_SLOT_RNG_OFF, "hdagent-off.h");
_Static_assert(sizeof(struct hda_frame) == HDA_FRAME_SIZE, "pad.S's frame");
_Static_assert(sizeof(struct hda_ev_head) == 56, "event head layout");
_Static_assert(sizeof(struct hda_ev) == 144, "event layout");
_Static_assert(HDA_STUB_OFF + HDA_MAX_ENTRIES * HDA_STUB_SIZE <= HDA_CODE_SIZE - 64, "stubs fit");
_Static_assert(HDA_TRAP_OFF + 2 <= HDA_CODE_SIZE, "the check's gate fits");

#define NSLOTS 4096
#define NRULES 16384
_Static_assert(sizeof(struct hda_rule) == 24, "hda_rule layout");
/* published stacks, and the pool of their pcs */
#define NSTACKS 16384
#define SPOOL_WORDS 65536
/* the sample set's buckets (7 blocks each) */
#define NSSET 4096
_Static_assert(sizeof(struct hda_stack) == 24, "hda_stack layout");
_Static_assert(sizeof(struct hda_ev_id) == 80, "hda_ev_id layout");
#define BODY_SCAN_MAX (256 * 1024)
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1
#endif

struct fentry {
	struct fast_entry *e;	/* the caller's */
	uint64_t addr, stub, body;
	uint8_t orig[16];
	uint8_t len;
	bool armed;
};

struct fastpath {
	struct target *t;
	struct fast_config cfg;
	struct fentry ent[HDA_MAX_ENTRIES];
	unsigned n;
	uint64_t code, priv;	/* in the target */
	uint64_t shm_addr;	/* the shared region in the target (0: not mapped) */
	size_t shm_size;
	struct hda_shm *shm;	/* heapdbg's mapping */
	struct hda_slot *slots;
	struct hda_rule *rules;
	struct hda_stack *stacks;
	uint64_t *spool;
	uint32_t spool_used;	/* pool words written */
	uint8_t *ring;
	int live_w;		/* heapdbg's end of the liveness pipe */
	int live_r_target;	/* its read end in the target (-1: closed) */
	bool mapped;		/* code + ring still mapped in the target */
	bool gone_target;
	uint64_t tail;		/* heapdbg's copy of shm->tail */
	uint64_t events;
	/* rdtsc -> wall clock */
	uint64_t tsc0;
	double wall0, tsc_hz;
	uint8_t *evbuf;		/* an event that wraps the ring's end, copied */
	size_t evbuf_cap;
	bool maps_fresh;	/* refreshed during this drain */
};

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static int
inject(struct fastpath *fp, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
       uint64_t a5, uint64_t *ret)
{
	uint64_t a[6] = { a0, a1, a2, a3, a4, a5 }, r = 0;
	if (fp->cfg.inject(fp->cfg.inject_ctx, nr, a, &r) < 0)
		return -1;
	*ret = r;
	return 0;
}

static bool
sys_failed(uint64_t r)
{
	return r > (uint64_t)-4096;
}

/* ---- choosing and relocating the displaced instructions ---- */

/* The bounds of the function at addr: its symbol's size, else its CFI
 * (a stripped module still has .eh_frame). */
static bool
func_bounds(struct symbols *s, uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	Dwfl_Module *mod = dwfl_addrmodule(symbols_dwfl(s), addr);
	GElf_Off off = 0;
	GElf_Sym sym;
	Dwarf_Addr bias = 0;
	Dwarf_CFI *cfi;
	Dwarf_Frame *frame = NULL;

	if (!mod)
		return false;
	if (dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL) && off == 0 && sym.st_size) {
		*lo = addr;
		*hi = addr + sym.st_size;
		return true;
	}
	cfi = dwfl_module_eh_cfi(mod, &bias);
	if (!cfi)
		cfi = dwfl_module_dwarf_cfi(mod, &bias);
	if (cfi && dwarf_cfi_addrframe(cfi, addr - bias, &frame) == 0) {
		Dwarf_Addr start, end;
		bool ok = dwarf_frame_info(frame, &start, &end, NULL) >= 0 && start + bias == addr;
		free(frame);
		if (ok) {
			*lo = addr;
			*hi = end + bias;
			return true;
		}
	}
	return false;
}

/* Does any relative branch in [lo, hi) land inside (addr, addr+len)? */
static const char *
branch_into(const uint8_t *code, uint64_t lo, uint64_t hi, uint64_t addr, unsigned len)
{
	uint64_t pc = lo;
	while (pc < hi) {
		struct x86_insn in;
		if (x86_decode(code + (pc - lo), hi - pc, &in) < 0)
			return "its body does not decode (a branch into the first bytes cannot be ruled out)";
		if (in.rel_size) {
			uint64_t to = x86_rip_target(&in, pc);
			if (to > addr && to < addr + len)
				return "a branch in the function lands inside its first bytes";
		}
		pc += in.len;
	}
	return NULL;
}

/* Pick whole instructions covering at least 5 bytes and relocate them to
 * body; writes the stub's bytes to out.  NULL, or why not. */
static const char *
make_stub(struct fastpath *fp, struct fentry *fe, const uint8_t *code, uint64_t fhi, uint8_t *out,
	  size_t *outlen)
{
	struct fast_entry *e = fe->e;
	uint64_t stub = fe->stub, body = stub + 30, pc = fe->addr;
	size_t o = 30;
	unsigned len = 0;
	uint32_t fn = e->index | (e->is_free ? HDA_FN_FREE : 0) | (e->out_ptr ? HDA_FN_OUTPTR : 0) |
		      (e->frees_old ? HDA_FN_OLD : 0) | ((uint32_t)e->size_kind << HDA_FN_SIZE_SHIFT);
	int32_t r32;

	while (len < 5) {
		struct x86_insn in;
		size_t rl = 0;
		if (x86_decode(code + len, 16 - len, &in) < 0)
			return "its first instruction does not decode";
		if (len + in.len > fhi - fe->addr)
			return "the function is shorter than the 5-byte jump";
		if (len + in.len < 5 && (in.kind == X86_RET || in.kind == X86_JMP_REL || in.kind == X86_JMP_IND ||
					 in.kind == X86_CALL_REL || in.kind == X86_CALL_IND || in.kind == X86_INT3 ||
					 in.kind == X86_SYSCALL))
			return "a branch, call or trap among the first 5 bytes";
		if (in.kind == X86_INVALID || in.kind == X86_SYSCALL || in.kind == X86_INT3)
			return "a trap or system call among the first bytes";
		if (o + 16 + 5 > HDA_STUB_SIZE)
			return "the relocated instructions do not fit the stub";
		if (x86_relocate(code + len, &in, pc, stub + o, out + o, &rl) < 0)
			return "a displaced instruction cannot be relocated";
		o += rl;
		len += in.len;
		pc += in.len;
	}
	/* jmp back */
	{
		int64_t rel = (int64_t)(fe->addr + len) - (int64_t)(stub + o + 5);
		if (rel != (int32_t)rel)
			return "the code page is out of rel32 reach";
		r32 = (int32_t)rel;
		out[o] = 0xe9;
		memcpy(out + o + 1, &r32, 4);
		o += 5;
	}
	/* the head: cmpl $0, enabled(%rip) */
	out[0] = 0x83;
	out[1] = 0x3d;
	r32 = (int32_t)((int64_t)fp->priv - (int64_t)(stub + 7));
	memcpy(out + 2, &r32, 4);
	out[6] = 0;
	/* je body */
	out[7] = 0x0f;
	out[8] = 0x84;
	r32 = (int32_t)((int64_t)body - (int64_t)(stub + 13));
	memcpy(out + 9, &r32, 4);
	/* mov $fn, %eax */
	out[13] = 0xb8;
	memcpy(out + 14, &fn, 4);
	/* lea body(%rip), %r11 */
	out[18] = 0x4c;
	out[19] = 0x8d;
	out[20] = 0x1d;
	r32 = (int32_t)((int64_t)body - (int64_t)(stub + 25));
	memcpy(out + 21, &r32, 4);
	/* jmp hda_pad */
	out[25] = 0xe9;
	r32 = (int32_t)((int64_t)(fp->code + hda_blob_pad) - (int64_t)(stub + 30));
	memcpy(out + 26, &r32, 4);
	*outlen = o;
	fe->body = body;
	fe->len = (uint8_t)len;
	return NULL;
}

static const char *
prepare_entry(struct fastpath *fp, struct symbols *s, struct fentry *fe, unsigned slotno)
{
	struct target *t = fp->t;
	struct fast_entry *e = fe->e;
	uint64_t lo, hi;
	uint8_t out[HDA_STUB_SIZE];
	size_t outlen = 0;
	const char *why;
	uint8_t *body;

	fe->addr = e->addr;
	fe->stub = fp->code + HDA_STUB_OFF + (uint64_t)slotno * HDA_STUB_SIZE;
	if (target_read_uncached(t, fe->addr, fe->orig, sizeof(fe->orig)) != sizeof(fe->orig))
		return "its bytes cannot be read";
	if (!func_bounds(s, fe->addr, &lo, &hi))
		return "its size is unknown (no symbol size, no CFI)";
	e->body_lo = lo;
	e->body_hi = hi;
	if (hi - lo < 5)
		return "the function is shorter than the 5-byte jump";
	memset(out, 0xcc, sizeof(out));
	why = make_stub(fp, fe, fe->orig, hi, out, &outlen);
	if (why)
		return why;
	if (hi - lo > BODY_SCAN_MAX)
		return "its body is too large to check for branches into its first bytes";
	body = xmalloc(hi - lo);
	if (target_read_uncached(t, lo, body, hi - lo) != hi - lo) {
		free(body);
		return "its body cannot be read";
	}
	why = branch_into(body, lo, hi, fe->addr, fe->len);
	free(body);
	if (why)
		return why;
	if (target_write(t, fe->stub, out, HDA_STUB_SIZE) < 0)
		return "its stub cannot be written";
	return NULL;
}

/* ---- the pages ---- */

static void
add_inner(struct fastpath *fp, uint64_t lo, uint64_t hi)
{
	struct hda_shm *s = fp->shm;
	if (s->ninner < HDA_MAX_INNER && lo < hi) {
		s->inner[s->ninner].lo = lo;
		s->inner[s->ninner].hi = hi;
		s->ninner++;
	}
}

void
fast_add_inner(struct fastpath *fp, uint64_t lo, uint64_t hi)
{
	add_inner(fp, lo, hi);
}

static void
calibrate(struct fastpath *fp)
{
	struct timespec d = { 0, 2000000 };
	uint64_t a = rdtsc(), b;
	double wa = hd_wall_time(), wb;
	nanosleep(&d, NULL);
	b = rdtsc();
	wb = hd_wall_time();
	fp->tsc0 = a;
	fp->wall0 = wa;
	fp->tsc_hz = wb > wa && b > a ? (double)(b - a) / (wb - wa) : 1e9;
}

static double
tsc_wall(struct fastpath *fp, uint64_t tsc)
{
	return fp->wall0 + ((double)tsc - (double)fp->tsc0) / fp->tsc_hz;
}

static int
open_target_fd(struct target *t, int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)target_mem_pid(t), fd);
	return open(path, flags | O_CLOEXEC);
}

struct fastpath *
fast_setup(struct target *t, struct symbols *s, struct fast_entry *e, unsigned n, const struct fast_config *cfg)
{
	struct fastpath *fp = xcalloc(1, sizeof(*fp));
	uint64_t r, memfd = (uint64_t)-1, pipefd[2] = { (uint64_t)-1, (uint64_t)-1 };
	static const char name[] = "heapdbg-trace";
	uint64_t name_at, fds_at;
	int local = -1;
	size_t slots_off = 4096, rules_off = slots_off + NSLOTS * sizeof(struct hda_slot);
	size_t stacks_off = ALIGN_UP(rules_off + NRULES * sizeof(struct hda_rule), 64);
	size_t spool_off = ALIGN_UP(stacks_off + NSTACKS * sizeof(struct hda_stack), 64);
	size_t sset_off = ALIGN_UP(spool_off + SPOOL_WORDS * sizeof(uint64_t), 64);
	size_t ring_off = ALIGN_UP(sset_off + (cfg->sample_rate ? NSSET : 0) * sizeof(struct hda_sbucket), 4096);

	fp->t = t;
	fp->cfg = *cfg;
	fp->code = cfg->code;
	fp->priv = cfg->code + HDA_PRIV_OFF;
	fp->live_w = -1;
	fp->live_r_target = -1;
	fp->shm_size = ring_off + cfg->ring_size;
	if (n > HDA_MAX_ENTRIES)
		n = HDA_MAX_ENTRIES;
	fp->n = n;
	name_at = fp->code + HDA_CODE_SIZE - 64;
	fds_at = fp->priv + 64;

	/* the agent's code, and a name for the memfd */
	if (target_write(t, fp->code, hda_blob, hda_blob_len) < 0 ||
	    target_write(t, name_at, name, sizeof(name)) < 0)
		goto fail;
	/* the private page: writable, wiped in a fork child */
	if (inject(fp, SYS_mprotect, fp->priv, 4096, PROT_READ | PROT_WRITE, 0, 0, 0, &r) < 0)
		goto fail;
	if (sys_failed(r)) {
		hd_fail(HD_EGENERIC, "mprotect in the target failed: %s", strerror((int)-r));
		goto fail;
	}
	if (inject(fp, SYS_madvise, fp->priv, 4096, MADV_WIPEONFORK, 0, 0, 0, &r) < 0)
		goto fail;
	if (sys_failed(r))
		warn_msg("MADV_WIPEONFORK failed in the target (%s): a fork child relies on heapdbg to clean it",
			 strerror((int)-r));
	/* the shared region */
	if (inject(fp, SYS_memfd_create, name_at, MFD_CLOEXEC, 0, 0, 0, 0, &memfd) < 0)
		goto fail;
	if (sys_failed(memfd)) {
		hd_fail(HD_ENOTSUP, "memfd_create in the target failed: %s", strerror((int)-memfd));
		goto fail;
	}
	if (inject(fp, SYS_ftruncate, memfd, fp->shm_size, 0, 0, 0, 0, &r) < 0)
		goto fail;
	if (sys_failed(r)) {
		hd_fail(HD_EGENERIC, "ftruncate of the ring in the target failed: %s", strerror((int)-r));
		goto fail;
	}
	if (inject(fp, SYS_mmap, 0, fp->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0, &r) < 0)
		goto fail;
	if (sys_failed(r)) {
		hd_fail(HD_EGENERIC, "mapping the ring in the target failed: %s", strerror((int)-r));
		goto fail;
	}
	fp->shm_addr = r;
	local = open_target_fd(t, (int)memfd, O_RDWR);
	if (local < 0) {
		hd_fail_errno(HD_EGENERIC, errno, "cannot open the target's ring (/proc/%d/fd/%d)", (int)t->pid,
			      (int)memfd);
		goto fail;
	}
	fp->shm = mmap(NULL, fp->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, local, 0);
	close(local);
	if (fp->shm == MAP_FAILED) {
		fp->shm = NULL;
		hd_fail_errno(HD_EGENERIC, errno, "cannot map the ring");
		goto fail;
	}
	inject(fp, SYS_close, memfd, 0, 0, 0, 0, 0, &r);
	memfd = (uint64_t)-1;
	/* the memfd's pages, allocated (zeroed) here and now rather than at
	 * the first write of each by a traced call: on a virtual machine a
	 * new page costs some 10 us, most of a first lap of the ring */
	if (madvise(fp->shm, fp->shm_size, MADV_POPULATE_WRITE) < 0)
		for (size_t o = 0; o < fp->shm_size; o += 4096)
			((volatile uint8_t *)fp->shm)[o] = 0;
	/* the liveness pipe: heapdbg alone holds its write end */
	if (inject(fp, SYS_pipe2, fds_at, O_CLOEXEC, 0, 0, 0, 0, &r) < 0)
		goto fail;
	if (sys_failed(r)) {
		hd_fail(HD_EGENERIC, "pipe2 in the target failed: %s", strerror((int)-r));
		goto fail;
	}
	{
		int32_t fds[2];
		if (target_read_uncached(t, fds_at, fds, sizeof(fds)) != sizeof(fds))
			goto fail;
		pipefd[0] = (uint64_t)fds[0];
		pipefd[1] = (uint64_t)fds[1];
	}
	fp->live_w = open_target_fd(t, (int)pipefd[1], O_WRONLY | O_NONBLOCK);
	inject(fp, SYS_close, pipefd[1], 0, 0, 0, 0, 0, &r);
	pipefd[1] = (uint64_t)-1;
	if (fp->live_w < 0) {
		hd_fail_errno(HD_EGENERIC, errno, "cannot open the target's pipe");
		goto fail;
	}
	fp->live_r_target = (int)pipefd[0];
	pipefd[0] = (uint64_t)-1;
	{
		uint64_t z = 0;
		target_write(t, fds_at, &z, 8);
	}
	fp->mapped = true;

	/* the header */
	{
		struct hda_shm *h = fp->shm;
		uint64_t key;
		if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != sizeof(key))
			key = rdtsc() * 0x9e3779b97f4a7c15ULL;
		h->magic = HDA_MAGIC;
		h->version = HDA_VERSION;
		h->nslots = NSLOTS;
		h->slots_off = (uint32_t)slots_off;
		h->ring_off = ring_off;
		h->ring_size = cfg->ring_size;
		h->key = key | 1;
		h->stack_first = cfg->stack_first;
		h->stack_max = cfg->stack_max;
		h->live_fd = fp->live_r_target;
		h->depth = cfg->depth > HDA_MAX_DEPTH ? HDA_MAX_DEPTH : (uint32_t)cfg->depth;
		h->rules_off = (uint32_t)rules_off;
		h->nrules = cfg->agent_unwinds ? NRULES : 0;
		h->nstacks = cfg->agent_unwinds ? NSTACKS : 0;
		h->stacks_off = (uint32_t)stacks_off;
		h->spool_off = (uint32_t)spool_off;
		h->spool_words = SPOOL_WORDS;
		h->sample_rate = cfg->sample_rate;
		h->free_stacks = cfg->free_stacks;
		h->sample_seed = cfg->sample_seed;
		if (getenv("HEAPDBG_TEST_HELLO_SIGNAL"))
			h->test_hello_sig = (uint32_t)atoi(getenv("HEAPDBG_TEST_HELLO_SIGNAL"));
		h->sset_off = (uint32_t)sset_off;
		h->nsset = cfg->sample_rate ? NSSET : 0;
		for (unsigned i = 0; i < n; i++)
			h->entry_pc[i] = e[i].addr;
		fp->slots = (struct hda_slot *)((char *)h + slots_off);
		fp->rules = (struct hda_rule *)((char *)h + rules_off);
		fp->stacks = (struct hda_stack *)((char *)h + stacks_off);
		fp->spool = (uint64_t *)((char *)h + spool_off);
		fp->ring = (uint8_t *)h + ring_off;
		add_inner(fp, fp->code, fp->code + HDA_CODE_SIZE);
	}
	{
		struct hda_priv p = { 0, 0, fp->shm_addr };
		if (target_write(t, fp->priv, &p, sizeof(p)) < 0)
			goto fail;
	}
	/* the stubs */
	for (unsigned i = 0; i < n; i++) {
		struct fentry *fe = &fp->ent[i];
		fe->e = &e[i];
		e[i].why = prepare_entry(fp, s, fe, i);
		e[i].patched = !e[i].why;
		e[i].len = fe->len;
		if (e[i].body_hi)
			add_inner(fp, e[i].body_lo, e[i].body_hi);
	}
	calibrate(fp);
	return fp;
fail:
	{
		char *msg = xstrdup(hd_errmsg());
		enum hd_err code = hd_errcode();
		if (memfd != (uint64_t)-1)
			inject(fp, SYS_close, memfd, 0, 0, 0, 0, 0, &r);
		if (pipefd[0] != (uint64_t)-1)
			inject(fp, SYS_close, pipefd[0], 0, 0, 0, 0, 0, &r);
		if (pipefd[1] != (uint64_t)-1)
			inject(fp, SYS_close, pipefd[1], 0, 0, 0, 0, 0, &r);
		if (fp->live_r_target >= 0)
			inject(fp, SYS_close, (uint64_t)fp->live_r_target, 0, 0, 0, 0, 0, &r);
		if (fp->shm_addr)
			inject(fp, SYS_munmap, fp->shm_addr, fp->shm_size, 0, 0, 0, 0, &r);
		fast_free(fp);
		hd_fail(code, "%s", msg);
		free(msg);
	}
	return NULL;
}

/* the slot of thread pointer tp, claimed if new (heapdbg's side) */
static struct hda_slot *
slot_of(struct fastpath *fp, uint64_t tp, bool claim)
{
	uint64_t mask = NSLOTS - 1, i = (tp * 0x9e3779b97f4a7c15ULL) >> 40;
	if (!tp || !fp->shm)
		return NULL;
	for (unsigned n = 0; n < NSLOTS; n++, i++) {
		struct hda_slot *sl = &fp->slots[i & mask];
		uint64_t k = __atomic_load_n(&sl->key, __ATOMIC_ACQUIRE);
		if (k == tp)
			return sl;
		if (k == 0) {
			uint64_t expect = 0;
			if (!claim)
				return NULL;
			if (__atomic_compare_exchange_n(&sl->key, &expect, tp, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE) || expect == tp)
				return sl;
		}
	}
	return NULL;
}

static bool
stack_range(struct fastpath *fp, uint64_t sp, uint64_t *lo, uint64_t *hi)
{
	const struct mapping *m;
	/* from the mappings as they are now, never a cached list: thread
	 * stacks come and go, and a mapping remembered from before may
	 * reach past this stack's end (the agent would copy from there) */
	if (!fp->maps_fresh) {
		target_refresh_maps(fp->t);
		fp->maps_fresh = true;
	}
	m = target_find_mapping(fp->t, sp);
	if (!m || !(m->perms & MAP_PERM_R) || !(m->perms & MAP_PERM_W))
		return false;
	*lo = m->start;
	*hi = m->end;
	return true;
}

void
fast_prime_threads(struct fastpath *fp)
{
	struct target *t = fp->t;
	fp->maps_fresh = false;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		const hd_regs_t *r;
		struct hda_slot *sl;
		uint64_t lo, hi;
		if (th->state != THREAD_STOPPED || !(r = target_regs(t, th)))
			continue;
		sl = slot_of(fp, REG_TP(r), true);
		if (!sl || !stack_range(fp, r->rsp, &lo, &hi))
			continue;
		sl->tid = (uint32_t)th->tid;
		sl->stack_lo = lo;
		sl->stack_hi = hi;
	}
}

int
fast_arm(struct fastpath *fp)
{
	struct target *t = fp->t;
	uint32_t on = 1;

	/* no thread inside the bytes about to be patched */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		pid_t tid = th->tid;
		for (int step = 0; step < 32; step++) {
			const hd_regs_t *r;
			bool inside = false;
			th = target_find_thread(t, tid);
			if (!th || th->state != THREAD_STOPPED || !(r = target_regs(t, th)))
				break;
			for (unsigned k = 0; k < fp->n; k++)
				if (fp->ent[k].e->patched && r->rip > fp->ent[k].addr &&
				    r->rip < fp->ent[k].addr + fp->ent[k].len)
					inside = true;
			if (!inside)
				break;
			if (step == 31 || live_step(t, th) < 0)
				return hd_fail(HD_EGENERIC, "thread %d stays inside an entry point's first bytes", tid);
		}
	}
	if (target_write(t, fp->priv, &on, sizeof(on)) < 0)
		return -1;
	for (unsigned k = 0; k < fp->n; k++) {
		struct fentry *fe = &fp->ent[k];
		uint8_t now[16], jmp[5];
		int32_t r32;
		if (!fe->e->patched)
			continue;
		if (target_read_uncached(t, fe->addr, now, sizeof(now)) != sizeof(now) ||
		    memcmp(now, fe->orig, sizeof(now))) {
			fe->e->patched = false;
			fe->e->why = "its bytes changed before patching";
			continue;
		}
		r32 = (int32_t)((int64_t)fe->stub - (int64_t)(fe->addr + 5));
		jmp[0] = 0xe9;
		memcpy(jmp + 1, &r32, 4);
		if (target_write(t, fe->addr, jmp, 5) < 0) {
			int rc = -1;
			char *msg = xstrdup(hd_errmsg());
			fast_disarm(fp);
			rc = hd_fail(HD_EIO, "%s", msg);
			free(msg);
			return rc;
		}
		fe->armed = true;
	}
	return 0;
}

/* ---- the ring ---- */

static void
futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void
ring_get(struct fastpath *fp, uint64_t pos, void *dst, size_t n)
{
	uint64_t size = fp->shm->ring_size, off = pos & (size - 1);
	if (off + n <= size) {
		memcpy(dst, fp->ring + off, n);
	} else {
		memcpy(dst, fp->ring + off, size - off);
		memcpy((uint8_t *)dst + (size - off), fp->ring, n - (size - off));
	}
}

static void
answer_hello(struct fastpath *fp, const struct hda_ev_head *h)
{
	struct hda_slot *sl;
	uint64_t lo, hi;
	if (h->slot >= NSLOTS)
		return;
	sl = &fp->slots[h->slot];
	if (stack_range(fp, h->arg[0], &lo, &hi)) {
		sl->stack_lo = lo;
		sl->stack_hi = hi;
	} else {
		sl->stack_lo = 0;
		sl->stack_hi = 1;	/* no stack there: give up on it */
	}
	if (!sl->tid)
		sl->tid = h->tid;
	__atomic_fetch_add(&sl->hello_seq, 1, __ATOMIC_RELEASE);
	futex_wake(&sl->hello_seq);
}

uint64_t
fast_reserved(const struct fastpath *fp)
{
	return fp->shm ? __atomic_load_n(&fp->shm->head, __ATOMIC_ACQUIRE) : fp->tail;
}

uint64_t
fast_read_pos(const struct fastpath *fp)
{
	return fp->tail;
}

bool
fast_drain_all(struct fastpath *fp, fast_event_fn fn, void *ctx, double timeout)
{
	uint64_t head, until;

	if (!fp->shm)
		return true;
	head = __atomic_load_n(&fp->shm->head, __ATOMIC_ACQUIRE);
	until = hd_now_ns() + (uint64_t)(timeout * 1e9);
	for (;;) {
		fast_drain(fp, fn, ctx);
		if ((int64_t)(fp->tail - head) >= 0)
			return true;
		if (hd_now_ns() >= until)
			return false;
		sched_yield();
	}
}

size_t
fast_drain(struct fastpath *fp, fast_event_fn fn, void *ctx)
{
	struct hda_shm *s = fp->shm;
	size_t n = 0;
	uint64_t pos;

	if (!s)
		return 0;
	fp->maps_fresh = false;
	pos = fp->tail;
	/* at most one ring's worth: while the threads run they may write as
	 * fast as heapdbg reads, and the caller (continue's poll) has its
	 * deadline and the threads' events to look at; a stopped process's
	 * ring is emptied */
	for (uint64_t end = pos + s->ring_size; pos < end;) {
		uint64_t commit, off = pos & (s->ring_size - 1);
		struct hda_ev ev;
		struct fast_event fe;
		uint32_t len;

		commit = __atomic_load_n((uint64_t *)(fp->ring + off), __ATOMIC_ACQUIRE);
		if (commit != (pos ^ s->key))
			break;
		ring_get(fp, pos, &ev.h, sizeof(ev.h));
		len = ev.h.len;
		if (len < sizeof(ev.h) || len > s->ring_size / 2 || (len & 7)) {
			warn_msg("trace: a corrupt event in the ring (length %u); tracing data stops here", len);
			break;
		}
		if (ev.h.type == HDA_EV_HELLO) {
			answer_hello(fp, &ev.h);
		} else if (ev.h.type == HDA_EV_FREE || ev.h.type == HDA_EV_CALL || ev.h.type == HDA_EV_CALLID ||
			   ev.h.type == HDA_EV_FREEID || ev.h.type == HDA_EV_FREESTK) {
			memset(&fe, 0, sizeof(fe));
			fe.is_call = ev.h.type == HDA_EV_CALL || ev.h.type == HDA_EV_CALLID;
			fe.index = ev.h.func;
			fe.tid = (pid_t)ev.h.tid;
			fe.slot = ev.h.slot;
			fe.time = tsc_wall(fp, ev.h.tsc);
			fe.pos = pos;
			memcpy(fe.arg, ev.h.arg, sizeof(fe.arg));
			if (fe.index < fp->n) {
				fe.regs.rip = fp->ent[fe.index].addr;
				fe.regs.rdi = ev.h.arg[0];
				fe.regs.rsi = ev.h.arg[1];
				fe.regs.rdx = ev.h.arg[2];
			}
			if ((ev.h.type == HDA_EV_CALLID || ev.h.type == HDA_EV_FREEID) && len >= sizeof(struct hda_ev_id)) {
				struct hda_ev_id ei;
				ring_get(fp, pos, &ei, sizeof(ei));
				fe.ret = ei.ret;
				fe.have_out = ei.flags & HDA_EVF_OUT;
				fe.out = ei.out;
				fe.stack_id = ei.stack_id;
				fe.sampled = ei.flags & HDA_EVF_SAMPLED;
				fe.old_sampled = ei.flags & HDA_EVF_OLD_SAMPLED;
				fe.checked = ei.flags & HDA_EVF_CHECKED;
			} else if ((ev.h.type == HDA_EV_CALL || ev.h.type == HDA_EV_FREESTK) && len >= sizeof(ev)) {
				ring_get(fp, pos, &ev, sizeof(ev));
				fe.ret = ev.ret;
				fe.have_out = ev.flags & HDA_EVF_OUT;
				fe.out = ev.out;
				fe.sampled = ev.flags & HDA_EVF_SAMPLED;
				fe.old_sampled = ev.flags & HDA_EVF_OLD_SAMPLED;
				fe.checked = ev.flags & HDA_EVF_CHECKED;
				fe.regs.rsp = ev.rsp;
				fe.regs.rbp = ev.rbp;
				fe.regs.rbx = ev.rbx;
				fe.regs.r12 = ev.r12;
				fe.regs.r13 = ev.r13;
				fe.regs.r14 = ev.r14;
				fe.regs.r15 = ev.r15;
				fe.stack_len = ev.stack_len;
				if (fe.stack_len > len - sizeof(ev))
					fe.stack_len = len - sizeof(ev);
				if (ev.flags & HDA_EVF_PCS)
					fe.stack_len &= ~(size_t)7;
				{
					uint64_t so = (pos + sizeof(ev)) & (s->ring_size - 1);
					if (so + fe.stack_len <= s->ring_size) {
						fe.stack = fp->ring + so;
					} else {
						if (fp->evbuf_cap < fe.stack_len) {
							fp->evbuf = xrealloc(fp->evbuf, fe.stack_len);
							fp->evbuf_cap = fe.stack_len;
						}
						ring_get(fp, pos + sizeof(ev), fp->evbuf, fe.stack_len);
						fe.stack = fp->evbuf;
					}
				}
				if (ev.flags & HDA_EVF_PCS) {
					/* (8-aligned in the ring and in evbuf) */
					fe.pcs = (const uint64_t *)(const void *)fe.stack;
					fe.npcs = (int)(fe.stack_len / 8);
					fe.stack = NULL;
					fe.stack_len = 0;
				}
			}
			if (fe.index < fp->n)
				fn(ctx, &fe);
		}
		pos += len;
		n++;
		if ((n & 63) == 0) {
			__atomic_store_n(&s->tail, pos, __ATOMIC_RELEASE);
			if (__atomic_load_n(&s->waiters, __ATOMIC_ACQUIRE)) {
				__atomic_fetch_add(&s->wake, 1, __ATOMIC_RELEASE);
				futex_wake(&s->wake);
			}
		}
	}
	fp->tail = pos;
	__atomic_store_n(&s->tail, pos, __ATOMIC_RELEASE);
	if (__atomic_load_n(&s->waiters, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&s->wake, 1, __ATOMIC_RELEASE);
		futex_wake(&s->wake);
	}
	fp->events += n;
	/* refine the clock's rate over the whole trace */
	{
		double w = hd_wall_time();
		uint64_t c = rdtsc();
		if (w - fp->wall0 > 1.0 && c > fp->tsc0) {
			double hz = (double)(c - fp->tsc0) / (w - fp->wall0);
			if (hz > 0.5 * fp->tsc_hz && hz < 2 * fp->tsc_hz)
				fp->tsc_hz = hz;
		}
	}
	return n;
}

double
fast_fill(const struct fastpath *fp)
{
	if (!fp->shm)
		return 0;
	return (double)(__atomic_load_n(&fp->shm->head, __ATOMIC_RELAXED) - fp->tail) / (double)fp->shm->ring_size;
}

void
fast_publish_rule(struct fastpath *fp, uint64_t pc, const struct cfi_rule_info *ri)
{
	uint64_t mask = NRULES - 1, i = (pc * 0x9e3779b97f4a7c15ULL) >> 40;
	if (!fp->shm || !fp->shm->nrules || !pc)
		return;
	for (int n = 0; n < 16; n++, i++) {
		struct hda_rule *r = &fp->rules[i & mask];
		uint64_t k = __atomic_load_n(&r->pc, __ATOMIC_ACQUIRE);
		if (k == pc)
			return;
		if (k == 0) {
			r->ok = ri->ok;
			r->cfa_rbp = ri->cfa_rbp;
			r->ra = ri->ra;
			r->rbp = ri->rbp;
			r->cfa_off = ri->cfa_off;
			r->ra_off = ri->ra_off;
			r->rbp_off = ri->rbp_off;
			__atomic_store_n(&r->pc, pc, __ATOMIC_RELEASE);
			return;
		}
	}
}

void
fast_publish_stack(struct fastpath *fp, const uint64_t *pcs, int n, uint32_t id)
{
	struct hda_shm *s = fp->shm;
	uint64_t h, mask = NSTACKS - 1;

	if (!s || !s->nstacks || n <= 0 || !id || (uint32_t)n > SPOOL_WORDS - fp->spool_used)
		return;
	h = hda_stack_hash(pcs, (uint32_t)n);
	for (uint64_t i = h, k = 0; k < HDA_STACK_PROBES; k++, i++) {
		struct hda_stack *e = &fp->stacks[i & mask];
		if (e->hash == h && e->n == (uint32_t)n && !memcmp(fp->spool + e->first, pcs, (size_t)n * 8))
			return;
		if (e->hash == 0) {
			memcpy(fp->spool + fp->spool_used, pcs, (size_t)n * 8);
			e->id = id;
			e->n = (uint32_t)n;
			e->first = fp->spool_used;
			fp->spool_used += (uint32_t)n;
			__atomic_store_n(&e->hash, h, __ATOMIC_RELEASE);
			return;
		}
	}
}

void
fast_set_need(struct fastpath *fp, uint32_t slot, uint32_t need)
{
	if (fp->shm && slot < NSLOTS && need > fp->slots[slot].stack_need)
		fp->slots[slot].stack_need = need;
}

void
fast_thread_exit(struct fastpath *fp, pid_t tid)
{
	if (!fp->shm)
		return;
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct hda_slot *sl = &fp->slots[i];
		if (sl->key && sl->tid == (uint32_t)tid) {
			/* the key stays: a thread with the same thread pointer
			 * (glibc reuses stacks) takes the slot over; it asks
			 * for its range again */
			sl->tid = 0;
			sl->stack_lo = sl->stack_hi = 0;
			sl->stack_need = 0;
		}
	}
}

void
fast_set_check(struct fastpath *fp, uint64_t tcache_key, uint64_t tcache_key_addr, uint64_t own_lo,
	       uint64_t own_hi, int32_t tcache_tpoff)
{
	static const uint8_t gate[2] = { 0xcc, 0xc3 };	/* int3; ret */

	if (!fp->shm || !fp->mapped || target_write(fp->t, fp->code + HDA_TRAP_OFF, gate, 2) < 0)
		return;		/* (no check: the gate would not trap) */
	fp->shm->own_lo = own_lo;
	fp->shm->own_hi = own_hi;
	fp->shm->tcache_tpoff = tcache_tpoff;
	fp->shm->tcache_key = tcache_key;
	fp->shm->tcache_key_addr = tcache_key_addr;
	__atomic_store_n(&fp->shm->check, 1, __ATOMIC_RELEASE);
}

bool
fast_is_check_trap(const struct fastpath *fp, uint64_t pc)
{
	/* right after the gate's int3 */
	return fp->shm && fp->mapped && pc == fp->code + HDA_TRAP_OFF + 1;
}

uint64_t
fast_entry_pc(const struct fastpath *fp, uint64_t func)
{
	unsigned i = (unsigned)(func & HDA_FN_INDEX);
	return i < fp->n ? fp->ent[i].addr : 0;
}

static int
slot_flag(struct fastpath *fp, uint64_t slot, uint32_t flag)
{
	uint64_t off;
	struct hda_slot *sl;
	if (!fp->shm || slot < fp->shm_addr + fp->shm->slots_off)
		return hd_fail(HD_EGENERIC, "0x%" PRIx64 " is no slot of the agent", slot);
	off = slot - fp->shm_addr - fp->shm->slots_off;
	if (off % sizeof(*sl) || off / sizeof(*sl) >= NSLOTS)
		return hd_fail(HD_EGENERIC, "0x%" PRIx64 " is no slot of the agent", slot);
	sl = &fp->slots[off / sizeof(*sl)];
	__atomic_fetch_or(&sl->flags, flag, __ATOMIC_ACQ_REL);
	return 0;
}

int
fast_pass_checked(struct fastpath *fp, uint64_t slot)
{
	return slot_flag(fp, slot, HDA_SLOT_NOCHECK);
}

int
fast_pass_once(struct fastpath *fp, uint64_t slot)
{
	return slot_flag(fp, slot, HDA_SLOT_ONCE);
}

void
fast_pass_thread(struct fastpath *fp, uint64_t tp, bool on)
{
	struct hda_slot *sl = slot_of(fp, tp, on);
	if (!sl)
		return;
	if (on)
		__atomic_fetch_or(&sl->flags, HDA_SLOT_PASS, __ATOMIC_ACQ_REL);
	else
		__atomic_fetch_and(&sl->flags, ~HDA_SLOT_PASS, __ATOMIC_ACQ_REL);
}

void
fast_clean_child(struct fastpath *fp, pid_t child)
{
	char path[64];
	int fd;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)child);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		warn_msg("cannot clean the jumps out of forked child %d: %s", (int)child, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < fp->n; i++)
		if (fp->ent[i].armed && pwrite(fd, fp->ent[i].orig, 5, (off_t)fp->ent[i].addr) != 5)
			warn_msg("cannot clean the jump at 0x%" PRIx64 " in child %d", fp->ent[i].addr, (int)child);
	close(fd);
}

static void
wake_all(struct fastpath *fp)
{
	struct hda_shm *s = fp->shm;
	if (!s)
		return;
	__atomic_fetch_add(&s->wake, 1, __ATOMIC_RELEASE);
	futex_wake(&s->wake);
	for (unsigned i = 0; i < NSLOTS; i++)
		if (fp->slots[i].key) {
			__atomic_fetch_add(&fp->slots[i].hello_seq, 1, __ATOMIC_RELEASE);
			futex_wake(&fp->slots[i].hello_seq);
		}
}

int
fast_disarm(struct fastpath *fp)
{
	struct target *t = fp->t;
	uint32_t off = 0;
	int rc = 0;

	for (unsigned k = 0; k < fp->n; k++) {
		struct fentry *fe = &fp->ent[k];
		uint8_t now[5], jmp[5];
		int32_t r32;
		if (!fe->armed)
			continue;
		fe->armed = false;
		r32 = (int32_t)((int64_t)fe->stub - (int64_t)(fe->addr + 5));
		jmp[0] = 0xe9;
		memcpy(jmp + 1, &r32, 4);
		if (target_read_uncached(t, fe->addr, now, 5) != 5 || memcmp(now, jmp, 5)) {
			warn_msg("0x%" PRIx64 " no longer holds heapdbg's jump: left as it is", fe->addr);
			rc = -1;
			continue;
		}
		if (target_write(t, fe->addr, fe->orig, 5) < 0) {
			warn_msg("cannot restore 0x%" PRIx64 ": %s", fe->addr, hd_errmsg());
			rc = -1;
		}
	}
	if (fp->mapped) {
		static const uint8_t ret = 0xc3;
		target_write(t, fp->priv, &off, sizeof(off));
		/* the check's gate lets a thread on its way pass */
		target_write(t, fp->code + HDA_TRAP_OFF, &ret, 1);
	}
	wake_all(fp);
	return rc;
}

bool
fast_busy(struct fastpath *fp)
{
	struct target *t = fp->t;
	if (!fp->mapped)
		return false;
	for (unsigned i = 0; fp->shm && i < NSLOTS; i++)
		if (fp->slots[i].key &&
		    (__atomic_load_n(&fp->slots[i].in_flight, __ATOMIC_ACQUIRE) ||
		     __atomic_load_n(&fp->slots[i].holding, __ATOMIC_ACQUIRE)))
			return true;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		const hd_regs_t *r;
		if (th->state != THREAD_STOPPED || !(r = target_regs(t, th)))
			continue;
		if (r->rip >= fp->code && r->rip < fp->code + HDA_MAP_SIZE)
			return true;
	}
	return false;
}

int
fast_unmap(struct fastpath *fp)
{
	uint64_t r;
	int rc = 0;
	if (!fp->mapped)
		return 0;
	if (fp->live_r_target >= 0 && inject(fp, SYS_close, (uint64_t)fp->live_r_target, 0, 0, 0, 0, 0, &r) == 0)
		fp->live_r_target = -1;
	if (fp->shm_addr) {
		if (inject(fp, SYS_munmap, fp->shm_addr, fp->shm_size, 0, 0, 0, 0, &r) == 0 && r == 0)
			fp->shm_addr = 0;
		else
			rc = -1;
	}
	if (inject(fp, SYS_munmap, fp->code, HDA_MAP_SIZE, 0, 0, 0, 0, &r) < 0 || r != 0)
		rc = -1;
	if (rc == 0)
		fp->mapped = false;
	return rc;
}

void
fast_forget_target(struct fastpath *fp)
{
	for (unsigned i = 0; i < fp->n; i++)
		fp->ent[i].armed = false;
	fp->mapped = false;
	fp->shm_addr = 0;
	fp->live_r_target = -1;
}

void
fast_free(struct fastpath *fp)
{
	if (!fp)
		return;
	if (fp->shm)
		munmap(fp->shm, fp->shm_size);
	if (fp->live_w >= 0)
		close(fp->live_w);
	free(fp->evbuf);
	free(fp);
}

void
fast_stats(const struct fastpath *fp, struct fast_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->events = fp->events;
	st->mapped = fp->mapped;
	st->code = fp->code;
	if (!fp->shm)
		return;
	st->waits = __atomic_load_n(&fp->shm->waits, __ATOMIC_RELAXED);
	st->lost = __atomic_load_n(&fp->shm->lost, __ATOMIC_RELAXED);
	st->noslot = __atomic_load_n(&fp->shm->noslot, __ATOMIC_RELAXED);
	st->hellos = __atomic_load_n(&fp->shm->hellos, __ATOMIC_RELAXED);
	st->sampled = __atomic_load_n(&fp->shm->sampled, __ATOMIC_RELAXED);
	st->sset_full = __atomic_load_n(&fp->shm->sset_full, __ATOMIC_RELAXED);
	st->gone = fp->shm->gone;
	st->ring_size = fp->shm->ring_size;
	for (unsigned i = 0; i < NSLOTS; i++)
		if (fp->slots[i].key)
			st->threads++;
}
