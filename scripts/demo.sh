#!/bin/bash
# strata's demo, as root on a fresh Debian 12 machine: installs what it
# needs, builds, plans a cluster with stratactl plan, then runs it small:
# two subnets joined by a router that stands in for the VPC, four hosts
# and the router each a network namespace running stratad on one shared
# embedded store. Pods are added with strata-cni exactly as a container
# runtime calls it; every pod pings every other pod, with no overlay. It
# shows the routes each node holds and cleans up everything it made.
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
cnibin=$build/strata-cni
plugins=$build/.libs

tmp=$(mktemp -d /tmp/strata-demo.XXXXXX)
nsp="strata-demo-$$"
hosts="a1 a2 b1 b2"
pods_per_host=2
pids=()
cleanup() {
	local p ns
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$nsp-" || true); do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

step "planning before the cluster exists: 3 zones x 2 subnets x 200 hosts of 110 pods"
echo "\$ stratactl plan --cidr 10.112.0.0/14 --zones 3 --subnets-per-zone 2 --hosts-per-subnet 200 --pods-per-host 110"
"$ctlbin" plan --plugin "$plugins/ipam-topology.so" --cidr 10.112.0.0/14 --zones 3 \
	--subnets-per-zone 2 --hosts-per-subnet 200 --pods-per-host 110 | sed -n '1,20p'
echo "  ..."

step "a small cluster: subnet A (a1, a2), subnet B (b1, b2), a router as the VPC"
ns() { echo "$nsp-$1"; }
for n in sw rt $hosts; do
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
ip netns exec "$(ns rt)" sysctl -qw net.ipv4.ip_forward=1
leg rt ra brA 10.77.1.254/24
leg rt rb brB 10.77.2.254/24
leg a1 eth0 brA 10.77.1.1/24
leg a2 eth0 brA 10.77.1.2/24
leg b1 eth0 brB 10.77.2.1/24
leg b2 eth0 brB 10.77.2.2/24
for n in a1 a2; do ip -n "$(ns $n)" route add default via 10.77.1.254; done
for n in b1 b2; do ip -n "$(ns $n)" route add default via 10.77.2.254; done

conf() { # NAME SUBNET ADDRESS, or rt
	local node ipam adv cni=""
	if [ "$1" = rt ]; then
		node='name = "rt";' ipam='gateway = true;' adv=cloud
	else
		node="name = \"$1\"; zone = \"us-east-1a\"; subnet = \"$2\"; address = \"$3\";"
		ipam='' adv=kernel
		cni="{ instance = \"cni\"; file = \"frontend-cni.so\";
    config = { socket = \"$tmp/$1-cni.sock\"; }; },
  { instance = \"icmp\"; file = \"healthcheck-icmp.so\"; },"
	fi
	cat >"$tmp/$1.conf" <<CONF
control = { socket = "$tmp/$1.sock"; };
metrics = { port = 9630; }; # on the namespace's own loopback
store = { url = "$tmp/store.db"; };
node = { $node };
plugin_dir = "$plugins";
routes = { per_host = false; spread = false; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; $ipam }; },
  $cni
  { instance = "$adv"; file = "advertiser-static.so"; config = { scopes = [ "$adv" ]; }; }
);
CONF
	[ "$1" = rt ] && return
	cat >"$tmp/$1.cni.json" <<JSON
{ "cniVersion": "1.1.0", "name": "strata", "type": "strata-cni",
  "socket": "$tmp/$1-cni.sock" }
JSON
}
conf a1 subnet-a 10.77.1.1
conf a2 subnet-a 10.77.1.2
conf b1 subnet-b 10.77.2.1
conf b2 subnet-b 10.77.2.2
conf rt
"$build/stratad" -t -c "$tmp/a1.conf"

ctl() { local n=$1; shift; "$ctlbin" -s "$tmp/$n.sock" "$@"; }
for n in $hosts rt; do
	ip netns exec "$(ns $n)" "$build/stratad" -c "$tmp/$n.conf" 2>"$tmp/$n.log" &
	pids+=($!)
	for _ in $(seq 100); do ctl "$n" version >/dev/null 2>&1 && break; sleep 0.1; done
done
has() { grep "$@" >/dev/null; } # reads it all: no SIGPIPE under pipefail
synced() { ctl "$1" --json status 2>/dev/null | has '"routes_synced": *true'; }
for n in $hosts rt; do
	for _ in $(seq 100); do synced "$n" && break; sleep 0.1; done
done

# strata-cni, called as a runtime calls it: in the node's netns, with the
# CNI_* variables and the network config on stdin
cni() { # COMMAND NODE POD
	CNI_COMMAND=$1 CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$(ns "$3") \
		CNI_IFNAME=eth0 CNI_PATH=$build \
		ip netns exec "$(ns "$2")" "$cnibin" <"$tmp/$2.cni.json"
}
step "pods: $pods_per_host per host, added through strata-cni"
pods=()
declare -A pod_ip
for n in $hosts; do
	for i in $(seq "$pods_per_host"); do
		p=$n-pod$i
		ip netns add "$(ns "$p")"
		out=$(cni ADD "$n" "$p")
		[ "$p" = a1-pod1 ] && { echo "\$ CNI_COMMAND=ADD ... strata-cni   (on a1)"; echo "$out" | python3 -m json.tool; }
		pod_ip[$p]=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])')
		pods+=("$p")
	done
done
for p in "${pods[@]}"; do printf '  %-8s %s\n' "$p" "${pod_ip[$p]}"; done
sleep 1.5 # the gateway's debounced re-plan

step "every pod pings every other pod (${#pods[@]} pods, $(( ${#pods[@]} * (${#pods[@]} - 1) )) pairs)"
: >"$tmp/failed"
for src in "${pods[@]}"; do
	pings=()
	for dst in "${pods[@]}"; do
		[ "$src" = "$dst" ] && continue
		{ ip netns exec "$(ns "$src")" ping -c 1 -W 2 -q "${pod_ip[$dst]}" >/dev/null 2>&1 ||
			echo "$src -> $dst (${pod_ip[$dst]})" >>"$tmp/failed"; } &
		pings+=($!)
	done
	wait "${pings[@]}"
done
if [ -s "$tmp/failed" ]; then
	echo "demo: these pairs did not answer:" >&2
	cat "$tmp/failed" >&2
	exit 1
fi
echo "  all pairs answered"

step "the live carving: each subnet one prefix, each host its blocks inside it"
echo "\$ stratactl topology"
ctl a1 topology

step "routes strata installed (proto 220)"
echo "-- rt (stands in for the VPC route table): $(ip -n "$(ns rt)" route show proto 220 | wc -l) routes, one per subnet"
ip -n "$(ns rt)" route show proto 220
for n in $hosts; do
	echo "-- $n: peers' blocks in its subnet, and its own pods"
	ip -n "$(ns $n)" route show proto 220
done

step "the health view: who forwards each subnet's route, who watches it"
echo "\$ stratactl health"
ctl a1 health

# the router's next hop for subnet A's prefix
a_prefix=$(ctl a1 --json health | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(next(r["dst"] for r in h["routes"] if r["host"].startswith("a")))')
via_of() { ip -n "$(ns rt)" route show "$a_prefix" proto 220 | awk '{for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1)}'; }
fwd=$(ctl a1 --json health | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(next(r["host"] for r in h["routes"] if r["host"].startswith("a")))')
other=a1; [ "$fwd" = a1 ] && other=a2
step "a forwarder fails: $fwd's link goes down"
echo "  rt: $a_prefix via $(via_of) ($fwd)"
before=$(via_of)
t0=$(date +%s%N)
ip -n "$(ns "$fwd")" link set eth0 down
for _ in $(seq 300); do [ "$(via_of)" != "$before" ] && break; sleep 0.05; done
t1=$(date +%s%N)
if [ "$(via_of)" = "$before" ]; then
	echo "demo: the route for $a_prefix did not move off $fwd" >&2
	exit 1
fi
echo "  rt: $a_prefix via $(via_of) ($other), $(( (t1 - t0) / 1000000 )) ms after the link went down"
ip netns exec "$(ns b1-pod1)" ping -c 1 -W 2 -q "${pod_ip[$other-pod1]}" >/dev/null &&
	echo "  b1-pod1 reaches $other-pod1 (${pod_ip[$other-pod1]}) again"
ip -n "$(ns "$fwd")" link set eth0 up
ip -n "$(ns "$fwd")" route add default via 10.77.1.254 2>/dev/null || true
echo "  $fwd is back; the route stays on $other (failback = \"stay\", the default)"

step "what a1's stratad says"
ctl a1 status

step "what $other and rt show Prometheus (curl localhost:9630/metrics in their namespaces)"
metrics() { ip netns exec "$(ns "$1")" curl -s --max-time 5 http://127.0.0.1:9630/metrics; }
metrics "$other" | grep -E '^strata_(routes_(desired|installed)|ipam_pool_(addresses|blocks_used)|forwarder_up|cni_request_duration_seconds_count|reconcile_duration_seconds_count)[{ ]' |
	sed "s/^/  $other: /"
metrics rt | grep -E '^strata_cloud_route(s|_budget)\{family="ipv4"' | sed 's/^/  rt: /'

step "pods deleted through strata-cni"
for p in "${pods[@]}"; do cni DEL "${p%-pod*}" "$p"; ip netns del "$(ns "$p")"; done
echo "  a1 holds $(ip -n "$(ns a1)" link show | grep -c ': st' || true) pod veths now"

step "stop (SIGTERM: routes stay in place)"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
step "done"
