/*
 * Unit tests: util.c (hash map, string buffer, number parsing, errors).
 */
#include "config.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int
main(void)
{
	struct u64map m;
	struct sbuf sb;
	uint64_t v;
	bool all = true;

	u64map_init(&m);
	for (uint64_t i = 0; i < 100000; i++)
		u64map_put(&m, i * 16 + 0x1000, i);
	for (uint64_t i = 0; i < 100000; i++)
		if (!u64map_get(&m, i * 16 + 0x1000, &v) || v != i)
			all = false;
	ok(all, "u64map: 100000 puts and gets");
	is_u64(m.n, 100000, "u64map: count");
	all = true;
	for (uint64_t i = 0; i < 100000; i += 2)
		if (!u64map_del(&m, i * 16 + 0x1000))
			all = false;
	for (uint64_t i = 0; i < 100000; i++) {
		bool there = u64map_get(&m, i * 16 + 0x1000, &v);
		if (there != (i % 2 == 1) || (there && v != i))
			all = false;
	}
	ok(all, "u64map: deletion keeps the other keys reachable");
	{
		size_t it = 0, n = 0;
		uint64_t k;
		while (u64map_next(&m, &it, &k, &v))
			n++;
		is_u64(n, 50000, "u64map: iteration visits every key once");
	}
	u64map_free(&m);

	sb_init(&sb);
	for (int i = 0; i < 1000; i++)
		sb_printf(&sb, "%d,", i);
	ok(sb.len == strlen(sb.s) && !strncmp(sb.s, "0,1,2,", 6), "sbuf: printf appends");
	sb_free(&sb);

	ok(parse_u64("0x10", &v, false) == 0 && v == 16, "parse_u64 hex");
	ok(parse_u64("64k", &v, true) == 0 && v == 65536, "parse_u64 k suffix");
	ok(parse_u64("2MiB", &v, true) == 0 && v == 2 << 20, "parse_u64 MiB suffix");
	ok(parse_u64("12x", &v, false) < 0 && hd_errcode() == HD_EUSAGE, "parse_u64 rejects junk");
	ok(parse_u64("-1", &v, false) < 0, "parse_u64 rejects negatives");

	hd_fail(HD_EIO, "cannot read %d", 5);
	hd_fail_context("walking arena %s", "main");
	is_str(hd_errmsg(), "walking arena main: cannot read 5", "error context prefixes the message");
	ok(hd_errcode() == HD_EIO, "error context keeps the code");
	{
		char b[32];
		is_str(fmt_bytes(1536, b), "1.5 KiB", "fmt_bytes");
	}
	return tap_done();
}
