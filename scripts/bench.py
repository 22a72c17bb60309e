#!/usr/bin/env python3
"""bench.py - heapdbg's benchmark: every figure is measured in one run,
side by side with its floor or its peer, and printed as a table.

Run with `make bench`.  docs/bench.md says what each figure means.
"""
import json
import os
import pty
import resource
import select
import shutil
import statistics
import subprocess
import sys
import time

TOP = os.environ.get("TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HEAPDBG = os.environ.get("HEAPDBG") or os.path.join(TOP, "heapdbg")
TARGETS = os.path.join(TOP, "tests", "targets")
ROWS = []


def row(name, value, unit, floor=None, note=""):
    ROWS.append((name, value, unit, floor, note))
    print("  %-44s %12s %-6s %s" % (name, fmt(value), unit, note), flush=True)


def fmt(v):
    if isinstance(v, float):
        return "%.3f" % v if v < 100 else "%.0f" % v
    return str(v)


def start(name, args=(), skip_to_ready=False):
    p = subprocess.Popen([os.path.join(TARGETS, name)] + [str(a) for a in args],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    while skip_to_ready and line and not line.startswith("ready"):
        line = p.stdout.readline()
    if not line.startswith("ready"):
        raise SystemExit("target %s did not start" % name)
    return p


def maxrss_children_kib():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def timed_batch(args):
    """Run heapdbg; return (seconds to first stdout byte, total seconds, rc)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([HEAPDBG, "-q"] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    while True:
        b = p.stdout.read1(65536) if hasattr(p.stdout, "read1") else p.stdout.read(1)
        if first is None and b:
            first = time.perf_counter() - t0
        if not b:
            break
    rc = p.wait()
    return first, time.perf_counter() - t0, rc


def attach_to_prompt(pid):
    t0 = time.perf_counter()
    cpid, fd = pty.fork()
    if cpid == 0:
        os.environ["HOME"] = "/nonexistent"
        os.execv(HEAPDBG, [HEAPDBG, "-q", "-p", str(pid)])
    buf = b""
    elapsed = None
    while time.perf_counter() - t0 < 30:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
            if b"(heapdbg) " in buf:
                elapsed = time.perf_counter() - t0
                break
    os.write(fd, b"quit\n")
    os.waitpid(cpid, 0)
    return elapsed


def bench_attach():
    print("attach (4-thread target, libc debug info present)")
    p = start("threads4", [300])
    time.sleep(0.3)
    firsts, totals = [], []
    for _ in range(10):
        f, t, rc = timed_batch(["--json", "-p", str(p.pid), "-batch", "-ex", "info"])
        firsts.append(f)
        totals.append(t)
    prompts = [attach_to_prompt(p.pid) for _ in range(5)]
    rss0 = maxrss_children_kib()
    f, t, rc = timed_batch(["--json", "-p", str(p.pid), "-batch", "-ex", "info", "-ex", "bt all"])
    rss = maxrss_children_kib()
    p.kill()
    p.wait()
    row("attach to first output (info), median", statistics.median(firsts) * 1000, "ms")
    row("attach + info + detach, median", statistics.median(totals) * 1000, "ms")
    row("attach to interactive prompt, median", statistics.median(prompts) * 1000, "ms")
    row("peak RSS, attach + info + bt all", rss, "KiB",
        note="" if rss >= rss0 else "(max over runs)")


def heapdbg_json(args):
    p = subprocess.run([HEAPDBG, "-q", "--json"] + args, capture_output=True, text=True)
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def timed_run(args):
    """Wall seconds and peak RSS (KiB) of one heapdbg run, via wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen([HEAPDBG, "-q"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_maxrss


def raw_reads(p, h, times):
    """The floor: tests/targets/rawread reads every heap `heap` found (h),
    heap_info to end, in 1 MiB process_vm_readv calls.  ([seconds of each
    run], bytes)."""
    ranges = []
    for a in h["arenas"]:
        for x in a["heap_list"]:
            lo = x["info"] if int(x["info"], 16) else x["start"]
            ranges.append("%s-%s" % (lo, x["end"]))
    raw, nbytes = [], 0
    for _ in range(times):
        out = subprocess.run([os.path.join(TARGETS, "rawread"), str(p.pid)] + ranges,
                             capture_output=True, text=True).stdout
        kv = dict(x.split("=") for x in out.split())
        raw.append(float(kv["seconds"]))
        nbytes = int(kv["bytes"])
    return raw, nbytes


def bench_walk():
    print("heap walk (bigheap: 3 threads x 400,000 chunks, 4 arenas)")
    p = start("bigheap", [3, 400000])
    time.sleep(0.5)
    h = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "heap"])[0]
    raw, nbytes = raw_reads(p, h, 5)
    runs = [timed_run(["-p", str(p.pid), "-batch", "-ex", "heap"]) for _ in range(5)]
    walk = statistics.median(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    floor = statistics.median(raw)
    row("chunks walked", h["nchunks"], "")
    row("heap bytes (raw read)", nbytes // (1 << 20), "MiB")
    row("raw read of the heap (process_vm_readv 1 MiB)", floor * 1000, "ms", note="the floor")
    row("heapdbg -p PID -batch -ex heap, whole run", walk * 1000, "ms")
    row("walk / raw read", walk / floor, "x", note="goal: within 5x")
    row("of which: the walk itself (walk_seconds)", h["walk_seconds"] * 1000, "ms")
    row("heapdbg peak RSS, heap walk", rss // 1024, "MiB")
    row("peak RSS per million chunks walked", rss / 1024 / (h["nchunks"] / 1e6), "MiB",
        note="heap keeps no copy of the contents (leaks still copies the heap)")
    bench_leaks(p, floor, h["nchunks"])
    bench_snapshots(p, floor, h["nchunks"])
    bench_monitor(p, h["nchunks"])
    p.kill()
    p.wait()
    bench_valgrind()


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def run_watching(args, pid):
    """Run heapdbg --json (args) against pid: wall seconds, peak RSS (KiB),
    the seconds the target spent in a ptrace stop ('t' in /proc/PID/stat,
    polled every 0.5 ms from this process) and the command's own
    stopped_ms (None if it has none)."""
    t0 = time.perf_counter()
    out = open(os.path.join(TOP, "build", "bench-scale.json"), "w+")
    p = subprocess.Popen([HEAPDBG, "-q", "--json"] + args, stdout=out, stderr=subprocess.DEVNULL)
    stopped, last = 0.0, time.perf_counter()
    while True:
        r = os.wait4(p.pid, os.WNOHANG)
        now = time.perf_counter()
        if proc_state(pid) == "t":
            stopped += now - last
        last = now
        if r[0]:
            break
        time.sleep(0.0005)
    out.seek(0)
    held = None
    for line in out:
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("cmd") in ("heap", "snapshot", "leaks") and "stopped_ms" in o:
            held = o["stopped_ms"]
    out.close()
    return now - t0, r[2].ru_maxrss, stopped, held


def bench_scale():
    """The same program at several sizes (issue 12): heap, leaks and
    snapshot against the raw read of the same mappings, heapdbg's peak
    RSS (total and per chunk above a small heap's), the target's stopped
    time.  HEAPDBG_BENCH_SCALE=1,4,10 picks the sizes (millions of
    chunks; default 1,4)."""
    sizes = [float(x) for x in os.environ.get("HEAPDBG_BENCH_SCALE", "1,4").split(",") if x]
    print("scale (bigheap: 1 thread, one arena; the same program at %s million chunks)" %
          ", ".join("%g" % x for x in sizes))
    small = start("bigheap", [1, 2000])
    time.sleep(0.2)
    base = {}
    for c in ("heap", "leaks", "snapshot a"):
        base[c] = run_watching(["-p", str(small.pid), "-batch", "-ex", c], small.pid)[1]
    small.kill()
    small.wait()
    row("heapdbg peak RSS, 2,000-chunk heap (heap)", base["heap"] // 1024, "MiB",
        note="the fixed part: symbols, libc's debug info")
    for m in sizes:
        n = int(m * 1e6)
        p = start("bigheap", [1, n])
        time.sleep(0.3)
        h = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "heap"])[0]
        raw, nbytes = raw_reads(p, h, 3)
        floor = statistics.median(raw)
        nch = h["nchunks"]
        tag = "%gM" % m
        row("%s: chunks, heap bytes" % tag, nch, "", note="%d MiB" % (nbytes >> 20))
        row("%s: raw read (the floor)" % tag, floor * 1000, "ms")
        for c, goal, per in (("heap", 2, 16), ("snapshot a", 2.5, 16), ("leaks", 4, 40)):
            runs = [run_watching(["-p", str(p.pid), "-batch", "-ex", c], p.pid)
                    for _ in range(3 if m <= 1 else 1)]
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            stop = statistics.median(r[2] for r in runs)
            held = [r[3] for r in runs if r[3] is not None]
            name = c.split()[0]
            row("%s: %s, whole run" % (tag, name), wall * 1000, "ms",
                note="%.1fx the floor (goal %gx)" % (wall / floor, goal))
            row("%s: %s, peak RSS" % (tag, name), rss // 1024, "MiB",
                note="%.1f B/chunk above the small heap's (goal %d); %.1f B/chunk in all" %
                ((rss - base[c]) * 1024 / nch, per, rss * 1024 / nch))
            row("%s: %s, target stopped" % (tag, name), statistics.median(held) if held else stop * 1000, "ms",
                note="the command's stopped_ms; %.0f ms in a ptrace stop from attach to detach" % (stop * 1000))
        p.kill()
        p.wait()


def bench_stopped():
    """How long a `heap` holds a small heap stopped: the first attach on a
    machine (the layout cache cold: libc's DWARF is read) and later ones."""
    import tempfile
    print("stopped time, small heap (heapstates: 3 arenas, a few hundred chunks)")
    p = start("heapstates", skip_to_ready=True)
    time.sleep(0.3)
    cold, warm = [], []
    for _ in range(3):
        d = tempfile.mkdtemp(prefix="hdbench-cache-")
        env = dict(os.environ, HEAPDBG_CACHE_DIR=d)
        for i in range(4):
            out = subprocess.run([HEAPDBG, "-q", "--json", "-p", str(p.pid), "-batch", "-ex", "heap"],
                                 capture_output=True, text=True, env=env).stdout
            ms = json.loads(out.splitlines()[0]).get("stopped_ms", 0)
            (cold if i == 0 else warm).append(ms)
        subprocess.run(["rm", "-rf", d])
    p.kill()
    p.wait()
    row("heap: target held stopped, first attach (layout cache cold), median", statistics.median(cold), "ms")
    row("heap: target held stopped, later attaches (cache warm), median", statistics.median(warm), "ms",
        note="goal: under 20 ms")


def bench_monitor(p, nchunks):
    """monitor on the big heap: how much of the wall time the samples hold
    the process: the default (glibc's totals from the free lists, followed
    while the process runs, read again within 3% of the interval), a walk
    each time (--walk), and every list node read again (--exact)."""
    print("monitor (the same heap, 1 s interval)")
    for label, cmd in (("default", "monitor 1 10"), ("--walk", "monitor --walk 1 3"),
                       ("--quick --exact", "monitor --quick --exact 1 3")):
        objs = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", cmd])
        summ = [o for o in objs if "samples" in o]
        if not summ:
            row("monitor %s" % label, float("nan"), "", note="failed")
            continue
        ser = summ[0]["series"]
        per = statistics.median(x["stopped_seconds"] for x in ser) * 1000
        late = max([x["t"] - i for i, x in enumerate(ser)][1:] or [0])
        row("monitor %s: held per sample, median" % label, per, "ms",
            note="%s; %d of %d samples approximate" % (cmd, summ[0].get("approximate_samples", 0), len(ser)))
        row("monitor %s: share of the wall time held" % label, summ[0].get("stopped_share", float("nan")) * 100, "%",
            note="goal: at most 5%%; the latest sample %.0f ms after its time" % (late * 1000))


def bench_leaks(p, floor, nchunks):
    print("leak check (the same heap)")
    runs, checks = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        objs = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "leaks"])
        runs.append(time.perf_counter() - t0)
        lk = [o for o in objs if o.get("cmd") == "leaks"]
        if lk and "seconds" in lk[0]:
            checks.append(lk[0]["seconds"])
    whole = statistics.median(runs)
    row("heapdbg -p PID -batch -ex leaks, whole run", whole * 1000, "ms")
    if checks:
        row("of which: the reachability check", statistics.median(checks) * 1000, "ms")
    row("leak check run / raw read", whole / floor, "x")
    row("leak check per million chunks", whole / (nchunks / 1e6), "s", note="goal: whole run < 2 s")


def bench_snapshots(p, floor, nchunks):
    print("snapshots and diff (the same heap)")
    d = os.path.join(TOP, "build", "bench")
    os.makedirs(d, exist_ok=True)
    f = os.path.join(d, "bench.snap")
    t0 = time.perf_counter()
    objs = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "snapshot a", "-ex", "continue 0.1",
                         "-ex", "snapshot b", "-ex", "diff a b", "-ex", "save a " + f])
    whole = time.perf_counter() - t0
    by = {}
    for o in objs:
        by.setdefault(o.get("cmd"), []).append(o)
    snaps = by.get("snapshot", [])
    t1 = time.perf_counter()
    objs2 = heapdbg_json(["-batch", "-ex", "load " + f + " x", "-ex", "load " + f + " y", "-ex", "diff x y"])
    offline = time.perf_counter() - t1
    row("attach, 2 snapshots (2 walks), diff, save: whole run", whole * 1000, "ms",
        note="continue 0.1 s between the snapshots included")
    if len(snaps) == 2 and all("seconds" in x for x in snaps):
        row("first snapshot (the heap already walked by attach)", snaps[0]["seconds"] * 1000, "ms")
        row("second snapshot, after the target ran (walk + record)", snaps[1]["seconds"] * 1000, "ms")
    if by.get("save"):
        sv = by["save"][0]
        row("snapshot file, bytes per chunk", sv["file_bytes"] / max(sv["chunks"], 1), "B")
    row("offline: load 2 snapshot files + diff", offline * 1000, "ms",
        note="%d-chunk snapshots" % (snaps[0]["chunks"] if snaps else 0))
    ok = any(o.get("cmd") == "diff" and "error" not in o for o in objs2)
    if not ok:
        row("offline diff", 0, "", note="FAILED: %s" % objs2)
    os.unlink(f)


def bench_valgrind():
    """The peer for the leak check: valgrind memcheck runs the same program
    (launch only) and checks at exit; compared with the program's native
    run and heapdbg's attach + leaks."""
    print("peer: valgrind memcheck --leak-check=full on the same program")
    vg = shutil.which("valgrind")
    if not vg:
        row("valgrind leak check", 0, "", note="skipped: valgrind is not installed")
        return
    args = [os.path.join(TARGETS, "bigheap"), "3", "400000", "exit"]
    t0 = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL)
    native = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = subprocess.run([vg, "-q", "--leak-check=full", "--show-leak-kinds=definite", "--error-exitcode=0"] + args,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    under = time.perf_counter() - t0
    row("native run of the program (build heap, exit)", native * 1000, "ms")
    row("the same under valgrind, leak check at exit", under * 1000, "ms",
        note="rc %d" % r.returncode)
    row("valgrind / native", under / native, "x", note="heapdbg adds nothing until it attaches")


def parse_kv(text):
    out = {}
    for tok in text.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v) if "." in v else int(v, 0)
            except ValueError:
                out[k] = v
    return out


def churn_seconds(out):
    return parse_kv("seconds=" + out.split("seconds=")[1])["seconds"]


def bench_trace():
    """The tracer against its floor.  Both swing with the load of the
    machine (a VM's ptrace paths: the 4-thread floor has been seen from
    4.4 to 9.1 us in a row), so each round measures the floor, the
    untraced churn and the traced churn back to back, and the ratios are
    the medians of the rounds'."""
    print("breakpoint tracer (churn: 4 threads, every entry point, trace start --breakpoints)")
    iters = 20000
    rounds = []
    for _ in range(3):
        floor = parse_kv(subprocess.run([os.path.join(TARGETS, "ptrace_floor"), "100000"], capture_output=True,
                                        text=True).stdout)
        untraced = churn_seconds(subprocess.run([os.path.join(TARGETS, "churn"), str(iters), "nowait"],
                                                capture_output=True, text=True).stdout)
        p = start("churn", [iters])
        r = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "trace start --breakpoints", "-ex", "continue 600",
                          "-ex", "trace status"])
        rest = p.stdout.read()
        p.wait()
        traced = churn_seconds(rest)
        st = [o for o in r if o.get("cmd") == "trace" and "events" in o][0]
        calls = sum(st["events"].values())
        stops = st["stops"]
        per_stop = (traced - untraced) / stops * 1e9
        rounds.append(dict(floor=floor, untraced=untraced, calls=calls, stops=stops, per_stop=per_stop,
                           per_call=(traced - untraced) / calls * 1e6,
                           r1=per_stop / floor["stop_ns"], r4=per_stop / floor["mt_stop_ns"]))

    def med(f):
        return statistics.median(f(x) for x in rounds)

    def spread(f):
        v = [f(x) for x in rounds]
        return "rounds %s" % " ".join("%.2f" % x for x in v)

    calls = rounds[-1]["calls"]
    stops = med(lambda x: x["stops"])
    per_stop = med(lambda x: x["per_stop"])
    untraced = med(lambda x: x["untraced"])
    row("bare ptrace stop (int3, waitpid, PTRACE_CONT)", med(lambda x: x["floor"]["stop_ns"]) / 1000, "us",
        note="the floor; median of 3 rounds")
    row("ptrace stop with GETREGS+SETREGS", med(lambda x: x["floor"]["stop_regs_ns"]) / 1000, "us")
    row("traced calls (churn, 4 threads)", calls, "")
    row("stops per call", med(lambda x: x["stops"] / x["calls"]), "", note="goal: <= 2 per allocation, 1 per free")
    row("added cost per traced call", med(lambda x: x["per_call"]), "us")
    row("added cost per stop", per_stop / 1000, "us", note=spread(lambda x: x["per_stop"] / 1000))
    row("bare ptrace stop, 4 threads at once (per stop)", med(lambda x: x["floor"]["mt_stop_ns"]) / 1000, "us",
        note="the floor for churn's 4 threads: waitpid(-1)+CONT; " +
        spread(lambda x: x["floor"]["mt_stop_ns"] / 1000))
    row("cost per stop / bare stop (1 thread)", med(lambda x: x["r1"]), "x")
    row("cost per stop / bare stop (4 threads)", med(lambda x: x["r4"]), "x",
        note="goal: within 1.3x; median of the rounds' ratios, " + spread(lambda x: x["r4"]))
    row("malloc+free pair, traced (3 stops)", 3 * per_stop / 1000, "us",
        note="prototype floor 56-60 us, memleax 440-770 us")

    # heapdbg's memory per traced live block: 100,000 blocks traced from
    # the start of a program that keeps them
    pr = subprocess.Popen([HEAPDBG, "-q", "--json", "-batch", "-ex", "trace start", "-ex", "continue 300",
                           "-ex", "trace status", "--args", os.path.join(TARGETS, "bigheap"), "1", "100000",
                           "exit"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = pr.stdout.read()
    _, _, ru = os.wait4(pr.pid, 0)
    objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    st2 = [o for o in objs if o.get("cmd") == "trace" and "events" in o]
    if st2:
        blocks = st2[0]["outstanding"]["blocks"]
        row("traced live blocks (bigheap 1 x 100,000)", blocks, "")
        row("tracer memory per live block", st2[0]["memory"] / max(blocks, 1), "bytes",
            note="records + index + stacks")
        row("heapdbg peak RSS per thousand traced live blocks", ru.ru_maxrss / max(blocks / 1000, 1), "KiB",
            note="peak %d MiB, symbols and unwinder included" % (ru.ru_maxrss // 1024))
    bench_heaptrack(iters, untraced, calls)


def bench_heaptrack(iters, untraced, calls):
    """The tracing peer: heaptrack (GOT/PLT interposition, launch mode) on
    the same churn run."""
    ht = shutil.which("heaptrack")
    if not ht:
        row("heaptrack added cost per call", 0, "", note="skipped: heaptrack is not installed")
        return
    d = os.path.join(TOP, "build", "bench")
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([ht, "-o", os.path.join(d, "heaptrack.churn"), os.path.join(TARGETS, "churn"), str(iters),
                        "nowait"], capture_output=True, text=True)
    if "seconds=" not in r.stdout:
        row("heaptrack added cost per call", 0, "", note="heaptrack run failed")
        return
    t = parse_kv("seconds=" + r.stdout.split("seconds=")[1])["seconds"]
    row("heaptrack (launch) added cost per call", (t - untraced) / calls * 1e6, "us",
        note="peer: in-process interposition, no stops")
    for f in os.listdir(d):
        if f.startswith("heaptrack.churn"):
            os.unlink(os.path.join(d, f))


def pairs_out(text):
    for line in text.splitlines():
        if line.startswith("pairs="):
            return parse_kv(line)
    return None


def pairs_traced(threads, n, how):
    """pairs under heapdbg: `trace start` + HOW, traced from before its
    first pair to its exit; (the program's line, trace status)."""
    p = start("pairs", [threads, n])
    r = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "trace start" + how, "-ex", "continue 600",
                      "-ex", "trace status"])
    out = pairs_out(p.stdout.read())
    p.wait()
    st = [o for o in r if o.get("cmd") == "trace" and o.get("action") == "status"]
    return out, st[0] if st else {}


def pairs_heaptrack(ht, threads, n):
    """pairs under heaptrack -p (gdb injects libheaptrack_inject.so, which
    patches the GOT); the program starts its pairs once it is in."""
    d = os.path.join(TOP, "build", "bench")
    os.makedirs(d, exist_ok=True)
    p = start("pairs", [threads, n, "signal"])
    h = subprocess.Popen([ht, "-p", str(p.pid)], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 60
    injected = False
    while time.time() < end and not injected:
        try:
            with open("/proc/%d/maps" % p.pid) as f:
                injected = "heaptrack_inject" in f.read()
        except OSError:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(p.pid, 10)	# SIGUSR1: go
    out = pairs_out(p.stdout.read())
    p.wait()
    try:
        h.wait(120)
    except subprocess.TimeoutExpired:
        h.kill()
        h.wait()
    for f in os.listdir(d):
        if f.startswith("heaptrack.pairs"):
            os.unlink(os.path.join(d, f))
    return out if injected else None


def bench_pairs():
    """A traced malloc+free pair, 4 frames deep (tests/targets/pairs), on
    1 and 4 threads: native, fast tracepoints, breakpoints and heaptrack -p,
    in this run, back to back.  ns per pair is the program's own wall time
    over its pairs (4 threads share this machine's cores)."""
    print("malloc+free pairs, 4 frames deep (pairs: native, trace start (fast), --no-free-stacks, --sample, "
          "--breakpoints, heaptrack -p)")
    ht = shutil.which("heaptrack")
    for threads in (1, 4):
        native = statistics.median(
            pairs_out(subprocess.run([os.path.join(TARGETS, "pairs"), str(threads), "4000000", "nowait"],
                                     capture_output=True, text=True).stdout)["ns_per_pair"] for _ in range(3))
        fast = []
        for _ in range(3):
            out, st = pairs_traced(threads, 1000000, " --fast")
            fast.append((out, st))
        fast.sort(key=lambda x: x[0]["ns_per_pair"] if x[0] else 1e99)
        fo, fst = fast[1]
        nf = sorted((pairs_traced(threads, 1000000, " --fast --no-free-stacks") for _ in range(3)),
                    key=lambda x: x[0]["ns_per_pair"] if x[0] else 1e99)[1][0]
        so, sst = pairs_traced(threads, 1000000, " --sample 524288")
        bo, bst = pairs_traced(threads, 20000, " --breakpoints")
        row("%d thread%s: native pair" % (threads, "s" if threads > 1 else ""), native, "ns",
            note="median of 3")
        if fo:
            ring = fst.get("ring", {})
            ev = ring.get("events", 0)
            row("  fast-traced pair (trace start)", fo["ns_per_pair"], "ns",
                note="%.1fx native, median of 3; goal 5x; full stacks at malloc and free" % (
                    fo["ns_per_pair"] / native))
            row("  fast: events consumed per second", ev / fo["seconds"] / 1e6 if fo["seconds"] else 0, "M/s",
                note="%d events, %d ring waits, %d lost, %d stacks unwound in the target" % (
                    ev, ring.get("waits", 0), ring.get("lost", 0),
                    fst.get("unwind", {}).get("agent_unwinds", 0)))
        else:
            row("  fast-traced pair (trace start)", 0, "", note="FAILED")
        if nf:
            row("  fast, a free's caller alone (--no-free-stacks)", nf["ns_per_pair"], "ns",
                note="%.1fx native, median of 3" % (nf["ns_per_pair"] / native))
        else:
            row("  fast, a free's caller alone (--no-free-stacks)", 0, "", note="FAILED")
        if so:
            row("  sampled pair (trace start --sample 524288)", so["ns_per_pair"], "ns",
                note="%.2fx native; goal 1.5x; %d allocations sampled" % (
                    so["ns_per_pair"] / native, sst.get("sampled", {}).get("allocations", 0)))
        else:
            row("  sampled pair (trace start --sample 524288)", 0, "", note="FAILED")
        if bo:
            row("  breakpoint-traced pair (trace start --breakpoints)", bo["ns_per_pair"], "ns",
                note="%.0fx native; %d stops" % (bo["ns_per_pair"] / native, bst.get("stops", 0)))
        else:
            row("  breakpoint-traced pair (trace start --breakpoints)", 0, "", note="FAILED")
        if not ht:
            row("  heaptrack -p pair", 0, "", note="skipped: heaptrack is not installed")
            continue
        ho = pairs_heaptrack(ht, threads, 1000000)
        if ho:
            row("  heaptrack -p pair", ho["ns_per_pair"], "ns", note="%.1fx native" % (ho["ns_per_pair"] / native))
            if fo:
                row("  fast-traced pair / heaptrack -p pair", fo["ns_per_pair"] / ho["ns_per_pair"], "x",
                    note="goal: below 1")
        else:
            row("  heaptrack -p pair", 0, "", note="heaptrack -p did not inject")


# ---- services: nginx and the sqlite3 shell, untraced and traced -------------

def heapdbg_bg(pid, how, seconds):
    """heapdbg tracing pid with `trace start` + how for about seconds, in
    the background; returns once the trace is armed (its first line is
    printed, then `continue` runs)."""
    h = subprocess.Popen([HEAPDBG, "-p", str(pid), "-batch", "-ex", "trace start" + how,
                          "-ex", "continue %d" % seconds, "-ex", "trace status"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        line = h.stdout.readline()
        if not line or line.startswith("Continuing"):
            break
    return h


def nginx_rps(worker, how):
    """requests/s of wrk (1 thread, 8 connections, 3 s) against the worker,
    traced with `trace start` + how (None: untraced)."""
    h = heapdbg_bg(worker, how, 6) if how is not None else None
    out = subprocess.run(["wrk", "-t1", "-c8", "-d3s", "http://127.0.0.1:%d/" % NGINX_PORT],
                         capture_output=True, text=True).stdout
    if h:
        h.communicate()
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return 0.0


NGINX_PORT = 18911


def bench_nginx():
    d = os.path.join(TOP, "build", "bench", "nginx")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
error_log %(d)s/error.log;
pid %(d)s/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fcgi; uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;
    server { listen 127.0.0.1:%(port)d; location / { return 200 "hello\\n"; } }
}
""" % {"d": d, "port": NGINX_PORT})
    master = subprocess.Popen(["nginx", "-p", d, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    for _ in range(100):
        time.sleep(0.05)
        try:
            with open("/proc/%d/task/%d/children" % (master.pid, master.pid)) as f:
                kids = f.read().split()
            if kids:
                worker = int(kids[0])
                break
        except OSError:
            break
    try:
        if not worker:
            row("nginx: requests per second", 0, "", note="nginx did not start")
            return
        time.sleep(0.3)
        res = {"untraced": [], "fast": [], "sample 524288": [], "breakpoints": []}
        for _ in range(3):	# interleaved: the machine's load drifts
            res["untraced"].append(nginx_rps(worker, None))
            res["fast"].append(nginx_rps(worker, " --fast"))
            res["sample 524288"].append(nginx_rps(worker, " --sample 524288"))
            res["breakpoints"].append(nginx_rps(worker, " --breakpoints"))
        base = statistics.median(res["untraced"])
        row("nginx (1 worker, wrk -c8): untraced", base, "req/s", note="median of 3")
        for k in ("fast", "sample 524288", "breakpoints"):
            v = statistics.median(res[k])
            row("  nginx traced --%s" % k, v, "req/s",
                note="kept %.0f%% of untraced; goal 90%% for --fast" % (100 * v / base if base else 0))
    finally:
        master.terminate()
        master.wait()


SQL_ROWS = 4000


def sqlite_sps(how):
    """statements/s of the sqlite3 shell on :memory: fed through a pipe
    (inserts of random text and indexed selects), traced with `trace
    start` + how (None: untraced) from before the first statement."""
    p = subprocess.Popen(["sqlite3", ":memory:"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    p.stdin.write(".print ready\n")
    p.stdin.flush()
    p.stdout.readline()
    h = heapdbg_bg(p.pid, how, 60) if how is not None else None
    stmts = ["create table t(id integer primary key, k text, v text);", "create index tk on t(k);"]
    for i in range(SQL_ROWS):
        stmts.append("insert into t(k, v) values ('k%d', hex(randomblob(%d)));" % (i * 7919 % SQL_ROWS, 16 + i % 200))
        if i % 4 == 0:
            stmts.append("select count(*), max(length(v)) from t where k = 'k%d';" % (i % SQL_ROWS))
    t0 = time.perf_counter()
    p.stdin.write("\n".join(stmts) + "\n.print done\n")
    p.stdin.flush()
    while True:
        line = p.stdout.readline()
        if not line or line.startswith("done"):
            break
    dt = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    if h:
        h.communicate()
    return len(stmts) / dt if dt > 0 else 0.0


def bench_sqlite():
    res = {"untraced": [], "fast": [], "sample 524288": [], "breakpoints": []}
    for _ in range(3):	# interleaved: the machine's load drifts
        res["untraced"].append(sqlite_sps(None))
        res["fast"].append(sqlite_sps(" --fast"))
        res["sample 524288"].append(sqlite_sps(" --sample 524288"))
        res["breakpoints"].append(sqlite_sps(" --breakpoints"))
    base = statistics.median(res["untraced"])
    row("sqlite3 shell (:memory:, a pipe): untraced", base, "stmt/s", note="median of 3")
    for k in ("fast", "sample 524288", "breakpoints"):
        v = statistics.median(res[k])
        row("  sqlite3 traced --%s" % k, v, "stmt/s",
            note="kept %.0f%% of untraced; goal 90%% for --fast" % (100 * v / base if base else 0))


def bench_services():
    """Real services from Debian on 127.0.0.1 under a bounded load from
    here: untraced, fast-traced and breakpoint-traced, interleaved."""
    print("services: nginx and the sqlite3 shell (untraced, trace start --fast, --sample 524288, --breakpoints)")
    if shutil.which("nginx") and shutil.which("wrk"):
        bench_nginx()
    else:
        row("nginx", 0, "", note="skipped: nginx or wrk is not installed")
    if shutil.which("sqlite3"):
        bench_sqlite()
    else:
        row("sqlite3 shell", 0, "", note="skipped: sqlite3 is not installed")


def main():
    if not os.path.exists(HEAPDBG):
        raise SystemExit("build heapdbg first (make)")
    print("heapdbg benchmark: %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
    print("machine: %s, %d CPUs" % (os.uname().release, os.cpu_count()))
    # HEAPDBG_BENCH=pairs,trace runs only those parts
    only = [x for x in os.environ.get("HEAPDBG_BENCH", "").split(",") if x]
    for name, fn in (("attach", bench_attach), ("stopped", bench_stopped), ("walk", bench_walk),
                     ("scale", bench_scale), ("trace", bench_trace), ("pairs", bench_pairs),
                     ("services", bench_services)):
        if not only or name in only:
            fn()
    print("not installed here, not measured: chap, gef, pwndbg, gdb-heap, memleax, bcc memleak "
          "(docs/bench.md quotes their figures from peers.md)")
    print()
    print("| figure | value | unit | note |")
    print("|---|---:|---|---|")
    for name, value, unit, floor, note in ROWS:
        print("| %s | %s | %s | %s |" % (name, fmt(value), unit, note))


if __name__ == "__main__":
    main()
