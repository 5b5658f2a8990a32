#!/bin/bash
# Health-checked forwarders in the demo topology (scripts/demo.sh): each
# subnet's cloud route on the router rt points at one forwarder; hosts
# probe each other with the icmp checker and the route writer moves a
# route off a forwarder a quorum of its observers sees down. Checked: the
# intent and rt's kernel routes; a forwarder's link down moves its
# subnet's route and traffic flows again; fail-back "stay" then "return"
# (changed by SIGHUP); one observer alone moves nothing; a whole subnet
# down keeps its route and raises an alarm; the writer SIGKILLed during
# a failover; drain and undrain. Outcomes with bounded deadlines, never
# timings (bench/failover.sh measures those).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

HEALTH_BASE='checker = "icmp"; interval = "200ms"; fall = 2; rise = 2;
  writer_lease = "3s";'
DEMO_HEALTH=$HEALTH_BASE
via=a1 # the node whose stratactl answers the health questions

on_exit() {
	local rc=$? n
	set +e
	if [ "$rc" != 0 ]; then
		echo "--- health (from $via)"
		demo_ctl "$via" --json health
		echo "--- rt's routes"
		ip -n "$NSP-rt" route show
		for n in rt $DEMO_HOSTS; do
			echo "--- $n.log (tail)"
			tail -n 30 "$T/$n.log"
		done
	fi
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

# hq QUERY ARGS...: a question of failover.py about the health view
hq() {
	demo_ctl "$via" --json health >"$T/health.json" 2>"$T/health.err" ||
		return 1
	/usr/bin/python3 "$here/failover.py" "$T/health.json" "$@"
}

# rt_is PREFIX HOST: rt's kernel route for PREFIX goes via HOST alone
rt_is() {
	[ "$(demo_rt_via "$1")" = "${DEMO_ADDR[$2]}" ]
}

intent_is() { # PREFIX HOST
	[ "$(hq host "$1")" = "$2" ]
}

state_is() { # HOST STATE
	[ "$(hq state "$1")" = "$2" ]
}

other() { # HOST: the other host of its subnet
	case $1 in a1) echo a2 ;; a2) echo a1 ;; b1) echo b2 ;; b2) echo b1 ;; esac
}

# reach SRC_PODS -- DST_PODS: every pair answers one ping
reach() {
	local s d pids=() rc=0
	local -a src dst
	while [ "$1" != -- ]; do src+=("$1"); shift; done
	shift
	dst=("$@")
	for s in "${src[@]}"; do
		for d in "${dst[@]}"; do
			ip netns exec "$NSP-$s" ping -c 1 -W 1 -q "${DEMO_POD_IP[$d]}" \
				>/dev/null 2>&1 &
			pids+=($!)
		done
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	return "$rc"
}

# hold SECONDS DESCRIPTION COMMAND...: COMMAND stays true throughout
hold() {
	local secs=$1 what=$2
	shift 2
	for _ in $(seq $((secs * 5))); do
		"$@" >/dev/null 2>&1 || fail "$what stopped holding"
		sleep 0.2
	done
}

steady() {
	hq steady 3
}

# reload_health HEALTH: rewrites every config, SIGHUP to each stratad
reload_health() {
	local n
	DEMO_HEALTH=$1
	for n in rt $DEMO_HOSTS; do
		demo_conf "$n"
		[ -n "${DEMO_PID[$n]:-}" ] && kill -HUP "${DEMO_PID[$n]}"
	done
}

demo_net
for n in rt $DEMO_HOSTS; do demo_conf "$n"; done
"$STRATAD" -t -c "$T/a1.conf" >/dev/null || fail "stratad -t rejects a1.conf"
for n in $DEMO_HOSTS rt; do demo_start "$n"; done
for n in $DEMO_HOSTS; do demo_pod "$n" "p$n"; done
A_PODS="pa1 pa2"
B_PODS="pb1 pb2"

# 1. the intent, rt's kernel routes, traffic
wait_until 30 "a writer and every target up with 3 live observers" steady
read -r PA FA < <(hq route subnet-a) || fail "no route for subnet-a: $(cat "$T/health.json")"
read -r PB FB < <(hq route subnet-b) || fail "no route for subnet-b"
[ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["routes"]))' \
	"$T/health.json")" = 2 ] || fail "not one route per subnet: $(cat "$T/health.json")"
wait_until 20 "rt's route $PA via $FA" rt_is "$PA" "$FA"
wait_until 20 "rt's route $PB via $FB" rt_is "$PB" "$FB"
# shellcheck disable=SC2086
wait_until 20 "B pods reaching A pods" reach $B_PODS -- $A_PODS
demo_ctl "$via" health >"$T/health.txt" || fail "stratactl health"
grep -q "route writer $(hq writer)" "$T/health.txt" && grep -q "$PA *$FA" "$T/health.txt" ||
	fail "stratactl health does not show the writer and $PA -> $FA: $(cat "$T/health.txt")"
ok "intent: writer $(hq writer), $PA -> $FA, $PB -> $FB; rt follows; B pods reach A pods"

# 2. a forwarder's link down
SA=$(other "$FA")
demo_link_down "$FA"
wait_until 20 "$FA seen down" state_is "$FA" down
wait_until 20 "$PA moved to $SA in the intent" intent_is "$PA" "$SA"
wait_until 20 "rt's route $PA moved to $SA" rt_is "$PA" "$SA"
# shellcheck disable=SC2086
wait_until 20 "B pods reaching p$SA" reach $B_PODS -- "p$SA"
ok "$FA's link down: $PA moved to $SA; B pods reach the pods behind $SA"

# 3. fail-back: "stay", then "return" after a SIGHUP
demo_link_up "$FA"
wait_until 20 "$FA seen up again" state_is "$FA" up
hold 3 "$PA staying on $SA (failback stay)" rt_is "$PA" "$SA"
intent_is "$PA" "$SA" || fail "the intent moved $PA back under failback stay"
ok "failback stay: $PA stays on $SA after $FA is up"
reload_health "$HEALTH_BASE failback = \"return\"; hold_down = \"2s\";"
wait_until 30 "$PA back on $FA (failback return)" rt_is "$PA" "$FA"
# shellcheck disable=SC2086
wait_until 20 "B pods reaching every A pod" reach $B_PODS -- $A_PODS
# a route that never left a failed host has nowhere to return to
hold 3 "$PB staying on $FB (it never failed)" rt_is "$PB" "$FB"
intent_is "$PB" "$FB" || fail "failback return moved $PB, whose host never failed"
ok "failback return (by SIGHUP): $PA back on $FA, $PB stays on $FB"
reload_health "$HEALTH_BASE failback = \"stay\";"
wait_until 20 "steady after the reload" steady

# 4. one observer alone reporting down moves nothing
obs=""
for o in $(hq observers "$FA"); do
	[ "$o" = rt ] && continue
	[ -z "$obs" ] && obs=$o
	# one of the other subnet's, its blackhole touches no route of A
	[ "$(demo_subnet "$o")" != "$(demo_subnet "$FA")" ] && { obs=$o; break; }
done
[ -n "$obs" ] || fail "$FA has no host observer: $(cat "$T/health.json")"
ip -n "$NSP-$obs" route add blackhole "${DEMO_ADDR[$FA]}/32"
seen_down() { [ "$(hq seen "$FA" "$obs")" = down ]; }
wait_until 20 "$obs reporting $FA down" seen_down
one_down() { seen_down && state_is "$FA" up && rt_is "$PA" "$FA"; }
hold 4 "$FA up and $PA on it while only $obs sees it down" one_down
ip -n "$NSP-$obs" route del blackhole "${DEMO_ADDR[$FA]}/32"
wait_until 20 "steady once $obs sees $FA again" steady
ok "$obs alone seeing $FA down moves nothing"

# 5. a whole subnet down: its route stays, an alarm names it. The hosts
# go one after the other, the forwarder last: taken down together, the
# observers can see the forwarder down first and rightly move the route
# to the other host before that one is seen down too.
read -r PA FA < <(hq route subnet-a)
SA=$(other "$FA")
demo_link_down "$SA"
wait_until 20 "$SA seen down" state_is "$SA" down
demo_link_down "$FA"
wait_until 20 "an alarm naming subnet-a" hq alarm subnet-a
hold 3 "$PA kept on $FA with subnet A down" rt_is "$PA" "$FA"
intent_is "$PA" "$FA" || fail "the intent moved $PA with no healthy host in subnet A"
ok "subnet A down: $PA kept on $FA, alarm: $(/usr/bin/python3 -c '
import json, sys
print("; ".join(json.load(open(sys.argv[1]))["alarms"]))' "$T/health.json")"
demo_link_up a1
demo_link_up a2
wait_until 30 "steady once subnet A is back" steady
wait_until 20 "rt's route $PA via the intent's $(hq host "$PA")" rt_is "$PA" "$(hq host "$PA")"
ok "subnet A back: no alarm"

# 6. the writer SIGKILLed during a failover
W=$(hq writer) || fail "no writer"
read -r PA FA < <(hq route subnet-a)
read -r PB FB < <(hq route subnet-b)
if [ "$FA" != "$W" ]; then P=$PA F=$FA; else P=$PB F=$FB; fi
S=$(other "$F")
for n in $DEMO_HOSTS; do
	[ "$n" != "$W" ] && [ "$n" != "$F" ] && { via=$n; break; }
done
demo_link_down "$F"
stop_stratad "${DEMO_PID[$W]}" KILL || true
unset "DEMO_PID[$W]"
new_writer() { local w; w=$(hq writer) && [ "$w" != "$W" ]; }
wait_until 30 "a writer other than $W" new_writer
wait_until 30 "$P moved to $S in the intent" intent_is "$P" "$S"
if [ "$W" != rt ]; then
	wait_until 30 "rt's route $P moved to $S" rt_is "$P" "$S"
fi
ok "writer $W killed while $F went down: $(hq writer) took over, $P on $S"
demo_start "$W"
[ "$W" = rt ] && wait_until 30 "rt's route $P moved to $S" rt_is "$P" "$S"
demo_link_up "$F"
wait_until 30 "steady with $W back" steady
for P in $PA $PB; do
	wait_until 20 "rt's route $P via the intent's host" rt_is "$P" "$(hq host "$P")"
done
# shellcheck disable=SC2086
wait_until 20 "every pod reaching every pod of the other subnet" \
	reach $B_PODS -- $A_PODS
# shellcheck disable=SC2086
wait_until 20 "A pods reaching B pods" reach $A_PODS -- $B_PODS
ok "$W restarted: steady, rt follows the intent, pods reach each other"

# 7. drain and undrain
read -r PA FA < <(hq route subnet-a)
SA=$(other "$FA")
demo_ctl "$via" drain "$FA" --timeout 20 >"$T/drain.out" 2>&1 ||
	fail "drain $FA: $(cat "$T/drain.out")"
intent_is "$PA" "$SA" || fail "drain $FA exited 0 with $PA on $(hq host "$PA")"
grep -q "$PA" "$T/drain.out" || fail "drain $FA does not say $PA moved: $(cat "$T/drain.out")"
hq drained "$FA" || fail "$FA not listed drained"
wait_until 20 "rt's route $PA moved to $SA" rt_is "$PA" "$SA"
ok "drain $FA: $(tr '\n' ' ' <"$T/drain.out")"
demo_ctl "$via" undrain "$FA" >/dev/null || fail "undrain $FA"
! hq drained "$FA" || fail "$FA still drained after undrain"
hold 2 "$PA staying on $SA after undrain (failback stay)" rt_is "$PA" "$SA"
ok "undrain $FA"
# SA forwards now; with FA down it is its subnet's only healthy host
demo_link_down "$FA"
wait_until 20 "$FA seen down" state_is "$FA" down
rc=0
demo_ctl "$via" drain "$SA" --timeout 3 >"$T/drain.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "drain of $SA, the only healthy host: exit $rc: $(cat "$T/drain.out")"
grep -q "$PA" "$T/drain.out" || fail "the failed drain does not name $PA: $(cat "$T/drain.out")"
rt_is "$PA" "$SA" || fail "rt's route $PA left $SA after a failed drain"
demo_ctl "$via" undrain "$SA" >/dev/null || fail "undrain $SA"
ok "drain of $SA, its subnet's only healthy host, fails (exit 1) naming $PA"
demo_link_up "$FA"
wait_until 30 "steady at the end" steady
# shellcheck disable=SC2086
wait_until 20 "B pods reaching A pods at the end" reach $B_PODS -- $A_PODS

for n in $DEMO_HOSTS rt; do
	stop_stratad "${DEMO_PID[$n]}" || fail "$n's stratad exited non-zero"
done
ok "failover"
