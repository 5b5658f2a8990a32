#!/bin/bash
# Pod address allocate + release pairs per second: the topology IPAM
# allocator in memory (goal > 1,000,000/s), then the real plugin with its
# durable store writes (the embedded store, synchronous=FULL) at 1 and 64
# in flight, and side by side in the same run the CNI reference host-local
# IPAM (Debian's containernetworking-plugins), exec'd per ADD and DEL as a
# runtime does, one pod at a time and 8 at a time (goal: strata durable
# >= 10x host-local). host-local never fsyncs its files; strata's writes
# are synced before a request completes.
# Run by hand like the other benches (as root; nothing here needs more
# than the temp dir it makes). Needs /usr/lib/cni/host-local and BUILDDIR
# with bench/ipam-alloc built (make bench/ipam-alloc).
# Env: SECONDS_EACH (default 3), BENCH_DIR (where the data goes; default
# /var/tmp), HOST_LOCAL (default /usr/lib/cni/host-local),
# STRATA_BENCH_SEED (the memory mode's releases).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
BENCH=$BUILDDIR/bench/ipam-alloc
SECS=${SECONDS_EACH:-3}
HL=${HOST_LOCAL:-/usr/lib/cni/host-local}
[ -x "$BENCH" ] || { echo "ipam-alloc.sh: $BENCH missing: make -C $BUILDDIR bench/ipam-alloc" >&2; exit 1; }
[ -x "$HL" ] || { echo "ipam-alloc.sh: $HL missing (scripts/deps.sh bench installs containernetworking-plugins)" >&2; exit 1; }

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo "# mode inflight pairs/s pairs store_writes writes/pair ($SECS s each, data in $T)"
mem=$("$BENCH" memory "$SECS")
echo "$mem"
s1=$("$BENCH" durable "$T/strata-1.db" 1 "$SECS")
echo "$s1"
s64=$("$BENCH" durable "$T/strata-64.db" 64 "$SECS")
echo "$s64"
h1=$("$BENCH" host-local "$HL" "$T/host-local-1" 1 "$SECS")
echo "$h1"
h8=$("$BENCH" host-local "$HL" "$T/host-local-8" 8 "$SECS")
echo "$h8"

rate() {
	echo "$1" | cut -d' ' -f3
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'
}
verdict() {
	awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b ? "met" : "MISSED") }'
}
r1=$(ratio "$(rate "$s1")" "$(rate "$h1")")
r64=$(ratio "$(rate "$s64")" "$(rate "$h8")")
echo "memory: $(rate "$mem") pairs/s (goal > 1000000: $(verdict "$(rate "$mem")" 1000001))"
echo "ratio strata durable/host-local: ${r1}x one at a time (goal >= 10: $(verdict "$r1" 10)), ${r64}x at 64 vs 8 in flight (goal >= 10: $(verdict "$r64" 10))"
