#!/bin/sh
# fuzz.sh - build the heap walker's libFuzzer harness (make fuzz) and run
# it for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS] [libFuzzer options...]
#
# SECONDS (default 60) goes to -max_total_time.  The committed seeds in
# tests/fuzz/corpus-walker are read, never written: new inputs go to
# $FUZZ_CORPUS (default build/fuzz/corpus-walker) and crashes, leaks and
# timeouts to $FUZZ_ARTIFACTS (default build/fuzz/artifacts/, keep the
# trailing slash); relative paths are taken from the current directory.
# A finding makes the run exit non-zero: once the walker is fixed, add
# the input to tests/fuzz/corpus-walker.  Extra options, e.g. -jobs=2
# -workers=2, are passed on.
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
here=$(pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in
''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 64 ;;
esac

cd "$top"
command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 69; }
[ -f Makefile ] || ./configure >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" fuzz

corpus=${FUZZ_CORPUS:-$top/build/fuzz/corpus-walker}
artifacts=${FUZZ_ARTIFACTS:-$top/build/fuzz/artifacts/}
case $corpus in /*) ;; *) corpus=$here/$corpus ;; esac
case $artifacts in /*) ;; *) artifacts=$here/$artifacts ;; esac
mkdir -p "$corpus" "$artifacts"
# from build/fuzz, where -jobs=N leaves its fuzz-N.log files
cd build/fuzz
exec ./walker_fuzz -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$artifacts" "$@" "$corpus" "$top/tests/fuzz/corpus-walker"
