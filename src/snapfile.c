/*
 * snapfile.c - snapshot files (docs/snapshot-format.md): a 20-byte header
 * (magic, format version, flags, message length), one message in the
 * protocol buffers wire format with the chunks as packed columns, and a
 * CRC-32 of everything before it.  The reader checks every length, index
 * and order before it trusts it: a truncated, corrupted or foreign file
 * gives an error that says which, never a crash.  No heap contents are
 * stored; files are created with mode 0600.
 */
#include "config.h"
#include "pb.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Field numbers of the Snapshot message. */
enum {
	F_NAME = 1, F_TIME = 2, F_TARGET = 3, F_PID = 4, F_EXE = 5, F_CMDLINE = 6,
	F_GLIBC = 7, F_VERSION = 8, F_NARENAS = 9, F_STRING = 10, F_MODULE = 11,
	F_FRAME = 12, F_STACK_FRAMES = 13, F_CHUNKS = 14, F_SAMPLE_RATE = 15,
};
/* Module, Frame and Chunks messages. */
enum { M_NAME = 1, M_BUILD_ID = 2, M_START = 3, M_END = 4, M_SOURCE_ROOT = 5 };
enum {
	FR_PC = 1, FR_MODULE = 2, FR_MODULE_OFF = 3, FR_FUNC = 4, FR_FUNC_OFF = 5,
	FR_FILE = 6, FR_LINE = 7, FR_INLINED = 8,
};
enum {
	C_ADDR = 1, C_SIZE = 2, C_INFO = 3, C_REQ = 4, C_SEQ = 5, C_TIME = 6, C_STACK = 7,
};
#define INFO_MMAPPED	0x1
#define INFO_TRACED	0x2
#define INFO_ARENA_SHIFT 2	/* arena index + 1; 0 for mmapped chunks */
#define MAX_CHUNK_SIZE	(1ULL << 47)

/* ---- CRC-32 ---- */

static uint32_t crc_table[256];

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t
snap_crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!crc_table[1])
		crc_init();
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- writing ---- */

static void
put_le(struct sbuf *b, uint64_t v, int n)
{
	char tmp[8];

	for (int i = 0; i < n; i++)
		tmp[i] = (char)(v >> (8 * i));
	sb_putn(b, tmp, (size_t)n);
}

static void
put_opt_string(struct sbuf *b, unsigned field, const char *s)
{
	if (s && *s)
		pb_put_string(b, field, s);
}

static void
encode_chunks(const struct snapshot *sn, struct sbuf *msg)
{
	struct sbuf col[7], body;
	uint64_t prev = 0;

	for (int i = 0; i < 7; i++)
		sb_init(&col[i]);
	sb_init(&body);
	for (size_t i = 0; i < sn->nchunks; i++) {
		const struct snap_chunk *c = &sn->chunks[i];
		uint64_t info = 0;

		pb_put_varint(&col[0], c->addr - prev);
		prev = c->addr;
		pb_put_varint(&col[1], c->size);
		if (c->state == CS_MMAPPED)
			info |= INFO_MMAPPED;
		else
			info |= ((uint64_t)c->arena + 1) << INFO_ARENA_SHIFT;
		if (snap_chunk_trace(sn, c)) {
			const struct snap_trace *t = &sn->traces.v[snap_chunk_trace(sn, c) - 1];
			uint64_t bits;
			info |= INFO_TRACED;
			pb_put_varint(&col[3], t->req);
			pb_put_varint(&col[4], t->seq);
			memcpy(&bits, &t->time, 8);
			put_le(&col[5], bits, 8);
			pb_put_varint(&col[6], t->stack);
		}
		pb_put_varint(&col[2], info);
	}
	for (int i = 0; i < 7; i++) {
		if (col[i].len)
			pb_put_bytes(&body, C_ADDR + (unsigned)i, col[i].s, col[i].len);
		sb_free(&col[i]);
	}
	pb_put_bytes(msg, F_CHUNKS, body.s, body.len);
	sb_free(&body);
}

void
snapshot_encode(const struct snapshot *sn, struct sbuf *out)
{
	struct sbuf msg, sub;
	size_t start = out->len;

	sb_init(&msg);
	sb_init(&sub);
	put_opt_string(&msg, F_NAME, sn->name);
	pb_put_double(&msg, F_TIME, sn->time);
	put_opt_string(&msg, F_TARGET, sn->target);
	if (sn->pid)
		pb_put_int(&msg, F_PID, sn->pid);
	put_opt_string(&msg, F_EXE, sn->exe);
	put_opt_string(&msg, F_CMDLINE, sn->cmdline);
	put_opt_string(&msg, F_GLIBC, sn->glibc);
	put_opt_string(&msg, F_VERSION, sn->version);
	pb_put_uint(&msg, F_NARENAS, sn->narenas);
	if (sn->sample_rate)
		pb_put_uint(&msg, F_SAMPLE_RATE, sn->sample_rate);
	for (size_t i = 1; i < sn->strings.n; i++)
		pb_put_string(&msg, F_STRING, sn->strings.v[i]);
	for (size_t i = 0; i < sn->modules.n; i++) {
		const struct snap_module *m = &sn->modules.v[i];
		sb_reset(&sub);
		pb_put_uint(&sub, M_NAME, m->name);
		if (m->build_id)
			pb_put_uint(&sub, M_BUILD_ID, m->build_id);
		pb_put_uint(&sub, M_START, m->start);
		pb_put_uint(&sub, M_END, m->end);
		if (m->source_root)
			pb_put_uint(&sub, M_SOURCE_ROOT, m->source_root);
		pb_put_bytes(&msg, F_MODULE, sub.s, sub.len);
	}
	for (size_t i = 0; i < sn->frames.n; i++) {
		const struct snap_frame *f = &sn->frames.v[i];
		sb_reset(&sub);
		pb_put_uint(&sub, FR_PC, f->pc);
		if (f->module) {
			pb_put_uint(&sub, FR_MODULE, f->module);
			pb_put_uint(&sub, FR_MODULE_OFF, f->module_off);
		}
		if (f->func)
			pb_put_uint(&sub, FR_FUNC, f->func);
		if (f->func_off)
			pb_put_uint(&sub, FR_FUNC_OFF, f->func_off);
		if (f->file)
			pb_put_uint(&sub, FR_FILE, f->file);
		if (f->line)
			pb_put_uint(&sub, FR_LINE, (uint64_t)f->line);
		if (f->inlined)
			pb_put_uint(&sub, FR_INLINED, 1);
		pb_put_bytes(&msg, F_FRAME, sub.s ? sub.s : "", sub.len);
	}
	if (sn->stacks.n) {
		sb_reset(&sub);
		for (size_t i = 0; i < sn->stacks.n; i++)
			pb_put_varint(&sub, sn->stacks.v[i].n);
		pb_put_bytes(&msg, F_STACK_FRAMES, sub.s, sub.len);
	}
	encode_chunks(sn, &msg);

	sb_putn(out, SNAPFILE_MAGIC, 8);
	put_le(out, SNAPFILE_VERSION, 2);
	put_le(out, 0, 2);
	put_le(out, msg.len, 8);
	sb_putn(out, msg.s, msg.len);
	put_le(out, snap_crc32(0, out->s + start, out->len - start), 4);
	sb_free(&msg);
	sb_free(&sub);
}

/* ---- reading ---- */

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int
want_wire(const struct pb_field *f, enum pb_wire w, const char *what)
{
	if (f->wire != w)
		return hd_fail(HD_EFORMAT, "%s (field %u) has the wrong type", what, f->num);
	return 0;
}

static int
get_string(const struct pb_field *f, const char *what, char **out)
{
	if (want_wire(f, PB_LEN, what) < 0)
		return -1;
	if (memchr(f->data, 0, f->len))
		return hd_fail(HD_EFORMAT, "%s contains a NUL byte", what);
	free(*out);
	*out = xstrndup((const char *)f->data, f->len);
	return 0;
}

static int
get_u32(const struct pb_field *f, const char *what, uint32_t *out)
{
	if (want_wire(f, PB_VARINT, what) < 0)
		return -1;
	if (f->v > UINT32_MAX)
		return hd_fail(HD_EFORMAT, "%s is out of range", what);
	*out = (uint32_t)f->v;
	return 0;
}

static int
decode_module(struct snapshot *sn, const struct pb_field *mf)
{
	struct pb_reader r;
	struct pb_field f;
	struct snap_module m = { 0 };
	int rc;

	pb_reader_init(&r, mf->data, mf->len);
	while ((rc = pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case M_NAME:
			if (get_u32(&f, "module name", &m.name) < 0)
				return -1;
			break;
		case M_BUILD_ID:
			if (get_u32(&f, "module build-id", &m.build_id) < 0)
				return -1;
			break;
		case M_SOURCE_ROOT:
			if (get_u32(&f, "module source root", &m.source_root) < 0)
				return -1;
			break;
		case M_START:
		case M_END:
			if (want_wire(&f, PB_VARINT, "module range") < 0)
				return -1;
			*(f.num == M_START ? &m.start : &m.end) = f.v;
			break;
		}
	}
	if (rc < 0)
		return -1;
	if (m.end < m.start)
		return hd_fail(HD_EFORMAT, "a module ends before it starts");
	vec_push(&sn->modules, m);
	return 0;
}

static int
decode_frame(struct snapshot *sn, const struct pb_field *ff)
{
	struct pb_reader r;
	struct pb_field f;
	struct snap_frame fr = { 0 };
	uint32_t line = 0;
	int rc;

	pb_reader_init(&r, ff->data, ff->len);
	while ((rc = pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case FR_PC:
		case FR_MODULE_OFF:
		case FR_FUNC_OFF:
			if (want_wire(&f, PB_VARINT, "frame address") < 0)
				return -1;
			*(f.num == FR_PC ? &fr.pc : f.num == FR_MODULE_OFF ? &fr.module_off : &fr.func_off) = f.v;
			break;
		case FR_MODULE:
			if (get_u32(&f, "frame module", &fr.module) < 0)
				return -1;
			break;
		case FR_FUNC:
			if (get_u32(&f, "frame function", &fr.func) < 0)
				return -1;
			break;
		case FR_FILE:
			if (get_u32(&f, "frame file", &fr.file) < 0)
				return -1;
			break;
		case FR_LINE:
			if (get_u32(&f, "frame line", &line) < 0)
				return -1;
			if (line > INT32_MAX)
				return hd_fail(HD_EFORMAT, "a frame's line number is out of range");
			fr.line = (int32_t)line;
			break;
		case FR_INLINED:
			if (want_wire(&f, PB_VARINT, "frame flag") < 0)
				return -1;
			if (f.v > 1)
				return hd_fail(HD_EFORMAT, "a frame's inlined flag is not 0 or 1");
			fr.inlined = f.v != 0;
			break;
		}
	}
	if (rc < 0)
		return -1;
	vec_push(&sn->frames, fr);
	return 0;
}

struct column {
	const uint8_t *data;
	size_t len;
	ssize_t count;
	bool fixed;
};

static int
decode_chunks(struct snapshot *sn, const struct pb_field *cf)
{
	struct column col[7] = { { 0 } };
	struct pb_reader r, rd[7];
	struct pb_field f;
	size_t n, ntraced = 0;
	uint64_t addr = 0;
	int rc;

	pb_reader_init(&r, cf->data, cf->len);
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num < C_ADDR || f.num > C_STACK)
			continue;
		if (want_wire(&f, PB_LEN, "a chunk column") < 0)
			return -1;
		col[f.num - 1].data = f.data;
		col[f.num - 1].len = f.len;
		col[f.num - 1].fixed = f.num == C_TIME;
	}
	if (rc < 0)
		return -1;
	for (int i = 0; i < 7; i++) {
		if (col[i].fixed) {
			if (col[i].len % 8)
				return hd_fail(HD_EFORMAT, "the allocation times column is not a list of 8-byte values");
			col[i].count = (ssize_t)(col[i].len / 8);
		} else if ((col[i].count = pb_packed_count(col[i].data, col[i].len)) < 0) {
			return hd_fail_context("chunk column %d", i + 1);
		}
		pb_reader_init(&rd[i], col[i].data, col[i].len);
	}
	n = (size_t)col[0].count;
	if ((size_t)col[1].count != n || (size_t)col[2].count != n)
		return hd_fail(HD_EFORMAT, "the chunk columns have different lengths (%zd, %zd, %zd)",
			       col[0].count, col[1].count, col[2].count);
	for (int i = 4; i < 7; i++)
		if (col[i].count != col[3].count)
			return hd_fail(HD_EFORMAT, "the allocation columns have different lengths");
	sn->chunks = xcalloc(n ? n : 1, sizeof(*sn->chunks));
	for (size_t i = 0; i < n; i++) {
		struct snap_chunk *c = &sn->chunks[i];
		uint64_t delta, size, info, arena;

		if (pb_get_varint(&rd[0], &delta) < 0 || pb_get_varint(&rd[1], &size) < 0 ||
		    pb_get_varint(&rd[2], &info) < 0)
			return -1;
		if (i > 0 && delta == 0)
			return hd_fail(HD_EFORMAT, "two chunks at one address (chunk %zu)", i);
		if (delta > UINT64_MAX - addr)
			return hd_fail(HD_EFORMAT, "chunk %zu lies past the end of the address space", i);
		addr += delta;
		if (size == 0 || size > MAX_CHUNK_SIZE || size > HCHUNK_MAX_SIZE || addr > UINT64_MAX - size)
			return hd_fail(HD_EFORMAT, "chunk %zu has an impossible size %" PRIu64, i, size);
		if (info >> (INFO_ARENA_SHIFT + 16))
			return hd_fail(HD_EFORMAT, "chunk %zu has unknown flags", i);
		arena = info >> INFO_ARENA_SHIFT;
		if ((info & INFO_MMAPPED) ? arena != 0 : (arena == 0 || arena > sn->narenas))
			return hd_fail(HD_EFORMAT, "chunk %zu has a bad arena (%" PRIu64 " of %u)", i, arena,
				       sn->narenas);
		c->addr = addr;
		c->size = size;
		c->state = (info & INFO_MMAPPED) ? CS_MMAPPED : CS_USED;
		c->arena = (info & INFO_MMAPPED) ? HEAP_NO_ARENA : (uint16_t)(arena - 1);
		sn->bytes += size;
		sn->nchunks++;
		if (info & INFO_TRACED) {
			struct snap_trace t;
			uint64_t stack;
			if ((ssize_t)ntraced >= col[3].count)
				return hd_fail(HD_EFORMAT, "more traced chunks than allocation records");
			if (pb_get_varint(&rd[3], &t.req) < 0 || pb_get_varint(&rd[4], &t.seq) < 0 ||
			    pb_get_varint(&rd[6], &stack) < 0)
				return -1;
			if (stack > sn->stacks.n)
				return hd_fail(HD_EFORMAT, "chunk %zu names stack %" PRIu64 " of %zu", i, stack,
					       sn->stacks.n);
			{
				uint64_t bits = get_le(col[5].data + 8 * ntraced, 8);
				memcpy(&t.time, &bits, 8);
			}
			t.stack = (uint32_t)stack;
			vec_push(&sn->traces, t);
			snap_set_trace(sn, i, (uint32_t)sn->traces.n);
			ntraced++;
		}
	}
	if ((ssize_t)ntraced != col[3].count)
		return hd_fail(HD_EFORMAT, "fewer traced chunks than allocation records");
	return 0;
}

/* Checks that need the whole message (fields may come in any order). */
static int
validate(struct snapshot *sn, const uint8_t *stack_frames, size_t stack_len)
{
	struct pb_reader r;
	uint64_t first = 0;

	for (size_t i = 0; i < sn->modules.n; i++)
		if (sn->modules.v[i].name >= sn->strings.n || sn->modules.v[i].build_id >= sn->strings.n ||
		    sn->modules.v[i].source_root >= sn->strings.n)
			return hd_fail(HD_EFORMAT, "module %zu names a string that is not there", i);
	for (size_t i = 0; i < sn->frames.n; i++) {
		const struct snap_frame *f = &sn->frames.v[i];
		if (f->module > sn->modules.n)
			return hd_fail(HD_EFORMAT, "frame %zu names a module that is not there", i);
		if (f->func >= sn->strings.n || f->file >= sn->strings.n)
			return hd_fail(HD_EFORMAT, "frame %zu names a string that is not there", i);
	}
	pb_reader_init(&r, stack_frames, stack_len);
	while (!pb_at_end(&r)) {
		uint64_t n;
		struct snap_stack st;
		if (pb_get_varint(&r, &n) < 0)
			return -1;
		if (n == 0 || n > sn->frames.n - first)
			return hd_fail(HD_EFORMAT, "stack %zu has %" PRIu64 " frames, %" PRIu64 " are left", sn->stacks.n,
				       n, sn->frames.n - first);
		st.first = (uint32_t)first;
		st.n = (uint32_t)n;
		st.key = 0;
		vec_push(&sn->stacks, st);
		first += n;
	}
	if (first != sn->frames.n)
		return hd_fail(HD_EFORMAT, "%" PRIu64 " frames belong to no stack", sn->frames.n - first);
	snapshot_rekey(sn);
	return 0;
}

static int
decode_message(struct snapshot *sn, const uint8_t *p, size_t n)
{
	struct pb_reader r;
	struct pb_field f, chunks = { 0 };
	const uint8_t *stack_frames = NULL;
	size_t stack_len = 0;
	bool have_chunks = false;
	int rc;

	pb_reader_init(&r, p, n);
	while ((rc = pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case F_NAME:
			if (get_string(&f, "the name", &sn->name) < 0)
				return -1;
			break;
		case F_TIME:
			if (want_wire(&f, PB_FIXED64, "the time") < 0)
				return -1;
			memcpy(&sn->time, &f.v, 8);
			break;
		case F_TARGET:
			if (get_string(&f, "the target kind", &sn->target) < 0)
				return -1;
			break;
		case F_PID:
			if (want_wire(&f, PB_VARINT, "the pid") < 0)
				return -1;
			sn->pid = (int64_t)f.v;
			break;
		case F_EXE:
			if (get_string(&f, "the executable", &sn->exe) < 0)
				return -1;
			break;
		case F_CMDLINE:
			if (get_string(&f, "the command line", &sn->cmdline) < 0)
				return -1;
			break;
		case F_GLIBC:
			if (get_string(&f, "the glibc version", &sn->glibc) < 0)
				return -1;
			break;
		case F_VERSION:
			if (get_string(&f, "the heapdbg version", &sn->version) < 0)
				return -1;
			break;
		case F_NARENAS:
			if (get_u32(&f, "the arena count", &sn->narenas) < 0)
				return -1;
			if (sn->narenas > HEAP_NO_ARENA)
				return hd_fail(HD_EFORMAT, "too many arenas (%u)", sn->narenas);
			break;
		case F_SAMPLE_RATE:
			if (want_wire(&f, PB_VARINT, "the sampling rate") < 0)
				return -1;
			sn->sample_rate = f.v;
			break;
		case F_STRING: {
			char *s = NULL;
			if (get_string(&f, "a string", &s) < 0)
				return -1;
			vec_push(&sn->strings, s);
			break;
		}
		case F_MODULE:
			if (want_wire(&f, PB_LEN, "a module") < 0 || decode_module(sn, &f) < 0)
				return hd_fail_context("module %zu", sn->modules.n);
			break;
		case F_FRAME:
			if (want_wire(&f, PB_LEN, "a frame") < 0 || decode_frame(sn, &f) < 0)
				return hd_fail_context("frame %zu", sn->frames.n);
			break;
		case F_STACK_FRAMES:
			if (want_wire(&f, PB_LEN, "the stacks") < 0)
				return -1;
			if (stack_frames)
				return hd_fail(HD_EFORMAT, "the stacks are given twice");
			stack_frames = f.data;
			stack_len = f.len;
			break;
		case F_CHUNKS:
			if (want_wire(&f, PB_LEN, "the chunks") < 0)
				return -1;
			if (have_chunks)
				return hd_fail(HD_EFORMAT, "the chunks are given twice");
			chunks = f;
			have_chunks = true;
			break;
		default:
			break;	/* a later minor addition: skip it */
		}
	}
	if (rc < 0)
		return -1;
	if (!have_chunks)
		return hd_fail(HD_EFORMAT, "there is no chunk list");
	if (validate(sn, stack_frames, stack_len) < 0)
		return -1;
	return decode_chunks(sn, &chunks);
}

static const char *
what_is_it(const uint8_t *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return " (it is gzip-compressed: a pprof export?)";
	if (n >= 4 && !memcmp(p, "\x7f" "ELF", 4))
		return " (it is an ELF file)";
	return "";
}

struct snapshot *
snapshot_decode(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t msglen;
	unsigned version, flags;
	struct snapshot *sn;

	if (len == 0) {
		hd_fail(HD_ETRUNC, "empty file, not a heapdbg snapshot");
		return NULL;
	}
	if (memcmp(p, SNAPFILE_MAGIC, MIN(len, 8))) {
		hd_fail(HD_EFORMAT, "not a heapdbg snapshot%s", what_is_it(p, len));
		return NULL;
	}
	if (len < SNAPFILE_HEADER + SNAPFILE_TRAILER) {
		hd_fail(HD_ETRUNC, "truncated snapshot (%zu bytes, the header alone has %d)", len,
			SNAPFILE_HEADER + SNAPFILE_TRAILER);
		return NULL;
	}
	version = (unsigned)get_le(p + 8, 2);
	flags = (unsigned)get_le(p + 10, 2);
	msglen = get_le(p + 12, 8);
	if (snap_crc32(0, p, len - SNAPFILE_TRAILER) != (uint32_t)get_le(p + len - SNAPFILE_TRAILER, 4)) {
		if (msglen > len - SNAPFILE_HEADER - SNAPFILE_TRAILER)
			hd_fail(HD_ETRUNC, "truncated snapshot (%zu of %" PRIu64 " bytes)", len,
				msglen > UINT64_MAX - 24 ? UINT64_MAX : msglen + SNAPFILE_HEADER + SNAPFILE_TRAILER);
		else
			hd_fail(HD_EFORMAT, "corrupted snapshot (checksum mismatch)");
		return NULL;
	}
	if (version != SNAPFILE_VERSION) {
		hd_fail(HD_EFORMAT, "snapshot format version %u is not supported (this heapdbg reads version %d)",
			version, SNAPFILE_VERSION);
		return NULL;
	}
	if (flags) {
		hd_fail(HD_EFORMAT, "snapshot has unknown flags 0x%x", flags);
		return NULL;
	}
	if (msglen != len - SNAPFILE_HEADER - SNAPFILE_TRAILER) {
		hd_fail(HD_EFORMAT, "corrupted snapshot (its length field says %" PRIu64 " bytes, it has %zu)",
			msglen, len - SNAPFILE_HEADER - SNAPFILE_TRAILER);
		return NULL;
	}
	sn = snapshot_new();
	if (decode_message(sn, p + SNAPFILE_HEADER, (size_t)msglen) < 0) {
		hd_fail_context("corrupted snapshot");
		snapshot_free(sn);
		return NULL;
	}
	return sn;
}

/* ---- files ---- */

static int
write_all(int fd, const char *p, size_t len, const char *path)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return hd_fail_errno(HD_EGENERIC, w < 0 ? errno : ENOSPC, "%s", path);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Not a plain file (a symlink, /dev/stdout, a FIFO): write through it,
 * never replace it. */
static int
write_through(const char *path, const void *buf, size_t len, bool private_mode)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_mode ? 0600 : 0666);

	if (fd < 0)
		return hd_fail_errno(errno == EACCES ? HD_EPERM : HD_ENOENT, errno, "%s", path);
	if (private_mode && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fchmod(fd, 0600) < 0) {
		hd_fail_errno(HD_EPERM, errno, "%s", path);
		close(fd);
		return -1;
	}
	if (write_all(fd, buf, len, path) < 0) {
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "%s", path);
	return 0;
}

int
snap_write_file(const char *path, const void *buf, size_t len, bool private_mode)
{
	struct stat st;
	char *tmp;
	int fd, rc = -1;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return write_through(path, buf, len, private_mode);
	/* a new or plain file: write a temporary file beside it (mkstemp
	 * makes it 0600) and rename it into place */
	tmp = xasprintf("%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		hd_fail_errno(errno == EACCES ? HD_EPERM : HD_ENOENT, errno, "%s", path);
		free(tmp);
		return -1;
	}
	if (!private_mode) {
		mode_t m = umask(0);
		umask(m);
		if (fchmod(fd, 0666 & ~m) < 0) {
			hd_fail_errno(HD_EPERM, errno, "%s", path);
			goto out;
		}
	}
	if (write_all(fd, buf, len, path) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		hd_fail_errno(HD_EGENERIC, errno, "%s", path);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		hd_fail_errno(errno == EACCES ? HD_EPERM : HD_EGENERIC, errno, "%s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
snapshot_save(const struct snapshot *sn, const char *path)
{
	struct sbuf b;
	int rc;

	sb_init(&b);
	snapshot_encode(sn, &b);
	rc = snap_write_file(path, b.s, b.len, true);
	sb_free(&b);
	return rc;
}

static ssize_t
read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

struct snapshot *
snapshot_load(const char *path)
{
	struct snapshot *sn = NULL;
	struct stat st;
	uint8_t head[SNAPFILE_HEADER], *buf = NULL;
	ssize_t n;
	/* a FIFO would block open(2) forever: its type is looked at first */
	int fd = open_regular(path, HD_EFORMAT, &st);

	if (fd < 0)
		return NULL;
	/* look at the header before reading a large file whole */
	n = read_all(fd, head, sizeof(head));
	if (n < 0) {
		hd_fail_errno(HD_EGENERIC, errno, "%s", path);
		goto out;
	}
	if ((size_t)n < sizeof(head)) {
		snapshot_decode(head, (size_t)n);	/* fails: says why */
		hd_fail_context("%s", path);
		goto out;
	}
	if (memcmp(head, SNAPFILE_MAGIC, 8)) {
		hd_fail(HD_EFORMAT, "%s: not a heapdbg snapshot%s", path, what_is_it(head, sizeof(head)));
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	memcpy(buf, head, sizeof(head));
	n = read_all(fd, buf + sizeof(head), (size_t)st.st_size + 1 - sizeof(head));
	if (n < 0) {
		hd_fail_errno(HD_EGENERIC, errno, "%s", path);
		goto out;
	}
	sn = snapshot_decode(buf, sizeof(head) + (size_t)n);
	if (!sn)
		hd_fail_context("%s", path);
	else
		sn->file = xstrdup(path);
out:
	free(buf);
	close(fd);
	return sn;
}
