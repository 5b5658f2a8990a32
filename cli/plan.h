/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CLI_PLAN_H
#define STRATA_CLI_PLAN_H

/* stratactl plan ARGS... (argv[0] is "plan"): exit status. */
int plan_main(int argc, char **argv);

#endif
