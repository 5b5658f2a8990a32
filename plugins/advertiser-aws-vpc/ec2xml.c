/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EC2 responses through expat: one parser per call, fed the whole body at
 * once. A stack of frames follows the element path; a table of edges
 * (parent state, local name) -> child state says which elements we know.
 * Anything else is skipped by counting its depth, never stored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ec2xml.h"

/* The text of one value, before its own, smaller cap is checked. */
#define TEXT_MAX EC2_TOKEN_MAX
#define NAME_SHOW 40
#define PATH_MAX_LEN 512
#define MSG_MAX 640
#define NS_SEP '\x1f'

enum kind {
	K_ROUTE_TABLES,
	K_INSTANCES,
	K_INTERFACES,
	K_RETURN,
	K_ERROR,
};

enum st {
	S_NONE = 0,
	/* roots */
	S_RT_ROOT, S_IN_ROOT, S_IF_ROOT, S_RET_ROOT, S_ERR_ROOT,
	/* containers */
	S_RT_SET, S_RT, S_AS_SET, S_AS, S_AS_STATE, S_RO_SET, S_RO,
	S_RES_SET, S_RES, S_IN_SET, S_IN, S_PLACEMENT, S_IN_STATE,
	S_IN_IF_SET, S_IF_SET, S_IF, S_ATTACH, S_ERRS, S_ERR,
	/* values: every state after S_LEAF */
	S_LEAF,
	L_REQID, L_TOKEN, L_RETURN,
	L_RT_ID, L_RT_VPC,
	L_AS_ID, L_AS_SUBNET, L_AS_GW, L_AS_MAIN, L_AS_STATE,
	L_RO_DST4, L_RO_DST6, L_RO_PL, L_RO_GW, L_RO_INST, L_RO_ENI,
	L_RO_NAT, L_RO_TGW, L_RO_PCX, L_RO_EIGW, L_RO_LGW, L_RO_CAGW,
	L_RO_STATE, L_RO_ORIGIN,
	L_IN_ID, L_IN_SUBNET, L_IN_VPC, L_IN_IP, L_IN_SDC, L_IN_AZ,
	L_IN_STATE,
	L_IF_ID, L_IF_SUBNET, L_IF_VPC, L_IF_AZ, L_IF_MAC, L_IF_IP,
	L_IF_SDC,
	L_AT_INDEX, L_AT_INST,
	L_ERR_REQID, L_ERR_CODE, L_ERR_MSG,
	S_COUNT
};

_Static_assert(S_COUNT <= 128, "the seen bitmap holds 128 states");

struct edge {
	unsigned char parent;
	unsigned char child;
	bool repeat;            /* an "item": counted, not refused twice */
	const char *name;
};

static const struct edge edges[] = {
	/* DescribeRouteTablesResponse */
	{ S_RT_ROOT, L_REQID, false, "requestId" },
	{ S_RT_ROOT, L_TOKEN, false, "nextToken" },
	{ S_RT_ROOT, S_RT_SET, false, "routeTableSet" },
	{ S_RT_SET, S_RT, true, "item" },
	{ S_RT, L_RT_ID, false, "routeTableId" },
	{ S_RT, L_RT_VPC, false, "vpcId" },
	{ S_RT, S_AS_SET, false, "associationSet" },
	{ S_RT, S_RO_SET, false, "routeSet" },
	{ S_AS_SET, S_AS, true, "item" },
	{ S_AS, L_AS_ID, false, "routeTableAssociationId" },
	{ S_AS, L_AS_SUBNET, false, "subnetId" },
	{ S_AS, L_AS_GW, false, "gatewayId" },
	{ S_AS, L_AS_MAIN, false, "main" },
	{ S_AS, S_AS_STATE, false, "associationState" },
	{ S_AS_STATE, L_AS_STATE, false, "state" },
	{ S_RO_SET, S_RO, true, "item" },
	{ S_RO, L_RO_DST4, false, "destinationCidrBlock" },
	{ S_RO, L_RO_DST6, false, "destinationIpv6CidrBlock" },
	{ S_RO, L_RO_PL, false, "destinationPrefixListId" },
	{ S_RO, L_RO_GW, false, "gatewayId" },
	{ S_RO, L_RO_INST, false, "instanceId" },
	{ S_RO, L_RO_ENI, false, "networkInterfaceId" },
	{ S_RO, L_RO_NAT, false, "natGatewayId" },
	{ S_RO, L_RO_TGW, false, "transitGatewayId" },
	{ S_RO, L_RO_PCX, false, "vpcPeeringConnectionId" },
	{ S_RO, L_RO_EIGW, false, "egressOnlyInternetGatewayId" },
	{ S_RO, L_RO_LGW, false, "localGatewayId" },
	{ S_RO, L_RO_CAGW, false, "carrierGatewayId" },
	{ S_RO, L_RO_STATE, false, "state" },
	{ S_RO, L_RO_ORIGIN, false, "origin" },
	/* DescribeInstancesResponse */
	{ S_IN_ROOT, L_REQID, false, "requestId" },
	{ S_IN_ROOT, L_TOKEN, false, "nextToken" },
	{ S_IN_ROOT, S_RES_SET, false, "reservationSet" },
	{ S_RES_SET, S_RES, true, "item" },
	{ S_RES, S_IN_SET, false, "instancesSet" },
	{ S_IN_SET, S_IN, true, "item" },
	{ S_IN, L_IN_ID, false, "instanceId" },
	{ S_IN, L_IN_SUBNET, false, "subnetId" },
	{ S_IN, L_IN_VPC, false, "vpcId" },
	{ S_IN, L_IN_IP, false, "privateIpAddress" },
	{ S_IN, L_IN_SDC, false, "sourceDestCheck" },
	{ S_IN, S_PLACEMENT, false, "placement" },
	{ S_IN, S_IN_STATE, false, "instanceState" },
	{ S_IN, S_IN_IF_SET, false, "networkInterfaceSet" },
	{ S_PLACEMENT, L_IN_AZ, false, "availabilityZone" },
	{ S_IN_STATE, L_IN_STATE, false, "name" },
	{ S_IN_IF_SET, S_IF, true, "item" },
	/* DescribeNetworkInterfacesResponse, and an instance's interfaces */
	{ S_IF_ROOT, L_REQID, false, "requestId" },
	{ S_IF_ROOT, L_TOKEN, false, "nextToken" },
	{ S_IF_ROOT, S_IF_SET, false, "networkInterfaceSet" },
	{ S_IF_SET, S_IF, true, "item" },
	{ S_IF, L_IF_ID, false, "networkInterfaceId" },
	{ S_IF, L_IF_SUBNET, false, "subnetId" },
	{ S_IF, L_IF_VPC, false, "vpcId" },
	{ S_IF, L_IF_AZ, false, "availabilityZone" },
	{ S_IF, L_IF_MAC, false, "macAddress" },
	{ S_IF, L_IF_IP, false, "privateIpAddress" },
	{ S_IF, L_IF_SDC, false, "sourceDestCheck" },
	{ S_IF, S_ATTACH, false, "attachment" },
	{ S_ATTACH, L_AT_INDEX, false, "deviceIndex" },
	{ S_ATTACH, L_AT_INST, false, "instanceId" },
	/* a mutating call's reply */
	{ S_RET_ROOT, L_REQID, false, "requestId" },
	{ S_RET_ROOT, L_RETURN, false, "return" },
	/* errors: EC2's <Response>, and <ErrorResponse> with or without
	 * <Errors> around its <Error> */
	{ S_ERR_ROOT, S_ERRS, false, "Errors" },
	{ S_ERR_ROOT, S_ERR, true, "Error" },
	{ S_ERR_ROOT, L_ERR_REQID, false, "RequestID" },
	{ S_ERR_ROOT, L_ERR_REQID, false, "RequestId" },
	{ S_ERRS, S_ERR, true, "Error" },
	{ S_ERR, L_ERR_CODE, false, "Code" },
	{ S_ERR, L_ERR_MSG, false, "Message" },
};

struct frame {
	unsigned char state;
	bool repeat;
	uint32_t index;         /* of a repeated element among its siblings */
	uint32_t items;         /* repeated children seen */
	uint64_t seen[2];       /* single children seen, by state */
	char name[NAME_SHOW];
};

struct parser {
	XML_Parser xp;
	enum kind kind;
	const char *root;       /* the expected root's local name */
	bool error_root;        /* an EC2 error response instead */
	int rc;                 /* 0, or the first failure */
	char *msg;
	size_t msglen;

	struct frame frames[EC2XML_DEPTH_MAX];
	unsigned depth;
	unsigned skip;          /* depth inside an unknown element */
	size_t items;           /* of all kinds, against EC2XML_ITEMS_MAX */

	char text[TEXT_MAX];
	size_t tlen;

	/* where the results go; one of these per kind */
	struct ec2_route_tables *rt;
	struct ec2_instances *in;
	struct ec2_interfaces *ifs;
	struct ec2_return *ret;
	char *request_id;       /* the success response's requestId */
	char **token;           /* its nextToken */
	struct ec2_error err;   /* an error response */
};

/* ---- failures -------------------------------------------------------- */

static void path_of(const struct parser *p, char *buf, size_t n)
{
	size_t off = 0;
	unsigned i;
	int w;

	buf[0] = '\0';
	for (i = 1; i < p->depth && off < n; i++) {
		const struct frame *f = &p->frames[i];

		if (f->repeat)
			w = snprintf(buf + off, n - off, "%s%s[%u]",
				     i > 1 ? "/" : "", f->name, f->index);
		else
			w = snprintf(buf + off, n - off, "%s%s",
				     i > 1 ? "/" : "", f->name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, n, "%s", p->depth ? p->frames[0].name :
			 "document");
}

__attribute__((format(printf, 2, 3)))
static void fail(struct parser *p, const char *fmt, ...)
{
	char path[PATH_MAX_LEN], what[MSG_MAX];
	va_list ap;

	if (p->rc)
		return;
	p->rc = -EBADMSG;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	path_of(p, path, sizeof(path));
	if (p->msglen)
		snprintf(p->msg, p->msglen, "%s: %s", path, what);
	XML_StopParser(p->xp, XML_FALSE);
}

static void fail_nomem(struct parser *p)
{
	if (p->rc)
		return;
	p->rc = -ENOMEM;
	if (p->msglen)
		snprintf(p->msg, p->msglen, "out of memory");
	XML_StopParser(p->xp, XML_FALSE);
}

/* A value quoted in an error: printable ASCII, short. */
static const char *show(const char *s, char *buf, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < n && i < 40; i++)
		buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i])
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* ---- values ---------------------------------------------------------- */

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* prefix NULL: any id of [a-z0-9-] (gateways: "local", igw-, vpce-...). */
static bool valid_id(const char *s, const char *prefix)
{
	size_t n = strlen(s), pl = prefix ? strlen(prefix) : 0, i;

	if (n == 0 || n >= EC2_ID_MAX || n <= pl)
		return false;
	if (pl && strncmp(s, prefix, pl))
		return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!id_char(s[i]))
			return false;
	return true;
}

static void set_id(struct parser *p, char *dst, const char *s,
		   const char *prefix)
{
	char b[48];

	if (!valid_id(s, prefix)) {
		if (prefix)
			fail(p, "not a %s id: '%s'", prefix,
			     show(s, b, sizeof(b)));
		else
			fail(p, "not an id: '%s'", show(s, b, sizeof(b)));
		return;
	}
	memcpy(dst, s, strlen(s) + 1);
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "false"))
		*out = false;
	else
		return false;
	return true;
}

/* Decimal, no sign, no leading zero, at most max. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (!s[0] || (s[0] == '0' && s[1]) || strlen(s) > 9)
		return false;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "a.b.c.d/n" or "x::/n" of the given family, host bits clear. */
static bool parse_cidr(const char *s, uint8_t family, struct strata_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long len, max = family == STRATA_AF_INET ? 32 : 128;
	struct strata_prefix pf = { .family = family };
	size_t alen, i, bytes = family == STRATA_AF_INET ? 4 : 16;

	if (!slash)
		return false;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(family == STRATA_AF_INET ? AF_INET : AF_INET6, addr,
		      pf.addr) != 1)
		return false;
	if (!parse_uint(slash + 1, max, &len))
		return false;
	pf.len = (uint8_t)len;
	for (i = 0; i < bytes; i++) {
		unsigned bits = len >= (i + 1) * 8 ? 8 :
			len <= i * 8 ? 0 : (unsigned)(len - i * 8);
		uint8_t host = (uint8_t)(0xffu >> bits);

		if (pf.addr[i] & host)
			return false;
	}
	*out = pf;
	return true;
}

static void set_ipv4(struct parser *p, struct strata_addr *dst, const char *s)
{
	struct strata_addr a = { .family = STRATA_AF_INET };
	char b[48];

	if (inet_pton(AF_INET, s, a.addr) != 1) {
		fail(p, "not an IPv4 address: '%s'", show(s, b, sizeof(b)));
		return;
	}
	*dst = a;
}

static void set_bool8(struct parser *p, int8_t *dst, const char *s)
{
	bool b;

	if (!parse_bool(s, &b)) {
		fail(p, "not true or false");
		return;
	}
	*dst = b ? 1 : 0;
}

static void set_az(struct parser *p, char *dst, const char *s)
{
	size_t n = strlen(s), i;
	char b[48];

	for (i = 0; i < n; i++)
		if (!id_char(s[i]))
			break;
	if (n >= EC2_AZ_MAX || i < n) {
		fail(p, "not an availability zone: '%s'",
		     show(s, b, sizeof(b)));
		return;
	}
	memcpy(dst, s, n + 1);
}

static void set_mac(struct parser *p, char *dst, const char *s)
{
	char m[EC2_MAC_MAX];
	size_t i;

	if (strlen(s) != EC2_MAC_MAX - 1)
		goto bad;
	for (i = 0; i < EC2_MAC_MAX - 1; i++) {
		char c = s[i];

		if (i % 3 == 2) {
			if (c != ':')
				goto bad;
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') ||
			     (c >= 'a' && c <= 'f'))) {
			goto bad;
		}
		m[i] = c;
	}
	m[i] = '\0';
	memcpy(dst, m, sizeof(m));
	return;
bad:
	fail(p, "not a MAC address");
}

/* requestId: printable ASCII without spaces. */
static void set_request_id(struct parser *p, char *dst, const char *s)
{
	size_t n = strlen(s), i;

	if (n >= EC2_REQUEST_ID_MAX) {
		fail(p, "longer than %d bytes", EC2_REQUEST_ID_MAX - 1);
		return;
	}
	for (i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			fail(p, "not a request id");
			return;
		}
	}
	memcpy(dst, s, n + 1);
}

static void set_token(struct parser *p, const char *s)
{
	size_t n = strlen(s), i;

	if (n >= EC2_TOKEN_MAX) {
		fail(p, "longer than %d bytes", EC2_TOKEN_MAX - 1);
		return;
	}
	for (i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			fail(p, "not a token (printable ASCII without spaces)");
			return;
		}
	}
	*p->token = strdup(s);
	if (!*p->token)
		fail_nomem(p);
}

static void set_code(struct parser *p, const char *s)
{
	size_t n = strlen(s), i;

	if (n >= EC2_CODE_MAX) {
		fail(p, "longer than %d bytes", EC2_CODE_MAX - 1);
		return;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-')) {
			fail(p, "not an error code");
			return;
		}
	}
	memcpy(p->err.code, s, n + 1);
}

/* One line for a log: cut on a UTF-8 boundary, controls as spaces. */
static void set_message(struct parser *p, const char *s)
{
	size_t n = strlen(s), i;

	if (n >= EC2_MESSAGE_MAX) {
		n = EC2_MESSAGE_MAX - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		p->err.message[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	p->err.message[n] = '\0';
}

struct name_map {
	const char *name;
	int value;
};

static const struct name_map route_states[] = {
	{ "active", EC2_ROUTE_ACTIVE },
	{ "blackhole", EC2_ROUTE_BLACKHOLE },
	{ NULL, 0 },
};

static const struct name_map origins[] = {
	{ "CreateRouteTable", EC2_ORIGIN_CREATE_ROUTE_TABLE },
	{ "CreateRoute", EC2_ORIGIN_CREATE_ROUTE },
	{ "EnableVgwRoutePropagation", EC2_ORIGIN_VGW_PROPAGATION },
	{ NULL, 0 },
};

static const struct name_map assoc_states[] = {
	{ "associating", EC2_ASSOC_ASSOCIATING },
	{ "associated", EC2_ASSOC_ASSOCIATED },
	{ "disassociating", EC2_ASSOC_DISASSOCIATING },
	{ "disassociated", EC2_ASSOC_DISASSOCIATED },
	{ "failed", EC2_ASSOC_FAILED },
	{ NULL, 0 },
};

static const struct name_map instance_states[] = {
	{ "pending", EC2_INSTANCE_PENDING },
	{ "running", EC2_INSTANCE_RUNNING },
	{ "shutting-down", EC2_INSTANCE_SHUTTING_DOWN },
	{ "terminated", EC2_INSTANCE_TERMINATED },
	{ "stopping", EC2_INSTANCE_STOPPING },
	{ "stopped", EC2_INSTANCE_STOPPED },
	{ NULL, 0 },
};

static bool lookup(const struct name_map *m, const char *s, int *out)
{
	for (; m->name; m++) {
		if (!strcmp(m->name, s)) {
			*out = m->value;
			return true;
		}
	}
	return false;
}

static int map_value(struct parser *p, const struct name_map *m,
		     const char *s, const char *what)
{
	char b[48];
	int v = 0;

	if (!lookup(m, s, &v))
		fail(p, "unknown %s '%s'", what, show(s, b, sizeof(b)));
	return v;
}

/* ---- results --------------------------------------------------------- */

/* Arrays grow to 4, 8, 16, ...: their capacity follows from n. */
static void *grow(struct parser *p, void **arr, size_t *n, size_t size)
{
	char *a = *arr;

	if (p->items >= EC2XML_ITEMS_MAX) {
		fail(p, "more than %d items in one response", EC2XML_ITEMS_MAX);
		return NULL;
	}
	if (*n == 0 || (*n >= 4 && !(*n & (*n - 1)))) {
		size_t cap = *n ? *n * 2 : 4;

		a = realloc(a, cap * size);
		if (!a) {
			fail_nomem(p);
			return NULL;
		}
		*arr = a;
	}
	p->items++;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

static struct ec2_route_table *cur_table(struct parser *p)
{
	return &p->rt->tables[p->rt->n_tables - 1];
}

static struct ec2_route *cur_route(struct parser *p)
{
	struct ec2_route_table *t = cur_table(p);

	return &t->routes[t->n_routes - 1];
}

static struct ec2_association *cur_assoc(struct parser *p)
{
	struct ec2_route_table *t = cur_table(p);

	return &t->assocs[t->n_assocs - 1];
}

static struct ec2_instance *cur_instance(struct parser *p)
{
	return &p->in->instances[p->in->n_instances - 1];
}

static struct ec2_interface *cur_interface(struct parser *p)
{
	struct ec2_instance *i;

	if (p->kind == K_INTERFACES)
		return &p->ifs->interfaces[p->ifs->n_interfaces - 1];
	i = cur_instance(p);
	return &i->interfaces[i->n_interfaces - 1];
}

static void open_item(struct parser *p, const struct frame *f)
{
	struct ec2_route_table *t;
	struct ec2_instance *i;
	struct ec2_interface *e;

	switch (f->state) {
	case S_RT:
		grow(p, (void **)&p->rt->tables, &p->rt->n_tables,
		     sizeof(struct ec2_route_table));
		break;
	case S_AS:
		t = cur_table(p);
		grow(p, (void **)&t->assocs, &t->n_assocs,
		     sizeof(struct ec2_association));
		break;
	case S_RO:
		t = cur_table(p);
		grow(p, (void **)&t->routes, &t->n_routes,
		     sizeof(struct ec2_route));
		break;
	case S_IN:
		i = grow(p, (void **)&p->in->instances, &p->in->n_instances,
			 sizeof(struct ec2_instance));
		if (i)
			i->source_dest_check = -1;
		break;
	case S_IF:
		if (p->kind == K_INTERFACES) {
			e = grow(p, (void **)&p->ifs->interfaces,
				 &p->ifs->n_interfaces,
				 sizeof(struct ec2_interface));
		} else {
			i = cur_instance(p);
			e = grow(p, (void **)&i->interfaces, &i->n_interfaces,
				 sizeof(struct ec2_interface));
		}
		if (e) {
			e->device_index = -1;
			e->source_dest_check = -1;
		}
		break;
	default:
		break;
	}
}

/* An item is complete: what every one must have. */
static void close_item(struct parser *p, const struct frame *f)
{
	struct ec2_route_table *t;
	struct ec2_route *r;
	struct ec2_instance *in;
	size_t k;

	switch (f->state) {
	case S_RT:
		t = cur_table(p);
		if (!t->id[0])
			fail(p, "no routeTableId");
		else if (!t->vpc_id[0])
			fail(p, "no vpcId");
		break;
	case S_AS:
		if (!cur_assoc(p)->id[0])
			fail(p, "no routeTableAssociationId");
		break;
	case S_RO:
		r = cur_route(p);
		if (!r->dst.family && !r->prefix_list[0])
			fail(p, "no destination");
		else if (!r->state)
			fail(p, "no state");
		break;
	case S_IN:
		in = cur_instance(p);
		if (!in->id[0]) {
			fail(p, "no instanceId");
			break;
		}
		for (k = 0; k < in->n_interfaces; k++) {
			struct ec2_interface *e = &in->interfaces[k];

			if (e->instance_id[0] &&
			    strcmp(e->instance_id, in->id)) {
				fail(p, "networkInterfaceSet/item[%zu] is "
				     "attached to %s", k, e->instance_id);
				break;
			}
			memcpy(e->instance_id, in->id, EC2_ID_MAX);
			if (!e->az[0])
				memcpy(e->az, in->az, EC2_AZ_MAX);
		}
		break;
	case S_IF:
		if (!cur_interface(p)->id[0])
			fail(p, "no networkInterfaceId");
		break;
	case S_ERR:
		if (!p->err.code[0])
			fail(p, "no Code");
		break;
	case S_ERR_ROOT:
		if (!p->err.n_errors)
			fail(p, "no Errors/Error");
		break;
	default:
		break;
	}
}

static void route_dst(struct parser *p, struct ec2_route *r, const char *s,
		      uint8_t family)
{
	char b[48];

	if (r->dst.family || r->prefix_list[0]) {
		fail(p, "a second destination");
		return;
	}
	if (!parse_cidr(s, family, &r->dst))
		fail(p, "not a canonical %s CIDR: '%s'",
		     family == STRATA_AF_INET ? "IPv4" : "IPv6",
		     show(s, b, sizeof(b)));
}

/* Only an instance and its interface may be given together. */
static void route_target(struct parser *p, struct ec2_route *r,
			 enum ec2_target kind, const char *s,
			 const char *prefix)
{
	char id[EC2_ID_MAX] = "";

	set_id(p, id, s, prefix);
	if (p->rc)
		return;
	if (kind == EC2_TARGET_INSTANCE) {
		memcpy(r->instance_id, id, sizeof(id));
		if (r->target_kind == EC2_TARGET_INTERFACE)
			return;
	} else if (kind == EC2_TARGET_INTERFACE &&
		   r->target_kind == EC2_TARGET_INSTANCE) {
		r->target_kind = EC2_TARGET_UNKNOWN;
	}
	if (r->target_kind != EC2_TARGET_UNKNOWN) {
		fail(p, "a second target (already %s %s)",
		     ec2_target_name(r->target_kind), r->target);
		return;
	}
	r->target_kind = kind;
	memcpy(r->target, id, sizeof(id));
}

static void value(struct parser *p, unsigned char state, const char *s)
{
	struct ec2_route *r;
	struct ec2_association *a;
	struct ec2_instance *in;
	struct ec2_interface *e;
	unsigned long ul;
	bool b;

	switch (state) {
	case L_REQID:
		set_request_id(p, p->request_id, s);
		break;
	case L_TOKEN:
		set_token(p, s);
		break;
	case L_RETURN:
		if (!parse_bool(s, &b)) {
			fail(p, "not true or false");
			break;
		}
		p->ret->has_return = true;
		p->ret->value = b;
		break;
	case L_RT_ID:
		set_id(p, cur_table(p)->id, s, "rtb-");
		break;
	case L_RT_VPC:
		set_id(p, cur_table(p)->vpc_id, s, "vpc-");
		break;
	case L_AS_ID:
		set_id(p, cur_assoc(p)->id, s, "rtbassoc-");
		break;
	case L_AS_SUBNET:
		set_id(p, cur_assoc(p)->subnet_id, s, "subnet-");
		break;
	case L_AS_GW:
		set_id(p, cur_assoc(p)->gateway_id, s, NULL);
		break;
	case L_AS_MAIN:
		a = cur_assoc(p);
		if (!parse_bool(s, &a->main))
			fail(p, "not true or false");
		break;
	case L_AS_STATE:
		cur_assoc(p)->state = map_value(p, assoc_states, s,
						"association state");
		break;
	case L_RO_DST4:
		route_dst(p, cur_route(p), s, STRATA_AF_INET);
		break;
	case L_RO_DST6:
		route_dst(p, cur_route(p), s, STRATA_AF_INET6);
		break;
	case L_RO_PL:
		r = cur_route(p);
		if (r->dst.family || r->prefix_list[0])
			fail(p, "a second destination");
		else
			set_id(p, r->prefix_list, s, "pl-");
		break;
	case L_RO_GW:
		route_target(p, cur_route(p), EC2_TARGET_GATEWAY, s, NULL);
		break;
	case L_RO_INST:
		route_target(p, cur_route(p), EC2_TARGET_INSTANCE, s, "i-");
		break;
	case L_RO_ENI:
		route_target(p, cur_route(p), EC2_TARGET_INTERFACE, s, "eni-");
		break;
	case L_RO_NAT:
		route_target(p, cur_route(p), EC2_TARGET_NAT_GATEWAY, s,
			     "nat-");
		break;
	case L_RO_TGW:
		route_target(p, cur_route(p), EC2_TARGET_TRANSIT_GATEWAY, s,
			     "tgw-");
		break;
	case L_RO_PCX:
		route_target(p, cur_route(p), EC2_TARGET_PEERING, s, "pcx-");
		break;
	case L_RO_EIGW:
		route_target(p, cur_route(p), EC2_TARGET_EGRESS_ONLY, s,
			     "eigw-");
		break;
	case L_RO_LGW:
		route_target(p, cur_route(p), EC2_TARGET_LOCAL_GATEWAY, s,
			     "lgw-");
		break;
	case L_RO_CAGW:
		route_target(p, cur_route(p), EC2_TARGET_CARRIER_GATEWAY, s,
			     "cagw-");
		break;
	case L_RO_STATE:
		cur_route(p)->state = map_value(p, route_states, s,
						"route state");
		break;
	case L_RO_ORIGIN:
		cur_route(p)->origin = map_value(p, origins, s, "route origin");
		break;
	case L_IN_ID:
		set_id(p, cur_instance(p)->id, s, "i-");
		break;
	case L_IN_SUBNET:
		set_id(p, cur_instance(p)->subnet_id, s, "subnet-");
		break;
	case L_IN_VPC:
		set_id(p, cur_instance(p)->vpc_id, s, "vpc-");
		break;
	case L_IN_IP:
		set_ipv4(p, &cur_instance(p)->private_ip, s);
		break;
	case L_IN_SDC:
		set_bool8(p, &cur_instance(p)->source_dest_check, s);
		break;
	case L_IN_AZ:
		set_az(p, cur_instance(p)->az, s);
		break;
	case L_IN_STATE:
		in = cur_instance(p);
		in->state = map_value(p, instance_states, s, "instance state");
		break;
	case L_IF_ID:
		set_id(p, cur_interface(p)->id, s, "eni-");
		break;
	case L_IF_SUBNET:
		set_id(p, cur_interface(p)->subnet_id, s, "subnet-");
		break;
	case L_IF_VPC:
		set_id(p, cur_interface(p)->vpc_id, s, "vpc-");
		break;
	case L_IF_AZ:
		set_az(p, cur_interface(p)->az, s);
		break;
	case L_IF_MAC:
		set_mac(p, cur_interface(p)->mac, s);
		break;
	case L_IF_IP:
		set_ipv4(p, &cur_interface(p)->private_ip, s);
		break;
	case L_IF_SDC:
		set_bool8(p, &cur_interface(p)->source_dest_check, s);
		break;
	case L_AT_INDEX:
		e = cur_interface(p);
		if (!parse_uint(s, 65535, &ul))
			fail(p, "not a device index (0..65535)");
		else
			e->device_index = (int32_t)ul;
		break;
	case L_AT_INST:
		set_id(p, cur_interface(p)->instance_id, s, "i-");
		break;
	case L_ERR_REQID:
		set_request_id(p, p->err.request_id, s);
		break;
	case L_ERR_CODE:
		set_code(p, s);
		break;
	case L_ERR_MSG:
		set_message(p, s);
		break;
	default:
		break;
	}
}

/* ---- expat callbacks ------------------------------------------------- */

static const char *local_name(const XML_Char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep ? sep + 1 : name;
}

static const struct edge *find_edge(unsigned char parent, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		if (edges[i].parent == parent && !strcmp(edges[i].name, name))
			return &edges[i];
	return NULL;
}

static struct frame *push(struct parser *p, unsigned char state,
			  const char *name)
{
	struct frame *f = &p->frames[p->depth++];

	*f = (struct frame){ .state = state };
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

static void on_root(struct parser *p, const char *name)
{
	static const unsigned char roots[] = {
		[K_ROUTE_TABLES] = S_RT_ROOT,
		[K_INSTANCES] = S_IN_ROOT,
		[K_INTERFACES] = S_IF_ROOT,
		[K_RETURN] = S_RET_ROOT,
		[K_ERROR] = S_NONE,
	};

	push(p, S_NONE, name);
	if (!strcmp(name, "Response") || !strcmp(name, "ErrorResponse")) {
		p->frames[0].state = S_ERR_ROOT;
		p->error_root = true;
	} else if (p->root && !strcmp(name, p->root)) {
		p->frames[0].state = roots[p->kind];
	} else if (p->root) {
		fail(p, "expected %s", p->root);
	} else {
		fail(p, "not an error response");
	}
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct parser *p = ud;
	const char *local = local_name(name);
	const struct edge *e;
	struct frame *parent, *f;
	unsigned char bit;

	(void)attrs;
	if (p->rc)
		return;
	if (p->depth + p->skip >= EC2XML_DEPTH_MAX) {
		fail(p, "nested deeper than %d elements", EC2XML_DEPTH_MAX);
		return;
	}
	if (p->skip) {
		p->skip++;
		return;
	}
	if (!p->depth) {
		on_root(p, local);
		return;
	}
	parent = &p->frames[p->depth - 1];
	if (parent->state > S_LEAF) {
		push(p, S_NONE, local);
		fail(p, "an element inside a value");
		return;
	}
	e = find_edge(parent->state, local);
	if (!e) {
		p->skip = 1;
		return;
	}
	if (e->child == S_ERR) {
		/* the first error is the one to act on */
		if (p->err.n_errors++) {
			p->skip = 1;
			return;
		}
	}
	if (e->repeat) {
		f = push(p, e->child, local);
		f->repeat = true;
		f->index = parent->items++;
		open_item(p, f);
		return;
	}
	bit = e->child;
	f = push(p, e->child, local);
	if (parent->seen[bit / 64] & (1ull << (bit % 64))) {
		fail(p, "given twice");
		return;
	}
	parent->seen[bit / 64] |= 1ull << (bit % 64);
	if (f->state > S_LEAF) {
		p->tlen = 0;
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void on_end(void *ud, const XML_Char *name)
{
	struct parser *p = ud;
	struct frame *f;
	char *s;
	size_t n;

	(void)name;
	if (p->rc)
		return;
	if (p->skip) {
		p->skip--;
		return;
	}
	if (!p->depth)
		return;
	f = &p->frames[p->depth - 1];
	if (f->state > S_LEAF) {
		s = p->text;
		n = p->tlen;
		while (n && is_space(s[n - 1]))
			n--;
		s[n] = '\0';
		while (*s && is_space(*s))
			s++;
		if (memchr(p->text, '\0', n)) {
			fail(p, "a NUL character in a value");
			return;
		}
		/* an empty value says nothing */
		if (*s)
			value(p, f->state, s);
	} else {
		close_item(p, f);
	}
	if (!p->rc)
		p->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct parser *p = ud;
	size_t n = (size_t)len;
	unsigned char state;

	if (p->rc || p->skip || !p->depth || len <= 0)
		return;
	state = p->frames[p->depth - 1].state;
	if (state < S_LEAF)
		return;
	if (p->tlen + n >= TEXT_MAX) {
		/* a message is cut; any other value this long is wrong */
		if (state != L_ERR_MSG) {
			fail(p, "longer than %d bytes", TEXT_MAX - 1);
			return;
		}
		n = TEXT_MAX - 1 - p->tlen;
	}
	memcpy(p->text + p->tlen, s, n);
	p->tlen += n;
}

/* No DTD at all: no entity can be declared, none expanded. */
static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, "DOCTYPE refused");
}

static void on_entity(void *ud, const XML_Char *name, int is_param,
		      const XML_Char *value_, int value_len,
		      const XML_Char *base, const XML_Char *sysid,
		      const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value_;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(ud, "entity declaration refused");
}

/* The body is read as UTF-8; a document saying otherwise is refused
 * rather than misread. */
static void on_xmldecl(void *ud, const XML_Char *version,
		       const XML_Char *encoding, int standalone)
{
	char b[48];

	(void)version;
	(void)standalone;
	if (encoding && strcasecmp(encoding, "UTF-8") &&
	    strcasecmp(encoding, "US-ASCII"))
		fail(ud, "encoding '%s' refused (UTF-8 only)",
		     show(encoding, b, sizeof(b)));
}

/* ---- entry points ---------------------------------------------------- */

static int run(struct parser *p, const char *buf, size_t len)
{
	enum XML_Status st;
	int rc;

	if (!buf && len)
		return -EINVAL;
	if (p->msglen)
		p->msg[0] = '\0';
	if (len > EC2XML_INPUT_MAX) {
		if (p->msglen)
			snprintf(p->msg, p->msglen,
				 "response of %zu bytes: more than %u", len,
				 EC2XML_INPUT_MAX);
		return -EBADMSG;
	}
	p->xp = XML_ParserCreateNS("UTF-8", NS_SEP);
	if (!p->xp)
		return -ENOMEM;
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
	XML_SetEntityDeclHandler(p->xp, on_entity);
	XML_SetXmlDeclHandler(p->xp, on_xmldecl);
	XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);

	st = XML_Parse(p->xp, buf ? buf : "", (int)len, XML_TRUE);
	rc = p->rc;
	if (!rc && st != XML_STATUS_OK) {
		unsigned long line = XML_GetCurrentLineNumber(p->xp);
		unsigned long col = XML_GetCurrentColumnNumber(p->xp);

		rc = -EBADMSG;
		if (p->msglen)
			snprintf(p->msg, p->msglen,
				 "not XML: line %lu, column %lu: %s", line, col,
				 XML_ErrorString(XML_GetErrorCode(p->xp)));
	}
	XML_ParserFree(p->xp);
	p->xp = NULL;
	if (!rc && p->error_root) {
		rc = -EREMOTEIO;
		if (p->msglen)
			snprintf(p->msg, p->msglen, "EC2 error %s: %s",
				 p->err.code, p->err.message);
	}
	return rc;
}

static void finish_error(const struct parser *p, int rc,
			 struct ec2_error *ec2err)
{
	if (!ec2err)
		return;
	if (rc == -EREMOTEIO)
		*ec2err = p->err;
	else
		*ec2err = (struct ec2_error){ .n_errors = 0 };
}

int ec2xml_route_tables(const char *buf, size_t len,
			struct ec2_route_tables *out, struct ec2_error *ec2err,
			char *err, size_t errlen)
{
	struct parser p = {
		.kind = K_ROUTE_TABLES,
		.root = "DescribeRouteTablesResponse",
		.msg = err, .msglen = err ? errlen : 0,
		.rt = out,
		.request_id = out->request_id,
		.token = &out->next_token,
	};
	int rc;

	*out = (struct ec2_route_tables){ .n_tables = 0 };
	rc = run(&p, buf, len);
	if (rc)
		ec2xml_route_tables_free(out);
	finish_error(&p, rc, ec2err);
	return rc;
}

void ec2xml_route_tables_free(struct ec2_route_tables *rt)
{
	size_t i;

	if (!rt)
		return;
	for (i = 0; i < rt->n_tables; i++) {
		free(rt->tables[i].assocs);
		free(rt->tables[i].routes);
	}
	free(rt->tables);
	free(rt->next_token);
	*rt = (struct ec2_route_tables){ .n_tables = 0 };
}

int ec2xml_instances(const char *buf, size_t len, struct ec2_instances *out,
		     struct ec2_error *ec2err, char *err, size_t errlen)
{
	struct parser p = {
		.kind = K_INSTANCES,
		.root = "DescribeInstancesResponse",
		.msg = err, .msglen = err ? errlen : 0,
		.in = out,
		.request_id = out->request_id,
		.token = &out->next_token,
	};
	int rc;

	*out = (struct ec2_instances){ .n_instances = 0 };
	rc = run(&p, buf, len);
	if (rc)
		ec2xml_instances_free(out);
	finish_error(&p, rc, ec2err);
	return rc;
}

void ec2xml_instances_free(struct ec2_instances *in)
{
	size_t i;

	if (!in)
		return;
	for (i = 0; i < in->n_instances; i++)
		free(in->instances[i].interfaces);
	free(in->instances);
	free(in->next_token);
	*in = (struct ec2_instances){ .n_instances = 0 };
}

int ec2xml_interfaces(const char *buf, size_t len, struct ec2_interfaces *out,
		      struct ec2_error *ec2err, char *err, size_t errlen)
{
	struct parser p = {
		.kind = K_INTERFACES,
		.root = "DescribeNetworkInterfacesResponse",
		.msg = err, .msglen = err ? errlen : 0,
		.ifs = out,
		.request_id = out->request_id,
		.token = &out->next_token,
	};
	int rc;

	*out = (struct ec2_interfaces){ .n_interfaces = 0 };
	rc = run(&p, buf, len);
	if (rc)
		ec2xml_interfaces_free(out);
	finish_error(&p, rc, ec2err);
	return rc;
}

void ec2xml_interfaces_free(struct ec2_interfaces *ifs)
{
	if (!ifs)
		return;
	free(ifs->interfaces);
	free(ifs->next_token);
	*ifs = (struct ec2_interfaces){ .n_interfaces = 0 };
}

int ec2xml_return(const char *buf, size_t len, const char *action,
		  struct ec2_return *out, struct ec2_error *ec2err,
		  char *err, size_t errlen)
{
	char root[EC2_ACTION_MAX + sizeof("Response")];
	struct parser p = {
		.kind = K_RETURN,
		.root = root,
		.msg = err, .msglen = err ? errlen : 0,
		.ret = out,
		.request_id = out->request_id,
	};
	size_t i, n = action ? strlen(action) : 0;
	int rc;

	*out = (struct ec2_return){ .has_return = false };
	finish_error(&p, 0, ec2err);
	if (n == 0 || n >= EC2_ACTION_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = action[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return -EINVAL;
	}
	snprintf(root, sizeof(root), "%sResponse", action);
	rc = run(&p, buf, len);
	if (rc)
		*out = (struct ec2_return){ .has_return = false };
	finish_error(&p, rc, ec2err);
	return rc;
}

int ec2xml_error(const char *buf, size_t len, struct ec2_error *out,
		 char *err, size_t errlen)
{
	struct parser p = {
		.kind = K_ERROR,
		.msg = err, .msglen = err ? errlen : 0,
	};
	int rc;

	rc = run(&p, buf, len);
	finish_error(&p, rc, out);
	if (rc == -EREMOTEIO)
		return 0;
	return rc ? rc : -EBADMSG;
}

const char *ec2_target_name(enum ec2_target t)
{
	switch (t) {
	case EC2_TARGET_GATEWAY: return "gateway";
	case EC2_TARGET_INSTANCE: return "instance";
	case EC2_TARGET_INTERFACE: return "interface";
	case EC2_TARGET_NAT_GATEWAY: return "nat-gateway";
	case EC2_TARGET_TRANSIT_GATEWAY: return "transit-gateway";
	case EC2_TARGET_PEERING: return "peering";
	case EC2_TARGET_EGRESS_ONLY: return "egress-only-gateway";
	case EC2_TARGET_LOCAL_GATEWAY: return "local-gateway";
	case EC2_TARGET_CARRIER_GATEWAY: return "carrier-gateway";
	case EC2_TARGET_UNKNOWN: break;
	}
	return "unknown";
}

const char *ec2_route_state_name(enum ec2_route_state s)
{
	switch (s) {
	case EC2_ROUTE_ACTIVE: return "active";
	case EC2_ROUTE_BLACKHOLE: return "blackhole";
	}
	return "unknown";
}

const char *ec2_instance_state_name(enum ec2_instance_state s)
{
	size_t i;

	for (i = 0; instance_states[i].name; i++)
		if (instance_states[i].value == (int)s)
			return instance_states[i].name;
	return "unknown";
}
