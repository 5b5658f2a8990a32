# Shared by the integration tests: namespaces as hosts, processes stopped
# by pid, everything removed on exit, every wait bounded.
# shellcheck shell=bash
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd) # configs name plugin_dir absolutely
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STRATAD=$BUILDDIR/stratad
STRATACTL=$BUILDDIR/stratactl
PLUGINDIR=$BUILDDIR/.libs
FIXTUREDIR=$BUILDDIR/tests/fixtures/plugins/.libs

T=$(mktemp -d /tmp/strata-it.XXXXXX)
NSP="st$$"
_pids=()

cleanup() {
	local rc=$? pid ns
	for pid in "${_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${_pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# every namespace of this test, even those made in a subshell
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok: $*"
}

# mkns NAME: a namespace with lo up; prints its full name. Every
# namespace named "$NSP-*" is deleted on exit.
mkns() {
	local ns="$NSP-$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

track() {
	_pids+=("$1")
}

# untrack PID: a process the test stopped itself
untrack() {
	local keep=() p
	for p in "${_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_pids=("${keep[@]}")
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll every 0.1 s
wait_until() {
	local secs=$1 what=$2
	shift 2
	local n=$((secs * 10))
	for _ in $(seq "$n"); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "timed out after ${secs}s waiting for $what"
}

# start_stratad NS CONFIG LOG: runs stratad in NS; sets STRATAD_PID
start_stratad() {
	local ns=$1 conf=$2 log=$3 sock
	sock=$(sed -n 's/.*socket = "\([^"]*\)".*/\1/p' "$conf" | head -n1)
	ip netns exec "$ns" "$STRATAD" -c "$conf" >>"$log" 2>&1 &
	STRATAD_PID=$!
	track "$STRATAD_PID"
	wait_until 20 "stratad's control socket $sock" "$STRATACTL" -s "$sock" version
}

# stop_stratad PID [SIGNAL]: stop and wait (bounded); returns its status
stop_stratad() {
	local pid=$1 sig=${2:-TERM} rc=0
	kill -"$sig" "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "stratad $pid did not stop on SIG$sig"
	wait "$pid" || rc=$?
	untrack "$pid"
	return "$rc"
}

# routes NS: strata's kernel routes in NS, one per line, sorted
routes() {
	ip -n "$1" route show proto 220 | sort
	ip -n "$1" -6 route show proto 220 | sort
}
