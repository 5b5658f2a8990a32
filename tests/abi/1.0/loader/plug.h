/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin loader. A plugin is first opened and checked in a child
 * process (stratad --plugin-check FILE, through plug_checker), so that its
 * constructors never run in the daemon until it has passed; only then is
 * it loaded in-process, from the descriptor of the file already opened and
 * checked, and checked again before any op is called.
 */
#ifndef STRATA_CORE_PLUG_H
#define STRATA_CORE_PLUG_H

/* The checking child writes its report on this descriptor. */
#define PLUG_CHILD_FD 3

#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

/* Which file was checked: a different or changed file is refused. */
struct plug_file_id {
	uint64_t dev;
	uint64_t ino;
	int64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

/* What the checking child reports: a copy owned by the daemon. */
struct plug_info {
	char *path;
	struct plug_file_id file;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size;
	uint32_t kind;
	char *name;
	char *version;
	char *description;
	struct strata_cfg_key *config; /* n_config entries + a NULL-name end */
	size_t n_config;
};

/* A plugin loaded in-process. Never unloaded (RTLD_NODELETE). */
struct plug {
	struct plug_info *info; /* the record's own copy */
	void *handle;
	const struct strata_plugin *desc;
};

/*
 * The executable run as the checking child; "/proc/self/exe" by default.
 * Tests point it at tests/abi/plugcheck. It runs as
 * `plug_checker --plugin-check FILE` with the report's pipe on fd 3 (stdout
 * stays the plugin's), in a process group of its own, killed with
 * everything in it after 5 s. The report is a sequence of fields
 * "KEY LEN:BYTES\n" ("KEY -\n" for NULL) in a fixed order, 1 MiB at most,
 * which the parent parses strictly and checks again.
 */
extern const char *plug_checker;

const char *plug_kind_name(uint32_t kind); /* "ipam", ... or "unknown" */

/*
 * Check a plugin file in a child. On refusal returns -EINVAL (or -errno:
 * -ETIMEDOUT when the child took too long) and writes one line into err:
 * "FILE: CHECK: expected X, found Y". The file must be a regular file
 * owned by uid 0 and not group- or world-writable; symlinks are followed
 * and the file they lead to is what is checked.
 */
int plug_check(const char *path, struct plug_info **out, char *err,
	       size_t errlen);
void plug_info_free(struct plug_info *info);

/* Load a checked plugin in-process; the same checks again, nothing called. */
int plug_load(const struct plug_info *info, struct plug **out, char *err,
	      size_t errlen);
void plug_free(struct plug *p); /* frees the record; the object stays mapped */

/*
 * The checks shared by child and parent, on an already-read descriptor:
 * magic, major, minor, size, kind, mandatory ops, name. 0 or -EINVAL with
 * the reason in err.
 */
int plug_check_desc(const char *path, const struct strata_plugin *d, char *err,
		    size_t errlen);

/* The child's side: check `path`, write the report to fd, return an exit
 * status (0 pass, 1 refused, 2 no report written). stratad --plugin-check
 * FILE calls it with fd 3. */
int plug_child_main(const char *path, int fd);

/* Parse and validate a checking child's report (its bytes are the
 * plugin's to forge): what plug_check() does with what it read. */
int plug_parse_report(const char *path, const char *data, size_t len,
		      struct plug_info **out, char *err, size_t errlen);

/* Refuse a second plugin of the same name from another file (two paths to
 * one file are one plugin): -EEXIST with the line in err. */
int plug_check_unique(struct plug_info *const *infos, size_t n, char *err,
		      size_t errlen);

#endif
