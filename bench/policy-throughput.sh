#!/bin/bash
# iperf3 throughput between two pods of one node through policy-nft's
# rules for an allowing NetworkPolicy, against the same pods with no
# NetworkPolicy (the engine's table, both pods mapping to accept), side by
# side in one run: RUNS rounds of SECS seconds each way, in rotating
# order; the ratio of each round (so that the machine's drift between
# rounds cancels) and their median; goal >= 0.95. Both keep connection
# tracking on, as every Kubernetes node does (kube-proxy's rules track
# connections too). A third way, no table at all and so no connection
# tracking in the node's namespace, shows what conntrack itself costs.
#
# The pods are network namespaces joined to a "node" namespace by veth
# pairs named as strata names them (st + 13 hex), /32 routes to them and
# proxy ARP on the node's ends, forwarding on in the node namespace only.
# The rules are the engine's compiled table (bench/policy-script) for a
# NetworkPolicy letting the client reach the server on iperf3's port and
# one allowing the client's egress to it, applied with nft in the node
# namespace; a connection to another port is checked to be dropped.
# The root namespace is never touched.
#
# As root; needs BUILDDIR (a built tree; bench/policy-script is built
# there) and iperf3 (installed with apt-get when missing). Env: RUNS
# (default 9), SECS (default 5), PORT (default 5201).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
RUNS=${RUNS:-9}
SECS=${SECS:-5}
PORT=${PORT:-5201}
GOAL=0.95

[ "$(id -u)" = 0 ] || { echo "policy-throughput.sh: run as root" >&2; exit 1; }
if ! command -v iperf3 >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y iperf3 >/dev/null
fi
make -s -C "$BUILDDIR" bench/policy-script
script=$BUILDDIR/bench/policy-script

NSP="stp$$"
node=$NSP-node
cli=$NSP-cli
srv=$NSP-srv
cli_if=st0000000000c01
srv_if=st0000000000c02
cli_ip=10.244.7.2
srv_ip=10.244.7.3
T=$(mktemp -d /tmp/strata-bench.XXXXXX)
server=""

cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	for ns in "$cli" "$srv" "$node"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$node"
ip netns add "$cli"
ip netns add "$srv"
ip -n "$node" link set lo up
ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
for p in cli srv; do
	ns=${!p}
	host_if=$(eval echo "\$${p}_if")
	addr=$(eval echo "\$${p}_ip")
	ip -n "$ns" link set lo up
	ip -n "$node" link add "$host_if" type veth peer name eth0 netns "$ns"
	ip netns exec "$node" sysctl -qw "net.ipv4.conf.$host_if.proxy_arp=1"
	ip -n "$node" link set "$host_if" up
	ip -n "$node" route add "$addr/32" dev "$host_if"
	ip -n "$ns" addr add "$addr/32" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default dev eth0
done

for mode in allow:allow nopolicy:none; do
	{
		echo "table inet strata-filter"
		echo "delete table inet strata-filter"
		"$script" "${mode#*:}" "$cli_if" "$cli_ip" "$srv_if" "$srv_ip" "$PORT"
	} >"$T/${mode%:*}.nft"
done
printf 'table inet strata-filter\ndelete table inet strata-filter\n' >"$T/none.nft"

ip netns exec "$srv" iperf3 -s -p "$PORT" >"$T/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
	ip netns exec "$cli" bash -c "exec 3<>/dev/tcp/$srv_ip/$PORT" \
		2>/dev/null && break
	sleep 0.1
done

# Whether a connection from the client to port $1 is answered at all (a
# refusal counts) within 2 s: true when the rules let it through.
reaches() {
	local rc=0

	timeout 2 ip netns exec "$cli" bash -c \
		"exec 3<>/dev/tcp/$srv_ip/$1" 2>/dev/null || rc=$?
	[ "$rc" != 124 ]
}

# One iperf3 run; prints bits per second received.
run() {
	ip netns exec "$cli" iperf3 -c "$srv_ip" -p "$PORT" -t "$SECS" -J \
		>"$T/run.json"
	jq -r '.end.sum_received.bits_per_second' "$T/run.json"
}

rules() {
	ip netns exec "$node" nft -f "$T/$1.nft"
	if [ "$1" = allow ]; then
		reaches $((PORT + 1)) && {
			echo "policy-throughput.sh: port $((PORT + 1)) not dropped under the policy" >&2
			exit 1
		}
	else
		reaches $((PORT + 1)) || {
			echo "policy-throughput.sh: port $((PORT + 1)) dropped with no rules" >&2
			exit 1
		}
	fi
	reaches "$PORT" || { echo "policy-throughput.sh: iperf3's port dropped ($1)" >&2; exit 1; }
}

echo "# policy-throughput: $RUNS runs of ${SECS}s each way, in rotating order; $(uptime | sed 's/.*load/load/')"
: >"$T/allow"
: >"$T/nopolicy"
: >"$T/none"
for i in $(seq "$RUNS"); do
	case $((i % 3)) in
	1) order="allow nopolicy none" ;;
	2) order="none allow nopolicy" ;;
	*) order="nopolicy none allow" ;;
	esac
	for mode in $order; do
		rules "$mode"
		bps=$(run)
		echo "$bps" >>"$T/$mode"
		printf '  run %d %-8s %8.2f Gbit/s\n' "$i" "$mode" \
			"$(echo "$bps" | awk '{ print $1 / 1e9 }')"
	done
done

median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B: each round's A / B, one per line
ratio() {
	paste "$T/$1" "$T/$2" | awk '{ print $1 / $2 }'
}
ratio allow nopolicy >"$T/r-policy"
ratio allow none >"$T/r-none"
a=$(median "$T/allow")
p=$(median "$T/nopolicy")
n=$(median "$T/none")
rp=$(median "$T/r-policy")
rn=$(median "$T/r-none")
awk -v a="$a" -v p="$p" -v n="$n" -v rp="$rp" -v rn="$rn" -v g="$GOAL" 'BEGIN {
	printf "%-44s median %6.2f Gbit/s\n", "allow: the engine'"'"'s table, allowing policies", a / 1e9
	printf "%-44s median %6.2f Gbit/s\n", "nopolicy: the engine'"'"'s table, no policy", p / 1e9
	printf "%-44s median %6.2f Gbit/s\n", "none: no table, no conntrack", n / 1e9
	printf "allow / none, median of the rounds: %.3f (what conntrack costs)\n", rn
	printf "goal: allow / nopolicy >= %.2f, median of the rounds: %.3f %s\n", g, rp, (rp >= g ? "PASS" : "MISS")
	exit (rp >= g ? 0 : 1)
}'
