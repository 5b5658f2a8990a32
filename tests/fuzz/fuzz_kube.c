/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes client's parsers of what the API server and a kubeconfig
 * hand it. Input: one byte choosing the parser, then the bytes. A watch
 * stream is fed in two chunks split where the second byte says, and each
 * line parsed as an event; a kubeconfig is parsed whole. Nothing may
 * crash or leak, and what parses must be well formed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_parse.h"

static int event(void *arg, char *line, size_t len)
{
	struct kube_watch_event ev;
	char err[160];

	(void)arg;
	if (kube_watch_parse(line, len, &ev, err, sizeof(err)))
		return 0;
	if (ev.type != KUBE_WATCH_ERROR && ev.type != KUBE_WATCH_BOOKMARK &&
	    (!ev.key[0] || !ev.rv[0] || !ev.object))
		abort();
	if (ev.type == KUBE_WATCH_BOOKMARK && !ev.rv[0])
		abort();
	yajl_tree_free(ev.object);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config c;
	struct kube_lines l;
	char err[256];
	size_t cut;

	if (size < 2)
		return 0;
	if (data[0] & 1) {
		if (!kube_config_parse((const char *)data + 1, size - 1, "/d",
				       &c, err, sizeof(err)) &&
		    (!c.server || strncmp(c.server, "http", 4)))
			abort();
		kube_config_clear(&c);
		return 0;
	}
	cut = data[1] % (size - 1);
	kube_lines_init(&l, 4096);
	if (kube_lines_feed(&l, data + 2, cut, event, NULL) != -EMSGSIZE)
		kube_lines_feed(&l, data + 2 + cut, size - 2 - cut, event, NULL);
	kube_lines_free(&l);
	return 0;
}
