/*
 * memerr-report.c - the tracer's memory errors (double and invalid
 * frees, reallocs of freed blocks, overflows seen at a free), reported in
 * the user's words first ("double free of block 0x... (N bytes)"), then
 * as valgrind says it ("Invalid free() / delete / delete[] / realloc()",
 * "Address 0x... is 0 bytes inside a block of size N free'd") with the
 * three stacks: this call, the first free, the allocation.
 */
#include "config.h"
#include "cmd.h"
#include "tracer.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

static void
emit_stack(struct session *s, const char *key, uint32_t id, const char *what)
{
	const struct stack_table *st = tracer_stacks(s->tracer);
	int n;
	const uint64_t *pcs = stack_pcs(st, id, &n);

	em_obj_open(s->em, key);
	if (!id || n == 0) {
		em_text(s->em, "   %s: no stack recorded\n", what);
		em_bool(s->em, "known", false);
	} else {
		em_text(s->em, "   %s:\n", what);
		cmd_emit_alloc_frames(s, pcs, n, "     ");
	}
	em_obj_close(s->em);
}

static void
emit_one(struct session *s, const struct memerr *me)
{
	char what[160];
	const char *valgrind = "Invalid free() / delete / delete[] / realloc()";

	em_item_open(s->em);
	em_str(s->em, "kind", memerr_kind_name(me->kind));
	em_str(s->em, "call", tfunc_name(me->func));
	em_int(s->em, "thread", me->tid);
	em_addr(s->em, "addr", me->addr);
	em_bool(s->em, "held", me->held);
	em_bool(s->em, "at_read", me->at_read);
	switch (me->kind) {
	case ME_DOUBLE_FREE:
		snprintf(what, sizeof(what), "double free of block 0x%" PRIx64 " (%" PRIu64 " bytes)", me->block,
			 me->block_size);
		break;
	case ME_REALLOC_FREED:
		snprintf(what, sizeof(what), "realloc of block 0x%" PRIx64 " (%" PRIu64 " bytes), freed already",
			 me->block, me->block_size);
		break;
	case ME_INTERIOR_FREE:
		snprintf(what, sizeof(what), "free of 0x%" PRIx64 ", %" PRIu64 " bytes inside block 0x%" PRIx64
			 " (%" PRIu64 " bytes)", me->addr, me->addr - me->block, me->block, me->block_size);
		break;
	case ME_INVALID_REALLOC:
		if (me->block)
			snprintf(what, sizeof(what), "realloc of 0x%" PRIx64 ", %" PRIu64 " bytes inside block 0x%"
				 PRIx64 " (%" PRIu64 " bytes)", me->addr, me->addr - me->block, me->block,
				 me->block_size);
		else
			snprintf(what, sizeof(what), "realloc of 0x%" PRIx64 ", which is no heap block", me->addr);
		break;
	case ME_INVALID_FREE:
		snprintf(what, sizeof(what), "free of 0x%" PRIx64 ", which is no heap block", me->addr);
		break;
	case ME_OVERFLOW:
		if (me->own_header && me->block != me->damaged)
			snprintf(what, sizeof(what), "probable overflow from block 0x%" PRIx64 " (%" PRIu64 " bytes) "
				 "below it: the header of block 0x%" PRIx64 " (%" PRIu64 " bytes) is damaged",
				 me->block, me->block_size, me->damaged, me->damaged_size);
		else if (me->own_header)
			snprintf(what, sizeof(what), "the header of block 0x%" PRIx64 " (%" PRIu64 " bytes) is damaged: "
				 "an overflow from below it or a stray write", me->damaged, me->damaged_size);
		else
			snprintf(what, sizeof(what), "probable overflow from block 0x%" PRIx64 " (%" PRIu64 " bytes): "
				 "the header of the next chunk, 0x%" PRIx64 ", is damaged", me->block, me->block_size,
				 me->chunk);
		break;
	}
	em_fmt(s->em, "Memory error: {message:%s}", what);
	em_text(s->em, " (%s in thread %d%s)\n", tfunc_name(me->func), (int)me->tid,
		 me->held ? "; held at the call" : me->at_read ? "; seen when the fast tracer's event was read, after the call" : "");
	if (me->kind == ME_OVERFLOW) {
		char hex[3 * 16 + 1], text[17];
		char compact[33];
		for (size_t i = 0; i < me->nbytes; i++) {
			snprintf(hex + 3 * i, 4, "%02x ", me->bytes[i]);
			snprintf(compact + 2 * i, 3, "%02x", me->bytes[i]);
			text[i] = isprint(me->bytes[i]) ? (char)me->bytes[i] : '.';
		}
		hex[me->nbytes ? 3 * me->nbytes - 1 : 0] = 0;
		compact[2 * me->nbytes] = 0;
		text[me->nbytes] = 0;
		em_addr(s->em, "chunk", me->chunk);
		if (me->glibc)
			em_fmt(s->em, "   glibc's check at this call: \"{glibc:%s}\"\n", me->glibc);
		em_addr(s->em, "bytes_at", me->bytes_at);
		em_str(s->em, "bytes", compact);
		em_str(s->em, "text", text);
		if (me->own_header) {
			em_uint(s->em, "size_field", me->hdr_size);
			em_uint(s->em, "size_expected", me->want_size);
			em_text(s->em, "   its size field says 0x%" PRIx64 " bytes, where a block of %" PRIu64
				" bytes has a chunk of 0x%" PRIx64 "%s%s\n", me->hdr_size, me->damaged_size, me->want_size,
				me->hdr_size > me->want_size && !(me->bytes[8] & 2) ? " (or 16 more)" : "",
				me->hdr_size > me->want_size ? ": freed, it would take the memory above it" : "");
			em_text(s->em, "   bytes at 0x%" PRIx64 " (its prev_size and size): %s  \"%s\"\n", me->bytes_at, hex,
				text);
			em_obj_open(s->em, "damaged");
			em_addr(s->em, "addr", me->damaged);
			em_uint(s->em, "size", me->damaged_size);
			if (me->block != me->damaged)
				emit_stack(s, "alloc_stack", me->damaged_stack, "The damaged block was alloc'd at");
			em_obj_close(s->em);
		} else {
			em_text(s->em, "   bytes at 0x%" PRIx64 " (prev_size and size of the next chunk): %s  \"%s\"\n",
				me->bytes_at, hex, text);
		}
	} else {
		em_text(s->em, "%s\n", valgrind);
	}
	emit_stack(s, "stack", me->call_stack, "at this call");
	em_obj_open(s->em, "block");
	if (me->block) {
		em_addr(s->em, "addr", me->block);
		em_uint(s->em, "size", me->block_size);
		em_bool(s->em, "before_tracing", me->block_pre);
		if (me->kind == ME_DOUBLE_FREE || me->kind == ME_REALLOC_FREED)
			em_text(s->em, " Address 0x%" PRIx64 " is 0 bytes inside a block of size %" PRIu64 " free'd\n",
				me->addr, me->block_size);
		else if (me->kind != ME_OVERFLOW)
			em_text(s->em, " Address 0x%" PRIx64 " is %" PRIu64 " bytes inside a block of size %" PRIu64
				" alloc'd\n", me->addr, me->addr - me->block, me->block_size);
		if ((me->kind == ME_DOUBLE_FREE || me->kind == ME_REALLOC_FREED) && me->block_pre && !me->free_stack) {
			em_text(s->em, "   first freed before tracing started\n");
			em_null(s->em, "free_stack");
		} else if (me->kind == ME_DOUBLE_FREE || me->kind == ME_REALLOC_FREED) {
			emit_stack(s, "free_stack", me->free_stack, "first freed at");
		}
		if (me->block_pre) {
			em_text(s->em, "   allocated before tracing started\n");
			em_null(s->em, "alloc_stack");
		} else {
			emit_stack(s, "alloc_stack", me->alloc_stack, "Block was alloc'd at");
		}
	} else {
		em_text(s->em, " Address 0x%" PRIx64 " is not a heap block heapdbg knows (none in use, none freed)\n",
			me->addr);
		em_null(s->em, "addr");
	}
	em_obj_close(s->em);
	em_item_close(s->em);
}

void
cmd_emit_memerrs(struct session *s)
{
	size_t n;
	const struct memerr *v;

	if (!s->tracer)
		return;
	v = tracer_errors(s->tracer, &n);
	if (!n)
		return;
	s->found_problem = true;
	em_list_open(s->em, "memory_errors");
	for (size_t i = 0; i < n; i++)
		emit_one(s, &v[i]);
	em_list_close(s->em);
	tracer_clear_errors(s->tracer);
}
