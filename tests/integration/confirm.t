#!/usr/bin/env python3
# Questions before what cannot be undone, as gdb asks them: `kill` on a
# terminal asks "Kill the program being debugged? (y or n)"; `quit` (and
# Ctrl-D) with a program heapdbg started asks, then kills it and says so.
# Never a question in batch mode or with commands from a pipe, where a
# started program is killed at the end of the session with a message.
import os, re, signal, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
home = tmpdir("confirm-home")
sigcount = os.path.join(TARGETS, "sigcount")

# kill on a terminal: n keeps the process, y kills it
t = Target("sigcount")
p = Pty(["-p", str(t.pid)], home)
ok(p.read_until("(heapdbg) ") is not None, "kill: prompt shown")
p.send("kill\n")
q = p.read_until("(y or n) ")
ok(q is not None and "Kill the program being debugged?" in q, "kill asks first", q or p.buf)
out = p.cmd("n")
ok(out is not None and "Not confirmed" in out, "n: not confirmed", out)
ok(pid_alive(t.pid), "n: the process lives")
p.send("kill\n")
p.read_until("(y or n) ")
p.send("maybe\n")
q = p.read_until("(y or n) ")
ok(q is not None and "Please answer y or n." in q, "another answer: asked again", q or p.buf)
out = p.cmd("y")
ok(out is not None and re.search(r"Process %d killed" % t.pid, out), "y: killed, and said so", out)
is_(t.wait(10), -signal.SIGKILL, "y: the process died of SIGKILL")
p.send("quit\n")
is_(p.exit_code(), 0, "kill: heapdbg quits afterwards")
p.close()

# kill in batch mode: no question
t = Target("sigcount")
r = batch(["-p", str(t.pid)], "kill")
ok(r.rc == 0 and "(y or n)" not in r.out + r.err, "batch: kill asks nothing", r)
is_(t.wait(10), -signal.SIGKILL, "batch: kill kills")

# kill with commands from a pipe: no question either
t = Target("sigcount")
r = run(["-p", str(t.pid)], input="kill\n")
ok(r.rc == 0 and "(y or n)" not in r.out + r.err, "stdin a pipe: kill asks nothing", r)
is_(t.wait(10), -signal.SIGKILL, "stdin a pipe: kill kills")

# quit with a program heapdbg started, not at its exit
p = Pty(["--args", sigcount], home)
ok(p.read_until("(heapdbg) ") is not None, "launched: prompt shown")
info = p.cmd("info") or ""
m = re.search(r"live process (\d+)", info)
ok(m, "launched: info names the process", info)
pid = int(m.group(1)) if m else 0
p.send("quit\n")
q = p.read_until("(y or n) ")
ok(q is not None and "was started by heapdbg and will be killed" in q and str(pid) in q,
   "quit asks before killing what heapdbg started", q or p.buf)
out = p.cmd("n")
ok(out is not None and "Not confirmed" in out, "n: back at the prompt", out)
ok(pid_alive(pid), "n: the program lives")
p.send("quit\n")
p.read_until("(y or n) ")
p.send("y\n")
st = p.exit_code()
is_(st, 0, "y: heapdbg ends with status 0")
ok("Killed process %d, which heapdbg started" % pid in p.buf, "y: says it killed the program", p.buf)
time.sleep(0.3)
ok(not pid_alive(pid), "y: the program is gone, not an orphan")
p.close()

# Ctrl-D asks the same; end of input at the question answers yes (gdb)
p = Pty(["--args", sigcount], home)
p.read_until("(heapdbg) ")
info = p.cmd("info") or ""
m = re.search(r"live process (\d+)", info)
pid = int(m.group(1)) if m else 0
p.send("\x04")
q = p.read_until("(y or n) ")
ok(q is not None and "Quit anyway?" in q, "Ctrl-D asks too", q or p.buf)
p.send("\x04")
is_(p.exit_code(), 0, "Ctrl-D at the question: heapdbg ends")
ok("answered Y" in p.buf and "Killed process %d" % pid in p.buf, "... answered yes and killed it", p.buf)
time.sleep(0.3)
ok(pid and not pid_alive(pid), "Ctrl-D: the program is gone")
p.close()

# quit with a program held at its exit: no question, it finishes
p = Pty(["--args", os.path.join(TARGETS, "exitcode"), "3"], home)
p.read_until("(heapdbg) ")
out = p.cmd("continue")
ok(out is not None and "exited with status 3" in out, "exitcode: held at its exit", out)
p.send("quit\n")
is_(p.exit_code(), 0, "held at its exit: quit asks nothing")
ok("(y or n)" not in p.buf, "... no question", p.buf)
p.close()

# an attached process is detached on quit, never killed, never asked
t = Target("sigcount")
p = Pty(["-p", str(t.pid)], home)
p.read_until("(heapdbg) ")
p.send("quit\n")
is_(p.exit_code(), 0, "attached: quit ends")
ok("(y or n)" not in p.buf, "attached: no question", p.buf)
time.sleep(0.2)
ok(t.state() == "S" and t.tracer() == 0, "attached: running and untraced")
p.close()
t.stop()

# batch with --args: the program is killed at the end, and heapdbg says so
r = run(["-batch", "-ex", "info", "--args", sigcount])
pid = (r.cmd("info") or {}).get("pid")
ok(r.rc == 0 and pid and "killed process %d, which heapdbg started" % pid in r.err, "batch: says it killed "
   "the program it started", r)
time.sleep(0.3)
ok(pid and not pid_alive(pid), "batch: the program is gone")
done()
