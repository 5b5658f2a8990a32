/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratactl store migrate: copy a cluster's state from the embedded SQLite
 * store to etcd, without a daemon. Every stratad using the source must be
 * stopped first. Keys on a lease (live registrations) are not copied: each
 * daemon writes its own again when it starts.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "loop.h"
#include "migrate.h"
#include "store.h"

enum { EXIT_STORE = 1, EXIT_USAGE = 2 };

/* How long one store call may take before the migration gives up. */
#define STEP_MS 60000

struct item {
	char *key;
	char *value;
	size_t value_len;
};

struct mig {
	struct loop *loop;
	struct store *src;
	struct store *dst;
	const char *from;
	const char *to;
	const char *prefix;
	bool force;
	struct item *items; /* unleased keys of the source, in key order */
	size_t n_items;
	size_t n_leased;
	int64_t src_rev;
};

/* One pending call: the loop runs until its callback sets done. */
struct call {
	bool done;
	int err;
	int64_t rev;
	bool succeeded;
	size_t n;
	char *first; /* the first key a range returned */
	struct mig *m;
	bool collect; /* keep what the range returned in m->items */
	bool verify;  /* compare what the range returned with m->items */
	size_t mismatches;
	char *bad; /* the first key that did not match */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: stratactl store migrate --from sqlite:PATH "
		"--to etcd:URL[,URL...] [OPTIONS]\n"
		"Copy every key of the embedded store to etcd. Stop every "
		"stratad using\n"
		"PATH first; keys on a lease (node registrations) are not "
		"copied, each\n"
		"stratad writes its own again when it starts.\n"
		"\n"
		"      --prefix P          etcd: write under this prefix "
		"(store.prefix)\n"
		"      --username U        etcd: user (store.username)\n"
		"      --password-file F   etcd: its password, the file's "
		"first line\n"
		"      --ca F, --cert F, --key F   etcd over https: PEM files\n"
		"      --force             write even if the destination "
		"already has keys\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 copied and verified, 1 a store error, 2 usage "
		"error.\n");
}

static void __attribute__((noreturn, format(printf, 2, 3)))
fail(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stratactl: store migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void wait_call(struct mig *m, struct call *c, const char *what)
{
	int64_t end = loop_now() + (int64_t)STEP_MS * 1000000;

	while (!c->done) {
		if (loop_now() >= end)
			fail(EXIT_STORE, "%s: no answer within %d s", what,
			     STEP_MS / 1000);
		if (loop_run_once(m->loop, 100) < 0)
			fail(EXIT_STORE, "%s: the event loop failed", what);
	}
}

static char *dup_bytes(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		fail(EXIT_STORE, "out of memory");
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void collect(struct call *c, const struct strata_kv *kv, size_t n)
{
	struct mig *m = c->m;
	size_t i;

	m->items = calloc(n ? n : 1, sizeof(*m->items));
	if (!m->items)
		fail(EXIT_STORE, "out of memory");
	for (i = 0; i < n; i++) {
		struct item *it;

		if (kv[i].lease) {
			m->n_leased++;
			continue;
		}
		it = &m->items[m->n_items++];
		it->key = dup_bytes(kv[i].key, strlen(kv[i].key));
		it->value = dup_bytes(kv[i].value, kv[i].value_len);
		it->value_len = kv[i].value_len;
	}
}

static void verify(struct call *c, const struct strata_kv *kv, size_t n)
{
	struct mig *m = c->m;
	size_t i, j = 0;

	/* both in key order: walk them together */
	for (i = 0; i < m->n_items; i++) {
		const struct item *it = &m->items[i];

		while (j < n && strcmp(kv[j].key, it->key) < 0)
			j++;
		if (j < n && !strcmp(kv[j].key, it->key) &&
		    kv[j].value_len == it->value_len &&
		    !memcmp(kv[j].value, it->value, it->value_len))
			continue;
		if (!c->mismatches++)
			c->bad = dup_bytes(it->key, strlen(it->key));
	}
}

static void range_cb(void *arg, int err, int64_t rev,
		     const struct strata_kv *kv, size_t n)
{
	struct call *c = arg;

	c->done = true;
	c->err = err;
	if (err)
		return;
	c->rev = rev;
	c->n = n;
	if (n)
		c->first = dup_bytes(kv[0].key, strlen(kv[0].key));
	if (c->collect)
		collect(c, kv, n);
	if (c->verify)
		verify(c, kv, n);
}

static void txn_cb(void *arg, int err,
		   const struct strata_store_txn_result *res)
{
	struct call *c = arg;

	c->done = true;
	c->err = err;
	if (!err) {
		c->rev = res->revision;
		c->succeeded = res->succeeded;
	}
}

static void read_all(struct mig *m, struct store *st, struct call *c,
		     uint32_t flags, const char *what)
{
	int err;

	c->m = m;
	err = store_get(st, "", STRATA_STORE_PREFIX | flags, range_cb, c);
	if (err)
		fail(EXIT_STORE, "%s: %s", what, strerror(-err));
	wait_call(m, c, what);
	if (c->err)
		fail(EXIT_STORE, "%s: %s", what, strerror(-c->err));
}

/* The password file's first line. */
static char *read_password(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		fail(EXIT_USAGE, "--password-file %s: %s", path,
		     strerror(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (!n)
		fail(EXIT_USAGE, "--password-file %s: no password in it",
		     path);
	return dup_bytes(buf, n);
}

static struct store *open_one(struct mig *m, struct store_options *o,
			      const char *what)
{
	struct store *st;
	char err[512];
	int rc;

	rc = store_open(m->loop, o, &st, err, sizeof(err));
	if (rc)
		fail(EXIT_STORE, "cannot open the %s %s: %s", what, o->url,
		     err[0] ? err : strerror(-rc));
	return st;
}

static void write_batches(struct mig *m)
{
	struct strata_store_op ops[STORE_MAX_TXN_OPS];
	struct strata_store_cmp cmps[STORE_MAX_TXN_OPS];
	size_t i, k, n;
	int err;

	for (i = 0; i < m->n_items; i += n) {
		struct strata_store_txn t = { .success = ops, .cmp = cmps };
		struct call c = { .m = m };

		n = m->n_items - i;
		if (n > STORE_MAX_TXN_OPS)
			n = STORE_MAX_TXN_OPS;
		for (k = 0; k < n; k++) {
			const struct item *it = &m->items[i + k];

			ops[k] = (struct strata_store_op){
				.type = STRATA_OP_PUT, .key = it->key,
				.value = it->value, .value_len = it->value_len,
			};
			/* absent still: a concurrent writer shows here */
			cmps[k] = (struct strata_store_cmp){
				.key = it->key, .target = STRATA_CMP_CREATE,
				.result = STRATA_CMP_EQUAL, .num = 0,
			};
		}
		t.n_success = n;
		t.n_cmp = m->force ? 0 : n;
		err = store_txn(m->dst, &t, txn_cb, &c);
		if (!err) {
			wait_call(m, &c, "writing to the destination");
			err = c.err;
		}
		if (err)
			fail(EXIT_STORE, "writing keys %s..%s to %s: %s; %zu of "
			     "%zu keys were written before",
			     m->items[i].key, m->items[i + n - 1].key, m->to,
			     strerror(-err), i, m->n_items);
		if (!c.succeeded)
			fail(EXIT_STORE, "%s: one of the keys %s..%s appeared "
			     "there meanwhile (is something else writing to "
			     "it?); that batch was not written, %zu of %zu "
			     "keys were written before",
			     m->to, m->items[i].key, m->items[i + n - 1].key,
			     i, m->n_items);
	}
}

static void free_items(struct mig *m)
{
	size_t i;

	for (i = 0; i < m->n_items; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
}

int store_migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "username", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "ca", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct store_options so = { .size = sizeof(so) };
	struct store_options dof = { .size = sizeof(dof) };
	struct mig m = { 0 };
	struct call rd = { 0 }, ex = { 0 }, vf = { 0 };
	const char *pwfile = NULL;
	char *password = NULL;
	struct stat sb;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			m.from = optarg;
			break;
		case 't':
			m.to = optarg;
			break;
		case 'p':
			dof.prefix = optarg;
			break;
		case 'u':
			dof.username = optarg;
			break;
		case 'P':
			pwfile = optarg;
			break;
		case 'C':
			dof.ca_file = optarg;
			break;
		case 'c':
			dof.cert_file = optarg;
			break;
		case 'k':
			dof.key_file = optarg;
			break;
		case 'F':
			m.force = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"Try 'stratactl store migrate --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		fail(EXIT_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if (!m.from || !m.to) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strncmp(m.from, "sqlite:", 7) || !m.from[7])
		fail(EXIT_USAGE, "--from: expected sqlite:PATH, got \"%s\"",
		     m.from);
	if (strncmp(m.to, "etcd:", 5) || !m.to[5])
		fail(EXIT_USAGE, "--to: expected etcd:URL[,URL...], got \"%s\"",
		     m.to);
	if (pwfile && !dof.username)
		fail(EXIT_USAGE, "--password-file needs --username");
	if ((dof.cert_file != NULL) != (dof.key_file != NULL))
		fail(EXIT_USAGE, "--cert and --key go together");
	/* opening would create an empty store: a typo must not look like
	 * an empty cluster */
	if (stat(m.from + 7, &sb))
		fail(EXIT_STORE, "%s: %s", m.from + 7, strerror(errno));
	m.prefix = dof.prefix ? dof.prefix : "";
	if (pwfile)
		password = read_password(pwfile);
	dof.password = password;
	so.url = m.from;
	dof.url = m.to;

	log_set_level(LOG_WARNING);
	if (loop_new(&m.loop))
		fail(EXIT_STORE, "cannot make the event loop");
	m.src = open_one(&m, &so, "source");
	m.dst = open_one(&m, &dof, "destination");
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}

	/* one read: every key at one revision */
	rd.collect = true;
	read_all(&m, m.src, &rd, 0, "reading the source");
	m.src_rev = rd.rev;

	ex.m = &m;
	if (store_get(m.dst, "", STRATA_STORE_PREFIX | STRATA_STORE_KEYS_ONLY,
		      range_cb, &ex))
		fail(EXIT_STORE, "reading the destination");
	wait_call(&m, &ex, "reading the destination");
	if (ex.err)
		fail(EXIT_STORE, "reading %s: %s", m.to, strerror(-ex.err));
	if (ex.n && !m.force)
		fail(EXIT_STORE, "%s already holds %zu key%s under prefix "
		     "\"%s\" (the first: \"%s\"); nothing was written. Migrate "
		     "to an empty prefix, or give --force to write over them",
		     m.to, ex.n, ex.n == 1 ? "" : "s", m.prefix, ex.first);

	write_batches(&m);

	vf.verify = true;
	read_all(&m, m.dst, &vf, 0, "reading back the destination");
	if (vf.mismatches)
		fail(EXIT_STORE, "verifying %s: %zu of %zu keys missing or "
		     "different (the first: \"%s\")",
		     m.to, vf.mismatches, m.n_items, vf.bad);

	printf("copied %zu keys (revision %" PRId64 " of %s) to %s%s%s%s; "
	       "skipped %zu leased keys\n",
	       m.n_items, m.src_rev, m.from, m.to,
	       m.prefix[0] ? " under prefix \"" : "", m.prefix,
	       m.prefix[0] ? "\"" : "", m.n_leased);
	if (m.n_leased)
		printf("leased keys (node registrations) are written again by "
		       "each stratad when it starts on the new store\n");

	free(rd.first);
	free(ex.first);
	free(vf.first);
	free(vf.bad);
	free_items(&m);
	store_close(m.dst);
	store_close(m.src);
	loop_free(m.loop);
	if (fflush(stdout) != 0 || ferror(stdout))
		fail(EXIT_STORE, "writing output: %s", strerror(errno));
	return 0;
}
