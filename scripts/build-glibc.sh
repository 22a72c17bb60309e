#!/bin/sh
# build-glibc.sh - build a glibc runtime from a glibc source tree, to run
# heapdbg's test suite (or a program of yours) on the glibc version your
# distribution ships.
#
#   scripts/build-glibc.sh [-j N] [--keep] [--resume] SRC OUTDIR
#
# SRC is a glibc source tree (a release tarball unpacked, or a checkout of
# a glibc-X.Y tag).  The result, in OUTDIR:
#
#   glibc-X.Y/lib/   the run-time part: the dynamic linker, libc.so.6 and
#                    the other libraries of that version, with their
#                    DWARF inside (not stripped), the names and symbolic
#                    links as glibc installs them (ld-2.31.so and its
#                    ld-linux-x86-64.so.2 link up to 2.33)
#   glibc-X.Y/dev/   what a program needs to be built for that version:
#                    include/ (glibc's headers, and the kernel's linux/,
#                    asm/, asm-generic/ from this machine), lib/ (crt
#                    files, libc_nonshared.a, and libc.so and the other
#                    linker scripts rewritten to name their files without
#                    a directory, so the tree can move)
#   glibc-X.Y.tar.xz both, as one tarball (what the suite's
#                    HEAPDBG_GLIBC_DIR holds, next to the others)
#
# It is configured like the runtimes of ../shared/glibc (their README):
#   configure --prefix=/opt/glibc-X.Y --disable-werror --disable-profile
#     --enable-kernel=3.2 --disable-nscd --disable-timezone-tools
#     --without-selinux --disable-mathvec CFLAGS="-O2 -g"
# (an option an older configure does not know is ignored with a warning).
# make runs with CXX empty: glibc's C++ test programs (support/) would
# link this machine's libstdc++, which needs this machine's newer glibc
# (pthread_create@GLIBC_2.34 ... when building 2.31 on Debian 12); nothing
# installed is C++.
#
# To run a program on it, relink it:
#   gcc -o prog prog.c -Wl,--dynamic-linker=OUTDIR/glibc-X.Y/lib/ld-linux-x86-64.so.2 \
#       -Wl,-rpath=OUTDIR/glibc-X.Y/lib
# or start it through that dynamic linker:
#   OUTDIR/glibc-X.Y/lib/ld-linux-x86-64.so.2 --library-path OUTDIR/glibc-X.Y/lib ./prog
# A program built against this machine's newer glibc needs symbol
# versions an older runtime lacks (pthread_create@GLIBC_2.34, ...): build
# it against dev/ instead (the suite does this by itself):
#   gcc -nostdinc -isystem "$(gcc -print-file-name=include)" \
#       -isystem OUTDIR/glibc-X.Y/dev/include -B OUTDIR/glibc-X.Y/dev/lib \
#       -L OUTDIR/glibc-X.Y/dev/lib -Wl,--dynamic-linker=... -Wl,-rpath=... prog.c
#
# Then: HEAPDBG_GLIBC_DIR=OUTDIR make check
#
# Needs gcc, make, gawk, bison, python3 (2.33 and later), about 1.5 GB of
# disk while it builds and 20 to 60 minutes on two cores.  x86-64 only.
# The build directory (OUTDIR/build-X.Y) is removed at the end unless
# --keep is given; --resume continues in a kept one (no configure).
set -eu

usage() {
	cat <<EOF
usage: $0 [-j N] [--keep] [--resume] SRC OUTDIR
  SRC     a glibc source tree (glibc-X.Y release or tag)
  OUTDIR  where glibc-X.Y/lib, glibc-X.Y/dev and glibc-X.Y.tar.xz go
  -j N    parallel make jobs (default: the number of processors)
  --keep  keep the build directory OUTDIR/build-X.Y
  --resume  continue the build in a kept OUTDIR/build-X.Y
EOF
	exit 64
}

fail() {
	echo "build-glibc.sh: $*" >&2
	exit 1
}

jobs=$(nproc 2>/dev/null || echo 2)
keep=no
resume=no
while [ $# -gt 0 ]; do
	case $1 in
	-j) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	--keep) keep=yes; shift ;;
	--resume) resume=yes; shift ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || usage
src=$1
out=$2

[ -f "$src/version.h" ] && [ -f "$src/configure" ] && [ -f "$src/malloc/malloc.c" ] ||
	fail "$src is not a glibc source tree (no version.h, configure, malloc/malloc.c)"
[ "$(uname -m)" = x86_64 ] || fail "x86-64 only (this machine is $(uname -m))"
for p in gcc make gawk bison; do
	command -v $p >/dev/null 2>&1 || fail "$p is needed (Debian: apt-get install $p)"
done
version=$(sed -n 's/^#define VERSION "\([0-9][0-9.]*\)".*/\1/p' "$src/version.h")
[ -n "$version" ] || fail "no VERSION in $src/version.h"
src=$(cd "$src" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
name=glibc-$version
prefix=/opt/$name
build=$out/build-$version
stage=$out/stage-$version
dest=$out/$name

echo "build-glibc.sh: glibc $version from $src into $dest (make -j$jobs)"
if [ "$resume" = yes ] && [ -f "$build/config.status" ]; then
	rm -rf "$stage" "$dest"
else
	rm -rf "$build" "$stage" "$dest"
fi
mkdir -p "$build" "$stage"
(
	cd "$build"
	if [ ! -f config.status ]; then
		"$src/configure" --prefix="$prefix" --disable-werror --disable-profile \
			--enable-kernel=3.2 --disable-nscd --disable-timezone-tools \
			--without-selinux --disable-mathvec CFLAGS="-O2 -g" >configure.log 2>&1 ||
			{ tail -20 configure.log >&2; fail "configure failed (see $build/configure.log)"; }
	fi
	make -j"$jobs" CXX= >>make.log 2>&1 ||
		{ grep -n -m 20 -B2 -A2 'Error\|error:' make.log >&2 || tail -30 make.log >&2
		  fail "make failed (see $build/make.log)"; }
	make install CXX= install_root="$stage" >install.log 2>&1 ||
		{ tail -30 install.log >&2; fail "make install failed (see $build/install.log)"; }
) || exit 1

inst=$stage$prefix
[ -d "$inst/lib" ] || fail "nothing was installed in $inst/lib"

# lib/: every shared object with its sonames' links, as installed
mkdir -p "$dest/lib"
for f in "$inst"/lib/*.so*; do
	case $(basename "$f") in
	*-[0-9]*.so) ;;		# ld-2.31.so, libc-2.31.so: the files (up to 2.33)
	*.so) continue ;;	# libc.so, libm.so: link-time names, for dev/
	esac
	cp -P "$f" "$dest/lib/"
done
for so in ld-linux-x86-64.so.2 libc.so.6; do
	[ -e "$dest/lib/$so" ] || fail "$so missing from the installed lib/"
done

# dev/: headers, crt files, static parts and linker scripts
mkdir -p "$dest/dev/lib"
cp -R "$inst/include" "$dest/dev/include"
for h in linux asm asm-generic; do
	if [ -d "/usr/include/$h" ]; then
		cp -R "/usr/include/$h" "$dest/dev/include/"
	elif [ -d "/usr/include/x86_64-linux-gnu/$h" ]; then
		cp -R "/usr/include/x86_64-linux-gnu/$h" "$dest/dev/include/"
	fi
done
[ -d "$dest/dev/include/asm" ] || cp -R /usr/include/x86_64-linux-gnu/asm "$dest/dev/include/" 2>/dev/null ||
	echo "build-glibc.sh: no kernel asm/ headers found (linux-libc-dev): dev/ builds may fail" >&2
for f in "$inst"/lib/*.o "$inst"/lib/*.a; do
	[ -e "$f" ] && cp "$f" "$dest/dev/lib/"
done
for f in "$inst"/lib/*.so; do
	b=$(basename "$f")
	if [ -L "$f" ]; then
		# libfoo.so -> libfoo.so.N: the same link, to lib/'s file
		ln -s "../../lib/$(basename "$(readlink "$f")")" "$dest/dev/lib/$b"
	elif head -c 4 "$f" | grep -q ELF; then
		cp "$f" "$dest/dev/lib/$b"
	else
		# a linker script naming files by their installed paths
		sed "s|$prefix/lib/||g" "$f" >"$dest/dev/lib/$b"
	fi
done
# the shared objects a linker script names, next to it
for f in "$dest"/lib/*.so.*; do
	b=$(basename "$f")
	[ -e "$dest/dev/lib/$b" ] || ln -s "../../lib/$b" "$dest/dev/lib/$b"
done

# the tarball: lib/ and dev/ under glibc-X.Y/
tar -C "$out" -cJf "$out/$name.tar.xz" "$name"
rm -rf "$stage"
[ "$keep" = yes ] || rm -rf "$build"
echo "build-glibc.sh: $dest/lib, $dest/dev and $out/$name.tar.xz"
