/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4, header form (the Authorization header), for the
 * EC2 Query API: POST of a form-encoded body to https://ec2.REGION.
 * amazonaws.com/ or to an endpoint override such as http://10.0.0.1:5000/.
 *
 * Pure: no I/O, no clock (the caller gives the time), no logging. The
 * signer owns the headers host, x-amz-date, x-amz-security-token (signed
 * whenever the credentials carry a session token), authorization and
 * x-amz-content-sha256; the caller lists every other header it sends and
 * all of them are signed. What was signed is exactly what must be sent:
 * the caller's headers with the same values, the lines of
 * sigv4_signed.header_lines, the same URL and the same body bytes.
 *
 * Canonicalisation follows AWS's specification for services other than S3
 * and botocore, its reference implementation:
 * - path: dot segments and empty segments removed (unless raw_path), then
 *   every byte outside A-Z a-z 0-9 - . _ ~ / percent-encoded, '%' included
 *   (the path is taken as it is sent on the wire, so an already encoded
 *   path is encoded a second time, as AWS requires for these services);
 * - query: each name and value percent-decoded then re-encoded with the
 *   same unreserved set ('/' too), '+' kept a literal plus; sorted by
 *   encoded name then value; a parameter without '=' has an empty value;
 * - headers: names lowercased, values trimmed with inner runs of spaces
 *   and tabs collapsed to one space, repeated names joined with ',' in the
 *   order given, sorted by name;
 * - host: the URL's host lowercased, ":port" only when not the scheme's
 *   default (80 for http, 443 for https).
 *
 * Refused with -EINVAL and a message naming the field: a scheme other
 * than http or https, userinfo or a fragment in the URL, control bytes in
 * the URL, a header name that is not an RFC 9110 token or is one the
 * signer owns, CR, LF or other control bytes in a header value or session
 * token (folded header values are not supported: they would be sent raw),
 * characters outside [A-Za-z0-9._-] in the region or service, an access
 * key id with characters that would break the Credential field, an empty
 * secret, a time outside the years 1970-9999.
 *
 * Secrets (the secret key, the session token, derived keys) are never
 * part of an error message and are zeroed when freed.
 */
#ifndef STRATA_AWS_VPC_SIGV4_H
#define STRATA_AWS_VPC_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Owned strings, set with sigv4_creds_set(), zeroed and freed with
 * sigv4_creds_clear(). A zero-initialised struct is empty. */
struct sigv4_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL: long-term credentials */
};

/* Replaces c's contents (the old ones zeroed) with copies. token may be
 * NULL or "" for none. On error c is left empty. 0, -EINVAL or -ENOMEM. */
int sigv4_creds_set(struct sigv4_creds *c, const char *access_key_id,
		    const char *secret_access_key, const char *session_token);
/* Zeroes and frees; c is empty afterwards. */
void sigv4_creds_clear(struct sigv4_creds *c);

struct sigv4_header {
	const char *name;
	const char *value;
};

/* Borrowed for the call. */
struct sigv4_request {
	const char *method; /* "POST" */
	const char *url;    /* scheme://host[:port][/path][?query] */
	const struct sigv4_header *headers; /* e.g. content-type */
	size_t n_headers;
	const void *body; /* may be NULL when body_len is 0 */
	size_t body_len;
	const char *region;  /* "us-east-1" */
	const char *service; /* "ec2" */
	time_t when;         /* the signing time, UTC seconds */
	bool raw_path;       /* keep the path's dot and empty segments (S3) */
	/* also sign x-amz-content-sha256 (S3 style; EC2 does not need it) */
	bool content_sha256;
};

/* Owned by the caller after sigv4_sign(); release with sigv4_signed_free(). */
struct sigv4_signed {
	char amz_date[17];      /* X-Amz-Date: 20150830T123600Z */
	char payload_hash[65];  /* hex SHA-256 of the body */
	char *host;             /* the Host value that was signed */
	char *signed_headers;   /* "content-type;host;x-amz-date" */
	char *authorization;    /* the Authorization header's value */
	char *canonical_request;
	char *string_to_sign;
	/* "Name: value" lines the signer adds to the caller's headers, NULL
	 * terminated: Host, X-Amz-Date, X-Amz-Security-Token (with a session
	 * token), X-Amz-Content-Sha256 (with content_sha256), Authorization.
	 * Ready for strata_http_request.headers after the caller's own. */
	char *header_lines[6];
};

/*
 * Signs req with creds. On success fills *out (all of it) and returns 0;
 * on error *out is empty (safe to free) and returns -EINVAL (err says
 * which field and why), -ENOMEM, or -EIO (OpenSSL failed). err may be
 * NULL.
 */
int sigv4_sign(const struct sigv4_creds *creds,
	       const struct sigv4_request *req, struct sigv4_signed *out,
	       char *err, size_t errlen);
/* Zeroes and frees; out is empty afterwards. */
void sigv4_signed_free(struct sigv4_signed *out);

struct sigv4_param {
	const char *name;
	const char *value; /* "" for an empty value */
};

/*
 * The form body "name=value&name=value" in the order given, names and
 * values percent-encoded with RFC 3986's unreserved set kept as is
 * (A-Z a-z 0-9 - . _ ~; a space is %20, not '+'; hex in upper case), as
 * EC2 expects: Action=CreateRoute&Version=2016-11-15&...
 * *out is NUL-terminated, *out_len bytes before the NUL (out_len may be
 * NULL); free() it. 0, -EINVAL (a NULL or empty name, a NULL value) or
 * -ENOMEM.
 */
int sigv4_form_encode(const struct sigv4_param *params, size_t n,
		      char **out, size_t *out_len);

#endif
