/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Namespace, Pod and NetworkPolicy (networking.k8s.io/v1) objects from
 * the API server's JSON, validated as the API server would: the first
 * error found is reported with the object's name and the field's path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <yajl/yajl_tree.h>

#include "netpol.h"

#define PATH_MAX_LEN 160

/* The first error of one object. */
struct perr {
	char *buf;
	size_t len;
	const char *kind;
	const char *ns, *name; /* ns NULL for a namespace */
	bool failed, nomem;
};

static void __attribute__((format(printf, 3, 4)))
fail(struct perr *e, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (e->failed)
		return;
	e->failed = true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!e->buf || !e->len)
		return;
	if (e->ns)
		snprintf(e->buf, e->len, "%s %s/%s: %s: %s", e->kind, e->ns,
			 e->name, path, what);
	else if (e->name)
		snprintf(e->buf, e->len, "%s %s: %s: %s", e->kind, e->name,
			 path, what);
	else
		snprintf(e->buf, e->len, "%s: %s: %s", e->kind, path, what);
}

/* A field's path, cut short when too long. */
static void __attribute__((format(printf, 2, 3)))
pathf(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX_LEN, fmt, ap);
	va_end(ap);
}

/* The text of a value known to be a string. */
static const char *sval(yajl_val v)
{
	return v->u.string;
}

static yajl_val field(yajl_val obj, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return YAJL_IS_NULL(obj->u.object.values[i]) ?
				       NULL :
				       obj->u.object.values[i];
	return NULL;
}

/* A JSON string, quoted and shortened, for an error message. */
static const char *quoted(yajl_val v, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "missing");
	else if (YAJL_IS_STRING(v))
		snprintf(buf, len, "\"%.60s\"", sval(v));
	else if (YAJL_IS_INTEGER(v))
		snprintf(buf, len, "%lld", YAJL_GET_INTEGER(v));
	else
		snprintf(buf, len, "a %s",
			 YAJL_IS_OBJECT(v) ? "object" :
			 YAJL_IS_ARRAY(v)  ? "array" :
			 YAJL_IS_NUMBER(v) ? "number" :
					     "boolean");
	return buf;
}

static char *dup_or_nomem(struct perr *e, const char *s)
{
	char *d = strdup(s);

	if (!d)
		e->nomem = true;
	return d;
}

static int label_cmp(const void *a, const void *b)
{
	const struct np_label *x = a, *y = b;

	return strcmp(x->key, y->key);
}

void np_labels_clear(struct np_labels *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A map of label keys to values (labels, matchLabels). */
static void parse_labels(struct perr *e, yajl_val v, const char *path,
			 struct np_labels *out)
{
	size_t i, n;

	if (!v)
		return;
	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	n = v->u.object.len;
	if (!n)
		return;
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		const char *k = v->u.object.keys[i];
		yajl_val val = v->u.object.values[i];
		char q[80];

		if (!np_label_key_valid(k)) {
			fail(e, path, "\"%.60s\" is not a valid label key", k);
			return;
		}
		if (!YAJL_IS_STRING(val) ||
		    !np_label_value_valid(sval(val))) {
			fail(e, path, "%s: %s is not a valid label value", k,
			     quoted(val, q, sizeof(q)));
			return;
		}
		out->v[i].key = dup_or_nomem(e, k);
		out->v[i].val = dup_or_nomem(e, sval(val));
		out->n++;
		if (e->nomem)
			return;
	}
	qsort(out->v, out->n, sizeof(*out->v), label_cmp);
	for (i = 1; i < out->n; i++)
		if (!strcmp(out->v[i - 1].key, out->v[i].key))
			fail(e, path, "label key \"%.60s\" repeated",
			     out->v[i].key);
}

void np_selector_clear(struct np_selector *s)
{
	size_t i, j;

	np_labels_clear(&s->match);
	for (i = 0; i < s->n_exprs; i++) {
		free(s->exprs[i].key);
		for (j = 0; j < s->exprs[i].n_vals; j++)
			free(s->exprs[i].vals[j]);
		free(s->exprs[i].vals);
	}
	free(s->exprs);
	memset(s, 0, sizeof(*s));
}

static void parse_expr(struct perr *e, yajl_val v, const char *path,
		       struct np_expr *x)
{
	static const char *const ops[] = {
		[NP_IN] = "In", [NP_NOTIN] = "NotIn",
		[NP_EXISTS] = "Exists", [NP_NOT_EXISTS] = "DoesNotExist",
	};
	yajl_val key = field(v, "key"), op = field(v, "operator");
	yajl_val vals = field(v, "values");
	char sub[PATH_MAX_LEN], q[80];
	size_t i, n;
	bool found = false;

	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	pathf(sub, "%s.key", path);
	if (!key || !YAJL_IS_STRING(key) ||
	    !np_label_key_valid(sval(key))) {
		fail(e, sub, "%s is not a valid label key",
		     key ? quoted(key, q, sizeof(q)) : "missing, it");
		return;
	}
	pathf(sub, "%s.operator", path);
	for (i = 0; op && YAJL_IS_STRING(op) && i < 4; i++)
		if (!strcmp(sval(op), ops[i])) {
			x->op = (enum np_op)i;
			found = true;
		}
	if (!found) {
		fail(e, sub, "%s is not In, NotIn, Exists or DoesNotExist",
		     op ? quoted(op, q, sizeof(q)) : "missing, it");
		return;
	}
	x->key = dup_or_nomem(e, sval(key));
	pathf(sub, "%s.values", path);
	if (vals && !YAJL_IS_ARRAY(vals)) {
		fail(e, sub, "not an array");
		return;
	}
	n = vals ? vals->u.array.len : 0;
	if ((x->op == NP_IN || x->op == NP_NOTIN) && !n) {
		fail(e, sub, "%s needs values", ops[x->op]);
		return;
	}
	if ((x->op == NP_EXISTS || x->op == NP_NOT_EXISTS) && n) {
		fail(e, sub, "%s takes no values", ops[x->op]);
		return;
	}
	if (!n)
		return;
	x->vals = calloc(n, sizeof(*x->vals));
	if (!x->vals) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		yajl_val s = vals->u.array.values[i];

		if (!YAJL_IS_STRING(s) ||
		    !np_label_value_valid(sval(s))) {
			pathf(sub, "%s.values[%zu]", path, i);
			fail(e, sub, "%s is not a valid label value",
			     quoted(s, q, sizeof(q)));
			return;
		}
		x->vals[i] = dup_or_nomem(e, sval(s));
		x->n_vals++;
		if (e->nomem)
			return;
	}
}

static void parse_selector(struct perr *e, yajl_val v, const char *path,
			   struct np_selector *s)
{
	yajl_val ml = field(v, "matchLabels"), me = field(v, "matchExpressions");
	char sub[PATH_MAX_LEN];
	size_t i, n;

	if (!v)
		return;
	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	pathf(sub, "%s.matchLabels", path);
	parse_labels(e, ml, sub, &s->match);
	if (e->failed || e->nomem || !me)
		return;
	pathf(sub, "%s.matchExpressions", path);
	if (!YAJL_IS_ARRAY(me)) {
		fail(e, sub, "not an array");
		return;
	}
	n = me->u.array.len;
	if (!n)
		return;
	s->exprs = calloc(n, sizeof(*s->exprs));
	if (!s->exprs) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < n && !e->failed && !e->nomem; i++) {
		pathf(sub, "%s.matchExpressions[%zu]", path, i);
		s->n_exprs++;
		parse_expr(e, me->u.array.values[i], sub, &s->exprs[i]);
	}
}

static yajl_val parse_json(struct perr *e, const char *json, size_t len)
{
	char ybuf[128];
	char *text = malloc(len + 1);
	yajl_val v;
	char *nl;

	if (!text) {
		e->nomem = true;
		return NULL;
	}
	memcpy(text, json, len);
	text[len] = '\0';
	ybuf[0] = '\0';
	v = yajl_tree_parse(text, ybuf, sizeof(ybuf));
	free(text);
	if (!v) {
		nl = strchr(ybuf, '\n');
		if (nl)
			*nl = '\0';
		fail(e, "(json)", "%s", ybuf[0] ? ybuf : "not JSON");
	} else if (!YAJL_IS_OBJECT(v)) {
		fail(e, "(json)", "not an object");
		yajl_tree_free(v);
		v = NULL;
	}
	return v;
}

/* metadata.name (and namespace): false when unreadable. */
static bool parse_meta(struct perr *e, yajl_val root, bool namespaced,
		       char **ns, char **name)
{
	yajl_val md = field(root, "metadata");
	yajl_val n = field(md, "name"), s = field(md, "namespace");

	if (!n || !YAJL_IS_STRING(n) || !*sval(n) ||
	    strlen(sval(n)) > 253) {
		fail(e, "metadata.name", "missing or not a name");
		return false;
	}
	if (namespaced && (!s || !YAJL_IS_STRING(s) || !*sval(s) ||
			   strlen(sval(s)) > 63)) {
		fail(e, "metadata.namespace", "missing or not a name");
		return false;
	}
	*name = dup_or_nomem(e, sval(n));
	if (namespaced)
		*ns = dup_or_nomem(e, sval(s));
	e->name = *name;
	e->ns = namespaced ? *ns : NULL;
	return !e->nomem;
}

static int finish(struct perr *e)
{
	if (e->nomem)
		return -ENOMEM;
	return e->failed ? -EINVAL : 0;
}

void np_namespace_free(struct np_namespace *n)
{
	if (!n)
		return;
	free(n->name);
	np_labels_clear(&n->labels);
	free(n);
}

int np_namespace_parse(const char *json, size_t len,
		       struct np_namespace **out, char *err, size_t errlen)
{
	struct perr e = { .buf = err, .len = errlen, .kind = "Namespace" };
	struct np_namespace *n = NULL;
	yajl_val root = parse_json(&e, json, len);
	int ret;

	*out = NULL;
	if (!root)
		return finish(&e);
	n = calloc(1, sizeof(*n));
	if (!n) {
		e.nomem = true;
		goto free_root;
	}
	if (!parse_meta(&e, root, false, NULL, &n->name))
		goto free_root;
	parse_labels(&e, field(field(root, "metadata"), "labels"),
		     "metadata.labels", &n->labels);
	n->malformed = e.failed;
free_root:
	yajl_tree_free(root);
	ret = finish(&e);
	if (ret == -ENOMEM || !n || !n->name) {
		np_namespace_free(n);
		return ret ? ret : -EINVAL;
	}
	if (n->malformed)
		np_labels_clear(&n->labels);
	*out = n;
	return ret;
}

void np_pod_free(struct np_pod *pd)
{
	size_t i;

	if (!pd)
		return;
	free(pd->ns);
	free(pd->name);
	free(pd->node);
	np_labels_clear(&pd->labels);
	for (i = 0; i < pd->n_ports; i++)
		free(pd->ports[i].name);
	free(pd->ports);
	free(pd);
}

static bool parse_proto(struct perr *e, yajl_val v, const char *path,
			uint8_t *out)
{
	char q[80];

	*out = NP_TCP;
	if (!v)
		return true;
	if (YAJL_IS_STRING(v) && !strcmp(sval(v), "TCP"))
		return true;
	if (YAJL_IS_STRING(v) && !strcmp(sval(v), "UDP")) {
		*out = NP_UDP;
		return true;
	}
	if (YAJL_IS_STRING(v) && !strcmp(sval(v), "SCTP")) {
		*out = NP_SCTP;
		return true;
	}
	fail(e, path, "%s is not TCP, UDP or SCTP", quoted(v, q, sizeof(q)));
	return false;
}

static bool port_number(yajl_val v, uint16_t *out)
{
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1 ||
	    YAJL_GET_INTEGER(v) > 65535)
		return false;
	*out = (uint16_t)YAJL_GET_INTEGER(v);
	return true;
}

/* An IANA service name, as a port's name: at most 15 of [a-z0-9-], a
 * letter among them, no hyphen at either end or next to another. */
static bool port_name_valid(const char *s)
{
	size_t i, n = strlen(s);
	bool letter = false;

	if (!n || n > 15 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (s[i] == '-' && s[i + 1] == '-')
			return false;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

static bool parse_addr(const char *s, struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = STRATA_AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = STRATA_AF_INET6;
		return true;
	}
	return false;
}

static void pod_add_addr(struct perr *e, struct np_pod *pd, yajl_val v,
			 const char *path)
{
	struct strata_addr a;
	char q[80];
	size_t i;

	if (!YAJL_IS_STRING(v) || !parse_addr(sval(v), &a)) {
		fail(e, path, "%s is not an IP address",
		     quoted(v, q, sizeof(q)));
		return;
	}
	for (i = 0; i < pd->n_addrs; i++)
		if (!memcmp(&pd->addrs[i], &a, sizeof(a)))
			return;
	if (pd->n_addrs == sizeof(pd->addrs) / sizeof(pd->addrs[0])) {
		fail(e, path, "too many addresses");
		return;
	}
	pd->addrs[pd->n_addrs++] = a;
}

static void parse_pod_ports(struct perr *e, struct np_pod *pd, yajl_val cs)
{
	char path[PATH_MAX_LEN], sub[PATH_MAX_LEN], q[80];
	size_t i, j, total = 0;

	if (!cs)
		return;
	if (!YAJL_IS_ARRAY(cs)) {
		fail(e, "spec.containers", "not an array");
		return;
	}
	for (i = 0; i < cs->u.array.len; i++) {
		yajl_val ps = field(cs->u.array.values[i], "ports");

		if (ps && YAJL_IS_ARRAY(ps))
			total += ps->u.array.len;
	}
	if (!total)
		return;
	pd->ports = calloc(total, sizeof(*pd->ports));
	if (!pd->ports) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < cs->u.array.len && !e->failed && !e->nomem; i++) {
		yajl_val ps = field(cs->u.array.values[i], "ports");

		if (!ps)
			continue;
		if (!YAJL_IS_ARRAY(ps)) {
			pathf(path, "spec.containers[%zu].ports", i);
			fail(e, path, "not an array");
			return;
		}
		for (j = 0; j < ps->u.array.len; j++) {
			yajl_val pt = ps->u.array.values[j];
			yajl_val name = field(pt, "name");
			struct np_cport *c = &pd->ports[pd->n_ports];

			pathf(path, "spec.containers[%zu].ports[%zu]", i, j);
			pathf(sub, "%s.containerPort", path);
			if (!port_number(field(pt, "containerPort"),
					 &c->port)) {
				yajl_val cp = field(pt, "containerPort");

				fail(e, sub, "%s is not a port (1-65535)",
				     cp ? quoted(cp, q, sizeof(q)) : "missing");
				return;
			}
			pathf(sub, "%s.protocol", path);
			if (!parse_proto(e, field(pt, "protocol"), sub,
					 &c->proto))
				return;
			pathf(sub, "%s.name", path);
			if (name && (!YAJL_IS_STRING(name) ||
				     !port_name_valid(sval(name)))) {
				fail(e, sub, "%s is not a port name",
				     quoted(name, q, sizeof(q)));
				return;
			}
			if (name)
				c->name = dup_or_nomem(e, sval(name));
			pd->n_ports++;
		}
	}
}

int np_pod_parse(const char *json, size_t len, struct np_pod **out, char *err,
		 size_t errlen)
{
	struct perr e = { .buf = err, .len = errlen, .kind = "Pod" };
	struct np_pod *pd = NULL;
	yajl_val root = parse_json(&e, json, len), spec, status, v;
	char path[PATH_MAX_LEN];
	size_t i;
	int ret;

	*out = NULL;
	if (!root)
		return finish(&e);
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		e.nomem = true;
		goto free_root;
	}
	if (!parse_meta(&e, root, true, &pd->ns, &pd->name))
		goto free_root;
	parse_labels(&e, field(field(root, "metadata"), "labels"),
		     "metadata.labels", &pd->labels);
	spec = field(root, "spec");
	status = field(root, "status");
	v = field(spec, "nodeName");
	if (v && YAJL_IS_STRING(v))
		pd->node = dup_or_nomem(&e, sval(v));
	else if (v)
		fail(&e, "spec.nodeName", "not a string");
	v = field(spec, "hostNetwork");
	if (v && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		fail(&e, "spec.hostNetwork", "not a boolean");
	pd->host_network = v && YAJL_IS_TRUE(v);
	if (!e.failed && !e.nomem)
		parse_pod_ports(&e, pd, field(spec, "containers"));
	v = field(status, "phase");
	if (v && !YAJL_IS_STRING(v))
		fail(&e, "status.phase", "not a string");
	pd->terminal = v && YAJL_IS_STRING(v) &&
		       (!strcmp(sval(v), "Succeeded") ||
			!strcmp(sval(v), "Failed"));
	v = field(status, "podIPs");
	if (v && !YAJL_IS_ARRAY(v))
		fail(&e, "status.podIPs", "not an array");
	for (i = 0; v && YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		pathf(path, "status.podIPs[%zu].ip", i);
		pod_add_addr(&e, pd, field(v->u.array.values[i], "ip"), path);
	}
	v = field(status, "podIP");
	if (v && !(YAJL_IS_STRING(v) && !*sval(v)))
		pod_add_addr(&e, pd, v, "status.podIP");
	pd->malformed = e.failed;
free_root:
	yajl_tree_free(root);
	ret = finish(&e);
	if (ret == -ENOMEM || !pd || !pd->name) {
		np_pod_free(pd);
		return ret ? ret : -EINVAL;
	}
	if (pd->malformed)
		np_labels_clear(&pd->labels);
	*out = pd;
	return ret;
}

static void free_rules(struct np_rule *rs, size_t n)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		for (j = 0; j < rs[i].n_peers; j++) {
			struct np_peer *pe = &rs[i].peers[j];

			if (pe->pods)
				np_selector_clear(pe->pods);
			if (pe->nss)
				np_selector_clear(pe->nss);
			free(pe->pods);
			free(pe->nss);
			if (!pe->ipb)
				continue;
			free(pe->ipb->cidr);
			for (k = 0; k < pe->ipb->n_except; k++)
				free(pe->ipb->except[k]);
			free(pe->ipb->except);
			np_ranges_clear(&pe->ipb->r);
			free(pe->ipb);
		}
		free(rs[i].peers);
		for (j = 0; j < rs[i].n_ports; j++)
			free(rs[i].ports[j].name);
		free(rs[i].ports);
	}
	free(rs);
}

void np_policy_free(struct np_policy *pl)
{
	if (!pl)
		return;
	free_rules(pl->in, pl->n_in);
	free_rules(pl->eg, pl->n_eg);
	np_selector_clear(&pl->sel);
	free(pl->ns);
	free(pl->name);
	free(pl);
}

static void parse_ipblock(struct perr *e, yajl_val v, const char *path,
			  struct np_ipblock *b)
{
	yajl_val cidr = field(v, "cidr"), ex = field(v, "except");
	struct np_range whole, part;
	char sub[PATH_MAX_LEN], q[80];
	size_t i;

	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	pathf(sub, "%s.cidr", path);
	if (!cidr || !YAJL_IS_STRING(cidr) ||
	    !np_cidr_parse(sval(cidr), &whole)) {
		fail(e, sub, "%s is not a CIDR",
		     cidr ? quoted(cidr, q, sizeof(q)) : "missing, it");
		return;
	}
	b->cidr = dup_or_nomem(e, sval(cidr));
	if (e->nomem || np_ranges_add(&b->r, &whole)) {
		e->nomem = true;
		return;
	}
	if (!ex)
		return;
	pathf(sub, "%s.except", path);
	if (!YAJL_IS_ARRAY(ex)) {
		fail(e, sub, "not an array");
		return;
	}
	b->except = calloc(ex->u.array.len + 1, sizeof(*b->except));
	if (!b->except) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < ex->u.array.len; i++) {
		yajl_val x = ex->u.array.values[i];

		pathf(sub, "%s.except[%zu]", path, i);
		if (!YAJL_IS_STRING(x) ||
		    !np_cidr_parse(sval(x), &part)) {
			fail(e, sub, "%s is not a CIDR",
			     quoted(x, q, sizeof(q)));
			return;
		}
		if (!np_range_within(&part, &whole)) {
			fail(e, sub, "%s is not inside %s",
			     quoted(x, q, sizeof(q)), b->cidr);
			return;
		}
		b->except[b->n_except] = dup_or_nomem(e, sval(x));
		b->n_except++;
		if (e->nomem || np_ranges_subtract(&b->r, &part)) {
			e->nomem = true;
			return;
		}
	}
}

static struct np_selector *new_selector(struct perr *e, yajl_val v,
					const char *path)
{
	struct np_selector *s = calloc(1, sizeof(*s));

	if (!s)
		e->nomem = true;
	else
		parse_selector(e, v, path, s);
	return s;
}

static void parse_peer(struct perr *e, yajl_val v, const char *path,
		       struct np_peer *pe)
{
	yajl_val ps = field(v, "podSelector"), ns = field(v, "namespaceSelector");
	yajl_val ib = field(v, "ipBlock");
	char sub[PATH_MAX_LEN];

	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	if (ib && (ps || ns)) {
		fail(e, path, "ipBlock may not be combined with a selector");
		return;
	}
	if (!ib && !ps && !ns) {
		fail(e, path, "needs podSelector, namespaceSelector or ipBlock");
		return;
	}
	if (ib) {
		pe->ipb = calloc(1, sizeof(*pe->ipb));
		if (!pe->ipb) {
			e->nomem = true;
			return;
		}
		pathf(sub, "%s.ipBlock", path);
		parse_ipblock(e, ib, sub, pe->ipb);
		return;
	}
	if (ps) {
		pathf(sub, "%s.podSelector", path);
		pe->pods = new_selector(e, ps, sub);
	}
	if (ns && !e->failed && !e->nomem) {
		pathf(sub, "%s.namespaceSelector", path);
		pe->nss = new_selector(e, ns, sub);
	}
}

static void parse_port(struct perr *e, yajl_val v, const char *path,
		       struct np_port *pt)
{
	yajl_val port = field(v, "port"), end = field(v, "endPort");
	char sub[PATH_MAX_LEN], q[80];

	if (!YAJL_IS_OBJECT(v)) {
		fail(e, path, "not an object");
		return;
	}
	pathf(sub, "%s.protocol", path);
	if (!parse_proto(e, field(v, "protocol"), sub, &pt->proto))
		return;
	pathf(sub, "%s.port", path);
	if (port && YAJL_IS_STRING(port)) {
		if (!port_name_valid(sval(port))) {
			fail(e, sub, "%s is not a port name",
			     quoted(port, q, sizeof(q)));
			return;
		}
		pt->name = dup_or_nomem(e, sval(port));
	} else if (port && !port_number(port, &pt->port)) {
		fail(e, sub, "%s is not a port (1-65535)",
		     quoted(port, q, sizeof(q)));
		return;
	}
	pt->end = pt->port;
	if (!end)
		return;
	pathf(sub, "%s.endPort", path);
	if (!pt->port) {
		fail(e, sub, "only with a numeric port");
		return;
	}
	if (!port_number(end, &pt->end) || pt->end < pt->port) {
		fail(e, sub, "%s is not a port from %u to 65535",
		     quoted(end, q, sizeof(q)), pt->port);
		return;
	}
}

static void parse_rules(struct perr *e, yajl_val v, const char *path,
			const char *peers_key, struct np_rule **out,
			size_t *n_out)
{
	char rpath[PATH_MAX_LEN], sub[PATH_MAX_LEN];
	size_t i, j;

	if (!v)
		return;
	if (!YAJL_IS_ARRAY(v)) {
		fail(e, path, "not an array");
		return;
	}
	if (!v->u.array.len)
		return;
	*out = calloc(v->u.array.len, sizeof(**out));
	if (!*out) {
		e->nomem = true;
		return;
	}
	for (i = 0; i < v->u.array.len && !e->failed && !e->nomem; i++) {
		yajl_val r = v->u.array.values[i];
		yajl_val peers = field(r, peers_key), ports = field(r, "ports");
		struct np_rule *ru = &(*out)[i];

		(*n_out)++;
		pathf(rpath, "%s[%zu]", path, i);
		if (!YAJL_IS_OBJECT(r)) {
			fail(e, rpath, "not an object");
			return;
		}
		pathf(sub, "%s.%s", rpath, peers_key);
		if (peers && !YAJL_IS_ARRAY(peers)) {
			fail(e, sub, "not an array");
			return;
		}
		ru->all_peers = !peers || !peers->u.array.len;
		if (!ru->all_peers) {
			ru->peers = calloc(peers->u.array.len,
					   sizeof(*ru->peers));
			if (!ru->peers) {
				e->nomem = true;
				return;
			}
		}
		for (j = 0; !ru->all_peers && j < peers->u.array.len &&
			    !e->failed && !e->nomem;
		     j++) {
			pathf(sub, "%s.%s[%zu]", rpath, peers_key, j);
			ru->n_peers++;
			parse_peer(e, peers->u.array.values[j], sub,
				   &ru->peers[j]);
		}
		pathf(sub, "%s.ports", rpath);
		if (ports && !YAJL_IS_ARRAY(ports)) {
			fail(e, sub, "not an array");
			return;
		}
		if (!ports || !ports->u.array.len || e->failed || e->nomem)
			continue;
		ru->ports = calloc(ports->u.array.len, sizeof(*ru->ports));
		if (!ru->ports) {
			e->nomem = true;
			return;
		}
		for (j = 0; j < ports->u.array.len && !e->failed && !e->nomem;
		     j++) {
			pathf(sub, "%s.ports[%zu]", rpath, j);
			ru->n_ports++;
			parse_port(e, ports->u.array.values[j], sub,
				   &ru->ports[j]);
		}
	}
}

static void policy_id(struct np_policy *pl)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char key[512];
	int n = snprintf(key, sizeof(key), "%s/%s", pl->ns, pl->name);
	size_t i;

	SHA256((const unsigned char *)key,
	       n < 0 ? 0 : (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1,
	       md);
	for (i = 0; i < 6; i++)
		snprintf(pl->id + 2 * i, 3, "%02x", md[i]);
}

/*
 * The name of the set of pods a rule's peers select: the same for every
 * rule whose peers select alike (the selectors, and the policy's
 * namespace where a peer has no namespaceSelector), so that rules alike
 * in any policy share one set. Empty for a rule without such peers.
 */
static int peer_set_name(const struct np_policy *pl, struct np_rule *r)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *key = NULL, *t = NULL;
	size_t len = 0, i;
	bool any = false;
	FILE *f;

	r->pset[0] = '\0';
	f = open_memstream(&key, &len);
	if (!f)
		return -ENOMEM;
	for (i = 0; i < r->n_peers; i++) {
		const struct np_peer *pe = &r->peers[i];

		if (pe->ipb)
			continue;
		any = true;
		if (pe->pods && !(t = np_selector_text(pe->pods)))
			break;
		fprintf(f, "pods %s\n", pe->pods ? t : "*");
		if (pe->pods)
			free(t);
		if (pe->nss && !(t = np_selector_text(pe->nss)))
			break;
		if (pe->nss) {
			fprintf(f, "namespaces %s\n", t);
			free(t);
		} else {
			fprintf(f, "namespace =%s\n", pl->ns);
		}
	}
	if (fclose(f) || !key || i < r->n_peers) {
		free(key);
		return -ENOMEM;
	}
	if (any) {
		SHA256((const unsigned char *)key, len, md);
		memcpy(r->pset, "ps-", 3);
		for (i = 0; i < 8; i++)
			snprintf(r->pset + 3 + 2 * i, 3, "%02x", md[i]);
	}
	free(key);
	return 0;
}

static int peer_set_names(struct np_policy *pl)
{
	size_t i;

	for (i = 0; i < pl->n_in; i++)
		if (peer_set_name(pl, &pl->in[i]))
			return -ENOMEM;
	for (i = 0; i < pl->n_eg; i++)
		if (peer_set_name(pl, &pl->eg[i]))
			return -ENOMEM;
	return 0;
}

static void parse_types(struct perr *e, yajl_val spec, struct np_policy *pl)
{
	yajl_val t = field(spec, "policyTypes"), eg = field(spec, "egress");
	char path[PATH_MAX_LEN], q[80];
	size_t i;

	if (!t) {
		pl->ingress = true;
		pl->egress = eg && YAJL_IS_ARRAY(eg) && eg->u.array.len;
		return;
	}
	if (!YAJL_IS_ARRAY(t)) {
		fail(e, "spec.policyTypes", "not an array");
		return;
	}
	for (i = 0; i < t->u.array.len; i++) {
		yajl_val s = t->u.array.values[i];

		pathf(path, "spec.policyTypes[%zu]", i);
		if (YAJL_IS_STRING(s) && !strcmp(sval(s), "Ingress"))
			pl->ingress = true;
		else if (YAJL_IS_STRING(s) &&
			 !strcmp(sval(s), "Egress"))
			pl->egress = true;
		else
			fail(e, path, "%s is not Ingress or Egress",
			     quoted(s, q, sizeof(q)));
	}
}

int np_policy_parse(const char *json, size_t len, struct np_policy **out,
		    char *err, size_t errlen)
{
	struct perr e = { .buf = err, .len = errlen, .kind = "NetworkPolicy" };
	struct np_policy *pl = NULL;
	yajl_val root = parse_json(&e, json, len), spec;
	int ret;

	*out = NULL;
	if (!root)
		return finish(&e);
	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		e.nomem = true;
		goto free_root;
	}
	if (!parse_meta(&e, root, true, &pl->ns, &pl->name))
		goto free_root;
	policy_id(pl);
	spec = field(root, "spec");
	if (!spec || !YAJL_IS_OBJECT(spec)) {
		fail(&e, "spec", "missing or not an object");
		goto free_root;
	}
	parse_selector(&e, field(spec, "podSelector"), "spec.podSelector",
		       &pl->sel);
	if (e.failed) /* then it selects every pod of its namespace */
		np_selector_clear(&pl->sel);
	if (!e.failed && !e.nomem)
		parse_types(&e, spec, pl);
	if (!e.failed && !e.nomem)
		parse_rules(&e, field(spec, "ingress"), "spec.ingress", "from",
			    &pl->in, &pl->n_in);
	if (!e.failed && !e.nomem)
		parse_rules(&e, field(spec, "egress"), "spec.egress", "to",
			    &pl->eg, &pl->n_eg);
free_root:
	yajl_tree_free(root);
	ret = finish(&e);
	if (ret == -ENOMEM || !pl || !pl->name || !pl->ns) {
		np_policy_free(pl);
		return ret ? ret : -EINVAL;
	}
	if (e.failed) {
		/* isolates both ways, allows nothing */
		free_rules(pl->in, pl->n_in);
		free_rules(pl->eg, pl->n_eg);
		pl->in = pl->eg = NULL;
		pl->n_in = pl->n_eg = 0;
		pl->malformed = true;
		pl->ingress = pl->egress = true;
	} else if (peer_set_names(pl)) {
		np_policy_free(pl);
		return -ENOMEM;
	}
	*out = pl;
	return ret;
}
