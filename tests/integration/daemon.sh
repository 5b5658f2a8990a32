#!/bin/bash
# stratad end to end on one host namespace: -t, --plugin-info, routes from
# an owner installed by the static advertiser, the control socket, a hand-
# deleted route healed, reload, bad requests, and SIGTERM leaving routes.
. "$(dirname "$0")/lib.sh"

ns=$(mkns host)
ip -n "$ns" link add uplink type veth peer name uplink-peer
ip -n "$ns" addr add 10.0.0.1/24 dev uplink
ip -n "$ns" link set uplink up
ip -n "$ns" link set uplink-peer up
# a route of another protocol: strata must never touch it
ip -n "$ns" route add 10.7.0.0/24 via 10.0.0.254 proto static

sock=$T/stratad.sock
write_conf() { # routes for the owner, as a libconfig list body
	cat >"$T/stratad.conf" <<CONF
log = { level = "debug"; };
control = { socket = "$sock"; };
store = { url = "$T/store.db"; };
routes = { resync_interval = "1s"; };
node = { name = "host-a"; zone = "zone-a"; address = "10.0.0.1"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "kernel"; file = "advertiser-static.so"; config = { ${2:-} }; },
  { instance = "owner"; file = "$FIXTUREDIR/owner-fixture.so";
    config = { routes = [ $1 ]; }; }
);
metrics = { port = 9477; };
CONF
}
write_conf '"10.9.0.0/24 via 10.0.0.2", "10.9.1.0/24 via 10.0.0.3"'

# -t: good config
out=$("$STRATAD" -t -c "$T/stratad.conf") || fail "stratad -t refused a good config"
grep -q "configuration OK (2 plugin instances)" <<<"$out" || fail "-t said: $out"
ok "-t accepts a good config"

# -t: a plugin key the schema does not know, with file and line
sed 's/routes = \[/rutes = [/' "$T/stratad.conf" >"$T/bad.conf"
if err=$("$STRATAD" -t -c "$T/bad.conf" 2>&1); then fail "-t accepted an unknown key"; fi
grep -q "$T/bad.conf:10:.*unknown key \"rutes\"" <<<"$err" || fail "-t said: $err"
ok "-t names file, line and key: $err"

# -t: syntax error
printf 'log = { level = "info" }\nplugins = (;\n' >"$T/syntax.conf"
if err=$("$STRATAD" -t -c "$T/syntax.conf" 2>&1); then fail "-t accepted bad syntax"; fi
grep -q "$T/syntax.conf:[0-9]*:" <<<"$err" || fail "-t said: $err"
ok "-t reports syntax errors with a line: $err"

# --plugin-info
info=$("$STRATAD" --plugin-info "$PLUGINDIR/advertiser-static.so")
grep -q '^name: *static' <<<"$info" || fail "plugin-info: $info"
grep -q '^kind: *advertiser' <<<"$info" || fail "plugin-info: $info"
grep -q 'scopes' <<<"$info" || fail "plugin-info lists no config keys: $info"
ok "--plugin-info shows the descriptor"

# a plugin whose create fails stops the start with a clear error
cat >"$T/failing.conf" <<CONF
control = { socket = "$T/failing.sock"; };
store = { url = "$T/failing.db"; };
plugins = ( { instance = "broken"; file = "$FIXTUREDIR/fail-create.so"; } );
CONF
if ip netns exec "$ns" "$STRATAD" -c "$T/failing.conf" 2>"$T/failing.log"; then
	fail "stratad started with a failing plugin"
fi
grep -q 'fail-create\[broken\]: create failed' "$T/failing.log" || fail "$(cat "$T/failing.log")"
ok "a failing create() stops stratad: $(grep 'create failed' "$T/failing.log")"

start_stratad "$ns" "$T/stratad.conf" "$T/stratad.log"
wait_until 10 "owner routes in the kernel" sh -c "ip -n $ns route show proto 220 | grep -q '10.9.1.0/24 via 10.0.0.3'"
ip -n "$ns" route show proto 220 | has '10.9.0.0/24 via 10.0.0.2' || fail "route 10.9.0.0/24 missing"
ok "owner routes installed with strata's rtproto"

st=$("$STRATACTL" -s "$sock" --json status)
grep -q '"routes_synced": *true' <<<"$st" || fail "status: $st"
grep -q '"node": *"host-a"' <<<"$st" || fail "status: $st"
"$STRATACTL" -s "$sock" plugins | has owner-fixture || fail "plugins lists no owner-fixture"
"$STRATACTL" -s "$sock" facts | has zone-a || fail "facts lack the zone"
r=$("$STRATACTL" -s "$sock" --json routes)
grep -q '10.9.0.0/24' <<<"$r" || fail "routes: $r"
grep -q '"installed"' <<<"$r" || fail "routes: $r"
"$STRATACTL" -s "$sock" metrics | has static_routes_added || fail "no static metrics"
c=$("$STRATACTL" -s "$sock" --json store check)
grep -q '"ok": *true' <<<"$c" || fail "store check: $c"
grep -q '"store_ready": *true' <<<"$st" || fail "status: store not ready: $st"
grep -q '"registered": *true' <<<"$st" || fail "status: node not registered: $st"
ok "stratactl status, plugins, facts, routes, metrics, store check"

# the Prometheus endpoint, inside the host's namespace
m=$(metrics "$ns" 9477) || fail "no /metrics on port 9477"
v=$(metric_value 'strata_routes_desired{plugin="kernel"}' <<<"$m") || fail "no routes_desired: $m"
[ "$v" = 2 ] || fail "routes_desired is $v, not 2"
wait_until 10 "routes_installed 2" sh -c "ip netns exec $ns curl -sf http://127.0.0.1:9477/metrics | grep -qx 'strata_routes_installed{plugin=\"kernel\"} 2'"
metric_ge "$ns" 9477 'strata_reconcile_duration_seconds_count{plugin="kernel"}' 1 || fail "no reconcile durations: $m"
metric_value 'strata_reconcile_errors_total{plugin="kernel"}' <<<"$m" >/dev/null || fail "no reconcile errors series: $m"
grep -q '^# TYPE strata_reconcile_duration_seconds histogram$' <<<"$m" || fail "reconcile duration is no histogram"
metric_value 'strata_reconcile_duration_seconds_bucket{plugin="kernel",le="+Inf"}' <<<"$m" >/dev/null || fail "no +Inf bucket"
h=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code} %{content_type}' http://127.0.0.1:9477/metrics)
[ "$h" = "200 text/plain; version=0.0.4; charset=utf-8" ] || fail "GET /metrics: $h"
h=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9477/metrics)
[ "$h" = 405 ] || fail "POST /metrics: $h"
h=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9477/)
[ "$h" = 404 ] || fail "GET /: $h"
ok "/metrics: routes desired and installed, reconcile duration and errors"

# a route deleted by hand comes back on the next resync
ip -n "$ns" route del 10.9.0.0/24 proto 220
wait_until 10 "the deleted route back" sh -c "ip -n $ns route show proto 220 | grep -q '10.9.0.0/24'"
ok "a hand-deleted route is restored"

# bad requests get an error, and the daemon keeps serving
python3 - "$sock" <<'PY'
import socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the whole request was sent
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except ConnectionResetError:
        pass
    return out
for bad in [b"{nope\n", b'{"version":1}\n', b'{"version":1,"command":"x"}\n',
            b'{"version":2,"command":"status"}\n', b"\x00\xff\n"]:
    r = ask(bad)
    assert b'"ok":false' in r.replace(b" ", b""), (bad[:20], r)
# oversized: an error reply, or a reset while still sending; never a crash
r = ask(b"[" * 100000)
assert r == b"" or b"too large" in r, r
PY
"$STRATACTL" -s "$sock" version >/dev/null || fail "daemon gone after bad requests"
ok "malformed and oversized requests answered with errors"

if "$STRATACTL" -s "$sock" routes scope=nowhere 2>"$T/err"; then fail "bad scope accepted"; fi
grep -q 'scope "nowhere"' "$T/err" || fail "$(cat "$T/err")"
rc=0; "$STRATACTL" -s "$sock" frobnicate 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "stratactl: unknown command exit $rc, not 1"
grep -q 'unknown command "frobnicate"' "$T/err" || fail "$(cat "$T/err")"
rc=0; "$STRATACTL" -s "$T/nothing.sock" status 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "stratactl: no daemon exit $rc, not 2"
grep -q 'cannot connect to .*is stratad running' "$T/err" || fail "$(cat "$T/err")"
rc=0; "$STRATACTL" -s "$sock" policy prod/web 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "stratactl policy without a policy plugin: exit $rc, not 1"
grep -q 'policy: no policy plugin instance is running' "$T/err" || fail "$(cat "$T/err")"
rc=0; "$STRATACTL" -s "$sock" policy /web 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "stratactl policy /web: exit $rc, not 2"
"$STRATACTL" -s "$sock" log-level level=debug instance=owner >/dev/null ||
	fail "log-level for an instance refused"
ok "stratactl errors: daemon's (exit 1), unreachable (exit 2)"

# reload: the owner now wants another set; the dropped route goes
write_conf '"10.9.0.0/24 via 10.0.0.2", "10.9.2.0/24 via 10.0.0.4"' 'debounce = "300ms";'
kill -HUP "$STRATAD_PID"
wait_until 10 "the new route" sh -c "ip -n $ns route show proto 220 | grep -q '10.9.2.0/24'"
wait_until 10 "the dropped route gone" sh -c "! ip -n $ns route show proto 220 | grep -q '10.9.1.0/24'"
grep -q 'static\[kernel\]: reconfigured in place' "$T/stratad.log" || fail "static was not reconfigured in place"
grep -q 'owner-fixture\[owner\]: restarting for the new config' "$T/stratad.log" || fail "the owner was not restarted"
ok "SIGHUP reload: one instance reconfigured in place, one restarted, new routes applied"

# a broken config on reload changes nothing
echo 'plugins = ( { instance = "x"; } );' >"$T/stratad.conf"
if "$STRATACTL" -s "$sock" reload 2>"$T/err"; then fail "reload accepted a broken config"; fi
grep -q '"file" is required' "$T/err" || fail "reload said: $(cat "$T/err")"
"$STRATACTL" -s "$sock" plugins | has owner-fixture || fail "instances changed by a failed reload"
ok "a failed reload keeps the running config: $(cat "$T/err")"

# SIGTERM: stratad stops, routes stay
before=$(routes "$ns")
stop_stratad "$STRATAD_PID" TERM || fail "stratad exited non-zero on SIGTERM"
after=$(routes "$ns")
[ "$before" = "$after" ] || fail "routes changed on SIGTERM: before [$before] after [$after]"
[ -n "$after" ] || fail "no routes left"
ip -n "$ns" route show proto static | has 10.7.0.0/24 || fail "another protocol's route was touched"
ok "SIGTERM leaves every route in place; other protocols untouched"
grep -q 'ERROR: AddressSanitizer\|runtime error:' "$T/stratad.log" && fail "sanitizer report in the log"
echo "daemon: all checks passed"
