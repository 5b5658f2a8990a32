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
BENCH_NAME=ipam-etcd NSP=ie$$
DPID=
bench_exit_hook() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && gone "$DPID"
}
. "$SRC/bench/etcd-net.sh"

IC="m1=http://10.78.0.1:$PEER,m2=http://10.78.0.2:$PEER,m3=http://10.78.0.3:$PEER"
ADDRS="10.78.0.1 10.78.0.2 10.78.0.3"

# eps_leader_first: the endpoints, the leader's first
eps_leader_first() {
	local l a eps
	l=$(leader $ADDRS) || die "no leader"
	eps="http://$l:$PORT"
	for a in $ADDRS; do
		[ "$a" = "$l" ] || eps="$eps,http://$a:$PORT"
	done
	echo "$eps"
}

for i in 1 2 3; do
	join "m$i" "10.78.0.$i"
	start "m$i" "10.78.0.$i" "$IC" ipam-etcd
done
writable $ADDRS

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
	writable $ADDRS
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
	start "$name" "$l" "$IC" ipam-etcd
}

median() {
	tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
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
