/*
 * session.c - the state of one heapdbg run between commands.
 */
#include "config.h"
#include "session.h"
#include "heap.h"
#include "reach.h"
#include "tracer.h"
#include "live.h"
#include "snapshot.h"
#include "locate.h"
#include "suppress.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct session *
session_new(void)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->started = hd_wall_time();
	s->name_width = 100;
	/* valgrind's --show-leak-kinds default; --errors-for-leak-kinds
	 * is the contract's (definite and indirect; valgrind's is definite
	 * and possible) */
	s->show_kinds = (1u << LEAK_DEFINITE) | (1u << LEAK_POSSIBLE);
	s->error_kinds = (1u << LEAK_DEFINITE) | (1u << LEAK_INDIRECT);
	return s;
}

void
session_set_target(struct session *s, struct target *t)
{
	session_drop_target(s);
	s->t = t;
	s->end_seen = s->end_noted = false;
}

static void
drop_analyses(struct session *s)
{
	reach_free(s->reach);
	s->reach = NULL;
	heap_free(s->heap);
	s->heap = NULL;
	malloc_info_free(s->mi);
	s->mi = NULL;
}

const struct alloc_source *
session_alloc_source(struct session *s)
{
	return s->tracer ? tracer_source(s->tracer) : NULL;
}

const struct live_hooks *
session_hooks(struct session *s)
{
	return s->tracer ? tracer_hooks(s->tracer) : NULL;
}

struct snapset *
session_snapshots(struct session *s)
{
	if (!s->snaps)
		s->snaps = snapset_new();
	return s->snaps;
}

/* The C library's exit path: exit(), its handlers' loop, _exit(). */
static bool
exit_path_function(const char *name)
{
	static const char *const names[] = {
		"exit", "_exit", "_Exit", "__GI_exit", "__GI__exit", "__run_exit_handlers", "__libc_freeres",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/*
 * At a program's exit, the frames of the C library's exit path (exit,
 * __run_exit_handlers, _exit) were pushed after main returned, over
 * main's dead frame: what they did not write is main's stale locals.
 * memcheck sees those words as undefined (a new frame is undefined until
 * written) and never scans them; heapdbg cannot tell written from stale,
 * so it starts the exiting thread's stack roots above the exit path, at
 * the frame that called exit (main's, when main called it; live frames
 * of the program are all above).  0 when the thread is not in the exit
 * path.
 */
static uint64_t
exit_floor(struct session *s, struct target_thread *th)
{
	struct unwinder *u = session_unwinder(s);
	struct symbols *sym = session_symbols(s);
	const hd_regs_t *regs = target_regs(s->t, th);
	uint64_t pcs[16], words[512], ret;
	int n, k = 0;

	if (!u || !sym || !regs || (n = unwind_thread(u, th, pcs, 16)) < 2)
		return 0;
	for (; k < n; k++) {
		const char *name;
		uint64_t off;
		if (!symbols_addr_sym(sym, k ? pcs[k] - 1 : pcs[k], &name, &off, NULL) || !exit_path_function(name))
			break;
	}
	if (k == 0 || k >= n)
		return 0;
	/* the return address into the caller of the outermost exit-path
	 * frame: the caller's frame starts right above where it is stored */
	ret = pcs[k];
	for (uint64_t a = REG_SP(regs) & ~7ULL; a < REG_SP(regs) + (64 << 10); a += sizeof(words)) {
		size_t got = target_read_partial(s->t, a, words, sizeof(words)) / 8;
		for (size_t i = 0; i < got; i++)
			if (words[i] == ret)
				return a + 8 * i + 8;
		if (got < ARRAY_SIZE(words))
			break;
	}
	return 0;
}

struct reach *
session_reach(struct session *s)
{
	struct heap *h;
	struct reach_opts o = { session_alloc_source(s), true, NULL, 0 };
	VEC(struct stack_floor) floors = { 0 };
	int rc;

	if (s->reach)
		return s->reach;
	/* the leak check reads the blocks itself, once, keeping no copy */
	h = session_glibc_heap_nocopy(s);
	if (!h)
		return NULL;
	if (s->t->kind == TARGET_LIVE && live_at_exit(s->t)) {
		for (size_t i = 0; i < s->t->nthreads; i++) {
			struct stack_floor f = { s->t->threads[i]->tid, exit_floor(s, s->t->threads[i]) };
			if (f.lo)
				vec_push(&floors, f);
		}
		o.floors = floors.v;
		o.nfloors = floors.n;
	}
	rc = reach_run(s->t, h, &o, &s->reach);
	vec_free(&floors);
	return rc < 0 ? NULL : s->reach;
}

static struct heap *
walk_heap(struct session *s, bool copies)
{
	struct symbols *sym;
	struct walk_opts o = { .keep_copies = copies };

	if (s->heap && copies && !s->heap->copies) {
		/* walked without copies: walk again, keeping them */
		reach_free(s->reach);
		s->reach = NULL;
		heap_free(s->heap);
		s->heap = NULL;
	}
	if (s->heap)
		return s->heap;
	sym = session_symbols(s);
	if (!sym)
		return NULL;
	if (heap_walk(s->t, sym, &o, &s->heap) < 0)
		return NULL;
	return s->heap;
}

struct heap *
session_take_heap(struct session *s)
{
	struct heap *h = s->heap;

	if (!h || s->reach)
		return NULL;
	s->heap = NULL;
	return h;
}

struct heap *
session_heap(struct session *s)
{
	return walk_heap(s, true);
}

struct heap *
session_heap_nocopy(struct session *s)
{
	return walk_heap(s, false);
}

const struct malloc_info *
session_malloc_info(struct session *s)
{
	struct symbols *sym;
	if (s->heap)
		return s->heap->mi;
	if (s->mi)
		return s->mi;
	sym = session_symbols(s);
	/* with the layout's DWARF check done: what info says of the layout
	 * is what a walk would use */
	if (!sym || malloc_locate_confirmed(s->t, sym, &s->mi) < 0)
		return NULL;
	return s->mi;
}

static struct heap *
glibc_only(struct heap *h)
{
	if (!h)
		return NULL;
	if (h->mi->allocator != ALLOC_GLIBC) {
		hd_fail(HD_ENOTSUP, "%s", h->mi->detail);
		return NULL;
	}
	return h;
}

struct heap *
session_glibc_heap(struct session *s)
{
	return glibc_only(session_heap(s));
}

struct heap *
session_glibc_heap_nocopy(struct session *s)
{
	return glibc_only(session_heap_nocopy(s));
}

/* Stop the tracer: every thread must be stopped first (it is between
 * commands; after a signal, stop them). */
static void
stop_tracer(struct session *s)
{
	if (!s->tracer || !tracer_active(s->tracer))
		return;
	if (s->t && s->t->kind == TARGET_LIVE && !live_gone(s->t))
		live_stop_all(s->t);
	if (tracer_stop(s->tracer) < 0)
		error_msg("%s", hd_errmsg());
}

void
session_drop_target(struct session *s)
{
	stop_tracer(s);
	tracer_free(s->tracer);
	s->tracer = NULL;
	drop_analyses(s);
	if (s->unw) {
		unwinder_free(s->unw);
		s->unw = NULL;
	}
	if (s->sym) {
		symbols_close(s->sym);
		s->sym = NULL;
	}
	if (s->t) {
		target_close(s->t);	/* a live target is detached first */
		s->t = NULL;
	}
}

void
session_free(struct session *s)
{
	if (!s)
		return;
	session_drop_target(s);
	snapset_free(s->snaps);
	em_free(s->em);
	free(s->debug_dir);
	if (s->supp) {
		supp_set_free(s->supp);
		free(s->supp);
	}
	free(s);
}

bool
session_confirm(struct session *s, const char *question, bool on_eof)
{
	return s->query && !s->no_confirm ? s->query(s, question, on_eof) : true;
}

int
session_need_target(struct session *s, bool live)
{
	if (!s->t)
		return hd_fail(HD_EUSAGE, "no target (attach PID or core FILE, or start heapdbg with -p PID, -c CORE "
			       "or --args PROG)");
	if (s->t->kind == TARGET_LIVE && live_gone(s->t)) {
		int status;
		char b[64];
		if (live_exit_status(s->t, &status))
			return hd_fail(HD_EGONE, "process %d is gone (%s)", (int)s->t->pid, wait_status_str(status, b));
		return hd_fail(HD_EGONE, "process %d is gone", (int)s->t->pid);
	}
	if (live && s->t->kind != TARGET_LIVE)
		return hd_fail(HD_ENOTSUP, "this command needs a live process (the target is a %s)",
			       target_kind_name(s->t->kind));
	return 0;
}

struct symbols *
session_symbols(struct session *s)
{
	if (!s->t) {
		hd_fail(HD_EUSAGE, "no target");
		return NULL;
	}
	if (!s->sym)
		s->sym = symbols_open(s->t, s->debug_dir);
	return s->sym;
}

/* A digest of the file mappings (what symbols reported). */
static uint64_t
file_maps_digest(const struct target *t)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < t->nmaps; i++) {
		const struct mapping *m = &t->maps[i];
		if (!m->path || m->path[0] == '[')
			continue;
		h = (h ^ m->start) * 1099511628211ULL;
		h = (h ^ m->end) * 1099511628211ULL;
		h = (h ^ m->inode) * 1099511628211ULL;
	}
	return h;
}

int
session_attach_prepared(struct session *s, pid_t pid)
{
	struct target *t = live_attach_running(pid);
	struct malloc_info *mi = NULL;
	struct symbols *sym;
	uint64_t digest;

	if (!t)
		return -1;
	session_set_target(s, t);
	/* with the process running: the modules' files and symbol tables,
	 * malloc's module and libc's debug info (the layout's DWARF check,
	 * then cached); locate's answer is dropped, memory read while the
	 * process ran is not trusted */
	sym = session_symbols(s);
	if (sym) {
		struct module_info info;
		/* every module's ELF file and symbol table (info, bt and
		 * the leak check's roots read them) */
		for (size_t i = 0; symbols_module(sym, i, &info); i++)
			;
	}
	if (sym && malloc_locate_confirmed(t, sym, &mi) == 0)
		malloc_info_free(mi);
	hd_clear_error();
	digest = file_maps_digest(t);
	if (live_stop_all(t) < 0) {
		char *msg = xstrdup(hd_errmsg());
		session_drop_target(s);
		hd_fail(HD_EGENERIC, "attaching to process %d: %s", (int)pid, msg);
		free(msg);
		return -1;
	}
	/* a library loaded or unloaded meanwhile: report the maps again */
	if (s->sym && !live_gone(t) && file_maps_digest(t) != digest)
		symbols_refresh(s->sym);
	return 0;
}

struct unwinder *
session_unwinder(struct session *s)
{
	struct symbols *sym = session_symbols(s);
	if (!sym)
		return NULL;
	if (!s->unw) {
		s->unw = unwinder_new(s->t, sym);
		if (!s->unw)
			hd_fail(HD_EGENERIC, "no unwinder available for this target");
	}
	return s->unw;
}

void
session_target_ran(struct session *s)
{
	drop_analyses(s);
	if (s->sym && s->t && s->t->kind == TARGET_LIVE && !live_gone(s->t)) {
		/* libraries may have been loaded or unloaded */
		symbols_refresh(s->sym);
		if (s->unw) {
			struct unwinder *old = s->unw;
			s->unw = NULL;
			/* the tracer took its stacks with the old one: it moves
			 * to a new one (keeping the old one's counts) before the
			 * old is freed */
			if (s->tracer)
				tracer_set_unwinder(s->tracer, session_unwinder(s));
			unwinder_free(old);
		}
	}
}

void
session_note_end(struct session *s, bool held)
{
	int status;
	char b[64];

	if (s->end_noted || !s->t || s->t->kind != TARGET_LIVE || !live_exit_status(s->t, &status))
		return;
	s->end_noted = true;
	error_msg("process %d %s%s", (int)s->t->pid, wait_status_str(status, b),
		  held ? "; it is held at its exit, its memory intact" : "");
}

void
session_poll_target(struct session *s)
{
	if (!s->t || s->t->kind != TARGET_LIVE || s->end_seen)
		return;
	if (!live_poll(s->t))
		return;
	s->end_seen = true;
	session_target_ran(s);
	session_note_end(s, live_at_exit(s->t));
}

bool
session_target_ended_now(struct session *s)
{
	return s->t && s->t->kind == TARGET_LIVE && live_poll(s->t);
}

/* At the exit break: the runtimes' freeres functions, C++ first, as
 * valgrind's preload runs them.  Modules are those known at the last
 * stop (a libstdc++ dlopen()ed since is not looked for). */
static void
exit_freeres(void *ctx, struct target *t, struct target_thread *th)
{
	struct session *s = ctx;
	struct symbols *sym = s->sym;
	static const struct { const char *module, *name; bool cxx; } fns[] = {
		{ "libstdc++", "_ZN9__gnu_cxx9__freeresEv", true },
		{ "libc.so", "__libc_freeres", false },
	};

	if (!sym)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++) {
		struct sym_info si;
		if (fns[i].cxx ? s->no_cxx_freeres : s->no_libc_freeres)
			continue;
		if (symbols_lookup(sym, fns[i].module, fns[i].name, &si) < 0 || si.type != STT_FUNC)
			continue;
		if (live_call(t, th, si.addr, 10.0, NULL) < 0) {
			error_msg("at the exit, %s: %s", fns[i].name, hd_errmsg());
			break;
		}
		s->freeres_ran++;
	}
}

void
session_arm_exit(struct session *s)
{
	struct symbols *sym;
	uint64_t addr = 0;

	if (!s->t || s->t->kind != TARGET_LIVE || !live_launched(s->t) || (s->no_libc_freeres && s->no_cxx_freeres))
		return;
	sym = session_symbols(s);
	if (!sym || locate_dynamic_symbol(s->t, sym, "_exit", &addr, NULL) < 0 || !addr)
		return;
	if (live_set_exit_break(s->t, addr, exit_freeres, s) < 0)
		debug_msg("no exit break: %s", hd_errmsg());
}

void
session_emergency_cleanup(struct session *s)
{
	if (!s)
		return;
	stop_tracer(s);
	if (s->t && s->t->kind == TARGET_LIVE && !live_gone(s->t))
		live_detach(s->t);
}

static int
parse_reg(struct session *s, const char *name, uint64_t *out)
{
	static const struct { const char *n; size_t off; } regs[] = {
#define R(x) { #x, offsetof(hd_regs_t, x) }
		R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rbp), R(rsp),
		R(r8), R(r9), R(r10), R(r11), R(r12), R(r13), R(r14), R(r15),
		R(rip), R(fs_base), R(gs_base), R(eflags),
#undef R
		{ "pc", offsetof(hd_regs_t, rip) }, { "sp", offsetof(hd_regs_t, rsp) },
		{ "fp", offsetof(hd_regs_t, rbp) },
	};
	const hd_regs_t *r;
	if (!s->t || s->t->nthreads == 0)
		return hd_fail(HD_EUSAGE, "no thread to read $%s from", name);
	r = target_regs(s->t, s->t->threads[0]);
	if (!r)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(regs); i++)
		if (!strcmp(regs[i].n, name)) {
			memcpy(out, (const char *)r + regs[i].off, sizeof(uint64_t));
			return 0;
		}
	return hd_fail(HD_EUSAGE, "unknown register $%s", name);
}

int
session_parse_addr(struct session *s, const char *expr, uint64_t *out)
{
	char *copy = xstrdup(expr), *plus, *base = copy;
	uint64_t off = 0, v;
	int sign = 1, rc = -1;

	while (*base == '*' || *base == '&')
		base++;	/* gdb habits: accept and ignore */
	plus = strpbrk(base + 1, "+-");
	if (plus && *base) {
		sign = *plus == '-' ? -1 : 1;
		*plus = 0;
		if (parse_u64(plus + 1, &off, false) < 0)
			goto out;
	}
	if (base[0] == '$') {
		if (parse_reg(s, base + 1, &v) < 0)
			goto out;
	} else if (isdigit((unsigned char)base[0])) {
		if (parse_u64(base, &v, false) < 0)
			goto out;
	} else {
		struct symbols *sym = session_symbols(s);
		struct sym_info si;
		if (!sym || symbols_lookup(sym, NULL, base, &si) < 0) {
			hd_fail(HD_EUSAGE, "'%s' is neither an address nor a known symbol", base);
			goto out;
		}
		v = si.addr;
	}
	*out = sign > 0 ? v + off : v - off;
	rc = 0;
out:
	free(copy);
	return rc;
}

bool
session_fast_tracer(const struct session *s)
{
	const char *e;
	if (s->tracer_set)
		return s->fast_tracer;
	/* fast tracepoints by default; HEAPDBG_TRACER=breakpoints (the test
	 * suite's second run) keeps the breakpoint tracer */
	e = getenv("HEAPDBG_TRACER");
	return !(e && !strcmp(e, "breakpoints"));
}
