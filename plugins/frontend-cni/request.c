/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "request.h"

static yajl_val member(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(obj, path, yajl_t_any);
}

/* A name that is safe inside a handle "cni/NET/CID/IF" and a log line. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

/* Copy member key, a valid name, into out (max + 1 bytes). */
static int name_member(yajl_val obj, const char *key, char *out, size_t max,
		       char *err, size_t errlen)
{
	yajl_val v = member(obj, key);

	if (!v || !YAJL_IS_STRING(v) || !name_ok(v->u.string, max)) {
		snprintf(err, errlen, "request: \"%s\" is %s", key,
			 !v ? "missing" : "not a valid name");
		return 7;
	}
	memcpy(out, v->u.string, strlen(v->u.string) + 1);
	return 0;
}

/* "10.1.2.3/32" or "10.1.2.3": the address itself, as a /32 or /128. */
static int addr_parse(const char *s, struct strata_prefix *p)
{
	char a[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(s, "/");

	memset(p, 0, sizeof(*p));
	if (n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, p->addr) == 1) {
		p->family = STRATA_AF_INET;
		p->len = 32;
	} else if (inet_pton(AF_INET6, a, p->addr) == 1) {
		p->family = STRATA_AF_INET6;
		p->len = 128;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_prev(yajl_val req, struct cni_request *r, char *err,
		      size_t errlen)
{
	const char *ips_path[] = { "prev", "ips", NULL };
	const char *mac_path[] = { "prev", "mac", NULL };
	yajl_val ips = yajl_tree_get(req, ips_path, yajl_t_any);
	yajl_val mac = yajl_tree_get(req, mac_path, yajl_t_any);

	if (ips && !YAJL_IS_ARRAY(ips)) {
		snprintf(err, errlen, "request: \"prev.ips\" is not a list");
		return 7;
	}
	for (size_t i = 0; ips && i < ips->u.array.len; i++) {
		yajl_val v = ips->u.array.values[i];

		if (r->n_prev == 2) {
			snprintf(err, errlen, "request: \"prev.ips\" holds "
				 "more than one address per family");
			return 7;
		}
		if (!YAJL_IS_STRING(v) ||
		    addr_parse(v->u.string, &r->prev[r->n_prev]) < 0) {
			snprintf(err, errlen, "prevResult: %s%s%s is not an "
				 "address", YAJL_IS_STRING(v) ? "\"" : "",
				 YAJL_IS_STRING(v) ? v->u.string :
						     "a non-string",
				 YAJL_IS_STRING(v) ? "\"" : "");
			return 7;
		}
		r->n_prev++;
	}
	if (mac) {
		if (!YAJL_IS_STRING(mac) ||
		    strlen(mac->u.string) >= sizeof(r->prev_mac)) {
			snprintf(err, errlen,
				 "request: \"prev.mac\" is not a MAC address");
			return 7;
		}
		strcpy(r->prev_mac, mac->u.string);
	}
	return 0;
}

static int parse_valid(yajl_val req, struct cni_request *r, char *err,
		       size_t errlen)
{
	yajl_val v = member(req, "valid");
	size_t n;

	if (!v || !YAJL_IS_ARRAY(v)) {
		snprintf(err, errlen, "request: GC needs \"valid\", a list");
		return 7;
	}
	n = v->u.array.len;
	r->valid = calloc(n ? n : 1, sizeof(*r->valid));
	if (!r->valid) {
		snprintf(err, errlen, "out of memory");
		return 5;
	}
	for (size_t i = 0; i < n; i++) {
		yajl_val e = v->u.array.values[i];
		yajl_val cid = YAJL_IS_OBJECT(e) ? member(e, "container_id") :
						    NULL;
		yajl_val ifn = YAJL_IS_OBJECT(e) ? member(e, "ifname") : NULL;

		if (!cid || !YAJL_IS_STRING(cid) || !ifn ||
		    !YAJL_IS_STRING(ifn)) {
			snprintf(err, errlen, "request: \"valid\"[%zu] needs "
				 "\"container_id\" and \"ifname\" strings", i);
			return 7;
		}
		r->valid[i].container_id = strdup(cid->u.string);
		r->valid[i].ifname = strdup(ifn->u.string);
		r->n_valid = i + 1;
		if (!r->valid[i].container_id || !r->valid[i].ifname) {
			snprintf(err, errlen, "out of memory");
			return 5;
		}
	}
	return 0;
}

/* A Kubernetes object name: lower-case alphanumerics, '-' (and '.' in a
 * subdomain), starting and ending alphanumeric. */
static bool kube_name(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-' && !(dots && c == '.'))
			return false;
		if (!alnum && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* "pod": {"namespace": .., "name": ..}, each optional. */
static int parse_pod(yajl_val req, struct cni_request *r, char *err,
		     size_t errlen)
{
	yajl_val pod = member(req, "pod"), ns, name;

	if (!pod)
		return 0;
	if (!YAJL_IS_OBJECT(pod)) {
		snprintf(err, errlen, "request: \"pod\" is not an object");
		return 7;
	}
	ns = member(pod, "namespace");
	name = member(pod, "name");
	if (ns && (!YAJL_IS_STRING(ns) ||
		   !kube_name(ns->u.string, CNI_POD_NAMESPACE_MAX, false))) {
		snprintf(err, errlen, "request: \"pod.namespace\" is not a "
			 "Kubernetes namespace name");
		return 7;
	}
	if (name && (!YAJL_IS_STRING(name) ||
		     !kube_name(name->u.string, CNI_POD_NAME_MAX, true))) {
		snprintf(err, errlen, "request: \"pod.name\" is not a "
			 "Kubernetes pod name");
		return 7;
	}
	if (ns)
		strcpy(r->pod_namespace, ns->u.string);
	if (name)
		strcpy(r->pod_name, name->u.string);
	return 0;
}

static int parse(yajl_val req, struct cni_request *r, char *err,
		 size_t errlen)
{
	static const char *const names[] = { "ADD", "DEL", "CHECK", "GC",
					     "STATUS" };
	yajl_val cmd = member(req, "command");
	yajl_val mtu;
	int rc;
	size_t i;

	if (!cmd || !YAJL_IS_STRING(cmd)) {
		snprintf(err, errlen, "request: \"command\" is %s",
			 cmd ? "not a string" : "missing");
		return 7;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(cmd->u.string, names[i]))
			break;
	if (i == sizeof(names) / sizeof(names[0])) {
		snprintf(err, errlen, "unknown command \"%.64s\"",
			 cmd->u.string);
		return 4;
	}
	r->command = (enum cni_command)i;
	rc = name_member(req, "network", r->network, CNI_NETWORK_MAX, err,
			 errlen);
	if (rc)
		return rc;
	if (r->command == CNI_GC)
		return parse_valid(req, r, err, errlen);
	if (r->command == CNI_STATUS)
		return 0;
	rc = name_member(req, "container_id", r->container_id,
			 CNI_CONTAINER_MAX, err, errlen);
	if (!rc)
		rc = name_member(req, "ifname", r->ifname, CNI_IFNAME_MAX, err,
				 errlen);
	if (!rc)
		rc = parse_pod(req, r, err, errlen);
	if (rc)
		return rc;
	mtu = member(req, "mtu");
	if (mtu && (!YAJL_IS_INTEGER(mtu) || YAJL_GET_INTEGER(mtu) < 68 ||
		    YAJL_GET_INTEGER(mtu) > 65535)) {
		snprintf(err, errlen, "request: \"mtu\" must be an integer "
			 "in 68..65535");
		return 7;
	}
	r->mtu = mtu ? (uint32_t)YAJL_GET_INTEGER(mtu) : 0;
	return r->command == CNI_CHECK ? parse_prev(req, r, err, errlen) : 0;
}

int cni_request_parse(const char *buf, size_t len, struct cni_request **out,
		      char *err, size_t errlen)
{
	struct cni_request *r;
	char yerr[256] = "";
	char *text;
	yajl_val req;
	int rc;

	*out = NULL;
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "request is not JSON: a NUL byte");
		return 6;
	}
	text = malloc(len + 1);
	r = calloc(1, sizeof(*r));
	if (!text || !r) {
		free(text);
		free(r);
		snprintf(err, errlen, "out of memory");
		return 5;
	}
	memcpy(text, buf, len);
	text[len] = '\0';
	req = yajl_tree_parse(text, yerr, sizeof(yerr));
	free(text);
	if (!req || !YAJL_IS_OBJECT(req)) {
		yerr[strcspn(yerr, "\n")] = '\0';
		snprintf(err, errlen, "request is not a JSON object%s%s",
			 req ? "" : ": ", req ? "" : yerr);
		yajl_tree_free(req);
		free(r);
		return 6;
	}
	rc = parse(req, r, err, errlen);
	yajl_tree_free(req);
	if (rc) {
		cni_request_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void cni_request_free(struct cni_request *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_valid; i++) {
		free(r->valid[i].container_id);
		free(r->valid[i].ifname);
	}
	free(r->valid);
	free(r);
}
