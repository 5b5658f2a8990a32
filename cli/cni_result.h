/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CLI_CNI_RESULT_H
#define STRATA_CLI_CNI_RESULT_H

#include <stddef.h>

#include "cni_conf.h"

/*
 * Reads stratad's reply (len bytes). When it says ok, *out is the CNI
 * result for stdout after an ADD and NULL otherwise, and 0 is returned.
 * When it says not ok, err carries its code, msg and details unchanged;
 * a reply the protocol does not allow is an I/O error (code 5) naming
 * socket. Both return -EINVAL.
 */
int cni_reply(const struct cni_req *req, const char *buf, size_t len,
	      char **out, size_t *outlen, struct cni_err *err);

#endif
