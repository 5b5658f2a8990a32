#!/bin/bash
# The bgp advertiser's error paths against a real BIRD 2, through a
# fault-injecting proxy (tests/fixtures/bgp_fault_proxy.py) in BIRD's
# namespace: stratad connects to the proxy, the proxy to BIRD on
# loopback, and every OPEN from BIRD carries two unknown capabilities.
# The proxy injects toward stratad a malformed UPDATE that RFC 7606 says
# resets the session, one it says to treat as withdraw, a NOTIFICATION,
# and a connection closed mid-message. After each: stratad is alive, its
# log names the error and where, it backs off and reconnects, and BIRD
# holds every planned route again.
. "$(dirname "$0")/lib.sh"

BIRD=${BIRD:-$(command -v bird || echo /usr/sbin/bird)}
BIRDC=${BIRDC:-$(command -v birdc || echo /usr/sbin/birdc)}
PYTHON=${PYTHON:-/usr/bin/python3}
need bird2 "$BIRD" "$BIRDC" "$PYTHON"
PROXY=$SRCDIR/tests/fixtures/bgp_fault_proxy.py

rx=$(mkns rx)
tx=$(mkns tx)
ip -n "$rx" link add veth-rx type veth peer name veth-tx netns "$tx"
ip -n "$rx" addr add 10.99.0.1/24 dev veth-rx
ip -n "$tx" addr add 10.99.0.2/24 dev veth-tx
ip -n "$rx" addr add fd99::1/64 dev veth-rx nodad
ip -n "$tx" addr add fd99::2/64 dev veth-tx nodad
ip -n "$rx" link set veth-rx up
ip -n "$tx" link set veth-tx up

# BIRD sees the proxy (127.0.0.2) as its neighbour: on loopback, so
# multihop; the routes are stored, unreachable (no IGP), with every
# attribute.
cat >"$T/bird.conf" <<CONF
log "$T/bird.log" all;
timeformat protocol iso long ms;
router id 10.99.0.1;
protocol device { scan time 10; }
protocol bgp spk4 {
  local 127.0.0.1 port 1790 as 65000;
  strict bind on;
  neighbor 127.0.0.2 as 65001;
  passive on;
  multihop;
  hold time 9;
  error wait time 1,2;
  graceful restart on;
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
CONF
ip netns exec "$rx" "$BIRD" -f -c "$T/bird.conf" -s "$T/bird.ctl" >>"$T/bird.out" 2>&1 &
track $!
wait_until 10 "bird's control socket" "$BIRDC" -s "$T/bird.ctl" show status
B() { "$BIRDC" -s "$T/bird.ctl" "$@"; }

# on failure, what each side saw
last_words() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		echo "--- stratad.log (bgp)" >&2
		grep 'bgp\[' "$T/stratad.log" | tail -n 30 >&2
		echo "--- proxy.log" >&2
		tail -n 30 "$T/proxy.log" >&2
		echo "--- bird.log" >&2
		grep spk4 "$T/bird.log" | tail -n 20 >&2
	fi
	(exit "$rc")
	cleanup
}
trap last_words EXIT

ip netns exec "$rx" "$PYTHON" "$PROXY" --listen 10.99.0.1:179 \
	--connect 127.0.0.1:1790 --source 127.0.0.2 --control "$T/proxy.ctl" \
	--log "$T/proxy.log" --open-caps >>"$T/proxy.out" 2>&1 &
track $!
wait_until 10 "the proxy listening" has listening "$T/proxy.log"

cat >"$T/strata.conf" <<CONF
log = { level = "debug"; };
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "tx"; zone = "z"; subnet = "s"; address = "10.99.0.2";
         address6 = "fd99::2"; };
plugin_dir = "$PLUGINDIR";
routes = { bgp = "blocks"; resync_interval = "1s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16", "fd00:112::/48" ]; }; },
  { instance = "bgp"; file = "advertiser-bgp.so";
    config = { local_as = 65001; peers = [ "10.99.0.1 65000" ];
      next_hop6 = "fd99::2"; communities = [ "65001:100" ];
      graceful_restart_time = "6s"; hold_time = "9s"; }; }
);
CONF

up() { B show protocols spk4 | has Established; }
# planned: stratad's BGP-scope prefixes, sorted
planned() {
	"$STRATACTL" -s "$T/ctl.sock" --json routes scope=bgp |
		jq -r '.desired[] | select(.scope == "bgp") | .dst' | sort
}
in_bird() { B show route protocol spk4 | awk '/^[0-9a-f]/ { print $1 }' | sort; }
routes_match() { [ -n "$(planned)" ] && [ "$(planned)" = "$(in_bird)" ]; }
words() { paste -sd ' '; }
since() {
	local s
	for _ in 1 2 3; do
		s=$(B show protocols spk4 | awk '$1 == "spk4" { print $5, $6 }')
		[ -n "$s" ] && break
		sleep 0.1
	done
	echo "$s"
}
count() { grep -c -- "$1" "$2" || true; }
resets() { count ' -> Idle: ' "$T/stratad.log"; }
established() { count ': Established (' "$T/stratad.log"; }
eors() { count 'End-of-RIB for IPv4' "$T/stratad.log"; }
alive() { kill -0 "$STRATAD_PID" 2>/dev/null || fail "stratad died"; }

# inject COMMAND: hands the proxy a command; waits until it ran
inject() {
	local n
	n=$(count "injected $1" "$T/proxy.log")
	echo "$1" >"$T/proxy.ctl.new"
	mv "$T/proxy.ctl.new" "$T/proxy.ctl"
	wait_until 5 "the proxy to inject $1" eval \
		"[ \"\$(count 'injected $1' \"\$T/proxy.log\")\" -gt $n ]"
}

# log_after N: stratad's log from line N+1 on
log_after() { tail -n +"$(($1 + 1))" "$T/stratad.log"; }

# recovered WHAT LINES EST0 EOR0: after a reset, stratad logged a
# backoff of 0.75 to 1 s (the first step; jitter), growing if it has to
# try again, came back on a new session that sent End-of-RIB, BIRD holds
# every planned route again, and the proxy saw the reconnect only after
# the backoff
recovered() {
	local what=$1 lines=$2 ms gap
	alive
	wait_until 10 "a new session after $what" eval \
		"[ \"\$(established)\" -gt $3 ] && [ \"\$(eors)\" -gt $4 ]"
	wait_until 10 "BIRD holding every planned route after $what" routes_match
	# one session lost; BIRD may refuse a reconnect during its own
	# error wait (1 s), and then the next backoff step doubles
	[ "$(log_after "$lines" | grep -c 'Established -> Idle')" = 1 ] ||
		fail "$what: $(log_after "$lines" | grep -- '-> Idle')"
	other=$(log_after "$lines" | grep -- ' -> Idle: ' |
		grep -v 'Established -> Idle' |
		grep -v 'OpenSent -> Idle: connection closed by peer$' || true)
	[ -z "$other" ] || fail "$what: other resets: $other"
	steps=$(log_after "$lines" |
		sed -n 's/.*peer 10.99.0.1: reconnect in \([0-9]*\) ms$/\1/p' | words)
	ms=${steps%% *}
	[ -n "$ms" ] || fail "$what: no backoff logged"
	if [ "$ms" -lt 750 ] || [ "$ms" -gt 1000 ]; then
		fail "$what: backoff $ms ms"
	fi
	[ "$steps" = "$ms" ] || awk -v s="$steps" 'BEGIN {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) if (a[i] < 1.4 * a[i - 1]) exit 1 }' ||
		fail "$what: backoff steps $steps ms do not grow"
	gap=$(awk '$2 == "closed" { c = $1 } $2 == "accepted" && c { g = $1 - c }
		END { printf "%d", g * 1000 }' "$T/proxy.log")
	[ "$gap" -ge 700 ] || fail "$what: reconnected after $gap ms, no backoff"
	alive
	echo "   ($what: backoff steps $steps ms, the last reconnect $gap ms after the close)"
}

start_stratad "$tx" "$T/strata.conf" "$T/stratad.log"
wait_until 15 "BGP session up" up
wait_until 15 "BIRD holding every planned route" routes_match
has "open-caps added" "$T/proxy.log" || fail "the proxy did not add the capabilities"
planned | has : || fail "no IPv6 planned"
planned | has -v : || fail "no IPv4 planned"
[ "$(resets)" = 0 ] || fail "resets before any fault: $(grep -- ' -> Idle' "$T/stratad.log")"
ok "(b) OPEN with unknown capabilities 200 and 120 (own parameter): session up, $(planned | words) in BIRD"

# (a) an attribute whose length overruns the attribute list: reset with
# NOTIFICATION 3/1, Malformed Attribute List
lines=$(wc -l <"$T/stratad.log")
r0=$(resets) e0=$(established) k0=$(eors)
inject update-attr-overrun
wait_until 5 "stratad resetting on the malformed UPDATE" eval "[ \"\$(resets)\" -gt $r0 ]"
log_after "$lines" | has 'peer 10.99.0.1: Established -> Idle: malformed UPDATE: UPDATE: attribute 1 (ORIGIN) at offset 23: length 200 overruns the 1 bytes left of the attributes$' ||
	fail "log: $(log_after "$lines" | grep -- '-> Idle')"
wait_until 5 "BIRD receiving the NOTIFICATION" has 'spk4: Received: Malformed attribute list' "$T/bird.log"
recovered "the malformed UPDATE" "$lines" "$e0" "$k0"
ok "(a) attribute length overrun: NOTIFICATION 3/1 sent, logged with the offset, session back"

# (a) ORIGIN 5: treat as withdraw; the session stays
lines=$(wc -l <"$T/stratad.log")
r0=$(resets) s0=$(since)
inject update-bad-origin
wait_until 5 "stratad logging the treat-as-withdraw" eval \
	"log_after $lines | has 'peer 10.99.0.1: UPDATE treated as withdraw, dropped: UPDATE: attribute 1 (ORIGIN) at offset 23: value 5\$'"
sleep 0.5
alive
[ "$(resets)" = "$r0" ] || fail "the session reset: $(log_after "$lines" | grep -- '-> Idle')"
s1=$(since)
same_time "$s1" "$s0" || fail "BIRD's session changed state: '$s0' -> '$s1': $(B show protocols spk4)"
up || fail "session down"
routes_match || fail "BIRD lost routes"
ok "(a) ORIGIN 5: treated as withdraw, logged with the offset, session kept"

# (c) NOTIFICATION Cease / Administrative Reset, then the proxy closes
lines=$(wc -l <"$T/stratad.log")
r0=$(resets) e0=$(established) k0=$(eors)
inject notify-cease
wait_until 5 "stratad resetting on the NOTIFICATION" eval "[ \"\$(resets)\" -gt $r0 ]"
log_after "$lines" | has 'peer 10.99.0.1: Established -> Idle: NOTIFICATION received: Cease / Administrative Reset "fault proxy: administrative reset"$' ||
	fail "log: $(log_after "$lines" | grep -- '-> Idle')"
recovered "the NOTIFICATION" "$lines" "$e0" "$k0"
ok "(c) NOTIFICATION Cease/4 logged with its shutdown communication, backed off, session back"

# (d) the connection closed in the middle of a message
lines=$(wc -l <"$T/stratad.log")
r0=$(resets) e0=$(established) k0=$(eors)
inject close-mid-message
wait_until 5 "stratad resetting on the close" eval "[ \"\$(resets)\" -gt $r0 ]"
log_after "$lines" | has 'peer 10.99.0.1: Established -> Idle: connection closed by peer mid-message$' ||
	fail "log: $(log_after "$lines" | grep -- '-> Idle')"
recovered "the close mid-message" "$lines" "$e0" "$k0"
ok "(d) closed mid-message: logged, backed off, re-announced"

[ "$(count 'open-caps added' "$T/proxy.log")" -ge 4 ] ||
	fail "not every OPEN carried the unknown capabilities"
stop_stratad "$STRATAD_PID" TERM
