#!/bin/bash
# The time from killing the etcd leader to the next success, in one run:
# (a) strata's etcd client alone (bench/etcd-client failover, as
# etcd-client.sh measures it): the next create-if-absent write; (b) a
# stratad with the ipam-topology plugin: the next `ipam-allocate` of a
# fresh handle (a block write). Both talk to the leader first and use the
# store's default per-attempt timeout; KILLS kills each, alternating,
# the killed member restarted in between. Prints each, the medians and
# their ratio against the goal 1.2. Three members and the client each in
# its own network namespace on a bridge (a hub namespace); fast election
# flags; data on tmpfs; everything stopped by pid, every namespace
# removed on exit.
# Needs root, iproute2, etcd-server, python3, jq; BUILDDIR a built tree
# (stratad, stratactl, the plugins; bench/etcd-client is built if
# missing). Env: KILLS (default 5).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$BUILDDIR/bench/etcd-client
DRIVER=$SRC/tests/integration/ipam-etcd.py
KILLS=${KILLS:-5}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
[ -x "$BENCH" ] || make -s -C "$BUILDDIR" bench/etcd-client ||
	{ echo "ipam-etcd.sh: cannot build $BENCH" >&2; exit 1; }
if [ ! -x "$BUILDDIR/stratad" ] || [ ! -f "$BUILDDIR/.libs/ipam-topology.so" ]; then
	echo "ipam-etcd.sh: build stratad and the plugins in $BUILDDIR first" >&2
	exit 1
fi
ETCD=$(command -v etcd) || { echo "ipam-etcd.sh: etcd not found (apt-get install etcd-server)" >&2; exit 1; }

T=$(mktemp -d /var/tmp/strata-ipametcd.XXXXXX)
NSP=ie$$
PORT=2379
PEER=2380
declare -A PID
mounted=
DPID=

cleanup() {
	local rc=$? p ns
	set +e
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && gone "$DPID"
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

# gone PID: wait (up to 10 s) until it has exited
gone() {
	for _ in $(seq 1000); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	echo "ipam-etcd.sh: process $1 still there" >&2
}

die() {
	echo "ipam-etcd.sh: $*" >&2
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

IC="m1=http://10.78.0.1:$PEER,m2=http://10.78.0.2:$PEER,m3=http://10.78.0.3:$PEER"
ADDRS="10.78.0.1 10.78.0.2 10.78.0.3"

# start NAME ADDR: a member in namespace NAME (a restart reuses its data)
start() {
	local name=$1 addr=$2
	ip netns exec "$NSP-$name" "$ETCD" --name "$name" \
		--data-dir "$T/data/$name" \
		--listen-client-urls "http://$addr:$PORT" \
		--advertise-client-urls "http://$addr:$PORT" \
		--listen-peer-urls "http://$addr:$PEER" \
		--initial-advertise-peer-urls "http://$addr:$PEER" \
		--initial-cluster "$IC" --initial-cluster-state new \
		--initial-cluster-token ipam-etcd \
		--heartbeat-interval 10 --election-timeout 100 \
		--logger zap --log-outputs stderr >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	disown "${PID[$name]}"
}

# writable: a write through every member, within 20 s each
writable() {
	local a ok
	for a in $ADDRS; do
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

# leader: the address of the member that says it leads
leader() {
	local a s
	for a in $ADDRS; do
		s=$(inc curl -sf -m 1 -X POST -d '{}' \
			"http://$a:$PORT/v3/maintenance/status") || continue
		if [ "$(jq -r '.leader' <<<"$s")" = "$(jq -r '.header.member_id' <<<"$s")" ]; then
			echo "$a"
			return 0
		fi
	done
	return 1
}

# eps_leader_first: the endpoints, the leader's first
eps_leader_first() {
	local l a eps
	l=$(leader) || die "no leader"
	eps="http://$l:$PORT"
	for a in $ADDRS; do
		[ "$a" = "$l" ] || eps="$eps,http://$a:$PORT"
	done
	echo "$eps"
}

for i in 1 2 3; do
	join "m$i" "10.78.0.$i"
	start "m$i" "10.78.0.$i"
done
writable

# a stratad in the client namespace on EPS; sets DPID
stratad_up() {
	cat >"$T/d.conf" <<CONF
log = { level = "warning"; };
control = { socket = "$T/d.sock"; };
store = { url = "etcd:$1"; prefix = "bench/"; };
node = { name = "bench-host"; zone = "z1"; subnet = "s1"; address = "10.78.0.100"; };
plugin_dir = "$BUILDDIR/.libs";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/12" ]; levels = [ "zone:2", "subnet:2" ]; }; }
);
CONF
	ip netns exec "$CL" "$BUILDDIR/stratad" -c "$T/d.conf" >>"$T/stratad.log" 2>&1 &
	DPID=$!
	for _ in $(seq 200); do
		"$BUILDDIR/stratactl" -s "$T/d.sock" --json plugins 2>/dev/null |
			grep -q '"state": *"ready"' && return 0
		sleep 0.1
	done
	die "stratad not ready within 20 s: $(tail -n 5 "$T/stratad.log")"
}

stratad_down() {
	kill -TERM "$DPID" 2>/dev/null ||
		die "stratad had exited: $(tail -n 5 "$T/stratad.log")"
	gone "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
}

# kill_once raw|stratad: kill the leader while the client writes; the
# client's "failover SECONDS FAILED" line in $T/out; the member restarted
kill_once() {
	local eps l name
	writable
	eps=$(eps_leader_first)
	l=${eps#http://}
	l=${l%%:*}
	name=m${l##*.}
	if [ "$1" = raw ]; then
		inc "$BENCH" failover "$eps" "${PID[$name]}" "kill-$RANDOM$RANDOM" \
			>"$T/out" || die "raw client failover"
	else
		stratad_up "$eps"
		inc "$PYTHON" "$DRIVER" failover "d=$T/d.sock" "${PID[$name]}" \
			"kill-$RANDOM$RANDOM" 10 >"$T/out" || die "stratad failover"
		stratad_down
	fi
	gone "${PID[$name]}"
	start "$name" "$l"
}

median() {
	tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

field() {
	echo "$1" | cut -d' ' -f"$2"
}

echo "# 3 members, fast elections; $KILLS leader kills each; clients talk to the leader first"
fr=()
fs=()
for k in $(seq "$KILLS"); do
	kill_once raw
	o=$(cat "$T/out")
	fr+=("$(field "$o" 2)")
	echo "kill $k, raw client: next write after $(field "$o" 2) s ($(field "$o" 3) failed attempts)"
	kill_once stratad
	o=$(cat "$T/out")
	fs+=("$(field "$o" 2)")
	echo "kill $k, stratad: next allocation after $(field "$o" 2) s ($(field "$o" 3) failed calls)"
done
mr=$(echo "${fr[*]}" | median)
ms=$(echo "${fs[*]}" | median)
echo "leader killed, median of $KILLS: raw client $mr s, stratad allocate $ms s, stratad/raw $(awk -v a="$ms" -v b="$mr" 'BEGIN { printf "%.2f", a / b }')x (goal <= 1.2)"
