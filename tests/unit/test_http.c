/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"

#define MS 1000000LL

/* -- a tiny HTTP/1.1 server, one thread per connection ---------------- */

#define SRV_MAX_CONNS 64
#define SRV_BUF 65536

struct srv {
	int lfd;
	int port;         /* TCP: the ephemeral port */
	char dir[64];     /* unix: the temp dir holding the socket */
	char path[96];
	pthread_t thread;
	atomic_bool stop;
	atomic_int requests;
	pthread_t conns[SRV_MAX_CONNS];
	int n_conns;
};

struct srv_conn {
	struct srv *srv;
	int fd;
};

static bool srv_stopping(struct srv *s)
{
	return atomic_load(&s->stop);
}

/* Sleeps ms, cut short when the server stops. */
static void srv_sleep(struct srv *s, int ms)
{
	for (int i = 0; i < ms && !srv_stopping(s); i += 10)
		usleep(10000);
}

static bool srv_readable(struct srv *s, int fd, int ms)
{
	for (int waited = 0; waited < ms && !srv_stopping(s); waited += 20) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 20) > 0)
			return true;
	}
	return false;
}

static void srv_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void srv_reply(int fd, int status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d Test\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, len);

	srv_send(fd, head, (size_t)n);
	srv_send(fd, body, len);
}

static void srv_chunk(int fd, const char *data, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "%zx\r\n", len);

	srv_send(fd, head, (size_t)n);
	srv_send(fd, data, len);
	srv_send(fd, "\r\n", 2);
}

static const char chunked_head[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Connection: close\r\n\r\n";

/* The value of header name (with its colon) in hdrs, or NULL. */
static char *srv_header(char *hdrs, const char *name, char *out, size_t cap)
{
	char *p = strcasestr(hdrs, name);
	size_t n;

	if (!p)
		return NULL;
	p += strlen(name);
	p += strspn(p, " ");
	n = strcspn(p, "\r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static void srv_handle(struct srv *s, int fd)
{
	char *buf = malloc(SRV_BUF);
	char method[16], path[256], val[256];
	size_t len = 0, hdr_len, clen = 0;
	char *end, *body;

	if (!buf)
		return;
	while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
		ssize_t n;

		if (len >= SRV_BUF - 1 || !srv_readable(s, fd, 5000))
			goto out;
		n = recv(fd, buf + len, SRV_BUF - 1 - len, 0);
		if (n <= 0)
			goto out;
		len += (size_t)n;
	}
	hdr_len = (size_t)(end + 4 - buf);
	end[2] = '\0'; /* headers as a string, each line ending in \r\n */
	if (srv_header(buf, "\r\nContent-Length:", val, sizeof(val)))
		clen = strtoul(val, NULL, 10);
	if (hdr_len + clen >= SRV_BUF)
		goto out;
	while (len < hdr_len + clen) {
		ssize_t n;

		if (!srv_readable(s, fd, 5000))
			goto out;
		n = recv(fd, buf + len, SRV_BUF - 1 - len, 0);
		if (n <= 0)
			goto out;
		len += (size_t)n;
	}
	body = buf + hdr_len;
	body[clen] = '\0';
	if (sscanf(buf, "%15s %255s", method, path) != 2)
		goto out;
	atomic_fetch_add(&s->requests, 1);

	if (strcmp(path, "/echo") == 0) {
		char *reply;
		int n = asprintf(&reply, "%s %s", method, body);

		if (n >= 0) {
			srv_reply(fd, 200, reply, (size_t)n);
			free(reply);
		}
	} else if (strcmp(path, "/headers") == 0) {
		const char *v = srv_header(buf, "\r\nX-Strata-Test:", val,
					   sizeof(val));

		v = v ? v : "none";
		srv_reply(fd, 200, v, strlen(v));
	} else if (strncmp(path, "/status/", 8) == 0) {
		int st = atoi(path + 8);
		char text[32];
		int n = snprintf(text, sizeof(text), "status %d", st);

		srv_reply(fd, st, text, (size_t)n);
	} else if (strcmp(path, "/slow") == 0) {
		srv_sleep(s, 1500);
		srv_reply(fd, 200, "slow", 4);
	} else if (strcmp(path, "/hang") == 0) {
		/* Never answer; wait for the client to give up. */
		while (srv_readable(s, fd, 10000)) {
			char c;

			if (recv(fd, &c, 1, 0) <= 0)
				break;
		}
	} else if (strcmp(path, "/big") == 0) {
		char *big = malloc(100000);

		if (big) {
			memset(big, 'a', 100000);
			srv_reply(fd, 200, big, 100000);
			free(big);
		}
	} else if (strcmp(path, "/bigchunk") == 0) {
		char part[1000];

		memset(part, 'b', sizeof(part));
		srv_send(fd, chunked_head, strlen(chunked_head));
		for (int i = 0; i < 20; i++)
			srv_chunk(fd, part, sizeof(part));
		srv_send(fd, "0\r\n\r\n", 5);
	} else if (strcmp(path, "/chunked") == 0) {
		const char *parts[] = { "one\n", "two\n", "three\n" };

		srv_send(fd, chunked_head, strlen(chunked_head));
		for (int i = 0; i < 3; i++) {
			srv_chunk(fd, parts[i], strlen(parts[i]));
			srv_sleep(s, 50);
		}
		srv_send(fd, "0\r\n\r\n", 5);
	} else {
		srv_reply(fd, 404, "not found", 9);
	}
out:
	free(buf);
}

static void *srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;

	srv_handle(c->srv, c->fd);
	close(c->fd);
	free(c);
	return NULL;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (!srv_stopping(s)) {
		struct srv_conn *c;
		int fd;

		if (!srv_readable(s, s->lfd, 100))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (!c || s->n_conns == SRV_MAX_CONNS) {
			free(c);
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		if (pthread_create(&s->conns[s->n_conns], NULL, srv_conn_main,
				   c) != 0) {
			free(c);
			close(fd);
			continue;
		}
		s->n_conns++;
	}
	for (int i = 0; i < s->n_conns; i++)
		pthread_join(s->conns[i], NULL);
	return NULL;
}

static void srv_start_tcp(struct srv *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);

	memset(s, 0, sizeof(*s));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(s->lfd, 64), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &slen),
			 0);
	s->port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_start_unix(struct srv *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	strcpy(s->dir, "/tmp/strata-test-http-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/http.sock", s->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(s->lfd, 64), 0);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	if (s->path[0]) {
		unlink(s->path);
		rmdir(s->dir);
	}
}

/* -- fixture ---------------------------------------------------------- */

static struct loop *loop;
static struct http *http;
static struct srv srv;
static char url_buf[256];

static void setup(void)
{
	ck_assert_int_eq(loop_new(&loop), 0);
	ck_assert_int_eq(http_new(loop, &http), 0);
	srv_start_tcp(&srv);
}

static void teardown(void)
{
	http_free(http);
	loop_free(loop);
	srv_stop(&srv);
}

static const char *url(const char *path)
{
	snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%d%s", srv.port,
		 path);
	return url_buf;
}

static void run_until(const bool *done, int64_t limit_ns)
{
	int64_t end = loop_now() + limit_ns;

	while (!*done) {
		ck_assert_msg(loop_now() < end, "loop did not finish in time");
		ck_assert_int_eq(loop_run_once(loop, 50), 0);
	}
}

static void run_for(int64_t ns)
{
	int64_t end = loop_now() + ns;

	while (loop_now() < end)
		ck_assert_int_eq(loop_run_once(loop, 20), 0);
}

struct result {
	bool done;
	int calls;
	int32_t error;
	int32_t status;
	bool has_error_text;
	char error_text[256];
	char body[512];
	size_t body_len;
	bool body_null;
	int64_t at;
	/* streaming */
	char stream[512];
	size_t stream_len;
	int chunks;
	/* what the callbacks should do */
	struct http_call *self;
	struct http_call *victim;
	bool cancel_on_data;
	bool start_on_data;
	struct result *spawned;
};

static void on_response(void *arg, const struct strata_http_response *resp)
{
	struct result *r = arg;

	r->calls++;
	r->done = true;
	r->at = loop_now();
	ck_assert_uint_ge(resp->size, sizeof(*resp));
	r->error = resp->error;
	r->status = resp->status;
	r->has_error_text = resp->error_text != NULL;
	if (resp->error_text)
		snprintf(r->error_text, sizeof(r->error_text), "%s",
			 resp->error_text);
	r->body_null = resp->body == NULL;
	r->body_len = resp->body_len;
	if (resp->body) {
		/* NUL-terminated after body_len bytes */
		ck_assert_int_eq(resp->body[resp->body_len], '\0');
		snprintf(r->body, sizeof(r->body), "%s", resp->body);
	}
	/* Cancelling one's own call from its callback is harmless. */
	http_cancel(r->self);
	if (r->victim)
		http_cancel(r->victim);
}

static struct strata_http_request request(const char *method, const char *u)
{
	struct strata_http_request req = {
		.size = sizeof(req),
		.method = method,
		.url = u,
	};

	return req;
}

static struct http_call *start(const struct strata_http_request *req,
			       struct result *r)
{
	struct http_call *c = http_start(http, req, on_response, r);

	ck_assert_ptr_nonnull(c);
	r->self = c;
	return c;
}

/* -- tests ------------------------------------------------------------ */

START_TEST(test_get)
{
	struct result r = { 0 };
	struct strata_http_request req = request("GET", url("/echo"));

	start(&req, &r);
	ck_assert_uint_eq(http_active(http), 1);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.error, 0);
	ck_assert(!r.has_error_text);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "GET ");
	ck_assert_uint_eq(r.body_len, 4);
	ck_assert_uint_eq(http_active(http), 0);
	/* exactly once */
	run_for(100 * MS);
	ck_assert_int_eq(r.calls, 1);
}
END_TEST

START_TEST(test_post_put_echo)
{
	struct result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	struct strata_http_request req = request("POST", url("/echo"));
	static const char payload[] = "hello, strata";

	req.body = payload;
	req.body_len = strlen(payload);
	start(&req, &r1);
	req.method = "PUT";
	req.body = "put-data";
	req.body_len = 8;
	start(&req, &r2);
	/* A POST without body. */
	req.method = "POST";
	req.body = NULL;
	req.body_len = 0;
	start(&req, &r3);
	run_until(&r1.done, 10000 * MS);
	run_until(&r2.done, 10000 * MS);
	run_until(&r3.done, 10000 * MS);
	ck_assert_int_eq(r1.error, 0);
	ck_assert_str_eq(r1.body, "POST hello, strata");
	ck_assert_int_eq(r2.error, 0);
	ck_assert_str_eq(r2.body, "PUT put-data");
	ck_assert_int_eq(r3.error, 0);
	ck_assert_str_eq(r3.body, "POST ");
}
END_TEST

START_TEST(test_body_is_copied)
{
	struct result r = { 0 };
	char body[] = "original";
	char u[256];
	struct strata_http_request req;

	/* Request fields are borrowed for the call only. */
	snprintf(u, sizeof(u), "%s", url("/echo"));
	req = request("POST", u);
	req.body = body;
	req.body_len = strlen(body);
	start(&req, &r);
	memset(body, 'X', strlen(body));
	memset(u, 0, sizeof(u));
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_str_eq(r.body, "POST original");
}
END_TEST

START_TEST(test_headers)
{
	struct result r = { 0 }, r2 = { 0 };
	const char *headers[] = { "Accept: text/plain", "X-Strata-Test: abc 123",
				  NULL };
	struct strata_http_request req = request("GET", url("/headers"));

	req.headers = headers;
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_str_eq(r.body, "abc 123");

	req.headers = NULL;
	start(&req, &r2);
	run_until(&r2.done, 10000 * MS);
	ck_assert_str_eq(r2.body, "none");
}
END_TEST

START_TEST(test_status_codes)
{
	struct result r404 = { 0 }, r503 = { 0 }, r204 = { 0 };
	struct strata_http_request req = request("GET", url("/status/404"));

	start(&req, &r404);
	req.url = url("/status/503");
	start(&req, &r503);
	req.url = url("/nothing-here");
	req.method = "DELETE";
	start(&req, &r204);
	run_until(&r404.done, 10000 * MS);
	run_until(&r503.done, 10000 * MS);
	run_until(&r204.done, 10000 * MS);
	/* An HTTP error status is a response, not a transport error. */
	ck_assert_int_eq(r404.error, 0);
	ck_assert_int_eq(r404.status, 404);
	ck_assert_str_eq(r404.body, "status 404");
	ck_assert_int_eq(r503.error, 0);
	ck_assert_int_eq(r503.status, 503);
	ck_assert_int_eq(r204.status, 404);
	ck_assert_str_eq(r204.body, "not found");
}
END_TEST

START_TEST(test_timeout)
{
	struct result r = { 0 };
	struct strata_http_request req = request("GET", url("/hang"));
	int64_t t0 = loop_now();

	req.timeout_ns = 300 * MS;
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, -ETIMEDOUT);
	ck_assert(r.has_error_text);
	ck_assert_int_gt(strlen(r.error_text), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_int_ge(r.at - t0, 300 * MS);
	ck_assert_int_lt(r.at - t0, 5000 * MS);
}
END_TEST

START_TEST(test_refused)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct result r = { 0 };
	struct strata_http_request req;
	char u[64];
	int fd;

	/* A port that was free a moment ago: nobody listens there. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	close(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	req = request("GET", u);
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, -ECONNREFUSED);
	ck_assert(r.has_error_text);
	ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(test_max_body)
{
	struct result big = { 0 }, chunk = { 0 }, fits = { 0 };
	struct strata_http_request req = request("GET", url("/big"));

	/* Declared length over the limit. */
	req.max_body = 1000;
	start(&req, &big);
	/* No declared length: caught while the body arrives. */
	req.url = url("/bigchunk");
	start(&req, &chunk);
	/* The default limit (16 MiB) takes it. */
	req.url = url("/big");
	req.max_body = 0;
	start(&req, &fits);
	run_until(&big.done, 10000 * MS);
	run_until(&chunk.done, 10000 * MS);
	run_until(&fits.done, 10000 * MS);
	ck_assert_int_eq(big.error, -EFBIG);
	ck_assert(big.has_error_text);
	ck_assert_uint_eq(big.body_len, 0);
	ck_assert_int_eq(chunk.error, -EFBIG);
	ck_assert(chunk.has_error_text);
	ck_assert_int_eq(fits.error, 0);
	ck_assert_uint_eq(fits.body_len, 100000);
	ck_assert_int_eq(fits.body[0], 'a');
}
END_TEST

static void on_data(void *arg, const void *data, size_t len)
{
	struct result *r = arg;

	ck_assert_uint_le(r->stream_len + len, sizeof(r->stream) - 1);
	memcpy(r->stream + r->stream_len, data, len);
	r->stream_len += len;
	r->chunks++;
	if (r->cancel_on_data)
		http_cancel(r->self);
	if (r->start_on_data && r->chunks == 1) {
		struct strata_http_request req = request("GET", url("/echo"));

		r->spawned->self = http_start(http, &req, on_response,
					      r->spawned);
		ck_assert_ptr_nonnull(r->spawned->self);
	}
}

START_TEST(test_stream)
{
	struct result r = { 0 };
	struct strata_http_request req = request("GET", url("/chunked"));

	req.on_data = on_data;
	/* The limit is for buffered bodies; a stream passes through. */
	req.max_body = 4;
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.stream, "one\ntwo\nthree\n");
	/* Handed over as it came: the server paused between chunks. */
	ck_assert_int_ge(r.chunks, 2);
	/* The final response carries no body. */
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_str_eq(r.body, "");
}
END_TEST

START_TEST(test_cancel)
{
	struct result r = { 0 }, early = { 0 };
	struct strata_http_request req = request("GET", url("/slow"));
	struct http_call *c;

	c = start(&req, &r);
	/* Cancelled before the loop ever ran it. */
	http_cancel(start(&req, &early));
	ck_assert_uint_eq(http_active(http), 1);
	run_for(200 * MS);
	http_cancel(c);
	ck_assert_uint_eq(http_active(http), 0);
	run_for(2000 * MS);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(early.calls, 0);
}
END_TEST

START_TEST(test_cancel_in_on_data)
{
	struct result r = { 0 }, after = { 0 };
	struct strata_http_request req = request("GET", url("/chunked"));

	req.on_data = on_data;
	r.cancel_on_data = true;
	start(&req, &r);
	run_for(700 * MS);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(r.chunks, 1);
	ck_assert_uint_eq(http_active(http), 0);

	/* The multi handle still works. */
	req = request("GET", url("/echo"));
	start(&req, &after);
	run_until(&after.done, 10000 * MS);
	ck_assert_str_eq(after.body, "GET ");
}
END_TEST

START_TEST(test_start_in_on_data)
{
	struct result r = { 0 }, spawned = { 0 };
	struct strata_http_request req = request("GET", url("/chunked"));

	req.on_data = on_data;
	r.start_on_data = true;
	r.spawned = &spawned;
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	run_until(&spawned.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_int_eq(spawned.error, 0);
	ck_assert_str_eq(spawned.body, "GET ");
	ck_assert_int_eq(spawned.calls, 1);
}
END_TEST

START_TEST(test_cancel_other_in_cb)
{
	struct result fast = { 0 }, slow = { 0 };
	struct strata_http_request req = request("GET", url("/slow"));

	start(&req, &slow);
	req.url = url("/echo");
	start(&req, &fast);
	fast.victim = slow.self;
	run_until(&fast.done, 10000 * MS);
	ck_assert_uint_eq(http_active(http), 0);
	run_for(2000 * MS);
	ck_assert_int_eq(fast.calls, 1);
	ck_assert_int_eq(slow.calls, 0);
}
END_TEST

START_TEST(test_free_in_flight)
{
	static struct result r1, r2;
	struct strata_http_request req = request("GET", url("/hang"));

	/* Teardown frees the handle with both still running. */
	start(&req, &r1);
	req.url = url("/slow");
	start(&req, &r2);
	run_for(200 * MS);
	ck_assert_uint_eq(http_active(http), 2);
	http_free(http);
	http = NULL;
	run_for(100 * MS);
	ck_assert_int_eq(r1.calls, 0);
	ck_assert_int_eq(r2.calls, 0);
}
END_TEST

struct stamp {
	bool fired;
	int64_t at;
};

static void stamp_cb(void *arg)
{
	struct stamp *s = arg;

	s->fired = true;
	s->at = loop_now();
}

START_TEST(test_slow_server_does_not_delay_timer)
{
	struct result r = { 0 };
	struct stamp ts = { 0 };
	struct strata_http_request req = request("GET", url("/slow"));
	struct loop_timer *t;
	int64_t t0 = loop_now();

	start(&req, &r);
	t = loop_timer_add(loop, 100 * MS, 0, stamp_cb, &ts);
	ck_assert_ptr_nonnull(t);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_str_eq(r.body, "slow");
	ck_assert(ts.fired);
	ck_assert_int_lt(ts.at, r.at);
	ck_assert_int_ge(ts.at - t0, 100 * MS);
	ck_assert_int_lt(ts.at - t0, 1000 * MS);
	ck_assert_int_ge(r.at - t0, 1500 * MS);
	loop_timer_cancel(t);
}
END_TEST

START_TEST(test_parallel)
{
	struct result r[20];
	char bodies[20][16];
	struct strata_http_request req = request("POST", url("/echo"));

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 20; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "n%d", i);
		req.body = bodies[i];
		req.body_len = strlen(bodies[i]);
		start(&req, &r[i]);
	}
	ck_assert_uint_eq(http_active(http), 20);
	for (int i = 0; i < 20; i++) {
		char want[32];

		run_until(&r[i].done, 10000 * MS);
		snprintf(want, sizeof(want), "POST n%d", i);
		ck_assert_str_eq(r[i].body, want);
		ck_assert_int_eq(r[i].calls, 1);
	}
	ck_assert_uint_eq(http_active(http), 0);
}
END_TEST

START_TEST(test_unix_socket)
{
	struct srv us;
	struct result r = { 0 }, gone = { 0 };
	struct strata_http_request req = request("POST", "http://localhost/echo");
	char missing[256];

	srv_start_unix(&us);
	req.unix_socket = us.path;
	req.body = "over unix";
	req.body_len = 9;
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, 0);
	ck_assert_str_eq(r.body, "POST over unix");
	ck_assert_int_eq(atomic_load(&us.requests), 1);
	/* Nothing reached the TCP server. */
	ck_assert_int_eq(atomic_load(&srv.requests), 0);

	snprintf(missing, sizeof(missing), "%s/none.sock", us.dir);
	req.unix_socket = missing;
	start(&req, &gone);
	run_until(&gone.done, 10000 * MS);
	ck_assert_int_eq(gone.error, -ECONNREFUSED);
	srv_stop(&us);
}
END_TEST

START_TEST(test_invalid)
{
	struct result r = { 0 };
	struct strata_http_request req = request("GET", url("/echo"));
	const char *bad_headers[] = { "X-A: b\r\nX-Injected: 1", NULL };

	req.size = 8;
	errno = 0;
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request(NULL, url("/echo"));
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request("GET", NULL);
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request("GE T", url("/echo"));
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request("GET", url("/echo"));
	req.headers = bad_headers;
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request("POST", url("/echo"));
	req.body_len = 3;
	ck_assert_ptr_null(http_start(http, &req, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	req = request("GET", url("/echo"));
	ck_assert_ptr_null(http_start(http, &req, NULL, &r));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(http_start(http, NULL, on_response, &r));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(http_active(http), 0);
	/* A non-http scheme fails on the loop, as a transfer error. */
	req = request("GET", "file:///etc/passwd");
	start(&req, &r);
	run_until(&r.done, 10000 * MS);
	ck_assert_int_eq(r.error, -EIO);
	ck_assert_uint_eq(r.body_len, 0);
	http_cancel(NULL);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_post_put_echo);
	tcase_add_test(tc, test_body_is_copied);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_status_codes);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_max_body);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_cancel_in_on_data);
	tcase_add_test(tc, test_start_in_on_data);
	tcase_add_test(tc, test_cancel_other_in_cb);
	tcase_add_test(tc, test_free_in_flight);
	tcase_add_test(tc, test_slow_server_does_not_delay_timer);
	tcase_add_test(tc, test_parallel);
	tcase_add_test(tc, test_unix_socket);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
