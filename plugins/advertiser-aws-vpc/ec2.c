/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EC2 calls: bucket, fence, sign, send; classify the answer; back off and
 * try again, or hand it to the caller. Each call is a small state machine
 * driven by one-shot timers and the host's HTTP callbacks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ec2.h"

#define EC2_MAX_ACTIONS 24
#define EC2_MAX_BODY (64u << 20)
#define WHY_MAX 640

struct bucket {
	double tokens, burst, rate; /* rate: tokens per second */
	int64_t last;
};

struct ec2 {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct creds *creds;
	char *url; /* endpoint with its trailing "/" */
	char *region;
	int64_t timeout_ns, base_ns, max_ns;
	uint32_t attempts;
	struct bucket mutate, describe;
	int64_t (*fence)(void *arg);
	void *fence_arg;
	uint64_t rng;
	struct ec2_call *calls;
	struct ec2_action_stats stats[EC2_MAX_ACTIONS];
	char names[EC2_MAX_ACTIONS][EC2_ACTION_MAX];
	size_t n_stats;
	struct ec2_action_stats other; /* past EC2_MAX_ACTIONS */
};

struct ec2_call {
	struct ec2 *c;
	struct ec2_call *prev, *next;
	char action[EC2_ACTION_MAX];
	char *body;
	size_t body_len;
	uint32_t flags;
	ec2_cb cb;
	void *arg;
	struct strata_http_call *http;
	struct strata_timer *timer;
	struct ec2_action_stats *st;
	uint32_t attempt;
	int64_t started;
	int status;
	bool have_ec2;
	struct ec2_error ec2;
	char why[WHY_MAX];
};

/* -- pure parts ------------------------------------------------------------ */

static bool code_in(const char *code, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(code, *set))
			return true;
	return false;
}

enum ec2_class ec2_classify(int transport_err, int status, const char *code)
{
	static const char *const throttle[] = {
		"RequestLimitExceeded", "EC2ThrottledException", "Throttling",
		"ThrottlingException", "ThrottledException",
		"RequestThrottled", "RequestThrottledException",
		"TooManyRequestsException", "BandwidthLimitExceeded",
		"SlowDown", NULL,
	};
	static const char *const transient[] = {
		"InternalError", "InternalFailure", "ServerInternal",
		"ServiceUnavailable", "Unavailable", "RequestTimeout",
		"RequestTimeoutException", "PriorRequestNotComplete", NULL,
	};
	static const char *const denied[] = {
		"UnauthorizedOperation", "AuthFailure", "AccessDenied",
		"AccessDeniedException", "OptInRequired", "Blocked",
		"SignatureDoesNotMatch", "IncompleteSignature",
		"InvalidClientTokenId", "MissingAuthenticationToken",
		"RequestExpired", "ExpiredToken", "ExpiredTokenException",
		"InvalidSecurity.RequestHasExpired", NULL,
	};

	if (transport_err)
		return EC2_CLASS_RETRY;
	if (status == 200)
		return EC2_CLASS_OK;
	if (code && code_in(code, throttle))
		return EC2_CLASS_THROTTLE;
	if (code && code_in(code, denied))
		return EC2_CLASS_DENIED;
	if (code && code_in(code, transient))
		return EC2_CLASS_RETRY;
	if (status == 429)
		return EC2_CLASS_THROTTLE;
	if (status >= 500 || status == 408)
		return EC2_CLASS_RETRY;
	if (!code && (status == 401 || status == 403))
		return EC2_CLASS_DENIED;
	return EC2_CLASS_FAIL;
}

int64_t ec2_backoff(int64_t base_ns, int64_t max_ns, uint32_t n, double u)
{
	int64_t cap = base_ns;

	for (uint32_t i = 1; i < n && cap < max_ns; i++)
		cap = cap > max_ns / 2 ? max_ns : cap * 2;
	if (cap > max_ns)
		cap = max_ns;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.999999;
	return (int64_t)(u * (double)cap);
}

/* -- buckets and jitter ------------------------------------------------------ */

static void bucket_init(struct bucket *b, uint32_t burst, uint32_t rate,
			int64_t now)
{
	b->burst = burst;
	b->tokens = burst;
	b->rate = rate;
	b->last = now;
}

/* 0: a token taken; else the ns until one is there. */
static int64_t bucket_take(struct bucket *b, int64_t now)
{
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * b->rate / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last = now;
	}
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 0;
	}
	return (int64_t)((1 - b->tokens) * 1e9 / b->rate) + 1;
}

static double uniform(struct ec2 *c)
{
	/* xorshift64*: jitter needs spread, not secrecy */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (double)((c->rng * 2685821657736338717ULL) >> 11) /
	       (double)(1ULL << 53);
}

/* -- the client ---------------------------------------------------------------- */

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool plain_name(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
		      s[n] == '_'))
			return false;
	return n < max;
}

int ec2_new(const struct strata_host *h, struct strata_instance *inst,
	    const struct ec2_config *cfg, struct creds *creds,
	    struct ec2 **out, char *err, size_t errlen)
{
	struct ec2 *c;
	size_t n;

	if (!h || !cfg || !creds || !out)
		return seterr(err, errlen, -EINVAL, "no config");
	if (!cfg->endpoint || (strncmp(cfg->endpoint, "https://", 8) &&
			       strncmp(cfg->endpoint, "http://", 7)))
		return seterr(err, errlen, -EINVAL,
			      "ec2_endpoint: \"%s\" is not an http or https URL",
			      cfg->endpoint ? cfg->endpoint : "");
	if (!plain_name(cfg->region, 64))
		return seterr(err, errlen, -EINVAL,
			      "region: \"%s\" is not a region name",
			      cfg->region ? cfg->region : "");
	if (cfg->attempts > 20)
		return seterr(err, errlen, -EINVAL,
			      "attempts: %u is more than 20", cfg->attempts);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	n = strlen(cfg->endpoint);
	c->url = malloc(n + 2);
	c->region = strdup(cfg->region);
	if (!c->url || !c->region) {
		free(c->url);
		free(c->region);
		free(c);
		return -ENOMEM;
	}
	memcpy(c->url, cfg->endpoint, n + 1);
	if (n && c->url[n - 1] != '/')
		strcpy(c->url + n, "/");
	c->h = h;
	c->inst = inst;
	c->creds = creds;
	c->timeout_ns = cfg->timeout_ns > 0 ? cfg->timeout_ns
					    : EC2_DEFAULT_TIMEOUT_NS;
	c->attempts = cfg->attempts ? cfg->attempts : EC2_DEFAULT_ATTEMPTS;
	c->base_ns = cfg->backoff_base_ns > 0 ? cfg->backoff_base_ns
					      : EC2_DEFAULT_BACKOFF_BASE_NS;
	c->max_ns = cfg->backoff_max_ns > 0 ? cfg->backoff_max_ns
					    : EC2_DEFAULT_BACKOFF_MAX_NS;
	if (c->max_ns < c->base_ns)
		c->max_ns = c->base_ns;
	bucket_init(&c->mutate,
		    cfg->mutate_burst ? cfg->mutate_burst
				      : EC2_DEFAULT_MUTATE_BURST,
		    cfg->mutate_rate ? cfg->mutate_rate
				     : EC2_DEFAULT_MUTATE_RATE,
		    h->now());
	bucket_init(&c->describe,
		    cfg->describe_burst ? cfg->describe_burst
					: EC2_DEFAULT_DESCRIBE_BURST,
		    cfg->describe_rate ? cfg->describe_rate
				       : EC2_DEFAULT_DESCRIBE_RATE,
		    h->now());
	c->fence = cfg->fence;
	c->fence_arg = cfg->fence_arg;
	c->rng = cfg->seed ? cfg->seed : (uint64_t)h->now() | 1;
	c->other.action = "other";
	*out = c;
	return 0;
}

static void call_unlink(struct ec2_call *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		k->c->calls = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->prev = k->next = NULL;
}

static void call_free(struct ec2_call *k)
{
	free(k->body);
	free(k);
}

void ec2_cancel(struct ec2_call *k)
{
	if (!k)
		return;
	if (k->http)
		k->c->h->http_cancel(k->c->inst, k->http);
	if (k->timer)
		k->c->h->timer_stop(k->c->inst, k->timer);
	call_unlink(k);
	call_free(k);
}

void ec2_free(struct ec2 *c)
{
	if (!c)
		return;
	while (c->calls)
		ec2_cancel(c->calls);
	free(c->url);
	free(c->region);
	free(c);
}

static struct ec2_action_stats *stats_of(struct ec2 *c, const char *action)
{
	size_t i;

	for (i = 0; i < c->n_stats; i++)
		if (!strcmp(c->names[i], action))
			return &c->stats[i];
	if (c->n_stats == EC2_MAX_ACTIONS)
		return &c->other;
	snprintf(c->names[i], sizeof(c->names[i]), "%s", action);
	c->stats[i].action = c->names[i];
	c->n_stats++;
	return &c->stats[i];
}

size_t ec2_stats(const struct ec2 *c, struct ec2_action_stats *out,
		 size_t n_max)
{
	size_t n = c->n_stats < n_max ? c->n_stats : n_max;

	memcpy(out, c->stats, n * sizeof(*out));
	return n;
}

/* The call ends: its callback, then it is freed. */
static void finish(struct ec2_call *k, int err, const char *body,
		   size_t len)
{
	struct ec2_reply r = {
		.err = err,
		.status = k->status,
		.body = err ? NULL : body,
		.len = err ? 0 : len,
		.ec2 = k->have_ec2 ? &k->ec2 : NULL,
		.attempts = k->attempt,
		.elapsed_ns = k->c->h->now() - k->started,
		.why = err ? k->why : NULL,
	};

	if (err)
		k->st->failed++;
	call_unlink(k);
	k->cb(k->arg, &r);
	call_free(k);
}

static void fail(struct ec2_call *k, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct ec2_call *k, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(k->why, sizeof(k->why), "%s: ", k->action);
	if (n < 0 || (size_t)n >= sizeof(k->why))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(k->why + n, sizeof(k->why) - (size_t)n, fmt, ap);
	va_end(ap);
	finish(k, err, NULL, 0);
}

static void step(void *arg);
static void http_done(void *arg, const struct strata_http_response *resp);

/* ec2_calls_total / ec2_throttles_total by action, for Prometheus. */
static void count(struct ec2_call *k, const char *family)
{
	char series[EC2_ACTION_MAX + 64];

	snprintf(series, sizeof(series), "%s{action=\"%s\"}", family,
		 k->action);
	k->c->h->metric_add(k->c->inst, series, 1);
}

static void wait_then_step(struct ec2_call *k, int64_t delay_ns)
{
	k->timer = k->c->h->timer_start(k->c->inst, delay_ns, 0, step, k);
	if (!k->timer)
		fail(k, -ENOMEM, "cannot start a timer");
}

/* Sign and send one attempt. */
static int send_attempt(struct ec2_call *k, int64_t timeout_ns)
{
	struct ec2 *c = k->c;
	static const struct sigv4_header ctype = {
		"Content-Type",
		"application/x-www-form-urlencoded; charset=utf-8",
	};
	const struct creds_keys *keys;
	struct sigv4_creds sc = { 0 };
	struct sigv4_signed sig = { 0 };
	const char *headers[8];
	char line[128];
	char err[256];
	const char *why = NULL;
	size_t n = 0;
	int rc;

	rc = creds_get(c->creds, &keys, &why);
	if (rc) {
		fail(k, rc, "no AWS credentials: %s",
		     why ? why : strerror(-rc));
		return rc;
	}
	rc = sigv4_creds_set(&sc, keys->access_key_id, keys->secret_access_key,
			     keys->session_token);
	if (!rc) {
		struct sigv4_request req = {
			.method = "POST",
			.url = c->url,
			.headers = &ctype,
			.n_headers = 1,
			.body = k->body,
			.body_len = k->body_len,
			.region = c->region,
			.service = "ec2",
			.when = time(NULL),
		};

		err[0] = '\0';
		rc = sigv4_sign(&sc, &req, &sig, err, sizeof(err));
	}
	sigv4_creds_clear(&sc);
	if (rc) {
		fail(k, rc, "cannot sign the request: %s",
		     err[0] ? err : strerror(-rc));
		sigv4_signed_free(&sig);
		return rc;
	}
	snprintf(line, sizeof(line), "%s: %s", ctype.name, ctype.value);
	headers[n++] = line;
	for (size_t i = 0; sig.header_lines[i] && n < 7; i++)
		headers[n++] = sig.header_lines[i];
	headers[n] = NULL;
	{
		struct strata_http_request hr = {
			.size = sizeof(hr),
			.method = "POST",
			.url = c->url,
			.headers = headers,
			.body = k->body,
			.body_len = k->body_len,
			.timeout_ns = timeout_ns,
			.max_body = EC2_MAX_BODY,
		};

		k->attempt++;
		k->st->attempts++;
		count(k, "ec2_calls_total");
		k->have_ec2 = false;
		k->http = c->h->http_start(c->inst, &hr, http_done, k);
	}
	sigv4_signed_free(&sig);
	if (!k->http) {
		rc = errno ? -errno : -ENOMEM;
		fail(k, rc, "cannot start the request: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* The next attempt, once the bucket has a token and the fence allows. */
static void step(void *arg)
{
	struct ec2_call *k = arg;
	struct ec2 *c = k->c;
	int64_t wait, timeout = c->timeout_ns;

	k->timer = NULL;
	wait = bucket_take(k->flags & EC2_MUTATING ? &c->mutate : &c->describe,
			   c->h->now());
	if (wait) {
		wait_then_step(k, wait);
		return;
	}
	if (k->flags & EC2_FENCED) {
		int64_t left = c->fence ? c->fence(c->fence_arg) : 0;

		if (left < EC2_MIN_ATTEMPT_NS) {
			fail(k, -ETIME,
			     left > 0 ? "the route writer's lease ends in %lld ms, too soon to start"
				      : "not the route writer (lease %lld ms)",
			     (long long)(left / 1000000));
			return;
		}
		if (left < timeout)
			timeout = left;
	}
	send_attempt(k, timeout);
}

static const char *transport_name(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNREFUSED:
		return "connection refused";
	case -EFBIG:
		return "answer too large";
	default:
		return "transport error";
	}
}

static void http_done(void *arg, const struct strata_http_response *resp)
{
	struct ec2_call *k = arg;
	struct ec2 *c = k->c;
	const char *code = NULL;
	enum ec2_class cls;
	char perr[256];
	int64_t delay;
	int err;

	k->http = NULL;
	k->status = resp->status;
	if (!resp->error && resp->status != 200 && resp->body &&
	    !ec2xml_error(resp->body, resp->body_len, &k->ec2, perr,
			  sizeof(perr))) {
		k->have_ec2 = true;
		code = k->ec2.code;
	}
	cls = ec2_classify(resp->error, resp->status, code);
	if (cls == EC2_CLASS_THROTTLE) {
		k->st->throttled++;
		count(k, "ec2_throttles_total");
	}
	switch (cls) {
	case EC2_CLASS_OK:
		finish(k, 0, resp->body, resp->body_len);
		return;
	case EC2_CLASS_DENIED:
		if (code)
			fail(k, -EACCES, "%s: %s (the IAM policy needs ec2:%s; see docs/aws.md)",
			     code, k->ec2.message, k->action);
		else
			fail(k, -EACCES, "HTTP %d: not allowed (the IAM policy needs ec2:%s)",
			     resp->status, k->action);
		return;
	case EC2_CLASS_FAIL:
		if (code)
			fail(k, -EREMOTEIO, "%s: %s (request %s)", code,
			     k->ec2.message,
			     k->ec2.request_id[0] ? k->ec2.request_id : "-");
		else
			fail(k, -EPROTO, "HTTP %d without EC2's error XML",
			     resp->status);
		return;
	case EC2_CLASS_RETRY:
	case EC2_CLASS_THROTTLE:
		break;
	}
	err = resp->error ? resp->error : code ? -EREMOTEIO : -EIO;
	if (k->attempt >= c->attempts) {
		if (resp->error)
			fail(k, err, "%s after %u attempts", transport_name(err),
			     k->attempt);
		else
			fail(k, err, "%s after %u attempts (HTTP %d)",
			     code ? code : "server error", k->attempt,
			     resp->status);
		return;
	}
	delay = ec2_backoff(c->base_ns, c->max_ns, k->attempt, uniform(c));
	if (k->flags & EC2_FENCED) {
		int64_t left = c->fence ? c->fence(c->fence_arg) : 0;

		if (left < delay + EC2_MIN_ATTEMPT_NS) {
			fail(k, -ETIME,
			     "%s; no retry: the route writer's lease ends in %lld ms",
			     code ? code : resp->error ? transport_name(err)
						       : "server error",
			     (long long)(left / 1000000));
			return;
		}
	}
	wait_then_step(k, delay);
}

int ec2_call(struct ec2 *c, const char *action,
	     const struct sigv4_param *params, size_t n, uint32_t flags,
	     ec2_cb cb, void *arg, struct ec2_call **out)
{
	struct sigv4_param *all;
	struct ec2_call *k;
	int rc;

	if (!c || !cb || (n && !params) || !plain_name(action, EC2_ACTION_MAX))
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	all = calloc(n + 2, sizeof(*all));
	if (!k || !all) {
		free(k);
		free(all);
		return -ENOMEM;
	}
	all[0] = (struct sigv4_param){ "Action", action };
	all[1] = (struct sigv4_param){ "Version", EC2_API_VERSION };
	if (n)
		memcpy(all + 2, params, n * sizeof(*params));
	rc = sigv4_form_encode(all, n + 2, &k->body, &k->body_len);
	free(all);
	if (rc) {
		free(k);
		return rc;
	}
	snprintf(k->action, sizeof(k->action), "%s", action);
	k->c = c;
	k->flags = flags;
	k->cb = cb;
	k->arg = arg;
	k->started = c->h->now();
	k->st = stats_of(c, action);
	k->st->calls++;
	k->next = c->calls;
	if (c->calls)
		c->calls->prev = k;
	c->calls = k;
	k->timer = c->h->timer_start(c->inst, 0, 0, step, k);
	if (!k->timer) {
		rc = errno ? -errno : -ENOMEM;
		k->st->calls--;
		call_unlink(k);
		call_free(k);
		return rc;
	}
	if (out)
		*out = k;
	return 0;
}
