#!/bin/bash
# The bgp advertiser and `stratactl drain`: two nodes of one subnet (its
# routes through one forwarder, per_host = false), both chosen to announce
# the subnet's aggregate to BIRD, which hears them on a bridge. Draining
# one moves the forwarding off it and withdraws its announcement, its
# session staying up, while the other keeps announcing; undrain brings it
# back.
. "$(dirname "$0")/lib.sh"

BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
need bird2 "$BIRD" "$BIRDC"

rx=$(mkns rx)
ip -n "$rx" link add br0 type bridge
ip -n "$rx" addr add 10.99.0.1/24 dev br0
ip -n "$rx" link set br0 up
declare -A NS ADDR
for i in 1 2; do
	NS[n$i]=$(mkns "n$i")
	ADDR[n$i]=10.99.0.$((i + 1))
	ip -n "$rx" link add "veth-n$i" type veth peer name eth0 netns "${NS[n$i]}"
	ip -n "$rx" link set "veth-n$i" master br0 up
	ip -n "${NS[n$i]}" addr add "${ADDR[n$i]}/24" dev eth0
	ip -n "${NS[n$i]}" link set eth0 up
done

cat >"$T/bird.conf" <<CONF
log "$T/bird.log" all;
router id 10.99.0.1;
protocol device { scan time 10; }
template bgp node {
  local 10.99.0.1 as 65000;
  passive on;
  hold time 9;
  error wait time 1,2;
  ipv4 { import all; export none; };
}
protocol bgp n1 from node { neighbor 10.99.0.2 as 65001; }
protocol bgp n2 from node { neighbor 10.99.0.3 as 65001; }
CONF
ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" >>"$T/bird.out" 2>&1 &
track $!
B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }
wait_until 10 "bird's control socket" B show status

for n in n1 n2; do
	cat >"$T/$n.conf" <<CONF
control = { socket = "$T/$n.sock"; };
store = { url = "$T/store.db"; };
node = { name = "$n"; zone = "z"; subnet = "s"; address = "${ADDR[$n]}"; };
plugin_dir = "$PLUGINDIR";
routes = { bgp = "aggregate"; bgp_announcers = 2; per_host = false;
  spread = false; resync_interval = "1s"; };
health = { checker = "icmp"; interval = "200ms"; fall = 2; rise = 2;
  writer_lease = "3s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "icmp"; file = "healthcheck-icmp.so"; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      hold_time = "9s"; graceful_restart_time = "6s"; }; }
);
CONF
done

on_exit() {
	local rc=$? n
	set +e
	if [ "$rc" != 0 ]; then
		ctl n2 health
		B show protocols
		B show route all
		for n in n1 n2; do
			echo "--- $n.log (tail)"
			tail -n 30 "$T/$n.log"
		done
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

ctl() { local n=$1; shift; "$STRATACTL" -s "$T/$n.sock" "$@"; }
for n in n1 n2; do
	start_stratad "${NS[$n]}" "$T/$n.conf" "$T/$n.log"
done

up() { B show protocols "$1" | has Established; }
# from N: the prefixes BIRD learned from node N
from() { B show route protocol "$1" | awk '/^[0-9]/ { print $1 }' | sort; }
both_announce() { [ -n "$(from n1)" ] && [ "$(from n1)" = "$(from n2)" ]; }
wait_until 20 "both sessions up" sh -c "$BIRDC -s $T/bird.ctl show protocols n1 | grep -q Established && $BIRDC -s $T/bird.ctl show protocols n2 | grep -q Established"
wait_until 30 "both nodes announcing the subnet's aggregate" both_announce
agg=$(from n1)
ok "both nodes announce the aggregate $agg"
# sessions n1 brought up so far (BIRD's "since" column moves by a
# millisecond now and then without a reset: stratad's log is the witness)
ups() { grep -c 'peer 10.99.0.1: Established (' "$T/n1.log" || true; }
ups1=$(ups)

# both hosts up in the health view, each seen by the other
steady() {
	ctl n2 --json health >"$T/health.json" &&
		/usr/bin/python3 "$(dirname "$0")/failover.py" "$T/health.json" steady 1
}
wait_until 30 "both hosts healthy" steady
ctl n2 drain n1 --timeout 20 >"$T/drain.out" 2>&1 || fail "drain n1: $(cat "$T/drain.out")"
n1_withdrawn() { [ -z "$(from n1)" ]; }
wait_until 15 "n1's announcement withdrawn" n1_withdrawn
[ "$(from n2)" = "$agg" ] || fail "n2 no longer announces $agg: $(from n2)"
up n1 || fail "n1's session went down on drain"
[ "$(ups)" = "$ups1" ] || fail "n1's session was reset on drain: $(grep 'peer 10.99.0.1' "$T/n1.log")"
has -- '-> Idle' "$T/n1.log" && fail "n1's session went Idle: $(grep 'peer 10.99.0.1' "$T/n1.log")"
ok "drain n1: its announcement withdrawn on a live session, n2 still announces"

ctl n2 undrain n1 >/dev/null || fail "undrain n1"
wait_until 30 "n1 announcing again" both_announce
ok "undrain n1: announced again"
