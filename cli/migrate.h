/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CLI_MIGRATE_H
#define STRATA_CLI_MIGRATE_H

/* stratactl store migrate ARGS: argv[0] is "migrate". Returns the exit
 * status: 0 done, 1 a store error, 2 a usage error. */
int store_migrate_main(int argc, char **argv);

#endif
