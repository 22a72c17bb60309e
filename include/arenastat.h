/*
 * arenastat.h - heap totals the way glibc's mallinfo2() takes them (part
 * of the walker layer, beside heap.h): every arena's counters (system_mem,
 * top) and its free lists (fastbins, the unsorted, small and large bins),
 * mp_'s mmap counters; no chunk walk.  The cost is the number of free
 * chunks, not of chunks, so `monitor --quick` can sample a heap of
 * millions of chunks and hold the process stopped for milliseconds.
 *
 * The numbers are mallinfo2()'s, to the byte, for a process held stopped:
 * arena = system_mem, fordblks = top + bins + fastbins, uordblks = arena -
 * fordblks (tcache'd chunks count as in use, as for glibc; so does the
 * arena's own overhead), hblks/hblkhd = mp_.n_mmaps/mmapped_mem.  Lists
 * are followed with bounds: a list that loops, leaves the arena's memory
 * or is misaligned stops where it went wrong and the problem is said
 * (use `check` to find out more).
 */
#ifndef HEAPDBG_ARENASTAT_H
#define HEAPDBG_ARENASTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "heap.h"
#include "locate.h"
#include "target.h"
#include "util.h"

struct arena_stat {
	uint64_t addr;		/* its malloc_state */
	bool main;
	uint64_t system_mem;
	uint64_t top_size;
	struct hcount fastbins;
	struct hcount bins;	/* unsorted + small + large */
	uint64_t in_use;	/* system_mem - top - bins - fastbins */
};

struct arenas_stat {
	VEC(struct arena_stat) arenas;
	uint64_t n_mmaps, mmapped_mem;	/* mp_: chunks mmapped on their own */
	char *problem;		/* the first list that could not be followed */
	/* how the lists were read (all of it in the stop unless approximate) */
	uint64_t hinted;	/* nodes the hint named */
	uint64_t confirmed;	/* list nodes the stop read again in batches */
	uint64_t changed;	/* of the hint's nodes read again, those that
				 * differed from the hint (the lists moved) */
	uint64_t unconfirmed;	/* list nodes taken as the hint read them */
	uint64_t rounds;	/* dependent rounds of reads for the others */
	uint64_t cut;		/* lists cut short at the deadline */
	bool approximate;	/* unconfirmed or cut: not the stopped state */
};

/* A hint: the free lists followed with the process running (one round of
 * reads per node of the longest list, as arenas_stat_read does), their
 * nodes' addresses and (size, fd) words kept.  A list that changes
 * meanwhile may be followed wrongly; the hint is never trusted for an
 * exact sample: arenas_stat_read reads every node it names again under
 * the stop, in batches (many iovecs a call, no read waiting for
 * another), then follows the lists from the heads it reads then, taking
 * a node's size and link from that batch when the hint named it and
 * reading it (a round at a time) when not.  So the totals are exact for
 * the stopped process whatever the hint holds; a good hint only makes
 * the stop short.  NULL when mi has no glibc malloc state. */
struct arenas_hint;
struct arenas_hint *arenas_hint_new(const struct malloc_info *mi);
/* Follow the lists for about budget_ns (the process may run): 1 when the
 * hint is complete, 0 when there is more to do (call again).  Bounded as
 * arenas_stat_read is; a loop, a bad link or an unreadable node ends
 * that list quietly. */
int arenas_hint_step(struct target *t, const struct malloc_info *mi, struct arenas_hint *h, uint64_t budget_ns);
size_t arenas_hint_nodes(const struct arenas_hint *h);
void arenas_hint_free(struct arenas_hint *h);

/* Read the totals of every arena in mi's ring (the process stopped),
 * with hint's nodes (NULL: none) read again in batches.  deadline (on
 * hd_now_ns()'s clock; 0: none) bounds the stop: past it the hint's
 * nodes not yet read again are taken as the hint read them, and lists
 * that need reads a round at a time are cut; out->approximate then says
 * the totals are not the stopped process's to the byte.  Without a
 * deadline they always are.  0, or -1 with an hd error when malloc's
 * state cannot be read at all (out is then empty). */
int arenas_stat_read(struct target *t, const struct malloc_info *mi, const struct arenas_hint *hint,
		     uint64_t deadline, struct arenas_stat *out);
void arenas_stat_free(struct arenas_stat *st);
/* The arenas' system_mem, summed (what a walk reads, about): a few reads
 * of the malloc_states.  0 when there is none to read. */
uint64_t arenas_system_mem(struct target *t, const struct malloc_info *mi);

#endif
