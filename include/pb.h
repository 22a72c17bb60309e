/*
 * pb.h - the protocol buffers wire format, by hand: enough to write
 * pprof profiles and to read and write heapdbg's snapshot files
 * (docs/snapshot-format.md).  Varints, fixed64 and length-delimited
 * fields; groups (wire types 3 and 4) are never written and are rejected
 * when read.
 *
 * Writing appends to a struct sbuf.  A nested message or a packed
 * repeated field is built in its own sbuf and appended with pb_bytes().
 *
 * Reading is bounds-checked at every step and never trusts a length: a
 * malformed buffer gives -1 with an HD_EFORMAT error saying what was
 * wrong, never a read outside [p, end).
 */
#ifndef HEAPDBG_PB_H
#define HEAPDBG_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum pb_wire {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2,
	PB_FIXED32 = 5,
};

/* --- writing --- */

void pb_put_varint(struct sbuf *b, uint64_t v);
void pb_put_key(struct sbuf *b, unsigned field, enum pb_wire wire);
/* A varint field (uint64, int64 as two's complement, bool, enum). */
void pb_put_uint(struct sbuf *b, unsigned field, uint64_t v);
void pb_put_int(struct sbuf *b, unsigned field, int64_t v);
void pb_put_fixed64(struct sbuf *b, unsigned field, uint64_t v);
void pb_put_double(struct sbuf *b, unsigned field, double v);
/* A length-delimited field: bytes, a string, a nested message, a packed list. */
void pb_put_bytes(struct sbuf *b, unsigned field, const void *p, size_t n);
void pb_put_string(struct sbuf *b, unsigned field, const char *s);

/* --- reading --- */

struct pb_reader {
	const uint8_t *p, *end;
};

/* One field: for PB_VARINT, PB_FIXED64 and PB_FIXED32 the value is in v;
 * for PB_LEN the payload is [data, data + len). */
struct pb_field {
	unsigned num;
	enum pb_wire wire;
	uint64_t v;
	const uint8_t *data;
	size_t len;
};

static inline void
pb_reader_init(struct pb_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->end = n ? r->p + n : r->p;	/* p may be NULL when n is 0 */
}

static inline bool
pb_at_end(const struct pb_reader *r)
{
	return r->p >= r->end;
}

/* One varint (at most 10 bytes, no overflow).  0 or -1 (HD_EFORMAT). */
int pb_get_varint(struct pb_reader *r, uint64_t *v);
/* The next field: 1 with *f, 0 at the end of the buffer, -1 (HD_EFORMAT)
 * for a bad key, a group, a length past the end, a truncated value. */
int pb_next(struct pb_reader *r, struct pb_field *f);
/* Number of varints in a packed payload (bytes without the high bit);
 * -1 (HD_EFORMAT) if the payload ends inside a varint. */
ssize_t pb_packed_count(const uint8_t *p, size_t n);

#endif
