/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address ranges: CIDRs, their union and difference, merged so that an
 * interval set gets non-overlapping elements.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"

static size_t alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static int range_cmp(const void *a, const void *b)
{
	const struct np_range *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->lo, y->lo, 16);
}

/* a + 1; false on overflow. */
static bool addr_inc(uint8_t *a, size_t n)
{
	size_t i = n;

	while (i-- > 0)
		if (++a[i])
			return true;
	return false;
}

/* a - 1; false on underflow. */
static bool addr_dec(uint8_t *a, size_t n)
{
	size_t i = n;

	while (i-- > 0)
		if (a[i]--)
			return true;
	return false;
}

int np_ranges_add(struct np_ranges *r, const struct np_range *x)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct np_range *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *x;
	return 0;
}

int np_ranges_add_all(struct np_ranges *r, const struct np_ranges *from)
{
	size_t i;
	int ret;

	for (i = 0; i < from->n; i++)
		if ((ret = np_ranges_add(r, &from->v[i])))
			return ret;
	return 0;
}

void np_ranges_merge(struct np_ranges *r)
{
	size_t i, out = 0;

	if (!r->n)
		return;
	qsort(r->v, r->n, sizeof(*r->v), range_cmp);
	for (i = 1; i < r->n; i++) {
		struct np_range *last = &r->v[out];
		const struct np_range *x = &r->v[i];
		uint8_t next[16];
		bool more;

		memcpy(next, last->hi, 16);
		more = addr_inc(next, alen(last->family));
		if (x->family == last->family &&
		    (!more || memcmp(x->lo, next, 16) <= 0)) {
			if (memcmp(x->hi, last->hi, 16) > 0)
				memcpy(last->hi, x->hi, 16);
			continue;
		}
		r->v[++out] = *x;
	}
	r->n = out + 1;
}

int np_ranges_subtract(struct np_ranges *r, const struct np_range *x)
{
	size_t i, n = r->n;

	for (i = 0; i < n; i++) {
		struct np_range *y = &r->v[i];
		struct np_range right;
		bool keep_left, keep_right;

		if (y->family != x->family || memcmp(x->hi, y->lo, 16) < 0 ||
		    memcmp(x->lo, y->hi, 16) > 0)
			continue;
		keep_left = memcmp(y->lo, x->lo, 16) < 0;
		keep_right = memcmp(y->hi, x->hi, 16) > 0;
		right = *y;
		if (keep_right) {
			memcpy(right.lo, x->hi, 16);
			addr_inc(right.lo, alen(x->family));
		}
		if (keep_left) {
			memcpy(y->hi, x->lo, 16);
			addr_dec(y->hi, alen(x->family));
		} else if (keep_right) {
			*y = right;
			continue;
		} else {
			/* all of y goes: mark it empty, dropped below */
			y->family = 0;
			continue;
		}
		if (keep_right) {
			int ret = np_ranges_add(r, &right);

			if (ret)
				return ret;
			y = &r->v[i];
		}
	}
	for (i = 0, n = 0; i < r->n; i++)
		if (r->v[i].family)
			r->v[n++] = r->v[i];
	r->n = n;
	np_ranges_merge(r);
	return 0;
}

void np_addr_range(const struct strata_addr *a, struct np_range *out)
{
	memset(out, 0, sizeof(*out));
	out->family = a->family;
	memcpy(out->lo, a->addr, alen(a->family));
	memcpy(out->hi, a->addr, alen(a->family));
}

bool np_ranges_contain(const struct np_ranges *r, const struct strata_addr *a)
{
	struct np_range x;
	size_t i;

	np_addr_range(a, &x);
	for (i = 0; i < r->n; i++)
		if (r->v[i].family == x.family &&
		    memcmp(r->v[i].lo, x.lo, 16) <= 0 &&
		    memcmp(r->v[i].hi, x.lo, 16) >= 0)
			return true;
	return false;
}

void np_ranges_clear(struct np_ranges *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

bool np_cidr_parse(const char *s, struct np_range *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : 0, i, bits;
	unsigned long len = 0;
	const char *d;

	memset(out, 0, sizeof(*out));
	if (!slash || !n || n >= INET6_ADDRSTRLEN)
		return false;
	/* digits only, no sign, no leading zero, at most three */
	d = slash + 1;
	if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1]))
		return false;
	for (i = 0; d[i]; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
		len = len * 10 + (unsigned long)(d[i] - '0');
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, out->lo) == 1)
		out->family = 4;
	else if (strchr(buf, ':') && inet_pton(AF_INET6, buf, out->lo) == 1)
		out->family = 6;
	else
		return false;
	bits = alen(out->family) * 8;
	if (len > bits)
		return false;
	for (i = 0; i < bits; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));

		if (i < len) {
			out->hi[i / 8] |= out->lo[i / 8] & bit;
		} else {
			out->lo[i / 8] &= (uint8_t)~bit;
			out->hi[i / 8] |= bit;
		}
	}
	return true;
}

bool np_range_within(const struct np_range *in, const struct np_range *of)
{
	return in->family == of->family && memcmp(in->lo, of->lo, 16) >= 0 &&
	       memcmp(in->hi, of->hi, 16) <= 0;
}
