#!/usr/bin/env python3
# Main-arena heaps whose shape the kernel's mappings do not tell (issue
# 13): a forked worker whose brk heap grew after fork() ([heap] is two
# mappings), a heap with an mprotect()ed page inside a block, a program
# that calls sbrk() itself between mallocs (glibc's fenceposts and the
# program's memory inside the heap), a brk heap that cannot grow (glibc
# goes on in mmap()ed memory), and a 4-arena program under
# glibc.malloc.hugetlb=1 (madvise splits [heap]).  Each time: the
# mallinfo2() identities exactly, every held pointer a live chunk (also
# by `chunk ADDR`), `check` with no finding at all; live, and on a core.
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
HUGE_RUNS = int(os.environ.get("HEAPDBG_HUGETLB_RUNS", "5"))
d = tmpdir("heap-shapes")


def heap_maps(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if line.rstrip().endswith("[heap]"):
                a, b = line.split()[0].split("-")
                out.append((int(a, 16), int(b, 16)))
    return out


def examine(pid, label, mi, held, extra_cmds=(), target_args=None):
    """heap, chunks, check on a process (or a core): the identities, every
    held block, no finding; returns the batch result."""
    r = batch(target_args or ["-p", str(pid)], "heap", "chunks --state inuse", "check", *extra_cmds)
    ok(r.rc == 0, "%s: batch run ok" % label, r)
    h = r.cmd("heap") or {}
    check_identities(h, mi, label)
    check_held(r.cmd("chunks"), held, label)
    c = r.cmd("check") or {}
    ok(c.get("ok") is True and c.get("findings") == [], "%s: check: no finding at all" % label,
       c.get("findings"))
    return r


def core_of(pid, name):
    if not have("gcore"):
        return None
    prefix = os.path.join(d, name)
    subprocess.run(["gcore", "-o", prefix, str(pid)], capture_output=True, timeout=120)
    core = "%s.%d" % (prefix, pid)
    return core if os.path.exists(core) else None


# a forked worker that grew its heap after fork()
t = Target("heapshapes", ["fork"])
pid = int([l for l in t.lines if l.startswith("ready")][-1].split()[1])
maps = heap_maps(pid)
ok(pid != t.pid and len(maps) == 2 and maps[0][1] == maps[1][0],
   "fork: the worker's [heap] is two adjacent mappings (%s)" % ["%x-%x" % m for m in maps])
mi, held = t.values("mallinfo2"), held_pointers(t)
boundary = maps[0][1]
straddle = [(a, q) for a, q in held if a - 16 < boundary < a + q]
cmds = ["chunk 0x%x" % straddle[0][0]] if straddle else []
r = examine(pid, "fork", mi, held, cmds)
if straddle:
    c = r.cmd("chunk") or {}
    ok(c.get("addr") == "0x%x" % straddle[0][0] and c.get("state") == "used",
       "fork: `chunk` finds the block straddling the two mappings (0x%x)" % straddle[0][0], c)
else:
    skip("fork: the block straddling the two mappings", "no held block straddles them this run")
h = r.cmd("heap") or {}
main = [a for a in h.get("arenas", []) if a.get("main")]
ok(main and main[0].get("contiguous") is True and main[0].get("heaps") == 1,
   "fork: the main arena is contiguous, one heap (glibc's flags say so)", main)
core = core_of(pid, "fork")
if core:
    examine(None, "fork, core", mi, held, target_args=["-c", core])
    os.unlink(core)
else:
    for n in range(4):
        skip("fork: core", "gcore not installed")
t.stop()

# an mprotect()ed page inside an in-use block
t = Target("heapshapes", ["mprotect"])
mi, held = t.values("mallinfo2"), held_pointers(t)
page = int([l for l in t.lines if l.startswith("protected")][0].split()[1], 16)
maps = open("/proc/%d/maps" % t.pid).read()
ok(("%x-%x ---p" % (page, page + 4096)) in maps, "mprotect: the page 0x%x is PROT_NONE in the heap" % page)
big = [a for a, q in held if q == 256 << 10]
r = examine(t.pid, "mprotect", mi, held, ["chunk 0x%x" % (page + 100)])
c = r.cmd("chunk") or {}
ok(big and c.get("addr") == "0x%x" % big[0] and c.get("state") == "used",
   "mprotect: `chunk` on the protected page names the block holding it", c)
main = [a for a in (r.cmd("heap") or {}).get("arenas", []) if a.get("main")]
ok(main and main[0].get("unreadable") == 4096, "mprotect: heap counts the 4096 unreadable bytes", main)
core = core_of(t.pid, "mprotect")
if core:
    examine(None, "mprotect, core", mi, held, target_args=["-c", core])
    os.unlink(core)
else:
    for n in range(4):
        skip("mprotect: core", "gcore not installed")
t.stop()

# the program's own sbrk() between mallocs
t = Target("heapshapes", ["sbrk"])
mi, held = t.values("mallinfo2"), held_pointers(t)
r = examine(t.pid, "sbrk", mi, held)
main = [a for a in (r.cmd("heap") or {}).get("arenas", []) if a.get("main")]
ok(main and main[0].get("fenceposts") == 2 and main[0].get("foreign", 0) >= 2 * 3 * 4096,
   "sbrk: heap shows 2 fencepost groups and the program's own memory in between", main)
t.stop()

# brk cannot grow: glibc goes on in mmap()ed memory
t = Target("heapshapes", ["nobrk"])
mi, held = t.values("mallinfo2"), held_pointers(t)
r = examine(t.pid, "nobrk", mi, held)
main = [a for a in (r.cmd("heap") or {}).get("arenas", []) if a.get("main")]
ok(main and main[0].get("contiguous") is False and main[0].get("heaps") >= 2,
   "nobrk: the main arena is non-contiguous, walked in its segments", main)
t.stop()

# 4 arenas under hugetlb=1: glibc madvise()s part of [heap], which splits
# it (how often depends on where ASLR put the heap)
split = 0
for run in range(HUGE_RUNS):
    t = Target("heapstates", ["workers=3", "mainheap=3000"], env={"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"})
    mi, held = t.values("mallinfo2"), held_pointers(t)
    n = len(heap_maps(t.pid))
    split += n > 1
    r = examine(t.pid, "hugetlb=1 run %d ([heap] in %d mappings)" % (run + 1, n), mi, held)
    is_(len((r.cmd("heap") or {}).get("arenas", [])), 4, "hugetlb=1 run %d: 4 arenas" % (run + 1))
    t.stop()
diag("hugetlb=1: [heap] was split in %d of %d runs" % (split, HUGE_RUNS))
done()
