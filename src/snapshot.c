/*
 * snapshot.c - heap snapshots (see snapshot.h): taking one from a walk
 * and the tracer's records, resolving its stacks symbolically once, the
 * symbolic keys that let snapshots of different processes be compared,
 * size classes, and the named set a session keeps.
 */
#include "config.h"
#include "snapshot.h"
#include "stacks.h"
#include "session.h"
#include "tracer.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct snapshot *
snapshot_new(void)
{
	struct snapshot *sn = xcalloc(1, sizeof(*sn));

	u64map_init(&sn->string_index);
	vec_push(&sn->strings, xstrdup(""));
	return sn;
}

void
snapshot_free(struct snapshot *sn)
{
	if (!sn)
		return;
	free(sn->name);
	free(sn->file);
	free(sn->target);
	free(sn->exe);
	free(sn->cmdline);
	free(sn->glibc);
	free(sn->version);
	free(sn->chunks);
	free(sn->trace_of);
	vec_free(&sn->traces);
	vec_free(&sn->frames);
	vec_free(&sn->stacks);
	vec_free(&sn->modules);
	for (size_t i = 0; i < sn->strings.n; i++)
		free(sn->strings.v[i]);
	vec_free(&sn->strings);
	u64map_free(&sn->string_index);
	free(sn);
}

uint32_t
snapshot_intern(struct snapshot *sn, const char *s)
{
	size_t len;
	uint64_t h, id;

	if (!s || !*s)
		return 0;
	len = strlen(s);
	h = hash_bytes(s, len, 0x5e);
	for (;; h++) {
		if (h == UINT64_MAX)
			h = 0;
		if (!u64map_get(&sn->string_index, h, &id))
			break;
		if (!strcmp(sn->strings.v[id], s))
			return (uint32_t)id;
	}
	vec_push(&sn->strings, xstrndup(s, len));
	u64map_put(&sn->string_index, h, sn->strings.n - 1);
	return (uint32_t)(sn->strings.n - 1);
}

const char *
snapshot_module_name(const struct snapshot *sn, uint32_t module)
{
	const char *path, *slash;

	if (module == 0 || module > sn->modules.n)
		return NULL;
	path = snapshot_str(sn, sn->modules.v[module - 1].name);
	slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

const char *
snapshot_describe(const struct snapshot *sn, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%s", sn->target ? sn->target : "unknown target");
	if (n >= 0 && (size_t)n < size && sn->pid)
		n += snprintf(buf + n, size - (size_t)n, " process %" PRId64, sn->pid);
	if (n >= 0 && (size_t)n < size && sn->exe)
		snprintf(buf + n, size - (size_t)n, " (%s)", sn->exe);
	return buf;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	return hash_u64(h ^ hash_u64(v + 0x632be59bd9b4e019ULL));
}

static uint64_t
mix_str(uint64_t h, const char *s)
{
	return mix(h, hash_bytes(s ? s : "", s ? strlen(s) : 0, 0x17));
}

uint32_t
snapshot_alloc_frames(const struct snapshot *sn, uint32_t stack)
{
	const struct snap_stack *st;
	uint32_t n = 0;

	if (!stack || stack > sn->stacks.n)
		return 0;
	st = &sn->stacks.v[stack - 1];
	while (n < st->n && frame_is_allocator(snapshot_str(sn, sn->frames.v[st->first + n].func)))
		n++;
	return n < st->n ? n : 0;
}

const char *
snapshot_file_rel(const struct snapshot *sn, const struct snap_frame *f)
{
	const char *file = snapshot_str(sn, f->file), *rel;

	if (!f->file || f->module == 0 || f->module > sn->modules.n || !sn->modules.v[f->module - 1].source_root)
		return file;
	rel = path_under(file, snapshot_str(sn, sn->modules.v[f->module - 1].source_root));
	return rel && *rel ? rel : file;
}

uint64_t
snapshot_frame_key(const struct snapshot *sn, const struct snap_frame *f)
{
	const char *mod = snapshot_module_name(sn, f->module);
	uint64_t h;

	if (f->func) {
		/* the file relative to the source root: the same call site
		 * of a build in another directory groups with this one */
		h = mix_str(mix_str(1, mod), snapshot_str(sn, f->func));
		h = mix_str(h, snapshot_file_rel(sn, f));
		h = mix(h, f->line ? (uint64_t)(uint32_t)f->line : f->func_off | (1ULL << 63));
		return mix(h, f->inlined);
	}
	if (mod)
		return mix(mix_str(2, mod), f->module_off);
	return mix(3, f->pc);
}

static uint64_t
stack_key(const struct snapshot *sn, const struct snap_stack *st)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (uint32_t i = 0; i < st->n; i++)
		h = mix(h, snapshot_frame_key(sn, &sn->frames.v[st->first + i]));
	return h;
}

void
snapshot_rekey(struct snapshot *sn)
{
	for (size_t i = 0; i < sn->stacks.n; i++)
		sn->stacks.v[i].key = stack_key(sn, &sn->stacks.v[i]);
}

void
snapshot_size_class(uint64_t size, uint64_t *lo, uint64_t *hi)
{
	int b;
	uint64_t step;

	if (size <= 1024) {
		*lo = *hi = size;
		return;
	}
	b = 63 - __builtin_clzll(size);
	step = 1ULL << (b - 2);
	*lo = size & ~(step - 1);
	*hi = *lo + (step - 1);
}

const char *
snapshot_size_class_name(uint64_t lo, uint64_t hi, char buf[64])
{
	if (lo == hi)
		snprintf(buf, 64, "%" PRIu64 " B", lo);
	else
		snprintf(buf, 64, "%" PRIu64 "..%" PRIu64 " B", lo, hi);
	return buf;
}

double
snapshot_weight(const struct snapshot *sn, const struct snap_trace *t)
{
	return sample_weight(t->req, sn->sample_rate);
}

/* ---- capture ---- */

struct capture {
	struct snapshot *sn;
	struct symbols *sym;
	struct u64map stacks;	/* tracer stack id -> 1 + our index */
	struct u64map modules;	/* module start -> 1 + our index */
};

static uint32_t
module_of(struct capture *c, uint64_t pc)
{
	struct module_info mi;
	struct snap_module m;
	uint64_t idx;
	char hex[2 * 64 + 1];

	if (!c->sym || !symbols_module_at(c->sym, pc, &mi))
		return 0;
	if (u64map_get(&c->modules, mi.start, &idx))
		return (uint32_t)idx;
	hex[0] = 0;
	for (int i = 0; i < mi.build_id_len && i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", mi.build_id[i]);
	m.name = snapshot_intern(c->sn, mi.name);
	m.build_id = snapshot_intern(c->sn, hex);
	m.source_root = snapshot_intern(c->sn, symbols_source_root(c->sym, mi.start));
	m.start = mi.start;
	m.end = mi.end;
	vec_push(&c->sn->modules, m);
	u64map_put(&c->modules, mi.start, c->sn->modules.n);
	return (uint32_t)c->sn->modules.n;
}

static void
add_pc(struct capture *c, uint64_t pc, bool caller)
{
	struct snapshot *sn = c->sn;
	uint32_t mod = module_of(c, pc);
	uint64_t mstart = mod ? sn->modules.v[mod - 1].start : 0;
	const struct frame_info *f;
	int nf;

	if (!c->sym) {
		struct snap_frame fr = { .pc = pc };
		vec_push(&sn->frames, fr);
		return;
	}
	nf = symbols_resolve(c->sym, pc, caller, &f);
	for (int k = 0; k < nf; k++) {
		struct snap_frame fr = {
			.pc = pc,
			.module_off = mod ? pc - mstart : 0,
			.func_off = f[k].func && !f[k].inlined ? f[k].off : 0,
			.module = mod,
			.func = snapshot_intern(sn, f[k].func),
			.file = snapshot_intern(sn, f[k].file),
			.line = f[k].line > 0 ? f[k].line : 0,
			.inlined = f[k].inlined,
		};
		vec_push(&sn->frames, fr);
	}
	if (nf <= 0) {
		struct snap_frame fr = { .pc = pc, .module_off = mod ? pc - mstart : 0, .module = mod };
		vec_push(&sn->frames, fr);
	}
}

static uint32_t
stack_of(struct capture *c, const struct stack_table *st, uint32_t id)
{
	struct snap_stack s;
	const uint64_t *pcs;
	uint64_t idx;
	int n;

	if (!id)
		return 0;
	if (u64map_get(&c->stacks, id, &idx))
		return (uint32_t)idx;
	pcs = stack_pcs(st, id, &n);
	if (!pcs || n <= 0) {
		u64map_put(&c->stacks, id, 0);
		return 0;
	}
	s.first = (uint32_t)c->sn->frames.n;
	for (int i = 0; i < n; i++)
		add_pc(c, pcs[i], i > 0);
	s.n = (uint32_t)(c->sn->frames.n - s.first);
	s.key = stack_key(c->sn, &s);
	vec_push(&c->sn->stacks, s);
	u64map_put(&c->stacks, id, c->sn->stacks.n);
	return (uint32_t)c->sn->stacks.n;
}

void
snap_set_trace(struct snapshot *sn, size_t i, uint32_t trace)
{
	if (i >= sn->trace_cap) {
		size_t nc = MAX(MAX(sn->nchunks, i + 1), sn->trace_cap * 2);
		sn->trace_of = xreallocarray(sn->trace_of, nc, sizeof(*sn->trace_of));
		memset(sn->trace_of + sn->trace_cap, 0, (nc - sn->trace_cap) * sizeof(*sn->trace_of));
		sn->trace_cap = nc;
	}
	sn->trace_of[i] = trace;
}

/* snapshot_capture(), into a new array (take false) or into h's own chunk
 * array, which becomes the snapshot's (take: a snapshot chunk is no
 * larger than a walk's, and the k-th chunk kept is never after the i-th
 * read, so the array is rewritten from the front as it is read). */
static struct snapshot *
capture_chunks(struct heap *h, bool take, const struct alloc_source *src, struct symbols *sym)
{
	struct capture c = { snapshot_new(), sym, { 0 }, { 0 } };
	struct snapshot *sn = c.sn;
	size_t n = 0, nh = h->nchunks;
	uint64_t last = 0;

	_Static_assert(sizeof(struct snap_chunk) <= sizeof(struct hchunk), "snapshot chunks fit in place");
	u64map_init(&c.stacks);
	u64map_init(&c.modules);
	if (take) {
		sn->chunks = (struct snap_chunk *)(void *)h->chunks;
		h->chunks = NULL;
		h->nchunks = 0;
	} else {
		for (size_t i = 0; i < nh; i++)
			if (h->chunks[i].state == CS_USED || h->chunks[i].state == CS_MMAPPED)
				n++;
		sn->chunks = xcalloc(n ? n : 1, sizeof(*sn->chunks));
		mem_huge_pages(sn->chunks, n * sizeof(*sn->chunks));	/* (written end to end now) */
	}
	for (size_t i = 0; i < nh; i++) {
		struct hchunk hc;
		struct snap_chunk sc = { 0 };
		struct alloc_record ar;

		memcpy(&hc, take ? (const void *)((const struct hchunk *)(const void *)sn->chunks + i) :
				   (const void *)&h->chunks[i], sizeof(hc));
		if (hc.state != CS_USED && hc.state != CS_MMAPPED)
			continue;
		if (sn->nchunks && hchunk_mem(&hc) <= last)
			continue;	/* never two chunks at one address */
		last = hchunk_mem(&hc);
		sc.addr = hchunk_mem(&hc);
		sc.size = hc.size;
		sc.arena = hc.state == CS_MMAPPED ? HEAP_NO_ARENA : hc.arena;
		sc.state = hc.state;
		sn->bytes += hc.size;
		if (alloc_lookup(src, sc.addr, &ar)) {
			struct snap_trace t = { ar.req, ar.seq, ar.time, 0 };
			t.stack = stack_of(&c, src->stacks, ar.stack);
			vec_push(&sn->traces, t);
			snap_set_trace(sn, sn->nchunks, (uint32_t)sn->traces.n);
		}
		memcpy(&sn->chunks[sn->nchunks++], &sc, sizeof(sc));
	}
	if (take)	/* (the room past the chunks kept back to the system) */
		sn->chunks = xreallocarray(sn->chunks, sn->nchunks ? sn->nchunks : 1, sizeof(*sn->chunks));
	sn->narenas = (uint32_t)h->arenas.n;
	u64map_free(&c.stacks);
	u64map_free(&c.modules);
	return sn;
}

struct snapshot *
snapshot_capture(const struct heap *h, const struct alloc_source *src, struct symbols *sym)
{
	return capture_chunks((struct heap *)h, false, src, sym);
}

struct snapshot *
snapshot_capture_take(struct heap *h, const struct alloc_source *src, struct symbols *sym)
{
	return capture_chunks(h, true, src, sym);
}

struct snapshot *
snapshot_take(struct session *s, const char *name)
{
	const struct alloc_source *src;
	struct heap *h, *own = NULL;
	struct snapshot *sn;
	bool fresh = !s->heap;

	h = session_glibc_heap_nocopy(s);
	if (!h)
		return NULL;
	src = session_alloc_source(s);
	/* a walk made for this snapshot gives it its chunk array (the
	 * session walks again if a later command needs the chunks): the
	 * snapshot then costs no memory beyond the walk's */
	if (fresh)
		own = session_take_heap(s);
	if (own)
		sn = snapshot_capture_take(own, src, src ? session_symbols(s) : NULL);
	else
		sn = snapshot_capture(h, src, src ? session_symbols(s) : NULL);
	sn->name = name ? xstrdup(name) : NULL;
	sn->time = hd_wall_time();
	sn->target = xstrdup(target_kind_name(s->t->kind));
	sn->pid = s->t->pid;
	sn->exe = s->t->exe ? xstrdup(s->t->exe) : NULL;
	sn->cmdline = s->t->cmdline ? xstrdup(s->t->cmdline) : NULL;
	sn->glibc = h->mi->version[0] ? xstrdup(h->mi->version) : NULL;
	sn->version = xstrdup(HEAPDBG_VERSION);
	sn->sample_rate = src ? tracer_sample_rate(s->tracer) : 0;
	heap_free(own);
	return sn;
}

/* ---- the named set ---- */

struct snapset *
snapset_new(void)
{
	return xcalloc(1, sizeof(struct snapset));
}

void
snapset_free(struct snapset *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->v.n; i++)
		snapshot_free(ss->v.v[i]);
	vec_free(&ss->v);
	free(ss);
}

struct snapshot *
snapset_find(const struct snapset *ss, const char *name)
{
	for (size_t i = 0; ss && i < ss->v.n; i++)
		if (!strcmp(ss->v.v[i]->name, name))
			return ss->v.v[i];
	return NULL;
}

bool
snapset_put(struct snapset *ss, struct snapshot *sn)
{
	for (size_t i = 0; i < ss->v.n; i++)
		if (!strcmp(ss->v.v[i]->name, sn->name)) {
			snapshot_free(ss->v.v[i]);
			memmove(ss->v.v + i, ss->v.v + i + 1, (ss->v.n - i - 1) * sizeof(*ss->v.v));
			ss->v.n--;
			vec_push(&ss->v, sn);
			return true;
		}
	vec_push(&ss->v, sn);
	return false;
}

char *
snapset_auto_name(struct snapset *ss)
{
	for (;;) {
		char *name = xasprintf("s%u", ++ss->next);
		if (!snapset_find(ss, name))
			return name;
		free(name);
	}
}

int
snapshot_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128)
		return hd_fail(HD_EUSAGE, "a snapshot name must have 1 to 128 characters");
	if (!strcmp(name, "now"))
		return hd_fail(HD_EUSAGE, "'now' names the heap as it is now, not a snapshot");
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)name[i]))
			return hd_fail(HD_EUSAGE, "a snapshot name must be printable, without spaces");
	return 0;
}
