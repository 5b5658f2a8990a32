/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata-nat nftables table: pods reach the outside through the
 * node's address, while traffic between cluster addresses, and to the
 * prefixes listed as no_nat, keeps the pod's source address.
 */
#ifndef STRATA_CNI_NAT_H
#define STRATA_CNI_NAT_H

#include <stddef.h>

#include <strata/types.h>

/* The strata-nat table: masquerade what leaves pods for the outside. */
int nat_apply(const struct strata_prefix *cluster, size_t n_cluster,
	      const struct strata_prefix *no_nat, size_t n_no_nat,
	      char *err, size_t errlen);
int nat_remove(char *err, size_t errlen); /* no table: 0 */

#endif
