#!/bin/sh
# fuzz.sh - build the libFuzzer harnesses (make fuzz) and run one for a
# bounded time.
#
# Usage: scripts/fuzz.sh [HARNESS] [SECONDS] [libFuzzer options...]
#
# HARNESS is walker (the heap walker over patched synthetic heaps, the
# default), snapshot (the snapshot file reader) or core (the core-file
# reader and a post-mortem session: symbols, bt, heap, leaks).  SECONDS
# (default 60) goes to -max_total_time.  The committed seeds in
# tests/fuzz/corpus-HARNESS are read, never written: new inputs go to
# $FUZZ_CORPUS (default build/fuzz/corpus-HARNESS) and crashes, leaks and
# timeouts to $FUZZ_ARTIFACTS (default build/fuzz/artifacts-HARNESS/, keep
# the trailing slash); relative paths are taken from the current
# directory.  A finding makes the run exit non-zero: once the library is
# fixed, add the input to tests/fuzz/corpus-HARNESS, named after the bug.
# Extra options, e.g. -jobs=2 -workers=2, or -fork=1 -ignore_crashes=1 to
# go on after a finding, are passed on.  The core harness runs with
# -close_fd_mask=2: heapdbg's error lines for broken cores are not
# findings (sanitizer reports still show).
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
here=$(pwd)
harness=walker
case ${1:-} in
walker|snapshot|core) harness=$1; shift ;;
''|*[!0-9]*) [ $# -gt 0 ] && { echo "fuzz.sh: HARNESS is walker, snapshot or core, not '$1'" >&2; exit 64; } ;;
esac
secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in
''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 64 ;;
esac

cd "$top"
command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2; exit 69; }
[ -f Makefile ] || ./configure >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" fuzz

corpus=${FUZZ_CORPUS:-$top/build/fuzz/corpus-$harness}
artifacts=${FUZZ_ARTIFACTS:-$top/build/fuzz/artifacts-$harness/}
case $corpus in /*) ;; *) corpus=$here/$corpus ;; esac
case $artifacts in /*) ;; *) artifacts=$here/$artifacts ;; esac
mkdir -p "$corpus" "$artifacts"
quiet=
[ "$harness" = core ] && quiet=-close_fd_mask=2
# from build/fuzz, where -jobs=N leaves its fuzz-N.log files
cd build/fuzz
exec ./"$harness"_fuzz -max_total_time="$secs" -timeout=10 -print_final_stats=1 $quiet \
	-artifact_prefix="$artifacts" "$@" "$corpus" "$top/tests/fuzz/corpus-$harness"
