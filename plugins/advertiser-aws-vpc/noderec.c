/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's record as JSON. Decoding takes two passes, as the core's
 * records do: yajl's event parser first bounds nesting and the number of
 * values and refuses \u0000 (yajl_tree keeps strings without their
 * length), then the tree is checked field by field; yajl_tree keeps
 * repeated keys, so each key is looked for once. Encoding decodes its own
 * output before handing it out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "noderec.h"

#define MAX_DEPTH 4
/* the root, five keys and values, the addresses, and one more address
 * so that a list too long is still refused by its name */
#define MAX_TOKENS (1 + 5 * 2 + NODEREC_MAX_ADDRS + 1)
#define PATH_LEN 32

enum field { F_INSTANCE, F_INTERFACE, F_SUBNET, F_ZONE, F_ADDRS, F_N };

static const char *const keys[F_N] = { "instance", "interface", "subnet",
				       "zone", "addrs" };

/* ---- values ------------------------------------------------------------- */

static bool hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* prefix then one or more of [0-9a-f], fitting EC2_ID_MAX */
static bool id_ok(const char *s, const char *prefix)
{
	size_t n = strnlen(s, EC2_ID_MAX), pl = strlen(prefix), i;

	if (n <= pl || n >= EC2_ID_MAX || strncmp(s, prefix, pl))
		return false;
	for (i = pl; i < n; i++)
		if (!hex(s[i]))
			return false;
	return true;
}

/* "us-east-1a", "us-west-2-lax-1a": [a-z0-9-], no '-' at either end */
static bool zone_ok(const char *s)
{
	size_t n = strnlen(s, EC2_AZ_MAX), i;

	if (!n || n >= EC2_AZ_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int addr_parse(const char *s, struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = STRATA_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = STRATA_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int addr_format(const struct strata_addr *a, char *buf, size_t len)
{
	int af;

	if (a->family == STRATA_AF_INET)
		af = AF_INET;
	else if (a->family == STRATA_AF_INET6)
		af = AF_INET6;
	else
		return -EINVAL;
	return inet_ntop(af, a->addr, buf, (socklen_t)len) ? 0 : -EINVAL;
}

static bool addr_eq(const struct strata_addr *a, const struct strata_addr *b)
{
	size_t n = a->family == STRATA_AF_INET ? 4 : 16;

	return a->family == b->family && !memcmp(a->addr, b->addr, n);
}

/* Index of the first earlier address equal to addrs[i], or -1. */
static int repeat_of(const struct strata_addr *addrs, uint32_t i)
{
	uint32_t k;

	for (k = 0; k < i; k++)
		if (addr_eq(&addrs[k], &addrs[i]))
			return (int)k;
	return -1;
}

/* ---- decoding: errors --------------------------------------------------- */

struct dec {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct dec *d, const char *path, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	if (!d->err || !d->errlen)
		return -EINVAL;
	d->err[0] = '\0';
	if (path && path[0]) {
		snprintf(d->err, d->errlen, "%s: ", path);
		n = strlen(d->err);
	}
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int nomem(struct dec *d)
{
	if (d->err && d->errlen)
		snprintf(d->err, d->errlen, "out of memory");
	return -ENOMEM;
}

/* Untrusted text for a message: at most 40 bytes, whole characters,
 * control characters, quotes and backslashes as '?'. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s), i, cut = n > 40 ? 40 : n;

	while (cut < n && cut && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	if (len < cut + 4)
		cut = 0;
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ?
				 '?' : (char)c;
	}
	buf[cut] = '\0';
	if (cut < n && len >= cut + 4)
		strcpy(buf + cut, "...");
	return buf;
}

/* ---- decoding: the first pass ------------------------------------------- */

struct scan {
	size_t depth;
	size_t tokens;
	const char *why;
};

static int scan_token(void *ctx)
{
	struct scan *s = ctx;

	if (++s->tokens > MAX_TOKENS) {
		s->why = "more values than a node record holds";
		return 0;
	}
	return 1;
}

static int scan_open(void *ctx)
{
	struct scan *s = ctx;

	if (!scan_token(ctx))
		return 0;
	if (++s->depth > MAX_DEPTH) {
		s->why = "nested deeper than 4 levels";
		return 0;
	}
	return 1;
}

static int scan_close(void *ctx)
{
	struct scan *s = ctx;

	s->depth--;
	return 1;
}

static int scan_null(void *ctx)
{
	return scan_token(ctx);
}

static int scan_bool(void *ctx, int b)
{
	(void)b;
	return scan_token(ctx);
}

static int scan_number(void *ctx, const char *n, size_t len)
{
	(void)n;
	(void)len;
	return scan_token(ctx);
}

static int scan_string(void *ctx, const unsigned char *str, size_t len)
{
	struct scan *s = ctx;

	if (memchr(str, '\0', len)) {
		s->why = "\\u0000 in a string";
		return 0;
	}
	return scan_token(ctx);
}

static const yajl_callbacks scan_callbacks = {
	.yajl_null = scan_null,
	.yajl_boolean = scan_bool,
	.yajl_number = scan_number,
	.yajl_string = scan_string,
	.yajl_start_map = scan_open,
	.yajl_map_key = scan_string,
	.yajl_end_map = scan_close,
	.yajl_start_array = scan_open,
	.yajl_end_array = scan_close,
};

static int scan(struct dec *d, const char *buf, size_t len)
{
	struct scan s = { 0 };
	unsigned char *msg;
	const char *m, *p;
	yajl_status st;
	yajl_handle h;
	size_t at;

	h = yajl_alloc(&scan_callbacks, NULL, &s);
	if (!h)
		return nomem(d);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		at = len;
	} else {
		at = yajl_get_bytes_consumed(h);
	}
	if (st == yajl_status_ok) {
		yajl_free(h);
		return 0;
	}
	if (st == yajl_status_client_canceled) {
		yajl_free(h);
		return bad(d, NULL, "invalid node record at byte %zu: %s", at,
			   s.why);
	}
	msg = yajl_get_error(h, 0, NULL, 0);
	m = msg ? (const char *)msg : "parse error";
	/* "lexical error: invalid char in json text.\n": keep the reason */
	p = strstr(m, "error: ");
	if (p)
		m = p + 7;
	bad(d, NULL, "invalid JSON at byte %zu: %.*s", at,
	    (int)strcspn(m, "\n"), m);
	if (msg)
		yajl_free_error(h, msg);
	yajl_free(h);
	return -EINVAL;
}

static int parse(struct dec *d, const char *buf, size_t len, yajl_val *out)
{
	const char *nul;
	size_t i;
	char *copy;
	int r;

	*out = NULL;
	if (!buf && len)
		return bad(d, NULL, "no record");
	if (len > NODEREC_MAX_BYTES)
		return bad(d, NULL, "node record of %zu bytes, at most %u",
			   len, NODEREC_MAX_BYTES);
	for (i = 0; i < len && buf[i] && strchr(" \t\r\n", buf[i]); i++)
		;
	if (i == len)
		return bad(d, NULL, "empty node record");
	nul = memchr(buf, '\0', len);
	if (nul)
		return bad(d, NULL, "NUL byte at %zu", (size_t)(nul - buf));
	r = scan(d, buf, len);
	if (r)
		return r;
	copy = malloc(len + 1);
	if (!copy)
		return nomem(d);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	/* the first pass took the same grammar: failing now is memory */
	*out = yajl_tree_parse(copy, NULL, 0);
	free(copy);
	return *out ? 0 : nomem(d);
}

/* ---- decoding: fields --------------------------------------------------- */

/* vals[k] = root[keys[k]]; unknown, repeated and missing keys refused. */
static int fields(struct dec *d, yajl_val root, yajl_val *vals)
{
	static const bool required[F_N] = {
		[F_INTERFACE] = true, [F_SUBNET] = true, [F_ADDRS] = true,
	};
	char q[48];
	size_t i, k;

	if (!YAJL_IS_OBJECT(root))
		return bad(d, "node record", "not an object");
	for (k = 0; k < F_N; k++)
		vals[k] = NULL;
	for (i = 0; i < root->u.object.len; i++) {
		const char *key = root->u.object.keys[i];

		for (k = 0; k < F_N && strcmp(key, keys[k]); k++)
			;
		if (k == F_N)
			return bad(d, NULL, "unknown key \"%s\"",
				   shown(key, q, sizeof(q)));
		if (vals[k])
			return bad(d, keys[k], "repeated key");
		vals[k] = root->u.object.values[i];
	}
	for (k = 0; k < F_N; k++)
		if (required[k] && !vals[k])
			return bad(d, keys[k], "missing");
	return 0;
}

static int get_id(struct dec *d, yajl_val v, enum field f, const char *prefix,
		  const char *what, char *out)
{
	char q[48];

	if (!YAJL_IS_STRING(v))
		return bad(d, keys[f], "not a string");
	if (!id_ok(v->u.string, prefix))
		return bad(d, keys[f], "\"%s\" is not %s id (%s, hex digits)",
			   shown(v->u.string, q, sizeof(q)), what, prefix);
	strcpy(out, v->u.string);
	return 0;
}

static int get_zone(struct dec *d, yajl_val v, char *out)
{
	char q[48];

	if (!YAJL_IS_STRING(v))
		return bad(d, "zone", "not a string");
	if (!zone_ok(v->u.string))
		return bad(d, "zone", "\"%s\" is not an availability zone",
			   shown(v->u.string, q, sizeof(q)));
	strcpy(out, v->u.string);
	return 0;
}

static int get_addrs(struct dec *d, yajl_val v, struct noderec *out)
{
	char p[PATH_LEN], q[48];
	size_t i, n;
	int k;

	if (!YAJL_IS_ARRAY(v))
		return bad(d, "addrs", "not an array");
	n = v->u.array.len;
	if (!n)
		return bad(d, "addrs", "empty, at least one address");
	if (n > NODEREC_MAX_ADDRS)
		return bad(d, "addrs", "%zu addresses, at most %u", n,
			   NODEREC_MAX_ADDRS);
	for (i = 0; i < n; i++) {
		yajl_val a = v->u.array.values[i];

		snprintf(p, sizeof(p), "addrs[%zu]", i);
		if (!YAJL_IS_STRING(a))
			return bad(d, p, "not a string");
		if (addr_parse(a->u.string, &out->addrs[i]))
			return bad(d, p, "\"%s\" is not an address",
				   shown(a->u.string, q, sizeof(q)));
		k = repeat_of(out->addrs, (uint32_t)i);
		if (k >= 0)
			return bad(d, p, "\"%s\" repeats addrs[%d]",
				   shown(a->u.string, q, sizeof(q)), k);
	}
	out->n_addrs = (uint32_t)n;
	return 0;
}

int noderec_decode(const char *buf, size_t len, struct noderec *out,
		   char *err, size_t errlen)
{
	struct dec d = { .err = err, .errlen = errlen };
	yajl_val root, f[F_N];
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return bad(&d, NULL, "nowhere to decode to");
	memset(out, 0, sizeof(*out));
	r = parse(&d, buf, len, &root);
	if (r)
		return r;
	r = fields(&d, root, f);
	if (!r && f[F_INSTANCE])
		r = get_id(&d, f[F_INSTANCE], F_INSTANCE, "i-",
			   "an instance", out->instance);
	if (!r)
		r = get_id(&d, f[F_INTERFACE], F_INTERFACE, "eni-",
			   "an interface", out->interface);
	if (!r)
		r = get_id(&d, f[F_SUBNET], F_SUBNET, "subnet-", "a subnet",
			   out->subnet);
	if (!r && f[F_ZONE])
		r = get_zone(&d, f[F_ZONE], out->zone);
	if (!r)
		r = get_addrs(&d, f[F_ADDRS], out);
	yajl_tree_free(root);
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}

/* ---- encoding ----------------------------------------------------------- */

/* What the decoder would refuse, checked before anything is written. */
static bool record_ok(const struct noderec *r)
{
	uint32_t i;

	if ((r->instance[0] && !id_ok(r->instance, "i-")) ||
	    !id_ok(r->interface, "eni-") || !id_ok(r->subnet, "subnet-") ||
	    (r->zone[0] && !zone_ok(r->zone)))
		return false;
	if (!r->n_addrs || r->n_addrs > NODEREC_MAX_ADDRS)
		return false;
	for (i = 0; i < r->n_addrs; i++)
		if ((r->addrs[i].family != STRATA_AF_INET &&
		     r->addrs[i].family != STRATA_AF_INET6) ||
		    repeat_of(r->addrs, i) >= 0)
			return false;
	return true;
}

static bool gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
	       yajl_gen_status_ok;
}

static bool gen_field(yajl_gen g, const char *key, const char *value)
{
	return !value[0] || (gen_str(g, key) && gen_str(g, value));
}

static bool gen_record(yajl_gen g, const struct noderec *r)
{
	char buf[INET6_ADDRSTRLEN];
	uint32_t i;

	if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
	    !gen_field(g, "instance", r->instance) ||
	    !gen_field(g, "interface", r->interface) ||
	    !gen_field(g, "subnet", r->subnet) ||
	    !gen_field(g, "zone", r->zone) || !gen_str(g, "addrs") ||
	    yajl_gen_array_open(g) != yajl_gen_status_ok)
		return false;
	for (i = 0; i < r->n_addrs; i++)
		if (addr_format(&r->addrs[i], buf, sizeof(buf)) ||
		    !gen_str(g, buf))
			return false;
	return yajl_gen_array_close(g) == yajl_gen_status_ok &&
	       yajl_gen_map_close(g) == yajl_gen_status_ok;
}

int noderec_encode(const struct noderec *r, char **out, size_t *out_len)
{
	const unsigned char *text;
	struct noderec back;
	size_t n;
	yajl_gen g;
	int rc;

	if (!out || !out_len)
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	if (!r || !record_ok(r))
		return -EINVAL;
	g = yajl_gen_alloc(NULL);
	if (!g)
		return -ENOMEM;
	rc = -ENOMEM;
	if (!gen_record(g, r) ||
	    yajl_gen_get_buf(g, &text, &n) != yajl_gen_status_ok)
		goto free_gen;
	*out = malloc(n + 1);
	if (!*out)
		goto free_gen;
	memcpy(*out, text, n);
	(*out)[n] = '\0';
	*out_len = n;
	/* whatever is handed out reads back */
	rc = noderec_decode(*out, n, &back, NULL, 0);
	if (rc) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
free_gen:
	yajl_gen_free(g);
	return rc;
}
