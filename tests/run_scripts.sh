#!/bin/sh
# Script-level tests: Gale script suites (run.py format) and the command-line,
# REPL and example checks written in Python. Usage: run_scripts.sh BUILD_DIR
set -e
B=${1:-build}
GALE=$(cd "$B" && pwd)/gale
export GALE_TESTLIB="$(cd "$B" && pwd)/libgaletest.so"
here=$(cd "$(dirname "$0")" && pwd)
status=0
for suite in lang modules stdlib ffi_scripts; do
	if [ -d "$here/$suite" ]; then
		echo "== script suite tests/$suite"
		python3 "$here/conformance/run.py" --gale "$GALE" --timeout 60 "$here/$suite" || status=1
	fi
done
for t in "$here"/cli/test_*.py "$here"/examples/test_*.py "$here"/docs/test_*.py \
	"$here"/memory/test_*.py \
	"$here"/install/test_*.py \
	"$here"/bad_input/test_*.py "$here"/failalloc/test_*.py; do
	[ -f "$t" ] || continue
	echo "== $t"
	GALE="$GALE" BUILD="$B" python3 "$t" || status=1
done
exit $status
