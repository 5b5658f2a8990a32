# Shared by the benchmarks that run etcd members (sourced): each member in
# its own network namespace on a bridge in a hub namespace, the clients in
# another ("cl", run there with inc); fast election flags; data on tmpfs;
# members stopped by pid; every namespace removed on exit. Set BENCH_NAME
# (for messages) and NSP (the namespaces' prefix) first; a function
# bench_exit_hook, if defined, runs first on exit.
# shellcheck shell=bash

ETCD=$(command -v etcd) || { echo "$BENCH_NAME: etcd not found (apt-get install etcd-server)" >&2; exit 1; }
T=$(mktemp -d "/var/tmp/strata-$BENCH_NAME.XXXXXX")
PORT=2379
PEER=2380
declare -A PID
mounted=

cleanup() {
	local rc=$? p ns
	set +e
	declare -F bench_exit_hook >/dev/null && bench_exit_hook
	for p in "${PID[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PID[@]}"; do
		gone "$p"
	done
	for ns in $(ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns"
	done
	[ -n "$mounted" ] && { umount "$T/data" || umount -l "$T/data"; }
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

# gone PID: wait (up to 10 s) until it has exited
gone() {
	for _ in $(seq 1000); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	echo "$BENCH_NAME: process $1 still there" >&2
}

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

mkdir -p "$T/data"
mount -t tmpfs -o size=1g tmpfs "$T/data"
mounted=1

mkns() {
	ip netns add "$NSP-$1"
	ip -n "$NSP-$1" link set lo up
}

mkns hub
ip -n "$NSP-hub" link add br0 type bridge
ip -n "$NSP-hub" link set br0 up

# join NAME ADDR: a namespace on the bridge, made inside the hub
join() {
	mkns "$1"
	ip -n "$NSP-hub" link add "v$$-$1" type veth peer name eth0 netns "$NSP-$1"
	ip -n "$NSP-hub" link set "v$$-$1" master br0 up
	ip -n "$NSP-$1" addr add "$2/24" dev eth0
	ip -n "$NSP-$1" link set eth0 up
}

join cl 10.78.0.100
CL=$NSP-cl
inc() {
	ip netns exec "$CL" "$@"
}

# start NAME ADDR CLUSTER TOKEN: a member, in namespace NAME (a restart
# reuses its data)
start() {
	local name=$1 addr=$2
	! ip netns exec "$NSP-$name" ss -Htln "src $addr:$PORT" | grep -q . ||
		die "port $PORT busy in $NSP-$name"
	! ip netns exec "$NSP-$name" ss -Htln "src $addr:$PEER" | grep -q . ||
		die "port $PEER busy in $NSP-$name"
	ip netns exec "$NSP-$name" "$ETCD" --name "$name" \
		--data-dir "$T/data/$name" \
		--listen-client-urls "http://$addr:$PORT" \
		--advertise-client-urls "http://$addr:$PORT" \
		--listen-peer-urls "http://$addr:$PEER" \
		--initial-advertise-peer-urls "http://$addr:$PEER" \
		--initial-cluster "$3" --initial-cluster-state new \
		--initial-cluster-token "$4" \
		--heartbeat-interval 10 --election-timeout 100 \
		--logger zap --log-outputs stderr >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	# no job notice when it is killed; the shell still reaps it
	disown "${PID[$name]}"
}

stop() {
	kill -KILL "${PID[$1]}" 2>/dev/null || true
	gone "${PID[$1]}"
	unset "PID[$1]"
}

# writable ADDR...: a write through each, within 20 s
writable() {
	local a ok
	for a in "$@"; do
		ok=
		for _ in $(seq 200); do
			if inc curl -sf -m 1 -X POST -H 'Grpc-Metadata-hasleader: true' \
				-d '{"key":"cmVhZHk=","value":"MQ=="}' \
				"http://$a:$PORT/v3/kv/put" >/dev/null 2>&1; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[ -n "$ok" ] || die "$a not writable within 20 s"
	done
}

# leader ADDR...: the address of the member that says it leads
leader() {
	local a s
	for a in "$@"; do
		s=$(inc curl -sf -m 1 -X POST -d '{}' \
			"http://$a:$PORT/v3/maintenance/status") || continue
		if [ "$(jq -r '.leader' <<<"$s")" = "$(jq -r '.header.member_id' <<<"$s")" ]; then
			echo "$a"
			return 0
		fi
	done
	return 1
}

# field LINE N
field() {
	echo "$1" | cut -d' ' -f"$2"
}
