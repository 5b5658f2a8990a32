#!/bin/bash
# The start-up barrier: stratad restarted (after SIGTERM, and after kill -9)
# under live routes removes none of them until every owner has re-stated
# its routes; then it removes only the strata routes nobody wants.
. "$(dirname "$0")/lib.sh"

ns=$(mkns host)
ip -n "$ns" link add uplink type veth peer name uplink-peer
ip -n "$ns" addr add 10.0.0.1/24 dev uplink
ip -n "$ns" link set uplink up
ip -n "$ns" link set uplink-peer up

sock=$T/stratad.sock
conf() { # $1: sync delay of the owner
	cat >"$T/stratad.conf" <<CONF
control = { socket = "$sock"; };
store = { url = "$T/store.db"; };
routes = { resync_interval = "1s"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "kernel"; file = "advertiser-static.so"; },
  { instance = "pods"; file = "$FIXTUREDIR/owner-fixture.so";
    config = { routes = [ "10.9.0.0/24 via 10.0.0.2", "10.9.1.0/24 dev uplink" ];
               sync_delay = "$1"; }; }
);
CONF
}

have_all() {
	local r
	r=$(ip -n "$ns" route show proto 220)
	grep -q '10.9.0.0/24 via 10.0.0.2' <<<"$r" && grep -q '10.9.1.0/24 dev uplink' <<<"$r"
}

conf 0s
start_stratad "$ns" "$T/stratad.conf" "$T/stratad.log"
wait_until 10 "routes installed" have_all
ok "first start installed the owner's routes"

for how in TERM KILL; do
	stop_stratad "$STRATAD_PID" "$how" || true
	have_all || fail "routes gone after SIG$how"
	# a stale strata route that no owner wants any more
	ip -n "$ns" route replace 10.66.0.0/24 via 10.0.0.9 proto 220
	conf 3s
	start_stratad "$ns" "$T/stratad.conf" "$T/stratad.log"
	# the owner syncs 3 s after start; sample through that window
	start=$SECONDS
	while [ $((SECONDS - start)) -lt 2 ]; do
		have_all || fail "a live route was removed before the owner synced (SIG$how)"
		ip -n "$ns" route show proto 220 | has 10.66.0.0/24 ||
			fail "the stale route was removed before the owner synced (SIG$how)"
		"$STRATACTL" -s "$sock" --json status | has '"routes_synced": *false' ||
			fail "status claims synced before the owner did"
		sleep 0.2
	done
	ok "after SIG$how: nothing removed while the owner had not synced"
	wait_until 10 "the stale route removed after sync" sh -c "! ip -n $ns route show proto 220 | grep -q 10.66.0.0/24"
	have_all || fail "a live route was removed after sync"
	"$STRATACTL" -s "$sock" --json status | has '"routes_synced": *true' || fail "status not synced"
	ok "after SIG$how: the owner synced; only the unwanted route went"
done
echo "route-barrier: all checks passed"
