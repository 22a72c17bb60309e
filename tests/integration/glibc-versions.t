#!/usr/bin/env python3
# The exactness tests of heap.t on every glibc runtime of
# HEAPDBG_GLIBC_DIR (../shared/glibc in CI: glibc built from source, one
# tarball per version; see hdtest.py), each oldest first:
#   - live, with libc's DWARF, with its symbol table only, fully stripped,
#     and stripped with its debug info in a separate file (then `info`,
#     before any walk, says the table's row was confirmed by DWARF):
#     the mallinfo2() identities exactly (mallinfo() before
#     2.33), every held pointer a live chunk, chunks in every state,
#     `check` clean, the version and where the layout came from in `info`,
#     the table row the same as the layout DWARF gives;
#   - on a gcore of the same process, with and without the debug info
#     (a tcache the core lacks is named in a warning, never dropped);
#   - under the tunables of heap-tunables.t;
#   - started as `ld.so --library-path LIB ./prog`;
#   - with libc_malloc_debug.so.0 preloaded (2.34+), with and without
#     glibc.malloc.check=3 (then the library's own arena holds the heap);
#   - statically linked, when the runtime has a dev/ part;
#   - the leak check at exit against valgrind memcheck's block counts.
import os, re, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
runtimes, why = glibc_runtimes()
if not runtimes:
    skip_all(why)
started = time.time()

# heap-tunables.t's cases: (label, env, target arguments, expectations),
# and the version that brought each tunable
TUNABLE_CASES = [
    ("tcache_count=0", {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, [], {"tcache": 0}),
    ("mxfast=0", {"GLIBC_TUNABLES": "glibc.malloc.mxfast=0"}, [], {"fastbin": 0}),
    ("arena_max=1", {"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"}, [], {"arenas": 1}),
    ("mmap_threshold=4096", {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"}, [], {}),
    ("mmap_max=0", {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"}, [], {"mmapped": 0}),
    ("hugetlb=2", {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=2"}, [], {"heap_max": 8 << 20}),
    ("second heap", {}, ["big"], {"heaps_max": 2}),
]
TUNABLE_SINCE = {"mxfast": (2, 30), "hugetlb": (2, 35)}


def tunable_expectations(r, h, expect, label):
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


def valgrind_leak_blocks(prog, args):
    """valgrind memcheck's block count in each leak category, at exit;
    None when valgrind cannot run the program."""
    v = subprocess.run(["valgrind", "--leak-check=full", prog] + list(args), capture_output=True, text=True,
                       timeout=300)
    out = {}
    for kind, label in (("definite", "definitely lost"), ("indirect", "indirectly lost"),
                        ("possible", "possibly lost"), ("reachable", "still reachable")):
        m = re.search(label + r": [\d,]+ bytes in ([\d,]+) blocks", v.stderr)
        out[kind] = int(m.group(1).replace(",", "")) if m else None
    return out if "LEAK SUMMARY" in v.stderr else None


STATES = ("tcache", "fastbin", "unsorted", "smallbin", "largebin", "top", "mmapped")
WALK = ["heap", "chunks --state inuse", "check", "info"] + ["chunks --state %s" % s for s in STATES]


def walk_checks(r, mi, held, label, rt, narenas=3, all_states=True):
    """heap.t's checks of one batch run of WALK."""
    ok(r.rc == 0, "%s: batch run ok" % label, r)
    h = r.cmd("heap") or {}
    is_(len(h.get("arenas", [])), narenas, "%s: %d arena%s" % (label, narenas, "s" if narenas > 1 else ""))
    check_identities(h, mi, label)
    check_held(r.cmd("chunks", 0), held, label)
    c = r.cmd("check") or {}
    ok(c.get("ok") is True and c.get("errors") == 0 and c.get("warnings") == 0,
       "%s: check finds nothing" % label, c.get("findings"))
    counts = [(r.cmd("chunks", i) or {}).get("count", 0) for i in range(1, 8)]
    if all_states:
        ok(all(n > 0 for n in counts), "%s: chunks in every state (%s)" % (
            label, ", ".join("%s %d" % x for x in zip(STATES, counts))))
    is_(counts[5], narenas, "%s: one top per arena" % label)
    is_(counts[6], 2, "%s: both mmapped chunks (plain and memalign'd)" % label)
    info = r.cmd("info") or {}
    is_(info.get("glibc"), rt.version, "%s: info names glibc %s" % (label, rt.version))
    return h, info, counts


def layout_checks(info, variant, label):
    found = info.get("found", {})
    if variant == "lib":
        is_(info.get("layout_source"), "DWARF", "%s: layout from libc's DWARF" % label)
        is_(info.get("layout_table"), "agrees", "%s: the table row is the layout DWARF gives" % label)
        ok(found.get("main_arena_how") == "symbol" and found.get("mp_how") == "symbol",
           "%s: main_arena and mp_ by symbol" % label, found)
    elif variant == "lib-debuglink":
        is_(info.get("layout_source"), "table", "%s: the table's row" % label)
        ok("confirmed by DWARF" in info.get("layout", "") and info.get("layout_table") == "agrees",
           "%s: confirmed by the DWARF of libc's debug file" % label, (info.get("layout"), info.get("layout_table")))
        ok(found.get("main_arena_how") == "symbol" and found.get("mp_how") == "symbol",
           "%s: main_arena and mp_ by the debug file's symbols" % label, found)
    elif variant == "lib-nodebug":
        is_(info.get("layout_source"), "table", "%s: layout from the table (no DWARF)" % label)
        ok(found.get("main_arena_how") == "symbol", "%s: main_arena from the symbol table" % label, found)
    else:
        is_(info.get("layout_source"), "table", "%s: layout from the table" % label)
        ok(found.get("main_arena_how") in ("static-image", "runtime-scan") and found.get("mp_how") != "symbol"
           and "symbol" not in (found.get("tcache_how") or ""),
           "%s: found without symbols (%s, %s, %s)" % (label, found.get("main_arena_how"), found.get("mp_how"),
                                                       found.get("tcache_how")), found)
    ok(not info.get("layout_problem"), "%s: the layout passes its consistency checks" % label,
       info.get("layout_problem"))


def start(rt, prog, label, args=(), env=None):
    try:
        return Target(prog, args, env=env)
    except RuntimeError as e:
        ok(False, "%s: the target starts" % label, str(e))
        return None


def tcaches(r):
    """thread -> its tcache's chunk count (None: not located), from `bins tcache`"""
    return {x.get("tid"): x.get("chunks") for x in (r.cmd("bins") or {}).get("tcache", [])}


for rt in runtimes:
    v = rt.version
    t0 = time.time()
    progs = {}
    for variant in LIB_VARIANTS:
        progs[variant], err = rt.build("heapstates", variant)
        if err:
            break
    if err:
        ok(False, "glibc %s: heapstates builds" % v, err)
        continue
    good, err = rt.runs(progs["lib"])
    if not good:
        # a runtime older than this machine's glibc and without dev/
        ok(False, "glibc %s: a program built here runs on it (%s)" % (v, "with its dev/ part" if rt.dev else
                                                                     "built against this machine's glibc"), err)
        continue
    diag("glibc %s: %s" % (v, "built against its dev/ part" if rt.dev else "built against this machine's glibc"))

    # live, then a core of the same process, in each of the three lib variants
    for variant in LIB_VARIANTS:
        label = "%s %s" % (v, {"lib": "live", "lib-nodebug": "live, symbols only",
                               "lib-stripped": "live, stripped libc",
                               "lib-debuglink": "live, separate debug file"}[variant])
        t = start(rt, progs[variant], label)
        if not t:
            continue
        mi = mallinfo_of(t)
        held = held_pointers(t)
        ok(mi and held and (("arena" in mi) if rt.vtuple >= (2, 33) else t.values("mallinfo")),
           "%s: target printed mallinfo%s and %d held pointers" % (label, "2" if rt.vtuple >= (2, 33) else "",
                                                                    len(held)))
        if variant == "lib-debuglink":
            # info before any walk: the layout as a walk would use it
            info0 = batch(["-p", str(t.pid)], "info").cmd("info") or {}
            layout_checks(info0, variant, label + ", info first")
        r = batch(["-p", str(t.pid)], *WALK)
        h, info, _ = walk_checks(r, mi, held, label, rt)
        layout_checks(info, variant, label)
        live_tc = tcaches(batch(["-p", str(t.pid)], "bins tcache"))
        q = batch(["-p", str(t.pid)], "monitor --quick 0.01 1")
        quick_vs_mallinfo(q.cmd("monitor") or {}, mi or {}, label + ", monitor --quick")
        t.signal(signal.SIGUSR1)
        again = t.read_until("mallinfo")
        ok(again and parse_kv(again.split(" ", 1)[1]) == mi, "%s: the target's heap is unchanged" % label,
           "got %r (target state %s, tracer %s)\nwant %r" % (again, t.state(), t.tracer(), mi))
        if variant in ("lib", "lib-stripped") and have("gcore"):
            d = tmpdir("glibc-versions")
            subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
            core = os.path.join(d, "core.%d" % t.pid)
            cl = label.replace("live", "core")
            r = batch(["-c", core], "heap", "chunks --state inuse", "check", "info", "bins tcache")
            ok(r.rc == 0, "%s: batch run ok" % cl, r)
            check_identities(r.cmd("heap") or {}, mi, cl)
            check_held(r.cmd("chunks", 0), held, cl)
            c = r.cmd("check") or {}
            ok(c.get("ok") is True and c.get("errors") == 0, "%s: check clean" % cl, c.get("findings"))
            # every thread's tcache as live, or a warning naming the thread
            core_tc = tcaches(r)
            notes = (r.cmd("info") or {}).get("notes", [])
            heap_notes = (r.cmd("heap") or {}).get("notes", [])
            missing = [tid for tid in live_tc if core_tc.get(tid) != live_tc[tid]]
            unwarned = [tid for tid in missing if not any(str(tid) in n and "tcache" in n for n in notes)
                        or not any(str(tid) in n and "tcache" in n for n in heap_notes)]
            ok(not unwarned, "%s: each tcache as live (%d threads), or named in a warning in info and heap "
               "(%d missing)" % (cl, len(live_tc), len(missing)), "live %r core %r notes %r" % (live_tc, core_tc,
                                                                                              notes))
            os.unlink(core)
        t.stop()

    # the tunables of heap-tunables.t
    for label_, env, args, expect in TUNABLE_CASES:
        need = TUNABLE_SINCE.get(label_.split("=")[0], (2, 26))
        label = "%s %s" % (v, label_)
        if rt.vtuple < need:
            skip(label, "glibc %s has no such tunable (%d.%d+)" % (v, need[0], need[1]))
            continue
        t = start(rt, progs["lib"], label, args, env)
        if not t:
            continue
        mi = mallinfo_of(t)
        r = batch(["-p", str(t.pid)], "heap", "chunks --state inuse", "check", "info",
                  "chunks --state tcache", "chunks --state fastbin", "monitor --quick 0.01 1")
        h = r.cmd("heap") or {}
        ok(r.rc == 0, "%s: batch run ok" % label, r)
        check_identities(h, mi, label)
        quick_vs_mallinfo(r.cmd("monitor") or {}, mi or {}, label + ", monitor --quick")
        check_held(r.cmd("chunks", 0), held_pointers(t), label)
        c = r.cmd("check") or {}
        ok(c.get("errors") == 0, "%s: check clean" % label, c.get("findings"))
        tunable_expectations(r, h, expect, label)
        t.stop()

    # started through the dynamic linker: /proc/PID/exe is ld.so
    label = "%s ld.so --library-path" % v
    t = start(rt, rt.ldso(), label, ["--library-path", rt.lib(), progs["lib"]])
    if t:
        r = batch(["-p", str(t.pid)], *WALK)
        h, info, _ = walk_checks(r, mallinfo_of(t), held_pointers(t), label, rt)
        ok(info.get("malloc_provider", "").endswith("libc.so.6") or "/libc-2." in info.get("malloc_provider", ""),
           "%s: malloc from libc" % label, info.get("malloc_provider"))
        if have("gcore"):
            d = tmpdir("glibc-versions")
            subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
            core = os.path.join(d, "core.%d" % t.pid)
            r = batch(["-c", core], "heap", "check")
            check_identities(r.cmd("heap") or {}, mallinfo_of(t), label + ", core")
            c = r.cmd("check") or {}
            ok(c.get("ok") is True and c.get("errors") == 0, "%s, core: check clean" % label, c.get("findings"))
            os.unlink(core)
        t.stop()

    # libc_malloc_debug.so.0 (2.34+): without glibc.malloc.check it forwards to
    # libc's malloc; with it, its own malloc (one arena, no tcache) holds the heap
    if rt.has("libc_malloc_debug.so.0"):
        for variant in ("lib", "lib-stripped"):
            for check in (False, True):
                label = "%s libc_malloc_debug.so%s%s" % (v, ", glibc.malloc.check=3" if check else "",
                                                          ", stripped" if variant != "lib" else "")
                env = {"LD_PRELOAD": os.path.join(rt.lib(variant), "libc_malloc_debug.so.0")}
                if check:
                    env["GLIBC_TUNABLES"] = "glibc.malloc.check=3"
                t = start(rt, progs[variant], label, env=env)
                if not t:
                    continue
                r = batch(["-p", str(t.pid)], *WALK)
                h, info, counts = walk_checks(r, mallinfo_of(t), held_pointers(t), label, rt,
                                              narenas=1 if check else 3, all_states=not check)
                ok("libc_malloc_debug.so.0" in info.get("malloc_provider", ""), "%s: malloc from the debug library"
                   % label, info.get("malloc_provider"))
                home = info.get("malloc_state_in", "")
                ok(home.endswith("libc_malloc_debug.so.0") if check else home.endswith("libc.so.6"),
                   "%s: malloc's state read from %s" % (label, "the debug library" if check else "libc.so.6"), home)
                if check:
                    is_(counts[0], 0, "%s: no tcache (the debug library's malloc has none)" % label)
                t.stop()
    else:
        skip("%s libc_malloc_debug.so" % v, "glibc %s has no libc_malloc_debug.so.0 (2.34+)" % v)

    # statically linked against the runtime's libc.a
    prog, err = rt.build("heapstates", static=True)
    if prog:
        label = "%s static" % v
        t = start(rt, prog, label)
        if t:
            r = batch(["-p", str(t.pid)], *WALK)
            walk_checks(r, mallinfo_of(t), held_pointers(t), label, rt)
            t.stop()
    else:
        if "_dl_find_object" in (err or ""):
            err = ("this machine's libgcc_eh.a (gcc %s) calls _dl_find_object, which glibc %s's libc.a lacks "
                   "(2.35+): no static program for it can be linked here" % (
                       subprocess.run(["gcc", "-dumpversion"], capture_output=True, text=True).stdout.strip(), v))
        skip("%s static" % v, err)

    # the leak check at exit, against valgrind memcheck
    prog, err = rt.build("leaky")
    if err:
        ok(False, "%s: leaky builds" % v, err)
    elif have("valgrind") and not SANITIZERS:
        vg = valgrind_leak_blocks(prog, ["exit"])
        r = run(["-batch", "-ex", "continue", "-ex", "leaks", "--args", prog, "exit"])
        l = r.cmd("leaks") or {}
        got = {k: l.get(k, {}).get("blocks") for k in ("definite", "indirect", "possible", "reachable")}
        if vg is None:
            skip("%s leaks at exit vs valgrind" % v, "valgrind cannot run the program on glibc %s" % v)
        else:
            is_(got, vg, "%s leaks at exit: valgrind's block counts in every category" % v)
    else:
        skip("%s leaks at exit vs valgrind" % v, "valgrind unavailable or sanitizer build")
    diag("glibc %s: %.1f s" % (v, time.time() - t0))

# a layout that fails its consistency checks says so, and no totals come
# of it: the newest runtime's libc (symbols, no DWARF) with its banner
# saying 2.26, whose table row has a smaller malloc_state than main_arena
rt = runtimes[-1]
lib = rt.lib("lib-nodebug")
bad = rt.lib("lib-badversion")
if not os.path.isdir(bad):
    os.makedirs(bad)
    for f in os.listdir(lib):
        real = os.path.realpath(os.path.join(lib, f))
        if f.startswith("libc.so") or f.startswith("libc-2."):
            data = open(real, "rb").read()
            banner = ("release version %s." % rt.version).encode()
            assert banner in data
            open(os.path.join(bad, f), "wb").write(data.replace(banner, b"release version 2.26."))
        else:
            os.symlink(real, os.path.join(bad, f))
prog, err = rt.build("heapstates", "lib-badversion")
t = start(rt, prog, "wrong version") if prog else None
if t:
    r = batch(["-p", str(t.pid)], "info", "heap")
    info = r.cmd("info") or {}
    is_(info.get("glibc"), "2.26", "a libc that says 2.26: taken at its word")
    ok("main_arena" in (info.get("layout_problem") or "") and "2.26" in info.get("layout", ""),
       "the 2.26 row fails against main_arena's size: info says so", info.get("layout_problem"))
    h = r.cmd("heap") or {}
    ok("arenas" not in h and "consistency" not in h and info.get("layout_problem", "?") in h.get("error", ""),
       "heap refuses, with the reason, and gives no totals", h)
    t.stop()
else:
    ok(False, "the wrong-version target starts", err)
diag("all runtimes: %.1f s" % (time.time() - started))
done()
