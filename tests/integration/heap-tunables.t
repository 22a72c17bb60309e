#!/usr/bin/env python3
# The heap walk under glibc tunables that change the heap's shape: no
# tcache, no fastbins, one arena, a low mmap threshold, hugetlb (heaps
# aligned to 4 x the huge page size), and an arena grown to a second heap.
# Each time: the mallinfo2() identities exactly, every held pointer live,
# check clean.
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
cases = [
    ("tcache_count=0", {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, [], {"tcache": 0}),
    ("mxfast=0", {"GLIBC_TUNABLES": "glibc.malloc.mxfast=0"}, [], {"fastbin": 0}),
    ("arena_max=1", {"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"}, [], {"arenas": 1}),
    ("mmap_threshold=4096", {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"}, [], {}),
    ("mmap_max=0", {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"}, [], {"mmapped": 0}),
    ("hugetlb=2", {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=2"}, [], {"heap_max": 8 << 20}),
    ("second heap", {}, ["big"], {"heaps_max": 2}),
]
for label, env, args, expect in cases:
    t = Target("heapstates", args, env=env)
    mi = t.values("mallinfo2")
    held = held_pointers(t)
    r = batch(["-p", str(t.pid)], "heap", "chunks --state inuse", "check", "info",
              "chunks --state tcache", "chunks --state fastbin")
    h = r.cmd("heap") or {}
    ok(r.rc == 0, "%s: batch run ok" % label, r)
    check_identities(h, mi, label)
    check_held(r.cmd("chunks", 0), held, label)
    c = r.cmd("check") or {}
    ok(c.get("errors") == 0, "%s: check clean" % label, c.get("findings"))
    if "tcache" in expect:
        is_((r.cmd("chunks", 1) or {}).get("count"), 0, "%s: no chunk in a tcache" % label)
    if "fastbin" in expect:
        is_((r.cmd("chunks", 2) or {}).get("count"), 0, "%s: no chunk in a fastbin" % label)
    if "arenas" in expect:
        is_(len(h.get("arenas", [])), expect["arenas"], "%s: every thread in main_arena" % label)
    if "heap_max" in expect:
        is_((r.cmd("info") or {}).get("heap_max"), expect["heap_max"], "%s: heap size from mp_.hp_pagesize" % label)
    if "heaps_max" in expect:
        is_(max(a.get("heaps", 0) for a in h.get("arenas", [{}])), expect["heaps_max"],
            "%s: an arena with two heaps" % label)
    if "mmapped" in expect:
        is_(h.get("mmapped", {}).get("chunks"), expect["mmapped"], "%s: no mmapped chunk" % label)
    t.stop()
done()
