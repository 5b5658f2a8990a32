/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata-nat table, programmed through libnftables: every change is
 * one nftables transaction, so the masquerade rule never goes missing
 * while the sets change, and no other table is read or written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "nat.h"

#define NAT_TABLE "inet strata-nat"

/* One set's elements, as nft gets them. */
struct nat_set {
	struct strata_prefix *p;
	size_t n;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static unsigned int prefix_bits(uint8_t family)
{
	return family == STRATA_AF_INET ? 32 : 128;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct strata_prefix *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	if (c)
		return c;
	return (int)x->len - (int)y->len;
}

/* Is q inside p (both masked, p first in sort order)? */
static bool prefix_covers(const struct strata_prefix *p,
			  const struct strata_prefix *q)
{
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (q->len < p->len || memcmp(p->addr, q->addr, full))
		return false;
	if (!rest)
		return true;
	return !((p->addr[full] ^ q->addr[full]) & (0xff00 >> rest));
}

/*
 * The prefixes of one family, host bits cleared, sorted, and those inside
 * another dropped: an interval set refuses overlapping elements.
 */
static int set_build(struct nat_set *set, const struct strata_prefix *in,
		     size_t n_in, uint8_t family, const char *what,
		     char *err, size_t errlen)
{
	size_t i, n = 0;

	set->p = NULL;
	set->n = 0;
	for (i = 0; i < n_in; i++) {
		if (in[i].family != STRATA_AF_INET &&
		    in[i].family != STRATA_AF_INET6) {
			set_err(err, errlen, "%s prefix %zu: family %u", what,
				i, in[i].family);
			return -EINVAL;
		}
		if (in[i].len > prefix_bits(in[i].family)) {
			set_err(err, errlen, "%s prefix %zu: length %u", what,
				i, in[i].len);
			return -EINVAL;
		}
		if (in[i].family == family)
			n++;
	}
	if (!n)
		return 0;
	set->p = calloc(n, sizeof(*set->p));
	if (!set->p) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n_in; i++) {
		struct strata_prefix *p;
		unsigned int full, rest;

		if (in[i].family != family)
			continue;
		p = &set->p[set->n++];
		p->family = family;
		p->len = in[i].len;
		full = p->len / 8;
		rest = p->len % 8;
		memcpy(p->addr, in[i].addr, full);
		if (rest)
			p->addr[full] = in[i].addr[full] & (0xff00 >> rest);
	}
	qsort(set->p, set->n, sizeof(*set->p), prefix_cmp);
	n = 0;
	for (i = 0; i < set->n; i++)
		if (!n || !prefix_covers(&set->p[n - 1], &set->p[i]))
			set->p[n++] = set->p[i];
	set->n = n;
	return 0;
}

static void put_elements(FILE *f, const char *name, const struct nat_set *s)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	if (!s->n)
		return; /* nft has no syntax for adding no elements */
	fprintf(f, "add element " NAT_TABLE " %s { ", name);
	for (i = 0; i < s->n; i++) {
		const struct strata_prefix *p = &s->p[i];

		inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6,
			  p->addr, buf, sizeof(buf));
		fprintf(f, "%s%s/%u", i ? ", " : "", buf, p->len);
	}
	fprintf(f, " }\n");
}

/*
 * The whole table as one batch. With replace, the table is deleted first
 * (in the same transaction): for a table left in a shape the declarations
 * below cannot be added to, such as a set of another type.
 */
static char *batch_build(const struct nat_set sets[4], bool replace)
{
	static const char *const names[4] = {
		"cluster4", "cluster6", "nonat4", "nonat6",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int i;

	if (!f)
		return NULL;
	fprintf(f, "add table " NAT_TABLE "\n");
	if (replace)
		fprintf(f, "delete table " NAT_TABLE "\n"
			   "add table " NAT_TABLE "\n");
	for (i = 0; i < 4; i++)
		fprintf(f, "add set " NAT_TABLE " %s { type %s; "
			   "flags interval; }\n", names[i],
			i % 2 ? "ipv6_addr" : "ipv4_addr");
	fprintf(f, "add chain " NAT_TABLE " postrouting { type nat hook "
		   "postrouting priority srcnat; policy accept; }\n");
	for (i = 0; i < 4; i++)
		fprintf(f, "flush set " NAT_TABLE " %s\n", names[i]);
	fprintf(f, "flush chain " NAT_TABLE " postrouting\n");
	for (i = 0; i < 4; i++)
		put_elements(f, names[i], &sets[i]);
	fprintf(f, "add rule " NAT_TABLE " postrouting ip saddr @cluster4 "
		   "ip daddr != @cluster4 ip daddr != @nonat4 masquerade\n"
		   "add rule " NAT_TABLE " postrouting ip6 saddr @cluster6 "
		   "ip6 daddr != @cluster6 ip6 daddr != @nonat6 masquerade\n");
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* nft's message on one line: the error, then the command it points at. */
static void copy_nft_error(const char *msg, char *err, size_t errlen)
{
	const char *nl, *cmd;
	int first;

	if (!msg || !*msg) {
		set_err(err, errlen, "nftables transaction failed");
		return;
	}
	nl = strchr(msg, '\n');
	first = nl ? (int)(nl - msg) : (int)strlen(msg);
	cmd = nl ? nl + 1 : "";
	nl = strchr(cmd, '\n');
	if (*cmd)
		set_err(err, errlen, "%.*s: in '%.*s'", first, msg,
			nl ? (int)(nl - cmd) : (int)strlen(cmd), cmd);
	else
		set_err(err, errlen, "%.*s", first, msg);
}

/* One transaction. */
static int nft_run(const char *batch, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret = 0;

	if (!nft) {
		set_err(err, errlen, "nft_ctx_new failed");
		return -ENOMEM;
	}
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		set_err(err, errlen, "cannot buffer nftables messages");
		ret = -ENOMEM;
		goto free_ctx;
	}
	if (nft_run_cmd_from_buffer(nft, batch)) {
		copy_nft_error(nft_ctx_get_error_buffer(nft), err, errlen);
		ret = -EIO;
	}
free_ctx:
	nft_ctx_free(nft);
	return ret;
}

int nat_apply(const struct strata_prefix *cluster, size_t n_cluster,
	      const struct strata_prefix *no_nat, size_t n_no_nat,
	      char *err, size_t errlen)
{
	struct nat_set sets[4] = { { 0 } };
	char *batch;
	int ret, i;

	ret = set_build(&sets[0], cluster, n_cluster, STRATA_AF_INET,
			"cluster", err, errlen);
	if (!ret)
		ret = set_build(&sets[1], cluster, n_cluster, STRATA_AF_INET6,
				"cluster", err, errlen);
	if (!ret)
		ret = set_build(&sets[2], no_nat, n_no_nat, STRATA_AF_INET,
				"no_nat", err, errlen);
	if (!ret)
		ret = set_build(&sets[3], no_nat, n_no_nat, STRATA_AF_INET6,
				"no_nat", err, errlen);
	if (ret)
		goto free_sets;

	batch = batch_build(sets, false);
	if (!batch) {
		set_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto free_sets;
	}
	ret = nft_run(batch, err, errlen);
	free(batch);
	if (ret != -EIO)
		goto free_sets;

	/* A table of another shape is ours to replace, atomically too. */
	batch = batch_build(sets, true);
	if (!batch) {
		set_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto free_sets;
	}
	ret = nft_run(batch, err, errlen);
	free(batch);
free_sets:
	for (i = 0; i < 4; i++)
		free(sets[i].p);
	return ret;
}

int nat_remove(char *err, size_t errlen)
{
	/* adding first makes the delete succeed when there is no table */
	return nft_run("add table " NAT_TABLE "\n"
		       "delete table " NAT_TABLE "\n", err, errlen);
}
