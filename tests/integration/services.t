#!/usr/bin/env python3
# Real services from Debian, started by the test on 127.0.0.1 and driven by
# a bounded load from the test itself, as an operator would use heapdbg on
# them: nginx (a worker under its master, and a single process at exit)
# and memcached (threads).  Checked against oracles we did not write:
# - glibc's own mallinfo2() (the LD_PRELOAD shim) for the heap walk;
# - every response of the load, while traced, and after heapdbg is gone;
# - the same load traced both ways (fast tracepoints and breakpoints):
#   the same calls counted, the same blocks left outstanding;
# - the allocator entry points' bytes, read from /proc/PID/mem before and
#   after: no trap or jump left behind;
# - valgrind's leak summary of the same nginx run at exit;
# - gdb's backtrace of the idle worker.
# A service that is not installed is skipped (scripts/install-deps.sh
# installs them).
import os, re, signal, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
PRELOAD = os.path.join(TARGETS, "libmallinfo-preload.so")
MI_SIG = 41               # a real-time signal neither service uses
d = tmpdir("services")
ENTRY = ("malloc", "free", "calloc", "realloc", "posix_memalign")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def libc_entries(pid):
    """{name: address} of ENTRY in the libc the process mapped."""
    base = path = None
    for line in open("/proc/%d/maps" % pid):
        f = line.split()
        if len(f) >= 6 and re.search(r"/libc\.so\.6$|/libc-[\d.]+\.so$", f[5]) and int(f[2], 16) == 0:
            base, path = int(f[0].split("-")[0], 16), f[5]
            break
    if base is None:
        return {}
    out = {}
    nm = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 3 and f[2].split("@")[0] in ENTRY and f[1] in "TtWi" and f[2].split("@")[0] not in out:
            out[f[2].split("@")[0]] = base + int(f[0], 16)
    return out


def code_bytes(pid, entries):
    b = {}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as m:
        for name, a in entries.items():
            m.seek(a)
            b[name] = m.read(16)
    return b


def tracer_of(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("TracerPid:"):
            return int(line.split()[1])


def wait_patched(pid, entries, orig, timeout=60):
    """True once every entry point's first bytes differ from the original:
    the tracer is armed (a jump or an int3 at each)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            now = code_bytes(pid, entries)
        except OSError:
            return False
        if all(now[n] != orig[n] for n in entries):
            return True
        time.sleep(0.005)
    return False


def mallinfo(pid, out):
    before = open(out).read().count("\n") if os.path.exists(out) else 0
    os.kill(pid, MI_SIG)
    for _ in range(100):
        time.sleep(0.05)
        if os.path.exists(out):
            lines = open(out).read().strip().splitlines()
            if len(lines) > before:
                return parse_kv(lines[-1][len("mallinfo2"):])
    return None


def check_walk(name, pid, out):
    r = batch(["-p", str(pid)], "heap", "check", "info")
    mi = mallinfo(pid, out)
    ok(r.rc == 0, "%s: heap, check, info succeed" % name, r)
    h = r.cmd("heap") or {}
    if mi:
        check_identities(h, mi, "%s: heap against its own mallinfo2 (%s chunks)" % (name, h.get("nchunks")))
    else:
        ok(False, "%s: the shim reported mallinfo2" % name)
    ok((r.cmd("check") or {}).get("ok") is True, "%s: check finds no corruption" % name,
       (r.cmd("check") or {}).get("findings"))
    is_((r.cmd("info") or {}).get("allocator"), "glibc-ptmalloc", "%s: glibc malloc" % name)
    ok(r.cmd("heap") and r.cmd("heap").get("stopped_ms", 1e9) < 1000,
       "%s: heap held the service stopped %s ms" % (name, (r.cmd("heap") or {}).get("stopped_ms")))


def traced(name, pid, how, load):
    """Trace the service while `load` runs; return (batch result, load
    result, load seconds).  The load starts once every entry point is
    patched, so every call of it is inside the trace."""
    entries = libc_entries(pid)
    orig = code_bytes(pid, entries)
    res = {}
    hd = {}

    def run_hd():
        hd["r"] = batch(["-p", str(pid)], "trace start" + how, "continue 6", "trace status", "top 1000",
                        timeout=180)

    th = threading.Thread(target=run_hd)
    th.start()
    armed = wait_patched(pid, entries, orig)
    t0 = time.time()
    if armed:
        try:
            res["ok"] = load()
        except OSError as e:
            res["ok"] = "load failed: %s" % e
    secs = time.time() - t0
    th.join()
    ok(armed, "%s, trace start%s: every entry point patched (%s)" % (name, how, ", ".join(sorted(entries))))
    time.sleep(0.2)
    ok(code_bytes(pid, entries) == orig, "%s, trace start%s: the entry points' bytes are the original ones after detach"
       % (name, how))
    ok(pid_alive(pid), "%s, trace start%s: the service lives on" % (name, how))
    ok(res.get("ok") is True, "%s, trace start%s: every response of the load was right while traced" % (name, how),
       res.get("ok"))
    ok(secs < 5, "%s, trace start%s: the load (%.2f s) ran inside the traced window" % (name, how, secs))
    r = hd.get("r")
    st = (r.cmd("trace") or {}) if r else {}
    for i in range(4):
        c = r.cmd("trace", i) if r else None
        if c and "events" in c:
            st = c
    ok(r is not None and r.rc == 0, "%s, trace start%s: the batch succeeded" % (name, how), r)
    return r, st, secs


# ---- nginx: a worker under its master ------------------------------------
def nginx_conf(dd, port, master, www):
    os.makedirs(dd, exist_ok=True)
    conf = os.path.join(dd, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process %(m)s;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy; fastcgi_temp_path %(d)s/fcgi;
  uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;
  server {
    listen 127.0.0.1:%(p)d;
    location /hello { return 200 "hello\\n"; }
    location / { root %(w)s; }
  }
}
""" % {"m": "on" if master else "off", "d": dd, "p": port, "w": www})
    return conf


def http_load(port, rounds, per):
    """rounds connections of per keep-alive requests each; True when every
    response is the expected one."""
    page = open(os.path.join(WWW, "page.html"), "rb").read()
    for i in range(rounds):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        f = s.makefile("rb")
        for k in range(per):
            path, want = (("/hello", b"hello\n"), ("/page.html", page), ("/missing", None))[(i + k) % 3]
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            status = f.readline()
            length = 0
            while True:
                h = f.readline()
                if h in (b"\r\n", b""):
                    break
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            body = f.read(length)
            if want is None:
                if b" 404 " not in status:
                    return "%s: %r" % (path, status)
            elif b" 200 " not in status or body != want:
                return "%s: %r %d bytes" % (path, status, len(body))
        f.close()
        s.close()
    return True


WWW = os.path.join(d, "www")
os.makedirs(WWW, exist_ok=True)
with open(os.path.join(WWW, "page.html"), "wb") as f:
    f.write(b"<html>" + b"x" * 3000 + b"</html>\n")

if not have("nginx"):
    skip("nginx", "nginx is not installed")
else:
    nd = os.path.join(d, "nginx-m")
    port = free_port()
    conf = nginx_conf(nd, port, True, WWW)
    mi_out = os.path.join(nd, "mallinfo")
    os.close(os.open(mi_out, os.O_CREAT | os.O_WRONLY, 0o666))
    os.chmod(mi_out, 0o666)   # nginx's worker runs as nobody
    env = dict(os.environ, LD_PRELOAD=PRELOAD, HEAPDBG_MALLINFO_OUT=mi_out, HEAPDBG_MALLINFO_SIGNAL=str(MI_SIG))
    env.pop("GLIBC_TUNABLES", None)
    master = subprocess.Popen(["nginx", "-p", nd, "-c", conf], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_port(port, master)
        worker = None
        for _ in range(100):
            kids = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
            if kids:
                worker = int(kids[0])
                break
            time.sleep(0.05)
        ok(up and worker, "nginx: master %d and worker %s serve 127.0.0.1:%d" % (master.pid, worker, port))
        if up and worker:
            ok(http_load(port, 20, 10) is True, "nginx: the warm-up load is served right")
            time.sleep(0.3)
            check_walk("nginx worker", worker, mi_out)
            got = {}
            for how in (" --fast", " --breakpoints"):
                r, st, secs = traced("nginx worker", worker, how, lambda: http_load(port, 10, 12))
                ring = st.get("ring") or {}
                if how == " --fast":
                    ok(st.get("fast", 0) >= len(ENTRY) and ring.get("lost", 1) == 0,
                       "nginx worker, fast: every entry point fast, 0 events lost (%s)" % ring, st)
                ev = st.get("events") or {}
                got[how] = ({k: v for k, v in ev.items() if v}, (st.get("outstanding") or {}))
                diag("nginx worker%s: %s in %.2f s, outstanding %s" % (how, got[how][0], secs, got[how][1]))
            f, b = got[" --fast"], got[" --breakpoints"]
            ok(f[0] and sum(f[0].values()) >= 120 * 2, "nginx worker: the load's calls were traced (%s)" % f[0])
            is_(f[0], b[0], "nginx worker: the same calls counted by fast tracepoints and by breakpoints")
            is_(f[1], b[1], "nginx worker: the same blocks and bytes left outstanding both ways")
            ok(http_load(port, 5, 10) is True, "nginx: served right after heapdbg detached")
            is_(tracer_of(worker), 0, "nginx worker: no longer traced")
            # gdb as the oracle for the idle worker's stack
            if have("gdb"):
                rb = batch(["-p", str(worker)], "bt")
                fr = ((rb.cmd("bt") or {}).get("threads") or [{}])[0].get("frames") or []
                g = subprocess.run(["gdb", "-nx", "-q", "-p", str(worker), "-batch", "-ex", "bt"],
                                   capture_output=True, text=True, timeout=120)
                gpcs = [int(m.group(1), 16) for m in re.finditer(r"^#\d+\s+0x([0-9a-f]+) in ", g.stdout, re.M)]
                hpcs = [int(x["pc"], 16) for x in fr if not x.get("inlined")][:len(gpcs)]
                ok(len(gpcs) >= 3 and hpcs == gpcs, "nginx worker: bt has gdb's return addresses (%d frames)"
                   % len(gpcs), (hpcs, gpcs, g.stdout[-1500:]))
            else:
                skip("nginx worker: bt against gdb", "gdb is not installed")
    finally:
        master.send_signal(signal.SIGQUIT)
        try:
            master.wait(15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()

# ---- nginx at exit: heapdbg --args against valgrind ------------------------
def nginx_at_exit(argv_prefix, dd, port, quiet_out):
    conf = nginx_conf(dd, port, False, WWW)
    p = subprocess.Popen(argv_prefix + ["nginx", "-p", dd, "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ, LC_ALL="C"))
    served = wait_port(port, p, 120) and http_load(port, 10, 6)
    time.sleep(0.5)           # nginx sees the last connection close
    pidf = os.path.join(dd, "nginx.pid")
    for _ in range(100):
        if os.path.exists(pidf) and open(pidf).read().strip():
            break
        time.sleep(0.05)
    try:
        os.kill(int(open(pidf).read()), signal.SIGQUIT)
    except (OSError, ValueError):
        pass
    out, err = p.communicate(timeout=300)
    return served, p.returncode, out, err


ALLOC_FUNCS = ("malloc", "calloc", "realloc", "memalign", "posix_memalign", "aligned_alloc", "valloc")


def below_main(funcs):
    """The first 4 frames, none past main (valgrind stops there)."""
    if "main" in funcs:
        funcs = funcs[:funcs.index("main") + 1]
    return tuple(funcs[:4])


def vg_records(text):
    """valgrind's loss records (--show-leak-kinds=all) as {stack: [blocks,
    bytes]}: the stack is the first 4 frames' function names below the
    allocator's own, '?' for a function without a name."""
    out = {}
    for m in re.finditer(r"== ([\d,]+)(?: \([\d,]+ direct, [\d,]+ indirect\))? bytes in ([\d,]+) blocks? are .*?"
                         r"loss record \d+ of \d+\n((?:==\d+==    (?:at|by) .*\n)+)", text):
        funcs = re.findall(r"(?:at|by) 0x[0-9A-F]+: (\S+)", m.group(3))
        funcs = ["?" if f == "???" else norm_func(f) for f in funcs]
        while funcs and funcs[0] in ALLOC_FUNCS:
            funcs.pop(0)
        e = out.setdefault(below_main(funcs), [0, 0])
        e[0] += int(m.group(2).replace(",", ""))
        e[1] += int(m.group(1).replace(",", ""))
    return out


def hd_records(leaks):
    out = {}
    for r in (leaks or {}).get("records", []):
        funcs = ["?" if not f.get("func") else norm_func(f["func"])
                 for f in (r.get("stack") or {}).get("frames", []) if not f.get("inlined")]
        while funcs and funcs[0] in ALLOC_FUNCS:
            funcs.pop(0)
        e = out.setdefault(below_main(funcs), [0, 0])
        e[0] += r["blocks"]
        # a direct record's bytes in valgrind's terms (its own blocks)
        e[1] += r["bytes"]
    return out


if SANITIZERS or not have("valgrind") or not have("nginx"):
    skip("nginx at exit against valgrind", "valgrind or nginx unavailable, or a sanitizer build")
else:
    served, rc, out, err = nginx_at_exit(["valgrind", "--leak-check=full", "--show-leak-kinds=all"],
                                         os.path.join(d, "nginx-vg"), free_port(), True)
    vg = vg_records(err)
    ok(served is True and vg, "nginx under valgrind: served and reported its blocks in use at exit", err[-1500:])
    served, rc, out, err = nginx_at_exit([HEAPDBG, "-q", "--json", "-batch", "-ex", "trace start", "-ex", "continue",
                                          "-ex", "leaks", "--args"],
                                         os.path.join(d, "nginx-hd"), free_port(), True)
    res = Result(rc, out, err)
    ok(served is True and rc == 0, "nginx under heapdbg --args: served and exited", res)
    hd = hd_records(res.cmd("leaks"))
    # The categories are the allocator's business: glibc hands nginx
    # recycled memory whose stale pointers valgrind's fresh blocks never
    # hold, and valgrind's own verdict on the event arrays changes from run
    # to run (possibly or definitely lost).  What both must agree on is the
    # set of blocks in use at exit: the same allocation stacks, blocks and
    # bytes -- but for the copy of the environment (setproctitle), whose
    # size follows the variables valgrind adds.
    env_sized = [k for k in vg if any("setproctitle" in f for f in k)]
    for k in env_sized:
        if k in hd:
            hd[k][1] = vg[k][1]
    is_(sorted((k, tuple(v)) for k, v in hd.items()), sorted((k, tuple(v)) for k, v in vg.items()),
        "nginx at exit: valgrind's blocks in use, by allocation stack (%d stacks)" % len(vg))

# ---- memcached: threads ---------------------------------------------------
def mc_load(port, rounds):
    """set, get, append, delete over fresh connections; True when every
    reply is right."""
    for i in range(rounds):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        f = s.makefile("rb")
        for k in range(8):
            key = b"k%d_%d" % (i % 7, k)
            val = bytes([97 + (i + k) % 26]) * (10 + ((i * 31 + k * 977) % 20000))
            s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val))
            if f.readline() != b"STORED\r\n":
                return "set %s" % key
            s.sendall(b"get %s\r\n" % key)
            if f.readline() != b"VALUE %s 0 %d\r\n" % (key, len(val)) or f.read(len(val) + 2) != val + b"\r\n" \
               or f.readline() != b"END\r\n":
                return "get %s" % key
            if k % 3 == 0:
                s.sendall(b"delete %s\r\n" % key)
                if f.readline() != b"DELETED\r\n":
                    return "delete %s" % key
        f.close()
        s.close()
    return True


if not have("memcached"):
    skip("memcached", "memcached is not installed")
else:
    port = free_port()
    mi_out = os.path.join(d, "memcached.mallinfo")
    env = dict(os.environ, LD_PRELOAD=PRELOAD, HEAPDBG_MALLINFO_OUT=mi_out, HEAPDBG_MALLINFO_SIGNAL=str(MI_SIG))
    env.pop("GLIBC_TUNABLES", None)
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "3", "-m", "32"]
    if os.getuid() == 0:
        argv += ["-u", "root"]
    mc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_port(port, mc)
        ok(up, "memcached: serves 127.0.0.1:%d" % port)
        if up:
            ok(mc_load(port, 20) is True, "memcached: the warm-up load is served right")
            time.sleep(0.3)
            check_walk("memcached", mc.pid, mi_out)
            r, st, secs = traced("memcached", mc.pid, " --fast", lambda: mc_load(port, 30))
            ring = st.get("ring") or {}
            ok(st.get("fast", 0) >= len(ENTRY) and ring.get("lost", 1) == 0 and ring.get("threads", 0) >= 1,
               "memcached, fast: every entry point fast, 0 events lost, %s threads" % ring.get("threads"), st)
            diag("memcached --fast: %s in %.2f s" % ({k: v for k, v in (st.get("events") or {}).items() if v}, secs))
            ok(mc_load(port, 5) is True, "memcached: served right after heapdbg detached")
            rl = batch(["-p", str(mc.pid)], "leaks")
            l = rl.cmd("leaks") or {}
            ok(rl.rc == 0 and "definite" in l, "memcached: leaks on the live service (definite %s, possible %s)"
               % (l.get("definite"), l.get("possible")), rl)
    finally:
        mc.terminate()
        try:
            mc.wait(15)
        except subprocess.TimeoutExpired:
            mc.kill()
            mc.wait()
        ok(mc.returncode == 0, "memcached: exited normally on SIGTERM (%s)" % mc.returncode)

done()
