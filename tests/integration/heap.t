#!/usr/bin/env python3
# The heap walk against glibc's own accounting: on a 3-thread program with
# chunks in every state, `heap` satisfies the mallinfo2() identities
# exactly -- live, without libc debug info, and on a core of the same
# process -- every pointer the program holds is a live chunk of at least
# its requested size, every state is present, and `check` is clean.
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("heapstates")
mi = t.values("mallinfo2")
held = held_pointers(t)
ok(mi and held, "target printed mallinfo2 and %d held pointers" % len(held))

for label, extra in (("live", []), ("live, no libc debug info", ["--debug-file-directory=/nonexistent"])):
    r = batch(extra + ["-p", str(t.pid)], "heap", "chunks --state inuse", "check", "info",
              "chunks --state tcache", "chunks --state fastbin", "chunks --state unsorted",
              "chunks --state smallbin", "chunks --state largebin", "chunks --state top",
              "chunks --state mmapped")
    ok(r.rc == 0, "%s: batch run ok" % label, r)
    h = r.cmd("heap") or {}
    is_(len(h.get("arenas", [])), 3, "%s: 3 arenas" % label)
    check_identities(h, mi, label)
    check_held(r.cmd("chunks", 0), held, label)
    c = r.cmd("check") or {}
    ok(c.get("ok") is True and c.get("errors") == 0, "%s: check finds no corruption" % label, c.get("findings"))
    counts = [(r.cmd("chunks", i) or {}).get("count", 0) for i in range(1, 8)]
    ok(all(n > 0 for n in counts), "%s: chunks in every state (tcache, fastbin, unsorted, small, large, "
       "top, mmapped: %s)" % (label, counts))
    is_(counts[5], 3, "%s: one top per arena" % label)
    is_(counts[6], 2, "%s: both mmapped chunks (plain and memalign'd) found" % label)
    info = r.cmd("info") or {}
    is_(info.get("allocator"), "glibc-ptmalloc", "%s: allocator" % label)
    is_(info.get("glibc"), "2.36" if os.path.exists("/usr/lib/x86_64-linux-gnu/libc.so.6") else info.get("glibc"),
        "%s: glibc version" % label)
    found = info.get("found", {})
    if extra:
        ok(found.get("main_arena_how") in ("static-image", "runtime-scan") and found.get("mp_how") != "symbol"
           and "symbol" not in (found.get("tcache_how") or ""),
           "%s: found without symbols (%s, %s, %s)" % (label, found.get("main_arena_how"), found.get("mp_how"),
                                                       found.get("tcache_how")))
        ok("table" in info.get("layout", ""), "%s: layout from the built-in table" % label, info.get("layout"))
    else:
        ok(found.get("main_arena_how") == "symbol", "%s: main_arena from libc's symbols" % label, found)
        ok("DWARF" in info.get("layout", ""), "%s: layout from libc's DWARF" % label, info.get("layout"))

# mallinfo2 again, now: the program did not change its heap while attached
t.signal(signal.SIGUSR1)
again = t.read_until("mallinfo2")
is_(parse_kv(again[len("mallinfo2"):]) if again else None, mi, "the target's heap is unchanged by heapdbg")

# a core of the same process gives the same answer
if have("gcore"):
    d = tmpdir("heap")
    subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
    core = os.path.join(d, "core.%d" % t.pid)
    r = batch(["-c", core], "heap", "chunks --state inuse", "check")
    ok(r.rc == 0, "core: batch run ok", r)
    check_identities(r.cmd("heap") or {}, mi, "core")
    check_held(r.cmd("chunks"), held, "core")
    ok((r.cmd("check") or {}).get("ok") is True, "core: check clean")
    r = batch(["-c", core, "--debug-file-directory=/nonexistent"], "heap")
    check_identities(r.cmd("heap") or {}, mi, "core, no libc debug info")
    os.unlink(core)
else:
    for n in range(5):
        skip("core comparison", "gcore not installed")
t.stop()

# a program stopped before its first malloc
r = run(["-batch", "-ex", "heap", "-ex", "info", "--args", os.path.join(TARGETS, "exitcode"), "0"])
h = r.cmd("heap") or {}
ok(h.get("initialised") is False and h.get("arenas") == [] and "error" not in h,
   "before the first malloc: 'not initialised', not an error", r)
ok(any("not initialised" in n for n in (r.cmd("info") or {}).get("notes", [])), "info says so too")
done()
