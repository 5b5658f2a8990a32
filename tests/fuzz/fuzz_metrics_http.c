/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The /metrics request head comes from anyone who can reach the port:
 * parse it whole and fed in every split, as partial reads deliver it. A
 * complete parse must be the same whichever way it arrived, never claim
 * more bytes than were given, and its path must be a string. Metric series
 * as a plugin writes them go through metric_canon: a canonical form must be
 * canonical again, unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_http.h"

static void check_series(const uint8_t *data, size_t size)
{
	char in[METRIC_KEY_MAX], a[METRIC_KEY_MAX], b[METRIC_KEY_MAX];
	size_t la, lb;

	if (size >= sizeof(in))
		return;
	memcpy(in, data, size);
	in[size] = '\0';
	if (metric_canon(in, false, a, sizeof(a), &la) < 0)
		return;
	if (metric_canon(a, false, b, sizeof(b), &lb) < 0 || la != lb ||
	    strcmp(a, b))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct mhttp_request whole, part;
	int rc, rp;
	size_t n;

	check_series(data, size);
	rc = mhttp_parse(buf, size, &whole);
	if (rc == 1) {
		if (whole.head_len > size ||
		    strnlen(whole.path, sizeof(whole.path)) == sizeof(whole.path))
			abort();
		(void)mhttp_status(&whole);
	}
	/* the prefixes partial reads would hand over, a few of them */
	for (n = 0; n < size; n += 1 + size / 16) {
		rp = mhttp_parse(buf, n, &part);
		if (rp == 1 && (rc != 1 || part.head_len != whole.head_len ||
				part.method != whole.method ||
				strcmp(part.path, whole.path)))
			abort();
	}
	return 0;
}
