/*
 * http.c: the small HTTP/1.1 server behind http/http.h.
 *
 * Every worker serves its health, metrics, API and admin surfaces through
 * this file: one listening TCP socket on a libuv loop, requests parsed with
 * http-parser, one handler per server, answers written with uv_write.
 *
 * Shape of a connection (conn_t):
 *   - Bytes read land in a fixed per-connection buffer (rbuf) and are fed to
 *     http_parser_execute(). on_message_complete pauses the parser, so
 *     execute() returns right after one complete request and whatever
 *     follows it (pipelined requests) stays in rbuf for later.
 *   - The complete request, an exchange, is then handed to the handler. While
 *     it is unanswered, or while its answer is still being written, the
 *     connection does not parse further and does not read (uv_read_stop):
 *     requests are served one at a time, in order, and a client that never
 *     reads its answers cannot make the server queue unbounded output.
 *   - When the answer's uv_write completes, parsing resumes with the bytes
 *     left in rbuf, and reading resumes once they are used up.
 *   - A request over a limit or unparseable gets 431/413/400 with
 *     "Connection: close"; so does the last answer of a connection that is
 *     not kept alive. The connection then "lingers": the write side is shut
 *     down after the answer, input is read and discarded until the client
 *     closes (or LINGER_MS passes), and only then is the socket closed. This
 *     keeps the kernel from resetting the connection over unread input (say a
 *     body we refused with 413) before the client has read the answer.
 *
 * Lifetimes:
 *   - A connection's memory is freed from its close callbacks (TCP handle and
 *     idle timer; both must have closed).
 *   - An exchange handed to the handler belongs to the handler until it is
 *     answered, and is freed inside rf_http_reply(). If the connection goes
 *     away first (client gone, idle/error close, server destroyed), the
 *     exchange is only detached (its `conn` becomes NULL): it stays valid,
 *     and the later answer is discarded and frees it. So whoever holds an
 *     exchange must still answer it, even after rf_http_server_destroy().
 *   - The server is freed when its listener and every connection have
 *     closed, after rf_http_server_destroy().
 *
 * Everything here runs on the loop's thread; nothing is locked.
 */
#include "http/http.h"

#include "runtime/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define DEFAULT_MAX_BODY_BYTES (1024u * 1024u)
#define DEFAULT_IDLE_TIMEOUT_MS 30000u
#define LINGER_MS 2000u           /* longest wait for the client to close after our last answer */
#define RBUF_SIZE (16u * 1024u)   /* per-connection read buffer */
#define LISTEN_BACKLOG 128
#define EXCHANGE_MAGIC 0x52465848u /* "RFXH": live exchange; cleared when freed */

/* ---- small growable strings ------------------------------------------- */

/* Always NUL-terminated once anything was appended; p == NULL means "". */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static int sbuf_reserve(sbuf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int sbuf_append(sbuf_t *b, const char *data, size_t len) {
    if (sbuf_reserve(b, len) != 0) return -1;
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

static const char *sbuf_str(const sbuf_t *b) { return b->p ? b->p : ""; }

static void sbuf_free(sbuf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Drop trailing spaces and tabs (http-parser keeps them in header values). */
static void sbuf_rtrim(sbuf_t *b) {
    while (b->len && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\t')) b->p[--b->len] = '\0';
}

/* ---- types --------------------------------------------------------------- */

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
    int pending_closes;      /* close callbacks still to come (tcp, timer) */
    bool reading;            /* uv_read_start in effect */
    size_t responses_queued; /* answers handed to uv_write, not yet written */
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
    bool holding;                  /* answers are kept until rf_http_release */
    rf_http_exchange_t *held, **held_tail; /* kept answers, in order */
};

/* One uv_write: the request and the bytes it sends, in one allocation. */
typedef struct write_req {
    uv_write_t req;
    bool is_response; /* the answer to a request, as opposed to "100 Continue" */
    size_t len;
    char data[];
} write_req_t;

static void conn_process(conn_t *c);
static void conn_close(conn_t *c);

/* ---- exchanges ------------------------------------------------------------ */

static rf_http_exchange_t *exchange_new(void) {
    rf_http_exchange_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->magic = EXCHANGE_MAGIC;
    x->method = "";
    x->path = "";
    x->query = "";
    return x;
}

static void exchange_free(rf_http_exchange_t *x) {
    if (!x) return;
    assert(x->magic == EXCHANGE_MAGIC);
    for (size_t i = 0; i < x->nheaders; i++) {
        sbuf_free(&x->headers[i].name);
        sbuf_free(&x->headers[i].value);
    }
    free(x->headers);
    sbuf_free(&x->url);
    sbuf_free(&x->body);
    free(x->held_type);
    free(x->held_body);
    x->magic = 0;
    free(x);
}

/* Split the request target in place: origin form "/p?q#f", absolute form
 * "http://host/p?q", "*" (OPTIONS) or authority form (CONNECT) kept whole.
 * The path is not percent-decoded. */
static void exchange_split_url(rf_http_exchange_t *x) {
    if (!x->url.p) return; /* path and query stay "" */
    char *u = x->url.p;
    char *hash = strchr(u, '#');
    if (hash) *hash = '\0';
    char *path = u;
    if (u[0] != '/') {
        char *scheme_end = strstr(u, "://");
        if (scheme_end) {
            char *p = scheme_end + 3;
            p += strcspn(p, "/?");
            path = p;
        }
    }
    char *q = strchr(path, '?');
    if (q) {
        *q = '\0';
        x->query = q + 1;
    }
    /* absolute form without a path ("http://host" or "http://host?q") */
    x->path = (path != u && *path == '\0') ? "/" : path;
}

/* ---- writing ---------------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status) {
    write_req_t *w = (write_req_t *)req;
    conn_t *c = req->data;
    bool is_response = w->is_response;
    free(w);
    if (c->state == CONN_CLOSING) return; /* cancelled by uv_close */
    if (status < 0) {
        rf_debug("event=http_write_failed peer=%s error=%s", c->peer, uv_err_name(status));
        conn_close(c);
        return;
    }
    if (is_response) {
        assert(c->responses_queued > 0);
        c->responses_queued--;
        conn_process(c); /* next pipelined request, or read again */
    }
}

/* Queues bytes (copied). On failure closes the connection and returns -1. */
static int conn_write(conn_t *c, const char *head, size_t head_len, const char *body,
                      size_t body_len, bool is_response) {
    write_req_t *w = malloc(sizeof *w + head_len + body_len);
    if (!w) {
        rf_warn("event=http_write_failed peer=%s error=ENOMEM", c->peer);
        conn_close(c);
        return -1;
    }
    memcpy(w->data, head, head_len);
    if (body_len) memcpy(w->data + head_len, body, body_len);
    w->len = head_len + body_len;
    w->is_response = is_response;
    w->req.data = c;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write_done);
    if (rc != 0) {
        free(w);
        rf_debug("event=http_write_failed peer=%s error=%s", c->peer, uv_err_name(rc));
        conn_close(c);
        return -1;
    }
    if (is_response) c->responses_queued++;
    return 0;
}

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: break;
    }
    const char *s = http_status_str((enum http_status)status);
    if (s && s[0] != '<') return s;
    switch (status / 100) {
    case 2: return "OK";
    case 3: return "Redirection";
    case 4: return "Client Error";
    default: return "Server Error";
    }
}

/* Formats and queues one answer. A body is not sent for HEAD, 204 or 304
 * (nor its length for 204). */
static int conn_send_response(conn_t *c, int status, const char *content_type,
                              const char *body, size_t len, bool keep_alive, bool is_head) {
    char head[768]; /* content_type is at most 200 bytes (rf_http_reply checks) */
    bool no_body = is_head || status == 204 || status == 304;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (content_type && content_type[0])
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (status != 204)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    /* CORS: the operations page of one worker calls the others. Bearer tokens
     * are not ambient credentials, so any origin may call. */
    n += snprintf(head + n, sizeof head - (size_t)n,
                  "Access-Control-Allow-Origin: *\r\n"
                  "Access-Control-Allow-Headers: authorization, content-type\r\n"
                  "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n");
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: %s\r\n\r\n",
                  keep_alive ? "keep-alive" : "close");
    assert(n > 0 && (size_t)n < sizeof head);
    return conn_write(c, head, (size_t)n, no_body ? NULL : body, no_body ? 0 : len, true);
}

/* ---- closing ------------------------------------------------------------- */

static void server_maybe_free(rf_http_server_t *s) {
    if (s->destroying && s->listener_closed && s->conns == NULL) {
        rf_debug("event=http_server_freed addr=%s", s->addr);
        free(s);
    }
}

static void on_conn_handle_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    if (--c->pending_closes > 0) return;
    rf_http_server_t *s = c->server;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    server_maybe_free(s);
}

/* Closes now. An unanswered exchange is detached, not freed (see top). */
static void conn_close(conn_t *c) {
    if (c->state == CONN_CLOSING) return;
    rf_debug("event=http_conn_close peer=%s", c->peer);
    c->state = CONN_CLOSING;
    if (c->inflight) {
        c->inflight->conn = NULL;
        c->inflight = NULL;
    }
    exchange_free(c->cur);
    c->cur = NULL;
    c->reading = false;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *t) {
    conn_t *c = t->data;
    if (c->state == CONN_OPEN) rf_debug("event=http_idle_timeout peer=%s", c->peer);
    conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    conn_t *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0) conn_close(c);
    /* else: keep discarding input until the client closes or the timer fires */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* After the last answer is queued: shut the write side down once it is
 * written, discard input until EOF, close at EOF or after LINGER_MS. */
static void conn_linger(conn_t *c) {
    if (c->state != CONN_OPEN) return;
    c->state = CONN_LINGER;
    exchange_free(c->cur);
    c->cur = NULL;
    c->rstart = c->rend = 0;
    c->shutdown_req.data = c;
    int rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc == 0 && !c->reading) {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc == 0) c->reading = true;
    }
    if (rc != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
}

/* Refuses the request being parsed: answer status, then close. */
static void conn_fail(conn_t *c, int status, const char *code, const char *message) {
    if (c->state != CONN_OPEN) return;
    rf_debug("event=http_request_refused peer=%s status=%d reason=%s", c->peer, status, code);
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}", code, message);
    if (conn_send_response(c, status, "application/json", body, (size_t)n, false, false) == 0)
        conn_linger(c);
}

/* ---- parsing ----------------------------------------------------------- */

static int hp_fail(conn_t *c, int status) {
    c->fail_status = status;
    return -1;
}

/* Counts n header bytes against the limit; -1 (and 431) when over it. */
static int count_header_bytes(conn_t *c, size_t n) {
    rf_http_exchange_t *x = c->cur;
    x->header_bytes += n;
    if (x->header_bytes > c->server->limits.max_header_bytes) return hp_fail(c, 431);
    return 0;
}

static int on_message_begin(http_parser *p) {
    conn_t *c = p->data;
    assert(c->cur == NULL);
    c->cur = exchange_new();
    return c->cur ? 0 : hp_fail(c, 500);
}

static int on_url(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    if (count_header_bytes(c, len) != 0) return -1;
    return sbuf_append(&c->cur->url, at, len) == 0 ? 0 : hp_fail(c, 500);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->nheaders == 0 || x->in_value) { /* a new header starts */
        if (count_header_bytes(c, 4) != 0) return -1; /* ": " and CRLF */
        if (x->nheaders == x->headers_cap) {
            size_t cap = x->headers_cap ? x->headers_cap * 2 : 16;
            header_t *h = realloc(x->headers, cap * sizeof *h);
            if (!h) return hp_fail(c, 500);
            x->headers = h;
            x->headers_cap = cap;
        }
        memset(&x->headers[x->nheaders], 0, sizeof x->headers[0]);
        x->nheaders++;
        x->in_value = false;
    }
    if (count_header_bytes(c, len) != 0) return -1;
    return sbuf_append(&x->headers[x->nheaders - 1].name, at, len) == 0 ? 0 : hp_fail(c, 500);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->nheaders == 0) return hp_fail(c, 400); /* cannot happen with http-parser */
    x->in_value = true;
    if (count_header_bytes(c, len) != 0) return -1;
    return sbuf_append(&x->headers[x->nheaders - 1].value, at, len) == 0 ? 0
                                                                           : hp_fail(c, 500);
}

static const char *find_header(const rf_http_exchange_t *x, const char *name) {
    for (size_t i = 0; i < x->nheaders; i++)
        if (strcasecmp(sbuf_str(&x->headers[i].name), name) == 0)
            return sbuf_str(&x->headers[i].value);
    return NULL;
}

static int on_headers_complete(http_parser *p) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    const rf_http_limits_t *lim = &c->server->limits;
    for (size_t i = 0; i < x->nheaders; i++) sbuf_rtrim(&x->headers[i].value);
    x->method = http_method_str((enum http_method)p->method);
    x->is_head = p->method == HTTP_HEAD;
    exchange_split_url(x);
    x->in_value = false; /* trailers of a chunked body start new headers */

    /* Refuse an announced oversized body before reading any of it. Never
     * return 1 or 2 here: http-parser reads those as "no body"/"upgrade". */
    bool has_length = (p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED);
    if (has_length && p->content_length > (uint64_t)lim->max_body_bytes) return hp_fail(c, 413);
    if (has_length && p->content_length > 0 &&
        sbuf_reserve(&x->body, (size_t)p->content_length) != 0)
        return hp_fail(c, 500);

    /* "Expect: 100-continue": the client waits for a go-ahead before the
     * body. The request is within limits so far, so give it. */
    const char *expect = find_header(x, "Expect");
    bool has_body = (p->flags & F_CHUNKED) || (has_length && p->content_length > 0);
    if (expect && strcasecmp(expect, "100-continue") == 0 && has_body && p->http_major == 1 &&
        p->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (conn_write(c, cont, sizeof cont - 1, NULL, 0, false) != 0) return hp_fail(c, 500);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->body.len + len > c->server->limits.max_body_bytes) return hp_fail(c, 413);
    return sbuf_append(&x->body, at, len) == 0 ? 0 : hp_fail(c, 500);
}

static int on_message_complete(http_parser *p) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    for (size_t i = 0; i < x->nheaders; i++) sbuf_rtrim(&x->headers[i].value); /* trailers */
    /* An upgrade (or CONNECT) is answered as a plain request and the
     * connection closed after it: we speak no other protocol. */
    x->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    /* Stop here: the request is served before anything after it is parsed. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Hands the complete request to the handler. */
static void conn_dispatch(conn_t *c) {
    rf_http_exchange_t *x = c->cur;
    c->cur = NULL;
    x->conn = c;
    c->inflight = x;
    uv_timer_stop(&c->timer); /* the handler may take its time */
    rf_debug("event=http_request peer=%s method=%s path=%s", c->peer, x->method, x->path);
    rf_http_server_t *s = c->server;
    s->handler(x, s->arg); /* may answer (and free x), may even destroy the server */
}

/* Parses what is buffered while the connection is free to serve a request,
 * then reads again when everything is served, or stops reading. */
static void conn_process(conn_t *c) {
    while (c->state == CONN_OPEN && !c->inflight && c->responses_queued == 0 &&
           c->rstart < c->rend) {
        size_t avail = c->rend - c->rstart;
        c->fail_status = 0;
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->rbuf + c->rstart, avail);
        c->rstart += n;
        if (c->state != CONN_OPEN) return; /* closed from a callback (failed write) */
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            conn_dispatch(c);
            continue;
        }
        if (e != HPE_OK || n != avail) {
            int status = c->fail_status ? c->fail_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
            if (status == 431)
                conn_fail(c, 431, "header_too_large", "request header block over limit");
            else if (status == 413)
                conn_fail(c, 413, "body_too_large", "request body over limit");
            else if (status == 500)
                conn_fail(c, 500, "internal", "out of memory");
            else {
                rf_debug("event=http_parse_error peer=%s error=%s", c->peer, http_errno_name(e));
                conn_fail(c, 400, "bad_request", "malformed HTTP request");
            }
            return;
        }
    }
    if (c->state != CONN_OPEN) return;
    if (c->rstart == c->rend) c->rstart = c->rend = 0;
    bool idle = !c->inflight && c->responses_queued == 0;
    if (idle && !c->reading) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc != 0) {
            rf_debug("event=http_read_failed peer=%s error=%s", c->peer, uv_err_name(rc));
            conn_close(c);
            return;
        }
        c->reading = true;
        uv_timer_start(&c->timer, on_timer, c->server->limits.idle_timeout_ms, 0);
    } else if (!idle && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn_t *c = h->data;
    if (c->state != CONN_OPEN) { /* lingering: the bytes are discarded */
        *buf = uv_buf_init(c->rbuf, RBUF_SIZE);
        return;
    }
    if (c->rstart > 0) {
        memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
        c->rend -= c->rstart;
        c->rstart = 0;
    }
    /* We only read with nothing left to parse, so there is always room. */
    *buf = uv_buf_init(c->rbuf + c->rend, (unsigned)(RBUF_SIZE - c->rend));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    conn_t *c = stream->data;
    if (c->state == CONN_CLOSING) return;
    if (nread < 0) {
        if (nread != UV_EOF && c->state == CONN_OPEN)
            rf_debug("event=http_read_failed peer=%s error=%s", c->peer, uv_err_name((int)nread));
        conn_close(c); /* EOF or error; a half-read request is dropped */
        return;
    }
    if (nread == 0 || c->state == CONN_LINGER) return;
    c->rend += (size_t)nread;
    /* activity: restart the idle timeout */
    uv_timer_start(&c->timer, on_timer, c->server->limits.idle_timeout_ms, 0);
    conn_process(c);
}

/* ---- accepting --------------------------------------------------------- */

static void conn_peer_name(conn_t *c) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        char ip[INET_ADDRSTRLEN];
        uv_ip4_name(sin, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    }
}

static void on_connection(uv_stream_t *listener, int status) {
    rf_http_server_t *s = listener->data;
    if (status < 0) {
        rf_warn("event=http_accept_failed addr=%s error=%s", s->addr, uv_err_name(status));
        return;
    }
    if (s->destroying) return;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        rf_warn("event=http_accept_failed addr=%s error=ENOMEM", s->addr);
        return; /* the pending connection stays in the backlog */
    }
    c->server = s;
    c->state = CONN_OPEN;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        rf_warn("event=http_accept_failed addr=%s error=%s", s->addr, uv_err_name(rc));
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_peer_name(c);
    rf_debug("event=http_conn_open addr=%s peer=%s", s->addr, c->peer);
    conn_process(c); /* starts reading */
}

/* ---- server ------------------------------------------------------------ */

/* "host:port" -> IPv4 address; host is dotted IPv4 or "localhost". */
static int parse_host_port(const char *host_port, struct sockaddr_in *sin) {
    const char *colon = strrchr(host_port, ':');
    if (!colon || colon == host_port) return -1;
    size_t hlen = (size_t)(colon - host_port);
    char host[64];
    if (hlen >= sizeof host) return -1;
    memcpy(host, host_port, hlen);
    host[hlen] = '\0';
    const char *ps = colon + 1;
    if (*ps == '\0' || strlen(ps) > 5) return -1;
    unsigned long port = 0;
    for (const char *q = ps; *q; q++) {
        if (*q < '0' || *q > '9') return -1;
        port = port * 10 + (unsigned long)(*q - '0');
    }
    if (port > 65535) return -1;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return -1;
    return 0;
}

rf_http_server_t *rf_http_server_new(uv_loop_t *loop, const char *host_port,
                                     const rf_http_limits_t *limits,
                                     rf_http_handler_fn handler, void *arg, char *err,
                                     size_t errlen) {
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    assert(loop && handler);
    struct sockaddr_in sin;
    if (!host_port || parse_host_port(host_port, &sin) != 0) {
        snprintf(err, errlen, "http: bad listen address '%s' (want IPv4-or-localhost:port)",
                 host_port ? host_port : "(null)");
        return NULL;
    }

    /* The socket is bound and listening before any libuv handle exists, so
     * a failure here leaves nothing on the loop to clean up. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "http: socket for %s: %s", host_port, strerror(errno));
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "http: cannot listen on %s: %s", host_port, strerror(errno));
        close(fd);
        return NULL;
    }

    rf_http_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "http: out of memory for %s", host_port);
        close(fd);
        return NULL;
    }
    s->loop = loop;
    s->handler = handler;
    s->arg = arg;
    snprintf(s->addr, sizeof s->addr, "%s", host_port);
    s->limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    s->limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    s->limits.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    if (limits) { /* a zero field keeps its default */
        if (limits->max_header_bytes) s->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_body_bytes) s->limits.max_body_bytes = limits->max_body_bytes;
        if (limits->idle_timeout_ms) s->limits.idle_timeout_ms = limits->idle_timeout_ms;
    }

    int rc = uv_tcp_init(loop, &s->listener);
    if (rc != 0) {
        snprintf(err, errlen, "http: cannot listen on %s: %s", host_port, uv_strerror(rc));
        close(fd);
        free(s);
        return NULL;
    }
    s->listener.data = s;
    rc = uv_tcp_open(&s->listener, fd);
    if (rc != 0) close(fd); /* not adopted by the handle */
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        /* Unlikely (the socket already listens). The handle exists now, so
         * the memory goes from its close callback when the loop next runs. */
        snprintf(err, errlen, "http: cannot listen on %s: %s", host_port, uv_strerror(rc));
        rf_http_server_t *tmp = s;
        rf_http_server_destroy(&tmp);
        return NULL;
    }
    rf_debug("event=http_listen addr=%s port=%d", s->addr, rf_http_server_port(s));
    return s;
}

int rf_http_server_port(const rf_http_server_t *server) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (!server || uv_tcp_getsockname(&server->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family != AF_INET) return -1;
    return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
}

static void on_listener_closed(uv_handle_t *h) {
    rf_http_server_t *s = h->data;
    s->listener_closed = true;
    server_maybe_free(s);
}

void rf_http_server_destroy(rf_http_server_t **server_p) {
    if (!server_p || !*server_p) return;
    rf_http_server_t *s = *server_p;
    *server_p = NULL;
    s->destroying = true;
    if (!uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (conn_t *c = s->conns; c; c = c->next) conn_close(c);
    rf_http_release(s, false); /* kept answers have nowhere to go now: freed */
}

/* ---- request accessors ------------------------------------------------- */

const char *rf_http_method(const rf_http_exchange_t *x) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    return x->method;
}

const char *rf_http_path(const rf_http_exchange_t *x) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    return x->path;
}

const char *rf_http_query(const rf_http_exchange_t *x) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    return x->query;
}

const char *rf_http_body(const rf_http_exchange_t *x, size_t *len) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    if (len) *len = x->body.len;
    return sbuf_str(&x->body);
}

const char *rf_http_header(const rf_http_exchange_t *x, const char *name) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    return name ? find_header(x, name) : NULL;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes one byte of a query component at s[*i] (end e), advancing *i:
 * '+' is a space, %xx a byte; a '%' not followed by two hex digits is kept. */
static char decode_at(const char *s, size_t e, size_t *i) {
    char ch = s[*i];
    if (ch == '+') {
        (*i)++;
        return ' ';
    }
    if (ch == '%' && *i + 2 < e) {
        int hi = hexval(s[*i + 1]), lo = hexval(s[*i + 2]);
        if (hi >= 0 && lo >= 0) {
            *i += 3;
            return (char)(hi * 16 + lo);
        }
    }
    (*i)++;
    return ch;
}

int rf_http_query_param(const rf_http_exchange_t *x, const char *name, char *out,
                        size_t outlen) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    if (!name) return -1;
    const char *q = x->query;
    size_t qlen = strlen(q);
    size_t nlen = strlen(name);
    size_t pos = 0;
    while (pos <= qlen) {
        size_t end = pos + strcspn(q + pos, "&");
        size_t eq = pos + strcspn(q + pos, "=&");
        /* compare the decoded key q[pos, eq) with name */
        size_t i = pos, k = 0;
        bool match = true;
        while (i < eq) {
            char ch = decode_at(q, eq, &i);
            if (k >= nlen || ch != name[k]) {
                match = false;
                break;
            }
            k++;
        }
        if (match && k == nlen && end > pos) {
            size_t vstart = eq < end ? eq + 1 : end, olen = 0;
            for (size_t j = vstart; j < end;) {
                char ch = decode_at(q, end, &j);
                if (!out || olen + 1 >= outlen) return -1;
                out[olen++] = ch;
            }
            if (!out || outlen == 0) return -1;
            out[olen] = '\0';
            return (int)olen;
        }
        pos = end + 1;
    }
    return -1;
}

/* ---- answering ------------------------------------------------------------ */

void rf_http_reply(rf_http_exchange_t *x, int status, const char *content_type,
                   const char *body, size_t len) {
    assert(x && x->magic == EXCHANGE_MAGIC && "exchange answered twice or never valid");
    assert(status >= 200 && status <= 599);
    assert(body || len == 0);
    conn_t *c = x->conn;
    if (!c) { /* the connection went away: the answer has nowhere to go */
        rf_debug("event=http_reply_discarded method=%s path=%s status=%d", x->method, x->path,
                 status);
        exchange_free(x);
        return;
    }
    assert(c->inflight == x);
    if (c->server->holding) {
        /* Kept (copied) until rf_http_release; the connection waits. */
        x->held_status = status;
        x->held_type = content_type ? strdup(content_type) : NULL;
        x->held_body = malloc(len ? len : 1);
        x->held_len = len;
        if ((!content_type || x->held_type) && x->held_body) {
            if (len) memcpy(x->held_body, body, len);
            *c->server->held_tail = x;
            c->server->held_tail = &x->held_next;
            return;
        }
        free(x->held_type);
        free(x->held_body);
        x->held_type = x->held_body = NULL; /* out of memory: answer now */
    }
    if (content_type && (strpbrk(content_type, "\r\n") || strlen(content_type) > 200)) {
        rf_warn("event=http_bad_content_type path=%s", x->path);
        content_type = "application/octet-stream";
    }
    bool keep_alive = x->keep_alive && c->state == CONN_OPEN && !c->server->destroying;
    rf_debug("event=http_response peer=%s method=%s path=%s status=%d len=%zu", c->peer,
             x->method, x->path, status, len);
    /* body or content_type may point into x (an echo): copy, then free x. */
    c->inflight = NULL;
    x->conn = NULL;
    int rc = conn_send_response(c, status, content_type, body ? body : "", len, keep_alive,
                                x->is_head);
    exchange_free(x);
    if (rc == 0 && !keep_alive) conn_linger(c);
    /* otherwise on_write_done resumes the connection */
}

void rf_http_hold(rf_http_server_t *server) {
    if (server->holding) return;
    server->holding = true;
    server->held = NULL;
    server->held_tail = &server->held;
}

void rf_http_release(rf_http_server_t *server, bool ok) {
    if (!server->holding) return;
    server->holding = false;
    rf_http_exchange_t *x = server->held;
    server->held = NULL;
    server->held_tail = &server->held;
    while (x) {
        rf_http_exchange_t *next = x->held_next;
        x->held_next = NULL;
        char *type = x->held_type, *body = x->held_body;
        x->held_type = x->held_body = NULL;
        if (ok) rf_http_reply(x, x->held_status, type, body, x->held_len);
        else
            rf_http_reply_error(x, 503, "db_unavailable",
                                "the database did not commit this request; retry");
        free(type);
        free(body);
        x = next;
    }
}

void rf_http_reply_json(rf_http_exchange_t *x, int status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        rf_warn("event=http_json_encode_failed status=%d", status);
        static const char fallback[] =
            "{\"error\":\"internal\",\"message\":\"response could not be encoded\"}";
        rf_http_reply(x, 500, "application/json", fallback, sizeof fallback - 1);
        return;
    }
    rf_http_reply(x, status, "application/json", text, strlen(text));
    free(text);
}

void rf_http_reply_error(rf_http_exchange_t *x, int status, const char *code,
                         const char *message) {
    json_t *o = json_object();
    json_t *jc = json_string(code ? code : "error");
    json_t *jm = json_string(message ? message : "");
    if (!jm) jm = json_string("(message not valid UTF-8)");
    if (o && jc) json_object_set_new(o, "error", jc);
    else json_decref(jc);
    if (o && jm) json_object_set_new(o, "message", jm);
    else json_decref(jm);
    rf_http_reply_json(x, status, o);
}

void rf_http_set_user(rf_http_exchange_t *x, const void *user) { x->user = user; }

const void *rf_http_user(const rf_http_exchange_t *x) { return x->user; }

const char *rf_http_peer(const rf_http_exchange_t *x) {
    return x->conn ? x->conn->peer : "";
}
