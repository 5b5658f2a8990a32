/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket. A connection is READING its request, then PENDING on
 * a handler, then WRITING the reply, then closed. The call (the handler's
 * side) and the connection (the client's side) point at each other; the
 * one that ends first unhooks itself, so a handler may answer after the
 * client left, and after control_free() (which orphans pending calls).
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

#include "control.h"
#include "log.h"
#include "loop.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define MAX_DEPTH 64
#define READ_CHUNK 4096
#define ACCEPT_BATCH 16
#define ACCEPT_PAUSE_NS 100000000LL

enum conn_state { CONN_READING, CONN_PENDING, CONN_WRITING };

struct command {
	struct command *next;
	char *name;
	control_handler fn;
	void *arg;
};

struct conn {
	struct conn *prev, *next;
	struct control *c;
	int fd;
	enum conn_state state;
	uint32_t events;
	struct loop_fd *watch;
	struct loop_timer *timer; /* periodic: a firing in PENDING is ignored */
	struct ucred cred;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff;
	struct control_call *call;
	bool dispatching; /* a reply now must wait for the handler to return */
};

struct control_call {
	struct control_call *prev, *next;
	struct control *c; /* NULL once control_free() orphaned the call */
	struct conn *conn; /* NULL for control_serve(), or the client left */
	control_reply_fn reply_fn;
	void *reply_arg;
	char *command;
	yajl_gen gen;
};

struct control {
	struct loop *loop;
	char *path;
	dev_t dev;
	ino_t ino;
	int fd;
	struct loop_fd *watch;
	struct loop_timer *pause;
	bool has_group;
	gid_t gid;
	int64_t timeout_ns;
	struct command *commands;
	struct conn *conns;
	unsigned nconns;
	struct control_call *calls;
};

static void conn_flush(struct conn *k);

/* ---- replies ------------------------------------------------------------- */

static char *gen_take(yajl_gen g, size_t *len)
{
	const unsigned char *buf;
	size_t blen;
	char *s;

	if (yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok)
		return NULL;
	s = malloc(blen + 2);
	if (!s)
		return NULL;
	memcpy(s, buf, blen);
	s[blen] = '\n';
	s[blen + 1] = '\0';
	*len = blen + 1;
	return s;
}

static char *reply_error(const char *msg, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char *s = NULL;

	if (!g)
		return NULL;
	if (yajl_gen_map_open(g) ||
	    yajl_gen_string(g, (const unsigned char *)"version", 7) ||
	    yajl_gen_integer(g, CONTROL_VERSION) ||
	    yajl_gen_string(g, (const unsigned char *)"ok", 2) ||
	    yajl_gen_bool(g, 0) ||
	    yajl_gen_string(g, (const unsigned char *)"error", 5) ||
	    yajl_gen_string(g, (const unsigned char *)msg, strlen(msg)) ||
	    yajl_gen_map_close(g))
		goto free_gen;
	s = gen_take(g, len);
free_gen:
	yajl_gen_free(g);
	return s;
}

static char *reply_ok(const unsigned char *result, size_t rlen, size_t *len)
{
	char head[64];
	int hlen;
	char *s;

	hlen = snprintf(head, sizeof(head),
			"{\"version\":%d,\"ok\":true,\"result\":",
			CONTROL_VERSION);
	s = malloc(hlen + rlen + 3);
	if (!s)
		return NULL;
	memcpy(s, head, hlen);
	memcpy(s + hlen, result, rlen);
	memcpy(s + hlen + rlen, "}\n", 3);
	*len = hlen + rlen + 2;
	return s;
}

static const char *too_large(void)
{
	static char msg[64];

	if (!msg[0])
		snprintf(msg, sizeof(msg), "request too large (max %d bytes)",
			 CONTROL_MAX_REQUEST);
	return msg;
}

/* ---- request parsing ----------------------------------------------------- */

struct check {
	int depth;
	const char *why;
};

static int check_open(void *ctx)
{
	struct check *ck = ctx;

	if (++ck->depth > MAX_DEPTH) {
		ck->why = "nested deeper than 64 levels";
		return 0;
	}
	return 1;
}

static int check_close(void *ctx)
{
	struct check *ck = ctx;

	ck->depth--;
	return 1;
}

/* yajl_tree keeps strings NUL-terminated without a length: refuse \u0000
 * rather than let "status\u0000x" silently become "status". */
static int check_string(void *ctx, const unsigned char *s, size_t len)
{
	struct check *ck = ctx;

	if (memchr(s, '\0', len)) {
		ck->why = "\\u0000 in a string is not supported";
		return 0;
	}
	return 1;
}

static const yajl_callbacks check_callbacks = {
	.yajl_string = check_string,
	.yajl_start_map = check_open,
	.yajl_map_key = check_string,
	.yajl_end_map = check_close,
	.yajl_start_array = check_open,
	.yajl_end_array = check_close,
};

static bool all_space(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", buf[i]) || !buf[i])
			return false;
	return true;
}

/* yajl_tree_parse only says what, not where: a first pass finds where. */
static int check_json(const char *buf, size_t len, char *err, size_t errlen)
{
	struct check ck = { 0 };
	yajl_handle h;
	yajl_status st;
	unsigned char *msg;
	const char *m, *p;
	size_t at, mlen;

	if (all_space(buf, len)) {
		snprintf(err, errlen, "empty request");
		return -EINVAL;
	}
	h = yajl_alloc(&check_callbacks, NULL, &ck);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		at = len;
	} else {
		at = yajl_get_bytes_consumed(h);
	}
	if (st == yajl_status_ok) {
		yajl_free(h);
		return 0;
	}
	if (st == yajl_status_client_canceled) {
		snprintf(err, errlen, "invalid JSON at byte %zu: %s", at,
			 ck.why);
		yajl_free(h);
		return -EINVAL;
	}
	msg = yajl_get_error(h, 0, NULL, 0);
	m = msg ? (const char *)msg : "parse error";
	/* "lexical error: invalid char in json text.\n": keep the reason */
	p = strstr(m, "error: ");
	if (p)
		m = p + 7;
	mlen = strcspn(m, "\n");
	snprintf(err, errlen, "invalid JSON at byte %zu: %.*s", at, (int)mlen,
		 m);
	if (msg)
		yajl_free_error(h, msg);
	yajl_free(h);
	return -EINVAL;
}

static yajl_val object_get(yajl_val obj, const char *key)
{
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

int control_parse_request(const char *buf, size_t len, char **command,
			  yajl_val *tree, yajl_val *args, char *err,
			  size_t errlen)
{
	yajl_val t, v, cmd, a;
	char *copy;
	int r;

	*command = NULL;
	*tree = NULL;
	*args = NULL;
	r = check_json(buf, len, err, errlen);
	if (r < 0)
		return r;
	copy = malloc(len + 1);
	if (!copy)
		goto nomem;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	t = yajl_tree_parse(copy, NULL, 0);
	free(copy);
	if (!t)
		goto nomem;

	r = -EINVAL;
	if (!YAJL_IS_OBJECT(t)) {
		snprintf(err, errlen, "request must be a JSON object");
		goto free_tree;
	}
	v = object_get(t, "version");
	if (v && !YAJL_IS_INTEGER(v)) {
		snprintf(err, errlen, "\"version\" must be an integer");
		goto free_tree;
	}
	if (v && YAJL_GET_INTEGER(v) != CONTROL_VERSION) {
		snprintf(err, errlen,
			 "unsupported version %lld (this stratad speaks %d)",
			 YAJL_GET_INTEGER(v), CONTROL_VERSION);
		goto free_tree;
	}
	cmd = object_get(t, "command");
	if (!cmd) {
		snprintf(err, errlen, "missing \"command\"");
		goto free_tree;
	}
	if (!YAJL_IS_STRING(cmd)) {
		snprintf(err, errlen, "\"command\" must be a string");
		goto free_tree;
	}
	if (!cmd->u.string[0]) {
		snprintf(err, errlen, "\"command\" must not be empty");
		goto free_tree;
	}
	a = object_get(t, "args");
	if (a && !YAJL_IS_NULL(a) && !YAJL_IS_OBJECT(a)) {
		snprintf(err, errlen, "\"args\" must be an object");
		goto free_tree;
	}
	*command = strdup(cmd->u.string);
	if (!*command) {
		yajl_tree_free(t);
		goto nomem;
	}
	*tree = t;
	*args = YAJL_IS_OBJECT(a) ? a : NULL;
	return 0;

free_tree:
	yajl_tree_free(t);
	return r;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* ---- calls --------------------------------------------------------------- */

static struct control_call *call_new(struct control *c)
{
	struct control_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->gen = yajl_gen_alloc(NULL);
	if (!call->gen) {
		free(call);
		return NULL;
	}
	call->c = c;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	return call;
}

static void call_unlink(struct control_call *call)
{
	struct control *c = call->c;

	if (!c)
		return;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static bool call_wanted(const struct control_call *call)
{
	return call->c && (call->conn || call->reply_fn);
}

static void conn_reply(struct conn *k, char *reply, size_t len);

/* Takes reply (NULL: none could be built). Frees the call. */
static void call_finish(struct control_call *call, char *reply, size_t len)
{
	if (call->c) {
		call_unlink(call);
		if (call->conn) {
			call->conn->call = NULL;
			conn_reply(call->conn, reply, len);
			reply = NULL;
		} else if (call->reply_fn && reply) {
			call->reply_fn(call->reply_arg, reply, len);
		}
	}
	free(reply);
	yajl_gen_free(call->gen);
	free(call->command);
	free(call);
}

static void call_fail_msg(struct control_call *call, const char *msg)
{
	char *reply = NULL;
	size_t len = 0;

	if (call_wanted(call))
		reply = reply_error(msg, &len);
	call_finish(call, reply, len);
}

yajl_gen control_call_gen(struct control_call *call)
{
	return call->gen;
}

void control_call_done(struct control_call *call)
{
	const unsigned char *buf;
	size_t blen = 0, len = 0;
	yajl_gen_status st;
	char *reply;

	if (!call_wanted(call)) {
		call_finish(call, NULL, 0);
		return;
	}
	yajl_gen_get_buf(call->gen, &buf, &blen);
	/* A complete value refuses more; an untouched generator takes the
	 * null and the result is null; anything else was left half done. */
	st = yajl_gen_null(call->gen);
	if (st == yajl_gen_generation_complete ||
	    (blen == 0 && st == yajl_gen_status_ok)) {
		yajl_gen_get_buf(call->gen, &buf, &blen);
		reply = reply_ok(buf, blen, &len);
	} else {
		log_err("control: the handler of \"%s\" left its result incomplete",
			call->command ? call->command : "?");
		reply = reply_error("internal error: incomplete result", &len);
	}
	call_finish(call, reply, len);
}

void control_call_fail(struct control_call *call, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (!call_wanted(call)) {
		call_finish(call, NULL, 0);
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	call_fail_msg(call, msg ? msg : "out of memory");
	free(msg);
}

static struct command *command_find(struct control *c, const char *name)
{
	for (struct command *cmd = c->commands; cmd; cmd = cmd->next)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

/* Parse, look up, run. Every path ends the call or hands it to a handler. */
static void dispatch(struct control *c, struct control_call *call,
		     const char *buf, size_t len)
{
	char err[256];
	char *command;
	yajl_val tree, args;
	struct command *cmd;

	if (len > CONTROL_MAX_REQUEST) {
		call_fail_msg(call, too_large());
		return;
	}
	if (control_parse_request(buf, len, &command, &tree, &args, err,
				  sizeof(err)) < 0) {
		log_debug("control: bad request: %s", err);
		call_fail_msg(call, err);
		return;
	}
	call->command = command;
	cmd = command_find(c, command);
	log_debug("control: command \"%s\"%s", command,
		  cmd ? "" : " (unknown)");
	if (!cmd)
		control_call_fail(call, "unknown command \"%s\"", command);
	else
		cmd->fn(cmd->arg, call, args);
	yajl_tree_free(tree);
}

int control_serve(struct control *c, const char *buf, size_t len,
		  control_reply_fn fn, void *arg)
{
	struct control_call *call = call_new(c);

	if (!call)
		return -ENOMEM;
	call->reply_fn = fn;
	call->reply_arg = arg;
	dispatch(c, call, buf, len);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void help_cmd(void *arg, struct control_call *call, yajl_val args)
{
	struct control *c = arg;
	yajl_gen g = control_call_gen(call);
	const char **names;
	size_t n = 0, i;

	for (struct command *cmd = c->commands; cmd; cmd = cmd->next)
		n++;
	names = calloc(n, sizeof(*names));
	if (!names) {
		control_call_fail(call, "out of memory");
		return;
	}
	i = 0;
	for (struct command *cmd = c->commands; cmd; cmd = cmd->next)
		names[i++] = cmd->name;
	qsort(names, n, sizeof(*names), name_cmp);
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"commands", 8);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		yajl_gen_string(g, (const unsigned char *)names[i],
				strlen(names[i]));
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	free(names);
	control_call_done(call);
}

int control_register(struct control *c, const char *command,
		     control_handler fn, void *arg)
{
	struct command *cmd, **tail;

	if (!command || !command[0] || !fn)
		return -EINVAL;
	if (command_find(c, command))
		return -EEXIST;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->name = strdup(command);
	if (!cmd->name) {
		free(cmd);
		return -ENOMEM;
	}
	cmd->fn = fn;
	cmd->arg = arg;
	for (tail = &c->commands; *tail; tail = &(*tail)->next)
		;
	*tail = cmd;
	return 0;
}

void control_set_timeout(struct control *c, int64_t ns)
{
	if (ns > 0)
		c->timeout_ns = ns;
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct conn *k)
{
	struct control *c = k->c;

	if (k->call)
		k->call->conn = NULL;
	loop_fd_del(k->watch);
	loop_timer_cancel(k->timer);
	close(k->fd);
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->nconns--;
	free(k->in);
	free(k->out);
	free(k);
}

static int conn_watch(struct conn *k, uint32_t events)
{
	if (k->events == events)
		return 0;
	k->events = events;
	return loop_fd_mod(k->watch, events);
}

/* Takes reply; NULL closes without one. Sends now unless a handler runs. */
static void conn_reply(struct conn *k, char *reply, size_t len)
{
	k->out = reply;
	k->outlen = reply ? len : 0;
	k->outoff = 0;
	k->state = CONN_WRITING;
	loop_timer_reset(k->timer, k->c->timeout_ns);
	if (!k->dispatching)
		conn_flush(k);
}

static void conn_error(struct conn *k, const char *msg)
{
	size_t len = 0;
	char *reply = reply_error(msg, &len);

	conn_reply(k, reply, len);
}

static void conn_flush(struct conn *k)
{
	ssize_t n;

	while (k->outoff < k->outlen) {
		n = send(k->fd, k->out + k->outoff, k->outlen - k->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_watch(k, EPOLLOUT) < 0)
				conn_close(k);
			return;
		}
		if (n < 0) {
			log_debug("control: pid %d: %s", (int)k->cred.pid,
				  strerror(errno));
			conn_close(k);
			return;
		}
		k->outoff += n;
		/* a slow reader that keeps reading may take its time */
		if (k->outoff < k->outlen)
			loop_timer_reset(k->timer, k->c->timeout_ns);
	}
	conn_close(k);
}

static void conn_request(struct conn *k, size_t len)
{
	struct control_call *call;

	/* only hangups and errors now: the client may have shut its side */
	k->state = CONN_PENDING;
	if (conn_watch(k, 0) < 0) {
		conn_close(k);
		return;
	}
	call = call_new(k->c);
	if (!call) {
		conn_close(k);
		return;
	}
	call->conn = k;
	k->call = call;
	k->dispatching = true;
	dispatch(k->c, call, k->in, len);
	k->dispatching = false;
	free(k->in);
	k->in = NULL;
	k->inlen = k->incap = 0;
	if (k->state == CONN_WRITING)
		conn_flush(k);
}

static void conn_read(struct conn *k)
{
	size_t cap;
	ssize_t n;
	char *p, *nl;

	for (;;) {
		if (k->inlen == k->incap) {
			cap = k->incap ? k->incap * 2 : READ_CHUNK;
			if (cap > CONTROL_MAX_REQUEST + 1)
				cap = CONTROL_MAX_REQUEST + 1;
			p = realloc(k->in, cap);
			if (!p) {
				conn_close(k);
				return;
			}
			k->in = p;
			k->incap = cap;
		}
		n = recv(k->fd, k->in + k->inlen, k->incap - k->inlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			log_debug("control: pid %d: %s", (int)k->cred.pid,
				  strerror(errno));
			conn_close(k);
			return;
		}
		if (n == 0) {
			/* the client shut its side: what came is the request;
			 * nothing at all is a probe (another stratad's) */
			if (k->inlen == 0)
				conn_close(k);
			else
				conn_request(k, k->inlen);
			return;
		}
		nl = memchr(k->in + k->inlen, '\n', n);
		if (nl) {
			conn_request(k, nl - k->in);
			return;
		}
		k->inlen += n;
		if (k->inlen > CONTROL_MAX_REQUEST) {
			log_debug("control: pid %d: %s", (int)k->cred.pid,
				  too_large());
			conn_error(k, too_large());
			return;
		}
	}
}

static void conn_event(void *arg, int fd, uint32_t events)
{
	struct conn *k = arg;

	switch (k->state) {
	case CONN_READING:
		conn_read(k);
		break;
	case CONN_PENDING:
		/* the client left; the call finishes on its own later */
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(k);
		break;
	case CONN_WRITING:
		conn_flush(k);
		break;
	}
}

static void conn_timeout(void *arg)
{
	struct conn *k = arg;
	int64_t t = k->c->timeout_ns;
	char msg[80];

	switch (k->state) {
	case CONN_READING:
		if (t % 1000000000 == 0)
			snprintf(msg, sizeof(msg),
				 "timed out waiting for the request (%lld s)",
				 (long long)(t / 1000000000));
		else
			snprintf(msg, sizeof(msg),
				 "timed out waiting for the request (%lld ms)",
				 (long long)(t / 1000000));
		log_debug("control: pid %d: %s", (int)k->cred.pid, msg);
		conn_error(k, msg);
		break;
	case CONN_PENDING:
		break;
	case CONN_WRITING:
		log_debug("control: pid %d: reply not read in time",
			  (int)k->cred.pid);
		conn_close(k);
		break;
	}
}

static bool peer_allowed(struct control *c, int fd, const struct ucred *cred)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool ok = false;

	if (cred->uid == 0)
		return true;
	if (!c->has_group)
		return false;
	if (cred->gid == c->gid)
		return true;
	/* the supplementary groups the peer had when it connected */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE)
			return false;
		groups = malloc(len);
		if (!groups)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			goto free_groups;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == c->gid)
			ok = true;
free_groups:
	if (groups != small)
		free(groups);
	return ok;
}

/* Best effort on a fresh socket, whose buffer has room for one line. */
static void say_and_close(int fd, const char *msg)
{
	size_t len;
	char *reply = reply_error(msg, &len);

	if (reply && send(fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("control: %s", strerror(errno));
	free(reply);
	close(fd);
}

static void conn_accept(struct control *c, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *k;
	char msg[64];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_warn("control: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	if (!peer_allowed(c, fd, &cred)) {
		log_warn("control: refused pid %d uid %u gid %u",
			 (int)cred.pid, (unsigned)cred.uid, (unsigned)cred.gid);
		say_and_close(fd, "permission denied");
		return;
	}
	if (c->nconns >= CONTROL_MAX_CONNECTIONS) {
		log_warn("control: %u connections open, turning pid %d away",
			 c->nconns, (int)cred.pid);
		snprintf(msg, sizeof(msg), "busy: too many connections (max %d)",
			 CONTROL_MAX_CONNECTIONS);
		say_and_close(fd, msg);
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		goto close_fd;
	k->c = c;
	k->fd = fd;
	k->cred = cred;
	k->state = CONN_READING;
	k->events = EPOLLIN;
	k->timer = loop_timer_add(c->loop, c->timeout_ns, c->timeout_ns,
				  conn_timeout, k);
	if (!k->timer)
		goto free_conn;
	k->watch = loop_fd_add(c->loop, fd, EPOLLIN, conn_event, k);
	if (!k->watch)
		goto cancel_timer;
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	c->nconns++;
	return;

cancel_timer:
	loop_timer_cancel(k->timer);
free_conn:
	free(k);
close_fd:
	log_warn("control: cannot take a connection: out of memory");
	close(fd);
}

static void accept_resume(void *arg)
{
	struct control *c = arg;

	loop_timer_cancel(c->pause);
	c->pause = NULL;
	loop_fd_mod(c->watch, EPOLLIN);
}

static void control_accept(void *arg, int fd, uint32_t events)
{
	struct control *c = arg;
	int cfd;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			conn_accept(c, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* out of fds or memory: back off instead of spinning */
		log_warn("control: accept: %s", strerror(errno));
		if (c->pause)
			return;
		c->pause = loop_timer_add(c->loop, ACCEPT_PAUSE_NS,
					  ACCEPT_PAUSE_NS, accept_resume, c);
		if (c->pause)
			loop_fd_mod(c->watch, 0);
		return;
	}
}

/* ---- the listening socket ------------------------------------------------ */

static int make_parent(const char *path)
{
	char *dir = strdup(path);
	char *p, saved;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		goto free_dir;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		/* a umask must not make it unreachable for the group */
		if (mkdir(dir, 0755) == 0) {
			chmod(dir, 0755);
		} else if (errno != EEXIST) {
			r = -errno;
			goto free_dir;
		}
		*p = saved;
		if (!saved)
			break;
	}
free_dir:
	free(dir);
	return r;
}

/* EADDRINUSE: a live daemon answers a connect; a dead one's file does not. */
static int bind_or_replace(int fd, const struct sockaddr_un *sa,
			   const char *path, char *err, size_t errlen)
{
	struct stat st;
	int probe, r;

	for (int tries = 0; tries < 2; tries++) {
		if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			break;
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket",
				 path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0)
			break;
		r = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
		if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
			close(probe);
			snprintf(err, errlen, "%s: another stratad is listening",
				 path);
			return -EADDRINUSE;
		}
		r = errno;
		close(probe);
		if (r != ECONNREFUSED && r != ENOENT) {
			errno = r;
			break;
		}
		log_info("control: removing stale socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT)
			break;
	}
	r = -errno;
	snprintf(err, errlen, "%s: bind: %s", path, strerror(errno));
	return r;
}

static int control_listen(struct control *c, const char *path, unsigned mode,
			  char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int r;

	if (!path[0]) {
		snprintf(err, errlen, "empty control socket path");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (max %zu bytes)",
			 path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->path = strdup(path);
	if (!c->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = make_parent(path);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s",
			 path, strerror(-r));
		return r;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return r;
	}
	r = bind_or_replace(c->fd, &sa, path, err, errlen);
	if (r < 0)
		return r;
	/* listen() last: nobody connects before owner and mode are right */
	if (c->has_group && chown(path, (uid_t)-1, c->gid) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: chown: %s", path, strerror(errno));
		goto unlink_path;
	}
	if (chmod(path, mode) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		goto unlink_path;
	}
	if (stat(path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	if (listen(c->fd, SOMAXCONN) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: listen: %s", path, strerror(errno));
		goto unlink_path;
	}
	c->watch = loop_fd_add(c->loop, c->fd, EPOLLIN, control_accept, c);
	if (!c->watch) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: cannot watch the socket", path);
		goto unlink_path;
	}
	return 0;

unlink_path:
	unlink(path);
	return r;
}

int control_new(struct loop *loop, const char *path, unsigned mode,
		const char *group, struct control **out, char *err,
		size_t errlen)
{
	struct control *c;
	struct group *gr;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->loop = loop;
	c->fd = -1;
	c->timeout_ns = CONTROL_TIMEOUT_NS;
	r = control_register(c, "help", help_cmd, c);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		goto free_control;
	}
	if (group) {
		errno = 0;
		gr = getgrnam(group);
		if (!gr) {
			r = errno ? -errno : -ENOENT;
			snprintf(err, errlen, "unknown group \"%s\"", group);
			goto free_control;
		}
		c->has_group = true;
		c->gid = gr->gr_gid;
	}
	if (path) {
		r = control_listen(c, path, mode, err, errlen);
		if (r < 0)
			goto free_control;
	}
	*out = c;
	return 0;

free_control:
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->path);
	c->path = NULL;
	control_free(c);
	return r;
}

void control_free(struct control *c)
{
	struct control_call *call, *next;
	struct command *cmd;
	struct stat st;

	if (!c)
		return;
	while (c->conns)
		conn_close(c->conns);
	for (call = c->calls; call; call = next) {
		next = call->next;
		call->prev = call->next = NULL;
		call->c = NULL;
	}
	if (c->watch)
		loop_fd_del(c->watch);
	if (c->pause)
		loop_timer_cancel(c->pause);
	if (c->fd >= 0)
		close(c->fd);
	/* only our own file: a successor may already have replaced it */
	if (c->path && stat(c->path, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino)
		unlink(c->path);
	while ((cmd = c->commands)) {
		c->commands = cmd->next;
		free(cmd->name);
		free(cmd);
	}
	free(c->path);
	free(c);
}
