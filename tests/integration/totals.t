#!/usr/bin/env python3
# Every number a person reads in the text form of a command with totals
# is the number the JSON form gives: heap (per arena, mmapped, Totals,
# histogram), leaks (summary and records), snapshot, top, trace status,
# diff and monitor.  The two runs look at the same heap: a parked target
# (attached twice), or the same deterministic program started twice.
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()


def fmt_bytes(n):
    """heapdbg's fmt_bytes (src/util.c)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    v, u = float(n), 0
    while v >= 1024 and u + 1 < len(units):
        v /= 1024
        u += 1
    return "%d B" % n if u == 0 else "%.1f %s" % (v, units[u])


def sbytes(n):
    return ("-" if n < 0 else "+") + fmt_bytes(abs(n))


def text_and_json(target_args, *cmds):
    tx = batch(target_args, *cmds, json_mode=False)
    js = batch(target_args, *cmds)
    return tx, js


def lines_between(out, start, stop=None):
    ls = out.splitlines()
    i = next((k for k, l in enumerate(ls) if l.startswith(start)), None)
    if i is None:
        return []
    j = next((k for k in range(i + 1, len(ls)) if stop and ls[k].startswith(stop)), len(ls))
    return ls[i:j]


# ---- heap, leaks, snapshot, monitor on a parked target ----
t = Target("leaky")
ok(t.pid > 0, "target ready (its heap no longer changes)")
tx, js = text_and_json(["-p", str(t.pid)], "heap", "leaks", "snapshot s", "monitor 0.1 2")
ok(tx.rc == 0 and js.rc == 0, "text and JSON runs succeed", "%r\n%r" % (tx, js))
h = js.cmd("heap") or {}

# per arena: the count lines
arena_text = re.split(r"\n(?=Arena 0x)", tx.out)
arena_text = [a for a in arena_text if a.startswith("Arena 0x")]
is_(len(arena_text), len(h.get("arenas", [])), "heap: one text block per JSON arena")
for a, at in zip(h.get("arenas", []), arena_text):
    want = ["Arena %s%s: system_mem %d (%s)" % (a["addr"], " (main)" if a["main"] else "",
                                                a["system_mem"], fmt_bytes(a["system_mem"]))]
    for label, key in (("in use", "used"), ("tcache", "tcache"), ("fastbins", "fastbins"), ("bins", "bins")):
        want.append("  %-10s %9d chunks %12s" % (label, a[key]["chunks"], fmt_bytes(a[key]["bytes"])))
    want.append("  %-10s %16s %12s  at %s" % ("top", "", fmt_bytes(a["top"]["size"]), a["top"]["chunk"]))
    missing = [w for w in want if w not in at]
    ok(not missing, "heap: arena %s: every count line matches JSON" % a["addr"], "missing: %r\nin: %s" % (missing, at))
    m = re.search(r"\(unsorted (\d+), small (\d+), large (\d+)\)", at)
    is_(m and tuple(int(x) for x in m.groups()),
        (a["unsorted"]["chunks"], a["smallbins"]["chunks"], a["largebins"]["chunks"]), "heap: bins split as JSON")
mm = h.get("mmapped", {})
ok(re.search(r"^mmapped +%d chunks +%s" % (mm.get("chunks", -1), re.escape(fmt_bytes(mm.get("bytes", 0)))),
             tx.out, re.M), "heap: mmapped line matches JSON", tx.out[-2000:])
T = h.get("totals", {})
if T:
    want = "Totals: system_mem %s; in use %d chunks (%s); free %d chunks (%s) + top %s" % (
        fmt_bytes(T["system_mem"]), T["used"]["chunks"] + T["mmapped"]["chunks"],
        fmt_bytes(T["used"]["bytes"] + T["mmapped"]["bytes"]),
        T["tcache"]["chunks"] + T["fastbins"]["chunks"] + T["bins"]["chunks"],
        fmt_bytes(T["tcache"]["bytes"] + T["fastbins"]["bytes"] + T["bins"]["bytes"]), fmt_bytes(T["top"]["bytes"]))
    got = [l for l in tx.out.splitlines() if l.startswith("Totals:")]
    is_(got, [want], "heap: the Totals line is the JSON totals")
    # and the totals are the sums of the arenas
    arenas = h["arenas"]
    is_((T["system_mem"], T["top"]["bytes"], T["bins"]["bytes"]),
        (sum(a["system_mem"] for a in arenas), sum(a["top"]["size"] for a in arenas),
         sum(a["bins"]["bytes"] for a in arenas)), "heap: JSON totals are the sums over arenas")
else:
    ok(False, "heap: JSON has totals", js)
    ok(False, "heap: JSON has totals", js)
hist = [l for l in lines_between(tx.out, "Chunks in use by size") if l.startswith("  >= ")]
want = []
for b in h.get("histogram", []):
    want.append((fmt_bytes(b["min"]), b["chunks"], fmt_bytes(b["bytes"])))
got = []
for l in hist:
    m = re.match(r"  >= (\S+ \S+) +(\d+) #* *(\S+ \S+)$", l)
    got.append(m and (m.group(1), int(m.group(2)), m.group(3)))
is_(got, want, "heap: every histogram row matches JSON")

# leaks: the summary and every record's counts
L = js.cmd("leaks") or {}
summ = {}
for l in lines_between(tx.out, "LEAK SUMMARY:"):
    m = re.match(r"\s*(definitely lost|indirectly lost|possibly lost|still reachable): (\d+) bytes in (\d+) blocks?", l)
    if m:
        summ[m.group(1)] = (int(m.group(2)), int(m.group(3)))
want = {}
for label, key in (("definitely lost", "definite"), ("indirectly lost", "indirect"), ("possibly lost", "possible"),
                   ("still reachable", "reachable")):
    if key in L:
        want[label] = (L[key]["bytes"], L[key]["blocks"])
ok(want and summ == want, "leaks: LEAK SUMMARY is the JSON totals", "text %r\njson %r" % (summ, want))
kinds = {"definitely": "definite", "indirectly": "indirect", "possibly": "possible"}
trec = []
for m in re.finditer(r"^(\d+) (?:\((\d+) direct, (\d+) indirect\) )?bytes in (\d+) blocks? (?:is|are) (\w+) lost", tx.out, re.M):
    total, direct, ind, blocks, kind = m.groups()
    trec.append((kinds.get(kind, kind), int(direct or total), int(ind or 0), int(blocks)))
# (the records text shows by default: valgrind's definite,possible)
jrec = [(r["kind"], r["bytes"], r.get("indirect_bytes", 0), r["blocks"]) for r in L.get("records", [])
        if r["kind"] in ("definite", "possible")]
ok(trec and sorted(trec) == sorted(jrec), "leaks: every loss record's bytes and blocks match JSON",
   "text %r\njson %r" % (sorted(trec), sorted(jrec)))

S = js.cmd("snapshot") or {}
m = re.search(r"^Snapshot s: (\d+) chunks? in use, (\d+) bytes \((.*?)\); (\d+) traced", tx.out, re.M)
is_(m and (int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))),
    (S.get("chunks"), S.get("bytes"), fmt_bytes(S.get("bytes", 0)), S.get("traced")), "snapshot: counts match JSON")

M = [o for o in js.objs if o.get("cmd") == "monitor" and "samples" in o]
M = M[-1] if M else {}
g = M.get("growth", {})
m = re.search(r"^(\d+) samples over [\d.]+ s \((\w+)\): rss (\S+ \S+), heap in use (\S+ \S+) \(([+-]\d+) chunks\)",
              tx.out, re.M)
is_(m and (int(m.group(1)), m.group(2), m.group(3), m.group(4), int(m.group(5))),
    (M.get("samples"), M.get("reason"), sbytes(g.get("rss", 0)), sbytes(g.get("in_use_bytes", 0)),
     g.get("in_use_chunks")), "monitor: the summary line matches JSON")
t.stop()

# ---- top, trace status and diff: the same program run twice ----
prog = ["--args", os.path.join(TARGETS, "leaky"), "exit"]
cmds = ("snapshot a", "trace start", "continue", "top 100", "trace status", "diff a")
tx = run(["-batch"] + sum((["-ex", c] for c in cmds), []) + prog, json_mode=False)
js = run(["-batch"] + sum((["-ex", c] for c in cmds), []) + prog)
ok(tx.rc == 0 and js.rc == 0, "launched twice", "%r\n%r" % (tx, js))
top = js.cmd("top") or {}
o = top.get("outstanding", {})
is_(re.findall(r"^Outstanding: (\d+) blocks?, (\d+) bytes? in (\d+) stacks?", tx.out, re.M),
    [(str(o.get("blocks")), str(o.get("bytes")), str(top.get("ngroups")))], "top: the Outstanding line matches JSON")
got = sorted((int(a), int(b)) for a, b in re.findall(r"^(\d+) bytes? in (\d+) blocks?, oldest", tx.out, re.M))
is_(got, sorted((g["bytes"], g["blocks"]) for g in top.get("groups", [])), "top: every group matches JSON")
st = js.cmd("trace", 1) or {}
so = st.get("outstanding", {})
is_(re.findall(r"^Outstanding: (\d+) blocks, (\d+) bytes requested", tx.out, re.M),
    [(str(so.get("blocks")), str(so.get("bytes")))], "trace status: Outstanding matches JSON")
ev = st.get("events", {})
m = re.search(r"^Calls:(.*)$", tx.out, re.M)
is_(m and dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", m.group(1))),
    dict((k, v) for k, v in ev.items() if v), "trace status: calls per entry point match JSON")
d = js.cmd("diff") or {}
want = []
for label in ("new", "freed", "kept"):
    c = d.get(label, {})
    want.append("  %-6s %10d chunks %14d bytes (%s)" % (label, c.get("chunks", -1), c.get("bytes", -1),
                                                       fmt_bytes(c.get("bytes", 0))))
n = d.get("net", {})
want.append("  %-6s %+10d chunks %+14d bytes (%s)" % ("net", n.get("chunks", 0), n.get("bytes", 0),
                                                     sbytes(n.get("bytes", 0))))
missing = [w for w in want if w not in tx.out.splitlines()]
ok(not missing, "diff: new, freed, net and kept match JSON", "missing %r" % missing)
got = []
for m in re.finditer(r"size=(\S+ \S+) \((\S+ \S+)\), count=(\d+) \(([+-]\d+)\), average=(\S+ \S+); new (\d+), freed (\d+)",
                     tx.out):
    got.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), m.group(5), int(m.group(6)),
                int(m.group(7))))
want = []
for g in d.get("groups", []):
    to, fr = g["to"], g["from"]
    want.append((fmt_bytes(to["bytes"]), sbytes(to["bytes"] - fr["bytes"]), to["chunks"], to["chunks"] - fr["chunks"],
                 fmt_bytes(to["bytes"] // to["chunks"] if to["chunks"] else 0), g["new"]["chunks"],
                 g["freed"]["chunks"]))
ok(got and sorted(got) == sorted(want), "diff: every group's numbers match JSON", "text %r\njson %r" % (got, want))
done()
