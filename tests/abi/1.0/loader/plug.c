/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin loader: a checking child first, then the same checks again
 * in-process, and nothing of the plugin called before both pass.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plug.h"

extern char **environ;

const char *plug_checker = "/proc/self/exe";

#define CHECK_TIMEOUT_S 5
#define REPORT_MAX (1024 * 1024)
#define REPORT_VERSION "1"

#define NAME_MAX_LEN 32
#define VERSION_MAX_LEN 64
#define DESCRIPTION_MAX_LEN 1024
#define CFG_MAX_KEYS 256
#define CFG_NAME_MAX_LEN 64
#define CFG_TEXT_MAX_LEN 1024
#define FACTS_MAX 64
#define FACT_MAX_LEN 64

/* The sizes of 1.0, the oldest tables this host accepts, so that every
 * member of 1.0 may be read without a test; later minors only append, so
 * these never change within a major. */
#define END_OF(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#define DESC_MIN_SIZE END_OF(struct strata_plugin, kind_ops)
#define OPS_MIN_SIZE END_OF(struct strata_plugin_ops, status)
#define ADV_MIN_SIZE END_OF(struct strata_advertiser_ops, installed)
#define HC_MIN_SIZE END_OF(struct strata_healthcheck_ops, cancel)
#define IPAM_MIN_SIZE END_OF(struct strata_ipam_ops, list)
#define FRONTEND_MIN_SIZE END_OF(struct strata_frontend_ops, reserved)

const char *plug_kind_name(uint32_t kind)
{
	switch (kind) {
	case STRATA_KIND_IPAM:
		return "ipam";
	case STRATA_KIND_ADVERTISER:
		return "advertiser";
	case STRATA_KIND_HEALTHCHECK:
		return "healthcheck";
	case STRATA_KIND_FRONTEND:
		return "frontend";
	}
	return "unknown";
}

/* One line, whatever a hostile path or plugin put into it. */
static void flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

__attribute__((format(printf, 5, 6))) static int
refuse(char *err, size_t errlen, const char *path, const char *check,
       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return -EINVAL;
	n = snprintf(err, errlen, "%s: %s: ", path, check);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	flatten(err);
	return -EINVAL;
}

/* Quote untrusted text for an error line: escaped, cut at max bytes. */
static const char *quote_max(char *buf, size_t len, const char *s, size_t max)
{
	size_t o = 0, i;

	if (!s)
		return "NULL";
	buf[o++] = '"';
	for (i = 0; s[i] && o + 8 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == max) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *quote(char *buf, size_t len, const char *s)
{
	return quote_max(buf, len, s, 40);
}

static bool name_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i == NAME_MAX_LEN)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c == '-' && i > 0)))
			return false;
	}
	return i > 0;
}

static bool cfg_name_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i == CFG_NAME_MAX_LEN)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '_' ||
				 c == '-'))))
			return false;
	}
	return i > 0;
}

/* Text without control characters, at most max bytes. */
static bool text_valid(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i == max || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A host of 1.N loads plugins of 1.0 to 1.N: minors only append. */
static int check_abi(const char *path, uint32_t major, uint32_t minor,
		     uint32_t size, char *err, size_t errlen)
{
	if (major != STRATA_ABI_MAJOR)
		return refuse(err, errlen, path, "abi major",
			      "expected %u, found %" PRIu32, STRATA_ABI_MAJOR,
			      major);
	if (minor > STRATA_ABI_MINOR)
		return refuse(err, errlen, path, "abi minor",
			      "expected at most %u, found %" PRIu32,
			      STRATA_ABI_MINOR, minor);
	if (size < DESC_MIN_SIZE)
		return refuse(err, errlen, path, "size",
			      "expected at least %zu, found %" PRIu32,
			      DESC_MIN_SIZE, size);
	return 0;
}

static int check_kind(const char *path, uint32_t kind, char *err,
		      size_t errlen)
{
	if (strcmp(plug_kind_name(kind), "unknown") == 0)
		return refuse(err, errlen, path, "kind",
			      "expected ipam, advertiser, healthcheck or "
			      "frontend, found %" PRIu32,
			      kind);
	return 0;
}

static int check_texts(const char *path, const char *name, const char *version,
		       const char *description, char *err, size_t errlen)
{
	char q[192];

	if (!name || !name_valid(name))
		return refuse(err, errlen, path, "name",
			      "expected [a-z0-9][a-z0-9-]* of at most %d "
			      "characters, found %s",
			      NAME_MAX_LEN, quote(q, sizeof(q), name));
	if (!version || !*version || !text_valid(version, VERSION_MAX_LEN))
		return refuse(err, errlen, path, "version",
			      "expected one line of 1 to %d bytes, found %s",
			      VERSION_MAX_LEN, quote(q, sizeof(q), version));
	if (description && !text_valid(description, DESCRIPTION_MAX_LEN))
		return refuse(err, errlen, path, "description",
			      "expected one line of at most %d bytes, found %s",
			      DESCRIPTION_MAX_LEN,
			      quote(q, sizeof(q), description));
	return 0;
}

/*
 * Walk a schema up to its NULL-name end. An entry without a name but with
 * a type is a key whose name was forgotten, not an end: it would silently
 * hide every key after it.
 */
static int check_config(const char *path, const struct strata_cfg_key *cfg,
			size_t *n_out, char *err, size_t errlen)
{
	char check[32], q[192];
	size_t i, j;

	*n_out = 0;
	if (!cfg)
		return 0;
	for (i = 0; cfg[i].name || cfg[i].type; i++) {
		const struct strata_cfg_key *k = &cfg[i];

		if (i == CFG_MAX_KEYS)
			return refuse(err, errlen, path, "config",
				      "expected at most %d keys ended by a "
				      "NULL name, found more",
				      CFG_MAX_KEYS);
		snprintf(check, sizeof(check), "config[%zu] name", i);
		if (!k->name)
			return refuse(err, errlen, path, check,
				      "expected a key name (or an all-zero "
				      "end), found NULL with type %" PRIu32,
				      k->type);
		if (!cfg_name_valid(k->name))
			return refuse(err, errlen, path, check,
				      "expected [A-Za-z][A-Za-z0-9_-]* of at "
				      "most %d characters, found %s",
				      CFG_NAME_MAX_LEN,
				      quote(q, sizeof(q), k->name));
		for (j = 0; j < i; j++)
			if (strcmp(cfg[j].name, k->name) == 0)
				return refuse(err, errlen, path, check,
					      "expected a key not declared "
					      "before, found %s again",
					      quote(q, sizeof(q), k->name));
		snprintf(check, sizeof(check), "config[%zu] type", i);
		if (k->type < STRATA_CFG_BOOL || k->type > STRATA_CFG_DURATION)
			return refuse(err, errlen, path, check,
				      "expected %u to %u, found %" PRIu32,
				      STRATA_CFG_BOOL, STRATA_CFG_DURATION,
				      k->type);
		snprintf(check, sizeof(check), "config[%zu] flags", i);
		if (k->flags & ~STRATA_CFG_REQUIRED)
			return refuse(err, errlen, path, check,
				      "expected 0x%x or less, found 0x%" PRIx32,
				      STRATA_CFG_REQUIRED, k->flags);
		snprintf(check, sizeof(check), "config[%zu] default", i);
		if (k->def && !text_valid(k->def, CFG_TEXT_MAX_LEN))
			return refuse(err, errlen, path, check,
				      "expected one line of at most %d bytes, "
				      "found %s",
				      CFG_TEXT_MAX_LEN,
				      quote(q, sizeof(q), k->def));
		snprintf(check, sizeof(check), "config[%zu] help", i);
		if (k->help && !text_valid(k->help, CFG_TEXT_MAX_LEN))
			return refuse(err, errlen, path, check,
				      "expected one line of at most %d bytes, "
				      "found %s",
				      CFG_TEXT_MAX_LEN,
				      quote(q, sizeof(q), k->help));
	}
	*n_out = i;
	return 0;
}

static int check_fn(const char *path, const char *check, bool present,
		    char *err, size_t errlen)
{
	if (!present)
		return refuse(err, errlen, path, check,
			      "expected a function, found NULL");
	return 0;
}

static int check_table_size(const char *path, const char *check,
			    uint32_t size, size_t min, char *err,
			    size_t errlen)
{
	if (size < min)
		return refuse(err, errlen, path, check,
			      "expected at least %zu, found %" PRIu32, min,
			      size);
	return 0;
}

static int check_ops(const char *path, const struct strata_plugin_ops *ops,
		     char *err, size_t errlen)
{
	int r;

	if (!ops)
		return refuse(err, errlen, path, "ops",
			      "expected struct strata_plugin_ops, found NULL");
	if ((r = check_table_size(path, "ops size", ops->size, OPS_MIN_SIZE,
				  err, errlen)) ||
	    (r = check_fn(path, "ops create", ops->create, err, errlen)) ||
	    (r = check_fn(path, "ops start", ops->start, err, errlen)) ||
	    (r = check_fn(path, "ops destroy", ops->destroy, err, errlen)))
		return r;
	return 0;
}

static int check_facts(const char *path, const char *const *facts, char *err,
		       size_t errlen)
{
	char q[192];
	size_t i;

	if (!facts)
		return 0;
	for (i = 0; facts[i]; i++) {
		if (i == FACTS_MAX)
			return refuse(err, errlen, path, "ipam ops needs_facts",
				      "expected at most %d names ended by "
				      "NULL, found more",
				      FACTS_MAX);
		if (!*facts[i] || !text_valid(facts[i], FACT_MAX_LEN))
			return refuse(err, errlen, path, "ipam ops needs_facts",
				      "expected fact names of 1 to %d bytes, "
				      "found %s",
				      FACT_MAX_LEN,
				      quote(q, sizeof(q), facts[i]));
	}
	return 0;
}

static int check_kind_ops(const char *path, uint32_t kind, const void *kops,
			  char *err, size_t errlen)
{
	const struct strata_advertiser_ops *adv = kops;
	const struct strata_healthcheck_ops *hc = kops;
	const struct strata_ipam_ops *ipam = kops;
	const struct strata_frontend_ops *fe = kops;
	int r;

	if (!kops) {
		if (kind == STRATA_KIND_FRONTEND)
			return 0;
		return refuse(err, errlen, path, "kind ops",
			      "expected struct strata_%s_ops, found NULL",
			      plug_kind_name(kind));
	}
	switch (kind) {
	case STRATA_KIND_ADVERTISER:
		if ((r = check_table_size(path, "advertiser ops size",
					  adv->size, ADV_MIN_SIZE, err,
					  errlen)) ||
		    (r = check_fn(path, "advertiser ops scopes", adv->scopes,
				  err, errlen)) ||
		    (r = check_fn(path, "advertiser ops reconcile",
				  adv->reconcile, err, errlen)))
			return r;
		break;
	case STRATA_KIND_HEALTHCHECK:
		if ((r = check_table_size(path, "healthcheck ops size",
					  hc->size, HC_MIN_SIZE, err,
					  errlen)) ||
		    (r = check_fn(path, "healthcheck ops probe", hc->probe,
				  err, errlen)) ||
		    (r = check_fn(path, "healthcheck ops cancel", hc->cancel,
				  err, errlen)))
			return r;
		break;
	case STRATA_KIND_IPAM:
		if ((r = check_table_size(path, "ipam ops size", ipam->size,
					  IPAM_MIN_SIZE, err, errlen)) ||
		    (r = check_fn(path, "ipam ops allocate", ipam->allocate,
				  err, errlen)) ||
		    (r = check_fn(path, "ipam ops release", ipam->release,
				  err, errlen)) ||
		    (r = check_facts(path, ipam->needs_facts, err, errlen)))
			return r;
		break;
	case STRATA_KIND_FRONTEND:
		return check_table_size(path, "frontend ops size", fe->size,
					FRONTEND_MIN_SIZE, err, errlen);
	}
	return 0;
}

int plug_check_desc(const char *path, const struct strata_plugin *d,
		    char *err, size_t errlen)
{
	size_t n;
	int r;

	if (!d)
		return refuse(err, errlen, path, "symbol",
			      "expected %s, found NULL",
			      STRATA_PLUGIN_ENTRY_NAME);
	if ((uintptr_t)d % _Alignof(struct strata_plugin))
		return refuse(err, errlen, path, "symbol",
			      "expected an aligned descriptor, found %p",
			      (const void *)d);
	if (d->magic != STRATA_PLUGIN_MAGIC)
		return refuse(err, errlen, path, "magic",
			      "expected 0x%08x, found 0x%08" PRIx32,
			      STRATA_PLUGIN_MAGIC, d->magic);
	/* Nothing past size is read before size is known to cover it. */
	if ((r = check_abi(path, d->abi_major, d->abi_minor, d->size, err,
			   errlen)) ||
	    (r = check_kind(path, d->kind, err, errlen)) ||
	    (r = check_texts(path, d->name, d->version, d->description, err,
			     errlen)) ||
	    (r = check_ops(path, d->ops, err, errlen)) ||
	    (r = check_kind_ops(path, d->kind, d->kind_ops, err, errlen)) ||
	    (r = check_config(path, d->config, &n, err, errlen)))
		return r;
	return 0;
}

/*
 * Open the file, check what was opened, and hand back the descriptor that
 * dlopen() goes through (/proc/self/fd/N), so the file checked is the
 * file loaded. Symlinks are followed: the file they lead to is checked.
 */
static int open_checked(const char *path, int *fd_out,
			struct plug_file_id *id, char *err, size_t errlen)
{
	struct stat st;
	const char *type;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		refuse(err, errlen, path, "open",
		       "expected a readable file, found %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		refuse(err, errlen, path, "stat", "expected a file, found %s",
		       strerror(-r));
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		type = S_ISDIR(st.st_mode)    ? "a directory"
		       : S_ISFIFO(st.st_mode) ? "a fifo"
		       : S_ISSOCK(st.st_mode) ? "a socket"
		       : S_ISCHR(st.st_mode)  ? "a character device"
		       : S_ISBLK(st.st_mode)  ? "a block device"
					      : "another type";
		r = refuse(err, errlen, path, "type",
			   "expected a regular file, found %s", type);
		goto close_fd;
	}
	if (st.st_uid != 0) {
		r = refuse(err, errlen, path, "owner",
			   "expected uid 0, found uid %ju",
			   (uintmax_t)st.st_uid);
		goto close_fd;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		r = refuse(err, errlen, path, "mode",
			   "expected not group- or world-writable, found %04o",
			   (unsigned)(st.st_mode & 07777));
		goto close_fd;
	}
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->size = (int64_t)st.st_size;
	id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	*fd_out = fd;
	return 0;

close_fd:
	close(fd);
	return r;
}

static bool same_identity(const struct plug_file_id *a,
			  const struct plug_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* Every fd number that named an object for dlopen() lies below. */
static int fd_name_floor;

/*
 * expect: the file the child checked (NULL in the child). A file replaced
 * or changed since is refused before dlopen(), so its constructors never
 * run in the daemon.
 */
static int open_plugin(const char *path, int flags,
		       const struct plug_file_id *expect,
		       struct plug_file_id *id, void **handle_out,
		       const struct strata_plugin **desc_out, char *err,
		       size_t errlen)
{
	char proc[64], q[512];
	const char *e;
	size_t plen;
	void *h;
	int fd = -1, nfd, r;

	if ((r = open_checked(path, &fd, id, err, errlen)))
		return r;
	if (expect && !same_identity(expect, id)) {
		close(fd);
		return refuse(err, errlen, path, "recheck file",
			      "expected the file checked (inode %ju, %jd bytes), found it replaced or changed (inode %ju, %jd bytes)",
			      (uintmax_t)expect->ino, (intmax_t)expect->size,
			      (uintmax_t)id->ino, (intmax_t)id->size);
	}
	/* glibc finds loaded objects by name before file identity: a
	 * /proc/self/fd/N used before would return that older object. */
	if (fd < fd_name_floor) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, fd_name_floor);
		r = -errno;
		close(fd);
		if (nfd < 0) {
			refuse(err, errlen, path, "open",
			       "expected a descriptor, found %s", strerror(-r));
			return r;
		}
		fd = nfd;
	}
	fd_name_floor = fd + 1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	h = dlopen(proc, flags);
	close(fd);
	if (!h) {
		e = dlerror();
		/* dlerror() names the object by its /proc path: say it once. */
		plen = strlen(proc);
		if (e && strncmp(e, proc, plen) == 0 && e[plen] == ':' &&
		    e[plen + 1] == ' ')
			e += plen + 2;
		return refuse(err, errlen, path, "dlopen",
			      "expected a loadable shared object, found %s",
			      e ? quote_max(q, sizeof(q), e, 120)
				: "an error");
	}
	*handle_out = h;
	*desc_out = dlsym(h, STRATA_PLUGIN_ENTRY_NAME);
	if (!*desc_out)
		return refuse(err, errlen, path, "symbol",
			      "expected %s, found none",
			      STRATA_PLUGIN_ENTRY_NAME);
	return 0;
}

/*
 * The report the child writes: fields "KEY LEN:BYTES\n", or "KEY -\n" for
 * a NULL string, in a fixed order, the whole at most REPORT_MAX bytes.
 */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (b->len + len > REPORT_MAX) {
		b->failed = true;
		return;
	}
	if (b->len + len > b->cap) {
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + len)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void put_str(struct buf *b, const char *key, const char *val)
{
	char head[64];
	int n;

	if (!val) {
		n = snprintf(head, sizeof(head), "%s -\n", key);
		buf_add(b, head, (size_t)n);
		return;
	}
	n = snprintf(head, sizeof(head), "%s %zu:", key, strlen(val));
	buf_add(b, head, (size_t)n);
	buf_add(b, val, strlen(val));
	buf_add(b, "\n", 1);
}

static void put_u32(struct buf *b, const char *key, uint32_t v)
{
	char s[16];

	snprintf(s, sizeof(s), "%" PRIu32, v);
	put_str(b, key, s);
}

static void put_i64(struct buf *b, const char *key, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	put_str(b, key, s);
}

static void report_pass(struct buf *b, const struct strata_plugin *d,
			const struct plug_file_id *id)
{
	const struct strata_cfg_key *k;
	size_t i, n = 0;

	if (d->config)
		while (d->config[n].name)
			n++;
	put_str(b, "report", REPORT_VERSION);
	put_str(b, "result", "pass");
	put_u32(b, "abi_major", d->abi_major);
	put_u32(b, "abi_minor", d->abi_minor);
	put_u32(b, "size", d->size);
	put_u32(b, "kind", d->kind);
	put_i64(b, "file_dev", (int64_t)id->dev);
	put_i64(b, "file_ino", (int64_t)id->ino);
	put_i64(b, "file_size", id->size);
	put_i64(b, "file_mtime", id->mtime_ns);
	put_i64(b, "file_ctime", id->ctime_ns);
	put_str(b, "name", d->name);
	put_str(b, "version", d->version);
	put_str(b, "description", d->description);
	put_u32(b, "config", (uint32_t)n);
	for (i = 0; i < n; i++) {
		k = &d->config[i];
		put_str(b, "key_name", k->name);
		put_u32(b, "key_type", k->type);
		put_u32(b, "key_flags", k->flags);
		put_str(b, "key_def", k->def);
		put_i64(b, "key_min", k->min);
		put_i64(b, "key_max", k->max);
		put_str(b, "key_help", k->help);
	}
	put_str(b, "end", "");
}

static void report_refused(struct buf *b, const char *line)
{
	put_str(b, "report", REPORT_VERSION);
	put_str(b, "result", "refused");
	put_str(b, "error", line);
	put_str(b, "end", "");
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int plug_child_main(const char *path, int fd)
{
	const struct strata_plugin *d = NULL;
	struct plug_file_id id;
	struct buf b = { 0 };
	char err[1024];
	void *h = NULL;
	int r, status;

	/* The plugin's constructors run in here, and may be hostile. */
	r = open_plugin(path, RTLD_NOW | RTLD_LOCAL, NULL, &id, &h, &d, err,
			sizeof(err));
	if (!r)
		r = plug_check_desc(path, d, err, sizeof(err));
	if (r) {
		report_refused(&b, err);
		status = 1;
	} else {
		report_pass(&b, d, &id);
		status = 0;
	}
	if (b.failed || write_all(fd, b.p, b.len) < 0)
		status = 2;
	free(b.p);
	return status;
}

struct reader {
	const char *p;
	size_t len, off;
	const char *bad; /* the field that did not parse, */
	size_t at;       /* and where it starts */
};

/* One field, exactly KEY; *val NULL for "KEY -". */
static bool rd_field(struct reader *r, const char *key, const char **val,
		     size_t *vlen)
{
	size_t klen = strlen(key), n = 0, digits = 0;
	const char *p;

	r->bad = key;
	r->at = r->off;
	if (r->len - r->off < klen + 2 ||
	    memcmp(r->p + r->off, key, klen) != 0 ||
	    r->p[r->off + klen] != ' ')
		return false;
	r->off += klen + 1;
	p = r->p + r->off;
	if (r->len - r->off >= 2 && p[0] == '-' && p[1] == '\n') {
		r->off += 2;
		*val = NULL;
		*vlen = 0;
		return true;
	}
	while (r->off < r->len && r->p[r->off] >= '0' &&
	       r->p[r->off] <= '9') {
		if (++digits > 7 || (digits == 2 && n == 0))
			return false;
		n = n * 10 + (size_t)(r->p[r->off++] - '0');
	}
	if (!digits || n > REPORT_MAX || r->off >= r->len ||
	    r->p[r->off] != ':')
		return false;
	r->off++;
	if (r->len - r->off < n + 1 || r->p[r->off + n] != '\n' ||
	    memchr(r->p + r->off, '\0', n))
		return false;
	*val = r->p + r->off;
	*vlen = n;
	r->off += n + 1;
	return true;
}

static bool rd_str(struct reader *r, const char *key, bool may_be_null,
		   char **out)
{
	const char *v;
	size_t n;

	*out = NULL;
	if (!rd_field(r, key, &v, &n))
		return false;
	if (!v)
		return may_be_null;
	*out = strndup(v, n);
	return *out != NULL;
}

static bool rd_literal(struct reader *r, const char *key, const char *want)
{
	const char *v;
	size_t n;

	return rd_field(r, key, &v, &n) && v && n == strlen(want) &&
	       memcmp(v, want, n) == 0;
}

static bool rd_i64(struct reader *r, const char *key, int64_t lo, int64_t hi,
		   int64_t *out)
{
	char s[24], *end;
	const char *v;
	long long x;
	size_t n;

	if (!rd_field(r, key, &v, &n) || !v || n == 0 || n >= sizeof(s))
		return false;
	memcpy(s, v, n);
	s[n] = '\0';
	/* Canonical decimal only: what put_i64 writes. */
	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && n > 1)) ||
	    (s[0] == '0' && n > 1) || (s[0] == '-' && s[1] == '0'))
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

static bool rd_u32(struct reader *r, const char *key, uint32_t *out)
{
	int64_t v;

	if (!rd_i64(r, key, 0, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

void plug_info_free(struct plug_info *info)
{
	size_t i;

	if (!info)
		return;
	if (info->config)
		for (i = 0; info->config[i].name; i++) {
			free((char *)info->config[i].name);
			free((char *)info->config[i].def);
			free((char *)info->config[i].help);
		}
	free(info->config);
	free(info->path);
	free(info->name);
	free(info->version);
	free(info->description);
	free(info);
}

static bool parse_pass(struct reader *r, struct plug_info *info)
{
	struct strata_cfg_key *k;
	int64_t dev = 0, ino = 0;
	uint32_t n;
	size_t i;

	if (!rd_u32(r, "abi_major", &info->abi_major) ||
	    !rd_u32(r, "abi_minor", &info->abi_minor) ||
	    !rd_u32(r, "size", &info->size) ||
	    !rd_u32(r, "kind", &info->kind) ||
	    !rd_i64(r, "file_dev", INT64_MIN, INT64_MAX, &dev) ||
	    !rd_i64(r, "file_ino", INT64_MIN, INT64_MAX, &ino) ||
	    !rd_i64(r, "file_size", 0, INT64_MAX, &info->file.size) ||
	    !rd_i64(r, "file_mtime", INT64_MIN, INT64_MAX, &info->file.mtime_ns) ||
	    !rd_i64(r, "file_ctime", INT64_MIN, INT64_MAX, &info->file.ctime_ns) ||
	    !rd_str(r, "name", false, &info->name) ||
	    !rd_str(r, "version", false, &info->version) ||
	    !rd_str(r, "description", true, &info->description) ||
	    !rd_u32(r, "config", &n))
		return false;
	info->file.dev = (uint64_t)dev;
	info->file.ino = (uint64_t)ino;
	if (n > CFG_MAX_KEYS)
		return false;
	info->config = calloc((size_t)n + 1, sizeof(*info->config));
	if (!info->config)
		return false;
	for (i = 0; i < n; i++) {
		char *name, *def, *help;

		k = &info->config[i];
		if (!rd_str(r, "key_name", false, &name))
			return false;
		/* Named at once, so plug_info_free() sees the entry. */
		k->name = name;
		info->n_config = i + 1;
		if (!rd_u32(r, "key_type", &k->type) ||
		    !rd_u32(r, "key_flags", &k->flags) ||
		    !rd_str(r, "key_def", true, &def))
			return false;
		k->def = def;
		if (!rd_i64(r, "key_min", INT64_MIN, INT64_MAX, &k->min) ||
		    !rd_i64(r, "key_max", INT64_MIN, INT64_MAX, &k->max) ||
		    !rd_str(r, "key_help", true, &help))
			return false;
		k->help = help;
	}
	return true;
}

/* The child is untrusted: what it says passed must pass here too. */
static int info_validate(const struct plug_info *info, char *err,
			 size_t errlen)
{
	size_t n;
	int r;

	if ((r = check_abi(info->path, info->abi_major, info->abi_minor,
			   info->size, err, errlen)) ||
	    (r = check_kind(info->path, info->kind, err, errlen)) ||
	    (r = check_texts(info->path, info->name, info->version,
			     info->description, err, errlen)) ||
	    (r = check_config(info->path, info->config, &n, err, errlen)))
		return r;
	if (n != info->n_config)
		return refuse(err, errlen, info->path, "config",
			      "expected %zu keys, found %zu", info->n_config,
			      n);
	return 0;
}

static int parse_report(const char *path, const char *data, size_t len,
			int *refused, struct plug_info **out, char *err,
			size_t errlen)
{
	struct reader r = { .p = data, .len = len };
	struct plug_info *info;
	char *line = NULL, *prefix;
	size_t plen;
	int ret;

	*refused = 0;
	info = calloc(1, sizeof(*info));
	if (!info || !(info->path = strdup(path))) {
		free(info);
		refuse(err, errlen, path, "check",
		       "expected memory, found none");
		return -ENOMEM;
	}
	if (!rd_literal(&r, "report", REPORT_VERSION))
		goto malformed;
	if (rd_literal(&r, "result", "refused")) {
		if (!rd_str(&r, "error", false, &line) ||
		    !rd_literal(&r, "end", ""))
			goto malformed;
		if (r.off != r.len)
			goto trailing;
		/* The child's line as it is when it names this file. */
		if (asprintf(&prefix, "%s: ", path) < 0) {
			free(line);
			plug_info_free(info);
			return -ENOMEM;
		}
		flatten(prefix);
		flatten(line);
		plen = strlen(prefix);
		if (strncmp(line, prefix, plen) == 0 && line[plen])
			snprintf(err, errlen, "%s", line);
		else
			refuse(err, errlen, path, "check", "%s", line);
		free(prefix);
		free(line);
		plug_info_free(info);
		*refused = 1;
		return -EINVAL;
	}
	r.off = 0;
	if (!rd_literal(&r, "report", REPORT_VERSION) ||
	    !rd_literal(&r, "result", "pass") || !parse_pass(&r, info) ||
	    !rd_literal(&r, "end", ""))
		goto malformed;
	if (r.off != r.len)
		goto trailing;
	if ((ret = info_validate(info, err, errlen))) {
		plug_info_free(info);
		return ret;
	}
	*out = info;
	return 0;

malformed:
	free(line);
	plug_info_free(info);
	return refuse(err, errlen, path, "check",
		      "expected a valid report, found a bad \"%s\" field at "
		      "byte %zu",
		      r.bad, r.at);

trailing:
	free(line);
	plug_info_free(info);
	return refuse(err, errlen, path, "check",
		      "expected a valid report, found data after its end at "
		      "byte %zu",
		      r.off);
}

int plug_parse_report(const char *path, const char *data, size_t len,
		      struct plug_info **out, char *err, size_t errlen)
{
	int refused;

	return parse_report(path, data, len, &refused, out, err, errlen);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until EOF, the size limit or the deadline: 0, -EFBIG, -ETIMEDOUT. */
static int read_report(int fd, int64_t deadline, struct buf *b)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char chunk[65536];
	int64_t left;
	ssize_t n;
	int k;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		k = poll(&pfd, 1, (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIMEDOUT;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		buf_add(b, chunk, (size_t)n);
		if (b->failed)
			return -EFBIG;
	}
}

/* Wait for the child's exit until the deadline without reaping it, so its
 * process group can still be killed safely; true when it exited. */
static bool wait_exit(pid_t pid, int64_t deadline)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si,
			   WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return true; /* reaped elsewhere: nothing to wait */
		}
		if (si.si_pid == pid)
			return true;
		if (now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
}

static int spawn_checker(const char *path, int wfd, pid_t *pid_out)
{
	char *argv[] = { (char *)plug_checker, (char *)"--plugin-check",
			 (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		      POSIX_SPAWN_SETPGROUP;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawn_file_actions_init(&fa)))
		return -r;
	if ((r = posix_spawnattr_init(&attr)))
		goto destroy_fa;
	/* Defaults for every signal, so a crash is a crash; a group of its
	 * own, so whatever the plugin starts can be killed with it. */
	if ((r = posix_spawnattr_setflags(&attr, flags)) ||
	    (r = posix_spawnattr_setsigmask(&attr, &none)) ||
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) ||
	    (r = posix_spawnattr_setpgroup(&attr, 0)) ||
	    (r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						  O_RDONLY, 0)) ||
	    (r = posix_spawn_file_actions_adddup2(&fa, wfd, PLUG_CHILD_FD)))
		goto destroy_attr;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* The daemon's descriptors are no business of a plugin's. */
	if ((r = posix_spawn_file_actions_addclosefrom_np(&fa, 4)))
		goto destroy_attr;
#endif
	r = posix_spawn(pid_out, plug_checker, &fa, &attr, argv, environ);

destroy_attr:
	posix_spawnattr_destroy(&attr);
destroy_fa:
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

int plug_check(const char *path, struct plug_info **out, char *err,
	       size_t errlen)
{
	struct buf b = { 0 };
	int fds[2], status = 0, r, rd, refused, tmp;
	int64_t deadline;
	bool exited;
	pid_t pid;

	*out = NULL;
	/* Said here, as not every posix_spawn() reports a failed exec. */
	if (access(plug_checker, X_OK) < 0) {
		r = -errno;
		refuse(err, errlen, path, "check",
		       "expected to run %s, found %s", plug_checker,
		       strerror(-r));
		return r;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = -errno;
		refuse(err, errlen, path, "check", "expected a pipe, found %s",
		       strerror(-r));
		return r;
	}
	/* fd 3 in the child is the pipe: keep the write end off 3 here, or
	 * dup2(3, 3) would leave it close-on-exec. */
	if (fds[1] == 3) {
		tmp = fcntl(fds[1], F_DUPFD_CLOEXEC, 4);
		if (tmp < 0) {
			r = -errno;
			refuse(err, errlen, path, "check",
			       "expected a pipe, found %s", strerror(-r));
			goto close_pipe;
		}
		close(fds[1]);
		fds[1] = tmp;
	}
	r = spawn_checker(path, fds[1], &pid);
	close(fds[1]);
	fds[1] = -1;
	if (r) {
		refuse(err, errlen, path, "check",
		       "expected to run %s, found %s", plug_checker,
		       strerror(-r));
		goto close_pipe;
	}
	deadline = now_ms() + CHECK_TIMEOUT_S * 1000;
	rd = read_report(fds[0], deadline, &b);
	exited = rd == 0 && wait_exit(pid, deadline);
	/* Everything left of the check goes, the child's helpers too. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rd == -EFBIG) {
		r = refuse(err, errlen, path, "check",
			   "expected a report of at most %d bytes, found more",
			   REPORT_MAX);
	} else if (rd == -ETIMEDOUT || (rd == 0 && !exited)) {
		refuse(err, errlen, path, "check",
		       "timed out after %d s while loading", CHECK_TIMEOUT_S);
		r = -ETIMEDOUT;
	} else if (rd < 0) {
		r = rd;
		refuse(err, errlen, path, "check",
		       "expected a report, found %s", strerror(-rd));
	} else if (WIFSIGNALED(status)) {
		r = refuse(err, errlen, path, "check",
			   "crashed with signal %d while loading",
			   WTERMSIG(status));
	} else if (b.len == 0) {
		r = refuse(err, errlen, path, "check",
			   "expected a report, found none and exit status %d",
			   WEXITSTATUS(status));
	} else {
		r = parse_report(path, b.p, b.len, &refused, out, err, errlen);
		if (r == 0 && WEXITSTATUS(status) != 0) {
			plug_info_free(*out);
			*out = NULL;
			r = refuse(err, errlen, path, "check",
				   "expected exit status 0 after a pass, "
				   "found %d",
				   WEXITSTATUS(status));
		} else if (refused && WEXITSTATUS(status) != 1) {
			r = refuse(err, errlen, path, "check",
				   "expected exit status 1 after a refusal, "
				   "found %d",
				   WEXITSTATUS(status));
		}
	}
	free(b.p);

close_pipe:
	if (fds[1] >= 0)
		close(fds[1]);
	close(fds[0]);
	return r;
}

static struct plug_info *info_dup(const struct plug_info *src)
{
	struct plug_info *d;
	size_t i;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	*d = *src;
	d->path = d->name = d->version = d->description = NULL;
	d->config = calloc(src->n_config + 1, sizeof(*d->config));
	if (!d->config)
		goto free_info;
	if (!(d->path = strdup(src->path)) ||
	    !(d->name = strdup(src->name)) ||
	    !(d->version = strdup(src->version)) ||
	    (src->description &&
	     !(d->description = strdup(src->description))))
		goto free_info;
	for (i = 0; i < src->n_config; i++) {
		const struct strata_cfg_key *s = &src->config[i];
		struct strata_cfg_key *k = &d->config[i];

		*k = *s;
		k->name = k->def = k->help = NULL;
		if (!(k->name = strdup(s->name)) ||
		    (s->def && !(k->def = strdup(s->def))) ||
		    (s->help && !(k->help = strdup(s->help))))
			goto free_info;
	}
	return d;

free_info:
	plug_info_free(d);
	return NULL;
}

int plug_load(const struct plug_info *info, struct plug **out, char *err,
	      size_t errlen)
{
	const struct strata_plugin *d = NULL;
	struct plug_file_id id;
	char qa[192], qb[192];
	struct plug *p;
	void *h = NULL;
	int r;

	*out = NULL;
	/* Never unloaded: callbacks may still be queued at any time. */
	r = open_plugin(info->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE,
			&info->file, &id, &h, &d, err, errlen);
	if (!r)
		r = plug_check_desc(info->path, d, err, errlen);
	if (r)
		goto close_handle;
	/* The file may have changed since the child read it. */
	if (strcmp(d->name, info->name) != 0) {
		r = refuse(err, errlen, info->path, "recheck name",
			   "expected %s as checked, found %s",
			   quote(qa, sizeof(qa), info->name),
			   quote(qb, sizeof(qb), d->name));
		goto close_handle;
	}
	if (d->kind != info->kind) {
		r = refuse(err, errlen, info->path, "recheck kind",
			   "expected %s as checked, found %s",
			   plug_kind_name(info->kind), plug_kind_name(d->kind));
		goto close_handle;
	}
	if (strcmp(d->version, info->version) != 0) {
		r = refuse(err, errlen, info->path, "recheck version",
			   "expected %s as checked, found %s",
			   quote(qa, sizeof(qa), info->version),
			   quote(qb, sizeof(qb), d->version));
		goto close_handle;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->info = info_dup(info))) {
		free(p);
		r = -ENOMEM;
		refuse(err, errlen, info->path, "load",
		       "expected memory, found none");
		goto close_handle;
	}
	p->handle = h;
	p->desc = d;
	*out = p;
	return 0;

close_handle:
	/* Nothing of it was called: with RTLD_NODELETE it stays mapped. */
	if (h)
		dlclose(h);
	return r;
}

void plug_free(struct plug *p)
{
	if (!p)
		return;
	plug_info_free(p->info);
	free(p);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int plug_check_unique(struct plug_info *const *infos, size_t n, char *err,
		      size_t errlen)
{
	char q[192];
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(infos[i]->name, infos[j]->name) == 0 &&
			    !same_file(infos[i]->path, infos[j]->path)) {
				refuse(err, errlen, infos[i]->path,
					      "unique name",
					      "expected a name no other plugin "
					      "has, found %s also in %s",
					      quote(q, sizeof(q),
						    infos[i]->name),
					      infos[j]->path);
				return -EEXIST;
			}
	return 0;
}
