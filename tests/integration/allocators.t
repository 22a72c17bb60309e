#!/usr/bin/env python3
# Which allocator: glibc malloc in libc.so.6 or linked statically into the
# program (walked exactly); jemalloc, tcmalloc and mimalloc interposed with
# LD_PRELOAD, and musl's malloc in a static musl program, named clearly
# with the module that provides malloc -- and heap walking refused for them
# with that sentence, never a corruption report.
import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
LIBDIR = "/usr/lib/x86_64-linux-gnu"

# static glibc
t = Target("heapstates-static")
mi = t.values("mallinfo2")
r = batch(["-p", str(t.pid)], "info", "heap", "chunks --state inuse", "check")
info = r.cmd("info") or {}
is_(info.get("allocator"), "glibc-ptmalloc", "static glibc: allocator")
ok(info.get("static_glibc") is True, "static glibc: says it is linked in")
check_identities(r.cmd("heap") or {}, mi, "static glibc")
check_held(r.cmd("chunks"), held_pointers(t), "static glibc")
ok((r.cmd("check") or {}).get("ok") is True, "static glibc: check clean")
# the program holds every block; two startup blocks are pointed to only
# from memory made read-only after start (RELRO): roots all the same
l = batch(["-p", str(t.pid)], "leaks").cmd("leaks") or {}
is_((l.get("definite", {}).get("blocks"), l.get("indirect", {}).get("blocks")), (0, 0),
    "static glibc: no block lost (RELRO is scanned as a root)")
t.stop()

# static glibc, fully stripped: malloc's state without a single symbol
t = Target("heapstates-static-stripped")
mi = t.values("mallinfo2")
r = batch(["-p", str(t.pid)], "info", "heap", "chunks --state inuse", "check", "chunks --state tcache")
info = r.cmd("info") or {}
is_(info.get("allocator"), "glibc-ptmalloc", "stripped static glibc: allocator")
ok(info.get("static_glibc") is True, "stripped static glibc: says it is linked in")
found = info.get("found", {})
is_((found.get("main_arena_how"), found.get("mp_how"), found.get("tcache_how")),
    ("static-image", "static-image", "static-tls-scan"), "stripped static glibc: found without symbols")
is_(info.get("glibc"), "2.36" if os.path.exists("/usr/lib/x86_64-linux-gnu/libc.so.6") else info.get("glibc"),
    "stripped static glibc: the version, from a string that fits the layout")
check_identities(r.cmd("heap") or {}, mi, "stripped static glibc")
check_held(r.cmd("chunks", 0), held_pointers(t), "stripped static glibc")
ok((r.cmd("check") or {}).get("ok") is True, "stripped static glibc: check clean")
ok((r.cmd("chunks", 1) or {}).get("count", 0) > 0, "stripped static glibc: the tcaches found")
t.stop()

for lib, name in (("libjemalloc.so.2", "jemalloc"), ("libtcmalloc_minimal.so.4", "tcmalloc"),
                  ("libmimalloc.so.2", "mimalloc")):
    path = os.path.join(LIBDIR, lib)
    if not os.path.exists(path):
        for _ in range(3):
            skip("%s interposed" % name, "%s not installed" % lib)
        continue
    t = Target("threads4", [60], env={"LD_PRELOAD": path})
    r = batch(["-p", str(t.pid)], "info", "heap")
    info = r.cmd("info") or {}
    is_(info.get("allocator"), name, "%s interposed: allocator named" % name)
    ok(lib.split(".so")[0] in info.get("malloc_provider", ""), "%s: the module providing malloc" % name,
       info.get("malloc_provider"))
    err = (r.cmd("heap") or {}).get("error", "")
    ok(name in err and "glibc malloc only" in err, "%s: heap refuses clearly" % name, err)
    t.stop()

if have("musl-gcc"):
    d = tmpdir("allocators")
    exe = os.path.join(d, "threads4-musl")
    b = subprocess.run(["musl-gcc", "-static", "-g", "-O0", "-o", exe, os.path.join(TOP, "tests", "targets",
                        "threads4.c"), "-lpthread"], capture_output=True, text=True)
    if b.returncode == 0:
        t = Target(exe, [60])
        r = batch(["-p", str(t.pid)], "info", "heap")
        is_((r.cmd("info") or {}).get("allocator"), "musl", "musl: allocator named")
        ok("musl" in (r.cmd("heap") or {}).get("error", ""), "musl: heap refuses clearly")
        t.stop()
    else:
        skip("musl", "musl-gcc failed: " + b.stderr[:100])
        skip("musl heap", "musl-gcc failed")
else:
    skip("musl", "musl-tools not installed")
    skip("musl heap", "musl-tools not installed")
done()
