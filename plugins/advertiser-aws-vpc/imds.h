/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An EC2 instance metadata client, IMDSv2 only, on the host's HTTP service
 * (host->http_start): never blocks the loop.
 *
 * A session token comes from PUT /latest/api/token with a TTL; every GET of
 * /latest/meta-data/PATH carries it. The token is replaced before its TTL
 * runs out (a margin of a quarter of the TTL, at most 60 s); a 401 means it
 * went stale anyway: a new one is fetched and that GET retried once. Each
 * attempt has a short timeout (1 s) and a transport error or a 5xx is tried
 * again (2 attempts in all); a 404 is -ENOENT at once.
 *
 * Callbacks run on the loop, never inside the call that started the
 * operation, exactly once unless the operation is cancelled first. What
 * they are handed is borrowed for the callback. They may cancel any
 * operation and start new ones, but not free the client.
 *
 * Every value discovery reads is checked (ids by prefix and charset, zone
 * and region, MAC, CIDRs, addresses); a bad one fails the discovery with
 * -EINVAL and a reason naming the path and the value. The session token,
 * the role's secret key and session token are never logged, and are zeroed
 * when dropped (the response body that carried the role's credentials too).
 */
#ifndef STRATA_AWS_IMDS_H
#define STRATA_AWS_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include <strata/host.h>
#include <strata/types.h>

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_DEFAULT_ENDPOINT6 "http://[fd00:ec2::254]"
#define IMDS_ENDPOINT_ENV "AWS_EC2_METADATA_SERVICE_ENDPOINT"
#define IMDS_ENDPOINT_MODE_ENV "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"
#define IMDS_DEFAULT_TTL_S 21600
#define IMDS_DEFAULT_TIMEOUT_NS 1000000000LL
#define IMDS_DEFAULT_ATTEMPTS 2

struct imds_config {
	/* "http://host[:port]" or https; NULL or "": $IMDS_ENDPOINT_ENV,
	 * else IMDS_DEFAULT_ENDPOINT (IMDS_DEFAULT_ENDPOINT6 when
	 * $IMDS_ENDPOINT_MODE_ENV is "IPv6"). A trailing "/" is dropped. */
	const char *endpoint;
	int64_t token_ttl_s; /* 1..21600; 0: IMDS_DEFAULT_TTL_S */
	int64_t timeout_ns;  /* one attempt; 0: IMDS_DEFAULT_TIMEOUT_NS */
	uint32_t attempts;   /* per request, 1..10; 0: IMDS_DEFAULT_ATTEMPTS */
};

#define IMDS_ID_MAX 32 /* "subnet-" and 17 hex digits fit */
#define IMDS_NAME_MAX 64
#define IMDS_MAX_CIDRS 16
#define IMDS_MAX_ADDRS 64
#define IMDS_ROLE_MAX 64

/* What discovery found: the instance and its primary interface. */
struct imds_identity {
	char instance_id[IMDS_ID_MAX];    /* i-0123abcd or i- and 17 hex */
	char zone[IMDS_NAME_MAX];         /* us-east-1a */
	char region[IMDS_NAME_MAX];       /* us-east-1: a prefix of zone */
	char mac[18];                     /* 0e:49:61:0f:c3:11 */
	char interface_id[IMDS_ID_MAX];   /* eni-... */
	char subnet_id[IMDS_ID_MAX];      /* subnet-... */
	char vpc_id[IMDS_ID_MAX];         /* vpc-... */
	uint32_t n_vpc_cidrs;             /* the VPC's IPv4 CIDR blocks */
	struct strata_prefix vpc_cidrs[IMDS_MAX_CIDRS];
	uint32_t n_local_ipv4s;           /* the interface's, primary first */
	struct strata_addr local_ipv4s[IMDS_MAX_ADDRS];
};

/* An instance role's temporary credentials. */
struct imds_role_creds {
	char role[IMDS_ROLE_MAX + 1];
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *session_token;     /* secret */
	int64_t expiration;      /* Unix time, s */
};

struct imds;
struct imds_op;

/*
 * A client for one plugin instance; h and inst must outlive it. 0, or
 * -EINVAL with err naming the bad setting (endpoint, TTL, ...), -ENOMEM.
 */
int imds_new(const struct strata_host *h, struct strata_instance *inst,
	     const struct imds_config *cfg, struct imds **out, char *err,
	     size_t errlen);
/* Cancels every operation (their callbacks do not run) and zeroes the
 * token. Not from one of the client's callbacks. */
void imds_free(struct imds *c);
/* The endpoint in use, for messages. */
const char *imds_endpoint(const struct imds *c);
/* Tokens fetched so far (successful PUTs), for status and tests. */
uint64_t imds_token_fetches(const struct imds *c);

/*
 * err is 0 or -errno: -ENOENT (404), -ETIMEDOUT, -ECONNREFUSED, -EIO (a
 * 5xx or a transport error, every attempt), -EACCES (401 with a fresh
 * token, 403), -EPROTO (another status), -EINVAL (a bad value), -ENOMEM.
 * why names the path and what went wrong (NULL when err is 0).
 */
typedef void (*imds_get_cb)(void *arg, int err, const char *value,
			    size_t len, const char *why);
typedef void (*imds_identity_cb)(void *arg, int err,
				 const struct imds_identity *id,
				 const char *why);
typedef void (*imds_role_cb)(void *arg, int err,
			     const struct imds_role_creds *creds,
			     const char *why);

/*
 * GET /latest/meta-data/PATH (path relative to meta-data/, [A-Za-z0-9/._:-]
 * only). 0 and *op (NULL allowed when the caller will never cancel), or
 * -EINVAL / -ENOMEM with no callback to come.
 */
int imds_get(struct imds *c, const char *path, imds_get_cb cb, void *arg,
	     struct imds_op **op);
/* instance-id, placement/{availability-zone,region}, mac, then the
 * primary interface's interface-id, subnet-id, vpc-id,
 * vpc-ipv4-cidr-blocks and local-ipv4s, one after the other. */
int imds_discover(struct imds *c, imds_identity_cb cb, void *arg,
		  struct imds_op **op);
/* The role's credentials: role NULL or "" asks iam/security-credentials/
 * for the attached role first (-ENOENT when none is attached). */
int imds_role_creds(struct imds *c, const char *role, imds_role_cb cb,
		    void *arg, struct imds_op **op);
/* Abandon an operation whose callback has not run. */
void imds_cancel(struct imds_op *op);

/* -- pure parsers, also fuzzed ------------------------------------------ */

/*
 * Check one discovered value and store it in id: key is the path's last
 * part ("instance-id", "availability-zone", "region", "mac",
 * "interface-id", "subnet-id", "vpc-id", "vpc-ipv4-cidr-blocks",
 * "local-ipv4s"). The zone must start with the region when both are set.
 * 0, or -EINVAL with err naming the key and the value.
 */
int imds_identity_set(struct imds_identity *id, const char *key,
		      const char *value, size_t len, char *err,
		      size_t errlen);

/*
 * The iam/security-credentials/ROLE document (JSON): Code "Success",
 * AccessKeyId, SecretAccessKey, Token and Expiration (ISO-8601 UTC). 0 and
 * out filled (release with imds_role_creds_clear), or -EINVAL / -EACCES
 * (Code is not "Success") / -ENOMEM with err saying what was wrong; never
 * a secret's value. Every buffer the parser used is zeroed before it is
 * freed.
 */
int imds_parse_role_creds(const char *buf, size_t len,
			  struct imds_role_creds *out, char *err,
			  size_t errlen);
/* Zero and free what out holds; it is then empty. */
void imds_role_creds_clear(struct imds_role_creds *out);

/* "2024-05-01T12:00:00Z", with optional fractional seconds, "Z" or
 * "+00:00", years 1970 to 2200 (so that nanoseconds fit in an int64_t):
 * 0 and *out (Unix time, s), or -EINVAL. */
int imds_parse_time(const char *s, size_t len, int64_t *out);

/* Zero len bytes at p, then free p. Secrets go through here; tests may
 * set the hook to look at each buffer after it was zeroed. */
void imds_wipe_free(void *p, size_t len);
/* imds_wipe_free() of a NUL-terminated secret, then *s = NULL. */
void imds_wipe_str(char **s);
extern void (*imds_wipe_hook)(const void *p, size_t len);

#endif
