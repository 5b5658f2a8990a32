#!/bin/bash
# Run every integration test (tests/integration/*.sh but this one) against
# the build in $BUILDDIR, each in its own process, and count the results.
# Needs root: tests build their hosts as network namespaces.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${BUILDDIR:?set BUILDDIR to a configured and built strata tree}"
export BUILDDIR
export SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
passed=0
failed=0
failures=""

for t in "$here"/*.sh; do
	name=$(basename "$t" .sh)
	# *-lib: sourced by tests; *-selftest: checks of test fixtures, run by hand
	case $name in run | lib | *-lib | *-selftest) continue ;; esac
	[ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ] && continue
	log="$BUILDDIR/integration-$name.log"
	start=$SECONDS
	if timeout --kill-after=10 300 bash "$t" >"$log" 2>&1; then
		echo "PASS: $name ($((SECONDS - start))s)"
		passed=$((passed + 1))
	else
		echo "FAIL: $name ($((SECONDS - start))s)"
		tail -n 50 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failures="$failures $name"
	fi
done

echo "$passed" >"$BUILDDIR/integration.passed"
echo "$failed" >"$BUILDDIR/integration.failed"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
