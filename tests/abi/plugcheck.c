/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader's checking child without the daemon: what stratad does for
 * --plugin-check, so the loader's tests need no stratad. The report goes
 * to fd 3.
 */
#include <stdio.h>
#include <string.h>

#include "plug.h"

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "--plugin-check") != 0) {
		fprintf(stderr, "usage: %s --plugin-check FILE\n", argv[0]);
		return 2;
	}
	return plug_child_main(argv[2], 3);
}
