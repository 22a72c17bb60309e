#!/usr/bin/env python3
# The libFuzzer harnesses, briefly: build them (make fuzz), and for each
# of walker (the heap walker over patched synthetic heaps), snapshot (the
# snapshot file reader) and core (the core-file reader and a post-mortem
# session) replay every committed seed (each fixed bug left one there),
# then fuzz for a bounded time (HEAPDBG_FUZZ_SECONDS each, default 10)
# with ASan and UBSan: no crash, hang, leak or broken invariant, and more
# than 100 executions.  Runs in every `make check`, not only sanitizer
# builds, since the fuzzer brings its own sanitizers; skips when clang or
# its libFuzzer runtime is missing.  Longer runs: scripts/fuzz.sh.
import os, re, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

SECONDS = int(os.environ.get("HEAPDBG_FUZZ_SECONDS") or 10)
HARNESSES = ("walker", "snapshot", "core")
# heapdbg's error lines for broken cores are expected output, not findings
QUIET = {"core": ["-close_fd_mask=2"]}

clang = shutil.which("clang")
if not clang:
    skip_all("clang is not installed (apt-get install clang libclang-rt-14-dev)")
d = tmpdir("fuzz")
with open(os.path.join(d, "probe.c"), "w") as f:
    f.write("#include <stddef.h>\n#include <stdint.h>\n"
            "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
            "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n")
r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", "-o", os.path.join(d, "probe"),
                    os.path.join(d, "probe.c")], capture_output=True, text=True)
if r.returncode != 0:
    skip_all("clang cannot link libFuzzer with ASan and UBSan (install libclang-rt-14-dev): %s"
             % (r.stderr.strip().splitlines() or ["?"])[-1])

# LeakSanitizer stops the world with ptrace: where that is not allowed it
# dies at exit, so leaks are checked only where it works.
env = dict(os.environ)
for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
    env.pop(k, None)
env.pop("DEBUGINFOD_URLS", None)
r = subprocess.run([os.path.join(d, "probe"), "-runs=1"], capture_output=True, text=True, env=env)
if r.returncode != 0 and "LeakSanitizer" in r.stderr:
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    diag("LeakSanitizer cannot run here (no ptrace): leaks are not checked")

plan(1 + 4 * len(HARNESSES))

r = subprocess.run(["make", "-s", "-j%d" % (os.cpu_count() or 2), "fuzz"], cwd=TOP, env=env,
                   capture_output=True, text=True)
built = r.returncode == 0 and all(os.access(os.path.join(TOP, "build", "fuzz", h + "_fuzz"), os.X_OK)
                                  for h in HARNESSES)
ok(built, "make fuzz builds the %s fuzzers" % ", ".join(HARNESSES), r.stdout + r.stderr)

for h in HARNESSES:
    fuzzer = os.path.join(TOP, "build", "fuzz", h + "_fuzz")
    seeds = os.path.join(TOP, "tests", "fuzz", "corpus-" + h)
    if not built:
        for name in ("seeds replay", "bounded run", "executions", "no artifacts"):
            skip("%s: %s" % (h, name), "the fuzzers did not build")
        continue
    extra = QUIET.get(h, [])

    # every committed seed once (-runs=0: the corpus is executed, no mutations)
    r = subprocess.run([fuzzer, "-runs=0"] + extra + [seeds], capture_output=True, text=True,
                       env=env, timeout=300)
    nseeds = len(os.listdir(seeds))
    ok(r.returncode == 0 and nseeds > 0, "%s: all %d committed seeds replay cleanly" % (h, nseeds),
       r.stderr[-3000:])

    work = os.path.join(d, "corpus-" + h)
    arts = os.path.join(d, "artifacts-" + h) + "/"
    os.makedirs(work)
    os.makedirs(arts)
    try:
        r = subprocess.run([fuzzer, "-max_total_time=%d" % SECONDS, "-timeout=10", "-print_final_stats=1",
                            "-artifact_prefix=" + arts] + extra + [work, seeds],
                           capture_output=True, text=True, env=env, timeout=SECONDS + 120)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = -1, (e.stderr or b"").decode(errors="replace") + "\n(timed out)"
    ok(rc == 0, "%s: %d s of fuzzing: no crash, hang, leak or broken invariant" % (h, SECONDS), err[-4000:])

    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
    execs = int(m.group(1)) if m else 0
    cov = re.findall(r"cov: (\d+) ft: (\d+)", err)
    ok(execs > 100, "%s: the fuzzer ran (%d executions)" % (h, execs), err[-2000:])
    if cov:
        diag("%s: %d executions, coverage %s edges, %s features" % (h, execs, cov[-1][0], cov[-1][1]))

    found = sorted(os.listdir(arts))
    ok(not found, "%s: no crash, leak or timeout inputs" % h, "saved in %s: %s" % (arts, " ".join(found)))
done()
