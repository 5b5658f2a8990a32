/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 (see sigv4.h). */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
#define SIGV4_TERM "aws4_request"

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * A growing string. Growth copies and zeroes the old block, since what is
 * built here may hold a session token; a failed allocation is remembered
 * and reported once at the end.
 */
struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_wipe(struct buf *b)
{
	if (b->p) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	*b = (struct buf){ 0 };
}

static bool buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (more < b->cap - b->len)
		return true;
	if (more > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	cap = b->cap ? b->cap : 64;
	while (cap - b->len <= more)
		cap *= 2;
	p = malloc(cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	if (b->p) {
		memcpy(p, b->p, b->len);
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void buf_add(struct buf *b, const void *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_ch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* RFC 3986 percent-encoding; '/' kept when keep_slash. */
static void buf_enc(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			buf_ch(b, (char)c);
			continue;
		}
		e[0] = '%';
		e[1] = hexdig_upper[c >> 4];
		e[2] = hexdig_upper[c & 15];
		buf_add(b, e, 3);
	}
}

/* The string, now owned by the caller; NULL when an allocation failed. */
static char *buf_take(struct buf *b)
{
	char *p;

	if (!b->oom && !b->p)
		buf_add(b, "", 0);
	if (b->oom) {
		buf_wipe(b);
		return NULL;
	}
	p = b->p;
	*b = (struct buf){ 0 };
	return p;
}

static void hex_lower(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig_lower[in[i] >> 4];
		out[2 * i + 1] = hexdig_lower[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return -EIO;
	hex_lower(md, 32, out);
	return 0;
}

static int hmac256(const void *key, size_t keylen, const void *data,
		   size_t len, unsigned char out[32])
{
	unsigned int mdlen = 0;

	if (keylen > INT32_MAX)
		return -EINVAL;
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &mdlen) ||
	    mdlen != 32)
		return -EIO;
	return 0;
}

static void str_wipe(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void sigv4_creds_clear(struct sigv4_creds *c)
{
	str_wipe(&c->access_key_id);
	str_wipe(&c->secret_access_key);
	str_wipe(&c->session_token);
}

/* Printable ASCII without spaces: what fits a header value untouched. */
static bool is_visible(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool valid_key_id(const char *s)
{
	return *s && is_visible(s) && !strpbrk(s, "/,=");
}

int sigv4_creds_set(struct sigv4_creds *c, const char *access_key_id,
		    const char *secret_access_key, const char *session_token)
{
	struct sigv4_creds n = { 0 };

	sigv4_creds_clear(c);
	if (!access_key_id || !valid_key_id(access_key_id) ||
	    !secret_access_key || !*secret_access_key)
		return -EINVAL;
	if (session_token && *session_token && !is_visible(session_token))
		return -EINVAL;
	n.access_key_id = strdup(access_key_id);
	n.secret_access_key = strdup(secret_access_key);
	if (session_token && *session_token)
		n.session_token = strdup(session_token);
	if (!n.access_key_id || !n.secret_access_key ||
	    (session_token && *session_token && !n.session_token)) {
		sigv4_creds_clear(&n);
		return -ENOMEM;
	}
	*c = n;
	return 0;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

static bool valid_scope_part(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_unreserved((unsigned char)*s) || *s == '~')
			return false;
	return true;
}

/* -- URL ------------------------------------------------------------------ */

struct url {
	char *host;        /* lowercased, with :port unless the default */
	const char *path;  /* into the URL */
	size_t path_len;
	const char *query; /* after '?', or NULL */
	size_t query_len;
};

static int parse_url(const char *url, struct url *u, char *err, size_t errlen)
{
	const char *p, *auth, *auth_end, *host_end, *port = NULL;
	unsigned long portnum = 0, defport;
	struct buf hb = { 0 };

	*u = (struct url){ 0 };
	for (p = url; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			seterr(err, errlen, "url: control byte at offset %zu",
			       (size_t)(p - url));
			return -EINVAL;
		}
		if (*p == '#') {
			seterr(err, errlen, "url: fragments are not sent; "
			       "remove the '#' part");
			return -EINVAL;
		}
	}
	if (!strncasecmp(url, "https://", 8)) {
		auth = url + 8;
		defport = 443;
	} else if (!strncasecmp(url, "http://", 7)) {
		auth = url + 7;
		defport = 80;
	} else {
		seterr(err, errlen, "url \"%.64s\": scheme must be http or "
		       "https", url);
		return -EINVAL;
	}
	auth_end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', (size_t)(auth_end - auth))) {
		seterr(err, errlen, "url: userinfo ('@') is not allowed");
		return -EINVAL;
	}
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(auth_end - auth));
		if (!host_end || host_end == auth + 1) {
			seterr(err, errlen, "url: unterminated or empty IPv6 "
			       "literal");
			return -EINVAL;
		}
		for (p = auth + 1; p < host_end; p++)
			if (!strchr("0123456789abcdefABCDEF:.", *p)) {
				seterr(err, errlen, "url: bad character in "
				       "IPv6 literal");
				return -EINVAL;
			}
		host_end++;
		if (host_end < auth_end && *host_end != ':') {
			seterr(err, errlen, "url: junk after IPv6 literal");
			return -EINVAL;
		}
	} else {
		host_end = memchr(auth, ':', (size_t)(auth_end - auth));
		if (!host_end)
			host_end = auth_end;
		if (host_end == auth) {
			seterr(err, errlen, "url \"%.64s\": no host", url);
			return -EINVAL;
		}
		for (p = auth; p < host_end; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '.' && *p != '_') {
				seterr(err, errlen, "url: bad character in "
				       "host at offset %zu", (size_t)(p - url));
				return -EINVAL;
			}
	}
	if (host_end < auth_end) {
		port = host_end + 1;
		if (port == auth_end || auth_end - port > 5) {
			seterr(err, errlen, "url: bad port");
			return -EINVAL;
		}
		for (p = port; p < auth_end; p++) {
			if (*p < '0' || *p > '9') {
				seterr(err, errlen, "url: bad port");
				return -EINVAL;
			}
			portnum = portnum * 10 + (unsigned long)(*p - '0');
		}
		if (portnum < 1 || portnum > 65535) {
			seterr(err, errlen, "url: port %lu out of range",
			       portnum);
			return -EINVAL;
		}
	}
	for (p = auth; p < host_end; p++)
		buf_ch(&hb, (char)tolower((unsigned char)*p));
	if (port && portnum != defport) {
		char num[8];

		snprintf(num, sizeof(num), ":%lu", portnum);
		buf_str(&hb, num);
	}
	u->host = buf_take(&hb);
	if (!u->host)
		return -ENOMEM;
	u->path = auth_end;
	u->path_len = strcspn(auth_end, "?");
	if (auth_end[u->path_len] == '?') {
		u->query = auth_end + u->path_len + 1;
		u->query_len = strlen(u->query);
	}
	return 0;
}

/* -- canonical URI and query ---------------------------------------------- */

/*
 * Dot segments and empty segments dropped, as botocore does: a leading
 * '/' always, a trailing one when the path had one and something is left.
 */
static void canonical_path(struct buf *b, const char *path, size_t len,
			   bool raw)
{
	const char *p = path, *end = path + len;
	size_t start = b->len, nseg = 0;

	if (!len) {
		buf_ch(b, '/');
		return;
	}
	if (raw) {
		buf_enc(b, path, len, true);
		return;
	}
	buf_ch(b, '/');
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(end - p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg) {
				/* back to just after the previous '/' */
				while (b->len > start + 1 &&
				       b->p[b->len - 1] != '/')
					b->len--;
				if (b->len > start + 1)
					b->len--;
				b->p[b->len] = '\0';
				nseg--;
			}
		} else {
			if (nseg)
				buf_ch(b, '/');
			buf_enc(b, p, n, false);
			nseg++;
		}
		p += n + 1;
	}
	if (nseg && path[len - 1] == '/')
		buf_ch(b, '/');
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoded then encoded again: one canonical spelling. */
static int reencode(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = unhex(s[i + 1]);
			lo = unhex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		buf_enc(b, &c, 1, false);
	}
	return 0;
}

struct qparam {
	char *name;
	char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->value, y->value);
}

static int canonical_query(struct buf *b, const char *q, size_t len,
			   char *err, size_t errlen)
{
	struct qparam *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = q, *end = q ? q + len : NULL;
	int rc = 0;

	if (!q)
		return 0;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t plen = amp ? (size_t)(amp - p) : (size_t)(end - p);
		const char *eq = memchr(p, '=', plen);
		size_t nlen = eq ? (size_t)(eq - p) : plen;
		struct buf nb = { 0 }, vb = { 0 };

		if (plen == 0) {
			p += 1;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct qparam *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				goto free_params;
			}
			v = nv;
			cap = ncap;
		}
		if (reencode(&nb, p, nlen) ||
		    (eq && reencode(&vb, eq + 1, plen - nlen - 1))) {
			buf_wipe(&nb);
			buf_wipe(&vb);
			seterr(err, errlen, "url: bad percent-encoding in "
			       "query parameter %zu", n + 1);
			rc = -EINVAL;
			goto free_params;
		}
		v[n].name = buf_take(&nb);
		v[n].value = buf_take(&vb);
		n++;
		if (!v[n - 1].name || !v[n - 1].value) {
			rc = -ENOMEM;
			goto free_params;
		}
		p += plen + 1;
	}
	if (n)
		qsort(v, n, sizeof(*v), qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_ch(b, '&');
		buf_str(b, v[i].name);
		buf_ch(b, '=');
		buf_str(b, v[i].value);
	}
free_params:
	for (size_t i = 0; i < n; i++) {
		str_wipe(&v[i].name);
		str_wipe(&v[i].value);
	}
	free(v);
	return rc;
}

/* -- headers -------------------------------------------------------------- */

struct chdr {
	char *name;  /* lowercased */
	char *value; /* trimmed, spaces collapsed */
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

static const char *const owned_headers[] = {
	"host", "x-amz-date", "x-amz-security-token", "authorization",
	"x-amz-content-sha256",
};

static bool is_owned(const char *name)
{
	for (size_t i = 0; i < sizeof(owned_headers) / sizeof(*owned_headers);
	     i++)
		if (!strcasecmp(name, owned_headers[i]))
			return true;
	return false;
}

static int chdr_fill(struct chdr *h, const char *name, const char *value,
		     size_t order)
{
	struct buf nb = { 0 }, vb = { 0 };
	bool space = false;

	for (const char *p = name; *p; p++)
		buf_ch(&nb, (char)tolower((unsigned char)*p));
	while (*value == ' ' || *value == '\t')
		value++;
	for (const char *p = value; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			space = true;
			continue;
		}
		if (space)
			buf_ch(&vb, ' ');
		space = false;
		buf_ch(&vb, *p);
	}
	h->name = buf_take(&nb);
	h->value = buf_take(&vb);
	h->order = order;
	return h->name && h->value ? 0 : -ENOMEM;
}

static int chdr_push(struct chdr *h, size_t *n, const char *name,
		     const char *value)
{
	int rc = chdr_fill(&h[*n], name, value, *n);

	(*n)++;
	return rc;
}

static bool valid_header_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* -- signing -------------------------------------------------------------- */

void sigv4_signed_free(struct sigv4_signed *out)
{
	str_wipe(&out->host);
	str_wipe(&out->signed_headers);
	str_wipe(&out->authorization);
	str_wipe(&out->canonical_request);
	str_wipe(&out->string_to_sign);
	for (size_t i = 0; i < sizeof(out->header_lines) /
			       sizeof(*out->header_lines); i++)
		str_wipe(&out->header_lines[i]);
	OPENSSL_cleanse(out, sizeof(*out));
}

static int check_request(const struct sigv4_creds *creds,
			 const struct sigv4_request *req, char *err,
			 size_t errlen)
{
	if (!creds || !creds->access_key_id || !creds->secret_access_key) {
		seterr(err, errlen, "credentials: not set");
		return -EINVAL;
	}
	if (!valid_key_id(creds->access_key_id)) {
		seterr(err, errlen, "credentials: the access key id has "
		       "spaces, control bytes or one of / , =");
		return -EINVAL;
	}
	if (!*creds->secret_access_key) {
		seterr(err, errlen, "credentials: empty secret access key");
		return -EINVAL;
	}
	if (creds->session_token && *creds->session_token &&
	    !is_visible(creds->session_token)) {
		seterr(err, errlen, "credentials: the session token has "
		       "spaces or control bytes");
		return -EINVAL;
	}
	if (!req->method || !is_token(req->method)) {
		seterr(err, errlen, "method: missing or not an HTTP token");
		return -EINVAL;
	}
	if (!req->url) {
		seterr(err, errlen, "url: missing");
		return -EINVAL;
	}
	if (!req->region || !valid_scope_part(req->region)) {
		seterr(err, errlen, "region \"%.32s\": expected "
		       "[A-Za-z0-9._-]+", req->region ? req->region : "");
		return -EINVAL;
	}
	if (!req->service || !valid_scope_part(req->service)) {
		seterr(err, errlen, "service \"%.32s\": expected "
		       "[A-Za-z0-9._-]+", req->service ? req->service : "");
		return -EINVAL;
	}
	if (req->body_len && !req->body) {
		seterr(err, errlen, "body: NULL with length %zu",
		       req->body_len);
		return -EINVAL;
	}
	if (req->n_headers && !req->headers) {
		seterr(err, errlen, "headers: NULL with count %zu",
		       req->n_headers);
		return -EINVAL;
	}
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (!h->name || !is_token(h->name)) {
			seterr(err, errlen, "header %zu: name missing or not "
			       "an HTTP token", i + 1);
			return -EINVAL;
		}
		if (is_owned(h->name)) {
			seterr(err, errlen, "header %.64s: set by the signer, "
			       "not by the caller", h->name);
			return -EINVAL;
		}
		if (!h->value || !valid_header_value(h->value)) {
			seterr(err, errlen, "header %.64s: value missing or "
			       "has CR, LF or control bytes", h->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"); then the signature over the string to sign. */
static int signature(const char *secret, const char *date,
		     const char *region, const char *service,
		     const char *sts, char out[65])
{
	unsigned char k1[32], k2[32];
	struct buf key = { 0 };
	int rc;

	buf_str(&key, "AWS4");
	buf_str(&key, secret);
	if (key.oom) {
		buf_wipe(&key);
		return -ENOMEM;
	}
	rc = hmac256(key.p, key.len, date, strlen(date), k1);
	if (!rc)
		rc = hmac256(k1, 32, region, strlen(region), k2);
	if (!rc)
		rc = hmac256(k2, 32, service, strlen(service), k1);
	if (!rc)
		rc = hmac256(k1, 32, SIGV4_TERM, strlen(SIGV4_TERM), k2);
	if (!rc)
		rc = hmac256(k2, 32, sts, strlen(sts), k1);
	if (!rc)
		hex_lower(k1, 32, out);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	buf_wipe(&key);
	return rc;
}

static char *header_line(const char *name, const char *value)
{
	struct buf b = { 0 };

	buf_str(&b, name);
	buf_str(&b, ": ");
	buf_str(&b, value);
	return buf_take(&b);
}

int sigv4_sign(const struct sigv4_creds *creds,
	       const struct sigv4_request *req, struct sigv4_signed *out,
	       char *err, size_t errlen)
{
	struct sigv4_signed s = { 0 };
	struct chdr *hdrs = NULL;
	size_t nh = 0, maxh, nl = 0;
	struct buf cr = { 0 }, sh = { 0 }, st = { 0 }, au = { 0 };
	struct url u = { 0 };
	char date[9], scope_hash[65], sig[65];
	const char *token;
	struct tm tm;
	int rc;

	*out = (struct sigv4_signed){ 0 };
	if (!req) {
		seterr(err, errlen, "request: NULL");
		return -EINVAL;
	}
	rc = check_request(creds, req, err, errlen);
	if (rc)
		return rc;
	token = creds->session_token && *creds->session_token ?
			creds->session_token : NULL;
	if (!gmtime_r(&req->when, &tm) || tm.tm_year < 70 ||
	    tm.tm_year > 9999 - 1900) {
		seterr(err, errlen, "time %lld: outside the years 1970-9999",
		       (long long)req->when);
		return -EINVAL;
	}
	strftime(s.amz_date, sizeof(s.amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, s.amz_date, 8);
	date[8] = '\0';
	rc = parse_url(req->url, &u, err, errlen);
	if (rc)
		return rc;
	rc = sha256_hex(req->body, req->body_len, s.payload_hash);
	if (rc) {
		seterr(err, errlen, "SHA-256 of the body failed");
		goto free_url;
	}

	/* every header that is signed, canonical and sorted */
	maxh = req->n_headers + 4;
	hdrs = calloc(maxh, sizeof(*hdrs));
	if (!hdrs) {
		rc = -ENOMEM;
		goto free_url;
	}
	for (size_t i = 0; i < req->n_headers && !rc; i++)
		rc = chdr_push(hdrs, &nh, req->headers[i].name,
			       req->headers[i].value);
	if (!rc)
		rc = chdr_push(hdrs, &nh, "host", u.host);
	if (!rc)
		rc = chdr_push(hdrs, &nh, "x-amz-date", s.amz_date);
	if (!rc && token)
		rc = chdr_push(hdrs, &nh, "x-amz-security-token", token);
	if (!rc && req->content_sha256)
		rc = chdr_push(hdrs, &nh, "x-amz-content-sha256",
			       s.payload_hash);
	if (rc)
		goto free_headers;
	qsort(hdrs, nh, sizeof(*hdrs), chdr_cmp);

	/* the canonical request */
	buf_str(&cr, req->method);
	buf_ch(&cr, '\n');
	canonical_path(&cr, u.path, u.path_len, req->raw_path);
	buf_ch(&cr, '\n');
	rc = canonical_query(&cr, u.query, u.query_len, err, errlen);
	if (rc)
		goto free_bufs;
	buf_ch(&cr, '\n');
	for (size_t i = 0; i < nh; i++) {
		bool same = i && !strcmp(hdrs[i].name, hdrs[i - 1].name);

		if (same) {
			buf_ch(&cr, ',');
		} else {
			if (i) {
				buf_ch(&cr, '\n');
				buf_ch(&sh, ';');
			}
			buf_str(&cr, hdrs[i].name);
			buf_ch(&cr, ':');
			buf_str(&sh, hdrs[i].name);
		}
		buf_str(&cr, hdrs[i].value);
	}
	buf_str(&cr, "\n\n");
	buf_add(&cr, sh.p ? sh.p : "", sh.len);
	buf_ch(&cr, '\n');
	buf_str(&cr, s.payload_hash);
	if (cr.oom || sh.oom) {
		rc = -ENOMEM;
		goto free_bufs;
	}

	/* the string to sign and the signature */
	rc = sha256_hex(cr.p, cr.len, scope_hash);
	if (rc) {
		seterr(err, errlen, "SHA-256 of the canonical request failed");
		goto free_bufs;
	}
	buf_str(&st, SIGV4_ALGO "\n");
	buf_str(&st, s.amz_date);
	buf_ch(&st, '\n');
	buf_str(&st, date);
	buf_ch(&st, '/');
	buf_str(&st, req->region);
	buf_ch(&st, '/');
	buf_str(&st, req->service);
	buf_str(&st, "/" SIGV4_TERM "\n");
	buf_str(&st, scope_hash);
	if (st.oom) {
		rc = -ENOMEM;
		goto free_bufs;
	}
	rc = signature(creds->secret_access_key, date, req->region,
		       req->service, st.p, sig);
	if (rc) {
		seterr(err, errlen, "HMAC-SHA256 failed");
		goto free_bufs;
	}
	buf_str(&au, SIGV4_ALGO " Credential=");
	buf_str(&au, creds->access_key_id);
	buf_ch(&au, '/');
	buf_str(&au, date);
	buf_ch(&au, '/');
	buf_str(&au, req->region);
	buf_ch(&au, '/');
	buf_str(&au, req->service);
	buf_str(&au, "/" SIGV4_TERM ", SignedHeaders=");
	buf_add(&au, sh.p, sh.len);
	buf_str(&au, ", Signature=");
	buf_str(&au, sig);

	s.canonical_request = buf_take(&cr);
	s.signed_headers = buf_take(&sh);
	s.string_to_sign = buf_take(&st);
	s.authorization = buf_take(&au);
	s.host = u.host;
	u.host = NULL;
	s.header_lines[nl++] = header_line("Host", s.host);
	s.header_lines[nl++] = header_line("X-Amz-Date", s.amz_date);
	if (token)
		s.header_lines[nl++] = header_line("X-Amz-Security-Token",
						   token);
	if (req->content_sha256)
		s.header_lines[nl++] = header_line("X-Amz-Content-Sha256",
						   s.payload_hash);
	if (s.authorization)
		s.header_lines[nl++] = header_line("Authorization",
						   s.authorization);
	rc = 0;
	if (!s.canonical_request || !s.signed_headers || !s.string_to_sign ||
	    !s.authorization)
		rc = -ENOMEM;
	for (size_t i = 0; i < nl; i++)
		if (!s.header_lines[i])
			rc = -ENOMEM;
	if (rc)
		sigv4_signed_free(&s);
	else
		*out = s;
free_bufs:
	OPENSSL_cleanse(sig, sizeof(sig));
	buf_wipe(&cr);
	buf_wipe(&sh);
	buf_wipe(&st);
	buf_wipe(&au);
free_headers:
	for (size_t i = 0; i < maxh; i++) {
		str_wipe(&hdrs[i].name);
		str_wipe(&hdrs[i].value);
	}
	free(hdrs);
free_url:
	free(u.host);
	if (rc == -ENOMEM)
		seterr(err, errlen, "out of memory");
	return rc;
}

/* -- form bodies ---------------------------------------------------------- */

int sigv4_form_encode(const struct sigv4_param *params, size_t n,
		      char **out, size_t *out_len)
{
	struct buf b = { 0 };

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (n && !params)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!params[i].name || !*params[i].name || !params[i].value)
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_ch(&b, '&');
		buf_enc(&b, params[i].name, strlen(params[i].name), false);
		buf_ch(&b, '=');
		buf_enc(&b, params[i].value, strlen(params[i].value), false);
	}
	if (out_len)
		*out_len = b.len;
	*out = buf_take(&b);
	if (!*out) {
		if (out_len)
			*out_len = 0;
		return -ENOMEM;
	}
	return 0;
}
