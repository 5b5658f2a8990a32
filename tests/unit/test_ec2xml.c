/* SPDX-License-Identifier: Apache-2.0 */
/* EC2 responses through expat: the fixtures, every refusal, hostile XML. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ec2xml.h"

static uint64_t seed;

/* -- helpers -------------------------------------------------------------- */

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static bool prefix_is(const struct strata_prefix *p, const char *text)
{
	char addr[INET6_ADDRSTRLEN], buf[64];

	if (p->family != STRATA_AF_INET && p->family != STRATA_AF_INET6)
		return false;
	inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6, p->addr,
		  addr, sizeof(addr));
	snprintf(buf, sizeof(buf), "%s/%u", addr, p->len);
	return !strcmp(buf, text);
}

static bool addr_is(const struct strata_addr *a, const char *text)
{
	char addr[INET6_ADDRSTRLEN];

	if (a->family != STRATA_AF_INET)
		return false;
	inet_ntop(AF_INET, a->addr, addr, sizeof(addr));
	return !strcmp(addr, text);
}

enum which { W_RT, W_IN, W_IF, W_RET, W_ERR };

/* Parse with one of the functions, free what it gave. */
static int parse_as(enum which w, const char *doc, size_t len,
		    struct ec2_error *e, char *err, size_t errlen)
{
	struct ec2_route_tables rt;
	struct ec2_instances in;
	struct ec2_interfaces ifs;
	struct ec2_return ret;
	int rc = -1;

	switch (w) {
	case W_RT:
		rc = ec2xml_route_tables(doc, len, &rt, e, err, errlen);
		ec2xml_route_tables_free(&rt);
		break;
	case W_IN:
		rc = ec2xml_instances(doc, len, &in, e, err, errlen);
		ec2xml_instances_free(&in);
		break;
	case W_IF:
		rc = ec2xml_interfaces(doc, len, &ifs, e, err, errlen);
		ec2xml_interfaces_free(&ifs);
		break;
	case W_RET:
		rc = ec2xml_return(doc, len, "CreateRoute", &ret, e, err,
				   errlen);
		break;
	case W_ERR:
		rc = ec2xml_error(doc, len, e, err, errlen);
		break;
	}
	return rc;
}

#define RT(x) "<DescribeRouteTablesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	"<routeTableSet><item><routeTableId>rtb-1</routeTableId>" \
	"<vpcId>vpc-1</vpcId>" x "</item></routeTableSet>" \
	"</DescribeRouteTablesResponse>"
#define ROUTE(x) RT("<routeSet><item>" x "</item></routeSet>")
#define ACTIVE "<state>active</state>"
#define ASSOC(x) RT("<associationSet><item>" x "</item></associationSet>")
#define INST(x) "<DescribeInstancesResponse><reservationSet><item>" \
	"<instancesSet><item><instanceId>i-1</instanceId>" x \
	"</item></instancesSet></item></reservationSet>" \
	"</DescribeInstancesResponse>"
#define IFACE(x) "<DescribeNetworkInterfacesResponse><networkInterfaceSet>" \
	"<item><networkInterfaceId>eni-1</networkInterfaceId>" x \
	"</item></networkInterfaceSet></DescribeNetworkInterfacesResponse>"
#define ERRDOC(x) "<Response><Errors>" x "</Errors></Response>"

/* -- the fixtures ----------------------------------------------------------- */

START_TEST(test_moto_route_tables)
{
	struct ec2_route_tables rt;
	struct ec2_route_table *t;
	char err[256] = "", *doc;
	size_t len;

	doc = slurp("moto-describe_route_tables.xml", &len);
	ck_assert_int_eq(ec2xml_route_tables(doc, len, &rt, NULL, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(rt.request_id, "request-id");
	ck_assert_ptr_null(rt.next_token);
	ck_assert_uint_eq(rt.n_tables, 2);

	t = &rt.tables[0];
	ck_assert_str_eq(t->id, "rtb-72e0eed138ec2689a");
	ck_assert_str_eq(t->vpc_id, "vpc-f032e6a1dcc2a9607");
	ck_assert_uint_eq(t->n_assocs, 1);
	ck_assert(t->assocs[0].main);
	ck_assert_str_eq(t->assocs[0].subnet_id, "");
	ck_assert_int_eq(t->assocs[0].state, EC2_ASSOC_ASSOCIATED);
	ck_assert_uint_eq(t->n_routes, 1);
	ck_assert(prefix_is(&t->routes[0].dst, "10.0.0.0/16"));
	ck_assert_int_eq(t->routes[0].target_kind, EC2_TARGET_GATEWAY);
	ck_assert_str_eq(t->routes[0].target, "local");
	ck_assert_int_eq(t->routes[0].origin, EC2_ORIGIN_CREATE_ROUTE_TABLE);

	t = &rt.tables[1];
	ck_assert_str_eq(t->id, "rtb-baffa8093106a54af");
	ck_assert_uint_eq(t->n_assocs, 1);
	ck_assert(!t->assocs[0].main);
	ck_assert_str_eq(t->assocs[0].id, "rtbassoc-8cab15b7df418ec7b");
	ck_assert_str_eq(t->assocs[0].subnet_id, "subnet-4575f6f86dfeb38e3");
	ck_assert_uint_eq(t->n_routes, 3);
	ck_assert(prefix_is(&t->routes[1].dst, "10.112.0.0/16"));
	ck_assert_int_eq(t->routes[1].target_kind, EC2_TARGET_INTERFACE);
	ck_assert_str_eq(t->routes[1].target, "eni-bf5c2f60b4437a0e9");
	ck_assert_str_eq(t->routes[1].instance_id, "");
	ck_assert_int_eq(t->routes[1].state, EC2_ROUTE_ACTIVE);
	ck_assert_int_eq(t->routes[1].origin, EC2_ORIGIN_CREATE_ROUTE);
	ck_assert(prefix_is(&t->routes[2].dst, "2001:db8::/64"));
	ck_assert_int_eq(t->routes[2].target_kind, EC2_TARGET_INTERFACE);

	ec2xml_route_tables_free(&rt);
	free(doc);
}
END_TEST

START_TEST(test_aws_route_tables_pages)
{
	struct ec2_route_tables rt;
	struct ec2_route_table *t;
	struct ec2_route *r;
	char err[256], *doc;
	size_t len;

	doc = slurp("aws-describe-route-tables-page1.xml", &len);
	ck_assert_msg(!ec2xml_route_tables(doc, len, &rt, NULL, err,
					   sizeof(err)), "%s", err);
	free(doc);
	ck_assert_str_eq(rt.request_id, "6f570b0b-9c18-4b07-bdec-73740dcf861a");
	ck_assert_ptr_nonnull(rt.next_token);
	ck_assert_str_eq(rt.next_token,
		"eyJ2IjoiMiIsImMiOiJ2L0ZZRTQ1K3ZDM2dIdz09IiwicyI6IjEifQ==");
	ck_assert_uint_eq(rt.n_tables, 2);

	/* the VPC's main table */
	t = &rt.tables[0];
	ck_assert_uint_eq(t->n_assocs, 1);
	ck_assert(t->assocs[0].main);
	ck_assert_uint_eq(t->n_routes, 5);
	ck_assert(prefix_is(&t->routes[1].dst, "2600:1f18:abcd:1200::/56"));
	ck_assert_str_eq(t->routes[2].target, "igw-0f1e2d3c4b5a69788");
	ck_assert(prefix_is(&t->routes[3].dst, "::/0"));
	ck_assert_int_eq(t->routes[3].target_kind, EC2_TARGET_EGRESS_ONLY);
	r = &t->routes[4];
	ck_assert_uint_eq(r->dst.family, 0);
	ck_assert_str_eq(r->prefix_list, "pl-63a5400a");
	ck_assert_int_eq(r->target_kind, EC2_TARGET_GATEWAY);
	ck_assert_str_eq(r->target, "vpce-0c1d2e3f4a5b6c7d8");

	/* a subnets' table with our routes, a blackhole and others' */
	t = &rt.tables[1];
	ck_assert_uint_eq(t->n_assocs, 3);
	ck_assert_str_eq(t->assocs[1].subnet_id, "subnet-0ccc3333dddd4444e");
	ck_assert_str_eq(t->assocs[2].subnet_id, "");
	ck_assert_str_eq(t->assocs[2].gateway_id, "igw-0f1e2d3c4b5a69788");
	ck_assert_uint_eq(t->n_routes, 10);
	r = &t->routes[1];
	ck_assert(prefix_is(&r->dst, "10.112.0.0/16"));
	ck_assert_int_eq(r->target_kind, EC2_TARGET_INTERFACE);
	ck_assert_str_eq(r->target, "eni-0a1a2a3a4a5a6a7a8");
	ck_assert_str_eq(r->instance_id, "i-0aa11bb22cc33dd44");
	r = &t->routes[2];
	ck_assert_int_eq(r->state, EC2_ROUTE_BLACKHOLE);
	ck_assert_int_eq(r->target_kind, EC2_TARGET_INSTANCE);
	ck_assert_str_eq(r->target, "i-0ee55ff66aa77bb88");
	r = &t->routes[3];
	ck_assert_int_eq(r->state, EC2_ROUTE_BLACKHOLE);
	ck_assert_int_eq(r->target_kind, EC2_TARGET_INTERFACE);
	r = &t->routes[4];
	ck_assert(prefix_is(&r->dst, "2600:1f18:abcd:1280::/60"));
	ck_assert_int_eq(r->target_kind, EC2_TARGET_INTERFACE);
	ck_assert_int_eq(t->routes[5].target_kind, EC2_TARGET_PEERING);
	ck_assert_int_eq(t->routes[6].target_kind,
			 EC2_TARGET_TRANSIT_GATEWAY);
	ck_assert_int_eq(t->routes[7].origin, EC2_ORIGIN_VGW_PROPAGATION);
	ck_assert_int_eq(t->routes[8].target_kind, EC2_TARGET_NAT_GATEWAY);
	/* a target kind we do not know: kept, as unknown */
	ck_assert(prefix_is(&t->routes[9].dst, "100.64.0.0/10"));
	ck_assert_int_eq(t->routes[9].target_kind, EC2_TARGET_UNKNOWN);
	ck_assert_str_eq(t->routes[9].target, "");
	ec2xml_route_tables_free(&rt);

	doc = slurp("aws-describe-route-tables-page2.xml", &len);
	ck_assert_msg(!ec2xml_route_tables(doc, len, &rt, NULL, err,
					   sizeof(err)), "%s", err);
	free(doc);
	ck_assert_ptr_null(rt.next_token);
	ck_assert_uint_eq(rt.n_tables, 1);
	ck_assert_str_eq(rt.tables[0].routes[1].instance_id,
			 "i-0cc99dd88ee77ff66");
	ec2xml_route_tables_free(&rt);
}
END_TEST

START_TEST(test_instances)
{
	struct ec2_instances in;
	struct ec2_instance *i;
	struct ec2_interface *e;
	char err[256], *doc;
	size_t len;

	doc = slurp("aws-describe-instances.xml", &len);
	ck_assert_msg(!ec2xml_instances(doc, len, &in, NULL, err, sizeof(err)),
		      "%s", err);
	free(doc);
	ck_assert_str_eq(in.next_token, "AAEAAeXZuYmFyOmJheg");
	/* two reservations, flattened */
	ck_assert_uint_eq(in.n_instances, 3);
	i = &in.instances[0];
	ck_assert_str_eq(i->id, "i-0aa11bb22cc33dd44");
	ck_assert_int_eq(i->state, EC2_INSTANCE_RUNNING);
	ck_assert_str_eq(i->az, "us-east-1a");
	ck_assert_str_eq(i->subnet_id, "subnet-0aaa1111bbbb2222c");
	ck_assert_str_eq(i->vpc_id, "vpc-0123456789abcdef0");
	ck_assert(addr_is(&i->private_ip, "10.0.1.10"));
	ck_assert_int_eq(i->source_dest_check, 0);
	ck_assert_uint_eq(i->n_interfaces, 2);
	e = &i->interfaces[0];
	ck_assert_str_eq(e->id, "eni-0a1a2a3a4a5a6a7a8");
	ck_assert_int_eq(e->device_index, 0);
	ck_assert_int_eq(e->source_dest_check, 0);
	ck_assert_str_eq(e->mac, "0e:12:34:56:78:9a");
	ck_assert_str_eq(e->instance_id, "i-0aa11bb22cc33dd44");
	ck_assert_str_eq(e->az, "us-east-1a");
	e = &i->interfaces[1];
	ck_assert_int_eq(e->device_index, 1);
	ck_assert_int_eq(e->source_dest_check, 1);
	ck_assert_str_eq(e->mac, "0e:12:34:56:78:9b");
	ck_assert_str_eq(e->subnet_id, "subnet-0ccc3333dddd4444e");
	ck_assert(addr_is(&e->private_ip, "10.0.2.20"));

	i = &in.instances[1];
	ck_assert_int_eq(i->state, EC2_INSTANCE_PENDING);
	ck_assert_str_eq(i->interfaces[0].az, "us-east-1b");
	i = &in.instances[2];
	ck_assert_int_eq(i->state, EC2_INSTANCE_TERMINATED);
	ck_assert_str_eq(i->subnet_id, "");
	ck_assert_uint_eq(i->private_ip.family, 0);
	ck_assert_int_eq(i->source_dest_check, -1);
	ck_assert_uint_eq(i->n_interfaces, 0);
	ec2xml_instances_free(&in);

	doc = slurp("moto-describe_instances.xml", &len);
	ck_assert_msg(!ec2xml_instances(doc, len, &in, NULL, err, sizeof(err)),
		      "%s", err);
	free(doc);
	ck_assert_ptr_null(in.next_token);
	ck_assert_uint_eq(in.n_instances, 1);
	i = &in.instances[0];
	ck_assert_str_eq(i->id, "i-67362ef7653a6657c");
	ck_assert_int_eq(i->source_dest_check, 1);
	ck_assert_uint_eq(i->n_interfaces, 1);
	/* moto's ENI says false after ModifyNetworkInterfaceAttribute */
	ck_assert_int_eq(i->interfaces[0].source_dest_check, 0);
	ck_assert_str_eq(i->interfaces[0].id, "eni-bf5c2f60b4437a0e9");
	ck_assert(addr_is(&i->interfaces[0].private_ip, "10.0.1.4"));
	ec2xml_instances_free(&in);
}
END_TEST

START_TEST(test_interfaces)
{
	struct ec2_interfaces ifs;
	struct ec2_interface *e;
	char err[256], *doc;
	size_t len;

	doc = slurp("aws-describe-network-interfaces.xml", &len);
	ck_assert_msg(!ec2xml_interfaces(doc, len, &ifs, NULL, err,
					 sizeof(err)), "%s", err);
	free(doc);
	ck_assert_str_eq(ifs.next_token, "ZXhhbXBsZS10b2tlbg");
	ck_assert_uint_eq(ifs.n_interfaces, 2);
	e = &ifs.interfaces[0];
	ck_assert_str_eq(e->instance_id, "i-0aa11bb22cc33dd44");
	ck_assert_int_eq(e->device_index, 0);
	ck_assert_str_eq(e->az, "us-east-1a");
	ck_assert_int_eq(e->source_dest_check, 1);
	e = &ifs.interfaces[1];
	ck_assert_str_eq(e->id, "eni-0f1f2f3f4f5f6f7f8");
	ck_assert_str_eq(e->instance_id, "");
	ck_assert_int_eq(e->device_index, -1);
	ec2xml_interfaces_free(&ifs);

	doc = slurp("moto-describe_network_interfaces.xml", &len);
	ck_assert_msg(!ec2xml_interfaces(doc, len, &ifs, NULL, err,
					 sizeof(err)), "%s", err);
	free(doc);
	ck_assert_uint_eq(ifs.n_interfaces, 1);
	e = &ifs.interfaces[0];
	ck_assert_str_eq(e->instance_id, "i-67362ef7653a6657c");
	ck_assert_str_eq(e->mac, "02:00:00:79:03:2f");
	ck_assert_int_eq(e->source_dest_check, 0);
	ec2xml_interfaces_free(&ifs);
}
END_TEST

static const struct {
	const char *file;
	const char *action;
	bool has_return;
} returns[] = {
	{ "moto-create_route.xml", "CreateRoute", true },
	{ "moto-replace_route.xml", "ReplaceRoute", false },
	{ "moto-delete_route.xml", "DeleteRoute", false },
	{ "moto-modify_eni.xml", "ModifyNetworkInterfaceAttribute", false },
	{ "aws-create-route.xml", "CreateRoute", true },
	{ "aws-modify-network-interface-attribute.xml",
	  "ModifyNetworkInterfaceAttribute", true },
};

START_TEST(test_returns)
{
	struct ec2_return ret;
	struct ec2_error e;
	char err[256], *doc;
	size_t len;

	doc = slurp(returns[_i].file, &len);
	ck_assert_msg(!ec2xml_return(doc, len, returns[_i].action, &ret, &e,
				     err, sizeof(err)), "%s", err);
	ck_assert(ret.has_return == returns[_i].has_return);
	if (ret.has_return)
		ck_assert(ret.value);
	ck_assert_str_ne(ret.request_id, "");
	ck_assert_str_eq(e.code, "");
	/* the reply to another action is not this one's */
	ck_assert_int_eq(ec2xml_return(doc, len, "DeleteVpc", &ret, &e, err,
				       sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "expected DeleteVpcResponse"), "%s", err);
	free(doc);
}
END_TEST

START_TEST(test_return_false_and_bad_action)
{
	static const char f[] = "<CreateRouteResponse><requestId>r-1</requestId>"
		"<return>false</return></CreateRouteResponse>";
	struct ec2_return ret;
	char err[256];

	ck_assert_int_eq(ec2xml_return(f, strlen(f), "CreateRoute", &ret, NULL,
				       err, sizeof(err)), 0);
	ck_assert(ret.has_return && !ret.value);
	ck_assert_int_eq(ec2xml_return(f, strlen(f), "Create Route", &ret,
				       NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ec2xml_return(f, strlen(f), "", &ret, NULL, err,
				       sizeof(err)), -EINVAL);
	ck_assert_int_eq(ec2xml_return(f, strlen(f), NULL, &ret, NULL, err,
				       sizeof(err)), -EINVAL);
}
END_TEST

static const struct {
	const char *file;
	const char *code;
	const char *request_id;
	const char *message_start;
} errors[] = {
	{ "moto-delete_missing.xml", "InvalidRoute.NotFound", "request-id",
	  "no route with destination-cidr-block 10.112.0.0/16" },
	{ "moto-replace_missing.xml", "InvalidParameterValue", "request-id",
	  "There is no route defined for '10.113.0.0/16'" },
	{ "moto-auth_failure.xml", "AuthFailure", "",
	  "AWS was not able to validate" },
	{ "aws-error-route-limit.xml", "RouteLimitExceeded",
	  "ea966190-f9aa-478e-9ede-cb5432daacc0", "The maximum number" },
	{ "aws-error-throttled.xml", "RequestLimitExceeded",
	  "b8e1c5a4-2f0d-4c3e-9a7b-6d5e4f3a2b1c", "Request limit exceeded." },
	{ "aws-error-unauthorized.xml", "UnauthorizedOperation",
	  "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
	  "You are not authorized" },
	{ "sts-style-error.xml", "ExpiredToken",
	  "4f2a1b3c-5d6e-4f70-8192-a3b4c5d6e7f8", "The security token" },
};

/* Where a route table list (or anything) was expected, an error response
 * is reported as such, with its code. */
START_TEST(test_errors)
{
	static const enum which all[] = { W_RT, W_IN, W_IF, W_RET };
	struct ec2_error e;
	char err[768], want[128], *doc;
	size_t len, k;

	doc = slurp(errors[_i].file, &len);
	ck_assert_msg(!ec2xml_error(doc, len, &e, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(e.code, errors[_i].code);
	ck_assert_str_eq(e.request_id, errors[_i].request_id);
	ck_assert_msg(!strncmp(e.message, errors[_i].message_start,
			       strlen(errors[_i].message_start)),
		      "%s", e.message);
	ck_assert_uint_eq(e.n_errors, 1);
	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(parse_as(all[k], doc, len, &e, err,
					  sizeof(err)), -EREMOTEIO);
		ck_assert_str_eq(e.code, errors[_i].code);
		snprintf(want, sizeof(want), "EC2 error %s: ",
			 errors[_i].code);
		ck_assert_msg(!strncmp(err, want, strlen(want)), "%s", err);
	}
	free(doc);
}
END_TEST

START_TEST(test_wrong_kind)
{
	char err[256], *doc;
	struct ec2_error e;
	size_t len;

	doc = slurp("aws-describe-instances.xml", &len);
	ck_assert_int_eq(parse_as(W_RT, doc, len, &e, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_str_eq(err, "DescribeInstancesResponse: expected "
			 "DescribeRouteTablesResponse");
	ck_assert_str_eq(e.code, "");
	ck_assert_int_eq(parse_as(W_ERR, doc, len, &e, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_msg(strstr(err, "not an error response"), "%s", err);
	free(doc);
}
END_TEST

/* -- refusals --------------------------------------------------------------- */

static const struct {
	enum which w;
	const char *doc;
	const char *want;       /* the whole error, or its start with '*' */
} refusals[] = {
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.1/16</destinationCidrBlock>" ACTIVE),
	  "routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: "
	  "not a canonical IPv4 CIDR: '10.0.0.1/16'" },
	{ W_RT, ROUTE("<destinationCidrBlock>2001:db8::/32</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical IPv4" },
	{ W_RT, ROUTE("<destinationIpv6CidrBlock>10.0.0.0/8</destinationIpv6CidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationIpv6CidrBlock: not a canonical IPv6" },
	{ W_RT, ROUTE("<destinationIpv6CidrBlock>2001:db8::1/64</destinationIpv6CidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationIpv6CidrBlock: not a canonical IPv6" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/33</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/016</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical" },
	{ W_RT, ROUTE("<destinationCidrBlock>010.0.0.0/8</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/+8</destinationCidrBlock>" ACTIVE),
	  "*routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: not a canonical" },
	{ W_RT, RT("<routeSet><item><destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>"
		   ACTIVE "</item><item><destinationCidrBlock>10.1.0.0/16</destinationCidrBlock>"
		   ACTIVE "</item><item><destinationCidrBlock>10.2.0.0/16</destinationCidrBlock>"
		   ACTIVE "</item><item><destinationCidrBlock>10.3.0.0/15</destinationCidrBlock>"
		   ACTIVE "</item></routeSet>"),
	  "routeTableSet/item[0]/routeSet/item[3]/destinationCidrBlock: "
	  "not a canonical IPv4 CIDR: '10.3.0.0/15'" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>"
		      "<destinationIpv6CidrBlock>::/0</destinationIpv6CidrBlock>" ACTIVE),
	  "routeTableSet/item[0]/routeSet/item[0]/destinationIpv6CidrBlock: a second destination" },
	{ W_RT, ROUTE("<destinationPrefixListId>pl-1</destinationPrefixListId>"
		      "<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE),
	  "routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: a second destination" },
	{ W_RT, ROUTE("<gatewayId>local</gatewayId>" ACTIVE),
	  "routeTableSet/item[0]/routeSet/item[0]: no destination" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>"),
	  "routeTableSet/item[0]/routeSet/item[0]: no state" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock><state>gone</state>"),
	  "routeTableSet/item[0]/routeSet/item[0]/state: unknown route state 'gone'" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<origin>Magic</origin>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/origin: unknown route origin" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<gatewayId>igw-1</gatewayId><natGatewayId>nat-1</natGatewayId>"),
	  "routeTableSet/item[0]/routeSet/item[0]/natGatewayId: a second target "
	  "(already gateway igw-1)" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<networkInterfaceId>eni-1</networkInterfaceId><gatewayId>igw-1</gatewayId>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/gatewayId: a second target" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<networkInterfaceId>i-1</networkInterfaceId>"),
	  "routeTableSet/item[0]/routeSet/item[0]/networkInterfaceId: not a eni- id: 'i-1'" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<instanceId>i-ABC</instanceId>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/instanceId: not a i- id" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<instanceId>i-</instanceId>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/instanceId: not a i- id" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<gatewayId>igw 1</gatewayId>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/gatewayId: not an id" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<networkInterfaceId>eni-0123456789abcdef0123456789abcdef0123456789abc</networkInterfaceId>"),
	  "*routeTableSet/item[0]/routeSet/item[0]/networkInterfaceId: not a eni- id" },
	{ W_RT, ROUTE("<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		      "<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>"),
	  "routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock: given twice" },
	{ W_RT, RT("<routeTableId>rtb-2</routeTableId>"),
	  "routeTableSet/item[0]/routeTableId: given twice" },
	{ W_RT, RT("<routeSet/><routeSet/>"),
	  "routeTableSet/item[0]/routeSet: given twice" },
	{ W_RT, "<DescribeRouteTablesResponse><routeTableSet><item><vpcId>vpc-1</vpcId>"
		"</item></routeTableSet></DescribeRouteTablesResponse>",
	  "routeTableSet/item[0]: no routeTableId" },
	{ W_RT, "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-1"
		"</routeTableId></item></routeTableSet></DescribeRouteTablesResponse>",
	  "routeTableSet/item[0]: no vpcId" },
	{ W_RT, "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>vpc-1"
		"</routeTableId></item></routeTableSet></DescribeRouteTablesResponse>",
	  "routeTableSet/item[0]/routeTableId: not a rtb- id: 'vpc-1'" },
	{ W_RT, ASSOC("<routeTableAssociationId>rtbassoc-1</routeTableAssociationId><main>yes</main>"),
	  "routeTableSet/item[0]/associationSet/item[0]/main: not true or false" },
	{ W_RT, ASSOC("<main>true</main>"),
	  "routeTableSet/item[0]/associationSet/item[0]: no routeTableAssociationId" },
	{ W_RT, ASSOC("<routeTableAssociationId>rtbassoc-1</routeTableAssociationId>"
		      "<subnetId>sub-1</subnetId>"),
	  "*routeTableSet/item[0]/associationSet/item[0]/subnetId: not a subnet- id" },
	{ W_RT, ASSOC("<routeTableAssociationId>rtbassoc-1</routeTableAssociationId>"
		      "<associationState><state>floating</state></associationState>"),
	  "*routeTableSet/item[0]/associationSet/item[0]/associationState/state: unknown association state" },
	{ W_RT, RT("<vpcId2><x/></vpcId2><routeSet><item><destinationCidrBlock>10.0.0.0/8"
		   "<b>x</b></destinationCidrBlock></item></routeSet>"),
	  "routeTableSet/item[0]/routeSet/item[0]/destinationCidrBlock/b: an element inside a value" },
	{ W_RT, "<DescribeRouteTablesResponse><nextToken>a b</nextToken></DescribeRouteTablesResponse>",
	  "*nextToken: not a token" },
	{ W_RT, "<DescribeRouteTablesResponse><requestId>a&#9;b</requestId></DescribeRouteTablesResponse>",
	  "requestId: not a request id" },
	{ W_RT, "<DescribeRouteTablesResponse><requestId>0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789</requestId></DescribeRouteTablesResponse>",
	  "requestId: longer than 79 bytes" },
	{ W_IN, INST("<privateIpAddress>10.0.0.256</privateIpAddress>"),
	  "*reservationSet/item[0]/instancesSet/item[0]/privateIpAddress: not an IPv4 address" },
	{ W_IN, INST("<sourceDestCheck>TRUE</sourceDestCheck>"),
	  "reservationSet/item[0]/instancesSet/item[0]/sourceDestCheck: not true or false" },
	{ W_IN, INST("<instanceState><name>exploded</name></instanceState>"),
	  "*reservationSet/item[0]/instancesSet/item[0]/instanceState/name: unknown instance state" },
	{ W_IN, INST("<placement><availabilityZone>us east</availabilityZone></placement>"),
	  "*reservationSet/item[0]/instancesSet/item[0]/placement/availabilityZone: not an availability zone" },
	{ W_IN, INST("<networkInterfaceSet><item><attachment><deviceIndex>0</deviceIndex>"
		     "</attachment></item></networkInterfaceSet>"),
	  "reservationSet/item[0]/instancesSet/item[0]/networkInterfaceSet/item[0]: no networkInterfaceId" },
	{ W_IN, INST("<networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>"
		     "<attachment><instanceId>i-2</instanceId></attachment></item>"
		     "</networkInterfaceSet>"),
	  "reservationSet/item[0]/instancesSet/item[0]: networkInterfaceSet/item[0] "
	  "is attached to i-2" },
	{ W_IN, "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
		"<vpcId>vpc-1</vpcId></item></instancesSet></item></reservationSet>"
		"</DescribeInstancesResponse>",
	  "reservationSet/item[0]/instancesSet/item[0]: no instanceId" },
	{ W_IF, IFACE("<attachment><deviceIndex>01</deviceIndex></attachment>"),
	  "networkInterfaceSet/item[0]/attachment/deviceIndex: not a device index (0..65535)" },
	{ W_IF, IFACE("<attachment><deviceIndex>-1</deviceIndex></attachment>"),
	  "networkInterfaceSet/item[0]/attachment/deviceIndex: not a device index (0..65535)" },
	{ W_IF, IFACE("<attachment><deviceIndex>65536</deviceIndex></attachment>"),
	  "networkInterfaceSet/item[0]/attachment/deviceIndex: not a device index (0..65535)" },
	{ W_IF, IFACE("<macAddress>02:00:00:79:03</macAddress>"),
	  "networkInterfaceSet/item[0]/macAddress: not a MAC address" },
	{ W_IF, IFACE("<macAddress>02-00-00-79-03-2f</macAddress>"),
	  "networkInterfaceSet/item[0]/macAddress: not a MAC address" },
	{ W_IF, IFACE("<attachment><instanceId>eni-1</instanceId></attachment>"),
	  "networkInterfaceSet/item[0]/attachment/instanceId: not a i- id: 'eni-1'" },
	{ W_RET, "<CreateRouteResponse><return>1</return></CreateRouteResponse>",
	  "return: not true or false" },
	{ W_RET, "<CreateRouteResponse><return>true</return><return>true</return>"
		 "</CreateRouteResponse>",
	  "return: given twice" },
	/* errors that are not well-formed errors */
	{ W_RT, ERRDOC("<Error><Message>no code</Message></Error>"),
	  "Errors/Error[0]: no Code" },
	{ W_ERR, "<Response><RequestID>x</RequestID></Response>",
	  "Response: no Errors/Error" },
	{ W_ERR, ERRDOC("<Error><Code>Bad Code</Code></Error>"),
	  "Errors/Error[0]/Code: not an error code" },
	{ W_ERR, "<Response><Errors><Error><Code>A</Code></Error></Errors>"
		 "<RequestID>x</RequestID><RequestId>y</RequestId></Response>",
	  "RequestId: given twice" },
	/* not XML, or XML we refuse */
	{ W_RT, "", "*not XML: line 1, column 0: no element found" },
	{ W_RT, "<DescribeRouteTablesResponse>", "*not XML: line 1" },
	{ W_RT, "<DescribeRouteTablesResponse/><x/>", "*not XML: line 1, column 30: junk" },
	{ W_RT, "<DescribeRouteTablesResponse><requestId>&foo;</requestId>"
		"</DescribeRouteTablesResponse>",
	  "*not XML: line 1, column 40: undefined entity" },
	{ W_RT, "<p:DescribeRouteTablesResponse/>", "*not XML: line 1, column 0: unbound prefix" },
	{ W_RT, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;\">]><DescribeRouteTablesResponse>"
		"<requestId>&b;</requestId></DescribeRouteTablesResponse>",
	  "document: DOCTYPE refused" },
	{ W_ERR, "<!DOCTYPE Response SYSTEM \"file:///etc/passwd\"><Response/>",
	  "document: DOCTYPE refused" },
	{ W_IN, "<!DOCTYPE DescribeInstancesResponse><DescribeInstancesResponse/>",
	  "document: DOCTYPE refused" },
	{ W_RT, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><DescribeRouteTablesResponse/>",
	  "document: encoding 'ISO-8859-1' refused (UTF-8 only)" },
	{ W_RT, "<Describe/>", "Describe: expected DescribeRouteTablesResponse" },
	{ W_ERR, "<DescribeRouteTablesResponse/>",
	  "DescribeRouteTablesResponse: not an error response" },
};

START_TEST(test_refusals)
{
	const char *doc = refusals[_i].doc, *want = refusals[_i].want;
	struct ec2_error e;
	char err[768];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = parse_as(refusals[_i].w, doc, strlen(doc), &e, err, sizeof(err));
	ck_assert_msg(rc == -EBADMSG, "case %d: rc %d (%s)", _i, rc, err);
	if (want[0] == '*')
		ck_assert_msg(!strncmp(err, want + 1, strlen(want + 1)),
			      "case %d: got '%s', want '%s...'", _i, err,
			      want + 1);
	else
		ck_assert_msg(!strcmp(err, want),
			      "case %d: got '%s', want '%s'", _i, err, want);
	ck_assert_str_eq(e.code, "");
}
END_TEST

/* Shapes that must be accepted as they are. */
static const struct {
	enum which w;
	const char *doc;
} accepted[] = {
	{ W_RT, ROUTE("<destinationCidrBlock>0.0.0.0/0</destinationCidrBlock>" ACTIVE) },
	{ W_RT, ROUTE("<destinationIpv6CidrBlock>2001:db8::1/128</destinationIpv6CidrBlock>" ACTIVE) },
	{ W_RT, ROUTE("<destinationCidrBlock>10.1.2.3/32</destinationCidrBlock>" ACTIVE) },
	/* whitespace, CDATA and character references in values */
	{ W_RT, ROUTE("<destinationCidrBlock>\n  10.0.0.0/8\t</destinationCidrBlock>"
		      "<state><![CDATA[active]]></state><gatewayId>&#x6c;ocal</gatewayId>") },
	/* no namespace, another namespace, a prefixed one */
	{ W_RT, "<DescribeRouteTablesResponse/>" },
	{ W_RT, "<DescribeRouteTablesResponse xmlns=\"urn:other\"><routeTableSet/></DescribeRouteTablesResponse>" },
	{ W_RT, "<e:DescribeRouteTablesResponse xmlns:e=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
		"<e:routeTableSet><e:item><e:routeTableId>rtb-1</e:routeTableId><e:vpcId>vpc-1</e:vpcId>"
		"</e:item></e:routeTableSet></e:DescribeRouteTablesResponse>" },
	/* empty values say nothing; comments and PIs are ignored */
	{ W_RT, "<DescribeRouteTablesResponse><nextToken/><requestId></requestId>"
		"<!-- c --><?pi x?></DescribeRouteTablesResponse>" },
	{ W_RT, ASSOC("<routeTableAssociationId>rtbassoc-1</routeTableAssociationId><subnetId/>") },
	/* unknown elements, however deep within the limit, are skipped */
	{ W_RT, RT("<routeSet><item><destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>" ACTIVE
		   "<future><a><b><c><d>x</d></c></b></a></future></item></routeSet>") },
	{ W_IN, INST("<networkInterfaceSet/>") },
	{ W_IN, INST("<instanceState><code>80</code><name>stopped</name></instanceState>") },
	{ W_IF, IFACE("<macAddress>0E:AB:CD:EF:01:23</macAddress>") },
	{ W_RET, "<CreateRouteResponse/>" },
	{ W_RT, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><DescribeRouteTablesResponse/>" },
};

START_TEST(test_accepted)
{
	const char *doc = accepted[_i].doc;
	struct ec2_error e;
	char err[768] = "";
	int rc;

	rc = parse_as(accepted[_i].w, doc, strlen(doc), &e, err, sizeof(err));
	ck_assert_msg(rc == 0, "case %d: rc %d: %s", _i, rc, err);
}
END_TEST

START_TEST(test_values_after_trim)
{
	static const char d[] = ROUTE("<destinationCidrBlock>\n  10.0.0.0/8\t"
		"</destinationCidrBlock><state><![CDATA[blackhole]]></state>"
		"<gatewayId>&#x6c;ocal</gatewayId>");
	struct ec2_route_tables rt;
	char err[256];

	ck_assert_msg(!ec2xml_route_tables(d, strlen(d), &rt, NULL, err,
					   sizeof(err)), "%s", err);
	ck_assert(prefix_is(&rt.tables[0].routes[0].dst, "10.0.0.0/8"));
	ck_assert_int_eq(rt.tables[0].routes[0].state, EC2_ROUTE_BLACKHOLE);
	ck_assert_str_eq(rt.tables[0].routes[0].target, "local");
	ec2xml_route_tables_free(&rt);
}
END_TEST

/* -- hostile input and limits ---------------------------------------------- */

static char *nested(unsigned levels, const char *root)
{
	size_t cap = strlen(root) * 2 + 16 + levels * 8;
	char *s = malloc(cap), *p = s;
	unsigned i;

	ck_assert_ptr_nonnull(s);
	p += sprintf(p, "<%s>", root);
	for (i = 0; i < levels; i++)
		p += sprintf(p, "<a>");
	for (i = 0; i < levels; i++)
		p += sprintf(p, "</a>");
	sprintf(p, "</%s>", root);
	return s;
}

START_TEST(test_depth)
{
	char err[256], *doc;

	/* root + 31 = 32 elements deep: allowed */
	doc = nested(EC2XML_DEPTH_MAX - 1, "DescribeRouteTablesResponse");
	ck_assert_int_eq(parse_as(W_RT, doc, strlen(doc), NULL, err,
				  sizeof(err)), 0);
	free(doc);
	doc = nested(EC2XML_DEPTH_MAX, "DescribeRouteTablesResponse");
	ck_assert_int_eq(parse_as(W_RT, doc, strlen(doc), NULL, err,
				  sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "DescribeRouteTablesResponse: nested deeper "
			 "than 32 elements");
	free(doc);
	/* very deep: refused at the same place, not after */
	doc = nested(100000, "Response");
	ck_assert_int_eq(parse_as(W_ERR, doc, strlen(doc), NULL, err,
				  sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "Response: nested deeper than 32 elements");
	free(doc);
}
END_TEST

START_TEST(test_huge_text)
{
	static const char head[] = "<DescribeRouteTablesResponse><nextToken>";
	static const char tail[] = "</nextToken></DescribeRouteTablesResponse>";
	static const char skip_head[] = "<DescribeRouteTablesResponse><tagSet>";
	static const char skip_tail[] = "</tagSet></DescribeRouteTablesResponse>";
	size_t n = 4 << 20;
	char *doc = malloc(n + sizeof(head) + sizeof(tail)), err[256];
	struct ec2_route_tables rt;

	ck_assert_ptr_nonnull(doc);
	/* a value longer than any: refused */
	memcpy(doc, head, strlen(head));
	memset(doc + strlen(head), 'A', n);
	memcpy(doc + strlen(head) + n, tail, strlen(tail));
	ck_assert_int_eq(ec2xml_route_tables(doc, strlen(head) + n +
					     strlen(tail), &rt, NULL, err,
					     sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "nextToken: longer than 4095 bytes");
	/* the longest token there can be */
	memcpy(doc + strlen(head) + EC2_TOKEN_MAX - 1, tail, strlen(tail));
	ck_assert_msg(!ec2xml_route_tables(doc, strlen(head) +
					   EC2_TOKEN_MAX - 1 + strlen(tail),
					   &rt, NULL, err, sizeof(err)),
		      "%s", err);
	ck_assert_uint_eq(strlen(rt.next_token), EC2_TOKEN_MAX - 1);
	ec2xml_route_tables_free(&rt);
	/* megabytes in an element we skip cost nothing */
	memcpy(doc, skip_head, strlen(skip_head));
	memset(doc + strlen(skip_head), 'A', n);
	memcpy(doc + strlen(skip_head) + n, skip_tail, strlen(skip_tail));
	ck_assert_msg(!ec2xml_route_tables(doc, strlen(skip_head) + n +
					   strlen(skip_tail), &rt, NULL, err,
					   sizeof(err)), "%s", err);
	ec2xml_route_tables_free(&rt);
	free(doc);
}
END_TEST

START_TEST(test_input_cap)
{
	char *doc = malloc((size_t)EC2XML_INPUT_MAX + 1), err[256];
	struct ec2_route_tables rt;

	ck_assert_ptr_nonnull(doc);
	/* refused on its size alone, before a byte is read */
	ck_assert_int_eq(ec2xml_route_tables(doc, EC2XML_INPUT_MAX + 1, &rt,
					     NULL, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_msg(strstr(err, "bytes: more than 67108864"), "%s", err);
	ck_assert_uint_eq(rt.n_tables, 0);
	free(doc);
}
END_TEST

START_TEST(test_item_cap)
{
	static const char head[] = "<DescribeInstancesResponse><reservationSet>"
		"<item><instancesSet>";
	static const char item[] = "<item><instanceId>i-1</instanceId></item>";
	static const char tail[] = "</instancesSet></item></reservationSet>"
		"</DescribeInstancesResponse>";
	size_t n = EC2XML_ITEMS_MAX, cap, off, i;
	struct ec2_instances in;
	char *doc, err[256];

	cap = strlen(head) + (n + 1) * strlen(item) + strlen(tail) + 1;
	doc = malloc(cap);
	ck_assert_ptr_nonnull(doc);
	off = 0;
	memcpy(doc, head, strlen(head));
	off += strlen(head);
	for (i = 0; i < n; i++, off += strlen(item))
		memcpy(doc + off, item, strlen(item));
	memcpy(doc + off, tail, strlen(tail));
	ck_assert_msg(!ec2xml_instances(doc, off + strlen(tail), &in, NULL,
					err, sizeof(err)), "%s", err);
	ck_assert_uint_eq(in.n_instances, n);
	ec2xml_instances_free(&in);
	/* one more */
	memcpy(doc + off, item, strlen(item));
	off += strlen(item);
	memcpy(doc + off, tail, strlen(tail));
	ck_assert_int_eq(ec2xml_instances(doc, off + strlen(tail), &in, NULL,
					  err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "reservationSet/item[0]/instancesSet/item[65536]: "
			 "more than 65536 items in one response");
	ck_assert_ptr_null(in.instances);
	free(doc);
}
END_TEST

/* A long message is cut on a character boundary; controls become spaces;
 * only the first error is kept, and all are counted. */
START_TEST(test_error_message)
{
	static const char head[] = "<Response><Errors><Error><Code>Server.Internal"
		"</Code><Message>line1\r\nline2\t";
	static const char tail[] = "</Message></Error><Error><Code>Second</Code>"
		"</Error></Errors><RequestID>r</RequestID></Response>";
	size_t n = 3000, i, off = strlen(head);
	char *doc = malloc(strlen(head) + n * 2 + strlen(tail) + 1), err[1024];
	struct ec2_error e;

	ck_assert_ptr_nonnull(doc);
	memcpy(doc, head, off);
	for (i = 0; i < n; i++, off += 2)
		memcpy(doc + off, "\xc3\xa9", 2); /* e acute */
	memcpy(doc + off, tail, strlen(tail));
	off += strlen(tail);
	ck_assert_msg(!ec2xml_error(doc, off, &e, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(e.code, "Server.Internal");
	ck_assert_uint_eq(e.n_errors, 2);
	ck_assert_str_eq(e.request_id, "r");
	/* expat has made the CR LF a LF already */
	ck_assert_msg(!strncmp(e.message, "line1 line2 \xc3\xa9", 14), "%s",
		      e.message);
	ck_assert_uint_lt(strlen(e.message), EC2_MESSAGE_MAX);
	ck_assert_uint_ge(strlen(e.message), EC2_MESSAGE_MAX - 2);
	/* ends on a whole character */
	ck_assert_uint_eq((strlen(e.message) - strlen("line1 line2 ")) % 2, 0);
	free(doc);
}
END_TEST

START_TEST(test_free_twice_and_null)
{
	struct ec2_route_tables rt;
	struct ec2_instances in;
	struct ec2_interfaces ifs;
	char *doc;
	size_t len;

	doc = slurp("aws-describe-route-tables-page1.xml", &len);
	ck_assert_int_eq(ec2xml_route_tables(doc, len, &rt, NULL, NULL, 0), 0);
	ec2xml_route_tables_free(&rt);
	ec2xml_route_tables_free(&rt);
	ck_assert_ptr_null(rt.tables);
	free(doc);
	doc = slurp("aws-describe-instances.xml", &len);
	ck_assert_int_eq(ec2xml_instances(doc, len, &in, NULL, NULL, 0), 0);
	ec2xml_instances_free(&in);
	ec2xml_instances_free(&in);
	free(doc);
	doc = slurp("aws-describe-network-interfaces.xml", &len);
	ck_assert_int_eq(ec2xml_interfaces(doc, len, &ifs, NULL, NULL, 0), 0);
	ec2xml_interfaces_free(&ifs);
	ec2xml_interfaces_free(&ifs);
	free(doc);
	ec2xml_route_tables_free(NULL);
	ec2xml_instances_free(NULL);
	ec2xml_interfaces_free(NULL);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(ec2_target_name(EC2_TARGET_INTERFACE), "interface");
	ck_assert_str_eq(ec2_target_name(EC2_TARGET_UNKNOWN), "unknown");
	ck_assert_str_eq(ec2_route_state_name(EC2_ROUTE_BLACKHOLE),
			 "blackhole");
	ck_assert_str_eq(ec2_instance_state_name(EC2_INSTANCE_SHUTTING_DOWN),
			 "shutting-down");
	ck_assert_str_eq(ec2_instance_state_name(EC2_INSTANCE_UNKNOWN),
			 "unknown");
}
END_TEST

/* Every fixture, cut and flipped at random: each parser answers within its
 * contract (a result, EC2's error, or a refusal that says why). */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_mutations)
{
	static const char *files[] = {
		"aws-describe-route-tables-page1.xml",
		"aws-describe-instances.xml",
		"aws-describe-network-interfaces.xml",
		"moto-describe_route_tables.xml",
		"aws-error-route-limit.xml",
		"moto-create_route.xml",
	};
	uint64_t rng = seed ? seed : 1;
	size_t f, len, k, m, pos;
	char *doc, *copy, err[768];
	struct ec2_error e;
	int rc, w, round;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		doc = slurp(files[f], &len);
		copy = malloc(len + 1);
		ck_assert_ptr_nonnull(copy);
		for (round = 0; round < 150; round++) {
			memcpy(copy, doc, len);
			m = 1 + next_rand(&rng) % 4;
			for (k = 0; k < m; k++) {
				pos = next_rand(&rng) % len;
				copy[pos] = (char)(next_rand(&rng) & 0xff);
			}
			k = round % 3 ? len : next_rand(&rng) % len;
			for (w = W_RT; w <= W_ERR; w++) {
				err[0] = '\0';
				rc = parse_as((enum which)w, copy, k, &e, err,
					      sizeof(err));
				if (rc && rc != -EBADMSG && rc != -EREMOTEIO)
					ck_abort_msg("seed %" PRIu64 " %s round "
						     "%d: rc %d", seed,
						     files[f], round, rc);
				if (rc && !err[0])
					ck_abort_msg("seed %" PRIu64 " %s round "
						     "%d: no reason", seed,
						     files[f], round);
				if (rc == -EREMOTEIO && !e.code[0])
					ck_abort_msg("seed %" PRIu64 " %s round "
						     "%d: no code", seed,
						     files[f], round);
			}
		}
		free(copy);
		free(doc);
	}
}
END_TEST

static Suite *ec2xml_suite(void)
{
	Suite *s = suite_create("ec2xml");
	TCase *tc = tcase_create("responses");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_moto_route_tables);
	tcase_add_test(tc, test_aws_route_tables_pages);
	tcase_add_test(tc, test_instances);
	tcase_add_test(tc, test_interfaces);
	tcase_add_loop_test(tc, test_returns, 0,
			    sizeof(returns) / sizeof(returns[0]));
	tcase_add_test(tc, test_return_false_and_bad_action);
	tcase_add_loop_test(tc, test_errors, 0,
			    sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_wrong_kind);
	tcase_add_loop_test(tc, test_refusals, 0,
			    sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_loop_test(tc, test_accepted, 0,
			    sizeof(accepted) / sizeof(accepted[0]));
	tcase_add_test(tc, test_values_after_trim);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_huge_text);
	tcase_add_test(tc, test_input_cap);
	tcase_add_test(tc, test_item_cap);
	tcase_add_test(tc, test_error_message);
	tcase_add_test(tc, test_free_twice_and_null);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("STRATA_TEST_SEED");
	SRunner *sr;
	int failed;

	seed = env && *env ? strtoull(env, NULL, 0) : 20260701;
	printf("test_ec2xml: seed %" PRIu64 " (STRATA_TEST_SEED overrides)\n",
	       seed);
	sr = srunner_create(ec2xml_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
