#!/usr/bin/env python3
# gdb's habits in the shell (on a pty): Enter repeats the last command
# (not kill, detach, quit, ...), continue says "Continuing.", typos get
# "did you mean", completion never offers what is already on the line
# and completes file and snapshot names, attach/detach/core inside the
# session, info threads / sharedlibrary / proc mappings, plurals, trace
# status after trace stop, info on a dead process, heap --by bytes.
import os, re, shutil, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
home = tmpdir("habits-home")
d = tmpdir("habits")
PROMPT = "(heapdbg) "

t = Target("sigcount")
p = Pty(["-p", str(t.pid)], home)
ok(p.read_until(PROMPT) is not None, "prompt")

# Enter repeats the last command
out = p.cmd("info threads")
ok(out and re.search(r"^\* 1 +Thread %d" % t.pid, out, re.M), "info threads: gdb's list", out)
again = p.cmd("")
ok(again and re.search(r"^\* 1 +Thread %d" % t.pid, again, re.M), "Enter on an empty line repeats it", again)

# continue says Continuing. first; plurals
out = p.cmd("continue 0.3")
ok(out and "Continuing.\r\n" in out and out.index("Continuing.") < out.index("timeout after"),
   "continue says 'Continuing.' when it starts", out)
ok(out and "1 thread stopped" in out and "1 threads" not in out, "one thread is 'thread'", out)

# typos
out = p.cmd("haep")
ok(out and "did you mean 'heap'?" in out, "a typo: did you mean", out)
out = p.cmd("info thraeds")
ok(out and "did you mean 'info threads'?" in out, "a typo of info's word: did you mean", out)
out = p.cmd("heap --bi bytes")
ok(out and "did you mean '--by'?" in out, "a typo of an option: did you mean", out)

# completion: what is typed is never offered again; snapshot and file names
p.cmd("snapshot alpha")
p.send("diff alp\t")
seen = p.read_until("alpha", 5)
ok(seen is not None, "completion of a snapshot name (diff alp -> alpha)", p.buf)
p.send(" alp\t")
time.sleep(0.5)
p.send("X\n")
out = p.read_until(PROMPT)
ok(out and "alpX" in out and "alphaX" not in out, "a snapshot already on the line is not offered again", out)
snapfile = os.path.join(d, "saved-alpha.snap")
p.cmd("save alpha " + snapfile)
p.send("load %s/saved-al\t" % d)
seen = p.read_until("saved-alpha.snap", 5)
ok(seen is not None, "completion of a file name (load)", p.buf)
out = p.cmd("")
ok(out and "Loaded snapshot" in out, "the completed file loads", out)
p.send("heap --by bytes --b\t")
time.sleep(0.5)
p.send("\n")
out = p.read_until(PROMPT)
ok(out and "--by bytes --by" not in out, "an option already typed is not offered again", out)

# info proc mappings and sharedlibrary, live
out = p.cmd("info proc mappings")
ok(out and re.search(r"0x[0-9a-f]+ +0x[0-9a-f]+ +0x[0-9a-f]+ +\S+ r-xp +\S*sigcount", out),
   "info proc mappings: the program's text", out)
out = p.cmd("info sharedlibrary")
ok(out and "libc.so.6" in out and "Syms Read" in out, "info sharedlibrary", out)

# trace status after trace stop: how long it was on
p.cmd("trace start")
p.cmd("continue 0.5")
out = p.cmd("trace stop")
ok(out and re.search(r"Tracing stopped after \d+\.\d s", out), "trace stop says how long it was on", out)
p.cmd("continue 0.3")
out = p.cmd("trace status")
m = re.search(r"Tracing off; it was on for (\d+\.\d) s", out or "")
ok(m and 0.4 <= float(m.group(1)) < 5, "trace status after trace stop: how long tracing was on", out)

# detach is not repeated by Enter; attach again; the session goes on
out = p.cmd("detach")
ok(out and "Detached from process %d" % t.pid in out, "detach says so", out)
out = p.cmd("")
ok(out is not None and "Detached" not in out and "error" not in out.lower(), "Enter does not repeat detach", out)
time.sleep(0.2)
ok(t.tracer() == 0, "detached: untraced")
out = p.cmd("attach %d" % t.pid)
ok(out and "Attached to process %d" % t.pid in out, "attach PID inside the shell", out)
ok(t.tracer() and t.tracer() > 0, "attached again")
p.cmd("set confirm off")
out = p.cmd("kill")
ok(out and "killed" in out and "(y or n)" not in out, "set confirm off: kill asks nothing", out)
out = p.cmd("info")
ok(out and "State:    gone, killed by SIGKILL" in out and "sigcount" in out, "info on the dead process describes it",
   out)
out = p.cmd("")
ok(out and "State:    gone" in out, "... and Enter repeats info", out)
t2 = Target("sigcount")
out = p.cmd("attach %d" % t2.pid)
ok(out and "Attached to process %d" % t2.pid in out, "attach another process after the first died", out)
out = p.cmd("diff alpha")
ok(out and "Heap diff alpha -> now" in out, "snapshots survive the change of target", out)
p.send("quit\n")
is_(p.exit_code(), 1, "quit: status 1, as the typos failed")
p.close()
time.sleep(0.2)
ok(t2.tracer() == 0 and t2.state() == "S", "the second process runs on untraced")
t2.stop()

# heap --by bytes: the bars follow the bytes
g = Target("snapgrow")
r = batch(["-p", str(g.pid)], "heap --by bytes", "heap", json_mode=False)
hb = [l for l in r.out.splitlines() if l.startswith("  >= ")]
half = len(hb) // 2
by_bytes, by_count = hb[:half], hb[half:]


def bars(lines):
    out = {}
    for l in lines:
        m = re.match(r"  >= (\S+ \S+) +(\d+) (#*) *(\S+) (\S+)$", l)
        if m:
            out[m.group(1)] = (int(m.group(2)), len(m.group(3)), m.group(4) + " " + m.group(5))
    return out


bb, bc = bars(by_bytes), bars(by_count)
ok("bars: bytes" in r.out and "bars: count" in r.out, "heap says what its bars scale by")
# snapgrow: 150 small chunks and 301 of about 1 KiB: by count 150 is half
# of 301's bar, by bytes far less
small = [k for k in bb if k.endswith(" B") and int(k.split()[0]) < 512]
big = [k for k in bb if k == "512 B"]
ok(small and big and bc[small[0]][1] >= 15 and bb[small[0]][1] <= 3 and bb[big[0]][1] == 40,
   "--by bytes: the 48-byte chunks' bar shrinks, the 1 KiB ones' is full", "%r\n%r" % (bb, bc))
js = batch(["-p", str(g.pid)], "heap --by bytes")
is_((js.cmd("heap") or {}).get("by"), "bytes", "JSON: by")
r = batch(["-p", str(g.pid)], "heap --by size")
ok(r.rc == 1 and "not count or bytes" in r.err, "heap --by something else: usage error", r.err)
g.stop()
done()
