#!/usr/bin/env python3
# A process glibc's malloc aborted (malloc_printerr): `check` on its
# kernel core, with and without libc's debug info, and on the process
# held at its exit in launch mode, says which message glibc printed and
# for which block -- in text and JSON, as an error (--error-exitcode).
import os, resource, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
d = tmpdir("heap-abort")
prog = os.path.join(TARGETS, "aborter")
cases = [
    ("tcache2", "free(): double free detected in tcache 2", "tcache"),
    ("fasttop", "double free or corruption (fasttop)", "fastbin"),
    ("prev", "double free or corruption (!prev)", "used"),
]


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def check_abort(r, label, msg, victim, state):
    c = r.cmd("check") or {}
    ab = c.get("abort") or {}
    f = (c.get("findings") or [{}])[0]
    ok(c.get("ok") is False and ab.get("message") == msg, "%s: glibc's message '%s'" % (label, msg), c)
    is_(ab.get("addr"), "0x%x" % victim, "%s: the block it was about" % label)
    ok(f.get("kind") == "glibc-abort" and f.get("addr") == "0x%x" % victim and msg in f.get("message", "")
       and ("%s)" % state) in f.get("message", ""), "%s: the first finding says so (%s)" % (label, state), f)
    is_(r.rc, 7, "%s: --error-exitcode applies" % label)


with open("/proc/sys/kernel/core_pattern") as fp:
    pattern = fp.read().strip()
for mode, msg, state in cases:
    core = os.path.join(d, "core")
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    p = subprocess.run([prog, mode], cwd=d, capture_output=True, text=True, preexec_fn=unlimited_core,
                       timeout=30)
    victim = int(p.stdout.split()[1], 16) if p.stdout.startswith("victim") else 0
    ok(p.returncode == -6 and msg in p.stderr, "%s: glibc aborted it (%s)" % (mode, p.stderr.strip()))
    cores = [n for n in os.listdir(d) if n.startswith("core")]
    if pattern.startswith("|") or not cores:
        for n in range(8):
            skip("%s: core" % mode, "no kernel core written here (core_pattern %r)" % pattern)
    else:
        core = os.path.join(d, cores[0])
        for label, extra in (("core", []), ("core, no libc debug info", ["--debug-file-directory=/nonexistent"])):
            r = batch(extra + ["--error-exitcode=7", "-c", core, prog], "check")
            check_abort(r, "%s: %s" % (mode, label), msg, victim, state)
    # launch mode: held at its exit with its memory intact
    r = run(["-batch", "--error-exitcode=7", "-ex", "continue", "-ex", "check", "--args", prog, mode])
    # (the program prints its victim on its stdout: under --json that is
    # heapdbg's stderr)
    vl = [l for l in r.err.splitlines() if l.startswith("victim")]
    v = int(vl[0].split()[1], 16) if vl else 0
    check_abort(r, "%s: live, at exit" % mode, msg, v, state)

# a process glibc did not abort: no such finding
t = Target("heapstates", ["nothreads"])
r = batch(["-p", str(t.pid)], "check")
ok("abort" not in (r.cmd("check") or {}), "a live process that did not abort: no glibc-abort")
t.stop()
done()
