/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP for everything in stratad: one libcurl multi handle driven by the
 * loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), never blocking it.
 */
#ifndef STRATA_CORE_HTTP_H
#define STRATA_CORE_HTTP_H

#include <stdbool.h>

#include <strata/host.h>

struct loop;
struct http;
struct http_call;

int http_new(struct loop *loop, struct http **out);
/* Cancels every call still running (their callbacks do not run). */
void http_free(struct http *http);
/* The callback runs exactly once, on the loop, unless cancelled first.
 * Returns NULL (and sets errno) if the request is malformed. */
struct http_call *http_start(struct http *http,
			     const struct strata_http_request *req,
			     strata_http_cb cb, void *arg);
/* TLS files for https:// (NULL fields: curl's defaults). Core-internal:
 * the etcd store's client certificate and CA. */
struct http_tls {
	const char *ca_file;   /* PEM CA bundle to verify the server */
	const char *cert_file; /* PEM client certificate */
	const char *key_file;  /* its PEM private key */
	/* The same as PEM in memory (kubeconfig's *-data); a blob wins
	 * over its file. */
	const void *ca_pem, *cert_pem, *key_pem;
	size_t ca_pem_len, cert_pem_len, key_pem_len;
	bool insecure; /* do not verify the server (kubeconfig's choice) */
};

struct http_call *http_start_tls(struct http *http,
				 const struct strata_http_request *req,
				 const struct http_tls *tls, strata_http_cb cb,
				 void *arg);
void http_cancel(struct http_call *call);
/* Calls in flight, for status. */
unsigned http_active(const struct http *http);

#endif
