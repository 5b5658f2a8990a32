#!/bin/bash
# Acknowledged compare-and-swap writes per second, 1 and 64 in flight: the
# embedded store (SQLite) against etcd 3.4 (Debian's etcd-server, one
# member) over its v3 JSON gateway, same workload, same concurrency, data
# on the same disk, same run. etcd runs in a network namespace made here,
# on that namespace's own loopback address.
# Needs root, iproute2, etcd-server; BUILDDIR with bench/store-cas built
# (make bench/store-cas). Env: SECONDS_EACH (default 5), BENCH_DIR (where
# the data goes; default /var/tmp).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BENCH=$BUILDDIR/bench/store-cas
SECS=${SECONDS_EACH:-5}
[ -x "$BENCH" ] || make -s -C "$BUILDDIR" bench/store-cas || { echo "store-cas.sh: cannot build $BENCH" >&2; exit 1; }
command -v etcd >/dev/null || { echo "store-cas.sh: etcd not found (apt-get install etcd-server)" >&2; exit 1; }

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/strata-bench.XXXXXX")
NS=strata-bench-$$
etcd_pid=

cleanup() {
	local rc=$?
	if [ -n "$etcd_pid" ]; then
		kill -KILL "$etcd_pid" 2>/dev/null || true
		wait "$etcd_pid" 2>/dev/null || true
	fi
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
E=http://127.0.0.1:23790

ip netns exec "$NS" etcd --name n0 --data-dir "$T/etcd" \
	--listen-client-urls $E --advertise-client-urls $E \
	--listen-peer-urls http://127.0.0.1:23800 \
	--initial-advertise-peer-urls http://127.0.0.1:23800 \
	--initial-cluster n0=http://127.0.0.1:23800 \
	--initial-cluster-state new --initial-cluster-token strata-bench \
	--heartbeat-interval 10 --election-timeout 100 \
	--logger zap --log-outputs stderr >"$T/etcd.log" 2>&1 &
etcd_pid=$!

ready=
for _ in $(seq 1 150); do
	if ip netns exec "$NS" curl -s -m 1 -X POST $E/v3/kv/put \
		-d '{"key":"cmVhZHk=","value":"MQ=="}' 2>/dev/null | grep -q revision; then
		ready=1
		break
	fi
	kill -0 "$etcd_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$ready" ] || { tail -n 20 "$T/etcd.log" >&2; echo "store-cas.sh: etcd did not start" >&2; exit 1; }

run() {
	ip netns exec "$NS" "$BENCH" "$@" "$SECS"
}

echo "# backend inflight cas/s p50_ms p99_ms ($SECS s each, data in $T)"
e1=$(run etcd $E 1)
echo "$e1"
e64=$(run etcd $E 64)
echo "$e64"
s1=$(run sqlite "$T/strata-1.db" 1)
echo "$s1"
s64=$(run sqlite "$T/strata-64.db" 64)
echo "$s64"

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'
}
r1=$(ratio "$(echo "$s1" | cut -d' ' -f3)" "$(echo "$e1" | cut -d' ' -f3)")
r64=$(ratio "$(echo "$s64" | cut -d' ' -f3)" "$(echo "$e64" | cut -d' ' -f3)")
echo "ratio strata/etcd: ${r1}x at 1 in flight (goal >= 1), ${r64}x at 64 in flight (goal >= 10)"
