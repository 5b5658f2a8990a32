/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes API client and its informers.
 *
 * An informer follows client-go's reflector: list (paged with limit and
 * continue), deliver the difference against its cache and "synced", then
 * watch from the list's resourceVersion with bookmarks. A watch that ends
 * normally is started again from the last resourceVersion seen; 410 Gone
 * (a status or an ERROR event) lists again; any other failure backs off,
 * 1 s doubling to 60 s with jitter. Every request of the client takes a
 * token from one bucket first.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "kube.h"
#include "kube_parse.h"
#include "log.h"
#include "loop.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define TOKEN_MAX (64u << 10)
#define TOKEN_REREAD_NS (60 * 1000000000LL)
#define LIST_LIMIT 500
#define LIST_TIMEOUT_NS (60 * 1000000000LL)
#define LIST_MAX_BODY (64u << 20)
#define WATCH_GRACE_NS (30 * 1000000000LL)
#define DEFAULT_WATCH_TIMEOUT_NS (300 * 1000000000LL)
#define CONTINUE_MAX 4096

struct kube {
	struct loop *loop;
	struct http *http;
	struct kube_config cfg;
	struct http_tls tls;
	char *token;          /* cached from token_file */
	int64_t token_read_ns;
	struct kube_bucket bucket;
	int64_t watch_timeout_ns;
	uint64_t rnd;
	struct kube_informer *informers;
};

struct entry {
	char *key;
	char *rv;
	yajl_val obj;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

enum inf_state { INF_IDLE, INF_LISTING, INF_WATCHING };

struct kube_informer {
	struct kube *k;
	struct kube_informer *prev, *next;
	char *path;
	kube_event_cb cb;
	void *arg;
	enum inf_state state;
	struct http_call *call;
	struct loop_timer *timer;
	struct entries cache; /* sorted by key */
	struct entries fresh; /* a list's pages, as they come */
	char *cont;           /* the next page's continue token */
	char rv[KUBE_RV_MAX];
	bool listed;          /* rv is from a list or an event */
	bool relist;          /* the stream said 410 */
	bool events_seen;     /* this watch delivered something */
	unsigned failures;
	struct kube_lines lines;
};

/* ---- credentials ---------------------------------------------------------- */

static int read_small(const char *path, size_t max, char **out)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!rc && len > max)
		rc = -EFBIG;
	if (rc) {
		explicit_bzero(buf, len < max ? len : max);
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static void token_drop(struct kube *k)
{
	if (k->token) {
		explicit_bzero(k->token, strlen(k->token));
		free(k->token);
		k->token = NULL;
	}
}

/* The bearer token, re-read from its file at most a minute old: projected
 * service-account tokens rotate. NULL when there is none. */
static const char *token_of(struct kube *k)
{
	int64_t now = loop_now();
	char *t;
	int rc;

	if (!k->cfg.token_file)
		return k->cfg.token;
	if (k->token && now - k->token_read_ns < TOKEN_REREAD_NS)
		return k->token;
	rc = read_small(k->cfg.token_file, TOKEN_MAX, &t);
	if (rc) {
		log_warn("kube: token %s: %s%s", k->cfg.token_file,
			 strerror(-rc),
			 k->token ? "; using the one read before" : "");
		return k->token;
	}
	t[strcspn(t, "\r\n")] = '\0';
	token_drop(k);
	k->token = t;
	k->token_read_ns = now;
	return k->token;
}

static int in_cluster(struct kube_config *c, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	size_t n;

	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen,
			 "not in a cluster (KUBERNETES_SERVICE_HOST and _PORT unset); set kubernetes.kubeconfig");
		return -ENOENT;
	}
	if (strspn(port, "0123456789") != strlen(port) ||
	    host[strcspn(host, "/@ ")]) {
		snprintf(err, errlen, "KUBERNETES_SERVICE_HOST/PORT malformed");
		return -EINVAL;
	}
	n = strlen(host) + strlen(port) + 16;
	c->server = malloc(n);
	if (!c->server)
		return -ENOMEM;
	snprintf(c->server, n, strchr(host, ':') ? "https://[%s]:%s" :
						   "https://%s:%s",
		 host, port);
	c->ca_file = strdup(SA_DIR "/ca.crt");
	c->token_file = strdup(SA_DIR "/token");
	return c->ca_file && c->token_file ? 0 : -ENOMEM;
}

static int from_kubeconfig(const char *path, struct kube_config *c,
			   char *err, size_t errlen)
{
	char perr[256], *text, *dir, *slash;
	int rc;

	rc = read_small(path, 1u << 20, &text);
	if (rc) {
		snprintf(err, errlen, "kubeconfig %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	perr[0] = '\0';
	rc = kube_config_parse(text, strlen(text), dir, c, perr,
			       sizeof(perr));
	explicit_bzero(text, strlen(text));
	free(text);
	free(dir);
	if (rc)
		snprintf(err, errlen, "kubeconfig %s: %s", path,
			 perr[0] ? perr : strerror(-rc));
	return rc;
}

int kube_new(struct loop *loop, struct http *http,
	     const struct kube_options *opt, struct kube **out, char *err,
	     size_t errlen)
{
	struct kube *k;
	int rc;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->loop = loop;
	k->http = http;
	if (opt->kubeconfig && *opt->kubeconfig)
		rc = from_kubeconfig(opt->kubeconfig, &k->cfg, err, errlen);
	else
		rc = in_cluster(&k->cfg, err, errlen);
	if (rc) {
		kube_config_clear(&k->cfg);
		free(k);
		return rc;
	}
	k->tls = (struct http_tls){
		.ca_file = k->cfg.ca_file,
		.cert_file = k->cfg.cert_file,
		.key_file = k->cfg.key_file,
		.ca_pem = k->cfg.ca_data,
		.ca_pem_len = k->cfg.ca_data_len,
		.cert_pem = k->cfg.cert_data,
		.cert_pem_len = k->cfg.cert_data_len,
		.key_pem = k->cfg.key_data,
		.key_pem_len = k->cfg.key_data_len,
		.insecure = k->cfg.insecure,
	};
	kube_bucket_init(&k->bucket, opt->qps > 0 ? opt->qps : 5,
			 opt->burst ? opt->burst : 10, loop_now());
	k->watch_timeout_ns = opt->watch_timeout_ns > 0 ?
				      opt->watch_timeout_ns :
				      DEFAULT_WATCH_TIMEOUT_NS;
	k->rnd = (uint64_t)loop_now() ^ ((uint64_t)getpid() << 32) ^
		 0x9e3779b97f4a7c15ULL;
	*out = k;
	return 0;
}

const char *kube_server(const struct kube *k)
{
	return k->cfg.server;
}

static uint32_t rnd32(struct kube *k)
{
	/* xorshift64*: jitter only, nothing secret */
	k->rnd ^= k->rnd >> 12;
	k->rnd ^= k->rnd << 25;
	k->rnd ^= k->rnd >> 27;
	return (uint32_t)((k->rnd * 0x2545f4914f6cdd1dULL) >> 32);
}

/* ---- the cache ------------------------------------------------------------ */

static void entry_clear(struct entry *e)
{
	free(e->key);
	free(e->rv);
	yajl_tree_free(e->obj);
}

static void entries_clear(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		entry_clear(&es->v[i]);
	free(es->v);
	memset(es, 0, sizeof(*es));
}

static int entries_grow(struct entries *es)
{
	struct entry *v;
	size_t cap;

	if (es->n < es->cap)
		return 0;
	cap = es->cap ? es->cap * 2 : 16;
	v = realloc(es->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	es->v = v;
	es->cap = cap;
	return 0;
}

/* The index of key, or where it would go (*found false). */
static size_t entries_find(const struct entries *es, const char *key,
			   bool *found)
{
	size_t lo = 0, hi = es->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(es->v[mid].key, key);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Takes obj; false when out of memory (obj freed). */
static int entry_fill(struct entry *e, const char *key, const char *rv,
		      yajl_val obj)
{
	e->key = strdup(key);
	e->rv = strdup(rv);
	e->obj = obj;
	if (!e->key || !e->rv) {
		entry_clear(e);
		return -ENOMEM;
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key,
		      ((const struct entry *)b)->key);
}

/* ---- requests ------------------------------------------------------------- */

/* Appends s percent-encoded (unreserved characters stay). */
static int url_escape(char *dst, size_t dstlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(dst);

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (n + 4 >= dstlen)
			return -ENAMETOOLONG;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			dst[n++] = (char)c;
		} else {
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	dst[n] = '\0';
	return 0;
}

static struct http_call *kube_get(struct kube *k, const char *url,
				  int64_t timeout_ns,
				  void (*on_data)(void *, const void *, size_t),
				  strata_http_cb cb, void *arg)
{
	const char *token = token_of(k);
	char auth[TOKEN_MAX + 32];
	const char *headers[4] = { "Accept: application/json",
				   "User-Agent: stratad/" PACKAGE_VERSION,
				   NULL, NULL };
	struct strata_http_request req = {
		.size = sizeof(req),
		.method = "GET",
		.url = url,
		.headers = headers,
		.timeout_ns = timeout_ns,
		.max_body = LIST_MAX_BODY,
		.on_data = on_data,
	};
	struct http_call *call;

	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers[2] = auth;
	}
	call = http_start_tls(k->http, &req, &k->tls, cb, arg);
	if (headers[2])
		explicit_bzero(auth, sizeof(auth));
	return call;
}

/* ---- the informer --------------------------------------------------------- */

static void inf_run(void *arg);

/* The next request after delay_ns, once the bucket lets it go. */
static void inf_schedule(struct kube_informer *inf, int64_t delay_ns)
{
	struct kube *k = inf->k;

	delay_ns += kube_bucket_take(&k->bucket, loop_now() + delay_ns);
	if (inf->timer) {
		loop_timer_reset(inf->timer, delay_ns);
		return;
	}
	inf->timer = loop_timer_add(k->loop, delay_ns, 0, inf_run, inf);
	if (!inf->timer)
		log_err("kube: %s: timer: %s; this informer stops",
			inf->path, strerror(errno));
}

static void inf_fail(struct kube_informer *inf, const char *what,
		     const char *why)
{
	int64_t d = kube_backoff(inf->failures, rnd32(inf->k));

	inf->failures++;
	log_warn("kube: %s %s: %s; retrying in %lld ms", what, inf->path,
		 why, (long long)(d / 1000000));
	inf_schedule(inf, d);
}

static void inf_relist(struct kube_informer *inf, const char *why)
{
	log_info("kube: %s: %s; listing again", inf->path, why);
	inf->listed = false;
	inf->rv[0] = '\0';
	free(inf->cont);
	inf->cont = NULL;
	entries_clear(&inf->fresh);
	inf_schedule(inf, 0);
}

static void deliver(struct kube_informer *inf, enum kube_event ev,
		    const struct entry *e)
{
	inf->cb(inf->arg, ev, e->key, e->obj);
}

/* The fresh list replaces the cache; what differs is delivered. */
static void inf_apply_list(struct kube_informer *inf)
{
	struct entries *o = &inf->cache, *n = &inf->fresh;
	size_t i = 0, j = 0, w = 0;

	if (n->n) /* an empty list has no array at all */
		qsort(n->v, n->n, sizeof(*n->v), entry_cmp);
	/* a key twice in one list: the later page's wins */
	for (j = 0; j < n->n; j++) {
		if (w && !strcmp(n->v[w - 1].key, n->v[j].key)) {
			entry_clear(&n->v[w - 1]);
			n->v[w - 1] = n->v[j];
			continue;
		}
		n->v[w++] = n->v[j];
	}
	n->n = w;
	j = 0;
	while (i < o->n || j < n->n) {
		int c = i == o->n ? 1 :
			j == n->n ? -1 :
				    strcmp(o->v[i].key, n->v[j].key);

		if (c < 0) {
			deliver(inf, KUBE_DELETED, &o->v[i++]);
		} else if (c > 0) {
			deliver(inf, KUBE_ADDED, &n->v[j++]);
		} else {
			if (strcmp(o->v[i].rv, n->v[j].rv))
				deliver(inf, KUBE_MODIFIED, &n->v[j]);
			i++;
			j++;
		}
	}
	entries_clear(o);
	*o = *n;
	memset(n, 0, sizeof(*n));
	inf->cb(inf->arg, KUBE_SYNCED, "", NULL);
}

static int take_items(struct kube_informer *inf, yajl_val items)
{
	char key[KUBE_KEY_MAX], rv[KUBE_RV_MAX];
	size_t i;
	int rc;

	for (i = 0; i < items->u.array.len; i++) {
		yajl_val it = items->u.array.values[i];

		if (kube_object_key(it, key, sizeof(key), rv, sizeof(rv))) {
			log_warn("kube: %s: list item %zu has no valid metadata.name; skipped",
				 inf->path, i);
			continue;
		}
		rc = entries_grow(&inf->fresh);
		if (rc)
			return rc;
		items->u.array.values[i] = NULL;
		rc = entry_fill(&inf->fresh.v[inf->fresh.n], key, rv, it);
		if (rc)
			return rc;
		inf->fresh.n++;
	}
	return 0;
}

static const char *sval(yajl_val v)
{
	const char *s = v ? YAJL_GET_STRING(v) : NULL;

	return s ? s : "";
}

static void list_done(void *arg, const struct strata_http_response *resp)
{
	static const char *items_p[] = { "items", NULL };
	static const char *rv_p[] = { "metadata", "resourceVersion", NULL };
	static const char *cont_p[] = { "metadata", "continue", NULL };
	struct kube_informer *inf = arg;
	char perr[128], why[160];
	yajl_val root, items, rv, cont;
	int rc;

	inf->call = NULL;
	inf->state = INF_IDLE;
	if (resp->error) {
		inf_fail(inf, "listing", resp->error_text);
		return;
	}
	if (resp->status == 410 && inf->cont) {
		/* the continue token expired: start over */
		inf_relist(inf, "the list's continue token expired");
		return;
	}
	if (resp->status != 200) {
		snprintf(why, sizeof(why), "HTTP %d", resp->status);
		inf_fail(inf, "listing", why);
		return;
	}
	root = yajl_tree_parse(resp->body, perr, sizeof(perr));
	items = root ? yajl_tree_get(root, items_p, yajl_t_any) : NULL;
	rv = root ? yajl_tree_get(root, rv_p, yajl_t_string) : NULL;
	if (!items || !(YAJL_IS_ARRAY(items) || YAJL_IS_NULL(items)) ||
	    !*sval(rv) || strlen(sval(rv)) >= sizeof(inf->rv)) {
		yajl_tree_free(root);
		inf_fail(inf, "listing", "not a list with a resourceVersion");
		return;
	}
	rc = YAJL_IS_ARRAY(items) ? take_items(inf, items) : 0;
	if (rc) {
		yajl_tree_free(root);
		entries_clear(&inf->fresh);
		inf_fail(inf, "listing", strerror(-rc));
		return;
	}
	cont = yajl_tree_get(root, cont_p, yajl_t_string);
	free(inf->cont);
	inf->cont = NULL;
	if (*sval(cont)) {
		if (strlen(sval(cont)) > CONTINUE_MAX ||
		    !(inf->cont = strdup(sval(cont)))) {
			yajl_tree_free(root);
			entries_clear(&inf->fresh);
			inf_fail(inf, "listing", "continue token too long");
			return;
		}
		yajl_tree_free(root);
		inf_schedule(inf, 0);
		return;
	}
	strcpy(inf->rv, sval(rv));
	yajl_tree_free(root);
	inf->listed = true;
	inf->failures = 0;
	log_debug("kube: %s listed: %zu objects at resourceVersion %s",
		  inf->path, inf->fresh.n, inf->rv);
	inf_apply_list(inf);
	inf_schedule(inf, 0);
}

/* One event of the stream; -ECANCELED ends the watch to list again,
 * -EIO ends it to back off. */
static int watch_line(void *arg, char *line, size_t len)
{
	struct kube_informer *inf = arg;
	struct kube_watch_event ev;
	struct entries *c = &inf->cache;
	char err[160];
	bool found;
	size_t i;
	int rc;

	if (kube_watch_parse(line, len, &ev, err, sizeof(err))) {
		log_warn("kube: %s: malformed watch event skipped: %s",
			 inf->path, err);
		return 0;
	}
	inf->events_seen = true;
	switch (ev.type) {
	case KUBE_WATCH_ERROR:
		yajl_tree_free(ev.object);
		if (ev.code == 410) {
			inf->relist = true;
			return -ECANCELED;
		}
		log_warn("kube: %s: watch error %d %s", inf->path, ev.code,
			 ev.reason);
		return -EIO;
	case KUBE_WATCH_BOOKMARK:
		yajl_tree_free(ev.object);
		log_debug("kube: %s: bookmark at resourceVersion %s", inf->path,
			  ev.rv);
		strcpy(inf->rv, ev.rv);
		return 0;
	case KUBE_WATCH_DELETED:
		i = entries_find(c, ev.key, &found);
		if (found) {
			yajl_tree_free(c->v[i].obj);
			c->v[i].obj = ev.object;
			deliver(inf, KUBE_DELETED, &c->v[i]);
			entry_clear(&c->v[i]);
			memmove(&c->v[i], &c->v[i + 1],
				(c->n - i - 1) * sizeof(*c->v));
			c->n--;
		} else {
			struct entry e = { .key = ev.key, .obj = ev.object };

			deliver(inf, KUBE_DELETED, &e);
			yajl_tree_free(ev.object);
		}
		strcpy(inf->rv, ev.rv);
		return 0;
	case KUBE_WATCH_ADDED:
	case KUBE_WATCH_MODIFIED:
		break;
	}
	i = entries_find(c, ev.key, &found);
	if (found) {
		char *rv = strdup(ev.rv);

		if (!rv) {
			yajl_tree_free(ev.object);
			return -EIO;
		}
		free(c->v[i].rv);
		c->v[i].rv = rv;
		yajl_tree_free(c->v[i].obj);
		c->v[i].obj = ev.object;
		deliver(inf, KUBE_MODIFIED, &c->v[i]);
	} else {
		rc = entries_grow(c);
		if (rc) {
			yajl_tree_free(ev.object);
			return -EIO;
		}
		memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(*c->v));
		rc = entry_fill(&c->v[i], ev.key, ev.rv, ev.object);
		if (rc) {
			memmove(&c->v[i], &c->v[i + 1],
				(c->n - i) * sizeof(*c->v));
			return -EIO;
		}
		c->n++;
		deliver(inf, KUBE_ADDED, &c->v[i]);
	}
	strcpy(inf->rv, ev.rv);
	return 0;
}

static void watch_data(void *arg, const void *data, size_t len)
{
	struct kube_informer *inf = arg;
	int rc;

	if (!inf->call)
		return;
	rc = kube_lines_feed(&inf->lines, data, len, watch_line, inf);
	if (!rc)
		return;
	/* stop the stream here; its callback will not run */
	http_cancel(inf->call);
	inf->call = NULL;
	inf->state = INF_IDLE;
	kube_lines_reset(&inf->lines);
	if (rc == -ECANCELED)
		inf_relist(inf, "the watch's resourceVersion is too old (410)");
	else if (rc == -EMSGSIZE)
		inf_fail(inf, "watching", "an event longer than the limit");
	else
		inf_fail(inf, "watching", "the stream failed");
}

static void watch_done(void *arg, const struct strata_http_response *resp)
{
	struct kube_informer *inf = arg;
	char why[160];

	inf->call = NULL;
	inf->state = INF_IDLE;
	kube_lines_reset(&inf->lines);
	if (resp->status == 410) {
		inf_relist(inf, "the watch's resourceVersion is too old (410)");
		return;
	}
	if (!resp->error && resp->status == 200) {
		/* the server's timeoutSeconds: carry on from rv */
		inf->failures = 0;
		inf_schedule(inf, 0);
		return;
	}
	if (inf->events_seen)
		inf->failures = 0;
	if (resp->error)
		snprintf(why, sizeof(why), "%s", resp->error_text);
	else
		snprintf(why, sizeof(why), "HTTP %d", resp->status);
	inf_fail(inf, "watching", why);
}

static void inf_run(void *arg)
{
	struct kube_informer *inf = arg;
	struct kube *k = inf->k;
	char url[8192];
	int64_t secs;
	int rc;

	loop_timer_cancel(inf->timer);
	inf->timer = NULL;
	if (inf->call)
		return;
	if (!inf->listed) {
		snprintf(url, sizeof(url), "%s%s?limit=%d", k->cfg.server,
			 inf->path, LIST_LIMIT);
		rc = 0;
		if (inf->cont) {
			strcat(url, "&continue=");
			rc = url_escape(url, sizeof(url), inf->cont);
		}
		if (rc) {
			inf_relist(inf, "the continue token is too long");
			return;
		}
		inf->state = INF_LISTING;
		inf->call = kube_get(k, url, LIST_TIMEOUT_NS, NULL, list_done,
				     inf);
	} else {
		/* a bounded watch, spread so informers do not end together */
		secs = k->watch_timeout_ns / 1000000000LL;
		secs += (int64_t)(rnd32(k) % (uint32_t)(secs / 10 + 1));
		snprintf(url, sizeof(url),
			 "%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%lld&resourceVersion=",
			 k->cfg.server, inf->path, (long long)secs);
		if (url_escape(url, sizeof(url), inf->rv)) {
			inf_relist(inf, "the resourceVersion is too long");
			return;
		}
		inf->state = INF_WATCHING;
		inf->events_seen = false;
		kube_lines_reset(&inf->lines);
		inf->call = kube_get(k, url, secs * 1000000000LL + WATCH_GRACE_NS,
				     watch_data, watch_done, inf);
	}
	if (!inf->call) {
		inf->state = INF_IDLE;
		inf_fail(inf, inf->listed ? "watching" : "listing",
			 strerror(errno));
	}
}

int kube_informer_new(struct kube *k, const char *path, kube_event_cb cb,
		      void *arg, struct kube_informer **out)
{
	struct kube_informer *inf;

	if (!k || !path || path[0] != '/' || path[strcspn(path, "?# \r\n")] ||
	    !cb)
		return -EINVAL;
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return -ENOMEM;
	inf->path = strdup(path);
	if (!inf->path) {
		free(inf);
		return -ENOMEM;
	}
	inf->k = k;
	inf->cb = cb;
	inf->arg = arg;
	kube_lines_init(&inf->lines, KUBE_LINE_MAX);
	inf->next = k->informers;
	if (inf->next)
		inf->next->prev = inf;
	k->informers = inf;
	inf_schedule(inf, 0);
	*out = inf;
	return 0;
}

void kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	if (inf->prev)
		inf->prev->next = inf->next;
	else
		inf->k->informers = inf->next;
	if (inf->next)
		inf->next->prev = inf->prev;
	http_cancel(inf->call);
	loop_timer_cancel(inf->timer);
	entries_clear(&inf->cache);
	entries_clear(&inf->fresh);
	kube_lines_free(&inf->lines);
	free(inf->cont);
	free(inf->path);
	free(inf);
}

const char *kube_informer_rv(const struct kube_informer *inf)
{
	return inf->rv;
}

size_t kube_informer_count(const struct kube_informer *inf)
{
	return inf->cache.n;
}

yajl_val kube_informer_get(const struct kube_informer *inf, const char *key)
{
	bool found;
	size_t i = entries_find(&inf->cache, key, &found);

	return found ? inf->cache.v[i].obj : NULL;
}

void kube_free(struct kube *k)
{
	if (!k)
		return;
	while (k->informers)
		kube_informer_free(k->informers);
	token_drop(k);
	kube_config_clear(&k->cfg);
	free(k);
}
