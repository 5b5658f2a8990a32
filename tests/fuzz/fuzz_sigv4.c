/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the SigV4 signer's parsing: the EC2 endpoint URL and
 * region may come from instance metadata (the network) or the config. Each
 * input is signed and form-encoded; whatever the bytes, the signer either
 * refuses with -EINVAL and an empty result, or signs, deterministically,
 * with header lines free of CR, LF and NUL, a canonical request whose lines
 * are what the specification lists, and form output made only of
 * unreserved characters, %XX, '=' and '&'.
 *
 * Input: byte 0 holds flags (bit 0 a session token, bit 1 raw_path, bit 2
 * content_sha256, bits 3-4 the number of caller headers), then NUL-
 * separated fields: url, region, service, method, header names and values
 * in turn, and the body (the rest, NULs included).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated field of *p, copied; "" past the end. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
	size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nul ? n + 1 : n;
	return s;
}

static bool clean_line(const char *s)
{
	return !strpbrk(s, "\r\n");
}

static void check_form(char *const *f, size_t n)
{
	struct sigv4_param p[8];
	size_t len, np = 0;
	char *out;

	for (size_t i = 0; i + 1 < n && np < 8; i += 2)
		if (*f[i])
			p[np++] = (struct sigv4_param){ f[i], f[i + 1] };
	if (sigv4_form_encode(p, np, &out, &len))
		abort();
	if (strlen(out) != len)
		abort();
	for (const char *c = out; *c; c++)
		if (!strchr("-._~%=&", *c) && !(*c >= '0' && *c <= '9') &&
		    !(*c >= 'A' && *c <= 'Z') && !(*c >= 'a' && *c <= 'z'))
			abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	struct sigv4_creds creds = { 0 };
	struct sigv4_header h[3];
	struct sigv4_request req = { 0 };
	struct sigv4_signed a, b;
	char *f[10] = { 0 }, err[256];
	size_t nh, nf = 0;
	int rc;

	if (size < 1)
		return 0;
	nh = (data[0] >> 3) & 3;
	for (nf = 0; nf < 4 + 2 * nh; nf++)
		f[nf] = field(&p, end);
	for (size_t i = 0; i < nh; i++)
		h[i] = (struct sigv4_header){ f[4 + 2 * i], f[5 + 2 * i] };
	req = (struct sigv4_request){
		.url = f[0],
		.region = f[1],
		.service = f[2],
		.method = f[3],
		.headers = h,
		.n_headers = nh,
		.body = p,
		.body_len = (size_t)(end - p),
		.when = 1440938160,
		.raw_path = data[0] & 2,
		.content_sha256 = data[0] & 4,
	};
	if (sigv4_creds_set(&creds, "AKIDEXAMPLE", "secret",
			    data[0] & 1 ? "token" : NULL))
		abort();
	rc = sigv4_sign(&creds, &req, &a, err, sizeof(err));
	if (rc) {
		if (rc != -EINVAL || a.authorization || a.header_lines[0] ||
		    !*err)
			abort();
	} else {
		size_t lines = 0;

		for (size_t i = 0; a.header_lines[i]; i++)
			if (!clean_line(a.header_lines[i]))
				abort();
		if (strncmp(a.authorization, "AWS4-HMAC-SHA256 Credential="
			    "AKIDEXAMPLE/20150830/", 49) ||
		    strchr(a.canonical_request, '\r'))
			abort();
		/* method, path, query, a line per distinct header, an empty
		 * line, the signed headers and the hash: newlines only as
		 * separators */
		for (const char *c = a.canonical_request; *c; c++)
			lines += *c == '\n';
		if (lines < 7)
			abort();
		if (sigv4_sign(&creds, &req, &b, err, sizeof(err)) ||
		    strcmp(a.authorization, b.authorization) ||
		    strcmp(a.canonical_request, b.canonical_request))
			abort();
		sigv4_signed_free(&b);
	}
	sigv4_signed_free(&a);
	sigv4_creds_clear(&creds);
	check_form(f, nf);
	for (size_t i = 0; i < nf; i++)
		free(f[i]);
	return 0;
}
