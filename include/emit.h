/*
 * emit.h - the one output path for every command: text for people, JSON
 * Lines for machines, from the same calls.
 *
 * A command opens its object with em_begin(em, "name") and closes it with
 * em_end().  In JSON mode each command prints exactly one object on one
 * line: {"cmd":"name", ...}.  Fields are added with em_str/em_uint/...
 * (JSON only) or with em_fmt(), a small libxo-style formatter whose
 * format string renders both ways:
 *
 *	em_fmt(em, "Threads: {threads:%zu}\n", n);
 *
 * prints "Threads: 4" in text mode and adds "threads":4 to the JSON
 * object.  Text outside {} is text-only.  {:fmt} is a text-only value.
 * Conversions: d i u x o (with hh h l ll z j t), s, c, f g e, and A: an
 * address (uint64_t) shown as 0x... in text and as a "0x..." string in
 * JSON.  em_text() prints text only.
 *
 * Containers: em_obj_open(key)/em_obj_close(), em_list_open(key)/
 * em_list_close(), and em_item_open()/em_item_close() for an object inside
 * a list; scalars inside a list use a NULL key.
 *
 * If a command fails, em_error(msg) replaces its output: in JSON mode by
 * {"cmd":"name","error":"msg"} (or, when a very large object was already
 * partly written, by closing it with an "error" key), in both modes the
 * message also goes to stderr.
 */
#ifndef HEAPDBG_EMIT_H
#define HEAPDBG_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum em_mode { EM_TEXT, EM_JSON };

struct emitter;

struct emitter *em_new(FILE *out, enum em_mode mode);
void em_free(struct emitter *em);
enum em_mode em_mode(const struct emitter *em);
static inline bool em_json(const struct emitter *em) { return em_mode(em) == EM_JSON; }

void em_begin(struct emitter *em, const char *cmd);
/* Finish the object; returns -1 if stdout failed (EPIPE: reader gone). */
int em_end(struct emitter *em);
/* Text mode: send what was printed now (a line before a long wait). */
void em_flush(struct emitter *em);
/* A command that reports as it goes (monitor's samples): in JSON mode,
 * write the object so far as its own line and begin another with the
 * same "cmd"; in text mode, flush what was printed.  -1 if the write
 * failed. */
int em_next(struct emitter *em);
/* The command failed with msg: see above. Ends the object. */
int em_error(struct emitter *em, const char *msg);
/* Is an object open (between em_begin and em_end)? */
bool em_active(const struct emitter *em);

void em_obj_open(struct emitter *em, const char *key);
void em_obj_close(struct emitter *em);
void em_list_open(struct emitter *em, const char *key);
void em_list_close(struct emitter *em);
void em_item_open(struct emitter *em);
void em_item_close(struct emitter *em);

/* JSON-only fields (key NULL inside a list). */
void em_str(struct emitter *em, const char *key, const char *val);	/* NULL -> null */
void em_strn(struct emitter *em, const char *key, const char *val, size_t n);
void em_int(struct emitter *em, const char *key, int64_t val);
void em_uint(struct emitter *em, const char *key, uint64_t val);
void em_addr(struct emitter *em, const char *key, uint64_t val);
void em_bool(struct emitter *em, const char *key, bool val);
void em_double(struct emitter *em, const char *key, double val);
void em_null(struct emitter *em, const char *key);

/* Both modes, see above. */
void em_fmt(struct emitter *em, const char *fmt, ...);
/* Text mode only. */
void em_text(struct emitter *em, const char *fmt, ...) PRINTF(2, 3);

/* Escape s as a JSON string (with quotes) into sb. */
void json_escape(struct sbuf *sb, const char *s, size_t n);

#endif
