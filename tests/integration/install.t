#!/usr/bin/env python3
# The README and the install: what a new user reads and runs first.
# The README's references resolve, it says where the binary lands, how
# long make check takes and what ptrace needs (with heapdbg's exact
# messages); its set-up command is the full one.  install-deps.sh, run
# against a fake apt-get, installs everything or (--build-only) what
# building needs, and waits for a held dpkg/apt lock.  make install puts
# every document the installed man page names where the man page says.
import os, re, shutil, stat, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

d = tmpdir("install")
readme = open(os.path.join(TOP, "README")).read()

# ---- README ----
heads = set(re.findall(r"^(\S.*)\n[-=]{3,}$", readme, re.M))
refs = re.findall(r'see "([^"]+)"', readme)
missing = [r for r in refs if r not in heads]
ok(refs and not missing, "README: every 'see \"SECTION\"' names a section of it", (refs, missing))
ok("What works today" not in readme, "README: no dangling 'What works today'")
ok(re.search(r"lands in the source tree as \./heapdbg", readme), "README: where the binary lands (./heapdbg)")
ok(re.search(r"make check\b[^.]*\n?[^.]*about \d+ minutes|about \d+ minutes[^.]*\n?[^.]*make check", readme) or
   re.search(r"Run the tests \(about \d+ minutes", readme), "README: how long make check takes")
for word in ("same user", "root", "CAP_SYS_PTRACE", "kernel.yama.ptrace_scope"):
    ok(word in readme, "README: what ptrace needs: %s" % word)
ok(re.search(r"^    sudo sysctl -w kernel\.yama\.ptrace_scope=0$", readme, re.M),
   "README: the command that lifts Yama's restriction")

# the messages the README quotes are heapdbg's own, word for word
quoted = re.findall(r"^    (heapdbg: cannot attach to process 1234: .*)$", readme, re.M)
ok(len(quoted) == 2, "README quotes two attach errors", quoted)
src = open(os.path.join(TOP, "src", "target-live.c")).read()
# the format strings, their C string pieces joined
fmts = [re.sub(r'"\s*"', "", m) for m in re.findall(r'hd_fail\(HD_EPERM,\s*("(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*)',
                                                     src)]
fmts = ["heapdbg: " + f.strip('"').replace("%d", "1234").replace("%lu", "0") for f in fmts]
yama = [q for q in quoted if "Yama" in q]
ok(yama and yama[0] in fmts, "README's Yama error is heapdbg's message", (yama, [f for f in fmts if "Yama" in f]))
other = [q for q in quoted if "another user" in q]
if os.geteuid() == 0 and have("setpriv") and os.path.exists(HEAPDBG):
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HEAPDBG, "-q", "-batch",
                            "-ex", "info", "-p", str(p.pid)], capture_output=True, text=True, timeout=30)
    finally:
        p.kill()
        p.wait()
    got = r.stderr.strip().replace(str(p.pid), "1234")
    ok(r.returncode == 2 and other and got == other[0], "README's another-user error is what heapdbg prints",
       (got, other))
else:
    skip("README's another-user error is what heapdbg prints", "needs root and setpriv")

# the set-up command stays the full one, and CI runs it
m = re.search(r"^Set up and build[^\n]*\n[^\n]*\n\n    ([^\n]*)\n", readme, re.M)
setup = m.group(1) if m else ""
is_(setup, "./scripts/install-deps.sh && ./configure && make", "README: the set-up command is the full one")
ci = open(os.path.join(TOP, ".ci", "run")).read()
ok(re.search(r"^\./scripts/install-deps\.sh && \./configure && make", ci, re.M), ".ci/run runs the README's set-up")

# ---- install-deps.sh against a fake apt-get ----
fake = os.path.join(d, "bin")
os.makedirs(fake)
log = os.path.join(d, "apt.log")
scripts = {
    # apt-get: logs its arguments; 'update' fails with apt's lock message
    # the first $FAIL_UPDATE times ($FAIL_HOW=other: another failure)
    "apt-get": """#!/bin/sh
echo "$*" >> "$APT_LOG"
case " $* " in *" update "*)
	n=$(grep -cw update "$APT_LOG")
	if [ "$n" -le "${FAIL_UPDATE:-0}" ]; then
		if [ "${FAIL_HOW:-lock}" = lock ]; then
			echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
			echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
		else
			echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2
		fi
		exit 100
	fi ;;
esac
exit 0
""",
    "dpkg-query": "#!/bin/sh\nexit 1\n",
    "sudo": "#!/bin/sh\nexec \"$@\"\n",
    "sleep": "#!/bin/sh\necho \"sleep $*\" >> \"$APT_LOG\"\n",
}
for name, text in scripts.items():
    path = os.path.join(fake, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
deps = os.path.join(TOP, "scripts", "install-deps.sh")


def deps_run(*args, **env):
    if os.path.exists(log):
        os.unlink(log)
    e = dict(os.environ, PATH=fake + ":" + os.environ["PATH"], APT_LOG=log)
    e.update({k: str(v) for k, v in env.items()})
    p = subprocess.run(["sh", deps] + list(args), capture_output=True, text=True, timeout=60, env=e)
    lines = open(log).read().splitlines() if os.path.exists(log) else []
    return p, lines


def installed(lines):
    inst = [l for l in lines if " install " in " " + l + " "]
    if len(inst) != 1:
        return None
    words = inst[0].split()
    return set(words[words.index("install") + 1:]) - {"-y", "-q", "--no-install-recommends"}


p, lines = deps_run()
full = installed(lines)
ok(p.returncode == 0 and full and {"gcc", "make", "libdw-dev", "gdb", "valgrind", "python3"} <= full,
   "install-deps.sh: build and test packages", (p.returncode, p.stderr, lines))
ok(len(lines) == 2 and all("-o DPkg::Lock::Timeout=300" in l for l in lines),
   "install-deps.sh: update and install wait for the dpkg lock (DPkg::Lock::Timeout=300)", lines)

p, lines = deps_run("--build-only")
build = installed(lines)
ok(p.returncode == 0 and build and build < (full or set()), "--build-only: a strict subset", (p.stderr, lines))
ok(build and not ({"gdb", "valgrind", "clang", "golang-go", "python3", "perl"} & build),
   "--build-only: no test tools", build)
# what configure says it needs (its --help lists the Debian packages)
conf = subprocess.run(["sh", os.path.join(TOP, "configure"), "--help"], capture_output=True, text=True).stdout
need = set(re.findall(r"\b(lib[a-z0-9]+-dev)\b", conf)) | {"gcc", "make", "pkg-config"}
ok(build and need <= build, "--build-only: every package configure names", (sorted(need), sorted(build or ())))

p, lines = deps_run("--build-only", "--lock-timeout=7")
ok(p.returncode == 0 and lines and all("DPkg::Lock::Timeout=7 " in l + " " for l in lines),
   "--lock-timeout=7 reaches apt", lines)

# 'apt-get update' cannot wait for the lists lock: retried
p, lines = deps_run("--build-only", FAIL_UPDATE=2)
ups = [l for l in lines if "update" in l.split()]
ok(p.returncode == 0 and len(ups) == 3 and lines.count("sleep 5") == 2 and installed(lines) == build
   and "another apt holds the lock" in p.stderr, "a held lists lock: update retried every 5 s, then the install",
   (p.returncode, p.stderr, lines))
p, lines = deps_run("--build-only", "--lock-timeout=10", FAIL_UPDATE=99)
ups = [l for l in lines if "update" in l.split()]
ok(p.returncode != 0 and len(ups) == 3 and installed(lines) is None and "apt-get update failed" in p.stderr,
   "a lock held past --lock-timeout: fails, nothing installed", (p.returncode, p.stderr, lines))
p, lines = deps_run("--build-only", FAIL_UPDATE=1, FAIL_HOW="other")
ok(p.returncode != 0 and len(lines) == 1 and "Failed to fetch" in p.stderr, "another update failure: not retried",
   (p.returncode, p.stderr, lines))
p, lines = deps_run("--bogus")
ok(p.returncode == 64 and not lines and "usage" in p.stderr, "an unknown option: usage, apt not run", (p.stderr, lines))

# ---- make install: the man page names what is installed ----
mk = os.path.join(TOP, "Makefile")
if os.path.exists(mk) and have("make") and os.path.exists(HEAPDBG):
    dest = os.path.join(d, "dest")
    r = subprocess.run(["make", "-s", "-C", TOP, "install", "DESTDIR=" + dest], capture_output=True, text=True,
                       timeout=300)
    ok(r.returncode == 0, "make install DESTDIR=...", r.stderr)
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(dest) for f in fs]
    bins = [f for f in files if f.endswith("/bin/heapdbg")]
    mans = [f for f in files if f.endswith("/man1/heapdbg.1")]
    ok(len(bins) == 1 and os.stat(bins[0]).st_mode & stat.S_IXOTH, "the binary installed, executable", files)
    ok(len(mans) == 1, "the man page installed", files)
    man = open(mans[0]).read() if mans else ""
    ok("docs/" not in man, "the installed man page names no source-tree docs/ path",
       [l for l in man.splitlines() if "docs/" in l])
    named = sorted(set(re.findall(r"(/[^\s()]*\.md)\b", man)))
    absent = [n for n in named if not os.path.isfile(dest + n)]
    ok(len(named) >= 3 and not absent, "every document the man page names is installed there", (named, absent))
    # so is the one `help heap` names
    h = subprocess.run([HEAPDBG, "-q", "-batch", "-ex", "help heap"], capture_output=True, text=True).stdout
    hm = re.search(r"(/\S*heap-model\.md)", h)
    ok(hm and os.path.isfile(dest + hm.group(1)), "`help heap` names the installed heap-model.md", h)
    if have("groff"):
        g = subprocess.run(["groff", "-man", "-ww", "-z", mans[0]], capture_output=True, text=True)
        ok(g.returncode == 0 and not g.stderr.strip(), "the installed man page formats without warnings", g.stderr)
    else:
        skip("the installed man page formats without warnings", "no groff")
    r = subprocess.run(["make", "-s", "-C", TOP, "uninstall", "DESTDIR=" + dest], capture_output=True, text=True,
                       timeout=120)
    left = [os.path.join(dp, f) for dp, _, fs in os.walk(dest) for f in fs]
    ok(r.returncode == 0 and not left, "make uninstall removes every file", (r.stderr, left))
else:
    for n in range(8):
        skip("make install", "no Makefile (configure not run) or heapdbg not built")
done()
