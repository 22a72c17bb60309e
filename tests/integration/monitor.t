#!/usr/bin/env python3
# monitor for machines: under --json each sample is a line of its own,
# printed as it is taken (a pipeline sees it before monitor ends); with
# --prometheus=FILE the file is rewritten after each sample, atomically,
# in Prometheus' text exposition format (checked here line by line
# against the format's grammar), with the heap per arena, RSS and the
# time the process was held stopped, and its numbers are the sample's.
# --quick: glibc's totals from the arenas' free lists, exact against
# mallinfo2().
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
d = tmpdir("monitor")

METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)"
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s=%s)(?:,%s=%s)*,?)?\})? (%s)(?: -?\d+)?$" % (METRIC, LABEL, LVALUE, LABEL,
                                                                                   LVALUE, VALUE))


def prom_check(text):
    """Parse Prometheus' text exposition format (0.0.4) strictly: returns
    ({(name, labels): value}, {name: type}, [problems])."""
    problems, types, helps, samples, seen_family, current = [], {}, {}, {}, [], None
    if not text.endswith("\n"):
        problems.append("does not end with a line break")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % METRIC, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    problems.append("%d: malformed %r" % (n, line))
                continue
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    problems.append("%d: unknown type %r" % (n, rest))
                if name in types:
                    problems.append("%d: second TYPE for %s" % (n, name))
                if any(k[0] == name for k in samples):
                    problems.append("%d: TYPE for %s after its samples" % (n, name))
                types[name] = rest
            else:
                if name in helps:
                    problems.append("%d: second HELP for %s" % (n, name))
                helps[name] = rest
            continue
        if not line.strip():
            problems.append("%d: empty line" % n)
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append("%d: not a sample line: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name != current:
            if name in seen_family:
                problems.append("%d: samples of %s not together" % (n, name))
            seen_family.append(name)
            current = name
        lab = tuple(sorted(re.findall(r"(%s)=(%s)" % (LABEL, LVALUE), labels)))
        if len(set(k for k, v in lab)) != len(lab):
            problems.append("%d: a label twice" % n)
        key = (name, tuple((k, v[1:-1]) for k, v in lab))
        if key in samples:
            problems.append("%d: duplicate sample %r" % (n, key))
        samples[key] = float(value)
        if types.get(name) == "counter" and not name.endswith("_total"):
            problems.append("%d: counter %s not named _total" % (n, name))
    for name, _ in samples:
        if name not in types:
            problems.append("no TYPE for %s" % name)
    return samples, types, problems


# the checker itself rejects what is not the format
bad = ['metric{a="1"} 1\nmetric{a="1"} 2\n', "# TYPE m gauge\nm{a=1} 1\n", "m 1", "# TYPE m gage\nm 1\n",
       "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", "m 1\n# TYPE m gauge\n"]
ok(all(prom_check(b)[2] for b in bad), "the format check rejects malformed files")
ok(not prom_check('# HELP m x\n# TYPE m gauge\nm{a="x\\"y"} 1.5e3\n')[2], "the format check accepts a good file")

g = Target("snapgrow", args=["grow"])
prom = os.path.join(d, "heap.prom")
p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(g.pid), "-batch", "-ex",
                      "monitor 1 3 --prometheus=" + prom], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
start = time.time()
first = p.stdout.readline()
took = time.time() - start
try:
    o = json.loads(first)
except ValueError:
    o = {}
ok(o.get("cmd") == "monitor" and o.get("sample") == 0 and took < 2.5 and p.poll() is None,
   "the first sample's line comes at once (%.1f s), while monitor still runs" % took, first)
ok(os.path.exists(prom), "the Prometheus file is there after the first sample")
rest, err = p.communicate(timeout=60)
lines = [json.loads(l) for l in [first] + rest.splitlines() if l.strip()]
samples = [l for l in lines if "sample" in l]
summ = [l for l in lines if "samples" in l]
is_([l.get("sample") for l in samples], [0, 1, 2, 3], "one line per sample, in order")
ok(len(summ) == 1 and lines[-1] is summ[0] and len(summ[0].get("series", [])) == 4, "then the summary", summ)
ok(all(l.get("stopped_seconds", -1) >= 0 for l in samples), "each sample says how long it stopped the process")

text = open(prom).read()
vals, types, problems = prom_check(text)
ok(not problems, "the Prometheus file parses as the text exposition format", "\n".join(problems[:10]) + "\n" + text)
names = set(n for n, _ in vals)
for want in ("heapdbg_heap_in_use_bytes", "heapdbg_heap_free_bytes", "heapdbg_heap_top_bytes",
             "heapdbg_heap_mmapped_bytes", "heapdbg_heap_chunks", "heapdbg_process_resident_bytes",
             "heapdbg_stopped_seconds_total"):
    ok(want in names, "metric %s" % want)
last = samples[-1] if samples else {}
pid = str(g.pid)
inuse = sum(v for (n, l), v in vals.items() if n == "heapdbg_heap_in_use_bytes" and dict(l).get("pid") == pid)
mm = sum(v for (n, l), v in vals.items() if n == "heapdbg_heap_mmapped_bytes")
is_(inuse + mm, last.get("in_use", {}).get("bytes"), "in use over the arenas plus mmapped is the last sample's")
chunks = sum(v for (n, l), v in vals.items() if n == "heapdbg_heap_chunks" and dict(l).get("state") == "in_use")
mmc = sum(v for (n, l), v in vals.items() if n == "heapdbg_heap_mmapped_chunks")
is_(chunks + mmc, last.get("in_use", {}).get("chunks"), "chunks in use likewise")
is_(vals.get(("heapdbg_process_resident_bytes", (("pid", pid),))), last.get("rss"), "RSS is the last sample's")
st = vals.get(("heapdbg_stopped_seconds_total", (("pid", pid),)), 0)
ok(st >= sum(l["stopped_seconds"] for l in samples) - 1e-3 and st < 30, "stopped time: the sum of the samples' (%s)" % st)
free_top = sum(v for (n, l), v in vals.items() if n in ("heapdbg_heap_free_bytes", "heapdbg_heap_top_bytes"))
is_(free_top, last.get("free", {}).get("bytes"), "free plus top is the sample's free")
ok(all(dict(l).get("arena") and dict(l).get("addr", "").startswith("0x") for (n, l) in vals
       if n.startswith("heapdbg_heap_") and "mmapped" not in n), "every heap series is per arena (arena, addr)")
ok(not [f for f in os.listdir(d) if f != "heap.prom"], "no temporary file left beside it")

# written atomically: a reader polling the file never sees half of one
g2 = Target("snapgrow", args=["grow"])
p = subprocess.Popen([HEAPDBG, "-q", "-p", str(g2.pid), "-batch", "-ex", "monitor 0.05 40 --prometheus=" + prom],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
reads, broken = 0, []
while p.poll() is None:
    try:
        with open(prom) as f:
            txt = f.read()
    except OSError:
        continue
    reads += 1
    if prom_check(txt)[2] or "heapdbg_heap_mmapped_chunks" not in txt:
        broken.append(txt[-200:])
p.wait(60)
ok(reads > 10 and not broken, "%d reads while it was rewritten 41 times: every one a whole file" % reads, broken[:2])

# --quick: glibc's own totals from the free lists, no walk; the same
# numbers as mallinfo2() of a parked program (heapstates prints its own),
# for its several arenas, and as the walk reconciles them
hs = Target("heapstates")
mi = mallinfo_of(hs)
qprom = os.path.join(d, "quick.prom")
r = batch(["-p", str(hs.pid)], "monitor --quick 0.05 2 --prometheus=" + qprom, "heap")
qs = [o for o in r.objs if o.get("cmd") == "monitor" and "sample" in o]
ok(r.rc == 0 and len(qs) == 3, "monitor --quick: three samples", r)
for x in qs:
    quick_vs_mallinfo(x, mi or {}, "--quick sample %s" % x.get("sample"))
h = r.cmd("heap") or {}
ars = h.get("arenas", [])
walk_free = sum(a["top"]["size"] + a["bins"]["bytes"] + a["fastbins"]["bytes"] for a in ars) if ars else None
is_((qs[0] if qs else {}).get("free", {}).get("bytes"), walk_free, "--quick: free is the walk's top + bins + fastbins")
is_((qs[0] if qs else {}).get("arenas"), len(ars), "--quick: every arena")
summ = [o for o in r.objs if o.get("cmd") == "monitor" and "samples" in o]
ok(summ and summ[0].get("source") == "free-lists" and "in_use_chunks" not in summ[0].get("growth", {}),
   "--quick: the summary says where the totals came from, and counts no chunks", summ)
vals, types, problems = prom_check(open(qprom).read()) if os.path.exists(qprom) else ({}, {}, ["no file"])
ok(not problems, "--quick: the Prometheus file parses", problems[:5])
pid = str(hs.pid)
sysb = sum(v for (n, l), v in vals.items() if n == "heapdbg_heap_system_bytes")
is_(sysb, (mi or {}).get("arena"), "--quick: Prometheus' system bytes are mallinfo2's arena")
fr = sum(v for (n, l), v in vals.items() if n in ("heapdbg_heap_free_bytes", "heapdbg_heap_top_bytes"))
is_(fr, (mi or {}).get("fordblks"), "--quick: free + top there is mallinfo2's fordblks")
tx = batch(["-p", str(hs.pid)], "monitor --quick 0.05 1", json_mode=False)
ok(tx.rc == 0 and "totals from the free lists" in tx.out and " chunks" not in tx.out.split("\n", 2)[1],
   "--quick text: says so, and shows no chunk counts", tx.out)
# a walk that holds the process long against the interval says so
w = batch(["-p", str(hs.pid)], "monitor 0.001 2", json_mode=False)
ok("--quick" in w.err, "a walk that holds the process more than 5% of the interval suggests --quick", w.err)

# --quick follows the lists with the process running (a hint) and reads
# the hint's nodes again under the stop, in batches: every sample says
# how (lists {hinted, confirmed, ...}), whether it is approximate, and
# with the whole hint read again the totals are mallinfo2's
for x in qs:
    l = x.get("lists", {})
    ok(l.get("hinted", 0) > 0 and l.get("confirmed") == l.get("hinted") and l.get("unconfirmed") == 0
       and l.get("rounds") == 0 and x.get("approximate") is False,
       "--quick sample %s: the lists were followed while it ran and read again, all of them, stopped"
       % x.get("sample"), l)
ok(summ and summ[0].get("approximate_samples") == 0 and 0 <= summ[0].get("stopped_share", -1) < 1,
   "--quick: the summary counts approximate samples and gives the share of the time held", summ)
ex = batch(["-p", str(hs.pid)], "monitor --quick --exact 0.05 2")
es = [o for o in ex.objs if o.get("cmd") == "monitor" and "sample" in o]
ok(ex.rc == 0 and len(es) == 3 and not any(x.get("approximate") for x in es), "--exact: no sample approximate", ex)
for x in es[:1]:
    quick_vs_mallinfo(x, mi or {}, "--exact sample")
hs.stop()
g.stop()
g2.stop()

# a big heap (one arena, 300,000 chunks: ~30,000 in the unsorted bin):
# the default monitor takes glibc's totals from the free lists instead
# of holding the process for a walk each time, reads what it can again
# within its share of the stop and says what it could not (approximate)
b = Target("bigheap", args=[1, 300000])
r = batch(["-p", str(b.pid)], "monitor 0.5 3", timeout=120)
bs = [o for o in r.objs if o.get("cmd") == "monitor" and "sample" in o]
bsum = [o for o in r.objs if o.get("cmd") == "monitor" and "samples" in o]
ok(r.rc == 0 and len(bs) == 4 and all(x.get("source") == "free-lists" for x in bs),
   "a big heap: the samples are from the free lists", (r.err, [x.get("source") for x in bs]))
ok("free lists" in r.err and "--walk" in r.err, "... and monitor says why", r.err)
napprox = sum(1 for x in bs if x.get("approximate"))
ok(bsum and bsum[0].get("approximate_samples") == napprox, "the summary counts the approximate samples", bsum)
ex = batch(["-p", str(b.pid)], "monitor --quick --exact 0.5 1", timeout=120)
exs = [o for o in ex.objs if o.get("cmd") == "monitor" and "sample" in o]
ok(ex.rc == 0 and exs and not exs[-1].get("approximate"), "--exact: the big heap's sample is exact", ex)
want = exs[-1].get("free") if exs else None
# the process is parked: an approximate sample whose lists were partly
# taken as read while it ran still has the stopped process's totals; one
# whose lists were cut at the deadline (the hint not done in time) says so
whole = [x for x in bs if not x.get("lists", {}).get("cut")]
ok(whole, "some samples had their lists whole", [x.get("lists") for x in bs])
is_([x.get("free") for x in whole], [want] * len(whole),
    "every sample with whole lists agrees with --exact's (the process is parked)")
ok(all(x.get("approximate") for x in bs if x.get("lists", {}).get("cut")), "a sample with lists cut is approximate")
for x in bs:
    l = x.get("lists", {})
    ok(l.get("confirmed", 0) + l.get("unconfirmed", 0) == l.get("hinted") and l.get("changed") == 0,
       "sample %s: the hint's nodes read again or taken as read (%s), none changed" % (x.get("sample"), l))
# samples at their times (t = k * interval), not an interval after each
# sample's hold; a walk each time holds the process long enough to show it
w = batch(["-p", str(b.pid)], "monitor --walk 0.5 3", timeout=120)
ws = [o for o in w.objs if o.get("cmd") == "monitor" and "sample" in o]
held = sum(x.get("stopped_seconds", 0) for x in ws[:3])
if len(ws) == 4 and held > 0.06:
    late = ws[3]["t"] - 1.5
    ok(late < held / 2, "--walk: sample 3 comes at 1.5 s (%.3f s late; the holds before it: %.3f s)" % (late, held))
else:
    skip("samples at their times", "the walks held the process only %.3f s" % held)
is_([x.get("source") for x in ws], ["walk"] * 4, "--walk walks every time")
b.stop()
done()
