/*
 * Unit tests: glibc-layout.c (the layout table's consistency, the values
 * measured on glibc 2.36, version strings, and the DWARF reader against
 * this machine's libc6-dbg when it is installed).
 */
#include "config.h"
#include "glibc-layout.h"
#include "tap.h"
#include "util.h"

#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LIBC_236_DEBUG "/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug"

/* Every field of struct malloc_layout, for whole-struct comparisons.
 * D marks the ones DWARF determines on its own (no base entry needed). */
#define LAYOUT_FIELDS(X, D)						\
	X(version) X(arch) X(source)					\
	D(ms_size) D(ms_mutex) D(ms_flags) D(ms_have_fastchunks)	\
	D(ms_fastbins) D(ms_top) D(ms_last_remainder) D(ms_bins)	\
	D(ms_binmap) D(ms_next) D(ms_next_free) D(ms_attached_threads)	\
	D(ms_system_mem) D(ms_max_system_mem) D(nfastbins) D(nbins)	\
	D(mp_size) D(mp_trim_threshold) D(mp_top_pad)			\
	D(mp_mmap_threshold) D(mp_arena_test) D(mp_arena_max)		\
	D(mp_thp_pagesize) D(mp_hp_pagesize) D(mp_hp_flags)		\
	D(mp_n_mmaps) D(mp_n_mmaps_max) D(mp_max_n_mmaps)		\
	D(mp_no_dyn_threshold) D(mp_mmapped_mem) D(mp_max_mmapped_mem)	\
	D(mp_sbrk_base) D(mp_tcache_bins) D(mp_tcache_max_bytes)	\
	D(mp_tcache_count) D(mp_tcache_unsorted_limit)			\
	D(hi_size) D(hi_ar_ptr) D(hi_prev) D(hi_size_field)		\
	D(hi_mprotect_size) D(hi_pagesize)				\
	D(tc_size) D(tc_counts_off) D(tc_count_width) D(tc_entries_off)	\
	D(tc_nbins) D(tc_counts_are_free_slots) D(te_next) D(te_key)	\
	D(te_key_is_tcache_ptr) D(has_tcache) X(safe_linking)		\
	D(tcache_max_is_chunk_size) X(mmapped_prev_size_hugepage_bit)	\
	D(heap_max_default) D(mp_thp_mode) X(mmapped_size_excludes_hdr)	\
	X(tcache_count_default) X(tcache_max_bytes_default) X(uncertain)

/* Compare a and b field by field; diag every difference.  With
 * dwarf_only, only the fields DWARF determines by itself. */
static bool
same_layout(const struct malloc_layout *a, const struct malloc_layout *b,
	    bool dwarf_only, bool skip_source)
{
	int bad = 0;

#define CMP(f)								\
	if ((int64_t)a->f != (int64_t)b->f) {				\
		diag("  %s: %" PRId64 " (%#" PRIx64 ") != %" PRId64 " (%#" PRIx64 ")", #f, \
		     (int64_t)a->f, (uint64_t)(int64_t)a->f,		\
		     (int64_t)b->f, (uint64_t)(int64_t)b->f);		\
		bad++;							\
	}
#define CMP_ALL(f) if (!dwarf_only && !(skip_source && !strcmp(#f, "source"))) { CMP(f) }
#define CMP_DW(f) { CMP(f) }
	LAYOUT_FIELDS(CMP_ALL, CMP_DW)
#undef CMP_DW
#undef CMP_ALL
#undef CMP
	return bad == 0;
}

/* Offsets of present fields must strictly increase in declaration order
 * and each field must fit in the struct. */
static bool
ordered(const int32_t *offs, const unsigned *sizes, size_t n, uint32_t total,
	const char *what, char *why, size_t len)
{
	int32_t last = -1;

	for (size_t i = 0; i < n; i++) {
		if (offs[i] < 0)
			continue;
		if (offs[i] <= last) {
			snprintf(why, len, "%s field %zu at %#x is not after %#x", what, i,
				 offs[i], last);
			return false;
		}
		if ((uint32_t)offs[i] + sizes[i] > total) {
			snprintf(why, len, "%s field %zu at %#x overruns size %#x", what, i,
				 offs[i], total);
			return false;
		}
		last = offs[i];
	}
	return true;
}

#define FAIL(...) do { snprintf(why, len, __VA_ARGS__); return false; } while (0)

static bool
check_row(const struct malloc_layout *l, char *why, size_t len)
{
	unsigned v = l->version;
	uint32_t nb = l->nbins * 2 - 2;
	const int32_t ms[] = {
		l->ms_mutex, l->ms_flags, l->ms_have_fastchunks, l->ms_fastbins, l->ms_top,
		l->ms_last_remainder, l->ms_bins, l->ms_binmap, l->ms_next, l->ms_next_free,
		l->ms_attached_threads, l->ms_system_mem, l->ms_max_system_mem,
	};
	const unsigned ms_sz[] = { 4, 4, 4, l->nfastbins * 8, 8, 8, nb * 8, 16, 8, 8, 8, 8, 8 };
	const int32_t mp[] = {
		l->mp_trim_threshold, l->mp_top_pad, l->mp_mmap_threshold, l->mp_arena_test,
		l->mp_arena_max, l->mp_thp_mode, l->mp_thp_pagesize, l->mp_hp_pagesize,
		l->mp_hp_flags, l->mp_n_mmaps, l->mp_n_mmaps_max, l->mp_max_n_mmaps,
		l->mp_no_dyn_threshold, l->mp_mmapped_mem, l->mp_max_mmapped_mem,
		l->mp_sbrk_base, l->mp_tcache_bins, l->mp_tcache_max_bytes,
		l->mp_tcache_count, l->mp_tcache_unsorted_limit,
	};
	const unsigned mp_sz[] = { 8, 8, 8, 8, 8, 4, 8, 8, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8 };
	const int32_t hi[] = {
		l->hi_ar_ptr, l->hi_prev, l->hi_size_field, l->hi_mprotect_size, l->hi_pagesize,
	};
	const unsigned hi_sz[] = { 8, 8, 8, 8, 8 };
	int32_t mp_last;
	uint32_t tc_chunk, want;

	if (l->source != LAYOUT_FROM_TABLE)
		FAIL("source is not the table");
	if (v < 226 || v > 299)
		FAIL("version %u out of range", v);

	/* malloc_state */
	if (!ordered(ms, ms_sz, ARRAY_SIZE(ms), l->ms_size, "malloc_state", why, len))
		return false;
	if (l->ms_mutex != 0 || l->ms_flags != 4)
		FAIL("mutex/flags not at 0/4");
	if (l->nbins != 128 || l->ms_binmap - l->ms_bins != (int32_t)(nb * 8))
		FAIL("bins[] is not NBINS*2-2 pointers before binmap");
	if (l->ms_next - l->ms_binmap != 16)
		FAIL("binmap is not 4 words");
	if ((l->ms_fastbins < 0) != (l->nfastbins == 0))
		FAIL("nfastbins disagrees with fastbinsY's presence");
	if (l->ms_have_fastchunks >= 0 && l->ms_fastbins < 0)
		FAIL("have_fastchunks without fastbins");
	if (l->ms_fastbins >= 0 && l->ms_top - l->ms_fastbins != (int32_t)(l->nfastbins * 8))
		FAIL("fastbinsY[] does not end at top");
	if (l->ms_size != (uint32_t)l->ms_max_system_mem + 8)
		FAIL("malloc_state does not end after max_system_mem");
	want = v == 226 ? 0x890 : v <= 242 ? 0x898 : 0x840;
	if (l->ms_size != want)
		FAIL("sizeof(malloc_state) %#x, expected %#x", l->ms_size, want);
	if ((v >= 243) != (l->ms_fastbins < 0) || (v == 226) != (l->ms_have_fastchunks < 0 && v < 243))
		FAIL("fastbin fields present in the wrong versions");
	if (v <= 242 && l->nfastbins != 10)
		FAIL("NFASTBINS is not 10");
	/* the unsorted bin head (bin_at(1)) is the classic libc leak */
	want = v == 226 ? 0x58 : v <= 242 ? 0x60 : 0x08;
	if ((uint32_t)l->ms_bins - 0x10 != want)
		FAIL("unsorted head at %#x, expected %#x", l->ms_bins - 0x10, want);

	/* malloc_par */
	mp_last = l->mp_tcache_unsorted_limit >= 0 ? l->mp_tcache_unsorted_limit
		: l->mp_tcache_count;
	if (!ordered(mp, mp_sz, ARRAY_SIZE(mp), l->mp_size, "malloc_par", why, len))
		return false;
	if (l->mp_size != (uint32_t)mp_last + 8)
		FAIL("malloc_par does not end after its last tcache field");
	if ((l->mp_thp_pagesize < 0) != (l->mp_hp_pagesize < 0)
	    || (l->mp_hp_pagesize < 0) != (l->mp_hp_flags < 0))
		FAIL("huge-page fields not all present or all absent");
	if ((v >= 235) != (l->mp_hp_pagesize >= 0) || (v >= 243) != (l->mp_thp_mode >= 0))
		FAIL("huge-page fields present in the wrong versions");
	for (size_t i = 0; i < ARRAY_SIZE(mp); i++)
		if (mp[i] >= 0 && mp[i] % mp_sz[i])
			FAIL("malloc_par field %zu misaligned", i);
	want = v < 235 ? 0x48 : v <= 242 ? 0x60 : 0x68;
	if ((uint32_t)l->mp_sbrk_base != want)
		FAIL("mp_.sbrk_base at %#x, expected %#x", l->mp_sbrk_base, want);
	if ((v >= 244) != (l->mp_tcache_unsorted_limit < 0))
		FAIL("tcache_unsorted_limit present in the wrong versions");

	/* heap_info */
	if (!ordered(hi, hi_sz, ARRAY_SIZE(hi), l->hi_size, "heap_info", why, len))
		return false;
	if ((l->hi_size + 16) % 16)
		FAIL("sizeof(heap_info) + 2*SIZE_SZ is not 16-aligned");
	if (l->hi_size != (v < 235 ? 0x20u : 0x30u) || (v >= 235) != (l->hi_pagesize >= 0))
		FAIL("heap_info size %#x wrong for %u", l->hi_size, v);
	/* the first chunk of a non-main arena's first heap (facts sheet 4.4) */
	want = v == 226 ? 0x8b0 : v < 235 ? 0x8c0 : v <= 242 ? 0x8d0 : 0x870;
	if (ALIGN_UP(l->hi_size + l->ms_size, 16) != want)
		FAIL("first arena chunk at h+%#" PRIx64 ", expected h+%#x",
		     (uint64_t)ALIGN_UP(l->hi_size + l->ms_size, 16), want);

	/* tcache */
	if (!l->has_tcache || l->tc_counts_off != 0)
		FAIL("tcache missing or counts not first");
	if (l->tc_count_width != (v < 230 ? 1u : 2u) || l->tc_nbins != (v < 242 ? 64u : 76u))
		FAIL("tcache counts %u x %u bytes wrong for %u", l->tc_nbins,
		     l->tc_count_width, v);
	if (l->tc_entries_off != ALIGN_UP(l->tc_counts_off + l->tc_nbins * l->tc_count_width, 8))
		FAIL("entries[] does not follow the counters");
	if (l->tc_size != l->tc_entries_off + l->tc_nbins * 8)
		FAIL("tcache_perthread_struct does not end after entries[]");
	tc_chunk = (uint32_t)ALIGN_UP(l->tc_size + 8, 16);
	want = v < 230 ? 0x250 : v < 242 ? 0x290 : 0x300;
	if (tc_chunk != want)
		FAIL("tcache chunk %#x, expected %#x", tc_chunk, want);
	if (l->tc_counts_are_free_slots != (v >= 242))
		FAIL("num_slots semantics in the wrong versions");
	if (l->te_next != 0 || l->te_key != (v < 229 ? -1 : 8))
		FAIL("tcache_entry next/key wrong");
	if (l->te_key_is_tcache_ptr != (v >= 229 && v <= 233))
		FAIL("tcache key kind wrong");

	/* behaviour */
	if (l->safe_linking != (v >= 232) || l->tcache_max_is_chunk_size != (v >= 242)
	    || l->mmapped_prev_size_hugepage_bit != (v >= 243)
	    || l->mmapped_size_excludes_hdr != (v >= 243))
		FAIL("behaviour flags wrong");
	if (l->heap_max_default != 64ULL << 20)
		FAIL("HEAP_MAX_SIZE is not 64 MiB");
	if (l->tcache_count_default != (v < 243 ? 7u : 16u)
	    || l->tcache_max_bytes_default != (v < 243 ? 0x408u : 0x411u))
		FAIL("mp_ defaults wrong");
	if (l->uncertain != (v >= 243))
		FAIL("uncertainty mark wrong");
	return true;
}

static void
test_table(void)
{
	const struct malloc_layout *x, *a;
	size_t n, na;
	char why[160];
	bool all_ok = true, same = true, increasing = true;

	x = layout_table(LAYOUT_X86_64, &n);
	a = layout_table(LAYOUT_AARCH64, &na);
	is_u64(n, na, "aarch64 table has as many rows as x86-64");
	is_u64(x[0].version, 226, "table starts at 2.26");
	for (size_t i = 0; i < n; i++) {
		struct malloc_layout copy = a[i];

		why[0] = 0;
		if (!ok(check_row(&x[i], why, sizeof(why)), "table %u.%u x86-64 is consistent",
			x[i].version / 100, x[i].version % 100)) {
			diag("  %s", why);
			all_ok = false;
		}
		if (x[i].arch != LAYOUT_X86_64 || a[i].arch != LAYOUT_AARCH64)
			same = false;
		copy.arch = LAYOUT_X86_64;
		if (memcmp(&copy, &x[i], sizeof(copy)))
			same = false;
		if (i && x[i].version != x[i - 1].version + 1)
			increasing = false;
	}
	ok(all_ok, "every table row passes the sanity checks");
	ok(same, "aarch64 rows equal the x86-64 rows except for arch (LP64)");
	ok(increasing, "one row per release, in order");
}

static void
test_measured_236(void)
{
	bool exact = false;
	const struct malloc_layout *l = layout_for_version(2, 36, LAYOUT_X86_64, &exact);
	struct malloc_layout m;

	if (!ok(l && exact, "2.36 has an exact table row"))
		return;
	/* facts sheet 2.1, 2.3, 2.2, 2.4 [M]: ptype /o on Debian 12's libc6-dbg */
	m = *l;
	m.ms_size = 0x898;
	m.ms_mutex = 0x000; m.ms_flags = 0x004; m.ms_have_fastchunks = 0x008;
	m.ms_fastbins = 0x010; m.ms_top = 0x060; m.ms_last_remainder = 0x068;
	m.ms_bins = 0x070; m.ms_binmap = 0x860; m.ms_next = 0x870;
	m.ms_next_free = 0x878; m.ms_attached_threads = 0x880;
	m.ms_system_mem = 0x888; m.ms_max_system_mem = 0x890;
	m.nfastbins = 10; m.nbins = 128;
	m.mp_size = 0x88;
	m.mp_trim_threshold = 0x00; m.mp_top_pad = 0x08; m.mp_mmap_threshold = 0x10;
	m.mp_arena_test = 0x18; m.mp_arena_max = 0x20; m.mp_thp_pagesize = 0x28;
	m.mp_hp_pagesize = 0x30; m.mp_hp_flags = 0x38; m.mp_n_mmaps = 0x3c;
	m.mp_n_mmaps_max = 0x40; m.mp_max_n_mmaps = 0x44; m.mp_no_dyn_threshold = 0x48;
	m.mp_mmapped_mem = 0x50; m.mp_max_mmapped_mem = 0x58; m.mp_sbrk_base = 0x60;
	m.mp_tcache_bins = 0x68; m.mp_tcache_max_bytes = 0x70; m.mp_tcache_count = 0x78;
	m.mp_tcache_unsorted_limit = 0x80; m.mp_thp_mode = -1;
	m.hi_size = 0x30;
	m.hi_ar_ptr = 0x00; m.hi_prev = 0x08; m.hi_size_field = 0x10;
	m.hi_mprotect_size = 0x18; m.hi_pagesize = 0x20;
	m.tc_size = 0x280; m.tc_counts_off = 0; m.tc_count_width = 2;
	m.tc_entries_off = 0x80; m.tc_nbins = 64; m.tc_counts_are_free_slots = false;
	m.te_next = 0; m.te_key = 8; m.te_key_is_tcache_ptr = false;
	m.has_tcache = true; m.safe_linking = true; m.tcache_max_is_chunk_size = false;
	m.mmapped_prev_size_hugepage_bit = false; m.heap_max_default = 0x4000000;
	m.tcache_count_default = 7; m.tcache_max_bytes_default = 0x408;
	ok(same_layout(l, &m, false, false), "2.36 row equals the measured 2.36 layout");
	is_u64(l->version, 236, "2.36 row version");
}

static void
test_lookup(void)
{
	const struct malloc_layout *l;
	bool exact;

	l = layout_for_version(2, 26, LAYOUT_X86_64, &exact);
	ok(l && exact && l->version == 226, "2.26 exact");
	l = layout_for_version(2, 43, LAYOUT_AARCH64, &exact);
	ok(l && exact && l->version == 243 && l->arch == LAYOUT_AARCH64,
	   "2.43 aarch64 exact");
	l = layout_for_version(2, 50, LAYOUT_X86_64, &exact);
	ok(l && !exact && l->version == 244, "2.50 falls back to the newest row, not exact");
	l = layout_for_version(3, 1, LAYOUT_X86_64, &exact);
	ok(l && !exact && l->version == 244, "3.1 falls back to the newest row");
	exact = true;
	l = layout_for_version(2, 25, LAYOUT_X86_64, &exact);
	ok(!l && !exact && hd_errcode() == HD_ENOTSUP, "2.25 has no entry");
	ok(!layout_for_version(1, 99, LAYOUT_X86_64, NULL), "1.99 has no entry");
	l = layout_for_version(2, 36, LAYOUT_X86_64, NULL);
	ok(l && l->version == 236, "exact may be NULL");
}

static void
test_parse(void)
{
	unsigned ma = 0, mi = 0;

	ok(layout_parse_version("2.36", &ma, &mi) == 0 && ma == 2 && mi == 36, "parse 2.36");
	ok(layout_parse_version("GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable "
				"release version 2.36.", &ma, &mi) == 0 && ma == 2 && mi == 36,
	   "parse a Debian banner");
	ok(layout_parse_version("GNU C Library (Ubuntu GLIBC 2.39-0ubuntu8.4) stable "
				"release version 2.39.\nCopyright (C) 2024 Free Software "
				"Foundation, Inc.\nCompiled by GNU CC version 13.2.0.\n",
				&ma, &mi) == 0 && ma == 2 && mi == 39,
	   "a full banner: the compiler's version is not taken");
	ok(layout_parse_version("GNU C Library (GNU libc) development release version "
				"2.42.9000.", &ma, &mi) == 0 && ma == 2 && mi == 42,
	   "a development banner");
	ok(layout_parse_version("GLIBC_2.35", &ma, &mi) == 0 && ma == 2 && mi == 35,
	   "a symbol version name");
	ok(layout_parse_version("  2.9", &ma, &mi) == 0 && ma == 2 && mi == 9,
	   "leading blanks and one-digit minor");
	ok(layout_parse_version("libc-2.31.so", &ma, &mi) == 0 && ma == 2 && mi == 31,
	   "an old libc file name");
	ok(layout_parse_version("stable release", &ma, &mi) < 0 && hd_errcode() == HD_EFORMAT,
	   "no version is an error");
	ok(layout_parse_version("2.", &ma, &mi) < 0, "\"2.\" is not a version");
	ok(layout_parse_version(NULL, &ma, &mi) < 0, "NULL is not a version");
}

static void
test_describe(void)
{
	char buf[64];
	struct malloc_layout l = *layout_for_version(2, 36, LAYOUT_X86_64, NULL);

	is_str(layout_describe(&l, buf, sizeof(buf)), "glibc 2.36 x86-64 (table)", "describe");
	l.arch = LAYOUT_AARCH64;
	l.source = LAYOUT_FROM_DWARF;
	is_str(layout_describe(&l, buf, sizeof(buf)), "glibc 2.36 aarch64 (DWARF)",
	       "describe aarch64 from DWARF");
	is_str(layout_describe(layout_for_version(2, 43, LAYOUT_X86_64, NULL), buf, sizeof(buf)),
	       "glibc 2.43 x86-64 (table, unverified)", "describe an unverified row");
	is_str(layout_describe(&l, buf, 8), "glibc 2", "describe truncates to the buffer");
}

static double
ms_since(uint64_t t0)
{
	return (double)(hd_now_ns() - t0) / 1e6;
}

static void
test_dwarf(void)
{
	const struct malloc_layout *t236 = layout_for_version(2, 36, LAYOUT_X86_64, NULL);
	const struct malloc_layout *t226 = layout_for_version(2, 26, LAYOUT_X86_64, NULL);
	struct malloc_layout got, untouched;
	Dwarf *dw;
	uint64_t t0;
	double t_open, t_read, t_read2;
	int fd;

	elf_version(EV_CURRENT);

	/* A DWARF without malloc's types: the test program itself. */
	fd = open("/proc/self/exe", O_RDONLY);
	dw = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : NULL;
	if (dw) {
		memset(&got, 0x5a, sizeof(got));
		untouched = got;
		ok(layout_from_dwarf(dw, t236, &got) < 0 && hd_errcode() == HD_ENOENT
		   && !memcmp(&got, &untouched, sizeof(got)),
		   "a DWARF without struct malloc_state: HD_ENOENT, output untouched");
		dwarf_end(dw);
	} else {
		tap_skip(1, "the test program has no DWARF");
	}
	if (fd >= 0)
		close(fd);
	ok(layout_from_dwarf(NULL, t236, &got) < 0, "no DWARF at all is an error");

	fd = open(LIBC_236_DEBUG, O_RDONLY);
	if (fd < 0) {
		tap_skip(6, "libc6-dbg's debug file for Debian glibc 2.36 is not installed");
		return;
	}
	t0 = hd_now_ns();
	dw = dwarf_begin(fd, DWARF_C_READ);
	t_open = ms_since(t0);
	if (!ok(dw != NULL, "dwarf_begin on libc's debug file")) {
		diag("  %s", dwarf_errmsg(-1));
		tap_skip(5, "cannot read the debug file");
		close(fd);
		return;
	}

	t0 = hd_now_ns();
	if (!ok(layout_from_dwarf(dw, t236, &got) == 0, "layout_from_dwarf on libc 2.36"))
		diag("  %s", hd_errmsg());
	t_read = ms_since(t0);
	ok(got.source == LAYOUT_FROM_DWARF && got.arch == LAYOUT_X86_64,
	   "DWARF layout is marked as such, arch from the ELF header");
	ok(same_layout(&got, t236, false, true),
	   "every field read from DWARF equals the 2.36 table row");

	/* Nothing may come from the base entry: start from nothing, and from
	 * the (wrong) 2.26 row. */
	t0 = hd_now_ns();
	ok(layout_from_dwarf(dw, NULL, &got) == 0 && same_layout(&got, t236, true, true),
	   "without a base entry every DWARF-derived field still matches 2.36");
	t_read2 = ms_since(t0);
	got = *t226;
	ok(layout_from_dwarf(dw, &got, &got) == 0 && same_layout(&got, t236, true, true)
	   && got.version == 226,
	   "starting from the 2.26 row (in place), DWARF overrides every offset");
	diag("DWARF read of libc 2.36: dwarf_begin %.1f ms (decompresses .debug_*), "
	     "layout_from_dwarf %.1f ms, again %.1f ms", t_open, t_read, t_read2);
	dwarf_end(dw);
	close(fd);
}

/* layout_diff names what differs; layout_without_tcache gives the mp_
 * of a malloc built without the tcache (libc_malloc_debug.so); every
 * table row passes layout_problem, a broken one does not. */
static void
test_diff_and_problem(void)
{
	const struct malloc_layout *t236 = layout_for_version(2, 36, LAYOUT_X86_64, NULL);
	const struct malloc_layout *t242 = layout_for_version(2, 42, LAYOUT_X86_64, NULL);
	const struct malloc_layout *tab;
	struct malloc_layout l;
	char names[256];
	size_t n;
	bool all = true;

	ok(layout_diff(t236, t236, names, sizeof(names)) == 0 && names[0] == 0, "a row does not differ from itself");
	l = *t236;
	l.version = 237;
	l.source = LAYOUT_FROM_DWARF;
	l.uncertain = true;
	ok(layout_diff(t236, &l, names, sizeof(names)) == 0, "version, source and the uncertain mark are no layout facts");
	ok(layout_diff(t236, t242, names, sizeof(names)) == 5 &&
	   !strcmp(names, "tc_size, tc_entries_off, tc_nbins, tc_counts_are_free_slots, tcache_max_is_chunk_size"),
	   "2.36 against 2.42: the large tcache's facts, named (%s)", names);
	ok(layout_diff(t236, t242, names, 8) == 5 && strlen(names) < 8, "names truncated to the buffer");

	l = *t236;
	layout_without_tcache(&l);
	ok(!l.has_tcache && l.mp_size == 0x68 && l.mp_tcache_bins == -1 && l.mp_tcache_count == -1 &&
	   l.mp_sbrk_base == 0x60 && l.ms_size == t236->ms_size, "2.36 without the tcache: mp_ ends at 0x68");
	ok(layout_problem(&l) == NULL, "a layout without the tcache is sound");

	tab = layout_table(LAYOUT_X86_64, &n);
	for (size_t i = 0; i < n; i++)
		if (layout_problem(&tab[i])) {
			diag("row %u: %s", tab[i].version, layout_problem(&tab[i]));
			all = false;
		}
	ok(all, "every table row passes the consistency checks");
	l = *t236;
	l.ms_top = (int32_t)l.ms_size;
	ok(layout_problem(&l) != NULL, "malloc_state.top beyond the structure: a problem (%s)", layout_problem(&l));
}

int
main(void)
{
	test_diff_and_problem();
	test_table();
	test_measured_236();
	test_lookup();
	test_parse();
	test_describe();
	test_dwarf();
	return tap_done();
}
