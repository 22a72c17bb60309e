#!/usr/bin/env python3
# The heap walk on real programs we did not write -- python3 (with sqlite3,
# json and threads), perl, the sqlite3 shell -- checked against their own
# mallinfo2(), which an LD_PRELOAD shim reports on SIGUSR2 once heapdbg has
# detached (the program is idle in between, so the heap is the same).
# `monitor --quick`, which reads glibc's totals from the arenas' free
# lists without a walk, must give the same numbers as mallinfo2 itself.
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
PRELOAD = os.path.join(TARGETS, "libmallinfo-preload.so")
d = tmpdir("heap-real")

PY = r'''
import json, os, sqlite3, sys, threading, time
db = sqlite3.connect(":memory:")
db.execute("create table t (a integer primary key, b text)")
db.executemany("insert into t values (?, ?)", ((i, "x" * (i % 300)) for i in range(20000)))
rows = db.execute("select b from t where a % 7 = 0").fetchall()
docs = [json.dumps({"k": i, "v": "y" * (i % 700)}) for i in range(20000)]
big = [bytearray(300000) for _ in range(3)]
stop = threading.Event()
ready = threading.Barrier(4)
def work(n):
    keep = [bytearray(1000 + (i * 37) % 3000) for i in range(3000 + n)]
    ready.wait()
    stop.wait()
threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
ready.wait()
os.write(1, b"ready %d\n" % os.getpid())
time.sleep(600)
'''

PERL = r'''
my %h; my @a;
for my $i (0 .. 50000) { $h{"key$i"} = "v" x ($i % 500); push @a, [ $i, "z" x ($i % 100) ]; }
my $big = "q" x 5000000;
$| = 1;
print "ready $$\n";
sleep 600;
'''

SQL = """
create table t (a integer primary key, b text, c blob);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 30000)
insert into t select i, printf('%.*c', i % 400, 'x'), randomblob(i % 700) from n;
create index tb on t(b);
select count(*), sum(length(c)) from t;
.print ready
"""

programs = []
if have("python3"):
    programs.append(("python3", ["python3", "-c", PY], None))
if have("perl"):
    programs.append(("perl", ["perl", "-e", PERL], None))
if have("sqlite3"):
    programs.append(("sqlite3", ["sqlite3", "-batch"], SQL))

for name, argv, stdin_text in programs:
    out = os.path.join(d, name + ".mallinfo")
    env = dict(os.environ, LD_PRELOAD=PRELOAD, HEAPDBG_MALLINFO_OUT=out)
    env.pop("GLIBC_TUNABLES", None)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    if stdin_text:
        p.stdin.write(stdin_text.encode())
        p.stdin.flush()       # keep stdin open: the shell waits for more
    line = b""
    end = time.time() + 60
    while b"ready" not in line and time.time() < end:
        line = p.stdout.readline()
        if not line:
            break
    if b"ready" not in line:
        ok(False, "%s: started" % name, line)
        p.kill()
        continue
    time.sleep(0.5)           # let it settle into its wait
    r = batch(["-p", str(p.pid)], "heap", "check", "info", "monitor --quick 0.01 1")
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGUSR2)
    mi = None
    for _ in range(50):
        time.sleep(0.1)
        if os.path.exists(out) and open(out).read().strip():
            mi = parse_kv(open(out).read().strip().splitlines()[-1][len("mallinfo2"):])
            break
    ok(r.rc == 0, "%s: heap, check, info succeed" % name, r)
    h = r.cmd("heap") or {}
    check_identities(h, mi or {}, "%s (%d arenas, %s chunks)" % (name, len(h.get("arenas", [])), h.get("nchunks")))
    c = r.cmd("check") or {}
    ok(c.get("ok") is True, "%s: check finds no corruption" % name, c.get("findings"))
    is_((r.cmd("info") or {}).get("allocator"), "glibc-ptmalloc", "%s: glibc malloc" % name)
    q = r.cmd("monitor") or {}
    if mi:
        quick_vs_mallinfo(q, mi, "%s: monitor --quick" % name)
    else:
        ok(False, "%s: the shim reported mallinfo2" % name)
    p.kill()
    p.wait()
done()
