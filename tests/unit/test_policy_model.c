/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy-nft model: its sorted containers, the canonical range
 * elements, and the scripts nftm_diff() writes, line by line.
 */
#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define T "inet strata-filter"
#define EG_BASE "type filter hook forward priority -5; policy accept;"

static uint64_t seed;

/* A small table shaped like the engine's. */
static struct nftm *sample(void)
{
	struct nftm *m = nftm_new();
	struct nftm_set *s;
	struct nftm_map *mp;
	struct nftm_chain *c;

	ck_assert_ptr_nonnull(m);
	s = nftm_set(m, "np-1-in-0", "ipv4_addr", true);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.2"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.2.0.0/16"), 0);
	mp = nftm_map(m, "pod-ingress", "ifname");
	ck_assert_ptr_nonnull(mp);
	ck_assert_int_eq(nftm_map_put(mp, "\"st0000000000001\"",
				      "goto pod-st0000000000001-in"), 0);
	ck_assert_int_eq(nftm_map_put(mp, "\"st0000000000002\"", "accept"), 0);
	c = nftm_chain(m, "ingress", "type filter hook forward priority 0; "
				     "policy accept;");
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "ct state established,related accept"),
			 0);
	ck_assert_int_eq(nftm_rule(c, "oifname vmap @%s", "pod-ingress"), 0);
	c = nftm_chain(m, "pod-st0000000000001-in", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "jump np-%d-in", 1), 0);
	ck_assert_int_eq(nftm_rule(c, "drop"), 0);
	c = nftm_chain(m, "np-1-in", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "ip saddr @np-1-in-0 tcp dport 80 "
				      "accept"), 0);
	return m;
}

static char *diff_ok(const struct nftm *have, struct nftm *want,
		     struct nftm_diff_stats *st)
{
	char *script = NULL;

	ck_assert_int_eq(nftm_diff(have, want, &script, st), 0);
	ck_assert_ptr_nonnull(script);
	return script;
}

/* Where line occurs in script (as a whole line), or -1. */
static long line_at(const char *script, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = script; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == n && !memcmp(p, line, n))
			return p - script;
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define has_line(script, line)                                              \
	ck_assert_msg(line_at(script, line) >= 0, "no line [%s] in:\n%s",  \
		      line, script)

START_TEST(containers_sorted_unique)
{
	struct nftm *m = nftm_new();
	struct nftm_set *s;
	struct nftm_map *mp;
	const char *names[] = { "m", "c", "x", "a", "c" };

	for (size_t i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(nftm_set(m, names[i], "ipv4_addr", false));
	ck_assert_uint_eq(m->n_sets, 4);
	for (size_t i = 1; i < m->n_sets; i++)
		ck_assert_int_lt(strcmp(m->sets[i - 1].name, m->sets[i].name),
				 0);
	/* another type, or flags, under a name taken */
	ck_assert_ptr_null(nftm_set(m, "c", "ipv6_addr", false));
	ck_assert_ptr_null(nftm_set(m, "c", "ipv4_addr", true));
	ck_assert_ptr_nonnull(nftm_find_set(m, "x"));
	ck_assert_ptr_null(nftm_find_set(m, "b"));

	s = nftm_set(m, "a", "ipv4_addr", false);
	ck_assert_int_eq(nftm_set_add(s, "10.0.0.3"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.0.0.1"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.0.0.3"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.0.0.2"), 0);
	ck_assert_uint_eq(s->n_elems, 3);
	ck_assert_str_eq(s->elems[0], "10.0.0.1");
	ck_assert_str_eq(s->elems[2], "10.0.0.3");

	mp = nftm_map(m, "vm", "ifname");
	ck_assert_ptr_nonnull(mp);
	ck_assert_ptr_null(nftm_map(m, "vm", "ipv4_addr"));
	ck_assert_int_eq(nftm_map_put(mp, "\"b\"", "drop"), 0);
	ck_assert_int_eq(nftm_map_put(mp, "\"a\"", "accept"), 0);
	ck_assert_int_eq(nftm_map_put(mp, "\"b\"", "jump x"), 0);
	ck_assert_uint_eq(mp->n_elems, 2);
	ck_assert_str_eq(mp->elems[0].key, "\"a\"");
	ck_assert_str_eq(mp->elems[1].verdict, "jump x");

	ck_assert_ptr_nonnull(nftm_chain(m, "egress", EG_BASE));
	ck_assert_ptr_nonnull(nftm_chain(m, "egress", EG_BASE));
	ck_assert_ptr_null(nftm_chain(m, "egress", NULL));
	ck_assert_ptr_nonnull(nftm_chain(m, "r", NULL));
	ck_assert_ptr_null(nftm_chain(m, "r", EG_BASE));
	ck_assert_uint_eq(m->n_chains, 2);
	ck_assert_int_eq(nftm_rule(nftm_chain(m, "r", NULL), "ip saddr %s %s",
				   "10.0.0.1", "accept"), 0);
	ck_assert_str_eq(nftm_find_chain(m, "r")->rules[0],
			 "ip saddr 10.0.0.1 accept");
	nftm_free(m);
}
END_TEST

static void range(int family, const char *lo, const char *hi,
		  const char *want)
{
	uint8_t a[16], b[16];
	char out[NFTM_ELEM_MAX];
	int af = family == 6 ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(af, lo, a), 1);
	ck_assert_int_eq(inet_pton(af, hi, b), 1);
	nftm_range_elem(family, a, b, out);
	ck_assert_msg(!strcmp(out, want), "%s-%s: %s, not %s", lo, hi, out,
		      want);
}

START_TEST(range_elems)
{
	range(4, "10.1.2.3", "10.1.2.3", "10.1.2.3");
	range(4, "10.0.0.0", "10.255.255.255", "10.0.0.0/8");
	range(4, "10.0.0.0", "10.0.0.1", "10.0.0.0/31");
	range(4, "10.0.0.1", "10.0.0.2", "10.0.0.1-10.0.0.2");
	range(4, "10.0.0.0", "10.0.0.5", "10.0.0.0-10.0.0.5");
	range(4, "10.0.0.0", "10.0.1.254", "10.0.0.0-10.0.1.254");
	range(4, "10.0.0.1", "10.0.1.255", "10.0.0.1-10.0.1.255");
	range(4, "0.0.0.0", "255.255.255.255", "0.0.0.0/0");
	range(4, "0.0.0.0", "127.255.255.255", "0.0.0.0/1");
	range(4, "128.0.0.0", "255.255.255.255", "128.0.0.0/1");
	range(4, "255.255.255.255", "255.255.255.255", "255.255.255.255");
	range(6, "fd00::1", "fd00::1", "fd00::1");
	range(6, "fd00::", "fd00::ffff", "fd00::/112");
	range(6, "fd00::", "fd00:0:0:0:ffff:ffff:ffff:ffff", "fd00::/64");
	range(6, "fd00::1", "fd00::2", "fd00::1-fd00::2");
	range(6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0");
	range(6, "::", "::1", "::/127");
	range(6, "8000::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	      "8000::/1");
	range(6, "fd00::", "fd00::1:0", "fd00::-fd00::1:0");
	range(6, "::ffff:10.0.0.0", "::ffff:10.0.0.255", "::ffff:10.0.0.0/120");
}
END_TEST

START_TEST(diff_from_empty)
{
	struct nftm *want = sample();
	struct nftm_diff_stats st;
	char *s = diff_ok(NULL, want, &st);
	long table, set, chain, elem, rule;

	ck_assert_msg(!strncmp(s, "add table " T "\n", 27), "%s", s);
	has_line(s, "add set " T " np-1-in-0 { type ipv4_addr; flags interval; }");
	has_line(s, "add map " T " pod-ingress { type ifname : verdict; }");
	has_line(s, "add chain " T " ingress { type filter hook forward "
		    "priority 0; policy accept; }");
	has_line(s, "add chain " T " np-1-in");
	has_line(s, "add element " T " np-1-in-0 { 10.1.0.2, 10.2.0.0/16 }");
	has_line(s, "add element " T " pod-ingress { \"st0000000000001\" : "
		    "goto pod-st0000000000001-in, \"st0000000000002\" : accept }");
	has_line(s, "add rule " T " pod-st0000000000001-in jump np-1-in");
	has_line(s, "add rule " T " ingress oifname vmap @pod-ingress");
	table = line_at(s, "add table " T);
	set = line_at(s, "add set " T " np-1-in-0 { type ipv4_addr; flags "
			 "interval; }");
	chain = line_at(s, "add chain " T " np-1-in");
	elem = line_at(s, "add element " T " np-1-in-0 { 10.1.0.2, "
			  "10.2.0.0/16 }");
	rule = line_at(s, "add rule " T " np-1-in ip saddr @np-1-in-0 tcp "
			  "dport 80 accept");
	ck_assert_int_lt(table, set);
	ck_assert_int_lt(chain, elem);
	ck_assert_int_lt(elem, rule);
	/* every chain ends with its digest */
	for (size_t i = 0; i < want->n_chains; i++) {
		char line[160];

		ck_assert_uint_eq(strlen(want->chains[i].digest), 16);
		snprintf(line, sizeof(line),
			 "add rule " T " %s return comment \"strata:%s\"",
			 want->chains[i].name, want->chains[i].digest);
		has_line(s, line);
	}
	ck_assert_uint_eq(st.objects_added, 5);
	ck_assert_uint_eq(st.elems_added, 4);
	ck_assert_uint_eq(st.chains_written, 3);
	ck_assert_uint_eq(st.elems_deleted + st.objects_deleted, 0);
	/* table, 5 objects, 2 element lines, 5 rules + 3 digests */
	ck_assert_uint_eq(count_lines(s), 16);
	free(s);

	/* an empty model read from a host without the table: the same */
	{
		struct nftm *none = nftm_new();

		s = diff_ok(none, want, &st);
		ck_assert(!strncmp(s, "add table " T "\n", 27));
		ck_assert_uint_eq(count_lines(s), 16);
		free(s);
		nftm_free(none);
	}
	nftm_free(want);
}
END_TEST

START_TEST(noop_is_empty)
{
	struct nftm *have = sample(), *want = sample(), *read;
	struct nftm_diff_stats st;
	char *s;

	s = diff_ok(have, want, &st);
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(st.elems_added + st.elems_deleted + st.chains_written +
				  st.objects_added + st.objects_deleted, 0);
	free(s);

	/* as read back from the kernel: digests, no rules */
	read = sample();
	for (size_t i = 0; i < read->n_chains; i++) {
		struct nftm_chain *c = &read->chains[i];

		for (size_t r = 0; r < c->n_rules; r++)
			free(c->rules[r]);
		c->n_rules = 0;
		memcpy(c->digest, want->chains[i].digest, 17);
	}
	s = diff_ok(read, want, NULL);
	ck_assert_str_eq(s, "");
	free(s);

	/* nothing wanted, nothing there */
	{
		struct nftm *e1 = nftm_new(), *e2 = nftm_new();

		s = diff_ok(e1, e2, NULL);
		ck_assert_str_eq(s, "");
		free(s);
		nftm_free(e1);
		nftm_free(e2);
	}
	nftm_free(read);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(element_add_delete)
{
	struct nftm *have = sample(), *want = sample();
	struct nftm_set *s = nftm_set(want, "np-1-in-0", "ipv4_addr", true);
	struct nftm_diff_stats st;
	char *script;

	/* 10.1.0.2 out, 10.1.0.3 in: a pod's label moved */
	free(s->elems[0]);
	memmove(&s->elems[0], &s->elems[1], sizeof(char *));
	s->n_elems--;
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.3"), 0);
	script = diff_ok(have, want, &st);
	ck_assert_str_eq(script,
			 "delete element " T " np-1-in-0 { 10.1.0.2 }\n"
			 "add element " T " np-1-in-0 { 10.1.0.3 }\n");
	ck_assert_uint_eq(st.elems_added, 1);
	ck_assert_uint_eq(st.elems_deleted, 1);
	ck_assert_uint_eq(st.chains_written + st.objects_added +
				  st.objects_deleted, 0);
	free(script);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(verdict_change)
{
	struct nftm *have = sample(), *want = sample();
	struct nftm_map *mp = nftm_map(want, "pod-ingress", "ifname");
	struct nftm_diff_stats st;
	char *script;

	ck_assert_int_eq(nftm_map_put(mp, "\"st0000000000002\"", "drop"), 0);
	ck_assert_int_eq(nftm_map_put(mp, "\"st0000000000003\"", "accept"), 0);
	script = diff_ok(have, want, &st);
	ck_assert_str_eq(script,
			 "delete element " T " pod-ingress { \"st0000000000002\" }\n"
			 "add element " T " pod-ingress { \"st0000000000002\" : "
			 "drop, \"st0000000000003\" : accept }\n");
	ck_assert_uint_eq(st.elems_added, 2);
	ck_assert_uint_eq(st.elems_deleted, 1);
	free(script);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(chain_rewritten_only_when_rules_change)
{
	struct nftm *have = sample(), *want = sample();
	struct nftm_chain *c = nftm_chain(want, "np-1-in", NULL);
	struct nftm_diff_stats st;
	char *script, expect[512];

	free(c->rules[0]);
	c->n_rules = 0;
	ck_assert_int_eq(nftm_rule(c, "ip saddr @np-1-in-0 tcp dport 443 "
				      "accept"), 0);
	script = diff_ok(have, want, &st);
	c = (struct nftm_chain *)nftm_find_chain(want, "np-1-in");
	snprintf(expect, sizeof(expect),
		 "flush chain " T " np-1-in\n"
		 "add rule " T " np-1-in ip saddr @np-1-in-0 tcp dport 443 "
		 "accept\n"
		 "add rule " T " np-1-in return comment \"strata:%s\"\n",
		 c->digest);
	ck_assert_str_eq(script, expect);
	ck_assert_uint_eq(st.chains_written, 1);
	ck_assert_uint_eq(st.elems_added + st.elems_deleted, 0);
	free(script);

	/* a different order of the same rules is another chain */
	nftm_free(want);
	want = sample();
	c = nftm_chain(want, "pod-st0000000000001-in", NULL);
	free(c->rules[0]);
	c->rules[0] = c->rules[1];
	c->n_rules = 1;
	ck_assert_int_eq(nftm_rule(c, "jump np-1-in"), 0);
	script = diff_ok(have, want, &st);
	ck_assert_uint_eq(st.chains_written, 1);
	ck_assert(line_at(script, "flush chain " T
			  " pod-st0000000000001-in") == 0);
	free(script);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(base_spec_compares_by_meaning)
{
	struct nftm *have = nftm_new(), *want = nftm_new();
	struct nftm_chain *c;
	char *s;

	c = nftm_chain(have, "egress", EG_BASE);
	ck_assert_int_eq(nftm_rule(c, "accept"), 0);
	c = nftm_chain(want, "egress", "type filter hook forward priority "
				      "filter - 5; policy accept;");
	ck_assert_int_eq(nftm_rule(c, "accept"), 0);
	s = diff_ok(have, want, NULL);
	ck_assert_str_eq(s, "");
	free(s);

	/* another priority: the base chain is made again */
	nftm_free(want);
	want = nftm_new();
	c = nftm_chain(want, "egress", "type filter hook forward priority 10; "
				      "policy drop;");
	ck_assert_int_eq(nftm_rule(c, "accept"), 0);
	s = diff_ok(have, want, NULL);
	ck_assert_int_lt(line_at(s, "flush chain " T " egress"),
			 line_at(s, "delete chain " T " egress"));
	ck_assert_int_lt(line_at(s, "delete chain " T " egress"),
			 line_at(s, "add chain " T " egress { type filter hook "
				    "forward priority 10; policy drop; }"));
	ck_assert_int_lt(line_at(s, "add chain " T " egress { type filter hook "
				    "forward priority 10; policy drop; }"),
			 line_at(s, "add rule " T " egress accept"));
	free(s);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(stale_removed_in_order)
{
	struct nftm *have = sample(), *want = sample();
	struct nftm_set *z = nftm_set(have, "old-set", "ipv4_addr", false);
	struct nftm_map *m = nftm_map(have, "old-map", "ifname");
	struct nftm_chain *c = nftm_chain(have, "old-chain", NULL);
	struct nftm_diff_stats st;
	long fc, fm, dc, dm, ds;
	char *s;

	ck_assert_int_eq(nftm_set_add(z, "10.9.9.9"), 0);
	ck_assert_int_eq(nftm_rule(c, "ip saddr @old-set accept"), 0);
	m = nftm_map(have, "old-map", "ifname");
	ck_assert_int_eq(nftm_map_put(m, "\"st00000000000ff\"",
				      "jump old-chain"), 0);
	s = diff_ok(have, want, &st);
	fc = line_at(s, "flush chain " T " old-chain");
	fm = line_at(s, "flush map " T " old-map");
	dc = line_at(s, "delete chain " T " old-chain");
	ds = line_at(s, "delete set " T " old-set");
	dm = line_at(s, "delete map " T " old-map");
	ck_assert_msg(fc == 0 && fc < fm && fm < dc && dc < ds && dc < dm,
		      "%s", s);
	ck_assert_uint_eq(count_lines(s), 5);
	ck_assert_uint_eq(st.objects_deleted, 3);
	ck_assert_uint_eq(st.elems_deleted, 1);
	ck_assert_uint_eq(st.objects_added + st.chains_written, 0);
	ck_assert_ptr_null(strstr(s, "add "));
	free(s);

	/* nothing wanted at all: everything goes, the table stays */
	nftm_free(want);
	want = nftm_new();
	s = diff_ok(have, want, &st);
	ck_assert_ptr_null(strstr(s, "add "));
	ck_assert_ptr_null(strstr(s, "table"));
	ck_assert_uint_eq(st.objects_deleted, 8);
	ck_assert_int_lt(line_at(s, "flush chain " T " pod-st0000000000001-in"),
			 line_at(s, "delete chain " T " np-1-in"));
	ck_assert_int_lt(line_at(s, "delete chain " T " np-1-in"),
			 line_at(s, "delete set " T " np-1-in-0"));
	free(s);
	nftm_free(have);
	nftm_free(want);
}
END_TEST

START_TEST(set_type_change_replaces)
{
	struct nftm *have = sample(), *want = nftm_new();
	struct nftm_set *s;
	struct nftm_chain *c;
	struct nftm_diff_stats st;
	char *script;
	long flush, del, add, rule;

	/* the same names, the set now without flags interval */
	s = nftm_set(want, "np-1-in-0", "ipv4_addr", false);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.2"), 0);
	c = nftm_chain(want, "np-1-in", NULL);
	ck_assert_int_eq(nftm_rule(c, "ip saddr @np-1-in-0 tcp dport 80 "
				      "accept"), 0);
	script = diff_ok(have, want, &st);
	flush = line_at(script, "flush chain " T " np-1-in");
	del = line_at(script, "delete set " T " np-1-in-0");
	add = line_at(script, "add set " T " np-1-in-0 { type ipv4_addr; }");
	rule = line_at(script, "add rule " T " np-1-in ip saddr @np-1-in-0 "
			       "tcp dport 80 accept");
	ck_assert_msg(flush >= 0 && flush < del && del < add && add < rule,
		      "%s", script);
	/* the stale chains let go of everything before it goes */
	ck_assert_int_lt(line_at(script, "flush chain " T
				 " pod-st0000000000001-in"), del);
	has_line(script, "add element " T " np-1-in-0 { 10.1.0.2 }");
	free(script);
	nftm_free(have);
	nftm_free(want);
}
END_TEST


/* A model kept and changed in place: only marked objects are compared,
 * objects dropped are removed, and nftm_sync() keeps the copy equal. */
START_TEST(changed_only_marked)
{
	struct nftm *want = sample(), *have;
	struct nftm_set *s;
	struct nftm_chain *c;
	struct nftm_diff_stats st;
	char *script;

	have = nftm_dup(want);
	ck_assert_ptr_nonnull(have);
	for (size_t i = 0; i < want->n_sets; i++)
		ck_assert(!want->sets[i].dirty);
	for (size_t i = 0; i < want->n_chains; i++)
		ck_assert(!want->chains[i].dirty);

	/* nothing marked: nothing to do, even where have differs */
	ck_assert_int_eq(nftm_set_add((struct nftm_set *)nftm_find_set(
					      have, "np-1-in-0"),
				      "10.9.9.9"),
			 0);
	ck_assert_int_eq(nftm_diff_changed(have, want, &script, &st), 0);
	ck_assert_str_eq(script, "");
	free(script);
	nftm_set_del((struct nftm_set *)nftm_find_set(have, "np-1-in-0"),
		     "10.9.9.9");

	/* an element out, one in, a new chain, a chain dropped */
	s = (struct nftm_set *)nftm_find_set(want, "np-1-in-0");
	nftm_set_del(s, "10.1.0.2");
	ck_assert(s->dirty);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.3"), 0);
	c = nftm_chain(want, "np-2-in", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "accept"), 0);
	nftm_map_del((struct nftm_map *)nftm_find_map(want, "pod-ingress"),
		     "\"st0000000000001\"");
	nftm_drop(want, "pod-st0000000000001-in");
	ck_assert_ptr_null(nftm_find_chain(want, "pod-st0000000000001-in"));
	ck_assert_ptr_nonnull(nftm_find_chain(want, "np-1-in"));
	ck_assert_int_eq(nftm_diff_changed(have, want, &script, &st), 0);
	has_line(script, "delete element " T " np-1-in-0 { 10.1.0.2 }");
	has_line(script, "add element " T " np-1-in-0 { 10.1.0.3 }");
	has_line(script, "add chain " T " np-2-in");
	has_line(script, "delete element " T " pod-ingress { "
			 "\"st0000000000001\" }");
	has_line(script, "delete chain " T " pod-st0000000000001-in");
	/* the unchanged chains are not written */
	ck_assert_int_lt(line_at(script, "flush chain " T " np-1-in"), 0);
	ck_assert_int_lt(line_at(script, "flush chain " T " ingress"), 0);
	ck_assert_uint_eq(st.chains_written, 1);
	free(script);

	ck_assert_int_eq(nftm_sync(have, want), 0);
	for (size_t i = 0; i < want->n_sets; i++)
		ck_assert(!want->sets[i].dirty);
	script = diff_ok(have, want, NULL);
	ck_assert_str_eq(script, "");
	free(script);
	/* and the copy is a copy: changing want leaves it alone */
	nftm_drop(want, "np-");
	ck_assert_ptr_nonnull(nftm_find_chain(have, "np-1-in"));
	ck_assert_ptr_nonnull(nftm_find_set(have, "np-1-in-0"));
	ck_assert_ptr_null(nftm_find_set(want, "np-1-in-0"));
	nftm_free(have);
	nftm_free(want);
}
END_TEST

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

/* Random sets of addresses: the element counts are the symmetric
 * difference, and applying the diff's elements to have gives want. */
START_TEST(random_element_diffs)
{
	for (int round = 0; round < 50; round++) {
		struct nftm *have = nftm_new(), *want = nftm_new();
		struct nftm_set *hs = nftm_set(have, "s", "ipv4_addr", false);
		struct nftm_set *ws = nftm_set(want, "s", "ipv4_addr", false);
		struct nftm_diff_stats st;
		size_t only_h = 0, only_w = 0;
		bool in_h[64] = { false }, in_w[64] = { false };
		char e[32], *script;

		for (int i = 0; i < 64; i++) {
			snprintf(e, sizeof(e), "10.0.0.%d", i);
			in_h[i] = rnd() & 1;
			in_w[i] = rnd() & 1;
			if (in_h[i])
				ck_assert_int_eq(nftm_set_add(hs, e), 0);
			if (in_w[i])
				ck_assert_int_eq(nftm_set_add(ws, e), 0);
			only_h += in_h[i] && !in_w[i];
			only_w += in_w[i] && !in_h[i];
		}
		script = diff_ok(have, want, &st);
		ck_assert_uint_eq(st.elems_deleted, only_h);
		ck_assert_uint_eq(st.elems_added, only_w);
		for (int i = 0; i < 64; i++) {
			char *hit;

			snprintf(e, sizeof(e), " 10.0.0.%d", i);
			hit = strstr(script, e);
			while (hit && (hit[strlen(e)] != ',' &&
				       hit[strlen(e)] != ' '))
				hit = strstr(hit + 1, e);
			ck_assert_msg(!!hit == (in_h[i] != in_w[i]),
				      "round %d element %d:\n%s", round, i,
				      script);
		}
		free(script);
		nftm_free(have);
		nftm_free(want);
	}
}
END_TEST

int main(void)
{
	const char *env = getenv("STRATA_TEST_SEED");
	Suite *s = suite_create("policy_model");
	TCase *tc = tcase_create("model");
	SRunner *sr;
	int failed;

	seed = env && *env ? strtoull(env, NULL, 0) : 20260112;
	if (!seed)
		seed = 1;
	printf("test_policy_model: seed %" PRIu64
	       " (STRATA_TEST_SEED overrides)\n", seed);
	tcase_add_test(tc, containers_sorted_unique);
	tcase_add_test(tc, range_elems);
	tcase_add_test(tc, diff_from_empty);
	tcase_add_test(tc, noop_is_empty);
	tcase_add_test(tc, element_add_delete);
	tcase_add_test(tc, verdict_change);
	tcase_add_test(tc, chain_rewritten_only_when_rules_change);
	tcase_add_test(tc, base_spec_compares_by_meaning);
	tcase_add_test(tc, stale_removed_in_order);
	tcase_add_test(tc, set_type_change_replaces);
	tcase_add_test(tc, random_element_diffs);
	tcase_add_test(tc, changed_only_marked);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
