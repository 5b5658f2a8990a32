#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Each public header compiles alone, as pedantic C99 and as C++11, the live
# ones and the 1.0 snapshot's, and a plugin defined with STRATA_PLUGIN()
# compiles in both languages.
set -u

: "${CC:=cc}"
: "${CXX:=c++}"
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
LIVE="-I$top_builddir/include -I$top_srcdir/include"
SNAPSHOT="-I$top_srcdir/tests/abi/1.0"
INC=$LIVE
CWARN="-std=c99 -pedantic -Werror -Wall -Wextra"
CXXWARN="-std=c++11 -pedantic -Werror -Wall -Wextra"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-headers.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0

try() {
	# try WHAT COMPILER FLAGS SOURCE
	what=$1 comp=$2 flags=$3 src=$4
	# shellcheck disable=SC2086 # the compiler and flags are word lists
	if $comp $flags $INC -c "$src" -o "$tmp/out.o" 2>"$tmp/log"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		sed 's/^/  /' "$tmp/log"
		fail=1
	fi
}

for h in types store host plugin; do
	printf '#include <strata/%s.h>\n' "$h" >"$tmp/$h.c"
	cp "$tmp/$h.c" "$tmp/$h.cc"
	try "strata/$h.h as C99" "$CC" "$CWARN" "$tmp/$h.c"
	try "strata/$h.h as C++11" "$CXX" "$CXXWARN" "$tmp/$h.cc"
	INC=$SNAPSHOT
	try "1.0 snapshot strata/$h.h as C99" "$CC" "$CWARN" "$tmp/$h.c"
	try "1.0 snapshot strata/$h.h as C++11" "$CXX" "$CXXWARN" "$tmp/$h.cc"
	INC=$LIVE
done

# The IPAM request, result and callback types (0.3: moved from plugin.h,
# shared with the host table) come with <strata/types.h> alone.
cat >"$tmp/types.c" <<'SRC'
#include <strata/types.h>

static void t_ipam(void *arg, const struct strata_ipam_result *res)
{
	(void)arg;
	(void)res;
}

static void t_list(void *arg, const char *handle,
		   const struct strata_prefix *addrs, uint32_t n_addrs)
{
	(void)arg;
	(void)handle;
	(void)addrs;
	(void)n_addrs;
}

static void t_done(void *arg, int err, const char *error_text)
{
	(void)arg;
	(void)err;
	(void)error_text;
}

strata_ipam_cb t_ipam_cb = t_ipam;
strata_ipam_list_cb t_list_cb = t_list;
strata_done_cb t_done_cb = t_done;
struct strata_ipam_request t_req = { sizeof(struct strata_ipam_request), 1,
				     "handle" };
struct strata_ipam_result t_res;
SRC
cp "$tmp/types.c" "$tmp/types.cc"
try "IPAM types from strata/types.h as C99" "$CC" "$CWARN" "$tmp/types.c"
try "IPAM types from strata/types.h as C++11" "$CXX" "$CXXWARN" "$tmp/types.cc"

cat >"$tmp/use.c" <<'SRC'
#include <strata/plugin.h>

static int use_create(const struct strata_host *host,
		      struct strata_instance *inst, void **self)
{
	(void)host;
	(void)inst;
	*self = 0;
	return 0;
}

static int use_start(void *self)
{
	(void)self;
	return 0;
}

/* STRATA_HOST_HAS() in both languages. */
int use_has_metrics(const struct strata_host *host);
int use_has_metrics(const struct strata_host *host)
{
	return STRATA_HOST_HAS(host, metric_delete);
}

static void use_destroy(void *self)
{
	(void)self;
}

static const struct strata_plugin_ops use_ops = {
	sizeof(struct strata_plugin_ops), use_create, use_start, 0, 0,
	use_destroy, 0
};

static const struct strata_frontend_ops use_fe_ops = {
	sizeof(struct strata_frontend_ops), 0
};

STRATA_PLUGIN(STRATA_KIND_FRONTEND, "use", "1", "header use", 0, &use_ops,
	      &use_fe_ops);
SRC
cp "$tmp/use.c" "$tmp/use.cc"
try "STRATA_PLUGIN() as C99" "$CC" "$CWARN" "$tmp/use.c"
try "STRATA_PLUGIN() as C++11" "$CXX" "$CXXWARN" "$tmp/use.cc"

exit $fail
