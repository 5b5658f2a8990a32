#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The plugin SDK works out of tree: install a built strata into a temporary
# root, build examples/routes-file against it with nothing but pkg-config,
# check that the plugin exports its descriptor alone, and have the installed
# stratad describe it.
#
#   BUILDDIR=build tests/integration/sdk.sh
#
# BUILDDIR is a configured and built strata build directory. Runs as root:
# stratad loads only root-owned plugins.
set -eu

fail() {
	echo "sdk.sh: FAIL: $*" >&2
	exit 1
}

[ -n "${BUILDDIR:-}" ] ||
	fail "set BUILDDIR to a configured and built strata build directory"
[ -f "$BUILDDIR/config.status" ] ||
	fail "$BUILDDIR has no config.status: not a configured build directory"
[ "$(id -u)" -eq 0 ] ||
	fail "run as root: stratad loads only plugins owned by root"
for tool in make pkg-config nm cc; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool not found"
done

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
BUILDDIR=$(cd "$BUILDDIR" && pwd)
example=$srcdir/examples/routes-file
[ -f "$example/routes-file.c" ] || fail "$example/routes-file.c missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-sdk.XXXXXX")
ns=""
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
root=$tmp/root

# 1. Install, as a package build would.
if ! make -C "$BUILDDIR" install DESTDIR="$root" >"$tmp/install.log" 2>&1; then
	tail -n 30 "$tmp/install.log" >&2
	fail "make -C $BUILDDIR install DESTDIR=... failed"
fi

# Where configure put things (--prefix, --libdir) is read off the install.
pc=$(find "$root" -path '*/pkgconfig/strata-plugin.pc' | head -n 1)
[ -n "$pc" ] || fail "no strata-plugin.pc installed under DESTDIR"
stratad=$(find "$root" -path '*/sbin/stratad' -type f | head -n 1)
[ -n "$stratad" ] || fail "no sbin/stratad installed under DESTDIR"

# 2. Build the example with the installed SDK alone. A copy, so the source
# tree stays clean and no header beside it can be picked up.
PKG_CONFIG_SYSROOT_DIR=$root
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR CPATH C_INCLUDE_PATH 2>/dev/null || true

cflags=$(pkg-config --cflags strata-plugin) ||
	fail "pkg-config --cflags strata-plugin failed"
abi_major=$(pkg-config --variable=abi_major strata-plugin)
[ -n "$abi_major" ] || fail "strata-plugin.pc has no abi_major"
[ -n "$(pkg-config --variable=plugindir strata-plugin)" ] ||
	fail "strata-plugin.pc has no plugindir"
# With the headers below DESTDIR, the include path must point there.
hdr=$(find "$root" -path '*/include/strata/plugin.h' | head -n 1)
[ -n "$hdr" ] || fail "no include/strata/plugin.h installed"
case " $cflags " in
*" -I$(dirname "$(dirname "$hdr")") "*) ;;
*) fail "pkg-config --cflags gives '$cflags', not the installed headers" ;;
esac

cp -R "$example" "$tmp/routes-file"
make -C "$tmp/routes-file" clean >/dev/null
if ! make -C "$tmp/routes-file" CFLAGS='-O2 -g -Werror' all check \
	>"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	fail "building examples/routes-file against the installed SDK failed"
fi
[ -f "$tmp/routes-file/routes-file.so" ] || fail "routes-file.so was not built"
# Under a neutral name, so that "routes-file" in stratad's output can only
# come from the descriptor.
mkdir "$tmp/plugin"
so=$tmp/plugin/example.so
cp "$tmp/routes-file/routes-file.so" "$so"

# 3. Exactly one dynamic symbol is defined: the descriptor of this major.
syms=$(nm -D --defined-only "$so" | awk 'NF { print $NF }')
if [ "$syms" != "strata_plugin_v$abi_major" ]; then
	echo "defined dynamic symbols:" >&2
	echo "$syms" >&2
	fail "routes-file.so must export strata_plugin_v$abi_major alone"
fi

# 4. The installed stratad checks and describes it.
chown root:root "$so"
chmod 0644 "$so"
if ! "$stratad" --plugin-info "$so" >"$tmp/info" 2>&1; then
	cat "$tmp/info" >&2
	fail "stratad --plugin-info refused routes-file.so"
fi
for word in routes-file advertiser path scopes family; do
	if ! grep -qw -- "$word" "$tmp/info"; then
		cat "$tmp/info" >&2
		fail "stratad --plugin-info does not mention '$word'"
	fi
done

# 5. The installed stratad loads it and runs it: an owner states a route,
# the plugin writes it to its file. In a namespace of its own.
fixture=$BUILDDIR/tests/fixtures/plugins/.libs/owner-fixture.so
[ -f "$fixture" ] || fail "$fixture is missing (make check builds it)"
ns="strata-sdk-$$"
ip netns add "$ns" || fail "cannot make network namespace $ns"
cat >"$tmp/stratad.conf" <<CONF
control = { socket = "$tmp/stratad.sock"; };
store = { url = "$tmp/store.db"; };
plugins = (
  { instance = "files"; file = "$so"; config = { path = "$tmp/routes.conf"; scopes = [ "kernel" ]; }; },
  { instance = "owner"; file = "$fixture"; config = { routes = [ "10.9.0.0/24 via 10.0.0.2" ]; }; }
);
CONF
ip netns exec "$ns" "$stratad" -c "$tmp/stratad.conf" 2>"$tmp/stratad.log" &
pid=$!
for _ in $(seq 100); do
	grep -q 'route 10.9.0.0/24 via 10.0.0.2;' "$tmp/routes.conf" 2>/dev/null && break
	sleep 0.1
done
kill "$pid" 2>/dev/null
wait "$pid" || true
pid=""
ip netns del "$ns"
ns=""
if ! grep -q 'route 10.9.0.0/24 via 10.0.0.2;' "$tmp/routes.conf" 2>/dev/null; then
	cat "$tmp/stratad.log" >&2
	fail "stratad did not run routes-file: no route in its file"
fi

echo "sdk.sh: PASS: routes-file built from the installed SDK" \
	"($(basename "$pc"), ABI major $abi_major), described and run by stratad"
