#!/usr/bin/env python3
# The same program as a core file: `-c CORE` shows the same threads and
# the same stacks as attaching live; an executable that moved can be given
# on the command line; the core reader rejects broken files clearly.
import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
if not have("gcore"):
    skip_all("gcore (gdb) not installed")
d = tmpdir("core")
t = Target("threads4", [120])
ok(t.wait_parked(4), "target parked")
live = batch(["-p", str(t.pid)], "info", "bt all")
core = os.path.join(d, "core")
g = subprocess.run(["gcore", "-o", core, str(t.pid)], capture_output=True, text=True, timeout=120)
core = "%s.%d" % (core, t.pid)
ok(g.returncode == 0 and os.path.exists(core), "gcore wrote a core", g.stderr)
t.stop()

r = batch(["-c", core], "info", "bt all")
ok(r.rc == 0, "heapdbg -c CORE succeeds", r)
info = r.cmd("info") or {}
is_(info.get("target"), "core", "info: target core")
is_(info.get("pid"), t.pid, "info: pid of the dumped process")
is_(info.get("threads"), 4, "info: 4 threads")


def chains(res):
    out = {}
    for th in (res.cmd("bt") or {}).get("threads", []):
        c = []
        for f in th["frames"]:
            c.append((norm_func(f.get("func")), f.get("line")))
            if f.get("func") == "main":
                break
        out[th["tid"]] = c
    return out


lc, cc = chains(live), chains(r)
is_(sorted(cc), sorted(lc), "same thread ids as live")
for tid in sorted(lc):
    is_(cc.get(tid), lc[tid], "thread %d: same functions and lines as live" % tid)

# the core inside a session (no target at the start), then another
# target; info proc mappings from the core's segments and NT_FILE note
r = batch([], "core " + core, "info", "info proc mappings", "info threads", "detach", "info", "core " + core)
ok([o.get("cmd") for o in r.objs] == ["core", "info", "info", "info", "detach", "info", "core"], "core FILE in a "
   "session, detach, core again", r)
ok((r.cmd("core") or {}).get("pid") == t.pid and (r.cmd("info") or {}).get("target") == "core",
   "core FILE: the core's process", r.cmd("core"))
mp = (r.cmd("info", 1) or {}).get("mappings", [])
ok(mp and any(m.get("path", "").endswith("threads4") and m.get("perms", "").startswith("r") for m in mp) and
   all(int(m["start"], 16) < int(m["end"], 16) for m in mp), "info proc mappings on a core: the program's mappings",
   mp[:3])
is_(len((r.cmd("info", 2) or {}).get("thread_list", [])), 4, "info threads on a core: 4 threads")
ok("error" in (r.cmd("info", 3) or {}), "after detach: no target", r.cmd("info", 3))

# the executable moved: give it on the command line
moved = os.path.join(d, "moved-threads4")
shutil.copy(os.path.join(TARGETS, "threads4"), moved)
r2 = batch(["-c", core, moved], "info", "bt")
ok(r2.rc == 0, "-c CORE EXE with a moved executable", r2)
is_((r2.cmd("info") or {}).get("exe"), moved, "info: the executable given is used")
fr = ((r2.cmd("bt") or {}).get("threads") or [{}])[0].get("frames", [])
ok(any(f.get("func") == "main_wait" for f in fr), "bt still resolves the program's functions", fr)

ok("may not match" not in r2.err, "the right executable, moved: no warning", r2.err)
is_((r2.cmd("info") or {}).get("warnings"), [], "info: no warnings")

# the wrong executable: build ids differ, a warning as gdb gives
wrong = os.path.join(TARGETS, "sigcount")
r3 = batch(["-c", core, wrong], "info")
ok(r3.rc == 0 and "core file may not match the executable given" in r3.err and wrong in r3.err,
   "a mismatched executable: warned (build ids differ)", r3.err)
w = (r3.cmd("info") or {}).get("warnings") or [""]
ok("may not match" in w[0] and (r3.cmd("info") or {}).get("exe_recorded", "").endswith("threads4"),
   "info: the warning and the core's own executable", r3.cmd("info"))

# the executable the core names is gone: say which, and that EXE can be given
gone_dir = tmpdir("core-gone")
gone_exe = os.path.join(gone_dir, "t4")
shutil.copy(os.path.join(TARGETS, "threads4"), gone_exe)
tg = Target(gone_exe, [120])
ok(tg.wait_parked(4), "copy parked")
gcore2 = os.path.join(gone_dir, "core")
g2 = subprocess.run(["gcore", "-o", gcore2, str(tg.pid)], capture_output=True, text=True, timeout=120)
gcore2 = "%s.%d" % (gcore2, tg.pid)
tg.stop()
os.unlink(gone_exe)
r4 = batch(["-c", gcore2], "info")
ok(r4.rc == 0 and gone_exe in r4.err and "does not exist" in r4.err and "EXE" in r4.err,
   "the core's executable gone: names it and says it can be given as EXE", r4.err)
# ... and replaced by another program (rebuilt): a warning too
shutil.copy(wrong, gone_exe)
r5 = batch(["-c", gcore2], "info")
ok(r5.rc == 0 and "may not match %s" % gone_exe in r5.err and "EXE" in r5.err,
   "the core's executable replaced: build ids differ, warned", r5.err)
r6 = batch(["-c", gcore2, os.path.join(TARGETS, "threads4")], "info")
ok(r6.rc == 0 and "may not match" not in r6.err, "the matching EXE given: no warning", r6.err)
os.unlink(gcore2)

# broken inputs: one clear line on stderr, exit 2, never a crash
size = os.path.getsize(core)
cases = [
    ("truncated.core", lambda f: f.truncate(size // 2), "truncated"),
    ("headers-only.core", lambda f: f.truncate(4096), "truncated"),
    ("tiny.core", lambda f: f.truncate(10), "not a core file"),
]
for name, mutate, word in cases:
    p = os.path.join(d, name)
    shutil.copy(core, p)
    with open(p, "r+b") as f:
        mutate(f)
    rr = batch(["-c", p], "info")
    is_(rr.rc, 2, "%s: exit status 2" % name)
    ok(word in rr.err and len(rr.err.strip().splitlines()) == 1, "%s: one line saying '%s'" % (name, word), rr.err)
rr = batch(["-c", "/etc/passwd"], "info")
ok(rr.rc == 2 and "not a core file" in rr.err, "a text file: not a core file", rr.err)
rr = batch(["-c", os.path.join(TARGETS, "threads4")], "info")
ok(rr.rc == 2 and "not a core file" in rr.err and "executable" in rr.err, "an executable: says so", rr.err)
rr = batch(["-c", os.path.join(d, "no-such-core")], "info")
ok(rr.rc == 2 and "No such file" in rr.err, "a missing file", rr.err)
# a FIFO given as the core: one line at once (open(2) would block forever)
fifo = os.path.join(d, "fifo.core")
os.mkfifo(fifo)
try:
    rr = batch(["-c", fifo], "info", timeout=20)
    ok(rr.rc == 2 and "FIFO" in rr.err and len(rr.err.strip().splitlines()) == 1, "a FIFO: exit 2, one line", rr.err)
except subprocess.TimeoutExpired:
    ok(False, "a FIFO: exit 2, one line (heapdbg blocked)")
os.unlink(fifo)
rr = batch(["-c", d], "info")
ok(rr.rc == 2 and "a directory" in rr.err and len(rr.err.strip().splitlines()) == 1, "a directory: one line", rr.err)
os.unlink(core)
done()
