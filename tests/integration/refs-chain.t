#!/usr/bin/env python3
# refs --chain collapses a run of similar hops: tests/targets/longchain's
# global holds a 40-byte block, then a list of 700 80-byte nodes (next at
# offset 0), then 3 120-byte nodes (too few to collapse), then the
# 200-byte block asked about.  The 700 nodes are one line
# ("-> 700 x 88-byte blocks via offset 0 (FIRST ... LAST)": usable sizes,
# untraced), in text and JSON, and every other hop is itself.
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("longchain")
a = {l.split()[0]: int(l.split()[1], 16) for l in t.lines if len(l.split()) == 2 and l.split()[1].startswith("0x")}
r = batch(["-p", str(t.pid)], "refs --chain 0x%x" % a["end"])
rt = batch(["-p", str(t.pid)], "refs --chain 0x%x" % a["end"], json_mode=False)
t.stop()
ch = (r.cmd("refs") or {}).get("chain", [])
is_(ch[0].get("symbol") if ch else None, "g_head", "the chain starts at the global g_head")
is_([(x.get("addr") and int(x["addr"], 16), x.get("size"), x.get("count"), x.get("offset"),
      x.get("last") and int(x["last"], 16)) for x in ch[1:]],
    [(a["head"], 40, None, None, None), (a["first"], 88, 700, 0, a["last"]),
     (a["short0"], 120, None, None, None), (a["short1"], 120, None, None, None),
     (a["short2"], 120, None, None, None), (a["end"], 200, None, None, None)],
    "JSON: the 700 nodes are one hop {count, size, offset, addr, last}, the others themselves")
run_line = [l for l in rt.out.splitlines() if "700 x 88-byte blocks via offset 0" in l]
ok(run_line and ("0x%x ... 0x%x" % (a["first"], a["last"])) in run_line[0],
   "text: one line for the 700 nodes, with the first and the last", rt.out)
ok(len(rt.out.splitlines()) < 12, "text: %d lines, not 700" % len(rt.out.splitlines()), rt.out[-600:])
done()
