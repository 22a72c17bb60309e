#!/usr/bin/env python3
# Snapshots of a sampled trace (trace start --sample BYTES), with the
# known pattern of tests/targets/sampled in two phases:
#  - the snapshot records its sampling rate, and the saved file reloads
#    with it (in a heapdbg with no target);
#  - export pprof writes a Go/tcmalloc heap profile: decoded here, the
#    sampled stacks' scaled inuse_objects and inuse_space are within 4
#    standard deviations of what the target allocated (the tolerance of
#    trace-sample.t), the period is the rate, a comment says it is
#    sampled and estimated, and no size-class frames count the unsampled
#    chunks twice; the command says `sampled` with the rate;
#  - diff of an unsampled snapshot (before tracing) and a sampled one
#    says so and estimates from the sampled side;
#  - diff of the two sampled snapshots around the known growth: the
#    growth by stack is estimated within tolerance (exact for the blocks
#    bigger than many rates), labelled as estimates with the samples
#    behind each; the walk totals are exact (every new chunk counted).
import gzip, json, math, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()

RATE = 4096
N = 200000
SEED = 7


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, value) of a protobuf message: ints or bytes."""
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        w = k & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % w)
        out.append((k >> 3, v))
    return out


def packed(v):
    if isinstance(v, int):
        return [v]
    i, out = 0, []
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def decode_profile(path):
    """profile.proto, as much as the test needs."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    top = fields(raw)
    strings = [v.decode() for k, v in top if k == 6]
    funcs = {}
    for k, v in top:
        if k == 5:
            f = dict(fields(v))
            funcs[f.get(1)] = strings[f.get(2, 0)]
    locs = {}
    for k, v in top:
        if k == 4:
            fs = fields(v)
            lid = [x for n, x in fs if n == 1][0]
            names = [funcs.get(dict(fields(ln)).get(1)) for n, ln in fs if n == 4]
            locs[lid] = names
    samples = []
    for k, v in top:
        if k == 2:
            ids, vals = [], []
            for n, x in fields(v):
                if n == 1:
                    ids += packed(x)
                elif n == 2:
                    vals += packed(x)
            samples.append(([nm for lid in ids for nm in locs.get(lid, [])], vals))
    return {
        "types": [strings[dict(fields(v)).get(1, 0)] for k, v in top if k == 1],
        "period": sum(v for k, v in top if k == 12),
        "period_type": [strings[dict(fields(v)).get(1, 0)] for k, v in top if k == 11],
        "comments": [strings[v] for k, v in top if k == 13],
        "samples": samples,
    }


def rel_sd(n, size, rate):
    p = -math.expm1(-size / rate)
    return math.sqrt((1 - p) / (n * p)) if p < 1 else 0.0


def within(got, want, sd):
    return want > 0 and abs(got - want) <= 4 * sd * want


def cmd_line(h, line, timeout=120):
    h.proc.stdin.write((line + "\n").encode())
    h.proc.stdin.flush()
    out = h.readline(timeout)
    try:
        return json.loads(out) if out else None
    except ValueError:
        return {"bad": out}


def has(names, func):
    return any(norm_func(n) == func for n in names[:3])


d = tmpdir("sample-snapshot")
snapfile = os.path.join(d, "a.hdsnap")
pa = os.path.join(d, "a.pb.gz")
fa = os.path.join(d, "a.folded")

t = Target("sampled", [N, "pause"])
h = Target(HEAPDBG, args=["-q", "--json", "-p", t.pid], ready=False, stdin=subprocess.PIPE,
           env={"HEAPDBG_SAMPLE_SEED": str(SEED), "LC_ALL": "C"})
u = cmd_line(h, "snapshot u")
ok(u and u.get("sample_rate") == 0, "a snapshot before tracing is not sampled", u)
st = cmd_line(h, "trace start --sample %d" % RATE)
ok(st and st.get("sample_rate") == RATE, "trace start --sample %d" % RATE, st)
h.proc.stdin.write(b"continue 8\n")
h.proc.stdin.flush()
p1 = parse_kv((t.read_until("phase1", 60) or "").replace("phase1 ", ""))
h.readline(60)  # continue's answer
ok(p1.get("small"), "the target did its first phase while traced", p1)
ks = int(p1.get("small", "0,0").split(",")[0])

a = cmd_line(h, "snapshot a")
ok(a and a.get("sample_rate") == RATE and a.get("traced", 0) > 0,
   "snapshot a records the sampling rate (%s) and its samples" % (a or {}).get("sample_rate"), a)
sv = cmd_line(h, "save a " + snapfile)
ok(sv and os.path.exists(snapfile), "saved", sv)
ex = cmd_line(h, "export pprof %s a" % pa)
ok(ex and ex.get("sampled", {}).get("rate") == RATE and ex.get("sampled", {}).get("samples", 0) > 0,
   "export pprof says it is sampled, with the rate (%s)" % (ex or {}).get("sampled"), ex)
du = cmd_line(h, "diff u a") or {}
ok(du.get("sampled", {}).get("from_rate") == 0 and du.get("sampled", {}).get("to_rate") == RATE and
   du.get("sampled", {}).get("same_rate") is False,
   "diff of an unsampled and a sampled snapshot says which one is sampled", du.get("sampled"))
gu = [g for g in du.get("groups", []) if has([norm_func(f.get("func")) for f in g.get("stack", [])], "small")]
sd = rel_sd(ks, 100, RATE)
ok(gu and gu[0].get("estimated") and within(gu[0].get("net", {}).get("chunks", 0), ks, sd),
   "... and estimates small()'s growth from the sampled side (%s vs %d)" %
   (gu[0].get("net") if gu else None, ks), gu[:1])
fo = cmd_line(h, "export folded %s a" % fa)
ok(fo and fo.get("sampled", {}).get("rate") == RATE, "export folded says it is sampled", fo)

prof = decode_profile(pa) if os.path.exists(pa) else {"samples": [], "comments": [], "period": 0}
ok(prof.get("types") == ["inuse_objects", "inuse_space"], "profile: inuse_objects and inuse_space", prof.get("types"))
is_(prof["period"], RATE, "profile: the period is the sampling rate")
ok(any("sampled" in c and str(RATE) in c and "estimates" in c for c in prof["comments"]),
   "profile: a comment says it is sampled every %d bytes and the values are estimates" % RATE, prof["comments"])
ok(not any(any(n and n.startswith("[") and n.endswith("chunks]") for n in names) for names, v in prof["samples"]),
   "profile: no size-class frames (the unsampled chunks are in the weights)",
   [names for names, v in prof["samples"] if names and names[0].startswith("[")][:3])
sm = [v for names, v in prof["samples"] if has(names, "small")]
obj = sum(v[0] for v in sm)
space = sum(v[1] for v in sm)
sd = rel_sd(ks, 100, RATE)
ok(within(obj, ks, sd), "profile: small()'s inuse_objects %d vs %d allocated, within 4 sd (%.1f%%)" %
   (obj, ks, 400 * sd))
ok(within(space, ks * 112, sd), "profile: small()'s inuse_space %d vs %d (112-byte chunks), within 4 sd" %
   (space, ks * 112))
go = shutil.which("go")
if go and os.path.exists(pa):
    home = tempfile.mkdtemp(dir=d)
    env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"), GOPATH=os.path.join(home, "gopath"),
               GOFLAGS="", GOTOOLCHAIN="local", PPROF_TMPDIR=home)
    p = subprocess.run([go, "tool", "pprof", "-top", "-sample_index=inuse_objects", pa], capture_output=True,
                       text=True, env=env, timeout=300)
    rows = [l.split() for l in p.stdout.splitlines() if l.split()[-1:] == ["small"]]
    ok(p.returncode == 0 and "estimates" in p.stdout and rows and rows[0][0] == str(obj),
       "go tool pprof reads it: the comment, and small() flat %d objects (no rescaling on read)" % obj,
       p.stdout + p.stderr)
else:
    skip("go tool pprof", "go is not installed (apt-get install golang-go)")
folded = open(fa).read().splitlines() if os.path.exists(fa) else []
fbytes = sum(int(l.rsplit(" ", 1)[1]) for l in folded if "small" in l.rsplit(" ", 1)[0].split(";")[-1:][0])
ok(within(fbytes, ks * 112, sd) and not any(l.startswith("[") for l in folded),
   "folded: small()'s bytes estimated the same way (%d vs %d), no size-class lines" % (fbytes, ks * 112))

h.proc.stdin.write(b"continue 8\n")
h.proc.stdin.flush()
time.sleep(0.5)
t.signal(signal.SIGUSR1)
truth = parse_kv(t.read_until("small=", 60) or "")
h.readline(60)
ok(truth.get("grown"), "the target grew its heap while traced", truth)
kg = int(truth.get("grown", "0,0").split(",")[0])
b = cmd_line(h, "snapshot b")
ok(b and b.get("sample_rate") == RATE, "snapshot b is sampled too", b)
df = cmd_line(h, "diff a b") or {}
ok(df.get("sampled", {}).get("same_rate") is True and df.get("sampled", {}).get("totals_exact") is True,
   "diff says both are sampled at one rate and its totals are exact", df.get("sampled"))
is_(df.get("new"), {"chunks": kg + 200, "bytes": kg * 416 + 200 * 65552},
    "diff: the walk's totals are exact: every new chunk (%d grown, 200 big) counted" % kg)


def group(func):
    for g in df.get("groups", []):
        if has([norm_func(f.get("func")) for f in g.get("stack", [])], func):
            return g
    return {}


gg = group("grown")
sd = rel_sd(kg, 400, RATE)
ok(gg.get("estimated") is True and gg.get("samples", {}).get("new", 0) > 0 and
   within(gg.get("net", {}).get("chunks", 0), kg, sd) and within(gg.get("net", {}).get("bytes", 0), kg * 416, sd),
   "diff: grown()'s growth estimated as %s vs %d blocks (%d bytes), within 4 sd (%.1f%%), from %s samples" %
   (gg.get("net"), kg, kg * 416, 400 * sd, gg.get("samples", {}).get("new")), gg)
gb = group("big")
ok(gb.get("net", {}).get("chunks") == 200 and abs(gb.get("net", {}).get("bytes", 0) - 200 * 65552) <= 2 and
   gb.get("samples", {}).get("new") == 200,
   "diff: big()'s 200 blocks, each sampled, weight 1", gb)
gs = group("small")
ok(not gs or gs.get("net", {}).get("chunks") == 0, "diff: small() did not grow (the same samples)", gs)
cmd_line(h, "trace stop")
h.proc.stdin.close()
h.proc.stdin = None
h.wait(30)
t.signal(signal.SIGUSR1)
t.wait()

# the file, in a heapdbg with no target
r = run(["-batch", "-ex", "load " + snapfile, "-ex", "snapshots", "-ex", "export pprof %s.2 a" % pa])
ld = r.cmd("load") or {}
ok(r.rc == 0 and ld.get("sample_rate") == RATE, "the saved file reloads with its rate (%s)" % ld.get("sample_rate"), r)
ss = (r.cmd("snapshots") or {}).get("snapshots", [{}])
ok(ss and ss[0].get("sample_rate") == RATE, "snapshots lists the rate", ss)
p2 = decode_profile(pa + ".2") if os.path.exists(pa + ".2") else {"period": 0, "samples": []}
ok(p2["period"] == RATE and sum(v[0] for n, v in p2["samples"] if has(n, "small")) == obj,
   "the reloaded snapshot exports the same scaled profile", p2["period"])
cleanup()
done()
