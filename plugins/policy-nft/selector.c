/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label selectors (matchLabels, matchExpressions) and the syntax of label
 * keys and values, as the API server validates them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"

const char *np_label_get(const struct np_labels *l, const char *key)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].key, key);

		if (!c)
			return l->v[mid].val;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool expr_matches(const struct np_expr *e, const struct np_labels *l)
{
	const char *v = np_label_get(l, e->key);
	size_t i;

	switch (e->op) {
	case NP_EXISTS:
		return v != NULL;
	case NP_NOT_EXISTS:
		return v == NULL;
	case NP_IN:
		if (!v)
			return false;
		for (i = 0; i < e->n_vals; i++)
			if (!strcmp(e->vals[i], v))
				return true;
		return false;
	case NP_NOTIN:
		if (!v)
			return true;
		for (i = 0; i < e->n_vals; i++)
			if (!strcmp(e->vals[i], v))
				return false;
		return true;
	}
	return false;
}

bool np_selector_matches(const struct np_selector *s,
			 const struct np_labels *l)
{
	size_t i;

	for (i = 0; i < s->match.n; i++) {
		const char *v = np_label_get(l, s->match.v[i].key);

		if (!v || strcmp(v, s->match.v[i].val))
			return false;
	}
	for (i = 0; i < s->n_exprs; i++)
		if (!expr_matches(&s->exprs[i], l))
			return false;
	return true;
}

bool np_selector_empty(const struct np_selector *s)
{
	return !s->match.n && !s->n_exprs;
}

char *np_selector_text(const struct np_selector *s)
{
	char *buf = NULL;
	size_t len = 0, i, j;
	const char *sep = "";
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (i = 0; i < s->match.n; i++, sep = ",")
		fprintf(f, "%s%s=%s", sep, s->match.v[i].key,
			s->match.v[i].val);
	for (i = 0; i < s->n_exprs; i++, sep = ",") {
		const struct np_expr *e = &s->exprs[i];

		if (e->op == NP_EXISTS) {
			fprintf(f, "%s%s", sep, e->key);
			continue;
		}
		if (e->op == NP_NOT_EXISTS) {
			fprintf(f, "%s!%s", sep, e->key);
			continue;
		}
		fprintf(f, "%s%s %s (", sep, e->key,
			e->op == NP_IN ? "in" : "notin");
		for (j = 0; j < e->n_vals; j++)
			fprintf(f, "%s%s", j ? "," : "", e->vals[j]);
		fputc(')', f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* A qualified name or a label value: [A-Za-z0-9]([-_.A-Za-z0-9]*
 * [A-Za-z0-9])?, at most 63. */
static bool name_part_valid(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* A DNS-1123 subdomain: lowercase labels joined by dots, at most 253. */
static bool subdomain_valid(const char *s, size_t n)
{
	size_t i, start = 0;

	if (!n || n > 253)
		return false;
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (i == start || s[start] == '-' || s[i - 1] == '-' ||
			    i - start > 63)
				return false;
			start = i + 1;
		} else if (!((c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	return true;
}

bool np_label_key_valid(const char *k)
{
	const char *slash = strchr(k, '/');

	if (!slash)
		return name_part_valid(k, strlen(k));
	return subdomain_valid(k, (size_t)(slash - k)) &&
	       name_part_valid(slash + 1, strlen(slash + 1));
}

bool np_label_value_valid(const char *v)
{
	size_t n = strlen(v);

	return !n || name_part_valid(v, n);
}
