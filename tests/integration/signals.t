#!/usr/bin/env python3
# While heapdbg holds or runs a target: signals for the target reach it
# unchanged; Ctrl-C (SIGINT to heapdbg) interrupts `continue` and the
# session goes on; SIGTERM/SIGHUP end heapdbg cleanly with the target
# running untraced; a stopped job stays stopped after detach.
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()

# signals passed on during continue
t = Target("sigcount")
p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(t.pid), "-batch", "-ex", "continue 2"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.7)
for _ in range(5):
    t.signal(signal.SIGUSR1)
    time.sleep(0.05)
out, err = p.communicate(timeout=30)
r = Result(p.returncode, out, err)
c = r.cmd("continue") or {}
is_(c.get("reason"), "timeout", "continue 2 ends by time")
is_(c.get("signals_passed"), 5, "5 signals passed on")
t.signal(signal.SIGUSR2)
is_(t.read_until("count="), "count=5", "the target received all 5 SIGUSR1")
is_(t.wait(), 0, "target exited normally")


def interactive_stdin(pid, sig):
    proc = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(pid)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("continue\n")
    proc.stdin.flush()
    time.sleep(0.8)
    proc.send_signal(sig)
    if sig == signal.SIGINT:
        time.sleep(0.3)
        proc.stdin.write("info\n")
        proc.stdin.flush()
    proc.stdin.close()
    proc.stdin = None
    out, err = proc.communicate(timeout=30)
    return proc.returncode, Result(proc.returncode, out, err)


# Ctrl-C interrupts continue; the session continues
t = Target("sigcount")
rc, r = interactive_stdin(t.pid, signal.SIGINT)
is_((r.cmd("continue") or {}).get("reason"), "interrupted", "SIGINT interrupts continue")
ok((r.cmd("info") or {}).get("pid") == t.pid, "the next command runs after Ctrl-C", r)
is_(rc, 0, "exit 0 at end of input")
time.sleep(0.2)
ok(t.state() == "S" and t.tracer() == 0, "target running and untraced afterwards")

# SIGTERM and SIGHUP: clean up and die by the signal
for sig in (signal.SIGTERM, signal.SIGHUP):
    rc, r = interactive_stdin(t.pid, sig)
    is_(rc, -sig, "%s: heapdbg dies by the signal after cleaning up" % signal.Signals(sig).name)
    time.sleep(0.2)
    ok(t.state() == "S" and t.tracer() == 0, "%s: target running and untraced" % signal.Signals(sig).name)
t.signal(signal.SIGUSR2)
is_(t.read_until("count="), "count=0", "target never saw a signal meant for heapdbg")

# batch mode: SIGINT ends the run (as gdb -batch): the command it
# interrupts reports so, no further command runs (not even a further
# continue with tracing on), the target is restored, the status non-zero
t = Target("sigcount")
p = subprocess.Popen([HEAPDBG, "-q", "--json", "-p", str(t.pid), "-batch", "-ex", "trace start", "-ex", "continue",
                      "-ex", "trace status", "-ex", "continue", "-ex", "info"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=30)
r = Result(p.returncode, out, err)
is_((r.cmd("continue") or {}).get("reason"), "interrupted", "batch: SIGINT interrupts continue")
is_([o.get("cmd") for o in r.objs], ["trace", "continue"], "batch: no command runs after SIGINT")
ok(r.rc != 0, "batch: SIGINT gives a non-zero status (%s)" % r.rc, r)
ok("interrupted" in r.err, "batch: says the run was interrupted", r.err)
time.sleep(0.2)
ok(t.state() == "S" and t.tracer() == 0, "batch: target running and untraced afterwards")
t.signal(signal.SIGUSR2)
is_(t.read_until("count="), "count=0", "batch: the target saw no signal meant for heapdbg")
is_(t.wait(), 0, "batch: target exits normally")

# a stopped job stays stopped; a running one runs
t = Target("sigcount")
t.signal(signal.SIGSTOP)
time.sleep(0.2)
is_(t.state(), "T", "job stopped before attach")
r = batch(["-p", str(t.pid)], "info")
time.sleep(0.2)
is_(t.state(), "T", "after attach+detach: still stopped")
r = batch(["-p", str(t.pid)], "continue 0.3")
time.sleep(0.2)
is_(t.state(), "T", "after continue+detach: still stopped")
t.signal(signal.SIGCONT)
time.sleep(0.2)
is_(t.state(), "S", "SIGCONT resumes it")
r = batch(["-p", str(t.pid)], "info")
time.sleep(0.2)
is_(t.state(), "S", "a running job runs after detach")
t.signal(signal.SIGUSR2)
is_(t.wait(), 0, "target exits normally")
done()
