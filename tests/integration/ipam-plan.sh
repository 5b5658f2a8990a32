#!/bin/bash
# Topology IPAM and the planner end to end: two subnets joined by a router
# namespace that stands in for the VPC (a gateway-role stratad installing
# the cloud routes), three hosts each running stratad on one shared
# embedded store. Hosts get blocks inside their subnet's prefix, hold
# routes to their subnet peers' blocks, and a packet to a "pod" address
# (on the owner's lo) crosses subnets through the cloud routes — per host
# while they fit the budget, through a forwarder once they do not. A host
# that stops keeps its blocks; `stratactl host remove` returns them; a
# restart under live routes removes none.
. "$(dirname "$0")/lib.sh"

sw=$(mkns sw)
rt=$(mkns rt)
a1=$(mkns a1)
a2=$(mkns a2)
b1=$(mkns b1)
ip -n "$sw" link add brA type bridge
ip -n "$sw" link add brB type bridge
ip -n "$sw" link set brA up
ip -n "$sw" link set brB up

# leg NS IFNAME BRIDGE ADDR/LEN
leg() {
	local ns=$1 ifn=$2 br=$3 addr=$4 peer
	peer="p$(basename "$ns" | tr -cd '0-9a-z' | tail -c 6)$ifn"
	ip -n "$ns" link add "$ifn" type veth peer name "$peer" netns "$sw"
	ip -n "$sw" link set "$peer" master "$br" up
	ip -n "$ns" addr add "$addr" dev "$ifn"
	ip -n "$ns" link set "$ifn" up
}

for ns in "$rt" "$a1" "$a2" "$b1"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
done
leg "$rt" ra brA 10.77.1.254/24
leg "$rt" rb brB 10.77.2.254/24
leg "$a1" eth0 brA 10.77.1.1/24
leg "$a2" eth0 brA 10.77.1.2/24
leg "$b1" eth0 brB 10.77.2.1/24
ip -n "$a1" route add default via 10.77.1.254
ip -n "$a2" route add default via 10.77.1.254
ip -n "$b1" route add default via 10.77.2.254

budget=50
# conf NAME SUBNET ADDRESS: a pod host; conf rt: the gateway
conf() {
	local name=$1 ipam adv node
	if [ "$name" = rt ]; then
		node="name = \"rt\";"
		ipam="gateway = true;"
		adv="cloud"
	else
		node="name = \"$name\"; zone = \"z1\"; subnet = \"$2\"; address = \"$3\";"
		ipam=""
		adv="kernel"
	fi
	cat >"$T/$name.conf" <<CONF
control = { socket = "$T/$name.sock"; };
store = { url = "$T/store.db"; };
routes = { resync_interval = "2s"; cloud_budget = $budget; };
node = { $node };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; levels = [ "zone:2", "subnet:2" ];
               $ipam }; },
  { instance = "$adv"; file = "advertiser-static.so";
    config = { scopes = [ "$adv" ]; }; }
);
CONF
}

ctl() { # NAME ARGS...
	local name=$1
	shift
	"$STRATACTL" -s "$T/$name.sock" "$@"
}

declare -A PID
start() { # NAME NS
	start_stratad "$2" "$T/$1.conf" "$T/$1.log"
	PID[$1]=$STRATAD_PID
}

conf rt
conf a1 sA 10.77.1.1
conf a2 sA 10.77.1.2
conf b1 sB 10.77.2.1
start a1 "$a1"
start a2 "$a2"
start b1 "$b1"
start rt "$rt"

# blocks NAME: the host's blocks, one per line, from the live view
blocks() {
	ctl a1 --json topology | python3 -c '
import json, sys
t = json.load(sys.stdin)
for h in t["hosts"]:
    if h["name"] == sys.argv[1]:
        print("\n".join(h["blocks"]))' "$1"
}
prefix_of() { # PATH
	ctl a1 --json topology | python3 -c '
import json, sys
t = json.load(sys.stdin)
for n in t["nodes"]:
    if n["path"] == sys.argv[1]:
        print(n["prefixes"][0])' "$1"
}
inside() { # PREFIX CONTAINER
	python3 -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_network(sys.argv[1]).subnet_of(ipaddress.ip_network(sys.argv[2])) else 1)' "$1" "$2"
}
first_addr() {
	python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$1"
}
synced() { ctl "$1" --json status | has '"routes_synced": *true'; }
has_blocks() { [ -n "$(blocks "$1")" ]; }
no_blocks() { [ -z "$(blocks "$1")" ]; }

for h in a1 a2 b1; do
	wait_until 20 "$h's block" has_blocks "$h"
done
for h in a1 a2 b1 rt; do
	wait_until 20 "$h's planner synced" synced "$h"
done
pa=$(prefix_of z1/sA)
pb=$(prefix_of z1/sB)
[ -n "$pa" ] && [ -n "$pb" ] || fail "subnet prefixes missing: '$pa' '$pb'"
[ "$pa" != "$pb" ] || fail "two subnets share $pa"
ba1=$(blocks a1 | head -n1)
ba2=$(blocks a2 | head -n1)
bb1=$(blocks b1 | head -n1)
inside "$ba1" "$pa" && inside "$ba2" "$pa" || fail "subnet A's blocks $ba1 $ba2 outside $pa"
inside "$bb1" "$pb" || fail "subnet B's block $bb1 outside $pb"
[ "$ba1" != "$ba2" ] || fail "a1 and a2 share block $ba1"
[ -z "$(blocks rt)" ] || fail "the gateway claimed blocks: $(blocks rt)"
ok "blocks inside their subnet's prefix: A $pa ($ba1, $ba2), B $pb ($bb1)"

# the control API's allocate: an address of a1's block, the same one
# again for the same handle, durable in the store
addr_of() { ctl a1 --json ipam allocate "handle=$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["addresses"][0])'; }
x1=$(addr_of pod-1)
x2=$(addr_of pod-2)
inside "$x1" "$ba1" && inside "$x2" "$ba1" || fail "allocated $x1 $x2 outside a1's block $ba1"
[ "$x1" != "$x2" ] || fail "two handles got $x1"
[ "$(addr_of pod-1)" = "$x1" ] || fail "the same handle got another address"
ctl a1 ipam release handle=pod-1 >/dev/null || fail "release"
ctl a1 ipam release handle=pod-1 >/dev/null || fail "a second release of the handle failed"
out=$(ctl b1 ipam allocate handle=x family=6 2>&1) && fail "IPv6 allocated without an IPv6 pool: $out"
grep -q "IPv6" <<<"$out" || fail "family error: $out"
out=$(ctl rt ipam allocate handle=x 2>&1) && fail "the gateway allocated: $out"
grep -q gateway <<<"$out" || fail "gateway error: $out"
ok "control API allocate/release: idempotent, inside the host's block, clear refusals"

# intra-subnet: a1 routes a2's block via a2, and nothing of subnet B
wait_until 10 "a1's route to a2's block" sh -c "ip -n $a1 route show proto 220 | grep -q '^$ba2 via 10.77.1.2'"
ip -n "$a1" route show proto 220 | has "^$bb1" && fail "a1 holds a route to subnet B's block"
wait_until 10 "a2's route to a1's block" sh -c "ip -n $a2 route show proto 220 | grep -q '^$ba1 via 10.77.1.1'"
ok "hosts route their subnet peers' blocks"

# the gateway: 3 hosts fit the budget, one route per host, no extra hop
for b in "$ba1 via 10.77.1.1" "$ba2 via 10.77.1.2" "$bb1 via 10.77.2.1"; do
	wait_until 10 "gateway route $b" sh -c "ip -n $rt route show proto 220 | grep -q '^$b'"
done
ok "per-host cloud routes on the gateway"

# a pod on a2 and one on b1, reached across subnets and within
pod_a2=$(first_addr "$ba2")
pod_b1=$(first_addr "$bb1")
ip -n "$a2" addr add "$pod_a2/32" dev lo
ip -n "$b1" addr add "$pod_b1/32" dev lo
ip netns exec "$a1" ping -c1 -W2 "$pod_b1" >/dev/null || fail "a1 cannot reach b1's pod $pod_b1"
ip netns exec "$b1" ping -c1 -W2 "$pod_a2" >/dev/null || fail "b1 cannot reach a2's pod $pod_a2"
ip netns exec "$a1" ping -c1 -W2 "$pod_a2" >/dev/null || fail "a1 cannot reach a2's pod $pod_a2"
ok "pods reached across and within subnets (per-host routes)"

# plan the running cluster: with its own config nothing moves; with
# subnets of another size every subnet prefix moves, and plan says so
"$STRATACTL" plan -s "$T/a1.sock" --current -c "$T/a1.conf" --json >"$T/cur.json" ||
	fail "plan --current failed"
python3 - "$T/cur.json" <<'PY' || fail "plan --current, same config: $(cat "$T/cur.json")"
import json, sys
j = json.load(open(sys.argv[1]))
c = j["change"]
assert j["hosts"] == 3, j["hosts"]
assert c["prefixes_moving"] == 0 and c["hosts_moving"] == 0, c
assert len(c["nodes"]) == 3, c["nodes"]
PY
sed 's/"subnet:2"/"subnet:3"/' "$T/a1.conf" >"$T/new.conf"
"$STRATACTL" plan -s "$T/a1.sock" --current -c "$T/new.conf" >"$T/new.txt" ||
	fail "plan --current with a new carving failed"
grep -q "z1/sA .*MOVES" "$T/new.txt" && grep -q "^  z1 .*stays" "$T/new.txt" &&
	grep -q "2 of 3 prefixes move; 3 hosts" "$T/new.txt" ||
	fail "plan --current did not show the move: $(cat "$T/new.txt")"
ok "plan --current shows what a new carving would move, before it happens"

# a budget of 2: one route per subnet prefix, through a forwarder
budget=2
for h in a1 a2 b1 rt; do
	case $h in
	rt) conf rt ;;
	a1) conf a1 sA 10.77.1.1 ;;
	a2) conf a2 sA 10.77.1.2 ;;
	b1) conf b1 sB 10.77.2.1 ;;
	esac
	ctl "$h" reload >/dev/null
done
wait_until 10 "the gateway's route for subnet A" sh -c "ip -n $rt route show proto 220 | grep -q '^$pa via 10.77.1.[12]'"
wait_until 10 "the gateway's route for subnet B" sh -c "ip -n $rt route show proto 220 | grep -q '^$pb via 10.77.2.1'"
wait_until 10 "the per-host routes gone from the gateway" sh -c "! ip -n $rt route show proto 220 | grep -q '^$ba2'"
[ "$(ip -n "$rt" route show proto 220 | wc -l)" -eq 2 ] || fail "gateway holds more than the 2 routes of its budget: $(ip -n "$rt" route show proto 220)"
ip netns exec "$b1" ping -c1 -W2 "$pod_a2" >/dev/null || fail "b1 cannot reach a2's pod through the forwarder"
ip netns exec "$a1" ping -c1 -W2 "$pod_b1" >/dev/null || fail "a1 cannot reach b1's pod through the forwarder"
ok "one cloud route per subnet within a budget of 2; pods still reached"

# the plan of this very topology says the same
ctl a1 --json status | has '"cloud_routes": *2' || fail "a1's planner does not state 2 cloud routes"

# a restart under live routes (SIGKILL) removes none
before=$(routes "$a1")
stop_stratad "${PID[a1]}" KILL || true
start a1 "$a1"
start_t=$SECONDS
while [ $((SECONDS - start_t)) -lt 2 ]; do
	[ "$(routes "$a1")" = "$before" ] || fail "a1's routes changed across a restart: $(routes "$a1")"
	sleep 0.2
done
wait_until 20 "a1's planner synced again" synced a1
[ "$(routes "$a1")" = "$before" ] || fail "a1's routes differ after the restart"
[ "$(blocks a1 | head -n1)" = "$ba1" ] || fail "a1's block changed across the restart"
ok "restart kept the routes and the block"

# a stopped host keeps its blocks (routes to it stay) until removed
stop_stratad "${PID[a2]}" TERM || fail "a2's stratad exited with $? on SIGTERM"
sleep 1
ip -n "$a1" route show proto 220 | has "^$ba2 via 10.77.1.2" || fail "a1 dropped the route to a stopped host's block"
# its registration lives until its lease runs out (30 s): "not heard
# from" is not "gone", so removal is refused until then
removed=false
for _ in $(seq 100); do
	if out=$(ctl a1 host remove a2 2>&1); then
		removed=true
		break
	fi
	grep -q registered <<<"$out" || fail "host remove a2: $out"
	sleep 0.5
done
$removed || fail "a2 still registered 50 s after it stopped"
wait_until 10 "a2's blocks returned" no_blocks a2
wait_until 10 "a1's route to a2's old block withdrawn" sh -c "! ip -n $a1 route show proto 220 | grep -q '^$ba2'"
ok "host remove returned a2's blocks and withdrew the routes to them"

# a clean exit (the sanitizer build reports leaks and errors here)
for h in a1 b1 rt; do
	stop_stratad "${PID[$h]}" TERM || fail "$h's stratad exited with $? on SIGTERM"
done
ok "every stratad exited cleanly"
