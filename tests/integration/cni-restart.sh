#!/bin/bash
# stratad restarted under live pods: while it was down, one pod's netns
# went away (no DEL came) and a stray pod veth appeared that no address
# reservation explains. When it starts again it reclaims the gone pod's
# address, deletes the stray veth, and keeps every live pod: its address,
# its veth and its host route, which no resync removes meanwhile.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ROUTES_EXTRA='resync_interval = "1s";' cni_node restartnet
host=$NODE
cni() { # COMMAND CONTAINER
	CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$NSP-$2 CNI_IFNAME=eth0 \
		ip netns exec "$host" "$BUILDDIR/strata-cni" <"$T/net.json"
}
addr_of() {
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])'
}
used() {
	"$STRATACTL" -s "$T/ctl.sock" --json topology | /usr/bin/python3 -c '
import json, sys
print(sum(h["addresses_used"] for h in json.load(sys.stdin)["hosts"]))'
}

start_stratad "$host" "$T/node.conf" "$T/stratad.log"
declare -A ip
for p in p1 p2 p3; do
	mkns "$p" >/dev/null
	out=$(cni ADD "$p") || fail "ADD $p: $out"
	ip[$p]=$(addr_of <<<"$out")
done
[ "$(used)" = 3 ] || fail "3 pods, the IPAM holds $(used)"
ok "3 pods: ${ip[p1]} ${ip[p2]} ${ip[p3]}"

stop_stratad "$STRATAD_PID" KILL || true
# while stratad is down: p3's netns goes (the kernel takes its veth),
# and a pod veth nobody reserved an address for turns up
ip netns del "$NSP-p3"
stray=$(mkns stray)
ip -n "$host" link add st0123456789abc type veth peer name eth0 netns "$stray"
ip -n "$host" link set st0123456789abc up
routes "$host" >"$T/routes.before"

start_stratad "$host" "$T/node.conf" "$T/stratad.log"
ready() {
	"$STRATACTL" -s "$T/ctl.sock" --json status | has '"routes_synced": *true'
}
wait_until 20 "stratad's routes synced" ready
stray_gone() { ! ip -n "$host" link show st0123456789abc >/dev/null 2>&1; }
wait_until 10 "the stray veth deleted" stray_gone
ok "the stray veth with no reservation is deleted"
reclaimed() { [ "$(used)" = 2 ]; }
wait_until 10 "p3's address reclaimed" reclaimed
ok "the gone pod's address is reclaimed: the IPAM holds 2"

sleep 2.5 # two resyncs, now allowed to delete
for p in p1 p2; do
	ip -n "$host" route show proto 220 | has "^${ip[$p]} dev st" ||
		fail "$p's host route is gone after the restart: $(routes "$host")"
	ip netns exec "$host" ping -c 1 -W 2 "${ip[$p]}" >/dev/null ||
		fail "$p (${ip[$p]}) does not answer after the restart"
done
out=$(CNI_COMMAND=CHECK CNI_CONTAINERID=p1 CNI_NETNS=/run/netns/$NSP-p1 CNI_IFNAME=eth0 \
	ip netns exec "$host" "$BUILDDIR/strata-cni" <<JSON
{ "cniVersion": "1.1.0", "name": "restartnet", "type": "strata-cni", "socket": "$T/cni.sock",
  "prevResult": { "cniVersion": "1.1.0", "ips": [ { "address": "${ip[p1]}/32" } ] } }
JSON
) || fail "CHECK p1 after the restart: $out"
ok "live pods keep their addresses, veths and routes; CHECK passes"

# the runtime's DEL for the gone pod still succeeds
cni DEL p3 >/dev/null || fail "DEL of the gone pod"
for p in p1 p2; do cni DEL "$p" >/dev/null || fail "DEL $p"; done
[ "$(used)" = 0 ] || fail "after every DEL the IPAM holds $(used)"
stop_stratad "$STRATAD_PID" || fail "stratad exited non-zero"
ok "restart reconcile"
