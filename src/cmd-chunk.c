/*
 * cmd-chunk.c - `chunk ADDR`: one chunk in full: header fields and flags,
 * state and the free list holding it, neighbours, first bytes.  ADDR may
 * point anywhere inside the chunk.
 */
#include "config.h"
#include "cmd.h"
#include "heap.h"
#include "ptmalloc.h"
#include "allocinfo.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#define SHOW_BYTES 64

/* Which list holds chunk c: a text, and its position. */
static const struct hlist *
find_list(const struct heap *h, uint64_t chunk, uint32_t *pos)
{
	for (size_t i = 0; i < h->lists.n; i++) {
		const struct hlist *l = &h->lists.v[i];
		for (uint32_t k = 0; k < l->count; k++)
			if (h->list_chunks.v[l->first + k] == chunk) {
				*pos = k;
				return l;
			}
	}
	return NULL;
}

static void
neighbour(struct session *s, const char *key, const struct hchunk *c)
{
	em_obj_open(s->em, key);
	em_fmt(s->em, "  %-10s {chunk:%A} ", key, c->addr);
	em_fmt(s->em, "{state:%s} ", chunk_state_name(c->state));
	em_fmt(s->em, "size {size:%" PRIu64 "}\n", c->size);
	em_obj_close(s->em);
}

static int
chunk_exec(struct session *s, int argc, char **argv)
{
	uint64_t addr, prev_size = 0, size_field = 0;
	const struct hchunk *c;
	struct heap *h;
	const struct hlist *l;
	uint32_t pos = 0;
	uint8_t hdr[16], bytes[SHOW_BYTES];
	size_t nb;
	size_t idx;

	if (argc != 2)
		return hd_fail(HD_EUSAGE, "usage: %s", cmd_chunk_entry.usage);
	if (session_parse_addr(s, argv[1], &addr) < 0)
		return -1;
	h = session_glibc_heap(s);
	if (!h)
		return -1;
	c = heap_chunk_at(h, addr);
	if (!c)
		return hd_fail(HD_ENOENT, "0x%" PRIx64 " is not inside any chunk of the heap", addr);
	if (target_read(s->t, c->addr, hdr, 16) == 0) {
		prev_size = chunk_prev_size(hdr);
		size_field = chunk_size_field(hdr);
	}
	em_fmt(s->em, "Chunk {chunk:%A}", c->addr);
	em_fmt(s->em, " (user {addr:%A})", hchunk_mem(c));
	if (c->arena == HEAP_NO_ARENA) {
		em_null(s->em, "arena");
		em_text(s->em, ", mmapped\n");
	} else {
		em_fmt(s->em, " in arena {arena:%u}", (unsigned)c->arena);
		em_text(s->em, "%s\n", h->arenas.v[c->arena].main ? " (main)" : "");
	}
	em_fmt(s->em, "  state      {state:%s}", chunk_state_name(c->state));
	l = chunk_state_free(c->state) && c->state != CS_TOP ? find_list(h, c->addr, &pos) : NULL;
	if (l) {
		char where[96];
		if (l->state == CS_TCACHE)
			snprintf(where, sizeof(where), "tcache bin %u of thread %d", l->index,
				 (int)h->tcaches.v[l->owner].tid);
		else
			snprintf(where, sizeof(where), "%s %u of arena %u", chunk_state_name(l->state), l->index, l->owner);
		em_obj_open(s->em, "list");
		em_fmt(s->em, " ({where:%s}, ", where);
		em_fmt(s->em, "entry {position:%u} ", pos + 1);
		em_fmt(s->em, "of {length:%u})", l->count);
		em_uint(s->em, "index", l->index);
		em_obj_close(s->em);
	}
	em_text(s->em, "\n");
	em_fmt(s->em, "  size       {size:%" PRIu64 "}", c->size);
	em_fmt(s->em, " (0x%" PRIx64 "), usable {usable:%" PRIu64 "}\n", c->size, hchunk_usable(c));
	em_fmt(s->em, "  size field 0x{size_field:%" PRIx64 "}: flags ", size_field);
	em_list_open(s->em, "flags");
	if (size_field & PTM_PREV_INUSE)
		em_fmt(s->em, "{:%s}", "PREV_INUSE "), em_str(s->em, NULL, "PREV_INUSE");
	if (size_field & PTM_IS_MMAPPED)
		em_fmt(s->em, "{:%s}", "IS_MMAPPED "), em_str(s->em, NULL, "IS_MMAPPED");
	if (size_field & PTM_NON_MAIN_ARENA)
		em_fmt(s->em, "{:%s}", "NON_MAIN_ARENA"), em_str(s->em, NULL, "NON_MAIN_ARENA");
	em_list_close(s->em);
	em_text(s->em, "\n");
	em_uint(s->em, "prev_size", prev_size);
	em_text(s->em, "  prev_size  0x%" PRIx64 " (%" PRIu64 ")\n", prev_size, prev_size);
	if (c->state == CS_MMAPPED)
		em_fmt(s->em, "  mapping    offset {mmap_offset:%" PRIu64 "}\n", hchunk_mmap_offset(h, c));
	if (chunk_state_free(c->state) && c->state != CS_TOP) {
		uint64_t fd = 0, bk = 0;
		const struct malloc_layout *L = &h->mi->L;
		target_read_u64(s->t, c->addr + 16, &fd);
		target_read_u64(s->t, c->addr + 24, &bk);
		if ((c->state == CS_TCACHE || c->state == CS_FASTBIN) && L->safe_linking) {
			uint64_t raw = fd;
			fd = ptm_reveal(c->addr + 16, raw);
			em_fmt(s->em, "  next       {fd:%A} (stored {fd_raw:%A}, safe-linked)\n", fd, raw);
		} else {
			em_fmt(s->em, "  fd         {fd:%A}\n", fd);
		}
		if (c->state == CS_TCACHE && L->te_key >= 0)
			em_fmt(s->em, "  key        {key:%A}%s\n", bk,
			       h->mi->have_tcache_key && bk == h->mi->tcache_key ? " (tcache_key)" : "");
		else if (c->state != CS_FASTBIN)
			em_fmt(s->em, "  bk         {bk:%A}\n", bk);
		if (c->state == CS_LARGEBIN) {
			uint64_t fdn = 0, bkn = 0;
			target_read_u64(s->t, c->addr + 32, &fdn);
			target_read_u64(s->t, c->addr + 40, &bkn);
			em_fmt(s->em, "  fd_nextsize {fd_nextsize:%A}\n", fdn);
			em_fmt(s->em, "  bk_nextsize {bk_nextsize:%A}%s\n", bkn,
			       fdn || bkn ? "" : " (not the first of its size)");
		}
	}
	{
		/* what the tracer knows */
		struct alloc_record ar;
		const struct alloc_source *src = session_alloc_source(s);
		if (alloc_lookup(src, hchunk_mem(c), &ar)) {
			int np;
			const uint64_t *pcs = stack_pcs(src->stacks, ar.stack, &np);
			em_obj_open(s->em, "alloc");
			em_fmt(s->em, "  allocated {req:%" PRIu64 "} bytes requested", ar.req);
			em_fmt(s->em, ", allocation #{seq:%" PRIu64 "}", ar.seq);
			em_fmt(s->em, ", {age:%.1f} s ago, at:\n", hd_wall_time() - ar.time);
			cmd_emit_alloc_frames(s, pcs, np, "    ");
			em_obj_close(s->em);
		}
	}
	idx = heap_chunk_lower_bound(h, c->addr);
	if (idx > 0 && h->chunks[idx - 1].addr + h->chunks[idx - 1].size == c->addr)
		neighbour(s, "prev", &h->chunks[idx - 1]);
	if (idx + 1 < h->nchunks && c->addr + c->size == h->chunks[idx + 1].addr)
		neighbour(s, "next", &h->chunks[idx + 1]);
	nb = target_read_partial(s->t, hchunk_mem(c), bytes, MIN(SHOW_BYTES, MAX(hchunk_usable(c), 16)));
	if (em_json(s->em)) {
		struct sbuf hex;
		sb_init(&hex);
		for (size_t i = 0; i < nb; i++)
			sb_printf(&hex, "%02x", bytes[i]);
		em_str(s->em, "bytes", hex.s ? hex.s : "");
		sb_free(&hex);
	} else {
		for (size_t i = 0; i < nb; i += 16) {
			char ascii[17];
			size_t n = MIN(16, nb - i);
			em_text(s->em, "  %s", i ? "          " : "data      ");
			for (size_t k = 0; k < 16; k++) {
				if (k < n)
					em_text(s->em, "%02x ", bytes[i + k]);
				else
					em_text(s->em, "   ");
				ascii[k] = k < n ? (isprint(bytes[i + k]) ? (char)bytes[i + k] : '.') : 0;
			}
			ascii[n] = 0;
			em_text(s->em, " |%s|\n", ascii);
		}
	}
	return 0;
}

const struct cmd_entry cmd_chunk_entry = {
	.name = "chunk",
	.usage = "chunk ADDR",
	.summary = "one chunk in full: header, flags, state, list, neighbours, bytes",
	.help = "ADDR may be any address inside a chunk (the user pointer, the header,\n"
		"or an interior pointer).  Shows the header fields and flag bits, the\n"
		"state and the free list holding it (with its position), next/fd and\n"
		"bk pointers of free chunks (safe-linking revealed), the neighbouring\n"
		"chunks, and the first bytes of user data.",
	.flags = CMD_NEEDS_TARGET,
	.exec = chunk_exec,
};
