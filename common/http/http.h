/*
 * http/http.h: a small HTTP/1.1 server on a libuv loop, parsing with the
 * http-parser library (libhttp-parser). Used by every worker for its health,
 * metrics, API and admin surfaces.
 *
 * The folder common/http/ is layer 2: the server (http.c, http_parse.c,
 * http_request.c, http_response.c; shared in http_internal.h), the client on
 * the same loop (httpc.h), bearer tokens and roles (auth.h) and the operations
 * page (ops.html, embedded at build time). It may use runtime/ only.
 *
 * One handler per server. The handler is given an exchange and must answer it
 * exactly once with rf_http_reply() (or a helper), either before it returns or
 * later from the same loop (for answers that wait on other work). Keep-alive is
 * supported; a connection handles its requests one at a time, in order.
 *
 * Limits: header block and body sizes are capped (see rf_http_limits_t); a
 * request over a limit gets 431 or 413, an unparseable one 400, and the
 * connection is closed. The handler never sees such requests.
 */
#ifndef RF_HTTP_H
#define RF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <jansson.h>

typedef struct rf_http_server rf_http_server_t;
typedef struct rf_http_exchange rf_http_exchange_t;

typedef struct rf_http_limits {
    size_t max_header_bytes;  /* whole header block; default 16 KiB */
    size_t max_body_bytes;    /* default 1 MiB */
    unsigned idle_timeout_ms; /* close an idle keep-alive connection; default 30000 */
} rf_http_limits_t;

/* Called once per complete request. */
typedef void (*rf_http_handler_fn)(rf_http_exchange_t *x, void *arg);

/* rf_http_server_new: listen on "host:port" (port 0 picks a free one) and
 * serve on loop. limits may be NULL for the defaults. On failure returns NULL
 * and writes a message naming the address into err. */
rf_http_server_t *rf_http_server_new(uv_loop_t *loop, const char *host_port,
                                     const rf_http_limits_t *limits, rf_http_handler_fn handler,
                                     void *arg, char *err, size_t errlen);

/* rf_http_server_port: the port actually bound (useful with port 0). */
int rf_http_server_port(const rf_http_server_t *server);

/* rf_http_server_destroy: stop listening and close every connection; an
 * exchange not yet answered is dropped (its connection closes). Memory is
 * released from close callbacks, so run the loop afterwards until it is idle.
 * Sets *server_p to NULL; NULL or *NULL is harmless. */
void rf_http_server_destroy(rf_http_server_t **server_p);

/* Request accessors. Strings are borrowed, NUL-terminated, valid until the
 * exchange is answered. */
const char *rf_http_method(const rf_http_exchange_t *x); /* "GET", "POST", ... */
const char *rf_http_path(const rf_http_exchange_t *x);   /* "/v1/returns/abc", no query */
const char *rf_http_query(const rf_http_exchange_t *x);  /* raw query without '?', or "" */
const char *rf_http_body(const rf_http_exchange_t *x, size_t *len); /* "" if none */
/* Case-insensitive header lookup; NULL when absent. */
const char *rf_http_header(const rf_http_exchange_t *x, const char *name);
/* Decoded value of query parameter `name` copied into out (%xx and '+'
 * decoded); returns the length, -1 when absent, -2 when longer than outlen-1
 * (out is then unusable). */
int rf_http_query_param(const rf_http_exchange_t *x, const char *name, char *out, size_t outlen);
/* rf_http_query_has: whether parameter `name` is in the query, at any length. */
bool rf_http_query_has(const rf_http_exchange_t *x, const char *name);
/* rf_http_query_filter: an optional filter: absent reads as "" (0), present as
 * its length; one too long for out is answered 400 invalid_query naming it and
 * returns -1 (the caller then returns without answering). */
int rf_http_query_filter(rf_http_exchange_t *x, const char *name, char *out, size_t outlen);

/* rf_http_peer: the client's address "ip:port" ("" when unknown). */
const char *rf_http_peer(const rf_http_exchange_t *x);

/* The application's own per-request pointer (e.g. who is asking), NULL until
 * set; borrowed, never freed by the server. */
void rf_http_set_user(rf_http_exchange_t *x, const void *user);
const void *rf_http_user(const rf_http_exchange_t *x);

/* rf_http_reply: answer with status, content type and body (copied). */
void rf_http_reply(rf_http_exchange_t *x, int status, const char *content_type, const char *body,
                   size_t len);
/* rf_http_hold: from now on keep every answer (copied) instead of sending it,
 * until rf_http_release. For group commit: the requests served in one loop
 * iteration share one transaction, and none is answered before it commits. */
void rf_http_hold(rf_http_server_t *server);
/* rf_http_release: send the kept answers, in order; when ok is false (the
 * transaction did not commit) each becomes 503 db_unavailable instead. Stops
 * holding. Harmless when not holding. */
void rf_http_release(rf_http_server_t *server, bool ok);

/* rf_http_reply_json: answer with a JSON body; takes the reference to `body`. */
void rf_http_reply_json(rf_http_exchange_t *x, int status, json_t *body);
/* rf_http_reply_error: {"error": code, "message": message} with status. */
void rf_http_reply_error(rf_http_exchange_t *x, int status, const char *code, const char *message);

#endif
