#!/bin/bash
# Failover time in the demo topology (scripts/demo.sh: router rt, subnet
# A of a1 a2, subnet B of b1 b2, one cloud route per subnet on rt), with
# the default health settings (the health group names only the icmp
# checker): RUNS times (default 10) subnet A's forwarder has its link
# taken down; measured from just before: (a) rt's route for A's prefix
# on another host, (b) the first reply from the pod behind the surviving
# host to a subnet-B pod pinging it every 10 ms. The forwarder comes back
# and the next run waits for steady state (failback "stay": it takes down
# the new forwarder). Side by side, the anchor: Romana's scheme emulated
# on rt (failover.py anchor: one process, a 1 s loop, every host probed
# every 2 s with one echo and a 1 s timeout, the route moved when the
# forwarder misses one) run the same way with rt's stratad stopped. Goal:
# (a) under 1.5 s median, at a cluster-wide probe rate below Romana's
# hosts/2 per second for 1,000 hosts. As root; needs BUILDDIR (a built
# tree). Env: RUNS, SEED (the random pause before each run; default 1).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
[ "$(id -u)" = 0 ] || { echo "failover.sh: run as root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"
RUNS=${RUNS:-10}
SEED=${SEED:-1}
anchor_pid=""

on_exit() {
	local rc=$?
	set +e
	if [ -n "$anchor_pid" ]; then
		kill "$anchor_pid" 2>/dev/null
		wait "$anchor_pid" 2>/dev/null
	fi
	if [ "$rc" != 0 ]; then
		for n in rt $DEMO_HOSTS; do
			[ -f "$T/$n.log" ] && { echo "--- $n.log (tail)"; tail -n 20 "$T/$n.log"; }
		done
		[ -f "$T/anchor.log" ] && { echo "--- anchor.log"; tail -n 20 "$T/anchor.log"; }
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

DEMO_HEALTH='checker = "icmp";'
demo_net
for n in rt $DEMO_HOSTS; do demo_conf "$n"; done
for n in $DEMO_HOSTS rt; do demo_start "$n"; done
for n in $DEMO_HOSTS; do demo_pod "$n" "p$n"; done

steady() {
	demo_ctl a1 --json health >"$T/health.json" &&
		/usr/bin/python3 "$SRCDIR/tests/integration/failover.py" \
			"$T/health.json" steady 3
}
wait_until 60 "a writer and every target up with 3 observers" steady
read -r PA FA < <(/usr/bin/python3 "$SRCDIR/tests/integration/failover.py" \
	"$T/health.json" route subnet-a)
read -r PB FB < <(/usr/bin/python3 "$SRCDIR/tests/integration/failover.py" \
	"$T/health.json" route subnet-b)
rt_has() { [ "$(demo_rt_via "$1")" = "${DEMO_ADDR[$2]}" ]; }
wait_until 30 "rt's route $PA via $FA" rt_has "$PA" "$FA"
wait_until 30 "rt's route $PB via $FB" rt_has "$PB" "$FB"
# the probes every node sent, over 10 s: the demo's cluster-wide rate
probes() {
	local n
	for n in $DEMO_HOSTS rt; do demo_ctl "$n" --json health; done |
		/usr/bin/python3 -c '
import json, sys
d = json.JSONDecoder()
s, i, total = sys.stdin.read(), 0, 0
while i < len(s):
    if s[i].isspace():
        i += 1
        continue
    j, i = d.raw_decode(s, i)
    total += sum(p["probes"] for p in j.get("probes") or [])
print(total)'
}
p0=$(probes) s0=$(date +%s.%N)
sleep 10
p1=$(probes) s1=$(date +%s.%N)
rate=$(/usr/bin/python3 -c "print(($p1 - $p0) / ($s1 - $s0))")
cp "$T/health.json" "$T/health.demo.json"
echo "demo topology up: $PA -> $FA, $PB -> $FB; strata's defaults, $RUNS runs, seed $SEED"

args=(--nsp "$NSP" --runs "$RUNS" --seed "$SEED" --prefix "$PA"
	--subnet a1,a2 --gw "$(demo_gw a1)" --src pb1)
for n in $DEMO_HOSTS; do
	args+=(--host "$n=${DEMO_ADDR[$n]}" --pod "$n=${DEMO_POD_IP[p$n]}")
done
/usr/bin/python3 "$here/failover.py" measure --phase strata "${args[@]}" \
	--ctl "$STRATACTL" --sock "$T/a1.sock" --out "$T/strata.json"

# the anchor: rt's stratad stopped (its routes stay), the script's own
stop_stratad "${DEMO_PID[rt]}" || fail "rt's stratad exited non-zero"
fwd() { # PREFIX HOSTS...: "PREFIX=FORWARDER,OTHER" from rt's route
	local a n p=$1
	a=$(demo_rt_via "$p")
	shift
	for n in "$@"; do [ "${DEMO_ADDR[$n]}" = "$a" ] && printf '%s=%s' "$p" "$n"; done
	for n in "$@"; do [ "${DEMO_ADDR[$n]}" != "$a" ] && printf ',%s' "$n"; done
	echo
}
anchor=(--state "$T/anchor.state" --route "$(fwd "$PA" a1 a2)" --route "$(fwd "$PB" b1 b2)")
for n in $DEMO_HOSTS; do anchor+=(--host "$n=${DEMO_ADDR[$n]}"); done
ip netns exec "$NSP-rt" /usr/bin/python3 "$here/failover.py" anchor "${anchor[@]}" \
	>"$T/anchor.log" 2>&1 &
anchor_pid=$!
anchor_ready() { [ -f "$T/anchor.state" ] && ip -n "$NSP-rt" route show proto 221 | has .; }
wait_until 10 "the anchor's routes" anchor_ready
/usr/bin/python3 "$here/failover.py" measure --phase anchor "${args[@]}" \
	--state "$T/anchor.state" --out "$T/anchor.json"

# 0.5 s: health.interval's default, which these configs keep
/usr/bin/python3 "$here/failover.py" report --strata "$T/strata.json" \
	--anchor "$T/anchor.json" --health "$T/health.demo.json" \
	--interval 0.5 --measured "$rate"
