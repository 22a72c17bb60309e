/*
 * Unit tests: snapshots without a process.  A heap walk and a tracer are
 * faked (a hand-made struct heap, an alloc_source over a table), so the
 * traced paths run here although the tracer lives elsewhere: capture,
 * grouping by stack (and by symbolic stack across processes with other
 * load addresses), an address reused by another allocation counting as a
 * free plus a new; the file format round trip, every truncation, every
 * single bit flip (a clear error, never a crash) and, with the checksum
 * patched so the parser proper sees them, every bit flip again; saving
 * with mode 0600; the pprof and folded exports read back.
 */
#include "config.h"
#include "tap.h"
#include "pb.h"
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a fake tracer ---- */

struct fake_src {
	struct u64map index;		/* user address -> 1 + record index */
	VEC(struct alloc_record) recs;
	struct stack_table *stacks;
};

static bool
fake_lookup(void *ctx, uint64_t addr, struct alloc_record *out)
{
	struct fake_src *f = ctx;
	uint64_t i;

	if (!u64map_get(&f->index, addr, &i))
		return false;
	*out = f->recs.v[i - 1];
	return true;
}

static void
fake_add(struct fake_src *f, uint64_t addr, uint64_t req, uint64_t seq, uint32_t stack)
{
	struct alloc_record r = { req, stack, seq, 1700000000.0 + (double)seq / 1000 };

	vec_push(&f->recs, r);
	u64map_put(&f->index, addr, f->recs.n);
}

static void
fake_free(struct fake_src *f)
{
	u64map_free(&f->index);
	vec_free(&f->recs);
	stack_table_free(f->stacks);
}

/* ---- a fake walk ---- */

struct fake_heap {
	struct heap h;
	VEC(struct hchunk) chunks;
};

static void
add_chunk(struct fake_heap *fh, uint64_t addr, uint64_t size, enum chunk_state st, uint16_t arena)
{
	struct hchunk c = { .addr = addr, .size = size, .arena = st == CS_MMAPPED ? HEAP_NO_ARENA : arena,
			    .state = st, .bits = 1, .list = 0 };

	vec_push(&fh->chunks, c);
	fh->h.chunks = fh->chunks.v;
	fh->h.nchunks = fh->chunks.n;
}

static void
fake_heap_init(struct fake_heap *fh, unsigned narenas)
{
	struct harena a;

	memset(fh, 0, sizeof(*fh));
	memset(&a, 0, sizeof(a));
	for (unsigned i = 0; i < narenas; i++)
		vec_push(&fh->h.arenas, a);
}

static void
fake_heap_free(struct fake_heap *fh)
{
	vec_free(&fh->chunks);
	vec_free(&fh->h.arenas);
}

/* ---- helpers ---- */

static void
fix_crc(uint8_t *p, size_t len)
{
	uint32_t c = snap_crc32(0, p, len - 4);

	for (int i = 0; i < 4; i++)
		p[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static bool
same_snapshot(const struct snapshot *a, const struct snapshot *b, char *why, size_t wl)
{
#define DIFF(...) do { snprintf(why, wl, __VA_ARGS__); return false; } while (0)
	if (strcmp(a->name ? a->name : "", b->name ? b->name : ""))
		DIFF("name");
	if (memcmp(&a->time, &b->time, sizeof(a->time)) || a->pid != b->pid || a->narenas != b->narenas)
		DIFF("time, pid or narenas");
	if (a->sample_rate != b->sample_rate)
		DIFF("sample rate %" PRIu64 " vs %" PRIu64, a->sample_rate, b->sample_rate);
	if (strcmp(a->exe ? a->exe : "", b->exe ? b->exe : "") || strcmp(a->glibc ? a->glibc : "", b->glibc ? b->glibc : ""))
		DIFF("exe or glibc");
	if (a->nchunks != b->nchunks || a->bytes != b->bytes)
		DIFF("chunk count %zu vs %zu", a->nchunks, b->nchunks);
	for (size_t i = 0; i < a->nchunks; i++) {
		const struct snap_chunk *x = &a->chunks[i], *y = &b->chunks[i];
		if (x->addr != y->addr || x->size != y->size || x->state != y->state || x->arena != y->arena ||
		    !snap_chunk_trace(a, x) != !snap_chunk_trace(b, y))
			DIFF("chunk %zu", i);
		if (snap_chunk_trace(a, x)) {
			const struct snap_trace *s = &a->traces.v[snap_chunk_trace(a, x) - 1],
					       *t = &b->traces.v[snap_chunk_trace(b, y) - 1];
			if (s->req != t->req || s->seq != t->seq || s->time != t->time || s->stack != t->stack)
				DIFF("trace of chunk %zu", i);
		}
	}
	if (a->stacks.n != b->stacks.n || a->frames.n != b->frames.n || a->modules.n != b->modules.n)
		DIFF("stacks, frames or modules");
	for (size_t i = 0; i < a->stacks.n; i++)
		if (a->stacks.v[i].key != b->stacks.v[i].key || a->stacks.v[i].n != b->stacks.v[i].n)
			DIFF("stack %zu", i);
	for (size_t i = 0; i < a->frames.n; i++) {
		const struct snap_frame *x = &a->frames.v[i], *y = &b->frames.v[i];
		if (x->pc != y->pc || x->module_off != y->module_off || x->func_off != y->func_off ||
		    x->line != y->line || x->inlined != y->inlined || x->module != y->module ||
		    strcmp(snapshot_str(a, x->func), snapshot_str(b, y->func)) ||
		    strcmp(snapshot_str(a, x->file), snapshot_str(b, y->file)))
			DIFF("frame %zu", i);
	}
	return true;
#undef DIFF
}

/* A traced heap: 2 arenas; 10 chunks of 48 traced under stack 1, 5 of
 * 208 under stack 2, 3 untraced of 1008, 2 free chunks, 1 mmapped. */
static struct snapshot *
build_as(struct fake_src *src, uint64_t base, bool take)
{
	struct fake_heap fh;
	struct snapshot *sn;
	uint64_t a = base, pcs1[3] = { 0x401000, 0x401234, 0x401500 }, pcs2[2] = { 0x401000, 0x401300 };
	uint32_t s1, s2;
	uint64_t seq = 1;

	memset(src, 0, sizeof(*src));
	u64map_init(&src->index);
	src->stacks = stack_table_new();
	s1 = stack_intern(src->stacks, pcs1, 3);
	s2 = stack_intern(src->stacks, pcs2, 2);
	fake_heap_init(&fh, 2);
	for (int i = 0; i < 10; i++, a += 48) {
		add_chunk(&fh, a, 48, CS_USED, 0);
		fake_add(src, a + 16, 40, seq++, s1);
	}
	add_chunk(&fh, a, 48, CS_TCACHE, 0);
	a += 48;
	for (int i = 0; i < 5; i++, a += 208) {
		add_chunk(&fh, a, 208, CS_USED, 1);
		fake_add(src, a + 16, 200, seq++, s2);
	}
	add_chunk(&fh, a, 96, CS_FASTBIN, 1);
	a += 96;
	for (int i = 0; i < 3; i++, a += 1008)
		add_chunk(&fh, a, 1008, CS_USED, 1);
	add_chunk(&fh, 0x7f0000001000ULL, 0x21000, CS_MMAPPED, 0);
	{
		struct alloc_source as = { src, fake_lookup, src->stacks };
		if (take) {
			sn = snapshot_capture_take(&fh.h, &as, NULL);
			ok(!fh.h.chunks && !fh.h.nchunks, "capture_take: the walk is left with no chunks");
			fh.chunks.v = NULL;	/* (the snapshot's now) */
		} else {
			sn = snapshot_capture(&fh.h, &as, NULL);
		}
	}
	sn->name = xstrdup("t");
	sn->time = 1700000123.5;
	sn->pid = 4242;
	sn->exe = xstrdup("/usr/bin/prog");
	sn->glibc = xstrdup("2.36");
	sn->target = xstrdup("live");
	fake_heap_free(&fh);
	return sn;
}

static struct snapshot *
build(struct fake_src *src, uint64_t base)
{
	return build_as(src, base, false);
}

/* A snapshot made of the walk's own chunk array (what `snapshot` does
 * with a walk made for it) is the one made into a new array: every chunk,
 * free ones dropped in place, and every trace. */
static void
test_capture_take(void)
{
	struct fake_src s1, s2;
	struct snapshot *a = build_as(&s1, 0x555555559000ULL, false);
	struct snapshot *b = build_as(&s2, 0x555555559000ULL, true);
	char why[128] = "";

	ok(same_snapshot(a, b, why, sizeof(why)), "capture_take: the same snapshot as capture (%s)", why);
	is_u64(b->nchunks, 19, "capture_take: 19 chunks");
	ok(b->chunks[10].addr == a->chunks[10].addr && snap_chunk_trace(b, &b->chunks[10]) ==
	   snap_chunk_trace(a, &a->chunks[10]) && snap_chunk_trace(b, &b->chunks[17]) == 0,
	   "capture_take: traces stay with their chunks past the free ones");
	snapshot_free(a);
	snapshot_free(b);
	fake_free(&s1);
	fake_free(&s2);
}

/* A snapshot with symbolic frames, as if resolved in a process whose
 * module is loaded at load: the same call sites at other pcs. */
static struct snapshot *
symbolic(uint64_t load, int nnew)
{
	struct snapshot *sn = snapshot_new();
	struct snap_module m = { snapshot_intern(sn, "/usr/bin/prog"), snapshot_intern(sn, "abcdef"), load,
				 load + 0x10000, 0 };
	struct snap_stack st = { 0, 3, 0 };

	vec_push(&sn->modules, m);
	{
		struct snap_frame f[3] = {
			{ load + 0x1010, 0x1010, 0x10, 1, snapshot_intern(sn, "xmalloc"), snapshot_intern(sn, "util.c"), 12, true },
			{ load + 0x1010, 0x1010, 0x30, 1, snapshot_intern(sn, "grow"), snapshot_intern(sn, "prog.c"), 40, false },
			{ load + 0x2020, 0x2020, 0x99, 1, snapshot_intern(sn, "main"), snapshot_intern(sn, "prog.c"), 80, false },
		};
		for (int i = 0; i < 3; i++)
			vec_push(&sn->frames, f[i]);
	}
	vec_push(&sn->stacks, st);
	snapshot_rekey(sn);
	sn->narenas = 1;
	sn->chunks = xcalloc((size_t)nnew + 1, sizeof(*sn->chunks));
	for (int i = 0; i < nnew; i++) {
		struct snap_trace t = { 200, (uint64_t)i + 1, 1.0 + i, 1 };
		vec_push(&sn->traces, t);
		sn->chunks[i].addr = load * 16 + 0x1000 + 208 * (uint64_t)i;
		sn->chunks[i].size = 208;
		sn->chunks[i].state = CS_USED;
		snap_set_trace(sn, (size_t)i, (uint32_t)sn->traces.n);
		sn->bytes += 208;
	}
	sn->nchunks = (size_t)nnew;
	sn->name = xasprintf("sym%d", nnew);
	return sn;
}

static const struct snap_group *
group_with_stack(const struct snap_diff *d)
{
	for (size_t i = 0; i < d->groups.n; i++)
		if (d->groups.v[i].has_stack)
			return &d->groups.v[i];
	return NULL;
}

static void
test_capture_and_diff(void)
{
	struct fake_src src, src2;
	struct snapshot *a = build(&src, 0x555555559000ULL), *b;
	struct snap_diff d;
	uint64_t lo, hi;
	char cls[64];

	is_u64(a->nchunks, 19, "capture: used and mmapped chunks only (10 + 5 + 3 + 1)");
	is_u64(a->traces.n, 15, "capture: 15 traced chunks");
	is_u64(a->stacks.n, 2, "capture: 2 distinct stacks");
	is_u64(a->frames.n, 5, "capture: one frame per pc without symbols");
	ok(a->chunks[0].addr == 0x555555559010ULL && a->chunks[18].state == CS_MMAPPED &&
	   a->chunks[18].arena == HEAP_NO_ARENA, "capture: user addresses, mmapped chunk without arena");

	/* the same heap, but chunk 3 freed and its address reused by another
	 * allocation of the same size (new seq), and 100 new chunks under
	 * stack 1 at a fresh place */
	b = build(&src2, 0x555555559000ULL);
	{
		struct fake_heap fh;
		uint64_t base = 0x555555559000ULL;
		fake_heap_init(&fh, 2);
		for (size_t i = 0; i < b->nchunks; i++)
			add_chunk(&fh, b->chunks[i].addr - 16, b->chunks[i].size,
				  (enum chunk_state)b->chunks[i].state, b->chunks[i].arena == HEAP_NO_ARENA ? 0 :
				  b->chunks[i].arena);
		for (int i = 0; i < 100; i++)
			add_chunk(&fh, 0x555555600000ULL + 48 * (uint64_t)i, 48, CS_USED, 0);
		/* keep chunks sorted: the mmapped one last */
		{
			struct hchunk mm = fh.chunks.v[b->nchunks - 1];
			memmove(&fh.chunks.v[b->nchunks - 1], &fh.chunks.v[b->nchunks], 100 * sizeof(mm));
			fh.chunks.v[fh.chunks.n - 1] = mm;
		}
		u64map_put(&src2.index, base + 3 * 48 + 16, 0);
		u64map_del(&src2.index, base + 3 * 48 + 16);
		fake_add(&src2, base + 3 * 48 + 16, 40, 1000, 1);
		for (int i = 0; i < 100; i++)
			fake_add(&src2, 0x555555600000ULL + 48 * (uint64_t)i + 16, 40, 2000 + (uint64_t)i, 1);
		snapshot_free(b);
		{
			struct alloc_source as = { &src2, fake_lookup, src2.stacks };
			b = snapshot_capture(&fh.h, &as, NULL);
		}
		b->name = xstrdup("b");
		fake_heap_free(&fh);
	}
	snapshot_diff(a, b, &d);
	is_u64(d.new_.chunks, 101, "diff: 100 new chunks plus the reused address");
	is_u64(d.freed.chunks, 1, "diff: the reused address is also a free");
	is_u64(d.kept.chunks, 18, "diff: everything else kept");
	ok(d.traced && d.groups.n >= 1 && d.groups.v[0].has_stack && d.groups.v[0].new_.chunks == 101 &&
	   d.groups.v[0].freed.chunks == 1, "diff: one stack group, biggest growth first, has them all");
	is_u64(d.groups.v[0].from.chunks, 10, "diff: the group had 10 chunks before");
	is_u64(d.groups.v[0].to.chunks, 110, "diff: and 110 after");
	snap_diff_free(&d);

	/* against itself: nothing */
	snapshot_diff(a, a, &d);
	ok(d.new_.chunks == 0 && d.freed.chunks == 0 && d.kept.chunks == 19, "diff: a snapshot against itself");
	snap_diff_free(&d);

	/* untraced on one side: kept by address and size */
	{
		struct fake_heap fh;
		struct snapshot *u;
		fake_heap_init(&fh, 2);
		for (size_t i = 0; i < a->nchunks; i++)
			add_chunk(&fh, a->chunks[i].addr - 16, a->chunks[i].size, (enum chunk_state)a->chunks[i].state,
				  a->chunks[i].arena == HEAP_NO_ARENA ? 0 : a->chunks[i].arena);
		u = snapshot_capture(&fh.h, NULL, NULL);
		u->name = xstrdup("u");
		snapshot_diff(a, u, &d);
		ok(d.new_.chunks == 0 && d.freed.chunks == 0, "diff: traced vs untraced: the same chunks are kept");
		snap_diff_free(&d);
		snapshot_diff(u, b, &d);
		ok(!group_with_stack(&d) || group_with_stack(&d)->new_.chunks == 100,
		   "diff: untraced vs traced: matched by address and size");
		is_u64(d.new_.chunks, 100, "diff: untraced vs traced: the 100 new chunks");
		snap_diff_free(&d);
		snapshot_free(u);
		fake_heap_free(&fh);
	}

	/* symbolic stacks: another process with another load address */
	{
		struct snapshot *p1 = symbolic(0x555555554000ULL, 0), *p2 = symbolic(0x560000000000ULL, 100);
		const struct snap_group *g;
		ok(p1->stacks.v[0].key == p2->stacks.v[0].key, "symbolic key: the same in both processes");
		snapshot_diff(p1, p2, &d);
		g = group_with_stack(&d);
		ok(g && g->new_.chunks == 100 && d.groups.n == 1, "diff across processes: the 100 are one stack group");
		snap_diff_free(&d);
		snapshot_free(p1);
		snapshot_free(p2);
	}

	snapshot_size_class(48, &lo, &hi);
	ok(lo == 48 && hi == 48, "size class: 48 exact");
	snapshot_size_class(1100, &lo, &hi);
	ok(lo == 1024 && hi == 1279, "size class: 1100 in 1024..1279");
	snapshot_size_class(1ULL << 40, &lo, &hi);
	ok(lo == 1ULL << 40 && hi == (1ULL << 40) + (1ULL << 38) - 1, "size class: 1 TiB");
	is_str(snapshot_size_class_name(1024, 1279, cls), "1024..1279 B", "size class name");

	snapshot_free(a);
	snapshot_free(b);
	fake_free(&src);
	fake_free(&src2);
}

/* Decode must fail with a clear message, or succeed; and a success must
 * be usable (diff it, encode it again). */
static bool
decode_sane(const uint8_t *p, size_t len, const struct snapshot *orig, bool *decoded)
{
	struct snapshot *sn;

	hd_clear_error();
	sn = snapshot_decode(p, len);
	*decoded = sn != NULL;
	if (!sn)
		return (hd_errcode() == HD_EFORMAT || hd_errcode() == HD_ETRUNC) && hd_errmsg()[0];
	{
		struct snap_diff d;
		struct sbuf b;
		snapshot_diff(orig, sn, &d);
		snap_diff_free(&d);
		sb_init(&b);
		snapshot_encode(sn, &b);
		pprof_encode(sn, &b, NULL, NULL);
		folded_encode(sn, &b, NULL, NULL);
		sb_free(&b);
	}
	snapshot_free(sn);
	return true;
}

/* SNAPSHOT_SEEDS=DIR: write the test snapshots there (a fuzzing corpus). */
static void
write_seed(const struct snapshot *sn, const char *name)
{
	const char *dir = getenv("SNAPSHOT_SEEDS");
	char *path;

	if (!dir)
		return;
	path = xasprintf("%s/%s", dir, name);
	if (snapshot_save(sn, path) < 0)
		diag("seed %s: %s", path, hd_errmsg());
	free(path);
}

static void
test_format(void)
{
	struct fake_src src;
	struct snapshot *a = build(&src, 0x555555559000ULL), *s2, *sym = symbolic(0x555555554000ULL, 5);
	struct sbuf b;
	uint8_t *copy;
	size_t bad = 0, trunc_ok = 0, flips = 0, flip_crc = 0, flip_bad = 0, flip_decoded = 0;
	char why[128] = "";
	bool dec;

	write_seed(a, "traced.snap");
	write_seed(sym, "symbolic.snap");
	sb_init(&b);
	snapshot_encode(a, &b);
	ok(b.len > 24 && !memcmp(b.s, SNAPFILE_MAGIC, 8), "encode: magic, %zu bytes for 19 chunks", b.len);
	s2 = snapshot_decode(b.s, b.len);
	ok(s2 && same_snapshot(a, s2, why, sizeof(why)), "round trip: identical (%s)", s2 ? why : hd_errmsg());
	snapshot_free(s2);

	/* every truncation */
	for (size_t n = 0; n < b.len; n++) {
		hd_clear_error();
		s2 = snapshot_decode(b.s, n);
		if (s2) {
			bad++;
			snapshot_free(s2);
		} else if (hd_errcode() == HD_ETRUNC && strstr(hd_errmsg(), n ? "truncated" : "empty")) {
			trunc_ok++;
		} else if (bad++ < 3) {
			diag("truncated to %zu: %s", n, hd_errmsg());
		}
	}
	is_u64(trunc_ok, b.len, "every truncation (%zu) is reported as truncated", b.len);

	/* every bit flip: the checksum catches it */
	copy = xmalloc(b.len);
	for (size_t i = 0; i < b.len * 8; i++) {
		memcpy(copy, b.s, b.len);
		copy[i / 8] ^= (uint8_t)(1 << (i % 8));
		flips++;
		hd_clear_error();
		s2 = snapshot_decode(copy, b.len);
		if (!s2 && hd_errmsg()[0] && (strstr(hd_errmsg(), "corrupted") || strstr(hd_errmsg(), "not a heapdbg") ||
					    strstr(hd_errmsg(), "truncated")))
			flip_crc++;
		snapshot_free(s2);
	}
	is_u64(flip_crc, flips, "every bit flip (%zu) is an error: corrupted, truncated or not a snapshot", flips);

	/* every bit flip with the checksum patched: the parser proper */
	for (int which = 0; which < 2; which++) {
		struct sbuf e;
		size_t n = 0, good = 0;
		sb_init(&e);
		snapshot_encode(which ? sym : a, &e);
		copy = xrealloc(copy, e.len);
		for (size_t i = SNAPFILE_HEADER * 8; i < (e.len - 4) * 8; i++) {
			memcpy(copy, e.s, e.len);
			copy[i / 8] ^= (uint8_t)(1 << (i % 8));
			fix_crc(copy, e.len);
			n++;
			if (decode_sane(copy, e.len, which ? sym : a, &dec))
				good++;
			else if (flip_bad++ < 3)
				diag("flip %zu: %s", i, hd_errmsg());
			flip_decoded += dec;
		}
		is_u64(good, n, "%s: every bit flip past the checksum (%zu) decodes sanely or fails clearly",
		       which ? "symbolic snapshot" : "traced snapshot", n);
		/* and truncations with a consistent header and checksum */
		good = 0;
		for (size_t len = SNAPFILE_HEADER + 4; len < e.len; len++) {
			memcpy(copy, e.s, len);
			for (int k = 0; k < 8; k++)
				copy[12 + k] = (uint8_t)((uint64_t)(len - 24) >> (8 * k));
			fix_crc(copy, len);
			if (decode_sane(copy, len, a, &dec))
				good++;
		}
		is_u64(good, e.len - 24, "%s: every cut of the message with a consistent header fails clearly",
		       which ? "symbolic snapshot" : "traced snapshot");
		if (which) {
			s2 = snapshot_decode(e.s, e.len);
			ok(s2 && same_snapshot(sym, s2, why, sizeof(why)) && s2->stacks.v[0].key == sym->stacks.v[0].key,
			   "round trip of symbolic frames, modules and keys (%s)", s2 ? why : hd_errmsg());
			snapshot_free(s2);
		}
		sb_free(&e);
	}
	diag("bit flips past the checksum that still decoded: %zu", flip_decoded);

	/* header checks */
	memcpy(copy, b.s, 24);
	copy = xrealloc(copy, b.len);
	memcpy(copy, b.s, b.len);
	copy[8] = 2;
	fix_crc(copy, b.len);
	hd_clear_error();
	s2 = snapshot_decode(copy, b.len);
	ok(!s2 && strstr(hd_errmsg(), "version 2 is not supported"), "a newer format version: %s", hd_errmsg());
	memcpy(copy, b.s, b.len);
	copy[10] = 1;
	fix_crc(copy, b.len);
	ok(!snapshot_decode(copy, b.len) && strstr(hd_errmsg(), "unknown flags"), "unknown flags: %s", hd_errmsg());
	ok(!snapshot_decode("\x7f" "ELF\2\1\1", 7) && strstr(hd_errmsg(), "ELF"), "an ELF file: %s", hd_errmsg());
	ok(!snapshot_decode("hello world, this is text", 25) && strstr(hd_errmsg(), "not a heapdbg snapshot"),
	   "text: %s", hd_errmsg());
	{
		/* a future minor addition (an unknown field) is skipped */
		struct sbuf e;
		struct snapshot *x;
		size_t msglen;
		sb_init(&e);
		sb_putn(&e, b.s, b.len - 4);
		pb_put_string(&e, 99, "from the future");
		msglen = e.len - 20;
		for (int k = 0; k < 8; k++)
			e.s[12 + k] = (char)((uint64_t)msglen >> (8 * k));
		sb_putn(&e, "\0\0\0\0", 4);
		fix_crc((uint8_t *)e.s, e.len);
		x = snapshot_decode(e.s, e.len);
		ok(x && x->nchunks == a->nchunks, "an unknown field is skipped");
		snapshot_free(x);
		sb_free(&e);
	}
	free(copy);

	/* files */
	{
		char dir[] = "/tmp/hd-snap-XXXXXX", path[256];
		struct stat st;
		ok(mkdtemp(dir) != NULL, "temporary directory");
		snprintf(path, sizeof(path), "%s/x.snap", dir);
		umask(022);
		ok(snapshot_save(a, path) == 0, "save");
		ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "saved with mode 0600");
		chmod(path, 0644);
		ok(snapshot_save(a, path) == 0 && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
		   "saving over a 0644 file leaves it 0600");
		s2 = snapshot_load(path);
		ok(s2 && same_snapshot(a, s2, why, sizeof(why)) && s2->file && !strcmp(s2->file, path),
		   "load: identical, remembers its file");
		snapshot_free(s2);
		hd_clear_error();
		s2 = snapshot_load(dir);
		ok(!s2 && strstr(hd_errmsg(), "not a regular file"), "load of a directory: %s", hd_errmsg());
		snprintf(path, sizeof(path), "%s/none.snap", dir);
		ok(!snapshot_load(path) && hd_errcode() == HD_ENOENT, "load of a missing file: %s", hd_errmsg());
		snprintf(path, sizeof(path), "%s/short.snap", dir);
		{
			FILE *f = fopen(path, "wb");
			fwrite(b.s, 1, 10, f);
			fclose(f);
		}
		ok(!snapshot_load(path) && strstr(hd_errmsg(), "truncated"), "load of a 10-byte file: %s", hd_errmsg());
		{
			char link[256], target[256];
			struct stat lst;
			snprintf(target, sizeof(target), "%s/target.snap", dir);
			snprintf(link, sizeof(link), "%s/link.snap", dir);
			ok(symlink(target, link) == 0 && snapshot_save(a, link) == 0 && lstat(link, &lst) == 0 &&
			   S_ISLNK(lst.st_mode) && stat(target, &st) == 0 && (st.st_mode & 0777) == 0600,
			   "save through a symlink: written through it (0600), the link stays");
		}
		snprintf(path, sizeof(path), "%s/nodir/x.snap", dir);
		ok(snapshot_save(a, path) < 0 && strstr(hd_errmsg(), "nodir"), "save into a missing directory: %s",
		   hd_errmsg());
		snprintf(path, sizeof(path), "rm -rf %s", dir);
		ok(system(path) == 0, "cleanup");
	}
	sb_free(&b);
	snapshot_free(a);
	snapshot_free(sym);
	fake_free(&src);
}

/* Read the pprof profile back with the pb reader. */
static void
test_exports(void)
{
	struct snapshot *sym = symbolic(0x555555554000ULL, 7);
	struct sbuf b;
	struct export_stats st;
	struct pb_reader r;
	struct pb_field f;
	int samples = 0, locations = 0, functions = 0, strings = 0, mappings = 0;
	bool first_empty = false, have_grow = false;

	/* add 3 untraced chunks of 1008 */
	sym->chunks = xrealloc(sym->chunks, (sym->nchunks + 3) * sizeof(*sym->chunks));
	for (int i = 0; i < 3; i++) {
		struct snap_chunk c = { .addr = 0x7000000000ULL + 1008 * (uint64_t)i, .size = 1008, .state = CS_USED,
					.arena = 0 };
		sym->chunks[sym->nchunks++] = c;
		sym->bytes += 1008;
	}
	sb_init(&b);
	pprof_encode(sym, &b, &st, NULL);
	pb_reader_init(&r, b.s, b.len);
	while (pb_next(&r, &f) > 0) {
		switch (f.num) {
		case 2: samples++; break;
		case 3: mappings++; break;
		case 4: locations++; break;
		case 5: functions++; break;
		case 6:
			if (strings++ == 0)
				first_empty = f.len == 0;
			if (f.len == 4 && !memcmp(f.data, "grow", 4))
				have_grow = true;
			break;
		}
	}
	ok(pb_at_end(&r), "pprof: the whole profile parses");
	is_u64(samples, 2, "pprof: one sample for the stack, one for the size class");
	is_u64(locations, 3, "pprof: locations: 2 pcs (one with an inlined frame) + 1 synthetic");
	is_u64(functions, 4, "pprof: functions: xmalloc, grow, main, [1008 B chunks]");
	is_u64(mappings, 2, "pprof: the module and the synthetic mapping");
	ok(first_empty && have_grow, "pprof: string_table[0] is \"\", names are there");
	ok(st.samples == 2 && st.locations == 3 && st.functions == 4, "pprof: stats");
	sb_reset(&b);
	folded_encode(sym, &b, &st, NULL);
	is_str(b.s, "[1008 B chunks] 3024\nmain;grow;xmalloc 1456\n", "folded: root first, biggest first");
	sb_free(&b);
	snapshot_free(sym);

	{
		/* the pb reader on bad input */
		static const uint8_t overlong[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
		static const uint8_t group[] = { 0x0b };
		static const uint8_t past[] = { 0x0a, 0x05, 'a' };
		pb_reader_init(&r, overlong, sizeof(overlong));
		ok(pb_next(&r, &f) < 0 && strstr(hd_errmsg(), "too large"), "pb: an overlong varint: %s", hd_errmsg());
		pb_reader_init(&r, group, sizeof(group));
		ok(pb_next(&r, &f) < 0 && strstr(hd_errmsg(), "wire type"), "pb: a group: %s", hd_errmsg());
		pb_reader_init(&r, past, sizeof(past));
		ok(pb_next(&r, &f) < 0 && strstr(hd_errmsg(), "past the end"), "pb: a length past the end: %s",
		   hd_errmsg());
	}
}

static void
test_set(void)
{
	struct snapset *ss = snapset_new();
	struct snapshot *a = snapshot_new(), *b = snapshot_new();
	char *n1, *n2;

	a->name = xstrdup("s1");
	ok(!snapset_put(ss, a), "set: add s1");
	n1 = snapset_auto_name(ss);
	is_str(n1, "s2", "set: the next automatic name skips names in use");
	b->name = xstrdup("s1");
	ok(snapset_put(ss, b) && ss->v.n == 1 && snapset_find(ss, "s1") == b, "set: a name in use is replaced");
	n2 = snapset_auto_name(ss);
	is_str(n2, "s3", "set: automatic names go on");
	ok(snapshot_check_name("now") < 0 && snapshot_check_name("a b") < 0 && snapshot_check_name("") < 0 &&
	   snapshot_check_name("before-fix.1") == 0, "names: now, spaces and empty refused");
	free(n1);
	free(n2);
	snapset_free(ss);
}

/* The sampling rate: a field of its own, left out when 0, so files of
 * unsampled snapshots are what they were and older files load as 0. */
static void
test_sample_rate(void)
{
	struct fake_src src;
	struct snapshot *a = build(&src, 0x555555559000ULL), *s2;
	struct sbuf b0, b1;
	char why[128] = "";

	sb_init(&b0);
	sb_init(&b1);
	snapshot_encode(a, &b0);
	s2 = snapshot_decode(b0.s, b0.len);
	ok(s2 && s2->sample_rate == 0, "a file without the rate (as older files) loads as not sampled");
	snapshot_free(s2);
	a->sample_rate = 524288;
	snapshot_encode(a, &b1);
	ok(b1.len == b0.len + 4, "the rate is one more field (%zu bytes more)", b1.len - b0.len);
	s2 = snapshot_decode(b1.s, b1.len);
	ok(s2 && s2->sample_rate == 524288 && same_snapshot(a, s2, why, sizeof(why)),
	   "a sampled snapshot reloads with its rate (%s)", s2 ? why : hd_errmsg());
	ok(s2 && snapshot_weight(s2, &s2->traces.v[0]) > 1, "its traced chunks weigh more than 1 in estimates");
	snapshot_free(s2);
	sb_free(&b0);
	sb_free(&b1);
	snapshot_free(a);
	fake_free(&src);
}

int
main(void)
{
	hd_quiet_warnings = true;
	test_capture_and_diff();
	test_capture_take();
	test_format();
	test_sample_rate();
	test_exports();
	test_set();
	return tap_done();
}
