/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CLI_CNI_CONF_H
#define STRATA_CLI_CNI_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* CNI's error codes (spec section 5) and ours. */
enum {
	CNI_ERR_VERSION = 1,
	CNI_ERR_FIELD = 2,
	CNI_ERR_CONTAINER = 3,
	CNI_ERR_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_CONFIG = 7,
	CNI_ERR_NETNS = 8,
	CNI_ERR_AGAIN = 11,
	CNI_ERR_STATUS = 50,
	CNI_ERR_INTERNAL = 999,
};

#define CNI_DEFAULT_SOCKET "/run/strata/cni.sock"
#define CNI_DEFAULT_TIMEOUT 30
/* stdin, the request and the reply are each at most this long */
#define CNI_MAX_MSG (1 << 20)
#define CNI_MAX_SOCKET 107

enum cni_cmd {
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_GC,
	CNI_CMD_STATUS,
	CNI_CMD_VERSION,
};

struct cni_err {
	int code;
	char msg[512];
	char details[512];
};

/* The CNI_* environment, borrowed (NULL: unset). */
struct cni_env {
	const char *command;
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;
};

struct cni_req {
	enum cni_cmd cmd;
	/* the request's cniVersion (NULL until known) */
	const char *version;
	yajl_val conf;
	/* the rest point into conf or the env */
	const char *name;
	const char *container_id;
	const char *ifname;
	const char *netns;
	yajl_val dns;
	yajl_val prev;
	char socket[CNI_MAX_SOCKET + 1];
	int mtu;
	int timeout;
	/* from CNI_ARGS, owned */
	char *pod_namespace;
	char *pod_name;
};

extern const char *const cni_supported_versions[];

void cni_env_get(struct cni_env *env);

/*
 * Checks the environment and the config on stdin (len bytes, not
 * NUL-terminated) for env->command. Returns 0, or -EINVAL (-ENOMEM) with
 * err filled in; req->version is set whenever the config told it, so an
 * error can be answered in that version. Free with cni_req_free either way.
 */
int cni_parse(struct cni_req *req, const struct cni_env *env,
	      const char *in, size_t len, struct cni_err *err);
void cni_req_free(struct cni_req *req);

/* The one line sent to stratad, '\n' included; free() it. */
int cni_request(const struct cni_req *req, char **out, size_t *len,
		struct cni_err *err);

/* VERSION's answer, and any error, as the document for stdout. */
int cni_version_doc(const struct cni_req *req, char **out, size_t *len);
int cni_error_doc(const char *version, const struct cni_err *err,
		  char **out, size_t *len);

/* Parses JSON strictly (UTF-8, depth 64, no \u0000): 0, or -EINVAL with
 * the reason and byte offset in why. */
int cni_json_parse(const char *buf, size_t len, yajl_val *tree, char *why,
		   size_t whylen);
yajl_val cni_get(yajl_val obj, const char *key);
void cni_gen_value(yajl_gen g, yajl_val v);
void cni_gen_str(yajl_gen g, const char *s);
int cni_gen_finish(yajl_gen g, char **out, size_t *len);

void cni_seterr(struct cni_err *err, int code, const char *details,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
