/*
 * locate.h - find the allocator in a target and everything a heap walk
 * needs: which module provides malloc (the link map's search order, so an
 * interposed jemalloc or tcmalloc is named), the glibc version and struct
 * layout (from libc's DWARF when present, else the built-in table),
 * main_arena, mp_, each thread's tcache and tcache_key.
 *
 * Each address is found by the best method available and validated
 * before use; `how` strings say which method worked, for `info`:
 *   symbol          libc's symbol table (its separate debug file)
 *   static-image    pwndbg's pattern in libc's .data file image (RELR/RELA)
 *   runtime-scan    arena-shaped memory in libc's writable mappings
 *   sbrk-base       mp_ found by its sbrk_base field equal to [heap]
 *   tls-got         the tcache TLS variable through libc's TPOFF64 GOT slot
 *   tls-got-scan    every TPOFF64 slot tried, the one that validates kept
 */
#ifndef HEAPDBG_LOCATE_H
#define HEAPDBG_LOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "glibc-layout.h"
#include "symbols.h"
#include "target.h"

enum allocator_kind {
	ALLOC_GLIBC,
	ALLOC_JEMALLOC,
	ALLOC_TCMALLOC,
	ALLOC_MIMALLOC,
	ALLOC_MUSL,
	ALLOC_SANITIZER,
	ALLOC_UNKNOWN,
};

struct tcache_ref {
	pid_t tid;
	uint64_t tcache;	/* address of its tcache_perthread_struct, 0 if none */
	bool known;		/* the TLS slot could be read */
	bool tls_lost;		/* its TLS reads as zeros (a core that lacks it) */
};

struct malloc_info {
	enum allocator_kind allocator;
	char *provider;		/* path of the module that defines malloc */
	char *detail;		/* one sentence for `info` */
	bool static_glibc;
	char version[32];	/* "2.36" */
	unsigned vmajor, vminor;
	const char *version_how;	/* where the version was read: "banner", ... */
	struct malloc_layout L;
	char layout_desc[96];
	/* the table's row against the layout DWARF gives: "agrees",
	 * "differs: FIELDS", "unchecked" (no DWARF), "nearest row" (no exact
	 * row for this version) */
	char layout_table[160];
	/* the layout failed a consistency check (its own, or against the
	 * target's symbols): what is wrong; NULL when it is sound.  No walk
	 * is done with such a layout. */
	char *layout_problem;
	char *libc_path;	/* module holding main_arena (malloc's state) */
	uint64_t libc_bias;
	uint64_t main_arena;
	const char *main_arena_how;
	uint64_t mp;
	const char *mp_how;
	uint8_t mp_bytes[512];	/* mp_ as read */
	bool initialised;	/* ptmalloc_init has run */
	uint64_t heap_max;	/* non-main heap size and alignment */
	int64_t tcache_tpoff;
	bool have_tcache_tpoff;
	const char *tcache_how;
	VEC(struct tcache_ref) tcaches;
	uint64_t tcache_key;
	bool have_tcache_key;
	uint64_t tcache_key_addr;	/* where it is (the symbol), 0: not known */
	const char *tcache_key_how;
	uint64_t global_max_fast;
	bool have_global_max_fast;
	uint64_t narenas;
	bool have_narenas;
	VEC(char *) notes;	/* things `info` should say (debug wrappers, ...) */
	struct layout_check *layout_check;	/* DWARF check running in the background */
	bool layout_cached;	/* the DWARF answer came from layout-cache.h's cache */
};

const char *allocator_name(enum allocator_kind k);

/* Examine the target.  Returns 0 with *out set (also for other
 * allocators: then allocator != ALLOC_GLIBC and only provider/detail are
 * meaningful), or -1 with an hd error when the target cannot be examined. */
int malloc_locate(struct target *t, struct symbols *s, struct malloc_info **out);
void malloc_info_free(struct malloc_info *mi);
/* The arenas in main_arena's ring (at most 4096; stops at a bad link). */
size_t malloc_count_arenas(struct target *t, const struct malloc_info *mi);

/* malloc_locate(), then malloc_layout_confirm(): with the layout's DWARF
 * check done (and the state found again with DWARF's layout when the
 * table's row differed), as `info` shows it before any walk. */
int malloc_locate_confirmed(struct target *t, struct symbols *s, struct malloc_info **out);

/* Like malloc_locate, with the struct layout given (a layout from DWARF
 * that disagreed with the table). */
int malloc_locate_layout(struct target *t, struct symbols *s, const struct malloc_layout *forced,
			 struct malloc_info **out);

/*
 * When libc's version has an exact, verified row in the table and its
 * debug file is present, malloc_locate() uses the row at once and checks
 * it against the debug file's DWARF on a second thread (decompressing
 * libc's DWARF takes ~80 ms).  Returns 0 when the check agreed (or there
 * was nothing to check), 1 when DWARF gave a different layout, stored in
 * *dwarf: the caller must locate and walk again with it.
 */
int malloc_layout_confirm(struct malloc_info *mi, struct malloc_layout *dwarf);

/* The definition of function `name` the program calls: the first object
 * in the dynamic linker's search order that defines it in its dynamic
 * symbol table (the executable's own symbols for a static program).
 * *addr is its run-time address; *module (may be NULL) its path (owned
 * by the symbols).  0, or -1 with HD_ENOENT. */
int locate_dynamic_symbol(struct target *t, struct symbols *s, const char *name, uint64_t *addr,
			  const char **module);

/* mp_ fields (0 when absent from the layout). */
uint64_t mi_mp(const struct malloc_info *mi, int32_t off);

#endif
