#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The packages, built from the release tarball and used as an operator
# would: the Debian packages (lintian, dpkg -i, their files, stratad started
# as the installed unit starts it but in a network namespace made here,
# purge, nothing left), then the RPMs from the same tarball (their files).
#
#   tests/packaging/run.sh [TARBALL]
#
# Without TARBALL, one is made with `make dist` in a scratch build.
# DEB_BUILD_OPTIONS, if set, replaces "nocheck noddebs noopt parallel=NPROC":
# the tests have run before, and unoptimised builds take a third less time
# (the RPMs are built with -O0 too when it has noopt). Root only: it installs packages. Outside CI a
# missing tool skips the test (exit 77); under CI=true it fails.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
t0=$SECONDS
step_t0=$SECONDS
step_name=""

fail() {
	echo "packaging: FAIL: $*" >&2
	exit 1
}

skip() {
	if [ "${CI:-}" = true ]; then
		fail "$* (required under CI)"
	fi
	echo "packaging: SKIP: $*"
	exit 77
}

step_end() {
	[ -z "$step_name" ] || echo "    $step_name: $((SECONDS - step_t0)) s"
}

step() {
	step_end
	step_name=$1
	step_t0=$SECONDS
	echo "--- $1"
}

[ "$(id -u)" = 0 ] || skip "needs root (it installs packages)"
for tool in dpkg-buildpackage dh lintian rpmbuild rpm ip python3 make cc \
	pkg-config; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done

# What this test installs and purges must not be there already.
if dpkg-query -W -f='${Status}\n' strata strata-dev strata-plugin-aws-vpc \
	2>/dev/null | grep -q 'installed'; then
	fail "a strata package is installed already: this test would purge it"
fi
for p in /etc/strata /var/lib/strata /run/strata/stratad.sock; do
	[ ! -e "$p" ] || fail "$p exists: this test would remove it"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-pkg.XXXXXX")
ns=""
pid=""
listener=""
installed=""
policy=""
run_made=""
[ -e /run/strata ] || run_made=1
opt_had=""
[ -d /opt/cni/bin ] && opt_had=1
opt_link_had=""
[ -e /opt/cni/bin/strata-cni ] || [ -L /opt/cni/bin/strata-cni ] &&
	opt_link_had=1

stop_pid() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

cleanup() {
	[ -z "$pid" ] || stop_pid "$pid"
	[ -z "$listener" ] || stop_pid "$listener"
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
	if [ -n "$installed" ]; then
		dpkg --purge strata-plugin-aws-vpc strata-dev strata \
			>/dev/null 2>&1 || true
	fi
	[ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
	[ -z "$run_made" ] || rm -rf /run/strata
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---- the tarball ----------------------------------------------------------
step "tarball"
if [ $# -ge 1 ]; then
	tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	[ -f "$tarball" ] || fail "$1: no such file"
else
	[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh) \
		>"$tmp/autogen.log" 2>&1 || fail "autogen.sh failed"
	mkdir "$tmp/dist"
	if ! (cd "$tmp/dist" && "$top/configure" -q && make -s dist) \
		>"$tmp/dist.log" 2>&1; then
		tail -n 30 "$tmp/dist.log" >&2
		fail "make dist failed"
	fi
	tarball=$(ls "$tmp"/dist/strata-*.tar.gz)
fi
name=$(basename "$tarball" .tar.gz)
ver=${name#strata-}
tar tzf "$tarball" >"$tmp/tarball.list"
grep -qx "$name/debian/control" "$tmp/tarball.list" ||
	fail "$tarball carries no debian/"
grep -qx "$name/strata.spec" "$tmp/tarball.list" ||
	fail "$tarball carries no strata.spec"
echo "$tarball (version $ver)"

# The plugins and man pages the tarball has: each must be in a package.
plugins=$(sed -n "s|^$name/plugins/\([^/]*\)/subdir.am$|\1|p" \
	"$tmp/tarball.list")
[ -n "$plugins" ] || fail "no plugins/*/subdir.am in the tarball"
mans=$(sed -n "s|^$name/man/\([^/]*\.[1-9]\)\(\.in\)\{0,1\}$|\1|p" \
	"$tmp/tarball.list" |
	tr '\n' ' ')
abi_major=$(tar xzOf "$tarball" "$name/configure.ac" |
	sed -n 's/^m4_define(\[strata_abi_major\], \[\([0-9]*\)\])$/\1/p')
abi_minor=$(tar xzOf "$tarball" "$name/configure.ac" |
	sed -n 's/^m4_define(\[strata_abi_minor\], \[\([0-9]*\)\])$/\1/p')
if [ -z "$abi_major" ] || [ -z "$abi_minor" ]; then
	fail "no strata_abi_major/minor in configure.ac"
fi
if [ "$abi_major" = 0 ]; then
	abi=strata-plugin-abi-0.$abi_minor
else
	abi=strata-plugin-abi-$abi_major
fi

# ---- Debian packages ------------------------------------------------------
step "dpkg-buildpackage"
: "${DEB_BUILD_OPTIONS:=nocheck noddebs noopt parallel=$(nproc)}"
export DEB_BUILD_OPTIONS
echo "DEB_BUILD_OPTIONS=\"$DEB_BUILD_OPTIONS\""
mkdir "$tmp/deb"
cp "$tarball" "$tmp/deb/strata_$ver.orig.tar.gz"
tar xzf "$tarball" -C "$tmp/deb"
changelog_ver=$(cd "$tmp/deb/$name" && dpkg-parsechangelog -S Version)
[ "${changelog_ver%-*}" = "$ver" ] ||
	fail "debian/changelog is at $changelog_ver, the tarball at $ver"
if ! (cd "$tmp/deb/$name" && dpkg-buildpackage -us -uc -b) \
	>"$tmp/deb/build.log" 2>&1; then
	tail -n 40 "$tmp/deb/build.log" >&2
	fail "dpkg-buildpackage failed"
fi
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=""
for p in strata strata-dev strata-plugin-aws-vpc; do
	f=$tmp/deb/${p}_${changelog_ver}_$arch.deb
	[ -f "$f" ] || fail "no $(basename "$f") built"
	debs="$debs $f"
done
ls "$tmp"/deb/*.deb

step "lintian"
# shellcheck disable=SC2086
if ! lintian --fail-on error --tag-display-limit 0 $debs \
	>"$tmp/lintian.log" 2>&1; then
	cat "$tmp/lintian.log" >&2
	fail "lintian found errors"
fi
grep -v '^N:' "$tmp/lintian.log" || echo "lintian: no tags"

step "dpkg -i"
if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	# systemd runs here: the test starts stratad itself, in a namespace
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	policy=1
fi
installed=1
# shellcheck disable=SC2086
dpkg -i $debs >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log" >&2
	fail "dpkg -i failed"
}

step "dpkg -L"
for p in strata strata-dev strata-plugin-aws-vpc; do
	dpkg -L "$p" >"$tmp/$p.files"
done
cat "$tmp"/*.files | sort -u >"$tmp/all.files"
has() { # PACKAGE PATH
	grep -qxF -- "$2" "$tmp/$1.files" || fail "$1 lacks $2"
}
plugindir=/usr/lib/$ma/strata/plugins
for f in /usr/sbin/stratad /usr/bin/stratactl /usr/lib/cni/strata-cni \
	/lib/systemd/system/stratad.service /etc/strata/stratad.conf \
	/usr/share/doc/strata/examples/stratad.conf \
	/usr/share/doc/strata/examples/10-strata.conflist; do
	has strata "$f"
done
for p in $plugins; do
	if [ "$p" = advertiser-aws-vpc ]; then
		has strata-plugin-aws-vpc "$plugindir/$p.so"
	else
		has strata "$plugindir/$p.so"
	fi
done
for m in $mans; do
	has strata "/usr/share/man/man${m##*.}/$m.gz"
done
for h in plugin.h host.h types.h store.h version.h; do
	has strata-dev "/usr/include/strata/$h"
done
has strata-dev "/usr/lib/$ma/pkgconfig/strata-plugin.pc"
has strata-dev /usr/share/doc/strata-dev/examples/routes-file/routes-file.c
! grep -E '\.la$|^/opt|^/usr/bin/strata-cni$' "$tmp/all.files" ||
	fail "libtool archives, /opt or /usr/bin/strata-cni in a package"
dpkg-query -W -f='${Conffiles}\n' strata | grep -q '^ /etc/strata/stratad.conf ' ||
	fail "/etc/strata/stratad.conf is not a conffile"
provides=$(dpkg-query -W -f='${Provides}' strata)
[ "$provides" = "$abi" ] || fail "strata provides \"$provides\", not $abi"
dpkg-query -W -f='${Depends}' strata-plugin-aws-vpc | grep -q "$abi" ||
	fail "strata-plugin-aws-vpc does not depend on $abi"
[ "$(stat -c %a /var/lib/strata)" = 700 ] ||
	fail "/var/lib/strata is not 0700"
echo "$(wc -l <"$tmp/all.files") paths; provides $provides; man pages:" \
	"${mans:-none in the tarball}"

# /opt/cni/bin belongs to the machine: linked into if it was there, never
# made.
if [ -n "$opt_had" ] && [ -z "$opt_link_had" ]; then
	[ "$(readlink /opt/cni/bin/strata-cni)" = /usr/lib/cni/strata-cni ] ||
		fail "no /opt/cni/bin/strata-cni link to /usr/lib/cni/strata-cni"
elif [ -z "$opt_had" ]; then
	[ ! -e /opt/cni/bin ] || fail "the package made /opt/cni/bin"
fi

step "stratad -t, the SDK example"
/usr/sbin/stratad -t -c /etc/strata/stratad.conf
cp -r /usr/share/doc/strata-dev/examples/routes-file "$tmp/sdk"
make -s -C "$tmp/sdk" >"$tmp/sdk.log" 2>&1 || {
	cat "$tmp/sdk.log" >&2
	fail "the example plugin does not build against strata-dev"
}
/usr/sbin/stratad --plugin-info "$tmp/sdk/routes-file.so" | grep '^name:'

# ---- the daemon as the unit runs it, in a namespace of its own ------------
step "stratad under the installed unit's ExecStart"
exec_line=$(sed -n 's/^ExecStart=[-@:+!]*//p' /lib/systemd/system/stratad.service)
[ -n "$exec_line" ] || fail "no ExecStart= in the installed unit"
grep -qx 'Type=notify' /lib/systemd/system/stratad.service ||
	fail "the unit is not Type=notify"
read -ra argv <<<"$exec_line"
echo "ExecStart: $exec_line"
ns=strata-pkg-$$
ip netns add "$ns"
ip -n "$ns" link set lo up
# systemd's side of sd_notify: one line per datagram
python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        try:
            m = s.recv(4096)
        except socket.timeout:
            break
        f.write(m.decode().replace("\n", " ") + "\n")
PY
listener=$!
for _ in $(seq 1 50); do
	[ -S "$tmp/notify.sock" ] && break
	sleep 0.1
done
[ -S "$tmp/notify.sock" ] || fail "the notify listener did not start"
NOTIFY_SOCKET=$tmp/notify.sock ip netns exec "$ns" "${argv[@]}" \
	>"$tmp/stratad.log" 2>&1 &
pid=$!

wait_for() { # WHAT TENTHS COMMAND...
	local what=$1 n=$2
	shift 2
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || {
			cat "$tmp/stratad.log" >&2
			fail "stratad exited while waiting for $what"
		}
		sleep 0.1
	done
	cat "$tmp/stratad.log" >&2
	fail "no $what after $((n / 10)) s"
}
notified() { # COUNT PATTERN
	local n
	n=$(grep -c -- "$2" "$tmp/notify.log" 2>/dev/null) || n=0
	[ "$n" -ge "$1" ]
}
# shellcheck disable=SC2016
wait_for "stratactl status" 200 \
	sh -c 'stratactl status >"$1" 2>&1' - "$tmp/status.out"
sed 's/^/    /' "$tmp/status.out"
[ "$(readlink "/proc/$pid/ns/net")" = \
	"$(ip netns exec "$ns" readlink /proc/self/ns/net)" ] ||
	fail "stratad is not in $ns"
wait_for "READY=1" 50 notified 1 'READY=1 STATUS=running'
kill -HUP "$pid"
wait_for "RELOADING=1, READY=1 after SIGHUP" 50 notified 2 'READY=1'
notified 1 'RELOADING=1' || fail "no RELOADING=1 before READY=1"
kill -TERM "$pid"
for _ in $(seq 1 150); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
! kill -0 "$pid" 2>/dev/null || fail "stratad still runs 15 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || {
	cat "$tmp/stratad.log" >&2
	fail "stratad exited with $rc after SIGTERM"
}
notified 1 'STOPPING=1' || fail "no STOPPING=1 at SIGTERM"
stop_pid "$listener"
listener=""
sed 's/^/    notify: /' "$tmp/notify.log"
ip netns del "$ns"
ns=""

# ---- purge: nothing is left -----------------------------------------------
step "dpkg --purge"
dpkg --purge strata-plugin-aws-vpc strata-dev strata >"$tmp/purge.log" 2>&1 || {
	cat "$tmp/purge.log" >&2
	fail "dpkg --purge failed"
}
installed=""
left=""
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	# a directory stays if something else is in it or another package
	# has it
	if [ -d "$f" ] && { [ -n "$(ls -A "$f")" ] ||
		dpkg-query -S "$f" >/dev/null 2>&1; }; then
		continue
	fi
	left="$left $f"
done <"$tmp/all.files"
for f in /etc/strata /var/lib/strata /opt/cni/bin/strata-cni \
	/etc/systemd/system/multi-user.target.wants/stratad.service \
	/var/lib/systemd/deb-systemd-helper-enabled/stratad.service.dsh-also; do
	[ -n "$opt_link_had" ] && [ "$f" = /opt/cni/bin/strata-cni ] && continue
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
[ -z "$left" ] || fail "left after purge:$left"

# ---- RPMs -----------------------------------------------------------------
step "rpmbuild -ba"
mkdir -p "$tmp/rpm/SOURCES" "$tmp/rpm/SPECS"
cp "$tarball" "$tmp/rpm/SOURCES/"
tar xzOf "$tarball" "$name/strata.spec" >"$tmp/rpm/SPECS/strata.spec"
optflags="-O2 -g"
case " $DEB_BUILD_OPTIONS " in *" noopt "*) optflags="-O0 -g" ;; esac
# Debian's rpm has no systemd-rpm-macros and none of the BuildRequires.
if ! rpmbuild -ba --nodeps --nocheck \
	--define "optflags $optflags" \
	--define "_topdir $tmp/rpm" \
	--define "debug_package %{nil}" \
	--define "_unitdir /usr/lib/systemd/system" \
	--define "systemd_post() %{nil}" \
	--define "systemd_preun() %{nil}" \
	--define "systemd_postun_with_restart() %{nil}" \
	--define "_smp_mflags -j$(nproc)" \
	"$tmp/rpm/SPECS/strata.spec" >"$tmp/rpm/build.log" 2>&1; then
	tail -n 40 "$tmp/rpm/build.log" >&2
	fail "rpmbuild failed"
fi

step "rpm -qlp"
rpmarch=$(rpm --eval %_arch)
libdir=$(rpm --eval %_libdir)
cnidir=$(rpm --eval %_libexecdir)/cni
ls "$tmp"/rpm/SRPMS/*.src.rpm >/dev/null || fail "no source rpm"
for p in strata strata-devel strata-plugin-aws-vpc; do
	f=$tmp/rpm/RPMS/$rpmarch/$p-$ver-1.$rpmarch.rpm
	[ -f "$f" ] || fail "no $(basename "$f") built"
	rpm -qlp "$f" >"$tmp/$p.rpm.files"
done
rhas() { # PACKAGE PATH-PATTERN
	grep -qx -- "$2" "$tmp/$1.rpm.files" || fail "$1.rpm lacks $2"
}
for f in /usr/sbin/stratad /usr/bin/stratactl "$cnidir/strata-cni" \
	/usr/lib/systemd/system/stratad.service /etc/strata/stratad.conf \
	/var/lib/strata; do
	rhas strata "$f"
done
for p in $plugins; do
	if [ "$p" = advertiser-aws-vpc ]; then
		rhas strata-plugin-aws-vpc "$libdir/strata/plugins/$p.so"
	else
		rhas strata "$libdir/strata/plugins/$p.so"
	fi
done
for m in $mans; do
	rhas strata "/usr/share/man/man${m##*.}/$m\(\.gz\)\?"
done
for h in plugin.h host.h types.h store.h version.h; do
	rhas strata-devel "/usr/include/strata/$h"
done
rhas strata-devel "$libdir/pkgconfig/strata-plugin.pc"
rhas strata-devel ".*/routes-file/routes-file.c"
! grep -E '\.la$|^/opt' "$tmp"/*.rpm.files ||
	fail "libtool archives or /opt in an rpm"
rpm -qcp "$tmp/rpm/RPMS/$rpmarch/strata-$ver-1.$rpmarch.rpm" |
	grep -qx /etc/strata/stratad.conf || fail "stratad.conf is not %config"
rpm -qp --provides "$tmp/rpm/RPMS/$rpmarch/strata-$ver-1.$rpmarch.rpm" |
	grep -qx "$abi" || fail "strata.rpm does not provide $abi"
rpm -qp --requires \
	"$tmp/rpm/RPMS/$rpmarch/strata-plugin-aws-vpc-$ver-1.$rpmarch.rpm" |
	grep -qx "$abi" || fail "strata-plugin-aws-vpc.rpm does not require $abi"
for f in "$tmp"/rpm/RPMS/*/*.rpm "$tmp"/rpm/SRPMS/*.rpm; do
	echo "    ${f##*/}"
done

step_end
echo "packaging: PASS in $((SECONDS - t0)) s"
