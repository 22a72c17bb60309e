#!/usr/bin/env python3
# Snapshots while tracing: between two snapshots the program frees 50
# blocks (allocated before tracing) and allocates 100 (traced); `diff`
# reports exactly 100 new and 50 freed, and the 100 are one group under
# the allocating function, with file:line.
import json, os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("snapgrow")


def cmd_line(h, line, timeout=60):
    h.proc.stdin.write((line + "\n").encode())
    h.proc.stdin.flush()
    out = h.readline(timeout)
    try:
        return json.loads(out) if out else None
    except ValueError:
        return {"bad": out}


h = Target(HEAPDBG, args=["-q", "--json", "-p", t.pid], ready=False, stdin=subprocess.PIPE)
st = cmd_line(h, "trace start")
ok(st and st.get("active") is True, "tracing on", st)
a = cmd_line(h, "snapshot a")
h.proc.stdin.write(b"continue 3\n")
h.proc.stdin.flush()
time.sleep(0.5)
t.signal(signal.SIGUSR1)
ok(t.read_until("grew", 15) is not None, "the target changed its heap while traced")
cont = json.loads(h.readline(30) or "{}")
ok(cont.get("signals_passed", 0) >= 1, "continue passed the signal on", cont)
b = cmd_line(h, "snapshot b")
ok(b and b.get("traced") == 100, "snapshot b carries the 100 traced allocations", b)
d = cmd_line(h, "diff a b")
is_((d or {}).get("new"), {"chunks": 100, "bytes": 100 * 208}, "exactly 100 new chunks")
is_((d or {}).get("freed"), {"chunks": 50, "bytes": 50 * 48}, "exactly 50 freed chunks")
ok((d or {}).get("traced"), "the diff is traced", d)
new_groups = [g for g in (d or {}).get("groups", []) if g["new"]["chunks"]]
is_(len(new_groups), 1, "the 100 new chunks are one group")
frames = new_groups[0].get("stack") or [] if new_groups else []
ok(any(f.get("func") == "main" and f.get("file", "").endswith("snapgrow.c") and f.get("line") for f in frames),
   "the group's stack names the allocating function with file:line", frames)
is_(new_groups[0]["new"]["chunks"] if new_groups else None, 100, "the group holds all 100")
cmd_line(h, "trace stop")
h.proc.stdin.close()
h.proc.stdin = None
h.wait(30)
time.sleep(0.2)
ok(t.state() in ("S", "R") and t.tracer() == 0, "target running and untraced afterwards")
done()
