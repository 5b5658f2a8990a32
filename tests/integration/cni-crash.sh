#!/bin/bash
# Crash safety of the CNI front end: stratad is killed with SIGKILL at
# random moments (tens of times) while pods come and go through
# strata-cni, and restarted each time, as systemd would. Afterwards, once
# the runtime has retried its DELs and run GC: no address is held by two
# pods, the IPAM holds exactly the live pods' addresses, no pod veth is
# left without a pod, and every live pod answers a ping from its node.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

OPS=${STRATA_CRASH_OPS:-1000}
KILLS=${STRATA_CRASH_KILLS:-30}

host=$(mkns host)
net=$(mkns net)
# the node's uplink: the pods' gateway 169.254.1.1 is answered by proxy
# ARP only for a node that routes it elsewhere, as every real node does
ip -n "$net" link add up0 type veth peer name eth0 netns "$host"
ip -n "$net" addr add 10.80.0.254/24 dev up0
ip -n "$net" link set up0 up
ip -n "$host" addr add 10.80.0.1/24 dev eth0
ip -n "$host" link set eth0 up
ip -n "$host" route add default via 10.80.0.254

cat >"$T/host.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "host"; zone = "z"; subnet = "s"; address = "10.80.0.1"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; block_length = 24; cooldown = "1s"; }; },
  { instance = "cni"; file = "frontend-cni.so"; config = { socket = "$T/cni.sock"; }; },
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; }
);
CONF
cat >"$T/net.json" <<JSON
{ "cniVersion": "1.1.0", "name": "crashnet", "type": "strata-cni",
  "socket": "$T/cni.sock", "timeout": 10 }
JSON

/usr/bin/python3 "$here/cni_crash.py" --ops "$OPS" --kills "$KILLS" \
	--host-ns "$host" --ns-prefix "$NSP-p" --stratad "$STRATAD" \
	--stratactl "$STRATACTL" --conf "$T/host.conf" --ctl "$T/ctl.sock" \
	--cni "$BUILDDIR/strata-cni" --net "$T/net.json" --log "$T/stratad.log" ||
	{ tail -n 40 "$T/stratad.log" >&2; fail "crash test"; }
ok "crash test: $OPS operations, $KILLS kills"
