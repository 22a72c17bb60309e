#!/usr/bin/env python3
# The leak check's streaming pass over blocks bigger than its read window
# (512 KiB): pointers at any offset of a 3 MiB block (the first window,
# the middle of a later one, the last word), a lost 2 MiB block holding
# the only pointer to another past its first MiB, an interior pointer
# 700 KiB into a 1 MiB block; the same live and on a core; `refs --chain`
# names the exact address of a pointer far inside a wide block.
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("leakwide")
addr = {}
for line in t.lines:
    parts = line.split()
    if len(parts) == 2 and parts[0] != "ready":
        addr[parts[0]] = int(parts[1], 16)
want = {"wide": "reachable", "small0": "reachable", "small1": "reachable", "small2": "reachable",
        "small3": "reachable", "lost": "definite", "under": "indirect", "mid": "possible"}
names = sorted(want)


def kinds(args):
    r = batch(args, *["refs 0x%x" % addr[n] for n in names])
    return {n: (r.cmd("refs", i) or {}).get("kind") for i, n in enumerate(names)}


is_(kinds(["-p", str(t.pid)]), want, "live: each block's category")
r = batch(["-p", str(t.pid)], "refs --chain 0x%x" % addr["small2"], "refs --chain 0x%x" % addr["small3"],
          "refs 0x%x" % addr["under"])
for i, (name, off) in enumerate((("small2", 1536 * 1024), ("small3", 3 * 1024 * 1024 - 8))):
    # (the item of a block holds the address of its pointer to the next)
    ch = (r.cmd("refs", i) or {}).get("chain") or []
    is_(ch[-2].get("from") if len(ch) > 1 else None, "0x%x" % (addr["wide"] + off),
        "refs --chain %s: the pointer at offset %d of the wide block" % (name, off))
refs = (r.cmd("refs", 2) or {}).get("refs", [])
is_([x.get("from") for x in refs], ["0x%x" % (addr["lost"] + 1024 * 1024 + 8)],
    "refs: the one pointer to the indirectly lost block, 1 MiB into the lost one")

if have("gcore"):
    d = tmpdir("leakwide")
    subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
    core = os.path.join(d, "core.%d" % t.pid)
    is_(kinds(["-c", core]), want, "core: each block's category")
    os.unlink(core)
else:
    skip("core: each block's category", "gcore not installed")
t.stop()
done()
