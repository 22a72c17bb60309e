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
};

/* Read the totals of every arena in mi's ring.  0, or -1 with an hd error
 * when malloc's state cannot be read at all (out is then empty). */
int arenas_stat_read(struct target *t, const struct malloc_info *mi, struct arenas_stat *out);
void arenas_stat_free(struct arenas_stat *st);

#endif
