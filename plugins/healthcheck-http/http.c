/* SPDX-License-Identifier: Apache-2.0 */
/*
 * healthcheck "http": a target is up when GET http://addr:port/path
 * answers with the expected status (any 2xx when the target expects 0).
 *
 * Each probe is one request on the host's curl multi (host->http_start),
 * on a connection of its own ("Connection: close": a probe also checks
 * that the server still accepts connections). The body is read and thrown
 * away as it arrives. A transport error is down with curl's words; a
 * response is down with "status 503". Timing is the host's: it cancels a
 * probe that takes too long.
 *
 * Only the public plugin ABI is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <strata/plugin.h>

#define PATH_MAX_LEN 1024

struct probe {
	struct probe *next, *prev;
	struct web *c;
	int64_t id;
	int32_t expect;
	struct strata_http_call *call;
	strata_hc_done done;
	void *arg;
};

struct web {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct probe *probes;
	int64_t next_id;
	int64_t n_up, n_down;
};

static const char *const headers[] = {
	"Connection: close",
	"User-Agent: strata-healthcheck/" STRATA_VERSION,
	"Accept: */*",
	NULL,
};

static void probe_unlink(struct probe *p)
{
	struct web *c = p->c;

	if (p->prev)
		p->prev->next = p->next;
	else
		c->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
}

static bool status_ok(int32_t status, int32_t expect)
{
	if (expect == 0)
		return status >= 200 && status <= 299;
	return status == expect;
}

static void discard(void *arg, const void *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
}

static void on_response(void *arg, const struct strata_http_response *resp)
{
	struct probe *p = arg;
	struct web *c = p->c;
	strata_hc_done done = p->done;
	void *darg = p->arg;
	char reason[160];
	bool up = false;

	if (resp->error) {
		snprintf(reason, sizeof(reason), "%s",
			 resp->error_text ? resp->error_text
					  : strerror(-resp->error));
	} else {
		up = status_ok(resp->status, p->expect);
		snprintf(reason, sizeof(reason), "status %d",
			 (int)resp->status);
	}
	/* the call is spent once its callback runs */
	probe_unlink(p);
	free(p);
	if (up)
		c->n_up++;
	else
		c->n_down++;
	done(darg, up, reason);
}

/* No spaces, controls or fragments: the path goes on the request line. */
static bool path_valid(const char *path)
{
	const unsigned char *s;

	if (path[0] != '/' || strlen(path) > PATH_MAX_LEN)
		return false;
	for (s = (const unsigned char *)path; *s; s++)
		if (*s <= ' ' || *s == 0x7f || *s == '#')
			return false;
	return true;
}

static int make_url(const struct strata_hc_target *tg, char *url, size_t len)
{
	const char *path = tg->path ? tg->path : "/";
	uint16_t port = tg->port ? tg->port : 80;
	char a[INET6_ADDRSTRLEN];
	int n;

	if (!path_valid(path))
		return -EINVAL;
	if (tg->addr.family == STRATA_AF_INET) {
		inet_ntop(AF_INET, tg->addr.addr, a, sizeof(a));
		n = snprintf(url, len, "http://%s:%u%s", a, port, path);
	} else if (tg->addr.family == STRATA_AF_INET6) {
		inet_ntop(AF_INET6, tg->addr.addr, a, sizeof(a));
		n = snprintf(url, len, "http://[%s]:%u%s", a, port, path);
	} else {
		return -EAFNOSUPPORT;
	}
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int64_t web_probe(void *self, const struct strata_hc_target *tg,
			  strata_hc_done done, void *arg)
{
	struct web *c = self;
	char url[PATH_MAX_LEN + 64];
	struct strata_http_request req = {
		.size = sizeof(req),
		.method = "GET",
		.url = url,
		.headers = headers,
		.on_data = discard,
	};
	struct probe *p;
	int rc;

	if (!tg || !done)
		return -EINVAL;
	if (tg->expect < 0 || tg->expect > 999)
		return -EINVAL;
	rc = make_url(tg, url, sizeof(url));
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->expect = tg->expect;
	p->done = done;
	p->arg = arg;
	errno = 0;
	p->call = c->h->http_start(c->inst, &req, on_response, p);
	if (!p->call) {
		rc = errno ? -errno : -ENOMEM;
		free(p);
		return rc;
	}
	p->id = ++c->next_id;
	p->next = c->probes;
	if (p->next)
		p->next->prev = p;
	c->probes = p;
	return p->id;
}

static void probe_cancel(struct probe *p)
{
	struct web *c = p->c;

	probe_unlink(p);
	c->h->http_cancel(c->inst, p->call);
	free(p);
}

static void web_cancel(void *self, int64_t id)
{
	struct web *c = self;
	struct probe *p;

	for (p = c->probes; p; p = p->next) {
		if (p->id == id) {
			probe_cancel(p);
			return;
		}
	}
}

static int web_create(const struct strata_host *host,
		       struct strata_instance *inst, void **self)
{
	struct web *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->h = host;
	c->inst = inst;
	*self = c;
	return 0;
}

static int web_start(void *self)
{
	(void)self;
	return 0;
}

static int web_reconfigure(void *self)
{
	(void)self;
	return 0; /* no keys */
}

static void web_destroy(void *self)
{
	struct web *c = self;

	while (c->probes)
		probe_cancel(c->probes);
	free(c);
}

static void web_status(void *self, struct strata_status *st)
{
	struct web *c = self;
	int64_t pending = 0;
	struct probe *p;

	for (p = c->probes; p; p = p->next)
		pending++;
	c->h->status_int(st, "pending", pending);
	c->h->status_int(st, "up", c->n_up);
	c->h->status_int(st, "down", c->n_down);
}

static const struct strata_plugin_ops web_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = web_create,
	.start = web_start,
	.reconfigure = web_reconfigure,
	.destroy = web_destroy,
	.status = web_status,
};

static const struct strata_healthcheck_ops web_hc_ops = {
	.size = sizeof(struct strata_healthcheck_ops),
	.probe = web_probe,
	.cancel = web_cancel,
};

STRATA_PLUGIN(STRATA_KIND_HEALTHCHECK, "http", STRATA_VERSION,
	      "health check: GET http://addr:port/path answers the expected "
	      "status",
	      NULL, &web_ops, &web_hc_ops);
