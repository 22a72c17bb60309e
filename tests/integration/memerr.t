#!/usr/bin/env python3
# Memory errors reported at the call by the tracer, with both tracers
# (breakpoints, and --fast: the agent's check at a free's entry): a
# fastbin a-b-a double free (tcache off: glibc does not see it, the
# program runs on), a tcache double free (glibc aborts), free of a stack
# address, free of p+16, realloc of a freed block, an overflow over the
# next chunk's header then free.  Each: the kind and the user's words,
# the pointer, the three stacks (this call, the first free, the
# allocation) by the target's function names, text and JSON,
# --error-exitcode; in the shell the thread is held at the call (bt
# shows the target's function, chunk works) and `continue` lets the call
# go on as natively (glibc aborts, or the program runs on); compared with
# valgrind's "Invalid free()" where valgrind reports one.  A double free
# glibc makes for the program (fclose twice: glibc's own free of the
# FILE) is reported too, in both tracers, held at the call, with
# valgrind's block and stacks; a dying thread's tcache, freed by glibc,
# is not; the fast
# tracer's stacks are the breakpoint tracer's frame for frame, and
# --no-free-stacks keeps a free's caller alone.
import json, os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
prog = os.path.join(TARGETS, "memerr")
NOTC = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}
# mode, env, kind, words, call frame, first-free frame, alloc frame,
# natively: survives?, held by the fast tracer (else seen at the event)
cases = [
    ("fastbin", NOTC, "double-free", "double free of block %(block)s (40 bytes)", "free_again", "free_once",
     "make_block", True, False),
    ("tcache", None, "double-free", "double free of block %(block)s (40 bytes)", "free_again", "free_once",
     "make_block", False, True),
    ("stack", None, "invalid-free", "free of %(call)s, which is no heap block", "free_bad", None, None, False, True),
    ("interior", None, "interior-free", "free of %(call)s, 16 bytes inside block %(block)s (64 bytes)", "free_bad",
     None, "main", False, True),
    ("realloc", None, "realloc-freed", "realloc of block %(block)s (40 bytes), freed already", "realloc_freed",
     "free_once", "make_block", False, True),
    ("overflow", None, "overflow", "probable overflow from block %(block)s (2000 bytes)", "free_bad", None,
     "make_block", False, True),
]
TRACERS = [("breakpoints", "trace start --breakpoints"), ("fast", "trace start --fast")]


def printed(err):
    """What the target printed (its stdout is heapdbg's stderr under --json)."""
    got = {}
    for l in err.splitlines():
        m = re.match(r"(block|call) (0x[0-9a-f]+)", l)
        if m:
            got[m.group(1)] = m.group(2)
    return got


def shell(args, env, start):
    """heapdbg's shell on a pipe: trace start, continue; once continue
    reported, bt, chunk and refs (of the error's block or pointer),
    continue."""
    e = dict(os.environ)
    e.pop("GLIBC_TUNABLES", None)
    e["LC_ALL"] = "C"
    e.pop("DEBUGINFOD_URLS", None)
    if env:
        e.update(env)
    p = subprocess.Popen([HEAPDBG, "-q", "--json"] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=e)
    p.stdin.write(start + "\ncontinue\n")
    p.stdin.flush()
    lines = []
    for line in p.stdout:
        lines.append(line)
        if '"cmd":"continue"' in line.replace(" ", ""):
            break
    try:
        c = json.loads(lines[-1]) if lines else {}
    except ValueError:
        c = {}
    me = (c.get("memory_errors") or [{}])[0]
    at = (me.get("block") or {}).get("addr") or me.get("addr") or "0"
    try:
        out, _ = p.communicate("bt\nchunk %s\nrefs %s\ncontinue\n" % (at, at), timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return Result(p.returncode, "".join(lines) + out, "")


def funcs(stack):
    return [f.get("func") for f in (stack or {}).get("frames", [])]


def first(stack):
    f = funcs(stack)
    return f[0] if f else None


def check_error(e, label, mode, kind, words, callf, freef, allocf, want, tracer):
    ok(e.get("kind") == kind, "%s: kind %s" % (label, kind), e)
    is_(e.get("addr"), want.get("call"), "%s: the pointer passed" % label)
    ok(e.get("message", "").startswith(words % want), "%s: says '%s'" % (label, words % want), e.get("message"))
    is_(first(e.get("stack")), callf, "%s: this call's stack starts in %s" % (label, callf))
    ok("main" in funcs(e.get("stack")), "%s: this call's stack goes on to main" % label, funcs(e.get("stack")))
    b = e.get("block") or {}
    if freef:
        is_(first(b.get("free_stack")), freef, "%s: first free in %s" % (label, freef))
        ok("main" in funcs(b.get("free_stack")), "%s: the first free's stack goes on to main" % label,
           funcs(b.get("free_stack")))
    if allocf:
        is_(first(b.get("alloc_stack")), allocf, "%s: allocated in %s" % (label, allocf))
        is_(b.get("addr"), want.get("block"), "%s: the block" % label)
    else:
        ok(b.get("addr") is None, "%s: no block" % label, b)
    if kind == "overflow":
        is_(e.get("text"), "overflowOVERFLOW", "%s: the overwriting bytes as text" % label)
        is_(e.get("bytes"), "overflowOVERFLOW".encode().hex(), "%s: and in hex" % label)
        is_(e.get("glibc"), "free(): invalid next size (normal)", "%s: glibc's check named" % label)


# the three stacks of each error, by tracer: the same frames both ways
three = {}
for tracer, start in TRACERS:
    for mode, env, kind, words, callf, freef, allocf, survives, fast_held in cases:
        label = "%s, %s" % (tracer, mode)
        # batch: reported, counted, the call goes on
        r = run(["--run-libc-freeres=no", "--error-exitcode=9", "-batch", "-ex", start, "-ex", "continue",
                 "--args", prog, mode], env=env)
        want = printed(r.err)
        c = r.cmd("continue") or {}
        errs = c.get("memory_errors") or []
        ok(len(errs) == 1, "%s, batch: one memory error" % label, r)
        if errs:
            check_error(errs[0], label + ", batch", mode, kind, words, callf, freef, allocf, want, tracer)
            b = errs[0].get("block") or {}
            three.setdefault(mode, []).append([[(f.get("func"), f.get("off"), f.get("line"), f.get("module"))
                                                for f in (st or {}).get("frames", [])] +
                                               [("allocator frames", (st or {}).get("allocator_frames"))]
                                               for st in (errs[0].get("stack"), b.get("free_stack"),
                                                          b.get("alloc_stack"))])
            is_(errs[0].get("held"), False, "%s, batch: not held" % label)
            if tracer == "fast":
                is_(errs[0].get("at_read"), not fast_held,
                    "%s: %s" % (label, "held by the agent's check" if fast_held else "seen when its event was read"))
        if survives:
            ok(c.get("exit_code") == 0 and "survived" in r.err, "%s, batch: the program ran on" % label, c)
        else:
            is_(c.get("signal"), "SIGABRT", "%s, batch: glibc aborted it, as natively" % label)
        is_(r.rc, 9, "%s, batch: --error-exitcode" % label)
        # text
        t = run(["--run-libc-freeres=no", "-batch", "-ex", start, "-ex", "continue", "--args", prog, mode],
                env=env, json_mode=False)
        tw = printed(t.out + t.err)
        ok(("Memory error: " + words % tw) in t.out, "%s, text: the bug first" % label, t.out[-2000:])
        if kind != "overflow":
            ok("Invalid free() / delete / delete[] / realloc()" in t.out, "%s, text: valgrind's words" % label)
        else:
            ok('"overflowOVERFLOW"' in t.out and "6f 76 65 72 66 6c 6f 77 4f 56 45 52 46 4c 4f 57" in t.out,
               "%s, text: the bytes as text and hex" % label, t.out[-2000:])
        # the shell: held at the call where the tracer sees it there
        held = tracer == "breakpoints" or fast_held
        s = shell(["--run-libc-freeres=no", "--args", prog, mode], env, start)
        c0 = s.cmd("continue") or {}
        e0 = (c0.get("memory_errors") or [{}])[0]
        if held:
            ok(c0.get("reason") == "stopped" and e0.get("held") is True, "%s, shell: held at the call" % label, c0)
            bt = s.cmd("bt") or {}
            fr = [f.get("func") for th in bt.get("threads", []) for f in th.get("frames", [])]
            ok(callf in fr[:3], "%s, shell: bt shows %s" % (label, callf), fr)
            if mode != "stack":
                ch = s.cmd("chunk") or {}
                ok(ch and "error" not in ch, "%s, shell: chunk works on the block" % label, ch)
                rf = s.cmd("refs") or {}
                ok(rf and "error" not in rf, "%s, shell: refs works on the block" % label, rf)
            c1 = s.cmd("continue", 1) or {}
            if survives:
                ok(c1.get("exit_code") == 0, "%s, shell: continue, the program ran on" % label, c1)
            else:
                is_(c1.get("signal"), "SIGABRT", "%s, shell: continue, glibc aborted it as natively" % label)
        else:
            ok(e0.get("at_read") is True and e0.get("held") is False,
               "%s, shell: reported when its event was read, not held" % label, c0)
        # (JSON of the held case checked above; the kind is the same)
        if e0:
            is_(e0.get("kind"), kind, "%s, shell: kind" % label)

for mode, got in three.items():
    # (each frame by function, offset, line and module: the addresses move)
    if len(got) == 2:
        is_(got[1], got[0], "%s: the fast tracer's three stacks are the breakpoint tracer's, frame for frame" % mode)

# trace start --no-free-stacks (valgrind's --keep-stacktraces=alloc-then-free
# is the default; this is alloc-and-caller): a free keeps its caller alone,
# allocations and this call their whole stacks
for tracer, start in TRACERS:
    label = "%s, --no-free-stacks" % tracer
    r = run(["--run-libc-freeres=no", "-batch", "-ex", start + " --no-free-stacks", "-ex", "continue",
             "--args", prog, "fastbin"], env=NOTC)
    is_((r.cmd("trace") or {}).get("free_stacks"), False, "%s: trace start says so" % label)
    e = ((r.cmd("continue") or {}).get("memory_errors") or [{}])[0]
    b = e.get("block") or {}
    is_(funcs(b.get("free_stack")), ["free_once"], "%s: the first free's stack is its caller alone" % label)
    ok("main" in funcs(b.get("alloc_stack")), "%s: the allocation's stack goes on to main" % label, b)
    # (the fast tracer sees this fastbin double free at the free's event,
    # which then carries its caller alone too)
    is_(funcs(e.get("stack"))[:1] if tracer == "fast" else "main" in funcs(e.get("stack")),
        ["free_again"] if tracer == "fast" else True, "%s: this call's stack" % label)
    r = run(["-batch", "-ex", start, "-ex", "continue", "--args", prog, "fastbin"], env=NOTC)
    is_((r.cmd("trace") or {}).get("free_stacks"), True, "%s: free stacks are on by default" % tracer)

# a realloc the fast tracer's check traps at and lets go (a live block
# whose second word holds glibc's tcache key) is traced as the breakpoint
# tracer traces it: the same ledger, no error
ledgers = {}
for tracer, start in TRACERS:
    label = "%s, keyword" % tracer
    r = run(["--run-libc-freeres=no", "-batch", "-ex", start, "-ex", "continue", "-ex", "trace status",
             "--args", prog, "keyword"])
    st = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
    st = st[0] if st else {}
    is_((r.cmd("continue") or {}).get("memory_errors") or [], [], "%s: no memory error" % label)
    if tracer == "fast":
        ok((st.get("agent_checks") or 0) >= 1, "%s: the collector's check stopped the realloc" % label, st)
    ledgers[tracer] = (st.get("outstanding"), (st.get("events") or {}).get("realloc"))
    ok(ledgers[tracer][1] == 1, "%s: one realloc traced" % label, st)
is_(ledgers.get("fast"), ledgers.get("breakpoints"), "keyword: the realloc let go at the check is traced (the same ledger)")

# trace stop with a thread held at an error: it goes on untraced, as
# natively (glibc aborts it; no SIGTRAP, no trap left)
for tracer, start in TRACERS:
    r = run(["--run-libc-freeres=no", "--args", prog, "tcache"],
            input="%s\ncontinue\ntrace stop\ncontinue\n" % start)
    c0, c1 = r.cmd("continue") or {}, r.cmd("continue", 1) or {}
    ok(c0.get("reason") == "stopped" and (r.cmd("trace", 1) or {}).get("active") is False,
       "%s: held, then trace stop" % tracer, r)
    is_(c1.get("signal"), "SIGABRT", "%s: after trace stop the held call goes on as natively" % tracer)

# attached: the walk at trace start knows the blocks in use and the free
# chunks then; a free of one in use is counted (frees of blocks allocated
# before tracing), a second free of a free one is a double free
for tracer, start in TRACERS:
    label = "%s, attached" % tracer
    t = Target("memerr", ["pre"], env=NOTC)
    want = {}
    for l in t.lines:
        m = re.match(r"(block|call|pre) (0x[0-9a-f]+)", l)
        if m:
            want[m.group(1)] = m.group(2)
    r = batch(["-p", str(t.pid), "--error-exitcode=9"], start, "continue 60", "trace status")
    t.wait()
    st = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
    st = st[0] if st else {}
    errs = (r.cmd("continue") or {}).get("memory_errors") or []
    is_(st.get("untracked_frees"), 1, "%s: one free of a block in use before tracing, counted" % label)
    ok(len(errs) == 1 and errs[0].get("kind") == "double-free" and errs[0].get("addr") == want.get("call"),
       "%s: the second free of a block freed before tracing is a double free" % label, errs)
    if errs:
        b = errs[0].get("block") or {}
        ok(b.get("before_tracing") is True and b.get("alloc_stack", 0) is None and b.get("free_stack", 0) is None,
           "%s: allocated and first freed before tracing (no stacks)" % label, b)
        is_(first(errs[0].get("stack")), "free_again", "%s: this call in free_again" % label)
    is_(r.rc, 9, "%s: --error-exitcode" % label)

# a double free from inside glibc: fclose twice frees the FILE twice,
# glibc's own call to free, made for the program
PROGF = ("open_file", "close_once", "close_twice", "main")


def own_frames(st):
    return [f for f in funcs(st) if f in PROGF]


vgf = None
if not SANITIZERS and have("valgrind"):
    v = subprocess.run(["valgrind", prog, "fclose"], capture_output=True, text=True, timeout=120)
    m = re.search(r"Invalid free\(\) / delete / delete\[\] / realloc\(\)\n((?:==\d+==  .*\n)+)", v.stderr)
    if m:
        parts = re.split(r"==\d+==  (?:Address .*|Block was alloc'd at)\n", m.group(1))
        size = re.search(r"Address 0x[0-9a-f]+ is 0 bytes inside a block of size ([\d,]+) free'd", m.group(1))
        vgf = {"stacks": [[f for f in re.findall(r"(?:at|by) 0x[0-9A-F]+: (\w+) \(", p) if f in PROGF]
                          for p in parts],
               "size": int(size.group(1).replace(",", "")) if size else None}
    ok(vgf and vgf["size"] and vgf["stacks"][0] == ["close_twice", "main"],
       "valgrind: fclose twice is an Invalid free() at close_twice", v.stderr[-1500:])
for tracer, start in TRACERS:
    label = "%s, fclose twice" % tracer
    r = run(["--run-libc-freeres=no", "--error-exitcode=9", "-batch", "-ex", start, "-ex", "continue",
             "--args", prog, "fclose"])
    want = printed(r.err)
    c = r.cmd("continue") or {}
    errs = c.get("memory_errors") or []
    e = errs[0] if errs else {}
    b = e.get("block") or {}
    ok(len(errs) == 1 and e.get("kind") == "double-free" and e.get("addr") == want.get("call") and
       b.get("addr") == want.get("block"), "%s: a double free of the FILE" % label, r)
    ok(e.get("message", "").startswith("double free of block %s (" % want.get("block")),
       "%s: says 'double free of block %s'" % (label, want.get("block")), e.get("message"))
    is_(own_frames(e.get("stack")), ["close_twice", "main"], "%s: this call from close_twice" % label)
    is_(own_frames(b.get("alloc_stack")), ["open_file", "main"], "%s: allocated in open_file (fopen)" % label)
    ok(funcs(b.get("free_stack"))[:2] and any("fclose" in (f or "") or f == "_IO_deallocate_file"
                                              for f in funcs(b.get("free_stack"))[:2]),
       "%s: first freed by fclose" % label, funcs(b.get("free_stack")))
    if tracer == "breakpoints":
        is_(own_frames(b.get("free_stack")), ["close_once", "main"], "%s: first freed from close_once" % label)
    is_(e.get("at_read"), False, "%s: seen at the call" % label)
    is_(c.get("signal"), "SIGABRT", "%s, batch: the call went on, glibc aborted as natively" % label)
    is_(r.rc, 9, "%s: --error-exitcode" % label)
    if vgf:
        is_([own_frames(e.get("stack")), own_frames(b.get("free_stack")) if tracer == "breakpoints" else
             vgf["stacks"][1], own_frames(b.get("alloc_stack"))], vgf["stacks"],
            "%s: valgrind's three stacks (the program's frames)" % label)
        is_(b.get("size"), vgf["size"], "%s: valgrind's block size (%s bytes)" % (label, vgf["size"]))
    s = shell(["--run-libc-freeres=no", "--args", prog, "fclose"], None, start)
    c0 = s.cmd("continue") or {}
    e0 = (c0.get("memory_errors") or [{}])[0]
    ok(c0.get("reason") == "stopped" and e0.get("held") is True and e0.get("kind") == "double-free",
       "%s, shell: held at the call" % label, c0)
    bt = s.cmd("bt") or {}
    fr = [f.get("func") for th in bt.get("threads", []) for f in th.get("frames", [])]
    ok("close_twice" in fr, "%s, shell: bt shows close_twice" % label, fr)
    is_((s.cmd("continue", 1) or {}).get("signal"), "SIGABRT", "%s, shell: continue, glibc aborts as natively" % label)
# threads whose tcache glibc frees at their exit (entries the program
# freed, and the tcache itself): glibc's own frees, no error
for tracer, start in TRACERS:
    r = run(["--error-exitcode=9", "-batch", "-ex", start, "-ex", "continue", "-ex", "trace status",
             "--args", prog, "threads"])
    st = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
    ok(not (r.cmd("continue") or {}).get("memory_errors") and r.rc == 0 and st and st[0].get("unseen_frees"),
       "%s: threads' tcaches freed by glibc at their exit are no error (%s frees of glibc's own)" %
       (tracer, st and st[0].get("unseen_frees")), r)

# the glibc runtimes of HEAPDBG_GLIBC_DIR: the agent's check (the tcache
# key read from tcache_key, the next chunk's header) and the ledger on each
runtimes, why = glibc_runtimes()
for rt in runtimes:
    rprog, err = rt.build("memerr")
    if rprog and not err:
        good, err = rt.runs(rprog)
        if not good:
            rprog = None
    for tracer, start in TRACERS:
        for mode, env, kind in (("tcache", None, "double-free"), ("fastbin", NOTC, "double-free"),
                                ("overflow", None, "overflow")):
            label = "glibc %s, %s, %s" % (rt.version, tracer, mode)
            if not rprog:
                skip(label, err)
                continue
            r = run(["--run-libc-freeres=no", "-batch", "-ex", start, "-ex", "continue", "--args", rprog, mode],
                    env=env)
            errs = (r.cmd("continue") or {}).get("memory_errors") or []
            at_read = tracer == "fast" and mode == "fastbin"
            ok(len(errs) == 1 and errs[0].get("kind") == kind and errs[0].get("at_read") is at_read and
               first(errs[0].get("stack")) in ("free_again", "free_bad"),
               "%s: %s, %s" % (label, kind, "seen at the event" if at_read else "at the call"), r)
        label = "glibc %s, %s, fclose twice" % (rt.version, tracer)
        if not rprog:
            skip(label, err)
            continue
        r = run(["--run-libc-freeres=no", "-batch", "-ex", start, "-ex", "continue", "--args", rprog, "fclose"])
        errs = (r.cmd("continue") or {}).get("memory_errors") or []
        ok(len(errs) == 1 and errs[0].get("kind") == "double-free" and errs[0].get("at_read") is False and
           own_frames(errs[0].get("stack")) == ["close_twice", "main"], "%s: a double free, at the call" % label, r)
if not runtimes:
    skip("glibc runtimes", why)

# valgrind's report of the same calls
if SANITIZERS or not have("valgrind"):
    for mode in ("fastbin", "tcache", "stack", "interior", "realloc"):
        skip("valgrind: %s" % mode, "valgrind unavailable or sanitizer build")
else:
    for mode, env, kind, words, callf, freef, allocf, survives, fast_held in cases:
        if kind == "overflow":
            continue	# valgrind says "Invalid write" at the write, not at the free
        v = subprocess.run(["valgrind", prog, mode], capture_output=True, text=True, timeout=120)
        m = re.search(r"Invalid free\(\) / delete / delete\[\] / realloc\(\)\n((?:==\d+==  .*\n)+)", v.stderr)
        ok(m, "valgrind: %s: Invalid free()" % mode, v.stderr[-1500:])
        if not m:
            continue
        block = m.group(1)
        parts = re.split(r"==\d+==  (?:Address .*|Block was alloc'd at)\n", block)
        stacks = [re.findall(r"(?:at|by) 0x[0-9A-F]+: (\w+) \(", p) for p in parts]
        stacks = [[f for f in st if f not in ("free", "malloc", "calloc", "realloc")] for st in stacks]
        r = run(["--run-libc-freeres=no", "-batch", "-ex", "trace start", "-ex", "continue", "--args", prog, mode],
                env=env)
        e = ((r.cmd("continue") or {}).get("memory_errors") or [{}])[0]
        b = e.get("block") or {}
        mine = [funcs(e.get("stack")), funcs(b.get("free_stack")), funcs(b.get("alloc_stack"))]
        mine = [[f for f in st if f] for st in mine if st]

        def upto_main(st):
            return st[:st.index("main") + 1] if "main" in st else st
        want_stacks = [upto_main(st) for st in stacks if st]
        got_stacks = [upto_main(st) for st in mine]
        is_(got_stacks, want_stacks, "valgrind: %s: the same stacks, frame for frame to main" % mode)
# A block's own size field rewritten (by the block below's overflow, or a
# stray write), then the block freed: glibc takes it quietly (how2heap's
# overlapping_chunks and mmap_overlapping_chunks).  The ledger knows each
# block's size: the breakpoint tracer reads the header at the call.  (The
# fast tracer's agent does not know the sizes: not reported there.)
for mode, words, below in (
        ("header", "probable overflow from block %(block)s (40 bytes) below it: the header of block %(damaged)s "
         "(100 bytes) is damaged", True),
        ("mmaphdr", "the header of block %(damaged)s (1048576 bytes) is damaged: an overflow from below it or a "
         "stray write", False)):
    label = "breakpoints, %s" % mode
    r = run(["--run-libc-freeres=no", "--error-exitcode=9", "-batch", "-ex", "trace start --breakpoints",
             "-ex", "continue", "--args", prog, mode])
    want = {}
    for line in r.err.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ("block", "damaged", "call"):
            want[f[0]] = f[1]
    if "damaged" not in want:
        skip("%s: the damaged header reported" % label, "the target could not set it up: %s" % r.err[-300:])
        continue
    c = r.cmd("continue") or {}
    errs = c.get("memory_errors") or []
    ok(len(errs) == 1 and errs[0].get("kind") == "overflow", "%s: one overflow reported at the free" % label, r)
    e = errs[0] if errs else {}
    ok(e.get("message", "").startswith(words % want), "%s: says '%s'" % (label, words % want), e.get("message"))
    is_((e.get("damaged") or {}).get("addr"), want["damaged"], "%s: the damaged block" % label)
    is_(e.get("chunk"), "0x%x" % (int(want["damaged"], 16) - 16), "%s: its header" % label)
    is_((e.get("block") or {}).get("addr"), want["block"] if below else want["damaged"],
        "%s: the block the bug is in (%s)" % (label, "the one below" if below else "none below: the damaged one"))
    ok(e.get("size_field", 0) > e.get("size_expected", 1 << 62), "%s: the size field says more than the block has"
       % label, e)
    if below:
        is_(e.get("text"), "headerOV" + "." * 8, "%s: the overwriting bytes as text" % label)
    ok(c.get("exit_code") == 0 and "survived" in r.err, "%s: the program ran on, as natively" % label, c)
    is_(r.rc, 9, "%s: --error-exitcode" % label)
# No report where nothing is damaged: mmapped, aligned, grown, shrunk
# and calloc'ed blocks of many sizes, each freed once (trace.t checks the
# same of its churn)
for tracer, start in TRACERS:
    r = run(["--run-libc-freeres=no", "--error-exitcode=9", "-batch", "-ex", start, "-ex", "continue",
             "-ex", "trace status", "--args", prog, "sound"])
    st = [o for o in r.objs if o.get("cmd") == "trace" and "events" in o]
    ok(r.rc == 0 and "survived" in r.err and st and st[0].get("memory_errors") == 0,
       "%s, sound: no memory error on sound blocks of every kind" % tracer, (r, (r.cmd("continue") or {}).get("memory_errors")))

done()
