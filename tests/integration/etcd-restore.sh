#!/bin/bash
# etcd restored from an older snapshot: revisions go backwards under two
# running stratad with the topology IPAM. One etcd member (data on tmpfs)
# and two daemons, each in its own network namespace:
# - handles allocated, then `etcdctl snapshot save` (Debian's etcd-client)
#   from the running member, which is then restarted: a plain restart is
#   not taken for a restore;
# - more handles allocated (enough that each daemon claims new blocks),
#   the member stopped, its data replaced by `etcdctl snapshot restore`,
#   and started again;
# - each daemon logs the detection once (store and IPAM), and writes its
#   blocks back: every handle answered after the snapshot is in the store
#   again with the same address; new handles never collide with any
#   earlier one (tests/integration/ipam-etcd.py check).
# Members and daemons stopped by pid. No etcd: skipped, but a failure
# under CI=true.
. "$(dirname "$0")/lib.sh"

etcd_env 512m
ETCDCTL=${ETCDCTL:-$(command -v etcdctl || echo /usr/bin/etcdctl)}
if [ ! -x "$ETCDCTL" ]; then
	[ "${CI:-}" = true ] && fail "etcdctl not installed (scripts/deps.sh test installs etcd-client)"
	echo "SKIP: etcdctl not installed"
	exit 0
fi
PLUGINDIR=$(cd "$PLUGINDIR" && pwd)
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
DRIVER=$SRCDIR/tests/integration/ipam-etcd.py

on_exit_hook() {
	local f
	[ "$1" = 0 ] && return
	for f in "$T"/d*.log "$T"/s1.log; do
		[ -f "$f" ] && tail -n 20 "$f" | sed "s|^|$(basename "$f"): |"
	done
}

CLIENT=$(join cl 10.81.0.100)
incl() {
	ip netns exec "$CLIENT" "$@"
}
drv() {
	incl "$PYTHON" "$DRIVER" "$@"
}

PORT=2379
PEER=2380
S1=$(join s1 10.81.0.1)
EP=http://10.81.0.1:$PORT

# start_member DATADIR
start_member() {
	! ip netns exec "$S1" ss -Htln "src 10.81.0.1:$PORT" | has . ||
		fail "port $PORT busy"
	ip netns exec "$S1" "$ETCD" --name s1 --data-dir "$1" \
		--listen-client-urls "$EP" --advertise-client-urls "$EP" \
		--listen-peer-urls "http://10.81.0.1:$PEER" \
		--initial-advertise-peer-urls "http://10.81.0.1:$PEER" \
		--initial-cluster "s1=http://10.81.0.1:$PEER" \
		--initial-cluster-state new --initial-cluster-token restore \
		--heartbeat-interval 10 --election-timeout 100 \
		--logger zap --log-outputs stderr >>"$T/s1.log" 2>&1 &
	MEMBER_PID[s1]=$!
	disown "${MEMBER_PID[s1]}"
	track "${MEMBER_PID[s1]}"
	wait_until 20 "etcd writable" writable
}

# stop_member: SIGTERM, so the data on disk is whole
stop_member() {
	local pid=${MEMBER_PID[s1]}
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "etcd did not stop"
	untrack "$pid"
	unset "MEMBER_PID[s1]"
}

writable() {
	incl curl -sf -m 1 -X POST -H 'Grpc-Metadata-hasleader: true' \
		-d '{"key":"cmVhZHk=","value":"MQ=="}' "$EP/v3/kv/put"
}

revision() {
	incl curl -sf -m 2 -X POST -d '{"key":"AA==","count_only":true}' \
		"$EP/v3/kv/range" | jq -r .header.revision
}

start_member "$T/data/s1"

SOCKS=()
declare -A DPID
for i in 1 2; do
	d=d$i
	ns=$(join "$d" "10.81.0.1$i")
	cat >"$T/$d.conf" <<CONF
log = { level = "info"; };
control = { socket = "$T/$d.sock"; };
store = { url = "etcd:$EP"; prefix = "er/"; };
node = { name = "$d"; zone = "z1"; subnet = "s1"; address = "10.81.0.1$i"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/14" ]; levels = [ "zone:2", "subnet:2" ]; }; }
);
CONF
	start_stratad "$ns" "$T/$d.conf" "$T/$d.log"
	DPID[$d]=$STRATAD_PID
	SOCKS+=("$d=$T/$d.sock")
done
ready() {
	"$STRATACTL" -s "$T/$1.sock" --json plugins | has '"state": *"ready"'
}
for d in d1 d2; do
	wait_until 20 "$d's IPAM ready" ready "$d"
done
check() {
	drv check "$EP" er/ "${SOCKS[@]}" -- "$@"
}
alloc() { # FILE TAG COUNT: every answer an address
	local out
	out=$(drv alloc "$1" "$2" "$3" 4 "${SOCKS[@]}") || fail "$2: $out"
	grep -q "^alloc $3: $3 ok" <<<"$out" || fail "$2: $out"
	echo "$out"
}

# ---- before the snapshot ----
alloc "$T/pre.jsonl" pre 40
check "$T/pre.jsonl" || fail "before the snapshot"

# ---- the snapshot; a plain restart is not a restore ----
incl env ETCDCTL_API=3 "$ETCDCTL" --endpoints "$EP" snapshot save "$T/snap.db" \
	>>"$T/etcdctl.log" 2>&1 || fail "etcdctl snapshot save: $(tail -n 3 "$T/etcdctl.log")"
stop_member
start_member "$T/data/s1"
rev_snap=$(revision)
alloc "$T/post.jsonl" post 200
rev_lost=$(revision)
grep -q "went backwards" "$T/d1.log" "$T/d2.log" &&
	fail "an etcd restart taken for a restore: $(grep -h "went backwards" "$T"/d?.log)"
check "$T/pre.jsonl" "$T/post.jsonl" || fail "after the snapshot"
ok "200 handles after the snapshot (revision $rev_snap to $rev_lost); an etcd restart is not taken for a restore"

# ---- restored from the snapshot ----
stop_member
rm -rf "$T/data/s1"
ETCDCTL_API=3 "$ETCDCTL" snapshot restore "$T/snap.db" --name s1 \
	--data-dir "$T/data/s1" --initial-cluster-token restore \
	--initial-cluster "s1=http://10.81.0.1:$PEER" \
	--initial-advertise-peer-urls "http://10.81.0.1:$PEER" \
	>>"$T/etcdctl.log" 2>&1 || fail "etcdctl snapshot restore: $(tail -n 3 "$T/etcdctl.log")"
t0=$(date +%s.%N)
start_member "$T/data/s1"
rev_restored=$(revision)
[ "$rev_restored" -lt "$rev_lost" ] ||
	fail "the restored member is at revision $rev_restored, not below $rev_lost"
detected() {
	grep -q "the store went back to revision" "$T/$1.log"
}
for d in d1 d2; do
	wait_until 30 "$d to find the store restored" detected "$d"
done
# every handle answered before, in the store again with its address
restored() {
	check "$T/pre.jsonl" "$T/post.jsonl"
}
wait_until 30 "the daemons' blocks written back" restored
t1=$(date +%s.%N)
out=$(check "$T/pre.jsonl" "$T/post.jsonl") || fail "after the restore: $out"
echo "$out"
echo "restored at revision $rev_restored (had $rev_lost): blocks back in the store $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after etcd started"
ok "etcd restored from an older snapshot: every address answered after it is in the store again"

# ---- new handles never collide with any earlier one ----
alloc "$T/after.jsonl" after 200
out=$(check "$T/pre.jsonl" "$T/post.jsonl" "$T/after.jsonl") ||
	fail "after the restore, new handles: $out"
echo "$out"
for d in d1 d2; do
	n=$(grep -c "revision went backwards" "$T/$d.log" || true)
	[ "$n" = 1 ] || fail "$d: the store logged the restore $n times"
	n=$(grep -c "the store went back to revision" "$T/$d.log" || true)
	[ "$n" = 1 ] || fail "$d: the IPAM logged the restore $n times"
	grep -h "went back" "$T/$d.log" | sed "s/^/$d: /"
done
ok "200 new handles after the restore: none collides with an earlier one; each daemon logged the restore once"

for d in d1 d2; do
	stop_stratad "${DPID[$d]}" || fail "$d exited with an error"
done
