#!/usr/bin/env python3
# heapdbg itself is valgrind-clean on batch runs: live attach, a core, and
# launch mode (no invalid accesses, no definite or indirect leaks).
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

if SANITIZERS:
    skip_all("heapdbg is built with sanitizers; valgrind runs on the plain build")
if not have("valgrind"):
    skip_all("valgrind not installed")
require_ptrace()


def vg_lines(r):
    return [l for l in r.err.splitlines() if l.startswith("==")]


t = Target("threads4", [120])
t.wait_parked(4)
r = batch(["-p", str(t.pid)], "info", "bt all", "x $rsp 64", "help", "bogus", valgrind=True, timeout=600)
ok(r.rc == 1, "live: valgrind found no errors (exit 1 is the failed 'bogus' command, 99 would be valgrind)", r)
ok(not vg_lines(r), "live: valgrind printed nothing", r.err)
if have("gcore"):
    d = tmpdir("valgrind")
    core = os.path.join(d, "core")
    subprocess.run(["gcore", "-o", core, str(t.pid)], capture_output=True, timeout=120)
    r = batch(["-c", "%s.%d" % (core, t.pid)], "info", "bt all", valgrind=True, timeout=600)
    ok(r.rc == 0 and not vg_lines(r), "core: valgrind-clean", r)
    os.unlink("%s.%d" % (core, t.pid))
else:
    skip("core: valgrind-clean", "no gcore")
t.stop()
r = run(["-batch", "-ex", "continue", "-ex", "bt", "--args", os.path.join(TARGETS, "exitcode"), "0"],
        valgrind=True, timeout=600)
ok(r.rc == 0 and not vg_lines(r), "launch: valgrind-clean", r)
done()
