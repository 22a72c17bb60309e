/*
 * cmd-info.c - `info`: what heapdbg is looking at: the target (live
 * process, core file), its threads, its modules and how their symbols were
 * found.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
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
	if (live_gone(t))
		return "gone";
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

/* The allocator: which one, and how heapdbg found glibc malloc's state. */
static void
emit_allocator(struct session *s)
{
	const struct malloc_info *mi = session_malloc_info(s);
	size_t narenas;
	bool initialised;

	if (!mi) {
		em_fmt(s->em, "Allocator: {allocator:%s} ", "unknown");
		em_fmt(s->em, "({allocator_error:%s})\n", hd_errmsg());
		return;
	}
	/* no walk for info: the arena ring is enough (the walk's, if done) */
	narenas = s->heap ? s->heap->arenas.n : mi->initialised ? malloc_count_arenas(s->t, mi) : 0;
	initialised = s->heap ? s->heap->initialised : mi->initialised;
	em_fmt(s->em, "Allocator: {allocator:%s}", allocator_name(mi->allocator));
	em_fmt(s->em, ", malloc from {malloc_provider:%s}", mi->provider);
	if (mi->allocator != ALLOC_GLIBC) {
		em_fmt(s->em, "\n           {allocator_detail:%s}\n", mi->detail);
		return;
	}
	if (mi->static_glibc)
		em_text(s->em, " (statically linked glibc)");
	em_bool(s->em, "static_glibc", mi->static_glibc);
	em_text(s->em, "\n");
	em_fmt(s->em, "glibc:     {glibc:%s}", mi->version);
	if (mi->version_how)
		em_fmt(s->em, " (from {glibc_how:%s})", mi->version_how);
	em_fmt(s->em, ", layout {layout:%s}", mi->layout_desc);
	em_str(s->em, "layout_source", mi->L.source == LAYOUT_FROM_DWARF ? "DWARF" : "table");
	em_fmt(s->em, ", table row {layout_table:%s}\n", mi->layout_table);
	em_bool(s->em, "layout_cached", mi->layout_cached);
	if (mi->layout_problem)
		em_fmt(s->em, "           the layout fails a consistency check: {layout_problem:%s}; no walk is "
		       "done with it\n", mi->layout_problem);
	em_fmt(s->em, "State in:  {malloc_state_in:%s}\n", mi->libc_path);
	em_fmt(s->em, "Arenas:    {arenas:%zu}", narenas);
	em_bool(s->em, "initialised", initialised);
	if (!initialised)
		em_text(s->em, " (malloc not initialised yet)");
	em_text(s->em, "\n");
	em_obj_open(s->em, "found");
	em_fmt(s->em, "  main_arena {main_arena:%A} by {main_arena_how:%s}\n", mi->main_arena, mi->main_arena_how);
	em_fmt(s->em, "  mp_        {mp:%A} by {mp_how:%s}\n", mi->mp, mi->mp_how);
	em_fmt(s->em, "  tcache     {tcache_how:%s}", mi->tcache_how ? mi->tcache_how : "n/a");
	if (mi->have_tcache_tpoff)
		em_fmt(s->em, " (fs_base{tcache_tpoff:%+" PRId64 "})", mi->tcache_tpoff);
	em_text(s->em, "\n");
	em_fmt(s->em, "  tcache_key {tcache_key_how:%s}\n", mi->have_tcache_key ? mi->tcache_key_how : "unknown");
	em_obj_close(s->em);
	em_fmt(s->em, "  heap size  {heap_max:%" PRIu64 "} (non-main heaps and their alignment)\n", mi->heap_max);
	if (mi->mp) {
		const struct malloc_layout *L = &mi->L;
		em_obj_open(s->em, "tunables");
		em_fmt(s->em, "  mp_        mmap_threshold {mmap_threshold:%" PRIu64 "}", mi_mp(mi, L->mp_mmap_threshold));
		em_fmt(s->em, ", tcache_count {tcache_count:%" PRIu64 "}", mi_mp(mi, L->mp_tcache_count));
		em_fmt(s->em, ", arena_max {arena_max:%" PRIu64 "}", mi_mp(mi, L->mp_arena_max));
		if (mi->have_global_max_fast)
			em_fmt(s->em, ", max_fast {max_fast:%" PRIu64 "}", mi->global_max_fast);
		em_text(s->em, "\n");
		em_obj_close(s->em);
	}
	em_list_open(s->em, "notes");
	for (size_t i = 0; i < mi->notes.n; i++) {
		em_str(s->em, NULL, mi->notes.v[i]);
		em_text(s->em, "  note: %s\n", mi->notes.v[i]);
	}
	em_list_close(s->em);
}

/* `info threads`: gdb's list, each thread with where it is. */
static int
info_threads(struct session *s)
{
	struct target *t = s->t;
	struct symbols *sym = session_symbols(s);

	em_fmt(s->em, "{threads:%zu} thread%s:\n", t->nthreads, t->nthreads == 1 ? "" : "s");
	em_list_open(s->em, "thread_list");
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		const hd_regs_t *r = target_regs(t, th);
		em_item_open(s->em);
		em_fmt(s->em, "%s %-3zu ", i ? " " : "*", i + 1);
		em_fmt(s->em, "Thread {tid:%d}", (int)th->tid);
		em_fmt(s->em, " %-18s", th->name[0] ? th->name : "");
		if (th->name[0])
			em_str(s->em, "name", th->name);
		if (r) {
			const struct frame_info *f;
			int nf = sym ? symbols_resolve(sym, REG_PC(r), false, &f) : 0;
			em_fmt(s->em, "{pc:%A}", REG_PC(r));
			if (nf > 0 && f[nf - 1].func)
				em_fmt(s->em, " in {func:%s} ()", f[nf - 1].func);
			if (nf > 0 && f[0].file && f[0].line)
				em_text(s->em, " at %s:%d", f[0].file_rel ? f[0].file_rel : f[0].file, f[0].line);
		} else {
			hd_clear_error();
		}
		if (th->signal)
			em_int(s->em, "signal", th->signal);
		em_text(s->em, "\n");
		em_item_close(s->em);
	}
	em_list_close(s->em);
	hd_clear_error();
	return 0;
}

/* `info sharedlibrary`: every module with its range and its symbols. */
static int
info_shared(struct session *s)
{
	struct symbols *sym = session_symbols(s);
	struct module_info mi;

	if (!sym)
		return -1;
	em_text(s->em, "%-18s %-18s %-10s %s\n", "From", "To", "Syms Read", "Shared Object Library");
	em_list_open(s->em, "libraries");
	for (size_t i = 0; symbols_module(sym, i, &mi); i++) {
		const char *how = mi.debug_file || mi.has_dwarf ? "Yes" : mi.has_symtab ? "Yes (*)" : "No (*)";
		em_item_open(s->em);
		em_fmt(s->em, "{from:%-18A} ", mi.start);
		em_fmt(s->em, "{to:%-18A} ", mi.end);
		em_text(s->em, "%-10s ", how);
		em_fmt(s->em, "{name:%s}\n", mi.name ? mi.name : "?");
		em_bool(s->em, "debug_info", mi.debug_file || mi.has_dwarf);
		em_str(s->em, "debug_file", mi.debug_file);
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_text(s->em, "(*): no debugging information (function names from the symbol table only).\n");
	return 0;
}

static void
perms(unsigned p, char out[5])
{
	out[0] = p & MAP_PERM_R ? 'r' : '-';
	out[1] = p & MAP_PERM_W ? 'w' : '-';
	out[2] = p & MAP_PERM_X ? 'x' : '-';
	out[3] = p & MAP_PERM_P ? 'p' : 's';
	out[4] = 0;
}

/* `info proc mappings`: the address space, from /proc/PID/maps live and
 * from the core's segments and NT_FILE note post mortem. */
static int
info_mappings(struct session *s)
{
	struct target *t = s->t;

	em_fmt(s->em, "process {pid:%d}", (int)t->pid);
	em_text(s->em, "\nMapped address spaces%s:\n\n", t->kind == TARGET_CORE ? " (from the core file)" : "");
	em_text(s->em, "%18s %18s %10s %10s %-5s %s\n", "Start Addr", "End Addr", "Size", "Offset", "Perms",
		"objfile");
	em_list_open(s->em, "mappings");
	for (size_t i = 0; i < t->nmaps; i++) {
		const struct mapping *m = &t->maps[i];
		char p[5];
		perms(m->perms, p);
		em_item_open(s->em);
		em_fmt(s->em, "{start:%18A} ", m->start);
		em_fmt(s->em, "{end:%18A} ", m->end);
		em_fmt(s->em, "{size:%#10" PRIx64 "} ", m->end - m->start);
		em_fmt(s->em, "{offset:%#10" PRIx64 "} ", m->offset);
		em_fmt(s->em, "{perms:%-5s}", p);
		if (m->path)
			em_fmt(s->em, " {path:%s}", m->path);
		if (t->kind == TARGET_CORE) {
			em_uint(s->em, "dumped", m->dumped);
			if (m->dumped < m->end - m->start)
				em_text(s->em, m->dumped ? " (partly in the core)" : " (not in the core)");
		}
		em_text(s->em, "\n");
		em_item_close(s->em);
	}
	em_list_close(s->em);
	return 0;
}

static int
info_exec(struct session *s, int argc, char **argv)
{
	struct target *t = s->t;
	int status;

	if (argc > 1) {
		static const char *const subs[] = { "threads", "sharedlibrary", "proc", "mappings", NULL };
		const char *sub = argv[1];
		size_t n = strlen(sub);
		if (!t)
			return session_need_target(s, false);
		em_str(s->em, "what", sub);
		if (argc == 2 && !strncmp(sub, "threads", MAX(n, 2))) {
			if (session_need_target(s, false) < 0)
				return -1;
			return info_threads(s);
		}
		if (argc == 2 && (!strncmp(sub, "sharedlibrary", MAX(n, 2)) || !strcmp(sub, "dll"))) {
			if (session_need_target(s, false) < 0)
				return -1;
			return info_shared(s);
		}
		if ((argc == 3 && !strcmp(sub, "proc") && !strncmp(argv[2], "mappings", MAX(strlen(argv[2]), 1))) ||
		    (argc == 2 && !strncmp(sub, "mappings", MAX(n, 1)))) {
			if (session_need_target(s, false) < 0)
				return -1;
			return info_mappings(s);
		}
		{
			const char *near = cmd_suggest(sub, subs, ARRAY_SIZE(subs) - 1);
			if (near)
				return hd_fail(HD_EUSAGE, "info: no '%s'; did you mean 'info %s'? (%s)", sub, near,
					       cmd_info_entry.usage);
		}
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_info_entry.usage);
	}
	if (!t)
		return session_need_target(s, false);
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
	if (t->kind == TARGET_LIVE && live_gone(t)) {
		/* nothing left to read: what it was, and what can be done */
		em_text(s->em, "The process no longer exists: `attach PID` or `core FILE [EXE]` for another\n"
			"target; snapshots (`snapshots`) stay, to diff or export.\n");
		return 0;
	}
	if (t->kind == TARGET_CORE) {
		const char *rec = target_core_exe_recorded(t);
		if (rec && (!t->exe || strcmp(rec, t->exe)))
			em_fmt(s->em, "Core's:   {exe_recorded:%s}\n", rec);
		em_list_open(s->em, "warnings");
		for (size_t i = 0; target_core_warning(t, i); i++) {
			em_str(s->em, NULL, target_core_warning(t, i));
			em_text(s->em, "Warning:  %s\n", target_core_warning(t, i));
		}
		em_list_close(s->em);
	}
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
	emit_allocator(s);
	emit_modules(s);
	return 0;
}

static const char *const info_opts[] = { NULL };
static const char *const info_words[] = { "threads", "sharedlibrary", "proc", "mappings", NULL };

const struct cmd_entry cmd_info_entry = {
	.name = "info",
	.alias = "i",
	.usage = "info [threads | sharedlibrary | proc mappings]",
	.summary = "what heapdbg is looking at: target, threads, modules, allocator",
	.help = "Shows the target (a live process or a core file), its program and\n"
		"command line, its state, its threads, and every loaded module with\n"
		"where its symbols and debug information were found; for a process\n"
		"that is gone, what it was and how it ended.\n"
		"info threads: each thread with its pc and function (* the first).\n"
		"info sharedlibrary: each module's range and whether it has debug info.\n"
		"info proc mappings: the address space (a core's from its segments\n"
		"and NT_FILE note: which parts the core holds).\n"
		"JSON: what (the subcommand), thread_list, libraries, mappings.",
	.options = info_opts,
	.words = info_words,
	.exec = info_exec,
};
