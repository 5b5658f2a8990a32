#!/bin/bash
# The CNI front end with a policy plugin (ABI 1.1; the policy-fixture
# plugin answers as a file says): ADD replies only once the policy says
# the pod's rules are in place, with the pod's namespace and name from
# CNI_ARGS; a policy error or no answer within policy_timeout fails the
# ADD with code 11 and leaves nothing behind (a late answer is dropped);
# DEL detaches; stratactl policy explains a pod; after a restart the live
# pods are attached again.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ -e "$FIXTUREDIR/policy-fixture.so" ] ||
	fail "no policy-fixture.so in $FIXTUREDIR: make check builds it"

NODE=$(mkns host)
UPLINK=$(mkns net)
ip -n "$UPLINK" link add up0 type veth peer name eth0 netns "$NODE"
ip -n "$UPLINK" addr add 10.80.0.254/24 dev up0
ip -n "$UPLINK" link set up0 up
ip -n "$NODE" addr add 10.80.0.1/24 dev eth0
ip -n "$NODE" link set eth0 up
ip -n "$NODE" route add default via 10.80.0.254
cat >"$T/node.conf" <<CONF
control = { socket = "$T/ctl.sock"; };
store = { url = "$T/store.db"; };
node = { name = "host"; zone = "z"; subnet = "s"; address = "10.80.0.1"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "cni"; file = "frontend-cni.so";
    config = { socket = "$T/cni.sock"; policy_timeout = "1s"; }; },
  { instance = "kernel"; file = "advertiser-static.so"; config = { scopes = [ "kernel" ]; }; },
  { instance = "policy"; file = "$FIXTUREDIR/policy-fixture.so";
    config = { log = "$T/policy.log"; mode_file = "$T/mode"; }; }
);
CONF
cat >"$T/net.json" <<JSON
{ "cniVersion": "1.1.0", "name": "polnet", "type": "strata-cni",
  "socket": "$T/cni.sock", "timeout": 10 }
JSON
ctl() { "$STRATACTL" -s "$T/ctl.sock" "$@"; }
cni() { # COMMAND CONTAINER [CNI_ARGS]
	CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$NSP-$2 \
		CNI_IFNAME=eth0 CNI_ARGS=${3:-} \
		ip netns exec "$NODE" "$BUILDDIR/strata-cni" <"$T/net.json"
}
pod_links() { ip -n "$NODE" -o link show | grep -c ': st[0-9a-f]\{13\}@' || true; }
code_of() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("code", 0), d.get("msg", ""))'
}
touch "$T/policy.log"

start_stratad "$NODE" "$T/node.conf" "$T/stratad.log"
for p in p1 p2 p3 p4; do mkns "$p" >/dev/null; done

# ADD waits for the policy, which hears the pod's name
echo ok >"$T/mode"
out=$(cni ADD p1 "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1") ||
	fail "ADD p1: $out"
has -E '^attach cni/polnet/p1/eth0 prod web-1 st[0-9a-f]{13}$' "$T/policy.log" ||
	fail "the policy was not told of p1: $(cat "$T/policy.log")"
[ "$(pod_links)" = 1 ] || fail "p1's veth is missing"
ok "ADD waits for the policy plugin, which hears namespace and name"

# stratactl policy
out=$(ctl policy prod/web-1) || fail "stratactl policy prod/web-1: $out"
has -x 'prod/web-1: ingress: allowed from anywhere (no policy)' <<<"$out" ||
	fail "stratactl policy: $out"
ctl --json policy prod/web-1 | has '"lines"' || fail "stratactl --json policy"
rc=0; ctl policy web-1 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "stratactl policy web-1 (namespace default): exit $rc"
has 'pod default/web-1 is not known' "$T/err" || fail "$(cat "$T/err")"
ok "stratactl policy explains a pod; an unknown one exits 1"

# a policy error: code 11 naming why, nothing left behind
echo fail >"$T/mode"
rc=0; out=$(cni ADD p2 "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-2") || rc=$?
[ "$rc" != 0 ] || fail "ADD p2 succeeded though the policy failed"
read -r code msg <<<"$(code_of <<<"$out")"
[ "$code" = 11 ] || fail "ADD p2: code $code, not 11: $out"
has 'network policy not in place: fixture: the pod is not known yet' <<<"$msg" ||
	fail "ADD p2's message: $msg"
has -x 'detach cni/polnet/p2/eth0' "$T/policy.log" || fail "p2 was not detached"
[ "$(pod_links)" = 1 ] || fail "p2's veth was left behind"
ok "a policy error fails ADD with code 11, rolled back: $msg"

# no answer within policy_timeout: code 11; the late answer is dropped
echo slow >"$T/mode"
rc=0; out=$(cni ADD p3 "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-3") || rc=$?
read -r code msg <<<"$(code_of <<<"$out")"
[ "$code" = 11 ] || fail "ADD p3: code $code, not 11: $out"
has 'after 1000 ms (policy_timeout)' <<<"$msg" || fail "ADD p3's message: $msg"
has -x 'detach cni/polnet/p3/eth0' "$T/policy.log" || fail "p3 was not detached"
sleep 3 # the fixture answers 3 s after the attach
ctl version >/dev/null || fail "stratad is gone after the late answer"
[ "$(pod_links)" = 1 ] || fail "p3's veth was left behind"
ok "policy_timeout fails ADD with code 11; the late answer is dropped"

# DEL detaches before the veth goes
echo ok >"$T/mode"
out=$(cni DEL p1 "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1") || fail "DEL p1: $out"
has -x 'detach cni/polnet/p1/eth0' "$T/policy.log" || fail "p1 was not detached"
[ "$(pod_links)" = 0 ] || fail "p1's veth is still there"
ok "DEL detaches the pod"

# a restart: the live pod is attached again, by address
out=$(cni ADD p4 "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-4") || fail "ADD p4: $out"
stop_stratad "$STRATAD_PID"
: >"$T/policy.log"
start_stratad "$NODE" "$T/node.conf" "$T/stratad.log"
wait_until 10 "p4 attached again" \
	grep -qE '^attach cni/polnet/p4/eth0 - - st[0-9a-f]{13}$' "$T/policy.log"
ok "after a restart the live pods are attached to the policy again"
