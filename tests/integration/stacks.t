#!/usr/bin/env python3
# Stacks people can read: allocation stacks (top, leaks, chunk, diff and
# the pprof and folded exports) start at the program's own function, not
# in malloc or operator new (--allocator-frames or `set allocator-frames
# on` keep them); one frame format in bt, top, leaks, diff and chunk;
# source paths relative to the build's root in text, full in JSON; long
# C++ names shortened in text, full in JSON.
import json, os, re, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
d = tmpdir("stacks")
leaky = os.path.join(TARGETS, "leaky")
ALLOC = ("malloc", "calloc", "realloc", "libc_malloc", "libc_calloc", "libc_realloc")
LEAKY_C = os.path.realpath(os.path.join(TOP, "tests", "targets", "leaky.c"))
# the one frame format: "#N  0xPC in NAME at FILE:LINE from MODULE", an
# inlined frame without its address
FRAME = re.compile(r"^\s*#(\d+) +(?:0x[0-9a-f]+ in |\s+)(\S.*?)(?: at (\S+?)(?::(\d+))?)?(?: from (\S+))?$")


def interact(args, first, then, json_mode):
    """heapdbg reading commands from a pipe: send first, read until a
    sample address shows, then send then(address); all the output."""
    cmd = [HEAPDBG, "-q"] + (["--json"] if json_mode else []) + list(args)
    env = dict(os.environ, LC_ALL="C")
    env.pop("DEBUGINFOD_URLS", None)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    p.stdin.write("".join(c + "\n" for c in first))
    p.stdin.flush()
    out = ""
    end = time.time() + 60
    addr = None
    while time.time() < end and addr is None:
        line = p.stdout.readline()
        if not line:
            break
        out += line
        m = re.search(r'"sample":"(0x[0-9a-f]+)"|e\.g\. (0x[0-9a-f]+)', line)
        if m:
            addr = m.group(1) or m.group(2)
    p.stdin.write("".join(c + "\n" for c in then(addr or "0")))
    p.stdin.close()
    p.stdin = None
    rest, err = p.communicate(timeout=120)
    return Result(p.returncode, out + rest, err)


first = ["snapshot a", "trace start", "continue", "top 100"]
then = lambda a: ["chunk " + a, "leaks", "diff a", "export pprof %s/heap.pb.gz" % d,
                  "export folded %s/heap.folded" % d]
js = interact(["--args", leaky, "exit"], first, then, True)
tx = interact(["--args", leaky, "exit"], first, then, False)
ok(js.rc == 0 and tx.rc == 0, "two sessions of leaky under trace", "%r\n%r" % (js, tx))


def first_funcs(res):
    """The first frame's function of every allocation stack, per command."""
    out = {}
    top = res.cmd("top") or {}
    out["top"] = [g["stack"]["frames"][0].get("func") for g in top.get("groups", []) if g["stack"]["frames"]]
    lk = res.cmd("leaks") or {}
    out["leaks"] = [r["stack"]["frames"][0].get("func") for r in lk.get("records", []) if r.get("stack")]
    df = res.cmd("diff") or {}
    out["diff"] = [g["stack"][0].get("func") for g in df.get("groups", []) if g.get("stack")]
    ch = res.cmd("chunk") or {}
    out["chunk"] = [ch.get("alloc", {}).get("frames", [{}])[0].get("func")]
    return out


ff = first_funcs(js)
for c in ("top", "leaks", "diff", "chunk"):
    ok(ff[c] and all(f in ("list", "main") for f in ff[c]), "%s: every allocation stack starts at the program's "
       "own function" % c, ff[c])
ok((js.cmd("top") or {}).get("groups") and
   all(g["stack"].get("allocator_frames") == 1 for g in (js.cmd("top") or {}).get("groups", [])),
   "top: JSON counts the one allocator frame left out", (js.cmd("top") or {}).get("groups", [{}])[:1])

# text: the first frame of every allocation stack is the program's too
zero = [l for l in tx.out.splitlines() if re.match(r"^\s*#0 ", l)]
ok(zero and all(re.search(r" in (list|main) \(\) at tests/targets/leaky\.c:\d+ from leaky$", l) for l in zero),
   "text: every #0 line is list () or main () at tests/targets/leaky.c", zero[:5])
ok("malloc" not in tx.out and "calloc" not in tx.out, "text: no allocator frame anywhere", tx.out[:3000])

# one frame format: every frame line parses; one pc prints the same everywhere
bad = [l for l in tx.out.splitlines() if re.match(r"^\s*#\d+ ", l) and not FRAME.match(l)]
ok(not bad, "every frame line has the one format", bad[:5])
bt = run(["-batch", "-ex", "continue 0.5", "-ex", "bt all", "--args", os.path.join(TARGETS, "threads4"), "1"],
         json_mode=False)
lines = [l for l in tx.out.splitlines() + bt.out.splitlines() if re.match(r"^\s*#\d+ ", l)]
bad = [l for l in lines if not FRAME.match(l) or (" in " in l and not re.search(r"\S \(\)| \S+\(.*\)", l))]
ok(lines and not bad, "bt, top, leaks, diff and chunk: name then () (or a C++ signature), at, from", bad[:5])
by_pc = {}
for l in tx.out.splitlines():
    m = re.match(r"^\s*#\d+ +(0x[0-9a-f]+ in .*)$", l)
    if m:
        by_pc.setdefault(m.group(1).split()[0], set()).add(m.group(1))
ok(by_pc and all(len(v) == 1 for v in by_pc.values()), "a pc prints the same in every command",
   [v for v in by_pc.values() if len(v) > 1][:3])
ok(all(any(("in list () at tests/targets/leaky.c:39" in l) for l in part.splitlines())
       for part in re.split(r"\n(?=Outstanding:|Leak check|Heap diff|chunk 0x)", tx.out)[1:4]),
   "list () at tests/targets/leaky.c:39 in top, leaks and diff alike")

# paths: relative to the build's root in text, full in JSON
files = set()
for g in (js.cmd("top") or {}).get("groups", []):
    for f in g["stack"]["frames"]:
        if f.get("module") == "leaky" and f.get("file"):
            files.add(f["file"])
is_(sorted(files), [LEAKY_C], "JSON: the program's frames carry the full path of leaky.c")
ok("at tests/targets/leaky.c:" in tx.out and LEAKY_C not in tx.out, "text: the path relative to the build's root")

# exports: folded leaves and pprof's flat bytes are the program's functions
folded = open(os.path.join(d, "heap.folded")).read().splitlines() if os.path.exists(os.path.join(d, "heap.folded")) else []
leaves = [l.rsplit(" ", 1)[0].split(";")[-1] for l in folded if not l.startswith("[")]
ok(leaves and all(x in ("list", "main") for x in leaves), "folded: every traced stack ends in list or main", leaves)
if have("go"):
    pb = os.path.join(d, "heap.pb.gz")
    p = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=inuse_space", pb], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, HOME=d, GOCACHE=os.path.join(d, "gocache")))
    flat = {}
    for l in p.stdout.splitlines():
        m = re.match(r"^\s*([\d.]+)(\w*)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\w*\s+[\d.]+%\s+(.+)$", l)
        if m and float(m.group(1)) > 0:
            flat[m.group(3).strip()] = m.group(1) + m.group(2)
    named = [n for n in flat if not n.startswith("[")]
    ok(p.returncode == 0 and named and all(n in ("list", "main") for n in named),
       "go tool pprof -top: the flat bytes are in list and main, not in malloc", p.stdout + p.stderr)
else:
    skip("go tool pprof -top: flat bytes in the caller", "go not installed")

# keeping the allocator's frames: --allocator-frames, set allocator-frames on
for how, extra, pre in (("--allocator-frames", ["--allocator-frames"], []),
                        ("set allocator-frames on", [], ["set allocator-frames on"])):
    r = run(extra + ["-batch"] + sum((["-ex", c] for c in pre + ["trace start", "continue", "top 100"]), []) +
            ["--args", leaky, "exit"])
    f0 = [norm_func(g["stack"]["frames"][0].get("func")) for g in (r.cmd("top") or {}).get("groups", [])]
    ok(f0 and all(f in ALLOC for f in f0), "%s: stacks start in malloc/calloc again" % how, f0)

# C++: operator new and std::allocator left out, long names shortened in
# text, in full in JSON
cxx = os.path.join(TARGETS, "cxxmap")
if os.path.exists(cxx):
    cmds = ["-batch", "-ex", "trace start", "-ex", "continue", "-ex", "top 100"]
    rj = run(cmds + ["--args", cxx])
    rt = run(cmds + ["--args", cxx], json_mode=False)
    groups = (rj.cmd("top") or {}).get("groups", [])
    f0 = [g["stack"]["frames"][0].get("func", "") for g in groups]
    ok(f0 and not [f for f in f0 if "operator new" in f or re.search(r"::allocate\(", f) or norm_func(f) in ALLOC],
       "C++: no stack starts in operator new, std::allocator or malloc", f0)
    ok(any(f.startswith("heapdbg_test::make_widget") for f in f0), "C++: new widget starts at make_widget", f0)
    full = [f.get("func", "") for g in groups for f in g["stack"]["frames"]]
    longest = max(full, key=len) if full else ""
    ok(len(longest) > 100 and "std::map<std::__cxx11::basic_string<char" in " ".join(full),
       "JSON: C++ names in full (longest %d characters)" % len(longest))
    flines = [l for l in rt.out.splitlines() if re.match(r"^\s*#\d+ ", l)]
    ok(flines and max(len(l) for l in flines) < 260, "text: no frame line is long (longest %d)" %
       max([len(l) for l in flines] or [0]), max(flines, key=len) if flines else rt)
    ok(any("std::map<...>::operator[](" in l for l in flines), "text: template arguments elided (std::map<...>)",
       flines[:10])
    ok(not any("operator new" in l for l in flines), "text: no operator new frame")
    rw = run(["-ex", "set name-width 0"] + cmds + ["--args", cxx], json_mode=False)
    ok(any("std::map<std::__cxx11::basic_string<char" in l for l in rw.out.splitlines()),
       "set name-width 0: full names in text")
else:
    for n in range(7):
        skip("C++ stacks", "no C++ compiler: tests/targets/cxxmap not built")
done()
