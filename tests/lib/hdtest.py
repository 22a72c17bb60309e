"""hdtest - helpers for heapdbg's integration tests (TAP for prove).

A test starts small target programs from tests/targets (each prints
"ready PID" once it is in the state the test wants), runs heapdbg in batch
mode with --json, and compares what heapdbg reports with what the target
itself printed, or with an oracle (gdb, valgrind, mallinfo2).
"""
import atexit
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

TOP = os.environ.get("TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEAPDBG = os.environ.get("HEAPDBG") or os.path.join(TOP, "heapdbg")
TARGETS = os.path.join(TOP, "tests", "targets")
SANITIZERS = os.environ.get("HEAPDBG_SANITIZERS") == "yes"
TMP = os.path.join(TOP, "tests", "tmp")

_n = 0
_failed = 0
_planned = None
_children = []


def plan(n):
    global _planned
    _planned = n
    print("1..%d" % n, flush=True)


def skip_all(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    sys.exit(0)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def ok(cond, name, detail=None):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", _n, name), flush=True)
    if not cond and detail is not None:
        diag(detail)
    return bool(cond)


def is_(got, want, name):
    return ok(got == want, name, "got:  %r\nwant: %r" % (got, want))


def skip(name, reason):
    global _n
    _n += 1
    print("ok %d - %s # skip %s" % (_n, name, reason), flush=True)


def done():
    cleanup()
    if _planned is None:
        print("1..%d" % _n, flush=True)
    elif _planned != _n:
        diag("planned %d tests, ran %d" % (_planned, _n))
        sys.exit(1)
    sys.exit(1 if _failed else 0)


def tmpdir(name):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


class Target:
    """A target program started for a test."""

    def __init__(self, name, args=(), env=None, ready=True, timeout=20, stdin=None):
        path = name if os.path.isabs(name) else os.path.join(TARGETS, name)
        e = dict(os.environ)
        e.pop("GLIBC_TUNABLES", None)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([path] + [str(a) for a in args], stdout=subprocess.PIPE,
                                     stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     env=e)
        self.pid = self.proc.pid
        self.lines = []
        self._buf = b""
        self._eof = False
        _children.append(self)
        if ready:
            line = self.read_until("ready", timeout)
            if not line:
                raise RuntimeError("target %s did not get ready (got %r)" % (name, self.lines[-3:]))

    def readline(self, timeout=20):
        """The next line the target printed; None on timeout, "" at EOF."""
        end = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            if self._eof:
                return ""
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                if self._buf:
                    self._buf += b"\n"
                continue
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line = line.decode(errors="replace")
        self.lines.append(line)
        return line

    def read_until(self, prefix, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            line = self.readline(max(0.1, end - time.time()))
            if line is None:
                continue
            if line == "":
                return None
            if line.startswith(prefix):
                return line
        return None

    def values(self, prefix):
        """Parse 'prefix k=v k=v' lines the target printed into a dict."""
        for line in self.lines:
            if line.startswith(prefix + " ") or line == prefix:
                return parse_kv(line[len(prefix):])
        return None

    def tids(self):
        try:
            return sorted(int(x) for x in os.listdir("/proc/%d/task" % self.pid))
        except OSError:
            return []

    def wait_parked(self, nthreads=None, syscall=230, timeout=20):
        """Wait until every thread is blocked in the given system call
        (230: clock_nanosleep, how sleep() parks on x86-64)."""
        end = time.time() + timeout
        while time.time() < end:
            tids = self.tids()
            good = bool(tids) and (nthreads is None or len(tids) == nthreads)
            for tid in tids:
                try:
                    with open("/proc/%d/task/%d/syscall" % (self.pid, tid)) as f:
                        if f.read().split()[0] != str(syscall):
                            good = False
                except (OSError, IndexError):
                    good = False
            if good:
                return True
            time.sleep(0.02)
        return False

    def state(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return None

    def tracer(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("TracerPid:"):
                        return int(line.split()[1])
        except OSError:
            return None

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def parse_kv(s):
    out = {}
    for tok in s.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = int(v, 0)
            except ValueError:
                out[k] = v
    return out


def cleanup():
    for t in _children:
        t.stop()


atexit.register(cleanup)


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.objs = []
        self.bad_lines = []
        for line in out.splitlines():
            if not line.strip():
                continue
            try:
                self.objs.append(json.loads(line))
            except ValueError:
                self.bad_lines.append(line)

    def cmd(self, name, nth=0):
        found = [o for o in self.objs if o.get("cmd") == name]
        return found[nth] if len(found) > nth else None

    def __repr__(self):
        return "rc=%s\nstdout=%s\nstderr=%s" % (self.rc, self.out[-3000:], self.err[-3000:])


def run(args, timeout=120, input=None, env=None, json_mode=True, valgrind=False):
    cmd = [HEAPDBG, "-q"] + (["--json"] if json_mode else []) + list(args)
    if valgrind:
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect", "--track-fds=no"] + cmd
    e = dict(os.environ)
    e.pop("GLIBC_TUNABLES", None)
    e["LC_ALL"] = "C"
    e.pop("DEBUGINFOD_URLS", None)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, env=e)
    return Result(p.returncode, p.stdout, p.stderr)


def batch(target_args, *cmds, **kw):
    args = list(target_args) + ["-batch"]
    for c in cmds:
        args += ["-ex", c]
    return run(args, **kw)


def can_ptrace():
    """(True, None) or (False, reason): can this test run attach to a child?"""
    if not os.path.exists(HEAPDBG):
        return False, "heapdbg not built"
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = run(["-p", str(p.pid), "-batch", "-ex", "info"], timeout=30)
        if r.rc == 2:
            return False, "cannot ptrace here: " + r.err.strip()
        return True, None
    finally:
        p.kill()
        p.wait()


def require_ptrace():
    good, why = can_ptrace()
    if not good:
        skip_all(why)


def have(prog):
    return shutil.which(prog) is not None


def norm_func(name):
    """Reduce glibc's aliases to one spelling: __GI___nanosleep, __nanosleep,
    nanosleep@GLIBC_2.2.5 -> nanosleep."""
    if name is None:
        return "??"
    name = name.split("@")[0]
    name = re.sub(r"^__GI_", "", name)
    name = name.lstrip("_")
    return name


def heap_identities(heap_obj, mi):
    """Compare heapdbg's `heap` JSON with a mallinfo2 dict (the identities
    of docs/heap-model.md).  Returns a list of (name, got, want)."""
    arenas = heap_obj.get("arenas", [])
    got = {
        "arena": sum(a["system_mem"] for a in arenas),
        "ordblks": sum(a["bins"]["chunks"] for a in arenas) + len(arenas),
        "smblks": sum(a["fastbins"]["chunks"] for a in arenas),
        "fordblks": sum(a["top"]["size"] + a["bins"]["bytes"] + a["fastbins"]["bytes"] for a in arenas),
        "fsmblks": sum(a["fastbins"]["bytes"] for a in arenas),
        "hblks": heap_obj.get("mmapped", {}).get("chunks"),
        "hblkhd": heap_obj.get("mmapped", {}).get("bytes"),
    }
    got["uordblks"] = got["arena"] - got["fordblks"]
    return [(k, got[k], mi.get(k)) for k in ("arena", "ordblks", "smblks", "fordblks", "fsmblks",
                                                 "uordblks", "hblks", "hblkhd")]


def check_identities(heap_obj, mi, label):
    rows = heap_identities(heap_obj, mi)
    bad = [r for r in rows if r[1] != r[2]]
    return ok(heap_obj is not None and not bad, "%s: heap totals equal mallinfo2 (%s)" % (
        label, ", ".join("%s=%s" % (k, w) for k, g, w in rows)),
        "mismatches: " + ", ".join("%s heapdbg=%s glibc=%s" % r for r in bad))


def held_pointers(target):
    out = []
    for line in target.lines:
        if line.startswith("held "):
            _, addr, req = line.split()
            out.append((int(addr, 16), int(req)))
    return out


def check_held(chunks_obj, held, label):
    """Every pointer the program holds is a live chunk of at least its
    requested size."""
    live = {}
    for c in (chunks_obj or {}).get("chunks", []):
        live[int(c["addr"], 16)] = c
    bad = []
    for addr, req in held:
        c = live.get(addr)
        if c is None or c["state"] not in ("used", "mmapped") or c["usable"] < req:
            bad.append((hex(addr), req, c and c["state"], c and c["usable"]))
    return ok(held and not bad, "%s: all %d held pointers are live chunks of at least their size" % (
        label, len(held)), "bad: %r" % bad[:10])


# ---- other glibc versions ----
#
# HEAPDBG_GLIBC_DIR names a directory of glibc runtimes, one
# glibc-VERSION.tar.xz each (../shared/glibc in CI, or what
# scripts/build-glibc.sh made): VERSION/lib/ holds the dynamic linker and
# the libraries, with their DWARF inside; VERSION/dev/ (optional) the
# headers and crt files to build a program for that version.  Each
# tarball is unpacked once into tests/tmp/glibc (kept until `make clean`,
# unpacked again when the tarball changes), beside two copies of lib/
# whose libc.so.6 (and libc_malloc_debug.so.0) lost their debug info:
#   lib-nodebug   objcopy --strip-debug: no DWARF, the symbol table kept
#   lib-stripped  objcopy --strip-all: only the dynamic symbols, as a
#                 distribution ships libc without its debug package
#   lib-debuglink the same, with its debug info in a separate file beside
#                 it (libc.so.6.debug, named by .gnu_debuglink), as with
#                 the debug package installed
# The other files of lib/ are linked, not copied.

GLIBC_DIR = os.environ.get("HEAPDBG_GLIBC_DIR")
GLIBC_CACHE = os.path.join(TMP, "glibc")
LIB_VARIANTS = ("lib", "lib-nodebug", "lib-stripped", "lib-debuglink")
_STRIP = {"lib-nodebug": "--strip-debug", "lib-stripped": "--strip-all", "lib-debuglink": "--strip-all"}


class Runtime:
    """One glibc runtime unpacked from HEAPDBG_GLIBC_DIR."""

    def __init__(self, version, root):
        self.version = version
        self.vtuple = tuple(int(x) for x in version.split("."))
        self.root = root
        self.dev = os.path.join(root, "dev") if os.path.isdir(os.path.join(root, "dev", "include")) else None
        self.bindir = os.path.join(root, "bin")

    def lib(self, variant="lib"):
        return os.path.join(self.root, variant)

    def ldso(self, variant="lib"):
        return os.path.join(self.root, variant, "ld-linux-x86-64.so.2")

    def has(self, name):
        return os.path.exists(os.path.join(self.root, "lib", name))

    def build(self, target, variant="lib", static=False, name=None):
        """Build tests/targets/TARGET.c for this runtime: its dynamic
        linker and run path in lib VARIANT (or statically, against dev/).
        With dev/ the program is built against that version's headers
        and crt files, else against this machine's (which runs on newer
        versions, and on older ones when it needs no newer symbol
        version).  Returns (path, None) or (None, why).  Cached."""
        src = os.path.join(TARGETS, target + ".c")
        name = name or "%s-%s%s" % (target, variant, "-static" if static else "")
        out = os.path.join(self.bindir, name)
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            return out, None
        if static and not self.dev:
            return None, "glibc %s has no dev/ part (libc.a) to link a static program with" % self.version
        os.makedirs(self.bindir, exist_ok=True)
        cmd = ["gcc", "-g", "-O0", "-fno-omit-frame-pointer", "-pthread", "-w", "-o", out + ".tmp", src]
        if self.dev:
            gccinc = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True,
                                    text=True).stdout.strip()
            cmd += ["-nostdinc", "-isystem", gccinc, "-isystem", gccinc + "-fixed",
                    "-isystem", os.path.join(self.dev, "include"),
                    "-B", os.path.join(self.dev, "lib") + "/", "-L", os.path.join(self.dev, "lib")]
        if static:
            cmd += ["-static"]
        else:
            cmd += ["-Wl,--dynamic-linker=" + self.ldso(variant), "-Wl,-rpath=" + self.lib(variant)]
        cmd += ["-lpthread"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, "building %s for glibc %s failed: %s" % (target, self.version, p.stderr[-500:])
        os.rename(out + ".tmp", out)
        return out, None

    def runs(self, prog):
        """(True, None) or (False, why): does prog start on this runtime?"""
        e = dict(os.environ, LD_TRACE_LOADED_OBJECTS="1")
        p = subprocess.run([prog], capture_output=True, text=True, timeout=30, env=e)
        bad = [l.strip() for l in (p.stdout + p.stderr).splitlines() if "not found" in l]
        if p.returncode != 0 or bad:
            return False, (bad or [p.stderr.strip()])[0]
        return True, None


def _unpack_runtime(tarball):
    """Unpack one runtime tarball into the cache (once); returns its root."""
    import fcntl
    base = os.path.basename(tarball)[:-len(".tar.xz")]
    root = os.path.join(GLIBC_CACHE, base)
    st = os.stat(tarball)
    stamp = "%s %d %d\n" % (tarball, st.st_size, int(st.st_mtime))
    stampf = os.path.join(root, ".unpacked")
    os.makedirs(GLIBC_CACHE, exist_ok=True)
    with open(os.path.join(GLIBC_CACHE, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            if open(stampf).read() == stamp:
                return root
        except OSError:
            pass
        shutil.rmtree(root, ignore_errors=True)
        p = subprocess.run(["tar", "-xJf", tarball, "-C", GLIBC_CACHE], capture_output=True, text=True)
        if p.returncode != 0 or not os.path.isdir(os.path.join(root, "lib")):
            raise RuntimeError("cannot unpack %s: %s" % (tarball, p.stderr.strip()))
        lib = os.path.join(root, "lib")
        for variant, flag in _STRIP.items():
            d = os.path.join(root, variant)
            os.makedirs(d)
            for f in os.listdir(lib):
                if f in ("libc.so.6", "libc_malloc_debug.so.0") or f.startswith("libc-2."):
                    src = os.path.realpath(os.path.join(lib, f))
                    if os.path.islink(os.path.join(lib, f)):
                        # libc.so.6 -> libc-2.31.so: the same link
                        os.symlink(os.readlink(os.path.join(lib, f)), os.path.join(d, f))
                        continue
                    if variant == "lib-debuglink":
                        dbg = os.path.join(d, f + ".debug")
                        subprocess.run(["objcopy", "--only-keep-debug", src, dbg], check=True)
                        subprocess.run(["objcopy", flag, "--add-gnu-debuglink=" + dbg, src, os.path.join(d, f)],
                                       check=True)
                    else:
                        subprocess.run(["objcopy", flag, src, os.path.join(d, f)], check=True)
                else:
                    os.symlink(os.path.join("..", "lib", f), os.path.join(d, f))
        with open(stampf, "w") as f:
            f.write(stamp)
    return root


def glibc_runtimes():
    """The runtimes of HEAPDBG_GLIBC_DIR, oldest first: (list, None), or
    ([], why) when there are none to test."""
    if not GLIBC_DIR:
        return [], ("HEAPDBG_GLIBC_DIR is not set (.ci/run sets it to ../shared/glibc when that exists; "
                    "scripts/build-glibc.sh makes runtimes)")
    if not os.path.isdir(GLIBC_DIR):
        return [], "HEAPDBG_GLIBC_DIR=%s is not a directory" % GLIBC_DIR
    found = []
    for f in os.listdir(GLIBC_DIR):
        m = re.match(r"^glibc-(\d+\.\d+)\.tar\.xz$", f)
        if m:
            found.append((tuple(int(x) for x in m.group(1).split(".")), m.group(1), os.path.join(GLIBC_DIR, f)))
    if not found:
        return [], "no glibc-VERSION.tar.xz in HEAPDBG_GLIBC_DIR=%s" % GLIBC_DIR
    return [Runtime(v, _unpack_runtime(p)) for _, v, p in sorted(found)], None


def quick_vs_mallinfo(sample, mi, label):
    """A `monitor --quick` sample (JSON) against mallinfo2's fields."""
    f = sample.get("free", {})
    got = {"arena": sample.get("system_mem"), "fordblks": f.get("bytes"),
           "uordblks": (sample.get("in_use", {}).get("bytes") or 0) - (sample.get("mmapped", {}).get("bytes") or 0),
           "smblks": f.get("fastbins", {}).get("chunks"), "fsmblks": f.get("fastbins", {}).get("bytes"),
           "ordblks": (f.get("bins", {}).get("chunks") or 0) + (sample.get("arenas") or 0),
           "hblks": sample.get("mmapped", {}).get("chunks"), "hblkhd": sample.get("mmapped", {}).get("bytes")}
    want = {k: mi.get(k) for k in got}
    is_(sample.get("source"), "free-lists", "%s: totals from the free lists" % label)
    is_(got, want, "%s: mallinfo2's numbers, every one" % label)


def mallinfo_of(target):
    """The mallinfo2 line a target printed, or its mallinfo line on a glibc
    without mallinfo2 (before 2.33): the same keys."""
    return target.values("mallinfo2") or target.values("mallinfo")


class Pty:
    """heapdbg on a pseudo-terminal (the interactive shell), for tests of
    what a person at a terminal sees and types."""

    def __init__(self, args, home=None, env=None):
        import pty
        self.buf = ""
        self.status = None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            if home:
                os.environ["HOME"] = home
            os.environ["TERM"] = "dumb"
            os.environ["LC_ALL"] = "C"
            os.environ.pop("DEBUGINFOD_URLS", None)
            os.environ.pop("GLIBC_TUNABLES", None)
            if env:
                os.environ.update(env)
            os.execv(HEAPDBG, [HEAPDBG, "-q"] + list(args))

    def read_until(self, text, timeout=15):
        """Everything up to and including text (None on timeout or EOF)."""
        end = time.time() + timeout
        while time.time() < end:
            if text in self.buf:
                i = self.buf.index(text) + len(text)
                seen, self.buf = self.buf[:i], self.buf[i:]
                return seen
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                self.buf += data.decode(errors="replace")
        return None

    def send(self, s):
        os.write(self.fd, s.encode())

    def cmd(self, line, prompt="(heapdbg) ", timeout=30):
        """Type a line; what was printed up to the next prompt."""
        self.send(line + "\n")
        return self.read_until(prompt, timeout)

    def wait(self, timeout=15):
        """heapdbg's wait status once it ended (None if it did not)."""
        end = time.time() + timeout
        while time.time() < end and self.status is None:
            p, st = os.waitpid(self.pid, os.WNOHANG)
            if p:
                self.status = st
                break
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                    self.buf += data.decode(errors="replace")
                except OSError:
                    pass
        return self.status

    def exit_code(self, timeout=15):
        st = self.wait(timeout)
        return os.WEXITSTATUS(st) if st is not None and os.WIFEXITED(st) else None

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(5)
        try:
            os.close(self.fd)
        except OSError:
            pass


def pid_alive(pid):
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


LEAK_KINDS = (("definite", "definitely lost"), ("indirect", "indirectly lost"),
              ("possible", "possibly lost"), ("reachable", "still reachable"))


def valgrind_leaks(text, nth=0):
    """The nth LEAK SUMMARY in valgrind's output, as {kind: (blocks, bytes)}
    ("All heap blocks were freed" is all zeros); None if there is none."""
    parts = re.split(r"LEAK SUMMARY:|All heap blocks were freed", text)
    if len(parts) <= nth + 1:
        return None
    body = parts[nth + 1]
    out = {}
    for kind, label in LEAK_KINDS:
        m = re.search(label + r": ([\d,]+) bytes in ([\d,]+) blocks", body.split("ERROR SUMMARY")[0])
        out[kind] = (int(m.group(2).replace(",", "")), int(m.group(1).replace(",", ""))) if m else (0, 0)
    return out


def heapdbg_leaks(res, nth=0):
    """`leaks` JSON of a Result as {kind: (blocks, bytes)}, or None."""
    l = res.cmd("leaks", nth)
    if not l or "definite" not in l:
        return None
    return {k: (l[k]["blocks"], l[k]["bytes"]) for k, _ in LEAK_KINDS}
