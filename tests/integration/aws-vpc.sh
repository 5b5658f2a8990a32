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
AWS=10.99.0.254
NODES=7

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
	local n=$1
	shift
	"$STRATACTL" -s "$T/$n.sock" "$@"
}

in_aws() {
	ip netns exec "$NSP-aws" "$@"
}

moto() { # aws_moto.py SUBCOMMAND ARGS... against moto itself
	in_aws "$PY" "$here/aws_moto.py" "$@" --state "$T/state.json"
}

# pctl METHOD PATH [JSON]: the proxy's control API
pctl() {
	in_aws "$PY" - "$1" "http://$AWS:5001/_proxy/$2" "${3:-}" <<'PY'
import sys, urllib.request
m, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, method=m, data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
PY
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
	ctl "$1" --json plugins >"$T/plugins-$1.json" &&
		/usr/bin/python3 "$here/aws_vpc.py" plugin "$T/plugins-$1.json" "$2"
}

ASK=n1 # a live node to ask
writer() {
	ctl "$ASK" --json health >"$T/health.json" &&
		/usr/bin/python3 "$here/failover.py" "$T/health.json" writer
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

# ---- the network: a bridge, the aws namespace, the nodes ---------------------

mkns sw >/dev/null
mkns aws >/dev/null
ip -n "$NSP-sw" link add br0 type bridge
ip -n "$NSP-sw" link set br0 up
leg() { # NODE ADDR
	ip -n "$NSP-$1" link add eth0 type veth peer name "v$1" netns "$NSP-sw"
	ip -n "$NSP-sw" link set "v$1" master br0 up
	ip -n "$NSP-$1" addr add "$2/24" dev eth0
	ip -n "$NSP-$1" link set eth0 up
}
leg aws "$AWS"

# ---- moto, the VPC, the proxy -------------------------------------------------

in_aws env INITIAL_NO_AUTH_ACTION_COUNT=6 "$MOTO" -H "$AWS" -p 5000 \
	>"$T/moto.log" 2>&1 &
track $!
wait_until 30 "moto_server" in_aws "$PY" -c "
import urllib.request
urllib.request.urlopen('http://$AWS:5000/moto-api/', timeout=1)"
in_aws "$PY" "$here/aws_moto.py" setup --endpoint "http://$AWS:5000" \
	--out "$T/state.json" --zones 3 --subnets-per-zone 2 \
	--instances-per-subnet 2 --main-table-subnets 1 >"$T/setup.log" 2>&1 ||
	fail "aws_moto.py setup: $(tail -n 5 "$T/setup.log")"
moto selftest >"$T/selftest.log" 2>&1 ||
	fail "moto does not check signatures or policies: $(cat "$T/selftest.log")"
ok "moto with signature checking: a VPC of 3 zones x 2 subnets"
jq_state() {
	/usr/bin/python3 -c "import json, sys; print(json.load(open('$T/state.json'))$1)"
}
ADMIN_KEY=$(jq_state '["admin"]["key"]')
ADMIN_SECRET=$(jq_state '["admin"]["secret"]')
KEY=$(jq_state '["plugin"]["key"]')
SECRET=$(jq_state '["plugin"]["secret"]')
VPC=$(jq_state '["vpc_id"]')
in_aws "$PY" "$SRCDIR/tests/fixtures/ec2_proxy.py" --listen "$AWS:5001" \
	--upstream "http://$AWS:5000" --admin-key "$ADMIN_KEY" \
	--admin-secret "$ADMIN_SECRET" --region us-east-1 >"$T/proxy.log" 2>&1 &
track $!
wait_until 20 "the proxy" pctl GET config

# ---- the nodes -------------------------------------------------------------------

/usr/bin/python3 "$here/aws_vpc.py" nodes "$T/state.json" "$NODES" >"$T/nodes"
printf '[strata]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$KEY" "$SECRET" >"$T/credentials"
chmod 600 "$T/credentials"

# n3 learns its identity from a fake IMDSv2 in the aws namespace
read -r _ I3 E3 S3 Z3 < <(sed -n 3p "$T/nodes")
IMDS_NET="network/interfaces/macs/0e:49:61:0f:c3:11"
in_aws /usr/bin/python3 "$SRCDIR/tests/fixtures/fake_imds.py" --bind "$AWS" \
	--port 5002 --no-role --set "instance-id=$I3" \
	--set "placement/availability-zone=$Z3" --set "placement/region=us-east-1" \
	--set "$IMDS_NET/interface-id=$E3" --set "$IMDS_NET/subnet-id=$S3" \
	--set "$IMDS_NET/vpc-id=$VPC" --set "$IMDS_NET/local-ipv4s=10.99.0.3" \
	>"$T/imds.log" 2>&1 &
track $!
wait_until 20 "the fake IMDS" grep -q '^port' "$T/imds.log"

conf() { # NODE: writes $T/NODE.conf
	local n=$1 k=${1#n} inst eni subnet zone identity
	read -r _ inst eni subnet zone < <(sed -n "${k}p" "$T/nodes")
	identity="imds = false; region = \"us-east-1\"; vpc_id = \"$VPC\";
      instance_id = \"$inst\"; interface_id = \"$eni\";
      subnet_id = \"$subnet\"; zone = \"$zone\";"
	[ "$n" = n3 ] && identity="imds_endpoint = \"http://$AWS:5002\";"
	cat >"$T/$n.conf" <<CONF
control = { socket = "$T/$n.sock"; };
store = { url = "$T/store.db"; };
node = { name = "$n"; address = "10.99.0.$k"; };
plugin_dir = "$PLUGINDIR";
routes = { per_host = false; spread = false; resync_interval = "2s"; };
health = { checker = "icmp"; interval = "200ms"; writer_lease = "3s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "$CIDR" ]; }; },
  { instance = "icmp"; file = "healthcheck-icmp.so"; },
  { instance = "vpc"; file = "advertiser-aws-vpc.so";
    config = { ec2_endpoint = "http://$AWS:5001"; $identity
      call_timeout = "1s"; attempts = 4; backoff_max = "300ms";
      rediscover = "1m"; }; }
);
CONF
}

declare -A PID
start() { # NODE
	local n=$1 envs
	if [ "$n" = n2 ]; then
		envs="AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_PROFILE=strata"
	else
		envs="AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET"
	fi
	# shellcheck disable=SC2086
	ip netns exec "$NSP-$n" env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID $envs \
		AWS_EC2_METADATA_DISABLED=true "$STRATAD" -c "$T/$n.conf" \
		>>"$T/$n.log" 2>&1 &
	PID[$n]=$!
	track "${PID[$n]}"
}

for k in $(seq "$NODES"); do
	mkns "n$k" >/dev/null
	leg "n$k" "10.99.0.$k"
	conf "n$k"
	start "n$k"
done
for k in $(seq "$NODES"); do
	wait_until 20 "n$k's control socket" ctl "n$k" version
done
wait_until 30 "a route writer" writer
WRITER=$(writer)
ok "seven nodes up; $WRITER writes routes"

# ---- the tables hold exactly the intent ------------------------------------------

wait_until 60 "every table to hold exactly the intent's routes" tables_exact
ok "every managed table holds exactly the intent's routes, each to its forwarder's interface"
[ "$(status_of n3 interface)" = "$E3" ] ||
	fail "n3 did not learn its interface from IMDS: $(status_of n3 interface)"
ctl n3 --json facts | grep -q "\"$S3\"" || fail "n3 has no subnet fact $S3"
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
	status_of "$WRITER" error | grep -q "RouteLimitExceeded.*route_budget"
}
wait_until 20 "RouteLimitExceeded reported" limit_said
pctl POST clear >/dev/null
wait_until 30 "$DST restored after the limit" restored
ok "RouteLimitExceeded: refused with an error naming the table and route_budget; restored once room"

fault error CreateRoute 5 '"status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."'
moto delete-route --table "$TABLE" --dst "$DST" >/dev/null
denied_said() {
	status_of "$WRITER" error | grep -q "UnauthorizedOperation.*ec2:CreateRoute"
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
stop_stratad "${PID[$FHOST]}" KILL || true
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
stop_stratad "${PID[$WRITER]}" KILL || true
OLD=$WRITER
new_writer() {
	local w
	w=$(ctl "$OTHER" --json health >"$T/health.json" &&
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
