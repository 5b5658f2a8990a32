/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the aws-vpc advertiser reads about itself and
 * its credentials: the instance role's JSON (from IMDS), the shared
 * credentials file (INI), the discovery values IMDS serves and the
 * ISO-8601 times. The first byte picks the parser (its value mod 4: 0
 * JSON, 1 INI, 2 a discovery value, 3 a time) and, shifted right by two,
 * the INI profile or the discovery key; the rest is the input. Whatever
 * parses must hold what the contract says; whatever fails must say why and
 * hold nothing; every secret buffer must be zeroed before it is freed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void wiped(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			abort();
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void check_err(int rc, const char *err)
{
	if (rc >= 0 || !err[0] || strlen(err) >= 512)
		abort();
}

static void role_json(const char *in, size_t len)
{
	struct imds_role_creds rc;
	char err[512] = "";
	int r = imds_parse_role_creds(in, len, &rc, err, sizeof(err));

	if (r < 0) {
		check_err(r, err);
		if (rc.access_key_id || rc.secret_access_key ||
		    rc.session_token)
			abort();
		return;
	}
	if (!rc.access_key_id || !rc.secret_access_key || !rc.session_token ||
	    !printable(rc.access_key_id) || !printable(rc.secret_access_key) ||
	    !printable(rc.session_token) || rc.expiration <= 0)
		abort();
	imds_role_creds_clear(&rc);
}

static void ini(const char *in, size_t len, unsigned sel)
{
	static const char *const profiles[] = { "default", "prod",
						"profile dev" };
	struct creds_keys k;
	char err[512] = "";
	int r = creds_parse_ini(in, len, profiles[sel % 3], &k, err,
				sizeof(err));

	if (r < 0) {
		check_err(r, err);
		if (k.access_key_id || k.secret_access_key || k.session_token)
			abort();
		return;
	}
	if (!k.access_key_id || !k.secret_access_key ||
	    !printable(k.access_key_id) || !printable(k.secret_access_key) ||
	    (k.session_token && !printable(k.session_token)))
		abort();
	creds_keys_clear(&k);
}

static void identity(const char *in, size_t len, unsigned sel)
{
	static const char *const keys[] = {
		"instance-id", "availability-zone", "region", "mac",
		"interface-id", "subnet-id", "vpc-id", "vpc-ipv4-cidr-blocks",
		"local-ipv4s",
	};
	struct imds_identity id;
	char err[512] = "";
	int r;

	memset(&id, 0, sizeof(id));
	/* the zone is checked against a region */
	if (imds_identity_set(&id, "region", "us-east-1", 9, err,
			      sizeof(err)) < 0)
		abort();
	r = imds_identity_set(&id, keys[sel % 9], in, len, err, sizeof(err));
	if (r < 0) {
		check_err(r, err);
		return;
	}
	if (id.n_vpc_cidrs > IMDS_MAX_CIDRS || id.n_local_ipv4s > IMDS_MAX_ADDRS ||
	    strlen(id.instance_id) >= sizeof(id.instance_id) ||
	    strlen(id.zone) >= sizeof(id.zone) ||
	    (id.zone[0] && strncmp(id.zone, "us-east-1", 9) != 0))
		abort();
	for (uint32_t i = 0; i < id.n_vpc_cidrs; i++)
		if (id.vpc_cidrs[i].family != STRATA_AF_INET ||
		    id.vpc_cidrs[i].len > 32)
			abort();
}

static void iso_time(const char *in, size_t len)
{
	int64_t t = -1;

	if (imds_parse_time(in, len, &t) == 0 &&
	    (t < 0 || t >= 7289654400LL)) /* 2201-01-01 */
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	char *copy;
	unsigned sel;

	if (size < 1)
		return 0;
	imds_wipe_hook = wiped;
	sel = data[0] >> 2;
	/* an exact-size copy, so reading past the end is caught */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	in = copy;
	switch (data[0] % 4) {
	case 0:
		role_json(in, size - 1);
		break;
	case 1:
		ini(in, size - 1, sel);
		break;
	case 2:
		identity(in, size - 1, sel);
		break;
	default:
		iso_time(in, size - 1);
		break;
	}
	free(copy);
	return 0;
}
