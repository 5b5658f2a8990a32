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
 */
#ifndef STRATA_CORE_CONTROL_H
#define STRATA_CORE_CONTROL_H

#include <stddef.h>
#include <sys/types.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define CONTROL_VERSION 1
#define CONTROL_MAX_REQUEST 65536

struct loop;
struct control;
struct control_call;

/* Answer with control_call_gen() + control_call_done(), or control_call_fail();
 * either may come later, from another callback. args may be NULL. */
typedef void (*control_handler)(void *arg, struct control_call *call,
				yajl_val args);

/* mode: permissions of the socket file; group: NULL for root only. */
int control_new(struct loop *loop, const char *path, unsigned mode,
		const char *group, struct control **out, char *err,
		size_t errlen);
void control_free(struct control *c); /* removes the socket file */
int control_register(struct control *c, const char *command,
		     control_handler fn, void *arg);

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

#endif
