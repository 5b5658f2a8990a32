/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket strata-cni talks to: one JSON request (with the pod's netns
 * fd attached by SCM_RIGHTS), one JSON reply, then the connection closes.
 * See docs/cni.md, "The socket protocol".
 */
#ifndef STRATA_FRONTEND_CNI_SERVER_H
#define STRATA_FRONTEND_CNI_SERVER_H

#include <stddef.h>

#include <strata/plugin.h>

#define SERVER_MAX_REQUEST (1 << 20)

struct server;
struct conn;

/* A request arrived: len bytes (without the newline; valid until the
 * reply), with the netns fd that came with it (conn_fd). The handler
 * answers every request exactly once, with conn_reply() or conn_fail(). */
typedef void (*server_request_cb)(void *arg, struct conn *c, const char *req,
				  size_t len);

int server_open(const struct strata_host *h, struct strata_instance *inst,
		const char *path, server_request_cb cb, void *arg,
		struct server **out, char *err, size_t errlen);
/* Stop listening and remove the socket file; connections still waiting
 * for their handler stay until answered. */
void server_close(struct server *s);
/* Free what is left (connections whose handler never answered). */
void server_free(struct server *s);

/* Count the request's latency and failure under command (a string that
 * outlives the connection) when it is answered. */
void conn_set_command(struct conn *c, const char *command);
/* The netns fd of the request (the connection keeps owning it), or -1. */
int conn_fd(const struct conn *c);
/* Send json (no newline; one is added) and close. */
void conn_reply(struct conn *c, const char *json, size_t len);
/* {"ok":false,"code":code,"msg":...,"details":...}; details may be NULL. */
void conn_fail(struct conn *c, int code, const char *details,
	       const char *fmt, ...) STRATA_PRINTF(4, 5);

#endif
