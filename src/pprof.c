/*
 * pprof.c - exports of a snapshot for the tools people already use: a
 * pprof profile (profile.proto, encoded by hand with pb.h, gzip'd with
 * zlib when configure found it) with inuse_objects and inuse_space by
 * allocation stack, and FlameGraph's folded stacks.  Chunks without a
 * traced stack get one synthetic frame naming their size class
 * ("[208 B chunks]"), so an untraced profile still says where the bytes
 * are.  A snapshot taken under `trace start --sample BYTES` is written
 * as a Go/tcmalloc heap profile is: only the sampled blocks, each
 * weighed 1/(1-exp(-req/BYTES)) (inuse_space: chunk size times that),
 * the sums truncated to integers as pprof's scaleHeapSample does, and
 * period BYTES; the unsampled chunks are left out (their share is in the
 * weights; size-class frames would count them twice).
 */
#include "config.h"
#include "pb.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#if HAVE_ZLIB
#include <zlib.h>
#endif

/* profile.proto field numbers */
enum {
	P_SAMPLE_TYPE = 1, P_SAMPLE = 2, P_MAPPING = 3, P_LOCATION = 4, P_FUNCTION = 5,
	P_STRING_TABLE = 6, P_TIME_NANOS = 9, P_PERIOD_TYPE = 11, P_PERIOD = 12,
	P_COMMENT = 13, P_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VT_TYPE = 1, VT_UNIT = 2 };
enum { S_LOCATION_ID = 1, S_VALUE = 2 };
enum {
	MP_ID = 1, MP_START = 2, MP_LIMIT = 3, MP_OFFSET = 4, MP_FILENAME = 5, MP_BUILD_ID = 6,
	MP_HAS_FUNCTIONS = 7, MP_HAS_FILENAMES = 8, MP_HAS_LINE_NUMBERS = 9, MP_HAS_INLINE_FRAMES = 10,
};
enum { L_ID = 1, L_MAPPING_ID = 2, L_ADDRESS = 3, L_LINE = 4 };
enum { LN_FUNCTION_ID = 1, LN_LINE = 2 };
enum { FN_ID = 1, FN_NAME = 2, FN_SYSTEM_NAME = 3, FN_FILENAME = 4 };

/* One sample before encoding: a stack, or a size class. */
struct agg {
	uint32_t stack;		/* 1 + index into sn->stacks, 0: size class */
	uint64_t lo, hi;	/* size class */
	uint64_t count, bytes;	/* sampled: the estimates, truncated */
	uint64_t samples;	/* the chunks behind them */
	double wcount, wbytes;	/* sampled: the sums of the weights */
};

struct agg_vec {
	struct agg *v;
	size_t n, cap;
};

static int
agg_cmp(const void *pa, const void *pb)
{
	const struct agg *x = pa, *y = pb;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Group the snapshot's chunks into samples, biggest first. */
static void
aggregate(const struct snapshot *sn, struct agg_vec *out)
{
	struct u64map idx;

	u64map_init(&idx);
	for (size_t i = 0; i < sn->nchunks; i++) {
		const struct snap_chunk *c = &sn->chunks[i];
		const struct snap_trace *t = snap_chunk_trace(sn, c) ? &sn->traces.v[snap_chunk_trace(sn, c) - 1] : NULL;
		struct agg a = { 0 };
		uint64_t key, *slot;
		bool created;
		double w;

		if (sn->sample_rate && !t)
			continue;	/* unsampled: the samples' weights stand for it */
		if (t && t->stack) {
			a.stack = t->stack;
			key = t->stack;
		} else {
			snapshot_size_class(c->size, &a.lo, &a.hi);
			key = (1ULL << 63) | MIN(a.lo, 1ULL << 62);
		}
		slot = u64map_slot(&idx, key, &created);
		if (created) {
			vec_push(out, a);
			*slot = out->n - 1;
		}
		out->v[*slot].count++;
		out->v[*slot].bytes += c->size;
		out->v[*slot].samples++;
		w = t ? snapshot_weight(sn, t) : 1;
		out->v[*slot].wcount += w;
		out->v[*slot].wbytes += w * (double)c->size;
	}
	u64map_free(&idx);
	if (sn->sample_rate)
		for (size_t i = 0; i < out->n; i++) {
			/* int64(count * scale), as pprof's scaleHeapSample */
			out->v[i].count = (uint64_t)out->v[i].wcount;
			out->v[i].bytes = (uint64_t)out->v[i].wbytes;
		}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), agg_cmp);
}

/* A frame's name for people: function, else module+offset, else pc. */
static char *
frame_name(const struct snapshot *sn, const struct snap_frame *f)
{
	const char *mod = snapshot_module_name(sn, f->module);

	if (f->func)
		return xstrdup(snapshot_str(sn, f->func));
	if (mod)
		return xasprintf("%s+0x%" PRIx64, mod, f->module_off);
	return xasprintf("0x%" PRIx64, f->pc);
}

static char *
class_name(uint64_t lo, uint64_t hi)
{
	char b[64];

	return xasprintf("[%s chunks]", snapshot_size_class_name(lo, hi, b));
}

/* ---- pprof ---- */

struct fn_pair {
	uint64_t name, file;	/* string table indices */
};

struct pp {
	const struct snapshot *sn;
	VEC(struct fn_pair) fn_pairs;	/* function id - 1 -> its strings */
	struct sbuf msg, sub, lines;
	VEC(char *) strings;
	struct u64map string_index;	/* content hash -> index */
	struct u64map functions;	/* (name, file) hash -> id */
	struct u64map locations;	/* key -> id */
	uint64_t nfunctions, nlocations;
	uint64_t synthetic_mapping;	/* mapping id of the size-class frames */
};

static uint64_t
pp_str(struct pp *pp, const char *s)
{
	uint64_t h, id;
	size_t len;

	if (!s || !*s)
		return 0;
	len = strlen(s);
	h = hash_bytes(s, len, 0x99);
	for (;; h++) {
		if (h == UINT64_MAX)
			h = 0;
		if (!u64map_get(&pp->string_index, h, &id))
			break;
		if (!strcmp(pp->strings.v[id], s))
			return id;
	}
	vec_push(&pp->strings, xstrndup(s, len));
	u64map_put(&pp->string_index, h, pp->strings.n - 1);
	return pp->strings.n - 1;
}

static void
value_type(struct pp *pp, unsigned field, const char *type, const char *unit)
{
	struct sbuf vt;

	sb_init(&vt);
	pb_put_int(&vt, VT_TYPE, (int64_t)pp_str(pp, type));
	pb_put_int(&vt, VT_UNIT, (int64_t)pp_str(pp, unit));
	pb_put_bytes(&pp->msg, field, vt.s, vt.len);
	sb_free(&vt);
}

static uint64_t
function_id(struct pp *pp, const char *name, const char *file)
{
	uint64_t n = pp_str(pp, name), f = pp_str(pp, file), id;
	uint64_t key = hash_u64(n * 0x100000001b3ULL ^ hash_u64(f + 1));

	/* the key hashes the pair of string ids: probe past collisions */
	for (;; key++) {
		if (key == UINT64_MAX)
			key = 0;
		if (!u64map_get(&pp->functions, key, &id))
			break;
		if (pp->fn_pairs.v[id - 1].name == n && pp->fn_pairs.v[id - 1].file == f)
			return id;
	}
	{
		struct fn_pair fp = { n, f };
		vec_push(&pp->fn_pairs, fp);
	}
	id = ++pp->nfunctions;
	u64map_put(&pp->functions, key, id);
	sb_reset(&pp->sub);
	pb_put_uint(&pp->sub, FN_ID, id);
	pb_put_int(&pp->sub, FN_NAME, (int64_t)n);
	pb_put_int(&pp->sub, FN_SYSTEM_NAME, (int64_t)n);
	if (f)
		pb_put_int(&pp->sub, FN_FILENAME, (int64_t)f);
	pb_put_bytes(&pp->msg, P_FUNCTION, pp->sub.s, pp->sub.len);
	return id;
}

/* The id of the location with this key in *id; true when it is new (the
 * caller then writes its message), false when it was written before. */
static bool
new_location(struct pp *pp, uint64_t key, uint64_t *id)
{
	if (key == UINT64_MAX)
		key = 0;
	if (u64map_get(&pp->locations, key, id))
		return false;
	*id = ++pp->nlocations;
	u64map_put(&pp->locations, key, *id);
	return true;
}

/* The location of frames [first, first + n) of sn (one pc). */
static uint64_t
location_id(struct pp *pp, uint32_t first, uint32_t n)
{
	const struct snapshot *sn = pp->sn;
	const struct snap_frame *f0 = &sn->frames.v[first];
	uint64_t key = f0->pc, id;

	for (uint32_t i = 0; i < n; i++)
		key = hash_u64(key ^ snapshot_frame_key(sn, &sn->frames.v[first + i]));
	if (!new_location(pp, key, &id))
		return id;
	sb_reset(&pp->lines);
	for (uint32_t i = 0; i < n; i++) {
		const struct snap_frame *f = &sn->frames.v[first + i];
		char *name = frame_name(sn, f);
		struct sbuf ln;
		sb_init(&ln);
		pb_put_uint(&ln, LN_FUNCTION_ID, function_id(pp, name, snapshot_str(sn, f->file)));
		if (f->line)
			pb_put_int(&ln, LN_LINE, f->line);
		pb_put_bytes(&pp->lines, L_LINE, ln.s, ln.len);
		sb_free(&ln);
		free(name);
	}
	sb_reset(&pp->sub);
	pb_put_uint(&pp->sub, L_ID, id);
	if (f0->module)
		pb_put_uint(&pp->sub, L_MAPPING_ID, f0->module);
	pb_put_uint(&pp->sub, L_ADDRESS, f0->pc);
	sb_putn(&pp->sub, pp->lines.s, pp->lines.len);
	pb_put_bytes(&pp->msg, P_LOCATION, pp->sub.s, pp->sub.len);
	return id;
}

/* The synthetic location of a size class. */
static uint64_t
class_location(struct pp *pp, uint64_t lo, uint64_t hi)
{
	uint64_t key = hash_u64(lo ^ 0x5a5a5a5a5a5a5a5aULL) ^ hi, id;
	char *name;
	struct sbuf ln;

	if (!new_location(pp, key, &id))
		return id;
	name = class_name(lo, hi);
	sb_init(&ln);
	pb_put_uint(&ln, LN_FUNCTION_ID, function_id(pp, name, NULL));
	sb_reset(&pp->sub);
	pb_put_uint(&pp->sub, L_ID, id);
	pb_put_uint(&pp->sub, L_MAPPING_ID, pp->synthetic_mapping);
	pb_put_bytes(&pp->sub, L_LINE, ln.s, ln.len);
	pb_put_bytes(&pp->msg, P_LOCATION, pp->sub.s, pp->sub.len);
	sb_free(&ln);
	free(name);
	return id;
}

static void
mapping(struct pp *pp, uint64_t id, uint64_t start, uint64_t end, const char *file, const char *build_id)
{
	sb_reset(&pp->sub);
	pb_put_uint(&pp->sub, MP_ID, id);
	pb_put_uint(&pp->sub, MP_START, start);
	pb_put_uint(&pp->sub, MP_LIMIT, end);
	pb_put_uint(&pp->sub, MP_OFFSET, 0);
	pb_put_int(&pp->sub, MP_FILENAME, (int64_t)pp_str(pp, file));
	if (build_id && *build_id)
		pb_put_int(&pp->sub, MP_BUILD_ID, (int64_t)pp_str(pp, build_id));
	/* already symbolized: pprof must not look for the binaries */
	pb_put_uint(&pp->sub, MP_HAS_FUNCTIONS, 1);
	pb_put_uint(&pp->sub, MP_HAS_FILENAMES, 1);
	pb_put_uint(&pp->sub, MP_HAS_LINE_NUMBERS, 1);
	pb_put_uint(&pp->sub, MP_HAS_INLINE_FRAMES, 1);
	pb_put_bytes(&pp->msg, P_MAPPING, pp->sub.s, pp->sub.len);
}

void
pprof_encode(const struct snapshot *sn, struct sbuf *out, struct export_stats *st, const struct export_opts *o)
{
	bool keep = o && o->keep_alloc_frames;
	struct pp pp = { .sn = sn };
	struct agg_vec aggs = { 0 };
	struct sbuf ids, vals, smp;
	char *comment;
	uint64_t nsamples = 0, tot_count = 0, tot_bytes = 0;

	sb_init(&pp.msg);
	sb_init(&pp.sub);
	sb_init(&pp.lines);
	sb_init(&ids);
	sb_init(&vals);
	sb_init(&smp);
	u64map_init(&pp.string_index);
	u64map_init(&pp.functions);
	u64map_init(&pp.locations);
	vec_push(&pp.strings, xstrdup(""));

	value_type(&pp, P_SAMPLE_TYPE, "inuse_objects", "count");
	value_type(&pp, P_SAMPLE_TYPE, "inuse_space", "bytes");
	/* mappings: the executable first (pprof's main binary), then the
	 * other modules, then one for the synthetic size-class frames */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sn->modules.n; i++) {
			const struct snap_module *m = &sn->modules.v[i];
			bool is_exe = sn->exe && !strcmp(snapshot_str(sn, m->name), sn->exe);
			if (is_exe != (pass == 0))
				continue;
			mapping(&pp, i + 1, m->start, m->end, snapshot_str(sn, m->name),
				snapshot_str(sn, m->build_id));
		}
	pp.synthetic_mapping = sn->modules.n + 1;
	mapping(&pp, pp.synthetic_mapping, 0, 0, sn->exe ? sn->exe : "heap", NULL);

	aggregate(sn, &aggs);
	for (size_t i = 0; i < aggs.n; i++) {
		const struct agg *a = &aggs.v[i];
		sb_reset(&ids);
		sb_reset(&vals);
		sb_reset(&smp);
		if (a->stack) {
			const struct snap_stack *s = &sn->stacks.v[a->stack - 1];
			uint32_t k = keep ? 0 : snapshot_alloc_frames(sn, a->stack);
			while (k < s->n) {
				uint32_t run = 1;
				while (k + run < s->n &&
				       sn->frames.v[s->first + k + run].pc == sn->frames.v[s->first + k].pc &&
				       sn->frames.v[s->first + k + run - 1].inlined)
					run++;
				pb_put_varint(&ids, location_id(&pp, s->first + k, run));
				k += run;
			}
		} else {
			pb_put_varint(&ids, class_location(&pp, a->lo, a->hi));
		}
		pb_put_varint(&vals, a->count);
		pb_put_varint(&vals, a->bytes);
		nsamples += a->samples;
		tot_count += a->count;
		tot_bytes += a->bytes;
		pb_put_bytes(&smp, S_LOCATION_ID, ids.s, ids.len);
		pb_put_bytes(&smp, S_VALUE, vals.s, vals.len);
		pb_put_bytes(&pp.msg, P_SAMPLE, smp.s, smp.len);
	}
	if (sn->time > 0 && sn->time < 9e9)	/* a loaded file may hold anything */
		pb_put_int(&pp.msg, P_TIME_NANOS, (int64_t)(sn->time * 1e9));
	value_type(&pp, P_PERIOD_TYPE, "space", "bytes");
	pb_put_int(&pp.msg, P_PERIOD, sn->sample_rate ? (int64_t)MIN(sn->sample_rate, (uint64_t)INT64_MAX) : 1);
	comment = xasprintf("heapdbg snapshot %s%s%s%s", sn->name ? sn->name : "(now)",
			    sn->exe ? " of " : "", sn->exe ? sn->exe : "",
			    sn->traces.n || sn->sample_rate ? "" : " (not traced: one frame per size class)");
	pb_put_int(&pp.msg, P_COMMENT, (int64_t)pp_str(&pp, comment));
	free(comment);
	if (sn->sample_rate) {
		comment = xasprintf("sampled: about one allocation every %" PRIu64 " bytes; the values are "
				    "estimates (each sample weighs 1/(1-exp(-size/%" PRIu64 ")), as pprof's), "
				    "from %" PRIu64 " samples; the heap walk's exact totals: %zu chunks, %" PRIu64
				    " bytes in use", sn->sample_rate, sn->sample_rate, nsamples, sn->nchunks,
				    sn->bytes);
		pb_put_int(&pp.msg, P_COMMENT, (int64_t)pp_str(&pp, comment));
		free(comment);
	}
	pb_put_int(&pp.msg, P_DEFAULT_SAMPLE_TYPE, (int64_t)pp_str(&pp, "inuse_space"));
	for (size_t i = 0; i < pp.strings.n; i++)
		pb_put_string(&pp.msg, P_STRING_TABLE, pp.strings.v[i]);
	sb_putn(out, pp.msg.s, pp.msg.len);

	if (st) {
		memset(st, 0, sizeof(*st));
		st->samples = aggs.n;
		st->locations = pp.nlocations;
		st->functions = pp.nfunctions;
		st->sampled_chunks = nsamples;
		st->objects = tot_count;
		st->inuse_bytes = tot_bytes;
		st->bytes = pp.msg.len;
	}
	for (size_t i = 0; i < pp.strings.n; i++)
		free(pp.strings.v[i]);
	vec_free(&pp.strings);
	vec_free(&pp.fn_pairs);
	vec_free(&aggs);
	u64map_free(&pp.string_index);
	u64map_free(&pp.functions);
	u64map_free(&pp.locations);
	sb_free(&pp.msg);
	sb_free(&pp.sub);
	sb_free(&pp.lines);
	sb_free(&ids);
	sb_free(&vals);
	sb_free(&smp);
}

int
pprof_export(const struct snapshot *sn, const char *path, struct export_stats *st, const struct export_opts *o)
{
	struct sbuf raw;
	struct export_stats tmp;
	int rc;

	if (!st)
		st = &tmp;
	sb_init(&raw);
	pprof_encode(sn, &raw, st, o);
#if HAVE_ZLIB
	{
		z_stream z;
		uLong bound;
		unsigned char *gz;

		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			sb_free(&raw);
			return hd_fail(HD_ENOMEM, "zlib: cannot start compressing");
		}
		bound = deflateBound(&z, (uLong)raw.len);
		gz = xmalloc(bound);
		z.next_in = (unsigned char *)(raw.s ? raw.s : "");
		z.avail_in = (uInt)raw.len;
		z.next_out = gz;
		z.avail_out = (uInt)bound;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
			deflateEnd(&z);
			free(gz);
			sb_free(&raw);
			return hd_fail(HD_EGENERIC, "zlib: compression failed");
		}
		st->bytes = z.total_out;
		st->compressed = true;
		rc = snap_write_file(path, gz, z.total_out, false);
		deflateEnd(&z);
		free(gz);
	}
#else
	rc = snap_write_file(path, raw.s ? raw.s : "", raw.len, false);
#endif
	sb_free(&raw);
	return rc;
}

/* ---- folded stacks ---- */

static void
folded_name(struct sbuf *b, const char *name)
{
	for (const char *p = name; *p; p++)
		sb_putc(b, *p == ';' ? ':' : (*p == '\n' || *p == '\r') ? ' ' : *p);
}

void
folded_encode(const struct snapshot *sn, struct sbuf *out, struct export_stats *st, const struct export_opts *o)
{
	struct agg_vec aggs = { 0 };
	bool keep = o && o->keep_alloc_frames;

	aggregate(sn, &aggs);
	for (size_t i = 0; i < aggs.n; i++) {
		const struct agg *a = &aggs.v[i];
		if (a->stack) {
			const struct snap_stack *s = &sn->stacks.v[a->stack - 1];
			uint32_t skip = keep ? 0 : snapshot_alloc_frames(sn, a->stack);
			for (uint32_t k = s->n; k-- > skip;) {
				char *name = frame_name(sn, &sn->frames.v[s->first + k]);
				folded_name(out, name);
				free(name);
				if (k > skip)
					sb_putc(out, ';');
			}
		} else {
			char *name = class_name(a->lo, a->hi);
			folded_name(out, name);
			free(name);
		}
		sb_printf(out, " %" PRIu64 "\n", a->bytes);
	}
	if (st) {
		memset(st, 0, sizeof(*st));
		for (size_t i = 0; i < aggs.n; i++) {
			st->sampled_chunks += aggs.v[i].samples;
			st->objects += aggs.v[i].count;
			st->inuse_bytes += aggs.v[i].bytes;
		}
		st->samples = aggs.n;
		st->bytes = out->len;
	}
	vec_free(&aggs);
}

int
folded_export(const struct snapshot *sn, const char *path, struct export_stats *st, const struct export_opts *o)
{
	struct sbuf b;
	int rc;

	sb_init(&b);
	folded_encode(sn, &b, st, o);
	rc = snap_write_file(path, b.s ? b.s : "", b.len, false);
	sb_free(&b);
	return rc;
}
