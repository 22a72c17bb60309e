#!/usr/bin/env python3
# How long heapdbg holds a live process stopped, and what keeps that
# short (issue 12): every command on a live target says how long it held
# it (stopped_ms; in text after the commands that read the whole heap),
# the end of a run says the total, symbols and the layout check against
# libc's DWARF (about 100 ms of inflating .debug_info) are done at attach
# with the process running, and that check is remembered per debug file,
# so a second attach does not pay it.  The
# cache gives the same answers as DWARF itself, ignores an entry it
# cannot trust, and can be turned off.
import glob, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("heapstates")
cache = tmpdir("stopped-cache")
env = {"HEAPDBG_CACHE_DIR": cache}


def entries():
    return sorted(glob.glob(os.path.join(cache, "layout-*")))


def totals(r):
    h = r.cmd("heap") or {}
    return (h.get("totals"), [(a.get("in_use"), a.get("free")) for a in h.get("arenas", [])])


t0 = time.time()
r1 = batch(["-p", str(t.pid)], "heap", "info", "check", "leaks", "bt", env=env)
wall_ms = (time.time() - t0) * 1000
ok(r1.rc == 0 and r1.cmd("heap"), "a first run on a cold cache", r1)
info1 = r1.cmd("info") or {}
dwarf = "confirmed by DWARF" in info1.get("layout", "")
is_(info1.get("layout_cached"), False, "cold: the layout's DWARF check ran (nothing cached)")

# stopped_ms: on every command that held the live target
held = {}
for name in ("heap", "info", "check", "leaks", "bt"):
    o = r1.cmd(name) or {}
    held[name] = o.get("stopped_ms")
    ok(isinstance(held[name], (int, float)) and held[name] >= 0, "%s reports stopped_ms" % name, o.get("stopped_ms"))
ok(all(isinstance(v, (int, float)) for v in held.values()) and sum(held.values()) <= wall_ms,
   "the holds add up to less than the run's wall time (%.1f ms)" % wall_ms, held)
ok(held.get("heap", 0) > 0, "heap held the process for a measurable time", held)

if not dwarf:
    skip("the layout cache", "libc has no debug info here: no DWARF check to cache (%s)" % info1.get("layout"))
else:
    ok(len(entries()) == 1, "the DWARF answer is kept in the cache directory", entries())
    st = os.stat(entries()[0]) if entries() else None
    ok(st and (st.st_mode & 0o777) == 0o600, "... readable by its owner only", st and oct(st.st_mode))
    r2 = batch(["-p", str(t.pid)], "heap", "info", env=env)
    info2 = r2.cmd("info") or {}
    is_(info2.get("layout_cached"), True, "warm: the second attach takes the answer from the cache")
    ok("confirmed by DWARF (cached)" in info2.get("layout", "") and info2.get("layout_table") == "agrees",
       "warm: info says the row was confirmed by DWARF, from the cache", info2.get("layout"))
    is_(info2.get("layout_source"), info1.get("layout_source"), "warm: the same layout source")
    is_(totals(r2), totals(r1), "warm: the same heap, to the byte")

    # an entry that cannot be trusted is ignored, then rewritten
    with open(entries()[0], "r+b") as f:
        data = bytearray(f.read())
        for i in range(0, len(data), 7):
            data[i] ^= 0x5a
        f.seek(0)
        f.write(data)
    r3 = batch(["-p", str(t.pid)], "heap", "info", env=env)
    is_((r3.cmd("info") or {}).get("layout_cached"), False, "a damaged entry is not used")
    is_(totals(r3), totals(r1), "... and the walk is the same")
    r4 = batch(["-p", str(t.pid)], "info", env=env)
    is_((r4.cmd("info") or {}).get("layout_cached"), True, "... and the entry is written again")

    # a truncated one too
    with open(entries()[0], "r+b") as f:
        f.truncate(40)
    r5 = batch(["-p", str(t.pid)], "heap", "info", env=env)
    is_((r5.cmd("info") or {}).get("layout_cached"), False, "a truncated entry is not used")
    is_(totals(r5), totals(r1), "... and the walk is the same")

# off: nothing read, nothing written
home = tmpdir("stopped-home")
r6 = batch(["-p", str(t.pid)], "heap", "info", env={"HEAPDBG_CACHE_DIR": "off", "HOME": home, "XDG_CACHE_HOME": ""})
is_((r6.cmd("info") or {}).get("layout_cached"), False, "HEAPDBG_CACHE_DIR=off: no cache used")
is_(os.listdir(home), [], "HEAPDBG_CACHE_DIR=off: nothing written under HOME")
is_(totals(r6), totals(r1), "HEAPDBG_CACHE_DIR=off: the same heap")
# the default place: $HOME/.cache/heapdbg
r7 = batch(["-p", str(t.pid)], "heap", env={"HOME": home, "XDG_CACHE_HOME": ""})
if dwarf:
    ok(glob.glob(os.path.join(home, ".cache", "heapdbg", "layout-*")), "by default the cache is ~/.cache/heapdbg",
       os.listdir(home))

# text: the hold after the heap readers, the total at the end
e = dict(os.environ, LC_ALL="C", HEAPDBG_CACHE_DIR=cache)
e.pop("DEBUGINFOD_URLS", None)
p = subprocess.run([HEAPDBG, "-p", str(t.pid), "-batch", "-ex", "heap", "-ex", "bt"], capture_output=True,
                   text=True, env=e, timeout=60)
line = [l for l in p.stdout.splitlines() if "held stopped" in l]
ok(p.returncode == 0 and len(line) == 1 and line[0].startswith("(process %d held stopped " % t.pid),
   "text: heap says how long it held the process (bt does not print it)", p.stdout[-400:])
end = [l for l in p.stderr.splitlines() if "held stopped" in l]
ok(len(end) == 1 and end[0].startswith("heapdbg: detaching from process %d, held stopped " % t.pid),
   "text: the run ends with the total hold", p.stderr)
try:
    per = float(line[0].split("held stopped ")[1].split()[0])
    tot = float(end[0].split("held stopped ")[1].split()[0])
    ok(tot >= per, "the total is at least heap's hold (%.1f >= %.1f)" % (tot, per))
except (IndexError, ValueError):
    ok(False, "the hold figures parse", (line, end))
ok(t.state() in ("S", "R"), "the target runs on after all of it", t.state())

# symbols, the modules malloc is found through and libc's debug info (the
# layout's DWARF check, the cache cold) are loaded while the process runs:
# the whole run holds it for a small part of its wall time
cold = tmpdir("stopped-cold")
e2 = dict(e, HEAPDBG_CACHE_DIR=cold)
t0 = time.time()
p = subprocess.run([HEAPDBG, "-p", str(t.pid), "-batch", "-ex", "heap", "-ex", "info"], capture_output=True,
                   text=True, env=e2, timeout=60)
wall = (time.time() - t0) * 1000
end = [l for l in p.stderr.splitlines() if "held stopped" in l]
try:
    tot = float(end[0].split("held stopped ")[1].split()[0])
except (IndexError, ValueError):
    tot = None
ok(p.returncode == 0 and tot is not None and tot < wall / 2,
   "cold cache: the run held the process %s ms of its %.0f ms (symbols and DWARF read while it ran)" % (tot, wall),
   p.stderr[-300:])

# a core holds nothing: no stopped_ms
if have("gcore"):
    d = tmpdir("stopped-core")
    core = os.path.join(d, "core")
    subprocess.run(["gcore", "-o", core, str(t.pid)], capture_output=True, timeout=120)
    cores = glob.glob(core + "*")
    if cores:
        rc = batch(["-c", cores[0], os.path.join(TARGETS, "heapstates")], "heap", env=env)
        ok(rc.rc == 0 and "stopped_ms" not in (rc.cmd("heap") or {"stopped_ms": 1}),
           "a core: no stopped_ms", rc)
    else:
        skip("a core: no stopped_ms", "gcore made no core")
else:
    skip("a core: no stopped_ms", "no gcore")
done()
