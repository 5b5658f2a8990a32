/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket: a unix stream socket speaking one JSON request and
 * one JSON reply per connection, each ended by a newline.
 *
 *   request  {"version": 1, "command": "status", "args": {...}}
 *   reply    {"version": 1, "ok": true, "result": ...}
 *            {"version": 1, "ok": false, "error": "what was wrong"}
 *
 * Peers are checked with SO_PEERCRED: root, or a member of the configured
 * group. Oversized, malformed or slow requests get an error reply and the
 * connection is closed; nothing a client sends can stop the daemon.
 * docs/control-protocol.md describes the protocol in full.
 */
#ifndef STRATA_CORE_CONTROL_H
#define STRATA_CORE_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define CONTROL_VERSION 1
#define CONTROL_MAX_REQUEST 65536
#define CONTROL_MAX_CONNECTIONS 64
/* to send a request, and to take a reply */
#define CONTROL_TIMEOUT_NS 5000000000LL

struct loop;
struct control;
struct control_call;

/* Answer with control_call_gen() + control_call_done(), or control_call_fail();
 * either may come later, from another callback, even after the client left
 * or control_free(). args may be NULL and lives only during this call. */
typedef void (*control_handler)(void *arg, struct control_call *call,
				yajl_val args);

/*
 * mode: permissions of the socket file; group: NULL for root only.
 * path NULL: no socket, requests come only through control_serve().
 */
int control_new(struct loop *loop, const char *path, unsigned mode,
		const char *group, struct control **out, char *err,
		size_t errlen);
/* Removes the socket file. Not from inside a handler. */
void control_free(struct control *c);
/* -EEXIST if the command is taken ("help" is built in). */
int control_register(struct control *c, const char *command,
		     control_handler fn, void *arg);
/* Replaces CONTROL_TIMEOUT_NS for connections accepted from now on. */
void control_set_timeout(struct control *c, int64_t ns);

/* The generator for the result value: write exactly one JSON value. */
yajl_gen control_call_gen(struct control_call *call);
void control_call_done(struct control_call *call);
void control_call_fail(struct control_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse one request. On success *command is malloc'd and *args (maybe NULL)
 * points into *tree, which the caller frees with yajl_tree_free. */
int control_parse_request(const char *buf, size_t len, char **command,
			  yajl_val *tree, yajl_val *args, char *err,
			  size_t errlen);

/*
 * One request without a socket (tests, fuzzing, in-process callers): the
 * reply line, newline included, goes to fn once ready, maybe later; never
 * if the control is freed first or memory runs out. 0 or -ENOMEM.
 */
typedef void (*control_reply_fn)(void *arg, const char *reply, size_t len);
int control_serve(struct control *c, const char *buf, size_t len,
		  control_reply_fn fn, void *arg);

#endif
