/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health view's records as JSON. Decoding takes two passes: yajl's
 * event parser first bounds the input's nesting and number of values and
 * refuses \u0000 (yajl_tree keeps strings without their length), then the
 * tree is checked field by field, each error naming its path. Encoding
 * decodes its own output before handing it out, so whatever it returns
 * reads back.
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

#include "intent.h"

#define MAX_INPUT (4u << 20)
#define MAX_DEPTH 16
#define MAX_NAME 253
#define MAX_ALARM 255
#define MAX_ROUTES 4096
#define MAX_TARGETS 4096
#define MAX_OBSERVERS 64
#define MAX_UNHEALTHY 4096
#define MAX_ALARMS 64
#define MAX_ENTRIES 4096
#define MAX_INT (1LL << 53) /* what every JSON reader keeps exact */
#define PATH_LEN 96

/*
 * Tokens (containers, keys and scalars) of the largest valid records, with
 * an eighth to spare so that a list one entry too long is still refused by
 * its name. More is refused before the tree is built, whose nodes cost many
 * times their text.
 */
#define ROUTE_TOKENS (1 + 3 * 2 + INTENT_MAX_ADDRS)
#define TARGET_TOKENS (1 + 6 * 2 + INTENT_MAX_ADDRS + MAX_OBSERVERS)
#define INTENT_TOKENS                                                         \
	(1 + 7 * 2 + MAX_ROUTES * ROUTE_TOKENS + MAX_TARGETS * TARGET_TOKENS + \
	 MAX_UNHEALTHY + MAX_ALARMS)
#define ENTRY_TOKENS (1 + 4 * 2)
#define REPORT_TOKENS (1 + 3 * 2 + MAX_ENTRIES * ENTRY_TOKENS)
#define BUDGET(tokens) ((tokens) + (tokens) / 8)

const char *intent_state_name(enum intent_state s)
{
	switch (s) {
	case INTENT_UNKNOWN:
		return "unknown";
	case INTENT_UP:
		return "up";
	case INTENT_DOWN:
		return "down";
	}
	return "invalid";
}

static bool state_parse(const char *s, enum intent_state *out)
{
	static const enum intent_state all[] = { INTENT_UNKNOWN, INTENT_UP,
						 INTENT_DOWN };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, intent_state_name(all[i]))) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

/* ---- addresses and prefixes --------------------------------------------- */

static unsigned family_bits(uint8_t family)
{
	return family == STRATA_AF_INET ? 32 : 128;
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

static int addr_format(uint8_t family, const uint8_t *addr, char *buf,
		       size_t len)
{
	int af;

	if (family == STRATA_AF_INET)
		af = AF_INET;
	else if (family == STRATA_AF_INET6)
		af = AF_INET6;
	else
		return -EINVAL;
	return inet_ntop(af, addr, buf, (socklen_t)len) ? 0 : -EINVAL;
}

static bool host_bits_clear(const struct strata_prefix *p)
{
	unsigned i, bytes = family_bits(p->family) / 8;

	for (i = 0; i < bytes; i++) {
		unsigned first = i * 8;
		uint8_t mask;

		if (first + 8 <= p->len)
			continue;
		mask = first >= p->len ? 0xff :
					 (uint8_t)(0xffu >> (p->len - first));
		if (p->addr[i] & mask)
			return false;
	}
	return true;
}

/* 0, or -EINVAL with *why saying what is wrong with the text. */
static int prefix_parse(const char *s, struct strata_prefix *p,
			const char **why)
{
	char text[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *l;
	struct strata_addr a;
	unsigned len = 0;

	memset(p, 0, sizeof(*p));
	*why = "is not a prefix";
	if (!slash || (size_t)(slash - s) >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, (size_t)(slash - s));
	text[slash - s] = '\0';
	if (addr_parse(text, &a))
		return -EINVAL;
	/* decimal, no sign, no leading zero: one text per prefix */
	l = slash + 1;
	if (!*l || strlen(l) > 3 || (l[0] == '0' && l[1]))
		return -EINVAL;
	for (; *l; l++) {
		if (*l < '0' || *l > '9')
			return -EINVAL;
		len = len * 10 + (unsigned)(*l - '0');
	}
	p->family = a.family;
	memcpy(p->addr, a.addr, sizeof(p->addr));
	if (len > family_bits(a.family)) {
		*why = "has a length out of range";
		return -EINVAL;
	}
	p->len = (uint8_t)len;
	if (!host_bits_clear(p)) {
		*why = "has host bits set";
		return -EINVAL;
	}
	return 0;
}

static int prefix_format(const struct strata_prefix *p, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (addr_format(p->family, p->addr, text, sizeof(text)))
		return -EINVAL;
	snprintf(buf, len, "%s/%u", text, (unsigned)p->len);
	return 0;
}

static int prefix_cmp(const struct strata_prefix *a,
		      const struct strata_prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Length of the well-formed UTF-8 character at s (n bytes left), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t need, i;
	unsigned long c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	c = s[0] & (0x7f >> need);
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (need == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return need;
}

/* ---- decoding: errors and paths ----------------------------------------- */

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

/* base.key, cut to PATH_LEN - 1 bytes (paths are far shorter) */
static const char *join(char *buf, const char *base, const char *key)
{
	size_t b = strnlen(base, PATH_LEN - 50);
	char k[48];

	memmove(buf, base, b);
	if (b)
		buf[b++] = '.';
	strcpy(buf + b, shown(key, k, sizeof(k)));
	return buf;
}

static const char *index_path(char *buf, const char *base, size_t i)
{
	snprintf(buf, PATH_LEN, "%s[%zu]", base, i);
	return buf;
}

/* ---- decoding: the first pass ------------------------------------------- */

struct scan {
	size_t depth;
	size_t tokens;
	size_t max_tokens;
	const char *why;
};

static int scan_token(void *ctx)
{
	struct scan *s = ctx;

	if (++s->tokens > s->max_tokens) {
		s->why = "more values than the largest valid record holds";
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
		s->why = "nested deeper than 16 levels";
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

static int scan(struct dec *d, const char *buf, size_t len, size_t max_tokens)
{
	struct scan s = { .max_tokens = max_tokens };
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
		return bad(d, NULL, "invalid record at byte %zu: %s", at,
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

static int parse(struct dec *d, const char *buf, size_t len,
		 size_t max_tokens, yajl_val *out)
{
	const char *nul;
	size_t i;
	char *copy;
	int r;

	*out = NULL;
	if (len > MAX_INPUT)
		return bad(d, NULL, "record of %zu bytes, at most %u", len,
			   MAX_INPUT);
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]) && buf[i]; i++)
		;
	if (i == len)
		return bad(d, NULL, "empty record");
	nul = memchr(buf, '\0', len);
	if (nul)
		return bad(d, NULL, "NUL byte at %zu", (size_t)(nul - buf));
	r = scan(d, buf, len, max_tokens);
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

/* ---- decoding: values --------------------------------------------------- */

/* vals[k] = obj[keys[k]]; unknown, repeated and missing keys are errors. */
static int object_keys(struct dec *d, yajl_val obj, const char *path,
		       const char *what, const char *const *keys, size_t n,
		       yajl_val *vals)
{
	char p[PATH_LEN];
	size_t i, k;

	if (!YAJL_IS_OBJECT(obj))
		return bad(d, path[0] ? path : what, "not an object");
	for (k = 0; k < n; k++)
		vals[k] = NULL;
	for (i = 0; i < obj->u.object.len; i++) {
		const char *key = obj->u.object.keys[i];

		for (k = 0; k < n && strcmp(key, keys[k]); k++)
			;
		if (k == n)
			return bad(d, join(p, path, key), "unknown key");
		if (vals[k])
			return bad(d, join(p, path, key), "repeated key");
		vals[k] = obj->u.object.values[i];
	}
	for (k = 0; k < n; k++)
		if (!vals[k])
			return bad(d, join(p, path, keys[k]), "missing");
	return 0;
}

static int get_int(struct dec *d, yajl_val v, const char *path,
		   long long min, long long max, int64_t *out)
{
	long long n;

	if (!YAJL_IS_INTEGER(v))
		return bad(d, path, "not an integer");
	n = YAJL_GET_INTEGER(v);
	if (n < min || n > max)
		return bad(d, path, "%lld out of range %lld..%lld", n, min,
			   max);
	*out = n;
	return 0;
}

static int get_version(struct dec *d, yajl_val v)
{
	if (!YAJL_IS_INTEGER(v))
		return bad(d, "version", "not an integer");
	if (YAJL_GET_INTEGER(v) != INTENT_VERSION)
		return bad(d, NULL, "version %lld unknown; this build reads %d",
			   YAJL_GET_INTEGER(v), INTENT_VERSION);
	return 0;
}

/* A newer writer's record is named as such before its keys are judged. */
static int root_version(struct dec *d, yajl_val root)
{
	size_t i;

	if (!YAJL_IS_OBJECT(root))
		return 0;
	for (i = 0; i < root->u.object.len; i++)
		if (!strcmp(root->u.object.keys[i], "version"))
			return get_version(d, root->u.object.values[i]);
	return 0;
}

static int get_string(struct dec *d, yajl_val v, const char *path,
		      const char **out)
{
	if (!YAJL_IS_STRING(v))
		return bad(d, path, "not a string");
	*out = v->u.string;
	return 0;
}

static int check_name(struct dec *d, const char *s, const char *path)
{
	size_t i, n = strlen(s);

	if (!n)
		return bad(d, path, "empty");
	if (n > MAX_NAME)
		return bad(d, path, "%zu bytes, at most %d", n, MAX_NAME);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad(d, path, "control character at byte %zu",
				   i);
	return 0;
}

static int get_name(struct dec *d, yajl_val v, const char *path, char **out)
{
	const char *s = NULL;
	int r;

	r = get_string(d, v, path, &s);
	if (!r)
		r = check_name(d, s, path);
	if (r)
		return r;
	*out = strdup(s);
	return *out ? 0 : nomem(d);
}

static int get_state(struct dec *d, yajl_val v, const char *path,
		     enum intent_state *out)
{
	char q[48];
	const char *s = NULL;
	int r;

	r = get_string(d, v, path, &s);
	if (r)
		return r;
	if (!state_parse(s, out))
		return bad(d, path, "\"%s\" is not unknown, up or down",
			   shown(s, q, sizeof(q)));
	return 0;
}

static int get_array(struct dec *d, yajl_val v, const char *path,
		     size_t min, size_t max)
{
	size_t n;

	if (!YAJL_IS_ARRAY(v))
		return bad(d, path, "not an array");
	n = v->u.array.len;
	if (n < min)
		return bad(d, path, "%zu entries, at least %zu", n, min);
	if (n > max)
		return bad(d, path, "%zu entries, at most %zu", n, max);
	return 0;
}

/* 1..INTENT_MAX_ADDRS addresses, all of family when it is not 0. */
static int get_addrs(struct dec *d, yajl_val a, const char *path,
		     uint8_t family, struct strata_addr *addrs, uint32_t *n)
{
	char p[PATH_LEN], q[48];
	const char *s = NULL;
	size_t i;
	int r;

	r = get_array(d, a, path, 1, INTENT_MAX_ADDRS);
	if (r)
		return r;
	for (i = 0; i < a->u.array.len; i++) {
		index_path(p, path, i);
		r = get_string(d, a->u.array.values[i], p, &s);
		if (r)
			return r;
		if (addr_parse(s, &addrs[i]))
			return bad(d, p, "\"%s\" is not an address",
				   shown(s, q, sizeof(q)));
		if (family && addrs[i].family != family)
			return bad(d, p, "\"%s\" is not of dst's family",
				   shown(s, q, sizeof(q)));
	}
	*n = (uint32_t)a->u.array.len;
	return 0;
}

/* ---- decoding: repeats -------------------------------------------------- */

struct item {
	const void *key;
	size_t idx;
};

static int by_idx(const struct item *a, const struct item *b)
{
	return (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_name(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c = strcmp(a->key, b->key);

	return c ? c : by_idx(a, b);
}

static int by_prefix(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c = prefix_cmp(a->key, b->key);

	return c ? c : by_idx(a, b);
}

/*
 * Sorts items by (key, idx); the repeat with the lowest later index is
 * (*first, *later). -ENOENT: no key repeats.
 */
static int find_repeat(struct item *items, size_t n,
		       int (*cmp)(const void *, const void *), size_t *first,
		       size_t *later)
{
	bool found = false;
	size_t i;

	qsort(items, n, sizeof(*items), cmp);
	for (i = 1; i < n; i++) {
		struct item a = items[i - 1], b = items[i];

		a.idx = b.idx = 0;
		if (cmp(&a, &b))
			continue;
		if (!found || items[i].idx < *later) {
			*first = items[i - 1].idx;
			*later = items[i].idx;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

static int repeated_names(struct dec *d, char *const *names, size_t n,
			  const char *path)
{
	char p[PATH_LEN], f[PATH_LEN], q[48];
	size_t i, first, later;
	struct item *items;
	int r;

	if (n < 2)
		return 0;
	items = malloc(n * sizeof(*items));
	if (!items)
		return nomem(d);
	for (i = 0; i < n; i++)
		items[i] = (struct item){ .key = names[i], .idx = i };
	r = find_repeat(items, n, by_name, &first, &later);
	free(items);
	if (r)
		return 0;
	index_path(p, path, later);
	return bad(d, p, "\"%s\" repeated, first at %s",
		   shown(names[later], q, sizeof(q)),
		   index_path(f, path, first));
}

static int get_names(struct dec *d, yajl_val a, const char *path, size_t max,
		     char ***out, size_t *n)
{
	char p[PATH_LEN];
	size_t i, len;
	int r;

	r = get_array(d, a, path, 0, max);
	if (r)
		return r;
	len = a->u.array.len;
	if (!len)
		return 0;
	*out = calloc(len, sizeof(**out));
	if (!*out)
		return nomem(d);
	*n = len;
	for (i = 0; i < len; i++) {
		r = get_name(d, a->u.array.values[i], index_path(p, path, i),
			     &(*out)[i]);
		if (r)
			return r;
	}
	return repeated_names(d, *out, len, path);
}

/* ---- decoding: the intent ----------------------------------------------- */

static int get_route(struct dec *d, yajl_val v, const char *path,
		     struct intent_route *rt)
{
	static const char *const keys[] = { "dst", "host", "via" };
	char p[PATH_LEN], q[48];
	const char *s = NULL, *why;
	yajl_val f[3];
	int r;

	r = object_keys(d, v, path, path, keys, 3, f);
	if (r)
		return r;
	join(p, path, "dst");
	r = get_string(d, f[0], p, &s);
	if (r)
		return r;
	if (prefix_parse(s, &rt->dst, &why))
		return bad(d, p, "\"%s\" %s", shown(s, q, sizeof(q)), why);
	r = get_name(d, f[1], join(p, path, "host"), &rt->host);
	if (r)
		return r;
	return get_addrs(d, f[2], join(p, path, "via"), rt->dst.family,
			 rt->via, &rt->n_via);
}

static int get_routes(struct dec *d, yajl_val a, struct intent *in)
{
	char p[PATH_LEN], f[PATH_LEN], q[INET6_ADDRSTRLEN + 8];
	size_t i, n, first, later;
	struct item *items;
	int r;

	r = get_array(d, a, "routes", 0, MAX_ROUTES);
	if (r || !a->u.array.len)
		return r;
	n = a->u.array.len;
	in->routes = calloc(n, sizeof(*in->routes));
	if (!in->routes)
		return nomem(d);
	in->n_routes = n;
	for (i = 0; i < n; i++) {
		r = get_route(d, a->u.array.values[i],
			      index_path(p, "routes", i), &in->routes[i]);
		if (r)
			return r;
	}
	items = malloc(n * sizeof(*items));
	if (!items)
		return nomem(d);
	for (i = 0; i < n; i++)
		items[i] = (struct item){ .key = &in->routes[i].dst, .idx = i };
	r = find_repeat(items, n, by_prefix, &first, &later);
	free(items);
	if (r)
		return 0;
	prefix_format(&in->routes[later].dst, q, sizeof(q));
	index_path(f, "routes", later);
	join(p, f, "dst");
	return bad(d, p, "\"%s\" repeated, first at %s", q,
		   index_path(f, "routes", first));
}

static int get_target(struct dec *d, yajl_val v, const char *path,
		      struct intent_target *t)
{
	static const char *const keys[] = { "host", "group", "addrs",
					    "observers", "state", "since" };
	char p[PATH_LEN];
	yajl_val f[6];
	int r;

	r = object_keys(d, v, path, path, keys, 6, f);
	if (!r)
		r = get_name(d, f[0], join(p, path, "host"), &t->host);
	if (!r)
		r = get_name(d, f[1], join(p, path, "group"), &t->group);
	if (!r)
		r = get_addrs(d, f[2], join(p, path, "addrs"), 0, t->addrs,
			      &t->n_addrs);
	if (!r)
		r = get_names(d, f[3], join(p, path, "observers"),
			      MAX_OBSERVERS, &t->observers, &t->n_observers);
	if (!r)
		r = get_state(d, f[4], join(p, path, "state"), &t->state);
	if (!r)
		r = get_int(d, f[5], join(p, path, "since"), 0, MAX_INT,
			    &t->since_ms);
	return r;
}

static int get_targets(struct dec *d, yajl_val a, struct intent *in)
{
	char p[PATH_LEN], f[PATH_LEN], q[48];
	size_t i, n, first, later;
	struct item *items;
	int r;

	r = get_array(d, a, "targets", 0, MAX_TARGETS);
	if (r || !a->u.array.len)
		return r;
	n = a->u.array.len;
	in->targets = calloc(n, sizeof(*in->targets));
	if (!in->targets)
		return nomem(d);
	in->n_targets = n;
	for (i = 0; i < n; i++) {
		r = get_target(d, a->u.array.values[i],
			       index_path(p, "targets", i), &in->targets[i]);
		if (r)
			return r;
	}
	items = malloc(n * sizeof(*items));
	if (!items)
		return nomem(d);
	for (i = 0; i < n; i++)
		items[i] = (struct item){ .key = in->targets[i].host,
					  .idx = i };
	r = find_repeat(items, n, by_name, &first, &later);
	free(items);
	if (r)
		return 0;
	index_path(f, "targets", later);
	join(p, f, "host");
	return bad(d, p, "\"%s\" repeated, first at %s",
		   shown(in->targets[later].host, q, sizeof(q)),
		   index_path(f, "targets", first));
}

static int get_alarms(struct dec *d, yajl_val a, struct intent *in)
{
	char p[PATH_LEN];
	const char *s = NULL;
	size_t i, n;
	int r;

	r = get_array(d, a, "alarms", 0, MAX_ALARMS);
	if (r || !a->u.array.len)
		return r;
	n = a->u.array.len;
	in->alarms = calloc(n, sizeof(*in->alarms));
	if (!in->alarms)
		return nomem(d);
	in->n_alarms = n;
	for (i = 0; i < n; i++) {
		index_path(p, "alarms", i);
		r = get_string(d, a->u.array.values[i], p, &s);
		if (r)
			return r;
		if (strlen(s) > MAX_ALARM)
			return bad(d, p, "%zu bytes, at most %d", strlen(s),
				   MAX_ALARM);
		in->alarms[i] = strdup(s);
		if (!in->alarms[i])
			return nomem(d);
	}
	return 0;
}

int intent_decode(const char *buf, size_t len, struct intent *out, char *err,
		  size_t errlen)
{
	static const char *const keys[] = { "version", "term", "writer",
					    "routes", "targets", "unhealthy",
					    "alarms" };
	struct dec d = { .err = err, .errlen = errlen };
	yajl_val root, f[7];
	int r;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	r = parse(&d, buf, len, BUDGET(INTENT_TOKENS), &root);
	if (r)
		return r;
	r = root_version(&d, root);
	if (!r)
		r = object_keys(&d, root, "", "intent", keys, 7, f);
	if (!r)
		r = get_int(&d, f[1], "term", 1, MAX_INT, &out->term);
	if (!r)
		r = get_name(&d, f[2], "writer", &out->writer);
	if (!r)
		r = get_routes(&d, f[3], out);
	if (!r)
		r = get_targets(&d, f[4], out);
	if (!r)
		r = get_names(&d, f[5], "unhealthy", MAX_UNHEALTHY,
			      &out->unhealthy, &out->n_unhealthy);
	if (!r)
		r = get_alarms(&d, f[6], out);
	yajl_tree_free(root);
	if (r)
		intent_free(out);
	return r;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

void intent_free(struct intent *in)
{
	size_t i;

	if (!in)
		return;
	free(in->writer);
	for (i = 0; in->routes && i < in->n_routes; i++)
		free(in->routes[i].host);
	free(in->routes);
	for (i = 0; in->targets && i < in->n_targets; i++) {
		free(in->targets[i].host);
		free(in->targets[i].group);
		free_names(in->targets[i].observers,
			   in->targets[i].n_observers);
	}
	free(in->targets);
	free_names(in->unhealthy, in->n_unhealthy);
	free_names(in->alarms, in->n_alarms);
	memset(in, 0, sizeof(*in));
}

/* ---- decoding: the report ----------------------------------------------- */

static int get_entry(struct dec *d, yajl_val v, const char *path,
		     struct obs_entry *e)
{
	static const char *const keys[] = { "host", "state", "since",
					    "reason" };
	char p[PATH_LEN];
	const char *s = NULL;
	yajl_val f[4];
	size_t n;
	int r;

	r = object_keys(d, v, path, path, keys, 4, f);
	if (!r)
		r = get_name(d, f[0], join(p, path, "host"), &e->target);
	if (!r)
		r = get_state(d, f[1], join(p, path, "state"), &e->state);
	if (!r)
		r = get_int(d, f[2], join(p, path, "since"), 0, MAX_INT,
			    &e->since_ms);
	if (!r)
		r = get_string(d, f[3], join(p, path, "reason"), &s);
	if (r)
		return r;
	n = strlen(s);
	if (n >= sizeof(e->reason))
		return bad(d, p, "%zu bytes, at most %zu", n,
			   sizeof(e->reason) - 1);
	memcpy(e->reason, s, n + 1);
	return 0;
}

int obs_decode(const char *buf, size_t len, struct obs_report *out,
	       char *err, size_t errlen)
{
	static const char *const keys[] = { "version", "observer", "targets" };
	struct dec d = { .err = err, .errlen = errlen };
	char p[PATH_LEN], f[PATH_LEN], q[48];
	size_t i, n, first, later;
	struct item *items;
	yajl_val root, v[3], a;
	int r;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	r = parse(&d, buf, len, BUDGET(REPORT_TOKENS), &root);
	if (r)
		return r;
	r = root_version(&d, root);
	if (!r)
		r = object_keys(&d, root, "", "report", keys, 3, v);
	if (!r)
		r = get_name(&d, v[1], "observer", &out->observer);
	if (!r)
		r = get_array(&d, v[2], "targets", 0, MAX_ENTRIES);
	if (r)
		goto free_tree;
	a = v[2];
	n = a->u.array.len;
	if (!n)
		goto free_tree;
	out->entries = calloc(n, sizeof(*out->entries));
	if (!out->entries) {
		r = nomem(&d);
		goto free_tree;
	}
	out->n_entries = n;
	for (i = 0; i < n; i++) {
		r = get_entry(&d, a->u.array.values[i],
			      index_path(p, "targets", i), &out->entries[i]);
		if (r)
			goto free_tree;
	}
	items = malloc(n * sizeof(*items));
	if (!items) {
		r = nomem(&d);
		goto free_tree;
	}
	for (i = 0; i < n; i++)
		items[i] = (struct item){ .key = out->entries[i].target,
					  .idx = i };
	if (!find_repeat(items, n, by_name, &first, &later)) {
		index_path(f, "targets", later);
		join(p, f, "host");
		r = bad(&d, p, "\"%s\" repeated, first at %s",
			shown(out->entries[later].target, q, sizeof(q)),
			index_path(f, "targets", first));
	}
	free(items);
free_tree:
	yajl_tree_free(root);
	if (r)
		obs_free(out);
	return r;
}

void obs_free(struct obs_report *r)
{
	size_t i;

	if (!r)
		return;
	free(r->observer);
	for (i = 0; r->entries && i < r->n_entries; i++)
		free(r->entries[i].target);
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

/* ---- encoding ----------------------------------------------------------- */

/* A generator that remembers its first failure, so callers check once. */
struct enc {
	yajl_gen g;
	bool failed;
};

static void gen_ok(struct enc *e, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		e->failed = true;
}

static void gen_strn(struct enc *e, const char *s, size_t n)
{
	gen_ok(e, yajl_gen_string(e->g, (const unsigned char *)s, n));
}

static void gen_str(struct enc *e, const char *s)
{
	if (!s) {
		e->failed = true;
		return;
	}
	gen_strn(e, s, strlen(s));
}

static void gen_int(struct enc *e, int64_t v)
{
	gen_ok(e, yajl_gen_integer(e->g, (long long)v));
}

static void gen_names(struct enc *e, char *const *names, size_t n)
{
	size_t i;

	gen_ok(e, yajl_gen_array_open(e->g));
	for (i = 0; i < n; i++)
		gen_str(e, names[i]);
	gen_ok(e, yajl_gen_array_close(e->g));
}

static void gen_addrs(struct enc *e, const struct strata_addr *a, uint32_t n)
{
	char buf[INET6_ADDRSTRLEN];
	uint32_t i;

	gen_ok(e, yajl_gen_array_open(e->g));
	for (i = 0; i < n; i++) {
		if (addr_format(a[i].family, a[i].addr, buf, sizeof(buf)))
			e->failed = true;
		else
			gen_str(e, buf);
	}
	gen_ok(e, yajl_gen_array_close(e->g));
}

static int gen_start(struct enc *e)
{
	e->failed = false;
	e->g = yajl_gen_alloc(NULL);
	if (!e->g)
		return -ENOMEM;
	/* invalid UTF-8 would not parse back */
	yajl_gen_config(e->g, yajl_gen_validate_utf8, 1);
	return 0;
}

/* The generator's text as a malloc'd string; frees the generator. */
static int gen_finish(struct enc *e, char **out, size_t *len)
{
	const unsigned char *buf;
	size_t n;
	int r = -EINVAL;

	if (e->failed)
		goto free_gen;
	r = -ENOMEM;
	if (yajl_gen_get_buf(e->g, &buf, &n) != yajl_gen_status_ok)
		goto free_gen;
	*out = malloc(n + 1);
	if (!*out)
		goto free_gen;
	memcpy(*out, buf, n);
	(*out)[n] = '\0';
	*len = n;
	r = 0;
free_gen:
	yajl_gen_free(e->g);
	return r;
}

/* Counts that would make the encoder read outside the given arrays. */
static bool list_ok(const void *p, size_t n, size_t max)
{
	return n <= max && (p || !n);
}

static bool intent_shape_ok(const struct intent *in)
{
	size_t i;

	if (!list_ok(in->routes, in->n_routes, MAX_ROUTES) ||
	    !list_ok(in->targets, in->n_targets, MAX_TARGETS) ||
	    !list_ok(in->unhealthy, in->n_unhealthy, MAX_UNHEALTHY) ||
	    !list_ok(in->alarms, in->n_alarms, MAX_ALARMS))
		return false;
	for (i = 0; i < in->n_routes; i++)
		if (in->routes[i].n_via > INTENT_MAX_ADDRS)
			return false;
	for (i = 0; i < in->n_targets; i++)
		if (in->targets[i].n_addrs > INTENT_MAX_ADDRS ||
		    !list_ok(in->targets[i].observers,
			     in->targets[i].n_observers, MAX_OBSERVERS))
			return false;
	return true;
}

static void gen_intent(struct enc *e, const struct intent *in)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	gen_ok(e, yajl_gen_map_open(e->g));
	gen_str(e, "version");
	gen_int(e, INTENT_VERSION);
	gen_str(e, "term");
	gen_int(e, in->term);
	gen_str(e, "writer");
	gen_str(e, in->writer);
	gen_str(e, "routes");
	gen_ok(e, yajl_gen_array_open(e->g));
	for (i = 0; i < in->n_routes; i++) {
		const struct intent_route *rt = &in->routes[i];

		gen_ok(e, yajl_gen_map_open(e->g));
		gen_str(e, "dst");
		if (prefix_format(&rt->dst, buf, sizeof(buf)))
			e->failed = true;
		else
			gen_str(e, buf);
		gen_str(e, "host");
		gen_str(e, rt->host);
		gen_str(e, "via");
		gen_addrs(e, rt->via, rt->n_via);
		gen_ok(e, yajl_gen_map_close(e->g));
	}
	gen_ok(e, yajl_gen_array_close(e->g));
	gen_str(e, "targets");
	gen_ok(e, yajl_gen_array_open(e->g));
	for (i = 0; i < in->n_targets; i++) {
		const struct intent_target *t = &in->targets[i];

		gen_ok(e, yajl_gen_map_open(e->g));
		gen_str(e, "host");
		gen_str(e, t->host);
		gen_str(e, "group");
		gen_str(e, t->group);
		gen_str(e, "addrs");
		gen_addrs(e, t->addrs, t->n_addrs);
		gen_str(e, "observers");
		gen_names(e, t->observers, t->n_observers);
		gen_str(e, "state");
		gen_str(e, intent_state_name(t->state));
		gen_str(e, "since");
		gen_int(e, t->since_ms);
		gen_ok(e, yajl_gen_map_close(e->g));
	}
	gen_ok(e, yajl_gen_array_close(e->g));
	gen_str(e, "unhealthy");
	gen_names(e, in->unhealthy, in->n_unhealthy);
	gen_str(e, "alarms");
	gen_names(e, in->alarms, in->n_alarms);
	gen_ok(e, yajl_gen_map_close(e->g));
}

int intent_encode(const struct intent *in, char **out, size_t *len)
{
	struct intent back;
	struct enc e;
	int r;

	*out = NULL;
	*len = 0;
	if (!intent_shape_ok(in))
		return -EINVAL;
	r = gen_start(&e);
	if (r)
		return r;
	gen_intent(&e, in);
	r = gen_finish(&e, out, len);
	if (r)
		return r;
	r = intent_decode(*out, *len, &back, NULL, 0);
	intent_free(&back);
	if (r) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return r;
}

/*
 * A reason fits the record whatever the checker said: cut to
 * INTENT_REASON_MAX - 1 bytes on a character boundary, bytes that are not
 * UTF-8 as '?'.
 */
static size_t reason_clean(const char *reason, char *buf)
{
	size_t n = strnlen(reason, INTENT_REASON_MAX - 1), i = 0, k, cut = 0;

	/* reason[n] is the NUL, or the first byte beyond the limit */
	while (cut < 3 && n && ((unsigned char)reason[n] & 0xc0) == 0x80) {
		n--;
		cut++;
	}
	while (i < n) {
		k = utf8_char((const unsigned char *)reason + i, n - i);
		if (!k) {
			buf[i++] = '?';
			continue;
		}
		memcpy(buf + i, reason + i, k);
		i += k;
	}
	buf[i] = '\0';
	return i;
}

int obs_encode(const struct obs_report *rep, char **out, size_t *len)
{
	char reason[INTENT_REASON_MAX];
	struct obs_report back;
	struct enc e;
	size_t i;
	int r;

	*out = NULL;
	*len = 0;
	if (!list_ok(rep->entries, rep->n_entries, MAX_ENTRIES))
		return -EINVAL;
	r = gen_start(&e);
	if (r)
		return r;
	gen_ok(&e, yajl_gen_map_open(e.g));
	gen_str(&e, "version");
	gen_int(&e, INTENT_VERSION);
	gen_str(&e, "observer");
	gen_str(&e, rep->observer);
	gen_str(&e, "targets");
	gen_ok(&e, yajl_gen_array_open(e.g));
	for (i = 0; i < rep->n_entries; i++) {
		const struct obs_entry *en = &rep->entries[i];

		gen_ok(&e, yajl_gen_map_open(e.g));
		gen_str(&e, "host");
		gen_str(&e, en->target);
		gen_str(&e, "state");
		gen_str(&e, intent_state_name(en->state));
		gen_str(&e, "since");
		gen_int(&e, en->since_ms);
		gen_str(&e, "reason");
		gen_strn(&e, reason, reason_clean(en->reason, reason));
		gen_ok(&e, yajl_gen_map_close(e.g));
	}
	gen_ok(&e, yajl_gen_array_close(e.g));
	gen_ok(&e, yajl_gen_map_close(e.g));
	r = gen_finish(&e, out, len);
	if (r)
		return r;
	r = obs_decode(*out, *len, &back, NULL, 0);
	obs_free(&back);
	if (r) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return r;
}
