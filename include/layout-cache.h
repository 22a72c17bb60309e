/*
 * layout-cache.h - glibc malloc layouts read from DWARF, remembered per
 * debug file (part of the ptmalloc-model layer, beside glibc-layout.h).
 *
 * Reading a layout from libc's debug info costs about 100 ms (libdw
 * inflates the compressed .debug_info first), and a live target is held
 * stopped meanwhile.  The answer depends only on the file, so it is
 * kept on disk: one small file per debug file and table row, under
 * $HEAPDBG_CACHE_DIR, else $XDG_CACHE_HOME/heapdbg, else
 * $HOME/.cache/heapdbg.  HEAPDBG_CACHE_DIR=off (or empty) turns the
 * cache off.  An entry is keyed by the debug file's device, inode, size
 * and modification time, the table row it was checked against and
 * heapdbg's version and layout size; an entry that does not match in
 * every part, is not owned by the user, or fails layout_problem() is
 * ignored (and overwritten by the next store).
 */
#ifndef HEAPDBG_LAYOUT_CACHE_H
#define HEAPDBG_LAYOUT_CACHE_H

#include <stdbool.h>

#include "glibc-layout.h"

/* Look up what layout_from_dwarf() returned for the file at path against
 * base (NULL: no table row).  true with *rc (its return value) and, when
 * *rc is 0, *out; false when nothing usable is cached. */
bool layout_cache_get(const char *path, const struct malloc_layout *base, int *rc, struct malloc_layout *out);

/* Remember layout_from_dwarf()'s result rc (and out when rc is 0) for
 * path and base.  Best effort: a cache that cannot be written is no
 * error.  Written to a temporary file and renamed, so a reader never
 * sees half an entry. */
void layout_cache_put(const char *path, const struct malloc_layout *base, int rc, const struct malloc_layout *out);

/* What this process itself stored with layout_cache_put() for path and
 * base, cache on or off: the DWARF check was done in this run (for a
 * second locate in one run, after the one made while the process ran).
 * As layout_cache_get. */
bool layout_cache_get_here(const char *path, const struct malloc_layout *base, int *rc, struct malloc_layout *out);

/* The cache's directory (NULL when it is off). */
const char *layout_cache_dir(void);

#endif
