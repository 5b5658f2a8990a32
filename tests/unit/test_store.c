/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: the conformance suite against the embedded SQLite backend,
 * then what only that backend has (files, crashes, damage, group commit).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "store.h"
#include "store_conformance.h"

static char dir[64];
static char path[128];

static void sq_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/strata-store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
}

static void sq_teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int open_with(struct loop *loop, struct store **out, int64_t poll_ms,
		     char *err, size_t errlen)
{
	struct store_options o = { .size = sizeof(o), .url = path,
				   .poll_ms = poll_ms };

	return store_open(loop, &o, out, err, errlen);
}

static int sq_open(struct loop *loop, struct store **out)
{
	char err[256];
	int rc = open_with(loop, out, 0, err, sizeof(err));

	if (rc)
		fprintf(stderr, "%s\n", err);
	return rc;
}

static const struct store_fixture sqlite_fixture = {
	.name = "store-sqlite",
	.setup = sq_setup,
	.teardown = sq_teardown,
	.open = sq_open,
	.min_ttl_ms = 1000, /* each commit an fsync: slow under valgrind */
};

static struct loop *L;

static void setup(void)
{
	sq_setup();
	ck_assert_int_eq(loop_new(&L), 0);
}

static void teardown(void)
{
	loop_free(L);
	sq_teardown();
}

static off_t file_size(const char *suffix)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) ? -1 : st.st_size;
}

/* ---- opening: layout, damage, foreign files ---- */

START_TEST(test_open_errors)
{
	struct store *st = NULL;
	char err[512];
	sqlite3 *db;
	int fd;

	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), 0);
	store_close(st);

	/* a newer layout is refused by name */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 7", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(err, "layout 7"));
	ck_assert_ptr_nonnull(strstr(err, path));
	sq_teardown();
	sq_setup();

	/* somebody else's database */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "not a strata store"));
	sq_teardown();
	sq_setup();

	/* not a database at all */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(write(fd, "garbage, not sqlite at all......",
				       32),
				 32);
	close(fd);
	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "not a database"));
}
END_TEST

static void fill(struct store *st, int n, const char *prefix)
{
	char k[64], v[256];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%s/%05d", prefix, i);
		memset(v, 'a' + i % 26, sizeof(v) - 1);
		v[sizeof(v) - 1] = '\0';
		ck_assert_int_eq(sync_put(L, st, k, v, 0, NULL), 0);
	}
}

START_TEST(test_damage_detected)
{
	struct store *st;
	char err[512], junk[512];
	off_t size;
	int fd;

	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), 0);
	fill(st, 300, "d");
	store_close(st); /* the last close checkpoints into the main file */
	size = file_size("");
	ck_assert_int_gt(size, 8 * 4096);

	/* scribble over b-tree page headers, as a bad sector would */
	memset(junk, 0x5a, sizeof(junk));
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (int pg = 2; pg < 8; pg++)
		ck_assert_int_eq(pwrite(fd, junk, 64, pg * 4096),
				 (ssize_t)64);
	close(fd);
	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "damaged"));
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

static void sql_step(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(test_check_reports_damage)
{
	struct store *st;
	char err[512], rep[256];

	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), 0);
	fill(st, 50, "c");
	store_close(st);
	/* An index out of step with its table: quick_check at open does not
	 * compare index contents, the full check does. Each step on its own
	 * connection, so each sees the schema the one before wrote. */
	sql_step("PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = "
		 "'CREATE INDEX kv_lease ON kv(version) WHERE lease != 0' "
		 "WHERE name = 'kv_lease'");
	sql_step("UPDATE kv SET lease = 5");
	sql_step("PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = "
		 "'CREATE INDEX kv_lease ON kv(lease) WHERE lease != 0' "
		 "WHERE name = 'kv_lease'");
	ck_assert_int_eq(open_with(L, &st, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(sync_check(L, st, rep, sizeof(rep)), -EBADMSG);
	ck_assert_str_ne(rep, "ok");
	store_close(st);
}
END_TEST

/* ---- crashes ---- */

/*
 * A child writes, acknowledging each write on a pipe once its callback
 * ran, and is killed mid-stream: every acknowledged write is there.
 */
struct acker {
	int fd;
	int next;
	int inflight;
};

static void ack_done(void *arg, int err, int64_t rev, int64_t n);

static void ack_more(struct acker *a, struct store *st)
{
	char k[32];

	while (a->inflight < 16) {
		snprintf(k, sizeof(k), "a/%06d", a->next);
		if (store_put(st, k, "x", 1, 0, ack_done, a))
			_exit(3);
		a->next++;
		a->inflight++;
	}
}

static struct store *child_st;

static void ack_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct acker *a = arg;
	int32_t r = (int32_t)rev;

	if (err)
		_exit(4);
	a->inflight--;
	if (write(a->fd, &r, sizeof(r)) != sizeof(r))
		_exit(5);
	ack_more(a, child_st);
}

START_TEST(test_kill_during_writes)
{
	struct acker a = { 0 };
	struct store *st;
	struct store_sync g;
	struct strata_store_op cnt = { .type = STRATA_OP_RANGE, .key = "a/",
				.flags = STRATA_STORE_PREFIX | STRATA_STORE_COUNT_ONLY };
	struct strata_store_txn t = { .success = &cnt, .n_success = 1 };
	char k[32];
	int p[2], status, i;
	int32_t r, max_rev = 0, acks = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct loop *cl;

		close(p[0]);
		if (loop_new(&cl) || sq_open(cl, &child_st))
			_exit(2);
		a.fd = p[1];
		ack_more(&a, child_st);
		for (;;)
			loop_run_once(cl, 100);
	}
	close(p[1]);
	/* let it get going, then kill it without warning */
	for (i = 0; i < 200; i++) {
		if (read(p[0], &r, sizeof(r)) != sizeof(r))
			break;
		acks++;
		if (r > max_rev)
			max_rev = r;
	}
	kill(pid, SIGKILL);
	while (read(p[0], &r, sizeof(r)) == sizeof(r)) {
		acks++;
		if (r > max_rev)
			max_rev = r;
	}
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_ge(acks, 200);

	ck_assert_int_eq(sq_open(L, &st), 0);
	/* each put is its own revision, committed in order: the acked ones
	 * are the first keys, and all there */
	ck_assert_int_eq(sync_txn(L, st, &t, &g), 0);
	ck_assert_int_ge(g.rev, max_rev);
	ck_assert_int_ge(g.id, acks);
	ck_assert_int_eq(g.id, g.rev);
	snprintf(k, sizeof(k), "a/%06d", acks - 1);
	ck_assert_int_eq(sync_get(L, st, k, 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	sync_reset(&g);
	store_close(st);
}
END_TEST

/*
 * A torn last commit (a power cut in the middle of writing the WAL) is not
 * there at the next open, and everything before it is.
 */
static void write_and_vanish(int n_before)
{
	struct loop *cl;
	struct store *st;
	char k[32];
	int i;

	if (loop_new(&cl) || sq_open(cl, &st))
		_exit(2);
	for (i = 0; i < n_before; i++) {
		snprintf(k, sizeof(k), "t/%03d", i);
		if (sync_put(cl, st, k, "before", 0, NULL))
			_exit(3);
	}
	if (sync_put(cl, st, "t/last", "torn", 0, NULL))
		_exit(4);
	_exit(0); /* no close: the WAL stays as written */
}

static void torn_case(bool truncate_it)
{
	struct store *st;
	struct store_sync g;
	char p[256], rep[64];
	off_t wal;
	int status, fd;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		write_and_vanish(5);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wal = file_size("-wal");
	ck_assert_int_gt(wal, 4096);
	snprintf(p, sizeof(p), "%s-wal", path);
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	if (truncate_it) {
		/* the last frame only half written */
		ck_assert_int_eq(ftruncate(fd, wal - 2000), 0);
	} else {
		/* or written with garbage at its end */
		ck_assert_int_eq(pwrite(fd, "\x13\x37\x13\x37", 4, wal - 100),
				 4);
	}
	close(fd);

	ck_assert_int_eq(sq_open(L, &st), 0);
	ck_assert_int_eq(sync_get(L, st, "t/last", 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 0);
	sync_reset(&g);
	ck_assert_int_eq(sync_get(L, st, "t/", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 5);
	ck_assert_int_eq(g.rev, 5);
	sync_reset(&g);
	ck_assert_int_eq(sync_check(L, st, rep, sizeof(rep)), 0);
	/* and the store goes on from there */
	ck_assert_int_eq(sync_put(L, st, "t/next", "v", 0, NULL), 0);
	store_close(st);
}

START_TEST(test_torn_commit_truncated)
{
	torn_case(true);
}
END_TEST

START_TEST(test_torn_commit_garbage)
{
	torn_case(false);
}
END_TEST

/* ---- group commit ---- */

struct counter {
	int done;
	int err;
};

static void count_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct counter *c = arg;

	c->done++;
	if (err)
		c->err = err;
}

START_TEST(test_group_commit)
{
	struct store *st;
	struct counter c = { 0 };
	char k[32];
	off_t before, after;
	int i, n = 400;
	int64_t end;

	ck_assert_int_eq(sq_open(L, &st), 0);
	ck_assert_int_eq(sync_put(L, st, "g/warm", "v", 0, NULL), 0);
	before = file_size("-wal");
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "g/%04d", i);
		ck_assert_int_eq(store_put(st, k, "v", 1, 0, count_done, &c),
				 0);
	}
	end = loop_now() + 10000000000LL;
	while (c.done < n && loop_now() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(c.done, n);
	ck_assert_int_eq(c.err, 0);
	after = file_size("-wal");
	/* One commit per put would append at least a page each: 400 pages.
	 * Shared commits write a handful. */
	ck_assert_int_lt(after - before, (off_t)(n / 4) * 4096);
	store_close(st);
}
END_TEST

/* ---- leases across restarts and boots ---- */

START_TEST(test_lease_survives_restart)
{
	struct store *st;
	struct store_sync g;
	int64_t id, end;

	ck_assert_int_eq(sq_open(L, &st), 0);
	ck_assert_int_eq(sync_grant(L, st, 300, &id), 0);
	ck_assert_int_eq(sync_put(L, st, "r/k", "v", id, NULL), 0);
	store_close(st);
	/* nobody has the store open when the lease ends */
	usleep(500000);
	ck_assert_int_eq(sq_open(L, &st), 0);
	ck_assert_int_eq(sync_keepalive(L, st, id), -ENOENT);
	end = loop_now() / 1000000 + 2000;
	for (;;) {
		ck_assert_int_eq(sync_get(L, st, "r/k", 0, &g), 0);
		if (!g.n_kvs || loop_now() / 1000000 > end)
			break;
		sync_reset(&g);
		spin(L, 20);
	}
	ck_assert_int_eq(g.n_kvs, 0);
	sync_reset(&g);
	store_close(st);
}
END_TEST

START_TEST(test_lease_other_boot)
{
	struct store *st;
	struct store_sync g;
	sqlite3 *db;
	int64_t id, end;

	ck_assert_int_eq(sq_open(L, &st), 0);
	ck_assert_int_eq(sync_grant(L, st, 60000, &id), 0);
	ck_assert_int_eq(sync_put(L, st, "b/k", "v", id, NULL), 0);
	/* a lease from another boot: only its wall-clock deadline counts */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "UPDATE lease SET boot_id = 'x', "
				      "deadline_real = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(sync_keepalive(L, st, id), -ENOENT);
	end = loop_now() / 1000000 + 3000;
	for (;;) {
		ck_assert_int_eq(sync_get(L, st, "b/k", 0, &g), 0);
		if (!g.n_kvs || loop_now() / 1000000 > end)
			break;
		sync_reset(&g);
		spin(L, 20);
	}
	ck_assert_int_eq(g.n_kvs, 0);
	sync_reset(&g);
	store_close(st);
}
END_TEST

/* ---- notification between processes, with polling off ---- */

static int seen;

static void count_events(void *arg, int err, int64_t rev,
			 const struct strata_store_event *ev, size_t n)
{
	seen += (int)n;
}

START_TEST(test_notify_other_process)
{
	struct store *st;
	struct store_watch *w;
	char err[256];
	int status;
	int64_t end;
	pid_t pid;

	ck_assert_int_eq(open_with(L, &st, -1, err, sizeof(err)), 0);
	ck_assert_int_eq(store_watch(st, "n/", STRATA_STORE_PREFIX, 0, count_events,
				     NULL, &w),
			 0);
	spin(L, 20);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct loop *cl;
		struct store *cs;

		if (loop_new(&cl) || sq_open(cl, &cs))
			_exit(2);
		for (int i = 0; i < 10; i++)
			if (sync_put(cl, cs, "n/k", "v", 0, NULL))
				_exit(3);
		_exit(0);
	}
	end = loop_now() + 5000000000LL;
	while (seen < 10 && loop_now() < end)
		loop_run_once(L, 50);
	/* polling is off: only the notification can have brought them */
	ck_assert_int_eq(seen, 10);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_watch_cancel(w);
	store_close(st);
}
END_TEST

/* ---- history kept for watches is bounded ---- */

START_TEST(test_auto_compaction)
{
	struct store_options o = { .size = sizeof(o), .url = path,
				   .history = 50 };
	struct store *st;
	struct store_watch *w;
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t rows = -1;

	ck_assert_int_eq(store_open(L, &o, &st, NULL, 0), 0);
	fill(st, 200, "h");
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM history",
					    -1, &s, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	rows = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_int_ge(rows, 50);
	ck_assert_int_le(rows, 50 + 50 / 8 + 2);
	/* a watch from the start must re-list */
	seen = 0;
	ck_assert_int_eq(store_watch(st, "h/", STRATA_STORE_PREFIX, 1, count_events,
				     NULL, &w),
			 0);
	spin(L, 50);
	ck_assert_int_eq(seen, 0);
	store_watch_cancel(w);
	store_close(st);
}
END_TEST

static Suite *sqlite_suite(void)
{
	Suite *s = suite_create("store-sqlite-only");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_damage_detected);
	tcase_add_test(tc, test_check_reports_damage);
	tcase_add_test(tc, test_kill_during_writes);
	tcase_add_test(tc, test_torn_commit_truncated);
	tcase_add_test(tc, test_torn_commit_garbage);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_lease_survives_restart);
	tcase_add_test(tc, test_lease_other_boot);
	tcase_add_test(tc, test_notify_other_process);
	tcase_add_test(tc, test_auto_compaction);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_conformance_suite(&sqlite_fixture));
	int failed;

	srunner_add_suite(sr, sqlite_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
