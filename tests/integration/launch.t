#!/usr/bin/env python3
# --args PROG: started stopped with libc loaded and relocated, before any
# initialiser runs (so tracing sees allocations made before main);
# continue runs it; at its exit (or death by signal) it is held with its
# memory intact, then let go, and its status is reported.
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
prog = os.path.join(TARGETS, "exitcode")
r = run(["-batch", "-ex", "info", "-ex", "bt", "-ex", "continue", "-ex", "info", "-ex", "bt",
         "--args", prog, "3"])
ok(r.rc == 0, "batch run succeeds", r)
i1, i2 = r.cmd("info", 0) or {}, r.cmd("info", 1) or {}
is_(i1.get("state"), "stopped", "before main: stopped")
ok(i1.get("launched") is True, "info says heapdbg started it")
mods = [m.get("name", "") for m in i1.get("modules", [])]
ok(any("libc.so" in m for m in mods), "libc is loaded before main runs", mods)
f0 = ((r.cmd("bt", 0) or {}).get("threads") or [{}])[0].get("frames", [])
ok(f0 and norm_func(f0[0].get("func")) == "dl_debug_state" and "ld-linux" in f0[0].get("module", ""),
   "stopped where the loader reports every library relocated, before any initialiser", f0)
c = r.cmd("continue") or {}
is_(c.get("reason"), "exited", "continue ends at the exit")
is_(c.get("exit_code"), 3, "exit status 3")
is_(i2.get("state"), "at-exit", "info: held at its exit")
f1 = [f.get("func") for f in ((r.cmd("bt", 1) or {}).get("threads") or [{}])[0].get("frames", [])]
ok(any(norm_func(x) == "exit" for x in f1), "bt at exit shows exit()", f1)
ok("exited with status 3" in r.err, "final status reported", r.err)

r = run(["-batch", "-ex", "continue", "-ex", "x kept 64", "--args", prog, "segv"])
c = r.cmd("continue") or {}
is_(c.get("reason"), "exited", "death by signal: held at the exit")
is_(c.get("signal"), "SIGSEGV", "killed by SIGSEGV")
x = r.cmd("x") or {}
ok(len(x.get("bytes", "")) == 128, "memory still readable at the exit (x kept)", r)
ok("killed by SIGSEGV" in r.err, "final status reported", r.err)

r = run(["-batch", "-ex", "continue", "-ex", "continue", "-ex", "info", "-ex", "heap", "--args", prog, "0"])
cs = [o for o in r.objs if o.get("cmd") == "continue"]
is_([o.get("reason") for o in cs], ["exited", "gone"], "continue again lets it finish")
ok("error" in (r.cmd("heap") or {}) and r.rc == 1, "commands after it is gone fail cleanly", r)
i = r.cmd("info") or {}
ok("error" not in i and i.get("state") == "gone" and i.get("exit") == "exited with status 0" and
   i.get("exe", "").endswith("exitcode"), "info describes the dead process instead of failing", i)

r = run(["-batch", "-ex", "info", "--args", os.path.join(TARGETS, "no-such-program")])
ok(r.rc == 2 and "cannot execute" in r.err, "a missing program: exit 2, clear message", r)
# allocations made before main, traced: a constructor's, libstdc++'s
# emergency pool (an initialiser of a library)
if os.path.exists(os.path.join(TARGETS, "ctoralloc")):
    # (without libstdc++'s freeres, which valgrind and heapdbg run at the
    # exit: it frees the pool)
    r = run(["--run-cxx-freeres=no", "-batch", "-ex", "trace start", "-ex", "continue", "-ex",
             "leaks --show-reachable", "--args", os.path.join(TARGETS, "ctoralloc")])
    recs = (r.cmd("leaks") or {}).get("records", [])
    def funcs(x):
        return [norm_func(f.get("func")) for f in (x.get("stack") or {}).get("frames", [])]
    by = {(x["kind"], x["bytes"]): funcs(x) for x in recs}
    ok("early" in by.get(("definite", 40), []) and "early" in by.get(("reachable", 24), []),
       "the constructor's blocks are traced, with the constructor on their stacks", recs)
    pool = [x for x in recs if x["kind"] == "reachable" and x["bytes"] >= 65536]
    ok(pool and pool[0].get("stack") and any("libstdc++" in f.get("module", "")
                                             for f in pool[0]["stack"].get("frames", [])),
       "libstdc++'s emergency pool is traced (requested size, allocated from libstdc++)", pool)
    # at the exit, as under valgrind, libstdc++'s and glibc's freeres run
    # first: the pool is freed (the frees are traced)
    r = run(["-batch", "-ex", "trace start", "-ex", "continue", "-ex", "leaks --show-reachable", "-ex",
             "trace status", "--args", os.path.join(TARGETS, "ctoralloc")])
    recs = (r.cmd("leaks") or {}).get("records", [])
    ok(recs and not [x for x in recs if x["bytes"] >= 65536], "with the runtimes' freeres at the exit: no pool", recs)
    if have("valgrind") and not SANITIZERS:
        v = subprocess.run(["valgrind", "--leak-check=full", os.path.join(TARGETS, "ctoralloc")],
                           capture_output=True, text=True, timeout=300)
        is_(heapdbg_leaks(r), valgrind_leaks(v.stderr), "traced from the start, freeres at the exit: valgrind's numbers")
    else:
        skip("valgrind's numbers", "valgrind unavailable or sanitizer build")
else:
    for n in range(4):
        skip("allocations before main", "no ctoralloc")
# the exit break (an int3 at _exit, for the freeres calls) is never in a
# child: fork, vfork and posix_spawn children exit with their own status;
# stdio's buffer is freed by glibc's freeres at the exit, as under valgrind
fe = os.path.join(TARGETS, "forkexit")
r = run(["-batch", "-ex", "continue", "-ex", "leaks", "--args", fe])
# (the program's stdout is heapdbg's stderr under --json)
is_([l for l in r.err.splitlines() if l.split(":")[0] in ("fork child", "vfork child", "spawn")], ["fork child: 5 sig 0", "vfork child: 6 sig 0", "spawn: 2"],
    "children exit with their own status, none traps")
is_((r.cmd("continue") or {}).get("exit_code"), 3, "the program's own status")
if have("valgrind") and not SANITIZERS:
    v = subprocess.run(["valgrind", "--leak-check=full", fe], capture_output=True, text=True, timeout=300)
    k = v.stderr.count("LEAK SUMMARY") + v.stderr.count("All heap blocks were freed")
    is_(heapdbg_leaks(r), valgrind_leaks(v.stderr, k - 1), "at the exit (stdio's buffer freed): valgrind's numbers")
else:
    skip("valgrind's numbers", "valgrind unavailable or sanitizer build")
r = run(["--run-libc-freeres=no", "-batch", "-ex", "continue", "-ex", "leaks", "--args", fe])
ok((heapdbg_leaks(r) or {}).get("reachable", (0, 0))[0] >= 1, "--run-libc-freeres=no: stdio's buffer is still there", r)
done()
