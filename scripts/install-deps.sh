#!/bin/sh
# install-deps.sh - install the Debian packages heapdbg needs to build and
# to run its tests (Debian 12).  Runs apt-get as root, or through sudo.
#
#   install-deps.sh [--build-only] [--lock-timeout=SECONDS]
#
# --build-only installs what building heapdbg needs (a compiler, make and
# the libraries it links), not the test tools (gdb, valgrind, clang, Go,
# other allocators: most of the download).  A dpkg lock held by another apt (an
# unattended upgrade, cloud-init) is waited for, up to --lock-timeout
# seconds (300 by default): apt's DPkg::Lock::Timeout for the install,
# and a retry of 'apt-get update', whose lists lock apt cannot wait for.
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
# the stack format), jq (the README's CI recipe), nginx-light and memcached
# (real services tests/integration/services.t starts on 127.0.0.1; binutils'
# nm finds their libc's entry points)
TEST="perl python3 g++ gdb valgrind libc6-dbg elfutils util-linux procps sqlite3
      libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 musl-tools golang-go
      clang libclang-rt-14-dev jq nginx-light memcached binutils"

usage() {
	echo "usage: install-deps.sh [--build-only] [--lock-timeout=SECONDS]" >&2
	exit 64
}

build_only=0
lock_timeout=300
for arg in "$@"; do
	case $arg in
	--build-only) build_only=1 ;;
	--lock-timeout=*)
		lock_timeout=${arg#*=}
		case $lock_timeout in
		''|*[!0-9]*) usage ;;
		esac ;;
	-h|--help)
		echo "usage: install-deps.sh [--build-only] [--lock-timeout=SECONDS]"
		echo "  --build-only            only what building heapdbg needs, not the test tools"
		echo "  --lock-timeout=SECONDS  wait this long for a dpkg/apt lock held by another apt (300)"
		exit 0 ;;
	*) usage ;;
	esac
done
[ $build_only = 1 ] && TEST=

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "install-deps.sh: run as root (or install sudo)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
LOCK="-o DPkg::Lock::Timeout=$lock_timeout"

# apt-get update: retried while another apt holds the lists lock (it
# says "Could not get lock"), every 5 s up to the timeout; any other
# failure is final
waited=0
while :; do
	log=$(mktemp)
	rc=0
	# shellcheck disable=SC2086
	$SUDO apt-get $LOCK update -q >"$log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		cat "$log"
		rm -f "$log"
		break
	fi
	cat "$log" >&2
	if ! grep -q "Could not get lock" "$log" || [ $waited -ge "$lock_timeout" ]; then
		rm -f "$log"
		echo "install-deps.sh: apt-get update failed (exit $rc)" >&2
		exit $rc
	fi
	rm -f "$log"
	echo "install-deps.sh: another apt holds the lock; waiting (${waited}s of ${lock_timeout}s)" >&2
	sleep 5
	waited=$((waited + 5))
done

remove=
if dpkg-query -W -f='${Status}' libunwind-14-dev 2>/dev/null | grep -q "install ok installed"; then
	remove="libunwind-14-dev-"
fi
# The services the tests start themselves (nginx, memcached) must not be
# started system-wide by their packages: a policy-rc.d that says no (exit
# 101) is in place for the install, unless the machine has its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ -n "$TEST" ] && [ ! -e $policy ]; then
	$SUDO sh -c "printf '#!/bin/sh\\nexit 101\\n' > $policy && chmod 755 $policy"
	own_policy=1
	trap '[ $own_policy = 1 ] && $SUDO rm -f $policy' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get $LOCK install -y -q --no-install-recommends $BUILD $TEST $remove
