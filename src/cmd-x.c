/*
 * cmd-x.c - `x ADDR [LEN]`: a hexdump of target memory.
 */
#include "config.h"
#include "cmd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define X_DEFAULT 64
#define X_MAX (1u << 20)

static int
x_exec(struct session *s, int argc, char **argv)
{
	uint64_t addr, len = X_DEFAULT;
	unsigned char *buf;
	size_t got;
	struct sbuf hex;

	if (argc < 2 || argc > 3)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_x_entry.usage);
	if (session_parse_addr(s, argv[1], &addr) < 0)
		return -1;
	if (argc == 3 && parse_u64(argv[2], &len, true) < 0)
		return -1;
	if (len == 0 || len > X_MAX)
		return hd_fail(HD_EUSAGE, "LEN must be between 1 and %u", X_MAX);
	buf = xmalloc(len);
	got = target_read_partial(s->t, addr, buf, len);
	if (got == 0) {
		free(buf);
		return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
	}
	em_addr(s->em, "addr", addr);
	em_uint(s->em, "len", got);
	if (em_json(s->em)) {
		sb_init(&hex);
		for (size_t i = 0; i < got; i++)
			sb_printf(&hex, "%02x", buf[i]);
		em_str(s->em, "bytes", hex.s);
		sb_free(&hex);
	} else {
		for (size_t i = 0; i < got; i += 16) {
			char ascii[17];
			size_t n = MIN(16, got - i);
			em_text(s->em, "0x%012" PRIx64 ": ", addr + i);
			for (size_t k = 0; k < 16; k++) {
				if (k < n)
					em_text(s->em, " %02x", buf[i + k]);
				else
					em_text(s->em, "   ");
				if (k == 7)
					em_text(s->em, " ");
				ascii[k] = k < n ? (isprint(buf[i + k]) ? (char)buf[i + k] : '.') : 0;
			}
			ascii[n] = 0;
			em_text(s->em, "  |%s|\n", ascii);
		}
	}
	if (got < len) {
		em_addr(s->em, "unreadable_at", addr + got);
		em_text(s->em, "(memory at 0x%" PRIx64 " is not readable)\n", addr + got);
	}
	free(buf);
	return 0;
}

const struct cmd_entry cmd_x_entry = {
	.name = "x",
	.usage = "x ADDR [LEN]",
	.summary = "hexdump LEN bytes (default 64) of target memory at ADDR",
	.help = "ADDR is a number (0x... for hex), a symbol, symbol+offset, or a\n"
		"register of the first thread ($rsp, $pc).  LEN accepts k and M\n"
		"suffixes, up to 1M.  JSON: addr, len and the bytes as a hex string.",
	.flags = CMD_NEEDS_TARGET,
	.exec = x_exec,
};
