/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's record in the store, strata/aws-vpc/nodes/NODE: what the route
 * writer needs to know of every node without asking EC2 — the interface
 * its cloud routes must target, for each of its addresses, and its
 * subnet, whose route table the writer manages. Each node writes its own
 * record (discovered through IMDS or configured); the writer reads them
 * all. JSON, one object:
 *
 *   {"instance":"i-0abc…","interface":"eni-0abc…","subnet":"subnet-0abc…",
 *    "zone":"us-east-1a","addrs":["10.0.1.12","2001:db8::12"]}
 *
 * The store is shared, so a record is untrusted: decoding checks every
 * field (ids by prefix and alphabet [0-9a-f], a zone's characters, at
 * most NODEREC_MAX_ADDRS addresses, no duplicates, no unknown keys, at
 * most NODEREC_MAX_BYTES) and names what is wrong ("addrs[1]: \"10.0.1\"
 * is not an address"). Encoding is canonical: keys in the order above,
 * no spaces, addresses as inet_ntop writes them; decode(encode(r))
 * encodes to the same bytes.
 */
#ifndef STRATA_AWS_VPC_NODEREC_H
#define STRATA_AWS_VPC_NODEREC_H

#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#include "ec2xml.h"

#define NODEREC_PREFIX "strata/aws-vpc/nodes/"
#define NODEREC_MAX_ADDRS 16
#define NODEREC_MAX_BYTES 4096

struct noderec {
	char instance[EC2_ID_MAX];  /* i-…; "" when not known */
	char interface[EC2_ID_MAX]; /* eni-…, required */
	char subnet[EC2_ID_MAX];    /* subnet-…, required */
	char zone[EC2_AZ_MAX];      /* "" when not known */
	uint32_t n_addrs;           /* at least one */
	struct strata_addr addrs[NODEREC_MAX_ADDRS];
};

/* 0 and *out, or -EINVAL with err naming the field and the value (cut to
 * a readable length), -ENOMEM. */
int noderec_decode(const char *buf, size_t len, struct noderec *out,
		   char *err, size_t errlen);
/* *out NUL-terminated, free() it; 0, -EINVAL (a field that would not
 * decode) or -ENOMEM. */
int noderec_encode(const struct noderec *r, char **out, size_t *out_len);

#endif
