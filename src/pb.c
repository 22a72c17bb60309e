/*
 * pb.c - the protocol buffers wire format (see pb.h): the writer used for
 * pprof profiles and snapshot files, and a bounds-checked reader for
 * snapshot files.
 */
#include "config.h"
#include "pb.h"

#include <string.h>

void
pb_put_varint(struct sbuf *b, uint64_t v)
{
	char tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (char)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (char)v;
	sb_putn(b, tmp, n);
}

void
pb_put_key(struct sbuf *b, unsigned field, enum pb_wire wire)
{
	pb_put_varint(b, ((uint64_t)field << 3) | (unsigned)wire);
}

void
pb_put_uint(struct sbuf *b, unsigned field, uint64_t v)
{
	pb_put_key(b, field, PB_VARINT);
	pb_put_varint(b, v);
}

void
pb_put_int(struct sbuf *b, unsigned field, int64_t v)
{
	pb_put_uint(b, field, (uint64_t)v);
}

void
pb_put_fixed64(struct sbuf *b, unsigned field, uint64_t v)
{
	char tmp[8];

	for (int i = 0; i < 8; i++)
		tmp[i] = (char)(v >> (8 * i));
	pb_put_key(b, field, PB_FIXED64);
	sb_putn(b, tmp, 8);
}

void
pb_put_double(struct sbuf *b, unsigned field, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	pb_put_fixed64(b, field, u);
}

void
pb_put_bytes(struct sbuf *b, unsigned field, const void *p, size_t n)
{
	pb_put_key(b, field, PB_LEN);
	pb_put_varint(b, n);
	if (n)
		sb_putn(b, p, n);
}

void
pb_put_string(struct sbuf *b, unsigned field, const char *s)
{
	pb_put_bytes(b, field, s ? s : "", s ? strlen(s) : 0);
}

int
pb_get_varint(struct pb_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t c;
		if (r->p >= r->end)
			return hd_fail(HD_EFORMAT, "a number runs past the end of its field");
		c = *r->p++;
		if (i == 9 && c > 1)
			return hd_fail(HD_EFORMAT, "a number is too large");
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return hd_fail(HD_EFORMAT, "a number is too long");
}

int
pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t key;

	if (r->p >= r->end)
		return 0;
	if (pb_get_varint(r, &key) < 0)
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return hd_fail(HD_EFORMAT, "bad field number %llu", (unsigned long long)(key >> 3));
	f->num = (unsigned)(key >> 3);
	f->wire = (enum pb_wire)(key & 7);
	f->v = 0;
	f->data = NULL;
	f->len = 0;
	switch (key & 7) {
	case PB_VARINT:
		return pb_get_varint(r, &f->v) < 0 ? -1 : 1;
	case PB_FIXED64:
	case PB_FIXED32: {
		size_t n = (key & 7) == PB_FIXED64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < n)
			return hd_fail(HD_EFORMAT, "field %u runs past the end", f->num);
		for (size_t i = 0; i < n; i++)
			f->v |= (uint64_t)r->p[i] << (8 * i);
		r->p += n;
		return 1;
	}
	case PB_LEN: {
		uint64_t n;
		if (pb_get_varint(r, &n) < 0)
			return -1;
		if (n > (uint64_t)(r->end - r->p))
			return hd_fail(HD_EFORMAT, "field %u (%llu bytes) runs past the end", f->num,
				       (unsigned long long)n);
		f->data = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 1;
	}
	default:
		return hd_fail(HD_EFORMAT, "field %u has an unknown wire type %u", f->num, (unsigned)(key & 7));
	}
}

ssize_t
pb_packed_count(const uint8_t *p, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (!(p[i] & 0x80))
			count++;
	if (n && (p[n - 1] & 0x80))
		return hd_fail(HD_EFORMAT, "a packed list ends inside a number");
	return (ssize_t)count;
}
