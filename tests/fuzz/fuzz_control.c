/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control requests are the bytes any local client may send: parse them,
 * then run them through dispatch and reply building with handlers that
 * answer at once, fail, or answer after control_serve() returned. Every
 * reply must be one JSON object line; nothing may leak (-detect_leaks=1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static struct control *ctl;
static struct control_call *held;

static void gen_value(yajl_gen g, yajl_val v)
{
	size_t i;

	if (YAJL_IS_OBJECT(v)) {
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
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else {
		yajl_gen_null(g);
	}
}

static void echo_cmd(void *arg, struct control_call *call, yajl_val args)
{
	gen_value(control_call_gen(call), args);
	control_call_done(call);
}

static void fail_cmd(void *arg, struct control_call *call, yajl_val args)
{
	size_t n = args ? args->u.object.len : 0;

	control_call_fail(call, "failed with %zu args", n);
}

static void half_cmd(void *arg, struct control_call *call, yajl_val args)
{
	yajl_gen_array_open(control_call_gen(call));
	control_call_done(call);
}

static void hold_cmd(void *arg, struct control_call *call, yajl_val args)
{
	held = call;
	yajl_gen_map_open(control_call_gen(call));
	yajl_gen_string(control_call_gen(call), (const unsigned char *)"n", 1);
	yajl_gen_integer(control_call_gen(call),
			 args ? (long long)args->u.object.len : -1);
	yajl_gen_map_close(control_call_gen(call));
}

static void on_reply(void *arg, const char *reply, size_t len)
{
	char err[128];
	yajl_val tree, ok;
	const char *path[] = { "ok", NULL };

	if (len == 0 || reply[len - 1] != '\n' || strlen(reply) != len ||
	    memchr(reply, '\n', len - 1))
		abort();
	tree = yajl_tree_parse(reply, err, sizeof(err));
	if (!tree || !YAJL_IS_OBJECT(tree))
		abort();
	ok = yajl_tree_get(tree, path, yajl_t_any);
	if (!ok || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok)))
		abort();
	yajl_tree_free(tree);
	++*(int *)arg;
}

static void setup(void)
{
	char err[256];

	if (control_new(NULL, NULL, 0, NULL, &ctl, err, sizeof(err)) < 0 ||
	    control_register(ctl, "echo", echo_cmd, NULL) < 0 ||
	    control_register(ctl, "fail", fail_cmd, NULL) < 0 ||
	    control_register(ctl, "half", half_cmd, NULL) < 0 ||
	    control_register(ctl, "hold", hold_cmd, NULL) < 0) {
		fprintf(stderr, "fuzz_control: setup: %s\n", err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *command;
	yajl_val tree, args;
	int replies = 0;

	if (!ctl)
		setup();
	err[0] = '\0';
	if (control_parse_request((const char *)data, size, &command, &tree,
				  &args, err, sizeof(err)) == 0) {
		if (!command[0] || (args && !YAJL_IS_OBJECT(args)))
			abort();
		free(command);
		yajl_tree_free(tree);
	} else if (!err[0]) {
		abort();
	}

	if (control_serve(ctl, (const char *)data, size, on_reply,
			  &replies) < 0)
		return 0;
	if (held) {
		control_call_done(held);
		held = NULL;
	}
	if (replies != 1)
		abort();
	return 0;
}
