# Where moto lives, for the aws-vpc integration tests (source this file).
# moto 5 and boto3 come with pyenv's Python, which PATH may lack (no shims)
# and whose shims pick a version by PYENV_VERSION or the cwd's
# .python-version: so look for an interpreter that really imports both and
# use its real path from then on.
# shellcheck shell=bash

# moto_python: prints the python3 that imports moto and boto3 (an absolute
# path, valid from any cwd); returns 1 with a message when none does.
moto_python() {
	local root=${PYENV_ROOT:-$HOME/.pyenv} c exe
	for c in "$(command -v python3 || true)" "$root/shims/python3" \
		"$root"/versions/*/bin/python3; do
		{ [ -n "$c" ] && [ -x "$c" ]; } || continue
		exe=$(cd / && "$c" -c 'import sys, moto, boto3
print(sys.executable)' 2>/dev/null) || continue
		[ -x "$exe" ] && {
			echo "$exe"
			return 0
		}
	done
	echo "moto_python: no python3 imports moto and boto3 (looked at" \
		"PATH, $root/shims and $root/versions/*)" >&2
	return 1
}

# moto_server_cmd [PYTHON]: prints the moto_server beside PYTHON (default:
# moto_python's; pass it to save the look-up), else the one on PATH or in
# pyenv's shims; returns 1 with a message when there is none.
moto_server_cmd() {
	local root=${PYENV_ROOT:-$HOME/.pyenv} py=${1:-} c
	if [ -n "$py" ] || py=$(moto_python 2>/dev/null); then
		c=$(dirname "$py")/moto_server
		[ -x "$c" ] && {
			echo "$c"
			return 0
		}
	fi
	for c in "$(command -v moto_server || true)" "$root/shims/moto_server"; do
		[ -n "$c" ] && [ -x "$c" ] && {
			echo "$c"
			return 0
		}
	done
	echo "moto_server_cmd: no moto_server (looked beside moto_python," \
		"on PATH and in $root/shims)" >&2
	return 1
}

# ---- the set-up of aws-vpc.sh and the aws benchmarks -------------------------
# Source lib.sh first (T, NSP, mkns, track, wait_until, fail), then set
# PY=$(moto_python) and MOTO=$(moto_server_cmd "$PY"). The network: a bridge
# (br0 in $NSP-sw), the aws namespace ($NSP-aws) on it at $AWS with moto on
# port 5000 and the fault proxy (tests/fixtures/ec2_proxy.py) on 5001;
# node K ("nK", $NSP-nK) at 10.99.0.K.

AWS=${AWS:-10.99.0.254}
AWS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# node configs: the routes and health groups, and more of aws-vpc's config
AWS_ROUTES=${AWS_ROUTES:-'per_host = false; spread = false;'}
AWS_HEALTH=${AWS_HEALTH:-'checker = "icmp";'}
AWS_VPC_EXTRA=${AWS_VPC_EXTRA:-}
declare -A AWS_PID      # node -> its stratad
declare -A AWS_IDENTITY # node -> its identity in the config (default: $T/nodes)
declare -A AWS_ENV      # node -> its credentials' env (default: $KEY, $SECRET)

aws_in() {
	ip netns exec "$NSP-aws" "$@"
}

# aws_leg NODE ADDR: NODE's namespace on the bridge, eth0 at ADDR/24
aws_leg() {
	ip -n "$NSP-$1" link add eth0 type veth peer name "v$1" netns "$NSP-sw"
	ip -n "$NSP-sw" link set "v$1" master br0 up
	ip -n "$NSP-$1" addr add "$2/24" dev eth0
	ip -n "$NSP-$1" link set eth0 up
}

# aws_net: the bridge and the aws namespace on it
aws_net() {
	mkns sw >/dev/null
	mkns aws >/dev/null
	ip -n "$NSP-sw" link add br0 type bridge
	ip -n "$NSP-sw" link set br0 up
	aws_leg aws "$AWS"
}

# aws_moto SUBCOMMAND ARGS...: aws_moto.py against moto itself
aws_moto() {
	aws_in "$PY" "$AWS_LIB_DIR/aws_moto.py" "$@" --state "$T/state.json"
}

_aws_state() {
	/usr/bin/python3 -c "import json, sys; print(json.load(open('$T/state.json'))$1)"
}

# aws_moto_start: moto with signature checking, a VPC of 3 zones x 2
# subnets x 2 instances, the last subnet on the main table ($T/state.json),
# checked; sets ADMIN_KEY, ADMIN_SECRET, KEY, SECRET (strata-plugin's) and
# VPC
aws_moto_start() {
	# started directly, not through aws_in: $! must be moto itself (a
	# function in the background is a subshell, and moto would outlive it)
	ip netns exec "$NSP-aws" env INITIAL_NO_AUTH_ACTION_COUNT=6 "$MOTO" -H "$AWS" -p 5000 \
		>"$T/moto.log" 2>&1 &
	track $!
	wait_until 30 "moto_server" aws_in "$PY" -c "
import urllib.request
urllib.request.urlopen('http://$AWS:5000/moto-api/', timeout=1)"
	aws_in "$PY" "$AWS_LIB_DIR/aws_moto.py" setup \
		--endpoint "http://$AWS:5000" --out "$T/state.json" --zones 3 \
		--subnets-per-zone 2 --instances-per-subnet 2 \
		--main-table-subnets 1 >"$T/setup.log" 2>&1 ||
		fail "aws_moto.py setup: $(tail -n 5 "$T/setup.log")"
	aws_moto selftest >"$T/selftest.log" 2>&1 ||
		fail "moto does not check signatures or policies: $(cat "$T/selftest.log")"
	ADMIN_KEY=$(_aws_state '["admin"]["key"]')
	ADMIN_SECRET=$(_aws_state '["admin"]["secret"]')
	KEY=$(_aws_state '["plugin"]["key"]')
	SECRET=$(_aws_state '["plugin"]["secret"]')
	VPC=$(_aws_state '["vpc_id"]')
}

# aws_pctl METHOD PATH [JSON]: the control API of the proxy on
# $AWS:${AWS_PROXY_PORT:-5001}
aws_pctl() {
	aws_in "$PY" - "$1" "http://$AWS:${AWS_PROXY_PORT:-5001}/_proxy/$2" \
		"${3:-}" <<'PY'
import sys, urllib.request
m, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, method=m, data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}

# aws_proxy_start [PORT [LOG]]: a fault proxy in front of moto (default
# 5001, $T/proxy.log), with the admin key
aws_proxy_start() {
	local port=${1:-5001} log=${2:-$T/proxy.log}
	ip netns exec "$NSP-aws" "$PY" "$SRCDIR/tests/fixtures/ec2_proxy.py" --listen "$AWS:$port" \
		--upstream "http://$AWS:5000" --admin-key "$ADMIN_KEY" \
		--admin-secret "$ADMIN_SECRET" --region us-east-1 >"$log" 2>&1 &
	track $!
	AWS_PROXY_PORT=$port wait_until 20 "the proxy" aws_pctl GET config
}

# aws_nodes N: $T/nodes, N lines "name instance eni subnet zone" (node K
# takes subnet K's first instance, then the second ones: aws_vpc.py
# nodes), and $T/credentials, strata-plugin's key as profile "strata"
aws_nodes() {
	/usr/bin/python3 "$AWS_LIB_DIR/aws_vpc.py" nodes "$T/state.json" "$1" \
		>"$T/nodes"
	printf '[strata]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$KEY" "$SECRET" >"$T/credentials"
	chmod 600 "$T/credentials"
}

# aws_conf NODE: writes $T/NODE.conf: the embedded store $T/store.db,
# the topology IPAM on $CIDR, the icmp checker and the aws-vpc advertiser
# through the proxy on 5001; groups routes and health from AWS_ROUTES and
# AWS_HEALTH, AWS_VPC_EXTRA in aws-vpc's config, the identity from
# AWS_IDENTITY[NODE], else from $T/nodes
aws_conf() {
	local n=$1 k=${1#n} inst eni subnet zone identity
	read -r _ inst eni subnet zone < <(sed -n "${k}p" "$T/nodes")
	identity=${AWS_IDENTITY[$n]:-"imds = false; region = \"us-east-1\"; vpc_id = \"$VPC\";
      instance_id = \"$inst\"; interface_id = \"$eni\";
      subnet_id = \"$subnet\"; zone = \"$zone\";"}
	cat >"$T/$n.conf" <<CONF
control = { socket = "$T/$n.sock"; };
store = { url = "$T/store.db"; };
node = { name = "$n"; address = "10.99.0.$k"; };
plugin_dir = "$PLUGINDIR";
routes = { $AWS_ROUTES };
health = { $AWS_HEALTH };
metrics = { port = 9477; };
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "$CIDR" ]; }; },
  { instance = "icmp"; file = "healthcheck-icmp.so"; },
  { instance = "vpc"; file = "advertiser-aws-vpc.so";
    config = { ec2_endpoint = "http://$AWS:5001"; $identity
      $AWS_VPC_EXTRA }; }
);
CONF
}

# aws_start NODE: its stratad, credentials from AWS_ENV[NODE], else
# strata-plugin's key in the environment; sets AWS_PID[NODE]
aws_start() {
	local n=$1 envs
	envs=${AWS_ENV[$n]:-"AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET"}
	# shellcheck disable=SC2086
	ip netns exec "$NSP-$n" env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID $envs \
		AWS_EC2_METADATA_DISABLED=true "$STRATAD" -c "$T/$n.conf" \
		>>"$T/$n.log" 2>&1 &
	AWS_PID[$n]=$!
	track "${AWS_PID[$n]}"
}

# aws_nodes_up N: nodes n1..nN (after aws_nodes N): each a namespace on the
# bridge, its config and its stratad; waits for every control socket
aws_nodes_up() {
	local k
	for k in $(seq "$1"); do
		mkns "n$k" >/dev/null
		aws_leg "n$k" "10.99.0.$k"
		aws_conf "n$k"
		aws_start "n$k"
	done
	for k in $(seq "$1"); do
		wait_until 20 "n$k's control socket" aws_ctl "n$k" version
	done
}

aws_ctl() {
	local n=$1
	shift
	"$STRATACTL" -s "$T/$n.sock" "$@"
}

# aws_status NODE KEY: the aws-vpc instance's status KEY on NODE
aws_status() {
	aws_ctl "$1" --json plugins >"$T/plugins-$1.json" &&
		/usr/bin/python3 "$AWS_LIB_DIR/aws_vpc.py" plugin \
			"$T/plugins-$1.json" "$2"
}

# aws_writer NODE: the route writer, as NODE sees it ($T/health.json)
aws_writer() {
	aws_ctl "$1" --json health >"$T/health.json" &&
		/usr/bin/python3 "$AWS_LIB_DIR/failover.py" "$T/health.json" writer
}

# Run directly (as tests/integration/run.sh does with every *.sh): say
# what was found; not a test, so never a failure.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if py=$(moto_python); then
		echo "$py"
		moto_server_cmd "$py" || true
	fi
	exit 0
fi
