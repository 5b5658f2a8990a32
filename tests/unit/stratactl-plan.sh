#!/bin/bash
# stratactl plan end to end: the real IPAM plugin through the loader, the
# planner, and each output format; errors say what is wrong.
set -euo pipefail

: "${top_builddir:?}" "${top_srcdir:?}"
ctl=$top_builddir/stratactl
plugin=$top_builddir/.libs/ipam-topology.so
T=$(mktemp -d /tmp/strata-plan.XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

plan() {
	"$ctl" plan --plugin "$plugin" "$@"
}

# json EXPR FILE: evaluate a Python expression over the JSON in FILE (j)
json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[2]))
print(eval(sys.argv[1]))' "$1" "$2"
}

[ -f "$plugin" ] || fail "no plugin at $plugin"
# the loader takes only root's plugins: a build by another user cannot run
# this, except in CI where it must
if [ "$(stat -c %u "$plugin")" != 0 ]; then
	[ "${CI:-}" = true ] && fail "$plugin is not root's"
	echo "SKIP: $plugin is not root's"
	exit 77
fi

# a small cluster fits the budget with one route per host (as kubenet)
plan --cidr 10.112.0.0/16 --zones 1 --subnets-per-zone 1 \
	--hosts-per-subnet 5 --pods-per-host 30 --json >"$T/small.json"
[ "$(json 'j["cloud"]["ipv4"]["mode"]' "$T/small.json")" = per-host ] ||
	fail "small cluster not per-host: $(cat "$T/small.json")"
[ "$(json 'j["cloud"]["ipv4"]["used"]' "$T/small.json")" = 5 ] ||
	fail "small cluster: expected 5 cloud routes"
[ "$(json 'j["hosts"]' "$T/small.json")" = 5 ] || fail "small cluster: hosts"

# 3 zones x 2 subnets x 20 hosts: 120 hosts do not fit 50 routes, so one
# route per subnet, spread over forwarders up to the budget and no further
plan --cidr 10.112.0.0/16 --zones 3 --subnets-per-zone 2 \
	--hosts-per-subnet 20 --pods-per-host 30 --json >"$T/mid.json"
[ "$(json 'j["subnets"]' "$T/mid.json")" = 6 ] || fail "mid: subnets"
[ "$(json 'j["cloud"]["ipv4"]["mode"]' "$T/mid.json")" = per-subnet ] ||
	fail "mid: not per-subnet"
used=$(json 'j["cloud"]["ipv4"]["used"]' "$T/mid.json")
[ "$used" -le 50 ] && [ "$used" -ge 6 ] || fail "mid: $used cloud routes"
[ "$(json 'len(set(r["dst"] for r in j["cloud"]["ipv4"]["routes"]))' "$T/mid.json")" = "$used" ] ||
	fail "mid: duplicate cloud routes"
# every block inside its subnet, every subnet prefix distinct
[ "$(json 'len(set(tuple(n["prefixes"]) for n in j["nodes"] if n["routed"]))' "$T/mid.json")" = 6 ] ||
	fail "mid: subnet prefixes not distinct"
[ "$(json 'sum(n["blocks_used"] for n in j["nodes"] if n["routed"])' "$T/mid.json")" = 120 ] ||
	fail "mid: expected 120 blocks used"

# the text form says the same in words
plan --cidr 10.112.0.0/16 --zones 3 --subnets-per-zone 2 \
	--hosts-per-subnet 20 --pods-per-host 30 >"$T/mid.txt"
grep -q "cloud route table, IPv4: $used of 50 routes (per-subnet)" "$T/mid.txt" ||
	fail "text: $(cat "$T/mid.txt")"
grep -q "room for" "$T/mid.txt" || fail "text: no capacity"

# a budget below the subnet count cannot be met: the error says why
if plan --cidr 10.112.0.0/16 --zones 3 --subnets-per-zone 2 \
	--hosts-per-subnet 20 --pods-per-host 30 --route-budget 4 \
	>"$T/out" 2>"$T/err"; then
	fail "a budget of 4 for 6 subnets was accepted"
fi
grep -q "6 subnets" "$T/err" && grep -q "budget 4" "$T/err" ||
	fail "budget error: $(cat "$T/err")"

# no room in the tree: the error names the level and the numbers
if plan --cidr 10.112.0.0/22 --zones 1 --subnets-per-zone 1 \
	--hosts-per-subnet 40 --pods-per-host 30 >"$T/out" 2>"$T/err"; then
	fail "40 hosts fit a /22 split for zones and subnets?"
fi
grep -q "full" "$T/err" && grep -q "40 hosts" "$T/err" ||
	fail "exhaustion error: $(cat "$T/err")"

# dual-stack: IPv4 and IPv6 routes, each within its own budget
plan --cidr 10.112.0.0/16,fd00:112::/48 --zones 1 --subnets-per-zone 2 \
	--hosts-per-subnet 3 --pods-per-host 10 --route-budget 50 \
	--route-budget6 4 --json >"$T/ds.json"
[ "$(json 'j["cloud"]["ipv4"]["used"]' "$T/ds.json")" = 6 ] ||
	fail "dual-stack: IPv4 routes"
[ "$(json 'j["cloud"]["ipv6"]["mode"]' "$T/ds.json")" = per-subnet ] ||
	fail "dual-stack: IPv6 mode"
[ "$(json 'j["cloud"]["ipv6"]["used"]' "$T/ds.json")" -le 4 ] ||
	fail "dual-stack: IPv6 over its budget"

# Graphviz: the tree and each subnet's cloud routes
plan --cidr 10.112.0.0/16 --zones 2 --subnets-per-zone 1 \
	--hosts-per-subnet 2 --pods-per-host 10 --format dot >"$T/g.dot"
head -n1 "$T/g.dot" | grep -q '^digraph strata_plan {' || fail "dot header"
grep -q '"n:zone-1" -> "n:zone-1/subnet-1"' "$T/g.dot" || fail "dot tree: $(cat "$T/g.dot")"
grep -q 'cloud route' "$T/g.dot" || fail "dot: no cloud routes"
tail -n1 "$T/g.dot" | grep -q '^}$' || fail "dot footer"

# a topology file: its own IPAM config, shapes and named hosts
cat >"$T/topo.conf" <<EOF
ipam = { file = "$plugin";
         config = { pools = [ "10.200.0.0/16" ]; levels = [ "zone:2", "subnet:2" ]; }; };
routes = { budget = 3; };
zones = ( { name = "us-east-1a";
            subnets = ( { name = "subnet-a"; hosts = 4; pods = 100; } ); } );
hosts = ( { name = "edge-1"; pods = 10; address = "192.0.2.10";
            facts = { zone = "us-east-1b"; subnet = "subnet-b"; }; } );
EOF
"$ctl" plan --topology "$T/topo.conf" --json >"$T/topo.json"
[ "$(json 'j["hosts"]' "$T/topo.json")" = 5 ] || fail "topology: hosts"
[ "$(json 'j["cloud"]["ipv4"]["budget"]' "$T/topo.json")" = 3 ] ||
	fail "topology: budget from the file"
[ "$(json 'j["cloud"]["ipv4"]["used"]' "$T/topo.json")" -le 3 ] ||
	fail "topology: over budget"
json '[n["path"] for n in j["nodes"]]' "$T/topo.json" | grep -q "us-east-1b/subnet-b" ||
	fail "topology: the named host's subnet is missing"
# 100 pods need 2 blocks of /26 per host
[ "$(json '[n["blocks_used"] for n in j["nodes"] if n["path"] == "us-east-1a/subnet-a"][0]' "$T/topo.json")" = 8 ] ||
	fail "topology: 4 hosts x 100 pods should take 8 blocks"

# a mistake in the file names the file and the line
printf 'zones = ( { name = "a"; subnets = ( { name = "s"; hosts = "x"; } ); } );\nipam = { file = "%s"; config = { pools = [ "10.0.0.0/16" ]; }; };\n' \
	"$plugin" >"$T/bad.conf"
if "$ctl" plan --topology "$T/bad.conf" 2>"$T/err" >/dev/null; then
	fail "a string host count was accepted"
fi
grep -q "bad.conf:1: hosts: expected a number" "$T/err" || fail "file error: $(cat "$T/err")"

# the IPAM config of a stratad config file
cat >"$T/stratad.conf" <<EOF
node = { name = "n1"; };
plugins = ( { instance = "ipam"; file = "$plugin";
              config = { pools = [ "10.50.0.0/16" ]; levels = [ "subnet:4" ]; }; } );
EOF
cat >"$T/hosts.conf" <<EOF
hosts = ( { name = "h1"; facts = { subnet = "s1"; }; },
          { name = "h2"; facts = { subnet = "s2"; }; } );
EOF
"$ctl" plan -c "$T/stratad.conf" --topology "$T/hosts.conf" --json >"$T/c.json"
json '[n["prefixes"][0] for n in j["nodes"] if n["routed"]]' "$T/c.json" | grep -q "10.50.0.0/20" ||
	fail "-c: pools not from the config: $(cat "$T/c.json")"

# usage errors exit 2
set +e
"$ctl" plan --zones 3 >/dev/null 2>&1
[ $? = 2 ] || fail "missing --cidr/--topology: expected exit 2"
"$ctl" plan --cidr 10.0.0.0/16 --zones x --subnets-per-zone 1 \
	--hosts-per-subnet 1 --pods-per-host 1 >/dev/null 2>&1
[ $? = 2 ] || fail "bad --zones: expected exit 2"
"$ctl" plan --current >/dev/null 2>&1
[ $? = 2 ] || fail "--current without a config: expected exit 2"
# --current needs stratad: none here, so exit 2 naming the socket
"$ctl" plan --current -s "$T/none.sock" -c "$T/stratad.conf" >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "--current without stratad: expected exit 2"
grep -q "none.sock" "$T/err" || fail "--current error: $(cat "$T/err")"
set -e
echo "ok: stratactl plan"
