#!/usr/bin/env python3
"""how2heap-corpus.py - heapdbg on a public corpus of heap-exploitation
techniques (shellphish/how2heap), the programs nobody here wrote that
misuse glibc's heap on purpose.

    scripts/how2heap-corpus.py HOW2HEAP_DIR [GLIBC_DIR_NAME] [--heapdbg PATH] [--tracer fast|breakpoints] [--json]

Each technique of HOW2HEAP_DIR/GLIBC_DIR_NAME (glibc_2.36 by default,
Debian 12's glibc) is built with cc -g and run three ways:
  - natively: its exit status and how it ended are the reference;
  - under heapdbg --args, traced from the first allocation (trace start,
    continue, check at exit): what heapdbg reported at the calls
    (memory_errors) and what `check` found in the heap left at exit;
  - under valgrind memcheck (when installed): whether it reports an error.
The program must end under heapdbg as it ends natively (the target is
sacred: heapdbg must not change what the program does).  The table says,
per technique, heapdbg's findings next to valgrind's first error.  Exit
status: 0 when every technique ended as natively, 1 otherwise.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(src, out):
    r = subprocess.run(["cc", "-g", "-O0", "-w", "-o", out, src, "-lpthread"], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def ended(rc):
    return "signal %s" % signal.Signals(-rc).name if rc < 0 else "exit %d" % rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("glibc", nargs="?", default="glibc_2.36")
    ap.add_argument("--heapdbg", default=os.path.join(TOP, "heapdbg"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tracer", choices=("fast", "breakpoints"), default="breakpoints")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    srcdir = os.path.join(a.dir, a.glibc)
    work = tempfile.mkdtemp(prefix="how2heap.")
    env = dict(os.environ, LC_ALL="C")
    env.pop("DEBUGINFOD_URLS", None)
    rows = []
    for name in sorted(f[:-2] for f in os.listdir(srcdir) if f.endswith(".c")):
        exe = os.path.join(work, name)
        good, err = build(os.path.join(srcdir, name + ".c"), exe)
        row = {"name": name}
        rows.append(row)
        if not good:
            row["skip"] = "does not build: " + err.strip().splitlines()[-1][:80]
            continue
        try:
            n = subprocess.run([exe], capture_output=True, timeout=a.timeout, stdin=subprocess.DEVNULL, env=env)
            row["native"] = ended(n.returncode)
        except subprocess.TimeoutExpired:
            row["skip"] = "hangs natively"
            continue
        try:
            h = subprocess.run([a.heapdbg, "-q", "--json", "-batch", "-ex", "trace start --" + a.tracer, "-ex", "continue",
                                "-ex", "check", "--args", exe], capture_output=True, text=True, errors="replace",
                               timeout=a.timeout * 3, stdin=subprocess.DEVNULL, env=env)
        except subprocess.TimeoutExpired:
            row["heapdbg"] = "timed out"
            row["same_end"] = False
            continue
        errs, findings, end = [], [], None
        for line in h.stdout.splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue
            for e in o.get("memory_errors", []):
                errs.append(e.get("kind"))
            if o.get("cmd") == "continue":
                end = "exit %s" % o["exit_code"] if "exit_code" in o else \
                      "signal %s" % o.get("signal") if "signal" in o else o.get("reason")
            if o.get("cmd") == "check":
                findings = sorted({f.get("kind") for f in o.get("findings", []) if f.get("severity") == "error"})
        row["heapdbg_end"] = end
        row["same_end"] = end == row["native"]
        row["memory_errors"] = sorted(set(errs))
        row["check"] = findings
        row["heapdbg_rc"] = h.returncode
        if shutil.which("valgrind"):
            try:
                v = subprocess.run(["valgrind", "-q", "--error-limit=no", exe], capture_output=True, text=True,
                                   errors="replace",
                                   timeout=a.timeout * 10, stdin=subprocess.DEVNULL, env=env)
                m = re.search(r"==\d+== (Invalid [^\n]*|[A-Z][a-z]+ [^\n]*uninitialised[^\n]*|Mismatched[^\n]*|"
                              r"Source and destination overlap[^\n]*)", v.stderr)
                row["valgrind"] = m.group(1) if m else ("no error" if v.returncode >= 0 else
                                                        "killed by " + ended(v.returncode))
            except subprocess.TimeoutExpired:
                row["valgrind"] = "timed out"
    shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print("%-32s %-10s %-10s %-28s %-30s %s" % ("technique", "native", "heapdbg", "at the call", "check at exit",
                                                 "valgrind's first error"))
        for r in rows:
            if "skip" in r:
                print("%-32s skipped: %s" % (r["name"], r["skip"]))
                continue
            print("%-32s %-10s %-10s %-28s %-30s %s" % (r["name"], r["native"], r.get("heapdbg_end") or "?",
                                                     ",".join(r.get("memory_errors", [])) or "-",
                                                     ",".join(r.get("check", [])) or "-", r.get("valgrind", "")[:60]))
        ran = [r for r in rows if "skip" not in r]
        seen = [r for r in ran if r.get("memory_errors") or r.get("check")]
        print("\n%d techniques ran; %d ended as natively under heapdbg; heapdbg reported %d of them "
              "(at the call or at exit)" % (len(ran), sum(1 for r in ran if r.get("same_end")), len(seen)))
    return 0 if all(r.get("same_end") for r in rows if "skip" not in r) else 1


if __name__ == "__main__":
    sys.exit(main())
