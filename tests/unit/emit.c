/*
 * Unit tests: the emitter (JSON Lines and text from the same calls).
 */
#include "config.h"
#include "emit.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
capture(enum em_mode mode, void (*fn)(struct emitter *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct emitter *em = em_new(f, mode);
	fn(em);
	em_free(em);
	fclose(f);
	return buf;
}

static void
basic(struct emitter *em)
{
	em_begin(em, "heap");
	em_fmt(em, "Arenas: {arenas:%zu}, top {top:%A}, name {name:%-6s}|\n", (size_t)3, (uint64_t)0xabc, "x\"y");
	em_list_open(em, "list");
	for (int i = 0; i < 2; i++) {
		em_item_open(em);
		em_fmt(em, "%s{n:%d}", i ? "," : "", i);
		em_item_close(em);
	}
	em_list_close(em);
	em_str(em, "esc", "a\nb\t\x01\xff");
	em_double(em, "d", 1.5);
	em_bool(em, "b", true);
	em_text(em, "\n");
	em_end(em);
}

static void
failing(struct emitter *em)
{
	hd_quiet_warnings = true;
	em_begin(em, "chunks");
	em_list_open(em, "chunks");
	em_item_open(em);
	em_uint(em, "size", 32);
	em_error(em, "cannot read memory");
}

static void
pct(struct emitter *em)
{
	em_begin(em, "x");
	em_fmt(em, "100%% {v:%u} %5.1f%%\n", 7u, 2.25);
	em_end(em);
}

static void
hostile(struct emitter *em)
{
	em_begin(em, "info");
	em_fmt(em, "Command: {cmdline:%s}|%s\n", "a\033[2Jb\n\tc\177", "raw\t");
	em_text(em, "module %s\tok\n", "/lib/x\033]0;title\007.so");
	em_end(em);
}

int
main(void)
{
	char *s;

	s = capture(EM_JSON, basic);
	is_str(s, "{\"cmd\":\"heap\",\"arenas\":3,\"top\":\"0xabc\",\"name\":\"x\\\"y\",\"list\":[{\"n\":0},{\"n\":1}],"
		  "\"esc\":\"a\\nb\\t\\u0001\\u00ff\",\"d\":1.5,\"b\":true}\n", "JSON: one line, fields, lists, escapes");
	free(s);
	s = capture(EM_TEXT, basic);
	is_str(s, "Arenas: 3, top 0xabc, name x\"y   |\n0,1\n", "text: the same calls render text");
	free(s);
	s = capture(EM_JSON, failing);
	is_str(s, "{\"cmd\":\"chunks\",\"error\":\"cannot read memory\"}\n", "JSON: a failed command is cmd + error only");
	free(s);
	s = capture(EM_TEXT, pct);
	is_str(s, "100% 7   2.2%\n", "text: %% and float conversions");
	free(s);
	s = capture(EM_TEXT, hostile);
	is_str(s, "Command: a\\x1b[2Jb\\n\\tc\\x7f|raw\t\nmodule /lib/x\\x1b]0;title\\x07.so\tok\n",
	       "text: control bytes of a keyed value are escaped; elsewhere all but lines and tabs");
	free(s);
	s = capture(EM_JSON, hostile);
	is_str(s, "{\"cmd\":\"info\",\"cmdline\":\"a\\u001b[2Jb\\n\\tc\\u007f\"}\n",
	       "JSON: the same value, JSON-escaped");
	free(s);
	return tap_done();
}
