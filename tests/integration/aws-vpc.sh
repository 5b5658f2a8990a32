#!/bin/bash
# The aws-vpc advertiser against moto as EC2, signature checking on, with
# an IAM user holding exactly the plugin's policy (aws_moto.py) and a
# fault-injecting proxy in front (tests/fixtures/ec2_proxy.py). A VPC of 3
# zones x 2 subnets, one using the main table; seven nodes (one per
# subnet, a second in the first subnet) in namespaces on one bridge, each
# a stratad with the topology IPAM, the icmp checker and the aws-vpc
# advertiser; moto and the proxy in a namespace of their own. Identity
# from the config, and on one node from a fake IMDSv2; credentials from
# the environment, and on one node from a shared credentials file.
# Checked: every table holds exactly the intent's routes; source/dest
# check off on every node; a steady pass makes one Describe and no
# mutating call, and only the writer calls; a route deleted by hand comes
# back; throttling, 5xx, timeouts, slow answers, pagination, blackholes,
# RouteAlreadyExists, RouteLimitExceeded and a denied action are each
# met; a forwarder's death moves its route to its subnet peer's
# interface; the writer's death hands over without a change.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/aws-lib.sh"

CIDR=10.112.0.0/16
NODES=7
AWS_ROUTES='per_host = false; spread = false; resync_interval = "2s";'
AWS_HEALTH='checker = "icmp"; interval = "200ms"; writer_lease = "3s";'
AWS_VPC_EXTRA='call_timeout = "1s"; attempts = 4; backoff_max = "300ms";
      rediscover = "1m";'

if ! PY=$(moto_python) || ! MOTO=$(moto_server_cmd); then
	[ "${CI:-}" = true ] && fail "moto is required under CI=true"
	echo "SKIP: moto not found"
	exit 77
fi

on_exit() {
	local rc=$? n
	set +e
	if [ "$rc" != 0 ] && [ -n "${WRITER:-}" ]; then
		echo "--- plugins (writer $WRITER)"
		ctl "$WRITER" --json plugins
		echo "--- tables"
		cat "$T/routes.json" 2>/dev/null
		for n in $(seq "$NODES"); do
			echo "--- n$n.log (tail)"
			tail -n 20 "$T/n$n.log"
		done
		echo "--- proxy.log (tail)"
		tail -n 20 "$T/proxy.log"
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

ctl() {
	aws_ctl "$@"
}

moto() { # aws_moto.py SUBCOMMAND ARGS... against moto itself
	aws_moto "$@"
}

pctl() {
	aws_pctl "$@"
}

stats() {
	pctl GET stats >"$T/stats.json"
}

count() { # ACTION [FAULT]
	stats && /usr/bin/python3 "$here/aws_vpc.py" count "$T/stats.json" "$@"
}

count_is() { # N ACTION [FAULT]
	local n=$1
	shift
	[ "$(count "$@")" = "$n" ]
}

count_at_least() { # N ACTION [FAULT]
	local n=$1
	shift
	[ "$(count "$@")" -ge "$n" ]
}

status_of() { # NODE KEY: the aws-vpc instance's status
	aws_status "$@"
}

ASK=n1 # a live node to ask
writer() {
	aws_writer "$ASK"
}

tables_exact() {
	ctl "$WRITER" --json health >"$T/health.json" || return 1
	moto routes >"$T/routes.json" || return 1
	/usr/bin/python3 "$here/aws_vpc.py" exact "$T/state.json" \
		"$T/routes.json" "$T/health.json" "$T/nodes" "$CIDR"
}

passes() {
	status_of "$WRITER" passes
}

# settle: two whole passes since now
settle() {
	local p
	p=$(passes)
	wait_until 20 "two passes of the writer" passes_above $((p + 1))
}

passes_above() {
	[ "$(passes)" -gt "$1" ]
}

# first table, its first intent route: what the fault cases delete
pick_route() {
	TABLE=$(/usr/bin/python3 "$here/aws_vpc.py" tables "$T/state.json" | sed -n 1p)
	DST=$(/usr/bin/python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["routes"][0]["dst"])' "$T/health.json")
}

restored() {
	tables_exact
}

# ---- the network: a bridge, the aws namespace; moto, the VPC, the proxy -----

aws_net
aws_moto_start
ok "moto with signature checking: a VPC of 3 zones x 2 subnets"
aws_proxy_start 5001

# ---- the nodes -------------------------------------------------------------------

aws_nodes "$NODES"

# n3 learns its identity from a fake IMDSv2 in the aws namespace
read -r _ I3 E3 S3 Z3 < <(sed -n 3p "$T/nodes")
IMDS_NET="network/interfaces/macs/0e:49:61:0f:c3:11"
ip netns exec "$NSP-aws" /usr/bin/python3 "$SRCDIR/tests/fixtures/fake_imds.py" --bind "$AWS" \
	--port 5002 --no-role --set "instance-id=$I3" \
	--set "placement/availability-zone=$Z3" --set "placement/region=us-east-1" \
	--set "$IMDS_NET/interface-id=$E3" --set "$IMDS_NET/subnet-id=$S3" \
	--set "$IMDS_NET/vpc-id=$VPC" --set "$IMDS_NET/local-ipv4s=10.99.0.3" \
	>"$T/imds.log" 2>&1 &
track $!
wait_until 20 "the fake IMDS" grep -q '^port' "$T/imds.log"
AWS_IDENTITY[n3]="imds_endpoint = \"http://$AWS:5002\";"
# n2 takes its keys from a shared credentials file
AWS_ENV[n2]="AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_PROFILE=strata"

aws_nodes_up "$NODES"
wait_until 30 "a route writer" writer
WRITER=$(writer)
ok "seven nodes up; $WRITER writes routes"

# ---- the tables hold exactly the intent ------------------------------------------

wait_until 60 "every table to hold exactly the intent's routes" tables_exact
ok "every managed table holds exactly the intent's routes, each to its forwarder's interface"
[ "$(status_of n3 interface)" = "$E3" ] ||
	fail "n3 did not learn its interface from IMDS: $(status_of n3 interface)"
ctl n3 --json facts | has "\"$S3\"" || fail "n3 has no subnet fact $S3"
ok "n3 learned instance, subnet and interface from IMDSv2 and published them as facts"
[ "$(status_of n2 credentials)" = "shared credentials file" ] ||
	fail "n2's credentials: $(status_of n2 credentials)"
sdc_off() {
	local e
	for e in $(awk '{ print $3 }' "$T/nodes"); do
		[ "$(moto source-dest-check --eni "$e")" = false ] || return 1
	done
}
wait_until 20 "the source/dest check off on every node" sdc_off
ok "source/destination check off on all $NODES interfaces"

# ---- the steady state: one Describe, no mutation, only the writer calls ----------

settle
pctl POST reset-stats >/dev/null
settle
stats
P=$(/usr/bin/python3 -c '
import json, sys
log = json.load(open(sys.argv[1]))["log"]
d = sum(1 for e in log if e["action"] == "DescribeRouteTables")
m = sum(1 for e in log if e["action"] in ("CreateRoute", "ReplaceRoute", "DeleteRoute", "ModifyNetworkInterfaceAttribute"))
print(d, m)' "$T/stats.json")
read -r D M <<<"$P"
[ "$M" = 0 ] || fail "steady state made $M mutating calls"
[ "$(status_of "$WRITER" last_pass_describes)" = 1 ] ||
	fail "a steady pass made $(status_of "$WRITER" last_pass_describes) describes"
[ "$D" -ge 2 ] || fail "two passes made $D describes"
for k in $(seq "$NODES"); do
	[ "n$k" = "$WRITER" ] && continue
	[ "$(status_of "n$k" passes)" = 0 ] ||
		fail "n$k is not the writer but made $(status_of "n$k" passes) passes"
	[ -z "$(status_of "n$k" calls_DescribeRouteTables 2>/dev/null)" ] ||
		fail "n$k is not the writer but described route tables"
done
ok "steady state: one DescribeRouteTables per pass ($D in the window), no mutating call; only $WRITER calls"

# ---- a route deleted by hand comes back ------------------------------------------

pick_route
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 20 "$DST restored in $TABLE" restored
ok "a route deleted by hand ($TABLE $DST) is restored"

# fault KIND MATCH COUNT [EXTRA-JSON]: queue one on the proxy
fault() {
	pctl POST fault "{\"match\": \"$2\", \"kind\": \"$1\", \"count\": $3${4:+, $4}}" >/dev/null
}

# ---- faults ------------------------------------------------------------------------

pctl POST reset-stats >/dev/null
fault throttle CreateRoute 2
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 30 "$DST restored through throttling" restored
[ "$(count CreateRoute throttle)" = 2 ] || fail "throttles met: $(count CreateRoute throttle)"
[ "$(count CreateRoute none)" -ge 1 ] || fail "no CreateRoute got through"
ok "throttled twice (503 RequestLimitExceeded): retried with backoff, restored"

# the writer's /metrics: EC2 calls and throttles, the cloud table of its
# budget, the forwarders it probes
m=$(metrics "$NSP-$WRITER" 9477) || fail "no /metrics on $WRITER"
v=$(metric_value 'strata_ec2_throttles_total{plugin="vpc",action="CreateRoute"}' <<<"$m") && [ "$v" -ge 2 ] || fail "CreateRoute throttles: $v"
v=$(metric_value 'strata_ec2_calls_total{plugin="vpc",action="CreateRoute"}' <<<"$m") && [ "$v" -ge 3 ] || fail "CreateRoute calls: $v"
v=$(metric_value 'strata_ec2_calls_total{plugin="vpc",action="DescribeRouteTables"}' <<<"$m") && [ "$v" -ge 1 ] || fail "DescribeRouteTables calls: $v"
v=$(metric_value 'strata_cloud_routes{family="ipv4"}' <<<"$m") && [ "$v" -ge 1 ] || fail "cloud routes: $v"
b=$(metric_value 'strata_cloud_route_budget{family="ipv4"}' <<<"$m") && [ "$b" -ge "$v" ] || fail "cloud budget $b for $v routes"
grep -q '^strata_forwarder_up{target="n[0-9]*"} 1$' <<<"$m" || fail "no forwarder up: $(grep forwarder <<<"$m")"
grep -q '^strata_forwarder_checks_total{target="n[0-9]*"} [1-9]' <<<"$m" || fail "no forwarder checks"
ok "/metrics: EC2 calls $(metric_value 'strata_ec2_calls_total{plugin="vpc",action="CreateRoute"}' <<<"$m") and throttles $(metric_value 'strata_ec2_throttles_total{plugin="vpc",action="CreateRoute"}' <<<"$m") of CreateRoute, $v cloud routes of $b, forwarders up"

pctl POST reset-stats >/dev/null
fault 5xx DescribeRouteTables 2
fault throttle400 CreateRoute 1
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 30 "$DST restored through 5xx" restored
[ "$(count DescribeRouteTables 5xx)" = 2 ] || fail "5xx met: $(count DescribeRouteTables 5xx)"
ok "HTTP 500 and EC2ThrottledException: retried, restored"

pctl POST reset-stats >/dev/null
fault timeout CreateRoute 1 '"delay": 3'
fault slow DescribeRouteTables 1 '"delay": 0.5'
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 30 "$DST restored through a timeout" restored
# the proxy logs a held request when it drops it, after its 3 s
wait_until 10 "the timeout logged" count_is 1 CreateRoute timeout
ok "a request that never answers times out (call_timeout 1s) and is retried; a slow answer is waited for"

pctl POST config '{"page_size": 1}' >/dev/null
pctl POST reset-stats >/dev/null
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 30 "$DST restored through pagination" restored
stats
/usr/bin/python3 -c '
import json, sys
log = json.load(open(sys.argv[1]))["log"]
sys.exit(0 if any("NextToken" in e.get("params", {}) for e in log) else 1)' \
	"$T/stats.json" || fail "no NextToken was followed"
ok "DescribeRouteTables one table per page: every NextToken followed"
pctl POST clear >/dev/null

BH=$(/usr/bin/python3 "$here/aws_vpc.py" eni "$T/routes.json" "$TABLE" "$DST")
pctl POST reset-stats >/dev/null
pctl POST config "{\"blackhole\": [\"$BH\"]}" >/dev/null
wait_until 20 "a blackhole route replaced" count_at_least 1 ReplaceRoute none
pctl POST clear >/dev/null
wait_until 20 "tables right after the blackhole" tables_exact
ok "a blackhole route (its interface shown gone) is replaced"

pctl POST reset-stats >/dev/null
fault error CreateRoute 1 '"status": 400, "code": "RouteAlreadyExists", "message": "The route identified by '"$DST"' already exists."'
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
wait_until 30 "$DST restored after RouteAlreadyExists" restored
[ "$(count ReplaceRoute)" -ge 1 ] || fail "RouteAlreadyExists was not followed by ReplaceRoute"
ok "RouteAlreadyExists on create: replaced instead"

pctl POST config '{"route_limit": 1}' >/dev/null
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
limit_said() {
	status_of "$WRITER" error | has "RouteLimitExceeded.*route_budget"
}
wait_until 20 "RouteLimitExceeded reported" limit_said
pctl POST clear >/dev/null
wait_until 30 "$DST restored after the limit" restored
ok "RouteLimitExceeded: refused with an error naming the table and route_budget; restored once room"

fault error CreateRoute 5 '"status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."'
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
denied_said() {
	status_of "$WRITER" error | has "UnauthorizedOperation.*ec2:CreateRoute"
}
wait_until 20 "a denied action reported" denied_said
pctl POST clear >/dev/null
wait_until 60 "$DST restored after the denial" restored
ok "UnauthorizedOperation: the pass stops and names ec2:CreateRoute; retried later"

# ---- failover: the forwarder of the first subnet dies ------------------------------

ctl "$WRITER" --json health >"$T/health.json"
S1=$(awk 'NR == 1 { print $4 }' "$T/nodes")
read -r FDST FHOST < <(/usr/bin/python3 "$here/failover.py" "$T/health.json" route "$S1")
[ "$FHOST" = n1 ] || [ "$FHOST" = n7 ] || fail "$S1's route is on $FHOST"
if [ "$FHOST" = n1 ]; then OTHER=n7; else OTHER=n1; fi
if [ "$FHOST" = "$WRITER" ]; then
	echo "the forwarder is the writer: its successor takes over"
fi
OTHER_ENI=$(awk -v n="$OTHER" '$1 == n { print $3 }' "$T/nodes")
stop_stratad "${AWS_PID[$FHOST]}" KILL || true
ip -n "$NSP-$FHOST" link set eth0 down
moved() {
	local t e
	moto routes >"$T/routes.json" || return 1
	for t in $(/usr/bin/python3 "$here/aws_vpc.py" tables "$T/state.json"); do
		e=$(/usr/bin/python3 "$here/aws_vpc.py" eni "$T/routes.json" "$t" "$FDST") || return 1
		[ "$e" = "$OTHER_ENI" ] || return 1
	done
}
ASK=$OTHER
[ "$FHOST" = "$WRITER" ] && WRITER=$OTHER
wait_until 40 "$FDST to move to $OTHER's interface in every table" moved
ok "$FHOST died: $FDST moved to $OTHER ($OTHER_ENI) in every table"

# ---- the writer dies: its successor continues, nothing else changes --------------

wait_until 20 "a writer" writer
WRITER=$(writer)
pctl POST reset-stats >/dev/null
stop_stratad "${AWS_PID[$WRITER]}" KILL || true
OLD=$WRITER
# ask a node still alive: the writer may be $OTHER, which took $FHOST's route
ASK=$(awk -v a="$FHOST" -v b="$OLD" '$1 != a && $1 != b { print $1; exit }' "$T/nodes")
new_writer() {
	local w
	w=$(ctl "$ASK" --json health >"$T/health.json" &&
		/usr/bin/python3 "$here/failover.py" "$T/health.json" writer) &&
		[ -n "$w" ] && [ "$w" != "$OLD" ]
}
wait_until 30 "a new writer" new_writer
WRITER=$(/usr/bin/python3 "$here/failover.py" "$T/health.json" writer)
in_sync() {
	[ "$(status_of "$WRITER" state)" = "in sync" ]
}
wait_until 20 "$WRITER in sync" in_sync
[ "$(count DeleteRoute)" = 0 ] || fail "the new writer deleted $(count DeleteRoute) routes"
ok "$OLD (the writer) killed: $WRITER took over and deleted nothing"
