#!/bin/bash
# Announcing N IPv4 prefixes over BGP to BIRD 2, strata against gobgpd.
# BIRD (passive, import all, export none, no kernel protocol) in namespace
# rx, the speaker in tx, joined by a veth (10.99.0.1 / 10.99.0.2). A fresh
# BIRD for every run, with the same config for both speakers.
#
# strata: stratad with the bgp advertiser and the route-gen fixture
# (tests/fixtures/plugins/route-gen.c), which states N synthetic
# BGP-scope routes (10.0.0.0/24 upward) through the host interface at
# start. gobgpd: started without a neighbor, the same N prefixes loaded
# from an MRT file (`gobgp mrt inject global`, re-injected while its RIB
# is short: the CLI loses the tail of its stream), then the neighbor is
# added; its 5-10 s connect delay falls before Established and is not
# measured.
#
# Times come from BIRD's own clock (timeformat ... iso long ms): the
# protocol's state change to Established, and the import time of the
# newest route. Polling `birdc show route count` would add its interval
# plus a birdc call (~2 ms) to every figure, as much as the whole
# transfer of 1,000 prefixes; the poll here only says when to read the
# timestamps. stratad start -> all in BIRD takes the wall clock just
# before stratad is executed. Memory: Pss and Private from
# /proc/PID/smaps_rollup once all N are in BIRD (and SETTLE seconds
# after), growth per prefix = (median at N - median at BASE_N) /
# (N - BASE_N).
#
# Goals (issue 8): Established -> all in BIRD within 1.1x of gobgpd's,
# median of RUNS; stratad start -> all 100k in BIRD under 1 s; stratad's
# memory growth under 64 B per prefix. As root; needs BUILDDIR (a built
# tree; `make tests/fixtures/plugins/route-gen.la` there), bird2 and
# gobgpd. Env: NS (default "1000 10000 100000"), RUNS (5), BASE_N (100),
# SETTLE (0.5), SPEAKERS ("strata gobgpd"). Never part of CI.
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
[ "$(id -u)" = 0 ] || { echo "bgp-announce.sh: run as root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"
NS=${NS:-"1000 10000 100000"}
RUNS=${RUNS:-5}
BASE_N=${BASE_N:-100}
SETTLE=${SETTLE:-0.5}
SPEAKERS=${SPEAKERS:-"strata gobgpd"}
BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
GOBGPD=${GOBGPD:-$(command -v gobgpd || echo /usr/bin/gobgpd)}
GOBGP=${GOBGP:-$(command -v gobgp || echo /usr/bin/gobgp)}
PY=/usr/bin/python3
ROUTEGEN=$FIXTUREDIR/route-gen.so

for x in "$BIRD" "$BIRDC" "$GOBGPD" "$GOBGP"; do
	[ -x "$x" ] || fail "$x missing (bird2, gobgpd)"
done
[ -f "$ROUTEGEN" ] || fail "$ROUTEGEN missing: make tests/fixtures/plugins/route-gen.la in $BUILDDIR"

on_exit() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		for f in stratad.log gobgpd.log bird.out; do
			[ -f "$T/$f" ] && { echo "--- $f (tail)"; tail -n 20 "$T/$f"; }
		done
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

cat >"$T/bird.conf" <<CONF
log "$T/bird.log" { warning, error, fatal, bug };
timeformat protocol iso long ms;
timeformat route iso long ms;
router id 10.99.0.1;
protocol device { scan time 10; }
protocol bgp spk4 {
  local 10.99.0.1 as 65000;
  neighbor 10.99.0.2 as 65001;
  passive on;
  hold time 90;
  ipv4 { import all; export none; };
}
CONF

cat >"$T/gobgpd.toml" <<CONF
[global.config]
  as = 65001
  router-id = "10.99.0.2"
  port = -1
CONF

B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }
G() { "$GOBGP" --target "unix://$T/gobgp.sock" "$@"; }
bird_count() { B show route count | awk '/routes for/ { print $1; exit }'; }
bird_has() { [ "$(bird_count)" = "$1" ]; }

bird_start() {
	rm -f "$T/bird.log"
	ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" \
		>>"$T/bird.out" 2>&1 &
	BIRD_PID=$!
	track "$BIRD_PID"
	wait_until 10 "bird's control socket" B show status
}

# stop PID: TERM, bounded wait, KILL
stop() {
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

# collect SPEAKER N PID [--start T] [--load S]: the run's figures
collect() {
	local sp=$1 n=$2 pid=$3
	shift 3
	sleep "$SETTLE"
	cp "/proc/$pid/smaps_rollup" "$T/smaps" || fail "$sp exited"
	B show protocols spk4 >"$T/protocols"
	B show route protocol spk4 >"$T/routes"
	"$PY" "$here/bgp_announce.py" run --speaker "$sp" --n "$n" \
		--protocols "$T/protocols" --routes "$T/routes" \
		--smaps "$T/smaps" --out "$T/results.jsonl" "$@"
}

run_strata() {
	local n=$1 t0 pid
	cat >"$T/strata.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "tx"; zone = "z"; subnet = "s"; address = "10.99.0.2"; };
plugin_dir = "$PLUGINDIR";
log = { level = "warning"; };
plugins = (
  { instance = "gen"; file = "$ROUTEGEN";
    config = { count = $n; first = "10.0.0.0/24"; via = "10.99.0.2"; }; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      hold_time = "90s"; }; }
);
CONF
	rm -f "$T/store.db"*
	bird_start
	t0=$(date +%s.%N)
	ip netns exec "$tx" "$STRATAD" -c "$T/strata.conf" >>"$T/stratad.log" 2>&1 &
	pid=$!
	track "$pid"
	wait_until 60 "$n prefixes from stratad in BIRD" bird_has "$n"
	collect strata "$n" "$pid" --start "$t0"
	stop "$pid"
	stop "$BIRD_PID"
}

# gobgp_load N: inject until the RIB holds N (bounded); prints seconds
gobgp_load() {
	local n=$1 t0 t1 have=0
	t0=$(date +%s.%N)
	for _ in 1 2 3 4; do
		G mrt inject global "$T/rib-$n.mrt" >>"$T/gobgpd.log" 2>&1 || true
		have=$(G global rib summary -a ipv4 | awk '/Destination:/ { sub(",", "", $2); print $2 }')
		[ "$have" = "$n" ] && break
	done
	[ "$have" = "$n" ] || fail "gobgpd's RIB holds $have of $n prefixes"
	t1=$(date +%s.%N)
	"$PY" -c "print($t1 - $t0)"
}

run_gobgpd() {
	local n=$1 pid load
	bird_start
	rm -f "$T/gobgp.sock"
	ip netns exec "$tx" "$GOBGPD" -f "$T/gobgpd.toml" --api-hosts \
		"unix://$T/gobgp.sock" --pprof-disable -p -l warn \
		>>"$T/gobgpd.log" 2>&1 &
	pid=$!
	track "$pid"
	wait_until 10 "gobgpd's API" G global
	load=$(gobgp_load "$n")
	G neighbor add 10.99.0.1 as 65000
	wait_until 60 "$n prefixes from gobgpd in BIRD" bird_has "$n"
	collect gobgpd "$n" "$pid" --load "$load"
	stop "$pid"
	stop "$BIRD_PID"
}

sizes="$BASE_N $NS"
case " $SPEAKERS " in *" gobgpd "*)
	for n in $sizes; do
		"$PY" "$here/bgp_announce.py" mrt "$n" 3000 "$T/rib-$n.mrt"
	done ;;
esac
echo "BGP announce: N in {$sizes}, $RUNS runs each, speakers: $SPEAKERS"
for n in $sizes; do
	for r in $(seq "$RUNS"); do
		for sp in $SPEAKERS; do
			"run_$sp" "$n"
		done
	done
done
if [ -n "${KEEP_RESULTS:-}" ]; then cp "$T/results.jsonl" "$KEEP_RESULTS"; fi
"$PY" "$here/bgp_announce.py" report "$T/results.jsonl" --base "$BASE_N"
