#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# conf/kubernetes/ holds together: the objects (manifests.py), kustomize
# builds them, and stratad accepts the ConfigMap's configuration.
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
fail=0

python3 -c 'import yaml' 2>/dev/null || {
	echo "python3's yaml module is missing (Debian: python3-yaml)"
	[ "${CI:-}" = true ] && exit 1
	exit 77
}
if python3 "$top_srcdir/tests/kubernetes/manifests.py" "$top_srcdir"; then
	echo "ok: the objects are consistent"
else
	fail=1
fi

# kubectl is not a Debian package: checked where it is installed
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize "$top_srcdir/conf/kubernetes" >/dev/null; then
		echo "ok: kubectl kustomize"
	else
		fail=1
	fi
else
	echo "skip: kubectl kustomize (no kubectl)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-k8s.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
# the plugins of this build, not the installed ones
{
	echo "plugin_dir = \"$(cd "$top_builddir/.libs" && pwd)\";"
	cat "$top_srcdir/conf/kubernetes/stratad.conf"
} >"$tmp/stratad.conf"
if "$top_builddir/stratad" -t -c "$tmp/stratad.conf" >"$tmp/out" 2>&1; then
	echo "ok: stratad -t accepts conf/kubernetes/stratad.conf"
else
	echo "FAIL: stratad -t rejects conf/kubernetes/stratad.conf:"
	sed 's/^/  /' "$tmp/out"
	fail=1
fi
exit $fail
