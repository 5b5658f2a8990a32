#!/bin/bash
# The embedded store under several processes:
#  1. a writer killed with SIGKILL at random points, many times, while a
#     watcher and a reader run on: after each kill every acknowledged write
#     is there, no txn is half there, the store opens and checks clean;
#  2. processes racing compare-and-swap: one winner per race, no lost update;
#  3. election: the leader is killed, another takes over after the lease,
#     and no two leaders ever act at the same instant by their own clocks.
# Needs a build with tests/store/storetool (make check builds it).
# Env: BUILDDIR (required), STORE_CRASH_ITER (kills; default 40).
set -euo pipefail

: "${BUILDDIR:?set BUILDDIR to a built strata tree}"
TOOL=${STORETOOL:-$BUILDDIR/tests/store/storetool}
ITER=${STORE_CRASH_ITER:-40}
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built (make check)" >&2; exit 1; }

T=$(mktemp -d /tmp/strata-store-it.XXXXXX)
pids=()

cleanup() {
	local rc=$? p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok: $*"
}

alive() {
	kill -0 "$1" 2>/dev/null
}

# stop PID: SIGKILL and reap; its status is not ours to judge
stop() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# --- 1. kill -9 a writer, again and again ---------------------------------
DB=$T/crash.db
ACKS=$T/acks
: >"$ACKS"
"$TOOL" check "$DB" >/dev/null
"$TOOL" watcher "$DB" 2>"$T/watcher.err" &
watcher=$!
pids+=("$watcher")
"$TOOL" reader "$DB" 2>"$T/reader.err" &
reader=$!
pids+=("$reader")

for i in $(seq 1 "$ITER"); do
	"$TOOL" writer "$DB" "$ACKS" "$i" 2>"$T/writer.err" &
	w=$!
	pids+=("$w")
	# somewhere in 20..420 ms: early ones die during open, late ones
	# with hundreds of commits behind them
	sleep "0.$(printf '%03d' $((20 + RANDOM % 400)))"
	alive "$w" || fail "writer $i died by itself: $(cat "$T/writer.err")"
	stop "$w"
	"$TOOL" verify "$DB" "$ACKS" >"$T/verify.out" 2>&1 ||
		fail "after kill $i: $(cat "$T/verify.out")"
	alive "$watcher" || fail "watcher: $(cat "$T/watcher.err")"
	alive "$reader" || fail "reader: $(cat "$T/reader.err")"
done
acked=$(wc -l <"$ACKS")
[ "$acked" -gt $((ITER * 10)) ] || fail "only $acked writes acknowledged in $ITER runs"
ok "$ITER kills: $(cat "$T/verify.out"); watcher and reader saw no torn txn"
stop "$watcher"
stop "$reader"

# --- 2. compare-and-swap races ---------------------------------------------
DB=$T/cas.db
PROCS=4
ROUNDS=${STORE_CAS_ROUNDS:-150}
"$TOOL" check "$DB" >/dev/null
cas=()
for n in $(seq 1 $PROCS); do
	"$TOOL" cas "$DB" "p$n" "$ROUNDS" >"$T/cas-out.$n" 2>&1 &
	cas+=($!)
	pids+=($!)
done
for n in $(seq 1 $PROCS); do
	wait "${cas[$((n - 1))]}" || fail "cas process $n: $(cat "$T/cas-out.$n")"
done
wins=$(awk '{ s += $3 } END { print s }' "$T"/cas-out.*)
[ "$wins" -eq "$ROUNDS" ] || fail "$wins wins in $ROUNDS races"
"$TOOL" cas-verify "$DB" $PROCS "$ROUNDS" >"$T/cas.verify" 2>&1 ||
	fail "$(cat "$T/cas.verify")"
ok "$PROCS processes, $ROUNDS races: $wins winners in all; $(cat "$T/cas.verify")"

# --- 3. election: kill the leader ------------------------------------------
DB=$T/elect.db
LOG=$T/elect.log
TTL=500
: >"$LOG"
"$TOOL" check "$DB" >/dev/null
declare -A cand
start_cand() {
	"$TOOL" elect "$DB" "$1" "$TTL" "$LOG" 2>>"$T/elect.err" &
	cand[$1]=$!
	pids+=($!)
}

# the id of whoever acted last, once an act is at most 100 ms old
current_leader() {
	tail -n 1 "$LOG" | awk '$1 !~ /^#/ { print $1 }'
}

wait_leader_other_than() {
	local old=$1 id
	for _ in $(seq 1 100); do
		id=$(current_leader)
		if [ -n "$id" ] && [ "$id" != "$old" ]; then
			echo "$id"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

for c in c1 c2 c3; do
	start_cand "$c"
done
leader=$(wait_leader_other_than none) || fail "no leader elected"
next=4
for round in 1 2 3 4; do
	sleep 0.3
	t0=$(date +%s%N)
	stop "${cand[$leader]}"
	new=$(wait_leader_other_than "$leader") ||
		fail "no new leader after killing $leader"
	took=$((($(date +%s%N) - t0) / 1000000))
	# not before the lease could have ended, not long after
	[ "$took" -ge $((TTL / 2)) ] || fail "takeover after ${took} ms, lease is $TTL ms"
	[ "$took" -le $((TTL * 4)) ] || fail "takeover took ${took} ms"
	echo "round $round: killed $leader, $new took over in ${took} ms"
	unset "cand[$leader]"
	start_cand "c$next"
	next=$((next + 1))
	leader=$new
done
sleep 0.3
for c in "${!cand[@]}"; do
	stop "${cand[$c]}"
done
"$TOOL" elect-verify "$LOG" >"$T/elect.verify" 2>&1 || fail "$(cat "$T/elect.verify")"
ok "election: $(cat "$T/elect.verify")"
