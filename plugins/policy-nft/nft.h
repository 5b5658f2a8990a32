/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's side of the model: read the strata-filter table as it is
 * (after a restart), and apply a script as one transaction, through
 * libnftables. These block for as long as the netlink exchange takes
 * (milliseconds); nothing else of strata's nftables goes through here.
 */
#ifndef STRATA_POLICY_NFT_NFT_H
#define STRATA_POLICY_NFT_NFT_H

#include <stddef.h>

#include "model.h"

struct nft_ctx;

/* A context with buffered output and errors; NULL when out of memory. */
struct nft_ctx *nftk_open(void);
void nftk_close(struct nft_ctx *nft);

/* The table as the kernel holds it into *out (an empty model when there
 * is no table). 0, or -errno with err saying why. */
int nftk_read(struct nft_ctx *nft, struct nftm **out, char *err,
	      size_t errlen);

/* Apply a script from nftm_diff() atomically. 0, or -EINVAL with err
 * holding nft's own message (nothing of the script applied). */
int nftk_apply(struct nft_ctx *nft, const char *script, char *err,
	       size_t errlen);

#endif
