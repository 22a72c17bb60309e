#!/usr/bin/env python3
# Fast tracepoints: the hard cases.
#  - the same program traced both ways gives the same stacks for the
#    same calls (the agent's unwinds against heapdbg's cached CFI rules
#    and the breakpoint tracer's);
#  - fork children (never counted, never left with a jump), vfork
#    children (they run on the parent's stack: its calls pass through),
#    vfork + exec, threads that start and end during the trace;
#  - signal handlers that allocate while their thread is inside the
#    collector (reentrancy);
#  - `trace stop` while threads are inside malloc called from a pad:
#    the pages go once none can return into them, or stay (and say so)
#    while one may; the program goes on unharmed either way;
#  - entry points that cannot take a jump (a branch target among the
#    first bytes, a 2-byte function) fall back to breakpoints, and
#    `trace status` says so;
#  - heapdbg stopped (SIGSTOP) while the ring fills, then SIGKILLed: the
#    waiting threads find it gone and the program finishes its work;
#  - a static program and a stripped one: exact counts and top;
#  - which tracer `trace start` uses (set tracer, HEAPDBG_TRACER), and
#    the fall back to breakpoints when the agent cannot be set up.
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()


def status_of(r):
    sts = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
    return sts[0] if sts else {}


def drain(t):
    while t.readline(3):
        pass


def maps_of(pid):
    """The set of (range, perms, name) of a process's executable mappings
    and of any heapdbg's memfd is in (new threads' stacks and arenas
    come and go: not these)."""
    out = set()
    with open("/proc/%d/maps" % pid) as f:
        for l in f:
            x = l.split()
            name = x[5] if len(x) > 5 else ""
            if "x" in x[1] or "heapdbg" in name:
                out.add((x[0], x[1], name))
    return out


def chains(top):
    """Each group as (its stack's function chain, blocks, bytes)."""
    out = []
    for g in top.get("groups", []):
        fr = tuple((norm_func(f.get("func")), f.get("line")) for f in g.get("stack", {}).get("frames", []))
        out.append((fr, g.get("blocks"), g.get("bytes")))
    return sorted(out, key=repr)


# ---- the same stacks both ways -------------------------------------------
got = {}
for mode, start in (("fast", "trace start --fast"), ("breakpoints", "trace start --breakpoints")):
    t = Target("churn", [4000])
    r = batch(["-p", str(t.pid)], start, "continue 120", "trace status", "top 1000", timeout=300)
    drain(t)
    st = status_of(r)
    got[mode] = (chains(r.cmd("top") or {}), st)
    ok(r.rc == 0 and st.get("fast" if mode == "fast" else "breakpoints", 0) >= 9,
       "same stacks: churn traced with %s" % mode, r)
fast, bps = got["fast"][0], got["breakpoints"][0]
ok(fast and fast == bps, "same stacks: both ways give the same stacks, blocks and bytes (%d groups)" % len(fast),
   [x for x in fast if x not in bps][:3] + ["vs"] + [x for x in bps if x not in fast][:3])
ok(got["fast"][1].get("unwind", {}).get("agent_unwinds", 0) > 0,
   "same stacks: the agent unwound stacks itself with the published rules (%s)" % got["fast"][1].get("unwind"))
ok(got["fast"][1].get("unwind", {}).get("stack_ids", 0) > got["fast"][1].get("unwind", {}).get("agent_unwinds", 0) / 2,
   "same stacks: most of them were sent as a known stack's id (%s)" % got["fast"][1].get("unwind"))

# ---- forks, vforks, exec, threads --------------------------------------
t = Target("forkmix", [20])
r = batch(["-p", str(t.pid)], "trace start --fast", "continue 120", "trace status", "top 100", timeout=300)
drain(t)
calls, kids, held = t.values("calls") or {}, t.values("children") or {}, t.values("held") or {}
st = status_of(r)
ev = st.get("events", {})
ok(r.rc == 0 and (r.cmd("continue") or {}).get("reason") == "exited", "forkmix: traced to its exit", r)
is_(kids, {"ok": 60, "bad": 0}, "forkmix: every fork child, vfork child and vfork+exec child ended well")
is_(ev.get("malloc"), calls.get("malloc"), "forkmix: malloc calls are the parent's only (no child's)")
is_(ev.get("free", 0) - st.get("untracked_frees", 0) - st.get("unseen_frees", 0), calls.get("free"),
    "forkmix: frees of traced blocks are the parent's only")
# (glibc's own callocs for new threads' TLS are traced too: count the
# program's blocks by their stack)
kept = [g for g in (r.cmd("top") or {}).get("groups", [])
        if any(norm_func(f.get("func")) == "thread_main" for f in g.get("stack", {}).get("frames", []))]
is_((sum(g["blocks"] for g in kept), sum(g["bytes"] for g in kept)), (held.get("blocks"), held.get("bytes")),
    "forkmix: top's blocks allocated in thread_main are those the threads kept")
ok(st.get("ring", {}).get("hellos", 0) >= 57, "forkmix: threads started and ended under trace (%s asked for "
   "their stack)" % st.get("ring", {}).get("hellos"))

# ---- signal handlers allocating inside the collector -------------------
t = Target("sigalloc", [20000])
r = batch(["-p", str(t.pid)], "trace start --fast", "continue 120", "trace status", timeout=300)
drain(t)
calls, sig = t.values("calls") or {}, t.values("signals") or {}
st = status_of(r)
ev = st.get("events", {})
ok(r.rc == 0 and (r.cmd("continue") or {}).get("exit_code") == 0, "sigalloc: traced to its exit, status 0", r)
ok(sig.get("in_code_page", 0) > 0,
   "sigalloc: %s handlers ran while their thread was in heapdbg's code page, and allocated" %
   sig.get("in_code_page"), sig)
is_((ev.get("malloc"), ev.get("free", 0) - st.get("untracked_frees", 0) - st.get("unseen_frees", 0)),
    (calls.get("malloc"), calls.get("free")),
    "sigalloc: every malloc and free, the handlers' included, is in the trace")
is_(st.get("ring", {}).get("lost"), 0, "sigalloc: no event lost")

# A handler that allocates while its thread writes its first event (the
# HELLO that asks heapdbg for its stack): its stack is not known yet and
# heapdbg cannot answer past the uncommitted HELLO.  The agent's test hook
# sends the thread SIGUSR1 inside that reservation, every time.  Before:
# the handler's malloc waited for an answer forever (the hang seen once
# in a suite run under HEAPDBG_TRACER=fast), later it was dropped, counted
# lost; now it is kept, without a stack.
t = Target("sigalloc", [200])
r = batch(["-p", str(t.pid)], "trace start --fast", "continue 120", "trace status", timeout=300,
          env={"HEAPDBG_TEST_HELLO_SIGNAL": str(int(signal.SIGUSR1))})
drain(t)
calls, sig = t.values("calls") or {}, t.values("signals") or {}
st = status_of(r)
ev = st.get("events", {})
ok(r.rc == 0 and (r.cmd("continue") or {}).get("exit_code") == 0,
   "sigalloc in a HELLO: traced to its exit, status 0", r)
ok(st.get("ring", {}).get("hellos", 0) >= 2 and sig.get("in_code_page", 0) >= 2,
   "sigalloc in a HELLO: both workers' handlers ran inside their HELLO (%s hellos, %s handlers in the code page)" %
   (st.get("ring", {}).get("hellos"), sig.get("in_code_page")), sig)
is_((ev.get("malloc"), ev.get("free", 0) - st.get("untracked_frees", 0) - st.get("unseen_frees", 0)),
    (calls.get("malloc"), calls.get("free")),
    "sigalloc in a HELLO: every malloc and free, the handlers' included, is in the trace")
is_(st.get("ring", {}).get("lost"), 0, "sigalloc in a HELLO: no event lost")

# ---- trace stop with threads inside malloc called from a pad ------------
lib = os.path.join(TARGETS, "libslowmalloc.so")
for ms, mapped in ((20, False), (3000, True)):
    t = Target("pairs", [3, 1000000000], env={"LD_PRELOAD": lib, "SLOWMALLOC_MS": str(ms)})
    before = maps_of(t.pid)
    r = batch(["-p", str(t.pid)], "trace start --fast", "continue 0.5", "trace stop", "trace status", "info",
              timeout=120)
    stop = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "stop"]
    stop = stop[0] if stop else {}
    after = maps_of(t.pid)
    entries = status_of(r).get("entries", [])
    if not mapped:
        is_(sorted(after - before), [], "slow malloc %d ms: no mapping heapdbg made is left (code page, ring)" % ms)
    else:
        ok(any("x" in m[1] and not m[2] for m in after - before),
           "slow malloc %d ms: the code page is there, as trace stop said" % ms, sorted(after - before))
    # every entry point's first bytes as in the file it was loaded from
    # (libslowmalloc.so's malloc, libc's others)
    maps = [l.split() for l in open("/proc/%d/maps" % t.pid)]
    changed = []
    with open("/proc/%d/mem" % t.pid, "rb") as mem:
        for e in entries:
            a = int(e["addr"], 16)
            m = [x for x in maps if len(x) > 5 and int(x[0].split("-")[0], 16) <= a < int(x[0].split("-")[1], 16)]
            if not m:
                changed.append((e["name"], "no file"))
                continue
            mem.seek(a)
            now = mem.read(16)
            with open(m[0][5], "rb") as f:
                f.seek(a - int(m[0][0].split("-")[0], 16) + int(m[0][2], 16))
                if now != f.read(16):
                    changed.append(e["name"])
    is_(changed, [], "slow malloc %d ms: every entry point's first 16 bytes are libc's own again" % ms)
    ok(r.rc == 0 and stop.get("active") is False, "slow malloc %d ms: trace stop succeeds" % ms, r)
    is_(stop.get("pages_mapped"), mapped, "slow malloc %d ms: the code page is %s" % (
        ms, "left mapped while a thread may return into it" if mapped else "unmapped once no thread can return"))
    time.sleep(0.5 + ms / 1000.0)
    ok(t.state() in ("S", "R") and t.tracer() == 0, "slow malloc %d ms: the program runs on untraced" % ms)
    t.signal(signal.SIGKILL)
    t.wait(10)

# ---- entry points that fall back to breakpoints ------------------------
t = Target("churn", [3000], env={"LD_PRELOAD": os.path.join(TARGETS, "libshortentry.so")})
r = batch(["-p", str(t.pid)], "trace start --fast", "continue 120", "trace status", "top 1000", timeout=300)
drain(t)
calls, held = t.values("calls") or {}, t.values("held") or {}
st = status_of(r)
ev = st.get("events", {})
modes = {e["name"]: e for e in st.get("entries", [])}
ok(modes.get("malloc", {}).get("mode") == "breakpoint" and "branch" in modes["malloc"].get("why", ""),
   "fallback: malloc, whose first bytes hold a branch target, is a breakpoint (%s)" % modes.get("malloc"))
ok(modes.get("free", {}).get("mode") == "breakpoint" and "shorter" in modes["free"].get("why", ""),
   "fallback: free, a 2-byte function, is a breakpoint (%s)" % modes.get("free"))
ok(modes.get("calloc", {}).get("mode") == "fast", "fallback: glibc's calloc is a fast tracepoint")
for f in ("malloc", "calloc", "reallocarray", "free", "posix_memalign", "valloc", "pvalloc"):
    is_(ev.get(f), calls.get(f), "fallback: %s calls" % f)
# (libshortentry's free(p) is a call of realloc(p, 0) through the PLT,
# after free returned nothing to nest it under: counted as a call of its
# own, as the breakpoint tracer counts it; its malloc's realloc(NULL, n)
# runs inside the traced malloc and is counted once, as malloc)
is_(ev.get("realloc"), calls.get("realloc", 0) + calls.get("free", 0),
    "fallback: realloc calls, the program's and libshortentry's free's")
out = (r.cmd("top") or {}).get("outstanding", {})
is_((out.get("blocks"), out.get("bytes")), (held.get("blocks"), held.get("bytes")),
    "fallback: top reports exactly the blocks and bytes the program holds")

# ---- heapdbg stopped, the ring full, then SIGKILLed ----------------------
t = Target("pairs", [4, 20000000])
p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(t.pid), "-ex", "trace start --fast", "-ex", "continue"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
end = time.time() + 30
while time.time() < end and t.tracer() != p.pid:
    time.sleep(0.05)
time.sleep(0.5)
os.kill(p.pid, signal.SIGSTOP)
time.sleep(1.0)   # the ring fills; the threads wait for heapdbg
p.kill()
p.wait()
rc = t.wait(120)
drain(t)
res = ([parse_kv(" " + l) for l in t.lines if l.startswith("pairs=")] or [{}])[0]
is_(rc, 0, "SIGKILL while the ring was full: the program finishes its work and exits 0")
ok(res.get("pairs") == 80000000, "SIGKILL while the ring was full: every pair was made (%s)" % res.get("pairs"))
# ---- a static program, a stripped one -----------------------------------
for prog in ("churn-static", "churn-stripped"):
    t = Target(prog, [3000])
    r = batch(["-p", str(t.pid)], "trace start --fast", "continue 120", "trace status", "top 1000", timeout=300)
    drain(t)
    calls, held = t.values("calls") or {}, t.values("held") or {}
    st = status_of(r)
    ev = st.get("events", {})
    ok(r.rc == 0 and st.get("fast", 0) >= 9 and st.get("breakpoints") == 0 and st.get("stops") == 0,
       "%s: every entry point is a fast tracepoint, no stop" % prog, st.get("entries"))
    # (aligned_alloc is memalign in glibc: one entry point, counted there)
    is_([ev.get(f) for f in ("malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "valloc",
                             "pvalloc")] + [ev.get("memalign")],
        [calls.get(f) for f in ("malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "valloc",
                                "pvalloc")] + [calls.get("memalign", 0) + calls.get("aligned_alloc", 0)],
        "%s: every entry point's count is the program's" % prog)
    out = (r.cmd("top") or {}).get("outstanding", {})
    is_((out.get("blocks"), out.get("bytes")), (held.get("blocks"), held.get("bytes")),
        "%s: top reports exactly the blocks and bytes the program holds" % prog)
    is_(st.get("ring", {}).get("lost"), 0, "%s: no event lost" % prog)

# ---- which tracer `trace start` uses ----------------------------------
# fast tracepoints by default; `set tracer breakpoints`,
# HEAPDBG_TRACER=breakpoints make breakpoints the default; the options win
# over both
for label, pre, env, opt, want_fast in (
        ("default", [], {"HEAPDBG_TRACER": ""}, "", True),
        ("HEAPDBG_TRACER=fast", [], {"HEAPDBG_TRACER": "fast"}, "", True),
        ("set tracer breakpoints", ["set tracer breakpoints"], {"HEAPDBG_TRACER": ""}, "", False),
        ("HEAPDBG_TRACER=breakpoints", [], {"HEAPDBG_TRACER": "breakpoints"}, "", False),
        ("HEAPDBG_TRACER=breakpoints, --fast", [], {"HEAPDBG_TRACER": "breakpoints"}, " --fast", True),
        ("set tracer fast over HEAPDBG_TRACER=breakpoints", ["set tracer fast"],
         {"HEAPDBG_TRACER": "breakpoints"}, "", True),
        ("--breakpoints", [], {"HEAPDBG_TRACER": ""}, " --breakpoints", False)):
    t = Target("churn", [1000])
    r = batch(["-p", str(t.pid)], *pre, "trace start" + opt, "continue 60", env=env, timeout=120)
    drain(t)
    st = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "start"]
    st = st[0] if st else {}
    ok(r.rc == 0 and (st.get("fast", 0) >= 9) == want_fast and (st.get("breakpoints", 0) >= 9) != want_fast,
       "tracer choice, %s: %s" % (label, "fast tracepoints" if want_fast else "breakpoints"), st)
# the agent cannot be set up at all (a seccomp filter refuses the
# injected memfd_create): every entry point falls back to a breakpoint,
# trace start and trace status say why, and the trace is whole
t = Target("nomemfd", [2000, 10])
r = batch(["-p", str(t.pid)], "trace start", "continue 60", "trace status", env={"HEAPDBG_TRACER": ""},
          timeout=120)
drain(t)
t.wait(30)
st0 = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "start"]
st0 = st0[0] if st0 else {}
st = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
st = st[0] if st else {}
ok(st0.get("fast") == 0 and st0.get("breakpoints", 0) >= 9 and "memfd_create" in (st0.get("fast_error") or ""),
   "no memfd in the target: trace start falls back to breakpoints and says why", st0)
ents = st.get("entries") or []
ok(ents and all(e.get("mode") == "breakpoint" and "memfd_create" in (e.get("why") or "") for e in ents),
   "no memfd: trace status gives every entry point's mode, breakpoint, and why", ents)
is_(((st.get("events") or {}).get("malloc"), (st.get("events") or {}).get("free"), st.get("outstanding")),
    (2010, 2000, {"blocks": 10, "bytes": 1000}), "no memfd: the breakpoints traced every call")
ok(any("kept 10 blocks" in l for l in t.lines) and t.proc.returncode == 0, "no memfd: the program ran to its end",
   t.lines)

t = Target("churn", [1000])
r = batch(["-p", str(t.pid)], "trace start --fast --breakpoints", timeout=60)
ok(r.rc != 0 and "not both" in r.err, "trace start --fast --breakpoints is a usage error", r.err)
t.signal(signal.SIGKILL)
t.wait(10)
done()
