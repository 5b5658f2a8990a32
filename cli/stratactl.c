/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratactl: one request to stratad's control socket, and its reply shown
 * for a human, or as JSON with --json. The protocol is in
 * docs/control-protocol.md; this tool knows no command in particular.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "../core/plug.h"
#include "client.h"
#include "migrate.h"
#include "plan.h"

#ifndef RUNDIR
#define RUNDIR "/run/strata"
#endif

#define DEFAULT_SOCKET RUNDIR "/stratad.sock"
#define PROTOCOL_VERSION 1
#define MAX_REPLY (64 << 20)

enum { EXIT_DAEMON_ERROR = 1, EXIT_TROUBLE = 2 };

static const char *prog = "stratactl";
static const char *command;
static double timeout = 10;
static bool timeout_set;
static char *extra_arg; /* one more KEY=VALUE for the request */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [KEY=VALUE ...]\n"
		"Send COMMAND to stratad and show its reply.\n"
		"\n"
		"  -s, --socket PATH      control socket (default: $STRATA_SOCKET,\n"
		"                         else %s)\n"
		"      --json             print the result as JSON\n"
		"      --timeout SECONDS  give up after this long (default 10)\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"Words of COMMAND join with '-' (\"store check\" is store-check).\n"
		"KEY=VALUE pairs become the command's arguments; a VALUE that is\n"
		"a decimal integer or true/false is sent as that type.\n"
		"\"%s help\" lists the commands stratad knows.\n"
		"\n"
		"\"%s host remove NAME\" returns a gone host's blocks to its subnet.\n"
		"\"%s health\" shows the forwarders, their observers and alarms.\n"
		"\"%s policy [NAMESPACE/]POD\" explains what may reach the pod and\n"
		"what it may reach, and which NetworkPolicy allows it.\n"
		"\"%s drain NODE\" moves every route off NODE before maintenance\n"
		"(waits up to --timeout, 30 s by default); \"%s undrain NODE\".\n"
		"\n"
		"These run here, without stratad (each has --help):\n"
		"  %s plan --topology FILE   what a topology needs: carving, routes\n"
		"  %s store migrate --from sqlite:PATH --to etcd:URL\n"
		"\n"
		"Exit status: 0 done, 1 stratad reported an error, 2 usage error\n"
		"or no answer from stratad.\n",
		prog, DEFAULT_SOCKET, prog, prog, prog, prog, prog, prog,
		prog, prog);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* ---- the request --------------------------------------------------------- */

static bool is_integer(const char *s)
{
	const char *p = s;
	char *end;

	if (*p == '-')
		p++;
	if (!*p || (*p == '0' && p[1]))
		return false; /* "0755" stays a string */
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	strtoll(s, &end, 10);
	return errno == 0 && !*end; /* ERANGE: too big, a string then */
}

static void gen_str(yajl_gen g, const char *s, size_t len)
{
	yajl_gen_string(g, (const unsigned char *)s, len);
}

/* {"version":1,"command":C,"args":{...}}\n */
static char *build_request(char **kv, int n, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t blen;
	char *req;

	if (!g)
		die(EXIT_TROUBLE, "out of memory");
	yajl_gen_map_open(g);
	gen_str(g, "version", 7);
	yajl_gen_integer(g, PROTOCOL_VERSION);
	gen_str(g, "command", 7);
	gen_str(g, command, strlen(command));
	if (n > 0) {
		gen_str(g, "args", 4);
		yajl_gen_map_open(g);
	}
	for (int i = 0; i < n; i++) {
		char *eq = strchr(kv[i], '=');
		const char *val;

		if (!eq || eq == kv[i])
			die(EXIT_TROUBLE, "expected KEY=VALUE, got \"%s\"",
			    kv[i]);
		for (int j = 0; j < i; j++)
			if (!strncmp(kv[j], kv[i], eq - kv[i] + 1))
				die(EXIT_TROUBLE, "%.*s= given twice",
				    (int)(eq - kv[i]), kv[i]);
		val = eq + 1;
		gen_str(g, kv[i], eq - kv[i]);
		if (!strcmp(val, "true") || !strcmp(val, "false"))
			yajl_gen_bool(g, val[0] == 't');
		else if (is_integer(val))
			yajl_gen_integer(g, strtoll(val, NULL, 10));
		else
			gen_str(g, val, strlen(val));
	}
	if (n > 0)
		yajl_gen_map_close(g);
	if (yajl_gen_map_close(g) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok)
		die(EXIT_TROUBLE, "cannot build the request");
	req = malloc(blen + 2);
	if (!req)
		die(EXIT_TROUBLE, "out of memory");
	memcpy(req, buf, blen);
	req[blen] = '\n';
	req[blen + 1] = '\0';
	*len = blen + 1;
	yajl_gen_free(g);
	return req;
}

/* ---- the conversation ---------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int64_t now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void wait_for(int fd, short events, int64_t deadline, const char *path)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			die(EXIT_TROUBLE, "%s: no reply from %s within %g s",
			    command, path, timeout);
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return;
		if (r < 0 && errno != EINTR)
			die(EXIT_TROUBLE, "poll: %s", strerror(errno));
	}
}

static int connect_to(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		die(EXIT_TROUBLE, "cannot connect to %s: %s", path,
		    strerror(ENAMETOOLONG));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(EXIT_TROUBLE, "socket: %s", strerror(errno));
	/* EAGAIN: the daemon's backlog is full, it is alive but busy */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e != EAGAIN || now_ms() >= deadline)
			die(EXIT_TROUBLE, "cannot connect to %s: %s%s", path,
			    strerror(e),
			    e == ENOENT || e == ECONNREFUSED ?
				    " (is stratad running?)" : "");
		poll(NULL, 0, 10);
	}
	return fd;
}

static char *talk(const char *path, const char *req, size_t reqlen,
		  int64_t deadline)
{
	size_t off = 0, len = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t n;
	int fd;

	fd = connect_to(path, deadline);
	while (off < reqlen) {
		wait_for(fd, POLLOUT, deadline, path);
		n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* the daemon may have answered already (busy, too large,
		 * not allowed): read what it said */
		if (n < 0)
			break;
		off += n;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_REPLY)
				die(EXIT_TROUBLE, "%s: reply larger than %d MiB",
				    command, MAX_REPLY >> 20);
			p = realloc(buf, cap + 1);
			if (!p)
				die(EXIT_TROUBLE, "out of memory");
			buf = p;
		}
		wait_for(fd, POLLIN, deadline, path);
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno == ECONNRESET && len > 0)
			break;
		if (n < 0)
			die(EXIT_TROUBLE, "%s: reading from %s: %s", command,
			    path, strerror(errno));
		if (n == 0)
			break;
		p = memchr(buf + len, '\n', n);
		len += n;
		if (p)
			break;
	}
	close(fd);
	if (len == 0)
		die(EXIT_TROUBLE, "%s: %s closed the connection without a reply",
		    command, path);
	buf[len] = '\0';
	return buf;
}

yajl_val stratactl_call(const char *socket, const char *cmd,
			yajl_val *result)
{
	const char *okp[] = { "ok", NULL }, *errp[] = { "error", NULL };
	const char *resp[] = { "result", NULL };
	char *req, *reply, err[256];
	yajl_val tree, ok, msg;
	size_t reqlen;

	if (!socket || !socket[0])
		socket = getenv("STRATA_SOCKET");
	if (!socket || !socket[0])
		socket = DEFAULT_SOCKET;
	command = cmd;
	req = build_request(NULL, 0, &reqlen);
	reply = talk(socket, req, reqlen, now_ms() + (int64_t)(timeout * 1000));
	free(req);
	tree = yajl_tree_parse(reply, err, sizeof(err));
	free(reply);
	ok = tree ? yajl_tree_get(tree, okp, yajl_t_any) : NULL;
	if (!ok || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok)))
		die(EXIT_TROUBLE, "%s: malformed reply from %s", cmd, socket);
	if (YAJL_IS_FALSE(ok)) {
		msg = yajl_tree_get(tree, errp, yajl_t_string);
		die(EXIT_DAEMON_ERROR, "%s: %s", cmd,
		    msg ? msg->u.string : "failed");
	}
	*result = yajl_tree_get(tree, resp, yajl_t_any);
	return tree;
}

/* ---- showing the result -------------------------------------------------- */

static bool is_scalar(yajl_val v)
{
	return !v || !(YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v));
}

/* Control characters from the wire do not reach the terminal. */
static char *clean(const char *s)
{
	char *out = strdup(s);

	if (!out)
		die(EXIT_TROUBLE, "out of memory");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

static char *scalar_str(yajl_val v)
{
	const char *s;

	if (!v || YAJL_IS_NULL(v))
		s = "-";
	else if (YAJL_IS_TRUE(v))
		s = "true";
	else if (YAJL_IS_FALSE(v))
		s = "false";
	else if (YAJL_IS_NUMBER(v))
		s = v->u.number.r;
	else
		s = v->u.string;
	return clean(s);
}

static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static yajl_val member(yajl_val obj, const char *key)
{
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

/* Flat objects that all have the same keys make a table. */
static bool is_table(yajl_val arr)
{
	yajl_val first, row;
	size_t i, j;

	if (arr->u.array.len == 0)
		return false;
	first = arr->u.array.values[0];
	if (!YAJL_IS_OBJECT(first) || first->u.object.len == 0)
		return false;
	for (i = 0; i < arr->u.array.len; i++) {
		row = arr->u.array.values[i];
		if (!YAJL_IS_OBJECT(row) ||
		    row->u.object.len != first->u.object.len)
			return false;
		for (j = 0; j < row->u.object.len; j++)
			if (!is_scalar(row->u.object.values[j]) ||
			    !member(first, row->u.object.keys[j]))
				return false;
	}
	return true;
}

static bool all_scalars(yajl_val arr)
{
	for (size_t i = 0; i < arr->u.array.len; i++)
		if (!is_scalar(arr->u.array.values[i]))
			return false;
	return true;
}

/* A list item's first line starts with "- " in place of two spaces. */
static bool bullet;

static void line_start(int indent)
{
	if (bullet) {
		printf("%*s- ", indent - 2, "");
		bullet = false;
	} else {
		printf("%*s", indent, "");
	}
}

static void print_padded(const char *s, size_t w, bool last)
{
	fputs(s, stdout);
	if (!last)
		printf("%*s", (int)(w - width(s) + 2), "");
}

static void render_table(yajl_val arr, int indent)
{
	yajl_val first = arr->u.array.values[0];
	size_t ncol = first->u.object.len, nrow = arr->u.array.len;
	size_t *w = calloc(ncol, sizeof(*w));
	char **head = calloc(ncol, sizeof(*head));
	char **cell = calloc(ncol * nrow, sizeof(*cell));
	size_t r, c;

	if (!w || !head || !cell)
		die(EXIT_TROUBLE, "out of memory");
	for (c = 0; c < ncol; c++) {
		head[c] = strdup(first->u.object.keys[c]);
		if (!head[c])
			die(EXIT_TROUBLE, "out of memory");
		for (char *p = head[c]; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p -= 'a' - 'A';
		w[c] = width(head[c]);
	}
	for (r = 0; r < nrow; r++) {
		for (c = 0; c < ncol; c++) {
			char *s = scalar_str(member(arr->u.array.values[r],
						    first->u.object.keys[c]));

			if (!s[0]) {
				free(s);
				s = scalar_str(NULL);
			}
			cell[r * ncol + c] = s;
			if (width(s) > w[c])
				w[c] = width(s);
		}
	}
	line_start(indent);
	for (c = 0; c < ncol; c++)
		print_padded(head[c], w[c], c == ncol - 1);
	putchar('\n');
	for (r = 0; r < nrow; r++) {
		printf("%*s", indent, "");
		for (c = 0; c < ncol; c++)
			print_padded(cell[r * ncol + c], w[c], c == ncol - 1);
		putchar('\n');
	}
	for (c = 0; c < ncol; c++)
		free(head[c]);
	for (r = 0; r < nrow * ncol; r++)
		free(cell[r]);
	free(head);
	free(cell);
	free(w);
}

static void print_joined(yajl_val arr)
{
	for (size_t i = 0; i < arr->u.array.len; i++) {
		char *s = scalar_str(arr->u.array.values[i]);

		printf("%s%s", i ? ", " : "", s);
		free(s);
	}
	putchar('\n');
}

static void render_value(yajl_val v, int indent);

static void render_member(const char *key, yajl_val v, int indent)
{
	char *k = clean(key), *s;

	line_start(indent);
	if (is_scalar(v)) {
		s = scalar_str(v);
		printf("%s: %s\n", k, s);
		free(s);
	} else if ((YAJL_IS_OBJECT(v) && v->u.object.len == 0) ||
		   (YAJL_IS_ARRAY(v) && v->u.array.len == 0)) {
		printf("%s: (none)\n", k);
	} else if (YAJL_IS_ARRAY(v) && all_scalars(v)) {
		printf("%s: ", k);
		print_joined(v);
	} else {
		printf("%s:\n", k);
		render_value(v, indent + 2);
	}
	free(k);
}

/* Any value, each line at indent; the caller printed what comes before. */
static void render_value(yajl_val v, int indent)
{
	char *s;
	size_t i;

	if (is_scalar(v)) {
		s = scalar_str(v);
		line_start(indent);
		printf("%s\n", s);
		free(s);
	} else if (YAJL_IS_OBJECT(v)) {
		if (v->u.object.len == 0) {
			line_start(indent);
			printf("(none)\n");
		}
		for (i = 0; i < v->u.object.len; i++)
			render_member(v->u.object.keys[i],
				      v->u.object.values[i], indent);
	} else if (v->u.array.len == 0) {
		line_start(indent);
		printf("(none)\n");
	} else if (is_table(v)) {
		render_table(v, indent);
	} else if (all_scalars(v)) {
		line_start(indent);
		print_joined(v);
	} else {
		for (i = 0; i < v->u.array.len; i++) {
			bullet = true;
			render_value(v->u.array.values[i], indent + 2);
		}
	}
}

static void gen_value(yajl_gen g, yajl_val v)
{
	size_t i;

	if (!v || YAJL_IS_NULL(v)) {
		yajl_gen_null(g);
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			gen_str(g, v->u.object.keys[i],
				strlen(v->u.object.keys[i]));
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		gen_str(g, v->u.string, strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	}
}

static void print_json(yajl_val v)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;

	if (!g)
		die(EXIT_TROUBLE, "out of memory");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	gen_value(g, v);
	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, stdout);
	yajl_gen_free(g);
}

/* ---- health ---------------------------------------------------------------- */

static const char *field_str(yajl_val o, const char *k)
{
	const char *path[] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_string);

	return v ? YAJL_GET_STRING(v) : "";
}

static long long field_int(yajl_val o, const char *k)
{
	const char *path[] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_number);

	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

static yajl_val field_array(yajl_val o, const char *k)
{
	const char *path[] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_array);

	return v && YAJL_IS_ARRAY(v) ? v : NULL;
}

static void ago(long long since_ms, char *buf, size_t len)
{
	long long s = (now_wall_ms() - since_ms) / 1000;

	if (!since_ms)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%llds ago", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm ago", s / 60);
	else
		snprintf(buf, len, "%lldh ago", s / 3600);
}

static void print_names(const char *label, yajl_val a)
{
	for (size_t i = 0; a && i < a->u.array.len; i++)
		if (YAJL_IS_STRING(a->u.array.values[i]))
			printf("%s%s\n", label,
			       YAJL_GET_STRING(a->u.array.values[i]));
}

/* Per target: its state and since when, its routes, each observer's say. */
/* The explanation as the policy plugin wrote it, a line each. */
static void render_policy(yajl_val r)
{
	const char *lp[] = { "lines", NULL };
	yajl_val lines = yajl_tree_get(r, lp, yajl_t_array);
	char *c;

	if (!lines)
		return;
	for (size_t i = 0; i < lines->u.array.len; i++) {
		yajl_val v = lines->u.array.values[i];

		if (!YAJL_IS_STRING(v))
			continue;
		c = clean(v->u.string);
		printf("%s\n", c);
		free(c);
	}
}

static void render_health(yajl_val r)
{
	yajl_val routes = field_array(r, "routes");
	yajl_val targets = field_array(r, "targets");
	char when[32];

	if (!*field_str(r, "writer")) {
		printf("no forwarding intent yet (no route writer has written one)\n");
		return;
	}
	printf("route writer %s (term %lld)\n", field_str(r, "writer"),
	       field_int(r, "term"));
	printf("\n%-24s %s\n", "CLOUD ROUTE", "FORWARDER");
	for (size_t i = 0; routes && i < routes->u.array.len; i++) {
		yajl_val o = routes->u.array.values[i];

		printf("%-24s %s\n", field_str(o, "dst"), field_str(o, "host"));
	}
	printf("\n%-16s %-8s %-10s %s\n", "TARGET", "STATE", "SINCE",
	       "OBSERVERS (state, reason)");
	for (size_t i = 0; targets && i < targets->u.array.len; i++) {
		yajl_val t = targets->u.array.values[i];
		yajl_val obs = field_array(t, "observers");

		ago(field_int(t, "since"), when, sizeof(when));
		printf("%-16s %-8s %-10s", field_str(t, "host"),
		       field_str(t, "state"), when);
		for (size_t k = 0; obs && k < obs->u.array.len; k++) {
			yajl_val o = obs->u.array.values[k];
			const char *path[] = { "live", NULL };
			yajl_val live = yajl_tree_get(o, path, yajl_t_any);
			const char *why = field_str(o, "reason");

			printf("%s %s %s%s%s%s", k ? "," : "",
			       field_str(o, "name"),
			       live && YAJL_IS_TRUE(live) ?
				       field_str(o, "state") : "silent",
			       *why ? " (" : "", why, *why ? ")" : "");
		}
		printf("\n");
	}
	print_names("unhealthy: ", field_array(r, "unhealthy"));
	print_names("drained: ", field_array(r, "drained"));
	print_names("ALARM: ", field_array(r, "alarms"));
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *path = getenv("STRATA_SOCKET");
	const char *okp[] = { "ok", NULL }, *errp[] = { "error", NULL };
	const char *resp[] = { "result", NULL };
	bool json = false;
	char *req, *reply, *end, err[256];
	yajl_val tree, ok, msg;
	size_t reqlen, cmdlen;
	char *joined;
	int words;
	int opt, status;

	/* the loader's checking child, for plan's plugin */
	if (argc == 3 && !strcmp(argv[1], "--plugin-check"))
		return plug_child_main(argv[2], PLUG_CHILD_FD);
	/* the commands that are no request to stratad */
	if (argc >= 2 && !strcmp(argv[1], "plan"))
		return plan_main(argc - 1, argv + 1);
	if (argc >= 3 && !strcmp(argv[1], "store") &&
	    !strcmp(argv[2], "migrate")) {
		static char name[] = "stratactl store migrate";

		argv[2] = name; /* what getopt's messages call it */
		return store_migrate_main(argc - 2, argv + 2);
	}
	if (!path || !path[0])
		path = DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			errno = 0;
			timeout = strtod(optarg, &end);
			if (errno || *end || end == optarg ||
			    !isfinite(timeout) || timeout <= 0 ||
			    timeout > 86400)
				die(EXIT_TROUBLE,
				    "--timeout: expected seconds, got \"%s\"",
				    optarg);
			timeout_set = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("stratactl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return EXIT_TROUBLE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	/* "host remove NAME" names its host without "name=" */
	if (argc - optind == 3 && !strcmp(argv[optind], "host") &&
	    !strcmp(argv[optind + 1], "remove") &&
	    !strchr(argv[optind + 2], '=')) {
		size_t len = strlen(argv[optind + 2]) + sizeof("name=");
		char *kv = malloc(len);

		if (!kv)
			die(EXIT_TROUBLE, "out of memory");
		snprintf(kv, len, "name=%s", argv[optind + 2]);
		argv[optind + 2] = kv; /* lives until exit */
	}
	/* "drain NODE", "undrain NODE": the node without "node="; drain
	 * waits for the writer as long as --timeout says (30 s default) */
	if (argc - optind == 2 && (!strcmp(argv[optind], "drain") ||
				   !strcmp(argv[optind], "undrain")) &&
	    !strchr(argv[optind + 1], '=')) {
		size_t len = strlen(argv[optind + 1]) + sizeof("node=");
		char *kv = malloc(len), *tkv = malloc(32);

		if (!kv || !tkv)
			die(EXIT_TROUBLE, "out of memory");
		snprintf(kv, len, "node=%s", argv[optind + 1]);
		argv[optind + 1] = kv; /* lives until exit */
		if (!strcmp(argv[optind], "drain")) {
			if (!timeout_set)
				timeout = 30;
			snprintf(tkv, 32, "timeout_ms=%lld",
				 (long long)(timeout * 1000));
			extra_arg = tkv;
			timeout += 5; /* the answer comes after the wait */
		} else {
			free(tkv);
		}
	}
	/* "policy [NAMESPACE/]POD": the pod without "name=" */
	if (argc - optind == 2 && !strcmp(argv[optind], "policy") &&
	    !strchr(argv[optind + 1], '=')) {
		const char *pod = argv[optind + 1], *slash = strchr(pod, '/');
		size_t len = strlen(pod) + sizeof("namespace=default");
		char *kv = malloc(len), *nkv = malloc(len);

		if (!kv || !nkv)
			die(EXIT_TROUBLE, "out of memory");
		if (!*pod || (slash && (slash == pod || !slash[1] ||
					strchr(slash + 1, '/'))))
			die(EXIT_TROUBLE,
			    "policy: expected [NAMESPACE/]POD, got \"%s\"", pod);
		snprintf(kv, len, "name=%s", slash ? slash + 1 : pod);
		snprintf(nkv, len, "namespace=%.*s",
			 slash ? (int)(slash - pod) : 7,
			 slash ? pod : "default");
		argv[optind + 1] = kv; /* lives until exit */
		extra_arg = nkv;
	}
	/* "store check" is the command "store-check": words up to the first
	 * KEY=VALUE join with '-' */
	words = optind;
	cmdlen = 0;
	while (words < argc && !strchr(argv[words], '='))
		cmdlen += strlen(argv[words++]) + 1;
	if (words == optind)
		die(EXIT_TROUBLE, "expected a command before \"%s\"", argv[optind]);
	joined = malloc(cmdlen);
	if (!joined)
		die(EXIT_TROUBLE, "out of memory");
	joined[0] = '\0';
	for (int i = optind; i < words; i++) {
		if (i > optind)
			strcat(joined, "-");
		strcat(joined, argv[i]);
	}
	command = joined;
	if (extra_arg) {
		char **v = calloc((size_t)(argc - words) + 2, sizeof(*v));

		if (!v)
			die(EXIT_TROUBLE, "out of memory");
		for (int i = words; i < argc; i++)
			v[i - words] = argv[i];
		v[argc - words] = extra_arg;
		req = build_request(v, argc - words + 1, &reqlen);
		free(v);
	} else {
		req = build_request(argv + words, argc - words, &reqlen);
	}
	reply = talk(path, req, reqlen, now_ms() + (int64_t)(timeout * 1000));
	free(req);

	tree = yajl_tree_parse(reply, err, sizeof(err));
	if (!tree || !YAJL_IS_OBJECT(tree))
		die(EXIT_TROUBLE, "%s: malformed reply from %s", command,
		    path);
	ok = yajl_tree_get(tree, okp, yajl_t_any);
	if (!ok || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok)))
		die(EXIT_TROUBLE, "%s: malformed reply from %s", command,
		    path);
	if (YAJL_IS_FALSE(ok)) {
		msg = yajl_tree_get(tree, errp, yajl_t_string);
		end = clean(msg ? msg->u.string : "failed");
		fprintf(stderr, "%s: %s: %s\n", prog, command, end);
		free(end);
		status = EXIT_DAEMON_ERROR;
	} else {
		yajl_val result = yajl_tree_get(tree, resp, yajl_t_any);

		if (json)
			print_json(result);
		else if (!strcmp(command, "health") && result &&
			 YAJL_IS_OBJECT(result))
			render_health(result);
		else if (!strcmp(command, "policy") && result &&
			 YAJL_IS_OBJECT(result))
			render_policy(result);
		else if (result && !YAJL_IS_NULL(result))
			render_value(result, 0);
		status = 0;
	}
	yajl_tree_free(tree);
	free(reply);
	if (fflush(stdout) != 0 || ferror(stdout))
		die(EXIT_TROUBLE, "writing output: %s", strerror(errno));
	return status;
}
