#!/bin/bash
# strata's demo, as root on a fresh Debian 12 machine: installs what it
# needs, builds, and runs stratad on one "host" (a network namespace) with
# the in-tree plugins, then shows what stratactl sees, and cleans up.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${STRATA_BUILD:-$top/build/demo}
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it makes network namespaces)" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing build dependencies"
"$top/scripts/deps.sh" build

step "building into $build"
(cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
(cd "$build" && "$top/configure" -q && make -s -j"$(nproc)") >"$build.log" 2>&1 ||
	{ tail -n 40 "$build.log"; exit 1; }

tmp=$(mktemp -d /tmp/strata-demo.XXXXXX)
ns="strata-demo-$$"
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

step "a host: network namespace $ns with an uplink"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add uplink type veth peer name uplink-peer
ip -n "$ns" addr add 10.0.1.10/24 dev uplink
ip -n "$ns" link set uplink up
ip -n "$ns" link set uplink-peer up

cat >"$tmp/stratad.conf" <<CONF
log = { level = "info"; };
control = { socket = "$tmp/stratad.sock"; };
store = { url = "$tmp/store.db"; };
routes = { resync_interval = "10s"; };
node = { name = "demo-host"; zone = "zone-a"; subnet = "subnet-1"; address = "10.0.1.10"; };
plugin_dir = "$build/.libs";
plugins = (
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; }
);
CONF
step "stratad -t checks the configuration"
"$build/stratad" -t -c "$tmp/stratad.conf"

step "the plugin, as the loader's checking child sees it"
"$build/stratad" --plugin-info "$build/.libs/advertiser-static.so"

step "starting stratad in $ns"
ip netns exec "$ns" "$build/stratad" -c "$tmp/stratad.conf" 2>"$tmp/stratad.log" &
pid=$!
for _ in $(seq 100); do
	"$build/stratactl" -s "$tmp/stratad.sock" version >/dev/null 2>&1 && break
	sleep 0.1
done
ctl() { echo "\$ stratactl $*"; "$build/stratactl" -s "$tmp/stratad.sock" "$@"; echo; }
ctl status
ctl plugins
ctl facts
ctl routes

step "reload (SIGHUP) and stop (SIGTERM: routes stay in place)"
kill -HUP "$pid"
sleep 0.5
kill -TERM "$pid"
wait "$pid" && pid=""
cat "$tmp/stratad.log"
step "done"
