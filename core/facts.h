/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node facts: zone, subnet, address, instance and interface ids. They come
 * from the config (which wins) or are published by plugins at start.
 */
#ifndef STRATA_CORE_FACTS_H
#define STRATA_CORE_FACTS_H

#include <stdbool.h>

struct facts;

int facts_new(struct facts **out);
void facts_free(struct facts *f);
/* Names are [a-z0-9-]+. A value set from "config" is not replaced by a
 * plugin's: -EEXIST, so the caller can warn of the disagreement. */
int facts_set(struct facts *f, const char *name, const char *value,
	      const char *source);
const char *facts_get(const struct facts *f, const char *name);
void facts_each(const struct facts *f,
		void (*cb)(void *arg, const char *name, const char *value,
			   const char *source),
		void *arg);
/* true when all names (NULL-terminated) are known; else *missing is the
 * first one that is not. */
bool facts_have(const struct facts *f, const char *const *names,
		const char **missing);

#endif
