/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the aws-vpc node record: every node writes its
 * own into the shared store, so the route writer reads untrusted bytes.
 * Whatever decodes must encode, decode again and encode to the same
 * bytes. A refusal must say why.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "noderec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct noderec r, back;
	char err[256], *a, *b;
	size_t alen, blen;
	int rc;

	rc = noderec_decode((const char *)data, size, &r, err, sizeof(err));
	if (rc) {
		if (rc != -EINVAL || !err[0])
			abort();
		return 0;
	}
	if (noderec_encode(&r, &a, &alen))
		abort();
	if (alen > NODEREC_MAX_BYTES || strlen(a) != alen)
		abort();
	if (noderec_decode(a, alen, &back, err, sizeof(err)))
		abort();
	if (noderec_encode(&back, &b, &blen))
		abort();
	if (alen != blen || memcmp(a, b, alen))
		abort();
	free(a);
	free(b);
	return 0;
}
