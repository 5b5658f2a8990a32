/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for EC2's responses: whoever answers on the EC2
 * endpoint (or sits in the path of a misconfigured http:// override)
 * writes these bytes. Every parse function reads each input. Whatever the
 * bytes, each answers within its contract: a result whose every value is
 * one the parser vouches for (ids, CIDRs, enumerations, bounded strings),
 * EC2's error with a code, or a refusal that says why.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec2xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) >= cap)
		abort();
}

static void check_id(const char *s, const char *prefix)
{
	size_t n = strnlen(s, EC2_ID_MAX), i;

	if (n >= EC2_ID_MAX)
		abort();
	if (!n)
		return;
	if (prefix && strncmp(s, prefix, strlen(prefix)))
		abort();
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			abort();
}

static void check_prefix(const struct strata_prefix *p)
{
	unsigned max = p->family == STRATA_AF_INET ? 32 : 128, i;

	if (p->family != STRATA_AF_INET && p->family != STRATA_AF_INET6)
		abort();
	if (p->len > max)
		abort();
	for (i = p->len; i < max; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8)))
			abort();
}

static void check_error(int rc, const char *err, const struct ec2_error *e)
{
	if (rc != -EBADMSG && rc != -EREMOTEIO && rc != -ENOMEM)
		abort();
	if (!err[0])
		abort();
	if (rc == -EREMOTEIO && !e->code[0])
		abort();
	if (rc != -EREMOTEIO && e->code[0])
		abort();
	check_str(e->message, EC2_MESSAGE_MAX);
	check_str(e->request_id, EC2_REQUEST_ID_MAX);
}

static void check_interface(const struct ec2_interface *f)
{
	if (!f->id[0])
		abort();
	check_id(f->id, "eni-");
	check_id(f->subnet_id, "subnet-");
	check_id(f->vpc_id, "vpc-");
	check_id(f->instance_id, "i-");
	check_id(f->az, NULL);
	check_str(f->mac, EC2_MAC_MAX);
	if (f->device_index < -1 || f->device_index > 65535)
		abort();
	if (f->source_dest_check < -1 || f->source_dest_check > 1)
		abort();
	if (f->private_ip.family && f->private_ip.family != STRATA_AF_INET)
		abort();
}

static void route_tables(const char *buf, size_t size)
{
	struct ec2_route_tables rt;
	struct ec2_error e;
	char err[768] = "";
	size_t i, k;
	int rc;

	rc = ec2xml_route_tables(buf, size, &rt, &e, err, sizeof(err));
	if (rc) {
		check_error(rc, err, &e);
		if (rt.tables || rt.n_tables || rt.next_token)
			abort();
		return;
	}
	check_str(rt.request_id, EC2_REQUEST_ID_MAX);
	if (rt.next_token && (!rt.next_token[0] ||
			      strlen(rt.next_token) >= EC2_TOKEN_MAX))
		abort();
	if (rt.n_tables > EC2XML_ITEMS_MAX)
		abort();
	for (i = 0; i < rt.n_tables; i++) {
		const struct ec2_route_table *t = &rt.tables[i];

		if (!t->id[0] || !t->vpc_id[0])
			abort();
		check_id(t->id, "rtb-");
		check_id(t->vpc_id, "vpc-");
		for (k = 0; k < t->n_assocs; k++) {
			const struct ec2_association *a = &t->assocs[k];

			if (!a->id[0])
				abort();
			check_id(a->id, "rtbassoc-");
			check_id(a->subnet_id, "subnet-");
			check_id(a->gateway_id, NULL);
			if (a->state > EC2_ASSOC_FAILED)
				abort();
		}
		for (k = 0; k < t->n_routes; k++) {
			const struct ec2_route *r = &t->routes[k];

			/* exactly one destination */
			if (r->dst.family) {
				check_prefix(&r->dst);
				if (r->prefix_list[0])
					abort();
			} else if (!r->prefix_list[0]) {
				abort();
			}
			check_id(r->prefix_list, "pl-");
			if (r->state != EC2_ROUTE_ACTIVE &&
			    r->state != EC2_ROUTE_BLACKHOLE)
				abort();
			if (r->target_kind > EC2_TARGET_CARRIER_GATEWAY ||
			    (r->target_kind == EC2_TARGET_UNKNOWN) !=
			    !r->target[0])
				abort();
			check_id(r->target, NULL);
			check_id(r->instance_id, "i-");
			if (r->origin > EC2_ORIGIN_VGW_PROPAGATION)
				abort();
		}
	}
	ec2xml_route_tables_free(&rt);
	ec2xml_route_tables_free(&rt);
}

static void instances(const char *buf, size_t size)
{
	struct ec2_instances in;
	struct ec2_error e;
	char err[768] = "";
	size_t i, k;
	int rc;

	rc = ec2xml_instances(buf, size, &in, &e, err, sizeof(err));
	if (rc) {
		check_error(rc, err, &e);
		if (in.instances || in.n_instances || in.next_token)
			abort();
		return;
	}
	for (i = 0; i < in.n_instances; i++) {
		const struct ec2_instance *x = &in.instances[i];

		if (!x->id[0])
			abort();
		check_id(x->id, "i-");
		check_id(x->subnet_id, "subnet-");
		check_id(x->vpc_id, "vpc-");
		check_id(x->az, NULL);
		if (x->state > EC2_INSTANCE_STOPPED)
			abort();
		for (k = 0; k < x->n_interfaces; k++) {
			check_interface(&x->interfaces[k]);
			if (strcmp(x->interfaces[k].instance_id, x->id))
				abort();
		}
	}
	ec2xml_instances_free(&in);
}

static void interfaces(const char *buf, size_t size)
{
	struct ec2_interfaces ifs;
	struct ec2_error e;
	char err[768] = "";
	size_t i;
	int rc;

	rc = ec2xml_interfaces(buf, size, &ifs, &e, err, sizeof(err));
	if (rc) {
		check_error(rc, err, &e);
		if (ifs.interfaces || ifs.n_interfaces || ifs.next_token)
			abort();
		return;
	}
	for (i = 0; i < ifs.n_interfaces; i++)
		check_interface(&ifs.interfaces[i]);
	ec2xml_interfaces_free(&ifs);
}

static void reply(const char *buf, size_t size, const char *action)
{
	struct ec2_return ret;
	struct ec2_error e;
	char err[768] = "";
	int rc;

	rc = ec2xml_return(buf, size, action, &ret, &e, err, sizeof(err));
	if (rc) {
		check_error(rc, err, &e);
		if (ret.has_return || ret.request_id[0])
			abort();
		return;
	}
	check_str(ret.request_id, EC2_REQUEST_ID_MAX);
	if (!ret.has_return && ret.value)
		abort();
}

static void error(const char *buf, size_t size)
{
	struct ec2_error e;
	char err[768] = "";
	int rc;

	rc = ec2xml_error(buf, size, &e, err, sizeof(err));
	if (rc) {
		if ((rc != -EBADMSG && rc != -ENOMEM) || !err[0] || e.code[0])
			abort();
		return;
	}
	if (!e.code[0] || !e.n_errors)
		abort();
	check_str(e.code, EC2_CODE_MAX);
	check_str(e.message, EC2_MESSAGE_MAX);
	check_str(e.request_id, EC2_REQUEST_ID_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	route_tables(buf, size);
	instances(buf, size);
	interfaces(buf, size);
	reply(buf, size, "CreateRoute");
	reply(buf, size, "ModifyNetworkInterfaceAttribute");
	error(buf, size);
	return 0;
}
