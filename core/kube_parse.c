/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for what the API server and the operator hand the client. They
 * take untrusted bytes, so every size is bounded and every shape checked.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kube_parse.h"

#define KUBECONFIG_MAX (1u << 20)

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- lines ---------------------------------------------------------------- */

void kube_lines_init(struct kube_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max ? max : KUBE_LINE_MAX;
}

void kube_lines_free(struct kube_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

void kube_lines_reset(struct kube_lines *l)
{
	l->len = 0;
}

static int lines_append(struct kube_lines *l, const char *p, size_t n)
{
	char *nb;
	size_t cap;

	if (n > l->max - l->len) {
		l->len = 0;
		return -EMSGSIZE;
	}
	if (l->len + n + 1 > l->cap) {
		cap = l->cap ? l->cap : 4096;
		while (cap < l->len + n + 1)
			cap *= 2;
		nb = realloc(l->buf, cap);
		if (!nb)
			return -ENOMEM;
		l->buf = nb;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	l->buf[l->len] = '\0';
	return 0;
}

int kube_lines_feed(struct kube_lines *l, const void *data, size_t len,
		    int (*cb)(void *arg, char *line, size_t len), void *arg)
{
	const char *p = data, *end = p + len, *nl;
	int rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return lines_append(l, p, (size_t)(end - p));
		rc = 0;
		if (l->len || nl > p) {
			size_t n;

			/* copied, for the NUL yajl wants after it */
			rc = lines_append(l, p, (size_t)(nl - p));
			if (rc)
				return rc;
			n = l->len;
			l->len = 0;
			rc = cb(arg, l->buf, n);
		}
		if (rc)
			return rc;
		p = nl + 1;
	}
	return 0;
}

/* ---- objects and events --------------------------------------------------- */

static const char *str_at(yajl_val v, const char *a, const char *b)
{
	const char *path[3] = { a, b, NULL };

	v = yajl_tree_get(v, path, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

int kube_object_key(yajl_val obj, char *key, size_t keylen, char *rv,
		    size_t rvlen)
{
	const char *name, *ns, *r;
	int n;

	if (!YAJL_IS_OBJECT(obj))
		return -EINVAL;
	name = str_at(obj, "metadata", "name");
	ns = str_at(obj, "metadata", "namespace");
	r = str_at(obj, "metadata", "resourceVersion");
	if (!name || !*name)
		return -EINVAL;
	if (ns && *ns)
		n = snprintf(key, keylen, "%s/%s", ns, name);
	else
		n = snprintf(key, keylen, "%s", name);
	if (n < 0 || (size_t)n >= keylen)
		return -EINVAL;
	if (rv) {
		if (!r)
			r = "";
		if (strlen(r) >= rvlen)
			return -EINVAL;
		strcpy(rv, r);
	}
	return 0;
}

const char *kube_object_label(yajl_val obj, const char *name)
{
	const char *path[] = { "metadata", "labels", name, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_string);

	return v ? YAJL_GET_STRING(v) : NULL;
}

/* Takes the member out of its object so it outlives the tree. */
static yajl_val steal(yajl_val obj, const char *name)
{
	yajl_val v;

	for (size_t i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], name))
			continue;
		v = obj->u.object.values[i];
		obj->u.object.values[i] = NULL;
		return v;
	}
	return NULL;
}

static void status_of(yajl_val st, struct kube_watch_event *ev)
{
	const char *code[] = { "code", NULL };
	const char *reason = str_at(st, "reason", NULL);
	yajl_val c = yajl_tree_get(st, code, yajl_t_number);

	ev->code = c && YAJL_IS_INTEGER(c) && YAJL_GET_INTEGER(c) > 0 &&
				   YAJL_GET_INTEGER(c) < 1000 ?
			   (int)YAJL_GET_INTEGER(c) :
			   0;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason ? reason : "");
}

static const struct {
	const char *name;
	enum kube_watch_type type;
} watch_types[] = {
	{ "ADDED", KUBE_WATCH_ADDED },       { "MODIFIED", KUBE_WATCH_MODIFIED },
	{ "DELETED", KUBE_WATCH_DELETED },   { "BOOKMARK", KUBE_WATCH_BOOKMARK },
	{ "ERROR", KUBE_WATCH_ERROR },
};

int kube_watch_parse(const char *line, size_t len,
		     struct kube_watch_event *ev, char *err, size_t errlen)
{
	char perr[128];
	yajl_val root, obj;
	const char *type, *kind;
	size_t i;
	int rc = -EINVAL;

	memset(ev, 0, sizeof(*ev));
	if (len > KUBE_LINE_MAX || memchr(line, '\0', len)) {
		errf(err, errlen, "not a JSON line");
		return -EINVAL;
	}
	/* yajl_tree_parse wants a C string: the line is one already */
	if (line[len] != '\0') {
		errf(err, errlen, "not a JSON line");
		return -EINVAL;
	}
	root = yajl_tree_parse(line, perr, sizeof(perr));
	if (!root) {
		perr[strcspn(perr, "\n")] = '\0';
		errf(err, errlen, "not JSON: %s", perr);
		return -EINVAL;
	}
	if (!YAJL_IS_OBJECT(root)) {
		errf(err, errlen, "not a JSON object");
		goto free_root;
	}
	kind = str_at(root, "kind", NULL);
	type = str_at(root, "type", NULL);
	if (!type && kind && !strcmp(kind, "Status")) {
		ev->type = KUBE_WATCH_ERROR;
		status_of(root, ev);
		rc = 0;
		goto free_root;
	}
	if (!type) {
		errf(err, errlen, "no event type");
		goto free_root;
	}
	for (i = 0; i < sizeof(watch_types) / sizeof(watch_types[0]); i++)
		if (!strcmp(type, watch_types[i].name))
			break;
	if (i == sizeof(watch_types) / sizeof(watch_types[0])) {
		errf(err, errlen, "unknown event type \"%.32s\"", type);
		goto free_root;
	}
	ev->type = watch_types[i].type;
	obj = steal(root, "object");
	if (!YAJL_IS_OBJECT(obj)) {
		yajl_tree_free(obj);
		errf(err, errlen, "%s event without an object", type);
		goto free_root;
	}
	if (ev->type == KUBE_WATCH_ERROR) {
		status_of(obj, ev);
		ev->object = obj;
		rc = 0;
		goto free_root;
	}
	if (ev->type == KUBE_WATCH_BOOKMARK) {
		/* a bookmark's object carries only its resourceVersion */
		const char *rv = str_at(obj, "metadata", "resourceVersion");

		if (!rv || !*rv || strlen(rv) >= sizeof(ev->rv)) {
			yajl_tree_free(obj);
			errf(err, errlen, "BOOKMARK without a resourceVersion");
			goto free_root;
		}
		strcpy(ev->rv, rv);
		ev->object = obj;
		rc = 0;
		goto free_root;
	}
	if (kube_object_key(obj, ev->key, sizeof(ev->key), ev->rv,
			    sizeof(ev->rv)) || !ev->rv[0]) {
		const char *name = str_at(obj, "metadata", "name");

		errf(err, errlen,
		     "%s event for %.64s without a valid name and resourceVersion",
		     type, name ? name : "an object");
		yajl_tree_free(obj);
		goto free_root;
	}
	ev->object = obj;
	rc = 0;
free_root:
	yajl_tree_free(root);
	return rc;
}

/* ---- base64 --------------------------------------------------------------- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_base64_decode(const char *in, size_t len, char **out,
		       size_t *outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, pad = 0;
	char *buf;

	buf = malloc(len / 4 * 3 + 4);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == '\n' || c == '\r' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64val(c);
		if (v < 0 || pad) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- kubeconfig ----------------------------------------------------------- */

struct ydoc {
	yaml_document_t doc;
	char *err;
	size_t errlen;
};

static yaml_node_t *ynode(struct ydoc *y, int id)
{
	return yaml_document_get_node(&y->doc, id);
}

/* The value of key in a mapping node, or NULL. */
static yaml_node_t *yget(struct ydoc *y, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = ynode(y, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return ynode(y, p->value);
	}
	return NULL;
}

/* A scalar's text, or NULL (also for a scalar with a NUL inside). */
static const char *yscalar(yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE ||
	    strlen((const char *)n->data.scalar.value) !=
		    n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* The entry of a list of {name: NAME, field: {...}} whose name matches. */
static yaml_node_t *ynamed(struct ydoc *y, const char *list, const char *name,
			   const char *field)
{
	yaml_node_t *seq = yget(y, ynode(y, 1), list);
	yaml_node_item_t *it;

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = ynode(y, *it);
		const char *n = yscalar(yget(y, e, "name"));

		if (n && !strcmp(n, name))
			return yget(y, e, field);
	}
	return NULL;
}

static int set_path(char **dst, const char *v, const char *dir)
{
	if (v[0] != '/' && dir && *dir) {
		size_t n = strlen(dir) + strlen(v) + 2;

		*dst = malloc(n);
		if (*dst)
			snprintf(*dst, n, "%s/%s", dir, v);
	} else {
		*dst = strdup(v);
	}
	return *dst ? 0 : -ENOMEM;
}

/* field (a path) or field-data (base64 inline); not both. */
static int file_or_data(struct ydoc *y, yaml_node_t *m, const char *field,
			const char *dir, char **file, char **data,
			size_t *data_len)
{
	char dfield[64];
	const char *f = yscalar(yget(y, m, field)), *d;
	int rc;

	snprintf(dfield, sizeof(dfield), "%s-data", field);
	d = yscalar(yget(y, m, dfield));
	if (f && d && *f && *d) {
		errf(y->err, y->errlen, "both %s and %s are set", field,
		     dfield);
		return -EINVAL;
	}
	if (d && *d) {
		rc = kube_base64_decode(d, strlen(d), data, data_len);
		if (rc == -EINVAL)
			errf(y->err, y->errlen, "%s: not base64", dfield);
		return rc;
	}
	if (f && *f)
		return set_path(file, f, dir);
	return 0;
}

static int config_from(struct ydoc *y, const char *dir,
		       struct kube_config *c)
{
	yaml_node_t *root = ynode(y, 1), *ctx, *cl, *us;
	const char *cur, *cname, *uname, *v;
	int rc;

	if (!root || root->type != YAML_MAPPING_NODE) {
		errf(y->err, y->errlen, "not a kubeconfig (a mapping)");
		return -EINVAL;
	}
	cur = yscalar(yget(y, root, "current-context"));
	if (!cur || !*cur) {
		errf(y->err, y->errlen, "no current-context");
		return -EINVAL;
	}
	ctx = ynamed(y, "contexts", cur, "context");
	if (!ctx) {
		errf(y->err, y->errlen, "context \"%.64s\" not found", cur);
		return -EINVAL;
	}
	cname = yscalar(yget(y, ctx, "cluster"));
	uname = yscalar(yget(y, ctx, "user"));
	cl = cname ? ynamed(y, "clusters", cname, "cluster") : NULL;
	if (!cl) {
		errf(y->err, y->errlen, "context \"%.64s\": cluster %s%.64s%s not found",
		     cur, cname ? "\"" : "", cname ? cname : "(none)",
		     cname ? "\"" : "");
		return -EINVAL;
	}
	v = yscalar(yget(y, cl, "server"));
	if (!v || (strncmp(v, "https://", 8) && strncmp(v, "http://", 7))) {
		errf(y->err, y->errlen,
		     "cluster \"%.64s\": server must be an http(s):// URL",
		     cname);
		return -EINVAL;
	}
	c->server = strdup(v);
	if (!c->server)
		return -ENOMEM;
	/* no trailing slash: paths are appended */
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	v = yscalar(yget(y, cl, "insecure-skip-tls-verify"));
	c->insecure = v && !strcmp(v, "true");
	rc = file_or_data(y, cl, "certificate-authority", dir, &c->ca_file,
			  &c->ca_data, &c->ca_data_len);
	if (rc)
		return rc;
	us = uname ? ynamed(y, "users", uname, "user") : NULL;
	if (!us)
		return 0; /* an unauthenticated cluster */
	v = yscalar(yget(y, us, "token"));
	if (v && *v && !(c->token = strdup(v)))
		return -ENOMEM;
	v = yscalar(yget(y, us, "tokenFile"));
	if (v && *v && set_path(&c->token_file, v, dir))
		return -ENOMEM;
	rc = file_or_data(y, us, "client-certificate", dir, &c->cert_file,
			  &c->cert_data, &c->cert_data_len);
	if (!rc)
		rc = file_or_data(y, us, "client-key", dir, &c->key_file,
				  &c->key_data, &c->key_data_len);
	if (rc)
		return rc;
	if (!(c->cert_file || c->cert_data) != !(c->key_file || c->key_data)) {
		errf(y->err, y->errlen,
		     "user \"%.64s\": a client certificate needs its key and the key its certificate",
		     uname);
		return -EINVAL;
	}
	if (!c->token && !c->token_file && !c->cert_file && !c->cert_data &&
	    (yget(y, us, "exec") || yget(y, us, "auth-provider"))) {
		errf(y->err, y->errlen,
		     "user \"%.64s\": exec and auth-provider credentials are not supported; use a token or a client certificate",
		     uname);
		return -ENOTSUP;
	}
	return 0;
}

int kube_config_parse(const char *text, size_t len, const char *dir,
		      struct kube_config *out, char *err, size_t errlen)
{
	struct ydoc y = { .err = err, .errlen = errlen };
	yaml_parser_t p;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > KUBECONFIG_MAX) {
		errf(err, errlen, "larger than %u bytes", KUBECONFIG_MAX);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &y.doc)) {
		errf(err, errlen, "YAML: %s at line %zu",
		     p.problem ? p.problem : "error", p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		return -EINVAL;
	}
	rc = config_from(&y, dir, out);
	yaml_document_delete(&y.doc);
	yaml_parser_delete(&p);
	if (rc)
		kube_config_clear(out);
	return rc;
}

static void free_secret(char *s, size_t len)
{
	if (!s)
		return;
	explicit_bzero(s, len);
	free(s);
}

void kube_config_clear(struct kube_config *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->cert_file);
	free(c->cert_data);
	free(c->key_file);
	free_secret(c->key_data, c->key_data_len);
	free_secret(c->token, c->token ? strlen(c->token) : 0);
	free(c->token_file);
	memset(c, 0, sizeof(*c));
}

/* ---- pacing --------------------------------------------------------------- */

int64_t kube_backoff(unsigned attempt, uint32_t rnd)
{
	int64_t d = KUBE_BACKOFF_MIN_NS;

	for (unsigned i = 0; i < attempt && d < KUBE_BACKOFF_MAX_NS; i++)
		d *= 2;
	if (d > KUBE_BACKOFF_MAX_NS)
		d = KUBE_BACKOFF_MAX_NS;
	d += d / 5 * (int64_t)(rnd % 1001) / 1000;
	return d > KUBE_BACKOFF_MAX_NS ? KUBE_BACKOFF_MAX_NS : d;
}

void kube_bucket_init(struct kube_bucket *b, double qps, uint32_t burst,
		      int64_t now_ns)
{
	b->qps = qps > 0 ? qps : 5;
	b->burst = burst ? burst : 1;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

int64_t kube_bucket_take(struct kube_bucket *b, int64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * b->qps / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= 1;
	if (b->tokens >= 0)
		return 0;
	/* in debt: wait until the refill pays it back */
	return (int64_t)(-b->tokens * 1e9 / b->qps + 0.5);
}
