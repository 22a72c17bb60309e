#!/bin/sh
# bench.sh - `make bench`: runs scripts/bench.py (see docs/bench.md).
exec python3 "$(dirname "$0")/bench.py" "$@"
