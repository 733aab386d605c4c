/*
 * http/httpc.h: an asynchronous HTTP client on the worker's libuv loop, over
 * libcurl's multi interface (curl drives the sockets through uv_poll and a
 * uv_timer), so a slow platform API never blocks a worker's loop.
 *
 * One callback per request, called exactly once from the loop when the
 * request ends (an answer of any status, or a transport failure), unless the
 * client is destroyed first: then pending requests are dropped without their
 * callbacks. A request that cannot be started returns -1 and never calls back.
 */
#ifndef RF_HTTPC_H
#define RF_HTTPC_H

#include <stddef.h>

#include <uv.h>

typedef struct rf_httpc rf_httpc_t;

/* status: the HTTP status, or 0 when no answer came (then error says why);
 * body: the answer's body (borrowed for the call, NUL-terminated). */
typedef void (*rf_httpc_done_fn)(void *arg, long status, const char *body, size_t len,
                                 const char *error);

/* rf_httpc_new: a client on loop. NULL if libcurl cannot be set up. */
rf_httpc_t *rf_httpc_new(uv_loop_t *loop);

/* rf_httpc_destroy: drop pending requests, close the handles (run the loop
 * afterwards so their close callbacks free memory); sets *c_p to NULL. */
void rf_httpc_destroy(rf_httpc_t **c_p);

/* rf_httpc_post: POST body (copied) to url with the content type; the whole
 * exchange must finish within timeout_ms. Answers larger than 4 MiB are cut
 * off and reported as an error. Returns 0 (cb will be called) or -1. */
int rf_httpc_post(rf_httpc_t *c, const char *url, const char *content_type, const char *body,
                  size_t len, long timeout_ms, rf_httpc_done_fn cb, void *arg);

/* rf_httpc_post_headers: rf_httpc_post with extra request headers
 * ("Name: value" each; headers NULL-terminated, or NULL for none). */
int rf_httpc_post_headers(rf_httpc_t *c, const char *url, const char *content_type,
                          const char *const *headers, const char *body, size_t len, long timeout_ms,
                          rf_httpc_done_fn cb, void *arg);

/* rf_httpc_get_headers: GET url (the query already in it) with extra request
 * headers (as rf_httpc_post_headers); the same limits and callback. */
int rf_httpc_get_headers(rf_httpc_t *c, const char *url, const char *const *headers,
                         long timeout_ms, rf_httpc_done_fn cb, void *arg);

/* rf_httpc_pending: requests started and not yet called back. */
size_t rf_httpc_pending(const rf_httpc_t *c);

#endif
