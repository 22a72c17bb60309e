/*
 * cmd-check.c - `check`: heap integrity.  Every condition glibc's own
 * checks abort on, plus cycles in any list, found during the full walk;
 * each finding names the chunk (user address and header) and the arena.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"

#include <inttypes.h>

static int
check_exec(struct session *s, int argc, char **argv)
{
	struct heap *h;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_check_entry.usage);
	h = session_glibc_heap(s);
	if (!h)
		return -1;
	em_bool(s->em, "ok", h->errors == 0);
	em_uint(s->em, "errors", h->errors);
	em_uint(s->em, "warnings", h->warnings);
	em_uint(s->em, "chunks", h->nchunks);
	em_uint(s->em, "arenas", h->arenas.n);
	if (!h->initialised) {
		em_text(s->em, "malloc not initialised yet: nothing to check\n");
	} else if (!h->findings.n) {
		em_text(s->em, "Heap OK: %zu chunks in %zu arena%s and %zu free list%s checked, no problems.\n",
			h->nchunks, h->arenas.n, h->arenas.n == 1 ? "" : "s", h->lists.n, h->lists.n == 1 ? "" : "s");
	} else {
		em_text(s->em, "%u error%s, %u warning%s in %zu chunks:\n", h->errors, h->errors == 1 ? "" : "s",
			h->warnings, h->warnings == 1 ? "" : "s", h->nchunks);
	}
	em_list_open(s->em, "findings");
	for (size_t i = 0; i < h->findings.n; i++) {
		const struct finding *f = &h->findings.v[i];
		em_item_open(s->em);
		em_fmt(s->em, "  {severity:%s} ", f->severity == FIND_ERROR ? "error" : "warning");
		em_fmt(s->em, "{kind:%s}", f->kind);
		if (f->chunk) {
			em_fmt(s->em, " at {addr:%A}", f->chunk + 16);
			em_addr(s->em, "chunk", f->chunk);
		}
		if (f->arena >= 0)
			em_fmt(s->em, " (arena {arena:%d})", f->arena);
		em_fmt(s->em, ": {message:%s}\n", f->message);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	if (h->errors)
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
		"up to glibc's counters.  JSON: ok, findings [{kind, addr, chunk, arena,\n"
		"message, severity}].  With --error-exitcode=N, an error makes heapdbg\n"
		"exit N.",
	.flags = CMD_NEEDS_TARGET,
	.exec = check_exec,
};
