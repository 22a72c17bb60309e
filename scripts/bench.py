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


def start(name, args=()):
    p = subprocess.Popen([os.path.join(TARGETS, name)] + [str(a) for a in args],
                         stdout=subprocess.PIPE, text=True)
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
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def timed_run(args):
    """Wall seconds and peak RSS (KiB) of one heapdbg run, via wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen([HEAPDBG, "-q"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_maxrss


def bench_walk():
    print("heap walk (bigheap: 3 threads x 400,000 chunks, 4 arenas)")
    p = start("bigheap", [3, 400000])
    time.sleep(0.5)
    h = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "heap"])[0]
    ranges = []
    for a in h["arenas"]:
        for x in a["heap_list"]:
            lo = x["info"] if int(x["info"], 16) else x["start"]
            ranges.append("%s-%s" % (lo, x["end"]))
    raw = []
    for _ in range(5):
        out = subprocess.run([os.path.join(TARGETS, "rawread"), str(p.pid)] + ranges,
                             capture_output=True, text=True).stdout
        kv = dict(x.split("=") for x in out.split())
        raw.append(float(kv["seconds"]))
        nbytes = int(kv["bytes"])
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
        note="includes the heap copy")
    p.kill()
    p.wait()


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


def bench_trace():
    print("allocation tracer (churn: 4 threads, every entry point)")
    floor = parse_kv(subprocess.run([os.path.join(TARGETS, "ptrace_floor"), "200000"], capture_output=True,
                                    text=True).stdout)
    iters = 20000
    base = []
    for _ in range(3):
        out = subprocess.run([os.path.join(TARGETS, "churn"), str(iters), "nowait"], capture_output=True,
                             text=True).stdout
        base.append(parse_kv(out.split("seconds=")[1] and "seconds=" + out.split("seconds=")[1])["seconds"])
    untraced = statistics.median(base)
    p = start("churn", [iters])
    r = heapdbg_json(["-p", str(p.pid), "-batch", "-ex", "trace start", "-ex", "continue 600",
                      "-ex", "trace status"])
    rest = p.stdout.read()
    p.wait()
    traced = parse_kv(rest.split("seconds=")[1] and "seconds=" + rest.split("seconds=")[1])["seconds"]
    st = [o for o in r if o.get("cmd") == "trace" and "events" in o][0]
    calls = sum(st["events"].values())
    stops = st["stops"]
    per_stop = (traced - untraced) / stops * 1e9
    row("bare ptrace stop (int3, waitpid, PTRACE_CONT)", floor["stop_ns"] / 1000, "us", note="the floor")
    row("ptrace stop with GETREGS+SETREGS", floor["stop_regs_ns"] / 1000, "us")
    row("traced calls (churn, 4 threads)", calls, "")
    row("stops per call", stops / calls, "", note="goal: <= 2 per allocation, 1 per free")
    row("added cost per traced call", (traced - untraced) / calls * 1e6, "us")
    row("added cost per stop", per_stop / 1000, "us")
    row("cost per stop / bare stop", per_stop / floor["stop_ns"], "x", note="goal: within 1.3x")
    row("malloc+free pair, traced (3 stops)", 3 * per_stop / 1000, "us",
        note="prototype floor 56-60 us, memleax 440-770 us")

    # heapdbg's memory per traced live block: 100,000 blocks traced from
    # the start of a program that keeps them
    pr = subprocess.Popen([HEAPDBG, "-q", "--json", "-batch", "-ex", "trace start", "-ex", "continue 300",
                           "-ex", "trace status", "--args", os.path.join(TARGETS, "bigheap"), "1", "100000",
                           "exit"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = pr.communicate()
    objs = [json.loads(l) for l in out.splitlines() if l.strip()]
    st2 = [o for o in objs if o.get("cmd") == "trace" and "events" in o]
    if st2:
        blocks = st2[0]["outstanding"]["blocks"]
        row("traced live blocks (bigheap 1 x 100,000)", blocks, "")
        row("tracer memory per live block", st2[0]["memory"] / max(blocks, 1), "bytes",
            note="records + index + stacks")


def main():
    if not os.path.exists(HEAPDBG):
        raise SystemExit("build heapdbg first (make)")
    print("heapdbg benchmark: %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
    print("machine: %s, %d CPUs" % (os.uname().release, os.cpu_count()))
    bench_attach()
    bench_walk()
    bench_trace()
    print()
    print("| figure | value | unit | note |")
    print("|---|---:|---|---|")
    for name, value, unit, floor, note in ROWS:
        print("| %s | %s | %s | %s |" % (name, fmt(value), unit, note))


if __name__ == "__main__":
    main()
