#!/usr/bin/env python3
# Stress and faults: the target is sacred, whatever happens to it or to
# heapdbg.
#
# 1. 40 attach/heap/check/leaks/detach cycles on a program whose 6
#    threads are in the allocator all the time, in arenas of their own
#    (heapdbg often stops one inside malloc with its arena locked), and 15
#    more while threads are created and destroyed all the time: every run
#    exits 0 with valid JSON, transient inconsistencies are findings; the
#    process is untraced with its entry points intact after every cycle,
#    and at the end it checks every block it holds and exits 0.
# 2. trace start / continue 0.2 / top / trace status / trace stop cycles
#    on the same kind of program, threads coming and going, also with the
#    stop-all single-step fallback: same guarantees.
# 3. The process dies under heapdbg: SIGKILL while heapdbg is idle in a
#    batch `continue`, while tracing (with the stop-all step too), in the
#    middle of a heap walk, of
#    trace start, of trace stop (HEAPDBG_TEST_PAUSE stops heapdbg at that
#    point), and between the commands of a session fed on stdin; it exits
#    by itself mid-trace; it is stopped inside exit().  heapdbg says so in
#    one line, exits with a documented status, does not hang, and the
#    process's parent can reap it (even while heapdbg lives on).
# 4. heapdbg itself gets SIGKILL: while merely attached (idle or in
#    `continue`) the kernel detaches and the process runs on unharmed;
#    while tracing with fast tracepoints (100 rounds, killed at different
#    moments), the agent finds heapdbg gone and passes every call
#    through: the process finishes its work, its own checks of every block
#    pass, it exits 0; with --breakpoints the process dies at its next
#    allocation (SIGTRAP, or SIGSEGV/SIGILL for a thread that was on a
#    breakpoint), as heapdbg(1) says under BUGS.
import os, re, resource, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
# the SIGTRAP death of part 4 must not leave a core file behind
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

ENTRY_NAMES = ("malloc", "free", "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc",
               "posix_memalign", "valloc", "pvalloc")


def pstate(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def wait_for(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Mix:
    """A stressmix process: where its entry points are and what their
    first bytes were before heapdbg ever touched it."""

    def __init__(self, *args):
        self.t = Target("stressmix", list(args))
        self.entry = self.t.values("entry")
        self.orig = self.entry_bytes()

    def entry_bytes(self):
        out = {}
        try:
            with open("/proc/%d/mem" % self.t.pid, "rb") as f:
                for name in ENTRY_NAMES:
                    f.seek(self.entry[name])
                    out[name] = f.read(16)
        except OSError:
            return None
        return out

    def finish(self, label):
        """SIGUSR1: the program checks everything and exits."""
        self.t.signal(signal.SIGUSR1)
        rc = self.t.wait(60)
        while self.t.readline(5):
            pass
        res = self.t.values("result") or {}
        ok(rc == 0 and res.get("errors") == 0, "%s: the program's own checks of every block pass, exit 0 (%s)" % (
            label, " ".join("%s=%s" % kv for kv in sorted(res.items()))), self.t.lines[-12:])
        ck = self.t.values("checksum") or {}
        ok(ck.get("held") is not None and ck.get("held") == ck.get("memory"),
           "%s: final checksum of the blocks held equals what was written" % label, ck)
        ok("entry ok" in self.t.lines, "%s: the program finds its allocator entry points as they were" % label,
           self.t.lines[-3:])
        return res


def json_clean(r, want_cmds):
    """Every stdout line is one JSON object, one per command, none failed."""
    cmds = [o.get("cmd") for o in r.objs]
    errs = [o for o in r.objs if "error" in o]
    return not r.bad_lines and cmds == list(want_cmds) and not errs


def cycles(m, n, cmds, label, env=None, per_cycle=None):
    """Run heapdbg -batch with cmds n times against m; one TAP line per
    property over all cycles."""
    bad_rc, bad_json, traced, patched, stopped = [], [], [], [], []
    results = []
    for i in range(n):
        r = batch(["-p", str(m.t.pid)], *cmds, env=env, timeout=120)
        results.append(r)
        if r.rc != 0:
            bad_rc.append((i, r.rc, r.err[-300:]))
        if not json_clean(r, [c.split()[0] for c in cmds]):
            bad_json.append((i, r.bad_lines[:2], [o for o in r.objs if "error" in o][:2]))
        if m.t.tracer() != 0:
            traced.append((i, m.t.tracer()))
        if m.entry_bytes() != m.orig:
            patched.append(i)
        if m.t.state() not in ("S", "R"):
            stopped.append((i, m.t.state()))
        if per_cycle:
            per_cycle(i, r)
    ok(not bad_rc, "%s: %d runs, every one exits 0 (none dies by a signal)" % (label, n), bad_rc[:3])
    ok(not bad_json, "%s: every run prints one valid JSON object per command, none an error" % label,
       bad_json[:3])
    ok(not traced, "%s: untraced after every run (TracerPid 0)" % label, traced[:3])
    ok(not patched, "%s: the allocator's entry points hold their original bytes after every run" % label,
       patched[:5])
    ok(not stopped, "%s: the program runs on after every run" % label, stopped[:3])
    return results


# ---- 1. attach / heap / check / leaks / detach cycles ------------------

def walk_stats(label):
    st = {"locked": 0, "error_runs": 0, "warning_runs": 0, "kinds": {}, "narenas": 0, "bad": []}

    def per_cycle(i, r):
        h, c, l = r.cmd("heap") or {}, r.cmd("check") or {}, r.cmd("leaks") or {}
        st["narenas"] = max(st["narenas"], h.get("narenas", 0))
        if any(a.get("locked") for a in h.get("arenas", [])):
            st["locked"] += 1
        f = c.get("findings")
        if not isinstance(f, list) or not all("kind" in x and x.get("severity") in ("error", "warning")
                                              for x in f):
            st["bad"].append((i, "check", c))
        elif f:
            for x in f:
                st["kinds"][x["kind"]] = st["kinds"].get(x["kind"], 0) + 1
            if any(x["severity"] == "error" for x in f):
                st["error_runs"] += 1
            else:
                st["warning_runs"] += 1
        if not all(isinstance(l.get(k, {}).get("blocks"), int) for k in ("definite", "indirect", "possible",
                                                                              "reachable")):
            st["bad"].append((i, "leaks", l))
        if not h.get("nchunks"):
            st["bad"].append((i, "heap", h.get("nchunks")))
    return st, per_cycle


m = Mix(6)
st, pc = walk_stats("busy")
cycles(m, 40, ["heap", "check", "leaks"], "busy, 40 cycles", per_cycle=pc)
ok(not st["bad"], "busy: every walk, check and leak report is complete", st["bad"][:3])
ok(st["narenas"] >= 7, "busy: the threads allocate in %d arenas" % st["narenas"])
diag("busy: %d of 40 cycles caught an arena locked (a thread inside malloc); findings in %d runs with "
     "errors, %d with warnings only: %s" % (st["locked"], st["error_runs"], st["warning_runs"], st["kinds"]))
m.finish("busy")

m = Mix(4, "spawn")
st, pc = walk_stats("spawn")
cycles(m, 15, ["heap", "check", "leaks", "bt all"], "threads coming and going, 15 cycles", per_cycle=pc)
ok(not st["bad"], "threads coming and going: every walk, check and leak report is complete", st["bad"][:3])
diag("threads coming and going: %d of 15 cycles caught an arena locked" % st["locked"])
res = m.finish("threads coming and going")
ok(res.get("spawned", 0) > 0, "threads coming and going: %s short-lived threads ran" % res.get("spawned"))

# ---- 2. trace cycles --------------------------------------------------

TRACE = ["trace start --fast", "continue 0.2", "top 5", "trace status", "trace stop"]
TRACE_BP = ["trace start"] + TRACE[1:]


def trace_stats():
    st = {"stops": 0, "events": 0, "bad": []}

    def per_cycle(i, r):
        s = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
        s = s[0] if s else {}
        last = r.objs[-1] if r.objs else {}
        top = r.cmd("top") or {}
        st["stops"] += s.get("stops", 0)
        st["events"] += sum(s.get("events", {}).values())
        if not s.get("active") or not sum(s.get("events", {}).values()) or last.get("active") is not False or \
           not isinstance(top.get("outstanding", {}).get("blocks"), int):
            st["bad"].append((i, s.get("active"), s.get("stops"), last, top.get("outstanding")))
    return st, per_cycle


m = Mix(6, "spawn")
st, pc = trace_stats()
cycles(m, 15, TRACE, "traced, 15 cycles", per_cycle=pc)
ok(not st["bad"], "traced: every cycle traced calls and stopped tracing cleanly", st["bad"][:3])
diag("traced: %d calls, %d stops in 15 x 0.2 s" % (st["events"], st["stops"]))
st, pc = trace_stats()
cycles(m, 6, TRACE_BP, "traced with breakpoints, 6 cycles", per_cycle=pc)
ok(not st["bad"], "traced with breakpoints: every cycle traced and stopped cleanly", st["bad"][:3])
st, pc = trace_stats()
cycles(m, 4, TRACE_BP, "traced with the stop-all step, 4 cycles", env={"HEAPDBG_TRACE_STEPALL": "1"}, per_cycle=pc)
ok(not st["bad"], "traced with the stop-all step: every cycle traced and stopped cleanly", st["bad"][:3])
m.finish("traced")

# ---- 3. the process dies under heapdbg --------------------------------


def start(args, env=None, stdin=None):
    return subprocess.Popen([HEAPDBG, "-q", "--json"] + args, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return Result("hang", out, err)
    return Result(p.returncode, out, err)


def said(r, pid, how):
    """Lines of stderr that announce the end ("process N killed by SIGKILL")."""
    return [l for l in r.err.splitlines() if re.match(r"heapdbg: process %d %s\b" % (pid, re.escape(how)), l)]


def died_cleanly(r, t, label, how="killed by SIGKILL", rc_ok=(0, 1)):
    ok(r.rc != "hang", "%s: heapdbg does not hang" % label, r)
    ok(r.rc in rc_ok, "%s: heapdbg exits with a documented status (%s)" % (label, r.rc), r)
    ok(not r.bad_lines, "%s: stdout is JSON only" % label, r.bad_lines[:3])
    errs = [o["error"] for o in r.objs if "error" in o]
    ok(all("process %d is gone" % t.pid in e or "is exiting" in e for e in errs),
       "%s: a command that cannot run says the process is gone" % label, errs)
    lines = said(r, t.pid, how)
    ok(len(lines) == 1, "%s: one line says so: %s" % (label, lines[0] if lines else None), r.err)
    rc = t.wait(10)
    is_(rc, -signal.SIGKILL if how == "killed by SIGKILL" else int(how.split()[-1]),
        "%s: its parent reaps it (nothing left traced)" % label)


# (a) idle in a batch `continue`
t = Target("stressmix", [4])
p = start(["-p", str(t.pid), "-batch", "-ex", "continue", "-ex", "info", "-ex", "heap"])
ok(wait_for(lambda: t.tracer() == p.pid and t.state() in ("S", "R")), "continue: heapdbg runs the process")
time.sleep(0.3)
t.signal(signal.SIGKILL)
r = finish(p)
c = r.cmd("continue") or {}
ok(c.get("reason") in ("exited", "gone") and c.get("signal") == "SIGKILL",
   "continue: ends, the process %s, killed by SIGKILL" % c.get("reason"), r)
if c.get("reason") == "exited":
    ok((r.cmd("info") or {}).get("state") == "at-exit" and r.rc == 0,
       "continue: later commands see it held at its exit", r)
else:
    ok(r.rc == 1, "continue: later commands fail: the process is gone", r)
died_cleanly(r, t, "continue")

# (b) tracing; and with the stop-all step, threads coming and going (a
# thread's death decoded inside the step once freed what the step still
# used: heapdbg aborted, its heap corrupted)
for label, args, env, how in (("tracing, fast", [4], None, "trace start --fast"),
                              ("tracing", [4], None, "trace start"),
                              ("tracing, stop-all step", [4, "spawn"], dict(os.environ, HEAPDBG_TRACE_STEPALL="1"),
                               "trace start")):
    for delay in (0.3, 0.9):
        t = Target("stressmix", args)
        p = start(["-p", str(t.pid), "-batch", "-ex", how, "-ex", "continue 60", "-ex", "trace status",
                   "-ex", "top 3", "-ex", "trace stop"], env=env)
        ok(wait_for(lambda: t.tracer() == p.pid and t.state() in ("S", "R")), "%s: heapdbg runs the process" % label)
        time.sleep(delay)
        t.signal(signal.SIGKILL)
        r = finish(p)
        c = r.cmd("continue") or {}
        ok(c.get("reason") in ("exited", "gone") and c.get("signal") == "SIGKILL",
           "%s: continue ends: killed" % label, r)
        died_cleanly(r, t, "%s, killed after %.1f s" % (label, delay))

# (c) in the middle of a heap walk, of trace start (before and after the
# scratch page is mapped: mapping it runs a system call in a thread), of
# trace stop
for point, prog, args, cmds in (
        ("walk", "bigheap", [3, 100000], ["heap", "check", "info"]),
        ("trace-scratch", "stressmix", [4], ["trace start", "info"]),
        ("trace-start", "stressmix", [4], ["trace start", "continue 0.3", "trace status"]),
        ("trace-stop", "stressmix", [4], ["trace start", "continue 0.3", "trace stop", "info"])):
    t = Target(prog, args, timeout=120)
    env = dict(os.environ, HEAPDBG_TEST_PAUSE=point)
    argv = ["-p", str(t.pid), "-batch"]
    for c in cmds:
        argv += ["-ex", c]
    p = start(argv, env=env)
    paused = wait_for(lambda: pstate(p.pid) == "T", 60)
    ok(paused, "%s: heapdbg stopped itself at the point" % point)
    t.signal(signal.SIGKILL)
    time.sleep(0.1)
    os.kill(p.pid, signal.SIGCONT)
    r = finish(p)
    died_cleanly(r, t, "killed mid-%s" % point)

# (d) between commands of a session fed on stdin, then detach while
# heapdbg lives on; plain, and with the kill during trace stop
for label, env, first in (("stdin session", None, ["heap"]),
                          ("stdin session, trace stop", dict(os.environ, HEAPDBG_TEST_PAUSE="trace-stop"),
                           ["trace start", "continue 0.2", "trace stop"])):
    t = Target("stressmix", [4])
    p = start(["-p", str(t.pid)], env=env, stdin=subprocess.PIPE)
    p.stdin.write("".join(c + "\n" for c in first))
    p.stdin.flush()
    if env:
        ok(wait_for(lambda: pstate(p.pid) == "T", 60), "%s: heapdbg stopped itself in trace stop" % label)
        t.signal(signal.SIGKILL)
        time.sleep(0.2)
        os.kill(p.pid, signal.SIGCONT)
        got = [p.stdout.readline() for _ in first]
    else:
        got = [p.stdout.readline() for _ in first]
        t.signal(signal.SIGKILL)
        time.sleep(0.2)
    ok(all(g.startswith("{") for g in got), "%s: the first commands ran" % label, got)
    p.stdin.write("info\n")
    p.stdin.flush()
    info = Result(0, p.stdout.readline(), "").objs
    info = info[0] if info else {}
    ok(info.get("state") == "at-exit" and info.get("exit") == "killed by SIGKILL" or
       "is gone (killed by SIGKILL)" in info.get("error", ""),
       "%s: the next command knows it was killed (%s)" % (label, info.get("state") or info.get("error")), info)
    p.stdin.write("detach\n")
    p.stdin.flush()
    p.stdout.readline()
    reaped = t.wait(10)
    ok(reaped == -signal.SIGKILL and p.poll() is None,
       "%s: after detach its parent reaps it while heapdbg lives on (%s)" % (label, reaped))
    p.stdin.close()
    p.stdin = None
    r = finish(p)
    ok(r.rc in (0, 1), "%s: heapdbg ends at end of input, status %s" % (label, r.rc), r)
    lines = said(r, t.pid, "killed by SIGKILL")
    ok(len(lines) == 1, "%s: one line says so: %s" % (label, lines[0] if lines else None), r.err)

# (e) the process exits by itself in the middle of a traced continue,
# its threads still allocating
t = Target("stressmix", [4, "exit=3000:7"])
r = batch(["-p", str(t.pid)], "trace start", "continue 60", "trace status", "top 3", "heap", "check", timeout=120)
c = r.cmd("continue") or {}
ok(c.get("reason") == "exited" and c.get("exit_code") == 7, "exit mid-trace: continue ends at its exit, status 7", r)
ok(json_clean(r, ["trace", "continue", "trace", "top", "heap", "check"]) and r.rc == 0,
   "exit mid-trace: trace status, top, heap and check see its final state; exit 0", r)
ok(len(said(r, t.pid, "exited with status 7")) == 1, "exit mid-trace: one line says how it ended", r.err)
is_(t.wait(30), 7, "exit mid-trace: it finishes with its own status")

# (f) stopped inside exit(): an atexit handler allocates, the workers run
t = Target("stressmix", [4, "exitslow=100:5"])
ok(t.read_until("exiting", 30), "inside exit: the program is in exit()")
p = start(["-p", str(t.pid), "-batch", "-ex", "heap", "-ex", "bt", "-ex", "check", "-ex", "continue 60", "-ex",
           "heap", "-ex", "check"])
first = p.stdout.readline()
t.signal(signal.SIGUSR1)    # queued while held; ends the atexit handler once running
r = finish(p)
r = Result(r.rc, first + r.out, r.err)
bt = r.cmd("bt") or {}
frames = [norm_func(f.get("func")) for th in bt.get("threads", []) for f in th.get("frames", [])]
ok("slow_atexit" in frames and "exit" in frames, "inside exit: heapdbg stopped it inside exit()", frames[:12])
c = r.cmd("continue") or {}
ok(c.get("reason") == "exited" and c.get("exit_code") == 5, "inside exit: continue runs it to its exit, status 5", r)
ok(json_clean(r, ["heap", "bt", "check", "continue", "heap", "check"]) and r.rc == 0,
   "inside exit: every command works, exit 0", r)
is_(t.wait(30), 5, "inside exit: it finishes with its own status")

# ---- 4. heapdbg gets SIGKILL ------------------------------------------

for label, cmds in (("idle", ["heap"]), ("in continue", ["info", "continue"])):
    m = Mix(4)
    p = start(["-p", str(m.t.pid)], stdin=subprocess.PIPE)
    p.stdin.write("".join(c + "\n" for c in cmds))
    p.stdin.flush()
    p.stdout.readline()
    if label == "idle":
        ok(m.t.tracer() == p.pid and m.t.state() == "t", "SIGKILL %s: the process is held stopped" % label)
    else:
        ok(wait_for(lambda: m.t.state() in ("S", "R")) and m.t.tracer() == p.pid,
           "SIGKILL %s: the process runs, traced" % label)
    p.kill()
    p.wait()
    ok(wait_for(lambda: m.t.tracer() == 0 and m.t.state() in ("S", "R"), 10),
       "SIGKILL of heapdbg %s: the kernel detaches, the process runs on (%s)" % (label, m.t.state()))
    time.sleep(0.3)
    ok(m.entry_bytes() == m.orig, "SIGKILL of heapdbg %s: no byte of the program changed" % label)
    m.finish("SIGKILL of heapdbg %s" % label)

# while tracing with fast tracepoints: the program goes on
ROUNDS = int(os.environ.get("HEAPDBG_STRESS_KILL_ROUNDS", "100"))
bad, ran = [], 0
for i in range(ROUNDS):
    t = Target("stressmix", [4, "patched-ok"] + (["spawn"] if i % 4 == 3 else []))
    p = start(["-p", str(t.pid)], stdin=subprocess.PIPE)
    p.stdin.write("trace start --fast\ncontinue\n")
    p.stdin.flush()
    first = p.stdout.readline()
    if '"fast":' not in first or not wait_for(lambda: t.state() in ("S", "R") and t.tracer() == p.pid, 30):
        bad.append((i, "not traced", first))
    time.sleep(0.05 + (i % 7) * 0.07)
    p.kill()
    p.wait()
    t.signal(signal.SIGUSR1)
    rc = t.wait(60)
    while t.readline(2):
        pass
    res = t.values("result") or {}
    ck = t.values("checksum") or {}
    ran += res.get("ops", 0)
    if rc != 0 or res.get("errors") != 0 or ck.get("held") is None or ck.get("held") != ck.get("memory"):
        bad.append((i, rc, res, ck, t.lines[-4:]))
ok(not bad, "SIGKILL while fast-tracing, %d rounds: every time the program finishes its work, its checks of "
   "every block pass, it exits 0 (%d operations)" % (ROUNDS, ran), bad[:3])

# while tracing with breakpoints: the limitation heapdbg(1) documents under BUGS
t = Target("stressmix", [4])
p = start(["-p", str(t.pid)], stdin=subprocess.PIPE)
p.stdin.write("trace start --breakpoints\ncontinue\n")
p.stdin.flush()
p.stdout.readline()
ok(wait_for(lambda: t.state() in ("S", "R")), "SIGKILL while tracing with breakpoints: the program runs traced")
time.sleep(0.3)
p.kill()
p.wait()
rc = t.wait(30)
ok(rc in (-signal.SIGTRAP, -signal.SIGSEGV, -signal.SIGILL),
   "SIGKILL while tracing with breakpoints: the program dies at its next allocation (%s), as heapdbg(1) "
   "documents" % (
       signal.Signals(-rc).name if rc and rc < 0 else rc))
done()
