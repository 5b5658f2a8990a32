/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "loop.h"

#define MS 1000000LL
#define NOBODY 65534
#define NOGROUP 65534
#define OTHER_GID 54321

static char tmpdir[40];
static char sockdir[80];
static char sockpath[100];
static struct loop *loop;
static struct control *ctl;

/* ---- fixture ------------------------------------------------------------- */

static int echo_calls, later_fired, served_count;
static struct control_call *held;
static struct control_call *parked[CONTROL_MAX_CONNECTIONS];
static size_t nparked;

/* Unchecked: made and removed by the parent, even when a test fails. */
static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/strata-control-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* the setuid clients must reach the socket */
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_tmpdir(void)
{
	nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char err[256];
	int r;

	/* CK_FORK=no runs every test in one process */
	echo_calls = later_fired = served_count = 0;
	held = NULL;
	nparked = 0;

	snprintf(sockdir, sizeof(sockdir), "%s/run", tmpdir);
	snprintf(sockpath, sizeof(sockpath), "%s/stratad.sock", sockdir);
	ck_assert_int_eq(loop_new(&loop), 0);
	r = control_new(loop, sockpath, 0666, NULL, &ctl, err, sizeof(err));
	ck_assert_msg(r == 0, "control_new: %s", err);
}

static void teardown(void)
{
	control_free(ctl);
	ctl = NULL;
	loop_free(loop);
	loop = NULL;
	unlink(sockpath);
	rmdir(sockdir);
}

/* ---- handlers ------------------------------------------------------------ */

static void gen_value(yajl_gen g, yajl_val v)
{
	size_t i;

	if (!v) {
		yajl_gen_null(g);
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];

			yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		yajl_gen_string(g, (const unsigned char *)v->u.string,
				strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v)) {
		yajl_gen_bool(g, 1);
	} else if (YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, 0);
	} else {
		yajl_gen_null(g);
	}
}

static void echo_cmd(void *arg, struct control_call *call, yajl_val args)
{
	echo_calls++;
	gen_value(control_call_gen(call), args);
	control_call_done(call);
}

static void fail_cmd(void *arg, struct control_call *call, yajl_val args)
{
	control_call_fail(call, "no %s today", "status");
}

static void nothing_cmd(void *arg, struct control_call *call, yajl_val args)
{
	control_call_done(call);
}

static void half_cmd(void *arg, struct control_call *call, yajl_val args)
{
	yajl_gen_map_open(control_call_gen(call));
	control_call_done(call);
}

static void big_cmd(void *arg, struct control_call *call, yajl_val args)
{
	yajl_gen g = control_call_gen(call);
	size_t n = 1 << 20;
	char *s = malloc(n);

	memset(s, 'y', n);
	yajl_gen_string(g, (const unsigned char *)s, n);
	free(s);
	control_call_done(call);
}

/* Answers from a timer; or keeps the call for the test to finish. */
static struct loop_timer *later_timer;

static void later_fire(void *arg)
{
	yajl_gen g;

	loop_timer_cancel(later_timer);
	later_timer = NULL;
	later_fired++;
	g = control_call_gen(held);
	yajl_gen_string(g, (const unsigned char *)"later", 5);
	control_call_done(held);
	held = NULL;
}

static void later_cmd(void *arg, struct control_call *call, yajl_val args)
{
	int64_t *delay = arg;

	held = call;
	later_timer = loop_timer_add(loop, *delay, *delay, later_fire, NULL);
	ck_assert_ptr_nonnull(later_timer);
}

static void hold_cmd(void *arg, struct control_call *call, yajl_val args)
{
	held = call;
}

static void park_cmd(void *arg, struct control_call *call, yajl_val args)
{
	ck_assert_uint_lt(nparked, CONTROL_MAX_CONNECTIONS);
	parked[nparked++] = call;
}

/* ---- an in-process, non-blocking client ---------------------------------- */

struct client {
	int fd;
	const char *out;
	size_t outlen, outoff;
	bool shut; /* shut the write side once everything is sent */
	bool read; /* false: leave the reply unread for now */
	char *in;
	size_t inlen, incap;
	bool eof;
};

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void client_open(struct client *cl, const char *req, size_t len)
{
	memset(cl, 0, sizeof(*cl));
	cl->fd = connect_to(sockpath);
	ck_assert_msg(cl->fd >= 0, "connect: %s", strerror(-cl->fd));
	cl->out = req;
	cl->outlen = len;
	cl->read = true;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	free(cl->in);
	cl->in = NULL;
}

static void client_pump(struct client *cl)
{
	ssize_t n;

	if (cl->fd < 0 || cl->eof)
		return;
	while (cl->outoff < cl->outlen) {
		n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) { /* the daemon gave up on us: read its answer */
			cl->outoff = cl->outlen;
			break;
		}
		cl->outoff += n;
		if (cl->outoff == cl->outlen && cl->shut)
			shutdown(cl->fd, SHUT_WR);
	}
	while (cl->read) {
		if (cl->incap - cl->inlen < 4096) {
			cl->incap = cl->incap ? cl->incap * 2 : 8192;
			cl->in = realloc(cl->in, cl->incap + 1);
		}
		n = recv(cl->fd, cl->in + cl->inlen, cl->incap - cl->inlen, 0);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* EOF, or ECONNRESET after the reply */
			cl->eof = true;
			break;
		}
		cl->inlen += n;
	}
	if (cl->in)
		cl->in[cl->inlen] = '\0';
}

/* Runs the loop and the clients until all have their reply, or max_ns. */
static bool run_clients(struct client **cls, size_t n, int64_t max_ns)
{
	int64_t end = loop_now() + max_ns;
	bool all;

	do {
		ck_assert_int_ge(loop_run_once(loop, 5), 0);
		all = true;
		for (size_t i = 0; i < n; i++) {
			client_pump(cls[i]);
			if (!cls[i]->eof)
				all = false;
		}
	} while (!all && loop_now() < end);
	return all;
}

/* Bounded: a test waits 5 s at most for what it expects. */
#define RUN_UNTIL(cond)                                                  \
	do {                                                             \
		int64_t end_ = loop_now() + 5000 * MS;                   \
		while (!(cond)) {                                        \
			ck_assert_msg(loop_now() < end_,                 \
				      "timed out waiting for " #cond);   \
			ck_assert_int_ge(loop_run_once(loop, 10), 0);    \
		}                                                        \
	} while (0)

static void run_for(int64_t ns)
{
	int64_t end = loop_now() + ns;

	while (loop_now() < end)
		ck_assert_int_ge(loop_run_once(loop, 5), 0);
}

/* Sends req, returns the whole reply (malloc'd). */
static char *ask(const char *req)
{
	struct client cl, *p = &cl;
	char *reply;

	client_open(&cl, req, strlen(req));
	ck_assert_msg(run_clients(&p, 1, 5000 * MS), "no reply to %s", req);
	reply = strdup(cl.in ? cl.in : "");
	client_close(&cl);
	return reply;
}

#define ck_assert_reply(req, want)                                     \
	do {                                                           \
		char *got_ = ask(req);                                 \
		ck_assert_str_eq(got_, want);                          \
		free(got_);                                            \
	} while (0)

/* ---- parsing ------------------------------------------------------------- */

static void parse_ok(const char *req, const char *cmd)
{
	char err[256] = "";
	char *command;
	yajl_val tree, args;
	int r;

	r = control_parse_request(req, strlen(req), &command, &tree, &args,
				  err, sizeof(err));
	ck_assert_msg(r == 0, "%s: %s", req, err);
	ck_assert_str_eq(command, cmd);
	ck_assert_ptr_nonnull(tree);
	free(command);
	yajl_tree_free(tree);
}

START_TEST(parse_good)
{
	char err[256];
	char *command;
	yajl_val tree, args, v;
	const char *req =
		"{\"version\": 1, \"command\": \"routes\", \"args\": {\"n\": 3}}";
	const char *path[] = { "n", NULL };

	ck_assert_int_eq(control_parse_request(req, strlen(req), &command,
					       &tree, &args, err, sizeof(err)),
			 0);
	ck_assert_str_eq(command, "routes");
	ck_assert(YAJL_IS_OBJECT(args));
	v = yajl_tree_get(args, path, yajl_t_number);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(YAJL_GET_INTEGER(v), 3);
	free(command);
	yajl_tree_free(tree);

	/* no version means 1; args absent or null is NULL */
	req = " {\"command\":\"status\"} \r\n";
	ck_assert_int_eq(control_parse_request(req, strlen(req), &command,
					       &tree, &args, err, sizeof(err)),
			 0);
	ck_assert_ptr_null(args);
	free(command);
	yajl_tree_free(tree);
	req = "{\"command\":\"status\",\"args\":null}";
	ck_assert_int_eq(control_parse_request(req, strlen(req), &command,
					       &tree, &args, err, sizeof(err)),
			 0);
	ck_assert_ptr_null(args);
	free(command);
	yajl_tree_free(tree);

	parse_ok("{\"command\":\"x\",\"extra\":[1,2],\"version\":1}", "x");
	parse_ok("{\"command\":\"caf\xc3\xa9\"}", "caf\xc3\xa9");
	/* the length counts, not a NUL: bytes after len are not read */
	ck_assert_int_eq(control_parse_request("{\"command\":\"ab\"}garbage",
					       16, &command, &tree, &args, err,
					       sizeof(err)),
			 0);
	ck_assert_str_eq(command, "ab");
	free(command);
	yajl_tree_free(tree);
}
END_TEST

static void parse_bad(const char *req, size_t len, const char *want)
{
	char err[256] = "";
	char *command = (char *)"unset";
	yajl_val tree = (yajl_val)1, args = (yajl_val)1;
	int r;

	r = control_parse_request(req, len, &command, &tree, &args, err,
				  sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(command);
	ck_assert_ptr_null(tree);
	ck_assert_ptr_null(args);
}

#define PARSE_BAD(req, want) parse_bad(req, strlen(req), want)

START_TEST(parse_errors)
{
	char deep[256], ok[256];
	size_t i, n;

	PARSE_BAD("", "empty request");
	PARSE_BAD(" \n", "empty request");
	PARSE_BAD("{\"command\":\"x\"",
		  "invalid JSON at byte 14: premature EOF");
	PARSE_BAD("{\"command\":x}",
		  "invalid JSON at byte 12: invalid char in json text.");
	PARSE_BAD("{\"command\":\"x\"} {}",
		  "invalid JSON at byte 17: trailing garbage");
	PARSE_BAD("{1:2}",
		  "invalid JSON at byte 2: invalid object key (must be a string)");
	parse_bad("{\"command\":\"x\"}\0", 16,
		  "invalid JSON at byte 16: trailing garbage");
	parse_bad("{\"command\":\"x\0\"}", 16,
		  "invalid JSON at byte 13: invalid character inside string.");
	PARSE_BAD("{\"command\":\"a\\u0000b\"}",
		  "invalid JSON at byte 21: \\u0000 in a string is not supported");
	PARSE_BAD("{\"command\":\"\xff\"}",
		  "invalid JSON at byte 13: invalid bytes in UTF8 string.");
	PARSE_BAD("[\"command\"]", "request must be a JSON object");
	PARSE_BAD("\"status\"", "request must be a JSON object");
	PARSE_BAD("{}", "missing \"command\"");
	PARSE_BAD("{\"args\":{}}", "missing \"command\"");
	PARSE_BAD("{\"command\":1}", "\"command\" must be a string");
	PARSE_BAD("{\"command\":null}", "\"command\" must be a string");
	PARSE_BAD("{\"command\":\"\"}", "\"command\" must not be empty");
	PARSE_BAD("{\"version\":2,\"command\":\"x\"}",
		  "unsupported version 2 (this stratad speaks 1)");
	PARSE_BAD("{\"version\":-1,\"command\":\"x\"}",
		  "unsupported version -1 (this stratad speaks 1)");
	PARSE_BAD("{\"version\":\"1\",\"command\":\"x\"}",
		  "\"version\" must be an integer");
	PARSE_BAD("{\"version\":1.0,\"command\":\"x\"}",
		  "\"version\" must be an integer");
	PARSE_BAD("{\"command\":\"x\",\"args\":[]}",
		  "\"args\" must be an object");
	PARSE_BAD("{\"command\":\"x\",\"args\":\"a=b\"}",
		  "\"args\" must be an object");

	/* 64 levels pass, 65 do not */
	n = 0;
	n += sprintf(ok + n, "{\"command\":\"x\",\"args\":");
	for (i = 0; i < 63; i++)
		ok[n++] = '[';
	for (i = 0; i < 63; i++)
		ok[n++] = ']';
	ok[n++] = '}';
	ok[n] = '\0';
	ck_assert_int_eq(n, strlen(ok));
	parse_bad(ok, n, "\"args\" must be an object");
	n = 0;
	for (i = 0; i < 65; i++)
		deep[n++] = '[';
	for (i = 0; i < 65; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	PARSE_BAD(deep, "invalid JSON at byte 65: nested deeper than 64 levels");
}
END_TEST

/* ---- requests without a socket ------------------------------------------- */

static char *served;

static void on_reply(void *arg, const char *reply, size_t len)
{
	ck_assert_int_eq(strlen(reply), len);
	ck_assert_int_eq(reply[len - 1], '\n');
	free(served);
	served = strdup(reply);
	served_count++;
}

static void serve_expect(struct control *c, const char *req, const char *want)
{
	int before = served_count;

	ck_assert_int_eq(control_serve(c, req, strlen(req), on_reply, NULL), 0);
	ck_assert_int_eq(served_count, before + 1);
	ck_assert_str_eq(served, want);
}

START_TEST(serve_in_memory)
{
	struct control *c;
	char err[256];
	char *big;
	int64_t delay = 20 * MS;

	ck_assert_int_eq(control_new(loop, NULL, 0, NULL, &c, err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(control_register(c, "echo", echo_cmd, NULL), 0);
	ck_assert_int_eq(control_register(c, "fail", fail_cmd, NULL), 0);
	ck_assert_int_eq(control_register(c, "nothing", nothing_cmd, NULL), 0);
	ck_assert_int_eq(control_register(c, "half", half_cmd, NULL), 0);
	ck_assert_int_eq(control_register(c, "later", later_cmd, &delay), 0);
	ck_assert_int_eq(control_register(c, "echo", echo_cmd, NULL), -EEXIST);
	ck_assert_int_eq(control_register(c, "help", echo_cmd, NULL), -EEXIST);
	ck_assert_int_eq(control_register(c, "", echo_cmd, NULL), -EINVAL);

	serve_expect(c, "{\"command\":\"echo\",\"args\":{\"a\":[1,true,null]}}",
		     "{\"version\":1,\"ok\":true,\"result\":{\"a\":[1,true,null]}}\n");
	serve_expect(c, "{\"command\":\"echo\"}",
		     "{\"version\":1,\"ok\":true,\"result\":null}\n");
	serve_expect(c, "{\"command\":\"nothing\"}",
		     "{\"version\":1,\"ok\":true,\"result\":null}\n");
	serve_expect(c, "{\"command\":\"fail\"}",
		     "{\"version\":1,\"ok\":false,\"error\":\"no status today\"}\n");
	serve_expect(c, "{\"command\":\"half\"}",
		     "{\"version\":1,\"ok\":false,\"error\":\"internal error: incomplete result\"}\n");
	serve_expect(c, "{\"command\":\"foo\"}",
		     "{\"version\":1,\"ok\":false,\"error\":\"unknown command \\\"foo\\\"\"}\n");
	serve_expect(c, "{\"command\":\"a\\\"b\"}",
		     "{\"version\":1,\"ok\":false,\"error\":\"unknown command \\\"a\\\"b\\\"\"}\n");
	serve_expect(c, "{\"command\":",
		     "{\"version\":1,\"ok\":false,\"error\":\"invalid JSON at byte 11: premature EOF\"}\n");
	serve_expect(c, "{\"command\":\"help\"}",
		     "{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"echo\",\"fail\",\"half\",\"help\",\"later\",\"nothing\"]}}\n");

	big = calloc(1, CONTROL_MAX_REQUEST + 2);
	memset(big, ' ', CONTROL_MAX_REQUEST + 1);
	serve_expect(c, big,
		     "{\"version\":1,\"ok\":false,\"error\":\"request too large (max 65536 bytes)\"}\n");
	free(big);

	/* asynchronous: nothing until the timer */
	ck_assert_int_eq(control_serve(c, "{\"command\":\"later\"}", 19,
				       on_reply, NULL),
			 0);
	ck_assert_int_eq(served_count, 10);
	RUN_UNTIL(later_fired);
	ck_assert_int_eq(served_count, 11);
	ck_assert_str_eq(served, "{\"version\":1,\"ok\":true,\"result\":\"later\"}\n");

	control_free(c);
	free(served);
	served = NULL;
}
END_TEST

START_TEST(free_with_pending_call)
{
	struct control *c;
	char err[256];

	ck_assert_int_eq(control_new(loop, NULL, 0, NULL, &c, err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(control_register(c, "hold", hold_cmd, NULL), 0);
	ck_assert_int_eq(control_serve(c, "{\"command\":\"hold\"}", 18,
				       on_reply, NULL),
			 0);
	ck_assert_ptr_nonnull(held);
	control_free(c);
	/* the orphaned call still takes a result and frees itself */
	yajl_gen_string(control_call_gen(held), (const unsigned char *)"x", 1);
	control_call_done(held);
	held = NULL;
	ck_assert_int_eq(served_count, 0);

	ck_assert_int_eq(control_new(loop, NULL, 0, NULL, &c, err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(control_register(c, "hold", hold_cmd, NULL), 0);
	ck_assert_int_eq(control_serve(c, "{\"command\":\"hold\"}", 18,
				       on_reply, NULL),
			 0);
	control_free(c);
	control_call_fail(held, "too late: %d", 1);
	held = NULL;
	ck_assert_int_eq(served_count, 0);
}
END_TEST

START_TEST(new_errors)
{
	struct control *c = NULL;
	char err[256], path[300];
	int r, fd;

	r = control_new(loop, sockpath, 0660, "no-such-group-strata", &c, err,
			sizeof(err));
	ck_assert_int_lt(r, 0);
	ck_assert_str_eq(err, "unknown group \"no-such-group-strata\"");
	ck_assert_ptr_null(c);

	/* a regular file is never taken for a stale socket */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	r = control_new(loop, path, 0660, NULL, &c, err, sizeof(err));
	ck_assert_int_eq(r, -EEXIST);
	ck_assert_str_eq(strstr(err, "/file:"), "/file: exists and is not a socket");
	ck_assert_int_eq(access(path, F_OK), 0);
	unlink(path);

	memset(path, 'a', 200);
	path[0] = '/';
	path[200] = '\0';
	r = control_new(loop, path, 0660, NULL, &c, err, sizeof(err));
	ck_assert_int_eq(r, -ENAMETOOLONG);
	ck_assert_ptr_nonnull(strstr(err, "socket path too long (max 107 bytes)"));
}
END_TEST

/* ---- through the socket -------------------------------------------------- */

START_TEST(socket_file)
{
	struct stat st;
	struct control *c;
	char err[256], path[300];

	ck_assert_int_eq(stat(sockdir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(stat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0666);

	snprintf(path, sizeof(path), "%s/a/b/group.sock", tmpdir);
	ck_assert_int_eq(control_new(loop, path, 0660, "nogroup", &c, err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0660);
	ck_assert_int_eq(st.st_gid, NOGROUP);
	control_free(c);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/a/b", tmpdir);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	ck_assert_int_eq(rmdir(path), 0);

	/* control_free removes the file */
	control_free(ctl);
	ctl = NULL;
	ck_assert_int_eq(access(sockpath, F_OK), -1);
}
END_TEST

START_TEST(round_trip)
{
	struct client cl, *p = &cl;
	const char *req = "{\"version\":1,\"command\":\"echo\",\"args\":{\"a\":\"b\"}}";

	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	ck_assert_reply("{\"version\":1,\"command\":\"echo\",\"args\":{\"a\":\"b\"}}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"a\":\"b\"}}\n");
	/* what follows the newline is ignored */
	ck_assert_reply("{\"command\":\"echo\",\"args\":{\"n\":-12}}\nnot json",
			"{\"version\":1,\"ok\":true,\"result\":{\"n\":-12}}\n");
	ck_assert_reply("{\"command\":\"help\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"echo\",\"help\"]}}\n");

	/* the end of the request may be the client shutting its side */
	client_open(&cl, req, strlen(req));
	cl.shut = true;
	ck_assert(run_clients(&p, 1, 5000 * MS));
	ck_assert_str_eq(cl.in,
			 "{\"version\":1,\"ok\":true,\"result\":{\"a\":\"b\"}}\n");
	client_close(&cl);
	ck_assert_int_eq(echo_calls, 3);
}
END_TEST

START_TEST(errors_over_socket)
{
	ck_assert_reply("{\"command\":\"foo\"}\n",
			"{\"version\":1,\"ok\":false,\"error\":\"unknown command \\\"foo\\\"\"}\n");
	ck_assert_reply("{\"command\": nope}\n",
			"{\"version\":1,\"ok\":false,\"error\":\"invalid JSON at byte 13: invalid string in json text.\"}\n");
	ck_assert_reply("{\"version\":2,\"command\":\"status\"}\n",
			"{\"version\":1,\"ok\":false,\"error\":\"unsupported version 2 (this stratad speaks 1)\"}\n");
	ck_assert_reply("\n",
			"{\"version\":1,\"ok\":false,\"error\":\"empty request\"}\n");
	ck_assert_reply("{\"command\":\"help\",\"args\":7}\n",
			"{\"version\":1,\"ok\":false,\"error\":\"\\\"args\\\" must be an object\"}\n");
}
END_TEST

START_TEST(async_reply)
{
	int64_t delay = 50 * MS, start;

	ck_assert_int_eq(control_register(ctl, "later", later_cmd, &delay), 0);
	start = loop_now();
	ck_assert_reply("{\"command\":\"later\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":\"later\"}\n");
	ck_assert_int_ge(loop_now() - start, 45 * MS);
	ck_assert_int_eq(later_fired, 1);
}
END_TEST

START_TEST(client_leaves_before_reply)
{
	struct client cl;
	int64_t delay = 100 * MS;

	ck_assert_int_eq(control_register(ctl, "later", later_cmd, &delay), 0);
	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	client_open(&cl, "{\"command\":\"later\"}\n", 20);
	client_pump(&cl);
	RUN_UNTIL(held);
	client_close(&cl);
	run_for(300 * MS);
	ck_assert_int_eq(later_fired, 1);
	ck_assert_reply("{\"command\":\"echo\",\"args\":{}}\n",
			"{\"version\":1,\"ok\":true,\"result\":{}}\n");
}
END_TEST

/* Clients that leave while their calls wait give their places back. */
START_TEST(left_clients_free_their_place)
{
	struct client cls[CONTROL_MAX_CONNECTIONS];
	const char *req = "{\"command\":\"park\"}\n";
	size_t i, n = CONTROL_MAX_CONNECTIONS;

	ck_assert_int_eq(control_register(ctl, "park", park_cmd, NULL), 0);
	for (i = 0; i < n; i++) {
		client_open(&cls[i], req, strlen(req));
		client_pump(&cls[i]);
	}
	RUN_UNTIL(nparked == n);
	for (i = 0; i < n; i++)
		client_close(&cls[i]);
	run_for(50 * MS);
	ck_assert_reply("{\"command\":\"help\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"help\",\"park\"]}}\n");
	for (i = 0; i < n; i++) {
		if (i % 2)
			control_call_fail(parked[i], "gone");
		else
			control_call_done(parked[i]);
	}
}
END_TEST

START_TEST(free_with_pending_socket_call)
{
	struct client cl, *p = &cl;

	ck_assert_int_eq(control_register(ctl, "hold", hold_cmd, NULL), 0);
	client_open(&cl, "{\"command\":\"hold\"}\n", 19);
	client_pump(&cl);
	RUN_UNTIL(held);
	control_free(ctl);
	ctl = NULL;
	/* the client sees the connection close without a reply */
	ck_assert(run_clients(&p, 1, 2000 * MS));
	ck_assert_int_eq(cl.inlen, 0);
	client_close(&cl);
	yajl_gen_bool(control_call_gen(held), 1);
	control_call_done(held);
	held = NULL;
}
END_TEST

START_TEST(oversized_request)
{
	size_t n = 70 * 1024;
	char *req = malloc(n + 1);
	struct client cl, *p = &cl;

	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	n = sprintf(req, "{\"command\":\"echo\",\"args\":{\"s\":\"");
	memset(req + n, 'x', 70 * 1024 - n - 4);
	memcpy(req + 70 * 1024 - 4, "\"}}\n", 4);
	n = 70 * 1024;
	client_open(&cl, req, n);
	ck_assert(run_clients(&p, 1, 5000 * MS));
	ck_assert_str_eq(cl.in,
			 "{\"version\":1,\"ok\":false,\"error\":\"request too large (max 65536 bytes)\"}\n");
	client_close(&cl);
	free(req);
	ck_assert_int_eq(echo_calls, 0);
	/* and the next one is served */
	ck_assert_reply("{\"command\":\"echo\",\"args\":{\"s\":\"ok\"}}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"s\":\"ok\"}}\n");

	/* exactly the limit, newline after it, is fine */
	n = CONTROL_MAX_REQUEST;
	req = malloc(n + 2);
	memset(req, ' ', n);
	memcpy(req, "{\"command\":\"echo\"}", 18);
	req[n] = '\n';
	req[n + 1] = '\0';
	ck_assert_reply(req, "{\"version\":1,\"ok\":true,\"result\":null}\n");
	free(req);
}
END_TEST

START_TEST(client_disconnects_mid_request)
{
	struct client cl;

	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	client_open(&cl, "{\"command\":\"ec", 14);
	client_pump(&cl);
	run_for(20 * MS);
	client_close(&cl);
	run_for(20 * MS);
	/* a probe that connects and leaves at once */
	client_open(&cl, "", 0);
	client_close(&cl);
	run_for(20 * MS);
	ck_assert_reply("{\"command\":\"echo\",\"args\":{\"k\":1}}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"k\":1}}\n");
	ck_assert_int_eq(echo_calls, 1);
}
END_TEST

START_TEST(slow_client_times_out)
{
	struct client cl, *p = &cl;
	int64_t start;

	control_set_timeout(ctl, 200 * MS);
	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	start = loop_now();
	client_open(&cl, "{\"command\":", 11);
	ck_assert(run_clients(&p, 1, 3000 * MS));
	ck_assert_int_ge(loop_now() - start, 190 * MS);
	ck_assert_str_eq(cl.in,
			 "{\"version\":1,\"ok\":false,\"error\":\"timed out waiting for the request (200 ms)\"}\n");
	client_close(&cl);
	ck_assert_reply("{\"command\":\"echo\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":null}\n");
}
END_TEST

START_TEST(slow_reader_does_not_block)
{
	struct client cl, *p = &cl;

	ck_assert_int_eq(control_register(ctl, "big", big_cmd, NULL), 0);
	client_open(&cl, "{\"command\":\"big\"}\n", 18);
	cl.read = false;
	client_pump(&cl);
	run_for(50 * MS);
	/* others are served while 1 MiB waits for its reader */
	ck_assert_reply("{\"command\":\"help\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"big\",\"help\"]}}\n");
	ck_assert_int_eq(cl.inlen, 0);
	cl.read = true;
	ck_assert(run_clients(&p, 1, 5000 * MS));
	ck_assert_int_eq(cl.inlen, 1048576 + 36);
	ck_assert_int_eq(memcmp(cl.in, "{\"version\":1,\"ok\":true,\"result\":\"yyy", 36), 0);
	ck_assert_str_eq(cl.in + cl.inlen - 5, "yy\"}\n");
	client_close(&cl);
}
END_TEST

START_TEST(connection_limit)
{
	struct client cls[CONTROL_MAX_CONNECTIONS + 2];
	struct client *ptrs[CONTROL_MAX_CONNECTIONS + 2];
	const char *req = "{\"command\":\"echo\",\"args\":{\"x\":true}}\n";
	const char *ok = "{\"version\":1,\"ok\":true,\"result\":{\"x\":true}}\n";
	size_t i, n = CONTROL_MAX_CONNECTIONS;
	char c;

	ck_assert_int_eq(control_register(ctl, "echo", echo_cmd, NULL), 0);
	/* 64 connections that say nothing yet */
	for (i = 0; i < n; i++) {
		client_open(&cls[i], req, 0);
		ptrs[i] = &cls[i];
	}
	run_for(50 * MS);
	/* the 65th is told to go away */
	client_open(&cls[n], req, strlen(req));
	ptrs[n] = &cls[n];
	ck_assert(run_clients(&ptrs[n], 1, 2000 * MS));
	ck_assert_str_eq(cls[n].in,
			 "{\"version\":1,\"ok\":false,\"error\":\"busy: too many connections (max 64)\"}\n");
	client_close(&cls[n]);
	/* the 64 are still open, and nothing was said to them */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(recv(cls[i].fd, &c, 1, MSG_DONTWAIT), -1);
	/* one leaves, and a new one gets its place */
	client_close(&cls[0]);
	run_for(20 * MS);
	client_open(&cls[n + 1], req, strlen(req));
	ptrs[n + 1] = &cls[n + 1];
	ck_assert(run_clients(&ptrs[n + 1], 1, 2000 * MS));
	ck_assert_str_eq(cls[n + 1].in, ok);
	client_close(&cls[n + 1]);
	/* and the others are all served */
	for (i = 1; i < n; i++)
		cls[i].outlen = strlen(req);
	ck_assert(run_clients(&ptrs[1], n - 1, 5000 * MS));
	for (i = 1; i < n; i++) {
		ck_assert_str_eq(cls[i].in, ok);
		client_close(&cls[i]);
	}
	ck_assert_int_eq(echo_calls, n);
}
END_TEST

/* A client in a child with other credentials; returns what it read. */
static char *ask_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups,
		    int ngroups)
{
	const char *req = "{\"command\":\"help\"}\n";
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int p[2], fd, status;
	int64_t end;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			_exit(3);
		fd = connect_to(path);
		if (fd < 0) {
			dprintf(p[1], "connect: %s", strerror(-fd));
			_exit(0);
		}
		fcntl(fd, F_SETFL, 0);
		/* a refused client may find the socket closed already */
		(void)!send(fd, req, strlen(req), MSG_NOSIGNAL);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (write(p[1], buf, n) != n)
				_exit(4);
		_exit(0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	end = loop_now() + 5000 * MS;
	for (;;) {
		ck_assert_int_ge(loop_run_once(loop, 5), 0);
		n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n == 0)
			break;
		if (n > 0)
			len += n;
		if (loop_now() > end) {
			kill(pid, SIGKILL);
			break;
		}
	}
	buf[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "client child status %d", status);
	return strdup(buf);
}

START_TEST(permissions)
{
	const char *denied =
		"{\"version\":1,\"ok\":false,\"error\":\"permission denied\"}\n";
	const char *help =
		"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"help\"]}}\n";
	gid_t nogroup = NOGROUP, other = OTHER_GID;
	struct control *c;
	char err[256], path[300];
	char *r;

	/* no group: root only */
	r = ask_as(sockpath, NOBODY, NOGROUP, NULL, 0);
	ck_assert_str_eq(r, denied);
	free(r);
	r = ask_as(sockpath, 0, 0, NULL, 0);
	ck_assert_str_eq(r, help);
	free(r);

	snprintf(path, sizeof(path), "%s/group.sock", tmpdir);
	ck_assert_int_eq(control_new(loop, path, 0666, "nogroup", &c, err,
				     sizeof(err)),
			 0);
	r = ask_as(path, NOBODY, OTHER_GID, &other, 1);
	ck_assert_str_eq(r, denied);
	free(r);
	/* the primary group */
	r = ask_as(path, NOBODY, NOGROUP, NULL, 0);
	ck_assert_str_eq(r, help);
	free(r);
	/* a supplementary group */
	r = ask_as(path, NOBODY, OTHER_GID, &nogroup, 1);
	ck_assert_str_eq(r, help);
	free(r);
	control_free(c);
}
END_TEST

START_TEST(stale_socket_replaced)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	int fd;

	control_free(ctl);
	ctl = NULL;
	/* a socket file nobody listens on, as a crashed daemon leaves it */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(connect_to(sockpath), -ECONNREFUSED);
	ck_assert_int_eq(control_new(loop, sockpath, 0666, NULL, &ctl, err,
				     sizeof(err)),
			 0);
	ck_assert_reply("{\"command\":\"help\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"help\"]}}\n");
}
END_TEST

START_TEST(live_socket_refused)
{
	struct control *c = NULL;
	char err[256], want[300];
	int r;

	r = control_new(loop, sockpath, 0666, NULL, &c, err, sizeof(err));
	ck_assert_int_eq(r, -EADDRINUSE);
	snprintf(want, sizeof(want), "%s: another stratad is listening",
		 sockpath);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(c);
	/* the first one keeps its file and its clients */
	ck_assert_int_eq(access(sockpath, F_OK), 0);
	run_for(20 * MS);
	ck_assert_reply("{\"command\":\"help\"}\n",
			"{\"version\":1,\"ok\":true,\"result\":{\"commands\":[\"help\"]}}\n");
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("serve");
	tcase_add_unchecked_fixture(tc, make_tmpdir, remove_tmpdir);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, serve_in_memory);
	tcase_add_test(tc, free_with_pending_call);
	tcase_add_test(tc, new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_unchecked_fixture(tc, make_tmpdir, remove_tmpdir);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, socket_file);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, errors_over_socket);
	tcase_add_test(tc, async_reply);
	tcase_add_test(tc, client_leaves_before_reply);
	tcase_add_test(tc, left_clients_free_their_place);
	tcase_add_test(tc, free_with_pending_socket_call);
	tcase_add_test(tc, oversized_request);
	tcase_add_test(tc, client_disconnects_mid_request);
	tcase_add_test(tc, slow_client_times_out);
	tcase_add_test(tc, slow_reader_does_not_block);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, permissions);
	tcase_add_test(tc, stale_socket_replaced);
	tcase_add_test(tc, live_socket_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
