#!/usr/bin/env python3
# Hostile core files: a real core of a small glibc program (gcore, made
# small the way the fuzzer's seeds are) and many deterministic mutants of
# it -- bit flips (fixed seeds), zeroed program header fields, zeroed
# bytes across the notes, truncation at many offsets, a foreign
# architecture (e_machine patched to aarch64), a 32-bit ELF class, a
# non-core ELF, garbage, mapped files replaced by FIFOs, a terabyte of
# memory not dumped -- and cores of
# programs that do not use glibc malloc (static musl, jemalloc preloaded).
# For every one, `heapdbg -q --json -c CORE -batch -ex info -ex bt -ex
# heap -ex leaks` must not die by a signal, must not print a sanitizer
# report, must exit 0, 1 or 2 (docs/heapdbg.1), must either answer (one
# JSON object per command, an error line on stderr for each failed one)
# or say in one line on stderr why the core cannot be opened, and must
# finish within a bound (a hang is a failure).
import concurrent.futures, importlib.util, json, os, random, shutil, struct, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from hdtest import *

require_ptrace()
if not have("gcore"):
    skip_all("gcore (gdb) not installed")
if not have("cc"):
    skip_all("no C compiler")

BOUND = 60 if SANITIZERS else 20	# seconds per run; far more than any needs
CMDS = ["info", "bt", "heap", "leaks"]
SANITIZER_WORDS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                   "ThreadSanitizer", "MemorySanitizer")
EM_AARCH64 = 183
d = tmpdir("hostile-cores")

spec = importlib.util.spec_from_file_location("seeds", os.path.join(TOP, "tests", "fuzz", "make-core-seeds.py"))
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)


def make_core(exe, name, env=None, args=()):
    """A core of exe (run until it prints "ready"), shrunk like the seeds."""
    t = Target(exe, args, env=env)
    ok_parked = t.wait_parked()
    raw = os.path.join(d, name + ".raw")
    g = subprocess.run(["gcore", "-o", raw, str(t.pid)], capture_output=True, text=True, timeout=120)
    raw = "%s.%d" % (raw, t.pid)
    t.stop()
    if g.returncode != 0 or not os.path.exists(raw):
        return None, g.stderr
    out = os.path.join(d, name)
    seeds.shrink(raw, out)
    os.unlink(raw)
    return out, None if ok_parked else "target not parked"


def run_one(path, extra=()):
    start = time.time()
    try:
        r = batch(["-c", path] + list(extra), *CMDS, timeout=BOUND)
    except subprocess.TimeoutExpired:
        r = None
    return r, time.time() - start


def check(path, label, want_rc=None, want_err=None, extra=(), ran=None):
    """Run heapdbg on a core (or take the run given); one TAP line.
    Returns the Result (or None)."""
    r, took = ran or run_one(path, extra)
    if r is None:
        ok(False, "%s: finishes within %d s" % (label, BOUND))
        return None
    why = []
    if r.rc < 0:
        why.append("killed by signal %d" % -r.rc)
    elif r.rc not in (0, 1, 2):
        why.append("exit status %d (not 0, 1 or 2)" % r.rc)
    if any(w in r.err for w in SANITIZER_WORDS):
        why.append("sanitizer report")
    lines = r.err.strip().splitlines()
    # a warning about the executable (missing, not a file, another build)
    # is a line of its own, not an error
    lines = [l for l in lines if not l.startswith("heapdbg: warning: ")] if r.rc != 2 else lines
    if r.rc == 2:
        if len(lines) != 1 or not lines[0].startswith("heapdbg: ") or r.out.strip():
            why.append("exit 2 without exactly one error line (and no output)")
    elif r.rc in (0, 1):
        names = [o.get("cmd") for o in r.objs]
        failed = [o for o in r.objs if "error" in o]
        if r.bad_lines or names != CMDS:
            why.append("not one JSON object per command: %r %r" % (names, r.bad_lines[:2]))
        if len(lines) != len(failed) or any(not l.startswith("heapdbg: ") for l in lines):
            why.append("stderr is not one error line per failed command (%d failed)" % len(failed))
        if (r.rc == 1) != bool(failed):
            why.append("exit status %d with %d failed commands" % (r.rc, len(failed)))
    if want_rc is not None and r.rc != want_rc:
        why.append("exit status %d, expected %d" % (r.rc, want_rc))
    if want_err is not None and want_err not in r.err:
        why.append("stderr does not say '%s'" % want_err)
    ok(not why, "%s: %s (exit %d, %.2f s)" % (label, "clean" if not why else "; ".join(why), r.rc, took),
       "%s\n%r" % (path, r) if why else None)
    return r


def mutant(name, data):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


# Mutants are queued, run two at a time, and reported in order.  They run
# without separate debug files: libc's DWARF is not what is hostile here,
# and loading it costs 0.1 s a run (the real cores load it).
queue = []
FAST = ["--debug-file-directory=" + os.path.join(d, "no-debug-files")]


def later(path, label, **kw):
    queue.append((path, label, kw))


def run_queue():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda q: run_one(q[0], FAST), queue))
    for (path, label, kw), ran in zip(queue, runs):
        check(path, label, extra=FAST, ran=ran, **kw)
    del queue[:]


def phdrs(b):
    phoff, = struct.unpack_from("<Q", b, 32)
    phnum, = struct.unpack_from("<H", b, 56)
    return [(phoff + 56 * i,) + struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i) for i in range(phnum)]


# the program: tests/fuzz/coreseed.c (a chunk in every state, two
# arenas, a leak), built here the ordinary way
exe = os.path.join(d, "coreseed")
b = subprocess.run(["cc", "-g", "-O0", "-pthread", "-o", exe, os.path.join(TOP, "tests", "fuzz", "coreseed.c")],
                   capture_output=True, text=True)
if b.returncode != 0:
    skip_all("cannot build coreseed: " + b.stderr[:200])
TUNE = {"GLIBC_TUNABLES": "glibc.malloc.top_pad=0:glibc.malloc.mmap_threshold=4096"}
base, err = make_core(exe, "base.core", env=TUNE)
if not base:
    skip_all("gcore failed: %s" % err)
with open(base, "rb") as f:
    core = bytes(f.read())
ph = phdrs(core)
notes = [p for p in ph if p[1] == seeds.PT_NOTE]
loads = [p for p in ph if p[1] == seeds.PT_LOAD]
note_off, note_len = notes[0][3], notes[0][6]
diag("base core: %d bytes, %d PT_LOAD, notes %d bytes at %d" % (len(core), len(loads), note_len, note_off))

r = check(base, "the real core")
info = (r and r.cmd("info")) or {}
is_(info.get("allocator"), "glibc-ptmalloc", "the real core: glibc malloc found")
ok("error" not in ((r and r.cmd("heap")) or {"error": 1}), "the real core: heap walks")

# random bit flips, fixed seeds: half the flips in the headers and notes,
# half anywhere
for seed in range(50):
    rnd = random.Random(seed)
    m = bytearray(core)
    head = note_off + note_len
    for _ in range(rnd.randint(1, 24)):
        pos = rnd.randrange(head) if rnd.random() < 0.5 else rnd.randrange(len(m))
        m[pos] ^= 1 << rnd.randrange(8)
    later(mutant("flip-%02d.core" % seed, m), "bit flips, seed %d" % seed)

# program header fields zeroed: type, offset, vaddr, filesz, memsz of the
# notes and of a spread of PT_LOAD segments
fields = {"p_type": (0, 4), "p_offset": (8, 8), "p_vaddr": (16, 8), "p_filesz": (32, 8), "p_memsz": (40, 8)}
picked = [notes[0]] + [loads[i] for i in sorted({0, len(loads) // 3, len(loads) // 2, len(loads) - 1})]
for p in picked:
    for fname, (off, size) in fields.items():
        m = bytearray(core)
        m[p[0] + off:p[0] + off + size] = bytes(size)
        later(mutant("ph%d-%s.core" % ((p[0] - 64) // 56, fname), m),
              "program header %d (%s) %s zeroed" % ((p[0] - 64) // 56, "PT_NOTE" if p[1] == 4 else "PT_LOAD", fname))

# bytes zeroed across the notes: 8-byte windows at 24 places, and each
# note's header (namesz, descsz, type)
for k in range(24):
    pos = note_off + (note_len * k) // 24
    m = bytearray(core)
    m[pos:pos + 8] = bytes(8)
    later(mutant("notes-%02d.core" % k, m), "notes: 8 bytes zeroed at note offset %d" % (pos - note_off))
off, k = note_off, 0
while off + 12 <= note_off + note_len and k < 12:
    namesz, descsz, typ = struct.unpack_from("<III", core, off)
    m = bytearray(core)
    m[off:off + 12] = bytes(12)
    later(mutant("nhdr-%02d.core" % k, m), "notes: header of note %d (type 0x%x) zeroed" % (k, typ))
    off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    k += 1

# truncation: inside the ELF header, the program headers, the notes, the
# memory, one byte short
ends = [0, 1, 4, 16, 52, 63, 64, 64 + 56, notes[0][0] + 8, note_off - 1, note_off + 10, note_off + note_len // 2,
        note_off + note_len, loads[len(loads) // 2][3] + 100, len(core) // 2, len(core) - 4096, len(core) - 1]
for n in sorted(set(e for e in ends if 0 <= e < len(core))):
    later(mutant("trunc-%d.core" % n, core[:n]), "truncated to %d bytes" % n, want_rc=2)

# a terabyte of anonymous memory that was not dumped (address space
# reserved read-write): nothing may walk it page by page
seeds.add_load(base, os.path.join(d, "terabyte.core"), 0x600000000000, 1 << 40, 6)
later(os.path.join(d, "terabyte.core"), "a terabyte of undumped anonymous memory")

# a file mapping grown past its NT_FILE entry up to the next segment
# (hundreds of GiB; the leak check's root scan went through it a page at
# a time): the bytes after the entry are in no file and not dumped
files = []
for name, typ, desc in seeds.notes(core[note_off:note_off + note_len]):
    if typ == seeds.NT_FILE:
        count, = struct.unpack_from("<Q", desc, 0)
        files = [struct.unpack_from("<QQ", desc, 16 + 24 * i) for i in range(count)]
srt = sorted(loads, key=lambda p: p[4])
grow = [(srt[i + 1][4] - p[4], p) for i, p in enumerate(srt[:-1]) if p[2] & 2
        and any(a <= p[4] < b for a, b in files) and srt[i + 1][4] - (p[4] + p[7]) > (1 << 36)]
if grow:
    size, p = max(grow)
    m = bytearray(core)
    struct.pack_into("<Q", m, p[0] + 40, size)
    later(mutant("file-hole.core", m), "a file mapping grown by %d GiB past its file" % ((size - p[7]) >> 30))
else:
    skip("a file mapping grown past its file", "no writable file mapping with room after it")

# 4 TiB mapping a file from past its end: the file opens, nothing of it
# can be read
seeds.add_load(base, os.path.join(d, "past-eof.core"), 0x600000000000, 1 << 42, 6, exe, 1 << 30)
later(os.path.join(d, "past-eof.core"), "4 TiB mapping a file from past its end")

# foreign and wrong ELF files
m = bytearray(core)
struct.pack_into("<H", m, 18, EM_AARCH64)
later(mutant("aarch64.core", m), "e_machine patched to aarch64", want_rc=2, want_err="aarch64")
m = bytearray(core)
m[4] = 1	# ELFCLASS32
later(mutant("class32.core", m), "a 32-bit ELF class", want_rc=2, want_err="32-bit")
m = bytearray(core)
m[5] = 2	# ELFDATA2MSB
later(mutant("bigendian.core", m), "a big-endian ELF", want_rc=2, want_err="big-endian")
later(exe, "an executable, not a core", want_rc=2, want_err="not a core file")
rnd = random.Random(1234)
later(mutant("garbage.core", bytes(rnd.randrange(256) for _ in range(65536))), "64 KiB of garbage",
      want_rc=2, want_err="not a core file")
later(mutant("elf-garbage.core", core[:16] + bytes(rnd.randrange(256) for _ in range(65536))),
      "an ELF identification, then garbage", want_rc=2)

run_queue()

# the executable a core names is a FIFO now: reading its bytes must not
# block (the core reader opens only regular files, and so does symbol
# loading)
moved = exe + ".real"
os.rename(exe, moved)
os.mkfifo(exe)
r = check(base, "the executable replaced by a FIFO")
ok(r and "not a regular file" in r.err and "EXE" in r.err, "... and a warning names it", r and r.err)
os.unlink(exe)
# ... or by a link into /proc, /proc/kmsg (a "regular" file whose read()
# blocks, for root).  heapdbg refuses paths that lead into /proc or /sys;
# this guards against a hang rather than proving the refusal: libelf
# reads with pread, which kmsg refuses at once.
os.symlink("/proc/kmsg", exe)
check(base, "the executable a link to /proc/kmsg")
os.unlink(exe)
os.rename(moved, exe)

# cores of programs that do not use glibc malloc: info names the
# allocator, heap refuses with that sentence, as it does live
LIBDIR = "/usr/lib/x86_64-linux-gnu"
jemalloc = os.path.join(LIBDIR, "libjemalloc.so.2")
if os.path.exists(jemalloc):
    # a copy, so that it can be replaced by a FIFO below
    jcopy = os.path.join(d, "libjemalloc.so.2")
    shutil.copy(jemalloc, jcopy)
    jcore, err = make_core(exe, "jemalloc.core", env={"LD_PRELOAD": jcopy})
    if jcore:
        r = check(jcore, "a core of a jemalloc-preloaded program")
        is_(((r and r.cmd("info")) or {}).get("allocator"), "jemalloc", "jemalloc core: allocator named")
        herr = ((r and r.cmd("heap")) or {}).get("error", "")
        ok("jemalloc" in herr and "glibc malloc only" in herr, "jemalloc core: heap refuses clearly", herr)
        # the library is named by NT_FILE and by the link map in the
        # core's memory: libdwfl opens both names
        os.rename(jcopy, jcopy + ".real")
        os.mkfifo(jcopy)
        check(jcore, "the preloaded library replaced by a FIFO")
        os.unlink(jcopy)
        os.rename(jcopy + ".real", jcopy)
    else:
        for n in ("jemalloc core", "jemalloc allocator", "jemalloc heap", "jemalloc FIFO"):
            ok(False, n, "gcore failed: %s" % err)
else:
    for n in ("jemalloc core", "jemalloc allocator", "jemalloc heap", "jemalloc FIFO"):
        skip(n, "libjemalloc2 not installed")

if have("musl-gcc"):
    mexe = os.path.join(d, "coreseed-musl")
    b = subprocess.run(["musl-gcc", "-static", "-g", "-O0", "-o", mexe, os.path.join(TOP, "tests", "fuzz", "coreseed.c"),
                        "-lpthread"], capture_output=True, text=True)
    mcore, err = make_core(mexe, "musl.core") if b.returncode == 0 else (None, b.stderr[:200])
    if mcore:
        r = check(mcore, "a core of a static musl program")
        is_(((r and r.cmd("info")) or {}).get("allocator"), "musl", "musl core: allocator named")
        herr = ((r and r.cmd("heap")) or {}).get("error", "")
        ok("musl" in herr and "glibc malloc only" in herr, "musl core: heap refuses clearly", herr)
    else:
        for n in ("musl core", "musl allocator", "musl heap"):
            ok(False, n, "no musl core: %s" % err)
else:
    for n in ("musl core", "musl allocator", "musl heap"):
        skip(n, "musl-tools not installed")
done()
