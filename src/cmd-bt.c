/*
 * cmd-bt.c - `bt [TID|all]`: thread backtraces with function, file:line
 * and inlined frames, like gdb's `bt` and `thread apply all bt`.
 */
#include "config.h"
#include "cmd.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BT_MAX 256

void
cmd_emit_frames(struct session *s, const uint64_t *pcs, int n, const char *indent)
{
	struct symbols *sym = session_symbols(s);
	int level = 0;

	em_list_open(s->em, "frames");
	for (int i = 0; i < n; i++) {
		const struct frame_info *f;
		int nf;
		if (!sym) {
			em_item_open(s->em);
			em_fmt(s->em, "%s#%-3d {pc:%A}\n", indent, level++, pcs[i]);
			em_item_close(s->em);
			continue;
		}
		nf = symbols_resolve(sym, pcs[i], i > 0, &f);
		for (int k = 0; k < nf; k++, level++) {
			em_item_open(s->em);
			em_fmt(s->em, "%s#%-3d ", indent, level);
			if (f[k].inlined) {
				/* as gdb: no address for an inlined call (it has
				 * its caller's), the name where the others have it */
				char a[24];
				em_text(s->em, "%*s", snprintf(a, sizeof(a), "0x%" PRIx64, f[k].pc) + 4, "");
				em_addr(s->em, "pc", f[k].pc);
			} else {
				em_fmt(s->em, "{pc:%A} in ", f[k].pc);
			}
			if (f[k].func) {
				em_fmt(s->em, "{func:%s}", f[k].func);
				if (!f[k].inlined)
					em_uint(s->em, "off", f[k].off);
			} else {
				em_text(s->em, "??");
			}
			em_text(s->em, " ()");
			if (f[k].file && f[k].line) {
				em_fmt(s->em, " at {file:%s}:{line:%d}", f[k].file, f[k].line);
			}
			if (f[k].module)
				em_fmt(s->em, " from {module:%s}", f[k].module);
			if (f[k].inlined)
				em_bool(s->em, "inlined", true);
			em_text(s->em, "\n");
			em_item_close(s->em);
		}
	}
	em_list_close(s->em);
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
