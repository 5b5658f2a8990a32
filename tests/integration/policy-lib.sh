# The NetworkPolicy tests' world, sourced by policy.sh and policy-churn.sh:
# two hosts h1 (10.79.0.1) and h2 (10.79.0.2) and the fake API server
# (api, 10.79.0.10:6443, tests/fixtures/kube_api.py over HTTPS with a CA
# made here) on one bridge in a hub namespace; on each host a stratad with
# the topology IPAM, the CNI front end, the static advertiser (so pods on
# the two hosts reach each other), the kubernetes group and the policy
# plugin; pods added as kubelet adds them, each running policy_probe.py's
# server; truth tables checked with policy_probe.py.
#
# POLICY_PLUGIN=1 runs the policy plugin (policy-nft.so), =0 runs without
# it: every probe must then pass whatever a truth table says, which proves
# the harness. Unset: 1 when the plugin is built; else the test is skipped
# (fails under CI=true). POLICY_DEADLINE (default 30) bounds each truth
# table in seconds; POLICY_SCTP=0/1 overrides finding out whether SCTP
# sockets can exist here.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON=${PYTHON:-/usr/bin/python3}
PROBE=$SRCDIR/tests/integration/policy_probe.py
POLICY_DEADLINE=${POLICY_DEADLINE:-30}
API_ADDR=10.79.0.10
declare -A HOST_ADDR=([h1]=10.79.0.1 [h2]=10.79.0.2)
declare -A HOST_NS HOST_PID POD_HOST POD_IP POD_LABELS POD_SERVER POD_NS
POLICIES=() # "ns/name" of every policy applied and not deleted

if [ -z "${POLICY_PLUGIN:-}" ]; then
	if [ -e "$PLUGINDIR/policy-nft.so" ]; then
		POLICY_PLUGIN=1
	else
		[ "${CI:-}" = true ] && fail "no policy-nft.so in $PLUGINDIR (CI=true)"
		echo "SKIP: no policy-nft.so in $PLUGINDIR (POLICY_PLUGIN=0 runs the harness alone)"
		exit 0
	fi
fi
case $POLICY_PLUGIN in
0) echo "POLICY_PLUGIN=0: no policy plugin, every probe must pass" ;;
1) [ -e "$PLUGINDIR/policy-nft.so" ] || fail "no policy-nft.so in $PLUGINDIR" ;;
*) fail "POLICY_PLUGIN is 0 or 1, not $POLICY_PLUGIN" ;;
esac

# plugin_on: the tests that only mean something with the plugin
plugin_on() { [ "$POLICY_PLUGIN" = 1 ]; }

# policy_sctp: sets SCTP=1 when an SCTP socket can exist in a namespace
# here. A kernel built without SCTP is said so and SCTP left to the
# plugin's unit tests; any other failure fails under CI=true.
policy_sctp() {
	local ns=$1 why
	SCTP=${POLICY_SCTP:-}
	if [ -n "$SCTP" ]; then
		echo "SCTP=$SCTP (POLICY_SCTP)"
		return 0
	fi
	if why=$(ip netns exec "$ns" "$PYTHON" -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()' 2>&1); then
		SCTP=1
		echo "SCTP: sockets work here, probed with TCP and UDP"
		return 0
	fi
	SCTP=0
	if { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } |
		has -x '# CONFIG_IP_SCTP is not set'; then
		echo "SCTP: this kernel ($(uname -r)) is built without SCTP (CONFIG_IP_SCTP is not set): not probed"
		return 0
	fi
	[ "${CI:-}" = true ] && fail "SCTP sockets cannot be made here (CI=true): ${why##*$'\n'}"
	echo "SKIP SCTP: sockets cannot be made here: ${why##*$'\n'}"
}

# policy_net: the hub, its bridge, h1, h2 and api on it
policy_net() {
	local h
	HUB=$(mkns hub)
	ip -n "$HUB" link add br0 type bridge
	ip -n "$HUB" link set br0 up
	for h in h1 h2; do
		HOST_NS[$h]=$(join "$h" "${HOST_ADDR[$h]}")
		# pods find their gateway by proxy ARP, which answers only for
		# a node that routes the address elsewhere
		ip -n "${HOST_NS[$h]}" route add default via 10.79.0.254
	done
	API_NS=$(join api "$API_ADDR")
}

# fake METHOD PATH [JSON]: the fake API's control API
fake() {
	ip netns exec "$API_NS" curl -sf --max-time 10 --cacert "$T/api.crt" \
		-X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
		"https://$API_ADDR:6443/fake/$2"
}

# policy_api: the fake API server with Nodes h1, h2 and Namespaces x, y,
# z (labels ns=x ...); a kubeconfig for it
policy_api() {
	local h n
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=kube-api" \
		-addext "subjectAltName=IP:$API_ADDR" -keyout "$T/api.key" \
		-out "$T/api.crt" >/dev/null 2>&1 || fail "openssl could not make the test CA"
	API_TOKEN="t0k3n-$$"
	ip netns exec "$API_NS" "$PYTHON" "$SRCDIR/tests/fixtures/kube_api.py" \
		--listen "$API_ADDR:6443" --token "$API_TOKEN" --cert "$T/api.crt" \
		--key "$T/api.key" >"$T/api.out" 2>"$T/api.err" &
	API_PID=$!
	track "$API_PID"
	wait_until 10 "the fake API server" has ready "$T/api.out"
	for h in h1 h2; do
		fake POST apply "$(jq -nc --arg n "$h" '{resource: "nodes", object:
			{metadata: {name: $n, labels: {"kubernetes.io/hostname": $n}},
			 spec: {}, status: {}}}')" >/dev/null
	done
	for n in x y z; do
		ns_label "$n" "{\"ns\": \"$n\", \"kubernetes.io/metadata.name\": \"$n\"}"
	done
	cat >"$T/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster:
    server: https://$API_ADDR:6443
    certificate-authority-data: $(base64 -w0 "$T/api.crt")
contexts:
- name: test
  context: {cluster: fake, user: strata}
users:
- name: strata
  user:
    token: $API_TOKEN
YAML
}

# ns_label NAME LABELS: creates or relabels a Namespace
ns_label() {
	fake POST apply "$(jq -nc --arg n "$1" --argjson l "$2" \
		'{resource: "namespaces", object: {metadata: {name: $n, labels: $l},
		  spec: {}, status: {phase: "Active"}}}')" >/dev/null ||
		fail "could not apply Namespace $1"
}

# policy_conf HOST: $T/HOST.conf
policy_conf() {
	local h=$1 pol=''
	# resync often: each one reads the table back and compares it whole
	plugin_on && pol='{ instance = "policy"; file = "policy-nft.so";
    config = { resync = "2s"; }; },'
	cat >"$T/$h.conf" <<CONF
log = { level = "info"; };
control = { socket = "$T/$h.sock"; };
store = { url = "$T/store.db"; };
node = { name = "$h"; zone = "z1"; subnet = "s1"; address = "${HOST_ADDR[$h]}"; };
plugin_dir = "$PLUGINDIR";
routes = { resync_interval = "2s"; };
kubernetes = { kubeconfig = "$T/kubeconfig"; qps = 200; burst = 200;
               watch_timeout = "60s"; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16" ]; }; },
  { instance = "cni"; file = "frontend-cni.so";
    config = { socket = "$T/$h-cni.sock"; masquerade = false; }; },
  $pol
  { instance = "kernel"; file = "advertiser-static.so";
    config = { scopes = [ "kernel" ]; }; }
);
CONF
	cat >"$T/$h.cni.json" <<JSON
{ "cniVersion": "1.1.0", "name": "policy", "type": "strata-cni",
  "socket": "$T/$h-cni.sock", "timeout": 20 }
JSON
}

# ctl HOST ARGS...: stratactl on HOST
ctl() {
	local h=$1
	shift
	"$STRATACTL" -s "$T/$h.sock" "$@"
}

# policy_start HOST: its stratad, logging to $T/HOST.log
policy_start() {
	start_stratad "${HOST_NS[$1]}" "$T/$1.conf" "$T/$1.log"
	# shellcheck disable=SC2034 # the tests stop it
	HOST_PID[$1]=$STRATAD_PID
	wait_until 30 "$1's routes synced" _policy_synced "$1"
}

_policy_synced() {
	ctl "$1" --json status | has '"routes_synced": *true'
}

# policy_world: everything the prober needs, as $T/world.json
policy_world() {
	local k ports=() p n
	for p in tcp udp; do ports+=("$p/80" "$p/81"); done
	[ "${SCTP:-0}" = 1 ] && ports+=(sctp/80 sctp/81)
	{
		printf '{"ports": %s, "nodes": {' "$(printf '%s\n' "${ports[@]}" | jq -Rsc 'split("\n")[:-1]')"
		n=0
		for k in h1 h2; do
			[ $n = 0 ] || printf ', '
			printf '"node/%s": {"ip": "%s", "netns": "%s"}' "$k" \
				"${HOST_ADDR[$k]}" "${HOST_NS[$k]}"
			n=1
		done
		printf '}, "pods": {'
		n=0
		for k in "${!POD_IP[@]}"; do
			[ $n = 0 ] || printf ', '
			printf '"%s": {"ip": "%s", "netns": "%s", "host": "%s"}' \
				"$k" "${POD_IP[$k]}" "${POD_NS[$k]}" "${POD_HOST[$k]}"
			n=1
		done
		printf '}}\n'
	} >"$T/world.json.new"
	mv "$T/world.json.new" "$T/world.json"
}

# pod_json NS/NAME [RUNNING]: the Pod object as kubelet sees it; with
# RUNNING its status carries the address
pod_json() {
	local key=$1 ns=${1%%/*} name=${1#*/} status='{"phase": "Pending"}'
	local protos='["TCP", "UDP"]'
	[ "${SCTP:-0}" = 1 ] && protos='["TCP", "UDP", "SCTP"]'
	if [ -n "${2:-}" ]; then
		status=$(jq -nc --arg ip "${POD_IP[$key]}" --arg h "${HOST_ADDR[${POD_HOST[$key]}]}" \
			'{phase: "Running", hostIP: $h, podIP: $ip, podIPs: [{ip: $ip}],
			  conditions: [{type: "Ready", status: "True"}]}')
	fi
	jq -nc --arg ns "$ns" --arg n "$name" --arg node "${POD_HOST[$key]}" \
		--argjson l "${POD_LABELS[$key]}" --argjson st "$status" \
		--argjson protos "$protos" '{resource: "pods", object: {
		  metadata: {name: $n, namespace: $ns, labels: $l},
		  spec: {nodeName: $node, containers: [$protos[] as $p | (80, 81) as $port |
		    {name: "cont-\($port)-\($p | ascii_downcase)", image: "strata-test",
		     ports: [{name: "serve-\($port)-\($p | ascii_downcase)",
		              containerPort: $port, protocol: $p}]}]},
		  status: $st}}'
}

# cni HOST COMMAND NS/NAME: strata-cni as a runtime calls it for the pod
cni() {
	local h=$1 cmd=$2 key=$3
	CNI_COMMAND=$cmd CNI_CONTAINERID="c-${key/\//-}" \
		CNI_NETNS=/run/netns/${POD_NS[$key]} CNI_IFNAME=eth0 CNI_PATH=$BUILDDIR \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=${key%%/*};K8S_POD_NAME=${key#*/};K8S_POD_INFRA_CONTAINER_ID=c-${key/\//-}" \
		ip netns exec "${HOST_NS[$h]}" "$BUILDDIR/strata-cni" <"$T/$h.cni.json"
}

# pod_create NS/NAME HOST LABELS: the Pod object, as the scheduler
# leaves it for kubelet
pod_create() {
	local key=$1
	POD_HOST[$key]=$2
	POD_LABELS[$key]=$3
	fake POST apply "$(pod_json "$key")" >/dev/null || fail "could not apply Pod $key"
}

# pod_start NS/NAME: as kubelet, for a Pod created: the CNI ADD, then the
# status with its address; then its server runs
pod_start() {
	local key=$1 h=${POD_HOST[$1]} out sctp=()
	[ "${SCTP:-0}" = 1 ] && sctp=(--sctp)
	POD_NS[$key]=$(mkns "p-${key/\//-}")
	out=$(cni "$h" ADD "$key") || fail "CNI ADD of $key on $h: $out"
	POD_IP[$key]=$(jq -r '.ips[0].address | split("/")[0]' <<<"$out")
	fake POST apply "$(pod_json "$key" running)" >/dev/null ||
		fail "could not set Pod $key running"
	ip netns exec "${POD_NS[$key]}" "$PYTHON" "$PROBE" serve "$key" \
		"${sctp[@]}" >"$T/srv-${key/\//-}.out" 2>&1 &
	POD_SERVER[$key]=$!
	track "${POD_SERVER[$key]}"
	wait_until 10 "$key's server" has ready "$T/srv-${key/\//-}.out"
	policy_world
}

# pod_add NS/NAME HOST LABELS: pod_create, then pod_start
pod_add() {
	pod_create "$@"
	pod_start "$1"
}

# pod_del NS/NAME: as kubelet: the CNI DEL, then the Pod object goes
pod_del() {
	local key=$1 out
	kill "${POD_SERVER[$key]}"
	wait "${POD_SERVER[$key]}" 2>/dev/null || true
	untrack "${POD_SERVER[$key]}"
	out=$(cni "${POD_HOST[$key]}" DEL "$key") || fail "CNI DEL of $key: $out"
	fake POST delete "$(jq -nc --arg ns "${key%%/*}" --arg n "${key#*/}" \
		'{resource: "pods", namespace: $ns, name: $n}')" >/dev/null ||
		fail "could not delete Pod $key"
	ip netns del "${POD_NS[$key]}"
	unset "POD_IP[$key]" "POD_HOST[$key]" "POD_LABELS[$key]" \
		"POD_SERVER[$key]" "POD_NS[$key]"
	policy_world
}

# pod_label NS/NAME LABELS: the Pod's labels change
pod_label() {
	POD_LABELS[$1]=$2
	fake POST apply "$(pod_json "$1" running)" >/dev/null || fail "could not relabel Pod $1"
}

# netpol NS NAME SPEC: creates or replaces a NetworkPolicy
netpol() {
	local key="$1/$2" p
	fake POST apply "$(jq -nc --arg ns "$1" --arg n "$2" --argjson s "$3" \
		'{resource: "networkpolicies", object:
		  {metadata: {name: $n, namespace: $ns}, spec: $s}}')" >/dev/null ||
		fail "could not apply NetworkPolicy $key"
	for p in "${POLICIES[@]}"; do [ "$p" = "$key" ] && return 0; done
	POLICIES+=("$key")
}

# netpol_del NS NAME
netpol_del() {
	local key="$1/$2" keep=() p
	fake POST delete "$(jq -nc --arg ns "$1" --arg n "$2" \
		'{resource: "networkpolicies", namespace: $ns, name: $n}')" >/dev/null ||
		fail "could not delete NetworkPolicy $key"
	for p in "${POLICIES[@]}"; do [ "$p" = "$key" ] || keep+=("$p"); done
	POLICIES=("${keep[@]}")
}

# netpol_clear: every policy applied goes
netpol_clear() {
	local p
	for p in "${POLICIES[@]}"; do netpol_del "${p%%/*}" "${p#*/}"; done
}

# api_objects: the API's Namespaces, Pods and NetworkPolicies, listed
api_objects() {
	local r
	for r in api/v1/namespaces api/v1/pods apis/networking.k8s.io/v1/networkpolicies; do
		ip netns exec "$API_NS" curl -sf --max-time 10 --cacert "$T/api.crt" \
			-H "Authorization: Bearer $API_TOKEN" "https://$API_ADDR:6443/$r" ||
			return 1
	done | jq -s '{namespaces: .[0].items, pods: .[1].items, networkpolicies: .[2].items}'
}

# truth TITLE [check ARGS...] <<TABLE: the truth table agrees with the
# reference model of the API's objects (unless NO_MODEL=1) and holds
# within the deadline (see policy_probe.py check); fails the test otherwise
truth() {
	local title=$1 objects=() all=()
	shift
	plugin_on || all=(--all-allowed)
	if [ -z "${NO_MODEL:-}" ]; then
		api_objects >"$T/objects.json" || fail "$title: could not list the API's objects"
		objects=(--objects "$T/objects.json")
	fi
	"$PYTHON" "$PROBE" check --world "$T/world.json" --title "$title" \
		--deadline "$POLICY_DEADLINE" ${POLICY_VERBOSE:+--verbose} \
		"${all[@]}" "${objects[@]}" "$@" ||
		fail "$title: the truth table does not hold"
}

# explains HOST NS/NAME WORD: stratactl policy names WORD for the pod
explains() {
	ctl "$1" policy "$2" | has -w -- "$3"
}

# policy_setup: the whole world: pods x/a..z/c (labels pod=a ..., and
# canary=true on the c pods) alternately on h1 and h2 (x/a h1, x/b h2,
# x/c h1, y/a h2 ...)
policy_setup() {
	local n p i=0 h
	policy_net
	policy_sctp "${HOST_NS[h1]}"
	policy_api
	for h in h1 h2; do policy_conf "$h"; done
	"$STRATAD" -t -c "$T/h1.conf" >/dev/null || fail "stratad -t rejects h1.conf"
	for h in h1 h2; do policy_start "$h"; done
	for n in x y z; do
		for p in a b c; do
			# alternate: x/a h1, x/b h2, x/c h1, y/a h2 ...
			h=h$((i % 2 + 1))
			i=$((i + 1))
			# the c pods carry a second label for Exists/DoesNotExist
			if [ "$p" = c ]; then
				pod_add "$n/$p" "$h" '{"pod": "c", "canary": "true"}'
			else
				pod_add "$n/$p" "$h" "{\"pod\": \"$p\"}"
			fi
		done
	done
	ok "9 pods on 2 hosts: $(for k in $(printf '%s\n' "${!POD_IP[@]}" | sort); do
		printf '%s=%s@%s ' "$k" "${POD_IP[$k]}" "${POD_HOST[$k]}"; done)"
}
