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
	em_fmt(s->em, ", layout {layout:%s}\n", mi->layout_desc);
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
