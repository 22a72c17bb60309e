#!/usr/bin/env python3
# Allocation stacks against valgrind's, frame for frame, on
# tests/targets/stackshapes traced from launch to exit: a block allocated
# through three nested inlined calls (each its own frame, each with the
# line of its own call, not the outer function's), and one allocated two
# calls deep inside a library the program dlopen()s after `trace start`
# (the stack goes on through the library's frames to main instead of
# ending at its first frame).  Every record whose frames are the
# program's own or the library's: the functions, files and lines up to
# main that valgrind prints.
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
if SANITIZERS or not have("valgrind"):
    skip_all("valgrind unavailable or sanitizer build")
prog = os.path.join(TARGETS, "stackshapes")
plug = os.path.join(TARGETS, "libstackplug.so")
MINE = ("stackshapes.c", "stackplug.c")

v = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", prog, plug], capture_output=True,
                   text=True, timeout=300)


def vg_records(text):
    """{(kind, bytes): [(func, file, line), ...]} from valgrind's loss
    records: the frames after the allocator, up to main."""
    out = {}
    for rec in re.split(r"\n==\d+== \n", text):
        m = re.search(r"([\d,]+)(?: \(([\d,]+) direct.*?\))? bytes in [\d,]+ blocks are (\w+ \w+) in loss record",
                      rec)
        if not m:
            continue
        size = int((m.group(2) or m.group(1)).replace(",", ""))
        frames = re.findall(r"(?:at|by) 0x[0-9A-F]+: (.*?) \((?:in )?([^():]+?)(?::(\d+))?\)$", rec, re.M)
        fr = [(f, os.path.basename(fl), int(ln) if ln else 0) for f, fl, ln in frames[1:]]
        cut = [i for i, f in enumerate(fr) if f[0] == "main"]
        out[(m.group(3), size)] = fr[:cut[0] + 1] if cut else fr
    return out


KIND = {"definite": "definitely lost", "indirect": "indirectly lost", "possible": "possibly lost",
        "reachable": "still reachable"}


def hd_records(r):
    out = {}
    for rec in (r.cmd("leaks") or {}).get("records", []):
        fr = [(f.get("func"), os.path.basename(f.get("file") or ""), f.get("line") or 0)
              for f in rec.get("stack", {}).get("frames", [])]
        cut = [i for i, f in enumerate(fr) if f[0] == "main"]
        out[(KIND[rec["kind"]], rec["bytes"])] = fr[:cut[0] + 1] if cut else fr
    return out


vr = vg_records(v.stderr)
ok(("definitely lost", 31) in vr and ("definitely lost", 77) in vr, "valgrind's records of the two blocks",
   v.stderr[-2000:])
r = run(["-batch", "-ex", "trace start", "-ex", "continue", "-ex", "leaks", "--args", prog,
         plug], timeout=300)
hr = hd_records(r)
is_(hr.get(("definitely lost", 31)), vr.get(("definitely lost", 31)),
    "nested inlined calls: inner, middle, outer, leak_inlined, main, each with its own line (valgrind's)")
is_(hr.get(("definitely lost", 77)), vr.get(("definitely lost", 77)),
    "in a library dlopen()ed after trace start: plug_inner, plug_leak, leak_plugin, main (valgrind's)")
own = sorted(k for k, fr in vr.items() if fr and all(f[1] in MINE for f in fr))
ok(len(own) >= 10, "valgrind: %d records in the program's own frames" % len(own), vr)
is_({k: hr.get(k) for k in own}, {k: vr[k] for k in own}, "every record in the program's own frames: valgrind's stack")
done()
