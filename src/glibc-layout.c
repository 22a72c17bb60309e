/*
 * glibc-layout.c - the table of glibc malloc structure layouts (2.26 and
 * later, LP64) and a reader that takes the same facts from a libc's DWARF.
 *
 * Every table row was checked against glibc's malloc/malloc.c and
 * malloc/arena.c (field order and types) at that release; the comment
 * above each row says what changed and where the evidence came from.
 * Tags: [M] measured on Debian 12 (2.36), [S] read in upstream source,
 * [K] community tools (pwndbg, GEF) cross-checked, [U] derived from
 * development sources or second-hand reports: verify with DWARF.
 */
#include "config.h"
#include "glibc-layout.h"
#include "util.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>

#define HEAP_MAX_LP64	(64ULL << 20)	/* 2 * DEFAULT_MMAP_THRESHOLD_MAX (4 MiB * sizeof(long)) */

/*
 * Building blocks.  x86-64 and aarch64 are both LP64 with 16-byte
 * MALLOC_ALIGNMENT, int-sized locks and 8-byte size_t and pointers, so the
 * same blocks describe both; the tables below differ only in .arch.
 */

/* struct malloc_state up to 2.26: mutex, flags, fastbinsY[10], top,
 * last_remainder, bins[254], binmap[4], next, next_free,
 * attached_threads, system_mem, max_system_mem.  The "have fast chunks"
 * state is the inverted FASTCHUNKS_BIT (0x1) in flags. */
#define MS_226								\
	.ms_size = 0x890, .ms_mutex = 0x0, .ms_flags = 0x4,		\
	.ms_have_fastchunks = -1, .ms_fastbins = 0x8, .ms_top = 0x58,	\
	.ms_last_remainder = 0x60, .ms_bins = 0x68, .ms_binmap = 0x858,	\
	.ms_next = 0x868, .ms_next_free = 0x870,			\
	.ms_attached_threads = 0x878, .ms_system_mem = 0x880,		\
	.ms_max_system_mem = 0x888, .nfastbins = 10, .nbins = 128

/* 2.27: int have_fastchunks after flags; with the hole after it every
 * later field moves by 8 (top 0x60, bins 0x70, next 0x870, sizeof 0x898). */
#define MS_227								\
	.ms_size = 0x898, .ms_mutex = 0x0, .ms_flags = 0x4,		\
	.ms_have_fastchunks = 0x8, .ms_fastbins = 0x10, .ms_top = 0x60,	\
	.ms_last_remainder = 0x68, .ms_bins = 0x70, .ms_binmap = 0x860,	\
	.ms_next = 0x870, .ms_next_free = 0x878,			\
	.ms_attached_threads = 0x880, .ms_system_mem = 0x888,		\
	.ms_max_system_mem = 0x890, .nfastbins = 10, .nbins = 128

/* 2.43: fastbins removed, and have_fastchunks with them: top follows
 * flags at 0x08, sizeof 0x840. */
#define MS_243								\
	.ms_size = 0x840, .ms_mutex = 0x0, .ms_flags = 0x4,		\
	.ms_have_fastchunks = -1, .ms_fastbins = -1, .ms_top = 0x8,	\
	.ms_last_remainder = 0x10, .ms_bins = 0x18, .ms_binmap = 0x808,	\
	.ms_next = 0x818, .ms_next_free = 0x820,			\
	.ms_attached_threads = 0x828, .ms_system_mem = 0x830,		\
	.ms_max_system_mem = 0x838, .nfastbins = 0, .nbins = 128

/* struct malloc_par 2.26-2.34: five size_t tunables, four ints
 * (n_mmaps ...  no_dyn_threshold), mmapped_mem, max_mmapped_mem,
 * sbrk_base, then the four size_t tcache fields.  sizeof 0x70. */
#define MP_226								\
	.mp_size = 0x70, .mp_trim_threshold = 0x0, .mp_top_pad = 0x8,	\
	.mp_mmap_threshold = 0x10, .mp_arena_test = 0x18,		\
	.mp_arena_max = 0x20, .mp_thp_mode = -1, .mp_thp_pagesize = -1,	\
	.mp_hp_pagesize = -1, .mp_hp_flags = -1, .mp_n_mmaps = 0x28,	\
	.mp_n_mmaps_max = 0x2c, .mp_max_n_mmaps = 0x30,			\
	.mp_no_dyn_threshold = 0x34, .mp_mmapped_mem = 0x38,		\
	.mp_max_mmapped_mem = 0x40, .mp_sbrk_base = 0x48,		\
	.mp_tcache_bins = 0x50, .mp_tcache_max_bytes = 0x58,		\
	.mp_tcache_count = 0x60, .mp_tcache_unsorted_limit = 0x68

/* 2.35: thp_pagesize, hp_pagesize (size_t) and hp_flags (int) after
 * arena_max (under HAVE_TUNABLES, which every distro build has; always
 * present from 2.39).  hp_flags packs with the ints: sbrk_base 0x60,
 * sizeof 0x88.  2.42 renames tcache_bins to tcache_small_bins in place. */
#define MP_235								\
	.mp_size = 0x88, .mp_trim_threshold = 0x0, .mp_top_pad = 0x8,	\
	.mp_mmap_threshold = 0x10, .mp_arena_test = 0x18,		\
	.mp_arena_max = 0x20, .mp_thp_mode = -1, .mp_thp_pagesize = 0x28, \
	.mp_hp_pagesize = 0x30, .mp_hp_flags = 0x38, .mp_n_mmaps = 0x3c, \
	.mp_n_mmaps_max = 0x40, .mp_max_n_mmaps = 0x44,			\
	.mp_no_dyn_threshold = 0x48, .mp_mmapped_mem = 0x50,		\
	.mp_max_mmapped_mem = 0x58, .mp_sbrk_base = 0x60,		\
	.mp_tcache_bins = 0x68, .mp_tcache_max_bytes = 0x70,		\
	.mp_tcache_count = 0x78, .mp_tcache_unsorted_limit = 0x80

/* 2.43 [U]: enum malloc_thp_mode_t thp_mode before thp_pagesize (4 bytes
 * plus a 4-byte hole), so everything after arena_max moves by 8:
 * sbrk_base 0x68, sizeof 0x90. */
#define MP_243								\
	.mp_size = 0x90, .mp_trim_threshold = 0x0, .mp_top_pad = 0x8,	\
	.mp_mmap_threshold = 0x10, .mp_arena_test = 0x18,		\
	.mp_arena_max = 0x20, .mp_thp_mode = 0x28, .mp_thp_pagesize = 0x30, \
	.mp_hp_pagesize = 0x38, .mp_hp_flags = 0x40, .mp_n_mmaps = 0x44, \
	.mp_n_mmaps_max = 0x48, .mp_max_n_mmaps = 0x4c,			\
	.mp_no_dyn_threshold = 0x50, .mp_mmapped_mem = 0x58,		\
	.mp_max_mmapped_mem = 0x60, .mp_sbrk_base = 0x68,		\
	.mp_tcache_bins = 0x70, .mp_tcache_max_bytes = 0x78,		\
	.mp_tcache_count = 0x80, .mp_tcache_unsorted_limit = 0x88

/* 2.44 [U]: tcache_unsorted_limit removed (upstream commit ea4c36c3),
 * sizeof 0x88 again but with the 2.43 offsets. */
#define MP_244								\
	.mp_size = 0x88, .mp_trim_threshold = 0x0, .mp_top_pad = 0x8,	\
	.mp_mmap_threshold = 0x10, .mp_arena_test = 0x18,		\
	.mp_arena_max = 0x20, .mp_thp_mode = 0x28, .mp_thp_pagesize = 0x30, \
	.mp_hp_pagesize = 0x38, .mp_hp_flags = 0x40, .mp_n_mmaps = 0x44, \
	.mp_n_mmaps_max = 0x48, .mp_max_n_mmaps = 0x4c,			\
	.mp_no_dyn_threshold = 0x50, .mp_mmapped_mem = 0x58,		\
	.mp_max_mmapped_mem = 0x60, .mp_sbrk_base = 0x68,		\
	.mp_tcache_bins = 0x70, .mp_tcache_max_bytes = 0x78,		\
	.mp_tcache_count = 0x80, .mp_tcache_unsorted_limit = -1

/* heap_info (arena.c) 2.26-2.34: ar_ptr, prev, size, mprotect_size and
 * pad[-6 * SIZE_SZ & 15], which is empty on LP64: sizeof 0x20. */
#define HI_226								\
	.hi_size = 0x20, .hi_ar_ptr = 0x0, .hi_prev = 0x8,		\
	.hi_size_field = 0x10, .hi_mprotect_size = 0x18, .hi_pagesize = -1

/* 2.35: size_t pagesize (huge-page arenas), pad[-3 * SIZE_SZ & 15] is
 * 8 bytes: sizeof 0x30. */
#define HI_235								\
	.hi_size = 0x30, .hi_ar_ptr = 0x0, .hi_prev = 0x8,		\
	.hi_size_field = 0x10, .hi_mprotect_size = 0x18, .hi_pagesize = 0x20

/* tcache_perthread_struct 2.26-2.29: char counts[64], entries[64]. */
#define TC_226								\
	.tc_size = 0x240, .tc_counts_off = 0x0, .tc_count_width = 1,	\
	.tc_entries_off = 0x40, .tc_nbins = 64, .tc_counts_are_free_slots = false

/* 2.30: uint16_t counts[64] (BZ #24531): entries at 0x80, sizeof 0x280. */
#define TC_230								\
	.tc_size = 0x280, .tc_counts_off = 0x0, .tc_count_width = 2,	\
	.tc_entries_off = 0x80, .tc_nbins = 64, .tc_counts_are_free_slots = false

/* 2.42: 64 small + 12 large bins, uint16_t num_slots[76] (free slots,
 * counting down), entries at 0x98, sizeof 0x2f8 (a 0x300 chunk). */
#define TC_242								\
	.tc_size = 0x2f8, .tc_counts_off = 0x0, .tc_count_width = 2,	\
	.tc_entries_off = 0x98, .tc_nbins = 76, .tc_counts_are_free_slots = true

/* tcache_entry 2.26-2.28: next only. */
#define TE_226	.te_next = 0x0, .te_key = -1, .te_key_is_tcache_ptr = false
/* 2.29-2.33: struct tcache_perthread_struct *key, the owning tcache. */
#define TE_229	.te_next = 0x0, .te_key = 0x8, .te_key_is_tcache_ptr = true
/* 2.34+: uintptr_t key holding the random process-wide tcache_key. */
#define TE_234	.te_next = 0x0, .te_key = 0x8, .te_key_is_tcache_ptr = false

#define COMMON(A, V)							\
	.version = (V), .arch = (A), .source = LAYOUT_FROM_TABLE,	\
	.has_tcache = true, .heap_max_default = HEAP_MAX_LP64

/* tcache_max_bytes's initial value: tidx2usize(63) = 63*16 + 32 - 8. */
#define DEFAULTS_226 .tcache_count_default = 7, .tcache_max_bytes_default = 0x408
/* 2.43 [U]: TCACHE_FILL_COUNT 16; tidx2csize(63) + 1, a chunk-size bound. */
#define DEFAULTS_243 .tcache_count_default = 16, .tcache_max_bytes_default = 0x411

/* 2.26 (2017-08) [S/K]: tcache arrives (mp_ gains its four tcache
 * fields); malloc_state still without have_fastchunks. */
#define ROW_226(A) { COMMON(A, 226), MS_226, MP_226, HI_226, TC_226, TE_226, \
	DEFAULTS_226 }
/* 2.27 (2018-02) [S/K]: have_fastchunks added to malloc_state. */
#define ROW_227(A) { COMMON(A, 227), MS_227, MP_226, HI_226, TC_226, TE_226, \
	DEFAULTS_226 }
/* 2.28 (2018-08) [S/K]: no layout change. */
#define ROW_228(A) { COMMON(A, 228), MS_227, MP_226, HI_226, TC_226, TE_226, \
	DEFAULTS_226 }
/* 2.29 (2019-02) [S/K]: tcache_entry.key (double-free check) holds the
 * owning tcache.  Often backported (Ubuntu 2.27 has it): prefer DWARF. */
#define ROW_229(A) { COMMON(A, 229), MS_227, MP_226, HI_226, TC_226, TE_229, \
	DEFAULTS_226 }
/* 2.30 (2019-08) [S/K]: tcache counts become uint16_t. */
#define ROW_230(A) { COMMON(A, 230), MS_227, MP_226, HI_226, TC_230, TE_229, \
	DEFAULTS_226 }
/* 2.31 (2020-02) [S/K]: no layout change (mxfast tunable). */
#define ROW_231(A) { COMMON(A, 231), MS_227, MP_226, HI_226, TC_230, TE_229, \
	DEFAULTS_226 }
/* 2.32 (2020-08) [S/K]: safe-linking of tcache and fastbin next pointers;
 * no layout change. */
#define ROW_232(A) { COMMON(A, 232), MS_227, MP_226, HI_226, TC_230, TE_229, \
	DEFAULTS_226, .safe_linking = true }
/* 2.33 (2021-02) [S, facts sheet: 2.33-era commit 011293b4]: no layout
 * change. */
#define ROW_233(A) { COMMON(A, 233), MS_227, MP_226, HI_226, TC_230, TE_229, \
	DEFAULTS_226, .safe_linking = true }
/* 2.34 (2021-08) [S/K]: tcache_entry.key becomes uintptr_t tcache_key. */
#define ROW_234(A) { COMMON(A, 234), MS_227, MP_226, HI_226, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.35 (2022-02) [S/K]: huge pages: mp_ thp/hp fields, heap_info.pagesize. */
#define ROW_235(A) { COMMON(A, 235), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.36 (2022-08) [M]: no layout change; measured with ptype /o on Debian 12. */
#define ROW_236(A) { COMMON(A, 236), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.37 (2023-02) [K]: no layout change (global_max_fast narrowed to
 * uint8_t, a separate variable). */
#define ROW_237(A) { COMMON(A, 237), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.38 (2023-07) [K]: no layout change. */
#define ROW_238(A) { COMMON(A, 238), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.39 (2024-01) [S, 2023-era commit 2fb12bbd]: no layout change; the
 * HAVE_TUNABLES guard around the hp fields is gone (distros always had
 * tunables, so the fields were there before too). */
#define ROW_239(A) { COMMON(A, 239), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.40 (2024-07) [K]: no layout change (pwndbg's 2.35 struct serves
 * up to 2.41). */
#define ROW_240(A) { COMMON(A, 240), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.41 (2025-01) [K]: no layout change (calloc uses the tcache). */
#define ROW_241(A) { COMMON(A, 241), MS_227, MP_235, HI_235, TC_230, TE_234, \
	DEFAULTS_226, .safe_linking = true }
/* 2.42 (2025-07) [S/K]: large tcache (76 bins, num_slots[] counting free
 * slots); mp_.tcache_bins renamed tcache_small_bins at the same offset;
 * tcache_max_bytes is compared with chunk sizes but still starts at
 * 0x408 (2.42 stable-branch builds show 0x411).  No thp_mode yet: the
 * 2.42 source as quoted by pwndbg and a GEF dump of an Ubuntu 2.42 mp_
 * both have sbrk_base at 0x60. */
#define ROW_242(A) { COMMON(A, 242), MS_227, MP_235, HI_235, TC_242, TE_234, \
	DEFAULTS_226, .safe_linking = true, .tcache_max_is_chunk_size = true }
/* 2.43 (2026-01) [U]: fastbins and have_fastchunks removed (upstream
 * bb5a4f5, Dec 2025); mp_.thp_mode added (9097cbf5) shifting mp_;
 * TCACHE_FILL_COUNT 16; bit 0 of an mmapped chunk's prev_size flags a
 * huge-page mapping and its size excludes the header (read at 2.43
 * development commit 321e1fc7).  The tcache pointer may point to a
 * static all-zero dummy instead of NULL. */
#define ROW_243(A) { COMMON(A, 243), MS_243, MP_243, HI_235, TC_242, TE_234, \
	DEFAULTS_243, .safe_linking = true, .tcache_max_is_chunk_size = true, \
	.mmapped_prev_size_hugepage_bit = true,				\
	.mmapped_size_excludes_hdr = true, .uncertain = true }
/* 2.44 (2026-07/08) [U]: mp_.tcache_unsorted_limit removed; taken from a
 * 2026 master copy and pwndbg's preliminary 2.44 notes. */
#define ROW_244(A) { COMMON(A, 244), MS_243, MP_244, HI_235, TC_242, TE_234, \
	DEFAULTS_243, .safe_linking = true, .tcache_max_is_chunk_size = true, \
	.mmapped_prev_size_hugepage_bit = true,				\
	.mmapped_size_excludes_hdr = true, .uncertain = true }

#define LAYOUT_ROWS(A)							\
	ROW_226(A), ROW_227(A), ROW_228(A), ROW_229(A), ROW_230(A),	\
	ROW_231(A), ROW_232(A), ROW_233(A), ROW_234(A), ROW_235(A),	\
	ROW_236(A), ROW_237(A), ROW_238(A), ROW_239(A), ROW_240(A),	\
	ROW_241(A), ROW_242(A), ROW_243(A), ROW_244(A)

static const struct malloc_layout table_x86_64[] = { LAYOUT_ROWS(LAYOUT_X86_64) };
/* aarch64 is LP64 too: the same rows, only .arch differs. */
static const struct malloc_layout table_aarch64[] = { LAYOUT_ROWS(LAYOUT_AARCH64) };

_Static_assert(ARRAY_SIZE(table_x86_64) == ARRAY_SIZE(table_aarch64),
	       "the aarch64 table shares the x86-64 rows");

const struct malloc_layout *
layout_table(enum layout_arch arch, size_t *n)
{
	if (n)
		*n = ARRAY_SIZE(table_x86_64);
	return arch == LAYOUT_AARCH64 ? table_aarch64 : table_x86_64;
}

const struct malloc_layout *
layout_for_version(unsigned major, unsigned minor, enum layout_arch arch, bool *exact)
{
	const struct malloc_layout *t, *best = NULL;
	unsigned v;
	size_t n;

	if (exact)
		*exact = false;
	if (minor >= 100)
		minor = 99;
	v = major > 2 ? UINT32_MAX : major * 100 + minor;
	t = layout_table(arch, &n);
	for (size_t i = 0; i < n; i++) {
		if (t[i].version > v)
			break;
		best = &t[i];
	}
	if (!best) {
		hd_fail(HD_ENOTSUP, "glibc %u.%u is older than 2.26: no layout table", major, minor);
		return NULL;
	}
	if (exact)
		*exact = best->version == v;
	return best;
}

/* ---- version strings ---- */

/* Parse "MAJOR.MINOR" at s; the minor may be followed by anything. */
static bool
parse_dotted(const char *s, unsigned *major, unsigned *minor)
{
	unsigned long a = 0, b = 0;
	int da = 0, db = 0;

	while (*s >= '0' && *s <= '9' && da < 4)
		a = a * 10 + (unsigned long)(*s++ - '0'), da++;
	if (!da || *s != '.')
		return false;
	s++;
	while (*s >= '0' && *s <= '9' && db < 4)
		b = b * 10 + (unsigned long)(*s++ - '0'), db++;
	if (!db || (*s >= '0' && *s <= '9'))
		return false;
	*major = a;
	*minor = b;
	return true;
}

int
layout_parse_version(const char *s, unsigned *major, unsigned *minor)
{
	/* Most specific first: a full banner ends with "release version X.Y."
	 * but later lines name the compiler's version, so never take the
	 * last "version". */
	static const char *const marks[] = {
		"release version ", "GLIBC ", "GLIBC_", "glibc ", "glibc-", "libc-",
	};
	const char *p;

	if (!s)
		return hd_fail(HD_EFORMAT, "no glibc version string");
	while (*s == ' ' || *s == '\t')
		s++;
	if (parse_dotted(s, major, minor))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
		p = strstr(s, marks[i]);
		if (p && parse_dotted(p + strlen(marks[i]), major, minor))
			return 0;
	}
	/* Anything else: the first N.M that starts a number. */
	for (p = s; *p; p++) {
		if (*p >= '0' && *p <= '9' && (p == s || !(p[-1] >= '0' && p[-1] <= '9'))
		    && parse_dotted(p, major, minor))
			return 0;
	}
	return hd_fail(HD_EFORMAT, "no glibc version in \"%.60s\"", s);
}

void
layout_without_tcache(struct malloc_layout *l)
{
	/* malloc_par's tcache fields are its last: mp_ ends where the first
	 * of them began */
	if (l->mp_tcache_bins > 0 && (uint32_t)l->mp_tcache_bins < l->mp_size)
		l->mp_size = (uint32_t)l->mp_tcache_bins;
	l->mp_tcache_bins = l->mp_tcache_max_bytes = l->mp_tcache_count = -1;
	l->mp_tcache_unsorted_limit = -1;
	l->has_tcache = false;
	l->tc_size = l->tc_counts_off = l->tc_count_width = l->tc_entries_off = l->tc_nbins = 0;
	l->tc_counts_are_free_slots = false;
	l->te_next = l->te_key = -1;
	l->te_key_is_tcache_ptr = false;
	l->tcache_max_is_chunk_size = false;
	l->tcache_count_default = 0;
	l->tcache_max_bytes_default = 0;
}

/* A layout read from a target's DWARF is input too: every field the walk
 * reads must lie inside the copy of its structure. */
const char *
layout_problem(const struct malloc_layout *L)
{
	const int32_t ms8[] = { L->ms_top, L->ms_next, L->ms_attached_threads, L->ms_system_mem,
				L->ms_max_system_mem };
	const int32_t ms4[] = { L->ms_mutex, L->ms_flags };
	const int32_t hi8[] = { L->hi_ar_ptr, L->hi_prev, L->hi_size_field };

	for (size_t i = 0; i < ARRAY_SIZE(ms8); i++)
		if (ms8[i] >= 0 && (uint64_t)ms8[i] + 8 > L->ms_size)
			return "a malloc_state field lies outside the structure";
	for (size_t i = 0; i < ARRAY_SIZE(ms4); i++)
		if (ms4[i] >= 0 && (uint64_t)ms4[i] + 4 > L->ms_size)
			return "a malloc_state field lies outside the structure";
	if (L->ms_bins < 0 || L->nbins < 2 || L->nbins > 1024 ||
	    (uint64_t)L->ms_bins + 16 * (uint64_t)(L->nbins - 1) > L->ms_size)
		return "malloc_state.bins does not fit the structure";
	if (L->nfastbins && (L->ms_fastbins < 0 || L->nfastbins > 16 ||
			     (uint64_t)L->ms_fastbins + 8 * (uint64_t)L->nfastbins > L->ms_size))
		return "malloc_state.fastbinsY does not fit the structure";
	if (L->hi_size > 64)
		return "heap_info is larger than any glibc's";
	for (size_t i = 0; i < ARRAY_SIZE(hi8); i++)
		if (hi8[i] >= 0 && (uint64_t)hi8[i] + 8 > L->hi_size)
			return "a heap_info field lies outside the structure";
	if (L->has_tcache) {
		if (L->tc_count_width != 1 && L->tc_count_width != 2)
			return "tcache counters are neither 8 nor 16 bits";
		if (L->tc_nbins > 4096 ||
		    L->tc_counts_off + (uint64_t)L->tc_count_width * L->tc_nbins > L->tc_size ||
		    L->tc_entries_off + 8 * (uint64_t)L->tc_nbins > L->tc_size)
			return "tcache_perthread_struct's arrays do not fit the structure";
		/* the walk reads a tcache_entry from the 16 bytes after a chunk
		 * header (an offset of -1, unknown, stays inside the chunk) */
		if (L->te_next < -1 || L->te_next > 8 || L->te_key < -1 || L->te_key > 8)
			return "tcache_entry's fields are not where glibc has them";
	}
	return NULL;
}

/* Every fact of struct malloc_layout a walk depends on, for layout_diff. */
#define LAYOUT_FACT(f) { #f, offsetof(struct malloc_layout, f), sizeof(((struct malloc_layout *)0)->f) }
static const struct {
	const char *name;
	size_t off, size;
} layout_facts[] = {
	LAYOUT_FACT(ms_size), LAYOUT_FACT(ms_mutex), LAYOUT_FACT(ms_flags),
	LAYOUT_FACT(ms_have_fastchunks), LAYOUT_FACT(ms_fastbins), LAYOUT_FACT(ms_top),
	LAYOUT_FACT(ms_last_remainder), LAYOUT_FACT(ms_bins), LAYOUT_FACT(ms_binmap),
	LAYOUT_FACT(ms_next), LAYOUT_FACT(ms_next_free), LAYOUT_FACT(ms_attached_threads),
	LAYOUT_FACT(ms_system_mem), LAYOUT_FACT(ms_max_system_mem), LAYOUT_FACT(nfastbins),
	LAYOUT_FACT(nbins), LAYOUT_FACT(mp_size), LAYOUT_FACT(mp_trim_threshold),
	LAYOUT_FACT(mp_top_pad), LAYOUT_FACT(mp_mmap_threshold), LAYOUT_FACT(mp_arena_test),
	LAYOUT_FACT(mp_arena_max), LAYOUT_FACT(mp_thp_mode), LAYOUT_FACT(mp_thp_pagesize),
	LAYOUT_FACT(mp_hp_pagesize), LAYOUT_FACT(mp_hp_flags), LAYOUT_FACT(mp_n_mmaps),
	LAYOUT_FACT(mp_n_mmaps_max), LAYOUT_FACT(mp_max_n_mmaps), LAYOUT_FACT(mp_no_dyn_threshold),
	LAYOUT_FACT(mp_mmapped_mem), LAYOUT_FACT(mp_max_mmapped_mem), LAYOUT_FACT(mp_sbrk_base),
	LAYOUT_FACT(mp_tcache_bins), LAYOUT_FACT(mp_tcache_max_bytes), LAYOUT_FACT(mp_tcache_count),
	LAYOUT_FACT(mp_tcache_unsorted_limit), LAYOUT_FACT(hi_size), LAYOUT_FACT(hi_ar_ptr),
	LAYOUT_FACT(hi_prev), LAYOUT_FACT(hi_size_field), LAYOUT_FACT(hi_mprotect_size),
	LAYOUT_FACT(hi_pagesize), LAYOUT_FACT(tc_size), LAYOUT_FACT(tc_counts_off),
	LAYOUT_FACT(tc_count_width), LAYOUT_FACT(tc_entries_off), LAYOUT_FACT(tc_nbins),
	LAYOUT_FACT(tc_counts_are_free_slots), LAYOUT_FACT(te_next), LAYOUT_FACT(te_key),
	LAYOUT_FACT(te_key_is_tcache_ptr), LAYOUT_FACT(has_tcache), LAYOUT_FACT(safe_linking),
	LAYOUT_FACT(tcache_max_is_chunk_size), LAYOUT_FACT(mmapped_prev_size_hugepage_bit),
	LAYOUT_FACT(mmapped_size_excludes_hdr), LAYOUT_FACT(heap_max_default), LAYOUT_FACT(arch),
};
#undef LAYOUT_FACT

unsigned
layout_diff(const struct malloc_layout *a, const struct malloc_layout *b, char *buf, size_t len)
{
	unsigned n = 0;
	size_t used = 0;

	if (buf && len)
		buf[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(layout_facts); i++) {
		const char *x = (const char *)a + layout_facts[i].off, *y = (const char *)b + layout_facts[i].off;
		int w;
		if (!memcmp(x, y, layout_facts[i].size))
			continue;
		if (buf && used < len) {
			w = snprintf(buf + used, len - used, "%s%s", n ? ", " : "", layout_facts[i].name);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

const char *
layout_describe(const struct malloc_layout *l, char *buf, size_t len)
{
	char ver[24];

	if (!buf || !len)
		return buf;
	if (!l) {
		snprintf(buf, len, "no glibc layout");
		return buf;
	}
	if (l->version)
		snprintf(ver, sizeof(ver), "%u.%u", l->version / 100, l->version % 100);
	else
		snprintf(ver, sizeof(ver), "(version unknown)");
	snprintf(buf, len, "glibc %s %s (%s%s)", ver,
		 l->arch == LAYOUT_AARCH64 ? "aarch64" : "x86-64",
		 l->source == LAYOUT_FROM_DWARF ? "DWARF" : "table",
		 l->uncertain ? ", unverified" : "");
	return buf;
}

/* ---- DWARF ---- */

enum want_kind { W_MS, W_MP, W_HI, W_TC, W_TE, W_COUNT };

static const struct {
	const char *tag_name;		/* the struct's tag */
	const char *typedef_name;	/* a typedef naming it, or NULL */
} wanted[W_COUNT] = {
	[W_MS] = { "malloc_state", NULL },
	[W_MP] = { "malloc_par", NULL },
	[W_HI] = { "_heap_info", "heap_info" },
	[W_TC] = { "tcache_perthread_struct", "tcache_perthread_struct" },
	[W_TE] = { "tcache_entry", "tcache_entry" },
};

struct dwarf_scan {
	Dwarf_Die die[W_COUNT];
	bool found[W_COUNT];
	int nfound;
};

/* A member name and the int32_t offset field of struct malloc_layout it
 * fills. */
struct member_map {
	const char *name;
	size_t field;
};

#define M(n, f) { n, offsetof(struct malloc_layout, f) }

static const struct member_map ms_members[] = {
	M("mutex", ms_mutex), M("flags", ms_flags),
	M("have_fastchunks", ms_have_fastchunks), M("fastbinsY", ms_fastbins),
	M("top", ms_top), M("last_remainder", ms_last_remainder),
	M("bins", ms_bins), M("binmap", ms_binmap), M("next", ms_next),
	M("next_free", ms_next_free), M("attached_threads", ms_attached_threads),
	M("system_mem", ms_system_mem), M("max_system_mem", ms_max_system_mem),
};

static const struct member_map mp_members[] = {
	M("trim_threshold", mp_trim_threshold), M("top_pad", mp_top_pad),
	M("mmap_threshold", mp_mmap_threshold), M("arena_test", mp_arena_test),
	M("arena_max", mp_arena_max), M("thp_mode", mp_thp_mode),
	M("thp_pagesize", mp_thp_pagesize), M("hp_pagesize", mp_hp_pagesize),
	M("hp_flags", mp_hp_flags), M("n_mmaps", mp_n_mmaps),
	M("n_mmaps_max", mp_n_mmaps_max), M("max_n_mmaps", mp_max_n_mmaps),
	M("no_dyn_threshold", mp_no_dyn_threshold), M("mmapped_mem", mp_mmapped_mem),
	M("max_mmapped_mem", mp_max_mmapped_mem), M("sbrk_base", mp_sbrk_base),
	M("tcache_bins", mp_tcache_bins), M("tcache_small_bins", mp_tcache_bins),
	M("tcache_max_bytes", mp_tcache_max_bytes), M("tcache_count", mp_tcache_count),
	M("tcache_unsorted_limit", mp_tcache_unsorted_limit),
};

static const struct member_map hi_members[] = {
	M("ar_ptr", hi_ar_ptr), M("prev", hi_prev), M("size", hi_size_field),
	M("mprotect_size", hi_mprotect_size), M("pagesize", hi_pagesize),
};

static const struct member_map te_members[] = {
	M("next", te_next), M("key", te_key),
};

#undef M

static int32_t *
field_at(struct malloc_layout *l, size_t off)
{
	return (int32_t *)((char *)l + off);
}

static bool
is_declaration(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	bool flag = false;

	if (!dwarf_attr(die, DW_AT_declaration, &a))
		return false;
	return dwarf_formflag(&a, &flag) == 0 && flag;
}

/* A struct definition (not a declaration, with members). */
static bool
is_struct_definition(Dwarf_Die *die)
{
	return dwarf_tag(die) == DW_TAG_structure_type && !is_declaration(die)
		&& dwarf_haschildren(die) > 0;
}

/* Follow typedefs and qualifiers from die's DW_AT_type. */
static bool
peeled_type(Dwarf_Die *die, Dwarf_Die *type)
{
	Dwarf_Attribute a;
	Dwarf_Die t;

	if (!dwarf_attr_integrate(die, DW_AT_type, &a) || !dwarf_formref_die(&a, &t))
		return false;
	return dwarf_peel_type(&t, type) == 0;
}

static void
consider(struct dwarf_scan *sc, Dwarf_Die *die)
{
	int tag = dwarf_tag(die);
	const char *name;
	Dwarf_Die target;

	if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef)
		return;
	name = dwarf_diename(die);
	if (!name)
		return;
	for (int w = 0; w < W_COUNT; w++) {
		if (sc->found[w])
			continue;
		if (tag == DW_TAG_structure_type && !strcmp(name, wanted[w].tag_name)) {
			if (!is_struct_definition(die))
				continue;
			target = *die;
		} else if (tag == DW_TAG_typedef && wanted[w].typedef_name
			   && !strcmp(name, wanted[w].typedef_name)) {
			/* e.g. heap_info: the typedef of a struct defined
			 * elsewhere (or anonymous) */
			if (!peeled_type(die, &target) || !is_struct_definition(&target))
				continue;
		} else {
			continue;
		}
		sc->die[w] = target;
		sc->found[w] = true;
		sc->nfound++;
	}
}

/* The file-scope types of one unit. */
static void
scan_unit(struct dwarf_scan *sc, Dwarf_Die *cudie)
{
	Dwarf_Die child;

	if (dwarf_child(cudie, &child) != 0)
		return;
	do {
		consider(sc, &child);
		if (sc->nfound == W_COUNT)
			return;
	} while (dwarf_siblingof(&child, &child) == 0);
}

static bool
is_malloc_c(Dwarf_Die *cudie)
{
	const char *name = dwarf_diename(cudie);
	const char *base;

	if (!name)
		return false;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return !strcmp(base, "malloc.c");
}

/* Look at malloc.c's unit first (glibc includes arena.c into it, so all
 * five types are normally there), then, if something is still missing,
 * every unit in order. */
static void
scan_dwarf(Dwarf *dw, struct dwarf_scan *sc)
{
	Dwarf_CU *cu = NULL, *malloc_cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;

	while (dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		if (is_malloc_c(&cudie)) {
			malloc_cu = cu;
			scan_unit(sc, &cudie);
			debug_msg("glibc layout: %d of %d types in the CU of %s",
				  sc->nfound, W_COUNT, dwarf_diename(&cudie));
			break;
		}
	}
	if (sc->nfound == W_COUNT)
		return;
	cu = NULL;
	while (dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		if (cu == malloc_cu)
			continue;
		scan_unit(sc, &cudie);
		if (sc->nfound == W_COUNT)
			return;
	}
}

/* DW_AT_data_member_location: a constant, or (DWARF 2 style) a
 * DW_OP_plus_uconst expression.  No location means offset 0. */
static bool
member_offset(Dwarf_Die *m, int32_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t nops;

	if (!dwarf_attr_integrate(m, DW_AT_data_member_location, &a)) {
		if (dwarf_attr_integrate(m, DW_AT_data_bit_offset, &a)) {
			if (dwarf_formudata(&a, &w) != 0 || w % 8)
				return false;
			*off = (int32_t)(w / 8);
			return true;
		}
		*off = 0;
		return true;
	}
	switch (dwarf_whatform(&a)) {
	case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4:
	case DW_FORM_data8: case DW_FORM_udata: case DW_FORM_sdata:
	case DW_FORM_implicit_const:
		if (dwarf_formudata(&a, &w) != 0)
			return false;
		break;
	case DW_FORM_exprloc: case DW_FORM_block: case DW_FORM_block1:
	case DW_FORM_block2: case DW_FORM_block4:
		if (dwarf_getlocation(&a, &ops, &nops) != 0 || nops != 1
		    || (ops[0].atom != DW_OP_plus_uconst && ops[0].atom != DW_OP_constu))
			return false;
		w = ops[0].number;
		break;
	default:
		return false;
	}
	if (w > INT32_MAX)
		return false;
	*off = (int32_t)w;
	return true;
}

/* The element count and element size of an array type. */
static bool
array_shape(Dwarf_Die *arr, uint32_t *count, uint32_t *elem_size)
{
	Dwarf_Die elem, sub;
	Dwarf_Attribute a;
	Dwarf_Word total, esize, n = 0, ub, lb = 0;
	bool have_n = false;

	if (dwarf_tag(arr) != DW_TAG_array_type || !peeled_type(arr, &elem)
	    || dwarf_aggregate_size(&elem, &esize) != 0 || !esize)
		return false;
	/* The bound itself (DW_AT_count or DW_AT_upper_bound); fall back to
	 * the array's size over the element's. */
	if (dwarf_child(arr, &sub) == 0 && dwarf_tag(&sub) == DW_TAG_subrange_type) {
		if (dwarf_attr_integrate(&sub, DW_AT_count, &a)
		    && dwarf_formudata(&a, &n) == 0) {
			have_n = true;
		} else if (dwarf_attr_integrate(&sub, DW_AT_upper_bound, &a)
			   && dwarf_formudata(&a, &ub) == 0) {
			if (dwarf_attr_integrate(&sub, DW_AT_lower_bound, &a))
				dwarf_formudata(&a, &lb);
			n = ub + 1 - lb;
			have_n = true;
		}
	}
	if (!have_n) {
		if (dwarf_aggregate_size(arr, &total) != 0)
			return false;
		n = total / esize;
	}
	if (n > UINT32_MAX || esize > UINT32_MAX)
		return false;
	*count = (uint32_t)n;
	*elem_size = (uint32_t)esize;
	return true;
}

static uint32_t
struct_size(Dwarf_Die *die)
{
	Dwarf_Word sz;

	if (dwarf_aggregate_size(die, &sz) != 0 || sz > UINT32_MAX)
		return 0;
	return (uint32_t)sz;
}

/* Set every mapped field to -1, then fill the members die has.  Calls
 * special(l, name, member) for each member first; it returns true when
 * it consumed the member. */
static void
read_members(Dwarf_Die *die, struct malloc_layout *l, const struct member_map *map,
	     size_t nmap, bool (*special)(struct malloc_layout *, const char *,
					  Dwarf_Die *, int32_t))
{
	Dwarf_Die m;
	const char *name;
	int32_t off;

	for (size_t i = 0; i < nmap; i++)
		*field_at(l, map[i].field) = -1;
	if (dwarf_child(die, &m) != 0)
		return;
	do {
		if (dwarf_tag(&m) != DW_TAG_member || !(name = dwarf_diename(&m)))
			continue;
		if (!member_offset(&m, &off)) {
			debug_msg("glibc layout: no constant offset for member %s", name);
			continue;
		}
		if (special && special(l, name, &m, off))
			continue;
		for (size_t i = 0; i < nmap; i++)
			if (!strcmp(name, map[i].name))
				*field_at(l, map[i].field) = off;
	} while (dwarf_siblingof(&m, &m) == 0);
}

static bool
ms_special(struct malloc_layout *l, const char *name, Dwarf_Die *m, int32_t off)
{
	Dwarf_Die t;
	uint32_t n, esz;

	if (strcmp(name, "fastbinsY") && strcmp(name, "bins"))
		return false;
	if (!peeled_type(m, &t) || !array_shape(&t, &n, &esz))
		return false;
	if (!strcmp(name, "fastbinsY"))
		l->nfastbins = n;
	else
		l->nbins = (n + 2) / 2;		/* bins[NBINS * 2 - 2] */
	return false;				/* the offset is mapped as usual */
}

static bool
mp_special(struct malloc_layout *l, const char *name, Dwarf_Die *m, int32_t off)
{
	/* 2.42 renamed tcache_bins when tcache_max_bytes became a chunk-size
	 * bound (large tcache); the name is the only sign DWARF carries. */
	if (!strcmp(name, "tcache_small_bins"))
		l->tcache_max_is_chunk_size = true;
	else if (!strcmp(name, "tcache_bins"))
		l->tcache_max_is_chunk_size = false;
	return false;
}

static bool
tc_special(struct malloc_layout *l, const char *name, Dwarf_Die *m, int32_t off)
{
	Dwarf_Die t;
	uint32_t n, esz;
	bool counts = !strcmp(name, "counts"), slots = !strcmp(name, "num_slots");

	if (counts || slots) {
		l->tc_counts_off = (uint32_t)off;
		l->tc_counts_are_free_slots = slots;
		if (peeled_type(m, &t) && array_shape(&t, &n, &esz)) {
			l->tc_count_width = esz;
			l->tc_nbins = n;
		}
		return true;
	}
	if (!strcmp(name, "entries")) {
		l->tc_entries_off = (uint32_t)off;
		/* counts and entries have the same bound; take it from here
		 * too in case the counter array is named differently */
		if (!l->tc_nbins && peeled_type(m, &t) && array_shape(&t, &n, &esz))
			l->tc_nbins = n;
		return true;
	}
	return false;
}

static bool
te_special(struct malloc_layout *l, const char *name, Dwarf_Die *m, int32_t off)
{
	Dwarf_Die t;

	/* 2.29-2.33: struct tcache_perthread_struct *key; 2.34+: uintptr_t */
	if (!strcmp(name, "key"))
		l->te_key_is_tcache_ptr = peeled_type(m, &t)
			&& dwarf_tag(&t) == DW_TAG_pointer_type;
	return false;
}

static void
layout_unknown(struct malloc_layout *l)
{
	static const struct member_map *const maps[] = {
		ms_members, mp_members, hi_members, te_members,
	};
	static const size_t nmaps[] = {
		ARRAY_SIZE(ms_members), ARRAY_SIZE(mp_members),
		ARRAY_SIZE(hi_members), ARRAY_SIZE(te_members),
	};

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++)
		for (size_t j = 0; j < nmaps[i]; j++)
			*field_at(l, maps[i][j].field) = -1;
	/* not in DWARF, but fixed for every LP64 glibc */
	l->heap_max_default = HEAP_MAX_LP64;
}

int
layout_from_dwarf(Dwarf *dw, const struct malloc_layout *base, struct malloc_layout *out)
{
	struct dwarf_scan sc;
	struct malloc_layout l;
	Elf *elf;
	GElf_Ehdr eh;

	if (!dw)
		return hd_fail(HD_ENOENT, "no DWARF to read glibc's malloc layout from");
	elf = dwarf_getelf(dw);
	if (elf && gelf_getclass(elf) == ELFCLASS32)
		return hd_fail(HD_ENOTSUP, "32-bit libc: only LP64 malloc layouts are supported");
	memset(&sc, 0, sizeof(sc));
	scan_dwarf(dw, &sc);
	if (!sc.found[W_MS] || !sc.found[W_MP])
		return hd_fail(HD_ENOENT, "no definition of struct %s in the DWARF",
			       sc.found[W_MS] ? "malloc_par" : "malloc_state");

	if (base)
		l = *base;
	else
		layout_unknown(&l);
	l.source = LAYOUT_FROM_DWARF;
	l.uncertain = false;
	if (elf && gelf_getehdr(elf, &eh)) {
		if (eh.e_machine == EM_X86_64)
			l.arch = LAYOUT_X86_64;
		else if (eh.e_machine == EM_AARCH64)
			l.arch = LAYOUT_AARCH64;
	}

	l.ms_size = struct_size(&sc.die[W_MS]);
	l.nfastbins = 0;
	read_members(&sc.die[W_MS], &l, ms_members, ARRAY_SIZE(ms_members), ms_special);
	if (l.ms_fastbins < 0)
		l.nfastbins = 0;

	l.mp_size = struct_size(&sc.die[W_MP]);
	read_members(&sc.die[W_MP], &l, mp_members, ARRAY_SIZE(mp_members), mp_special);
	if (l.mp_tcache_bins < 0 && l.mp_tcache_count < 0 && l.mp_tcache_max_bytes < 0) {
		/* a malloc built without the tcache (libc_malloc_debug.so's):
		 * whatever the base says of tcache structures does not apply */
		struct malloc_layout mp = l;
		layout_without_tcache(&l);
		l.mp_size = mp.mp_size;
		sc.found[W_TC] = sc.found[W_TE] = false;
	}

	if (sc.found[W_HI]) {
		l.hi_size = struct_size(&sc.die[W_HI]);
		read_members(&sc.die[W_HI], &l, hi_members, ARRAY_SIZE(hi_members), NULL);
	}
	if (sc.found[W_TC]) {
		l.has_tcache = true;
		l.tc_size = struct_size(&sc.die[W_TC]);
		l.tc_counts_off = l.tc_entries_off = 0;
		l.tc_count_width = l.tc_nbins = 0;
		l.tc_counts_are_free_slots = false;
		read_members(&sc.die[W_TC], &l, NULL, 0, tc_special);
	}
	if (sc.found[W_TE]) {
		l.has_tcache = true;
		l.te_key_is_tcache_ptr = false;
		read_members(&sc.die[W_TE], &l, te_members, ARRAY_SIZE(te_members), te_special);
	}
	*out = l;
	return 0;
}
