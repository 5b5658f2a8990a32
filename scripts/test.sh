#!/bin/bash
# Build strata and run every test, as root on Debian 12:
#   unit tests (make check), the same under valgrind, the integration
#   tests once in the ASan+UBSan build, fuzz targets time-boxed; the
#   fuzzing build, make distcheck and the packages' test beside them.
# Each phase has a time budget; a phase over budget fails the run, so the
# whole stays under 30 minutes on 2 cores as the project grows.
# Benchmarks are not run here (see bench/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builds=${STRATA_BUILDS:-$top/build}
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-6}
passed=0
failed=0
t0=$SECONDS

phase_start() {
	phase_name=$1
	phase_budget=$2
	phase_t0=$SECONDS
	echo
	echo "=== $phase_name (budget ${phase_budget}s)"
}

phase_end() {
	local took=$((SECONDS - phase_t0))
	echo "=== $phase_name: ${took}s of ${phase_budget}s"
	if [ "$took" -gt "$phase_budget" ]; then
		echo "test.sh: phase $phase_name took ${took}s, over its ${phase_budget}s budget" >&2
		exit 1
	fi
}

# Count the automake harness's results of one build dir.
count_trs() {
	local dir=$1 p f
	p=$(find "$dir" -name '*.trs' -exec grep -l '^:test-result: PASS' {} + | wc -l || true)
	f=$(find "$dir" -name '*.trs' -exec grep -l '^:test-result: \(FAIL\|ERROR\|XPASS\)' {} + | wc -l || true)
	passed=$((passed + p))
	failed=$((failed + f))
}

show_failed_logs() {
	local dir=$1 trs
	for trs in $(find "$dir" -name '*.trs' -exec grep -l '^:test-result: \(FAIL\|ERROR\)' {} + || true); do
		echo "--- ${trs%.trs}.log"
		tail -n 60 "${trs%.trs}.log"
	done
}

# The test programs and fixture plugins, built but not run.
build_checks() {
	make -s -C "$1" -j"$jobs" check TESTS= >>"$1.build.log" 2>&1 || {
		tail -n 80 "$1.build.log"
		echo "test.sh: building the tests in $1 failed" >&2
		exit 1
	}
}

configure_build() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs") >"$dir.build.log" 2>&1 || {
		tail -n 80 "$dir.build.log"
		echo "test.sh: build in $dir failed" >&2
		exit 1
	}
}

phase_start deps 300
"$top/scripts/deps.sh" test
phase_end

phase_start build 360
(cd "$top" && ./autogen.sh >/dev/null 2>&1)
configure_build "$builds/default" --enable-werror
build_checks "$builds/default"
phase_end

# The builds that need nothing from the phases below run beside them at
# the lowest priority, from here on (the integration tests mostly wait on
# timers and peers, the unit tests partly): the fuzz targets (only those:
# the daemon and plugins are built and tested elsewhere), then make
# distcheck (the tarball builds, installs and uninstalls, and carries what
# the tests read from the source tree; the unit tests that read it run
# from the tarball, every unit test having run above), then the Debian and
# RPM packages built from that tarball, installed, run in a namespace and
# purged (tests/packaging/run.sh).
# distcheck works in $builds/default, so it waits for the unit and
# valgrind phases to be done with it.
dist_tests="tests/unit/test_cfg tests/unit/test_ec2xml tests/unit/test_sigv4
	tests/unit/test_imds tests/unit/test_creds tests/unit/test_plug"
fuzz_targets=$(sed -n 's|^noinst_PROGRAMS += \(tests/fuzz/fuzz_[a-z0-9_]*\)$|\1|p' \
	"$top/tests/fuzz/subdir.am")
background_builds() {
	renice -n 19 "$BASHPID" >/dev/null
	mkdir -p "$builds/fuzz"
	(cd "$builds/fuzz" && "$top/configure" -q CC=clang --enable-fuzzing \
		--enable-asan --enable-ubsan && make -s -j"$jobs" $fuzz_targets) \
		>"$builds/fuzz.build.log" 2>&1 || return 2
	for _ in $(seq 3600); do
		[ -e "$builds/default.free" ] && break
		sleep 1
	done
	[ -e "$builds/default.free" ] || return 4
	# only the programs those tests run (test_plug's checking child too)
	STRATA_TEST_QUICK=1 make -s -C "$builds/default" distcheck -j"$jobs" \
		TESTS="$(echo $dist_tests)" \
		check_PROGRAMS="$(echo $dist_tests) tests/abi/plugcheck tests/abi/plugcheck-abi-1-0" \
		>"$builds/default.distcheck.log" 2>&1 || return 1
	# the packages, from the tarball distcheck made and checked
	[ "$(id -u)" = 0 ] || return 0
	"$top/tests/packaging/run.sh" "$builds"/default/strata-*.tar.gz \
		>"$builds/packaging.log" 2>&1 || return 3
}
kill_tree() {
	local c
	for c in $(pgrep -P "$1" || true); do kill_tree "$c"; done
	kill "$1" 2>/dev/null || true
}
rm -f "$builds/default.free"
background_builds &
bg_pid=$!
trap '[ -z "${bg_pid:-}" ] || kill_tree "$bg_pid"' EXIT

phase_start unit 120
if ! make -s -C "$builds/default" check -j"$jobs" >"$builds/default.check.log" 2>&1; then
	show_failed_logs "$builds/default"
	echo "test.sh: unit tests failed" >&2
	exit 1
fi
count_trs "$builds/default"
grep -E '^# (TOTAL|PASS|FAIL|ERROR)' "$builds/default.check.log" || true
phase_end

phase_start valgrind 420
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --suppressions=$top/tests/valgrind.supp"
# randomized tests run smaller under valgrind (STRATA_TEST_QUICK)
if ! STRATA_TEST_QUICK=1 make -s -C "$builds/default" check -j"$jobs" LOG_COMPILER="$vg" \
	TEST_SUITE_LOG=valgrind-suite.log >"$builds/default.valgrind.log" 2>&1; then
	show_failed_logs "$builds/default"
	echo "test.sh: unit tests under valgrind failed" >&2
	exit 1
fi
count_trs "$builds/default"
phase_end
touch "$builds/default.free"

phase_start "ASan+UBSan build" 300
# for the integration tests: the programs and plugins, and only the test
# programs and fixture plugins they run (the unit tests ran plain and
# under valgrind above); and the policy engine's randomized unit tests,
# which UBSan sees and valgrind does not
configure_build "$builds/asan" --enable-werror --enable-asan --enable-ubsan
fixture_plugins=$(sed -n 's|^check_LTLIBRARIES += \(tests/fixtures/plugins/[a-z0-9-]*\.la\)$|\1|p' \
	"$top/tests/fixtures/subdir.am" "$top/tests/integration/subdir.am")
asan_units="tests/unit/test_policy_engine tests/unit/test_policy_model"
make -s -C "$builds/asan" -j"$jobs" check TESTS= \
	check_PROGRAMS="tests/store/storetool tests/unit/test_store_etcd $asan_units" \
	check_LTLIBRARIES="$(echo $fixture_plugins)" >>"$builds/asan.build.log" 2>&1 || {
	tail -n 80 "$builds/asan.build.log"
	echo "test.sh: building what the integration tests run failed" >&2
	exit 1
}
for t in $asan_units; do
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$builds/asan/$t" >>"$builds/asan.units.log" 2>&1; then
		passed=$((passed + 1))
	else
		tail -n 60 "$builds/asan.units.log"
		echo "test.sh: $t failed under ASan+UBSan" >&2
		exit 1
	fi
done
[ "$(echo $fixture_plugins | wc -w)" -ge 4 ] || {
	echo "test.sh: found only these fixture plugins: $fixture_plugins" >&2
	exit 1
}
phase_end

phase_start integration 1080
if [ "$(id -u)" != 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "test.sh: integration tests need root (network namespaces)" >&2
		exit 1
	fi
	echo "integration: skipped, not root"
else
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	rm -f "$builds/asan/integration.passed" "$builds/asan/integration.failed"
	BUILDDIR="$builds/asan" "$top/tests/integration/run.sh" || true
	if [ ! -f "$builds/asan/integration.failed" ]; then
		echo "test.sh: the integration runner did not finish" >&2
		exit 1
	fi
	passed=$((passed + $(cat "$builds/asan/integration.passed")))
	failed=$((failed + $(cat "$builds/asan/integration.failed")))
fi
phase_end

phase_start "fuzzing build, distcheck and packages, beside the tests" 480
bg_rc=0
wait "$bg_pid" || bg_rc=$?
bg_pid=
if [ "$bg_rc" = 1 ]; then
	tail -n 60 "$builds/default.distcheck.log"
	echo "test.sh: make distcheck failed" >&2
	exit 1
elif [ "$bg_rc" = 3 ]; then
	tail -n 60 "$builds/packaging.log"
	echo "test.sh: the packaging test failed" >&2
	failed=$((failed + 1))
elif [ "$bg_rc" = 4 ]; then
	echo "test.sh: distcheck waited an hour for the unit phases" >&2
	exit 1
elif [ "$bg_rc" != 0 ]; then
	tail -n 80 "$builds/fuzz.build.log"
	echo "test.sh: the fuzzing build failed" >&2
	exit 1
fi
if [ "$bg_rc" = 0 ] && [ "$(id -u)" = 0 ]; then
	grep -E '^(---|    [a-z])' "$builds/packaging.log" || true
	passed=$((passed + 1))
fi
phase_end

phase_start fuzz 300
# fuzz_one NAME: runs one target for $fuzz_seconds, writes NAME.result
fuzz_one() {
	local t=$builds/fuzz/tests/fuzz/$1 corpus=$builds/fuzz/corpus-run/$1 seeds
	mkdir -p "$corpus"
	seeds="$top/tests/fuzz/corpus/${1#fuzz_}"
	[ -d "$seeds" ] || seeds=""
	if "$t" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$corpus-" \
		-print_final_stats=0 "$corpus" $seeds >"$corpus.log" 2>&1; then
		echo ok >"$corpus.result"
	else
		echo failed >"$corpus.result"
	fi
}
# each target is single-threaded: one per core
names=()
for t in $fuzz_targets; do
	names+=("$(basename "$t")")
	[ -x "$builds/fuzz/$t" ] || { echo "fuzz: $t was not built" >&2; exit 1; }
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	fuzz_one "$(basename "$t")" &
done
wait
for name in "${names[@]}"; do
	corpus="$builds/fuzz/corpus-run/$name"
	if [ "$(cat "$corpus.result" 2>/dev/null)" = ok ]; then
		echo "fuzz $name: ${fuzz_seconds}s, no crash"
		passed=$((passed + 1))
	else
		tail -n 40 "$corpus.log"
		echo "fuzz $name: FAILED" >&2
		failed=$((failed + 1))
	fi
done
phase_end

echo
echo "total time: $((SECONDS - t0))s"
echo "strata: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
