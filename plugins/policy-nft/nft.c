/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata-filter table through libnftables: read as nft's JSON and
 * parsed with yajl into a model (elements in the text nft lists them
 * with, chains with the digest of their last rule's comment), and scripts
 * applied as one transaction. Nothing here names another table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>
#include <yajl/yajl_tree.h>

#include "nft.h"

#define LIST_CMD "list table " NFTM_FAMILY " " NFTM_TABLE
#define DIGEST_PREFIX "strata:"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* nft's message on one line: the error, then the command it points at. */
static void copy_nft_error(const char *msg, char *err, size_t errlen)
{
	const char *nl, *cmd;
	int first;

	if (!msg || !*msg) {
		set_err(err, errlen, "nftables transaction failed");
		return;
	}
	nl = strchr(msg, '\n');
	first = nl ? (int)(nl - msg) : (int)strlen(msg);
	cmd = nl ? nl + 1 : "";
	nl = strchr(cmd, '\n');
	if (*cmd)
		set_err(err, errlen, "%.*s: in '%.*s'", first, msg,
			nl ? (int)(nl - cmd) : (int)strlen(cmd), cmd);
	else
		set_err(err, errlen, "%.*s", first, msg);
}

struct nft_ctx *nftk_open(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!nft)
		return NULL;
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		nft_ctx_free(nft);
		return NULL;
	}
	return nft;
}

void nftk_close(struct nft_ctx *nft)
{
	if (nft)
		nft_ctx_free(nft);
}

/*
 * One command; its output (JSON when json) copied into *out when out is
 * not NULL. The buffers are drained either way, so that the next command
 * starts with them empty. 0, or -EINVAL with nft's message in err.
 */
static int run(struct nft_ctx *nft, const char *cmd, bool json, char **out,
	       char *err, size_t errlen)
{
	unsigned int flags = nft_ctx_output_get_flags(nft);
	const char *o, *e;
	int rc;

	/* JSON output also makes nft try its input as JSON: only for reads */
	nft_ctx_output_set_flags(nft, json ? flags | NFT_CTX_OUTPUT_JSON :
					     flags & ~NFT_CTX_OUTPUT_JSON);
	rc = nft_run_cmd_from_buffer(nft, cmd);
	nft_ctx_output_set_flags(nft, flags);
	o = nft_ctx_get_output_buffer(nft);
	e = nft_ctx_get_error_buffer(nft);
	if (rc) {
		copy_nft_error(e, err, errlen);
		return -EINVAL;
	}
	if (out) {
		*out = strdup(o ? o : "");
		if (!*out) {
			set_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

int nftk_apply(struct nft_ctx *nft, const char *script, char *err,
	       size_t errlen)
{
	if (!script[0])
		return 0;
	return run(nft, script, false, NULL, err, errlen);
}

/* ---- reading ------------------------------------------------------------- */

/* A string value's text, once YAJL_IS_STRING said it is one. */
static const char *str(yajl_val v)
{
	return v->u.string;
}

static yajl_val get(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return obj ? yajl_tree_get(obj, path, yajl_t_any) : NULL;
}

static const char *get_str(yajl_val obj, const char *key)
{
	yajl_val v = get(obj, key);

	return YAJL_IS_STRING(v) ? str(v) : NULL;
}

/* The text of a type: "ipv4_addr", or "ipv4_addr . inet_service" for the
 * array nft gives a concatenation's. NULL when malformed. */
static char *type_text(yajl_val t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (YAJL_IS_STRING(t))
		return strdup(str(t));
	if (!YAJL_IS_ARRAY(t) || !t->u.array.len)
		return NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < t->u.array.len; i++) {
		yajl_val c = t->u.array.values[i];

		if (!YAJL_IS_STRING(c))
			break;
		fprintf(f, "%s%s", i ? " . " : "", str(c));
	}
	if (fclose(f) || !buf) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The i-th component's type name of a type (concatenation or not). */
static const char *type_at(yajl_val t, size_t i)
{
	if (YAJL_IS_STRING(t))
		return i == 0 ? str(t) : "";
	if (YAJL_IS_ARRAY(t) && i < t->u.array.len &&
	    YAJL_IS_STRING(t->u.array.values[i]))
		return str(t->u.array.values[i]);
	return "";
}

/*
 * An element's value as model.h writes it; type is the (component's) type
 * name, for strings that nft quotes (interface names). False when the
 * value is of a form the model has no text for.
 */
static bool value_text(FILE *f, yajl_val v, yajl_val type, size_t comp)
{
	const char *tn = type_at(type, comp);
	yajl_val x;

	if (YAJL_IS_STRING(v)) {
		if (!strcmp(tn, "ifname"))
			fprintf(f, "\"%s\"", str(v));
		else
			fputs(str(v), f);
		return true;
	}
	if (YAJL_IS_INTEGER(v)) {
		fprintf(f, "%lld", YAJL_GET_INTEGER(v));
		return true;
	}
	if (!YAJL_IS_OBJECT(v) || v->u.object.len != 1)
		return false;
	if ((x = get(v, "elem"))) /* an element with a comment or timeout */
		return value_text(f, get(x, "val"), type, comp);
	if ((x = get(v, "prefix"))) {
		yajl_val addr = get(x, "addr"), len = get(x, "len");

		if (!YAJL_IS_STRING(addr) || !YAJL_IS_INTEGER(len))
			return false;
		fprintf(f, "%s/%lld", str(addr),
			YAJL_GET_INTEGER(len));
		return true;
	}
	if ((x = get(v, "range"))) {
		if (!YAJL_IS_ARRAY(x) || x->u.array.len != 2)
			return false;
		if (!value_text(f, x->u.array.values[0], type, comp))
			return false;
		fputc('-', f);
		return value_text(f, x->u.array.values[1], type, comp);
	}
	if ((x = get(v, "concat"))) {
		if (!YAJL_IS_ARRAY(x))
			return false;
		for (size_t i = 0; i < x->u.array.len; i++) {
			if (i)
				fputs(" . ", f);
			if (!value_text(f, x->u.array.values[i], type, i))
				return false;
		}
		return true;
	}
	return false;
}

/* A verdict: "accept", {"accept": null}, {"jump": {"target": "X"}}. */
static bool verdict_text(FILE *f, yajl_val v)
{
	static const char *const plain[] = { "accept", "drop", "continue",
					     "return" };
	yajl_val t;

	if (YAJL_IS_STRING(v)) {
		fputs(str(v), f);
		return true;
	}
	if (!YAJL_IS_OBJECT(v) || v->u.object.len != 1)
		return false;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (!strcmp(v->u.object.keys[0], plain[i])) {
			fputs(plain[i], f);
			return true;
		}
	if ((t = get(get(v, "jump"), "target")) && YAJL_IS_STRING(t)) {
		fprintf(f, "jump %s", str(t));
		return true;
	}
	if ((t = get(get(v, "goto"), "target")) && YAJL_IS_STRING(t)) {
		fprintf(f, "goto %s", str(t));
		return true;
	}
	return false;
}

/* Text built with fn on a memstream; NULL when fn fails or no memory. */
static char *text_of(bool (*fn)(FILE *, yajl_val, yajl_val, size_t),
		     yajl_val v, yajl_val type)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool ok;

	if (!f)
		return NULL;
	ok = fn(f, v, type, 0);
	if (fclose(f) || !ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool verdict_fn(FILE *f, yajl_val v, yajl_val type, size_t comp)
{
	return verdict_text(f, v);
}

static bool is_interval(yajl_val flags)
{
	if (YAJL_IS_STRING(flags))
		return !strcmp(str(flags), "interval");
	if (!YAJL_IS_ARRAY(flags))
		return false;
	for (size_t i = 0; i < flags->u.array.len; i++) {
		yajl_val x = flags->u.array.values[i];

		if (YAJL_IS_STRING(x) && !strcmp(str(x), "interval"))
			return true;
	}
	return false;
}

struct reader {
	struct nftm *m;
	char *err;
	size_t errlen;
};

static int read_set(struct reader *r, yajl_val o)
{
	const char *name = get_str(o, "name");
	yajl_val type = get(o, "type"), elems = get(o, "elem");
	char *tt = type_text(type);
	struct nftm_set *s;
	int ret = 0;

	if (!name || !tt) {
		free(tt);
		set_err(r->err, r->errlen, "a set without a name or type");
		return -EINVAL;
	}
	s = nftm_set(r->m, name, tt, is_interval(get(o, "flags")));
	free(tt);
	if (!s) {
		set_err(r->err, r->errlen, "set %s: out of memory", name);
		return -ENOMEM;
	}
	for (size_t i = 0; YAJL_IS_ARRAY(elems) && i < elems->u.array.len;
	     i++) {
		char *e = text_of(value_text, elems->u.array.values[i], type);

		if (!e) {
			set_err(r->err, r->errlen,
				"set %s: an element not understood", name);
			return -EINVAL;
		}
		ret = nftm_set_add(s, e);
		free(e);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_map(struct reader *r, yajl_val o)
{
	const char *name = get_str(o, "name"), *data = get_str(o, "map");
	yajl_val type = get(o, "type"), elems = get(o, "elem");
	char *tt = type_text(type), *full = NULL;
	struct nftm_map *mp;
	int ret = 0;

	if (!name || !tt || !data) {
		free(tt);
		set_err(r->err, r->errlen, "a map without a name or type");
		return -EINVAL;
	}
	/* a data map, which the model has no room for, never compares
	 * equal to a verdict map of the same key */
	if (strcmp(data, "verdict")) {
		if (asprintf(&full, "%s : %s", tt, data) < 0)
			full = NULL;
		free(tt);
		tt = full;
		if (!tt)
			return -ENOMEM;
	}
	mp = nftm_map(r->m, name, tt);
	free(tt);
	if (!mp)
		return -ENOMEM;
	for (size_t i = 0; YAJL_IS_ARRAY(elems) && i < elems->u.array.len;
	     i++) {
		yajl_val pair = elems->u.array.values[i];
		char *k = NULL, *v = NULL;

		if (YAJL_IS_ARRAY(pair) && pair->u.array.len == 2) {
			k = text_of(value_text, pair->u.array.values[0], type);
			v = text_of(verdict_fn, pair->u.array.values[1], NULL);
		}
		if (!k || !v) {
			free(k);
			free(v);
			if (full)
				continue;
			set_err(r->err, r->errlen,
				"map %s: an element not understood", name);
			return -EINVAL;
		}
		ret = nftm_map_put(mp, k, v);
		free(k);
		free(v);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_chain(struct reader *r, yajl_val o)
{
	const char *name = get_str(o, "name"), *type = get_str(o, "type");
	const char *hook = get_str(o, "hook"), *policy = get_str(o, "policy");
	yajl_val prio = get(o, "prio");
	char base[160];

	if (!name) {
		set_err(r->err, r->errlen, "a chain without a name");
		return -EINVAL;
	}
	if (type && hook && YAJL_IS_INTEGER(prio))
		snprintf(base, sizeof(base),
			 "type %s hook %s priority %lld; policy %s;", type,
			 hook, YAJL_GET_INTEGER(prio),
			 policy ? policy : "accept");
	if (!nftm_chain(r->m, name, type && hook ? base : NULL))
		return -ENOMEM;
	return 0;
}

/* Only a chain's last rule counts: a rule after the digest (not strata's)
 * leaves the chain with none, so that it is rewritten. */
static void read_rule(struct reader *r, yajl_val o)
{
	const char *chain = get_str(o, "chain"), *comment = get_str(o, "comment");
	struct nftm_chain *c;

	if (!chain)
		return;
	c = (struct nftm_chain *)nftm_find_chain(r->m, chain);
	if (!c)
		return;
	c->digest[0] = '\0';
	if (comment && !strncmp(comment, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) &&
	    strlen(comment + strlen(DIGEST_PREFIX)) == 16)
		memcpy(c->digest, comment + strlen(DIGEST_PREFIX), 17);
}

static int parse(struct reader *r, const char *json)
{
	char why[256] = "";
	yajl_val root = yajl_tree_parse(json, why, sizeof(why));
	yajl_val list = get(root, "nftables");
	int ret = 0;

	if (!YAJL_IS_ARRAY(list)) {
		set_err(r->err, r->errlen, "nft's JSON not understood: %s",
			why[0] ? why : "no \"nftables\" array");
		yajl_tree_free(root);
		return -EINVAL;
	}
	for (size_t i = 0; !ret && i < list->u.array.len; i++) {
		yajl_val item = list->u.array.values[i], o;

		if ((o = get(item, "set")))
			ret = read_set(r, o);
		else if ((o = get(item, "map")))
			ret = read_map(r, o);
		else if ((o = get(item, "chain")))
			ret = read_chain(r, o);
		else if ((o = get(item, "rule")))
			read_rule(r, o);
	}
	/* rules come after their chains: none before any chain is read */
	yajl_tree_free(root);
	return ret;
}

/* Whether the kernel has the table at all (when listing it failed). */
static int table_exists(struct nft_ctx *nft, bool *exists, char *err,
			size_t errlen)
{
	char *out = NULL;
	int ret = run(nft, "list tables " NFTM_FAMILY, false, &out, err,
		      errlen);

	if (ret)
		return ret;
	*exists = false;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (!strcmp(line, "table " NFTM_FAMILY " " NFTM_TABLE))
			*exists = true;
	free(out);
	return 0;
}

int nftk_read(struct nft_ctx *nft, struct nftm **out, char *err,
	      size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	char *json = NULL;
	bool exists = true;
	int ret;

	*out = NULL;
	r.m = nftm_new();
	if (!r.m) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = run(nft, LIST_CMD, true, &json, err, errlen);
	if (ret == -EINVAL) {
		char why[256];

		/* no table: nothing of strata's yet, not an error */
		snprintf(why, sizeof(why), "%s", err ? err : "");
		ret = table_exists(nft, &exists, err, errlen);
		if (!ret && exists) {
			set_err(err, errlen, "%s", why);
			ret = -EINVAL;
		}
		if (!ret && !exists)
			goto done;
	}
	if (ret)
		goto free_model;
	ret = parse(&r, json);
	free(json);
	if (ret)
		goto free_model;
done:
	*out = r.m;
	return 0;
free_model:
	nftm_free(r.m);
	return ret;
}
