/*
 * cmd-bt.c - `bt [TID|all]`: thread backtraces with function, file:line
 * and inlined frames, like gdb's `bt` and `thread apply all bt`.
 */
#include "config.h"
#include "cmd.h"
#include "stacks.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BT_MAX 256

/* The one frame format of every command (gdb's, with the module):
 *   #1   0x5555555551a9 in lookup () at src/table.c:42 from prog
 *   #2                  in Foo::bar(int) at src/foo.cc:7 from prog
 * an inlined call has no address of its own; a C++ name shows its
 * signature instead of "()" and is shortened past the session's width;
 * the file is relative to the module's source root.  JSON has the full
 * name and path. */
void
cmd_emit_frame(struct session *s, const char *indent, int level, const struct frame_info *f)
{
	char a[24], sh[512];

	em_fmt(s->em, "%s#%-3d ", indent, level);
	if (f->inlined) {
		em_text(s->em, "%*s", snprintf(a, sizeof(a), "0x%" PRIx64, f->pc) + 4, "");
		em_addr(s->em, "pc", f->pc);
	} else {
		em_fmt(s->em, "{pc:%A} in ", f->pc);
	}
	if (f->func) {
		em_str(s->em, "func", f->func);
		em_text(s->em, "%s%s", frame_short_name(f->func, s->name_width, sh, sizeof(sh)),
			strchr(f->func, '(') ? "" : " ()");
		if (!f->inlined)
			em_uint(s->em, "off", f->off);
	} else {
		em_text(s->em, "?? ()");
	}
	if (f->file && f->line) {
		em_str(s->em, "file", f->file);
		em_fmt(s->em, " at %s:{line:%d}", f->file_rel ? f->file_rel : f->file, f->line);
	} else if (f->file) {
		em_str(s->em, "file", f->file);
		em_text(s->em, " at %s", f->file_rel ? f->file_rel : f->file);
	}
	if (f->module)
		em_fmt(s->em, " from {module:%s}", f->module);
	if (f->inlined)
		em_bool(s->em, "inlined", true);
	em_text(s->em, "\n");
}

static void
emit_pcs(struct session *s, const uint64_t *pcs, int n, const char *indent, bool trim)
{
	struct symbols *sym = session_symbols(s);
	int level = 0, skip = 0, total = 0;

	if (trim && sym && !s->keep_alloc_frames) {
		/* the allocator's own frames at the top go (not all of them:
		 * a stack of nothing else is shown as it is) */
		bool trimming = true;
		for (int i = 0; i < n && trimming; i++) {
			const struct frame_info *f;
			int nf = symbols_resolve(sym, pcs[i], i > 0, &f);
			for (int k = 0; k < nf && trimming; k++) {
				if (frame_is_allocator(f[k].func))
					skip++;
				else
					trimming = false;
			}
			total += nf;
		}
		if (!trimming || skip < total)
			em_uint(s->em, "allocator_frames", skip);
		else
			skip = 0;
	}
	em_list_open(s->em, "frames");
	for (int i = 0, seen = 0; i < n; i++) {
		const struct frame_info *f;
		int nf;
		if (!sym) {
			em_item_open(s->em);
			em_fmt(s->em, "%s#%-3d {pc:%A}\n", indent, level++, pcs[i]);
			em_item_close(s->em);
			continue;
		}
		nf = symbols_resolve(sym, pcs[i], i > 0, &f);
		for (int k = 0; k < nf; k++, seen++) {
			if (seen < skip)
				continue;
			em_item_open(s->em);
			cmd_emit_frame(s, indent, level++, &f[k]);
			em_item_close(s->em);
		}
	}
	em_list_close(s->em);
}

void
cmd_emit_frames(struct session *s, const uint64_t *pcs, int n, const char *indent)
{
	emit_pcs(s, pcs, n, indent, false);
}

void
cmd_emit_alloc_frames(struct session *s, const uint64_t *pcs, int n, const char *indent)
{
	emit_pcs(s, pcs, n, indent, true);
}

static int
bt_thread(struct session *s, struct unwinder *u, struct target_thread *th)
{
	uint64_t pcs[BT_MAX];
	int n;

	em_item_open(s->em);
	em_fmt(s->em, "Thread {tid:%d}", (int)th->tid);
	if (th->name[0])
		em_fmt(s->em, " ({name:%s})", th->name);
	em_text(s->em, ":\n");
	n = u ? unwind_thread(u, th, pcs, BT_MAX) : -1;
	if (n < 0) {
		const hd_regs_t *r = target_regs(s->t, th);
		if (!r) {
			em_fmt(s->em, "  {error:%s}\n", hd_errmsg());
			em_item_close(s->em);
			return 0;
		}
		pcs[0] = REG_PC(r);
		n = 1;
	}
	cmd_emit_frames(s, pcs, n, "");
	em_item_close(s->em);
	return 0;
}

static int
bt_exec(struct session *s, int argc, char **argv)
{
	struct unwinder *u = session_unwinder(s);
	struct target *t = s->t;

	if (argc > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_bt_entry.usage);
	if (!u)
		warn_msg("no unwinder: %s", hd_errmsg());
	em_list_open(s->em, "threads");
	if (argc == 2 && strcmp(argv[1], "all") != 0) {
		uint64_t tid;
		struct target_thread *th;
		if (parse_u64(argv[1], &tid, false) < 0)
			return hd_fail(HD_EUSAGE, "usage: %s", cmd_bt_entry.usage);
		th = target_find_thread(t, (pid_t)tid);
		if (!th)
			return hd_fail(HD_ENOENT, "no thread %llu", (unsigned long long)tid);
		bt_thread(s, u, th);
	} else if (argc == 2) {
		for (size_t i = 0; i < t->nthreads; i++) {
			if (i)
				em_text(s->em, "\n");
			bt_thread(s, u, t->threads[i]);
		}
	} else if (t->nthreads) {
		bt_thread(s, u, t->threads[0]);
	}
	em_list_close(s->em);
	return 0;
}

static const char *const bt_words[] = { "all", NULL };

const struct cmd_entry cmd_bt_entry = {
	.name = "bt",
	.alias = "backtrace",
	.usage = "bt [TID|all]",
	.summary = "backtrace of the first thread, thread TID, or all threads",
	.help = "Unwinds the stack of a thread (libunwind on a live process, libdw on\n"
		"a core file) and shows each frame with its function, source file and\n"
		"line when debug information is available, inlined calls included.\n"
		"Without an argument: the main thread (in a core, the thread that\n"
		"crashed).",
	.words = bt_words,
	.flags = CMD_NEEDS_TARGET,
	.exec = bt_exec,
};
