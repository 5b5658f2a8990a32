#!/bin/bash
# EC2 calls per steady-state reconcile. The topology of
# tests/integration/aws-vpc.sh (moto with signature checking in the aws
# namespace, the fault proxy in front, 3 zones x 2 subnets, seven nodes)
# with the defaults: health = { checker = "icmp"; }, no aws-vpc setting
# but identity and endpoint; routes.resync_interval is 2 s (30 s by
# default) only so that passes come quickly: a pass is the same. In
# steady state the proxy's stats are reset just after a pass of the
# writer, PASSES passes (default 5; its status `passes`) are awaited,
# and the proxy's calls are counted by action (every node's: only the
# writer calls in steady state). Side by side, the anchor: Romana v2.0's
# vpc-router pass emulated (bench/aws_romana.py passes: its five
# Describe calls, DescribeAvailabilityZones, DescribeVpcs,
# DescribeSubnets, DescribeRouteTables, DescribeInstances, then the spec
# applied; the spec is strata's routes, so nothing is to change), with
# the admin key, through a second instance of the same proxy in front of
# the same moto (so that its calls are counted apart), for the same
# number of passes, counted the same way. As root; needs BUILDDIR and
# moto. Never part of CI.
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
[ "$(id -u)" = 0 ] || { echo "aws-calls.sh: run as root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/aws-lib.sh"
PASSES=${PASSES:-5}
CIDR=10.112.0.0/16
NODES=7
IT=$SRCDIR/tests/integration
AWS_ROUTES='per_host = false; spread = false; resync_interval = "2s";'

PY=$(moto_python) || fail "moto and boto3 are needed"
MOTO=$(moto_server_cmd "$PY") || fail "moto_server is needed"

on_exit() {
	local rc=$? n
	set +e
	if [ "$rc" != 0 ]; then
		for n in $(seq "$NODES"); do
			[ -f "$T/n$n.log" ] && { echo "--- n$n.log (tail)"; tail -n 15 "$T/n$n.log"; }
		done
		[ -f "$T/proxy.log" ] && { echo "--- proxy.log"; tail -n 20 "$T/proxy.log"; }
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

aws_net
aws_moto_start
aws_proxy_start 5001
aws_proxy_start 5003 "$T/proxy-anchor.log"
aws_nodes "$NODES"
aws_nodes_up "$NODES"

steady() {
	aws_ctl n1 --json health >"$T/health.json" &&
		/usr/bin/python3 "$IT/failover.py" "$T/health.json" steady 3
}
wait_until 90 "a writer and every target up with 3 observers" steady
WRITER=$(/usr/bin/python3 "$IT/failover.py" "$T/health.json" writer)
tables_exact() {
	aws_ctl "$WRITER" --json health >"$T/health.json" || return 1
	aws_moto routes >"$T/routes.json" || return 1
	/usr/bin/python3 "$IT/aws_vpc.py" exact "$T/state.json" \
		"$T/routes.json" "$T/health.json" "$T/nodes" "$CIDR"
}
wait_until 60 "every table to hold exactly the intent's routes" tables_exact
in_sync() { [ "$(aws_status "$WRITER" state)" = "in sync" ]; }
wait_until 30 "$WRITER in sync" in_sync

passes() { aws_status "$WRITER" passes; }
passes_at_least() { [ "$(passes)" -ge "$1" ]; }
# a pass just ended: the window starts between two passes
p=$(passes)
wait_until 30 "a pass of $WRITER" passes_at_least $((p + 1))
aws_pctl POST reset-stats >/dev/null
P0=$(passes)
wait_until $((PASSES * 5 + 30)) "$PASSES passes of $WRITER" passes_at_least $((P0 + PASSES))
P1=$(passes)
aws_pctl GET stats >"$T/strata.json"
LAST=$(aws_status "$WRITER" last_pass_describes)

# the anchor: the same routes as its spec, each subnet's nodes its members
spec=$(/usr/bin/python3 - "$T/health.json" "$T/nodes" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
nodes = [l.split() for l in open(sys.argv[2]) if l.strip()]
eni = {n[0]: n[2] for n in nodes}
subnet = {n[0]: n[3] for n in nodes}
for k, n in enumerate(nodes):
    print("--member %s=10.99.0.%d,%s" % (n[0], k + 1, n[2]))
for r in h["routes"]:
    f = r["host"]
    others = [n[0] for n in nodes if subnet[n[0]] == subnet[f] and n[0] != f]
    print("--route %s=%s" % (r["dst"], ",".join([f] + others)))
PY
)
# shellcheck disable=SC2086
aws_in "$PY" "$here/aws_romana.py" passes --passes "$((P1 - P0))" \
	--endpoint "http://$AWS:5003" --key "$ADMIN_KEY" --secret "$ADMIN_SECRET" \
	--vpc "$VPC" $spec >"$T/anchor.log" 2>&1 ||
	fail "the anchor's passes: $(tail -n 5 "$T/anchor.log")"
AWS_PROXY_PORT=5003 aws_pctl GET stats >"$T/anchor.json"

/usr/bin/python3 - "$T/strata.json" "$T/anchor.json" "$((P1 - P0))" "$LAST" "$WRITER" <<'PY'
import collections, json, sys
MUTATING = ("CreateRoute", "ReplaceRoute", "DeleteRoute",
            "ModifyNetworkInterfaceAttribute", "ModifyInstanceAttribute")
n, last, writer = int(sys.argv[3]), sys.argv[4], sys.argv[5]

def tally(path):
    c = collections.Counter(e["action"] for e in json.load(open(path))["log"])
    d = sum(v for k, v in c.items() if k.startswith("Describe"))
    m = sum(v for k, v in c.items() if k in MUTATING)
    return c, d, m

sc, sd, sm = tally(sys.argv[1])
ac, ad, am = tally(sys.argv[2])
print("EC2 calls per steady-state pass, %d passes each (strata's writer %s):"
      % (n, writer))
print("  %-28s %8s %8s" % ("", "strata", "Romana"))
for a in sorted(set(sc) | set(ac)):
    print("  %-28s %8d %8d" % (a, sc[a], ac[a]))
print("  %-28s %8.2f %8.2f" % ("Describe calls per pass", sd / n, ad / n))
print("  %-28s %8.2f %8.2f" % ("mutating calls per pass", sm / n, am / n))
print("  strata/anchor, Describe calls per pass: %.2f" % ((sd / n) / (ad / n)))
print("  the writer's own count, its last pass: %s Describe" % last)
ok = sd == n and sm == 0
print("  goal: one Describe, zero mutations per pass: %s"
      % ("met" if ok else "NOT met"))
PY
