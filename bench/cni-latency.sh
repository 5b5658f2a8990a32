#!/bin/bash
# CNI ADD and DEL latency, p50 and p99, of strata-cni (with stratad, the
# topology IPAM on the embedded store, the frontend-cni plugin) against
# Debian's reference chain ptp + host-local, side by side in one run, in
# the same namespaces, by the same driver: 100 pods one at a time, then
# 100 pods 2 at a time. Goals: strata ADD under 0.35x the reference at
# p50 and p99; strata DEL within 1.1x of a bare `ip link del` of a veth
# measured in the same run (the kernel's veth deletion dominates DEL).
# As root; needs BUILDDIR (a built tree) and /usr/lib/cni (scripts/deps.sh
# bench installs containernetworking-plugins). Env: PODS (default 100),
# BENCH_DIR (the store's directory; default /var/tmp).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
PODS=${PODS:-100}
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
[ -x "$CNI_DIR/ptp" ] || { echo "cni-latency.sh: $CNI_DIR/ptp missing (scripts/deps.sh bench)" >&2; exit 1; }

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/strata-bench.XXXXXX")
NSP="stb$$"
pid=""
cleanup() {
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

host=$NSP-host
net=$NSP-net
ip netns add "$host"
ip netns add "$net"
ip -n "$host" link set lo up
ip -n "$net" link add up0 type veth peer name eth0 netns "$host"
ip -n "$net" addr add 10.80.0.254/24 dev up0
ip -n "$net" link set up0 up
ip -n "$host" addr add 10.80.0.1/24 dev eth0
ip -n "$host" link set eth0 up
ip -n "$host" route add default via 10.80.0.254

cat >"$T/stratad.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "host"; zone = "z"; subnet = "s"; address = "10.80.0.1"; };
plugin_dir = "$BUILDDIR/.libs";
log = { level = "warning"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so"; config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "cni"; file = "frontend-cni.so"; config = { socket = "$T/cni.sock"; }; },
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; }
);
CONF
ip netns exec "$host" "$BUILDDIR/stratad" -c "$T/stratad.conf" 2>"$T/stratad.log" &
pid=$!
for _ in $(seq 100); do
	"$BUILDDIR/stratactl" -s "$T/ctl.sock" version >/dev/null 2>&1 && break
	sleep 0.1
done

ip netns exec "$host" /usr/bin/python3 "$here/cni_latency.py" --pods "$PODS" \
	--ns-prefix "$NSP-p" --strata "$BUILDDIR/strata-cni" --socket "$T/cni.sock" \
	--cni-dir "$CNI_DIR" --data "$T/host-local"
