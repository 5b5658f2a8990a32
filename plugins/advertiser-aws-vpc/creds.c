/* SPDX-License-Identifier: Apache-2.0 */
#include "creds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imds.h"

#define NS_PER_S 1000000000LL
#define CREDS_FILE_MAX (1u << 20)
#define CREDS_WHY_MAX 512
#define CREDS_SECRET_MAX 256
#define CREDS_TOKEN_MAX 16384
#define CREDS_RETRY_MIN_NS NS_PER_S
#define CREDS_RETRY_MAX_NS (300 * NS_PER_S)
#define CREDS_EARLY_NS (15 * 60 * NS_PER_S)
#define CREDS_SHORT_NS (30 * 60 * NS_PER_S)
#define CREDS_WATCH_MAX_S (366 * 86400LL)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void creds_keys_clear(struct creds_keys *k)
{
	if (!k)
		return;
	imds_wipe_str(&k->access_key_id);
	imds_wipe_str(&k->secret_access_key);
	imds_wipe_str(&k->session_token);
	k->expiration = 0;
}

int64_t creds_refresh_at(int64_t obtained, int64_t expiration)
{
	int64_t life = expiration - obtained;

	if (life >= CREDS_SHORT_NS)
		return expiration - CREDS_EARLY_NS;
	return obtained + (life > 0 ? life / 2 : 0);
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* -- values --------------------------------------------------------------- */

static bool valid_akid(const char *v, size_t len)
{
	if (len < 16 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(v[i] >= 'A' && v[i] <= 'Z') &&
		    !(v[i] >= '0' && v[i] <= '9'))
			return false;
	return true;
}

static bool valid_secret(const char *v, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
			return false;
	return true;
}

static char *dup_n(const char *v, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, v, len);
		s[len] = '\0';
	}
	return s;
}

/* The access key id is no secret: it may be shown, cut short. */
static const char *show(const char *v, size_t len, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 40 && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	buf[o] = '\0';
	return buf;
}

/* Check and keep one key; where names the place for messages. */
static int set_key(struct creds_keys *k, const char *name, const char *v,
		   size_t len, const char *where, char *err, size_t errlen)
{
	char q[200];
	char **dst;

	if (strcasecmp(name, "aws_access_key_id") == 0) {
		if (!valid_akid(v, len))
			return fail(err, errlen, -EINVAL,
				    "%s%s \"%s\": want 16 to 128 of [A-Z0-9]",
				    where, name, show(v, len, q, sizeof(q)));
		dst = &k->access_key_id;
	} else if (strcasecmp(name, "aws_secret_access_key") == 0) {
		if (!valid_secret(v, len, CREDS_SECRET_MAX))
			return fail(err, errlen, -EINVAL,
				    "%s%s: want 1 to %d printable characters "
				    "without spaces (value not shown)",
				    where, name, CREDS_SECRET_MAX);
		dst = &k->secret_access_key;
	} else {
		if (!valid_secret(v, len, CREDS_TOKEN_MAX))
			return fail(err, errlen, -EINVAL,
				    "%s%s: want 1 to %d printable characters "
				    "without spaces (value not shown)",
				    where, name, CREDS_TOKEN_MAX);
		dst = &k->session_token;
	}
	imds_wipe_str(dst);
	*dst = dup_n(v, len);
	return *dst ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
}

/* -- the environment ------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int creds_from_env(struct creds_keys *out, char *err, size_t errlen)
{
	const char *id = env("AWS_ACCESS_KEY_ID");
	const char *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN");
	const char *exp = env("AWS_CREDENTIAL_EXPIRATION");
	int rc;

	memset(out, 0, sizeof(*out));
	if (!id && !secret)
		return fail(err, errlen, -ENOENT,
			    "AWS_ACCESS_KEY_ID is not set");
	if (!id || !secret)
		return fail(err, errlen, -EINVAL, "%s is set but %s is not",
			    id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			    id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (!token)
		token = env("AWS_SECURITY_TOKEN");
	rc = set_key(out, "aws_access_key_id", id, strlen(id), "$", err,
		     errlen);
	if (rc == 0)
		rc = set_key(out, "aws_secret_access_key", secret,
			     strlen(secret), "$", err, errlen);
	if (rc == 0 && token)
		rc = set_key(out, "aws_session_token", token, strlen(token),
			     "$", err, errlen);
	if (rc == 0 && exp &&
	    imds_parse_time(exp, strlen(exp), &out->expiration) < 0) {
		char q[200];

		rc = fail(err, errlen, -EINVAL,
			  "$AWS_CREDENTIAL_EXPIRATION \"%s\": want ISO-8601 UTC "
			  "(2024-05-01T12:00:00Z)",
			  show(exp, strlen(exp), q, sizeof(q)));
	}
	if (rc < 0)
		creds_keys_clear(out);
	return rc;
}

/* -- the shared credentials file ------------------------------------------- */

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v' ||
	       ch == '\r';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

enum { INI_ID, INI_SECRET, INI_TOKEN, INI_KEYS };

static int ini_key(const char *k, size_t len)
{
	static const char *const names[] = {
		[INI_ID] = "aws_access_key_id",
		[INI_SECRET] = "aws_secret_access_key",
		[INI_TOKEN] = "aws_session_token",
	};

	for (int i = 0; i < INI_KEYS; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], k, len) == 0)
			return i;
	if (len == 18 && strncasecmp(k, "aws_security_token", len) == 0)
		return INI_TOKEN;
	return -1;
}

int creds_parse_ini(const char *buf, size_t len, const char *profile,
		    struct creds_keys *out, char *err, size_t errlen)
{
	static const char *const names[] = {
		"aws_access_key_id", "aws_secret_access_key",
		"aws_session_token",
	};
	unsigned key_line[INI_KEYS] = { 0 };
	unsigned line = 0, profile_line = 0;
	bool in_profile = false, in_section = false, nested_ok = false;
	size_t pos = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!profile || !*profile || (!buf && len))
		return fail(err, errlen, -EINVAL, "no profile");
	while (pos < len && rc == 0) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		bool indented = n && (l[0] == ' ' || l[0] == '\t');
		const char *eq, *k, *v;
		size_t kl, vl;
		char where[48];
		int which;

		pos += n + 1;
		line++;
		if (memchr(l, '\0', n)) {
			rc = fail(err, errlen, -EINVAL, "line %u: a NUL byte",
				  line);
			break;
		}
		trim(&l, &n);
		if (n == 0 || l[0] == '#' || l[0] == ';')
			continue;
		if (indented) {
			/* a nested block ("s3 =" then indented settings) */
			if (nested_ok)
				continue;
			rc = fail(err, errlen, -EINVAL,
				  "line %u: an indented line that continues "
				  "nothing", line);
			break;
		}
		nested_ok = false;
		if (l[0] == '[') {
			const char *name = l + 1;
			size_t nn = n - 1;

			if (l[n - 1] != ']') {
				rc = fail(err, errlen, -EINVAL,
					  "line %u: a section without its ']'",
					  line);
				break;
			}
			nn--;
			trim(&name, &nn);
			if (nn == 0) {
				rc = fail(err, errlen, -EINVAL,
					  "line %u: an empty section name", line);
				break;
			}
			in_section = true;
			in_profile = strlen(profile) == nn &&
				     memcmp(profile, name, nn) == 0;
			if (in_profile && profile_line) {
				rc = fail(err, errlen, -EINVAL,
					  "line %u: [%s] again (first on line "
					  "%u)", line, profile, profile_line);
				break;
			}
			if (in_profile)
				profile_line = line;
			continue;
		}
		eq = NULL;
		for (size_t i = 0; i < n && !eq; i++)
			if (l[i] == '=' || l[i] == ':')
				eq = l + i;
		if (!eq) {
			rc = fail(err, errlen, -EINVAL,
				  "line %u: expected [profile], key = value "
				  "or a comment", line);
			break;
		}
		k = l;
		kl = (size_t)(eq - l);
		v = eq + 1;
		vl = n - kl - 1;
		trim(&k, &kl);
		trim(&v, &vl);
		if (kl == 0) {
			rc = fail(err, errlen, -EINVAL,
				  "line %u: a value without a key", line);
			break;
		}
		if (!in_section) {
			rc = fail(err, errlen, -EINVAL,
				  "line %u: a key before any [profile]", line);
			break;
		}
		nested_ok = vl == 0;
		if (!in_profile)
			continue;
		which = ini_key(k, kl);
		if (which < 0)
			continue;
		if (key_line[which]) {
			rc = fail(err, errlen, -EINVAL,
				  "line %u: %s again (first on line %u)", line,
				  names[which], key_line[which]);
			break;
		}
		key_line[which] = line;
		snprintf(where, sizeof(where), "line %u: ", line);
		rc = set_key(out, names[which], v, vl, where, err, errlen);
	}
	if (rc == 0 && !profile_line)
		rc = fail(err, errlen, -ENOENT, "no [%s]", profile);
	else if (rc == 0 && !key_line[INI_ID] && !key_line[INI_SECRET])
		rc = fail(err, errlen, -ENODATA,
			  "[%s] (line %u) has no aws_access_key_id", profile,
			  profile_line);
	else if (rc == 0 && (!key_line[INI_ID] || !key_line[INI_SECRET]))
		rc = fail(err, errlen, -EINVAL, "[%s] (line %u) has %s but no %s",
			  profile, profile_line,
			  names[key_line[INI_ID] ? INI_ID : INI_SECRET],
			  names[key_line[INI_ID] ? INI_SECRET : INI_ID]);
	if (rc < 0)
		creds_keys_clear(out);
	return rc;
}

int creds_from_file(const char *path, const char *profile,
		    struct creds_keys *out, char *err, size_t errlen)
{
	char why[CREDS_WHY_MAX];
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CREDS_FILE_MAX) {
		rc = fail(err, errlen, S_ISREG(st.st_mode) ? -EFBIG : -EINVAL,
			  "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rc = creds_parse_ini(buf, got, profile, out, why, sizeof(why));
	imds_wipe_free(buf, (size_t)st.st_size + 1);
	if (rc < 0)
		return fail(err, errlen, rc, "%s: %s", path, why);
	return 0;
}

/* -- the chain ---------------------------------------------------------- */

struct creds {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct imds *imds;
	char role[IMDS_ROLE_MAX + 1];
	int64_t retry_min, retry_max, retry;
	creds_changed_cb cb;
	void *arg;

	enum creds_source source;
	struct creds_keys keys;
	bool have;
	int err; /* when !have */
	char why[CREDS_WHY_MAX];
	char chain[CREDS_WHY_MAX]; /* what the earlier stages said */
	char expired_at[32];       /* of the keys that expired */

	struct imds_op *op;
	struct strata_timer *fetch_timer;  /* the next role fetch */
	struct strata_timer *expire_timer; /* the keys' expiration */
};

static void set_why(struct creds *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Messages are cut at the buffer's end rather than refused. */
static void set_why(struct creds *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

const char *creds_source_name(enum creds_source s)
{
	switch (s) {
	case CREDS_ENV:
		return "environment";
	case CREDS_FILE:
		return "shared credentials file";
	case CREDS_ROLE:
		return "instance role";
	default:
		return "none";
	}
}

int creds_new(const struct strata_host *h, struct strata_instance *inst,
	      const struct creds_config *cfg, creds_changed_cb cb, void *arg,
	      struct creds **out)
{
	struct creds *c;

	if (!h || !out)
		return -EINVAL;
	if (cfg && cfg->role && strlen(cfg->role) > IMDS_ROLE_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->h = h;
	c->inst = inst;
	c->cb = cb;
	c->arg = arg;
	c->err = -EAGAIN;
	set_why(c, "credentials not looked for yet");
	c->retry_min = CREDS_RETRY_MIN_NS;
	c->retry_max = CREDS_RETRY_MAX_NS;
	if (cfg) {
		c->imds = cfg->imds;
		if (cfg->role)
			snprintf(c->role, sizeof(c->role), "%s", cfg->role);
		if (cfg->retry_min_ns > 0)
			c->retry_min = cfg->retry_min_ns;
		if (cfg->retry_max_ns > 0)
			c->retry_max = cfg->retry_max_ns;
	}
	if (c->retry_max < c->retry_min)
		c->retry_max = c->retry_min;
	c->retry = c->retry_min;
	*out = c;
	return 0;
}

static void timer_clear(struct creds *c, struct strata_timer **t)
{
	if (*t)
		c->h->timer_stop(c->inst, *t);
	*t = NULL;
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	imds_cancel(c->op);
	timer_clear(c, &c->fetch_timer);
	timer_clear(c, &c->expire_timer);
	creds_keys_clear(&c->keys);
	free(c);
}

enum creds_source creds_source(const struct creds *c)
{
	return c->have ? c->source : CREDS_NONE;
}

static void notify(struct creds *c)
{
	if (c->cb)
		c->cb(c->arg);
}

static void iso(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, size, "%lld", (long long)t);
}

static void on_expired(void *arg)
{
	struct creds *c = arg;

	c->expire_timer = NULL;
	if (!c->have)
		return;
	iso(c->keys.expiration, c->expired_at, sizeof(c->expired_at));
	creds_keys_clear(&c->keys);
	c->have = false;
	c->err = -EKEYEXPIRED;
	set_why(c, "credentials from the %s expired at %s",
		creds_source_name(c->source), c->expired_at);
	c->h->log(c->inst, STRATA_LOG_ERR, "aws credentials: %s", c->why);
	notify(c);
}

/* Keys become current: the old ones wiped, expiry watched. */
static void install(struct creds *c, enum creds_source src,
		    struct creds_keys *k)
{
	creds_keys_clear(&c->keys);
	c->keys = *k;
	memset(k, 0, sizeof(*k));
	c->source = src;
	c->have = true;
	c->err = 0;
	c->why[0] = '\0';
	timer_clear(c, &c->expire_timer);
	/* beyond a year creds_get() alone keeps watch */
	if (c->keys.expiration &&
	    c->keys.expiration - wall_ns() / NS_PER_S < CREDS_WATCH_MAX_S) {
		int64_t left = c->keys.expiration * NS_PER_S - wall_ns();

		c->expire_timer = c->h->timer_start(c->inst,
						    left > 0 ? left : 0, 0,
						    on_expired, c);
	}
}

static void fetch_role(void *arg);

static void schedule_fetch(struct creds *c, int64_t delay)
{
	timer_clear(c, &c->fetch_timer);
	c->fetch_timer = c->h->timer_start(c->inst, delay > 0 ? delay : 0, 0,
					   fetch_role, c);
	if (!c->fetch_timer)
		c->h->log(c->inst, STRATA_LOG_ERR,
			  "aws credentials: no timer for the next refresh");
}

/* A failed fetch: the answer changes only when there are no keys. */
static void role_failed(struct creds *c, int err, const char *why)
{
	int64_t delay = c->retry;
	bool first;

	c->retry = c->retry * 2 > c->retry_max ? c->retry_max : c->retry * 2;
	schedule_fetch(c, delay);
	if (c->have) {
		char when[32];

		iso(c->keys.expiration, when, sizeof(when));
		c->h->log(c->inst, STRATA_LOG_WARNING,
			  "aws credentials: instance role refresh failed, "
			  "retrying in %lld ms; the current ones last until "
			  "%s: %s", (long long)(delay / 1000000), when, why);
		return;
	}
	c->h->log(c->inst, STRATA_LOG_WARNING,
		  "aws credentials: instance role: %s; retrying in %lld ms",
		  why, (long long)(delay / 1000000));
	if (c->err == -EKEYEXPIRED) {
		/* still expired: only the reason says more */
		set_why(c, "credentials from the instance role expired at %s; "
			"refreshing: %s", c->expired_at, why);
		return;
	}
	/* the first answer is news; later failures only replace it */
	first = c->err == -EAGAIN;
	c->err = err;
	set_why(c, "%s; instance role: %s", c->chain, why);
	if (first)
		notify(c);
}

static void role_done(void *arg, int err, const struct imds_role_creds *rc,
		      const char *why)
{
	struct creds *c = arg;
	struct creds_keys k = { 0 };
	int64_t now = wall_ns(), exp;
	char msg[CREDS_WHY_MAX];

	c->op = NULL;
	if (err) {
		role_failed(c, err, why);
		return;
	}
	exp = rc->expiration * NS_PER_S;
	if (exp <= now) {
		char when[32];

		iso(rc->expiration, when, sizeof(when));
		snprintf(msg, sizeof(msg),
			 "role %s: credentials already expired (%s)", rc->role,
			 when);
		role_failed(c, -EKEYEXPIRED, msg);
		return;
	}
	k.access_key_id = strdup(rc->access_key_id);
	k.secret_access_key = strdup(rc->secret_access_key);
	k.session_token = strdup(rc->session_token);
	k.expiration = rc->expiration;
	if (!k.access_key_id || !k.secret_access_key || !k.session_token) {
		creds_keys_clear(&k);
		role_failed(c, -ENOMEM, "out of memory");
		return;
	}
	install(c, CREDS_ROLE, &k);
	c->retry = c->retry_min;
	{
		int64_t at = creds_refresh_at(now, exp);
		char when[32];

		iso(c->keys.expiration, when, sizeof(when));
		c->h->log(c->inst, STRATA_LOG_INFO,
			  "aws credentials: instance role %s, key %s, until "
			  "%s; refresh in %lld s", rc->role,
			  c->keys.access_key_id, when,
			  (long long)((at - now) / NS_PER_S));
		/* never sooner than the retry floor: no busy loop on keys
		 * that live only seconds */
		schedule_fetch(c, at - now > c->retry_min ? at - now :
							   c->retry_min);
	}
	notify(c);
}

static void fetch_role(void *arg)
{
	struct creds *c = arg;
	int rc;

	c->fetch_timer = NULL;
	if (c->op)
		return;
	rc = imds_role_creds(c->imds, c->role[0] ? c->role : NULL, role_done,
			     c, &c->op);
	if (rc < 0) {
		c->op = NULL;
		role_failed(c, rc, strerror(-rc));
	}
}

static bool imds_disabled(void)
{
	const char *v = env("AWS_EC2_METADATA_DISABLED");

	return v && strcasecmp(v, "true") == 0;
}

/* AWS_SHARED_CREDENTIALS_FILE (with ~/ expanded) or ~/.aws/credentials */
static int file_path(char *buf, size_t size)
{
	const char *p = env("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = env("HOME");
	int n;

	if (p && strncmp(p, "~/", 2) != 0)
		n = snprintf(buf, size, "%s", p);
	else if (!home)
		return -ENOENT;
	else if (p)
		n = snprintf(buf, size, "%s/%s", home, p + 2);
	else
		n = snprintf(buf, size, "%s/.aws/credentials", home);
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static int stop_chain(struct creds *c, int rc, char *err, size_t errlen)
{
	c->err = rc;
	c->h->log(c->inst, STRATA_LOG_ERR, "aws credentials: %s", c->why);
	return fail(err, errlen, rc, "%s", c->why);
}

int creds_start(struct creds *c, char *err, size_t errlen)
{
	const char *profile = env("AWS_PROFILE");
	char why[CREDS_WHY_MAX - 64], path[4096];
	struct creds_keys k;
	bool named;
	size_t used;
	int rc;

	if (!c)
		return -EINVAL;
	if (!profile)
		profile = env("AWS_DEFAULT_PROFILE");
	named = profile != NULL;
	if (!named)
		profile = "default";

	rc = creds_from_env(&k, why, sizeof(why));
	if (rc == 0) {
		install(c, CREDS_ENV, &k);
		c->h->log(c->inst, STRATA_LOG_INFO,
			  "aws credentials: from the environment, key %s",
			  c->keys.access_key_id);
		return 0;
	}
	if (rc != -ENOENT) {
		set_why(c, "environment: %s", why);
		return stop_chain(c, rc, err, errlen);
	}
	snprintf(c->chain, sizeof(c->chain), "not in the environment");

	rc = file_path(path, sizeof(path));
	if (rc == 0)
		rc = creds_from_file(path, profile, &k, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no $HOME for ~/.aws/credentials");
	if (rc == 0) {
		install(c, CREDS_FILE, &k);
		c->h->log(c->inst, STRATA_LOG_INFO,
			  "aws credentials: profile %s of %s, key %s", profile,
			  path, c->keys.access_key_id);
		return 0;
	}
	if ((rc != -ENOENT && rc != -ENODATA) || named) {
		set_why(c,
			 "shared credentials file, profile %s%s: %s", profile,
			 named ? " (named in the environment)" : "", why);
		return stop_chain(c, rc, err, errlen);
	}
	used = strlen(c->chain);
	snprintf(c->chain + used, sizeof(c->chain) - used, "; %s", why);

	if (!c->imds || imds_disabled()) {
		set_why(c, "no credentials: %s; %s",
			 c->chain,
			 c->imds ? "IMDS disabled by AWS_EC2_METADATA_DISABLED" :
				   "no instance metadata service to ask");
		return stop_chain(c, -ENOENT, err, errlen);
	}
	c->err = -EAGAIN;
	set_why(c,
		 "%s; fetching the instance role's from %s", c->chain,
		 imds_endpoint(c->imds));
	rc = imds_role_creds(c->imds, c->role[0] ? c->role : NULL, role_done,
			     c, &c->op);
	if (rc < 0) {
		c->op = NULL;
		set_why(c, "%s; instance role: %s",
			 c->chain, strerror(-rc));
		return stop_chain(c, rc, err, errlen);
	}
	return 0;
}

int creds_get(struct creds *c, const struct creds_keys **out,
	      const char **why)
{
	if (!c)
		return -EINVAL;
	if (c->have && c->keys.expiration &&
	    wall_ns() / NS_PER_S >= c->keys.expiration) {
		char when[32];

		iso(c->keys.expiration, when, sizeof(when));
		set_why(c,
			 "credentials from the %s expired at %s",
			 creds_source_name(c->source), when);
		if (why)
			*why = c->why;
		return -EKEYEXPIRED;
	}
	if (c->have) {
		if (out)
			*out = &c->keys;
		if (why)
			*why = NULL;
		return 0;
	}
	if (why)
		*why = c->why;
	return c->err;
}
