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

IPAM_EXTRA='block_length = 24; cooldown = "1s";' cni_node crashnet
host=$NODE

/usr/bin/python3 "$here/cni_crash.py" --ops "$OPS" --kills "$KILLS" \
	--host-ns "$host" --ns-prefix "$NSP-p" --stratad "$STRATAD" \
	--stratactl "$STRATACTL" --conf "$T/node.conf" --ctl "$T/ctl.sock" \
	--cni "$BUILDDIR/strata-cni" --net "$T/net.json" --log "$T/stratad.log" ||
	{ tail -n 40 "$T/stratad.log" >&2; fail "crash test"; }
ok "crash test: $OPS operations, $KILLS kills"
