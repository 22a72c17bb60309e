/*
 * abortmsg.c - why glibc's malloc aborted a process (see abortmsg.h):
 * its message from __abort_msg, and the chunk, from the aborting
 * thread's stack or the heap walk's findings.
 */
#include "config.h"
#include "abortmsg.h"
#include "live.h"
#include "ptmalloc.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define STACK_SCAN (16u << 10)	/* bytes of the aborting thread's stack read */

/* What a message says of the chunk it is about. */
enum chunk_test {
	T_NONE,		/* nothing to look for on the stack: findings only */
	T_TCACHE,	/* the chunk being freed is in a tcache already */
	T_FASTTOP,	/* ... is the head of its fastbin */
	T_TOP,		/* ... is top */
	T_NEXT_PREV,	/* its next chunk's PREV_INUSE is clear */
	T_NEXT_SIZE,	/* its next chunk's size is impossible */
	T_OUT,		/* its next chunk lies beyond top */
	T_SIZE,		/* its own size is impossible */
	T_PTR,		/* the pointer itself is misaligned */
	T_MMAP,		/* an mmapped chunk whose offset or size is wrong */
	T_INUSE,	/* a chunk in use (realloc's old chunk) */
};

static const struct {
	const char *msg;
	enum chunk_test test;
	const char *kind;	/* the heap walk's finding about the same damage */
} messages[] = {
	{ "free(): double free detected in tcache 2", T_TCACHE, "tcache-cycle" },
	{ "double free or corruption (fasttop)", T_FASTTOP, "fastbin-cycle" },
	{ "double free or corruption (top)", T_TOP, NULL },
	{ "double free or corruption (!prev)", T_NEXT_PREV, "bin-chunk-inuse" },
	{ "double free or corruption (out)", T_OUT, NULL },
	{ "free(): invalid next size (fast)", T_NEXT_SIZE, "invalid-size" },
	{ "free(): invalid next size (normal)", T_NEXT_SIZE, "invalid-size" },
	{ "free(): invalid size", T_SIZE, "invalid-size" },
	{ "free(): invalid pointer", T_PTR, NULL },
	{ "munmap_chunk(): invalid pointer", T_MMAP, NULL },
	{ "realloc(): invalid pointer", T_PTR, NULL },
	{ "realloc(): invalid old size", T_SIZE, "invalid-size" },
	{ "realloc(): invalid next size", T_NEXT_SIZE, "invalid-size" },
	{ "mremap_chunk(): invalid pointer", T_MMAP, NULL },
	{ "free(): unaligned chunk detected in tcache 2", T_NONE, "tcache-misaligned" },
	{ "malloc(): unaligned tcache chunk detected", T_NONE, "tcache-misaligned" },
	{ "tcache_thread_shutdown(): unaligned tcache chunk detected", T_NONE, "tcache-misaligned" },
	{ "free(): too many chunks detected in tcache", T_NONE, "tcache-too-long" },
	{ "malloc(): unaligned fastbin chunk detected", T_NONE, "fastbin-misaligned" },
	{ "malloc(): unaligned fastbin chunk detected 2", T_NONE, "fastbin-misaligned" },
	{ "malloc(): unaligned fastbin chunk detected 3", T_NONE, "fastbin-misaligned" },
	{ "malloc_consolidate(): unaligned fastbin chunk detected", T_NONE, "fastbin-misaligned" },
	{ "malloc(): memory corruption (fast)", T_NONE, "fastbin-size" },
	{ "malloc_consolidate(): invalid chunk size", T_NONE, "fastbin-size" },
	{ "invalid fastbin entry (free)", T_NONE, "fastbin-size" },
	{ "malloc(): smallbin double linked list corrupted", T_NONE, "bin-link" },
	{ "malloc(): unsorted double linked list corrupted", T_NONE, "bin-link" },
	{ "malloc(): corrupted unsorted chunks", T_NONE, "bin-link" },
	{ "malloc(): corrupted unsorted chunks 2", T_NONE, "bin-link" },
	{ "free(): corrupted unsorted chunks", T_NONE, "bin-link" },
	{ "corrupted double-linked list", T_NONE, "bin-link" },
	{ "malloc(): largebin double linked list corrupted (bk)", T_NONE, "bin-link" },
	{ "malloc(): largebin double linked list corrupted (nextsize)", T_NONE, "largebin-nextsize" },
	{ "corrupted double-linked list (not small)", T_NONE, "largebin-nextsize" },
	{ "corrupted size vs. prev_size", T_NONE, "size-vs-prev-size" },
	{ "corrupted size vs. prev_size while consolidating", T_NONE, "prev-size" },
	{ "malloc(): mismatching next->prev_size (unsorted)", T_NONE, "size-vs-prev-size" },
	{ "malloc(): invalid size (unsorted)", T_NONE, "invalid-size" },
	{ "malloc(): invalid next size (unsorted)", T_NONE, "invalid-size" },
	{ "malloc(): invalid next->prev_inuse (unsorted)", T_NONE, "bin-chunk-inuse" },
	{ "malloc(): corrupted top size", T_NONE, "top-size" },
	{ "break adjusted to free malloc space", T_NONE, "heap-size" },
};

/* The chunk's header (from the walk's copies, else the target). */
static bool
header(struct target *t, const struct heap *h, uint64_t c, uint8_t out[16])
{
	const uint8_t *b = heap_bytes(h, c, 16);
	if (b) {
		memcpy(out, b, 16);
		return true;
	}
	return target_read(t, c, out, 16) == 0;
}

static const struct harena *
arena_of_chunk(const struct heap *h, uint64_t c)
{
	const struct hchunk *hc = heap_chunk_at(h, c);
	if (hc && hc->arena != HEAP_NO_ARENA && hc->arena < h->arenas.n)
		return &h->arenas.v[hc->arena];
	return NULL;
}

/* Does the chunk at c fit what the message says?  v is the value seen on
 * the stack (c is v - 16 or v). */
static bool
fits(struct target *t, const struct heap *h, enum chunk_test test, uint64_t v, uint64_t c)
{
	const struct hchunk *hc = heap_chunk_at(h, c);
	bool boundary = hc && hc->addr == c;
	uint8_t hdr[16], nh[16];
	uint64_t sz;

	switch (test) {
	case T_TCACHE:
		return boundary && hc->state == CS_TCACHE;
	case T_FASTTOP:
		for (size_t i = 0; i < h->arenas.n; i++)
			for (unsigned k = 0; k < h->arenas.v[i].nfast && k < 16; k++)
				if (h->arenas.v[i].fastbin_heads[k] == c)
					return true;
		return false;
	case T_TOP:
		for (size_t i = 0; i < h->arenas.n; i++)
			if (h->arenas.v[i].top == c)
				return true;
		return false;
	case T_PTR:
		return (v & PTM_ALIGN_MASK) && v - 16 == c && heap_bytes(h, v & ~(uint64_t)PTM_ALIGN_MASK, 16);
	case T_INUSE:
		return boundary && hc->state == CS_USED;
	default:
		break;
	}
	if (!heap_bytes(h, c, 16) && test != T_MMAP)
		return false;
	if (!header(t, h, c, hdr))
		return false;
	sz = ptm_chunksize(chunk_size_field(hdr));
	switch (test) {
	case T_SIZE:
		return v - 16 == c && (sz < PTM_MINSIZE || !ptm_aligned(sz) || c + sz < c);
	case T_MMAP:
		return v - 16 == c && ptm_is_mmapped(chunk_size_field(hdr)) &&
		       (((c - chunk_prev_size(hdr)) | (chunk_prev_size(hdr) + sz)) & 0xfff);
	case T_NEXT_PREV:
	case T_NEXT_SIZE:
	case T_OUT: {
		const struct harena *ar = arena_of_chunk(h, c);
		if (!boundary || sz < PTM_MINSIZE || !ar)
			return false;
		if (test == T_OUT)
			return c + sz >= ar->top + ar->top_size;
		if (!header(t, h, c + sz, nh))
			return false;
		if (test == T_NEXT_PREV)
			return !ptm_prev_inuse(chunk_size_field(nh));
		return ptm_chunksize(chunk_size_field(nh)) <= PTM_HDR ||
		       ptm_chunksize(chunk_size_field(nh)) >= ar->system_mem;
	}
	default:
		return false;
	}
}

/* The aborting thread's stack, from its stack pointer up: the first
 * value that, as a user pointer or as a chunk, fits the message. */
static bool
scan_stack(struct target *t, const struct heap *h, struct target_thread *th, enum chunk_test test,
	   struct glibc_abort *out)
{
	static uint8_t buf[STACK_SCAN];
	const hd_regs_t *r = target_regs(t, th);
	size_t got;

	if (!r)
		return false;
	got = target_read_partial(t, REG_SP(r) & ~7ULL, buf, sizeof(buf));
	for (size_t o = 0; o + 8 <= got; o += 8) {
		uint64_t v = ptm_rd64(buf + o);
		if (v < 16)
			continue;
		if (fits(t, h, test, v, v - 16) || fits(t, h, test, v, v)) {
			out->chunk = fits(t, h, test, v, v - 16) ? v - 16 : v;
			out->how = "stack";
			out->stack_at = (REG_SP(r) & ~7ULL) + o;
			out->tid = th->tid;
			return true;
		}
	}
	return false;
}

/* Is the process dying of SIGABRT (a core of it, or held at its exit)? */
static bool
aborted(struct target *t)
{
	int st;

	if (t->kind == TARGET_CORE)
		return target_core_signal(t) == SIGABRT;
	if (t->kind == TARGET_LIVE && live_at_exit(t))
		return !live_exit_status(t, &st) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	return false;
}

bool
glibc_abort_examine(struct target *t, struct symbols *s, const struct heap *h, struct glibc_abort *out)
{
	struct sym_info si;
	const char *lb;
	uint64_t p = 0;
	uint32_t size = 0;
	size_t n, k;

	memset(out, 0, sizeof(*out));
	if (!h || !h->mi || !h->mi->libc_path || !s || !aborted(t))
		return false;
	lb = strrchr(h->mi->libc_path, '/') ? strrchr(h->mi->libc_path, '/') + 1 : h->mi->libc_path;
	if (symbols_lookup(s, lb, "__abort_msg", &si) < 0 || target_read_u64(t, si.addr, &p) < 0 || !p)
		return false;
	if (target_read_u32(t, p, &size) < 0 || size < 8)
		return false;
	n = target_read_partial(t, p + 4, out->message, MIN(sizeof(out->message) - 1, (size_t)size - 4));
	out->message[n] = 0;
	out->message[strcspn(out->message, "\n")] = 0;
	out->msg_at = p + 4;
	for (k = 0; k < ARRAY_SIZE(messages); k++)
		if (!strcmp(messages[k].msg, out->message))
			break;
	if (k == ARRAY_SIZE(messages))
		return false;	/* glibc aborted, not malloc */
	if (t->nthreads)
		out->tid = t->threads[0]->tid;
	if (messages[k].test != T_NONE) {
		/* a core's first thread is the one that aborted; a live
		 * process at its exit: whichever stack holds the chunk */
		for (size_t i = 0; i < t->nthreads; i++)
			if (scan_stack(t, h, t->threads[i], messages[k].test, out))
				return true;
	}
	if (messages[k].kind)
		for (size_t i = 0; i < h->findings.n; i++)
			if (!strcmp(h->findings.v[i].kind, messages[k].kind) && h->findings.v[i].chunk) {
				out->chunk = h->findings.v[i].chunk;
				out->how = "finding";
				return true;
			}
	return true;
}
