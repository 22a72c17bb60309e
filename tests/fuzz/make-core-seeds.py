#!/usr/bin/env python3
"""make-core-seeds.py - write the seed corpus of the core-file fuzzer.

Usage: tests/fuzz/make-core-seeds.py OUTDIR

Needs gcc, gdb (gcore), ptrace and a configured tree.  Writes:
  dynamic.core  a core of tests/fuzz/coreseed.c, dynamically linked
  static.core   the same program linked statically (glibc inside the exe)
  minimal.core  hand-built: ELF header, one PT_NOTE (NT_PRSTATUS, NT_PRPSINFO,
                NT_AUXV, NT_FILE) and one small PT_LOAD; no allocator at all
  *.core        crafted from minimal.core for bugs found by reading the
                reader (see crafted())
The real cores are of build/fuzz/coreseed and coreseed-static (make
fuzz builds them; core_fuzz opens a core naming them with its own copy)
and are made small: the program runs with glibc.malloc.top_pad=0 and a low
mmap threshold; what the kernel would not dump is dropped: the bytes of
read-only file mappings that are the file's bytes, past their first page
(the ELF header; the rest is read from the file), a segment of zeros over 1 MiB (gdb dumps the
PROT_NONE reserve of a non-main heap), and the leading zero pages of each
segment that holds a thread's stack pointer (below the stack, never read).
gdb's section headers and its own notes (NT_GDB_TDESC) are left out.
Regression inputs found by the fuzzer
are committed next to these, each named after its bug.
"""
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE = 1, 3, 6, 0x46494C45


def notes(data):
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, typ = struct.unpack_from("<III", data, off)
        name = data[off + 12:off + 12 + namesz]
        doff = off + 12 + ((namesz + 3) & ~3)
        yield name, typ, data[doff:doff + descsz]
        off = doff + ((descsz + 3) & ~3)


def note(name, typ, desc):
    name = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), typ) + pad(name) + pad(desc)


def write_core(path, note_data, loads):
    """loads: list of (vaddr, memsz, flags, data); data may be shorter
    than memsz (the rest is not dumped)."""
    phnum = 1 + len(loads)
    off = 64 + 56 * phnum
    ph = [struct.pack("<IIQQQQQQ", PT_NOTE, 0, off, 0, 0, len(note_data), 0, 4)]
    body = note_data
    off += len(note_data)
    pad = -off % PAGE
    body += b"\0" * pad
    off += pad
    for vaddr, memsz, flags, data in loads:
        ph.append(struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, vaddr, 0, len(data), memsz, PAGE))
        body += data
        off += len(data)
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh += struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(eh + b"".join(ph) + body)


def same_as_file(f, vaddr, data):
    """Does the file f (start, end, offset, path) hold these bytes at vaddr?
    (Not when relocations were applied: RELRO pages are dumped.)"""
    try:
        with open(f[3], "rb") as fh:
            fh.seek(f[2] + vaddr - f[0])
            return fh.read(len(data)) == data
    except OSError:
        return False


def shrink(src, dst):
    with open(src, "rb") as f:
        d = f.read()
    phoff, = struct.unpack_from("<Q", d, 32)
    phentsize, phnum = struct.unpack_from("<HH", d, 54)
    note_data, loads, sps = b"", [], []
    for i in range(phnum):
        typ, flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", d, phoff + i * phentsize)
        if typ == PT_NOTE:
            for name, ntype, desc in notes(d[off:off + filesz]):
                if name in (b"CORE\0", b"LINUX\0"):
                    note_data += note(name[:-1], ntype, desc)
        elif typ == PT_LOAD:
            loads.append([vaddr, memsz, flags, d[off:off + filesz]])
    files = []
    for name, typ, desc in notes(note_data):
        if name.startswith(b"CORE") and typ == NT_PRSTATUS:
            sps.append(struct.unpack_from("<Q", desc, 112 + 19 * 8)[0])
        if name.startswith(b"CORE") and typ == NT_FILE:
            count, pagesz = struct.unpack_from("<QQ", desc, 0)
            names = desc[16 + 24 * count:].split(b"\0")
            for k in range(count):
                start, end, off = struct.unpack_from("<QQQ", desc, 16 + 24 * k)
                files.append((start, end, off * pagesz, names[k].decode()))
    out = []
    for vaddr, memsz, flags, data in loads:
        f = [x for x in files if x[0] <= vaddr < x[1]]
        if len(data) > (1 << 20) and data == bytes(len(data)):
            continue
        if f and not flags & 2 and same_as_file(f[0], vaddr, data):
            pgoff = f[0][2] + vaddr - f[0][0]
            data = data[:PAGE] if pgoff == 0 else b""
        elif any(vaddr <= sp < vaddr + memsz for sp in sps) and len(data) == memsz:
            skip = 0
            while skip + PAGE < len(data) and data[skip:skip + PAGE] == bytes(PAGE):
                skip += PAGE
            vaddr, memsz, data = vaddr + skip, memsz - skip, data[skip:]
        out.append((vaddr, memsz, flags, data))
    write_core(dst, note_data, out)


def real_core(outdir, name, exe):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.top_pad=0:glibc.malloc.mmap_threshold=4096")
        p = subprocess.Popen([exe], stdout=subprocess.PIPE, env=env)
        try:
            line = p.stdout.readline().decode()
            assert line.startswith("ready"), line
            time.sleep(0.3)
            subprocess.run(["gcore", "-o", os.path.join(tmp, "core"), str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            p.kill()
            p.wait()
        shrink(os.path.join(tmp, "core.%d" % p.pid), os.path.join(outdir, name))


def minimal_core(outdir, name="minimal.core", loads=None):
    base, text = 0x400000, 0x401000
    prstatus = bytearray(336)
    struct.pack_into("<h", prstatus, 12, 11)		# pr_cursig SIGSEGV
    struct.pack_into("<i", prstatus, 32, 4242)		# pr_pid
    regs = [0] * 27
    regs[16] = text + 0x10				# rip
    regs[19] = base + 0x800				# rsp
    regs[4] = base + 0x900				# rbp
    struct.pack_into("<27Q", prstatus, 112, *regs)
    prpsinfo = bytearray(136)
    prpsinfo[40:48] = b"minimal\0"
    prpsinfo[56:71] = b"./minimal arg1\0"
    auxv = struct.pack("<8Q", 3, base + 64, 9, text, 6, PAGE, 0, 0)	# AT_PHDR, AT_ENTRY, AT_PAGESZ
    path = b"/nonexistent/minimal\0"
    ntfile = struct.pack("<QQ", 1, PAGE) + struct.pack("<QQQ", base, base + 2 * PAGE, 0) + path
    nd = (note(b"CORE", NT_PRSTATUS, bytes(prstatus)) + note(b"CORE", NT_PRPSINFO, bytes(prpsinfo)) +
          note(b"CORE", NT_AUXV, auxv) + note(b"CORE", NT_FILE, ntfile))
    mem = bytearray(PAGE)
    mem[0x800:0x810] = struct.pack("<QQ", base + 0x900, text + 0x20)
    write_core(os.path.join(outdir, name), nd, loads or [(base, 2 * PAGE, 6, bytes(mem))])


def patch_load(path, index, **fields):
    """Rewrite fields of the index-th program header of a core."""
    names = ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_align")
    with open(path, "r+b") as f:
        d = bytearray(f.read())
        off = 64 + 56 * index
        v = list(struct.unpack_from("<IIQQQQQQ", d, off))
        for k, x in fields.items():
            v[names.index(k)] = x
        struct.pack_into("<IIQQQQQQ", d, off, *v)
        f.seek(0)
        f.write(d)


def add_load(src, dst, vaddr, memsz, flags, path=None, offset=0):
    """A copy of a core with one more PT_LOAD segment, none of it dumped;
    with path, NT_FILE says it maps that file from offset on."""
    with open(src, "rb") as f:
        d = f.read()
    phoff, = struct.unpack_from("<Q", d, 32)
    phnum, = struct.unpack_from("<H", d, 56)
    nd, loads = b"", []
    for i in range(phnum):
        typ, fl, off, va, _, fs, ms, _ = struct.unpack_from("<IIQQQQQQ", d, phoff + 56 * i)
        if typ == PT_NOTE:
            for name, ntype, desc in notes(d[off:off + fs]):
                if path and ntype == NT_FILE:
                    count, pagesz = struct.unpack_from("<QQ", desc, 0)
                    ents = desc[16:16 + 24 * count] + struct.pack("<QQQ", vaddr, vaddr + memsz, offset // pagesz)
                    desc = struct.pack("<QQ", count + 1, pagesz) + ents + desc[16 + 24 * count:] + \
                        path.encode() + b"\0"
                nd += note(name.rstrip(b"\0"), ntype, desc)
        elif typ == PT_LOAD:
            loads.append((va, ms, fl, d[off:off + fs]))
    write_core(dst, nd, sorted(loads + [(vaddr, memsz, flags, b"")]))


def crafted(outdir):
    """Inputs for bugs found by reading the reader, each named after it."""
    # p_offset + p_filesz wrapped past 2^64: the size check passed and
    # reads ran off the end of the mapped file
    p = os.path.join(outdir, "load-filesz-wraps.core")
    minimal_core(outdir, os.path.basename(p))
    patch_load(p, 1, p_vaddr=0, p_filesz=(1 << 64) - PAGE, p_memsz=(1 << 64) - PAGE)
    # two PT_LOAD segments over the same addresses: the mapping table
    # (sorted, never overlapping) was not
    minimal_core(outdir, "overlapping-loads.core",
                 [(0x400000, 2 * PAGE, 6, bytes(PAGE)), (0x401000, PAGE, 6, bytes(PAGE))])
    # a terabyte of anonymous read-write memory the kernel did not dump
    # (reserved address space): the walker's scan for mmapped chunks and
    # the leak check's root scan went through it page by page (minutes)
    static = os.path.join(outdir, "static.core")
    if os.path.exists(static):
        add_load(static, os.path.join(outdir, "undumped-terabyte.core"), 0x600000000000, 1 << 40, 6)
        # the same as a mapping of a file from past its end (every
        # machine has /etc/passwd, none a gigabyte long): the root scan
        # tried every page of it
        add_load(static, os.path.join(outdir, "file-past-eof.core"), 0x600000000000, 1 << 42, 6,
                 "/etc/passwd", 1 << 30)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-core-seeds.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    top = os.path.dirname(os.path.dirname(HERE))
    subprocess.run(["make", "-s", "build/fuzz/coreseed", "build/fuzz/coreseed-static"], cwd=top, check=True)
    real_core(out, "dynamic.core", os.path.join(top, "build", "fuzz", "coreseed"))
    real_core(out, "static.core", os.path.join(top, "build", "fuzz", "coreseed-static"))
    minimal_core(out)
    crafted(out)


if __name__ == "__main__":
    main()
