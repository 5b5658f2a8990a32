#!/bin/bash
# The bgp advertiser against GoBGP: gobgpd (its API on a unix socket) in
# one namespace as a passive receiver and graceful restart helper,
# stratad (topology IPAM, IPv4 and IPv6 pools) in another, joined by a
# veth. Every planned prefix is in gobgpd's RIB with the right next hop,
# AS_PATH, standard and large communities; a plan change (routes.bgp
# "blocks" to "aggregate") is UPDATEs and withdrawals on the same
# session; a community change is an UPDATE; a SIGKILLed stratad's routes
# stay (stale) and the restarted one's End-of-RIB arrives for both
# families.
. "$(dirname "$0")/lib.sh"

GOBGPD=${GOBGPD:-$(command -v gobgpd || echo /usr/bin/gobgpd)}
GOBGP=${GOBGP:-$(command -v gobgp || echo /usr/bin/gobgp)}
need gobgpd "$GOBGPD" "$GOBGP"

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" addr add fd99::1/64 dev veth-rx nodad
ip -n "$tx" addr add fd99::2/64 dev veth-tx nodad
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

# Passive (GoBGP waits 5-10 s before connecting itself); graceful restart
# on, so that it keeps a restarting peer's routes as stale.
cat >"$T/gobgpd.toml" <<CONF
[global.config]
  as = 65000
  router-id = "10.99.0.1"
  local-address-list = ["10.99.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.99.0.2"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 10
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
CONF
"$GOBGPD" -d -f "$T/gobgpd.toml" >/dev/null || fail "gobgpd rejects its config"
# debug: the log names every End-of-RIB received
ip netns exec "$rx" "$GOBGPD" -f "$T/gobgpd.toml" -l debug -p \
	--api-hosts "unix://$T/gobgp.sock" --pprof-disable >"$T/gobgpd.log" 2>&1 &
GOBGPD_PID=$!
track "$GOBGPD_PID"

# on failure, the last words of both speakers
last_words() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		echo "--- stratad.log" >&2
		tail -n 40 "$T/stratad.log" >&2 2>/dev/null
		echo "--- gobgpd.log (info and up, timestamps)" >&2
		grep -v 'level=debug' "$T/gobgpd.log" | tail -n 40 >&2
	fi
	(exit "$rc")
	cleanup
}
trap last_words EXIT

G() { "$GOBGP" --target "unix://$T/gobgp.sock" "$@"; }
wait_until 10 "gobgpd's API" G neighbor

# strata_conf BGP_MODE COMMUNITY
strata_conf() {
	cat >"$T/strata.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "tx"; zone = "z"; subnet = "s"; address = "10.99.0.2";
         address6 = "fd99::2"; };
plugin_dir = "$PLUGINDIR";
routes = { bgp = "$1"; resync_interval = "1s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16", "fd00:112::/48" ]; }; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      next_hop6 = "fd99::2";
      communities = [ "$2", "65001:101" ];
      large_communities = [ "65001:1:2", "4200000000:3:4" ];
      graceful_restart_time = "10s"; hold_time = "9s"; }; }
);
CONF
}

ctl() { "$STRATACTL" -s "$T/ctl.sock" "$@"; }

# nbr FILTER: a jq filter over gobgpd's view of the session
nbr() { G neighbor 10.99.0.2 -j | jq -r "$1"; }
# GoBGP's API: session_state 6 is Established, 3 Active (waiting for us)
up() { [ "$(nbr .state.session_state)" = 6 ]; }
active() { [ "$(nbr .state.session_state)" = 3 ]; }
updates_in() { nbr '.state.messages.received.update // 0'; }
eors() { grep -c "EOR received.*AddressFamily=ipv$1-unicast" "$T/gobgpd.log" || true; }

# planned: stratad's BGP-scope prefixes, sorted
planned() {
	ctl --json routes scope=bgp |
		jq -r '.desired[] | select(.scope == "bgp") | .dst' | sort
}

# rib: one line per path in gobgpd's RIB, both families, sorted:
# PREFIX nh=NEXT_HOP as_path=ASNS comm=C,C large=L,L stale=BOOL
rib() {
	local af
	for af in ipv4 ipv6; do
		G global rib -a "$af" -j | jq -r '
			to_entries[] | .key as $p | .value[] |
			[$p,
			 "nh=" + ([.attrs[] | select(.type == 3 or .type == 14) |
				   .nexthop] | join(",")),
			 "as_path=" + ([.attrs[] | select(.type == 2) |
					.as_paths[].asns[] | tostring] | join(" ")),
			 "comm=" + ([.attrs[] | select(.type == 8) | .communities[] |
				     "\(. / 65536 | floor):\(. % 65536)"] | join(",")),
			 "large=" + ([.attrs[] | select(.type == 32) | .value[] |
				      "\(.ASN):\(.LocalData1):\(.LocalData2)"] | join(",")),
			 "stale=\(.stale // false)"] | join(" ")'
	done | sort
}
rib_prefixes() { rib | awk '{ print $1 }'; }

# expected COMMUNITY STALE: what rib should print for the planned
# prefixes ($PLAN while stratad is down)
expected() {
	local p nh
	for p in ${PLAN:-$(planned)}; do
		case $p in *:*) nh=fd99::2 ;; *) nh=10.99.0.2 ;; esac
		echo "$p nh=$nh as_path=65001 comm=$1,65001:101" \
			"large=65001:1:2,4200000000:3:4 stale=$2"
	done | sort
}
rib_is() { [ "$(rib)" = "$(expected "$1" "$2")" ]; }

# check_rib COMMUNITY STALE: gobgpd holds exactly the planned prefixes,
# each with the expected attributes
check_rib() {
	local got want
	got=$(rib)
	want=$(expected "$1" "$2")
	cut -d' ' -f1 <<<"$want" | has : ||
		fail "stratad plans no IPv6 BGP routes"
	cut -d' ' -f1 <<<"$want" | has -v : ||
		fail "stratad plans no IPv4 BGP routes"
	[ "$got" = "$want" ] || fail "gobgpd's RIB:
$got
want:
$want"
}

words() { paste -sd ' '; }

strata_conf blocks 65001:100
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "BGP session up" up
wait_until 15 "every planned prefix in gobgpd's RIB" rib_is 65001:100 false
check_rib 65001:100 false
ok "every planned prefix ($(planned | words)) with next hop, AS_PATH, communities, large communities"
G neighbor 10.99.0.2 >"$T/neighbor1.txt"
has 'ipv6-unicast:.*advertised and received' "$T/neighbor1.txt" ||
	fail "IPv6 unicast not negotiated: $(cat "$T/neighbor1.txt")"
has 'Remote: restart time 10 sec, restart flag set' "$T/neighbor1.txt" ||
	fail "no restart time 10 s with the R bit in stratad's OPEN"
first_eors() { [ "$(eors 4)" = 1 ] && [ "$(eors 6)" = 1 ]; }
wait_until 10 "End-of-RIB for both families" first_eors
ok "capabilities (IPv6, graceful restart 10 s, R bit) and End-of-RIB for IPv4 and IPv6"

# A plan change: each subnet's aggregate instead of the blocks. The bgp
# instance's config is the same, so the session stays.
blocks=$(planned)
uptime0=$(nbr .timers.state.uptime.seconds)
flops0=$(nbr '.state.flops // 0')
updates0=$(updates_in)
strata_conf aggregate 65001:100
kill -HUP "$STRATAD_PID"
aggregated() {
	[ "$(planned | words)" = "10.112.0.0/20 fd00:112::/52" ] &&
		rib_is 65001:100 false
}
wait_until 15 "the aggregates in gobgpd, the blocks withdrawn" aggregated
check_rib 65001:100 false
for p in $blocks; do
	rib_prefixes | has -Fx "$p" && fail "block $p not withdrawn"
done
up || fail "session down after the plan change"
[ "$(nbr '.state.flops // 0')" = "$flops0" ] || fail "the session flapped"
[ "$(nbr .timers.state.uptime.seconds)" = "$uptime0" ] ||
	fail "gobgpd's session restarted: up since $uptime0, now $(nbr .timers.state.uptime.seconds)"
[ "$(updates_in)" -gt "$updates0" ] || fail "no UPDATE counted"
ok "plan change: $(rib_prefixes | words) announced, $(words <<<"$blocks") withdrawn, $(($(updates_in) - updates0)) UPDATEs on the same session"

# A community change restarts the instance (its config changed): its
# session closes without a Cease and comes back with the new attributes.
strata_conf aggregate 65001:200
kill -HUP "$STRATAD_PID"
wait_until 20 "UPDATE with the new community" rib_is 65001:200 false
check_rib 65001:200 false
wait_until 5 "BGP session up" up
ok "community change re-announced"

# Graceful restart: SIGKILL; gobgpd keeps the routes, stale, until the
# restarted stratad re-announces them and sends End-of-RIB.
before=$(rib)
eor4=$(eors 4)
eor6=$(eors 6)
PLAN=$(planned)
stop_stratad "$STRATAD_PID" KILL || true
stale() { rib_is 65001:200 true; }
wait_until 5 "routes kept as stale" stale
# gobgpd refuses connections until its idle hold is over; stratad's
# first connect then succeeds
wait_until 10 "gobgpd waiting for the peer again" active
[ "$(rib | sed 's/ stale=true$/ stale=false/')" = "$before" ] ||
	fail "routes lost while stratad was down: $(rib)"
ok "routes kept (stale) while stratad was down"
PLAN=
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 10 "session back" up
more_eors() { [ "$(eors 4)" -gt "$eor4" ] && [ "$(eors 6)" -gt "$eor6" ]; }
wait_until 10 "End-of-RIB for IPv4 and IPv6 after the restart" more_eors
wait_until 5 "routes no longer stale" rib_is 65001:200 false
check_rib 65001:200 false
# the End-of-RIB followed every planned prefix: nothing stale was dropped
for f in 4 6; do
	n=$(planned | if [ $f = 4 ]; then grep -vc :; else grep -c :; fi)
	last=$(grep "End-of-RIB for IPv$f" "$T/stratad.log" | tail -n1)
	has "End-of-RIB for IPv$f, $n prefixes\$" <<<"$last" ||
		fail "restarted stratad's End-of-RIB: '$last', $n planned"
done
has 'graceful restart timer expired' "$T/gobgpd.log" &&
	fail "gobgpd's restart timer expired"
ok "restarted stratad re-announced, its End-of-RIB arrived, nothing stale"
stop_stratad "$STRATAD_PID" TERM
