#!/bin/bash
# The bgp advertiser against BIRD 2: BIRD in one namespace as a passive
# receiver, stratad (topology IPAM, per-host blocks announced over BGP) in
# another, joined by a veth. Every planned prefix, IPv4 and IPv6 (MP-BGP
# over the IPv4 session), is learned with the right next hop, AS_PATH and
# community; a plan change (routes.bgp "blocks" to "aggregate", reloaded)
# arrives as UPDATEs and withdrawals on the same session; a config change
# is an UPDATE; a SIGKILLed stratad's routes stay for the graceful restart
# time and the restarted one sends End-of-RIB; TCP-MD5 with the right
# password comes up, with a wrong one never.
. "$(dirname "$0")/lib.sh"

BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
need bird2 "$BIRD" "$BIRDC"

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" addr add fd99::1/64 dev veth-rx nodad
ip -n "$tx" addr add fd99::2/64 dev veth-tx nodad
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

# bird_conf [PASSWORD]
bird_conf() {
	cat >"$T/bird.conf" <<CONF
log "$T/bird.log" all;
timeformat protocol iso long ms;
router id 10.99.0.1;
protocol device { scan time 10; }
protocol bgp spk4 {
  local 10.99.0.1 as 65000;
  neighbor 10.99.0.2 as 65001;
  passive on;
  hold time 9;
  error wait time 1,2;
  graceful restart on;
  ${1:+password \"$1\";}
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
CONF
}

bird_conf
ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" >>"$T/bird.out" 2>&1 &
BIRD_PID=$!
track "$BIRD_PID"
wait_until 10 "bird's control socket" "$BIRDC" -s "$T/bird.ctl" show status

B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }

# strata_conf PASSWORD COMMUNITY [BGP_MODE]
strata_conf() {
	cat >"$T/strata.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "tx"; zone = "z"; subnet = "s"; address = "10.99.0.2";
         address6 = "fd99::2"; };
plugin_dir = "$PLUGINDIR";
routes = { bgp = "${3:-blocks}"; resync_interval = "1s"; };
metrics = { port = 9477; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16", "fd00:112::/48" ]; }; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      next_hop6 = "fd99::2";
      communities = [ "$2" ]; graceful_restart_time = "6s";
      hold_time = "9s"; ${1:+passwords = [ \"10.99.0.1 $1\" ];} }; }
);
CONF
}

up() { B show protocols spk4 | has Established; }
learned() { B show route protocol spk4 | grep -c '^[0-9a-f]' || true; }
has_routes() { [ "$(learned)" -ge 1 ]; }
no_routes() { [ "$(learned)" -eq 0 ]; }

# planned [FAMILY]: stratad's BGP-scope prefixes (of family 4 or 6), sorted
planned() {
	"$STRATACTL" -s "$T/ctl.sock" --json routes scope=bgp |
		jq -r '.desired[] | select(.scope == "bgp") | .dst' |
		case ${1:-} in
		4) grep -v : || true ;;
		6) grep : || true ;;
		*) cat ;;
		esac | sort
}

# words: lines joined by spaces
words() { paste -sd ' '; }

# in_bird: the prefixes BIRD learned from stratad, sorted
in_bird() {
	B show route protocol spk4 | awk '/^[0-9a-f]/ { print $1 }' | sort
}

# attr NET KEY: the value of BIRD's attribute KEY ("BGP.next_hop") of NET
attr() {
	B show route "$1" protocol spk4 all | awk -v k="$2:" '
		$1 == k { sub(/^[ \t]*[^ \t]+[ \t]+/, ""); print; exit }'
}

# check_routes NH4 NH6 COMMUNITY: BIRD holds exactly the planned prefixes,
# each with its family's next hop, our AS alone in AS_PATH and COMMUNITY
check_routes() {
	local want p nh
	want=$(planned)
	has -v : <<<"$want" || fail "stratad plans no IPv4 BGP routes"
	has : <<<"$want" || fail "stratad plans no IPv6 BGP routes"
	[ "$want" = "$(in_bird)" ] ||
		fail "BIRD holds [$(in_bird | words)], planned [$(words <<<"$want")]"
	for p in $want; do
		case $p in *:*) nh=$2 ;; *) nh=$1 ;; esac
		[ "$(attr "$p" BGP.next_hop)" = "$nh" ] ||
			fail "$p: next hop '$(attr "$p" BGP.next_hop)', want $nh"
		[ "$(attr "$p" BGP.as_path)" = 65001 ] ||
			fail "$p: AS_PATH '$(attr "$p" BGP.as_path)'"
		[ "$(attr "$p" BGP.community)" = "$3" ] ||
			fail "$p: communities '$(attr "$p" BGP.community)'"
	done
}
routes_match() { [ "$(planned)" = "$(in_bird)" ]; }

# since: when BIRD's session last changed state (ms); a reset changes it
since() {
	local s
	for _ in 1 2 3; do
		s=$(B show protocols spk4 | awk '$1 == "spk4" { print $5, $6 }')
		[ -n "$s" ] && break
		sleep 0.1
	done
	echo "$s"
}
# resets: session resets stratad logged
resets() { grep -c -- '-> Idle' "$T/stratad.log" || true; }

strata_conf "" "65001:100"
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "BGP session up" up
wait_until 15 "every planned prefix learned" routes_match
B show route protocol spk4 all >"$T/routes1.txt"
check_routes 10.99.0.2 fd99::2 "(65001,100)"
ok "every planned prefix ($(in_bird | words)) learned with next hop, AS_PATH, community"
B show protocols all spk4 | has 'AF announced: ipv4 ipv6' ||
	fail "no IPv6 in the negotiated multiprotocol capability"
ok "IPv6 over MP-BGP on the IPv4 session"

st=$("$STRATACTL" -s "$T/ctl.sock" plugins)
echo "$st" | has 'peer 10.99.0.1 state.*Established' || fail "status: $st"
echo "$st" | has 'peer 10.99.0.1 prefixes: 2$' || fail "status prefixes: $st"
echo "$st" | has 'peer 10.99.0.1 capabilities: ipv4 ipv6 ' ||
	fail "status capabilities: $st"
ok "stratactl plugins shows the session"

# the same, and the pools, on the Prometheus endpoint
P='plugin="bgp",peer="10.99.0.1"'
wait_until 5 "session Established in /metrics" metric_is "$tx" 9477 "strata_bgp_session_state{$P}" 6
wait_until 5 "2 prefixes sent in /metrics" metric_is "$tx" 9477 "strata_bgp_prefixes_sent{$P}" 2
m=$(metrics "$tx" 9477)
v=$(metric_value 'strata_routes_installed{plugin="bgp"}' <<<"$m") && [ "$v" = 2 ] || fail "routes_installed: $v"
v=$(metric_value 'strata_routes_desired{plugin="bgp"}' <<<"$m") && [ "$v" = 2 ] || fail "routes_desired: $v"
v=$(metric_value 'strata_ipam_pool_addresses{pool="10.112.0.0/16"}' <<<"$m") && [ "$v" = 65536 ] || fail "pool addresses: $v"
v=$(metric_value 'strata_ipam_pool_blocks_used{pool="10.112.0.0/16"}' <<<"$m") && [ "$v" -ge 1 ] || fail "pool blocks used: $v"
v=$(metric_value 'strata_ipam_blocks_used{level="cluster",node=""}' <<<"$m") && [ "$v" -ge 2 ] || fail "cluster blocks used: $v"
metric_value 'strata_ipam_blocks_total{level="cluster",node=""}' <<<"$m" >/dev/null || fail "no cluster blocks total"
metric_value 'strata_routes_planned{scope="bgp"}' <<<"$m" >/dev/null || fail "no routes planned"
ok "/metrics: session state 6, prefixes sent, routes, pool addresses and blocks"

# The plan changes: each subnet's aggregate instead of the blocks. The
# bgp instance's config is unchanged, so the reload keeps its session.
blocks=$(in_bird)
since0=$(since)
resets0=$(resets)
established0=$(grep -c ': Established' "$T/stratad.log")
strata_conf "" "65001:100" aggregate
kill -HUP "$STRATAD_PID"
aggregated() {
	[ "$(in_bird | words)" = "10.112.0.0/20 fd00:112::/52" ] && routes_match
}
wait_until 15 "the aggregates in BIRD, the blocks withdrawn" aggregated
check_routes 10.99.0.2 fd99::2 "(65001,100)"
for p in $blocks; do
	in_bird | has -Fx "$p" && fail "block $p not withdrawn"
done
same_time "$(since)" "$since0" || fail "BIRD's session restarted: $since0 -> $(since)"
[ "$(resets)" = "$resets0" ] || fail "stratad reset the session"
[ "$(grep -c ': Established' "$T/stratad.log")" = "$established0" ] ||
	fail "stratad re-established the session"
B show protocols all spk4 | awk '/Import withdraws:/ { w += $3 } END { exit !(w >= 2) }' ||
	fail "BIRD counted no withdrawals"
ok "plan change (blocks -> aggregate): $(in_bird | words) announced, $(words <<<"$blocks") withdrawn, session kept since $since0"

strata_conf "" "65001:100"
kill -HUP "$STRATAD_PID"
wait_until 15 "the blocks back" routes_match
[ "$(in_bird)" = "$blocks" ] || fail "blocks [$(in_bird | words)], want [$(words <<<"$blocks")]"
same_time "$(since)" "$since0" || fail "BIRD's session restarted going back to blocks"
ok "plan change back (aggregate -> blocks) on the same session"

# a config change: new community, sent as UPDATEs
strata_conf "" "65001:200"
kill -HUP "$STRATAD_PID"
newcomm() {
	[ "$(B show route protocol spk4 all | grep -c 'BGP.community: (65001,200)$')" = \
		"$(learned)" ]
}
wait_until 15 "UPDATE with the new community" newcomm
wait_until 15 "every planned prefix learned" routes_match
check_routes 10.99.0.2 fd99::2 "(65001,200)"
ok "config change re-announced"

# SIGKILL: BIRD keeps the routes (graceful restart), then drops them
kept=$(in_bird)
stop_stratad "$STRATAD_PID" KILL || true
sleep 2
[ "$(in_bird)" = "$kept" ] ||
	fail "routes dropped at once despite graceful restart: [$(in_bird | words)]"
ok "routes kept after SIGKILL (graceful restart)"
eors() { grep -c "End-of-RIB for IPv$1" "$T/stratad.log" || true; }
before4=$(eors 4)
before6=$(eors 6)
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "session back" up
more_eors() { [ "$(eors 4)" -gt "$before4" ] && [ "$(eors 6)" -gt "$before6" ]; }
wait_until 15 "End-of-RIB for both families" more_eors
check_routes 10.99.0.2 fd99::2 "(65001,200)"
for f in 4 6; do
	n=$(planned "$f" | wc -l)
	last=$(grep "End-of-RIB for IPv$f" "$T/stratad.log" | tail -n1)
	has "End-of-RIB for IPv$f, $n prefixes\$" <<<"$last" ||
		fail "restarted stratad's End-of-RIB: '$last', $n planned"
done
ok "restart re-announced, End-of-RIB sent"
stop_stratad "$STRATAD_PID" KILL || true
wait_until 20 "stale routes flushed after the restart time" no_routes
ok "routes flushed after the graceful restart time"

# TCP-MD5: right password up, wrong never
bird_conf s3cret
B configure >/dev/null
strata_conf s3cret "65001:100"
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 20 "MD5 session up" up
ok "TCP-MD5 with the right password: Established"
stop_stratad "$STRATAD_PID" TERM
strata_conf wrong "65001:100"
# the kernel drops the SYNs silently, and counts them: stratad would see
# its connect time out only after 10 s
md5_failures() {
	ip netns exec "$rx" nstat -asz TcpExtTCPMD5Failure |
		awk '$1 == "TcpExtTCPMD5Failure" { print $2 }'
}
before=$(md5_failures)
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
more_failures() { [ "$(md5_failures)" -gt "$before" ]; }
wait_until 10 "BIRD's kernel dropping segments signed with the wrong key" more_failures
sleep 2
up && fail "session up with a wrong MD5 password"
"$STRATACTL" -s "$T/ctl.sock" plugins | has 'peer 10.99.0.1 state: Connect$' ||
	fail "stratad not waiting in Connect: $("$STRATACTL" -s "$T/ctl.sock" plugins)"
ok "TCP-MD5 with a wrong password: never up"
stop_stratad "$STRATAD_PID" TERM
