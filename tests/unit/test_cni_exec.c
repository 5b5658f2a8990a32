/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strata-cni as a runtime runs it: env and stdin in, one JSON document
 * out. A small server here stands in for stratad: it checks the request
 * (and the netns fd that came with it) and answers with canned replies.
 * It tests the client side only; the end-to-end tests are integration's.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#ifndef TOP_BUILDDIR
#define TOP_BUILDDIR "."
#endif

#define OUT_MAX 65536

static char binary[512];
static char tmpdir[64];
static char sockpath[128];
/* a network namespace that is not ours: a child that unshared one */
static pid_t ns_holder = -1;
static int ns_holder_pipe = -1;
static char nspath[64];

/* ---- running strata-cni -------------------------------------------------- */

struct run {
	int status;
	char out[OUT_MAX];
	char err[OUT_MAX];
	yajl_val doc;
};

static void drain(int fd, char *buf, size_t *len, bool *open_)
{
	ssize_t n = read(fd, buf + *len, OUT_MAX - 1 - *len);

	if (n > 0) {
		*len += (size_t)n;
		buf[*len] = '\0';
	} else if (n == 0 || errno != EINTR) {
		*open_ = false;
	}
}

/* env: NULL-terminated "K=V" strings; stdin_text may be NULL (empty). */
static void run_cni(struct run *r, const char *const env[],
		    const char *stdin_text)
{
	int in[2], out[2], err[2];
	struct pollfd pfd[2];
	size_t olen = 0, elen = 0, wlen, woff = 0;
	bool oopen = true, eopen = true;
	char *argv[] = { binary, NULL };
	char errbuf[256];
	pid_t pid;
	int i, ws;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execve(binary, argv, (char *const *)env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	wlen = stdin_text ? strlen(stdin_text) : 0;
	while (woff < wlen) {
		ssize_t n = write(in[1], stdin_text + woff, wlen - woff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		woff += (size_t)n;
	}
	close(in[1]);
	/* bounded: the binary's own timeouts are at most a few seconds */
	for (i = 0; i < 2000 && (oopen || eopen); i++) {
		pfd[0] = (struct pollfd){ .fd = oopen ? out[0] : -1,
					  .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = eopen ? err[0] : -1,
					  .events = POLLIN };
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[0].revents)
			drain(out[0], r->out, &olen, &oopen);
		if (pfd[1].revents)
			drain(err[0], r->err, &elen, &eopen);
	}
	close(out[0]);
	close(err[0]);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert_msg(WIFEXITED(ws), "strata-cni died: status %d", ws);
	r->status = WEXITSTATUS(ws);
	if (olen)
		r->doc = yajl_tree_parse(r->out, errbuf, sizeof(errbuf));
	ck_assert_msg(!olen || r->doc, "stdout is not JSON (%s): %s", errbuf,
		      r->out);
}

static void run_free(struct run *r)
{
	yajl_tree_free(r->doc);
	r->doc = NULL;
}

/* "a/b/0/c": object members and array indices */
static yajl_val jget(yajl_val v, const char *path)
{
	char buf[256], *tok, *save = NULL, *end;
	size_t i;
	long idx;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok && v;
	     tok = strtok_r(NULL, "/", &save)) {
		if (YAJL_IS_ARRAY(v)) {
			idx = strtol(tok, &end, 10);
			if (*end || idx < 0 || (size_t)idx >= v->u.array.len)
				return NULL;
			v = v->u.array.values[idx];
		} else if (YAJL_IS_OBJECT(v)) {
			yajl_val next = NULL;

			for (i = 0; i < v->u.object.len; i++)
				if (!strcmp(v->u.object.keys[i], tok))
					next = v->u.object.values[i];
			v = next;
		} else {
			return NULL;
		}
	}
	return v;
}

static const char *jstr(yajl_val v, const char *path)
{
	yajl_val s = jget(v, path);

	return YAJL_IS_STRING(s) ? s->u.string : NULL;
}

static long long jint(yajl_val v, const char *path)
{
	yajl_val n = jget(v, path);

	ck_assert_msg(YAJL_IS_INTEGER(n), "%s is not an integer", path);
	return YAJL_GET_INTEGER(n);
}

static size_t jlen(yajl_val v, const char *path)
{
	yajl_val a = jget(v, path);

	ck_assert_msg(YAJL_IS_ARRAY(a), "%s is not an array", path);
	return a->u.array.len;
}

/* A failure: exit status 1, the code, and msg naming `word`. */
static void expect_error(struct run *r, int code, const char *word)
{
	const char *msg;

	ck_assert_msg(r->status == 1, "exit %d, stdout %s", r->status, r->out);
	ck_assert_ptr_nonnull(r->doc);
	ck_assert_msg(jint(r->doc, "code") == code,
		      "code %lld, wanted %d: %s", jint(r->doc, "code"), code,
		      r->out);
	msg = jstr(r->doc, "msg");
	ck_assert_ptr_nonnull(msg);
	if (word)
		ck_assert_msg(strstr(msg, word), "msg \"%s\" does not name %s",
			      msg, word);
	/* one document, one line */
	ck_assert_ptr_eq(strchr(r->out, '\n'), r->out + strlen(r->out) - 1);
}

/* ---- a stand-in for stratad ---------------------------------------------- */

enum mode { REPLY, CLOSE, HANG };

struct server {
	int lfd;
	pthread_t thread;
	enum mode mode;
	const char *reply;
	char req[OUT_MAX];
	size_t reqlen;
	int connections;
	bool got_fd;
	bool fd_is_netns;
	ino_t fd_ino;
	yajl_val doc;
};

static struct server srv;

static void *serve(void *arg)
{
	struct server *s = arg;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *c;
	struct stat st;
	ssize_t n;
	int cfd, fd, i;

	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	cfd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return NULL;
	s->connections++;
	for (i = 0; i < 1000 && s->reqlen < sizeof(s->req) - 1; i++) {
		iov = (struct iovec){ .iov_base = s->req + s->reqlen,
				      .iov_len = sizeof(s->req) - 1 -
						 s->reqlen };
		msg = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
				       .msg_control = ctl.buf,
				       .msg_controllen = sizeof(ctl.buf) };
		n = recvmsg(cfd, &msg, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			break;
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			s->got_fd = true;
			s->fd_is_netns = ioctl(fd, NS_GET_NSTYPE) ==
					 CLONE_NEWNET;
			if (fstat(fd, &st) == 0)
				s->fd_ino = st.st_ino;
			close(fd);
		}
		s->reqlen += (size_t)n;
		s->req[s->reqlen] = '\0';
		if (memchr(s->req, '\n', s->reqlen))
			break;
	}
	if (s->mode == REPLY && s->reply) {
		n = write(cfd, s->reply, strlen(s->reply));
		(void)n;
	} else if (s->mode == HANG) {
		/* until strata-cni gives up and closes */
		pfd = (struct pollfd){ .fd = cfd, .events = POLLIN };
		poll(&pfd, 1, 10000);
	}
	close(cfd);
	return NULL;
}

static void server_start(enum mode mode, const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	yajl_tree_free(srv.doc);
	memset(&srv, 0, sizeof(srv));
	srv.mode = mode;
	srv.reply = reply;
	srv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(srv.lfd, 0);
	strcpy(sa.sun_path, sockpath);
	unlink(sockpath);
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(srv.lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&srv.thread, NULL, serve, &srv), 0);
}

/* Joins the server and parses the request it got. */
static void server_stop(void)
{
	char errbuf[256];

	pthread_join(srv.thread, NULL);
	close(srv.lfd);
	unlink(sockpath);
	ck_assert_msg(srv.connections == 1, "%d connections",
		      srv.connections);
	ck_assert_msg(srv.reqlen && srv.req[srv.reqlen - 1] == '\n',
		      "request not one line: %s", srv.req);
	srv.doc = yajl_tree_parse(srv.req, errbuf, sizeof(errbuf));
	ck_assert_msg(srv.doc, "request is not JSON: %s", srv.req);
}

static void expect_netns_fd(void)
{
	struct stat st;

	ck_assert_msg(srv.got_fd, "no fd came with the request");
	ck_assert_msg(srv.fd_is_netns, "the fd is not a network namespace");
	ck_assert_int_eq(stat(nspath, &st), 0);
	ck_assert_msg(srv.fd_ino == st.st_ino, "the fd is not CNI_NETNS");
}

/* ---- fixture ------------------------------------------------------------- */

static void make_ns_holder(void)
{
	int ready[2], hold[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(1);
	}
	ns_holder = fork();
	if (ns_holder == 0) {
		close(ready[0]);
		close(hold[1]);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* until the tests are done */
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (ns_holder < 0 || read(ready[0], &c, 1) != 1 || c != 'y') {
		fprintf(stderr, "cannot make a network namespace: run the "
			"tests as root\n");
		exit(1);
	}
	close(ready[0]);
	ns_holder_pipe = hold[1];
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)ns_holder);
}

static void drop_ns_holder(void)
{
	close(ns_holder_pipe);
	waitpid(ns_holder, NULL, 0);
}

static void setup(void)
{
	memset(&srv, 0, sizeof(srv));
	srv.lfd = -1;
}

static void teardown(void)
{
	yajl_tree_free(srv.doc);
	srv.doc = NULL;
	unlink(sockpath);
}

/* The config of most tests: our socket, and the version asked for. */
static const char *conf(char *buf, size_t len, const char *version,
			const char *extra)
{
	snprintf(buf, len,
		 "{\"cniVersion\": \"%s\", \"name\": \"strata\", "
		 "\"type\": \"strata-cni\", \"socket\": \"%s\"%s%s}",
		 version, sockpath, extra ? ", " : "", extra ? extra : "");
	return buf;
}

#define ENV_ADD(ns)                                                          \
	"CNI_COMMAND=ADD", "CNI_CONTAINERID=c0ffee", "CNI_IFNAME=eth0",      \
		"CNI_PATH=/usr/lib/cni", ns

static char netns_env[96];

static const char *netns_var(void)
{
	snprintf(netns_env, sizeof(netns_env), "CNI_NETNS=%s", nspath);
	return netns_env;
}

/* ---- VERSION ------------------------------------------------------------- */

START_TEST(version_echoes_input)
{
	static const char *const in[] = { "0.4.0", "1.0.0", "1.1.0", "0.3.1" };
	const char *env[] = { "CNI_COMMAND=VERSION", NULL };
	char buf[128];
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"cniVersion\": \"%s\"}", in[i]);
		run_cni(&r, env, buf);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(jstr(r.doc, "cniVersion"), in[i]);
		ck_assert_int_eq(jlen(r.doc, "supportedVersions"), 3);
		ck_assert_str_eq(jstr(r.doc, "supportedVersions/0"), "0.4.0");
		ck_assert_str_eq(jstr(r.doc, "supportedVersions/1"), "1.0.0");
		ck_assert_str_eq(jstr(r.doc, "supportedVersions/2"), "1.1.0");
		run_free(&r);
	}
	/* no stdin, or no cniVersion in it: ours */
	run_cni(&r, env, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.1.0");
	run_free(&r);
	run_cni(&r, env, "{}");
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.1.0");
	run_free(&r);
	/* libcni's fake env does not matter */
	{
		const char *env2[] = { "CNI_COMMAND=VERSION",
				       "CNI_NETNS=dummy", "CNI_IFNAME=dummy",
				       "CNI_PATH=dummy", NULL };

		run_cni(&r, env2, "{\"cniVersion\":\"1.0.0\"}");
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.0.0");
		run_free(&r);
	}
	run_cni(&r, env, "{\"cniVersion\": 1}");
	expect_error(&r, 6, "cniVersion");
	run_free(&r);
}
END_TEST

/* ---- the environment ----------------------------------------------------- */

struct env_case {
	const char *env[8];
	int code;
	const char *name;
};

START_TEST(env_errors)
{
	char netns[96], cfg[512];
	const struct env_case cases[] = {
		{ { NULL }, 4, "CNI_COMMAND" },
		{ { "CNI_COMMAND=BOGUS" }, 4, "CNI_COMMAND" },
		{ { "CNI_COMMAND=" }, 4, "CNI_COMMAND" },
		{ { "CNI_COMMAND=ADD", "CNI_IFNAME=eth0", netns }, 4,
		  "CNI_CONTAINERID" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=-bad",
		    "CNI_IFNAME=eth0", netns }, 4, "CNI_CONTAINERID" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=a b",
		    "CNI_IFNAME=eth0" }, 4, "CNI_CONTAINERID" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", netns }, 4,
		  "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c",
		    "CNI_IFNAME=0123456789abcdef", netns }, 4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=.",
		    netns }, 4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=.." },
		  4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=a/b",
		    netns }, 4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=a:b",
		    netns }, 4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=a b",
		    netns }, 4, "CNI_IFNAME" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=e" },
		  4, "CNI_NETNS" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    "CNI_NETNS=" }, 4, "CNI_NETNS" },
		{ { "CNI_COMMAND=CHECK", "CNI_CONTAINERID=c",
		    "CNI_IFNAME=e" }, 4, "CNI_NETNS" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    "CNI_ARGS=nonsense" }, 4, "CNI_ARGS" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    "CNI_ARGS=K8S_POD_NAME=a;;" }, 4, "CNI_ARGS" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    "CNI_ARGS==x" }, 4, "CNI_ARGS" },
		{ { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    "CNI_ARGS=IgnoreUnknown=maybe" }, 4, "IgnoreUnknown" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    netns, "CNI_ARGS=K8S_POD_NAME=p;FOO=bar" }, 2, "FOO" },
		{ { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		    netns, "CNI_ARGS=FOO=bar;IgnoreUnknown=0" }, 2, "bar" },
	};
	const char *chk = "\"prevResult\": {\"interfaces\": []}";
	struct run r;
	size_t i;

	snprintf(netns, sizeof(netns), "CNI_NETNS=%s", nspath);
	conf(cfg, sizeof(cfg), "1.1.0", chk);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_cni(&r, cases[i].env, cfg);
		expect_error(&r, cases[i].code, cases[i].name);
		/* the config's version answers */
		ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.1.0");
		run_free(&r);
	}
}
END_TEST

/* Env that is fine goes on to the socket, where nobody listens. */
START_TEST(env_accepted)
{
	char cfg[512];
	const char *const envs[][8] = {
		/* DEL: no netns, an empty one, one that is gone */
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e" },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		  "CNI_NETNS=" },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		  "CNI_NETNS=/proc/self/nonexistent" },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=A0_b.c-d",
		  "CNI_IFNAME=0123456789abcde",
		  "CNI_ARGS=IgnoreUnknown=1;FOO=bar;K8S_POD_UID=u" },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		  "CNI_ARGS=FOO=bar;IgnoreUnknown=true" },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=e",
		  "CNI_ARGS=" },
	};
	struct run r;
	size_t i;

	conf(cfg, sizeof(cfg), "1.0.0", NULL);
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		run_cni(&r, envs[i], cfg);
		expect_error(&r, 11, sockpath);
		run_free(&r);
	}
}
END_TEST

/* ---- the config ---------------------------------------------------------- */

struct conf_case {
	const char *conf;
	int code;
	const char *word;
};

START_TEST(config_errors)
{
	const char *env[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c",
			      "CNI_IFNAME=eth0", NULL };
	const struct conf_case cases[] = {
		{ "", 6, "stdin" },
		{ "  \n", 6, "stdin" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"x\" ,, }", 6,
		  "at byte 35" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"x\"} {}", 6,
		  "byte" },
		{ "[1]", 6, "object" },
		{ "{\"cniVersion\": 1.0, \"name\": \"x\"}", 6, "cniVersion" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\\u0000y\"}", 6,
		  "u0000" },
		{ "{\"cniVersion\": \"1.0.0\"}", 7, "name" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"-x\"}", 7, "name" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"a/b\"}", 7, "name" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": 5}", 7, "name" },
		{ "{\"cniVersion\": \"0.3.1\", \"name\": \"x\"}", 1,
		  "incompatible" },
		{ "{\"cniVersion\": \"1.0\", \"name\": \"x\"}", 1,
		  "incompatible" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"mtu\": 67}",
		  7, "mtu" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"mtu\": 65536}", 7, "mtu" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"mtu\": \"1500\"}", 7, "mtu" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"timeout\": 0}", 7, "timeout" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"timeout\": 3601}", 7, "timeout" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"socket\": \"run/cni.sock\"}", 7, "socket" },
		{ "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", "
		  "\"dns\": []}", 7, "dns" },
	};
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_cni(&r, env, cases[i].conf);
		expect_error(&r, cases[i].code, cases[i].word);
		run_free(&r);
	}
	/* no cniVersion is 0.1.0 */
	run_cni(&r, env, "{\"name\": \"x\"}");
	expect_error(&r, 1, "incompatible");
	ck_assert_ptr_nonnull(strstr(jstr(r.doc, "details"), "\"0.1.0\""));
	ck_assert_ptr_nonnull(strstr(jstr(r.doc, "details"), "1.1.0"));
	run_free(&r);
}
END_TEST

START_TEST(version_per_command)
{
	const char *gc[] = { "CNI_COMMAND=GC", "CNI_PATH=/x", NULL };
	const char *status[] = { "CNI_COMMAND=STATUS", NULL };
	const char *check[] = { "CNI_COMMAND=CHECK", "CNI_CONTAINERID=c",
				"CNI_IFNAME=eth0", netns_var(), NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.0.0",
	     "\"cni.dev/valid-attachments\": []");
	run_cni(&r, gc, cfg);
	expect_error(&r, 1, "GC");
	run_free(&r);
	run_cni(&r, status, cfg);
	expect_error(&r, 1, "STATUS");
	run_free(&r);
	/* 1.1.0: allowed, and nobody listens */
	conf(cfg, sizeof(cfg), "1.1.0",
	     "\"cni.dev/valid-attachments\": []");
	run_cni(&r, gc, cfg);
	expect_error(&r, 11, sockpath);
	run_free(&r);
	run_cni(&r, status, cfg);
	expect_error(&r, 50, sockpath);
	run_free(&r);
	/* CHECK and GC need what they check against */
	conf(cfg, sizeof(cfg), "1.1.0", NULL);
	run_cni(&r, check, cfg);
	expect_error(&r, 7, "prevResult");
	run_free(&r);
	run_cni(&r, gc, cfg);
	expect_error(&r, 7, "cni.dev/valid-attachments");
	run_free(&r);
	conf(cfg, sizeof(cfg), "1.1.0",
	     "\"cni.dev/attachments\": [{\"containerID\": 5}]");
	run_cni(&r, gc, cfg);
	expect_error(&r, 7, "cni.dev/attachments[0]");
	run_free(&r);
}
END_TEST

/* What the runtime injects, or other plugins read, is left alone. */
START_TEST(config_tolerated)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	char cfg[1024];
	struct run r;

	conf(cfg, sizeof(cfg), "1.0.0",
	     "\"capabilities\": {\"portMappings\": true}, "
	     "\"runtimeConfig\": {\"portMappings\": []}, "
	     "\"args\": {\"cni\": {\"ips\": [\"10.0.0.1\"]}}, "
	     "\"cni.dev/whatever\": 1, \"ipam\": {\"type\": \"x\"}, "
	     "\"somethingElse\": [1, {\"a\": null}], \"mtu\": 9000, "
	     "\"timeout\": 5, \"dns\": {\"nameservers\": [\"10.0.0.10\"]}");
	run_cni(&r, env, cfg);
	expect_error(&r, 11, sockpath);
	run_free(&r);
}
END_TEST

/* ---- the netns ----------------------------------------------------------- */

START_TEST(netns_checked)
{
	const char *own[] = { ENV_ADD("CNI_NETNS=/proc/self/ns/net"), NULL };
	const char *gone[] = { ENV_ADD("CNI_NETNS=/proc/self/nonexistent"),
			       NULL };
	const char *file[] = { ENV_ADD("CNI_NETNS=/proc/self/status"),
			       NULL };
	const char *del_own[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c",
				  "CNI_IFNAME=eth0",
				  "CNI_NETNS=/proc/self/ns/net", NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.1.0", NULL);
	run_cni(&r, own, cfg);
	expect_error(&r, 8, "own network namespace");
	run_free(&r);
	run_cni(&r, gone, cfg);
	expect_error(&r, 5, "/proc/self/nonexistent");
	run_free(&r);
	run_cni(&r, file, cfg);
	expect_error(&r, 8, "not a network namespace");
	run_free(&r);

	/* DEL goes ahead without the fd */
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, del_own, cfg);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	server_stop();
	ck_assert(!srv.got_fd);
	ck_assert_str_eq(jstr(srv.doc, "netns"), "/proc/self/ns/net");
}
END_TEST

/* ---- round trips --------------------------------------------------------- */

static const char add_reply[] =
	"{\"ok\": true, \"interfaces\": ["
	"{\"name\": \"st0123456789abc\", \"mac\": \"aa:bb:cc:dd:ee:01\", "
	"\"mtu\": 1500},"
	"{\"name\": \"eth0\", \"mac\": \"aa:bb:cc:dd:ee:02\", \"mtu\": 1500, "
	"\"sandbox\": true}],"
	"\"ips\": ["
	"{\"address\": \"10.112.0.5/32\", \"gateway\": \"169.254.1.1\", "
	"\"interface\": 1},"
	"{\"address\": \"fd00:112::5/128\", \"gateway\": \"fe80::1\", "
	"\"interface\": 1}],"
	"\"routes\": [{\"dst\": \"0.0.0.0/0\", \"gw\": \"169.254.1.1\"},"
	"{\"dst\": \"::/0\", \"gw\": \"fe80::1\"}]}\n";

static void add_in(const char *version, const char *extra, struct run *r)
{
	const char *env[] = {
		ENV_ADD(netns_var()),
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
		"K8S_POD_NAME=web-0;K8S_POD_UID=123",
		NULL
	};
	char cfg[2048];

	conf(cfg, sizeof(cfg), version, extra);
	server_start(REPLY, add_reply);
	run_cni(r, env, cfg);
	server_stop();
	ck_assert_msg(r->status == 0, "ADD failed: %s %s", r->out, r->err);
	expect_netns_fd();
}

START_TEST(add_1_1_0)
{
	struct run r;

	add_in("1.1.0", "\"mtu\": 1400", &r);
	/* the request */
	ck_assert_str_eq(jstr(srv.doc, "command"), "ADD");
	ck_assert_str_eq(jstr(srv.doc, "network"), "strata");
	ck_assert_str_eq(jstr(srv.doc, "container_id"), "c0ffee");
	ck_assert_str_eq(jstr(srv.doc, "ifname"), "eth0");
	ck_assert_str_eq(jstr(srv.doc, "netns"), nspath);
	ck_assert_int_eq(jint(srv.doc, "mtu"), 1400);
	ck_assert_str_eq(jstr(srv.doc, "pod/namespace"), "default");
	ck_assert_str_eq(jstr(srv.doc, "pod/name"), "web-0");
	/* the result */
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.1.0");
	ck_assert_int_eq(jlen(r.doc, "interfaces"), 2);
	ck_assert_str_eq(jstr(r.doc, "interfaces/0/name"), "st0123456789abc");
	ck_assert_ptr_null(jget(r.doc, "interfaces/0/sandbox"));
	ck_assert_int_eq(jint(r.doc, "interfaces/0/mtu"), 1500);
	ck_assert_str_eq(jstr(r.doc, "interfaces/1/name"), "eth0");
	ck_assert_str_eq(jstr(r.doc, "interfaces/1/mac"),
			 "aa:bb:cc:dd:ee:02");
	ck_assert_str_eq(jstr(r.doc, "interfaces/1/sandbox"), nspath);
	ck_assert_int_eq(jlen(r.doc, "ips"), 2);
	ck_assert_str_eq(jstr(r.doc, "ips/0/address"), "10.112.0.5/32");
	ck_assert_str_eq(jstr(r.doc, "ips/0/gateway"), "169.254.1.1");
	ck_assert_int_eq(jint(r.doc, "ips/0/interface"), 1);
	ck_assert_ptr_null(jget(r.doc, "ips/0/version"));
	ck_assert_str_eq(jstr(r.doc, "ips/1/address"), "fd00:112::5/128");
	ck_assert_int_eq(jlen(r.doc, "routes"), 2);
	ck_assert_str_eq(jstr(r.doc, "routes/1/dst"), "::/0");
	ck_assert_str_eq(jstr(r.doc, "routes/1/gw"), "fe80::1");
	ck_assert(YAJL_IS_OBJECT(jget(r.doc, "dns")));
	ck_assert_int_eq(jget(r.doc, "dns")->u.object.len, 0);
	run_free(&r);
}
END_TEST

START_TEST(add_1_0_0_and_0_4_0)
{
	struct run r;

	add_in("1.0.0", NULL, &r);
	ck_assert_ptr_null(jget(srv.doc, "mtu"));
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.0.0");
	/* interface mtu is 1.1's */
	ck_assert_ptr_null(jget(r.doc, "interfaces/0/mtu"));
	ck_assert_ptr_null(jget(r.doc, "ips/0/version"));
	ck_assert_int_eq(jint(r.doc, "ips/1/interface"), 1);
	run_free(&r);

	add_in("0.4.0", "\"dns\": {\"nameservers\": [\"10.96.0.10\"]}", &r);
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "0.4.0");
	ck_assert_str_eq(jstr(r.doc, "ips/0/version"), "4");
	ck_assert_str_eq(jstr(r.doc, "ips/1/version"), "6");
	ck_assert_ptr_null(jget(r.doc, "interfaces/0/mtu"));
	ck_assert_str_eq(jstr(r.doc, "interfaces/1/sandbox"), nspath);
	ck_assert_str_eq(jstr(r.doc, "dns/nameservers/0"), "10.96.0.10");
	run_free(&r);
}
END_TEST

/* Chained after another plugin: ours are appended, indices shifted. */
START_TEST(add_merges_prev_result)
{
	struct run r;

	add_in("1.0.0",
	       "\"prevResult\": {\"cniVersion\": \"1.0.0\", "
	       "\"interfaces\": [{\"name\": \"lo\", \"sandbox\": \"/x\"}], "
	       "\"ips\": [{\"address\": \"127.0.0.1/8\", \"interface\": 0}], "
	       "\"routes\": [{\"dst\": \"10.0.0.0/8\"}], "
	       "\"dns\": {\"domain\": \"example\"}}",
	       &r);
	ck_assert_int_eq(jlen(r.doc, "interfaces"), 3);
	ck_assert_str_eq(jstr(r.doc, "interfaces/0/name"), "lo");
	ck_assert_str_eq(jstr(r.doc, "interfaces/0/sandbox"), "/x");
	ck_assert_str_eq(jstr(r.doc, "interfaces/2/name"), "eth0");
	ck_assert_int_eq(jlen(r.doc, "ips"), 3);
	ck_assert_str_eq(jstr(r.doc, "ips/0/address"), "127.0.0.1/8");
	ck_assert_int_eq(jint(r.doc, "ips/0/interface"), 0);
	ck_assert_int_eq(jint(r.doc, "ips/1/interface"), 2);
	ck_assert_int_eq(jint(r.doc, "ips/2/interface"), 2);
	ck_assert_int_eq(jlen(r.doc, "routes"), 3);
	ck_assert_str_eq(jstr(r.doc, "routes/0/dst"), "10.0.0.0/8");
	ck_assert_str_eq(jstr(r.doc, "dns/domain"), "example");
	run_free(&r);
}
END_TEST

START_TEST(add_bad_prev_result)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	char cfg[512];
	struct run r;

	/* refused before stratad is asked: nobody listens, yet code 7 */
	conf(cfg, sizeof(cfg), "1.0.0", "\"prevResult\": {\"ips\": {}}");
	run_cni(&r, env, cfg);
	expect_error(&r, 7, "prevResult");
	run_free(&r);
}
END_TEST

START_TEST(errors_pass_through)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.0.0", NULL);
	server_start(REPLY, "{\"ok\": false, \"code\": 100, \"msg\": "
			    "\"the attachment already exists\", "
			    "\"details\": \"st0123456789abc is there\"}\n");
	run_cni(&r, env, cfg);
	server_stop();
	expect_error(&r, 100, NULL);
	ck_assert_str_eq(jstr(r.doc, "msg"), "the attachment already exists");
	ck_assert_str_eq(jstr(r.doc, "details"), "st0123456789abc is there");
	ck_assert_str_eq(jstr(r.doc, "cniVersion"), "1.0.0");
	run_free(&r);

	server_start(REPLY,
		     "{\"ok\": false, \"code\": 3, \"msg\": \"gone\"}\n");
	run_cni(&r, env, cfg);
	server_stop();
	expect_error(&r, 3, "gone");
	ck_assert_ptr_null(jget(r.doc, "details"));
	run_free(&r);
}
END_TEST

struct bad_reply {
	enum mode mode;
	const char *reply;
	int code;
	const char *word;
};

START_TEST(bad_replies)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	const struct bad_reply cases[] = {
		{ CLOSE, NULL, 11, "without a reply" },
		{ REPLY, "{\"ok\": true", 11, "middle" },
		{ REPLY, "not json\n", 5, "invalid reply" },
		{ REPLY, "{\"ok\": 1}\n", 5, "invalid reply" },
		{ REPLY, "{\"ok\": false, \"msg\": \"x\"}\n", 5,
		  "invalid reply" },
		{ REPLY, "{\"ok\": false, \"code\": 0}\n", 5, "invalid reply" },
		{ REPLY, "{\"ok\": true}\n", 5, "invalid reply" },
		{ REPLY, "{\"ok\": true, \"interfaces\": [{\"name\": \"e\"}], "
			 "\"ips\": [{\"address\": \"10.0.0.1/32\", "
			 "\"interface\": 1}]}\n", 5, "invalid reply" },
	};
	char cfg[512];
	struct run r;
	size_t i;

	conf(cfg, sizeof(cfg), "1.1.0", NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		server_start(cases[i].mode, cases[i].reply);
		run_cni(&r, env, cfg);
		server_stop();
		expect_error(&r, cases[i].code, cases[i].word);
		ck_assert_ptr_nonnull(strstr(jstr(r.doc, "msg"), sockpath));
		run_free(&r);
	}
}
END_TEST

START_TEST(timeout_is_try_again)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	const char *status[] = { "CNI_COMMAND=STATUS", NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.1.0", "\"timeout\": 1");
	server_start(HANG, NULL);
	run_cni(&r, env, cfg);
	server_stop();
	expect_error(&r, 11, "within 1 s");
	run_free(&r);

	server_start(HANG, NULL);
	run_cni(&r, status, cfg);
	server_stop();
	expect_error(&r, 50, "within 1 s");
	run_free(&r);
}
END_TEST

START_TEST(nobody_listening)
{
	const char *env[] = { ENV_ADD(netns_var()), NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cfg[512];
	struct run r;
	int fd;

	/* a socket file with no listener behind it: refused */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, sockpath);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	conf(cfg, sizeof(cfg), "1.1.0", NULL);
	run_cni(&r, env, cfg);
	close(fd);
	expect_error(&r, 11, "not reachable");
	ck_assert_ptr_nonnull(strstr(jstr(r.doc, "msg"), sockpath));
	run_free(&r);
}
END_TEST

START_TEST(del_round_trip)
{
	const char *with[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c0ffee",
			       "CNI_IFNAME=eth0", netns_var(),
			       "CNI_ARGS=K8S_POD_NAME=web-0", NULL };
	const char *without[] = { "CNI_COMMAND=DEL",
				  "CNI_CONTAINERID=c0ffee",
				  "CNI_IFNAME=eth0", "CNI_NETNS=", NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.0.0", "\"prevResult\": 7");
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, with, cfg);
	server_stop();
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "");
	expect_netns_fd();
	ck_assert_str_eq(jstr(srv.doc, "command"), "DEL");
	ck_assert_str_eq(jstr(srv.doc, "container_id"), "c0ffee");
	ck_assert_str_eq(jstr(srv.doc, "ifname"), "eth0");
	ck_assert_str_eq(jstr(srv.doc, "pod/name"), "web-0");
	ck_assert_ptr_null(jget(srv.doc, "pod/namespace"));
	run_free(&r);

	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, without, cfg);
	server_stop();
	ck_assert_int_eq(r.status, 0);
	ck_assert(!srv.got_fd);
	ck_assert_str_eq(jstr(srv.doc, "netns"), "");
	run_free(&r);
}
END_TEST

START_TEST(check_round_trip)
{
	const char *env[] = { "CNI_COMMAND=CHECK", "CNI_CONTAINERID=c0ffee",
			      "CNI_IFNAME=eth0", netns_var(), NULL };
	char cfg[2048];
	struct run r;

	/* a chained result: lo's address is not ours to check */
	conf(cfg, sizeof(cfg), "0.4.0",
	     "\"prevResult\": {\"cniVersion\": \"0.4.0\", \"interfaces\": ["
	     "{\"name\": \"lo\", \"sandbox\": \"/x\"},"
	     "{\"name\": \"st0123456789abc\", \"mac\": \"aa:aa:aa:aa:aa:aa\"},"
	     "{\"name\": \"eth0\", \"mac\": \"aa:bb:cc:dd:ee:02\", "
	     "\"sandbox\": \"/x\"}],"
	     "\"ips\": [{\"version\": \"4\", \"address\": \"127.0.0.1/8\", "
	     "\"interface\": 0},"
	     "{\"version\": \"4\", \"address\": \"10.112.0.5/32\", "
	     "\"interface\": 2},"
	     "{\"version\": \"6\", \"address\": \"fd00::5/128\", "
	     "\"interface\": 2}]}");
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, env, cfg);
	server_stop();
	ck_assert_msg(r.status == 0, "CHECK failed: %s", r.out);
	ck_assert_str_eq(r.out, "");
	expect_netns_fd();
	ck_assert_str_eq(jstr(srv.doc, "command"), "CHECK");
	ck_assert_int_eq(jlen(srv.doc, "prev/ips"), 2);
	ck_assert_str_eq(jstr(srv.doc, "prev/ips/0"), "10.112.0.5/32");
	ck_assert_str_eq(jstr(srv.doc, "prev/ips/1"), "fd00::5/128");
	ck_assert_str_eq(jstr(srv.doc, "prev/mac"), "aa:bb:cc:dd:ee:02");
	run_free(&r);

	/* a failed check comes back as stratad said it */
	server_start(REPLY, "{\"ok\": false, \"code\": 5, \"msg\": "
			    "\"eth0 has no 10.112.0.5/32\"}\n");
	run_cni(&r, env, cfg);
	server_stop();
	expect_error(&r, 5, "10.112.0.5/32");
	run_free(&r);
}
END_TEST

START_TEST(gc_round_trip)
{
	const char *env[] = { "CNI_COMMAND=GC", NULL };
	char cfg[1024];
	struct run r;

	conf(cfg, sizeof(cfg), "1.1.0",
	     "\"cni.dev/valid-attachments\": ["
	     "{\"containerID\": \"b\", \"ifname\": \"eth0\"},"
	     "{\"containerID\": \"a\", \"ifname\": \"eth1\"}],"
	     "\"cni.dev/attachments\": ["
	     "{\"containerID\": \"b\", \"ifname\": \"eth0\"},"
	     "{\"containerID\": \"a\", \"ifname\": \"eth0\"}]");
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, env, cfg);
	server_stop();
	ck_assert_msg(r.status == 0, "GC failed: %s", r.out);
	ck_assert_str_eq(r.out, "");
	ck_assert(!srv.got_fd);
	ck_assert_str_eq(jstr(srv.doc, "command"), "GC");
	ck_assert_str_eq(jstr(srv.doc, "network"), "strata");
	ck_assert_ptr_null(jget(srv.doc, "container_id"));
	/* the union, each once */
	ck_assert_int_eq(jlen(srv.doc, "valid"), 3);
	ck_assert_str_eq(jstr(srv.doc, "valid/0/container_id"), "a");
	ck_assert_str_eq(jstr(srv.doc, "valid/0/ifname"), "eth0");
	ck_assert_str_eq(jstr(srv.doc, "valid/1/container_id"), "a");
	ck_assert_str_eq(jstr(srv.doc, "valid/1/ifname"), "eth1");
	ck_assert_str_eq(jstr(srv.doc, "valid/2/container_id"), "b");
	run_free(&r);

	/* no attachment is valid: an empty list, sent as such */
	conf(cfg, sizeof(cfg), "1.1.0", "\"cni.dev/attachments\": []");
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, env, cfg);
	server_stop();
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(jlen(srv.doc, "valid"), 0);
	run_free(&r);
}
END_TEST

START_TEST(status_round_trip)
{
	const char *env[] = { "CNI_COMMAND=STATUS", NULL };
	char cfg[512];
	struct run r;

	conf(cfg, sizeof(cfg), "1.1.0", NULL);
	server_start(REPLY, "{\"ok\": true}\n");
	run_cni(&r, env, cfg);
	server_stop();
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(jstr(srv.doc, "command"), "STATUS");
	ck_assert_str_eq(jstr(srv.doc, "network"), "strata");
	run_free(&r);

	server_start(REPLY, "{\"ok\": false, \"code\": 50, \"msg\": "
			    "\"the IPAM is not reachable\"}\n");
	run_cni(&r, env, cfg);
	server_stop();
	expect_error(&r, 50, "IPAM");
	run_free(&r);
}
END_TEST

static Suite *cni_exec_suite(void)
{
	Suite *s = suite_create("cni_exec");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, version_echoes_input);
	tcase_add_test(tc, env_errors);
	tcase_add_test(tc, env_accepted);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, version_per_command);
	tcase_add_test(tc, config_tolerated);
	tcase_add_test(tc, netns_checked);
	tcase_add_test(tc, add_1_1_0);
	tcase_add_test(tc, add_1_0_0_and_0_4_0);
	tcase_add_test(tc, add_merges_prev_result);
	tcase_add_test(tc, add_bad_prev_result);
	tcase_add_test(tc, errors_pass_through);
	tcase_add_test(tc, bad_replies);
	tcase_add_test(tc, timeout_is_try_again);
	tcase_add_test(tc, nobody_listening);
	tcase_add_test(tc, del_round_trip);
	tcase_add_test(tc, check_round_trip);
	tcase_add_test(tc, gc_round_trip);
	tcase_add_test(tc, status_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *top = getenv("top_builddir");
	SRunner *sr;
	int failed;

	snprintf(binary, sizeof(binary), "%s/strata-cni",
		 top && top[0] ? top : TOP_BUILDDIR);
	if (access(binary, X_OK) < 0) {
		fprintf(stderr, "no strata-cni at %s: build it first\n",
			binary);
		return 1;
	}
	strcpy(tmpdir, "/tmp/strata-cni-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sockpath, sizeof(sockpath), "%s/cni.sock", tmpdir);
	make_ns_holder();

	sr = srunner_create(cni_exec_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	drop_ns_holder();
	unlink(sockpath);
	rmdir(tmpdir);
	return failed ? 1 : 0;
}
