#!/usr/bin/env python3
# Snapshots and diffs on a program whose heap changes on cue: between two
# snapshots, a SIGUSR1 that heapdbg passes on during `continue` makes it
# free 50 blocks and allocate 100 of another size, and `diff` says exactly
# that; a snapshot saved while attached diffs exactly against a later core
# of the same process in a second heapdbg; two saved files diff with no
# target at all; corrupted and foreign files are clear errors; the pprof
# export opens in go tool pprof, the folded export has the right stacks;
# `monitor` gives its series, and Ctrl-C ends it with the series so far.
import json, os, signal, stat, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
d = tmpdir("snapshot")
t = Target("snapgrow")


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def cmd_line(h, line, timeout=60):
    """Send one command to an interactive heapdbg (commands on stdin) and
    return its JSON object."""
    h.proc.stdin.write((line + "\n").encode())
    h.proc.stdin.flush()
    out = h.readline(timeout)
    try:
        return json.loads(out) if out else None
    except ValueError:
        return {"bad": out}


def groups_by_size(diff):
    return {g.get("size"): g for g in (diff or {}).get("groups", []) if "size" in g}


# --- 1. diff across `continue`, the change triggered by a passed-on signal
h = Target(HEAPDBG, args=["-q", "--json", "-p", t.pid], ready=False, stdin=subprocess.PIPE)
snap_a = cmd_line(h, "snapshot a")
ok(snap_a and all(k in snap_a for k in ("name", "chunks", "bytes")) and snap_a["name"] == "a",
   "snapshot: name, chunks, bytes", snap_a)
ok(snap_a and snap_a["chunks"] >= 300 + 150 and snap_a["bytes"] >= 300 * 1008 + 150 * 48,
   "snapshot: the 300 big blocks and 150 victims are in it", snap_a)
h.proc.stdin.write(b"continue 3\n")
h.proc.stdin.flush()
end = time.time() + 10
while time.time() < end and state(t.pid) == "t":
    time.sleep(0.01)
t.signal(signal.SIGUSR1)
grew = t.read_until("grew", 15)
ok(grew is not None, "the target got the signal through `continue` and changed its heap", grew)
cont = json.loads(h.readline(30) or "{}")
ok(cont.get("signals_passed", 0) >= 1, "continue passed the signal on", cont)
snap_b = cmd_line(h, "snapshot b")
diff = cmd_line(h, "diff a b")
diff_now = cmd_line(h, "diff a")
diff_lim = cmd_line(h, "diff --limit 1 -- a b")
lst = cmd_line(h, "snapshots")
h.proc.stdin.close()
h.wait(30)
ok(diff and all(k in diff for k in ("from", "to", "new", "freed", "groups")), "diff: from, to, new, freed, groups",
   diff)
is_((diff or {}).get("new"), {"chunks": 100, "bytes": 100 * 208}, "diff: exactly 100 new 208-byte chunks")
is_((diff or {}).get("freed"), {"chunks": 50, "bytes": 50 * 48}, "diff: exactly 50 freed 48-byte chunks")
is_(((diff or {}).get("from"), (diff or {}).get("to")), ("a", "b"), "diff: from a to b")
gs = groups_by_size(diff)
ok(gs.get(208, {}).get("new") == {"chunks": 100, "bytes": 20800} and gs.get(208, {}).get("freed", {}).get("chunks") == 0,
   "diff: one size-class group holds the 100 new chunks", gs.get(208))
ok(gs.get(48, {}).get("freed") == {"chunks": 50, "bytes": 2400} and gs.get(48, {}).get("new", {}).get("chunks") == 0,
   "diff: one size-class group holds the 50 freed chunks", gs.get(48))
ok(diff and diff["groups"] and diff["groups"][0].get("size") == 208 and diff["groups"][-1].get("size") == 48,
   "diff: groups sorted by growth, biggest first", [(g.get("size"), g["net"]) for g in (diff or {}).get("groups", [])])
ok(diff_now and diff_now.get("to") == "now" and diff_now.get("new") == diff.get("new") and
   diff_now.get("freed") == diff.get("freed"), "diff a (B = the heap now) is the same", diff_now)
is_([x["name"] for x in (lst or {}).get("snapshots", [])], ["a", "b"], "snapshots lists a and b")
ok(diff_lim and diff_lim.get("listed") == 1 and len(diff_lim.get("groups", [])) == 1 and
   diff_lim.get("changed_groups") == 2, "diff --limit 1 -- a b: options before positionals", diff_lim)

# --- 2. saved while attached, diffed against a later core of the process
f_a = os.path.join(d, "a.snap")
f_c = os.path.join(d, "c.snap")
r = batch(["-p", str(t.pid)], "snapshot a", "save a " + f_a)
ok(r.rc == 0 and os.path.exists(f_a), "save while attached", r)
ok(os.path.exists(f_a) and stat.S_IMODE(os.stat(f_a).st_mode) == 0o600, "the file has mode 0600")
with open(f_a, "rb") as f:
    data = f.read()
ok(b"\x89HDSNAP\n" == data[:8], "the file starts with the magic")
t.signal(signal.SIGUSR1)
ok(t.read_until("grew", 15) is not None, "round 2 done by the target, no heapdbg attached")
r = batch(["-p", str(t.pid)], "load " + f_a, "diff a", "snapshot c", "save c " + f_c)
is_(((r.cmd("diff") or {}).get("new", {}).get("chunks"), (r.cmd("diff") or {}).get("freed", {}).get("chunks")),
    (100, 50), "live: the loaded snapshot diffs exactly against the heap now")
if have("gcore"):
    subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
    core = os.path.join(d, "core.%d" % t.pid)
    r = batch(["-c", core], "load " + f_a, "diff a", "load " + f_c, "diff c", "diff a c")
    da, dc, dac = r.cmd("diff", 0) or {}, r.cmd("diff", 1) or {}, r.cmd("diff", 2) or {}
    is_((da.get("new"), da.get("freed")), ({"chunks": 100, "bytes": 20800}, {"chunks": 50, "bytes": 2400}),
        "core: the snapshot saved while attached diffs exactly against the later core")
    is_((dc.get("new", {}).get("chunks"), dc.get("freed", {}).get("chunks")), (0, 0),
        "core: the snapshot taken just before gcore equals the core")
    is_((dac.get("new"), dac.get("freed")), (da.get("new"), da.get("freed")), "core: diff of two loaded snapshots")
    r = batch(["-c", core], "snapshot k", "load " + f_c, "diff c k")
    dk = r.cmd("diff") or {}
    ok(r.rc == 0 and (r.cmd("snapshot") or {}).get("chunks", 0) > 0 and dk.get("new", {}).get("chunks") == 0 and
       dk.get("freed", {}).get("chunks") == 0, "core: a snapshot of the core equals the live one before gcore", r)
    os.unlink(core)
else:
    for n in range(4):
        skip("core comparison", "gcore not installed")

# --- 3. no target at all
r = batch([], "load " + f_a, "load " + f_c, "diff a c", "snapshots", "load " + f_a, "load %s mine" % f_a,
          "export pprof %s c" % os.path.join(d, "c.pb.gz"), "diff a")
ok(r.rc == 1, "no target: runs; only `diff a` (needs the heap now) fails", r)
dd = r.cmd("diff") or {}
is_((dd.get("new", {}).get("chunks"), dd.get("freed", {}).get("chunks")), (100, 50),
    "no target: two loaded files diff exactly")
is_([x["name"] for x in (r.cmd("snapshots") or {}).get("snapshots", [])], ["a", "c"], "no target: snapshots")
l3, l4 = r.cmd("load", 2) or {}, r.cmd("load", 3) or {}
ok(l3.get("name") not in ("a", "c") and l3.get("saved_name") == "a", "loading a name in use again picks a new name",
   l3)
is_(l4.get("name"), "mine", "load FILE NAME names it")
l1 = r.cmd("load") or {}
ok(l1.get("target") == "live" and l1.get("pid") == t.pid and (l1.get("exe") or "").endswith("/snapgrow"),
   "load: the snapshot's origin (target live, its pid and exe)", l1)
s_a = ([x for x in (r.cmd("snapshots") or {}).get("snapshots", []) if x.get("name") == "a"] or [{}])[0]
is_((s_a.get("target"), s_a.get("pid"), s_a.get("exe")), (l1.get("target"), l1.get("pid"), l1.get("exe")),
    "snapshots: the same origin for a loaded snapshot")
ok((r.cmd("export") or {}).get("samples", 0) > 0 and os.path.exists(os.path.join(d, "c.pb.gz")),
   "no target: a loaded snapshot exports")
ok("error" in (r.cmd("diff", 1) or {}) and "no target" in (r.cmd("diff", 1) or {}).get("error", ""),
   "no target: `diff A` says the heap now needs a target", r.cmd("diff", 1))

# snapshots are data: they outlive the target
f_d = os.path.join(d, "d.snap")
r = batch(["-p", str(t.pid)], "snapshot d", "detach", "snapshots", "save d " + f_d, "diff d d")
ok(r.rc == 0 and [x["name"] for x in (r.cmd("snapshots") or {}).get("snapshots", [])] == ["d"] and
   os.path.exists(f_d) and (r.cmd("diff") or {}).get("kept", {}).get("chunks") == (r.cmd("snapshot") or {}).get("chunks"),
   "after detach the snapshot is still there: listed, saved, diffed", r)

# --- 4. corrupted and foreign files
trunc = os.path.join(d, "trunc.snap")
flip = os.path.join(d, "flip.snap")
with open(trunc, "wb") as f:
    f.write(data[:len(data) // 2])
flipped = bytearray(data)
flipped[len(data) // 2] ^= 0x10
with open(flip, "wb") as f:
    f.write(bytes(flipped))
r = batch([], "load /etc/passwd", "load " + trunc, "load " + flip, "load /nonexistent/x.snap",
          "load " + os.path.join(d, "c.pb.gz"))
errs = [(r.cmd("load", i) or {}).get("error", "") for i in range(5)]
ok("not a heapdbg snapshot" in errs[0], "a foreign file: not a heapdbg snapshot", errs[0])
ok("truncated" in errs[1], "a truncated file: truncated", errs[1])
ok("corrupted" in errs[2] and "checksum" in errs[2], "a flipped bit: corrupted (checksum)", errs[2])
ok("No such file" in errs[3], "a missing file: no such file", errs[3])
ok("gzip" in errs[4], "a pprof export given to load: says it is gzip", errs[4])
is_(r.rc, 1, "failed loads make the exit status 1")
# a FIFO or a directory as a snapshot file: one line, never a hang
fifo = os.path.join(d, "fifo.snap")
os.mkfifo(fifo)
r = batch([], "load " + fifo, "load " + d, timeout=20)
errs = [(r.cmd("load", i) or {}).get("error", "") for i in range(2)]
ok("FIFO" in errs[0] and "not a regular file" in errs[0], "a FIFO given to load: one line, no hang", r)
ok("a directory" in errs[1], "a directory given to load: says so", errs[1])
os.unlink(fifo)

# --- 5. exports of the live heap
pb = os.path.join(d, "heap.pb.gz")
fo = os.path.join(d, "heap.folded")
r = batch(["-p", str(t.pid)], "export pprof " + pb, "export folded " + fo, "export pprof %s.b nosuch" % pb)
ex = r.cmd("export") or {}
ok( ex.get("samples", 0) > 0 and ex.get("format") == "pprof", "export pprof: written", r)
with open(pb, "rb") as f:
    ok(f.read(2) == b"\x1f\x8b", "the profile is gzip'd")
with open(fo) as f:
    folded = f.read().splitlines()
ok("[1008 B chunks] %d" % (300 * 1008) in folded, "folded: the 300 blocks of 1008 bytes on one line", folded[:5])
ok("error" in (r.cmd("export", 2) or {}), "export of an unknown snapshot fails")
go = shutil.which("go")
if go:
    home = tempfile.mkdtemp(dir=d)
    env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"), GOPATH=os.path.join(home, "gopath"),
               GOFLAGS="", GOTOOLCHAIN="local", PPROF_TMPDIR=home)
    p = subprocess.run([go, "tool", "pprof", "-top", pb], capture_output=True, text=True, env=env, timeout=300)
    lines = [l.split() for l in p.stdout.splitlines()]
    rows = [l for l in lines if len(l) >= 6 and l[1].endswith("%")]
    ok(p.returncode == 0 and rows and " ".join(rows[0][5:]) == "[1008 B chunks]",
       "go tool pprof -top: the top entry is the 1008-byte chunks", p.stdout + p.stderr)
    p = subprocess.run([go, "tool", "pprof", "-top", "-sample_index=inuse_objects", pb], capture_output=True,
                       text=True, env=env, timeout=300)
    rows = [l.split() for l in p.stdout.splitlines() if "[1008 B chunks]" in l]
    ok(rows and rows[0][0] == "300", "go tool pprof: 300 objects of 1008 bytes (inuse_objects)", p.stdout)
    p = subprocess.run([go, "tool", "pprof", "-top", "-base", os.path.join(d, "c.pb.gz"), pb], capture_output=True,
                       text=True, env=env, timeout=300)
    ok(p.returncode == 0 and "Showing nodes" in p.stdout, "go tool pprof -base reads two exports", p.stdout + p.stderr)
else:
    for n in range(3):
        skip("go tool pprof", "go is not installed (apt-get install golang-go)")
t.stop()

# --- 6. monitor
g = Target("snapgrow", args=["grow"])
r = batch(["-p", str(g.pid)], "monitor 0.2 3")
mons = [o for o in r.objs if o.get("cmd") == "monitor"]
m = mons[-1] if mons else {}
is_([o.get("sample") for o in mons[:-1]], [0, 1, 2, 3], "monitor: one JSON line per sample, then the summary")
ser = m.get("series", [])
ok(r.rc == 0 and len(ser) == 4 and m.get("reason") == "done", "monitor 0.2 3: the start and 3 samples", r)
ok(len(ser) == 4 and all(ser[i + 1]["in_use"]["bytes"] > ser[i]["in_use"]["bytes"] for i in range(3)),
   "monitor: heap in use grows sample by sample", [x.get("in_use") for x in ser])
ok(len(ser) == 4 and all(x["rss"] > 0 and x["t"] >= 0 for x in ser) and ser[-1]["t"] >= 0.6,
   "monitor: rss and times", ser)
ok(m.get("growth", {}).get("in_use_bytes", 0) > 0, "monitor: growth", m.get("growth"))
r = batch(["-p", str(g.pid)], "monitor 0.1 3", json_mode=False)
ok("Heap in use" in r.out and "RSS" in r.out and "|" in r.out and "+---" in r.out,
   "monitor (text): growth lines and plots", r.out)
# Ctrl-C: the series so far (not in batch mode, where Ctrl-C ends the
# run: the session goes on with the next command, then ends at EOF)
h = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(g.pid), "-ex", "monitor 0.2", "-ex", "info"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
h.send_signal(signal.SIGINT)
out, err = h.communicate(timeout=60)
objs = [json.loads(l) for l in out.splitlines() if l.strip()]
mon = [o for o in objs if o.get("cmd") == "monitor" and "samples" in o]
ok(mon and mon[0].get("reason") == "interrupted" and len(mon[0].get("series", [])) >= 2,
   "monitor: Ctrl-C ends it with the series so far", out + err)
ok(any(o.get("cmd") == "info" for o in objs), "the next command runs after Ctrl-C")
ok(g.tracer() == 0 and g.state() in ("S", "R"), "the target runs on untraced afterwards")
g.stop()
r = batch([], "monitor 1")
ok("error" in (r.cmd("monitor") or {}), "monitor without a target fails")
done()
