#!/bin/bash
# Election (core/election.c) on etcd: a 3-member cluster and three
# candidates (tests/store/storetool elect), each in its own network
# namespace on a bridge. The acting leader is SIGKILLed several times
# (a fresh candidate takes its place): another takes over within a few
# lease times. Then the etcd leader member is SIGKILLed while a candidate
# leads, and the acting leader once more on the two members left. All
# along, each candidate logs every act (every 2 ms while leader, by the
# shared boot clock); `storetool elect-verify` proves no two terms ever
# acted at once. Data on tmpfs; members and candidates stopped by pid. No
# etcd: skipped, but a failure under CI=true.
. "$(dirname "$0")/lib.sh"

TOOL=${STORETOOL:-$BUILDDIR/tests/store/storetool}
[ -x "$TOOL" ] || fail "$TOOL not built (make check builds it)"
etcd_env 512m

on_exit_hook() {
	[ "$1" = 0 ] && return
	[ -f "$T/elect.err" ] && tail -n 20 "$T/elect.err"
	tail -n 5 "$T/elect.log" 2>/dev/null || true
}

PORT=2379
PEER=2380
CLIENT=$(join cl 10.83.0.100)
incl() {
	ip netns exec "$CLIENT" "$@"
}
etcd_cluster3 10.83.0 etcd-elect

# ---- three candidates, each listing the members from another first ----
LOG=$T/elect.log
TTL=1000 # etcd keeps whole seconds
: >"$LOG"
declare -A CAND CNS
for i in 1 2 3; do
	CNS[$i]=$(join "c$i" "10.83.0.2$i")
done
# start_cand ID SLOT: in candidate slot SLOT's namespace
start_cand() {
	local eps="" k m
	for k in 0 1 2; do
		m=$((($2 - 1 + k) % 3 + 1))
		eps="$eps${eps:+,}http://10.83.0.$m:$PORT"
	done
	ip netns exec "${CNS[$2]}" "$TOOL" elect "etcd:$eps" "$1" "$TTL" \
		"$LOG" 2>>"$T/elect.err" &
	CAND[$1]=$!
	disown "${CAND[$1]}"
	track "${CAND[$1]}"
}
stop_cand() {
	kill -KILL "${CAND[$1]}" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "${CAND[$1]}" 2>/dev/null || break
		sleep 0.02
	done
	untrack "${CAND[$1]}"
	unset "CAND[$1]"
}
# who acted last, once the log's last act is theirs
current_leader() {
	tail -n 1 "$LOG" | awk '$1 !~ /^#/ { print $1 }'
}
# wait_leader_other_than ID SECONDS: prints the new one
wait_leader_other_than() {
	local id
	for _ in $(seq $(($2 * 20))); do
		id=$(current_leader)
		if [ -n "$id" ] && [ "$id" != "$1" ]; then
			echo "$id"
			return 0
		fi
		sleep 0.05
	done
	return 1
}
declare -A SLOT
for i in 1 2 3; do
	start_cand "c$i" "$i"
	SLOT[c$i]=$i
done
leader=$(wait_leader_other_than none 20) || fail "no leader elected"
echo "first leader: $leader"

# kill_leader ROUND: SIGKILL the acting leader; another takes over; a fresh
# candidate takes the dead one's namespace
next=4
kill_leader() {
	local t0 new took
	sleep 0.5
	t0=$(date +%s%N)
	stop_cand "$leader"
	new=$(wait_leader_other_than "$leader" 15) ||
		fail "no new leader after killing $leader"
	took=$((($(date +%s%N) - t0) / 1000000))
	# not before the lease could have ended
	[ "$took" -ge $((TTL / 2)) ] || fail "takeover after ${took} ms, lease is $TTL ms"
	echo "$1: killed $leader, $new took over in ${took} ms"
	start_cand "c$next" "${SLOT[$leader]}"
	SLOT[c$next]=${SLOT[$leader]}
	next=$((next + 1))
	leader=$new
}
for round in 1 2 3; do
	kill_leader "round $round"
done
ok "the acting leader killed 3 times: another took over each time"

# ---- the etcd leader member killed while a candidate leads ----
lead=$(etcd_leader) || fail "no etcd leader"
acting=$(current_leader)
sleep 0.3
t0=$(date +%s%N)
kill -KILL "${MEMBER_PID[$lead]}"
untrack "${MEMBER_PID[$lead]}"
unset "MEMBER_PID[$lead]"
wait_until 10 "a new etcd leader" etcd_leader
# someone acts again (the same candidate, or another after its lease)
acts_after() {
	local last
	last=$(tail -n 1 "$LOG" | awk '$1 !~ /^#/ { print $3 }')
	[ -n "$last" ] && [ "$last" -gt "$1" ]
}
sleep 1
boot0=$(awk '{ printf "%d", $1 * 1e9 }' /proc/uptime)
wait_until 15 "a candidate acting after the etcd leader's death" acts_after "$boot0"
took=$((($(date +%s%N) - t0) / 1000000))
leader=$(current_leader)
echo "etcd leader $lead killed while $acting acted; $leader acting again, checked ${took} ms after the kill"
kill_leader "on two members"
ok "etcd leader member killed while $acting led: a candidate acts again; the acting leader killed once more"

sleep 0.5
for c in "${!CAND[@]}"; do
	stop_cand "$c"
done
"$TOOL" elect-verify "$LOG" >"$T/elect.verify" 2>&1 || fail "$(cat "$T/elect.verify")"
ok "election on etcd: $(cat "$T/elect.verify")"
