#!/usr/bin/env python3
# The heap walker's libFuzzer harness, briefly: build it (make fuzz), replay
# every committed seed (each fixed walker bug left one there), then fuzz
# for a bounded time (HEAPDBG_FUZZ_SECONDS, default 15) with ASan and
# UBSan: no crash, hang, leak or broken invariant.  Runs in every
# `make check`, not only sanitizer builds, since the fuzzer brings its own
# sanitizers; skips when clang or its libFuzzer runtime is missing.
import os, re, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

SECONDS = int(os.environ.get("HEAPDBG_FUZZ_SECONDS") or 15)
FUZZER = os.path.join(TOP, "build", "fuzz", "walker_fuzz")
SEEDS = os.path.join(TOP, "tests", "fuzz", "corpus-walker")

clang = shutil.which("clang")
if not clang:
    skip_all("clang is not installed (apt-get install clang)")
d = tmpdir("fuzz-walker")
with open(os.path.join(d, "probe.c"), "w") as f:
    f.write("#include <stddef.h>\n#include <stdint.h>\n"
            "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
            "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n")
r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", "-o", os.path.join(d, "probe"),
                    os.path.join(d, "probe.c")], capture_output=True, text=True)
if r.returncode != 0:
    skip_all("clang cannot link libFuzzer with ASan and UBSan (install libclang-rt-dev): %s"
             % (r.stderr.strip().splitlines() or ["?"])[-1])

# LeakSanitizer stops the world with ptrace: where that is not allowed it
# dies at exit, so leaks are checked only where it works.
env = dict(os.environ)
for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
    env.pop(k, None)
r = subprocess.run([os.path.join(d, "probe"), "-runs=1"], capture_output=True, text=True, env=env)
if r.returncode != 0 and "LeakSanitizer" in r.stderr:
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    diag("LeakSanitizer cannot run here (no ptrace): leaks are not checked")

plan(5)

r = subprocess.run(["make", "-s", "-j%d" % (os.cpu_count() or 2), "fuzz"], cwd=TOP, env=env,
                   capture_output=True, text=True)
if not ok(r.returncode == 0 and os.access(FUZZER, os.X_OK), "make fuzz builds the walker fuzzer",
          r.stdout + r.stderr):
    for name in ("seeds replay", "bounded run", "executions", "no artifacts"):
        skip(name, "the fuzzer did not build")
    done()

# every committed seed once (-runs=0: the corpus is executed, no mutations)
r = subprocess.run([FUZZER, "-runs=0", SEEDS], capture_output=True, text=True, env=env, timeout=120)
nseeds = len(os.listdir(SEEDS))
ok(r.returncode == 0, "all %d committed seeds replay cleanly" % nseeds, r.stderr[-3000:])

work = os.path.join(d, "corpus")
arts = os.path.join(d, "artifacts") + "/"
os.makedirs(work)
os.makedirs(arts)
try:
    r = subprocess.run([FUZZER, "-max_total_time=%d" % SECONDS, "-timeout=10", "-print_final_stats=1",
                        "-artifact_prefix=" + arts, work, SEEDS],
                       capture_output=True, text=True, env=env, timeout=SECONDS + 120)
    rc, err = r.returncode, r.stderr
except subprocess.TimeoutExpired as e:
    rc, err = -1, (e.stderr or b"").decode(errors="replace") + "\n(timed out)"
ok(rc == 0, "%d s of fuzzing: no crash, hang, leak or broken invariant" % SECONDS, err[-4000:])

m = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
execs = int(m.group(1)) if m else 0
cov = re.findall(r"cov: (\d+) ft: (\d+)", err)
ok(execs > 100, "the fuzzer ran (%d executions)" % execs, err[-2000:])
if cov:
    diag("%d executions, coverage %s edges, %s features" % (execs, cov[-1][0], cov[-1][1]))

found = sorted(os.listdir(arts))
ok(not found, "no crash, leak or timeout inputs", "saved in %s: %s" % (arts, " ".join(found)))
done()
