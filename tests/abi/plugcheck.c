/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader's checking child without the daemon: what stratad does for
 * --plugin-check, so the loader's tests need no stratad. The report goes
 * to fd 3.
 *
 * With --check-load FILE it is the whole loader instead, as the daemon
 * runs it: a checking child (itself), the report parsed, the plugin
 * loaded in-process. It prints "loaded NAME KIND" or "refused LINE" and
 * exits 0 or 1. Built from tests/abi/1.0/loader, the loader of the last
 * 1.0 commit (tag abi-1.0) against the 1.0 headers, it is a 1.0 core.
 */
#include <stdio.h>
#include <string.h>

#include "plug.h"

static int check_load(const char *path)
{
	struct plug_info *info = NULL;
	struct plug *p = NULL;
	char err[1024] = "";

	if (plug_check(path, &info, err, sizeof(err)) ||
	    plug_load(info, &p, err, sizeof(err))) {
		printf("refused %s\n", err);
		plug_info_free(info);
		return 1;
	}
	printf("loaded %s %s\n", p->desc->name, plug_kind_name(p->desc->kind));
	plug_free(p);
	plug_info_free(info);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--plugin-check") == 0)
		return plug_child_main(argv[2], 3);
	if (argc == 3 && strcmp(argv[1], "--check-load") == 0)
		return check_load(argv[2]);
	fprintf(stderr, "usage: %s --plugin-check|--check-load FILE\n",
		argv[0]);
	return 2;
}
