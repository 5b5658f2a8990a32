#!/bin/bash
# The bgp advertiser's listener against BIRD 2: BIRD in one namespace
# connects (no `passive on`) to a passive stratad in another, joined by a
# veth; then both sides connect (a connection collision, RFC 4271 6.8),
# once with stratad's BGP identifier higher and once with BIRD's: one
# session comes up, the routes are learned and nothing flaps.
. "$(dirname "$0")/lib.sh"

BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
need bird2 "$BIRD" "$BIRDC"

# on failure, the last words of both speakers
fail() {
	echo "FAIL: $*" >&2
	tail -n 40 "$T/stratad.log" "$T/bird.log" >&2 2>/dev/null || true
	exit 1
}

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

HOLD=9 # both sides

# bird_conf ROUTER_ID: an active BIRD (it connects to stratad's port 179)
bird_conf() {
	cat >"$T/bird.conf" <<CONF
log "$T/bird.log" all;
router id $1;
protocol device { scan time 10; }
protocol bgp spk4 {
  local 10.99.0.1 as 65000;
  neighbor 10.99.0.2 as 65001;
  hold time $HOLD;
  connect delay time 1;
  connect retry time 2;
  error wait time 1,2;
  ipv4 { import all; export none; };
}
CONF
}

B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }

start_bird() {
	ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" >>"$T/bird.out" 2>&1 &
	BIRD_PID=$!
	track "$BIRD_PID"
	wait_until 10 "bird's control socket" "$BIRDC" -s "$T/bird.ctl" show status
}

stop_bird() {
	kill -TERM "$BIRD_PID"
	wait "$BIRD_PID" || true
	untrack "$BIRD_PID"
	rm -f "$T/bird.ctl"
}

# strata_conf EXTRA: the bgp instance's extra config keys
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
      graceful_restart_time = "6s"; hold_time = "${HOLD}s";
      $1 }; }
);
CONF
}

up() { B show protocols spk4 | has Established; }
learned() { B show route protocol spk4 | grep -c '^[0-9]' || true; }
has_routes() { [ "$(learned)" -ge 1 ]; }
status() { "$STRATACTL" -s "$T/ctl.sock" plugins; }
ups() { grep -c "peer 10.99.0.1: Established (" "$T/stratad.log" || true; }
bird_errors() { grep -c "Error\|Received:" "$T/bird.log" || true; }

# One session, routes learned, and no flapping for ~5 s on either side.
steady() {
	local what=$1 n0 e0 st
	wait_until 20 "BGP session up ($what)" up
	wait_until 15 "routes learned ($what)" has_routes
	n0=$(ups)
	e0=$(bird_errors)
	sleep 5
	up || fail "$what: session went down"
	[ "$(bird_errors)" = "$e0" ] || fail "$what: BIRD logged an error"
	[ "$(ups)" = "$n0" ] || fail "$what: stratad's session restarted"
	! has 'peer 10.99.0.1: Established -> Idle' "$T/stratad.log" ||
		fail "$what: stratad's session went down"
	has_routes || fail "$what: routes gone"
	st=$(status)
	echo "$st" | has 'peer 10.99.0.1 state.*Established' || fail "status: $st"
	DIR=$(echo "$st" | sed -n 's/.*peer 10.99.0.1 direction: *//p')
}

# 1. BIRD active, stratad passive: stratad never connects
bird_conf 10.99.0.1
start_bird
strata_conf 'passive = [ "10.99.0.1" ];'
start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
steady "passive stratad"
[ "$DIR" = passive ] || fail "a passive peer's connection is $DIR"
ok "BIRD connected to a passive stratad: Established, routes learned, steady"
stop_stratad "$STRATAD_PID" TERM
stop_bird

# 2. both active and listening, a collision: while nft holds back
# stratad's SYNs to BIRD, stratad's own connection waits in Connect and
# BIRD's connection comes in; stratad keeps both until BIRD's OPEN tells
# its BGP identifier. The connection initiated by the higher identifier
# must win (stratad's is 10.99.0.2): with BIRD's 10.99.0.1 stratad keeps
# its own (BIRD's gets Cease/7 and stratad's connects once the SYNs pass),
# with 10.99.0.9 it takes BIRD's.
NFT=${NFT:-$(command -v nft || echo /usr/sbin/nft)}
[ -x "$NFT" ] || fail "nft not found"
collided() { has "connection collision" "$T/stratad.log"; }
for id in 10.99.0.1 10.99.0.9; do
	: >"$T/stratad.log"
	bird_conf "$id"
	strata_conf 'listen = true;'
	ip netns exec "$tx" "$NFT" -f - <<NFT
table ip hold { chain out { type filter hook output priority 0; ip daddr 10.99.0.1 tcp dport 179 tcp flags & (syn | ack) == syn drop; }; }
NFT
	start_bird
	start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
	wait_until 20 "a collision at stratad" collided
	ip netns exec "$tx" "$NFT" delete table ip hold
	steady "both active, BIRD id $id"
	if [ "$id" = 10.99.0.1 ]; then want=active; else want=passive; fi
	[ "$DIR" = "$want" ] ||
		fail "collision with BIRD's id $id: stratad kept the $DIR connection"
	how=$(grep -o "connection collision: .*" "$T/stratad.log" | sort -u | tr '\n' ';' || true)
	ok "collision, BIRD's id $id: the $DIR connection stays ($how), routes learned, steady for 5 s"
	stop_stratad "$STRATAD_PID" TERM
	stop_bird
done
