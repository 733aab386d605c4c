/*
 * http/http_internal.h: what the parts of the HTTP server (http/http.h)
 * share; included only by the files of common/http:
 *
 *   http.c           the server: listening, accepting, reading, closing and
 *                    lingering connections (how a connection works: see there)
 *   http_parse.c     http-parser callbacks: bytes to an exchange, limits
 *   http_request.c   exchanges: their storage and the request accessors
 *   http_response.c  answers: formatting, CORS headers, writing, holding
 *
 * Everything runs on the loop's thread; nothing is locked.
 */
#ifndef RF_HTTP_INTERNAL_H
#define RF_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>
#include <uv.h>

#include "http/http.h"

#define RBUF_SIZE (16u * 1024u)    /* per-connection read buffer */
#define EXCHANGE_MAGIC 0x52465848u /* "RFXH": live exchange; cleared when freed */

/* ---- types --------------------------------------------------------------- */

/* A small growable string. Always NUL-terminated once anything was appended;
 * p == NULL means "". */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

typedef struct header {
    sbuf_t name, value;
} header_t;

typedef struct conn conn_t;

struct rf_http_exchange {
    unsigned magic;     /* EXCHANGE_MAGIC while valid */
    conn_t *conn;       /* NULL once detached from its (closing) connection */
    const char *method; /* static string from http-parser */
    sbuf_t url;         /* raw request target; split in place into path/query */
    const char *path;
    const char *query;
    header_t *headers;
    size_t nheaders, headers_cap;
    bool in_value; /* last header callback was on_header_value */
    sbuf_t body;
    size_t header_bytes; /* counted against max_header_bytes */
    bool keep_alive;
    bool is_head;
    const void *user; /* the application's per-request data (rf_http_set_user) */
    /* An answer kept while the server holds answers (rf_http_hold). */
    int held_status;
    char *held_type, *held_body;
    size_t held_len;
    rf_http_exchange_t *held_next;
};

typedef enum conn_state {
    CONN_OPEN,    /* reading/parsing requests, or serving one */
    CONN_LINGER,  /* last answer sent; waiting for the client to close */
    CONN_CLOSING, /* uv_close called; waiting for the close callbacks */
} conn_state_t;

struct conn {
    rf_http_server_t *server;
    conn_t *prev, *next; /* in server->conns */
    uv_tcp_t tcp;
    uv_timer_t timer; /* idle timeout, then linger timeout */
    uv_shutdown_t shutdown_req;
    http_parser parser;
    conn_state_t state;
    int pending_closes;           /* close callbacks still to come (tcp, timer) */
    bool reading;                 /* uv_read_start in effect */
    size_t responses_queued;      /* answers handed to uv_write, not yet written */
    rf_http_exchange_t *cur;      /* request being parsed (owned) */
    rf_http_exchange_t *inflight; /* request given to the handler, unanswered */
    int fail_status;              /* set by a parser callback that refuses the request */
    char peer[64];
    size_t rstart, rend; /* unparsed bytes are rbuf[rstart, rend) */
    char rbuf[RBUF_SIZE];
};

struct rf_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    rf_http_limits_t limits;
    rf_http_handler_fn handler;
    void *arg;
    char addr[64];
    conn_t *conns;
    bool destroying;
    bool listener_closed;
    bool holding;                          /* answers are kept until rf_http_release */
    rf_http_exchange_t *held, **held_tail; /* kept answers, in order */
};

/* ---- http.c -------------------------------------------------------------- */

/* rf__http_conn_close: close now. An unanswered exchange is detached, not
 * freed (see http.c). */
void rf__http_conn_close(conn_t *c);

/* rf__http_conn_process: parse what is buffered while the connection is free
 * to serve a request, then read again when everything is served, or stop
 * reading. */
void rf__http_conn_process(conn_t *c);

/* rf__http_conn_linger: after the last answer is queued, shut the write side
 * down once it is written, discard input until EOF, close at EOF or after
 * LINGER_MS. */
void rf__http_conn_linger(conn_t *c);

/* ---- http_parse.c -------------------------------------------------------- */

/* The callbacks that build c->cur from the bytes of a connection c (the
 * parser's data). A callback that refuses the request sets c->fail_status;
 * on_message_complete pauses the parser after each request. */
extern const http_parser_settings rf__http_parser_settings;

/* ---- http_request.c ------------------------------------------------------ */

/* sbuf_t: room for extra more bytes and the NUL; append (copies) data; the
 * string ("" when empty); free; drop trailing spaces and tabs (http-parser
 * keeps them in header values). reserve and append return 0 or -1 when out
 * of memory. */
int rf__http_sbuf_reserve(sbuf_t *b, size_t extra);
int rf__http_sbuf_append(sbuf_t *b, const char *data, size_t len);
const char *rf__http_sbuf_str(const sbuf_t *b);
void rf__http_sbuf_free(sbuf_t *b);
void rf__http_sbuf_rtrim(sbuf_t *b);

/* rf__http_exchange_new: an empty exchange (method, path, query ""); NULL
 * when out of memory. */
rf_http_exchange_t *rf__http_exchange_new(void);

/* rf__http_exchange_free: free x and all it owns; NULL is harmless. */
void rf__http_exchange_free(rf_http_exchange_t *x);

/* rf__http_find_header: case-insensitive header lookup; NULL when absent. */
const char *rf__http_find_header(const rf_http_exchange_t *x, const char *name);

/* ---- http_response.c ----------------------------------------------------- */

/* rf__http_conn_write: queue bytes (copied). On failure closes the connection
 * and returns -1. */
int rf__http_conn_write(conn_t *c, const char *head, size_t head_len, const char *body,
                        size_t body_len, bool is_response);

/* rf__http_conn_send_response: format and queue one answer. A body is not
 * sent for HEAD, 204 or 304 (nor its length for 204). 0, or -1 (the
 * connection is closed). */
int rf__http_conn_send_response(conn_t *c, int status, const char *content_type, const char *body,
                                size_t len, bool keep_alive, bool is_head);

#endif
