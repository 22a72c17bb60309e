#!/usr/bin/env python3
# Allocation tracing.  A 4-thread program churning through every entry
# point, traced from the middle of its run: every entry point's count
# equals the program's own, `top` reports exactly the blocks and requested
# bytes it still holds -- with fast tracepoints (no stop at all), and with
# breakpoints (--breakpoints: at most 2 stops per allocation and 1 per
# free) with out-of-line execution and with the stop-all single-step
# fallback.
# Forks, vforks, spawns, exec, threads and signals under trace; heapdbg
# killed by SIGTERM/SIGINT/SIGHUP mid-trace (the program finishes its work
# and no breakpoint is left); launch mode traced from the start gives
# valgrind's leak report at exit, bytes included, with allocation sites.
import os, re, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()


def churn_check(label, env=None, iterations=20000, stepall=False, target_env=None, heapcheck=True,
                start="trace start"):
    t = Target("churn", [iterations], env=target_env)
    r = batch(["-p", str(t.pid)], start, "continue 300", "trace status", "top 1000",
              *(["check"] if heapcheck else []), env=env, timeout=400)
    calls = None
    for line in t.lines + [t.readline(10) or "", t.readline(5) or ""]:
        if line.startswith("calls"):
            calls = parse_kv(line[len("calls"):])
    held = t.values("held")
    st = r.cmd("trace") if r.cmd("trace") and "events" in r.cmd("trace") else None
    sts = [o for o in r.objs if o.get("cmd") == "trace" and "events" in o]
    st = sts[0] if sts else {}
    ev = st.get("events", {})
    ok(r.rc == 0 and (r.cmd("continue") or {}).get("reason") == "exited", "%s: traced to its exit" % label, r)
    ok(calls is not None and held is not None, "%s: the program reported its counts" % label, t.lines[-5:])
    if calls is None or held is None:
        return
    for f in ("malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "valloc", "pvalloc"):
        is_(ev.get(f), calls[f], "%s: %s calls" % (label, f))
    # glibc 2.36 aliases aligned_alloc to memalign: one breakpoint
    is_(ev.get("memalign", 0) + ev.get("aligned_alloc", 0), calls["memalign"] + calls["aligned_alloc"],
        "%s: memalign + aligned_alloc calls" % label)
    top = r.cmd("top") or {}
    out = top.get("outstanding", {})
    is_((out.get("blocks"), out.get("bytes")), (held["blocks"], held["bytes"]),
        "%s: top reports exactly the blocks and bytes the program holds" % label)
    allocs = sum(ev.get(f, 0) for f in ev if f not in ("free", "cfree"))
    # without out-of-line copies (the stop-all fallback) glibc's inner calls
    # cost their own stops: realloc(NULL) -> malloc, realloc(p, 0) -> free
    extra = st.get("nested", 0) if stepall else 0
    ok(st.get("stops", 10 ** 9) <= 2 * allocs + ev.get("free", 0) + extra,
       "%s: %d stops for %d allocations and %d frees (at most 2 and 1%s)" % (
           label, st.get("stops", -1), allocs, ev.get("free", 0), ", plus inner calls" if stepall else ""))
    ok(all(g.get("stack", {}).get("frames") for g in top.get("groups", [])), "%s: every group has a stack" % label)
    ok(any(any(f.get("func") == "worker" and f.get("line") for f in g["stack"]["frames"])
           for g in top.get("groups", [])), "%s: stacks name the allocating function with file:line" % label)
    if heapcheck:
        ok((r.cmd("check") or {}).get("ok") is True, "%s: the heap is consistent at exit" % label)
    # every entry point, blocks split, grown and shrunk in place, aligned:
    # no block's header may look damaged to the free's check
    is_(st.get("memory_errors"), 0, "%s: no memory error reported on a sound program" % label)
    unw = st.get("unwind", {})
    ok(unw.get("fast", 0) > 0 and unw.get("mismatches", 0) == 0,
       "%s: stacks unwound by the cached CFI rules (%s)" % (label, unw))
    return st


st = churn_check("fast", start="trace start --fast")
ok(st and st.get("fast", 0) >= 9 and st.get("breakpoints") == 0 and st.get("stops") == 0,
   "fast: every entry point is a fast tracepoint, no stop (%s fast, %s stops)" % (
       st and st.get("fast"), st and st.get("stops")))
ok(st and st.get("ring", {}).get("lost") == 0, "fast: no event lost (%s)" % (st and st.get("ring")))
st = churn_check("out of line", start="trace start --breakpoints")
diag("stops %s, nested %s" % (st and st.get("stops"), st and st.get("nested")))
# entry points that start with endbr64 (glibc built for CET): the thread
# resumes behind the int3, no register written; every stack checked
# against libunwind
st = churn_check("endbr64 in place", iterations=5000, heapcheck=False,
                 target_env={"LD_PRELOAD": os.path.join(TARGETS, "libcetwrap.so")},
                 env={"HEAPDBG_UNWIND_VERIFY": "1"}, start="trace start --breakpoints")
ok(st and st.get("in_place", 0) > 0, "endbr64 in place: stops resumed in place (%s)" % (st and st.get("in_place")))
st = churn_check("stop-all step", env={"HEAPDBG_TRACE_STEPALL": "1"}, iterations=2000, stepall=True,
                 start="trace start --breakpoints")
# the fast path on the CET build: jumps over endbr64, stacks checked
# against libunwind (every stack unwound by heapdbg from a copy)
churn_check("fast, endbr64", iterations=5000, heapcheck=False, start="trace start --fast",
            target_env={"LD_PRELOAD": os.path.join(TARGETS, "libcetwrap.so")}, env={"HEAPDBG_UNWIND_VERIFY": "1"})
ok(st and st.get("stepall", 0) > 0, "stop-all step: the fallback was used (%s)" % (st and st.get("stepall")))

# lifecycle under trace
t = Target("lifecycle")
r = batch(["-p", str(t.pid)], "trace start", "continue 60", "trace status", timeout=120)
time.sleep(0.2)
while t.readline(2):
    pass
vals = {}
for line in t.lines:
    for k in ("threads ok", "signals", "fork", "vfork", "spawn", "after-exec"):
        if line.startswith(k):
            vals[k] = line
is_(vals.get("threads ok"), "threads ok 3", "threads created and joined under trace")
is_(vals.get("signals"), "signals usr1=3 trap=1", "signals (and the program's own SIGTRAP) passed on")
is_(vals.get("fork"), "fork status=42", "a forked child allocates without a trap left in it")
is_(vals.get("vfork"), "vfork status=0", "a vfork child execs")
is_(vals.get("spawn"), "spawn status=0", "posix_spawn")
ok(vals.get("after-exec", "").startswith("after-exec ok") and "0xcc" not in vals.get("after-exec", "") and
   "0xe9" not in vals.get("after-exec", ""), "exec: the new image has no breakpoint or jump", vals.get("after-exec"))
sts = [o for o in r.objs if o.get("cmd") == "trace" and "events" in o]
ok(sts and sts[0].get("active") is False and "exec" in sts[0].get("end_reason", ""),
   "exec ends tracing with a message", sts)
is_((r.cmd("continue") or {}).get("exit_code"), 0, "the program exits 0")

# heapdbg killed mid-trace: the program finishes correctly, no trap left
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    # (long enough to be still traced after a second: fast-traced churn
    # makes about a million calls a second)
    t = Target("churn", [1000000])
    p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(t.pid), "-ex", "trace start", "-ex", "continue"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    name = signal.Signals(sig).name
    if sig == signal.SIGINT:
        # Ctrl-C interrupts continue; stdin is at EOF, so heapdbg ends
        ok(p.returncode == 0, "%s: continue interrupted, heapdbg ends normally" % name, err)
    else:
        is_(p.returncode, -sig, "%s: heapdbg restores and dies by the signal" % name)
    rc = t.wait(120)
    lines = t.lines[:]
    while True:
        l = t.readline(2)
        if not l:
            break
    is_(rc, 0, "%s: the program finishes its work" % name)
    mb = [l for l in t.lines if l.startswith("malloc-intact=")]
    is_(mb, ["malloc-intact=1"], "%s: no patch left in the program" % name)

# stdout closed mid-trace (SIGPIPE ignored, EPIPE): heapdbg cleans up when
# its next output fails
t = Target("churn", [1000000])
p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(t.pid), "-batch", "-ex", "trace start", "-ex",
                      "continue 0.5", "-ex", "trace status", "-ex", "top"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
first = p.stdout.readline()
ok(b'"trace"' in first, "stdout closed: tracing was on", first)
p.stdout.close()
p.wait(60)
ok(p.returncode is not None, "stdout closed: heapdbg ended")
rc = t.wait(120)
while t.readline(2):
    pass
is_(rc, 0, "stdout closed: the program finishes its work")
mb = [l for l in t.lines if l.startswith("malloc-intact=")]
is_(mb, ["malloc-intact=1"], "stdout closed: no patch left")

# launch mode, traced from the start: valgrind's report at exit
if have("valgrind") and not SANITIZERS:
    prog = os.path.join(TARGETS, "leaky")
    v = subprocess.run(["valgrind", "--leak-check=full", prog, "exit"], capture_output=True, text=True, timeout=300)
    vg = {}
    for kind, label in (("definite", "definitely lost"), ("indirect", "indirectly lost"),
                        ("possible", "possibly lost"), ("reachable", "still reachable")):
        m = re.search(label + r": ([\d,]+) bytes in ([\d,]+) blocks", v.stderr)
        vg[kind] = (int(m.group(2).replace(",", "")), int(m.group(1).replace(",", ""))) if m else None
    r = run(["-batch", "-ex", "trace start", "-ex", "continue", "-ex", "leaks", "--args", prog, "exit"])
    l = r.cmd("leaks") or {}
    got = {k: (l.get(k, {}).get("blocks"), l.get(k, {}).get("bytes")) for k in vg}
    is_(got, vg, "--args traced from the start: blocks and bytes equal valgrind's in every category")
    recs = [x for x in l.get("records", []) if x["kind"] == "definite"]
    ok(recs and all(any(f.get("file", "").endswith("leaky.c") and f.get("line") for f in x["stack"]["frames"])
                    for x in recs), "every definite record carries the allocating function and file:line", recs[:1])
else:
    skip("valgrind's report at exit", "valgrind unavailable or sanitizer build")
    skip("records with allocation sites", "valgrind unavailable or sanitizer build")
done()
