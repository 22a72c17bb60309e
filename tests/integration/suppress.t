#!/usr/bin/env python3
# valgrind's suppressions and leak-kind options, against valgrind itself on
# tests/targets/stackshapes (leaks from malloc, calloc, realloc, strdup,
# operator new and new[], nested inlined calls, a dlopen()ed library and
# ld.so's own allocations, of all four kinds), traced from launch to exit:
# - --gen-suppressions=all writes the same blocks as valgrind's
#   --gen-suppressions=all (the same frames, names and leak kinds);
# - valgrind's own file suppresses every record; a hand-written file with
#   fun:/obj:/src: patterns, wildcards, "..." and match-leak-kinds gives
#   valgrind's LEAK SUMMARY, suppressed line included;
# - on a C++ program (tests/targets/cxxmap) too: the same blocks, and
#   valgrind's file suppresses every record;
# - --error-exitcode honours --errors-for-leak-kinds (valgrind's exit code
#   with the same options), and suppressed records never count;
# - --show-leak-kinds shows the records valgrind shows;
# - bad values and bad files are usage errors that say where.
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
if SANITIZERS or not have("valgrind"):
    skip_all("valgrind unavailable or sanitizer build")
prog = os.path.join(TARGETS, "stackshapes")
plug = os.path.join(TARGETS, "libstackplug.so")
d = tmpdir("suppress")


def vg(*opts):
    p = subprocess.run(["valgrind", "--leak-check=full"] + list(opts) + [prog, plug], capture_output=True,
                       text=True, timeout=300)
    return p


def vg_suppressed(text):
    m = re.search(r"suppressed: ([\d,]+) bytes in ([\d,]+) blocks", text.split("ERROR SUMMARY")[0])
    return (int(m.group(2).replace(",", "")), int(m.group(1).replace(",", ""))) if m else None


def blocks_of(text):
    """The {...} suppression blocks of a text, each as a tuple of its lines
    after the name."""
    out, cur = [], None
    for l in text.splitlines():
        l = l.strip()
        if l == "{":
            cur = []
        elif l == "}" and cur is not None:
            out.append(tuple(cur[1:]))
            cur = None
        elif cur is not None and not l.startswith("=="):
            cur.append(l)
    return sorted(out)


def hd(*opts, cmd="leaks", json_mode=True):
    return run(list(opts) + ["-batch", "-ex", "trace start", "-ex", "continue", "-ex", cmd, "--args", prog, plug],
               json_mode=json_mode, timeout=300)


def summary(r):
    l = r.cmd("leaks") or {}
    got = heapdbg_leaks(r)
    if got is not None:
        got["suppressed"] = (l["suppressed"]["blocks"], l["suppressed"]["bytes"]) if "suppressed" in l else None
    return got


# --gen-suppressions=all
v = vg("--show-leak-kinds=all", "--gen-suppressions=all")
vgen = blocks_of(v.stderr)
ok(len(vgen) >= 12, "valgrind wrote a suppression per record (%d)" % len(vgen), v.stderr[-2000:])
r = hd("--gen-suppressions=all", cmd="leaks --show-leak-kinds=all")
hgen = sorted(blocks_of(x["suppression"])[0] for x in (r.cmd("leaks") or {}).get("records", []) if "suppression" in x)
is_(hgen, vgen, "--gen-suppressions=all (JSON): valgrind's blocks, frame for frame")
rt = hd("--gen-suppressions=all", cmd="leaks --show-leak-kinds=all", json_mode=False)
is_(blocks_of(rt.out), vgen, "--gen-suppressions=all (text): the same blocks after the records")

# valgrind's own file suppresses everything, in both tools
allf = os.path.join(d, "all.supp")
with open(allf, "w") as f:
    f.write(re.sub(r"^==.*\n", "", v.stderr, flags=re.M).split("LEAK SUMMARY")[0])
vs = vg("--suppressions=" + allf)
vsum = valgrind_leaks(vs.stderr)
vsum["suppressed"] = vg_suppressed(vs.stderr)
ok(vsum["suppressed"][0] > 0 and vsum["definite"] == (0, 0), "valgrind: its file suppresses its records",
   vs.stderr[-1500:])
r = hd("--suppressions=" + allf, "--error-exitcode=7")
is_(summary(r), vsum, "valgrind's generated file: valgrind's summary (all suppressed)")
is_(r.rc, 0, "--error-exitcode: suppressed leaks do not count")
used = (r.cmd("leaks") or {}).get("suppressions_used", [])
is_(sum(u["records"] for u in used), len(vgen), "each record used a suppression (suppressions_used)")

# a hand-written file: wildcards, "...", obj:, src:, match-leak-kinds, and
# another tool's entry skipped
hand = os.path.join(d, "hand.supp")
with open(hand, "w") as f:
    f.write("""# comments and blank lines are skipped

{
   the plug-in, by object and wildcard
   Memcheck:Leak
   match-leak-kinds: definite
   fun:*alloc
   obj:*/libstackplug.so
   ...
   fun:main
}
{
   helgrind's, skipped
   Helgrind:Race
   fun:whatever
}
{
   calloc by source line
   Memcheck:Leak
   fun:calloc
   src:stackshapes.c:70
}
# valgrind reads a src: line's location from the pc of the frame's
# index, so after an inlined call this never matches (in either tool)
{
   nested inlined calls by source line
   Memcheck:Leak
   ...
   src:stackshapes.c:37
   fun:outer
}
{
   ld.so's reachable blocks under dlopen
   Memcheck:Leak
   match-leak-kinds: reachable
   ...
   fun:dl_open_worker*
}
{
   the list's indirect blocks only (its head stays definite)
   Memcheck:Leak
   match-leak-kinds: indirect,possible
   fun:?alloc
   fun:leak_list
}
{
   operator new[] (mangled)
   Memcheck:Leak
   fun:_Zna?
   fun:leak_newarr
}
""")
vs = vg("--suppressions=" + hand, "--error-exitcode=5")
vsum = valgrind_leaks(vs.stderr)
vsum["suppressed"] = vg_suppressed(vs.stderr)
ok(0 < vsum["suppressed"][0] < sum(b for b, _ in valgrind_leaks(v.stderr).values()),
   "valgrind: the hand-written file suppresses some records", vs.stderr[-1500:])
r = hd("--suppressions=" + hand, "--error-exitcode=5")
is_(summary(r), vsum, "a hand-written file: valgrind's summary, suppressed line included")
is_(r.rc, vs.returncode, "--error-exitcode: valgrind's exit code (%d)" % vs.returncode)
names = sorted(u["name"] for u in (r.cmd("leaks") or {}).get("suppressions_used", []))
vnames = sorted(set(re.findall(r"used_suppression:\s+\d+ (.*?) %s:\d+" % re.escape(hand),
                               vg("--suppressions=" + hand, "-v").stderr)))
is_(names, vnames, "the suppressions used are valgrind's (-v's used_suppression)")

# repeatable, and leaks' own --suppressions: the two files together
r = hd("--suppressions=" + hand, cmd="leaks --suppressions=" + allf)
is_((r.cmd("leaks") or {}).get("definite"), {"blocks": 0, "bytes": 0}, "leaks --suppressions adds a file")
vs2 = vg("--suppressions=" + hand, "--suppressions=" + allf)
r = hd("--suppressions=" + hand, "--suppressions=" + allf)
want = valgrind_leaks(vs2.stderr)
want["suppressed"] = vg_suppressed(vs2.stderr)
is_(summary(r), want, "--suppressions twice: valgrind's summary")

# --errors-for-leak-kinds: what counts for --error-exitcode
for kinds in ("possible", "reachable", "indirect", "none", "definite,indirect", "all"):
    vr = vg("--suppressions=" + hand, "--error-exitcode=5", "--errors-for-leak-kinds=" + kinds)
    r = hd("--suppressions=" + hand, "--error-exitcode=5", "--errors-for-leak-kinds=" + kinds)
    is_(r.rc, vr.returncode, "--errors-for-leak-kinds=%s: valgrind's exit code (%d)" % (kinds, vr.returncode))

# --show-leak-kinds: the records shown in text


def shown(text):
    return sorted((k, int(b.replace(",", ""))) for b, k in
                  re.findall(r"^(?:==\d+== )?([\d,]+)(?: \(.*?\))? bytes in [\d,]+ blocks? (?:is|are) (\w+ \w+)"
                             r" in loss record", text, re.M))


for kinds in ("definite,possible", "reachable", "all", "none"):
    vr = vg("--show-leak-kinds=" + kinds)
    r = hd("--show-leak-kinds=" + kinds, json_mode=False)
    is_(shown(r.out), shown(vr.stderr), "--show-leak-kinds=%s: valgrind's records" % kinds)
r = hd(cmd="leaks --show-leak-kinds=indirect", json_mode=False)
is_(shown(r.out), shown(vg("--show-leak-kinds=indirect").stderr), "leaks --show-leak-kinds=indirect: the same")


# valgrind's order of loss records and their numbers: "N of M" in text,
# smallest first, counting the records not shown; JSON biggest first


def in_order(text):
    return [(int(n), int(m), k, int(b.replace(",", ""))) for b, k, n, m in
            re.findall(r"^(?:==\d+== )?([\d,]+)(?: \(.*?\))? bytes in [\d,]+ blocks? (?:is|are) (\w+ \w+)"
                       r" in loss record (\d+) of (\d+)", text, re.M)]


# valgrind's default --show-leak-kinds (definite,possible): the same
# records by default, and the line that says what is left out
vo = in_order(vg().stderr)
rt = hd(json_mode=False)
ok(len(vo) >= 5 and in_order(rt.out) == vo, "by default: valgrind's default records (definite, possible)",
   "got:  %r\nwant: %r" % (in_order(rt.out), vo))
ok("Indirectly lost and reachable blocks are not shown; `leaks --show-leak-kinds=all` shows them." in rt.out,
   "by default: says indirect and reachable records are not shown", rt.out[-800:])

for kinds in ("all", "definite,possible"):
    vo = in_order(vg("--show-leak-kinds=" + kinds).stderr)
    ho = in_order(hd("--show-leak-kinds=" + kinds, json_mode=False).out)
    ok(len(vo) >= 5 and ho == vo, "--show-leak-kinds=%s: valgrind's records in valgrind's order, numbered as it does"
       % kinds, "got:  %r\nwant: %r" % (ho, vo))
    if kinds == "all":
        lo = in_order(hd(cmd="leaks --show-leak-kinds=all --limit 3", json_mode=False).out)
        is_(lo, vo[-3:], "--limit 3: the 3 biggest, still in valgrind's order with its numbers")
        jr = (hd("--show-leak-kinds=all").cmd("leaks") or {}).get("records", [])
        is_([(x.get("loss_record"), len(jr), dict(LEAK_KINDS)[x["kind"]], x["bytes"] + x.get("indirect_bytes", 0))
             for x in jr],
            vo[::-1], "JSON: the same records biggest first, each with valgrind's loss_record number")

# a C++ program (tests/targets/cxxmap: mangled names, templates, inlined
# std:: calls, operator new): valgrind's blocks, and valgrind's file
# suppresses every record
cxx = os.path.join(TARGETS, "cxxmap")
if os.path.exists(cxx):
    vc = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--gen-suppressions=all", cxx],
                        capture_output=True, text=True, timeout=300)
    cgen = blocks_of(vc.stderr)
    r = run(["--gen-suppressions=all", "-batch", "-ex", "trace start", "-ex", "continue", "-ex",
             "leaks --show-leak-kinds=all", "--args", cxx], timeout=300)
    hc = sorted(blocks_of(x["suppression"])[0] for x in (r.cmd("leaks") or {}).get("records", [])
                if "suppression" in x)
    ok(len(cgen) >= 3 and hc == cgen, "C++: --gen-suppressions=all writes valgrind's %d blocks" % len(cgen),
       "got:  %r\nwant: %r" % (hc, cgen))
    cf = os.path.join(d, "cxx.supp")
    with open(cf, "w") as f:
        f.write(re.sub(r"^==.*\n", "", vc.stderr, flags=re.M).split("LEAK SUMMARY")[0])
    r = run(["--suppressions=" + cf, "--error-exitcode=3", "-batch", "-ex", "trace start", "-ex", "continue",
             "-ex", "leaks", "--args", cxx], timeout=300)
    l = r.cmd("leaks") or {}
    ok(all(l.get(k, {}).get("blocks") == 0 for k, _ in LEAK_KINDS) and l.get("suppressed", {}).get("blocks")
       and r.rc == 0, "C++: valgrind's file suppresses every record (exit 0)", r)
else:
    skip("C++: valgrind's blocks", "no C++ compiler: tests/targets/cxxmap not built")
    skip("C++: valgrind's file", "no C++ compiler: tests/targets/cxxmap not built")

# bad values, bad files
r = run(["--show-leak-kinds=definite,lost", "-batch"])
ok(r.rc == 64 and "'lost' is not a leak kind" in r.err, "--show-leak-kinds: a bad word is a usage error", r)
r = run(["--errors-for-leak-kinds=all,none", "-batch"])
ok(r.rc == 64 and "alone" in r.err, "--errors-for-leak-kinds: all and none only alone", r)
bad = os.path.join(d, "bad.supp")
with open(bad, "w") as f:
    f.write("{\n   name\n   Memcheck:Leak\n   fun:main\n   bogus:frame\n}\n")
r = run(["--suppressions=" + bad, "-batch"])
ok(r.rc == 64 and "bad.supp:5:" in r.err and "location should be" in r.err,
   "a bad suppressions file: its line and what is wrong", r)
r = run(["--suppressions=" + os.path.join(d, "none.supp"), "-batch"])
ok(r.rc == 64 and "cannot open suppressions file" in r.err, "a missing file", r)
done()
