#!/usr/bin/env python3
# `retained`: what each root keeps alive, against what the program itself
# allocated under each root (tests/targets/retainer.c): a global cache
# table and its chains, a function's static pool, a list only a thread's
# stack holds, a block two globals share.  Exact in blocks and bytes,
# untraced live (usable sizes), on a core of the same process, and traced
# from the start (requested sizes, with the allocation stack of the block
# that holds most).  No leak check names any of it: all of it is reachable.
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("retainer")
exp = {}
for line in t.lines:
    p = line.split()
    if p[0] == "expect":
        exp[p[1]] = (int(p[2]), int(p[3]), int(p[4]))
ok(len(exp) == 4, "the target says what each root holds", t.lines)
tids = t.tids()


def roots(r):
    o = r.cmd("retained") or {}
    return o, o.get("roots", [])


def find(rs, **kw):
    for x in rs:
        if all(x.get(k) == v for k, v in kw.items()):
            return x
    return None


def check(r, label, size_index, holder_tid):
    o, rs = roots(r)
    ok(r.rc == 0 and rs, "%s: retained ran" % label, r)
    cache = find(rs, kind="global", symbol="cache")
    is_((cache or {}).get("blocks"), exp["cache"][0], "%s: global cache retains every block of the cache" % label)
    is_((cache or {}).get("bytes"), exp["cache"][size_index], "%s: ... and their bytes" % label)
    ok(rs and rs[0].get("symbol") == "cache", "%s: the cache is the biggest root" % label,
       [(x.get("kind"), x.get("symbol"), x.get("bytes")) for x in rs[:4]])
    ok(cache and cache.get("top", {}).get("blocks") == exp["cache"][0] and cache.get("refs") == 1,
       "%s: through one pointer, to the bucket table" % label, cache)
    pool = find(rs, kind="global", function="pool_fill")
    ok(pool and pool.get("symbol", "").startswith("pool"), "%s: the static pool, named with its function" % label,
       pool)
    is_(((pool or {}).get("blocks"), (pool or {}).get("bytes")), (exp["pool"][0], exp["pool"][size_index]),
        "%s: the pool's blocks and bytes" % label)
    st = find(rs, kind="stack", thread=holder_tid)
    is_(((st or {}).get("blocks"), (st or {}).get("bytes")), (exp["stack"][0], exp["stack"][size_index]),
        "%s: the list only thread %d's stack holds" % (label, holder_tid))
    sh = o.get("shared", {})
    ok(sh.get("blocks", 0) >= exp["shared"][0] and sh.get("bytes", 0) >= exp["shared"][size_index],
       "%s: the block two globals share is held by several roots (%s)" % (label, sh))
    big = [x for x in sh.get("biggest", []) if x.get("blocks") == exp["shared"][0]]
    ok(big and sorted(h.get("symbol") for h in big[0].get("holders", [])) == ["shared_a", "shared_b"],
       "%s: the shared block, pointed to by both globals" % label, sh.get("biggest", [])[:3])
    ok(not find(rs, symbol="shared_a") and not find(rs, symbol="shared_b"),
       "%s: neither global alone retains the shared block" % label)
    ok("unattributed" not in o, "%s: every reachable block is on a path from a root" % label, o.get("unattributed"))
    total = sum(x["bytes"] for x in rs) + sh.get("bytes", 0)
    is_(total, (o.get("reachable") or {}).get("bytes"), "%s: roots and shared add up to the reachable bytes" % label)
    lk = r.cmd("leaks") or {}
    is_((lk.get("reachable") or {}).get("bytes"), (o.get("reachable") or {}).get("bytes"),
        "%s: the same reachable bytes as leaks" % label)
    return rs


holder = max(tids)	# the thread the program started
r = batch(["-p", str(t.pid)], "retained", "leaks")
check(r, "live", 1, holder)
txt = batch(["-p", str(t.pid)], "retained 3", json_mode=False)
ok(txt.rc == 0 and "retained by global `cache'" in txt.out and "static `pool' in pool_fill()" in txt.out,
   "text: the roots in words", txt.out)
ok("more root" in txt.out, "text: N limits the roots shown", txt.out)

if have("gcore"):
    d = tmpdir("retained")
    subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
    r = batch(["-c", os.path.join(d, "core.%d" % t.pid)], "retained", "leaks")
    check(r, "core", 1, holder)
else:
    for n in range(14):
        skip("core", "gcore not installed")
t.stop()

# traced from the start: requested sizes, and the stack that allocated the
# cache's table
r = run(["-batch", "-ex", "trace start", "-ex", "continue 2", "-ex", "retained", "-ex", "leaks",
         "--args", os.path.join(TARGETS, "retainer")])
o, rs = roots(r)
stacks = [x for x in rs if x.get("kind") == "stack"]
rs = check(r, "traced", 2, stacks[-1]["thread"] if stacks else 0)
cache = find(rs, kind="global", symbol="cache") or {}
frames = [norm_func(f.get("func")) for f in (cache.get("top", {}).get("stack") or {}).get("frames", [])]
ok(frames[:1] == ["track"] and "cache_grow" in frames, "traced: the table's allocation stack starts at the caller "
   "and passes cache_grow", frames)
done()
