#!/usr/bin/env python3
# Leaks by reachability on a program with known leaks of every kind: the
# exact counts live and on a core; at exit (launch mode) the same block
# counts as valgrind memcheck, category by category; no false leak from a
# heap full of tcache'd and fastbin chunks; `refs` finds the pointer held
# in a register, on a stack and in a global; `refs --chain`; and
# --error-exitcode.
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
t = Target("leaky")
exp = t.values("expect")
addr = {k: int(t.values(k) and 0 or 0) for k in ()}
places = {}
for line in t.lines:
    parts = line.split()
    if len(parts) == 2 and parts[0] in ("global", "stack", "reg", "lostlist"):
        places[parts[0]] = int(parts[1], 16)
threads = len(t.tids())


def summary(res):
    l = res.cmd("leaks") or {}
    return {k: l.get(k, {}).get("blocks") for k in ("definite", "indirect", "possible", "reachable")}


r = batch(["-p", str(t.pid)], "leaks", "heap")
s = summary(r)
is_(s["definite"], exp["definite"], "live: definitely lost blocks")
is_(s["indirect"], exp["indirect"], "live: indirectly lost blocks")
# each thread but the main one has a DTV glibc points 16 bytes into:
# possibly lost, as valgrind reports it under pthread_create
is_(s["possible"], exp["possible"] + threads - 1, "live: possibly lost blocks (+1 DTV per extra thread)")
ok(s["reachable"] >= 5 + 1 + 1, "live: still reachable blocks include the list, the stack and the register block")
recs = (r.cmd("leaks") or {}).get("records", [])
ok(recs and recs[0]["kind"] in ("definite", "possible", "indirect"), "records are sorted biggest first")
ok(all("sample" in x and "what" in x for x in recs), "every record has a sample and what it looks like")

# suppressions on untraced records (they have no allocation stack): an
# entry whose frames match any stack (fun:*, obj:*, ...; valgrind reads
# the same file) suppresses them; one that names a frame cannot
sd = tmpdir("leaks-supp")
supp = {"any": "match-leak-kinds: definite,indirect\n   fun:*\n   ...",
        "obj": "match-leak-kinds: possible\n   obj:*",
        "named": "match-leak-kinds: definite,indirect\n   fun:malloc\n   ..."}
for k, body in supp.items():
    with open(os.path.join(sd, k + ".supp"), "w") as f:
        f.write("{\n   %s\n   Memcheck:Leak\n   %s\n}\n" % (k, body))


def check_supp(target, label):
    r = batch(["--suppressions=" + os.path.join(sd, "any.supp"), "--error-exitcode=7"] + target, "leaks")
    l = r.cmd("leaks") or {}
    is_((summary(r)["definite"], summary(r)["indirect"], l.get("suppressed", {}).get("blocks"), r.rc),
        (0, 0, s["definite"] + s["indirect"], 0),
        "%s, untraced: fun:* and ... suppress every definite and indirect record (exit 0)" % label)
    r = batch(["--suppressions=" + os.path.join(sd, "obj.supp")] + target, "leaks")
    is_((summary(r)["possible"], (r.cmd("leaks") or {}).get("suppressed", {}).get("blocks")), (0, s["possible"]),
        "%s, untraced: obj:* suppresses the possibly lost records" % label)
    r = batch(["--suppressions=" + os.path.join(sd, "named.supp"), "--error-exitcode=7"] + target, "leaks")
    is_((summary(r), (r.cmd("leaks") or {}).get("suppressed", {}).get("blocks"), r.rc), (s, 0, 7),
        "%s, untraced: fun:malloc cannot match a record without a stack" % label)
    rt = batch(["--suppressions=" + os.path.join(sd, "named.supp")] + target, "leaks", json_mode=False)
    ok("Nothing was traced: only a suppression whose frames are all" in rt.out,
       "%s: the summary says which suppressions apply to untraced records" % label, rt.out[-600:])


check_supp(["-p", str(t.pid)], "live")

if have("gcore"):
    d = tmpdir("leaks")
    subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(t.pid)], capture_output=True, timeout=120)
    core = os.path.join(d, "core.%d" % t.pid)
    rc = batch(["-c", core], "leaks")
    is_(summary(rc), s, "core: the same counts as live")
    check_supp(["-c", core], "core")
    os.unlink(core)
else:
    skip("core: the same counts", "gcore not installed")

# refs: a register, a stack, a global
r = batch(["-p", str(t.pid)], "refs 0x%x" % places["reg"], "refs 0x%x" % places["stack"],
          "refs 0x%x" % places["global"], "refs --chain 0x%x" % places["global"],
          "refs --chain 0x%x" % places["lostlist"])
regs = [x for x in (r.cmd("refs", 0) or {}).get("refs", []) if x.get("region") == "register"]
ok(any(x.get("register") == "r12" for x in regs), "refs: the pointer held in r12 of the parked thread", regs)
stk = [x for x in (r.cmd("refs", 1) or {}).get("refs", []) if x.get("region") == "stack"]
ok(stk and all(x.get("thread") == t.pid for x in stk), "refs: the pointer on the main thread's stack", stk)
glob = [x for x in (r.cmd("refs", 2) or {}).get("refs", []) if x.get("region") == "global"]
ok(any(x.get("symbol") == "held_list" for x in glob), "refs: the global named by its symbol", glob)
ch = r.cmd("refs", 3) or {}
ok(ch.get("kind") == "reachable" and ch.get("chain") and ch["chain"][0].get("symbol") == "held_list",
   "refs --chain: from the global held_list", ch)
lost = r.cmd("refs", 4) or {}
is_(lost.get("kind"), "definite", "refs --chain on a lost list head: definitely lost, no chain")

# --error-exitcode fires on definite/indirect leaks
r = batch(["--error-exitcode=7", "-p", str(t.pid)], "leaks")
is_(r.rc, 7, "--error-exitcode=7 with leaks")
t.stop()

# at exit, against valgrind memcheck
if have("valgrind") and not SANITIZERS:
    prog = os.path.join(TARGETS, "leaky")
    v = subprocess.run(["valgrind", "--leak-check=full", prog, "exit"], capture_output=True, text=True,
                       timeout=300)
    vg = {}
    for kind, label in (("definite", "definitely lost"), ("indirect", "indirectly lost"),
                        ("possible", "possibly lost"), ("reachable", "still reachable")):
        m = re.search(label + r": [\d,]+ bytes in ([\d,]+) blocks", v.stderr)
        vg[kind] = int(m.group(1).replace(",", "")) if m else None
    r = run(["-batch", "-ex", "continue", "-ex", "leaks", "--args", prog, "exit"])
    is_(summary(r), vg, "at exit: the same block counts as valgrind in every category")
else:
    skip("at exit: valgrind's counts", "valgrind unavailable or sanitizer build")
done()
