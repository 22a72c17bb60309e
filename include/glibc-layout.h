/*
 * glibc-layout.h - where the fields of glibc's malloc structures live.
 *
 * heapdbg's ptmalloc model reads struct malloc_state (an arena),
 * struct malloc_par (mp_), heap_info, tcache_perthread_struct and
 * tcache_entry out of a target.  Their layouts change between glibc
 * releases, so every offset the model uses is kept in a struct
 * malloc_layout.  One comes either from the built-in table (glibc 2.26
 * and later, 64-bit x86-64 and aarch64, which share one LP64 layout) or
 * from the target libc's own DWARF, which is right even for distribution
 * backports and should be preferred whenever debug information exists.
 *
 * An offset of -1 means "this field does not exist in this version".
 */
#ifndef HEAPDBG_GLIBC_LAYOUT_H
#define HEAPDBG_GLIBC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

enum layout_arch { LAYOUT_X86_64, LAYOUT_AARCH64 };
enum layout_source { LAYOUT_FROM_TABLE, LAYOUT_FROM_DWARF };

struct malloc_layout {
	unsigned version;		/* glibc major*100+minor, e.g. 236 */
	enum layout_arch arch;
	enum layout_source source;
	/* struct malloc_state; an offset of -1 means "absent in this version" */
	uint32_t ms_size;
	int32_t ms_mutex, ms_flags, ms_have_fastchunks, ms_fastbins, ms_top,
		ms_last_remainder, ms_bins, ms_binmap, ms_next, ms_next_free,
		ms_attached_threads, ms_system_mem, ms_max_system_mem;
	uint32_t nfastbins;		/* NFASTBINS, 10; 0 when fastbins were removed */
	uint32_t nbins;			/* NBINS, 128 */
	/* struct malloc_par (mp_) */
	uint32_t mp_size;
	int32_t mp_trim_threshold, mp_top_pad, mp_mmap_threshold, mp_arena_test,
		mp_arena_max, mp_thp_pagesize, mp_hp_pagesize, mp_hp_flags,
		mp_n_mmaps, mp_n_mmaps_max, mp_max_n_mmaps, mp_no_dyn_threshold,
		mp_mmapped_mem, mp_max_mmapped_mem, mp_sbrk_base, mp_tcache_bins,
		mp_tcache_max_bytes, mp_tcache_count, mp_tcache_unsorted_limit;
	/* heap_info */
	uint32_t hi_size;
	int32_t hi_ar_ptr, hi_prev, hi_size_field, hi_mprotect_size, hi_pagesize;
	/* tcache_perthread_struct and tcache_entry */
	uint32_t tc_size;		/* sizeof(tcache_perthread_struct) */
	uint32_t tc_counts_off;		/* counts[] (num_slots[] from 2.42) */
	uint32_t tc_count_width;	/* 1 (char) or 2 (uint16_t) */
	uint32_t tc_entries_off;
	uint32_t tc_nbins;		/* 64, or 76 from 2.42 */
	bool tc_counts_are_free_slots;	/* 2.42+: num_slots counts remaining capacity */
	int32_t te_next, te_key;	/* te_key -1 before 2.29 */
	bool te_key_is_tcache_ptr;	/* 2.29-2.33: key holds the owning tcache address */
	/* behaviour */
	bool has_tcache;		/* 2.26+ */
	bool safe_linking;		/* 2.32+ */
	bool tcache_max_is_chunk_size;	/* 2.42+ */
	bool mmapped_prev_size_hugepage_bit; /* 2.43+: bit 0 of an mmapped chunk's prev_size */
	uint64_t heap_max_default;	/* HEAP_MAX_SIZE: 64 MiB on 64-bit */

	/* ---- additions beyond the agreed interface ---- */
	/* mp_.thp_mode (enum malloc_thp_mode_t, 4 bytes): new in 2.43, it sits
	 * before thp_pagesize and moves every later mp_ field by 8 */
	int32_t mp_thp_mode;
	/* 2.43+ [U]: an mmapped chunk's size field is the mapping length minus
	 * its offset minus 16 (CHUNK_HDR_SZ); before, prev_size + size was the
	 * mapping length.  Walkers should accept both forms. */
	bool mmapped_size_excludes_hdr;
	/* Static initial values of mp_ (TCACHE_FILL_COUNT and the initial
	 * tcache_max_bytes), for recognising mp_ in an image without symbols.
	 * Only defaults: read the live values.  0 when unknown (DWARF). */
	uint32_t tcache_count_default;	/* 7; 16 from 2.43 */
	uint64_t tcache_max_bytes_default; /* 0x408; 0x411 from 2.43 */
	/* A table row derived from unreleased or second-hand sources ([U]):
	 * confirm it against the target's DWARF or sizes before trusting it. */
	bool uncertain;
};

/* The table entry for glibc major.minor on arch: exact match, else the
 * nearest older known version (with *exact=false); NULL if older than 2.26.
 * exact may be NULL. */
const struct malloc_layout *layout_for_version(unsigned major, unsigned minor,
					       enum layout_arch arch, bool *exact);

/* Every table entry for arch, oldest first; *n receives the count. */
const struct malloc_layout *layout_table(enum layout_arch arch, size_t *n);

/* Parse "2.36" or a banner "GNU C Library (Debian GLIBC 2.36-9+deb12u14)
 * stable release version 2.36." (also "GLIBC_2.36", "glibc 2.36").
 * Returns 0, or -1 with hd_fail(HD_EFORMAT). */
int layout_parse_version(const char *s, unsigned *major, unsigned *minor);

/* The layout of a malloc built without the tcache (USE_TCACHE 0), as
 * libc_malloc_debug.so's own copy of malloc is (2.34+): l with no tcache
 * and mp_ ending where its tcache fields began.  Changes l in place. */
void layout_without_tcache(struct malloc_layout *l);

/* Is l self-consistent: every field the walker reads inside its
 * structure, array bounds that fit, sizes any glibc could have?  NULL if
 * so, else a sentence saying what is wrong (static storage). */
const char *layout_problem(const struct malloc_layout *l);

/* The facts a and b differ in (offsets, sizes, bounds, behaviour;
 * version, source, defaults and the uncertain mark aside): their count,
 * and their field names in buf ("mp_size, mp_tcache_bins, ...",
 * truncated to len). */
unsigned layout_diff(const struct malloc_layout *a, const struct malloc_layout *b, char *buf, size_t len);

/* Human summary "glibc 2.36 x86-64 (table)".  Returns buf. */
const char *layout_describe(const struct malloc_layout *l, char *buf, size_t len);

/* Fill *out from DWARF: looks up struct malloc_state, struct malloc_par,
 * heap_info (_heap_info), tcache_perthread_struct and tcache_entry in every
 * CU of dw (the CU of malloc.c first).  Fields it cannot find keep the
 * values of *base (a table entry to start from, may be NULL: then they are
 * -1/0).  "Cannot find" is per structure: when a structure is found, all
 * its offsets come from DWARF and a member it lacks is -1 (absent in this
 * build), whatever *base says.  Facts DWARF cannot show (version,
 * safe_linking, the prev_size huge-page bit, defaults) come from *base.
 * Returns 0 if at least malloc_state and malloc_par were found, else -1
 * with hd_fail(HD_ENOENT,...) (HD_ENOTSUP for a 32-bit ELF) and *out
 * untouched.  out may equal base.  A malloc_par without tcache fields
 * (a malloc built without the tcache) gives has_tcache false. */
int layout_from_dwarf(Dwarf *dw, const struct malloc_layout *base,
		      struct malloc_layout *out);

#endif
