/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad's reply to strata-cni, and the CNI result made of it in the
 * request's version: 1.0.0 and 1.1.0 shape (interface mtu only in 1.1.0),
 * or 0.4.0 (ips carry "version"). After another plugin in a chain, ours
 * are appended to its prevResult.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_result.h"

static int bad_reply(const struct cni_req *req, struct cni_err *err,
		     const char *why)
{
	cni_seterr(err, CNI_ERR_IO, why,
		   "invalid reply from stratad at %s", req->socket);
	return -EINVAL;
}

static size_t array_len(yajl_val v)
{
	return YAJL_IS_ARRAY(v) ? v->u.array.len : 0;
}

static bool opt_string(yajl_val obj, const char *key)
{
	yajl_val v = cni_get(obj, key);

	return !v || YAJL_IS_STRING(v);
}

/* The ADD reply's lists, checked once so building cannot fail half-way. */
static const char *add_problem(yajl_val tree)
{
	yajl_val ifs = cni_get(tree, "interfaces");
	yajl_val ips = cni_get(tree, "ips");
	yajl_val routes = cni_get(tree, "routes");
	yajl_val e, v;
	size_t i;

	if (!YAJL_IS_ARRAY(ifs) || !ifs->u.array.len)
		return "an ADD reply needs a non-empty array interfaces";
	if ((ips && !YAJL_IS_ARRAY(ips)) || (routes && !YAJL_IS_ARRAY(routes)))
		return "ips and routes must be arrays";
	for (i = 0; i < ifs->u.array.len; i++) {
		e = ifs->u.array.values[i];
		v = cni_get(e, "sandbox");
		if (!YAJL_IS_STRING(cni_get(e, "name")) ||
		    !opt_string(e, "mac") ||
		    (cni_get(e, "mtu") &&
		     !YAJL_IS_INTEGER(cni_get(e, "mtu"))) ||
		    (v && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)))
			return "an interface needs a string name, and mac, mtu "
			       "and sandbox of the right types";
	}
	for (i = 0; i < array_len(ips); i++) {
		e = ips->u.array.values[i];
		v = cni_get(e, "interface");
		if (!YAJL_IS_STRING(cni_get(e, "address")) ||
		    !opt_string(e, "gateway"))
			return "an ip needs a string address";
		if (v && (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
			  YAJL_GET_INTEGER(v) >= (long long)ifs->u.array.len))
			return "an ip's interface is not an index of "
			       "interfaces";
	}
	for (i = 0; i < array_len(routes); i++) {
		e = routes->u.array.values[i];
		if (!YAJL_IS_STRING(cni_get(e, "dst")) || !opt_string(e, "gw"))
			return "a route needs a string dst";
	}
	return NULL;
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	cni_gen_str(g, v);
}

static void gen_key(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void gen_prev_list(yajl_gen g, const struct cni_req *req,
			  const char *key)
{
	yajl_val v = cni_get(req->prev, key);
	size_t i;

	for (i = 0; i < array_len(v); i++)
		cni_gen_value(g, v->u.array.values[i]);
}

static int build_add(const struct cni_req *req, yajl_val tree, char **out,
		     size_t *outlen)
{
	yajl_val ifs = cni_get(tree, "interfaces");
	yajl_val ips = cni_get(tree, "ips");
	yajl_val routes = cni_get(tree, "routes");
	size_t base = array_len(cni_get(req->prev, "interfaces"));
	bool v11 = !strcmp(req->version, "1.1.0");
	bool v04 = !strcmp(req->version, "0.4.0");
	yajl_val e, v, dns;
	const char *s;
	yajl_gen g;
	size_t i;

	g = yajl_gen_alloc(NULL);
	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_kv(g, "cniVersion", req->version);

	gen_key(g, "interfaces");
	yajl_gen_array_open(g);
	gen_prev_list(g, req, "interfaces");
	for (i = 0; i < ifs->u.array.len; i++) {
		e = ifs->u.array.values[i];
		yajl_gen_map_open(g);
		gen_kv(g, "name", cni_get(e, "name")->u.string);
		if ((s = YAJL_GET_STRING(cni_get(e, "mac"))))
			gen_kv(g, "mac", s);
		v = cni_get(e, "mtu");
		if (v11 && v) {
			gen_key(g, "mtu");
			yajl_gen_integer(g, YAJL_GET_INTEGER(v));
		}
		if (YAJL_IS_TRUE(cni_get(e, "sandbox")))
			gen_kv(g, "sandbox", req->netns);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	gen_key(g, "ips");
	yajl_gen_array_open(g);
	gen_prev_list(g, req, "ips");
	for (i = 0; i < array_len(ips); i++) {
		e = ips->u.array.values[i];
		s = cni_get(e, "address")->u.string;
		yajl_gen_map_open(g);
		if (v04)
			gen_kv(g, "version", strchr(s, ':') ? "6" : "4");
		gen_kv(g, "address", s);
		if ((s = YAJL_GET_STRING(cni_get(e, "gateway"))))
			gen_kv(g, "gateway", s);
		v = cni_get(e, "interface");
		if (v) {
			gen_key(g, "interface");
			yajl_gen_integer(g, YAJL_GET_INTEGER(v) +
					    (long long)base);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	gen_key(g, "routes");
	yajl_gen_array_open(g);
	gen_prev_list(g, req, "routes");
	for (i = 0; i < array_len(routes); i++) {
		e = routes->u.array.values[i];
		yajl_gen_map_open(g);
		gen_kv(g, "dst", cni_get(e, "dst")->u.string);
		if ((s = YAJL_GET_STRING(cni_get(e, "gw"))))
			gen_kv(g, "gw", s);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);

	/* the config's dns wins; else what the chain had so far */
	dns = req->dns;
	if (!dns && YAJL_IS_OBJECT(cni_get(req->prev, "dns")))
		dns = cni_get(req->prev, "dns");
	gen_key(g, "dns");
	if (dns) {
		cni_gen_value(g, dns);
	} else {
		yajl_gen_map_open(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	return cni_gen_finish(g, out, outlen);
}

int cni_reply(const struct cni_req *req, const char *buf, size_t len,
	      char **out, size_t *outlen, struct cni_err *err)
{
	char why[256];
	const char *problem, *msg, *details;
	yajl_val tree, ok, code;
	int r;

	*out = NULL;
	*outlen = 0;
	r = cni_json_parse(buf, len, &tree, why, sizeof(why));
	if (r < 0)
		return bad_reply(req, err, why);
	ok = cni_get(tree, "ok");
	if (!YAJL_IS_TRUE(ok) && !YAJL_IS_FALSE(ok)) {
		yajl_tree_free(tree);
		return bad_reply(req, err, "no boolean ok in an object");
	}
	if (YAJL_IS_FALSE(ok)) {
		code = cni_get(tree, "code");
		msg = YAJL_GET_STRING(cni_get(tree, "msg"));
		details = YAJL_GET_STRING(cni_get(tree, "details"));
		/* a failure with code 0 would read as success */
		if (!YAJL_IS_INTEGER(code) || YAJL_GET_INTEGER(code) <= 0 ||
		    YAJL_GET_INTEGER(code) > INT_MAX) {
			yajl_tree_free(tree);
			return bad_reply(req, err,
					 "a failure needs a positive code");
		}
		cni_seterr(err, (int)YAJL_GET_INTEGER(code), details, "%s",
			   msg && msg[0] ? msg : "stratad reported a failure");
		yajl_tree_free(tree);
		return -EINVAL;
	}
	if (req->cmd != CNI_CMD_ADD) {
		yajl_tree_free(tree);
		return 0;
	}
	problem = add_problem(tree);
	if (problem) {
		r = bad_reply(req, err, problem);
		yajl_tree_free(tree);
		return r;
	}
	r = build_add(req, tree, out, outlen);
	yajl_tree_free(tree);
	if (r < 0)
		cni_seterr(err, CNI_ERR_INTERNAL, NULL,
			   "cannot build the result");
	return r;
}
