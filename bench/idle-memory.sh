#!/bin/bash
# stratad's private (anonymous) memory when idle with the in-tree plugins
# loaded, from /proc/PID/smaps_rollup. Goal: under 8 MiB. RSS and PSS are
# printed for reference only: libcurl and OpenSSL alone map about 10 MiB of
# shared pages, which are not stratad's cost.
# Usage (root): BUILDDIR=build/default bench/idle-memory.sh
set -euo pipefail
: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
settle=${SETTLE_SECONDS:-3}

tmp=$(mktemp -d /tmp/strata-bench.XXXXXX)
ns="strata-bench-$$"
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

plugins=""
for so in "$BUILDDIR"/.libs/*.so; do
	name=$(basename "$so" .so)
	plugins="$plugins { instance = \"$name\"; file = \"$so\"; },"
done
cat >"$tmp/stratad.conf" <<CONF
control = { socket = "$tmp/stratad.sock"; };
store = { url = "$tmp/store.db"; };
node = { name = "bench"; };
plugins = ( ${plugins%,} );
CONF

ip netns exec "$ns" "$BUILDDIR/stratad" -c "$tmp/stratad.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
	"$BUILDDIR/stratactl" -s "$tmp/stratad.sock" version >/dev/null 2>&1 && break
	sleep 0.1
done
sleep "$settle"
"$BUILDDIR/stratactl" -s "$tmp/stratad.sock" status >/dev/null

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/smaps_rollup"; }
anon=$(kb Anonymous)
priv=$(( $(kb Private_Clean) + $(kb Private_Dirty) ))
echo "stratad idle, plugins: $(ls "$BUILDDIR"/.libs/*.so | xargs -n1 basename | tr '\n' ' ')"
echo "anonymous:      ${anon} KiB  (goal < 8192 KiB; ratio to goal $(awk -v a="$anon" 'BEGIN { printf "%.2f", a / 8192 }'))"
echo "private total:  ${priv} KiB  (includes private file-backed pages)"
echo "rss:            $(kb Rss) KiB, pss: $(kb Pss) KiB  (shared libraries; not the measure)"
