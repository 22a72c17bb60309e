#!/usr/bin/env python3
# Attach to a 4-thread program parked in distinct functions: info lists
# every thread, `bt all` gives the same chains of function names as gdb's
# `thread apply all bt` (with file:line where there is debug info), and
# the program runs on unharmed afterwards.
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("threads4", [120])
ok(t.wait_parked(4), "every thread of the target is parked in sleep()")
tids = sorted(int(x) for x in os.listdir("/proc/%d/task" % t.pid))

t0 = time.time()
r = batch(["-p", str(t.pid)], "info", "bt all")
elapsed = time.time() - t0
ok(r.rc == 0 and not r.bad_lines, "batch run succeeds with only JSON on stdout", r)
info = r.cmd("info")
ok(info is not None, "info printed")
is_(info.get("target"), "live", "info: target live")
is_(info.get("pid"), t.pid, "info: pid")
is_(info.get("threads"), 4, "info: 4 threads")
is_(sorted(x["tid"] for x in info.get("thread_list", [])), tids, "info: every tid")
ok(info.get("exe", "").endswith("threads4"), "info: exe")
bt = r.cmd("bt")
threads = {th["tid"]: th["frames"] for th in (bt or {}).get("threads", [])}
is_(sorted(threads), tids, "bt all: every thread")


def chain(frames):
    out = []
    for f in frames:
        out.append(norm_func(f.get("func")))
        if f.get("func") == "main":
            break
    return out


expect_fn = {0: "main_wait", 1: "worker_alpha", 2: "worker_beta", 3: "worker_gamma"}
seen = set()
for tid, frames in threads.items():
    names = [f.get("func") for f in frames]
    for want in ("park", "sleep"):
        ok(any(norm_func(n) == want for n in names), "thread %d: %s in its stack" % (tid, want), names)
    hit = [w for w in expect_fn.values() if w in names]
    seen.update(hit)
    ok(len(hit) == 1, "thread %d parked in exactly one distinct function" % tid, names)
    own = [f for f in frames if f.get("func") in ("park",) + tuple(expect_fn.values())]
    ok(own and all(f.get("file", "").endswith("threads4.c") and f.get("line", 0) > 0 for f in own),
       "thread %d: file:line for frames with debug info" % tid, own)
is_(seen, set(expect_fn.values()), "each thread in a distinct function")

# an inlined call: in JSON marked and with its pc; in text as gdb shows
# it, no address, its name in the column of the others'
inl = [f for fs in threads.values() for f in fs if f.get("func") == "gamma_rest"]
ok(len(inl) == 1 and inl[0].get("inlined") is True and inl[0].get("pc", "").startswith("0x") and
   inl[0].get("file", "").endswith("threads4.c") and inl[0].get("line", 0) > 0,
   "bt: the inlined gamma_rest is a frame of its own, marked inlined, with file:line", inl)
rt = batch(["-p", str(t.pid)], "bt all", json_mode=False)
lines = rt.out.splitlines()
at = [i for i, l in enumerate(lines) if "gamma_rest" in l]
ok(len(at) == 1 and at[0] > 0 and "0x" not in lines[at[0]] and " in " not in lines[at[0]] and
   lines[at[0]].index("gamma_rest") == lines[at[0] - 1].index(" in ") + 4,
   "bt text: the inlined frame has no address and lines up with its callee's name",
   lines[at[0] - 1:at[0] + 2] if at else rt.out)

# gdb as the oracle
if have("gdb"):
    g = subprocess.run(["gdb", "-nx", "-q", "-p", str(t.pid), "-batch", "-ex", "thread apply all bt"],
                       capture_output=True, text=True, timeout=120)
    gdb_chains = {}
    cur = None
    for line in g.stdout.splitlines():
        m = re.match(r"Thread \d+ \(.*LWP (\d+)", line)
        if m:
            cur = int(m.group(1))
            gdb_chains[cur] = []
            continue
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", line)
        if m and cur is not None:
            gdb_chains[cur].append(norm_func(m.group(1)))
    for tid in tids:
        g_chain = gdb_chains.get(tid, [])
        if "main" in g_chain:
            g_chain = g_chain[:g_chain.index("main") + 1]
        is_(chain(threads.get(tid, [])), g_chain, "thread %d: same function chain as gdb" % tid)
else:
    for tid in tids:
        skip("thread %d: same chain as gdb" % tid, "gdb not installed")

time.sleep(0.2)
ok(t.state() in ("S", "R"), "target runs on after detach (state %s)" % t.state())
is_(t.tracer(), 0, "target no longer traced")
ok(t.proc.poll() is None, "target alive")
diag("attach + info + bt all: %.3f s wall" % elapsed)
done()
