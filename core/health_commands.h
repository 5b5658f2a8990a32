/* SPDX-License-Identifier: Apache-2.0 */
/* stratactl health, drain and undrain: the health view's control commands. */
#ifndef STRATA_CORE_HEALTH_COMMANDS_H
#define STRATA_CORE_HEALTH_COMMANDS_H

struct daemon;

int health_commands_register(struct daemon *d);

#endif
