#!/bin/bash
# The bgp advertiser against BIRD 2: BIRD in one namespace as a passive
# receiver, stratad (topology IPAM, per-host blocks announced over BGP) in
# another, joined by a veth. Every planned prefix is learned with the
# right next hop, AS_PATH and community; a config change is an UPDATE; a
# SIGKILLed stratad's routes stay for the graceful restart time and the
# restarted one sends End-of-RIB; TCP-MD5 with the right password comes
# up, with a wrong one never.
. "$(dirname "$0")/lib.sh"

BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
if [ ! -x "$BIRD" ] || [ ! -x "$BIRDC" ]; then
	[ "${CI:-}" = true ] && fail "bird not installed (scripts/deps.sh test installs bird2)"
	echo "SKIP: bird not installed"
	exit 0 # run.sh counts any other status as a failure
fi

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

# bird_conf [PASSWORD]
bird_conf() {
	cat >"$T/bird.conf" <<CONF
log "$T/bird.log" all;
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
}
CONF
}

bird_conf
ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" >>"$T/bird.out" 2>&1 &
BIRD_PID=$!
track "$BIRD_PID"
wait_until 10 "bird's control socket" "$BIRDC" -s "$T/bird.ctl" show status

B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }

# strata_conf PASSWORD COMMUNITY
strata_conf() {
	cat >"$T/strata.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "tx"; zone = "z"; subnet = "s"; address = "10.99.0.2"; };
plugin_dir = "$PLUGINDIR";
routes = { bgp = "blocks"; resync_interval = "1s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      communities = [ "$2" ]; graceful_restart_time = "6s";
      hold_time = "9s"; ${1:+passwords = [ \"10.99.0.1 $1\" ];} }; }
);
CONF
}

up() { B show protocols spk4 | has Established; }
learned() { B show route protocol spk4 | grep -c '^[0-9]' || true; }
has_routes() { [ "$(learned)" -ge 1 ]; }
no_routes() { [ "$(learned)" -eq 0 ]; }

strata_conf "" "65001:100"
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "BGP session up" up
wait_until 15 "routes learned" has_routes
planned=$("$STRATACTL" -s "$T/ctl.sock" --json routes scope=bgp 2>/dev/null |
	grep -o '10\.112\.[0-9.]*/[0-9]*' | sort -u || true)
all=$(B show route protocol spk4 all)
echo "$all" >"$T/routes1.txt"
for p in $planned; do
	echo "$all" | has "^$p " || fail "planned $p not learned"
done
echo "$all" | has 'BGP.next_hop: 10.99.0.2' || fail "next hop"
echo "$all" | has 'BGP.as_path: 65001$' || fail "AS_PATH"
echo "$all" | has 'BGP.community: (65001,100)' || fail "community"
[ -n "$planned" ] || fail "stratad plans no BGP routes"
ok "every planned prefix ($(echo $planned)) learned with next hop, AS_PATH, community"

st=$("$STRATACTL" -s "$T/ctl.sock" plugins)
echo "$st" | has 'peer 10.99.0.1 state.*Established' || fail "status: $st"
echo "$st" | has 'peer 10.99.0.1 prefixes.*1' || fail "status prefixes: $st"
ok "stratactl plugins shows the session"

# a config change: new community, sent as UPDATEs
strata_conf "" "65001:200"
kill -HUP "$STRATAD_PID"
newcomm() { B show route protocol spk4 all | has '(65001,200)'; }
wait_until 15 "UPDATE with the new community" newcomm
ok "config change re-announced"

# SIGKILL: BIRD keeps the routes (graceful restart), then drops them
stop_stratad "$STRATAD_PID" KILL || true
sleep 2
[ "$(learned)" -ge 1 ] || fail "routes dropped at once despite graceful restart"
ok "routes kept after SIGKILL (graceful restart)"
eors() { grep -c "End-of-RIB for IPv4" "$T/stratad.log" || true; }
before=$(eors)
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "session back" up
more_eors() { [ "$(eors)" -gt "$before" ]; }
wait_until 15 "End-of-RIB" more_eors
has_routes || fail "routes gone after restart"
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
timeouts() { grep -cE "connect: (timed out|Connection timed out)" "$T/stratad.log" || true; }
before=$(timeouts)
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
more_timeouts() { [ "$(timeouts)" -gt "$before" ]; }
wait_until 20 "connect timing out (segments dropped)" more_timeouts
up && fail "session up with a wrong MD5 password"
ok "TCP-MD5 with a wrong password: never up"
stop_stratad "$STRATAD_PID" TERM
