/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EC2 Query API responses (API version 2016-11-15), parsed with expat.
 *
 * The bytes come from the network, so the parser streams them through a
 * small element-path state machine and trusts nothing:
 * - any namespace URI is accepted; elements match by local name;
 * - unknown elements are skipped with their whole subtree (AWS adds
 *   fields); a known element twice in one place is refused;
 * - a DOCTYPE (hence any entity declaration) is refused before expat reads
 *   it, and the document is read as UTF-8 whatever it declares (another
 *   declared encoding is refused);
 * - nesting, string lengths, item counts and the input size are capped
 *   (EC2XML_*_MAX below);
 * - every value the plugin uses is checked: ids by prefix and alphabet,
 *   CIDRs (family right, host bits clear), booleans, enumerations, indices.
 *
 * Each parse function takes (bytes, len) and returns:
 *   0            the expected response, *out filled (free it);
 *   -EREMOTEIO   EC2's error response (<Response><Errors><Error>, or moto's
 *                and other services' <ErrorResponse>): *ec2err filled when
 *                not NULL, err says "EC2 error CODE: MESSAGE";
 *   -EBADMSG     anything else: err names the element path and what was
 *                wrong, e.g. "routeTableSet/item[3]/routeSet/item[0]/
 *                destinationCidrBlock: not a canonical IPv4 CIDR";
 *   -ENOMEM      (or -EINVAL for a bad argument).
 * On any error *out holds nothing to free (it is zeroed).
 * Strings in the results are NUL-terminated; "" means EC2 did not say.
 */
#ifndef STRATA_AWS_EC2XML_H
#define STRATA_AWS_EC2XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#define EC2_ID_MAX 48           /* ids with their NUL ("rtb-" + 17 hex) */
#define EC2_AZ_MAX 32           /* "us-east-1a", "us-west-2-lax-1a" */
#define EC2_MAC_MAX 18          /* "02:00:00:79:03:2f" */
#define EC2_REQUEST_ID_MAX 80
#define EC2_CODE_MAX 96
#define EC2_MESSAGE_MAX 512     /* longer messages are cut (UTF-8 safe) */
#define EC2_TOKEN_MAX 4096      /* nextToken with its NUL */
#define EC2_ACTION_MAX 64

#define EC2XML_INPUT_MAX (64u << 20) /* bytes of one response */
#define EC2XML_DEPTH_MAX 32          /* element nesting */
#define EC2XML_ITEMS_MAX 65536       /* items of all kinds in one response */

/* What a route sends its traffic to: which target element EC2 gave. */
enum ec2_target {
	EC2_TARGET_UNKNOWN = 0,   /* none below (e.g. coreNetworkArn) */
	EC2_TARGET_GATEWAY,       /* gatewayId: "local", igw-, vgw-, vpce- */
	EC2_TARGET_INSTANCE,      /* instanceId alone */
	EC2_TARGET_INTERFACE,     /* networkInterfaceId; instance_id: whose */
	EC2_TARGET_NAT_GATEWAY,   /* nat- */
	EC2_TARGET_TRANSIT_GATEWAY, /* tgw- */
	EC2_TARGET_PEERING,       /* pcx- */
	EC2_TARGET_EGRESS_ONLY,   /* eigw- */
	EC2_TARGET_LOCAL_GATEWAY, /* lgw- */
	EC2_TARGET_CARRIER_GATEWAY, /* cagw- */
};

enum ec2_route_state {
	EC2_ROUTE_ACTIVE = 1,
	EC2_ROUTE_BLACKHOLE = 2,  /* its target is gone: replace it */
};

enum ec2_route_origin {
	EC2_ORIGIN_UNKNOWN = 0,   /* not given */
	EC2_ORIGIN_CREATE_ROUTE_TABLE,
	EC2_ORIGIN_CREATE_ROUTE,
	EC2_ORIGIN_VGW_PROPAGATION, /* EnableVgwRoutePropagation */
};

enum ec2_assoc_state {
	EC2_ASSOC_UNKNOWN = 0,    /* not given */
	EC2_ASSOC_ASSOCIATING,
	EC2_ASSOC_ASSOCIATED,
	EC2_ASSOC_DISASSOCIATING,
	EC2_ASSOC_DISASSOCIATED,
	EC2_ASSOC_FAILED,
};

enum ec2_instance_state {
	EC2_INSTANCE_UNKNOWN = 0, /* not given */
	EC2_INSTANCE_PENDING,
	EC2_INSTANCE_RUNNING,
	EC2_INSTANCE_SHUTTING_DOWN,
	EC2_INSTANCE_TERMINATED,
	EC2_INSTANCE_STOPPING,
	EC2_INSTANCE_STOPPED,
};

struct ec2_route {
	/* Exactly one destination: dst (family 4 or 6), or a prefix list
	 * (dst.family 0). */
	struct strata_prefix dst;
	char prefix_list[EC2_ID_MAX];   /* pl-… */
	enum ec2_target target_kind;
	char target[EC2_ID_MAX];        /* the target's id */
	char instance_id[EC2_ID_MAX];   /* i-…: instance and ENI targets */
	enum ec2_route_state state;     /* always given */
	enum ec2_route_origin origin;
};

struct ec2_association {
	char id[EC2_ID_MAX];            /* rtbassoc-… */
	char subnet_id[EC2_ID_MAX];     /* "" for the main or a gateway one */
	char gateway_id[EC2_ID_MAX];    /* an edge association's gateway */
	bool main;                      /* the VPC's main table */
	enum ec2_assoc_state state;
};

struct ec2_route_table {
	char id[EC2_ID_MAX];            /* rtb-… */
	char vpc_id[EC2_ID_MAX];        /* vpc-… */
	struct ec2_association *assocs;
	size_t n_assocs;
	struct ec2_route *routes;
	size_t n_routes;
};

/* One page of DescribeRouteTables. */
struct ec2_route_tables {
	char request_id[EC2_REQUEST_ID_MAX];
	char *next_token;               /* NULL on the last page */
	struct ec2_route_table *tables;
	size_t n_tables;
};

struct ec2_interface {
	char id[EC2_ID_MAX];            /* eni-… */
	char subnet_id[EC2_ID_MAX];
	char vpc_id[EC2_ID_MAX];
	char instance_id[EC2_ID_MAX];   /* attached to; "" if not */
	char az[EC2_AZ_MAX];            /* an instance's: the instance's */
	char mac[EC2_MAC_MAX];          /* lowercase */
	struct strata_addr private_ip;  /* family 0 if not given */
	int32_t device_index;           /* attachment/deviceIndex; -1: none */
	int8_t source_dest_check;       /* 1, 0, or -1 when not given */
};

struct ec2_instance {
	char id[EC2_ID_MAX];            /* i-… */
	char subnet_id[EC2_ID_MAX];     /* "" once terminated */
	char vpc_id[EC2_ID_MAX];
	char az[EC2_AZ_MAX];            /* placement/availabilityZone */
	struct strata_addr private_ip;
	enum ec2_instance_state state;  /* instanceState/name */
	int8_t source_dest_check;       /* 1, 0, or -1 */
	struct ec2_interface *interfaces; /* networkInterfaceSet, in order */
	size_t n_interfaces;
};

/* One page of DescribeInstances, reservations flattened. */
struct ec2_instances {
	char request_id[EC2_REQUEST_ID_MAX];
	char *next_token;
	struct ec2_instance *instances;
	size_t n_instances;
};

/* One page of DescribeNetworkInterfaces. */
struct ec2_interfaces {
	char request_id[EC2_REQUEST_ID_MAX];
	char *next_token;
	struct ec2_interface *interfaces;
	size_t n_interfaces;
};

/* A mutating call's reply (CreateRoute, ReplaceRoute, DeleteRoute,
 * ModifyNetworkInterfaceAttribute, ...). AWS documents <return>; moto
 * omits it on some, so it is optional. */
struct ec2_return {
	char request_id[EC2_REQUEST_ID_MAX];
	bool has_return;
	bool value;                     /* <return>, if has_return */
};

struct ec2_error {
	char code[EC2_CODE_MAX];        /* "RouteAlreadyExists"; never "" */
	char message[EC2_MESSAGE_MAX];  /* one line: controls become spaces */
	char request_id[EC2_REQUEST_ID_MAX]; /* "" in moto's auth errors */
	uint32_t n_errors;              /* Error elements; the first is kept */
};

int ec2xml_route_tables(const char *buf, size_t len,
			struct ec2_route_tables *out, struct ec2_error *ec2err,
			char *err, size_t errlen);
void ec2xml_route_tables_free(struct ec2_route_tables *rt);

int ec2xml_instances(const char *buf, size_t len, struct ec2_instances *out,
		     struct ec2_error *ec2err, char *err, size_t errlen);
void ec2xml_instances_free(struct ec2_instances *in);

int ec2xml_interfaces(const char *buf, size_t len, struct ec2_interfaces *out,
		      struct ec2_error *ec2err, char *err, size_t errlen);
void ec2xml_interfaces_free(struct ec2_interfaces *ifs);

/* The reply to `action` ("CreateRoute": the root must be
 * CreateRouteResponse). -EINVAL if action is not a plain name. */
int ec2xml_return(const char *buf, size_t len, const char *action,
		  struct ec2_return *out, struct ec2_error *ec2err,
		  char *err, size_t errlen);

/* An error body on its own (an HTTP 4xx/5xx): 0 and *out filled (out
 * may be NULL) when it is EC2's error response, else -EBADMSG (or
 * -ENOMEM). */
int ec2xml_error(const char *buf, size_t len, struct ec2_error *out,
		 char *err, size_t errlen);

/* Names for logs: "interface", "blackhole", "running", ... */
const char *ec2_target_name(enum ec2_target t);
const char *ec2_route_state_name(enum ec2_route_state s);
const char *ec2_instance_state_name(enum ec2_instance_state s);

#endif
