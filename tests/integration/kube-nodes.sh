#!/bin/bash
# Nodes from the Kubernetes API, against tests/fixtures/kube_api.py over
# HTTPS with a CA made here: two nodes (namespaces n1, n2 on one veth)
# whose zone and subnet come from their Node labels; n1's watch goes on
# through a bookmark (the next watch starts from its resourceVersion),
# through 410 Gone (a re-list) and through injected 500s (backing off);
# deleting Node n2 returns its blocks.
. "$(dirname "$0")/lib.sh"

n1=$(mkns n1)
n2=$(mkns n2)
ip -n "$n1" link add eth0 type veth peer name eth0 netns "$n2"
ip -n "$n1" addr add 10.78.0.1/24 dev eth0
ip -n "$n2" addr add 10.78.0.2/24 dev eth0
ip -n "$n1" link set eth0 up
ip -n "$n2" link set eth0 up

# a self-signed certificate for the API's address is its own CA
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=kube-api" \
	-addext "subjectAltName=IP:10.78.0.1" -keyout "$T/api.key" \
	-out "$T/api.crt" >/dev/null 2>&1 || fail "openssl could not make the test CA"
token="t0k3n-$$"
ip netns exec "$n1" python3 "$SRCDIR/tests/fixtures/kube_api.py" \
	--listen 10.78.0.1:6443 --token "$token" --cert "$T/api.crt" \
	--key "$T/api.key" >"$T/api.out" 2>"$T/api.err" &
track $!
wait_until 10 "the fake API server" has ready "$T/api.out"

# fake METHOD PATH [JSON]: the fake's control API
fake() {
	ip netns exec "$n1" curl -sf --cacert "$T/api.crt" -X "$1" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		"https://10.78.0.1:6443/fake/$2"
}
node_json() { # NAME ZONE SUBNET
	printf '{"resource": "nodes", "object": {"metadata": {"name": "%s", "labels": {"topology.kubernetes.io/zone": "%s", "strata.io/subnet": "%s", "kubernetes.io/hostname": "%s"}}, "spec": {}, "status": {}}}' \
		"$1" "$2" "$3" "$1"
}
fake POST apply "$(node_json n1 z1 sA)" >/dev/null
fake POST apply "$(node_json n2 z1 sB)" >/dev/null

cat >"$T/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster:
    server: https://10.78.0.1:6443
    certificate-authority-data: $(base64 -w0 "$T/api.crt")
contexts:
- name: test
  context: {cluster: fake, user: strata}
users:
- name: strata
  user:
    token: $token
YAML

conf() { # NAME ADDRESS
	cat >"$T/$1.conf" <<CONF
control = { socket = "$T/$1.sock"; };
store = { url = "$T/store.db"; };
node = { name = "$1"; address = "$2"; };
plugin_dir = "$PLUGINDIR";
routes = { resync_interval = "2s"; };
kubernetes = { kubeconfig = "$T/kubeconfig"; qps = 50; burst = 50;
               watch_timeout = "20s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; levels = [ "zone:2", "subnet:2" ]; }; },
  { instance = "kernel"; file = "advertiser-static.so";
    config = { scopes = [ "kernel" ]; }; }
);
CONF
}
ctl() { # NAME ARGS...
	local name=$1
	shift
	"$STRATACTL" -s "$T/$name.sock" "$@"
}
conf n1 10.78.0.1
conf n2 10.78.0.2
start_stratad "$n1" "$T/n1.conf" "$T/n1.log"
pid1=$STRATAD_PID
start_stratad "$n2" "$T/n2.conf" "$T/n2.log"
pid2=$STRATAD_PID

# fact NAME FACT: its value and source, "VALUE SOURCE"
fact() {
	ctl "$1" --json facts | python3 -c '
import json, sys
for f in json.load(sys.stdin)["facts"]:
    if f["name"] == sys.argv[1]:
        print(f["value"], f["source"])' "$2"
}
fact_is() { [ "$(fact "$1" "$2")" = "$3" ]; }
wait_until 20 "n1's zone from its label" fact_is n1 zone "z1 kubernetes"
wait_until 10 "n1's subnet from its label" fact_is n1 subnet "sA kubernetes"
wait_until 10 "n2's subnet from its label" fact_is n2 subnet "sB kubernetes"
ok "zone and subnet come from the Node labels"

blocks() { # NAME: the host's blocks, from n1's view
	ctl n1 --json topology | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hosts"]:
    if h["name"] == sys.argv[1]:
        print("\n".join(h["blocks"]))' "$1"
}
has_blocks() { [ -n "$(blocks "$1")" ]; }
no_blocks() { [ -z "$(blocks "$1")" ]; }
wait_until 20 "n1's block" has_blocks n1
wait_until 20 "n2's block" has_blocks n2
ok "both nodes hold blocks: n1 $(blocks n1 | head -n1), n2 $(blocks n2 | head -n1)"
# n2 stops now: its registration lapses (30 s) while the watch is tested
stop_stratad "$pid2"

# requests: the fake's request log, as JSON
requests() { fake GET requests; }
# last_watch_rv: the resourceVersion of the latest Node watch
last_watch_rv() {
	requests | python3 -c '
import json, sys
w = [r for r in json.load(sys.stdin) if r["watch"] and r["path"] == "/api/v1/nodes"]
print(w[-1]["query"].get("resourceVersion", "") if w else "")'
}
rv_now() { fake GET state | python3 -c 'import json, sys; print(json.load(sys.stdin)["resourceVersion"])'; }

# a bookmark: namespaces move the resourceVersion on without a Node
# event; the next watch starts from the bookmark's
fake POST apply '{"resource": "namespaces", "object": {"metadata": {"name": "ns-a"}}}' >/dev/null
fake POST apply '{"resource": "namespaces", "object": {"metadata": {"name": "ns-b"}}}' >/dev/null
mark=$(rv_now)
fake POST bookmark >/dev/null
sleep 0.5
fake POST drop >/dev/null
watch_from() { [ "$(last_watch_rv)" = "$1" ]; }
wait_until 10 "a watch from the bookmark's resourceVersion $mark" watch_from "$mark"
ok "a bookmark advanced the resourceVersion to $mark"

# 410 Gone: history compacted past the watch's resourceVersion
lists_before=$(requests | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if not r["watch"] and r["path"] == "/api/v1/nodes"))')
fake POST apply '{"resource": "namespaces", "object": {"metadata": {"name": "ns-c"}}}' >/dev/null
fake POST compact >/dev/null
fake POST drop >/dev/null
relisted() {
	requests | python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin) if r["path"] == "/api/v1/nodes"]
lists = sum(1 for r in rs if not r["watch"])
# a list after the earlier ones, then a watch again
sys.exit(0 if lists >= int(sys.argv[1]) + 1 and rs[-1]["watch"] else 1)' "$lists_before"
}
wait_until 15 "n1 listing again after 410" relisted
has "listing again" "$T/n1.log" || fail "n1 did not say it re-listed"
fake POST apply "$(node_json n1 z1 sA)" >/dev/null
wait_until 10 "n1's watch to go on" fact_is n1 zone "z1 kubernetes"
ok "a watch through 410 Gone re-lists and goes on"

# errors back off: 6 failures in a row, spaced 1 s, 2 s, 4 s... apart
t0=$(python3 -c 'import time; print(time.monotonic())')
fake POST fault '{"status": 500, "count": 3}' >/dev/null
fake POST drop >/dev/null
sleep 4
count500() {
	requests | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["status"] == 500))'
}
n500=$(count500)
[ "$n500" -ge 2 ] && [ "$n500" -le 3 ] ||
	fail "after 4 s of errors the fake saw $n500 failing requests (backoff: 2..3)"
# per client: at least 0.9 s between failures, each gap longer than the last
requests | python3 -c '
import json, sys
t0 = float(sys.argv[1])
by = {}
for r in json.load(sys.stdin):
    if r["status"] == 500 and r["time"] >= t0:
        by.setdefault(r["client"], []).append(r["time"])
for c, ts in by.items():
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    print(c, ["%.2f" % g for g in gaps])
    assert all(g >= 0.9 for g in gaps), (c, gaps)
    assert all(b > a for a, b in zip(gaps, gaps[1:])), (c, gaps)
' "$t0" || fail "the failing requests were not backed off"
ok "errors back off ($n500 failing requests in 4 s)"
wait_until 40 "the watches to recover" fact_is n1 zone "z1 kubernetes"

# deleting Node n2 frees its blocks, once its stratad's registration
# has lapsed (30 s after it stopped)
fake POST delete '{"resource": "nodes", "name": "n2"}' >/dev/null
wait_until 10 "n1 to see Node n2 deleted" has "Node n2 deleted from the API" "$T/n1.log"
wait_until 50 "n2's blocks returned" no_blocks n2
has "Node n2 is gone: its blocks went back" "$T/n1.log" ||
	fail "n1 did not log the blocks it freed"
has_blocks n1 || fail "n1 lost its own blocks"
ok "deleting Node n2 freed its blocks"
stop_stratad "$pid1"
ok "kube-nodes passed"
