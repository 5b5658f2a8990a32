/* SPDX-License-Identifier: Apache-2.0 */
/* stratad: the strata node daemon. Runs in the foreground, systemd style. */
#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/version.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "plug.h"

#define DEFAULT_CONFIG SYSCONFDIR "/strata/stratad.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: stratad [-c FILE] [-t]\n"
		"       stratad --plugin-info FILE.so\n"
		"\n"
		"  -c, --config FILE       configuration (default %s)\n"
		"  -t, --test              check the configuration and its plugins, then exit\n"
		"      --plugin-info FILE  show a plugin's descriptor and config keys\n"
		"  -V, --version           show the version and plugin ABI\n"
		"  -h, --help              this text\n",
		DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	enum { OPT_PLUGIN_INFO = 256, OPT_PLUGIN_CHECK };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "plugin-info", required_argument, NULL, OPT_PLUGIN_INFO },
		/* the loader's checking child; not for people */
		{ "plugin-check", required_argument, NULL, OPT_PLUGIN_CHECK },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG;
	struct daemon *d;
	bool test = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			test = true;
			break;
		case OPT_PLUGIN_INFO:
			return daemon_plugin_info(optarg, stdout, stderr);
		case OPT_PLUGIN_CHECK:
			return plug_child_main(optarg, PLUG_CHILD_FD);
		case 'V':
			printf("stratad %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       STRATA_ABI_MAJOR, STRATA_ABI_MINOR);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "stratad: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (test)
		return daemon_check_config(config, stdout, stderr);

	/* A fixed threshold: blocks of 128 KiB and more (a big table's
	 * per-reconcile arrays) are mapped and go back to the kernel when
	 * freed. glibc's default raises the threshold to the largest block
	 * freed, after which such arrays land in the heap and their pages
	 * stay with the daemon. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/* before any thread exists, so every thread inherits the mask */
	if (loop_block_signals()) {
		fprintf(stderr, "stratad: cannot block signals\n");
		return 1;
	}
	rc = daemon_new(config, &d);
	if (rc)
		return 1;
	rc = daemon_run(d);
	daemon_free(d);
	return rc;
}
