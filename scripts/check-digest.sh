#!/bin/sh
# check-digest.sh LOG - after a failed `make check`, repeat each failed
# test and its diagnostics from prove's log (run with --failures
# --comments), so that the end of the output, which is what a CI log
# shows, says what failed and why.  At most 40 lines per failure and 400
# in all.
log=${1:?usage: check-digest.sh LOG}
echo "==== failed tests and their diagnostics ===="
awk '
/^[^ #].*\.t \.\.+/ || /^\.\/[^ ]+ \.\.+/ { file = $1 }
/^not ok / { if (total < 400) { print file ": " $0; total++ }; keep = 40; next }
/^#/ && keep > 0 { if (total < 400) { print "    " $0; total++ }; keep--; next }
/^(ok|not ok) / { keep = 0 }
' "$log"
