/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the health view's records: any node may write the
 * forwarding intent's key (if elected, or buggy) and its own report. The
 * bytes are decoded as both; whatever decodes must encode, decode again
 * and encode to the same bytes. A refusal must say why.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void intent(const char *buf, size_t size)
{
	struct intent in, back;
	char err[256], *a, *b;
	size_t alen, blen;
	int r;

	r = intent_decode(buf, size, &in, err, sizeof(err));
	if (r) {
		if (r != -EINVAL || !err[0])
			abort();
		return;
	}
	if (intent_encode(&in, &a, &alen))
		abort();
	if (intent_decode(a, alen, &back, err, sizeof(err)))
		abort();
	if (intent_encode(&back, &b, &blen))
		abort();
	if (alen != blen || memcmp(a, b, alen))
		abort();
	free(a);
	free(b);
	intent_free(&back);
	intent_free(&in);
	intent_free(&in);
}

static void report(const char *buf, size_t size)
{
	struct obs_report r, back;
	char err[256], *a, *b;
	size_t alen, blen;
	int rc;

	rc = obs_decode(buf, size, &r, err, sizeof(err));
	if (rc) {
		if (rc != -EINVAL || !err[0])
			abort();
		return;
	}
	if (obs_encode(&r, &a, &alen))
		abort();
	if (obs_decode(a, alen, &back, err, sizeof(err)))
		abort();
	if (obs_encode(&back, &b, &blen))
		abort();
	if (alen != blen || memcmp(a, b, alen))
		abort();
	free(a);
	free(b);
	obs_free(&back);
	obs_free(&r);
	obs_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	intent((const char *)data, size);
	report((const char *)data, size);
	return 0;
}
