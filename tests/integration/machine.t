#!/usr/bin/env python3
# Machine output stays machine output: under --json a program started
# with --args writes to heapdbg's stderr, not into the JSON; its output
# can go to a file of its own (--inferior-output=FILE), heapdbg's to
# another (--json=FILE, --log-file=FILE); the README's CI recipe parses.
import json, os, re, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
d = tmpdir("machine")
leaky = os.path.join(TARGETS, "leaky")
cmds = ["-batch", "-ex", "trace start", "-ex", "continue", "-ex", "leaks"]


def all_json(text):
    bad = []
    objs = []
    for l in text.splitlines():
        try:
            objs.append(json.loads(l))
        except ValueError:
            bad.append(l)
    return objs, bad


# --json --args: stdout is JSON Lines only; the program's lines on stderr
r = run(cmds + ["--args", leaky, "exit"])
ok(r.rc == 0 and r.objs and not r.bad_lines, "--json --args: every stdout line is JSON", r)
ok("lostlist 0x" in r.err and "lostlist" not in r.out, "--json --args: the program's stdout is on stderr", r.err)
p = subprocess.run([HEAPDBG, "-q", "--json"] + cmds + ["--args", leaky, "exit"], stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL, text=True, timeout=120)
pj = subprocess.run([sys.executable, "-c", "import json,sys\nfor l in sys.stdin: json.loads(l)"], input=p.stdout,
                    text=True, capture_output=True)
is_(pj.returncode, 0, "--json --args piped into a JSON parser: it parses")

# --inferior-output=FILE: the program's stdout and stderr there
inf = os.path.join(d, "prog.out")
r = run(cmds + ["--inferior-output=" + inf, "--args", leaky, "exit"])
ok(r.rc == 0 and not r.bad_lines and "lostlist" not in r.out + r.err, "--inferior-output: nothing of the program "
   "on heapdbg's stdout or stderr", r)
ok(os.path.exists(inf) and "lostlist 0x" in open(inf).read(), "--inferior-output: the program's output in FILE")
r = run(["--inferior-output", inf, "-batch", "-ex", "info", "-p", "1"])
is_(r.rc, 64, "--inferior-output without --args: usage error")

# --json=FILE: the JSON in FILE; stdout is the program's
jf = os.path.join(d, "out.json")
r = run(cmds + ["--json=" + jf, "--args", leaky, "exit"], json_mode=False)
objs, bad = all_json(open(jf).read()) if os.path.exists(jf) else ([], ["no file"])
ok(r.rc == 0 and objs and not bad and any(o.get("cmd") == "leaks" for o in objs), "--json=FILE: JSON Lines in FILE",
   bad[:3])
ok("lostlist 0x" in r.out and "{" not in r.out, "--json=FILE: stdout is the program's output", r)

# --log-file=FILE: text output in FILE
lf = os.path.join(d, "out.txt")
r = run(cmds + ["--log-file=" + lf, "--args", leaky, "exit"], json_mode=False)
txt = open(lf).read() if os.path.exists(lf) else ""
ok(r.rc == 0 and "LEAK SUMMARY" in txt and "LEAK SUMMARY" not in r.out, "--log-file=FILE: the report in FILE", r)
r = run(["--log-file=" + os.path.join(d, "no", "such", "dir"), "-batch"], json_mode=False)
ok(r.rc == 64 and "No such file" in r.err, "--log-file into a missing directory: usage error, said", r)

# the README's CI recipe, as written there, parses
readme = open(os.path.join(TOP, "README")).read()
m = re.search(r"^    # CI recipe:.*\n((?:    .*\n)+)", readme, re.M)
ok(m, "README has the CI recipe")
recipe = m.group(1) if m else ""
recipe = re.sub(r"\\\n\s*", "", recipe).strip()
ok(recipe.startswith("heapdbg ") and "./prog arg" in recipe and "jq" in recipe, "the recipe runs heapdbg into jq",
   recipe)
cmd = recipe.replace("heapdbg ", HEAPDBG + " -q ", 1).replace("./prog arg", leaky + " exit")
if have("jq"):
    env = dict(os.environ, LC_ALL="C")
    env.pop("DEBUGINFOD_URLS", None)
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120, env=env)
    try:
        got = json.loads(p.stdout)
    except ValueError:
        got = None
    ok(p.returncode == 0 and got == {"bytes": 288, "blocks": 6},
       "the CI recipe parses and gives the definite leaks (6 blocks, 288 bytes)", "%r\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
else:
    skip("the CI recipe parses", "jq not installed")
done()
