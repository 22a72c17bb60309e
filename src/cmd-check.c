/*
 * cmd-check.c - `check`: heap integrity.  Every condition glibc's own
 * checks abort on, plus cycles in any list, found during the full walk;
 * each finding names the chunk (user address and header) and the arena.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "abortmsg.h"
#include "allocinfo.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

/* The damaged bytes: hex and text. */
static void
emit_bytes(struct session *s, const struct finding *f)
{
	char hex[3 * sizeof(f->bytes) + 1], text[sizeof(f->bytes) + 1];
	size_t n = f->nbytes;

	for (size_t i = 0; i < n; i++) {
		snprintf(hex + 3 * i, 4, "%02x ", f->bytes[i]);
		text[i] = isprint(f->bytes[i]) ? (char)f->bytes[i] : '.';
	}
	hex[n ? 3 * n - 1 : 0] = 0;
	text[n] = 0;
	em_addr(s->em, "bytes_at", f->bytes_at);
	{
		char compact[2 * sizeof(f->bytes) + 1];
		for (size_t i = 0; i < n; i++)
			snprintf(compact + 2 * i, 3, "%02x", f->bytes[i]);
		compact[2 * n] = 0;
		em_str(s->em, "bytes", compact);
	}
	em_str(s->em, "text", text);
	em_text(s->em, "      bytes at 0x%" PRIx64 ": %s  \"%s\"\n", f->bytes_at, hex, text);
}

/* The block the bug is in, with its allocation stack when traced. */
static void
emit_block(struct session *s, uint64_t addr, uint64_t size)
{
	struct alloc_record ar;
	const struct alloc_source *src = session_alloc_source(s);

	em_obj_open(s->em, "block");
	em_addr(s->em, "addr", addr);
	em_uint(s->em, "size", size);
	if (alloc_lookup(src, addr, &ar)) {
		int np;
		const uint64_t *pcs = stack_pcs(src->stacks, ar.stack, &np);
		em_uint(s->em, "req", ar.req);
		em_text(s->em, "      block 0x%" PRIx64 " (%" PRIu64 " bytes requested) was allocated at:\n", addr, ar.req);
		em_obj_open(s->em, "stack");
		cmd_emit_frames(s, pcs, np, "        ");
		em_obj_close(s->em);
	}
	em_obj_close(s->em);
}

static void
emit_finding(struct session *s, const struct finding *f)
{
	em_item_open(s->em);
	em_fmt(s->em, "  {severity:%s} ", f->severity == FIND_ERROR ? "error" : "warning");
	em_fmt(s->em, "{kind:%s}", f->kind);
	if (f->chunk) {
		em_fmt(s->em, " at {addr:%A}", f->chunk + 16);
		em_addr(s->em, "chunk", f->chunk);
	} else {
		em_null(s->em, "addr");
		em_null(s->em, "chunk");
	}
	if (f->arena >= 0)
		em_fmt(s->em, " (arena {arena:%d})", f->arena);
	else
		em_null(s->em, "arena");
	if (f->tid)
		em_int(s->em, "thread", f->tid);
	em_fmt(s->em, ": {message:%s}\n", f->message);
	if (f->after)
		em_addr(s->em, "after", f->after);
	if (f->field)
		em_addr(s->em, "field", f->field);
	if (f->nbytes)
		emit_bytes(s, f);
	if (f->block)
		emit_block(s, f->block, f->block_size);
	em_item_close(s->em);
}

static int
check_exec(struct session *s, int argc, char **argv)
{
	struct heap *h;
	struct glibc_abort ab;
	bool have_abort;
	unsigned errors;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_check_entry.usage);
	h = session_glibc_heap(s);
	if (!h)
		return -1;
	/* a process glibc's malloc aborted: its message, and the chunk */
	have_abort = h->initialised && glibc_abort_examine(s->t, session_symbols(s), h, &ab);
	errors = h->errors + (have_abort ? 1 : 0);
	em_bool(s->em, "ok", errors == 0);
	em_uint(s->em, "errors", errors);
	em_uint(s->em, "warnings", h->warnings);
	em_uint(s->em, "chunks", h->nchunks);
	em_uint(s->em, "arenas", h->arenas.n);
	if (!h->initialised) {
		em_text(s->em, "malloc not initialised yet: nothing to check\n");
	} else if (!h->findings.n && !have_abort) {
		em_text(s->em, "Heap OK: %zu chunks in %zu arena%s and %zu free list%s checked, no problems.\n",
			h->nchunks, h->arenas.n, h->arenas.n == 1 ? "" : "s", h->lists.n, h->lists.n == 1 ? "" : "s");
	} else {
		em_text(s->em, "%u error%s, %u warning%s in %zu chunks:\n", errors, errors == 1 ? "" : "s",
			h->warnings, h->warnings == 1 ? "" : "s", h->nchunks);
	}
	if (have_abort) {
		struct finding f;
		struct sbuf sb;
		const struct hchunk *c = ab.chunk ? heap_chunk_at(h, ab.chunk) : NULL;
		memset(&f, 0, sizeof(f));
		f.kind = "glibc-abort";
		f.severity = FIND_ERROR;
		f.chunk = ab.chunk;
		f.arena = c && c->arena != HEAP_NO_ARENA ? c->arena : -1;
		f.tid = ab.tid;
		sb_init(&sb);
		sb_printf(&sb, "glibc aborted the process: \"%s\"", ab.message);
		if (ab.chunk) {
			sb_printf(&sb, ", for block 0x%" PRIx64, ab.chunk + 16);
			if (c && c->addr == ab.chunk)
				sb_printf(&sb, " (%" PRIu64 " bytes, %s)", hchunk_usable(c), chunk_state_name(c->state));
			if (!strcmp(ab.how, "stack"))
				sb_printf(&sb, " (its pointer is on thread %d's stack at 0x%" PRIx64 ")", ab.tid, ab.stack_at);
			else
				sb_printf(&sb, " (the damage the walk finds there)");
		} else {
			sb_printf(&sb, "; the chunk it was about is not known");
		}
		f.message = sb.s ? sb.s : (char *)"";
		if (c && c->addr == ab.chunk && c->state == CS_USED) {
			f.block = ab.chunk + 16;
			f.block_size = hchunk_usable(c);
		}
		em_list_open(s->em, "findings");
		emit_finding(s, &f);
		sb_free(&sb);
	} else {
		em_list_open(s->em, "findings");
	}
	for (size_t i = 0; i < h->findings.n; i++)
		emit_finding(s, &h->findings.v[i]);
	em_list_close(s->em);
	if (have_abort) {
		em_obj_open(s->em, "abort");
		em_str(s->em, "message", ab.message);
		if (ab.chunk) {
			em_addr(s->em, "addr", ab.chunk + 16);
			em_addr(s->em, "chunk", ab.chunk);
			em_str(s->em, "how", ab.how);
		}
		em_int(s->em, "thread", ab.tid);
		em_obj_close(s->em);
	}
	if (errors)
		s->found_problem = true;
	return 0;
}

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.usage = "check",
	.summary = "heap integrity: what glibc's own checks would abort on, and list cycles",
	.help = "Walks the whole heap and reports every problem as a finding: invalid\n"
		"chunk sizes, size vs. prev_size mismatches, broken double links, chunks\n"
		"in the wrong bin, tcache and fastbin entries that are misaligned or\n"
		"point outside the heap, tcache counts that disagree with the lists,\n"
		"cycles in any list, chunks in two lists (double free), a corrupted top.\n"
		"The walk goes on past each problem.  Warnings are not corruption: an\n"
		"arena locked by a thread inside malloc, mmapped chunks that do not add\n"
		"up to glibc's counters.  Each finding says the bug first (\"double free\n"
		"of block X\", \"probable overflow from block Y below it\", \"written\n"
		"after free\"), then the mechanism, with the damaged bytes in hex and as\n"
		"text and, when traced, where the block was allocated; one met while the\n"
		"walk was out of step says which finding it follows from.  On a core of\n"
		"a process glibc's malloc aborted, the first finding is glibc's message\n"
		"and the chunk it was about.  JSON: ok, findings [{kind, addr, chunk,\n"
		"arena, message, severity, thread, after, field, bytes, bytes_at, text,\n"
		"block}], abort.  With --error-exitcode=N, an error makes heapdbg exit N.",
	.flags = CMD_NEEDS_TARGET,
	.exec = check_exec,
};
