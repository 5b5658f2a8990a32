/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CLI_CLIENT_H
#define STRATA_CLI_CLIENT_H

#include <yajl/yajl_tree.h>

/*
 * One request without arguments to stratad at socket (NULL: the default,
 * or $STRATA_SOCKET). Returns the parsed reply; *result points into it at
 * the reply's result. Exits with stratactl's status and message when
 * stratad cannot be reached or reports an error. Free with yajl_tree_free.
 */
yajl_val stratactl_call(const char *socket, const char *cmd,
			yajl_val *result);

#endif
