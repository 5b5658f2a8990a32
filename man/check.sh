#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The manual pages render without a warning, and they keep up with the
# code: every option the programs' help shows, every command stratactl
# can send or runs itself, every setting cfg.c accepts and every key of
# every plugin's schema has its tagged paragraph in the right page and
# section.
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=.}"
pages="stratad.8 stratad.conf.5 stratactl.8 strata-cni.8 strata-plugin.7"
fail=0

bad() {
	echo "FAIL: $*"
	fail=1
}

for tool in man groff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		# CI must run this; a developer's machine may lack the tools
		if [ "${CI:-}" = true ]; then
			echo "FAIL: $tool is not installed (scripts/deps.sh test)"
			exit 1
		fi
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done

# KEEP=1 leaves the rendered pages and extracted lists behind, to look at
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-man.XXXXXX") || exit 99
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# -- each page renders cleanly --------------------------------------------

for p in $pages; do
	f=$top_builddir/man/$p
	if [ ! -f "$f" ]; then
		bad "$p: not built (make man/$p)"
		continue
	fi
	if grep -n '@[A-Za-z_]*@' "$f" >"$tmp/subst"; then
		bad "$p: left unsubstituted: $(head -n 3 "$tmp/subst")"
	fi
	MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings -l -E UTF-8 "$f" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ] || [ -s "$tmp/err" ]; then
		bad "$p: man --warnings -l exited $rc:"
		sed 's/^/  /' "$tmp/err"
	elif [ ! -s "$tmp/out" ]; then
		bad "$p: man rendered nothing"
	fi
	groff -man -ww -z "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ] || [ -s "$tmp/err" ] || [ -s "$tmp/out" ]; then
		bad "$p: groff -man -ww -z exited $rc:"
		sed 's/^/  /' "$tmp/err" "$tmp/out"
	fi
done

# -- what the pages document ----------------------------------------------

# One line per .SS heading (H SECTION SUBSECTION) and per .TP tag
# (T SECTION SUBSECTION TAG), tab-separated, escapes and fonts removed.
tags() {
	awk '
	function norm(s) {
		sub(/^\.[BIR][BIR]? /, "", s)
		gsub(/"/, "", s)
		gsub(/\\f[BIRP]/, "", s)
		gsub(/\\-/, "-", s)
		gsub(/\\&/, "", s)
		gsub(/\\ /, " ", s)
		gsub(/\\\(dq/, "\"", s)
		gsub(/\\e/, "\\", s)
		gsub(/[ \t]+/, " ", s)
		sub(/^ /, "", s)
		sub(/ $/, "", s)
		return s
	}
	/^\.SH / { sec = norm(substr($0, 5)); sub_ = ""; next }
	/^\.SS / { sub_ = norm(substr($0, 5)); print "H\t" sec "\t" sub_; next }
	/^\.TP/ { tp = 1; next }
	tp { print "T\t" sec "\t" sub_ "\t" norm($0); tp = 0 }
	' "$top_builddir/man/$1" >"$tmp/$1.tags"
}

for p in $pages; do
	tags "$p"
done

# has_tag PAGE SECTION SUBSECTION WORD: a tag in that place (SUBSECTION
# "*": any) has WORD among its words.
has_tag() {
	awk -F '\t' -v sec="$2" -v sub_="$3" -v w="$4" '
	$1 == "T" && $2 == sec && (sub_ == "*" || $3 == sub_) {
		n = split($4, words, /[ ,]+/)
		for (i = 1; i <= n; i++)
			if (words[i] == w)
				found = 1
	}
	END { exit !found }
	' "$tmp/$1.tags"
}

# has_heading PAGE SECTION SUBSECTION
has_heading() {
	awk -F '\t' -v sec="$2" -v sub_="$3" '
	$1 == "H" && $2 == sec && $3 == sub_ { found = 1 }
	END { exit !found }
	' "$tmp/$1.tags"
}

# has_command COMMAND: a tag in stratactl(8)'s COMMANDS begins with it,
# its words joined by "-" or by spaces.
has_command() {
	awk -F '\t' -v c="$1" '
	BEGIN { spaced = c; gsub(/-/, " ", spaced) }
	$1 == "T" && $2 == "COMMANDS" {
		t = $4 " "
		if (index(t, c " ") == 1 || index(t, spaced " ") == 1)
			found = 1
	}
	END { exit !found }
	' "$tmp/stratactl.8.tags"
}

# options: the options named on the option lines of a help text
options() {
	grep -E '^ +-' |
		grep -oE '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' |
		sed 's/^[^-]*//' | sort -u
}

# check_options PAGE SECTION WHAT < HELP
check_options() {
	options >"$tmp/opts"
	if [ "$(wc -l <"$tmp/opts")" -lt 3 ]; then
		bad "$3: found no options in its help"
		return
	fi
	while read -r o; do
		has_tag "$1" "$2" "*" "$o" ||
			bad "$1: $2 does not document $3's $o"
	done <"$tmp/opts"
}

# help PROGRAM ARGS...: its help text, in $tmp/help
help() {
	"$@" --help >"$tmp/help" 2>&1 || bad "$* --help failed"
}
help "$top_builddir/stratad"
check_options stratad.8 OPTIONS stratad <"$tmp/help"
help "$top_builddir/stratactl"
check_options stratactl.8 OPTIONS stratactl <"$tmp/help"
help "$top_builddir/stratactl" plan
check_options stratactl.8 "PLAN OPTIONS" "stratactl plan" <"$tmp/help"
help "$top_builddir/stratactl" store migrate
check_options stratactl.8 "MIGRATE OPTIONS" "stratactl store migrate" \
	<"$tmp/help"

# The commands stratad registers (its table in daemon.c, single
# registrations elsewhere, help built into control.c), and those
# stratactl runs itself (argv[1], with argv[2] when it takes two words).
{
	grep -ohE 'control_register\([^,]+, *"[a-z-]+"' "$top_srcdir"/core/*.c |
		sed 's/.*"\([a-z-]*\)"$/\1/'
	grep -oE '\{ "[a-z-]+", cmd_[a-z_]+ \}' "$top_srcdir/core/daemon.c" |
		sed 's/^{ "\([a-z-]*\)".*/\1/'
} | sort -u >"$tmp/commands"
if [ "$(wc -l <"$tmp/commands")" -lt 10 ]; then
	bad "found only $(wc -l <"$tmp/commands") commands in core/*.c"
fi
grep -oE 'strcmp\(argv\[[12]\], "[a-z][a-z-]*"\)' \
	"$top_srcdir/cli/stratactl.c" | awk -F '"' '
	/argv\[1\]/ { if (prev != "") print prev; prev = $2 }
	/argv\[2\]/ { print prev " " $2; prev = "" }
	END { if (prev != "") print prev }
	' >"$tmp/local"
if ! grep -qx 'store migrate' "$tmp/local"; then
	bad "found no local commands in cli/stratactl.c"
fi
cat "$tmp/local" >>"$tmp/commands"
while read -r c; do
	has_command "$c" || bad "stratactl.8: COMMANDS does not document $c"
done <"$tmp/commands"

# stratad's own settings: the key lists of cfg.c, each group's by the
# group_of() call that reads it.
awk '
/^static const char \*const [a-z_]+_keys\[\] = \{/ {
	list = $5
	sub(/\[\].*/, "", list)
	open_ = 1
}
open_ {
	line = $0
	while (match(line, /"[a-z0-9_]+"/)) {
		print list, substr(line, RSTART + 1, RLENGTH - 2)
		line = substr(line, RSTART + RLENGTH)
	}
	if ($0 ~ /NULL *\};/)
		open_ = 0
}
' "$top_srcdir/core/cfg.c" >"$tmp/keys"
grep -oE 'group_of\(cx, root, "[a-z_]+", [a-z_]+_keys' \
	"$top_srcdir/core/cfg.c" |
	sed 's/.*"\([a-z_]*\)", \([a-z_]*\)$/\2 \1/' >"$tmp/groups"
echo "plugin_keys plugins" >>"$tmp/groups"
if [ "$(wc -l <"$tmp/keys")" -lt 30 ]; then
	bad "found only $(wc -l <"$tmp/keys") settings in core/cfg.c"
fi
while read -r list key; do
	if [ "$list" = top_keys ]; then
		has_heading stratad.conf.5 SETTINGS "$key" ||
			bad "stratad.conf.5: SETTINGS has no subsection $key"
		continue
	fi
	group=$(awk -v l="$list" '$1 == l { print $2 }' "$tmp/groups")
	if [ -z "$group" ]; then
		bad "core/cfg.c: cannot tell which group $list holds"
		continue
	fi
	has_tag stratad.conf.5 SETTINGS "$group" "$key" ||
		bad "stratad.conf.5: SETTINGS, $group, does not document $key"
done <"$tmp/keys"
# the node group is free-form but for its name
has_tag stratad.conf.5 SETTINGS node name ||
	bad "stratad.conf.5: SETTINGS, node, does not document name"

# Every plugin's schema: its subsection in PLUGIN SETTINGS, a tag per key.
n_plugins=0
for am in "$top_srcdir"/plugins/*/subdir.am; do
	dir=${am%/subdir.am}
	so=${dir##*/}.so
	n_plugins=$((n_plugins + 1))
	has_heading stratad.conf.5 "PLUGIN SETTINGS" "$so" ||
		bad "stratad.conf.5: PLUGIN SETTINGS has no subsection $so"
	cat "$dir"/*.c | awk '
	/strata_cfg_key [a-z_0-9]+\[\] = \{/ { open_ = 1; tables++; next }
	open_ && /^\};/ { open_ = 0 }
	open_ && match($0, /^[ \t]*\{ *"[a-z0-9_]+"/) {
		k = substr($0, RSTART, RLENGTH)
		sub(/^[^"]*"/, "", k)
		print substr(k, 1, length(k) - 1)
	}
	open_ && match($0, /\.name = "[a-z0-9_]+"/) {
		k = substr($0, RSTART + 9, RLENGTH - 10)
		print k
	}
	END { if (tables) print "#tables" }
	' >"$tmp/schema"
	if grep -qx '#tables' "$tmp/schema" &&
		[ "$(grep -cvx '#tables' "$tmp/schema")" = 0 ]; then
		bad "$dir: found a schema but no keys in it"
	fi
	grep -vx '#tables' "$tmp/schema" | while read -r key; do
		has_tag stratad.conf.5 "PLUGIN SETTINGS" "$so" "$key" ||
			echo "$so $key"
	done >"$tmp/missing"
	while read -r so_ key; do
		bad "stratad.conf.5: PLUGIN SETTINGS, $so_, does not document $key"
	done <"$tmp/missing"
done
[ "$n_plugins" -ge 8 ] || bad "found only $n_plugins plugins"

# The environment strata-cni reads.
grep -ohE '"CNI_[A-Z_]+"' "$top_srcdir"/cli/cni_conf.c "$top_srcdir"/cli/strata-cni.c |
	tr -d '"' | sort -u >"$tmp/env"
[ "$(wc -l <"$tmp/env")" -ge 5 ] || bad "found no CNI_* variables"
while read -r v; do
	has_tag strata-cni.8 ENVIRONMENT "*" "$v" ||
		bad "strata-cni.8: ENVIRONMENT does not document $v"
done <"$tmp/env"

[ "$fail" = 0 ] && echo "ok: $pages"
exit "$fail"
