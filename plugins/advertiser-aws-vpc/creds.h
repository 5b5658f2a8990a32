/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS credentials, found in the usual order and kept fresh.
 *
 *  1. The environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, with
 *     AWS_SESSION_TOKEN (or the older AWS_SECURITY_TOKEN) and an optional
 *     AWS_CREDENTIAL_EXPIRATION (ISO-8601 UTC). One of the pair without the
 *     other is an error, not a reason to look further.
 *  2. The shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else
 *     ~/.aws/credentials; the profile AWS_PROFILE (or AWS_DEFAULT_PROFILE),
 *     else "default". A profile named in the environment must be there
 *     with its keys; the default profile may be absent (then on to 3). A
 *     malformed file is an error naming its line.
 *  3. The instance role, through IMDS (imds.h), unless there is no IMDS
 *     client or AWS_EC2_METADATA_DISABLED is "true". Refreshed 15 minutes
 *     before Expiration (at half the lifetime when that is under 30
 *     minutes); a failed refresh is retried with exponential backoff while
 *     the old credentials are used until they expire.
 *
 * Environment and file are read once, at creds_start(). Secrets are never
 * logged or put in messages, and are zeroed (imds_wipe_free) whenever they
 * are replaced or freed, as is every buffer that held them here.
 */
#ifndef STRATA_AWS_CREDS_H
#define STRATA_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include <strata/host.h>

struct imds;

struct creds_keys {
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *session_token;     /* secret; NULL: long-term keys */
	int64_t expiration;      /* Unix time, s; 0: none */
};

enum creds_source {
	CREDS_NONE,
	CREDS_ENV,
	CREDS_FILE,
	CREDS_ROLE,
};

struct creds_config {
	struct imds *imds;    /* NULL: no instance-role stage */
	const char *role;     /* NULL: the role attached to the instance */
	int64_t retry_min_ns; /* first retry after a failed fetch; 0: 1 s */
	int64_t retry_max_ns; /* backoff cap; 0: 5 min */
};

struct creds;

/* Called on the loop when new keys arrive, when keys expire, and with the
 * first answer to a pending instance-role fetch; a later failure only
 * changes the reason creds_get() gives. */
typedef void (*creds_changed_cb)(void *arg);

/* No I/O yet. h, inst and cfg->imds must outlive it. */
int creds_new(const struct strata_host *h, struct strata_instance *inst,
	      const struct creds_config *cfg, creds_changed_cb cb, void *arg,
	      struct creds **out);
/*
 * Walk the chain. 0: keys from the environment or the file are ready, or
 * the instance role is being fetched (creds_get says -EAGAIN until it
 * answers). -errno with err saying why, when the chain stops at an error
 * or finds nothing; creds_get reports the same.
 */
int creds_start(struct creds *c, char *err, size_t errlen);
/*
 * The current credentials: 0 and *out (valid until the next change
 * callback or creds_free: copy what must last longer), or -EAGAIN (not
 * yet), -EKEYEXPIRED, -ENOENT (none anywhere) or another -errno, with *why
 * (if why is not NULL) saying what is wrong.
 */
int creds_get(struct creds *c, const struct creds_keys **out,
	      const char **why);
enum creds_source creds_source(const struct creds *c);
const char *creds_source_name(enum creds_source s);
/* Zeroes every secret; cancels fetches and timers. Not from the change
 * callback. */
void creds_free(struct creds *c);

/* -- the pieces, pure where they can be ----------------------------------- */

/* Zero and free what k holds; k is then empty. */
void creds_keys_clear(struct creds_keys *k);

/* From the environment: 0, -ENOENT (neither key set) or -EINVAL. */
int creds_from_env(struct creds_keys *out, char *err, size_t errlen);

/*
 * One profile of a shared credentials file (INI: [profile] sections, "key
 * = value" or "key: value", values trimmed, whole-line comments with # or
 * ;, keys case-insensitive, indented lines only as a nested block under a
 * key with no value). aws_access_key_id, aws_secret_access_key and
 * aws_session_token are read, the rest ignored. 0; -ENOENT (no such
 * profile); -ENODATA (the profile has no keys); -EINVAL with err naming
 * the line (a malformed line anywhere, a bad or repeated key in the
 * profile, one key of the pair without the other).
 */
int creds_parse_ini(const char *buf, size_t len, const char *profile,
		    struct creds_keys *out, char *err, size_t errlen);
/* The same on a file (at most 1 MiB): -ENOENT also when it is absent. */
int creds_from_file(const char *path, const char *profile,
		    struct creds_keys *out, char *err, size_t errlen);

/* When to refresh keys obtained at `obtained` that expire at
 * `expiration` (both ns, the same clock): 15 minutes before expiration,
 * or at half the lifetime when that is under 30 minutes. */
int64_t creds_refresh_at(int64_t obtained, int64_t expiration);

#endif
