/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strata-cni's input: the CNI_* environment and the network config on
 * stdin, checked as CNI 1.1 asks (docs/cni.md), and the request line for
 * stratad built from them. Pure: no I/O, so the fuzzer reaches all of it.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_parse.h>

#include "cni_conf.h"

#define MAX_DEPTH 64
#define IFNAME_MAX 15

const char *const cni_supported_versions[] = {
	"0.4.0", "1.0.0", "1.1.0", NULL
};

static const char *const cmd_names[] = {
	[CNI_CMD_ADD] = "ADD",
	[CNI_CMD_DEL] = "DEL",
	[CNI_CMD_CHECK] = "CHECK",
	[CNI_CMD_GC] = "GC",
	[CNI_CMD_STATUS] = "STATUS",
	[CNI_CMD_VERSION] = "VERSION",
};

void cni_seterr(struct cni_err *err, int code, const char *details,
		const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->details, sizeof(err->details), "%s",
		 details ? details : "");
}

void cni_env_get(struct cni_env *env)
{
	*env = (struct cni_env){
		.command = getenv("CNI_COMMAND"),
		.containerid = getenv("CNI_CONTAINERID"),
		.netns = getenv("CNI_NETNS"),
		.ifname = getenv("CNI_IFNAME"),
		.args = getenv("CNI_ARGS"),
		.path = getenv("CNI_PATH"),
	};
}

/* ---- JSON helpers -------------------------------------------------------- */

struct check {
	int depth;
	const char *why;
};

static int check_open(void *ctx)
{
	struct check *ck = ctx;

	if (++ck->depth > MAX_DEPTH) {
		ck->why = "nested deeper than 64 levels";
		return 0;
	}
	return 1;
}

static int check_close(void *ctx)
{
	struct check *ck = ctx;

	ck->depth--;
	return 1;
}

/* yajl_tree keeps strings NUL-terminated without a length: refuse \u0000
 * rather than let a name or an address silently end early. */
static int check_string(void *ctx, const unsigned char *s, size_t len)
{
	struct check *ck = ctx;

	if (memchr(s, '\0', len)) {
		ck->why = "\\u0000 in a string is not supported";
		return 0;
	}
	return 1;
}

static const yajl_callbacks check_callbacks = {
	.yajl_string = check_string,
	.yajl_start_map = check_open,
	.yajl_map_key = check_string,
	.yajl_end_map = check_close,
	.yajl_start_array = check_open,
	.yajl_end_array = check_close,
};

/* yajl_tree_parse says what but not where: a first pass finds where. */
int cni_json_parse(const char *buf, size_t len, yajl_val *tree, char *why,
		   size_t whylen)
{
	struct check ck = { 0 };
	unsigned char *msg;
	const char *m, *p;
	yajl_status st;
	yajl_handle h;
	size_t at, mlen;
	char *copy;

	*tree = NULL;
	h = yajl_alloc(&check_callbacks, NULL, &ck);
	if (!h) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		at = len;
	} else {
		at = yajl_get_bytes_consumed(h);
	}
	if (st == yajl_status_client_canceled) {
		snprintf(why, whylen, "invalid JSON at byte %zu: %s", at,
			 ck.why);
		yajl_free(h);
		return -EINVAL;
	}
	if (st != yajl_status_ok) {
		msg = yajl_get_error(h, 0, NULL, 0);
		m = msg ? (const char *)msg : "parse error";
		/* "lexical error: invalid char in json text.\n": the reason */
		p = strstr(m, "error: ");
		if (p)
			m = p + 7;
		mlen = strcspn(m, "\n");
		snprintf(why, whylen, "invalid JSON at byte %zu: %.*s", at,
			 (int)mlen, m);
		if (msg)
			yajl_free_error(h, msg);
		yajl_free(h);
		return -EINVAL;
	}
	yajl_free(h);

	copy = malloc(len + 1);
	if (!copy) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	*tree = yajl_tree_parse(copy, why, whylen);
	free(copy);
	if (!*tree)
		return -ENOMEM;
	return 0;
}

yajl_val cni_get(yajl_val obj, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

static const char *get_str(yajl_val obj, const char *key)
{
	yajl_val v = cni_get(obj, key);

	return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Env values and messages quoting them may hold any bytes: what is not
 * UTF-8 becomes '?', so the document stays JSON. */
void cni_gen_str(yajl_gen g, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i, n;
	char *copy;

	for (i = 0; i < len; i += n)
		if (!(n = utf8_len(u + i)))
			break;
	if (i >= len) {
		yajl_gen_string(g, u, len);
		return;
	}
	copy = strdup(s);
	if (!copy) {
		yajl_gen_string(g, (const unsigned char *)"?", 1);
		return;
	}
	for (i = 0; i < len; i += n) {
		n = utf8_len(u + i);
		if (!n) {
			copy[i] = '?';
			n = 1;
		}
	}
	yajl_gen_string(g, (const unsigned char *)copy, len);
	free(copy);
}

static void gen_key(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

void cni_gen_value(yajl_gen g, yajl_val v)
{
	size_t i;

	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			gen_key(g, v->u.object.keys[i]);
			cni_gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			cni_gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		yajl_gen_string(g, (const unsigned char *)v->u.string,
				strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else {
		yajl_gen_null(g);
	}
}

/* The generated document plus '\n', in a buffer of its own. */
int cni_gen_finish(yajl_gen g, char **out, size_t *len)
{
	const unsigned char *buf;
	size_t n;
	char *p;

	*out = NULL;
	*len = 0;
	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok || !n) {
		yajl_gen_free(g);
		return -EINVAL;
	}
	p = malloc(n + 2);
	if (!p) {
		yajl_gen_free(g);
		return -ENOMEM;
	}
	memcpy(p, buf, n);
	p[n] = '\n';
	p[n + 1] = '\0';
	yajl_gen_free(g);
	*out = p;
	*len = n + 1;
	return 0;
}

/* ---- the environment ----------------------------------------------------- */

static bool name_ok(const char *s)
{
	size_t i;

	if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') ||
		       (s[0] >= 'A' && s[0] <= 'Z') ||
		       (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* The kernel's dev_valid_name(). */
static const char *ifname_problem(const char *s)
{
	size_t i;

	if (strlen(s) > IFNAME_MAX)
		return "is longer than 15 characters";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "may not be . or ..";
	for (i = 0; s[i]; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == ' ' ||
		    (s[i] >= '\t' && s[i] <= '\r'))
			return "may not contain '/', ':' or whitespace";
	return NULL;
}

static int check_env(struct cni_req *req, const struct cni_env *env,
		     struct cni_err *err)
{
	bool container = req->cmd == CNI_CMD_ADD || req->cmd == CNI_CMD_DEL ||
			 req->cmd == CNI_CMD_CHECK;
	const char *why;

	if (!container)
		return 0;
	if (!env->containerid || !env->containerid[0]) {
		cni_seterr(err, CNI_ERR_ENV, NULL,
			   "CNI_CONTAINERID is not set (%s needs it)",
			   cmd_names[req->cmd]);
		return -EINVAL;
	}
	if (!name_ok(env->containerid)) {
		cni_seterr(err, CNI_ERR_ENV, env->containerid,
			   "CNI_CONTAINERID is invalid: it must match "
			   "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$");
		return -EINVAL;
	}
	if (!env->ifname || !env->ifname[0]) {
		cni_seterr(err, CNI_ERR_ENV, NULL,
			   "CNI_IFNAME is not set (%s needs it)",
			   cmd_names[req->cmd]);
		return -EINVAL;
	}
	why = ifname_problem(env->ifname);
	if (why) {
		cni_seterr(err, CNI_ERR_ENV, env->ifname,
			   "CNI_IFNAME is invalid: it %s", why);
		return -EINVAL;
	}
	/* DEL goes ahead without a netns: the pod may be gone already */
	if (req->cmd != CNI_CMD_DEL && (!env->netns || !env->netns[0])) {
		cni_seterr(err, CNI_ERR_ENV, NULL,
			   "CNI_NETNS is not set (%s needs it)",
			   cmd_names[req->cmd]);
		return -EINVAL;
	}
	req->container_id = env->containerid;
	req->ifname = env->ifname;
	req->netns = env->netns ? env->netns : "";
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "true")) {
		*b = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcasecmp(s, "false")) {
		*b = false;
		return 0;
	}
	return -EINVAL;
}

/* One K=V of CNI_ARGS, split in place: 0, or -EINVAL when malformed. */
static int split_pair(char *pair, char **val)
{
	char *eq = strchr(pair, '=');

	if (!eq || eq == pair)
		return -EINVAL;
	*eq = '\0';
	*val = eq + 1;
	return 0;
}

static int set_str(char **dst, const char *val, struct cni_err *err)
{
	char *p = strdup(val);

	if (!p) {
		cni_seterr(err, CNI_ERR_INTERNAL, NULL, "out of memory");
		return -ENOMEM;
	}
	free(*dst);
	*dst = p;
	return 0;
}

/* "K=V;K=V": IgnoreUnknown and K8S_POD_* are known, the pod's namespace
 * and name go with the request. */
static int parse_args(struct cni_req *req, const char *args,
		      struct cni_err *err)
{
	char *copy, *pair, *next, *val;
	bool ignore = false;
	int pass, r = 0;

	if (!args || !args[0])
		return 0;
	copy = malloc(strlen(args) + 1);
	if (!copy) {
		cni_seterr(err, CNI_ERR_INTERNAL, NULL, "out of memory");
		return -ENOMEM;
	}
	/* first IgnoreUnknown, wherever it is; then every key */
	for (pass = 0; pass < 2 && !r; pass++) {
		strcpy(copy, args);
		for (pair = copy; pair && !r; pair = next) {
			next = strchr(pair, ';');
			if (next)
				*next++ = '\0';
			if (split_pair(pair, &val) < 0) {
				cni_seterr(err, CNI_ERR_ENV, args,
					   "CNI_ARGS is malformed: \"%s\" is "
					   "not KEY=VALUE", pair);
				r = -EINVAL;
			} else if (!strcmp(pair, "IgnoreUnknown")) {
				if (parse_bool(val, &ignore) < 0) {
					cni_seterr(err, CNI_ERR_ENV, args,
						   "CNI_ARGS is malformed: "
						   "IgnoreUnknown=%s is not "
						   "a boolean", val);
					r = -EINVAL;
				}
			} else if (pass == 0) {
				continue;
			} else if (!strcmp(pair, "K8S_POD_NAMESPACE")) {
				r = set_str(&req->pod_namespace, val, err);
			} else if (!strcmp(pair, "K8S_POD_NAME")) {
				r = set_str(&req->pod_name, val, err);
			} else if (strncmp(pair, "K8S_POD_", 8) && !ignore) {
				cni_seterr(err, CNI_ERR_FIELD, args,
					   "CNI_ARGS: unsupported key %s "
					   "(value \"%s\"); set "
					   "IgnoreUnknown=1 to ignore it",
					   pair, val);
				r = -EINVAL;
			}
		}
	}
	free(copy);
	return r;
}

/* ---- the config ---------------------------------------------------------- */

static bool version_supported(const char *v)
{
	size_t i;

	for (i = 0; cni_supported_versions[i]; i++)
		if (!strcmp(v, cni_supported_versions[i]))
			return true;
	return false;
}

static int int_key(yajl_val conf, const char *key, long long lo,
		   long long hi, int *out, struct cni_err *err)
{
	yajl_val v = cni_get(conf, key);

	if (!v)
		return 0;
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < lo ||
	    YAJL_GET_INTEGER(v) > hi) {
		cni_seterr(err, CNI_ERR_CONFIG, NULL,
			   "invalid network configuration: %s must be an "
			   "integer from %lld to %lld", key, lo, hi);
		return -EINVAL;
	}
	*out = (int)YAJL_GET_INTEGER(v);
	return 0;
}

/* Checked before stratad acts, so the result can be built after. */
static bool prev_shape_ok(yajl_val prev)
{
	static const char *const keys[] = { "interfaces", "ips", "routes" };
	yajl_val v;
	size_t k, i;

	for (k = 0; k < 3; k++) {
		v = cni_get(prev, keys[k]);
		if (!v || YAJL_IS_NULL(v))
			continue;
		if (!YAJL_IS_ARRAY(v))
			return false;
		for (i = 0; i < v->u.array.len; i++)
			if (!YAJL_IS_OBJECT(v->u.array.values[i]))
				return false;
	}
	return true;
}

/* The keys strata-cni itself reads; any other key is left alone. */
static int check_keys(struct cni_req *req, struct cni_err *err)
{
	yajl_val conf = req->conf, v;

	v = cni_get(conf, "name");
	if (!v) {
		cni_seterr(err, CNI_ERR_CONFIG, NULL,
			   "invalid network configuration: no name");
		return -EINVAL;
	}
	if (!YAJL_IS_STRING(v) || !name_ok(v->u.string)) {
		cni_seterr(err, CNI_ERR_CONFIG,
			   YAJL_IS_STRING(v) ? v->u.string : NULL,
			   "invalid network configuration: name must be a "
			   "string matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$");
		return -EINVAL;
	}
	req->name = v->u.string;

	v = cni_get(conf, "socket");
	if (v) {
		if (!YAJL_IS_STRING(v) || v->u.string[0] != '/' ||
		    strlen(v->u.string) > CNI_MAX_SOCKET) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: socket "
				   "must be an absolute path of at most %d "
				   "bytes", CNI_MAX_SOCKET);
			return -EINVAL;
		}
		strcpy(req->socket, v->u.string);
	}
	if (int_key(conf, "mtu", 68, 65535, &req->mtu, err) < 0 ||
	    int_key(conf, "timeout", 1, 3600, &req->timeout, err) < 0)
		return -EINVAL;

	v = cni_get(conf, "dns");
	if (v && !YAJL_IS_NULL(v)) {
		if (!YAJL_IS_OBJECT(v)) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: dns must "
				   "be an object");
			return -EINVAL;
		}
		req->dns = v;
	}

	/* DEL must not depend on the cached result: it is not read */
	v = cni_get(conf, "prevResult");
	if (req->cmd == CNI_CMD_ADD || req->cmd == CNI_CMD_CHECK) {
		if (v && !YAJL_IS_NULL(v) && !YAJL_IS_OBJECT(v)) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: "
				   "prevResult must be an object");
			return -EINVAL;
		}
		if (YAJL_IS_OBJECT(v))
			req->prev = v;
		if (req->prev && !prev_shape_ok(req->prev)) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: "
				   "prevResult's interfaces, ips and routes "
				   "must be arrays of objects");
			return -EINVAL;
		}
	}
	if (req->cmd == CNI_CMD_CHECK && !req->prev) {
		cni_seterr(err, CNI_ERR_CONFIG, NULL,
			   "invalid network configuration: CHECK needs a "
			   "prevResult");
		return -EINVAL;
	}
	return 0;
}

static bool all_space(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!buf[i] || !strchr(" \t\r\n", buf[i]))
			return false;
	return true;
}

static int parse_command(struct cni_req *req, const char *s,
			 struct cni_err *err)
{
	size_t i;

	if (!s || !s[0]) {
		cni_seterr(err, CNI_ERR_ENV, NULL, "CNI_COMMAND is not set");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
		if (!strcmp(s, cmd_names[i])) {
			req->cmd = (enum cni_cmd)i;
			return 0;
		}
	}
	cni_seterr(err, CNI_ERR_ENV, s, "unknown CNI_COMMAND: %s", s);
	return -EINVAL;
}

static void supported_list(char *buf, size_t len)
{
	size_t i, off = 0;

	off += snprintf(buf, len, "[");
	for (i = 0; cni_supported_versions[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s\"%s\"",
				i ? " " : "", cni_supported_versions[i]);
	if (off < len)
		snprintf(buf + off, len - off, "]");
}

int cni_parse(struct cni_req *req, const struct cni_env *env,
	      const char *in, size_t len, struct cni_err *err)
{
	char why[256], list[64], details[sizeof(err->details)];
	yajl_val v;
	int r, jr = 0;

	*req = (struct cni_req){
		.socket = CNI_DEFAULT_SOCKET,
		.timeout = CNI_DEFAULT_TIMEOUT,
	};
	*err = (struct cni_err){ 0 };

	r = parse_command(req, env->command, err);
	if (r < 0)
		return r;
	if (len > CNI_MAX_MSG) {
		cni_seterr(err, CNI_ERR_DECODE, NULL,
			   "network configuration larger than %d bytes",
			   CNI_MAX_MSG);
		return -EINVAL;
	}
	/* parsed first so errors can answer in the config's version */
	if (all_space(in, len)) {
		snprintf(why, sizeof(why), "no network configuration on stdin");
		jr = -EINVAL;
	} else {
		jr = cni_json_parse(in, len, &req->conf, why, sizeof(why));
	}
	if (jr == 0 && !YAJL_IS_OBJECT(req->conf)) {
		snprintf(why, sizeof(why),
			 "the network configuration is not a JSON object");
		jr = -EINVAL;
	}
	v = jr == 0 ? cni_get(req->conf, "cniVersion") : NULL;
	if (YAJL_IS_STRING(v))
		req->version = v->u.string;

	if (req->cmd == CNI_CMD_VERSION) {
		/* stdin is optional here; an answer names the input version */
		if (jr == -EINVAL && all_space(in, len))
			jr = 0;
		if (!jr && v && !YAJL_IS_STRING(v)) {
			snprintf(why, sizeof(why),
				 "cniVersion must be a string");
			jr = -EINVAL;
		}
		if (jr < 0) {
			cni_seterr(err, jr == -ENOMEM ? CNI_ERR_INTERNAL :
				   CNI_ERR_DECODE, NULL, "%s", why);
			return jr;
		}
		if (!req->version)
			req->version = "1.1.0";
		return 0;
	}

	r = check_env(req, env, err);
	if (r < 0)
		return r;
	if (jr < 0) {
		cni_seterr(err, jr == -ENOMEM ? CNI_ERR_INTERNAL :
			   CNI_ERR_DECODE, NULL, "%s", why);
		return jr;
	}
	if (v && !YAJL_IS_STRING(v)) {
		cni_seterr(err, CNI_ERR_DECODE, NULL,
			   "cniVersion must be a string");
		return -EINVAL;
	}
	/* an old config without cniVersion is 0.1.0, which we do not speak */
	if (!req->version)
		req->version = "0.1.0";
	supported_list(list, sizeof(list));
	if (!version_supported(req->version)) {
		snprintf(details, sizeof(details),
			 "config is \"%.64s\", plugin supports %s",
			 req->version, list);
		cni_seterr(err, CNI_ERR_VERSION, details,
			   "incompatible CNI versions");
		return -EINVAL;
	}
	if ((req->cmd == CNI_CMD_GC || req->cmd == CNI_CMD_STATUS) &&
	    strcmp(req->version, "1.1.0")) {
		snprintf(details, sizeof(details),
			 "%s needs cniVersion 1.1.0, config is \"%s\"",
			 cmd_names[req->cmd], req->version);
		cni_seterr(err, CNI_ERR_VERSION, details,
			   "config version does not allow %s",
			   cmd_names[req->cmd]);
		return -EINVAL;
	}
	r = check_keys(req, err);
	if (r < 0)
		return r;
	if (req->cmd == CNI_CMD_ADD || req->cmd == CNI_CMD_DEL ||
	    req->cmd == CNI_CMD_CHECK)
		r = parse_args(req, env->args, err);
	return r;
}

void cni_req_free(struct cni_req *req)
{
	yajl_tree_free(req->conf);
	free(req->pod_namespace);
	free(req->pod_name);
	*req = (struct cni_req){ 0 };
}

/* ---- the request --------------------------------------------------------- */

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
	gen_key(g, k);
	cni_gen_str(g, v);
}

/* CHECK's prev: the pod interface's addresses and MAC from prevResult. */
static int gen_prev(yajl_gen g, const struct cni_req *req,
		    struct cni_err *err)
{
	yajl_val ifs = cni_get(req->prev, "interfaces");
	yajl_val ips = cni_get(req->prev, "ips");
	const char *mac = NULL, *name, *sandbox;
	long long pod = -1;
	yajl_val ip, idx;
	size_t i;

	for (i = 0; YAJL_IS_ARRAY(ifs) && i < ifs->u.array.len; i++) {
		name = get_str(ifs->u.array.values[i], "name");
		sandbox = get_str(ifs->u.array.values[i], "sandbox");
		if (name && sandbox && sandbox[0] &&
		    !strcmp(name, req->ifname)) {
			pod = (long long)i;
			mac = get_str(ifs->u.array.values[i], "mac");
		}
	}
	gen_key(g, "prev");
	yajl_gen_map_open(g);
	gen_key(g, "ips");
	yajl_gen_array_open(g);
	for (i = 0; YAJL_IS_ARRAY(ips) && i < ips->u.array.len; i++) {
		ip = ips->u.array.values[i];
		if (!get_str(ip, "address")) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: "
				   "prevResult's ips[%zu] has no address", i);
			return -EINVAL;
		}
		/* with the pod interface known, only its addresses: others
		 * may be another plugin's */
		idx = cni_get(ip, "interface");
		if (pod >= 0 && !(YAJL_IS_INTEGER(idx) &&
				  YAJL_GET_INTEGER(idx) == pod))
			continue;
		cni_gen_str(g, get_str(ip, "address"));
	}
	yajl_gen_array_close(g);
	if (mac)
		gen_kv(g, "mac", mac);
	yajl_gen_map_close(g);
	return 0;
}

struct attachment {
	const char *id;
	const char *ifname;
};

static int cmp_attachment(const void *a, const void *b)
{
	const struct attachment *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : strcmp(x->ifname, y->ifname);
}

/* GC's valid: the union of both keys the spec and libcni use. */
static int gen_valid(yajl_gen g, const struct cni_req *req,
		     struct cni_err *err)
{
	static const char *const keys[] = {
		"cni.dev/valid-attachments", "cni.dev/attachments"
	};
	struct attachment *list = NULL;
	yajl_val arr[2], a;
	size_t n = 0, i, k;

	for (k = 0; k < 2; k++) {
		arr[k] = cni_get(req->conf, keys[k]);
		if (arr[k] && !YAJL_IS_ARRAY(arr[k])) {
			cni_seterr(err, CNI_ERR_CONFIG, NULL,
				   "invalid network configuration: %s must "
				   "be an array", keys[k]);
			return -EINVAL;
		}
		if (arr[k])
			n += arr[k]->u.array.len;
	}
	/* GC without the list would release every attachment */
	if (!arr[0] && !arr[1]) {
		cni_seterr(err, CNI_ERR_CONFIG, NULL,
			   "invalid network configuration: GC needs "
			   "cni.dev/valid-attachments");
		return -EINVAL;
	}
	if (n) {
		list = calloc(n, sizeof(*list));
		if (!list) {
			cni_seterr(err, CNI_ERR_INTERNAL, NULL,
				   "out of memory");
			return -ENOMEM;
		}
	}
	n = 0;
	for (k = 0; k < 2; k++) {
		for (i = 0; arr[k] && i < arr[k]->u.array.len; i++) {
			a = arr[k]->u.array.values[i];
			list[n].id = get_str(a, "containerID");
			list[n].ifname = get_str(a, "ifname");
			if (!list[n].id || !list[n].ifname) {
				cni_seterr(err, CNI_ERR_CONFIG, NULL,
					   "invalid network configuration: "
					   "%s[%zu] needs the strings "
					   "containerID and ifname",
					   keys[k], i);
				free(list);
				return -EINVAL;
			}
			n++;
		}
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_attachment);
	gen_key(g, "valid");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		if (i && !cmp_attachment(&list[i - 1], &list[i]))
			continue;
		yajl_gen_map_open(g);
		gen_kv(g, "container_id", list[i].id);
		gen_kv(g, "ifname", list[i].ifname);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	free(list);
	return 0;
}

int cni_request(const struct cni_req *req, char **out, size_t *len,
		struct cni_err *err)
{
	bool container = req->cmd == CNI_CMD_ADD || req->cmd == CNI_CMD_DEL ||
			 req->cmd == CNI_CMD_CHECK;
	yajl_gen g;
	int r;

	*out = NULL;
	g = yajl_gen_alloc(NULL);
	if (!g) {
		cni_seterr(err, CNI_ERR_INTERNAL, NULL, "out of memory");
		return -ENOMEM;
	}
	yajl_gen_map_open(g);
	gen_kv(g, "command", cmd_names[req->cmd]);
	gen_kv(g, "network", req->name);
	if (container) {
		gen_kv(g, "container_id", req->container_id);
		gen_kv(g, "ifname", req->ifname);
		gen_kv(g, "netns", req->netns);
		if (req->mtu) {
			gen_key(g, "mtu");
			yajl_gen_integer(g, req->mtu);
		}
		if (req->pod_namespace || req->pod_name) {
			gen_key(g, "pod");
			yajl_gen_map_open(g);
			if (req->pod_namespace)
				gen_kv(g, "namespace", req->pod_namespace);
			if (req->pod_name)
				gen_kv(g, "name", req->pod_name);
			yajl_gen_map_close(g);
		}
	}
	r = 0;
	if (req->cmd == CNI_CMD_CHECK)
		r = gen_prev(g, req, err);
	else if (req->cmd == CNI_CMD_GC)
		r = gen_valid(g, req, err);
	if (r < 0) {
		yajl_gen_free(g);
		return r;
	}
	yajl_gen_map_close(g);
	r = cni_gen_finish(g, out, len);
	if (r < 0) {
		cni_seterr(err, CNI_ERR_INTERNAL, NULL,
			   "cannot build the request");
		return r;
	}
	if (*len > CNI_MAX_MSG) {
		free(*out);
		*out = NULL;
		cni_seterr(err, CNI_ERR_CONFIG, NULL,
			   "the request for stratad would be larger than "
			   "%d bytes", CNI_MAX_MSG);
		return -EINVAL;
	}
	return 0;
}

/* ---- documents for stdout ------------------------------------------------ */

int cni_version_doc(const struct cni_req *req, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	size_t i;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_kv(g, "cniVersion", req->version ? req->version : "1.1.0");
	gen_key(g, "supportedVersions");
	yajl_gen_array_open(g);
	for (i = 0; cni_supported_versions[i]; i++)
		cni_gen_str(g, cni_supported_versions[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return cni_gen_finish(g, out, len);
}

int cni_error_doc(const char *version, const struct cni_err *err,
		  char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_kv(g, "cniVersion", version ? version : "1.1.0");
	gen_key(g, "code");
	yajl_gen_integer(g, err->code ? err->code : CNI_ERR_INTERNAL);
	gen_kv(g, "msg", err->msg[0] ? err->msg : "unknown error");
	if (err->details[0])
		gen_kv(g, "details", err->details);
	yajl_gen_map_close(g);
	return cni_gen_finish(g, out, len);
}
