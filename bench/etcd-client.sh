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
ETCD=$(command -v etcd) || { echo "etcd-client.sh: etcd not found (apt-get install etcd-server)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "etcd-client.sh: python3 not found" >&2; exit 1; }

T=$(mktemp -d /var/tmp/strata-etcdbench.XXXXXX)
NSP=eb$$
PORT=2379
PEER=2380
declare -A PID
mounted=

cleanup() {
	local rc=$? p ns
	set +e
	for p in "${PID[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PID[@]}"; do
		gone "$p"
	done
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns"
	done
	[ -n "$mounted" ] && { umount "$T/data" || umount -l "$T/data"; }
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

# gone PID: wait (up to 5 s) until a killed member has exited
gone() {
	for _ in $(seq 500); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	echo "etcd-client.sh: member $1 still there after SIGKILL" >&2
}

die() {
	echo "etcd-client.sh: $*" >&2
	exit 1
}

mkdir -p "$T/data"
mount -t tmpfs -o size=1g tmpfs "$T/data"
mounted=1

mkns() {
	ip netns add "$NSP-$1"
	ip -n "$NSP-$1" link set lo up
}

mkns hub
ip -n "$NSP-hub" link add br0 type bridge
ip -n "$NSP-hub" link set br0 up

# join NAME ADDR: a namespace on the bridge
join() {
	mkns "$1"
	ip -n "$NSP-hub" link add "v$$-$1" type veth peer name eth0 netns "$NSP-$1"
	ip -n "$NSP-hub" link set "v$$-$1" master br0 up
	ip -n "$NSP-$1" addr add "$2/24" dev eth0
	ip -n "$NSP-$1" link set eth0 up
}

join cl 10.78.0.100
CL=$NSP-cl
inc() {
	ip netns exec "$CL" "$@"
}

# start NAME ADDR CLUSTER TOKEN: a member, in namespace NAME (a restart
# reuses its data)
start() {
	local name=$1 addr=$2
	! ip netns exec "$NSP-$name" ss -Htln "src $addr:$PORT" | grep -q . ||
		die "port $PORT busy in $NSP-$name"
	! ip netns exec "$NSP-$name" ss -Htln "src $addr:$PEER" | grep -q . ||
		die "port $PEER busy in $NSP-$name"
	ip netns exec "$NSP-$name" "$ETCD" --name "$name" \
		--data-dir "$T/data/$name" \
		--listen-client-urls "http://$addr:$PORT" \
		--advertise-client-urls "http://$addr:$PORT" \
		--listen-peer-urls "http://$addr:$PEER" \
		--initial-advertise-peer-urls "http://$addr:$PEER" \
		--initial-cluster "$3" --initial-cluster-state new \
		--initial-cluster-token "$4" \
		--heartbeat-interval 10 --election-timeout 100 \
		--logger zap --log-outputs stderr >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	# no job notice when it is killed; the shell still reaps it
	disown "${PID[$name]}"
}

stop() {
	kill -KILL "${PID[$1]}" 2>/dev/null || true
	gone "${PID[$1]}"
	unset "PID[$1]"
}

# writable ADDR...: a write through each, within 20 s
writable() {
	local a ok
	for a in "$@"; do
		ok=
		for _ in $(seq 200); do
			if inc curl -sf -m 1 -X POST -H 'Grpc-Metadata-hasleader: true' \
				-d '{"key":"cmVhZHk=","value":"MQ=="}' \
				"http://$a:$PORT/v3/kv/put" >/dev/null 2>&1; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[ -n "$ok" ] || die "$a not writable within 20 s"
	done
}

# leader ADDR...: the address of the member that says it leads
leader() {
	local a s
	for a in "$@"; do
		s=$(inc curl -sf -m 1 -X POST -d '{}' \
			"http://$a:$PORT/v3/maintenance/status") || continue
		if [ "$(jq -r '.leader' <<<"$s")" = "$(jq -r '.header.member_id' <<<"$s")" ]; then
			echo "$a"
			return 0
		fi
	done
	return 1
}

# name_of ADDR
name_of() {
	echo "m${1##*.}"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# field LINE N
field() {
	echo "$1" | cut -d' ' -f"$2"
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
