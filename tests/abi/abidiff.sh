#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The public ABI as libabigail sees it: tests/abi/abi-probe.c, built with
# debug info against the live headers, dumped by abidw and compared by
# abidiff with the stored baseline tests/abi/strata-abi-MAJOR.MINOR.abi.
# Any difference fails, harmless ones (a renamed member) included. The
# baselines of the major's older minors are compared too: against them,
# additions alone pass. Every struct member abidw finds must also be
# frozen in tests/abi/layout.c.
#
#   tests/abi/abidiff.sh            compare (make check runs it)
#   tests/abi/abidiff.sh --update   write the baseline of this version anew
#
# Run by hand from the build directory, after `make tests/abi/abi-probe.la`
# (or `make abi-baseline`, which does both for --update). Without abidw
# and abidiff (Debian: abigail-tools) it skips, but fails under CI=true.
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
probe=$top_builddir/tests/abi/.libs/abi-probe.so
version_h=$top_builddir/include/strata/version.h
layout_c=$top_srcdir/tests/abi/layout.c

update=false
case ${1:-} in
--update) update=true ;;
"") ;;
*)
	echo "usage: $0 [--update]" >&2
	exit 99
	;;
esac

for tool in abidw abidiff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			echo "FAIL: $tool not found (Debian: abigail-tools)"
			exit 1
		fi
		echo "SKIP: $tool not found (Debian: abigail-tools)"
		exit 77
	fi
done

if [ ! -r "$probe" ]; then
	echo "ERROR: $probe is not built: make tests/abi/abi-probe.la"
	exit 99
fi
major=$(sed -n 's/^#define STRATA_ABI_MAJOR \([0-9]*\)$/\1/p' "$version_h")
minor=$(sed -n 's/^#define STRATA_ABI_MINOR \([0-9]*\)$/\1/p' "$version_h")
if [ -z "$major" ] || [ -z "$minor" ]; then
	echo "ERROR: no ABI version in $version_h"
	exit 99
fi
name=strata-abi-$major.$minor.abi
baseline=$top_srcdir/tests/abi/$name

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-abidiff.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

# No locations, build paths or DT_NEEDED: the same dump from every build
# directory. The translation unit keeps its file name alone.
if ! abidw --no-show-locs --no-comp-dir-path --no-corpus-path \
	--no-elf-needed "$probe" >"$tmp/raw.abi" 2>"$tmp/abidw.log"; then
	echo "ERROR: abidw $probe failed:"
	sed 's/^/  /' "$tmp/abidw.log"
	exit 99
fi
sed "s|path='[^']*abi-probe\.c'|path='abi-probe.c'|" "$tmp/raw.abi" \
	>"$tmp/current.abi"
if ! grep -q "<class-decl name='strata_host' size-in-bits=" \
	"$tmp/current.abi"; then
	echo "ERROR: no struct strata_host in the dump of $probe: built" \
		"without debug info (-g)?"
	exit 99
fi

if $update; then
	cp "$tmp/current.abi" "$baseline" || exit 99
	echo "wrote $baseline"
	exit 0
fi

fail=0

# Every member and size abidw sees is frozen in layout.c too.
awk -v q="'" '
function attr(line, key,    s) {
	s = line
	if (!sub(".*" key "=" q, "", s))
		return ""
	sub(q ".*", "", s)
	return s
}
/<class-decl name=.strata_/ && !/is-declaration-only/ {
	t = attr($0, "name")
	printf "SIZE(%s, %d);\n", t, attr($0, "size-in-bits") / 8
	next
}
t != "" && /<data-member / { off = attr($0, "layout-offset-in-bits") / 8 }
t != "" && /<var-decl / {
	printf "OFF(%s, %s, %d);\n", t, attr($0, "name"), off
}
/<\/class-decl>/ { t = "" }
' "$tmp/current.abi" >"$tmp/layout.want"
missing=0
while IFS= read -r line; do
	if ! grep -qxF "$line" "$layout_c"; then
		[ "$missing" = 0 ] && echo "FAIL: what abidw sees is not" \
			"what tests/abi/layout.c freezes:"
		echo "  not in layout.c: $line"
		missing=1
	fi
done <"$tmp/layout.want"
if [ "$missing" = 0 ]; then
	echo "ok: tests/abi/layout.c freezes all" \
		"$(wc -l <"$tmp/layout.want") sizes and offsets abidw sees"
else
	fail=1
fi

if [ ! -r "$baseline" ]; then
	echo "FAIL: no baseline $baseline for ABI $major.$minor:" \
		"a new minor writes one with $0 --update"
	exit 1
fi
arch_of() {
	sed -n "s/^<abi-corpus [^>]*architecture='\([^']*\)'.*/\1/p" "$1"
}
if [ "$(arch_of "$baseline")" != "$(arch_of "$tmp/current.abi")" ]; then
	echo "SKIP: $name is for $(arch_of "$baseline"), this build is for" \
		"$(arch_of "$tmp/current.abi")"
	exit 77
fi

abidiff --harmless --leaf-changes-only "$baseline" "$tmp/current.abi" \
	>"$tmp/abidiff.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	echo "ok: the ABI is $name, unchanged"
else
	# abidiff(1): 1 error, 2 usage, 4 ABI change, 8 incompatible change
	echo "FAIL: the ABI differs from $name (abidiff exit $rc):"
	sed 's/^/  /' "$tmp/abidiff.log"
	echo "Within a major the ABI only grows: a new minor appends, then" \
		"writes its baseline with tests/abi/abidiff.sh --update" \
		"(docs/plugin-abi.md)."
	fail=1
fi

# Each older minor of this major: what this one adds, and nothing else.
# abidiff's exit code alone does not tell: 8 (incompatible) covers
# removed functions, but a member inserted mid-struct is only 4 (a
# change), like an appended one. So exit 0 or 4, and every line of the
# report is an addition: functions added, and structs that start with
# their own size (so a reader can tell) grown by members at or past
# their old end.
first_member() {
	awk -v q="'" -v t="$2" '
	index($0, "<class-decl name=" q t q) { on = 1; next }
	on && /<var-decl / {
		s = $0; sub(".*name=" q, "", s); sub(q ".*", "", s)
		print s; exit
	}' "$1"
}
old=0
while [ "$old" -lt "$minor" ]; do
	older=$top_srcdir/tests/abi/strata-abi-$major.$old.abi
	old=$((old + 1))
	if [ ! -r "$older" ]; then
		echo "FAIL: no baseline $older"
		fail=1
		continue
	fi
	abidiff --harmless --leaf-changes-only "$older" "$tmp/current.abi" \
		>"$tmp/older.log" 2>&1
	rc=$?
	bad=$(awk -v q="'" '
	/^$/ || /^Leaf changes summary:/ || /^Changed leaf types summary:/ { next }
	/^Removed\/Changed\/Added (functions|variables) summary: 0 Removed, 0 Changed, [0-9]+ Added/ { next }
	/^[0-9]+ Added (function|variable)s?:$/ { next }
	/^  \[A\] / { next }
	$0 ~ "^" q "struct strata_[a-z0-9_]+" q " changed:$" {
		t = $2; gsub(q, "", t); old = -1; next
	}
	t != "" && /^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
		if ($7 + 0 <= $5 + 0) { print; next }
		old = $5 + 0; print "GROWN " t; next
	}
	t != "" && old >= 0 && /^  [0-9]+ data member insertions?:$/ { ins = 1; next }
	ins && /^    .*, at offset [0-9]+ \(in bits\)$/ {
		o = $0; sub(/.*, at offset /, "", o); sub(/ .*/, "", o)
		if (o + 0 < old) print
		next
	}
	{ ins = 0; print }
	' "$tmp/older.log")
	grown=$(printf '%s\n' "$bad" | sed -n 's/^GROWN //p')
	bad=$(printf '%s\n' "$bad" | grep -v '^GROWN ' | grep -v '^$')
	for t in $grown; do
		if [ "$(first_member "$tmp/current.abi" "$t")" != size ]; then
			bad="$bad
struct $t grew but does not start with its size"
		fi
	done
	if { [ "$rc" = 0 ] || [ "$rc" = 4 ]; } && [ -z "$bad" ]; then
		echo "ok: $name only appends to $(basename "$older")" \
			"(abidiff exit $rc)"
	else
		echo "FAIL: $name does not only append to" \
			"$(basename "$older") (abidiff exit $rc):"
		[ -n "$bad" ] && printf '%s\n' "$bad" | sed 's/^/  not an addition: /'
		sed 's/^/  /' "$tmp/older.log"
		fail=1
	fi
done
exit $fail
