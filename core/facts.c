/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node facts: a small table of name = value with the source that set each.
 * The config is the operator's word and wins; a plugin may restate or
 * update what it published itself. Strings handed out stay valid until
 * the fact changes or the table is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"

#define FACT_NAME_MAX 64
#define FACT_VALUE_MAX 1024
#define FACTS_MAX 1024 /* bounds what plugins can make the table hold */
#define FACT_SOURCE_CONFIG "config"

struct fact {
	char *name;
	char *value;
	char *source;
};

struct facts {
	struct fact *v;
	size_t n;
	size_t cap;
};

int facts_new(struct facts **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void facts_free(struct facts *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
		free(f->v[i].source);
	}
	free(f->v);
	free(f);
}

static bool name_ok(const char *n)
{
	size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return len > 0 && !n[len] && len <= FACT_NAME_MAX;
}

/* 1..1024 bytes, no control characters (UTF-8 passes). */
static bool value_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (i >= FACT_VALUE_MAX || (unsigned char)v[i] < 0x20 ||
		    v[i] == 0x7f)
			return false;
	return i > 0;
}

static struct fact *find(const struct facts *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].name, name))
			return &f->v[i];
	return NULL;
}

static int replace(char **dst, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int facts_set(struct facts *f, const char *name, const char *value,
	      const char *source)
{
	struct fact *e, *nv;
	char *v;

	if (!f || !name || !value || !source || !*source || !name_ok(name) ||
	    !value_ok(value))
		return -EINVAL;
	e = find(f, name);
	if (e) {
		if (!strcmp(e->value, value))
			return 0;
		/* Only the owner changes a fact, or the config takes it. */
		if (strcmp(e->source, source) &&
		    strcmp(source, FACT_SOURCE_CONFIG))
			return -EEXIST;
		v = strdup(value);
		if (!v || replace(&e->source, source)) {
			free(v);
			return -ENOMEM;
		}
		free(e->value);
		e->value = v;
		return 0;
	}
	if (f->n == FACTS_MAX)
		return -ENOSPC;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;

		nv = realloc(f->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		f->v = nv;
		f->cap = cap;
	}
	e = &f->v[f->n];
	e->name = strdup(name);
	e->value = strdup(value);
	e->source = strdup(source);
	if (!e->name || !e->value || !e->source) {
		free(e->name);
		free(e->value);
		free(e->source);
		return -ENOMEM;
	}
	f->n++;
	return 0;
}

const char *facts_get(const struct facts *f, const char *name)
{
	const struct fact *e;

	if (!f || !name)
		return NULL;
	e = find(f, name);
	return e ? e->value : NULL;
}

void facts_each(const struct facts *f,
		void (*cb)(void *arg, const char *name, const char *value,
			   const char *source),
		void *arg)
{
	size_t i;

	if (!f || !cb)
		return;
	for (i = 0; i < f->n; i++)
		cb(arg, f->v[i].name, f->v[i].value, f->v[i].source);
}

bool facts_have(const struct facts *f, const char *const *names,
		const char **missing)
{
	if (missing)
		*missing = NULL;
	for (; names && *names; names++) {
		if (!facts_get(f, *names)) {
			if (missing)
				*missing = *names;
			return false;
		}
	}
	return true;
}
