#!/bin/bash
# Failover to EC2: from a forwarder's death to ReplaceRoute accepted by
# the endpoint. The topology of tests/integration/aws-vpc.sh (moto with
# signature checking in the aws namespace, the fault proxy in front, 3
# zones x 2 subnets) with eight nodes, so that subnets 1 and 2 each hold
# two (n1 n7, n2 n8), and the defaults: health = { checker = "icmp"; },
# no aws-vpc setting but identity and endpoint. The pair measured is the
# one without the route writer. RUNS times (default 10), after a random
# pause (SEED, default 1): t0 = time.monotonic(), the forwarder's stratad
# SIGKILLed and its link taken down; the time is the proxy log's t (the
# same clock) of the first ReplaceRoute of the subnet's route that moto
# answered 200, minus t0. The node comes back (link up, stratad started),
# steady state is awaited (every target up with 3 observers); fail-back
# is "stay", so the next run kills the other node of the pair.
# Side by side, in the same runs, the anchor: Romana v2.0's vpc-router
# emulated (bench/aws_romana.py watch: every host probed every 2 s with a
# 1 s timeout; a forwarder that misses one has its route moved by a pass:
# vpc-router's five Describe calls, then ReplaceRoute in every table),
# in the aws namespace, through the same proxy with the admin key, on a
# destination of its own ($ANCHOR_DST, outside the cluster's CIDR, so
# strata leaves it alone) with the same forwarder; timed the same way.
# As root; needs BUILDDIR (a built tree) and moto. Never part of CI.
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
[ "$(id -u)" = 0 ] || { echo "aws-failover.sh: run as root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/aws-lib.sh"
RUNS=${RUNS:-10}
SEED=${SEED:-1}
CIDR=10.112.0.0/16
NODES=8
ANCHOR_DST=10.120.0.0/24
IT=$SRCDIR/tests/integration

PY=$(moto_python) || fail "moto and boto3 are needed"
MOTO=$(moto_server_cmd "$PY") || fail "moto_server is needed"

on_exit() {
	local rc=$? n
	set +e
	if [ "$rc" != 0 ]; then
		for n in $(seq "$NODES"); do
			[ -f "$T/n$n.log" ] && { echo "--- n$n.log (tail)"; tail -n 15 "$T/n$n.log"; }
		done
		[ -f "$T/anchor.log" ] && { echo "--- anchor.log"; tail -n 20 "$T/anchor.log"; }
		[ -f "$T/proxy.log" ] && { echo "--- proxy.log"; tail -n 20 "$T/proxy.log"; }
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

aws_net
aws_moto_start
aws_proxy_start 5001
aws_nodes "$NODES"
aws_nodes_up "$NODES"

ASK=n1 # a live node to ask
steady() {
	aws_ctl "$ASK" --json health >"$T/health.json" &&
		/usr/bin/python3 "$IT/failover.py" "$T/health.json" steady 3
}
wait_until 90 "a writer and every target up with 3 observers" steady
WRITER=$(/usr/bin/python3 "$IT/failover.py" "$T/health.json" writer)
ASK=$WRITER
case $WRITER in
n1 | n7) PAIR=(n2 n8) ;;
*) PAIR=(n1 n7) ;;
esac
node_field() { # NODE FIELD: from $T/nodes (2 instance, 3 eni, 4 subnet)
	awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$T/nodes"
}
SUBNET=$(node_field "${PAIR[0]}" 4)
read -r DST FWD < <(/usr/bin/python3 "$IT/failover.py" "$T/health.json" route "$SUBNET")

# every managed table routes DST to NODE's interface
routed() { # DST NODE
	local t e want
	want=$(node_field "$2" 3)
	aws_moto routes >"$T/routes.json" || return 1
	for t in $(/usr/bin/python3 "$IT/aws_vpc.py" tables "$T/state.json"); do
		e=$(/usr/bin/python3 "$IT/aws_vpc.py" eni "$T/routes.json" "$t" "$1") || return 1
		[ "$e" = "$want" ] || return 1
	done
}
wait_until 60 "$DST on $FWD's interface in every table" routed "$DST" "$FWD"

other() { # the pair's node that is not $1
	if [ "$1" = "${PAIR[0]}" ]; then echo "${PAIR[1]}"; else echo "${PAIR[0]}"; fi
}
anchor=(--endpoint "http://$AWS:5001" --key "$ADMIN_KEY" --secret "$ADMIN_SECRET"
	--vpc "$VPC" --route "$ANCHOR_DST=$FWD,$(other "$FWD")" --state "$T/anchor.state")
for k in $(seq "$NODES"); do
	anchor+=(--member "n$k=10.99.0.$k,$(node_field "n$k" 3)")
done
ip netns exec "$NSP-aws" "$PY" "$here/aws_romana.py" watch "${anchor[@]}" >"$T/anchor.log" 2>&1 &
track $!
wait_until 30 "the anchor's $ANCHOR_DST on $FWD in every table" routed "$ANCHOR_DST" "$FWD"
echo "$NODES nodes, $WRITER writes routes; subnet $SUBNET: ${PAIR[*]}, $DST on $FWD;" \
	"strata's defaults (health = { checker = \"icmp\"; }), $RUNS runs, seed $SEED"

anchor_fwd() {
	/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["routes"][sys.argv[2]])' "$T/anchor.state" "$ANCHOR_DST"
}
anchor_saw_up() { # NODE SINCE (monotonic)
	/usr/bin/python3 -c 'import json, sys
h = json.load(open(sys.argv[1]))["hosts"][sys.argv[2]]
sys.exit(0 if h["up"] and h["sent"] > float(sys.argv[3]) else 1)' \
		"$T/anchor.state" "$1" "$2"
}
took() { # DST: seconds from $T0 to its ReplaceRoute accepted
	aws_pctl GET stats >"$T/stats.json" &&
		/usr/bin/python3 "$here/aws_failover.py" accepted "$T/stats.json" "$1" "$T0"
}
monotonic() {
	/usr/bin/python3 -c 'import time; print("%.6f" % time.monotonic())'
}

mapfile -t PAUSES < <(/usr/bin/python3 "$here/aws_failover.py" pauses "$SEED" "$RUNS")
: >"$T/results"
for run in $(seq "$RUNS"); do
	wait_until 30 "steady state" steady
	read -r d f < <(/usr/bin/python3 "$IT/failover.py" "$T/health.json" route "$SUBNET")
	[ "$d" = "$DST" ] || fail "$SUBNET's route is $d now, not $DST"
	[ "$f" != "$WRITER" ] || fail "the forwarder $f is the writer"
	[ "$(anchor_fwd)" = "$f" ] || fail "the anchor's forwarder is $(anchor_fwd), strata's $f"
	o=$(other "$f")
	sleep "${PAUSES[$((run - 1))]}"
	aws_pctl POST reset-stats >/dev/null
	pid=${AWS_PID[$f]}
	T0=$(/usr/bin/python3 "$here/aws_failover.py" kill "$pid" "$NSP-$f")
	wait "$pid" 2>/dev/null || true
	untrack "$pid"
	wait_until 60 "strata's ReplaceRoute of $DST" took "$DST"
	wait_until 60 "the anchor's ReplaceRoute of $ANCHOR_DST" took "$ANCHOR_DST"
	s=$(took "$DST")
	a=$(took "$ANCHOR_DST")
	echo "$run $f $s $a" >>"$T/results"
	echo "  run $(printf '%2d' "$run"): $f killed -> $o: strata $s s, anchor $a s"
	# both moved everywhere before the node comes back
	wait_until 30 "$DST on $o in every table" routed "$DST" "$o"
	wait_until 30 "$ANCHOR_DST on $o in every table" routed "$ANCHOR_DST" "$o"
	ip -n "$NSP-$f" link set eth0 up
	tr=$(monotonic)
	aws_start "$f"
	wait_until 20 "$f's control socket" aws_ctl "$f" version
	wait_until 60 "every target up again" steady
	wait_until 30 "the anchor seeing $f up" anchor_saw_up "$f" "$tr"
done
/usr/bin/python3 "$here/aws_failover.py" report "$T/results"
