#!/bin/bash
# The CNI conformance suite: cni_conformance.py plays the runtime and runs
# every check (the MUSTs of notes/cni.md section 2) against two plugins,
# each exec'd in a "host" namespace with pods in namespaces of their own:
#   ref     Debian's ptp + host-local (/usr/lib/cni)
#   strata  strata-cni and a stratad (frontend-cni, topology IPAM on the
#           embedded store), which the driver starts and stops by pid
# Each profile's known deviations are listed in the driver; a new failure
# or a deviation that went away fails the run.
#   cni-conformance.sh [ref] [strata]   (default: both)
# A missing plugin skips its profile, but fails the run under CI=true.
# CNI_PODS sets the size of the concurrent batch (default 100).
. "$(dirname "$0")/lib.sh"

PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
DRIVER=$SRCDIR/tests/integration/cni_conformance.py
STRATA_CNI=${STRATA_CNI:-$BUILDDIR/strata-cni}
PIDFILE=$T/driver.pids

# the driver's stratad, should the driver itself die: by pid, then the rest
conf_exit() {
	local rc=$? p
	set +e
	if [ -f "$PIDFILE" ]; then
		while read -r p; do
			kill -TERM "$p" 2>/dev/null && track "$p"
		done <"$PIDFILE"
	fi
	(exit "$rc")
	cleanup
}
trap conf_exit EXIT

missing() { # PROFILE WHAT
	[ "${CI:-}" = true ] && fail "$1 profile: $2 (CI=true)"
	echo "SKIP: $1 profile: $2"
	skipped="$skipped $1"
}

run_ref() {
	local host
	if [ ! -x /usr/lib/cni/ptp ] || [ ! -x /usr/lib/cni/host-local ]; then
		missing ref "no /usr/lib/cni/ptp or host-local (scripts/deps.sh test installs containernetworking-plugins)"
		return 0
	fi
	mkdir -p "$T/ref"
	host=$(mkns ref-host)
	"$PYTHON" "$DRIVER" ref --host-ns "$host" --ns-prefix "$NSP-ref" \
		--workdir "$T/ref" ${CNI_ONLY:+--only "$CNI_ONLY"}
}

run_strata() {
	local host d=$T/strata
	if [ ! -x "$STRATA_CNI" ]; then
		missing strata "no strata-cni at $STRATA_CNI"
		return 0
	fi
	if [ ! -e "$PLUGINDIR/frontend-cni.so" ]; then
		missing strata "no frontend-cni.so in $PLUGINDIR"
		return 0
	fi
	mkdir -p "$d"
	host=$(mkns strata-host)
	# the node's uplink: its address, a default route
	ip -n "$host" link add eth0 type veth peer name eth0p
	ip -n "$host" link set eth0p up
	ip -n "$host" addr add 10.78.0.1/24 dev eth0
	ip -n "$host" addr add fd00:78::1/64 dev eth0 nodad
	ip -n "$host" link set eth0 up
	ip -n "$host" route add default via 10.78.0.254
	ip -n "$host" -6 route add default via fd00:78::fe
	cat >"$d/stratad.conf" <<CONF
log = { level = "info"; };
control = { socket = "$d/ctl.sock"; };
store = { url = "$d/store.db"; };
routes = { resync_interval = "2s"; };
metrics = { port = 9477; };
node = { name = "h1"; zone = "z1"; subnet = "s1"; address = "10.78.0.1";
         address6 = "fd00:78::1"; };
plugin_dir = "$PLUGINDIR";
plugins = (
  { instance = "ipam"; file = "ipam-topology.so";
    config = { pools = [ "10.112.0.0/16", "fd00:112::/48" ];
               levels = [ "zone:2", "subnet:2" ]; }; },
  { instance = "kernel"; file = "advertiser-static.so";
    config = { scopes = [ "kernel" ]; }; },
  { instance = "cni"; file = "frontend-cni.so";
    config = { socket = "$d/cni.sock"; masquerade = false; mtu = 1500; }; }
);
CONF
	"$PYTHON" "$DRIVER" strata --host-ns "$host" --ns-prefix "$NSP-strata" \
		--workdir "$d" --pidfile "$PIDFILE" \
		--stratad "$STRATAD" --stratad-conf "$d/stratad.conf" \
		--ctl-sock "$d/ctl.sock" --cni-sock "$d/cni.sock" \
		--store "$d/store.db" --strata-cni "$STRATA_CNI" \
		${CNI_ONLY:+--only "$CNI_ONLY"}
}

profiles=("$@")
[ ${#profiles[@]} -eq 0 ] && profiles=(ref strata)
failed=""
skipped=""
for p in "${profiles[@]}"; do
	case $p in
	ref) run_ref || failed="$failed ref" ;;
	strata) run_strata || failed="$failed strata" ;;
	*) fail "unknown profile $p (ref, strata)" ;;
	esac
done
[ -z "$failed" ] || fail "CNI conformance failed for:$failed"
ok "CNI conformance: ${profiles[*]}${skipped:+ (skipped:$skipped)}"
