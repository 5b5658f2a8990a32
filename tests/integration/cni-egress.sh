#!/bin/bash
# Egress: a pod reaches an address outside the cluster (a namespace
# standing in for the internet, which has no route to pod addresses)
# through the node's masquerade, and the reply comes back; a destination
# in no_nat sees the pod's own address.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

host=$(mkns host)
rt=$(mkns rt)
inet=$(mkns inet)
ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1
ip -n "$rt" link add up0 type veth peer name eth0 netns "$host"
ip -n "$rt" addr add 10.80.0.254/24 dev up0
ip -n "$rt" link set up0 up
ip -n "$host" addr add 10.80.0.1/24 dev eth0
ip -n "$host" link set eth0 up
ip -n "$host" route add default via 10.80.0.254
ip -n "$rt" link add wan0 type veth peer name eth0 netns "$inet"
ip -n "$rt" addr add 203.0.113.254/24 dev wan0
ip -n "$rt" link set wan0 up
ip -n "$inet" addr add 203.0.113.1/24 dev eth0
ip -n "$inet" link set eth0 up
# the internet knows the node's network, not the pods'
ip -n "$inet" route add 10.80.0.0/24 via 203.0.113.254
# the router (in the VPC) knows the pods; count what arrives from them
ip -n "$rt" route add 10.112.0.0/16 via 10.80.0.1
ip netns exec "$rt" nft -f - <<'NFT'
table ip egress-test {
	chain input {
		type filter hook input priority 0;
		ip saddr 10.112.0.0/16 icmp type echo-request counter
	}
}
NFT

cat >"$T/host.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "host"; zone = "z"; subnet = "s"; address = "10.80.0.1"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so"; config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "cni"; file = "frontend-cni.so";
    config = { socket = "$T/cni.sock"; no_nat = [ "10.80.0.0/24" ]; }; },
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; }
);
CONF
cat >"$T/net.json" <<JSON
{ "cniVersion": "1.1.0", "name": "egress", "type": "strata-cni", "socket": "$T/cni.sock" }
JSON
start_stratad "$host" "$T/host.conf" "$T/stratad.log"
pod=$(mkns pod)
out=$(CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/$pod CNI_IFNAME=eth0 \
	ip netns exec "$host" "$BUILDDIR/strata-cni" <"$T/net.json") || fail "ADD: $out"
addr=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"])')
ok "pod added: $addr"

ip netns exec "$host" nft list table inet strata-nat >"$T/nat.txt" || fail "no strata-nat table"
grep -q masquerade "$T/nat.txt" || fail "strata-nat has no masquerade rule: $(cat "$T/nat.txt")"

ip netns exec "$pod" ping -c 2 -W 2 203.0.113.1 >/dev/null ||
	fail "the pod does not reach 203.0.113.1 outside the cluster"
ok "the pod reaches the internet through the node's masquerade"

ip netns exec "$pod" ping -c 2 -W 2 10.80.0.254 >/dev/null ||
	fail "the pod does not reach 10.80.0.254 (no_nat)"
ip netns exec "$rt" nft list table ip egress-test | has 'counter packets 2 ' ||
	fail "no_nat destination did not see the pod's own address: $(ip netns exec "$rt" nft list table ip egress-test)"
ok "a no_nat destination sees the pod's own address"

CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/$pod CNI_IFNAME=eth0 \
	ip netns exec "$host" "$BUILDDIR/strata-cni" <"$T/net.json" >/dev/null || fail "DEL"
stop_stratad "$STRATAD_PID" || fail "stratad exited non-zero"
ok "egress"
