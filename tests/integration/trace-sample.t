#!/usr/bin/env python3
# trace start --sample BYTES: about one allocation per BYTES allocated
# (a Poisson process over the bytes, in the agent), plus the frees of the
# sampled blocks; `top` scales the samples as pprof does and says so.
#  - a known pattern (tests/targets/sampled): each stack's estimated
#    blocks and bytes within 4 standard deviations of the truth (the
#    deviation computed from the sampling law, for each of 3 seeds);
#  - the frees recorded are exactly the sampled blocks' frees (the
#    ledger of the samples balances), none of an unsampled block;
#  - realloc of a sampled block into an unsampled one frees the sample;
#  - a block bigger than many rates is always sampled, weight 1;
#  - leaks says its stacks come from a sampled trace (its counts are the
#    heap walk's, exact);
#  - --sample with --breakpoints is refused in one line.
import math, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()

RATE = 4096
N = 400000


def status_of(r):
    sts = [o for o in r.objs if o.get("cmd") == "trace" and o.get("action") == "status"]
    return sts[0] if sts else {}


def group_of(top, func):
    for g in top.get("groups", []):
        fr = [norm_func(f.get("func")) for f in g.get("stack", {}).get("frames", [])]
        if func in fr[:3]:
            return g
    return None


def rel_sd(n, size, rate):
    p = -math.expm1(-size / rate)
    return math.sqrt((1 - p) / (n * p)) if p < 1 else 0.0


for seed in (1, 2, 3):
    t = Target("sampled", [N])
    r = batch(["-p", str(t.pid)], "trace start --sample %d" % RATE, "continue 120", "trace status", "top 20",
              timeout=300, env={"HEAPDBG_SAMPLE_SEED": str(seed)})
    truth = parse_kv(t.read_until("small=") or "")
    t.wait()
    st = status_of(r)
    top = r.cmd("top") or {}
    ok(r.rc == 0 and st.get("sampled", {}).get("rate") == RATE and truth,
       "seed %d: traced with --sample %d, trace status says it is sampled" % (seed, RATE), r)
    ok(top.get("sampled", {}).get("rate") == RATE and top.get("sampled", {}).get("samples", 0) > 0,
       "seed %d: top says its counts are sampled estimates (%s)" % (seed, top.get("sampled")))
    for func, size in (("small", 100), ("grown", 400)):
        want_blocks, want_bytes = (int(x) for x in truth.get(func, "0,0").split(","))
        g = group_of(top, func) or {}
        sd = rel_sd(want_blocks, size, RATE)
        for what, want in (("bytes", want_bytes), ("blocks", want_blocks)):
            got = g.get(what, 0)
            ok(want and abs(got - want) <= 4 * sd * want,
               "seed %d: %s(): estimated %s %d vs %d allocated, within 4 sd (%.1f%%)" %
               (seed, func, what, got, want, 400 * sd), g)
    g = group_of(top, "big") or {}
    ok(g.get("blocks") == 200 and abs(g.get("bytes", 0) - 200 * 65536) <= 2 and g.get("samples") == 200,
       "seed %d: big(): 200 blocks of 64 KiB, each sampled, weight 1" % seed, g)
    ev = st.get("events", {})
    samples_out = top.get("sampled", {}).get("samples", -1)
    nsampled = st.get("sampled", {}).get("allocations", 0)
    ok(st.get("outstanding", {}).get("blocks") == samples_out and
       ev.get("free", 0) + samples_out <= nsampled <= ev.get("free", 0) + samples_out + ev.get("realloc", 0),
       "seed %d: the samples' ledger: %d sampled = %d outstanding + %d freed (+ up to %d realloc'd away)" %
       (seed, nsampled, samples_out, ev.get("free", 0), ev.get("realloc", 0)), st)
    ok(st.get("untracked_frees", st.get("frees_untracked", 0)) in (0, None),
       "seed %d: no free of an unsampled block was recorded" % seed, st)
    n_small = N
    exp_samples = n_small * -math.expm1(-100 / RATE)
    ok(abs(ev.get("malloc", 0) - exp_samples - 200 - (N / 10) * -math.expm1(-40 / RATE)) < 6 * math.sqrt(exp_samples),
       "seed %d: malloc samples %d, about N(1-exp(-size/rate)) expected" % (seed, ev.get("malloc", 0)), ev)

t = Target("sampled", [20000])
r = batch(["-p", str(t.pid)], "trace start --sample %d" % RATE, "continue 120", "leaks", timeout=300)
t.wait()
lk = r.cmd("leaks") or {}
ok(r.rc == 0 and lk.get("sampled", {}).get("rate") == RATE,
   "leaks says the trace behind its stacks is sampled (%s)" % lk.get("sampled"), r)

r = batch(["-p", str(Target("sampled", [10]).pid)], "trace start --sample 4096 --breakpoints")
ok(r.rc != 0 and "--sample needs fast tracepoints" in r.err and len(r.err.strip().splitlines()) == 1,
   "--sample with --breakpoints is refused in one line", r)
cleanup()
done()
