#!/usr/bin/env python3
# vg-memcheck-corpus.py VALGRIND_SRC HEAPDBG [RUN...]: valgrind's own
# memcheck tests against heapdbg.  Each run of a .vgtest in
# memcheck/tests (and its linux, amd64, amd64-linux directories) whose
# program makes no client request, builds here, exits by itself, reports
# no memory error under valgrind (--errors-for-leak-kinds=none) and behaves
# natively as under valgrind (same exit status and output; a test of
# valgrind's own allocator does not) is compared: valgrind's LEAK SUMMARY
# (--leak-check=full, its defaults otherwise) with heapdbg's `leaks` at the
# exit in launch mode, traced from the start; and valgrind's loss records
# (--show-leak-kinds=all), in its order with its numbers, with heapdbg's
# (the JSON's loss_record numbers).  Prints each run, then the counts;
# writes VALGRIND_SRC/heapdbg-corpus.json.  Not part of make check
# (a few minutes; needs valgrind and its source tree).
import glob, json, os, re, subprocess, sys
if len(sys.argv) < 3:
    sys.exit("usage: vg-memcheck-corpus.py VALGRIND_SRC HEAPDBG [RUN...]")
top = os.path.abspath(sys.argv[1])
HD = os.path.abspath(sys.argv[2])
# what valgrind's configure would say for glibc on amd64 Linux, for the
# tests that include its config.h
if not os.path.exists(os.path.join(top, "config.h")):
    with open(os.path.join(top, "config.h"), "w") as f:
        f.write("".join("#define %s 1\n" % d for d in (
            "VGO_linux", "VGA_amd64", "VGP_amd64_linux", "HAVE_MALLINFO", "HAVE_MALLINFO2", "HAVE_MEMALIGN",
            "HAVE_POSIX_MEMALIGN", "HAVE_ALIGNED_ALLOC", "HAVE_MALLOC_USABLE_SIZE", "HAVE_PTHREAD_BARRIER_INIT",
            "HAVE_SYS_CAPABILITY_H", "HAVE_STATX", "HAVE_MEMMEM", "HAVE_TLS")))
srcs = []
for d in ("memcheck/tests", "memcheck/tests/linux", "memcheck/tests/amd64", "memcheck/tests/amd64-linux"):
    srcs += sorted(glob.glob(os.path.join(top, d, "*.c")) + glob.glob(os.path.join(top, d, "*.cpp")))
out = {"skipped_client": 0, "skipped_build": 0, "skipped_errors": 0, "skipped_run": 0, "match": [], "differ": [],
       "order_match": [], "order_differ": []}
os.makedirs(os.path.join(top, "heapdbg-bin"), exist_ok=True)
LABELS = (("definite", "definitely lost"), ("indirect", "indirectly lost"), ("possible", "possibly lost"),
          ("reachable", "still reachable"))
def vgsum(text):
    if "All heap blocks were freed" in text:
        return {k: (0, 0) for k, _ in LABELS}
    body = text.split("LEAK SUMMARY")[-1] if "LEAK SUMMARY" in text else None
    if body is None:
        return None
    o = {}
    for k, l in LABELS:
        m = re.search(l + r": ([\d,]+) bytes in ([\d,]+) blocks", body)
        o[k] = (int(m.group(2).replace(",", "")), int(m.group(1).replace(",", ""))) if m else (0, 0)
    return o
def vgrecs(text):
    """valgrind's loss records in its order: (N, M, kind, total bytes)"""
    return [(int(n), int(m), k, int(b.replace(",", ""))) for b, k, n, m in
            re.findall(r"^==\d+== ([\d,]+)(?: \(.*?\))? bytes in [\d,]+ blocks are (\w+ \w+) in loss record"
                       r" (\d+) of (\d+)", text, re.M)]
def hdrecs(leaks):
    """heapdbg's: the same from the JSON records, by their loss_record"""
    recs = leaks.get("records", [])
    return sorted((r["loss_record"], len(recs), dict(LABELS)[r["kind"]], r["bytes"] + r.get("indirect_bytes", 0))
                  for r in recs)
only = sys.argv[3:] or None
# the runs: each .vgtest's prog and args (its vgopts left out: valgrind's
# defaults, as heapdbg has them), once each; sources with no .vgtest run
# without arguments
runs, seen = [], set()
bysrc = {s.rsplit(".", 1)[0]: s for s in srcs}
for vt in sorted(glob.glob(os.path.join(top, "memcheck/tests", "*.vgtest")) +
                 sum((glob.glob(os.path.join(top, "memcheck/tests", d, "*.vgtest"))
                      for d in ("linux", "amd64", "amd64-linux")), [])):
    kv = {}
    if not os.path.isfile(vt):
        continue
    for line in open(vt, errors="replace"):
        if ":" in line:
            k, v = line.split(":", 1)
            kv.setdefault(k.strip(), v.strip())
    base = os.path.join(os.path.dirname(vt), kv.get("prog", ""))
    if base in bysrc and (base, kv.get("args", "")) not in seen:
        seen.add((base, kv.get("args", "")))
        runs.append((bysrc[base], kv.get("args", "").split()))
for src, args in runs:
    name = os.path.relpath(src, os.path.join(top, "memcheck/tests")).replace("/", "_").rsplit(".", 1)[0]
    if args:
        name += "[" + " ".join(args) + "]"
    if only and name not in only:
        continue
    text = open(src, errors="replace").read()
    if re.search(r"VALGRIND_|valgrind\.h|memcheck\.h|drd\.h|helgrind\.h", text):
        out["skipped_client"] += 1
        continue
    exe = os.path.join(top, "heapdbg-bin", os.path.relpath(src, os.path.join(top, "memcheck/tests")).replace("/", "_").rsplit(".", 1)[0])
    cpp = src.endswith(".cpp")
    if not os.path.exists(exe):
        cc = ["g++" if cpp else "gcc", "-g", "-O0", "-w", "-I" + top, "-I" + os.path.join(top, "include"),
              "-I" + os.path.dirname(src), "-o", exe, src, "-lpthread", "-lm"]
        if subprocess.run(cc, capture_output=True, timeout=120).returncode:
            out["skipped_build"] += 1
            continue
    try:
        v = subprocess.run(["valgrind", "--leak-check=full", "--errors-for-leak-kinds=none", "--show-leak-kinds=all",
                            exe] + args,
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, cwd="/tmp")
    except subprocess.TimeoutExpired:
        out["skipped_run"] += 1
        continue
    m = re.search(r"ERROR SUMMARY: (\d+) errors", v.stderr)
    vs = vgsum(v.stderr)
    if not m or vs is None or v.returncode < 0:
        out["skipped_run"] += 1
        continue
    if int(m.group(1)):
        out["skipped_errors"] += 1
        continue
    # the program must behave natively as it does under valgrind (same
    # exit status and output): a test of valgrind's allocator or CPU
    # (malloc_usable_size of 99 is 99, mallinfo's numbers) is not
    try:
        nat = subprocess.run([exe] + args, capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL, cwd="/tmp")
    except subprocess.TimeoutExpired:
        nat = None
    if nat is None or nat.returncode != v.returncode or nat.stdout != v.stdout:
        out.setdefault("skipped_native", []).append(name)
        print(name, "skipped: behaves otherwise natively", flush=True)
        continue
    try:
        h = subprocess.run([HD, "-q", "--json", "-batch", "-ex", "trace start", "-ex", "continue", "-ex", "leaks",
                            "--args", exe] + args, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, cwd="/tmp")
        objs = [json.loads(l) for l in h.stdout.splitlines() if l.startswith("{")]
        l = [o for o in objs if o.get("cmd") == "leaks"]
        hs = {k: (l[0][k]["blocks"], l[0][k]["bytes"]) for k, _ in LABELS} if l and "definite" in l[0] else None
        hr = hdrecs(l[0]) if hs else None
    except Exception as e:
        hs = hr = repr(e)[:100]
    vr = vgrecs(v.stderr)
    (out["match"] if hs == vs else out["differ"]).append((name, vs, hs) if hs != vs else name)
    if hs == vs:
        (out["order_match"] if hr == vr else out["order_differ"]).append((name, vr, hr) if hr != vr else name)
    print(name, ("ok" if hr == vr else "ok, ORDER DIFFERS vg=%r hd=%r" % (vr, hr)) if hs == vs else
          "DIFFER vg=%r hd=%r" % (vs, hs), flush=True)
n = len(out["match"]) + len(out["differ"])
print("compared %d: %d match (%.1f%%); skipped: %d client requests, %d build, %d memory errors, %d run, %d native" %
      (n, len(out["match"]), 100.0 * len(out["match"]) / max(n, 1), out["skipped_client"], out["skipped_build"],
       out["skipped_errors"], out["skipped_run"], len(out.get("skipped_native", []))))
print("of the %d that match, %d have valgrind's loss records in valgrind's order with its numbers" %
      (len(out["match"]), len(out["order_match"])))
json.dump(out, open(os.path.join(top, "heapdbg-corpus.json"), "w"), indent=1)
