#!/bin/sh
# install-deps.sh - install the Debian packages heapdbg needs to build and
# to run its tests (Debian 12).  Runs apt-get as root, or through sudo.
#
# libunwind-dev conflicts with libunwind-14-dev (LLVM's libunwind, pulled
# in on some machines by clang): apt is told to remove the latter, which
# nothing here needs, so the install does not stop at the conflict.
set -eu

BUILD="gcc make pkg-config libdw-dev libelf-dev libunwind-dev libreadline-dev zlib1g-dev"
# tests: prove (perl), python3, gdb (gcore and the bt oracle), valgrind,
# libc6-dbg (libc symbols: main_arena, tcache), elfutils, util-linux (setpriv),
# sqlite3 (a real program to walk), other allocators heapdbg must name,
# golang-go (go tool pprof reads the pprof export), clang and its libFuzzer
# runtime (make fuzz, tests/integration/fuzz.t), g++ (a C++ target for
# the stack format)
TEST="perl python3 g++ gdb valgrind libc6-dbg elfutils util-linux procps sqlite3
      libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 musl-tools golang-go
      clang libclang-rt-14-dev"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "install-deps.sh: run as root (or install sudo)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
remove=
if dpkg-query -W -f='${Status}' libunwind-14-dev 2>/dev/null | grep -q "install ok installed"; then
	remove="libunwind-14-dev-"
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $BUILD $TEST $remove
