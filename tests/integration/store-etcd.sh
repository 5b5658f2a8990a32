#!/bin/bash
# The store's etcd backend against real etcd: one member, then a 3-member
# cluster, each member in its own network namespace, joined to a client
# namespace by a bridge in a hub namespace (a namespace cannot reach the
# root namespace's loopback). The store test program runs in the client
# namespace: the conformance suite on both, then the faults (members
# killed) on the cluster; stratad itself on etcd; stratactl store migrate
# from an embedded store to one member. Data on tmpfs; members
# stopped by pid. No etcd: skipped, but a failure under CI=true.
# STORE_ETCD_WRAP runs the test program under a wrapper, e.g.
#   CK_FORK=no STORE_ETCD_WRAP="valgrind --error-exitcode=1 ..." store-etcd.sh
. "$(dirname "$0")/lib.sh"

TESTPROG=$BUILDDIR/tests/unit/test_store_etcd
[ -x "$TESTPROG" ] || fail "$TESTPROG not built (make check builds it)"
WRAP=${STORE_ETCD_WRAP:-}

etcd_env 1g

CLIENT=$(join cl 10.77.0.100)
PORT=2379
PEER=2380

# port_free NS ADDR PORT
port_free() {
	! ip netns exec "$1" ss -Htln "src $2:$3" | has .
}

# start_member NAME NS ADDR CLUSTER TOKEN [ETCD FLAGS...]
start_member() {
	local name=$1 ns=$2 addr=$3 cluster=$4 token=$5
	shift 5
	port_free "$ns" "$addr" "$PORT" || fail "port $PORT busy in $ns"
	port_free "$ns" "$addr" "$PEER" || fail "port $PEER busy in $ns"
	ip netns exec "$ns" "$ETCD" --name "$name" \
		--data-dir "$T/data/$token-$name" \
		--listen-client-urls "http://$addr:$PORT" \
		--advertise-client-urls "http://$addr:$PORT" \
		--listen-peer-urls "http://$addr:$PEER" \
		--initial-advertise-peer-urls "http://$addr:$PEER" \
		--initial-cluster "$cluster" --initial-cluster-state new \
		--initial-cluster-token "$token" \
		--heartbeat-interval 10 --election-timeout 100 \
		--logger zap --log-outputs stderr "$@" \
		>"$T/$token-$name.log" 2>&1 &
	MEMBER_PID[$name]=$!
	track "${MEMBER_PID[$name]}"
}

# a write through the gateway works from the client namespace
writable() {
	ip netns exec "$CLIENT" curl -sf -m 1 -X POST \
		-H 'Grpc-Metadata-hasleader: true' \
		-d '{"key":"cmVhZHk=","value":"MQ=="}' "http://$1:$PORT/v3/kv/put"
}

# kill_members NAME...: SIGKILL (throwaway data), reap, free its tmpfs
# (each member preallocates a 64 MB WAL)
kill_members() {
	local n
	for n in "$@"; do
		kill -KILL "${MEMBER_PID[$n]}" 2>/dev/null || true
		wait "${MEMBER_PID[$n]}" 2>/dev/null || true
		untrack "${MEMBER_PID[$n]}"
		rm -rf "$T/data/"*"-$n"
	done
}

# gw ADDR PATH BODY: one gateway call from the client namespace
gw() {
	ip netns exec "$CLIENT" curl -sf -m 2 -X POST -d "$3" "http://$1:$PORT$2"
}

# run_suite ENDPOINTS PIDS SUITE
run_suite() {
	ip netns exec "$CLIENT" env STRATA_ETCD_ENDPOINTS="$1" \
		STRATA_ETCD_USER="${AUTH_USER:-}" \
		STRATA_ETCD_CA="${TLS_CA:-}" STRATA_ETCD_CERT="${TLS_CERT:-}" \
		STRATA_ETCD_KEY="${TLS_KEY:-}" \
		STRATA_ETCD_PASSWORD="${AUTH_PASSWORD:-}" \
		STRATA_ETCD_PIDS="$2" STRATA_ETCD_SUITE="$3" \
		${CK_FORK:+CK_FORK=$CK_FORK} CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-40} \
		$WRAP "$TESTPROG"
}

# ---- one member ----
S1=$(join s1 10.77.0.11)
start_member s1 "$S1" 10.77.0.11 "s1=http://10.77.0.11:$PEER" single
wait_until 15 "single member writable" writable 10.77.0.11
run_suite "http://10.77.0.11:$PORT" "${MEMBER_PID[s1]}" conformance ||
	fail "conformance suite, one member"
ok "conformance suite against one member"

# stratad on etcd: it opens the store, checks the schema, registers
cat >"$T/stratad.conf" <<CONF
log = { level = "debug"; };
control = { socket = "$T/stratad.sock"; };
store = { url = "etcd:http://10.77.0.99:$PORT,http://10.77.0.11:$PORT";
          prefix = "it/"; };
node = { name = "host-a"; zone = "zone-a"; address = "10.77.0.100"; };
plugin_dir = "$PLUGINDIR";
plugins = ();
CONF
start_stratad "$CLIENT" "$T/stratad.conf" "$T/stratad.log"
registered() {
	"$STRATACTL" -s "$T/stratad.sock" status | has '^registered: true'
}
wait_until 10 "stratad registered in etcd" registered
reg=$(gw 10.77.0.11 /v3/kv/range '{"key":"aXQvc3RyYXRhL2hvc3RzL2hvc3QtYQ=="}')
grep -q '"lease"' <<<"$reg" || fail "no leased it/strata/hosts/host-a in etcd: $reg"
schema=$(gw 10.77.0.11 /v3/kv/range '{"key":"aXQvc3RyYXRhL3NjaGVtYQ=="}')
grep -q '"value":"MQ=="' <<<"$schema" || fail "no schema 1 under it/: $schema"
stop_stratad "$STRATAD_PID"
ok "stratad on etcd (first endpoint down): schema written, node registered on a lease"

# stratactl store migrate: an embedded store, copied to a fresh prefix
STORETOOL=$BUILDDIR/tests/store/storetool
[ -x "$STORETOOL" ] || fail "$STORETOOL not built (make check builds it)"
"$STORETOOL" fill "$T/mig.db" 400 >/dev/null || fail "filling $T/mig.db"
MIG_TO="etcd:http://10.77.0.11:$PORT"
migrate() {
	ip netns exec "$CLIENT" "$STRATACTL" store migrate \
		--from "sqlite:$T/mig.db" --to "$MIG_TO" --prefix mig/ "$@"
}
out=$(migrate) || fail "store migrate: $out"
grep -q '^copied 401 keys (revision [0-9]* of sqlite:.*) to etcd:.* under prefix "mig/"; skipped 3 leased keys$' \
	<<<"$out" || fail "store migrate said: $out"
"$STORETOOL" dump "sqlite:$T/mig.db" "" >"$T/mig.src"
ip netns exec "$CLIENT" "$STORETOOL" dump "$MIG_TO" mig/ >"$T/mig.dst"
grep -v ' leased ' "$T/mig.src" >"$T/mig.want"
[ "$(wc -l <"$T/mig.want")" = 401 ] || fail "source dump: $(wc -l <"$T/mig.want") unleased keys"
diff -u "$T/mig.want" "$T/mig.dst" || fail "etcd under mig/ differs from the source"
! grep -q '^strata/hosts/' "$T/mig.dst" || fail "a leased key was copied"
# the other prefixes are untouched: stratad's it/ keys are still its own
schema=$(gw 10.77.0.11 /v3/kv/range '{"key":"aXQvc3RyYXRhL3NjaGVtYQ=="}')
grep -q '"value":"MQ=="' <<<"$schema" || fail "it/strata/schema changed: $schema"
ok "store migrate: 401 keys copied to etcd under mig/ with their values, 3 leased keys skipped"

# a second run refuses, names a key, and writes nothing
rev_before=$(gw 10.77.0.11 /v3/kv/range '{"key":"AA=="}' | grep -o '"revision":"[0-9]*"')
rc=0
out=$(migrate 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "second migrate: exit $rc, expected 1: $out"
grep -q 'already holds 401 keys under prefix "mig/".*nothing was written' \
	<<<"$out" || fail "second migrate said: $out"
rev_after=$(gw 10.77.0.11 /v3/kv/range '{"key":"AA=="}' | grep -o '"revision":"[0-9]*"')
[ "$rev_before" = "$rev_after" ] ||
	fail "second migrate wrote: $rev_before, then $rev_after"
# usage errors exit 2
rc=0
"$STRATACTL" store migrate --from "$T/mig.db" --to "$MIG_TO" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--from without sqlite: exit $rc, expected 2"
ok "store migrate: a second run refuses (exit 1) and writes nothing; usage errors exit 2"
kill_members s1

# ---- one member with auth on; tokens expire after 1 s idle ----
A1=$(join a1 10.77.0.21)
start_member a1 "$A1" 10.77.0.21 "a1=http://10.77.0.21:$PEER" auth \
	--auth-token-ttl 1
wait_until 15 "auth member writable" writable 10.77.0.21
gw 10.77.0.21 /v3/auth/user/add '{"name":"root","password":"r00t-pw"}' >/dev/null
gw 10.77.0.21 /v3/auth/role/add '{"name":"root"}' >/dev/null
gw 10.77.0.21 /v3/auth/user/grant '{"user":"root","role":"root"}' >/dev/null
gw 10.77.0.21 /v3/auth/enable '{}' >/dev/null
AUTH_USER=root AUTH_PASSWORD=r00t-pw \
	run_suite "http://10.77.0.21:$PORT" "${MEMBER_PID[a1]}" conformance ||
	fail "conformance suite, one member with auth"
ok "conformance suite against one member with user/password auth"
kill_members a1

# ---- one member over TLS, client certificates required ----
P=$T/pki
mkdir -p "$P"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=strata-test-ca \
	-keyout "$P/ca.key" -out "$P/ca.pem" 2>/dev/null
for who in server client; do
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" \
		-keyout "$P/$who.key" -out "$P/$who.csr" 2>/dev/null
done
printf 'subjectAltName=IP:10.77.0.31\n' >"$P/san.ext"
openssl x509 -req -days 1 -in "$P/server.csr" -CA "$P/ca.pem" \
	-CAkey "$P/ca.key" -CAcreateserial -extfile "$P/san.ext" \
	-out "$P/server.pem" 2>/dev/null
openssl x509 -req -days 1 -in "$P/client.csr" -CA "$P/ca.pem" \
	-CAkey "$P/ca.key" -CAcreateserial -out "$P/client.pem" 2>/dev/null
X1=$(join x1 10.77.0.31)
start_member x1 "$X1" 10.77.0.31 "x1=http://10.77.0.31:$PEER" tls \
	--listen-client-urls "https://10.77.0.31:$PORT" \
	--advertise-client-urls "https://10.77.0.31:$PORT" \
	--cert-file "$P/server.pem" --key-file "$P/server.key" \
	--trusted-ca-file "$P/ca.pem" --client-cert-auth
writable_tls() {
	ip netns exec "$CLIENT" curl -sf -m 1 -X POST --cacert "$P/ca.pem" \
		--cert "$P/client.pem" --key "$P/client.key" \
		-d '{"key":"cmVhZHk=","value":"MQ=="}' "https://$1:$PORT/v3/kv/put"
}
wait_until 15 "TLS member writable" writable_tls 10.77.0.31
TLS_CA=$P/ca.pem TLS_CERT=$P/client.pem TLS_KEY=$P/client.key \
	run_suite "https://10.77.0.31:$PORT" "${MEMBER_PID[x1]}" conformance ||
	fail "conformance suite, one member over TLS"
ok "conformance suite against one member over TLS with a client certificate"
kill_members x1

# ---- three members ----
IC="m1=http://10.77.0.1:$PEER,m2=http://10.77.0.2:$PEER,m3=http://10.77.0.3:$PEER"
for i in 1 2 3; do
	ns=$(join "m$i" "10.77.0.$i")
	start_member "m$i" "$ns" "10.77.0.$i" "$IC" cluster3
done
for i in 1 2 3; do
	wait_until 20 "member m$i writable" writable "10.77.0.$i"
done
EPS="http://10.77.0.1:$PORT,http://10.77.0.2:$PORT,http://10.77.0.3:$PORT"
PIDS="${MEMBER_PID[m1]} ${MEMBER_PID[m2]} ${MEMBER_PID[m3]}"
run_suite "$EPS" "$PIDS" conformance || fail "conformance suite, 3 members"
ok "conformance suite against 3 members"
run_suite "$EPS" "$PIDS" faults || fail "faults, 3 members"
ok "failover and compaction during a watch, 3 members"
kill_members m1 m2 m3
