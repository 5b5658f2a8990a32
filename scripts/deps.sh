#!/bin/sh
# Install what strata needs to build, run and test, from Debian's packages.
# Usage: scripts/deps.sh [build|demo|test|bench|package]   (the others add their tools)
set -eu

BUILD="autoconf automake libtool pkg-config make gcc g++ \
	libconfig-dev libcurl4-openssl-dev libyajl-dev libnl-3-dev \
	libnl-route-3-dev libssl-dev libsqlite3-dev libnftables-dev nftables \
	libexpat1-dev libyaml-dev libsystemd-dev \
	check iproute2 procps"
TEST="valgrind clang libclang-rt-14-dev binutils python3 curl openssl etcd-server etcd-client iputils-ping"
BENCH="etcd-server containernetworking-plugins iperf3"
DEMO="python3 iputils-ping curl"
# tests/packaging/run.sh: both package builds and their checks
PACKAGE="dpkg-dev debhelper dh-autoreconf lintian rpm python3"
# the CNI conformance suite runs the reference plugins too
TEST="$TEST containernetworking-plugins"
TEST="$TEST bird2 gobgpd"
# the manual pages' test renders them with man-db and groff
TEST="$TEST man-db groff-base"
# the plugin ABI against its baseline (tests/abi/abidiff.sh)
TEST="$TEST abigail-tools"
# tests/kubernetes/manifests.py reads the manifests' YAML
TEST="$TEST python3-yaml"
# the packages are built, installed and purged (tests/packaging/run.sh)
TEST="$TEST $PACKAGE"

case ${1:-build} in
build) want=$BUILD ;;
demo) want="$BUILD $DEMO" ;;
test) want="$BUILD $TEST" ;;
bench) want="$BUILD $TEST $BENCH" ;;
package) want="$BUILD $PACKAGE" ;;
*) echo "usage: deps.sh [build|demo|test|bench|package]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
