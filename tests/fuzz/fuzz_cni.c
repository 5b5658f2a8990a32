/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strata-cni's parsers: the network config on stdin and CNI_ARGS (from
 * the runtime), then stratad's reply. Input: one byte choosing the
 * command, the config up to a NUL, CNI_ARGS up to the next NUL, the
 * reply. Every outcome must be a result or an error with a code, and
 * every document one JSON line; nothing may leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_conf.h"
#include "cni_result.h"

static const char *const commands[] = {
	"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "BOGUS",
};

/* A document: one line, a JSON object. */
static void check_doc(const char *doc, size_t len)
{
	char why[256];
	yajl_val tree;

	if (!len || doc[len - 1] != '\n' || memchr(doc, '\n', len - 1) ||
	    strlen(doc) != len)
		abort();
	if (cni_json_parse(doc, len, &tree, why, sizeof(why)) < 0 ||
	    !YAJL_IS_OBJECT(tree))
		abort();
	yajl_tree_free(tree);
}

static void check_err(const struct cni_req *req, const struct cni_err *err)
{
	size_t len;
	char *doc;

	if (err->code <= 0 || !err->msg[0])
		abort();
	if (cni_error_doc(req->version, err, &doc, &len) < 0)
		abort();
	check_doc(doc, len);
	free(doc);
}

static char *take(const uint8_t **data, size_t *size, size_t *len)
{
	const uint8_t *end = memchr(*data, '\0', *size);
	size_t n = end ? (size_t)(end - *data) : *size;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *data, n);
	s[n] = '\0';
	*len = n;
	*data += end ? n + 1 : n;
	*size -= end ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_env env = {
		.containerid = "c0ffee",
		.ifname = "eth0",
		.netns = "/run/netns/pod",
	};
	struct cni_req req;
	struct cni_err err;
	char *conf, *args, *msg, *out;
	size_t clen, alen, mlen, olen;

	if (size < 1)
		return 0;
	env.command = commands[data[0] % (sizeof(commands) /
					  sizeof(commands[0]))];
	data++;
	size--;
	conf = take(&data, &size, &clen);
	args = take(&data, &size, &alen);
	env.args = args;

	if (cni_parse(&req, &env, conf, clen, &err) < 0) {
		check_err(&req, &err);
		goto free_req;
	}
	if (!req.version)
		abort();
	if (req.cmd == CNI_CMD_VERSION) {
		if (cni_version_doc(&req, &out, &olen) < 0)
			abort();
		check_doc(out, olen);
		free(out);
		goto free_req;
	}
	if (cni_request(&req, &msg, &mlen, &err) < 0) {
		check_err(&req, &err);
		goto free_req;
	}
	check_doc(msg, mlen);
	free(msg);

	if (cni_reply(&req, (const char *)data, size, &out, &olen, &err) < 0) {
		check_err(&req, &err);
		goto free_req;
	}
	if ((req.cmd == CNI_CMD_ADD) != (out != NULL))
		abort();
	if (out)
		check_doc(out, olen);
	free(out);

free_req:
	cni_req_free(&req);
	free(args);
	free(conf);
	return 0;
}
