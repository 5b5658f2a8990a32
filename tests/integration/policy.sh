#!/bin/bash
# NetworkPolicy conformance: the truth tables of the upstream Kubernetes
# e2e network-policy cases (test/e2e/network/netpol/network_policy.go)
# against pods x/a..z/c on two hosts (policy-lib.sh), every (source,
# target, port, protocol) probed for each policy. A pod reaches itself
# always; a table line "SRC DST PORTS yes|no" overrides those before it.
# POLICY_PLUGIN=0 runs it without the plugin: every probe must pass.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/policy-lib.sh"

start=$SECONDS
policy_setup
truth "no policy: everything reaches everything" <<'T'
T

# The harness itself: without the plugin, a drop of our own in h1's
# forward path (a table of the test's, deleted after) must show as
# blocked, and a table that does not hold must fail with its differences.
if ! plugin_on; then
	ip netns exec "${HOST_NS[h1]}" nft -f - <<NFT
table inet policy-selftest {
	chain selftest {
		type filter hook forward priority 10;
		ip daddr ${POD_IP[x/a]} tcp dport 81 drop
		ip daddr ${POD_IP[x/a]} udp dport 80 drop
		ip saddr ${POD_IP[y/b]} ip daddr ${POD_IP[z/b]} ct state new drop
	}
}
NFT
	NO_MODEL=1 POLICY_PLUGIN=1 truth "harness: drops of the test's own are seen" <<'T'
*	x/a	tcp/81	no
*	x/a	udp/80	no
y/b	z/b	*	no
T
	if "$PYTHON" "$PROBE" check --world "$T/world.json" --deadline 1 \
		--title "harness: a table that does not hold" >"$T/selftest.out" </dev/null; then
		fail "the prober did not see the test's own drops: $(cat "$T/selftest.out")"
	fi
	has -- '-> x/a tcp/81: expected allowed, observed blocked' "$T/selftest.out" ||
		fail "the prober's differences do not name x/a tcp/81: $(cat "$T/selftest.out")"
	ip netns exec "${HOST_NS[h1]}" nft delete table inet policy-selftest
	ok "harness: blocked probes are seen and differences printed"
fi

# case TITLE: a case starts with no policy left from the one before
case_() {
	CASE=$1
	netpol_clear
}

case_ "deny all ingress"
netpol x deny-ingress '{"podSelector": {}, "policyTypes": ["Ingress"]}'
truth "$CASE" <<'T'
*	x/*	*	no
T
# a node reaches its own pods whatever the policy, not the other's
truth "$CASE: from the nodes" --from 'node/*' <<'T'
node/*	x/*	*	no
node/h1	x/a	*	yes
node/h1	x/c	*	yes
node/h2	x/b	*	yes
T
netpol_del x deny-ingress
truth "$CASE: deleting the policy restores access" <<'T'
T

case_ "allow all ingress"
netpol x deny-ingress '{"podSelector": {}, "policyTypes": ["Ingress"]}'
netpol x allow-all '{"podSelector": {}, "ingress": [{}]}'
plugin_on && wait_until 30 "stratactl policy x/a naming allow-all" explains h1 x/a allow-all
truth "$CASE" <<'T'
T

case_ "ingress from pods by label in the same namespace"
netpol x from-b '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
x/b	x/a	*	yes
T

case_ "ingress from a namespace by label"
netpol x from-ns-y '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
y/*	x/a	*	yes
T

case_ "podSelector AND namespaceSelector in one peer"
netpol x and-peer '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
	                       "podSelector": {"matchLabels": {"pod": "b"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
y/b	x/a	*	yes
T

case_ "podSelector OR namespaceSelector as two peers"
netpol x or-peers '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}},
	                      {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
y/*	x/a	*	yes
x/b	x/a	*	yes
T

case_ "matchExpressions In and NotIn"
netpol x in-notin '{"podSelector": {"matchExpressions": [
		{"key": "pod", "operator": "In", "values": ["a", "b"]}]},
	"ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
		{"key": "ns", "operator": "NotIn", "values": ["y"]}]},
		"podSelector": {"matchExpressions": [
		{"key": "pod", "operator": "NotIn", "values": ["a"]}]}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*	x/b	*	no
x/[bc]	x/[ab]	*	yes
z/[bc]	x/[ab]	*	yes
T

case_ "matchExpressions Exists and DoesNotExist"
netpol x exists '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
		{"key": "ns", "operator": "Exists"}]},
		"podSelector": {"matchExpressions": [
		{"key": "canary", "operator": "Exists"}]}}]}]}'
netpol y not-exists '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"podSelector": {"matchExpressions": [
		{"key": "canary", "operator": "DoesNotExist"}]}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*/c	x/a	*	yes
*	y/a	*	no
y/b	y/a	*	yes
T

case_ "ingress on one port only"
netpol x port-81 '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {}}],
	             "ports": [{"port": 81, "protocol": "TCP"}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*	x/a	tcp/81	yes
T

case_ "named ports, ingress and egress"
netpol x named-in '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]}'
netpol y named-eg '{"podSelector": {"matchLabels": {"pod": "b"}},
	"policyTypes": ["Egress"],
	"egress": [{"ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*	x/a	udp/81	yes
y/b	*	*	no
y/b	*	tcp/80	yes
y/b	x/a	*	no
T

case_ "endPort ranges"
netpol x range-in '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"ports": [{"port": 81, "endPort": 85, "protocol": "TCP"}]}]}'
netpol y range-eg '{"podSelector": {"matchLabels": {"pod": "a"}},
	"policyTypes": ["Egress"],
	"egress": [{"ports": [{"port": 70, "endPort": 80, "protocol": "UDP"}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*	x/a	tcp/81	yes
y/a	*	*	no
y/a	*	udp/80	yes
y/a	x/a	*	no
T

case_ "UDP only"
netpol x udp '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"ports": [{"protocol": "UDP"}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
*	x/a	udp/*	yes
T

if [ "${SCTP:-0}" = 1 ]; then
	case_ "SCTP on one port"
	netpol x sctp '{"podSelector": {"matchLabels": {"pod": "a"}},
		"ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]}'
	truth "$CASE" <<'T'
*	x/a	*	no
*	x/a	sctp/80	yes
T
fi

case_ "egress deny all"
netpol x deny-egress '{"podSelector": {}, "policyTypes": ["Egress"]}'
truth "$CASE" <<'T'
x/*	*	*	no
T

case_ "egress to a pod by label"
netpol x to-y-a '{"podSelector": {"matchLabels": {"pod": "a"}},
	"policyTypes": ["Egress"],
	"egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
	                    "podSelector": {"matchLabels": {"pod": "a"}}}]}]}'
truth "$CASE" <<'T'
x/a	*	*	no
x/a	y/a	*	yes
T

case_ "ipBlock with except, egress and ingress"
netpol x cidr-eg "{\"podSelector\": {\"matchLabels\": {\"pod\": \"a\"}},
	\"policyTypes\": [\"Egress\"],
	\"egress\": [{\"to\": [{\"ipBlock\": {\"cidr\": \"10.112.0.0/16\",
		\"except\": [\"${POD_IP[y/b]}/32\", \"${POD_IP[z/c]}/32\"]}}]}]}"
netpol x cidr-in "{\"podSelector\": {\"matchLabels\": {\"pod\": \"b\"}},
	\"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"${POD_IP[y/a]}/32\"}}]}]}"
truth "$CASE" <<'T'
x/a	y/b	*	no
x/a	z/c	*	no
*	x/b	*	no
y/a	x/b	*	yes
T

case_ "policyTypes Egress only leaves ingress open"
netpol x egress-only '{"podSelector": {"matchLabels": {"pod": "a"}},
	"policyTypes": ["Egress"],
	"egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}'
# without policyTypes, egress rules make a policy isolate both ways
netpol x both-ways '{"podSelector": {"matchLabels": {"pod": "c"}},
	"egress": [{"to": [{"podSelector": {}}]}]}'
truth "$CASE" <<'T'
x/a	*	*	no
x/a	y/*	*	yes
*	x/c	*	no
x/c	*	*	no
x/c	x/*	*	yes
x/a	x/c	*	no
T

case_ "two policies: the union allows"
netpol x from-b-tcp80 '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}],
	             "ports": [{"port": 80, "protocol": "TCP"}]}]}'
netpol x from-y '{"podSelector": {"matchLabels": {"pod": "a"}},
	"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
x/b	x/a	tcp/80	yes
y/*	x/a	*	yes
T
if plugin_on; then
	wait_until 10 "stratactl policy x/a naming from-b-tcp80" explains h1 x/a from-b-tcp80
	wait_until 10 "stratactl policy x/a naming from-y" explains h1 x/a from-y
	ctl h1 policy x/a | sed 's/^/    /'
	ok "stratactl policy x/a names both policies that allow"
fi

case_ "default allow for pods no policy selects"
netpol x selects-nothing '{"podSelector": {"matchLabels": {"pod": "nobody"}},
	"policyTypes": ["Ingress", "Egress"]}'
netpol y deny-a '{"podSelector": {"matchLabels": {"pod": "a"}},
	"policyTypes": ["Ingress"]}'
truth "$CASE" <<'T'
*	y/a	*	no
T

case_ "replies of allowed connections pass under an egress deny"
netpol x server '{"podSelector": {"matchLabels": {"pod": "a"}},
	"policyTypes": ["Ingress", "Egress"],
	"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}'
truth "$CASE" <<'T'
*	x/a	*	no
y/*	x/a	*	yes
x/a	*	*	no
T

case_ "deny all both ways, but the node reaches its own pods"
netpol x deny-all '{"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}'
truth "$CASE" --from '*' <<'T'
*	x/*	*	no
x/*	*	*	no
node/h1	x/a	*	yes
node/h1	x/c	*	yes
node/h2	x/b	*	yes
T

netpol_clear
truth "every policy deleted: everything reaches everything again" <<'T'
T
for h in h1 h2; do
	stop_stratad "${HOST_PID[$h]}" || fail "$h's stratad exited non-zero"
done
ok "policy conformance passed in $((SECONDS - start))s"
