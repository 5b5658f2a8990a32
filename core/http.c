/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "log.h"
#include "loop.h"

#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_BODY (16u << 20)
/* Long-lived streams (etcd watches, keepalives) each hold a connection. */
#define HTTP_MAX_CONNECTS 64L

/* The 0.1 request: everything up to and including on_data. */
#define HTTP_REQUEST_SIZE_0_1                          \
	(offsetof(struct strata_http_request, on_data) + \
	 sizeof(((struct strata_http_request *)0)->on_data))

enum call_state {
	CALL_QUEUED,  /* started inside a curl callback, not yet added */
	CALL_RUNNING, /* in the multi handle */
	CALL_DONE,    /* finished, its callback about to run */
};

struct http_call {
	struct http *http;
	struct http_call *prev, *next; /* in one of http's lists */
	CURL *easy;
	struct curl_slist *headers;
	strata_http_cb cb;
	void *arg;
	void (*on_data)(void *arg, const void *data, size_t len);
	enum call_state state;
	bool finished; /* cancelled, or its callback has run */
	bool too_big;
	CURLcode result;
	char *body;
	size_t body_len, body_cap;
	uint64_t max_body;
	char errbuf[CURL_ERROR_SIZE];
};

struct http_call_list {
	struct http_call *head, *tail;
};

struct http_sock {
	struct http_sock *prev, *next;
	struct loop_fd *w;
};

struct http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;
	struct http_call_list calls;  /* queued and running */
	struct http_call_list reap;   /* cancelled inside a curl callback */
	struct http_sock *socks;
	unsigned active;
	unsigned in_curl; /* inside curl_multi_socket_action() */
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void calls_add(struct http_call_list *l, struct http_call *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void calls_del(struct http_call_list *l, struct http_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void call_free(struct http_call *call)
{
	if (call->easy)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	free(call->body);
	free(call);
}

/* -- curl's callbacks ------------------------------------------------- */

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_call *call = ud;
	size_t len = size * nmemb;

	if (call->finished)
		return 0; /* aborts the transfer */
	if (call->on_data) {
		call->on_data(call->arg, ptr, len);
		return call->finished ? 0 : len;
	}
	if (len > call->max_body - call->body_len) {
		call->too_big = true;
		return 0;
	}
	if (call->body_len + len + 1 > call->body_cap) {
		size_t cap = call->body_cap ? call->body_cap : 4096;
		char *body;

		while (cap < call->body_len + len + 1)
			cap *= 2;
		body = realloc(call->body, cap);
		if (!body)
			return 0;
		call->body = body;
		call->body_cap = cap;
	}
	memcpy(call->body + call->body_len, ptr, len);
	call->body_len += len;
	call->body[call->body_len] = '\0';
	return len;
}

static void http_after_action(struct http *http);

static void http_action(struct http *http, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode rc;

	http->in_curl++;
	rc = curl_multi_socket_action(http->multi, fd, flags, &running);
	http->in_curl--;
	if (rc != CURLM_OK)
		log_err("http: curl_multi_socket_action: %s",
			curl_multi_strerror(rc));
	http_after_action(http);
}

static void http_sock_event(void *arg, int fd, uint32_t events)
{
	int flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	http_action(arg, fd, flags);
}

static void http_sock_free(struct http *http, struct http_sock *hs)
{
	loop_fd_del(hs->w);
	if (hs->prev)
		hs->prev->next = hs->next;
	else
		http->socks = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	free(hs);
}

static int http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
			  void *socketp)
{
	struct http *http = userp;
	struct http_sock *hs = socketp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			http_sock_free(http, hs);
			curl_multi_assign(http->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (hs) {
		int err = loop_fd_mod(hs->w, events);

		if (err < 0) {
			log_err("http: watching socket %d: %s", (int)s,
				strerror(-err));
			return -1;
		}
		return 0;
	}
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -1;
	hs->w = loop_fd_add(http->loop, s, events, http_sock_event, http);
	if (!hs->w) {
		log_err("http: watching socket %d: %s", (int)s,
			strerror(errno));
		free(hs);
		return -1;
	}
	hs->next = http->socks;
	if (hs->next)
		hs->next->prev = hs;
	http->socks = hs;
	curl_multi_assign(http->multi, s, hs);
	return 0;
}

static void http_timer_fired(void *arg)
{
	http_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* One loop timer stands for curl's single timeout. */
static int http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *http = userp;
	int64_t delay;

	if (timeout_ms < 0) {
		loop_timer_cancel(http->timer);
		http->timer = NULL;
		return 0;
	}
	delay = (int64_t)timeout_ms * 1000000;
	if (http->timer) {
		loop_timer_reset(http->timer, delay);
		return 0;
	}
	http->timer = loop_timer_add(http->loop, delay, 0, http_timer_fired,
				     http);
	if (!http->timer) {
		log_err("http: timer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* -- completion ------------------------------------------------------- */

static int http_map_error(const struct http_call *call)
{
	switch (call->result) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_WRITE_ERROR:
		return call->too_big ? -EFBIG : -EIO;
	default:
		return -EIO;
	}
}

static void http_deliver(struct http_call *call)
{
	struct strata_http_response resp = { .size = sizeof(resp) };
	long status = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	resp.status = (int32_t)status;
	resp.error = http_map_error(call);
	resp.body = "";
	if (resp.error) {
		if (call->too_big)
			snprintf(call->errbuf, sizeof(call->errbuf),
				 "response body larger than %llu bytes",
				 (unsigned long long)call->max_body);
		resp.error_text = call->errbuf[0] ?
			call->errbuf : curl_easy_strerror(call->result);
	} else if (call->body) {
		resp.body = call->body;
		resp.body_len = call->body_len;
	}
	call->cb(call->arg, &resp);
}

static void http_reap(struct http *http)
{
	struct http_call *call;

	while ((call = http->reap.head)) {
		calls_del(&http->reap, call);
		curl_multi_remove_handle(http->multi, call->easy);
		call_free(call);
	}
}

/* Adds the calls started from inside curl's callbacks. */
static void http_flush_queued(struct http *http)
{
	struct http_call *call, *next;

	for (call = http->calls.head; call; call = next) {
		CURLMcode rc;

		next = call->next;
		if (call->state != CALL_QUEUED)
			continue;
		rc = curl_multi_add_handle(http->multi, call->easy);
		if (rc == CURLM_OK) {
			call->state = CALL_RUNNING;
			continue;
		}
		/* Report it like any failed transfer. */
		call->result = CURLE_OUT_OF_MEMORY;
		snprintf(call->errbuf, sizeof(call->errbuf), "%s",
			 curl_multi_strerror(rc));
		calls_del(&http->calls, call);
		call->finished = true;
		http->active--;
		http_deliver(call);
		call_free(call);
		/* The callback may have cancelled what next pointed to. */
		next = http->calls.head;
	}
}

static void http_after_action(struct http *http)
{
	struct http_call_list done = { NULL, NULL };
	struct http_call *call;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(http->multi, &left))) {
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		call = (struct http_call *)priv;
		/* Finished here means cancelled: it is on the reap list. */
		if (!call || call->finished)
			continue;
		call->result = msg->data.result;
		call->state = CALL_DONE;
		calls_del(&http->calls, call);
		calls_add(&done, call);
	}
	http_reap(http);
	http_flush_queued(http);

	/* A callback may cancel any call, start new ones, or cancel one of
	 * those still in done: it is then only marked finished. */
	while ((call = done.head)) {
		calls_del(&done, call);
		curl_multi_remove_handle(http->multi, call->easy);
		if (!call->finished) {
			call->finished = true;
			http->active--;
			http_deliver(call);
		}
		call_free(call);
	}
}

/* -- the interface ---------------------------------------------------- */

int http_new(struct loop *loop, struct http **out)
{
	struct http *http;

	if (!loop || !out)
		return -EINVAL;
	pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		log_err("http: curl_global_init: %s",
			curl_easy_strerror(http_global_rc));
		return -EIO;
	}
	http = calloc(1, sizeof(*http));
	if (!http)
		return -ENOMEM;
	http->loop = loop;
	http->multi = curl_multi_init();
	if (!http->multi) {
		free(http);
		return -ENOMEM;
	}
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_MAXCONNECTS, HTTP_MAX_CONNECTS);
	curl_multi_setopt(http->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	curl_multi_setopt(http->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	*out = http;
	return 0;
}

void http_free(struct http *http)
{
	struct http_call *call;

	if (!http)
		return;
	while ((call = http->calls.head)) {
		calls_del(&http->calls, call);
		if (call->state == CALL_RUNNING)
			curl_multi_remove_handle(http->multi, call->easy);
		call_free(call);
	}
	http_reap(http);
	/* Cleanup may still call the socket and timer callbacks. */
	curl_multi_cleanup(http->multi);
	while (http->socks)
		http_sock_free(http, http->socks);
	loop_timer_cancel(http->timer);
	free(http);
}

static bool http_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
			return false;
	return true;
}

static bool http_request_valid(const struct strata_http_request *req)
{
	if (!req || req->size < HTTP_REQUEST_SIZE_0_1)
		return false;
	if (!req->method || !req->url || !http_token(req->method))
		return false;
	if (!req->body && req->body_len)
		return false;
	if (req->url[strcspn(req->url, "\r\n")])
		return false;
	if (req->headers)
		for (const char *const *h = req->headers; *h; h++)
			if ((*h)[strcspn(*h, "\r\n")])
				return false;
	return true;
}

static int http_setup_method(struct http_call *call,
			     const struct strata_http_request *req)
{
	CURL *e = call->easy;
	const char *m = req->method;
	bool has_body = req->body_len > 0 || strcmp(m, "POST") == 0 ||
			strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;

	if (has_body) {
		/* Copied: the request is only borrowed for this call. */
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)req->body_len) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
				     req->body_len ? (const char *)req->body :
						     "") != CURLE_OK)
			return -ENOMEM;
		if (strcmp(m, "POST") != 0 &&
		    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
			return -ENOMEM;
		return 0;
	}
	if (strcmp(m, "GET") == 0)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ?
			       0 : -ENOMEM;
	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ?
			       0 : -ENOMEM;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK ?
		       0 : -ENOMEM;
}

static int http_setup_headers(struct http_call *call,
			      const struct strata_http_request *req)
{
	bool expect = false;
	struct curl_slist *l;

	if (req->headers) {
		for (const char *const *h = req->headers; *h; h++) {
			if (strncasecmp(*h, "Expect:", 7) == 0)
				expect = true;
			l = curl_slist_append(call->headers, *h);
			if (!l)
				return -ENOMEM;
			call->headers = l;
		}
	}
	/* No "Expect: 100-continue" round trip unless asked for. */
	if (!expect) {
		l = curl_slist_append(call->headers, "Expect:");
		if (!l)
			return -ENOMEM;
		call->headers = l;
	}
	if (curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers) !=
	    CURLE_OK)
		return -ENOMEM;
	return 0;
}

static int http_setup(struct http_call *call,
		      const struct strata_http_request *req)
{
	CURL *e = call->easy;
	long timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
	int err;

	if (req->timeout_ns > 0) {
		int64_t ms = (req->timeout_ns + 999999) / 1000000;

		timeout_ms = ms > (int64_t)0x7fffffff ? 0x7fffffffL : (long)ms;
	}
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, call) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb) !=
		    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, call) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    /* a long stream (an etcd watch) over a silently cut network is
	     * noticed by keepalive probes in about two minutes */
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L) != CURLE_OK)
		return -ENOMEM;
#if LIBCURL_VERSION_NUM >= 0x075500
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK)
		return -ENOMEM;
#else
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS,
			     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
	    CURLE_OK)
		return -ENOMEM;
#endif
	if (req->unix_socket &&
	    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket) !=
		    CURLE_OK)
		return -ENOMEM;
	/* A declared length over the limit fails before any byte arrives. */
	if (!call->on_data &&
	    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			     (curl_off_t)call->max_body) != CURLE_OK)
		return -ENOMEM;
	err = http_setup_method(call, req);
	if (err < 0)
		return err;
	return http_setup_headers(call, req);
}

/* curl copies the blob: the caller's may go after the call starts. */
static int http_blob(CURL *e, CURLoption opt, const void *pem, size_t len)
{
	struct curl_blob b = {
		.data = (void *)pem,
		.len = len,
		.flags = CURL_BLOB_COPY,
	};

	return curl_easy_setopt(e, opt, &b) == CURLE_OK ? 0 : -EINVAL;
}

static int http_setup_tls(CURL *e, const struct http_tls *tls)
{
	if (!tls)
		return 0;
	if ((tls->ca_file &&
	     curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file) != CURLE_OK) ||
	    (tls->cert_file &&
	     curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert_file) !=
		     CURLE_OK) ||
	    (tls->key_file &&
	     curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key_file) != CURLE_OK))
		return -EINVAL;
	if (tls->ca_pem && http_blob(e, CURLOPT_CAINFO_BLOB, tls->ca_pem,
				     tls->ca_pem_len))
		return -EINVAL;
	if (tls->cert_pem && http_blob(e, CURLOPT_SSLCERT_BLOB, tls->cert_pem,
				       tls->cert_pem_len))
		return -EINVAL;
	if (tls->key_pem && http_blob(e, CURLOPT_SSLKEY_BLOB, tls->key_pem,
				      tls->key_pem_len))
		return -EINVAL;
	if (tls->insecure &&
	    (curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
	     curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK))
		return -EINVAL;
	return 0;
}

struct http_call *http_start(struct http *http,
			     const struct strata_http_request *req,
			     strata_http_cb cb, void *arg)
{
	return http_start_tls(http, req, NULL, cb, arg);
}

struct http_call *http_start_tls(struct http *http,
				 const struct strata_http_request *req,
				 const struct http_tls *tls, strata_http_cb cb,
				 void *arg)
{
	struct http_call *call;
	int err;

	if (!http || !cb || !http_request_valid(req)) {
		errno = EINVAL;
		return NULL;
	}
	call = calloc(1, sizeof(*call));
	if (!call) {
		errno = ENOMEM;
		return NULL;
	}
	call->http = http;
	call->cb = cb;
	call->arg = arg;
	call->on_data = req->on_data;
	call->max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	call->easy = curl_easy_init();
	if (!call->easy) {
		err = -ENOMEM;
		goto free_call;
	}
	err = http_setup(call, req);
	if (err < 0)
		goto free_call;
	err = http_setup_tls(call->easy, tls);
	if (err < 0)
		goto free_call;

	if (http->in_curl) {
		/* curl refuses new handles from its own callbacks. */
		call->state = CALL_QUEUED;
	} else {
		CURLMcode rc = curl_multi_add_handle(http->multi, call->easy);

		if (rc != CURLM_OK) {
			log_err("http: curl_multi_add_handle: %s",
				curl_multi_strerror(rc));
			err = rc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
			goto free_call;
		}
		call->state = CALL_RUNNING;
	}
	calls_add(&http->calls, call);
	http->active++;
	return call;

free_call:
	call_free(call);
	errno = -err;
	return NULL;
}

void http_cancel(struct http_call *call)
{
	struct http *http;

	if (!call || call->finished)
		return;
	http = call->http;
	call->finished = true;
	http->active--;
	switch (call->state) {
	case CALL_QUEUED:
		calls_del(&http->calls, call);
		call_free(call);
		break;
	case CALL_RUNNING:
		calls_del(&http->calls, call);
		if (http->in_curl) {
			/* curl cannot drop a handle inside its callbacks. */
			calls_add(&http->reap, call);
		} else {
			curl_multi_remove_handle(http->multi, call->easy);
			call_free(call);
		}
		break;
	case CALL_DONE:
		/* http_after_action() frees it after this callback. */
		break;
	}
}

unsigned http_active(const struct http *http)
{
	return http ? http->active : 0;
}
