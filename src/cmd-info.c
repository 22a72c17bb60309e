/*
 * cmd-info.c - `info`: what heapdbg is looking at: the target (live
 * process, core file), its threads, its modules and how their symbols were
 * found.
 */
#include "config.h"
#include "cmd.h"
#include "live.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>

static const char *
state_name(struct session *s)
{
	struct target *t = s->t;
	if (t->kind != TARGET_LIVE)
		return "post-mortem";
	if (live_at_exit(t))
		return "at-exit";
	return "stopped";
}

static void
emit_modules(struct session *s)
{
	struct symbols *sym = session_symbols(s);
	struct module_info mi;
	size_t n = 0, with_debug = 0;

	if (!sym) {
		em_text(s->em, "Modules:  unavailable (%s)\n", hd_errmsg());
		return;
	}
	em_list_open(s->em, "modules");
	for (size_t i = 0; symbols_module(sym, i, &mi); i++) {
		char bid[81] = "";
		for (int k = 0; k < mi.build_id_len && k < 40; k++)
			snprintf(bid + 2 * k, 3, "%02x", mi.build_id[k]);
		em_item_open(s->em);
		em_str(s->em, "name", mi.name);
		em_addr(s->em, "start", mi.start);
		em_addr(s->em, "end", mi.end);
		if (bid[0])
			em_str(s->em, "build_id", bid);
		em_str(s->em, "file", mi.file);
		em_str(s->em, "debug_file", mi.debug_file);
		em_bool(s->em, "dwarf", mi.has_dwarf);
		em_item_close(s->em);
		n++;
		if (mi.has_dwarf || mi.debug_file)
			with_debug++;
	}
	em_list_close(s->em);
	em_text(s->em, "Modules:  %zu (%zu with debug info)\n", n, with_debug);
	if (em_json(s->em))
		return;
	for (size_t i = 0; symbols_module(sym, i, &mi); i++)
		em_text(s->em, "  0x%012" PRIx64 "-0x%012" PRIx64 "  %-40s %s\n", mi.start, mi.end,
			mi.name ? mi.name : "?",
			mi.debug_file ? mi.debug_file : mi.has_dwarf ? "(debug info in file)" : "(no debug info)");
}

static int
info_exec(struct session *s, int argc, char **argv)
{
	struct target *t = s->t;
	int status;

	if (argc > 1)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_info_entry.usage);
	em_fmt(s->em, "Target:   {target:%s}", target_kind_name(t->kind));
	if (t->kind == TARGET_LIVE)
		em_fmt(s->em, " process {pid:%d}", (int)t->pid);
	else if (t->kind == TARGET_CORE)
		em_fmt(s->em, " file of process {pid:%d}", (int)t->pid);
	em_text(s->em, "\n");
	if (t->exe)
		em_fmt(s->em, "Program:  {exe:%s}\n", t->exe);
	if (t->cmdline)
		em_fmt(s->em, "Command:  {cmdline:%s}\n", t->cmdline);
	em_fmt(s->em, "State:    {state:%s}", state_name(s));
	if (t->kind == TARGET_LIVE && live_launched(t))
		em_fmt(s->em, " ({:%s})", "started by heapdbg");
	em_bool(s->em, "launched", t->kind == TARGET_LIVE && live_launched(t));
	if (t->kind == TARGET_LIVE && live_exit_status(t, &status)) {
		char b[64];
		em_fmt(s->em, ", {exit:%s}", wait_status_str(status, b));
	}
	if (t->kind == TARGET_CORE && target_core_signal(t)) {
		int sig = target_core_signal(t);
		const char *abbrev = sigabbrev_np(sig);
		em_fmt(s->em, ", killed by SIG{signal:%s}", abbrev ? abbrev : "?");
	}
	em_text(s->em, "\n");
	em_fmt(s->em, "Threads:  {threads:%zu}", t->nthreads);
	em_list_open(s->em, "thread_list");
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		em_item_open(s->em);
		em_fmt(s->em, "%s{tid:%d}", i ? ", " : " (", (int)th->tid);
		if (th->name[0])
			em_fmt(s->em, " {name:%s}", th->name);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_text(s->em, "%s\n", t->nthreads ? ")" : "");
	em_fmt(s->em, "Mappings: {mappings:%zu}\n", t->nmaps);
	emit_modules(s);
	return 0;
}

static const char *const info_opts[] = { NULL };

const struct cmd_entry cmd_info_entry = {
	.name = "info",
	.alias = "i",
	.usage = "info",
	.summary = "what heapdbg is looking at: target, threads, modules, allocator",
	.help = "Shows the target (a live process or a core file), its program and\n"
		"command line, its state, its threads, and every loaded module with\n"
		"where its symbols and debug information were found.",
	.options = info_opts,
	.flags = CMD_NEEDS_TARGET,
	.exec = info_exec,
};
