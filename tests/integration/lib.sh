# Shared by the integration tests: namespaces as hosts, processes stopped
# by pid, everything removed on exit, every wait bounded.
# shellcheck shell=bash
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd) # configs name plugin_dir absolutely
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STRATAD=$BUILDDIR/stratad
STRATACTL=$BUILDDIR/stratactl
PLUGINDIR=$BUILDDIR/.libs
FIXTUREDIR=$BUILDDIR/tests/fixtures/plugins/.libs

T=$(mktemp -d /tmp/strata-it.XXXXXX)
NSP="st$$"
_pids=()

# grep -q leaves the pipe at its first match, and under pipefail the writer's
# SIGPIPE would fail the test; has reads everything.
has() { grep "$@" >/dev/null; }

# need PACKAGE PROGRAM...: every PROGRAM (a path) is there, or the test is
# skipped (exit 0: run.sh counts any other status as a failure); under
# CI=true a missing one fails instead.
need() {
	local pkg=$1 p
	shift
	for p in "$@"; do
		[ -x "$p" ] && continue
		[ "${CI:-}" = true ] && fail "$p not installed (scripts/deps.sh test installs $pkg)"
		echo "SKIP: $p not installed"
		exit 0
	done
}

# same_time "HH:MM:SS.mmm REST" "HH:MM:SS.mmm REST": within 10 ms, the rest
# equal. BIRD shows its monotonic times through the wall clock, so the
# same instant reads a millisecond apart from one call to the next.
same_time() {
	awk -v a="$1" -v b="$2" '
		function ms(s, t) {
			split(s, t, /[:. ]/)
			return ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]
		}
		function rest(s) { return substr(s, index(s " ", " ")) }
		BEGIN {
			d = ms(a) - ms(b)
			if (d < 0) d = -d
			exit !(a != "" && d <= 10 && rest(a) == rest(b))
		}'
}

# On exit: every process tracked stopped, every namespace deleted, and $T
# removed (KEEP_T=DIR keeps a copy of it there, to read the logs).
cleanup() {
	local rc=$? pid ns
	for pid in "${_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${_pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# every namespace of this test, even those made in a subshell
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "${KEEP_T:-}" ] && cp -r "$T" "$KEEP_T"; rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok: $*"
}

# mkns NAME: a namespace with lo up; prints its full name. Every
# namespace named "$NSP-*" is deleted on exit.
mkns() {
	local ns="$NSP-$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

track() {
	_pids+=("$1")
}

# untrack PID: a process the test stopped itself
untrack() {
	local keep=() p
	for p in "${_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_pids=("${keep[@]}")
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll every 0.1 s
wait_until() {
	local secs=$1 what=$2
	shift 2
	local n=$((secs * 10))
	for _ in $(seq "$n"); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "timed out after ${secs}s waiting for $what"
}

# start_stratad NS CONFIG LOG: runs stratad in NS; sets STRATAD_PID
start_stratad() {
	local ns=$1 conf=$2 log=$3 sock
	sock=$(sed -n 's/.*socket = "\([^"]*\)".*/\1/p' "$conf" | head -n1)
	ip netns exec "$ns" "$STRATAD" -c "$conf" >>"$log" 2>&1 &
	STRATAD_PID=$!
	track "$STRATAD_PID"
	wait_until 20 "stratad's control socket $sock" "$STRATACTL" -s "$sock" version
}

# stop_stratad PID [SIGNAL]: stop and wait (bounded); returns its status
stop_stratad() {
	local pid=$1 sig=${2:-TERM} rc=0
	kill -"$sig" "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "stratad $pid did not stop on SIG$sig"
	wait "$pid" || rc=$?
	untrack "$pid"
	return "$rc"
}

# routes NS: strata's kernel routes in NS, one per line, sorted
routes() {
	ip -n "$1" route show proto 220 | sort
	ip -n "$1" -6 route show proto 220 | sort
}

# etcd_env SIZE: for the tests that run etcd members. Finds etcd (missing:
# the test is skipped, or fails under CI=true), puts $T/data on a tmpfs of
# SIZE, declares MEMBER_PID (members are SIGKILLed on exit: throwaway
# data) and makes a hub namespace ($HUB) with a bridge join() puts
# namespaces on. A test's own last words go in a function on_exit_hook,
# called with the exit status.
etcd_env() {
	ETCD=${ETCD:-$(command -v etcd || echo /usr/bin/etcd)}
	if [ ! -x "$ETCD" ]; then
		[ "${CI:-}" = true ] && fail "etcd not installed (scripts/deps.sh test installs etcd-server)"
		echo "SKIP: etcd not installed"
		exit 0
	fi
	mkdir -p "$T/data"
	mount -t tmpfs -o "size=$1" tmpfs "$T/data"
	declare -gA MEMBER_PID
	trap etcd_exit EXIT
	HUB=$(mkns hub)
	ip -n "$HUB" link add br0 type bridge
	ip -n "$HUB" link set br0 up
}

# members first, then the tmpfs, then everything else
etcd_exit() {
	local rc=$? p
	set +e
	declare -F on_exit_hook >/dev/null && on_exit_hook "$rc"
	for p in "${MEMBER_PID[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	umount "$T/data" 2>/dev/null || umount -l "$T/data" 2>/dev/null || true
	(exit "$rc")
	cleanup
}

# join NAME ADDR: a namespace on the hub's bridge, made inside the hub (the
# root namespace's links are never touched); prints its full name
join() {
	local ns
	ns=$(mkns "$1")
	ip -n "$HUB" link add "v$$-$1" type veth peer name eth0 netns "$ns"
	ip -n "$HUB" link set "v$$-$1" master br0 up
	ip -n "$ns" addr add "$2/24" dev eth0
	ip -n "$ns" link set eth0 up
	echo "$ns"
}

# cni_node: a node namespace ($NODE) with an uplink to a router namespace
# ($UPLINK, 10.80.0.254) and its default route through it: the pods'
# gateway 169.254.1.1 is answered by proxy ARP only for a node that routes
# it elsewhere, as every real node does. Writes $T/node.conf, a stratad
# config (embedded store, topology IPAM on 10.112.0.0/16, the cni front
# end on $T/cni.sock, the static advertiser) with IPAM_EXTRA inside the
# IPAM's config and ROUTES_EXTRA inside `routes`, and $T/net.json, a CNI
# config for network NETNAME.
cni_node() {
	local netname=$1
	NODE=$(mkns host)
	UPLINK=$(mkns net)
	ip -n "$UPLINK" link add up0 type veth peer name eth0 netns "$NODE"
	ip -n "$UPLINK" addr add 10.80.0.254/24 dev up0
	ip -n "$UPLINK" link set up0 up
	ip -n "$NODE" addr add 10.80.0.1/24 dev eth0
	ip -n "$NODE" link set eth0 up
	ip -n "$NODE" route add default via 10.80.0.254
	cat >"$T/node.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "host"; zone = "z"; subnet = "s"; address = "10.80.0.1"; };
plugin_dir = "$PLUGINDIR";
routes = { ${ROUTES_EXTRA:-} };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; ${IPAM_EXTRA:-} }; },
  { instance = "cni"; file = "frontend-cni.so"; config = { socket = "$T/cni.sock"; }; },
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; }
);
CONF
	cat >"$T/net.json" <<JSON
{ "cniVersion": "1.1.0", "name": "$netname", "type": "strata-cni",
  "socket": "$T/cni.sock", "timeout": 10 }
JSON
}

# etcd_cluster3 NET TOKEN: three etcd members m1..m3 (after etcd_env), each
# in its own namespace on the hub at NET.1-3 (NET as "10.79.0"), ports
# $PORT and $PEER, fast elections; returns once each takes writes, asked
# through the caller's `incl` (a command run in its client namespace).
etcd_cluster3() {
	local net=$1 token=$2 i ns ic
	ETCD_NET=$net
	ic="m1=http://$net.1:$PEER,m2=http://$net.2:$PEER,m3=http://$net.3:$PEER"
	for i in 1 2 3; do
		ns=$(join "m$i" "$net.$i")
		! ip netns exec "$ns" ss -Htln "src $net.$i:$PORT" | has . ||
			fail "port $PORT busy in $ns"
		ip netns exec "$ns" "$ETCD" --name "m$i" --data-dir "$T/data/m$i" \
			--listen-client-urls "http://$net.$i:$PORT" \
			--advertise-client-urls "http://$net.$i:$PORT" \
			--listen-peer-urls "http://$net.$i:$PEER" \
			--initial-advertise-peer-urls "http://$net.$i:$PEER" \
			--initial-cluster "$ic" --initial-cluster-state new \
			--initial-cluster-token "$token" \
			--heartbeat-interval 10 --election-timeout 100 \
			--logger zap --log-outputs stderr >"$T/m$i.log" 2>&1 &
		MEMBER_PID[m$i]=$!
		# no job notice when it is killed; the shell still reaps it
		disown "${MEMBER_PID[m$i]}"
		track "${MEMBER_PID[m$i]}"
	done
	for i in 1 2 3; do
		wait_until 20 "member m$i writable" etcd_writable "$net.$i"
	done
}

etcd_writable() {
	incl curl -sf -m 1 -X POST -H 'Grpc-Metadata-hasleader: true' \
		-d '{"key":"cmVhZHk=","value":"MQ=="}' "http://$1:$PORT/v3/kv/put"
}

# etcd_leader: the name of the member of etcd_cluster3 that says it leads
etcd_leader() {
	local i s
	for i in 1 2 3; do
		[ -n "${MEMBER_PID[m$i]:-}" ] || continue
		s=$(incl curl -sf -m 1 -X POST -d '{}' \
			"http://$ETCD_NET.$i:$PORT/v3/maintenance/status") || continue
		if [ "$(jq -r .leader <<<"$s")" = "$(jq -r .header.member_id <<<"$s")" ]; then
			echo "m$i"
			return 0
		fi
	done
	return 1
}

# The demo topology of scripts/demo.sh: a router namespace rt forwarding
# between bridges brA and brB in a switch namespace sw, subnet A (a1
# 10.77.1.1, a2 10.77.1.2) on brA and subnet B (b1 10.77.2.1, b2
# 10.77.2.2) on brB, each host's default route via rt. Sets DEMO_HOSTS
# and DEMO_ADDR (host -> address).
demo_net() {
	local n
	DEMO_HOSTS="a1 a2 b1 b2"
	declare -gA DEMO_ADDR=([a1]=10.77.1.1 [a2]=10.77.1.2
		[b1]=10.77.2.1 [b2]=10.77.2.2)
	declare -gA DEMO_PID DEMO_POD_IP
	for n in sw rt $DEMO_HOSTS; do
		mkns "$n" >/dev/null
	done
	ip -n "$NSP-sw" link add brA type bridge
	ip -n "$NSP-sw" link add brB type bridge
	ip -n "$NSP-sw" link set brA up
	ip -n "$NSP-sw" link set brB up
	ip netns exec "$NSP-rt" sysctl -qw net.ipv4.ip_forward=1
	_demo_leg rt ra brA 10.77.1.254/24
	_demo_leg rt rb brB 10.77.2.254/24
	for n in $DEMO_HOSTS; do
		_demo_leg "$n" eth0 "br$(demo_subnet "$n")" "${DEMO_ADDR[$n]}/24"
		ip -n "$NSP-$n" route add default via "$(demo_gw "$n")"
	done
}

# _demo_leg NODE IFNAME BRIDGE ADDR: a veth from NODE to a bridge in sw
_demo_leg() {
	ip -n "$NSP-$1" link add "$2" type veth peer name "$1$2" netns "$NSP-sw"
	ip -n "$NSP-sw" link set "$1$2" master "$3" up
	ip -n "$NSP-$1" addr add "$4" dev "$2"
	ip -n "$NSP-$1" link set "$2" up
}

# demo_subnet HOST: A or B
demo_subnet() {
	case $1 in a*) echo A ;; *) echo B ;; esac
}

# demo_gw HOST: the router's address on HOST's subnet
demo_gw() {
	case $1 in a*) echo 10.77.1.254 ;; *) echo 10.77.2.254 ;; esac
}

# demo_conf NODE: writes $T/NODE.conf as demo.sh does (a host: zone
# us-east-1a, subnet subnet-a or subnet-b, the cni front end on
# $T/NODE-cni.sock, the icmp checker, the kernel scope; rt: the IPAM's
# gateway, the cloud scope), with `health = { $DEMO_HEALTH }` (on rt
# without `checker = "icmp";`: it probes nothing), and for a host
# $T/NODE.cni.json. Routes resync every second: a link taken down takes
# its routes with it.
demo_conf() {
	local node ipam='' adv=kernel cni='' health=${DEMO_HEALTH:-}
	if [ "$1" = rt ]; then
		node='name = "rt";' ipam='gateway = true;' adv=cloud
		health=${health//checker = \"icmp\";/}
	else
		node="name = \"$1\"; zone = \"us-east-1a\";"
		node="$node subnet = \"subnet-$(demo_subnet "$1" | tr AB ab)\";"
		node="$node address = \"${DEMO_ADDR[$1]}\";"
		cni="{ instance = \"cni\"; file = \"frontend-cni.so\";
    config = { socket = \"$T/$1-cni.sock\"; }; },
  { instance = \"icmp\"; file = \"healthcheck-icmp.so\"; },"
		cat >"$T/$1.cni.json" <<JSON
{ "cniVersion": "1.1.0", "name": "demo", "type": "strata-cni",
  "socket": "$T/$1-cni.sock", "timeout": 10 }
JSON
	fi
	cat >"$T/$1.conf.new" <<CONF
control = { socket = "$T/$1.sock"; };
store = { url = "$T/store.db"; };
node = { $node };
plugin_dir = "$PLUGINDIR";
routes = { per_host = false; spread = false; resync_interval = "1s"; };
health = { $health };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; $ipam }; },
  $cni
  { instance = "$adv"; file = "advertiser-static.so"; config = { scopes = [ "$adv" ]; }; }
);
CONF
	mv "$T/$1.conf.new" "$T/$1.conf"
}

# demo_ctl NODE ARGS...: stratactl on NODE's control socket
demo_ctl() {
	local n=$1
	shift
	"$STRATACTL" -s "$T/$n.sock" "$@"
}

# demo_start NODE: starts NODE's stratad (logging to $T/NODE.log) and
# waits for its routes to sync; sets DEMO_PID[NODE]
demo_start() {
	start_stratad "$NSP-$1" "$T/$1.conf" "$T/$1.log"
	DEMO_PID[$1]=$STRATAD_PID
	wait_until 30 "$1's routes synced" _demo_synced "$1"
}

_demo_synced() {
	demo_ctl "$1" --json status | has '"routes_synced": *true'
}

# demo_pod HOST POD: a pod namespace $NSP-POD added on HOST through
# strata-cni as a runtime calls it; sets DEMO_POD_IP[POD]
demo_pod() {
	local out
	mkns "$2" >/dev/null
	out=$(CNI_COMMAND=ADD CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$NSP-$2 \
		CNI_IFNAME=eth0 CNI_PATH=$BUILDDIR \
		ip netns exec "$NSP-$1" "$BUILDDIR/strata-cni" <"$T/$1.cni.json") ||
		fail "CNI ADD of $2 on $1: $out"
	DEMO_POD_IP[$2]=$(/usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$out")
}

# demo_link_down HOST / demo_link_up HOST: HOST's uplink; up puts back
# the default route the kernel took away with the link
demo_link_down() {
	ip -n "$NSP-$1" link set eth0 down
}

demo_link_up() {
	ip -n "$NSP-$1" link set eth0 up
	ip -n "$NSP-$1" route replace default via "$(demo_gw "$1")"
}

# demo_rt_via PREFIX: the next hop(s) of rt's strata route for PREFIX
demo_rt_via() {
	ip -n "$NSP-rt" route show proto 220 | awk -v p="$1" '
		$1 == p { on = 1; for (i = 2; i < NF; i++) if ($i == "via") print $(i + 1); next }
		/^[^ \t]/ { on = 0 }
		on && $1 == "nexthop" { for (i = 2; i < NF; i++) if ($i == "via") print $(i + 1) }'
}

# metrics NS PORT [ADDR]: the /metrics exposition of the stratad in NS
metrics() {
	ip netns exec "$1" curl -sf --max-time 5 "http://${3:-127.0.0.1}:$2/metrics"
}

# metric_value SERIES < EXPOSITION: the value of the series written exactly
# as the exposition has it (strata_ prefix, labels in order); fails if absent
metric_value() {
	awk -v s="$1" 'index($0, s " ") == 1 { print $NF; f = 1 } END { exit !f }'
}

# metric_ge NS PORT SERIES MIN: the series is at least MIN
metric_ge() {
	local v
	v=$(metrics "$1" "$2" | metric_value "$3") || return 1
	awk -v v="$v" -v m="$4" 'BEGIN { exit !(v + 0 >= m + 0) }'
}

# metric_is NS PORT SERIES VALUE: the series has exactly VALUE
metric_is() {
	local v
	v=$(metrics "$1" "$2" | metric_value "$3") || return 1
	[ "$v" = "$4" ]
}
