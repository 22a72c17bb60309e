#!/usr/bin/env python3
# Bad input: one clear line on stderr and the documented exit status.
# Attach failures explain themselves: no such process, zombie, kernel
# thread, already traced (by whom), another user, heapdbg itself.
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()


def one_line(r):
    return len([l for l in r.err.splitlines() if l.strip()]) == 1


# usage errors: 64
for args, why in [(["--no-such-option"], "unknown option"), (["-p"], "missing value"),
                  (["-p", "abc", "-batch"], "bad pid"), (["-p", "1", "-c", "x", "-batch"], "two targets"),
                  (["--error-exitcode=300"], "bad exit code")]:
    r = run(args)
    is_(r.rc, 64, "usage error (%s): exit 64" % why)
    ok(one_line(r), "usage error (%s): one line" % why, r.err)

# no such process
pid = 4000000
while os.path.exists("/proc/%d" % pid):
    pid += 1
r = batch(["-p", str(pid)], "info")
ok(r.rc == 2 and "no such process" in r.err and one_line(r), "no such process: exit 2", r)

# a zombie
z = subprocess.Popen(["true"])
time.sleep(0.3)          # exited, not reaped: a zombie
r = batch(["-p", str(z.pid)], "info")
ok(r.rc == 2 and "zombie" in r.err and one_line(r), "a zombie: says so", r)
z.wait()

# a kernel thread (kthreadd is pid 2 on Linux)
try:
    with open("/proc/2/stat") as f:
        kthread = "kthreadd" in f.read()
except OSError:
    kthread = False
if kthread:
    r = batch(["-p", "2"], "info")
    ok(r.rc == 2 and "kernel thread" in r.err and one_line(r), "a kernel thread: says so", r)
else:
    skip("a kernel thread", "no kthreadd visible")

# heapdbg itself is refused (a thread of another process too)
t = Target("threads4", [60])
tids = [x for x in t.tids() if x != t.pid]
r = batch(["-p", str(tids[0])], "info")
ok(r.rc == 2 and "thread of process %d" % t.pid in r.err, "a thread id: points at its process", r)

# already traced by another process
h = Target("tracer_hold", [t.pid])
r = batch(["-p", str(t.pid)], "info")
ok(r.rc == 2 and ("already traced by process %d" % h.pid) in r.err and "tracer_hold" in r.err and one_line(r),
   "already traced: names the tracer", r)
h.stop()
time.sleep(0.2)

# another user (only meaningful when we are root and can drop privileges)
if os.geteuid() == 0 and have("setpriv"):
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HEAPDBG, "-q",
           "-p", str(t.pid), "-batch", "-ex", "info"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    ok(p.returncode == 2 and "another user" in p.stderr, "another user's process: says so", p.stderr)
else:
    skip("another user's process", "needs root and setpriv")

# commands: an unknown command, a bad argument -> exit 1, JSON error object
r = batch(["-p", str(t.pid)], "frobnicate", "x 0x10", "info")
is_(r.rc, 1, "a failed command: exit 1")
e = r.cmd("frobnicate") or {}
ok("unknown command" in e.get("error", ""), "unknown command: JSON error object", r.out)
x = r.cmd("x") or {}
ok("cannot access memory" in x.get("error", ""), "unreadable address: JSON error object", r.out)
ok((r.cmd("info") or {}).get("pid") == t.pid, "later commands still run")
ok(t.state() in ("S", "R") and t.tracer() == 0, "target untouched after failures")

# no target
r = batch([], "info")
ok(r.rc == 1 and "no target" in (r.cmd("info") or {}).get("error", ""), "no target: the command fails", r)
r = batch([], "help")
ok(r.rc == 0 and len((r.cmd("help") or {}).get("commands", [])) >= 8, "help works without a target", r)
done()
