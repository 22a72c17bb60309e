/*
 * suppress.h - valgrind's suppression files for the leak check: read
 * them (--suppressions=FILE), match a loss record's allocation stack and
 * kind against them, and write one per record (--gen-suppressions=all),
 * all in valgrind's own format and with the frame names valgrind uses,
 * so that a file either tool wrote suppresses the same records in both.
 *
 * The format, as valgrind's m_errormgr.c reads it: blank lines and lines
 * starting with '#' are skipped, leading and trailing blanks trimmed.
 *
 *   {
 *      NAME
 *      Memcheck:Leak             (TOOL,TOOL:KIND; other tools' entries
 *                                 are skipped, memcheck's other kinds
 *                                 read and never match a leak)
 *      match-leak-kinds: definite,possible   (optional; default all)
 *      fun:malloc                (a function, mangled, * and ? wildcards)
 *      obj:*libfoo.so*           (an object file's path)
 *      src:foo.c:12              (a source file's name, optionally a line)
 *      ...                       (any number of frames, none included)
 *      fun:main
 *   }
 *
 * Frames beyond valgrind's default --num-callers (12) are ignored, as
 * valgrind ignores them.  A stack is valgrind's view of it (vg_stack):
 * the allocator function the program called first (malloc, calloc,
 * _Znwm, ...), then every frame with inlined calls, up to 12 program
 * counters, ending at main.
 */
#ifndef HEAPDBG_SUPPRESS_H
#define HEAPDBG_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reach.h"
#include "symbols.h"
#include "util.h"

#define VG_NUM_CALLERS 12

enum supp_loc { SL_FUN, SL_OBJ, SL_SRC, SL_DOTS };

struct supp_frame {
	enum supp_loc kind;
	char *pat;		/* NULL for SL_DOTS */
	int line;		/* SL_SRC: 0 for any line */
};

struct supp {
	char *name;
	const char *file;	/* the file it came from (owned by the set) */
	int line;		/* of its name */
	bool leak;		/* Memcheck:Leak (others never match here) */
	unsigned kinds;		/* match-leak-kinds: bits 1 << enum leak_kind */
	struct supp_frame *frames;
	size_t nframes;
	/* what it suppressed */
	uint64_t records, blocks, bytes;
};

struct supp_set {
	VEC(struct supp) v;
	VEC(char *) files;
};

/* Read one file into set (the entries follow those already there).  0,
 * or -1 with an hd error "FILE:LINE: what is wrong" (the set keeps the
 * entries before the bad one). */
int supp_load(struct supp_set *set, const char *path);
void supp_set_free(struct supp_set *set);

/* One frame as valgrind names it. */
struct vg_frame {
	const char *fun;	/* mangled; NULL when the pc has no symbol */
	const char *obj;	/* the object file's path, or NULL */
	const char *file;	/* the source file's name (no directory), or NULL */
	int line;
	/* what valgrind matches a src: line against: the location of the
	 * program counter of the same index, counting pcs, not frames (its
	 * supp_pattEQinp indexes the pcs by the frame's index, so after an
	 * inlined call the two part); NULL when there is none */
	const char *src_file;
	int src_line;
};

/* valgrind's view of an allocation stack as the tracer took it (pcs[0]
 * at the allocator's entry, then return addresses): the allocator the
 * program called (its malloc or operator new frames folded into one,
 * named as valgrind's replacement is named, in valgrind's preload
 * object), then each frame with its inlined calls, at most
 * VG_NUM_CALLERS pcs, cut after main (or at the innermost function
 * below main, named "(below main)").  Frames into *out (xmalloc'd; the
 * strings are owned by sym); their count. */
size_t vg_stack(struct symbols *sym, const uint64_t *pcs, int n, struct vg_frame **out);

/* The first entry of set, in valgrind's order (the last one read is
 * tried first), that suppresses a record of this kind and stack, or
 * NULL.  A record without a stack (n == 0: untraced, or allocated
 * before tracing) is suppressed only by an entry that would match any
 * stack (supp_any_stack). */
struct supp *supp_match(struct supp_set *set, enum leak_kind kind, const struct vg_frame *f, size_t n);

/* Whether every location line of sp matches any frame: "...", or fun:
 * or obj: with a pattern of '*' only (a file valgrind reads too, which
 * it matches against every stack); only such an entry suppresses a
 * record without a stack.  An entry of "..." alone is refused by
 * supp_load, as by valgrind. */
bool supp_any_stack(const struct supp *sp);

/* A suppression for the record in valgrind's --gen-suppressions format
 * (the "{ ... }" block, each line ending in '\n') into sb. */
void supp_format(struct sbuf *sb, enum leak_kind kind, const struct vg_frame *f, size_t n);

/* valgrind's VG_(string_match): the whole of s against pat, '*' any run
 * of characters, '?' any one (no escapes). */
bool supp_string_match(const char *pat, const char *s);

#endif
