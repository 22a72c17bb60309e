/*
 * cmd-chunks.c - `chunks [--state S] [--arena A] [--min-size N]
 * [--max-size N] [--limit N]`: list chunks from the heap walk.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Parse --arena: an index or an arena address. */
static int
parse_arena(const struct heap *h, const char *s, int *out)
{
	uint64_t v;
	if (!strcmp(s, "mmapped")) {
		*out = HEAP_NO_ARENA;
		return 0;
	}
	if (parse_u64(s, &v, false) < 0)
		return hd_fail(HD_EUSAGE, "--arena: '%s' is not an arena index or address", s);
	if (v < h->arenas.n) {
		*out = (int)v;
		return 0;
	}
	for (size_t i = 0; i < h->arenas.n; i++)
		if (h->arenas.v[i].addr == v) {
			*out = (int)i;
			return 0;
		}
	return hd_fail(HD_ENOENT, "no arena %s (there are %zu)", s, h->arenas.n);
}

/* Does the state filter (a state name, "free" or "inuse") match? */
static bool
state_matches(const char *filter, int st)
{
	if (!filter)
		return true;
	if (!strcmp(filter, "free"))
		return chunk_state_free((enum chunk_state)st) && st != CS_TOP;
	if (!strcmp(filter, "inuse"))
		return st == CS_USED || st == CS_MMAPPED;
	if (!strcmp(filter, "bins"))
		return st == CS_UNSORTED || st == CS_SMALLBIN || st == CS_LARGEBIN;
	return !strcmp(filter, chunk_state_name((enum chunk_state)st));
}

static int
chunks_exec(struct session *s, int argc, char **argv)
{
	const char *state = NULL, *arena_s = NULL;
	uint64_t min = 0, max = UINT64_MAX, limit = UINT64_MAX, count = 0, listed = 0, bytes = 0;
	int arena = -1, npos;
	struct heap *h;
	const struct opt_spec opts[] = {
		{ "--state", OPT_STR, &state, NULL },
		{ "--arena", OPT_STR, &arena_s, NULL },
		{ "--min-size", OPT_U64, &min, NULL },
		{ "--max-size", OPT_U64, &max, NULL },
		{ "--limit", OPT_U64, &limit, NULL },
		{ NULL, 0, NULL, NULL },
	};

	if (cmd_parse_opts(argc, argv, opts, &npos) < 0)
		return -1;
	if (npos)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_chunks_entry.usage);
	if (state && chunk_state_parse(state) == -1 && strcmp(state, "inuse"))
		return hd_fail(HD_EUSAGE, "--state: '%s' is not one of used, tcache, fastbin, unsorted, smallbin, "
			       "largebin, top, mmapped, free, inuse, bins", state);
	h = session_glibc_heap_nocopy(s);
	if (!h)
		return -1;
	if (arena_s && parse_arena(h, arena_s, &arena) < 0)
		return -1;
	em_text(s->em, "%-18s %-18s %10s %10s %-9s %s\n", "addr", "chunk", "size", "usable", "state", "arena");
	em_list_open(s->em, "chunks");
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hchunk *c = &h->chunks[i];
		if (!state_matches(state, c->state))
			continue;
		if (arena >= 0 && c->arena != arena)
			continue;
		if (c->size < min || c->size > max)
			continue;
		count++;
		bytes += c->size;
		if (listed >= limit)
			continue;
		listed++;
		em_item_open(s->em);
		em_fmt(s->em, "{addr:%-18A} {chunk:%-18A} {size:%10" PRIu64 "} {usable:%10" PRIu64 "} {state:%-9s} ",
		       hchunk_mem(c), c->addr, c->size, hchunk_usable(c), chunk_state_name(c->state));
		if (c->arena == HEAP_NO_ARENA) {
			em_null(s->em, "arena");
			em_text(s->em, "-");
		} else {
			em_fmt(s->em, "{arena:%u}", (unsigned)c->arena);
		}
		em_text(s->em, "\n");
		em_item_close(s->em);
	}
	em_list_close(s->em);
	em_uint(s->em, "count", count);
	em_uint(s->em, "listed", listed);
	em_uint(s->em, "bytes", bytes);
	em_text(s->em, "%" PRIu64 " chunk%s, %" PRIu64 " bytes%s\n", count, count == 1 ? "" : "s", bytes,
		listed < count ? " (listing limited by --limit)" : "");
	return 0;
}

static const char *const chunks_opts[] = { "--state", "--arena", "--min-size", "--max-size", "--limit", NULL };
static const char *const chunks_words[] = { "used", "tcache", "fastbin", "unsorted", "smallbin", "largebin",
					    "top", "mmapped", "free", "inuse", "bins", NULL };

const struct cmd_entry cmd_chunks_entry = {
	.name = "chunks",
	.usage = "chunks [--state S] [--arena A] [--min-size N] [--max-size N] [--limit N]",
	.summary = "list chunks, filtered by state, arena and size",
	.help = "Lists chunks in address order: user address, chunk address, chunk size,\n"
		"usable size, state and arena index.  --state is one of used, tcache,\n"
		"fastbin, unsorted, smallbin, largebin, top, mmapped, or the groups free,\n"
		"inuse and bins.  --arena takes an index (as `heap` numbers them) or an\n"
		"arena address, or `mmapped`.  Sizes are chunk sizes and accept k/M\n"
		"suffixes.  --limit N lists at most N (count still counts them all).",
	.options = chunks_opts,
	.words = chunks_words,
	.flags = CMD_NEEDS_TARGET,
	.exec = chunks_exec,
};
