/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The etcd v3 backend: etcd's JSON gateway over the daemon's HTTP client
 * (libcurl multi on the loop), parsed with yajl.
 *
 * What the gateway does that shapes this file: keys and values are base64;
 * 64-bit fields arrive as JSON strings (lease ids exceed 2^53, so they are
 * read as integers, never doubles); zero-valued fields are left out (a
 * failed txn has no "succeeded", a keepalive on a lost lease no "TTL");
 * streamed messages come wrapped in {"result": ...}, one per line. Every
 * request carries Grpc-Metadata-hasleader so a member without quorum
 * answers at once instead of hanging, and has a timeout. Requests that
 * surely did not apply (connection refused, "no leader") move to the next
 * endpoint and are retried; a write that timed out has an unknown outcome
 * and fails with -ETIMEDOUT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_backend.h"

#define MS 1000000LL
#define ETCD_TIMEOUT_MS 2000
#define ETCD_RETRY_NS (50 * MS)
#define ETCD_WATCH_RETRY_NS (100 * MS)

struct etcd_req;
struct etcd_watch;

struct etcd {
	struct store base;
	struct http *http;
	char **eps;
	size_t n_eps;
	size_t cur; /* the endpoint in use */
	char *prefix;
	size_t plen;
	int64_t timeout_ns; /* one attempt */
	int64_t window_ns;  /* all attempts of one request */
	int64_t last_rev;   /* highest revision seen */
	/* revisions went backwards (a restore from an older snapshot) this
	 * many times; an answer to a request sent before the last time is
	 * not compared with what was seen before it */
	uint64_t epoch;
	bool confirming; /* a linearizable read checks a suspicion */
	bool closing;
	struct etcd_req *reqs;
	struct etcd_watch *watches;
	char *url; /* for messages */
	/* auth: a token from /v3/auth/authenticate, sent as is (no
	 * "Bearer"); fetched again when etcd says it is invalid */
	char *user;
	char *password;
	char *auth_hdr; /* "Authorization: TOKEN" */
	const char *hdrs[4];
	struct http_call *auth_call;
	struct http_tls tls;
	char *tls_files[3];
};

enum req_kind { K_TXN, K_GRANT, K_KEEPALIVE, K_REVOKE, K_COMPACT, K_CHECK };

struct etcd_req {
	struct etcd_req *next, **pprev;
	struct etcd *et;
	enum req_kind kind;
	const char *path;
	char *body;
	size_t len;
	bool write;
	union {
		store_txn_cb txn;
		store_done_cb done;
		store_lease_cb lease;
		store_check_cb check;
	} cb;
	void *arg;
	struct http_call *call;
	struct loop_timer *retry_t;
	int64_t deadline;
	size_t ep;
	unsigned tries;
	int64_t floor; /* last_rev when sent: a linearizable answer is >= */
	uint64_t epoch;
};

struct etcd_watch {
	struct store_watch base;
	struct etcd_watch *next, **pprev;
	struct etcd *et;
	char *body_key; /* base64 key and range_end, ready for the request */
	char *body_end;
	int64_t next_rev; /* 0: not known yet */
	int64_t floor;    /* last_rev when connected */
	uint64_t epoch;
	store_watch_cb cb;
	void *arg;
	struct http_call *call;
	struct loop_timer *retry_t;
	char *buf;
	size_t len, cap;
	bool ended;     /* err delivered; quiet until cancelled */
	bool restart;   /* to end: revisions went backwards */
	bool busy;      /* in its callback */
	bool cancelled; /* cancelled from its callback */
};

/* ---- a growable string ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_addn(struct sbuf *s, const char *d, size_t n)
{
	char *p;
	size_t cap;

	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		cap = s->cap ? s->cap : 256;
		while (cap < s->len + n + 1)
			cap *= 2;
		p = realloc(s->p, cap);
		if (!p) {
			s->oom = true;
			return;
		}
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, d, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void sb_add(struct sbuf *s, const char *str)
{
	sb_addn(s, str, strlen(str));
}

static void sb_i64(struct sbuf *s, const char *name, int64_t v)
{
	char b[64];

	snprintf(b, sizeof(b), "\"%s\":\"%" PRId64 "\"", name, v);
	sb_add(s, b);
}

static void sb_b64(struct sbuf *s, const void *d, size_t n)
{
	size_t out = 4 * ((n + 2) / 3);
	char *p;

	sb_add(s, "\"");
	if (s->oom)
		return;
	p = malloc(out + 1);
	if (!p) {
		s->oom = true;
		return;
	}
	EVP_EncodeBlock((unsigned char *)p, d, (int)n);
	sb_addn(s, p, out);
	free(p);
	sb_add(s, "\"");
}

/* The store's key under the prefix; an empty key is "\0", the smallest. */
static void sb_key(struct sbuf *s, const struct etcd *et, const char *key)
{
	size_t n = strlen(key);
	char *full;

	if (!et->plen && !n) {
		sb_b64(s, "", 1);
		return;
	}
	full = malloc(et->plen + n + 1);
	if (!full) {
		s->oom = true;
		return;
	}
	memcpy(full, et->prefix, et->plen);
	memcpy(full + et->plen, key, n + 1);
	sb_b64(s, full, et->plen + n);
	free(full);
}

/* end as store_range_end() gives it: "" means to the end of the prefix. */
static void sb_end(struct sbuf *s, const struct etcd *et, const char *end)
{
	char *pe;

	if (*end) {
		sb_key(s, et, end);
		return;
	}
	pe = malloc(et->plen + 1);
	if (!pe) {
		s->oom = true;
		return;
	}
	store_prefix_end(et->prefix, pe);
	if (*pe)
		sb_b64(s, pe, strlen(pe));
	else
		sb_b64(s, "", 1); /* "\0": every key */
	free(pe);
}

static void sb_range(struct sbuf *s, const struct etcd *et, const char *key,
		     uint32_t flags)
{
	char *buf = malloc(strlen(key) + 1);
	const char *end;

	if (!buf) {
		s->oom = true;
		return;
	}
	sb_add(s, "\"key\":");
	sb_key(s, et, key);
	end = store_range_end(key, flags, buf);
	if (end) {
		sb_add(s, ",\"range_end\":");
		sb_end(s, et, end);
	}
	free(buf);
}

/* ---- reading the gateway's JSON ---- */

static yajl_val jget(yajl_val v, const char *a, const char *b)
{
	const char *path[3] = { a, b, NULL };

	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

/* int64 fields come as strings; numbers read from their text, not a double */
static int64_t jnum(yajl_val v)
{
	const char *s = NULL;

	if (YAJL_IS_STRING(v))
		s = YAJL_GET_STRING(v);
	else if (YAJL_IS_NUMBER(v))
		s = YAJL_GET_NUMBER(v);
	return s ? strtoll(s, NULL, 10) : 0;
}

static bool jtrue(yajl_val v)
{
	return YAJL_IS_TRUE(v);
}

/* Decodes base64 to a new NUL-terminated buffer. */
static int b64_dec(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in), len;
	char *p;
	int r;

	p = malloc(n / 4 * 3 + 4);
	if (!p)
		return -ENOMEM;
	if (n % 4) {
		free(p);
		return -EBADMSG;
	}
	r = n ? EVP_DecodeBlock((unsigned char *)p, (const unsigned char *)in,
				(int)n) : 0;
	if (r < 0) {
		free(p);
		return -EBADMSG;
	}
	len = (size_t)r;
	if (n >= 1 && in[n - 1] == '=')
		len--;
	if (n >= 2 && in[n - 2] == '=')
		len--;
	p[len] = '\0';
	*out = p;
	*out_len = len;
	return 0;
}

/* Parsed kvs own their strings until kvs_free(). */
static int parse_kv(const struct etcd *et, yajl_val o, struct strata_kv *kv)
{
	yajl_val k = jget(o, "key", NULL), v = jget(o, "value", NULL);
	char *key, *val = NULL;
	size_t klen, vlen = 0;
	int err;

	memset(kv, 0, sizeof(*kv));
	if (!YAJL_IS_STRING(k))
		return -EBADMSG;
	err = b64_dec(YAJL_GET_STRING(k), &key, &klen);
	if (err)
		return err;
	if (klen < et->plen || memcmp(key, et->prefix, et->plen)) {
		free(key);
		return -EBADMSG;
	}
	memmove(key, key + et->plen, klen - et->plen + 1);
	if (YAJL_IS_STRING(v))
		err = b64_dec(YAJL_GET_STRING(v), &val, &vlen);
	else if (!(val = calloc(1, 1)))
		err = -ENOMEM;
	if (err) {
		free(key);
		return err;
	}
	kv->key = key;
	kv->value = val;
	kv->value_len = vlen;
	kv->create_rev = jnum(jget(o, "create_revision", NULL));
	kv->mod_rev = jnum(jget(o, "mod_revision", NULL));
	kv->version = jnum(jget(o, "version", NULL));
	kv->lease = jnum(jget(o, "lease", NULL));
	return 0;
}

static void kvs_free(struct strata_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((void *)kvs[i].key);
		free((void *)kvs[i].value);
	}
	free(kvs);
}

static int parse_kvs(const struct etcd *et, yajl_val arr,
		     struct strata_kv **out, size_t *n)
{
	struct strata_kv *kvs;
	size_t i, len = YAJL_IS_ARRAY(arr) ? arr->u.array.len : 0;
	int err;

	*out = NULL;
	*n = 0;
	if (!len)
		return 0;
	kvs = calloc(len, sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		err = parse_kv(et, arr->u.array.values[i], &kvs[i]);
		if (err) {
			kvs_free(kvs, i);
			return err;
		}
	}
	*out = kvs;
	*n = len;
	return 0;
}

/* A gateway error ({"error":"...","code":N}) as -errno. */
static int grpc_err(yajl_val doc, int status)
{
	yajl_val e = jget(doc, "error", NULL);
	const char *msg = YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : "";
	int64_t code = jnum(jget(doc, "code", NULL));

	switch (code) {
	case 3:
		return -EINVAL;
	case 5:
		return -ENOENT;
	case 7:
	case 16:
		return -EACCES;
	case 8:
		return -ENOSPC;
	case 11:
		return strstr(msg, "compacted") ? -ESTALE : -EINVAL;
	case 4:
		return -ETIMEDOUT;
	case 14:
		return strstr(msg, "timed out") ? -ETIMEDOUT : -EAGAIN;
	case 2:
		return strstr(msg, "deadline") ? -ETIMEDOUT : -EIO;
	default:
		break;
	}
	if (status == 404)
		return -ENOENT;
	return -EIO;
}

static void see_rev(struct etcd *et, yajl_val doc)
{
	int64_t r = jnum(jget(doc, "header", "revision"));

	if (r > et->last_rev)
		et->last_rev = r;
}

static void went_back(struct etcd *et, int64_t seen, int64_t rev,
		      yajl_val doc);
static void confirm_back(struct etcd *et);

/*
 * An answer's revision below one seen before it was asked: etcd restored
 * from an older snapshot, if the answer is linearizable (a range or txn
 * reads at or after every revision committed before it was sent). Other
 * answers (a watch's header, a keepalive, from a member that may lag) only
 * raise the suspicion, which a linearizable read then settles.
 */
static void check_rev(struct etcd *et, yajl_val doc, int64_t floor,
		      uint64_t epoch, bool linearizable)
{
	int64_t r = jnum(jget(doc, "header", "revision"));

	if (epoch != et->epoch || r <= 0 || r >= floor)
		return;
	if (linearizable)
		went_back(et, floor, r, doc);
	else
		confirm_back(et);
}

/* ---- unary requests ---- */

static const char *const etcd_headers[] = {
	"Content-Type: application/json",
	"Grpc-Metadata-hasleader: true",
	NULL,
};

static void set_token(struct etcd *et, const char *token)
{
	char *h;

	if (asprintf(&h, "Authorization: %s", token) < 0)
		return;
	free(et->auth_hdr);
	et->auth_hdr = h;
	et->hdrs[2] = h;
}

static void sb_json_str(struct sbuf *s, const char *str)
{
	char b[8];

	sb_add(s, "\"");
	for (; *str; str++) {
		unsigned char c = (unsigned char)*str;

		if (c == '"' || c == '\\') {
			b[0] = '\\';
			b[1] = (char)c;
			sb_addn(s, b, 2);
		} else if (c < 0x20) {
			snprintf(b, sizeof(b), "\\u%04x", c);
			sb_add(s, b);
		} else {
			sb_addn(s, (const char *)&c, 1);
		}
	}
	sb_add(s, "\"");
}

/* {"name":..,"password":..}; the caller frees (and wipes) it */
static char *auth_body(const struct etcd *et, size_t *len)
{
	struct sbuf s = { 0 };

	sb_add(&s, "{\"name\":");
	sb_json_str(&s, et->user);
	sb_add(&s, ",\"password\":");
	sb_json_str(&s, et->password);
	sb_add(&s, "}");
	if (s.oom) {
		free(s.p);
		return NULL;
	}
	*len = s.len;
	return s.p;
}

static void wipe_free(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

static void auth_done(void *arg, const struct strata_http_response *resp)
{
	struct etcd *et = arg;
	yajl_val doc, tok;

	et->auth_call = NULL;
	if (resp->error || resp->status != 200) {
		log_warn("store %s: authenticating as %s: %s", et->url,
			 et->user, resp->error_text ? resp->error_text :
			 "refused");
		return;
	}
	doc = yajl_tree_parse(resp->body, NULL, 0);
	tok = jget(doc, "token", NULL);
	if (YAJL_IS_STRING(tok) && tok->u.string)
		set_token(et, tok->u.string);
	yajl_tree_free(doc);
}

/* A token expired or was revoked: fetch another (one at a time); the
 * request that found out is retried meanwhile. */
static void reauth(struct etcd *et)
{
	struct strata_http_request hr = { .size = sizeof(hr), .method = "POST",
					  .headers = etcd_headers,
					  .timeout_ns = et->timeout_ns };
	char url[512];
	size_t len = 0;
	char *body;

	if (!et->user || et->auth_call || et->closing)
		return;
	body = auth_body(et, &len);
	if (!body)
		return;
	snprintf(url, sizeof(url), "%s/v3/auth/authenticate",
		 et->eps[et->cur]);
	hr.url = url;
	hr.body = body;
	hr.body_len = len;
	et->auth_call = http_start_tls(et->http, &hr, &et->tls, auth_done, et);
	wipe_free(body, len);
}

static void req_free(struct etcd_req *r)
{
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
	}
	if (r->retry_t)
		loop_timer_cancel(r->retry_t);
	free(r->body);
	free(r);
}

static void req_fail(struct etcd_req *r, int err)
{
	switch (r->kind) {
	case K_TXN:
		r->cb.txn(r->arg, err, NULL);
		break;
	case K_GRANT:
	case K_KEEPALIVE:
		r->cb.lease(r->arg, err, 0, 0);
		break;
	case K_REVOKE:
	case K_COMPACT:
		r->cb.done(r->arg, err, 0, 0);
		break;
	case K_CHECK:
		r->cb.check(r->arg, err, strerror(-err));
		break;
	}
}

static void on_resp(void *arg, const struct strata_http_response *resp);

static int req_send(struct etcd_req *r)
{
	struct etcd *et = r->et;
	struct strata_http_request hr = { .size = sizeof(hr), .method = "POST",
					  .headers = et->hdrs,
					  .body = r->body,
					  .body_len = r->len };
	char url[512];
	int64_t left = r->deadline - loop_now();

	if (left < 10 * MS)
		left = 10 * MS;
	hr.timeout_ns = left < et->timeout_ns ? left : et->timeout_ns;
	snprintf(url, sizeof(url), "%s%s", et->eps[r->ep], r->path);
	hr.url = url;
	r->tries++;
	r->floor = et->last_rev;
	r->epoch = et->epoch;
	r->call = http_start_tls(et->http, &hr, &et->tls, on_resp, r);
	return r->call ? 0 : (errno ? -errno : -EIO);
}

static void on_retry(void *arg)
{
	struct etcd_req *r = arg;
	int err;

	r->retry_t = NULL;
	err = req_send(r);
	if (err) {
		req_fail(r, err);
		req_free(r);
	}
}

/* The outcome is surely "not applied": another endpoint may do better. */
static bool retryable(const struct etcd_req *r,
		      const struct strata_http_response *resp, int err)
{
	if (resp->error)
		return resp->error != -ETIMEDOUT || !r->write;
	if (resp->status == 503 || resp->status == 0)
		return err == -EAGAIN || !r->write;
	/* an invalid token: nothing was done */
	return resp->status == 401 && r->et->user;
}

static void finish_txn(struct etcd_req *r, yajl_val doc);
static void finish_other(struct etcd_req *r, yajl_val doc);

static void on_resp(void *arg, const struct strata_http_response *resp)
{
	struct etcd_req *r = arg;
	struct etcd *et = r->et;
	yajl_val doc = NULL;
	int err = 0;

	r->call = NULL;
	if (resp->error) {
		err = resp->error == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
	} else {
		doc = yajl_tree_parse(resp->body, NULL, 0);
		if (!doc)
			err = -EBADMSG;
		else if (resp->status != 200)
			err = grpc_err(doc, resp->status);
	}
	if (err && retryable(r, resp, err) && loop_now() < r->deadline) {
		yajl_tree_free(doc);
		if (resp->status == 401) {
			reauth(et);
			r->retry_t = loop_timer_add(et->base.loop,
						    ETCD_RETRY_NS, 0,
						    on_retry, r);
			if (!r->retry_t) {
				req_fail(r, -ENOMEM);
				req_free(r);
			}
			return;
		}
		r->ep = (r->ep + 1) % et->n_eps;
		et->cur = r->ep;
		/* a pause after each round of every endpoint */
		r->retry_t = loop_timer_add(et->base.loop,
					    r->tries % et->n_eps ? 1 :
							ETCD_RETRY_NS,
					    0, on_retry, r);
		if (!r->retry_t) {
			req_fail(r, -ENOMEM);
			req_free(r);
		}
		return;
	}
	if (err == -EAGAIN)
		err = -EIO;
	if (err) {
		if (err != -ENOENT && err != -ESTALE && err != -EINVAL)
			log_debug("store %s: %s: %s", et->url, r->path,
				  resp->error_text ? resp->error_text :
						     (resp->body ? resp->body :
								   ""));
		req_fail(r, err);
	} else {
		check_rev(et, doc, r->floor, r->epoch, r->kind == K_TXN);
		see_rev(et, doc);
		if (r->kind == K_TXN)
			finish_txn(r, doc);
		else
			finish_other(r, doc);
	}
	yajl_tree_free(doc);
	req_free(r);
}

static int req_submit(struct etcd *et, enum req_kind kind, const char *path,
		      struct sbuf *body, bool write, void *cb, void *arg)
{
	struct etcd_req *r;
	int err;

	if (body->oom) {
		free(body->p);
		return -ENOMEM;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(body->p);
		return -ENOMEM;
	}
	r->et = et;
	r->kind = kind;
	r->path = path;
	r->body = body->p;
	r->len = body->len;
	r->write = write;
	r->arg = arg;
	switch (kind) {
	case K_TXN:
		r->cb.txn = (store_txn_cb)cb;
		break;
	case K_GRANT:
	case K_KEEPALIVE:
		r->cb.lease = (store_lease_cb)cb;
		break;
	case K_REVOKE:
	case K_COMPACT:
		r->cb.done = (store_done_cb)cb;
		break;
	case K_CHECK:
		r->cb.check = (store_check_cb)cb;
		break;
	}
	r->ep = et->cur;
	r->deadline = loop_now() + et->window_ns;
	err = req_send(r);
	if (err) {
		free(r->body);
		free(r);
		return err;
	}
	r->next = et->reqs;
	if (r->next)
		r->next->pprev = &r->next;
	et->reqs = r;
	r->pprev = &et->reqs;
	return 0;
}

/* ---- transactions ---- */

static const char *const cmp_target[] = { "VALUE", "VERSION", "CREATE",
					  "MOD", "LEASE" };
static const char *const cmp_result[] = { "EQUAL", "NOT_EQUAL", "LESS",
					  "GREATER" };
static const char *const cmp_field[] = { "value", "version",
					 "create_revision", "mod_revision",
					 "lease" };

static void sb_ops(struct sbuf *s, const struct etcd *et,
		   const struct strata_store_op *ops, size_t n)
{
	size_t i;

	sb_add(s, "[");
	for (i = 0; i < n; i++) {
		const struct strata_store_op *op = &ops[i];

		if (i)
			sb_add(s, ",");
		switch (op->type) {
		case STRATA_OP_RANGE:
			sb_add(s, "{\"request_range\":{");
			sb_range(s, et, op->key, op->flags);
			if (op->limit) {
				sb_add(s, ",");
				sb_i64(s, "limit", op->limit);
			}
			if (op->flags & STRATA_STORE_KEYS_ONLY)
				sb_add(s, ",\"keys_only\":true");
			if (op->flags & STRATA_STORE_COUNT_ONLY)
				sb_add(s, ",\"count_only\":true");
			break;
		case STRATA_OP_PUT:
			sb_add(s, "{\"request_put\":{\"key\":");
			sb_key(s, et, op->key);
			sb_add(s, ",\"value\":");
			sb_b64(s, op->value, op->value_len);
			if (op->lease) {
				sb_add(s, ",");
				sb_i64(s, "lease", op->lease);
			}
			break;
		default:
			sb_add(s, "{\"request_delete_range\":{");
			sb_range(s, et, op->key, op->flags);
			break;
		}
		sb_add(s, "}}");
	}
	sb_add(s, "]");
}

static bool ops_write(const struct strata_store_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ops[i].type != STRATA_OP_RANGE)
			return true;
	return false;
}

static int et_txn(struct store *st, const struct strata_store_txn *t,
		  store_txn_cb cb, void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };
	size_t i;

	if (et->closing)
		return -ECANCELED;
	sb_add(&s, "{\"compare\":[");
	for (i = 0; i < t->n_cmp; i++) {
		const struct strata_store_cmp *c = &t->cmp[i];

		if (i)
			sb_add(&s, ",");
		sb_add(&s, "{");
		sb_range(&s, et, c->key, c->flags);
		sb_add(&s, ",\"target\":\"");
		sb_add(&s, cmp_target[c->target]);
		sb_add(&s, "\",\"result\":\"");
		sb_add(&s, cmp_result[c->result]);
		sb_add(&s, "\",");
		if (c->target == STRATA_CMP_VALUE) {
			sb_add(&s, "\"value\":");
			sb_b64(&s, c->value ? c->value : "", c->value_len);
		} else {
			sb_i64(&s, cmp_field[c->target], c->num);
		}
		sb_add(&s, "}");
	}
	sb_add(&s, "],\"success\":");
	sb_ops(&s, et, t->success, t->n_success);
	sb_add(&s, ",\"failure\":");
	sb_ops(&s, et, t->failure, t->n_failure);
	sb_add(&s, "}");
	return req_submit(et, K_TXN, "/v3/kv/txn", &s,
			  ops_write(t->success, t->n_success) ||
				  ops_write(t->failure, t->n_failure),
			  (void *)cb, arg);
}

static void finish_txn(struct etcd_req *r, yajl_val doc)
{
	yajl_val resps = jget(doc, "responses", NULL);
	size_t n = YAJL_IS_ARRAY(resps) ? resps->u.array.len : 0, i;
	struct strata_store_op_result *res = NULL;
	struct strata_store_txn_result tr = { 0 };
	int err = 0;

	if (n && !(res = calloc(n, sizeof(*res)))) {
		r->cb.txn(r->arg, -ENOMEM, NULL);
		return;
	}
	for (i = 0; i < n && !err; i++) {
		yajl_val o = resps->u.array.values[i], v;
		struct strata_kv *kvs;
		size_t nk;

		if ((v = jget(o, "response_range", NULL))) {
			res[i].type = STRATA_OP_RANGE;
			res[i].count = jnum(jget(v, "count", NULL));
			res[i].more = jtrue(jget(v, "more", NULL));
			err = parse_kvs(r->et, jget(v, "kvs", NULL), &kvs, &nk);
			if (!err) {
				res[i].kvs = kvs;
				res[i].n_kvs = nk;
			}
		} else if ((v = jget(o, "response_put", NULL))) {
			res[i].type = STRATA_OP_PUT;
		} else if ((v = jget(o, "response_delete_range", NULL))) {
			res[i].type = STRATA_OP_DELETE;
			res[i].count = jnum(jget(v, "deleted", NULL));
		} else {
			err = -EBADMSG;
		}
	}
	if (err) {
		r->cb.txn(r->arg, err, NULL);
	} else {
		tr.revision = jnum(jget(doc, "header", "revision"));
		tr.succeeded = jtrue(jget(doc, "succeeded", NULL));
		tr.results = res;
		tr.n_results = n;
		r->cb.txn(r->arg, 0, &tr);
	}
	for (i = 0; i < n; i++)
		kvs_free((struct strata_kv *)res[i].kvs, res[i].n_kvs);
	free(res);
}

/* ---- leases, compaction, check ---- */

static void finish_other(struct etcd_req *r, yajl_val doc)
{
	yajl_val res, alarms;
	int64_t ttl;
	char rep[256];
	size_t i, n;

	switch (r->kind) {
	case K_GRANT:
		r->cb.lease(r->arg, 0, jnum(jget(doc, "ID", NULL)),
			    jnum(jget(doc, "TTL", NULL)) * 1000);
		break;
	case K_KEEPALIVE:
		/* streamed: {"result":{...}}; no TTL means the lease is gone */
		res = jget(doc, "result", NULL);
		if (!res)
			res = doc;
		ttl = jnum(jget(res, "TTL", NULL));
		if (ttl <= 0)
			r->cb.lease(r->arg, -ENOENT, 0, 0);
		else
			r->cb.lease(r->arg, 0, jnum(jget(res, "ID", NULL)),
				    ttl * 1000);
		break;
	case K_REVOKE:
	case K_COMPACT:
		r->cb.done(r->arg, 0, jnum(jget(doc, "header", "revision")), 0);
		break;
	case K_CHECK:
		alarms = jget(doc, "alarms", NULL);
		n = YAJL_IS_ARRAY(alarms) ? alarms->u.array.len : 0;
		if (!n) {
			r->cb.check(r->arg, 0, "ok");
			break;
		}
		snprintf(rep, sizeof(rep), "etcd alarm:");
		for (i = 0; i < n; i++) {
			yajl_val a = jget(alarms->u.array.values[i], "alarm",
					  NULL);
			const char *name = YAJL_IS_STRING(a) ?
						   YAJL_GET_STRING(a) :
						   "?";
			size_t l = strlen(rep);

			snprintf(rep + l, sizeof(rep) - l, " %s on member %s",
				 name,
				 YAJL_IS_STRING(jget(alarms->u.array.values[i],
						     "memberID", NULL)) ?
					 YAJL_GET_STRING(jget(
						 alarms->u.array.values[i],
						 "memberID", NULL)) :
					 "?");
		}
		r->cb.check(r->arg,
			    strstr(rep, "CORRUPT") ? -EBADMSG : -ENOSPC, rep);
		break;
	case K_TXN:
		break;
	}
}

static int et_lease_grant(struct store *st, int64_t ttl_ms, int64_t id,
			  store_lease_cb cb, void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };

	if (et->closing)
		return -ECANCELED;
	/* etcd keeps whole seconds: round up */
	sb_add(&s, "{");
	sb_i64(&s, "TTL", (ttl_ms + 999) / 1000);
	if (id) {
		sb_add(&s, ",");
		sb_i64(&s, "ID", id);
	}
	sb_add(&s, "}");
	return req_submit(et, K_GRANT, "/v3/lease/grant", &s, true,
			  (void *)cb, arg);
}

static int et_lease_keepalive(struct store *st, int64_t id, store_lease_cb cb,
			      void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };

	if (et->closing)
		return -ECANCELED;
	sb_add(&s, "{");
	sb_i64(&s, "ID", id);
	sb_add(&s, "}");
	return req_submit(et, K_KEEPALIVE, "/v3/lease/keepalive", &s, false,
			  (void *)cb, arg);
}

static int et_lease_revoke(struct store *st, int64_t id, store_done_cb cb,
			   void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };

	if (et->closing)
		return -ECANCELED;
	sb_add(&s, "{");
	sb_i64(&s, "ID", id);
	sb_add(&s, "}");
	return req_submit(et, K_REVOKE, "/v3/lease/revoke", &s, true,
			  (void *)cb, arg);
}

static int et_compact(struct store *st, int64_t rev, store_done_cb cb,
		      void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };

	if (et->closing)
		return -ECANCELED;
	/* physical: answer once the history is gone, so watches see it */
	sb_add(&s, "{");
	sb_i64(&s, "revision", rev);
	sb_add(&s, ",\"physical\":true}");
	return req_submit(et, K_COMPACT, "/v3/kv/compaction", &s, false,
			  (void *)cb, arg);
}

static int et_check(struct store *st, store_check_cb cb, void *arg)
{
	struct etcd *et = (struct etcd *)st;
	struct sbuf s = { 0 };

	if (et->closing)
		return -ECANCELED;
	sb_add(&s, "{\"action\":\"GET\"}");
	return req_submit(et, K_CHECK, "/v3/maintenance/alarm", &s, false,
			  (void *)cb, arg);
}

/* ---- watches ---- */

static void watch_free(struct etcd_watch *w)
{
	if (w->pprev) {
		*w->pprev = w->next;
		if (w->next)
			w->next->pprev = w->pprev;
	}
	if (w->call)
		http_cancel(w->call);
	if (w->retry_t)
		loop_timer_cancel(w->retry_t);
	free(w->buf);
	free(w->body_key);
	free(w->body_end);
	free(w);
}

/* Runs the watch's callback; false when the watch is gone after it. */
static bool watch_deliver(struct etcd_watch *w, int err, int64_t rev,
			  const struct strata_store_event *ev, size_t n)
{
	w->busy = true;
	w->cb(w->arg, err, rev, ev, n);
	w->busy = false;
	if (w->cancelled) {
		watch_free(w);
		return false;
	}
	return true;
}

static void watch_end(struct etcd_watch *w, int err, int64_t rev)
{
	w->ended = true;
	if (w->call) {
		http_cancel(w->call);
		w->call = NULL;
	}
	watch_deliver(w, err, rev, NULL, 0);
}

static int parse_events(struct etcd_watch *w, yajl_val evs,
			struct strata_store_event **out, size_t *n)
{
	size_t len = YAJL_IS_ARRAY(evs) ? evs->u.array.len : 0, i;
	struct strata_store_event *ev;
	int err;

	*out = NULL;
	*n = 0;
	if (!len)
		return 0;
	ev = calloc(len, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		yajl_val e = evs->u.array.values[i], t;

		err = parse_kv(w->et, jget(e, "kv", NULL), &ev[i].kv);
		if (err) {
			while (i--) {
				free((void *)ev[i].kv.key);
				free((void *)ev[i].kv.value);
			}
			free(ev);
			return err;
		}
		/* a PUT has no type: it is the zero value */
		t = jget(e, "type", NULL);
		ev[i].type = STRATA_EVENT_PUT;
		if (YAJL_IS_STRING(t) && t->u.string &&
		    !strcmp(t->u.string, "DELETE"))
			ev[i].type = STRATA_EVENT_DELETE;
	}
	*out = ev;
	*n = len;
	return 0;
}

/* One streamed message; false when the watch is gone or ended. */
static bool watch_line(struct etcd_watch *w, const char *line)
{
	yajl_val doc = yajl_tree_parse(line, NULL, 0), res;
	struct strata_store_event *ev = NULL;
	size_t n = 0, i;
	bool alive = true;
	int64_t crev;

	if (!doc)
		return true; /* not a message: the stream ends, we resume */
	res = jget(doc, "result", NULL);
	if (!res) {
		/* {"error":{...}}: the stream ends next; resume then */
		yajl_tree_free(doc);
		return true;
	}
	check_rev(w->et, res, w->floor, w->epoch, false);
	see_rev(w->et, res);
	if (jtrue(jget(res, "canceled", NULL))) {
		crev = jnum(jget(res, "compact_revision", NULL));
		yajl_tree_free(doc);
		watch_end(w, crev ? -ESTALE : -EIO, crev);
		return false;
	}
	if (jtrue(jget(res, "created", NULL)) && !w->next_rev)
		w->next_rev = jnum(jget(res, "header", "revision")) + 1;
	if (parse_events(w, jget(res, "events", NULL), &ev, &n)) {
		yajl_tree_free(doc);
		watch_end(w, -EIO, 0);
		return false;
	}
	yajl_tree_free(doc);
	if (n) {
		int64_t last = ev[n - 1].kv.mod_rev;

		w->next_rev = last + 1;
		alive = watch_deliver(w, 0, last, ev, n);
		for (i = 0; i < n; i++) {
			free((void *)ev[i].kv.key);
			free((void *)ev[i].kv.value);
		}
		free(ev);
	}
	return alive && !w->ended;
}

/* false when the watch is gone or ended */
static bool watch_drain(struct etcd_watch *w)
{
	char *nl;
	size_t used = 0;

	while (w->buf && (nl = memchr(w->buf + used, '\n', w->len - used))) {
		*nl = '\0';
		if (!watch_line(w, w->buf + used))
			return false;
		used = (size_t)(nl - w->buf) + 1;
	}
	if (used) {
		memmove(w->buf, w->buf + used, w->len - used);
		w->len -= used;
	}
	return true;
}

static bool watch_feed(struct etcd_watch *w, const void *data, size_t len)
{
	char *p;
	size_t cap;

	if (w->ended)
		return false;
	if (w->len + len + 1 > w->cap) {
		cap = w->cap ? w->cap : 4096;
		while (cap < w->len + len + 1)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			watch_end(w, -ENOMEM, 0);
			return false;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return watch_drain(w);
}

static void watch_data(void *arg, const void *data, size_t len)
{
	watch_feed(arg, data, len);
}

static int watch_connect(struct etcd_watch *w);

static void watch_retry(void *arg)
{
	struct etcd_watch *w = arg;

	w->retry_t = NULL;
	if (watch_connect(w))
		w->retry_t = loop_timer_add(w->et->base.loop,
					    ETCD_WATCH_RETRY_NS, 0,
					    watch_retry, w);
}

static void watch_done(void *arg, const struct strata_http_response *resp)
{
	struct etcd_watch *w = arg;
	struct etcd *et = w->et;

	w->call = NULL;
	if (w->ended)
		return;
	/* a last message without its newline */
	if (resp->status == 200 && w->len && !watch_feed(w, "\n", 1))
		return;
	w->len = 0;
	/* the stream ended: resume from the next revision, elsewhere */
	if (resp->status == 401)
		reauth(et);
	else if (resp->error || resp->status != 200)
		et->cur = (et->cur + 1) % et->n_eps;
	w->retry_t = loop_timer_add(et->base.loop, ETCD_WATCH_RETRY_NS, 0,
				    watch_retry, w);
	if (!w->retry_t)
		watch_end(w, -ENOMEM, 0);
}

static int watch_connect(struct etcd_watch *w)
{
	struct etcd *et = w->et;
	struct sbuf s = { 0 };
	char url[512];
	struct strata_http_request hr = { .size = sizeof(hr), .method = "POST",
					  .headers = et->hdrs,
					  /* ~24 days: then it resumes */
					  .timeout_ns = (int64_t)INT32_MAX * MS,
					  .on_data = watch_data };

	sb_add(&s, "{\"create_request\":{\"key\":");
	sb_add(&s, w->body_key);
	if (w->body_end) {
		sb_add(&s, ",\"range_end\":");
		sb_add(&s, w->body_end);
	}
	if (w->next_rev) {
		sb_add(&s, ",");
		sb_i64(&s, "start_revision", w->next_rev);
	}
	sb_add(&s, "}}");
	if (s.oom) {
		free(s.p);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", et->eps[et->cur]);
	hr.url = url;
	hr.body = s.p;
	hr.body_len = s.len;
	w->len = 0;
	w->floor = et->last_rev;
	w->epoch = et->epoch;
	w->call = http_start_tls(et->http, &hr, &et->tls, watch_done, w);
	free(s.p);
	return w->call ? 0 : -EIO;
}

static int et_watch(struct store *st, const char *key, const char *end,
		    int64_t start_rev, store_watch_cb cb, void *arg,
		    struct store_watch **out)
{
	struct etcd *et = (struct etcd *)st;
	struct etcd_watch *w;
	struct sbuf k = { 0 }, e = { 0 };
	int err;

	if (et->closing)
		return -ECANCELED;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->base.st = st;
	w->et = et;
	w->cb = cb;
	w->arg = arg;
	/* 0: after what this handle has seen, so no write it made or read
	 * before the call is missed nor replayed */
	w->next_rev = start_rev ? start_rev : et->last_rev + 1;
	sb_key(&k, et, key);
	if (end)
		sb_end(&e, et, end);
	w->body_key = k.p;
	w->body_end = e.p;
	if (k.oom || e.oom) {
		err = -ENOMEM;
		goto free_w;
	}
	err = watch_connect(w);
	if (err)
		goto free_w;
	w->next = et->watches;
	if (w->next)
		w->next->pprev = &w->next;
	et->watches = w;
	w->pprev = &et->watches;
	*out = &w->base;
	return 0;
free_w:
	watch_free(w);
	return err;
}

static void et_watch_cancel(struct store_watch *base)
{
	struct etcd_watch *w = (struct etcd_watch *)base;

	if (w->busy) {
		w->cancelled = true;
		if (w->call) {
			http_cancel(w->call);
			w->call = NULL;
		}
		return;
	}
	watch_free(w);
}

/* ---- revisions going backwards ---- */

/*
 * etcd restored from an older snapshot: what was seen of the lost
 * revisions is gone from the store and the numbers will be used again.
 * Every watch ends as after a compaction, so each user re-lists and looks
 * at what the store holds now; the revision seen starts again from here.
 */
static void went_back(struct etcd *et, int64_t seen, int64_t rev,
		      yajl_val doc)
{
	yajl_val m = jget(doc, "header", "member_id");
	struct etcd_watch *w;
	size_t n = 0;

	et->epoch++;
	et->last_rev = rev;
	for (w = et->watches; w; w = w->next) {
		w->restart = !w->ended;
		n += w->restart;
	}
	log_err("store %s: the revision went backwards, from %" PRId64
		" to %" PRId64 " (member %s, raft term %" PRId64 "): etcd was "
		"restored from an older snapshot; %zu watches re-list",
		et->url, seen, rev, YAJL_IS_STRING(m) ? YAJL_GET_STRING(m) : "?",
		jnum(jget(doc, "header", "raft_term")), n);
	/* a callback may cancel or open watches: look again each time */
	for (;;) {
		for (w = et->watches; w && !w->restart; w = w->next)
			;
		if (!w)
			break;
		w->restart = false;
		if (w->retry_t) {
			loop_timer_cancel(w->retry_t);
			w->retry_t = NULL;
		}
		watch_end(w, -ESTALE, rev);
	}
}

static void confirm_done(void *arg, int err,
			 const struct strata_store_txn_result *res)
{
	struct etcd *et = arg;

	/* on_resp compared the revision already */
	et->confirming = false;
	(void)err;
	(void)res;
}

/* A linearizable read, to settle whether revisions went backwards. */
static void confirm_back(struct etcd *et)
{
	struct strata_store_op op = { .type = STRATA_OP_RANGE, .key = "",
				      .flags = STRATA_STORE_COUNT_ONLY };
	struct strata_store_txn t = { .success = &op, .n_success = 1 };

	if (et->confirming || et->closing)
		return;
	if (et_txn(&et->base, &t, confirm_done, et) == 0)
		et->confirming = true;
}

/* ---- open and close ---- */

static void et_close(struct store *st)
{
	struct etcd *et = (struct etcd *)st;
	size_t i;

	et->closing = true;
	/* Requests in flight end now, their outcome unknown to us. */
	while (et->reqs) {
		struct etcd_req *r = et->reqs;

		if (r->call)
			http_cancel(r->call);
		r->call = NULL;
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
		req_fail(r, -ECANCELED);
		req_free(r);
	}
	while (et->watches)
		watch_free(et->watches);
	if (et->auth_call)
		http_cancel(et->auth_call);
	http_free(et->http);
	free(et->user);
	if (et->password)
		wipe_free(et->password, strlen(et->password));
	free(et->auth_hdr);
	for (i = 0; i < 3; i++)
		free(et->tls_files[i]);
	for (i = 0; i < et->n_eps; i++)
		free(et->eps[i]);
	free(et->eps);
	free(et->prefix);
	free(et->url);
	free(et);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	struct sbuf *s = ud;

	sb_addn(s, p, size * n);
	return size * n;
}

static void easy_tls(const struct etcd *et, CURL *c)
{
	if (et->tls.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, et->tls.ca_file);
	if (et->tls.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, et->tls.cert_file);
	if (et->tls.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, et->tls.key_file);
}

static int probe_auth(struct etcd *et, CURL *c, struct curl_slist *h,
		      const char *ep, const char *abody, struct sbuf *body)
{
	char url[512];
	long code = 0;
	CURLcode rc;
	yajl_val doc, tok;
	int err = -EACCES;

	snprintf(url, sizeof(url), "%s/v3/auth/authenticate", ep);
	body->len = 0;
	if (body->p)
		body->p[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, abody);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(et->timeout_ns / MS));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code >= 500)
		return -EHOSTUNREACH;
	doc = body->p ? yajl_tree_parse(body->p, NULL, 0) : NULL;
	tok = jget(doc, "token", NULL);
	if (code == 200 && YAJL_IS_STRING(tok) && tok->u.string) {
		set_token(et, tok->u.string);
		err = et->auth_hdr ? 0 : -ENOMEM;
	}
	yajl_tree_free(doc);
	return err;
}

/*
 * Reads the cluster's revision once, blocking, from the first endpoint
 * that answers: it proves the URL right and gives watches from "now" a
 * revision to start at.
 */
static int probe(struct etcd *et, char *errbuf, size_t errlen)
{
	struct curl_slist *h = NULL;
	struct sbuf body = { 0 };
	size_t i, alen = 0;
	int err = -EHOSTUNREACH;
	const char *req = "{\"key\":\"AA==\",\"count_only\":true}";
	char *abody = NULL;

	if (et->user && !(abody = auth_body(et, &alen)))
		return -ENOMEM;
	for (i = 0; etcd_headers[i]; i++)
		h = curl_slist_append(h, etcd_headers[i]);
	for (i = 0; i < et->n_eps; i++) {
		size_t j = (et->cur + i) % et->n_eps;
		CURL *c = curl_easy_init();
		char url[512];
		long code = 0;
		CURLcode rc;
		yajl_val doc;

		if (!c)
			break;
		easy_tls(et, c);
		if (abody && !et->auth_hdr) {
			err = probe_auth(et, c, h, et->eps[j], abody, &body);
			if (err) {
				snprintf(errbuf, errlen,
					 "store %s: %s: authenticating as %s: "
					 "%s", et->url, et->eps[j], et->user,
					 body.p ? body.p : "no answer");
				curl_easy_cleanup(c);
				if (err == -EACCES)
					break;
				err = -EHOSTUNREACH;
				continue;
			}
			h = curl_slist_append(h, et->auth_hdr);
		}
		snprintf(url, sizeof(url), "%s/v3/kv/range", et->eps[j]);
		body.len = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
				 (long)(et->timeout_ns / MS));
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(c);
		if (rc != CURLE_OK || code != 200 || !body.p) {
			snprintf(errbuf, errlen, "store %s: %s: %s", et->url,
				 et->eps[j],
				 rc != CURLE_OK ? curl_easy_strerror(rc) :
				 body.p ? body.p : "no answer");
			continue;
		}
		doc = yajl_tree_parse(body.p, NULL, 0);
		see_rev(et, doc);
		yajl_tree_free(doc);
		if (et->last_rev > 0) {
			et->cur = j;
			err = 0;
			errbuf[0] = '\0';
			break;
		}
	}
	curl_slist_free_all(h);
	free(body.p);
	if (abody)
		wipe_free(abody, alen);
	return err;
}

static const struct store_backend_ops et_ops;

const char *store_etcd_endpoint(const struct store *st)
{
	const struct etcd *et = (const struct etcd *)st;

	return et->eps[et->cur];
}

int store_etcd_open(struct loop *loop, const struct store_options *opt,
		    const char *urls, struct store **out, char *errbuf,
		    size_t errlen)
{
	struct etcd *et;
	const char *p, *q;
	int err;
	char tmp[8];

	if (!errbuf || !errlen) {
		errbuf = tmp;
		errlen = sizeof(tmp);
	}
	et = calloc(1, sizeof(*et));
	if (!et)
		return -ENOMEM;
	et->base.ops = &et_ops;
	et->base.loop = loop;
	et->timeout_ns = (opt->timeout_ms > 0 ? opt->timeout_ms :
						ETCD_TIMEOUT_MS) * MS;
	et->window_ns = 4 * et->timeout_ns;
	et->prefix = strdup(opt->prefix ? opt->prefix : "");
	et->url = strdup(opt->url);
	{
		const char *f[3] = { opt->ca_file, opt->cert_file,
				     opt->key_file };
		size_t k;

		for (k = 0; k < 3; k++)
			if (f[k] && *f[k] && !(et->tls_files[k] = strdup(f[k]))) {
				err = -ENOMEM;
				goto close_et;
			}
		et->tls.ca_file = et->tls_files[0];
		et->tls.cert_file = et->tls_files[1];
		et->tls.key_file = et->tls_files[2];
	}
	et->hdrs[0] = etcd_headers[0];
	et->hdrs[1] = etcd_headers[1];
	if (opt->username && *opt->username) {
		et->user = strdup(opt->username);
		et->password = strdup(opt->password ? opt->password : "");
		if (!et->user || !et->password) {
			err = -ENOMEM;
			goto close_et;
		}
	}
	err = http_new(loop, &et->http);
	if (err || !et->prefix || !et->url) {
		snprintf(errbuf, errlen, "store %s: %s", opt->url,
			 strerror(err ? -err : ENOMEM));
		err = err ? err : -ENOMEM;
		goto close_et;
	}
	et->plen = strlen(et->prefix);
	for (p = urls; *p; p = *q ? q + 1 : q) {
		char **eps, *ep;
		size_t n;

		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		n = (size_t)(q - p);
		while (n && p[n - 1] == '/')
			n--;
		if (!n)
			continue;
		ep = strndup(p, n);
		eps = realloc(et->eps, (et->n_eps + 1) * sizeof(*eps));
		if (!ep || !eps) {
			free(ep);
			if (eps)
				et->eps = eps;
			err = -ENOMEM;
			goto close_et;
		}
		et->eps = eps;
		et->eps[et->n_eps++] = ep;
		if ((strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) ||
		    strlen(ep) > 400) {
			snprintf(errbuf, errlen,
				 "store %s: endpoint \"%s\" is not an http:// "
				 "or https:// URL", opt->url, ep);
			err = -EINVAL;
			goto close_et;
		}
	}
	if (!et->n_eps) {
		snprintf(errbuf, errlen, "store %s: no endpoint given",
			 opt->url);
		err = -EINVAL;
		goto close_et;
	}
	err = probe(et, errbuf, errlen);
	if (err)
		goto close_et;
	*out = &et->base;
	return 0;
close_et:
	et_close(&et->base);
	return err;
}

static const struct store_backend_ops et_ops = {
	.name = "etcd",
	.close = et_close,
	.txn = et_txn,
	.lease_grant = et_lease_grant,
	.lease_keepalive = et_lease_keepalive,
	.lease_revoke = et_lease_revoke,
	.watch = et_watch,
	.watch_cancel = et_watch_cancel,
	.compact = et_compact,
	.check = et_check,
};
