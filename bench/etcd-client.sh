#!/bin/bash
# strata's etcd store client against a minimal one (Python's http.client,
# one keep-alive connection), same create-if-absent txns, same run: claims
# per second and latency p50/p99 at 1 in flight (strata also at 64, for
# information), watch delivery latency, on one etcd member and on three
# (requests to the leader); then the time from killing the leader to the
# next successful claim, each client in turn, KILLS times each, for each
# per-attempt timeout in FAILOVER_TIMEOUTS (ms; 2000 is strata's default:
# a write sent to a follower just before the leader dies hangs until then).
# Every member in its own network namespace on a bridge (a hub namespace),
# the clients in another; fast election flags; data on tmpfs; members
# stopped by pid; every namespace removed on exit.
# Needs root, iproute2, etcd-server, python3; BUILDDIR with
# bench/etcd-client built (make bench/etcd-client).
# Env: SECONDS_EACH (default 5), WATCH_COUNT (default 2000), KILLS (3),
# FAILOVER_TIMEOUTS (default "2000 300").
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
SRC=$(cd "$(dirname "$0")" && pwd)
BENCH=$BUILDDIR/bench/etcd-client
PY=$SRC/etcd-client.py
SECS=${SECONDS_EACH:-5}
WCOUNT=${WATCH_COUNT:-2000}
KILLS=${KILLS:-3}
FTIMEOUTS=${FAILOVER_TIMEOUTS:-2000 300}
[ -x "$BENCH" ] || make -s -C "$BUILDDIR" bench/etcd-client ||
	{ echo "etcd-client.sh: cannot build $BENCH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "etcd-client.sh: python3 not found" >&2; exit 1; }
BENCH_NAME=etcd-client NSP=eb$$
. "$SRC/etcd-net.sh"

# name_of ADDR
name_of() {
	echo "m${1##*.}"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}


# measure LABEL URLS: claims at 1 in flight (both clients), strata at 64,
# watch delivery
measure() {
	local label=$1 urls=$2 s1 p1 s64 w
	s1=$(inc "$BENCH" cas "$urls" 1 "$SECS" "$label-s1") || die "strata claims ($label)"
	p1=$(inc python3 "$PY" cas "$urls" "$SECS" "$label-p1") || die "minimal claims ($label)"
	s64=$(inc "$BENCH" cas "$urls" 64 "$SECS" "$label-s64") || die "strata claims at 64 ($label)"
	w=$(inc "$BENCH" watch "$urls" "$WCOUNT" "$label-w") || die "watch ($label)"
	echo "$label: strata  1 in flight: $(field "$s1" 3) claims/s, p50 $(field "$s1" 4) ms, p99 $(field "$s1" 5) ms"
	echo "$label: minimal 1 in flight: $(field "$p1" 3) claims/s, p50 $(field "$p1" 4) ms, p99 $(field "$p1" 5) ms"
	echo "$label: strata/minimal: p50 $(ratio "$(field "$s1" 4)" "$(field "$p1" 4)")x, p99 $(ratio "$(field "$s1" 5)" "$(field "$p1" 5)")x, claims/s $(ratio "$(field "$s1" 3)" "$(field "$p1" 3)")x (goal: latency ratios <= 1)"
	echo "$label: strata 64 in flight: $(field "$s64" 3) claims/s, p50 $(field "$s64" 4) ms, p99 $(field "$s64" 5) ms"
	echo "$label: watch delivery ($(field "$w" 2) puts): ack->event p50 $(field "$w" 3) ms, p99 $(field "$w" 4) ms; send->event p50 $(field "$w" 5) ms, p99 $(field "$w" 6) ms"
}

echo "# $SECS s per claims run after 0.5 s warm-up; $WCOUNT watched puts; $KILLS leader kills per client"

# ---- one member ----
join s1 10.78.0.11
start s1 10.78.0.11 "s1=http://10.78.0.11:$PEER" single
writable 10.78.0.11
measure "1 member" "http://10.78.0.11:$PORT"
stop s1

# ---- three members ----
IC="m1=http://10.78.0.1:$PEER,m2=http://10.78.0.2:$PEER,m3=http://10.78.0.3:$PEER"
ADDRS="10.78.0.1 10.78.0.2 10.78.0.3"
for i in 1 2 3; do
	join "m$i" "10.78.0.$i"
	start "m$i" "10.78.0.$i" "$IC" cluster3
done
# shellcheck disable=SC2086
writable $ADDRS

# eps_leader_first: the endpoints, the leader's first
eps_leader_first() {
	local l a eps
	# shellcheck disable=SC2086
	l=$(leader $ADDRS) || die "no leader"
	eps="http://$l:$PORT"
	for a in $ADDRS; do
		[ "$a" = "$l" ] || eps="$eps,http://$a:$PORT"
	done
	echo "$eps"
}

EPS=$(eps_leader_first)
measure "3 members (leader first)" "$EPS"

# kill_once CLIENT TIMEOUT_MS: kill the leader while CLIENT claims, restart it; the
# client's line in $T/out (not a subshell: the restarted member's pid is
# kept here)
kill_once() {
	local eps l name
	# shellcheck disable=SC2086
	writable $ADDRS
	eps=$(eps_leader_first)
	l=${eps#http://}
	l=${l%%:*}
	name=$(name_of "$l")
	if [ "$1" = strata ]; then
		inc "$BENCH" failover "$eps" "${PID[$name]}" "kill-$RANDOM$RANDOM" \
			"$2" >"$T/out" || die "strata failover"
	else
		inc python3 "$PY" failover "$eps" "${PID[$name]}" "kill-$RANDOM$RANDOM" \
			"$2" >"$T/out" || die "minimal failover"
	fi
	stop "$name"
	start "$name" "$l" "$IC" cluster3
}

median() {
	tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

for to in $FTIMEOUTS; do
	fs=()
	fp=()
	for _ in $(seq "$KILLS"); do
		kill_once strata "$to"
		o=$(cat "$T/out")
		fs+=("$(field "$o" 2)")
		echo "leader killed ($to ms timeout), strata: next claim after $(field "$o" 2) s ($(field "$o" 3) failed attempts)"
		kill_once minimal "$to"
		o=$(cat "$T/out")
		fp+=("$(field "$o" 2)")
		echo "leader killed ($to ms timeout), minimal: next claim after $(field "$o" 2) s ($(field "$o" 3) failed attempts)"
	done
	ms=$(echo "${fs[*]}" | median)
	mp=$(echo "${fp[*]}" | median)
	echo "leader killed ($to ms timeout), median of $KILLS: strata $ms s, minimal $mp s, strata/minimal $(ratio "$ms" "$mp")x (goal <= 1.2)"
done
