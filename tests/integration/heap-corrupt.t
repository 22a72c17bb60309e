#!/usr/bin/env python3
# Corrupted heaps in a real process (overflowed size field, garbled tcache
# next pointer, cyclic fastbin, lying prev_size, broken bin link): `check`
# names each at the right chunk, `heap` still completes, nothing hangs or
# crashes, --error-exitcode=N makes the run exit N.
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
cases = {
    "size": ["invalid-size"],
    "tcache-next": ["tcache-misaligned", "tcache-outside-heap"],
    "fastbin-cycle": ["fastbin-cycle"],
    "prev-size": ["size-vs-prev-size", "prev-size"],
    "bin-link": ["bin-link"],
    "tcache-count": ["tcache-count"],
    "tcache-entry": ["tcache-misaligned"],
    "tcache-key": ["tcache-key"],
    "double-free": ["tcache-cycle"],
    "top-shrunk": ["top-size"],
    "size-enlarged": ["size-overlap"],
    "nextsize": ["largebin-nextsize"],
}
for kind, expect in cases.items():
    t = Target("heapstates", ["corrupt=" + kind, "nothreads"])
    line = [l for l in t.lines if l.startswith("corrupted ")]
    addr = int(line[0].split()[1], 16) if line else None
    r = batch(["--error-exitcode=42", "-p", str(t.pid)], "check", "heap", "chunks --state inuse", timeout=60)
    c = r.cmd("check") or {}
    kinds = sorted(set(f["kind"] for f in c.get("findings", [])))
    ok(c.get("ok") is False, "%s: check reports corruption" % kind, c)
    hit = [f for f in c.get("findings", []) if f["kind"] in expect]
    ok(hit, "%s: finding of kind %s (got %s)" % (kind, "/".join(expect), kinds))
    near = [f for f in hit if addr is not None and (
        abs(int(f.get("addr", "0x0"), 16) - addr) <= 0x200)]
    ok(near, "%s: the finding names the damaged chunk (0x%x)" % (kind, addr or 0),
       [(f["kind"], f.get("addr")) for f in hit])
    h = r.cmd("heap") or {}
    ok("error" not in h and h.get("nchunks", 0) > 100 and h.get("errors", 0) > 0,
       "%s: heap completes and counts the errors" % kind, h.get("error"))
    is_(r.rc, 42, "%s: --error-exitcode=42 applies" % kind)
    ok(t.state() in ("S", "R") and t.tracer() == 0, "%s: target untouched" % kind)
    t.stop()

# a clean heap with --error-exitcode exits 0
t = Target("heapstates", ["nothreads"])
r = batch(["--error-exitcode=42", "-p", str(t.pid)], "check", "heap")
is_(r.rc, 0, "clean heap: --error-exitcode does not fire")
done()
