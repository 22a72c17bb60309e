#!/usr/bin/env python3
# The interactive shell on a terminal (a pty): prompt, help, tab
# completion of commands and options, Ctrl-C at the prompt and during
# `continue`, history file, and Ctrl-D leaving with the target unharmed.
import os, pty, select, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
home = tmpdir("shell-home")
t = Target("sigcount")

pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ["TERM"] = "dumb"
    os.execv(HEAPDBG, [HEAPDBG, "-q", "-p", str(t.pid)])

buf = ""


def read_until(text, timeout=10):
    global buf
    end = time.time() + timeout
    while time.time() < end:
        if text in buf:
            i = buf.index(text) + len(text)
            seen, buf = buf[:i], buf[i:]
            return seen
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    return None


def send(s):
    os.write(fd, s.encode())


ok(read_until("(heapdbg) ") is not None, "prompt shown")
send("help\n")
out = read_until("(heapdbg) ")
ok(out is not None and "continue [SECONDS]" in out and "bt [TID|all]" in out, "help lists commands", out)
send("hel\t")
out = read_until("help")
ok(out is not None, "tab completes a command name", out)
send(" con\t")
out = read_until("continue")
ok(out is not None, "tab completes a command name as help's argument", out)
send("\n")
read_until("(heapdbg) ")
send("bt a\t")
out = read_until("all")
ok(out is not None, "tab completes a command's word (bt all)", out)
send("\x03")  # Ctrl-C at the prompt drops the line
out = read_until("(heapdbg) ")
ok(out is not None and "^C" in out, "Ctrl-C at the prompt gives a new prompt", out)
send("info\n")
out = read_until("(heapdbg) ")
ok(out is not None and "Threads:" in out and "all" not in out.split("info")[0][-5:], "the dropped line did not run", out)
send("continue\n")
time.sleep(0.8)
send("\x03")  # Ctrl-C while the target runs
out = read_until("(heapdbg) ", 15)
ok(out is not None and "interrupted" in out, "Ctrl-C interrupts continue", out)
send("\x04")  # Ctrl-D
end = time.time() + 10
status = None
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
        break
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.05)
ok(status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "Ctrl-D leaves with status 0")
hist = os.path.join(home, ".heapdbg_history")
ok(os.path.exists(hist) and "continue" in open(hist).read(), "history saved in ~/.heapdbg_history")
time.sleep(0.2)
ok(t.state() == "S" and t.tracer() == 0, "target running and untraced")
t.signal(signal.SIGUSR2)
is_(t.read_until("count="), "count=0", "target saw no signal")

# what comes from the target never drives the terminal: control bytes in
# its command line are shown escaped in text, JSON-escaped in JSON
hostile = "1\x1b[2J\tz"
r = run(["-batch", "-ex", "info", "--args", "/bin/sleep", hostile], json_mode=False)
cmdline = [l for l in r.out.splitlines() if l.startswith("Command:")]
ok(r.rc == 0 and cmdline and cmdline[0].endswith("/bin/sleep 1\\x1b[2J\\tz") and "\x1b" not in r.out,
   "text: a command line's control bytes are escaped", r)
r = run(["-batch", "-ex", "info", "--args", "/bin/sleep", hostile])
is_((r.cmd("info") or {}).get("cmdline"), "/bin/sleep " + hostile, "JSON: the command line as it is")
done()
