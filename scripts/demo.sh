#!/bin/bash
# strata's demo, as root on a fresh Debian 12 machine: installs what it
# needs, builds, plans a cluster with stratactl plan, then runs it small:
# two subnets joined by a router that stands in for the VPC, three hosts
# and the router each a network namespace running stratad on one shared
# embedded store. It shows the blocks each host got, the routes strata
# installed, a "pod" reached across subnets, and cleans up.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${STRATA_BUILD:-$top/build/demo}
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it makes network namespaces)" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing what the demo needs"
"$top/scripts/deps.sh" demo

step "building into $build"
(cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
(cd "$build" && "$top/configure" -q && make -s -j"$(nproc)") >"$build.log" 2>&1 ||
	{ tail -n 40 "$build.log"; exit 1; }
ctlbin=$build/stratactl
plugins=$build/.libs

tmp=$(mktemp -d /tmp/strata-demo.XXXXXX)
nsp="strata-demo-$$"
pids=()
cleanup() {
	local p ns
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in sw rt a1 a2 b1; do ip netns del "$nsp-$ns" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

step "planning before the cluster exists: 3 zones x 2 subnets x 200 hosts of 110 pods"
echo "\$ stratactl plan --cidr 10.112.0.0/14 --zones 3 --subnets-per-zone 2 --hosts-per-subnet 200 --pods-per-host 110"
"$ctlbin" plan --plugin "$plugins/ipam-topology.so" --cidr 10.112.0.0/14 --zones 3 \
	--subnets-per-zone 2 --hosts-per-subnet 200 --pods-per-host 110 | sed -n '1,20p'
echo "  ..."

step "a small cluster: subnet A (a1, a2), subnet B (b1), a router as the VPC"
ns() { echo "$nsp-$1"; }
for n in sw rt a1 a2 b1; do
	ip netns add "$(ns $n)"
	ip -n "$(ns $n)" link set lo up
done
ip -n "$(ns sw)" link add brA type bridge
ip -n "$(ns sw)" link add brB type bridge
ip -n "$(ns sw)" link set brA up
ip -n "$(ns sw)" link set brB up
leg() { # HOST IFNAME BRIDGE ADDR
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$1$2" netns "$(ns sw)"
	ip -n "$(ns sw)" link set "$1$2" master "$3" up
	ip -n "$(ns "$1")" addr add "$4" dev "$2"
	ip -n "$(ns "$1")" link set "$2" up
}
for n in rt a1 a2 b1; do
	ip netns exec "$(ns $n)" sysctl -qw net.ipv4.ip_forward=1
done
leg rt ra brA 10.77.1.254/24
leg rt rb brB 10.77.2.254/24
leg a1 eth0 brA 10.77.1.1/24
leg a2 eth0 brA 10.77.1.2/24
leg b1 eth0 brB 10.77.2.1/24
ip -n "$(ns a1)" route add default via 10.77.1.254
ip -n "$(ns a2)" route add default via 10.77.1.254
ip -n "$(ns b1)" route add default via 10.77.2.254

conf() { # NAME SUBNET ADDRESS, or rt
	local node ipam adv
	if [ "$1" = rt ]; then
		node='name = "rt";' ipam='gateway = true;' adv=cloud
	else
		node="name = \"$1\"; zone = \"us-east-1a\"; subnet = \"$2\"; address = \"$3\";"
		ipam='' adv=kernel
	fi
	cat >"$tmp/$1.conf" <<CONF
control = { socket = "$tmp/$1.sock"; };
store = { url = "$tmp/store.db"; };
node = { $node };
plugin_dir = "$plugins";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; $ipam }; },
  { instance = "$adv"; file = "advertiser-static.so"; config = { scopes = [ "$adv" ]; }; }
);
CONF
}
conf a1 subnet-a 10.77.1.1
conf a2 subnet-a 10.77.1.2
conf b1 subnet-b 10.77.2.1
conf rt
"$build/stratad" -t -c "$tmp/a1.conf"

ctl() { local n=$1; shift; "$ctlbin" -s "$tmp/$n.sock" "$@"; }
for n in a1 a2 b1 rt; do
	ip netns exec "$(ns $n)" "$build/stratad" -c "$tmp/$n.conf" 2>"$tmp/$n.log" &
	pids+=($!)
	for _ in $(seq 100); do ctl "$n" version >/dev/null 2>&1 && break; sleep 0.1; done
done
synced() { ctl "$1" --json status 2>/dev/null | grep -q '"routes_synced": *true'; }
for n in a1 a2 b1 rt; do
	for _ in $(seq 100); do synced "$n" && break; sleep 0.1; done
done
sleep 0.5

step "the live carving: each subnet one prefix, each host its blocks inside it"
echo "\$ stratactl topology"
ctl a1 topology

step "routes strata installed (proto 220)"
for n in a1 a2 b1 rt; do
	echo "-- $n"
	ip -n "$(ns $n)" route show proto 220
done

block=$(ctl b1 --json topology | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hosts"]:
    if h["name"] == "b1":
        print(h["blocks"][0])')
pod=$(python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$block")
step "a pod address on b1 ($pod, in its block $block), reached from a1 in the other subnet"
ip -n "$(ns b1)" addr add "$pod/32" dev lo
ip netns exec "$(ns a1)" ping -c 2 -W 2 "$pod"

step "what a1's stratad says"
ctl a1 status

step "stop (SIGTERM: routes stay in place)"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
ip -n "$(ns a1)" route show proto 220
step "done"
