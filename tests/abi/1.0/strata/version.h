/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin ABI version this SDK was built for, set by configure. */
#ifndef STRATA_VERSION_H
#define STRATA_VERSION_H

#define STRATA_ABI_MAJOR 1
#define STRATA_ABI_MINOR 0
#define STRATA_VERSION "0.1.0"

#endif
