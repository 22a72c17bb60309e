/*
 * cmd-bins.c - `bins [tcache|fast|unsorted|small|large]`: the free lists
 * in the order malloc would take from them: each thread's tcache, each
 * arena's fastbins, unsorted bin, small and large bins.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "ptmalloc.h"

#include <inttypes.h>
#include <string.h>

#define SHOW 8	/* chunks shown per list in text */

static void
emit_list(struct session *s, const struct heap *h, const struct hlist *l)
{
	em_item_open(s->em);
	em_uint(s->em, "index", l->index);
	if (l->state == CS_TCACHE)
		em_fmt(s->em, "    bin {:%2u} size 0x{size:%" PRIx64 "}: ", l->index, ptm_tcache_size(l->index));
	else if (l->state == CS_FASTBIN)
		em_fmt(s->em, "    fastbin {:%u} size 0x{size:%" PRIx64 "}: ", l->index, ptm_fastbin_size(l->index));
	else if (l->state == CS_SMALLBIN)
		em_fmt(s->em, "    bin {:%3u} size 0x{size:%" PRIx64 "}: ", l->index, (uint64_t)l->index * 16);
	else
		em_fmt(s->em, "    bin {:%3u}: ", l->index);
	em_fmt(s->em, "{count:%u} chunk%s", l->count, l->count == 1 ? "" : "s");
	if (l->state == CS_TCACHE) {
		em_uint(s->em, "declared", l->declared);
		if (l->declared != l->count)
			em_text(s->em, " (counts[] says %u)", l->declared);
	}
	if (l->broken) {
		em_bool(s->em, "broken", true);
		em_text(s->em, " (list broken: see check)");
	}
	em_list_open(s->em, "chunks");
	for (uint32_t k = 0; k < l->count; k++) {
		uint64_t c = h->list_chunks.v[l->first + k];
		const struct hchunk *hc = heap_chunk_at(h, c);
		const uint8_t *ns = l->state == CS_LARGEBIN ? heap_bytes(h, c + 32, 16) : NULL;
		em_item_open(s->em);
		em_addr(s->em, "addr", c + 16);
		em_addr(s->em, "chunk", c);
		if (hc && hc->addr == c)
			em_uint(s->em, "size", hc->size);
		if (ns) {
			/* the ring of the bin's sizes (first chunk of each size) */
			em_addr(s->em, "fd_nextsize", ptm_rd64(ns));
			em_addr(s->em, "bk_nextsize", ptm_rd64(ns + 8));
		}
		em_item_close(s->em);
		if (k < SHOW) {
			if (ns && hc && hc->addr == c && (ptm_rd64(ns) || ptm_rd64(ns + 8)))
				em_text(s->em, "%s0x%" PRIx64 " (0x%" PRIx64 ", nextsize chunks 0x%" PRIx64 "/0x%" PRIx64 ")",
					k ? " -> " : ": ", c + 16, (uint64_t)hc->size, ptm_rd64(ns), ptm_rd64(ns + 8));
			else if (hc && hc->addr == c && l->state != CS_TCACHE && l->state != CS_FASTBIN &&
				 l->state != CS_SMALLBIN)
				em_text(s->em, "%s0x%" PRIx64 " (0x%" PRIx64 ")", k ? " -> " : ": ", c + 16, (uint64_t)hc->size);
			else
				em_text(s->em, "%s0x%" PRIx64, k ? " -> " : ": ", c + 16);
		} else if (k == SHOW) {
			em_text(s->em, " -> ... (%u more)", l->count - SHOW);
		}
	}
	em_list_close(s->em);
	em_text(s->em, "\n");
	em_item_close(s->em);
}

static void
emit_kind(struct session *s, const struct heap *h, enum chunk_state st, const char *key, const char *title)
{
	em_list_open(s->em, key);
	if (st == CS_TCACHE) {
		for (size_t t = 0; t < h->tcaches.n; t++) {
			const struct htcache *tc = &h->tcaches.v[t];
			em_item_open(s->em);
			em_fmt(s->em, "%s of thread {tid:%d}", title, (int)tc->tid);
			em_addr(s->em, "addr", tc->addr);
			if (!tc->known)
				em_text(s->em, ": not located\n");
			else if (!tc->addr)
				em_text(s->em, ": none yet\n");
			else
				em_fmt(s->em, " at {:%A}: {chunks:%" PRIu64 "} chunk%s\n", tc->addr, tc->chunks,
				       plural(tc->chunks));
			em_list_open(s->em, "bins");
			for (size_t i = 0; i < h->lists.n; i++)
				if (h->lists.v[i].state == CS_TCACHE && h->lists.v[i].owner == t)
					emit_list(s, h, &h->lists.v[i]);
			em_list_close(s->em);
			em_item_close(s->em);
		}
	} else {
		for (size_t a = 0; a < h->arenas.n; a++) {
			em_item_open(s->em);
			em_fmt(s->em, "%s of arena {arena:%zu}", title, a);
			em_fmt(s->em, " ({addr:%A})", h->arenas.v[a].addr);
			em_text(s->em, ":\n");
			em_list_open(s->em, "bins");
			for (size_t i = 0; i < h->lists.n; i++)
				if (h->lists.v[i].state == st && h->lists.v[i].owner == a)
					emit_list(s, h, &h->lists.v[i]);
			em_list_close(s->em);
			em_item_close(s->em);
		}
	}
	em_list_close(s->em);
}

static int
bins_exec(struct session *s, int argc, char **argv)
{
	static const struct {
		const char *word;
		enum chunk_state st;
		const char *key, *title;
	} kinds[] = {
		{ "tcache", CS_TCACHE, "tcache", "tcache" },
		{ "fast", CS_FASTBIN, "fastbins", "fastbins" },
		{ "unsorted", CS_UNSORTED, "unsorted", "unsorted bin" },
		{ "small", CS_SMALLBIN, "smallbins", "small bins" },
		{ "large", CS_LARGEBIN, "largebins", "large bins" },
	};
	struct heap *h;
	int only = -1;

	if (argc > 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_bins_entry.usage);
	if (argc == 2) {
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
			if (!strcmp(argv[1], kinds[i].word) || !strcmp(argv[1], kinds[i].key))
				only = (int)i;
		if (only < 0)
			return hd_fail(HD_EUSAGE, "bins: '%s' is not one of tcache, fast, unsorted, small, large", argv[1]);
	}
	h = session_glibc_heap(s);
	if (!h)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		if (kinds[i].st == CS_FASTBIN && h->mi->L.nfastbins == 0)
			continue;
		emit_kind(s, h, kinds[i].st, kinds[i].key, kinds[i].title);
	}
	return 0;
}

static const char *const bins_words[] = { "tcache", "fast", "unsorted", "small", "large", NULL };

const struct cmd_entry cmd_bins_entry = {
	.name = "bins",
	.usage = "bins [tcache|fast|unsorted|small|large]",
	.summary = "free lists: per-thread tcache, fastbins, unsorted, small and large bins",
	.help = "Shows every free list in the order malloc takes from it, with the\n"
		"user addresses of its chunks (safe-linking revealed); large-bin chunks\n"
		"with their size and, for the first of each size, fd_nextsize/bk_nextsize\n"
		"(the ring of the bin's sizes).  A tcache bin\n"
		"whose counts[] entry disagrees with its list, or a list that stopped\n"
		"on a bad pointer or a cycle, is marked; `check` says why.",
	.words = bins_words,
	.flags = CMD_NEEDS_TARGET,
	.exec = bins_exec,
};
