/* SPDX-License-Identifier: Apache-2.0 */
#include "imds.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#define IMDS_TOKEN_MAX 1024
#define IMDS_PATH_MAX 256
#define IMDS_WHY_MAX 320
#define IMDS_MAX_BODY (64u << 10)
#define IMDS_SECRET_MAX 256
#define IMDS_SESSION_TOKEN_MAX 16384
#define IMDS_ACCESS_KEY_MIN 16
#define IMDS_ACCESS_KEY_MAX 128
#define NS_PER_S 1000000000LL
#define IMDS_TOKEN_MARGIN_MAX_NS (60 * NS_PER_S)

void (*imds_wipe_hook)(const void *p, size_t len);

void imds_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	if (imds_wipe_hook)
		imds_wipe_hook(p, len);
	free(p);
}

/* -- messages ------------------------------------------------------------ */

/* An untrusted value, quoted for a message: at most 64 bytes, anything
 * but printable ASCII as \xNN. */
static const char *quote(const char *v, size_t len, char *buf, size_t size)
{
	size_t o = 0, i;

	if (size < 8)
		return "";
	buf[o++] = '"';
	for (i = 0; i < len && i < 64 && o + 6 < size; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			buf[o++] = (char)ch;
		} else {
			snprintf(buf + o, size - o, "\\x%02x", ch);
			o += 4;
		}
	}
	if (i < len && o + 5 < size) {
		memcpy(buf + o, "\"...", 4);
		o += 4;
	} else {
		buf[o++] = '"';
	}
	buf[o] = '\0';
	return buf;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* -- discovered values ----------------------------------------------------- */

static bool is_hex_lower(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* prefix and then 8 or 17 lowercase hex digits: EC2's resource ids */
static bool valid_id(const char *v, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix), n;

	if (len < plen || memcmp(v, prefix, plen) != 0)
		return false;
	n = len - plen;
	if (n != 8 && n != 17)
		return false;
	for (size_t i = plen; i < len; i++)
		if (!is_hex_lower(v[i]))
			return false;
	return true;
}

/* [a-z0-9-], starting with a letter, not ending with '-' */
static bool valid_name(const char *v, size_t len)
{
	if (len == 0 || len >= IMDS_NAME_MAX || !(v[0] >= 'a' && v[0] <= 'z') ||
	    v[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
			return false;
	return true;
}

static bool valid_mac(const char *v, size_t len)
{
	if (len != 17)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i % 3 == 2) {
			if (v[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)v[i])) {
			return false;
		}
	}
	return true;
}

static bool parse_ipv4(const char *v, size_t len, uint8_t out[4])
{
	char buf[INET_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf) || memchr(v, '\0', len))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, out) == 1;
}

/* "a.b.c.d/n", host bits zero */
static bool parse_cidr4(const char *v, size_t len, struct strata_prefix *p)
{
	const char *slash = memchr(v, '/', len);
	size_t nlen;
	unsigned plen = 0;
	uint32_t a, mask;

	if (!slash)
		return false;
	nlen = len - (size_t)(slash - v) - 1;
	if (nlen < 1 || nlen > 2)
		return false;
	for (size_t i = 0; i < nlen; i++) {
		if (slash[1 + i] < '0' || slash[1 + i] > '9')
			return false;
		plen = plen * 10 + (unsigned)(slash[1 + i] - '0');
	}
	if (plen > 32)
		return false;
	memset(p, 0, sizeof(*p));
	if (!parse_ipv4(v, (size_t)(slash - v), p->addr))
		return false;
	a = (uint32_t)p->addr[0] << 24 | (uint32_t)p->addr[1] << 16 |
	    (uint32_t)p->addr[2] << 8 | p->addr[3];
	mask = plen ? ~0u << (32 - plen) : 0;
	if (a & ~mask)
		return false;
	p->family = STRATA_AF_INET;
	p->len = (uint8_t)plen;
	return true;
}

static int set_single(char *dst, size_t size, const char *key, const char *v,
		      size_t len, bool ok, const char *want, char *err,
		      size_t errlen)
{
	char q[300];

	if (!ok || len >= size)
		return fail(err, errlen, -EINVAL, "%s: bad value %s: %s", key,
			    quote(v, len, q, sizeof(q)), want);
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

/* Lines of a list value: cb for each, at most max, none empty. */
static int each_line(const char *key, const char *v, size_t len, size_t max,
		     bool (*one)(void *ctx, size_t i, const char *l, size_t n),
		     void *ctx, const char *want, uint32_t *count, char *err,
		     size_t errlen)
{
	size_t i = 0, pos = 0;
	char q[300];

	if (len && v[len - 1] == '\n')
		len--;
	if (len == 0)
		return fail(err, errlen, -EINVAL, "%s: empty", key);
	while (pos <= len) {
		const char *nl = memchr(v + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - v) - pos : len - pos;

		if (i == max)
			return fail(err, errlen, -EINVAL,
				    "%s: more than %zu entries", key, max);
		if (!one(ctx, i, v + pos, n))
			return fail(err, errlen, -EINVAL,
				    "%s: bad entry %zu %s: %s", key, i + 1,
				    quote(v + pos, n, q, sizeof(q)), want);
		i++;
		pos += n + 1;
	}
	*count = (uint32_t)i;
	return 0;
}

static bool one_cidr(void *ctx, size_t i, const char *l, size_t n)
{
	struct imds_identity *id = ctx;

	return parse_cidr4(l, n, &id->vpc_cidrs[i]);
}

static bool one_addr(void *ctx, size_t i, const char *l, size_t n)
{
	struct imds_identity *id = ctx;

	memset(&id->local_ipv4s[i], 0, sizeof(id->local_ipv4s[i]));
	id->local_ipv4s[i].family = STRATA_AF_INET;
	return parse_ipv4(l, n, id->local_ipv4s[i].addr);
}

/* The zone is the region and a suffix: us-east-1 / us-east-1a. */
static int check_zone_region(const struct imds_identity *id, char *err,
			     size_t errlen)
{
	size_t rlen = strlen(id->region);

	if (!id->zone[0] || !id->region[0])
		return 0;
	if (strlen(id->zone) <= rlen ||
	    strncmp(id->zone, id->region, rlen) != 0)
		return fail(err, errlen, -EINVAL,
			    "availability-zone \"%s\" is not in region \"%s\"",
			    id->zone, id->region);
	return 0;
}

int imds_identity_set(struct imds_identity *id, const char *key,
		      const char *v, size_t len, char *err, size_t errlen)
{
	char zone[IMDS_NAME_MAX], region[IMDS_NAME_MAX];
	bool single;
	int rc;

	if (!id || !key || (!v && len))
		return fail(err, errlen, -EINVAL, "no value");
	single = strcmp(key, "vpc-ipv4-cidr-blocks") != 0 &&
		 strcmp(key, "local-ipv4s") != 0;
	/* a single value: tolerate one final newline, nothing else */
	if (single && len && v[len - 1] == '\n')
		len--;
	if (strcmp(key, "instance-id") == 0)
		return set_single(id->instance_id, sizeof(id->instance_id), key,
				  v, len, valid_id(v, len, "i-"),
				  "want i- and 8 or 17 hex digits", err, errlen);
	if (strcmp(key, "interface-id") == 0)
		return set_single(id->interface_id, sizeof(id->interface_id),
				  key, v, len, valid_id(v, len, "eni-"),
				  "want eni- and 8 or 17 hex digits", err,
				  errlen);
	if (strcmp(key, "subnet-id") == 0)
		return set_single(id->subnet_id, sizeof(id->subnet_id), key, v,
				  len, valid_id(v, len, "subnet-"),
				  "want subnet- and 8 or 17 hex digits", err,
				  errlen);
	if (strcmp(key, "vpc-id") == 0)
		return set_single(id->vpc_id, sizeof(id->vpc_id), key, v, len,
				  valid_id(v, len, "vpc-"),
				  "want vpc- and 8 or 17 hex digits", err,
				  errlen);
	if (strcmp(key, "mac") == 0)
		return set_single(id->mac, sizeof(id->mac), key, v, len,
				  valid_mac(v, len),
				  "want six hex pairs separated by ':'", err,
				  errlen);
	if (strcmp(key, "availability-zone") == 0 ||
	    strcmp(key, "region") == 0) {
		bool is_zone = key[0] == 'a';
		char *dst = is_zone ? id->zone : id->region;
		bool ok = valid_name(v, len) &&
			  (is_zone || (v[len - 1] >= '0' && v[len - 1] <= '9'));

		memcpy(zone, id->zone, sizeof(zone));
		memcpy(region, id->region, sizeof(region));
		rc = set_single(dst, IMDS_NAME_MAX, key, v, len, ok,
				is_zone ? "want [a-z0-9-]" :
					  "want [a-z0-9-] ending in a digit",
				err, errlen);
		if (rc < 0)
			return rc;
		rc = check_zone_region(id, err, errlen);
		if (rc < 0) {
			memcpy(id->zone, zone, sizeof(zone));
			memcpy(id->region, region, sizeof(region));
		}
		return rc;
	}
	if (strcmp(key, "vpc-ipv4-cidr-blocks") == 0)
		return each_line(key, v, len, IMDS_MAX_CIDRS, one_cidr, id,
				 "want an IPv4 network a.b.c.d/n",
				 &id->n_vpc_cidrs, err, errlen);
	if (strcmp(key, "local-ipv4s") == 0)
		return each_line(key, v, len, IMDS_MAX_ADDRS, one_addr, id,
				 "want an IPv4 address", &id->n_local_ipv4s,
				 err, errlen);
	return fail(err, errlen, -EINVAL, "%s: not a discovery key", key);
}

/* -- time ---------------------------------------------------------------- */

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int imds_parse_time(const char *s, size_t len, int64_t *out)
{
	struct tm tm = { 0 }, back;
	int y, mo, d, h, mi, se;
	size_t pos = 19;
	time_t t;

	if (!s || len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return -EINVAL;
	if (s[pos] == '.') {
		size_t start = ++pos;

		while (pos < len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
		if (pos == start || pos - start > 9)
			return -EINVAL;
	}
	if (!((len - pos == 1 && (s[pos] == 'Z' || s[pos] == 'z')) ||
	      (len - pos == 6 && memcmp(s + pos, "+00:00", 6) == 0)))
		return -EINVAL;
	if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	/* 31 February comes back as 3 March */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d ||
	    back.tm_mon != mo - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* -- role credentials: JSON through yajl, every buffer wiped ------------- */

static void *wipe_malloc(void *ctx, size_t sz)
{
	return malloc(sz);
}

static void wipe_free_cb(void *ctx, void *p)
{
	if (p)
		imds_wipe_free(p, malloc_usable_size(p));
}

static void *wipe_realloc(void *ctx, void *p, size_t sz)
{
	size_t old;
	void *n;

	if (!p)
		return malloc(sz);
	old = malloc_usable_size(p);
	n = malloc(sz);
	if (!n)
		return NULL;
	memcpy(n, p, old < sz ? old : sz);
	imds_wipe_free(p, old);
	return n;
}

enum rc_key { K_NONE, K_CODE, K_MESSAGE, K_AKID, K_SECRET, K_TOKEN, K_EXP,
	      K_OTHER };

struct rc_parse {
	struct imds_role_creds *out;
	int depth;
	enum rc_key key;
	bool seen[K_OTHER];
	char code[64];
	char message[160];
	int rc;
	char *err;
	size_t errlen;
};

static const char *const rc_names[] = {
	[K_CODE] = "Code", [K_MESSAGE] = "Message", [K_AKID] = "AccessKeyId",
	[K_SECRET] = "SecretAccessKey", [K_TOKEN] = "Token",
	[K_EXP] = "Expiration",
};

static int rc_stop(struct rc_parse *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rc_stop(struct rc_parse *p, int rc, const char *fmt, ...)
{
	va_list ap;

	p->rc = rc;
	if (p->err && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return 0; /* stops yajl */
}

/* A non-string value, or a container: only a problem for our keys. */
static int rc_scalar(struct rc_parse *p)
{
	enum rc_key k = p->key;

	p->key = K_NONE;
	if (p->depth == 0)
		return rc_stop(p, -EINVAL, "not a JSON object");
	if (p->depth == 1 && k != K_NONE && k != K_OTHER)
		return rc_stop(p, -EINVAL, "%s is not a string", rc_names[k]);
	return 1;
}

static int rc_null(void *ctx)
{
	return rc_scalar(ctx);
}

static int rc_bool(void *ctx, int b)
{
	return rc_scalar(ctx);
}

static int rc_number(void *ctx, const char *s, size_t len)
{
	return rc_scalar(ctx);
}

static int rc_start_map(void *ctx)
{
	struct rc_parse *p = ctx;

	if (p->depth > 0 && !rc_scalar(p))
		return 0;
	if (++p->depth > 32)
		return rc_stop(p, -EINVAL, "nested too deeply");
	return 1;
}

static int rc_end_map(void *ctx)
{
	struct rc_parse *p = ctx;

	p->depth--;
	return 1;
}

static int rc_start_array(void *ctx)
{
	struct rc_parse *p = ctx;

	if (p->depth == 0)
		return rc_stop(p, -EINVAL, "not a JSON object");
	if (!rc_scalar(p))
		return 0;
	if (++p->depth > 32)
		return rc_stop(p, -EINVAL, "nested too deeply");
	return 1;
}

static int rc_end_array(void *ctx)
{
	return rc_end_map(ctx);
}

static int rc_map_key(void *ctx, const unsigned char *k, size_t len)
{
	struct rc_parse *p = ctx;

	p->key = K_OTHER;
	if (p->depth != 1)
		return 1;
	for (int i = K_CODE; i < K_OTHER; i++) {
		if (strlen(rc_names[i]) != len ||
		    memcmp(rc_names[i], k, len) != 0)
			continue;
		if (p->seen[i])
			return rc_stop(p, -EINVAL, "%s given twice",
				       rc_names[i]);
		p->seen[i] = true;
		p->key = (enum rc_key)i;
	}
	return 1;
}

static bool printable(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static int rc_copy(struct rc_parse *p, char **dst, const unsigned char *s,
		   size_t len)
{
	*dst = malloc(len + 1);
	if (!*dst)
		return rc_stop(p, -ENOMEM, "out of memory");
	memcpy(*dst, s, len);
	(*dst)[len] = '\0';
	return 1;
}

static int rc_string(void *ctx, const unsigned char *s, size_t len)
{
	struct rc_parse *p = ctx;
	enum rc_key k = p->key;
	char q[300];

	p->key = K_NONE;
	if (p->depth == 0)
		return rc_stop(p, -EINVAL, "not a JSON object");
	if (p->depth != 1)
		return 1;
	switch (k) {
	case K_CODE:
		quote((const char *)s, len, p->code, sizeof(p->code));
		if (len == 7 && memcmp(s, "Success", 7) == 0)
			p->code[0] = '\0';
		return 1;
	case K_MESSAGE:
		quote((const char *)s, len, p->message, sizeof(p->message));
		return 1;
	case K_AKID:
		if (len < IMDS_ACCESS_KEY_MIN || len > IMDS_ACCESS_KEY_MAX)
			return rc_stop(p, -EINVAL,
				       "AccessKeyId %s: want %d to %d characters",
				       quote((const char *)s, len, q, sizeof(q)),
				       IMDS_ACCESS_KEY_MIN, IMDS_ACCESS_KEY_MAX);
		for (size_t i = 0; i < len; i++)
			if (!((s[i] >= 'A' && s[i] <= 'Z') ||
			      (s[i] >= '0' && s[i] <= '9')))
				return rc_stop(p, -EINVAL,
					       "AccessKeyId %s: want [A-Z0-9]",
					       quote((const char *)s, len, q,
						     sizeof(q)));
		return rc_copy(p, &p->out->access_key_id, s, len);
	case K_SECRET:
		/* never quote a secret */
		if (len == 0 || len > IMDS_SECRET_MAX || !printable(s, len))
			return rc_stop(p, -EINVAL,
				       "SecretAccessKey: want 1 to %d printable "
				       "characters without spaces",
				       IMDS_SECRET_MAX);
		return rc_copy(p, &p->out->secret_access_key, s, len);
	case K_TOKEN:
		if (len == 0 || len > IMDS_SESSION_TOKEN_MAX ||
		    !printable(s, len))
			return rc_stop(p, -EINVAL,
				       "Token: want 1 to %d printable characters "
				       "without spaces",
				       IMDS_SESSION_TOKEN_MAX);
		return rc_copy(p, &p->out->session_token, s, len);
	case K_EXP:
		if (imds_parse_time((const char *)s, len,
				    &p->out->expiration) < 0)
			return rc_stop(p, -EINVAL,
				       "Expiration %s: want ISO-8601 UTC "
				       "(2024-05-01T12:00:00Z)",
				       quote((const char *)s, len, q, sizeof(q)));
		return 1;
	default:
		return 1;
	}
}

static const yajl_callbacks rc_callbacks = {
	.yajl_null = rc_null,
	.yajl_boolean = rc_bool,
	.yajl_number = rc_number,
	.yajl_string = rc_string,
	.yajl_start_map = rc_start_map,
	.yajl_map_key = rc_map_key,
	.yajl_end_map = rc_end_map,
	.yajl_start_array = rc_start_array,
	.yajl_end_array = rc_end_array,
};

void imds_wipe_str(char **s)
{
	if (*s)
		imds_wipe_free(*s, strlen(*s));
	*s = NULL;
}

void imds_role_creds_clear(struct imds_role_creds *c)
{
	if (!c)
		return;
	imds_wipe_str(&c->access_key_id);
	imds_wipe_str(&c->secret_access_key);
	imds_wipe_str(&c->session_token);
	explicit_bzero(c, sizeof(*c));
}

int imds_parse_role_creds(const char *buf, size_t len,
			  struct imds_role_creds *out, char *err,
			  size_t errlen)
{
	yajl_alloc_funcs af = {
		.malloc = wipe_malloc,
		.realloc = wipe_realloc,
		.free = wipe_free_cb,
	};
	struct rc_parse p = {
		.out = out,
		.err = err,
		.errlen = errlen,
	};
	yajl_handle y;
	yajl_status st;

	if (!out || (!buf && len))
		return fail(err, errlen, -EINVAL, "no document");
	memset(out, 0, sizeof(*out));
	y = yajl_alloc(&rc_callbacks, &af, &p);
	if (!y)
		return fail(err, errlen, -ENOMEM, "out of memory");
	st = yajl_parse(y, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(y);
	if (st != yajl_status_ok && p.rc == 0) {
		/* not verbose: the message must not quote the input */
		unsigned char *m = yajl_get_error(y, 0, NULL, 0);

		p.rc = fail(err, errlen, -EINVAL, "not JSON: %s",
			    m ? (const char *)m : "parse error");
		if (m)
			yajl_free_error(y, m);
	}
	yajl_free(y);
	if (p.rc == 0 && p.depth != 0)
		p.rc = fail(err, errlen, -EINVAL, "not a JSON object");
	if (p.rc == 0 && !p.seen[K_CODE])
		p.rc = fail(err, errlen, -EINVAL, "no Code");
	if (p.rc == 0 && p.code[0])
		p.rc = fail(err, errlen, -EACCES, "Code is %s%s%s", p.code,
			    p.message[0] ? ": " : "", p.message);
	for (int k = K_AKID; p.rc == 0 && k <= K_EXP; k++)
		if (!p.seen[k])
			p.rc = fail(err, errlen, -EINVAL, "no %s", rc_names[k]);
	if (p.rc < 0)
		imds_role_creds_clear(out);
	return p.rc;
}

/* -- the client ---------------------------------------------------------- */

enum op_kind { OP_GET, OP_DISCOVER, OP_ROLE };
enum op_state { OP_WAIT_TOKEN, OP_RUNNING };

struct imds_op {
	struct imds *c;
	struct imds_op *prev, *next;
	enum op_kind kind;
	enum op_state state;
	struct strata_http_call *call;
	uint32_t attempt;   /* attempts made for this path */
	bool retried_401;
	uint64_t token_gen; /* the token its GET carries */
	uint64_t wait_gen;  /* the token fetch it waits for */
	int step;
	char path[IMDS_PATH_MAX];
	union {
		imds_get_cb get;
		imds_identity_cb id;
		imds_role_cb role;
	} cb;
	void *arg;
	struct imds_identity *id;
	char role[IMDS_ROLE_MAX + 1];
	char why[IMDS_WHY_MAX];
};

struct imds {
	const struct strata_host *h;
	struct strata_instance *inst;
	char endpoint[256];
	int64_t ttl_s, timeout_ns;
	uint32_t attempts;
	char *token;
	size_t token_len;
	uint64_t token_gen;      /* bumped for each new token */
	int64_t token_deadline;  /* host->now(): replace it from then on */
	struct strata_http_call *token_call;
	uint64_t token_req_gen;  /* bumped for each new token fetch */
	uint32_t token_attempt;
	int64_t token_started;
	uint64_t token_fetches;
	struct imds_op *ops;
};

static const char *const discover_keys[] = {
	"instance-id", "availability-zone", "region", "mac",
	"interface-id", "subnet-id", "vpc-id", "vpc-ipv4-cidr-blocks",
	"local-ipv4s",
};

#define N_DISCOVER (sizeof(discover_keys) / sizeof(discover_keys[0]))

static bool valid_endpoint(const char *e)
{
	const char *host;

	if (strncmp(e, "http://", 7) == 0)
		host = e + 7;
	else if (strncmp(e, "https://", 8) == 0)
		host = e + 8;
	else
		return false;
	if (!*host)
		return false;
	for (const char *p = host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("/?#@\\\"", *p))
			return false;
	return true;
}

int imds_new(const struct strata_host *h, struct strata_instance *inst,
	     const struct imds_config *cfg, struct imds **out, char *err,
	     size_t errlen)
{
	const struct imds_config none = { 0 };
	const char *e;
	struct imds *c;
	size_t len;

	if (!h || !out)
		return fail(err, errlen, -EINVAL, "no host");
	if (!cfg)
		cfg = &none;
	e = cfg->endpoint && *cfg->endpoint ? cfg->endpoint : NULL;
	if (!e) {
		const char *mode = getenv(IMDS_ENDPOINT_MODE_ENV);

		e = getenv(IMDS_ENDPOINT_ENV);
		if (!e || !*e)
			e = mode && strcasecmp(mode, "IPv6") == 0 ?
				    IMDS_DEFAULT_ENDPOINT6 :
				    IMDS_DEFAULT_ENDPOINT;
	}
	len = strlen(e);
	while (len && e[len - 1] == '/')
		len--;
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, errlen, -ENOMEM, "out of memory");
	if (len >= sizeof(c->endpoint))
		goto bad_endpoint;
	memcpy(c->endpoint, e, len);
	c->endpoint[len] = '\0';
	if (!valid_endpoint(c->endpoint))
		goto bad_endpoint;
	c->ttl_s = cfg->token_ttl_s ? cfg->token_ttl_s : IMDS_DEFAULT_TTL_S;
	c->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns :
					  IMDS_DEFAULT_TIMEOUT_NS;
	c->attempts = cfg->attempts ? cfg->attempts : IMDS_DEFAULT_ATTEMPTS;
	if (c->ttl_s < 1 || c->ttl_s > 21600) {
		free(c);
		return fail(err, errlen, -EINVAL,
			    "token TTL %lld s: want 1 to 21600",
			    (long long)cfg->token_ttl_s);
	}
	if (c->timeout_ns < 0 || c->attempts > 10) {
		free(c);
		return fail(err, errlen, -EINVAL,
			    "timeout or attempts out of range");
	}
	c->h = h;
	c->inst = inst;
	*out = c;
	return 0;

bad_endpoint:
	free(c);
	{
		char q[300];

		return fail(err, errlen, -EINVAL,
			    "IMDS endpoint %s: want http://host[:port] or "
			    "https://host[:port]",
			    quote(e, strlen(e), q, sizeof(q)));
	}
}

const char *imds_endpoint(const struct imds *c)
{
	return c->endpoint;
}

uint64_t imds_token_fetches(const struct imds *c)
{
	return c->token_fetches;
}

static void token_drop(struct imds *c)
{
	if (c->token)
		imds_wipe_free(c->token, c->token_len);
	c->token = NULL;
	c->token_len = 0;
}

static void op_unlink(struct imds_op *op)
{
	struct imds *c = op->c;

	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void op_free(struct imds_op *op)
{
	free(op->id);
	free(op);
}

void imds_cancel(struct imds_op *op)
{
	if (!op)
		return;
	if (op->call)
		op->c->h->http_cancel(op->c->inst, op->call);
	op_unlink(op);
	op_free(op);
}

void imds_free(struct imds *c)
{
	if (!c)
		return;
	while (c->ops)
		imds_cancel(c->ops);
	if (c->token_call)
		c->h->http_cancel(c->inst, c->token_call);
	token_drop(c);
	free(c);
}

/* The operation ends: unlinked, its callback run, freed. */
static void op_finish(struct imds_op *op, int err,
		      const struct imds_role_creds *creds, const char *value,
		      size_t len)
{
	const char *why = err ? op->why : NULL;

	op_unlink(op);
	switch (op->kind) {
	case OP_GET:
		op->cb.get(op->arg, err, err ? NULL : value, err ? 0 : len,
			   why);
		break;
	case OP_DISCOVER:
		op->cb.id(op->arg, err, err ? NULL : op->id, why);
		break;
	case OP_ROLE:
		op->cb.role(op->arg, err, err ? NULL : creds, why);
		break;
	}
	op_free(op);
}

static void op_fail(struct imds_op *op, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void op_fail(struct imds_op *op, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(op->why, sizeof(op->why), fmt, ap);
	va_end(ap);
	op_finish(op, err, NULL, NULL, 0);
}

/* The host's buffer held a secret: wipe it before it is freed. The body is
 * the host's to free and is not read again after the callback. */
static void wipe_body(const struct strata_http_response *resp)
{
	if (resp->body && resp->body_len)
		explicit_bzero((void *)resp->body, resp->body_len);
}

static bool transient(const struct strata_http_response *resp)
{
	return resp->error || resp->status >= 500;
}

static void op_http_done(void *arg, const struct strata_http_response *resp);
static void token_done(void *arg, const struct strata_http_response *resp);
static int token_fetch(struct imds *c);

/* Send op's GET with the current token. */
static int op_start_get(struct imds_op *op)
{
	struct imds *c = op->c;
	char url[sizeof(c->endpoint) + IMDS_PATH_MAX + 32];
	char hdr[IMDS_TOKEN_MAX + 40];
	const char *headers[] = { hdr, NULL };
	struct strata_http_request req = {
		.size = sizeof(req),
		.method = "GET",
		.url = url,
		.headers = headers,
		.timeout_ns = c->timeout_ns,
		.max_body = IMDS_MAX_BODY,
	};

	snprintf(url, sizeof(url), "%s/latest/meta-data/%s", c->endpoint,
		 op->path);
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", c->token);
	op->state = OP_RUNNING;
	op->token_gen = c->token_gen;
	op->attempt++;
	op->call = c->h->http_start(c->inst, &req, op_http_done, op);
	explicit_bzero(hdr, sizeof(hdr));
	if (!op->call)
		return errno ? -errno : -ENOMEM;
	return 0;
}

static bool token_usable(const struct imds *c)
{
	return c->token && c->h->now() < c->token_deadline;
}

/* Send op's GET, or queue it behind a token fetch. */
static int op_send(struct imds_op *op)
{
	struct imds *c = op->c;

	if (token_usable(c))
		return op_start_get(op);
	op->state = OP_WAIT_TOKEN;
	if (!c->token_call) {
		int rc = token_fetch(c);

		if (rc < 0)
			return rc;
	}
	op->wait_gen = c->token_req_gen;
	return 0;
}

static int token_put(struct imds *c)
{
	char url[sizeof(c->endpoint) + 32];
	char hdr[64];
	const char *headers[] = { hdr, NULL };
	struct strata_http_request req = {
		.size = sizeof(req),
		.method = "PUT",
		.url = url,
		.headers = headers,
		.timeout_ns = c->timeout_ns,
		.max_body = IMDS_TOKEN_MAX,
	};

	snprintf(url, sizeof(url), "%s/latest/api/token", c->endpoint);
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %lld",
		 (long long)c->ttl_s);
	c->token_attempt++;
	c->token_started = c->h->now();
	c->token_call = c->h->http_start(c->inst, &req, token_done, c);
	if (!c->token_call)
		return errno ? -errno : -ENOMEM;
	return 0;
}

static int token_fetch(struct imds *c)
{
	token_drop(c);
	c->token_req_gen++;
	c->token_attempt = 0;
	return token_put(c);
}

/* The ops waiting for fetch gen: each sent, or failed with why. */
static void token_fan_out(struct imds *c, uint64_t gen, int err,
			  const char *why)
{
	struct imds_op *op;

	/* callbacks may cancel and start ops: rescan from the start */
	for (;;) {
		for (op = c->ops; op; op = op->next)
			if (op->state == OP_WAIT_TOKEN && op->wait_gen == gen)
				break;
		if (!op)
			return;
		if (!err) {
			int rc = op_start_get(op);

			if (rc < 0)
				op_fail(op, rc, "GET %s: %s", op->path,
					strerror(-rc));
			continue;
		}
		op_fail(op, err, "%s", why);
	}
}

static void token_done(void *arg, const struct strata_http_response *resp)
{
	struct imds *c = arg;
	uint64_t gen = c->token_req_gen;
	char why[IMDS_WHY_MAX];
	int err;

	c->token_call = NULL;
	if (!resp->error && resp->status == 200) {
		size_t n = resp->body_len;
		bool ok = n > 0 && n <= IMDS_TOKEN_MAX &&
			  printable((const unsigned char *)resp->body, n);

		if (ok) {
			int64_t ttl = c->ttl_s * NS_PER_S;
			int64_t margin = ttl / 4;

			if (margin > IMDS_TOKEN_MARGIN_MAX_NS)
				margin = IMDS_TOKEN_MARGIN_MAX_NS;
			c->token = malloc(resp->body_len + 1);
			if (c->token) {
				memcpy(c->token, resp->body, resp->body_len);
				c->token[resp->body_len] = '\0';
				c->token_len = resp->body_len;
				c->token_gen++;
				c->token_fetches++;
				/* counted from when it was asked for */
				c->token_deadline = c->token_started + ttl -
						    margin;
			}
			wipe_body(resp);
			if (!c->token) {
				token_fan_out(c, gen, -ENOMEM,
					      "token: out of memory");
				return;
			}
			c->h->log(c->inst, STRATA_LOG_DEBUG,
				  "imds: new session token (TTL %lld s)",
				  (long long)c->ttl_s);
			token_fan_out(c, gen, 0, NULL);
			return;
		}
		wipe_body(resp);
		token_fan_out(c, gen, -EPROTO,
			      "PUT /latest/api/token: not a token");
		return;
	}
	if (transient(resp) && c->token_attempt < c->attempts) {
		err = token_put(c);
		if (err == 0)
			return;
		snprintf(why, sizeof(why), "PUT /latest/api/token: %s",
			 strerror(-err));
		token_fan_out(c, gen, err, why);
		return;
	}
	if (resp->error) {
		err = resp->error;
		snprintf(why, sizeof(why),
			 "PUT %s/latest/api/token: %s (%u attempts)",
			 c->endpoint, resp->error_text ? resp->error_text : "",
			 c->token_attempt);
	} else {
		err = resp->status >= 500 ? -EIO :
		      resp->status == 403 ? -EACCES : -EPROTO;
		snprintf(why, sizeof(why),
			 "PUT %s/latest/api/token: HTTP status %d%s",
			 c->endpoint, (int)resp->status,
			 resp->status == 403 ? " (IMDS disabled?)" :
			 resp->status == 400 ? " (bad TTL?)" : "");
	}
	token_fan_out(c, gen, err, why);
}

/* The op moves on to path: a new request, its own attempts. */
static int op_next_path(struct imds_op *op, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int op_next_path(struct imds_op *op, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(op->path, sizeof(op->path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(op->path))
		return -ENAMETOOLONG;
	op->attempt = 0;
	op->retried_401 = false;
	return 0;
}

static void op_continue(struct imds_op *op)
{
	int rc = op_send(op);

	if (rc < 0)
		op_fail(op, rc, "GET %s: %s", op->path, strerror(-rc));
}

static void discover_step(struct imds_op *op, const char *body, size_t len)
{
	char err[IMDS_WHY_MAX - 32];
	const char *key = discover_keys[op->step];
	int rc;

	rc = imds_identity_set(op->id, key, body, len, err, sizeof(err));
	if (rc < 0) {
		op_fail(op, rc, "meta-data/%s: %s", op->path, err);
		return;
	}
	if (++op->step == (int)N_DISCOVER) {
		op_finish(op, 0, NULL, NULL, 0);
		return;
	}
	key = discover_keys[op->step];
	if (op->step == 1 || op->step == 2)
		rc = op_next_path(op, "placement/%s", key);
	else if (op->step == 3)
		rc = op_next_path(op, "%s", key);
	else
		rc = op_next_path(op, "network/interfaces/macs/%s/%s",
				  op->id->mac, key);
	if (rc < 0) {
		op_fail(op, rc, "meta-data/%s: path too long", key);
		return;
	}
	op_continue(op);
}

static bool valid_role(const char *r, size_t len)
{
	if (len == 0 || len > IMDS_ROLE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)r[i]) && !strchr("+=,.@_-", r[i]))
			return false;
	return true;
}

static void role_step(struct imds_op *op,
		      const struct strata_http_response *resp)
{
	struct imds_role_creds creds;
	char err[IMDS_WHY_MAX - 64], q[300];
	size_t n;
	int rc;

	if (op->step == 0) {
		n = strcspn(resp->body, "\n");
		if (n > resp->body_len)
			n = resp->body_len;
		if (!valid_role(resp->body, n)) {
			op_fail(op, -EINVAL,
				"meta-data/iam/security-credentials/: bad role "
				"name %s",
				quote(resp->body, n, q, sizeof(q)));
			return;
		}
		memcpy(op->role, resp->body, n);
		op->role[n] = '\0';
		op->step = 1;
		op_next_path(op, "iam/security-credentials/%s", op->role);
		op_continue(op);
		return;
	}
	rc = imds_parse_role_creds(resp->body, resp->body_len, &creds, err,
				   sizeof(err));
	wipe_body(resp);
	if (rc < 0) {
		op_fail(op, rc, "meta-data/iam/security-credentials/%s: %s",
			op->role, err);
		return;
	}
	snprintf(creds.role, sizeof(creds.role), "%s", op->role);
	op_finish(op, 0, &creds, NULL, 0);
	imds_role_creds_clear(&creds);
}

static void op_http_done(void *arg, const struct strata_http_response *resp)
{
	struct imds_op *op = arg;
	struct imds *c = op->c;
	int rc;

	op->call = NULL;
	if (!resp->error && resp->status == 200) {
		switch (op->kind) {
		case OP_GET:
			op_finish(op, 0, NULL, resp->body, resp->body_len);
			return;
		case OP_DISCOVER:
			discover_step(op, resp->body, resp->body_len);
			return;
		case OP_ROLE:
			role_step(op, resp);
			return;
		}
	}
	if (!resp->error && resp->status == 401 && !op->retried_401) {
		/* stale: a new token, and this GET once more */
		op->retried_401 = true;
		if (op->token_gen == c->token_gen)
			token_drop(c);
		c->h->log(c->inst, STRATA_LOG_DEBUG,
			  "imds: GET %s: 401, fetching a new token", op->path);
		op->attempt--;
		op_continue(op);
		return;
	}
	if (transient(resp) && op->attempt < c->attempts) {
		op_continue(op);
		return;
	}
	if (resp->error) {
		op_fail(op, resp->error, "GET %s/latest/meta-data/%s: %s "
			"(%u attempts)", c->endpoint, op->path,
			resp->error_text ? resp->error_text : "", op->attempt);
		return;
	}
	if (op->kind == OP_ROLE && op->step == 0 && resp->status == 404) {
		op_fail(op, -ENOENT, "GET %s/latest/meta-data/%s: 404: no IAM "
			"role attached to this instance", c->endpoint, op->path);
		return;
	}
	switch (resp->status) {
	case 404:
		rc = -ENOENT;
		break;
	case 401:
	case 403:
		rc = -EACCES;
		break;
	default:
		rc = resp->status >= 500 ? -EIO : -EPROTO;
		break;
	}
	op_fail(op, rc, "GET %s/latest/meta-data/%s: HTTP status %d%s",
		c->endpoint, op->path, (int)resp->status,
		rc == -ENOENT ? " (not found)" :
		resp->status == 401 ? " with a new token" : "");
}

static bool valid_path(const char *p)
{
	size_t len = strlen(p);

	if (len >= IMDS_PATH_MAX || strstr(p, "..") || p[0] == '/')
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/._:+=,@-", *p))
			return false;
	return true;
}

static int op_new(struct imds *c, enum op_kind kind, void *arg,
		  struct imds_op **out)
{
	struct imds_op *op = calloc(1, sizeof(*op));

	if (!op)
		return -ENOMEM;
	op->c = c;
	op->kind = kind;
	op->arg = arg;
	*out = op;
	return 0;
}

/* Link and send op; on failure nothing remains of it. */
static int op_begin(struct imds_op *op, struct imds_op **out)
{
	struct imds *c = op->c;
	int rc;

	op->next = c->ops;
	if (op->next)
		op->next->prev = op;
	c->ops = op;
	rc = op_send(op);
	if (rc < 0) {
		imds_cancel(op);
		return rc;
	}
	if (out)
		*out = op;
	return 0;
}

int imds_get(struct imds *c, const char *path, imds_get_cb cb, void *arg,
	     struct imds_op **out)
{
	struct imds_op *op;
	int rc;

	if (!c || !path || !cb || !valid_path(path))
		return -EINVAL;
	rc = op_new(c, OP_GET, arg, &op);
	if (rc < 0)
		return rc;
	op->cb.get = cb;
	snprintf(op->path, sizeof(op->path), "%s", path);
	return op_begin(op, out);
}

int imds_discover(struct imds *c, imds_identity_cb cb, void *arg,
		  struct imds_op **out)
{
	struct imds_op *op;
	int rc;

	if (!c || !cb)
		return -EINVAL;
	rc = op_new(c, OP_DISCOVER, arg, &op);
	if (rc < 0)
		return rc;
	op->id = calloc(1, sizeof(*op->id));
	if (!op->id) {
		free(op);
		return -ENOMEM;
	}
	op->cb.id = cb;
	snprintf(op->path, sizeof(op->path), "%s", discover_keys[0]);
	return op_begin(op, out);
}

int imds_role_creds(struct imds *c, const char *role, imds_role_cb cb,
		    void *arg, struct imds_op **out)
{
	struct imds_op *op;
	int rc;

	if (!c || !cb || (role && *role && !valid_role(role, strlen(role))))
		return -EINVAL;
	rc = op_new(c, OP_ROLE, arg, &op);
	if (rc < 0)
		return rc;
	op->cb.role = cb;
	if (role && *role) {
		snprintf(op->role, sizeof(op->role), "%s", role);
		op->step = 1;
		snprintf(op->path, sizeof(op->path),
			 "iam/security-credentials/%s", role);
	} else {
		snprintf(op->path, sizeof(op->path),
			 "iam/security-credentials/");
	}
	return op_begin(op, out);
}
