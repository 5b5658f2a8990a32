#!/bin/bash
# Run every integration test (tests/integration/*.sh but this one) against
# the build in $BUILDDIR, each in its own process, INTEGRATION_JOBS of them
# at a time (default 2: most of a test's time is waiting on timers and
# peers), and count the results. Tests share nothing: each makes its own
# namespaces and temporary directory. Needs root.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${BUILDDIR:?set BUILDDIR to a configured and built strata tree}"
export BUILDDIR
export SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
jobs=${INTEGRATION_JOBS:-2}
# the longest first, so that the lanes end together
long="cni-crash aws-vpc policy policy-churn store-etcd failover cni-conformance ipam-etcd ipam-plan store-crash"

names=()
for n in $long; do
	[ -f "$here/$n.sh" ] && names+=("$n")
done
for t in "$here"/*.sh; do
	name=$(basename "$t" .sh)
	# *-lib: sourced by tests; *-selftest: checks of test fixtures, run by hand
	case $name in run | lib | *-lib | *-selftest) continue ;; esac
	case " $long " in *" $name "*) continue ;; esac
	names+=("$name")
done

run_one() {
	local name=$1 start=$SECONDS rc=0
	# bounded, with room for the crash test (1,000 operations, 30 kills)
	# on a loaded machine
	timeout --kill-after=10 480 bash "$here/$name.sh" \
		>"$BUILDDIR/integration-$name.log" 2>&1 || rc=$?
	echo "$rc $((SECONDS - start))" >"$BUILDDIR/integration-$name.result"
}

for name in "${names[@]}"; do
	[ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ] && continue
	rm -f "$BUILDDIR/integration-$name.result"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$name" &
done
wait

passed=0
failed=0
for name in "${names[@]}"; do
	[ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ] && continue
	read -r rc secs <"$BUILDDIR/integration-$name.result" 2>/dev/null ||
		{ rc=1; secs=?; }
	if [ "$rc" = 0 ]; then
		echo "PASS: $name (${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL: $name (${secs}s)"
		# the reason first: the logs a test prints after it may be long
		grep -m 3 '^FAIL' "$BUILDDIR/integration-$name.log" | sed 's/^/    /'
		tail -n 50 "$BUILDDIR/integration-$name.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "$passed" >"$BUILDDIR/integration.passed"
echo "$failed" >"$BUILDDIR/integration.failed"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
