/*
 * http_parse.c: the http-parser callbacks of the HTTP server (http/http.h):
 * the bytes of one request become an exchange (method, split request target,
 * headers, body), within the server's limits. A callback that refuses the
 * request records its status (431, 413, 500) in the connection and fails;
 * http.c then answers and closes. on_message_complete pauses the parser, so
 * that a request is served before anything after it is parsed.
 */
#include "http/http.h"
#include "http/http_internal.h"

#include <assert.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

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
    c->cur = rf__http_exchange_new();
    return c->cur ? 0 : hp_fail(c, 500);
}

static int on_url(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    if (count_header_bytes(c, len) != 0) return -1;
    return rf__http_sbuf_append(&c->cur->url, at, len) == 0 ? 0 : hp_fail(c, 500);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->nheaders == 0 || x->in_value) {            /* a new header starts */
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
    return rf__http_sbuf_append(&x->headers[x->nheaders - 1].name, at, len) == 0 ? 0
                                                                                 : hp_fail(c, 500);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->nheaders == 0) return hp_fail(c, 400); /* cannot happen with http-parser */
    x->in_value = true;
    if (count_header_bytes(c, len) != 0) return -1;
    return rf__http_sbuf_append(&x->headers[x->nheaders - 1].value, at, len) == 0 ? 0
                                                                                  : hp_fail(c, 500);
}

static int on_headers_complete(http_parser *p) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    const rf_http_limits_t *lim = &c->server->limits;
    for (size_t i = 0; i < x->nheaders; i++) rf__http_sbuf_rtrim(&x->headers[i].value);
    x->method = http_method_str((enum http_method)p->method);
    x->is_head = p->method == HTTP_HEAD;
    exchange_split_url(x);
    x->in_value = false; /* trailers of a chunked body start new headers */

    /* Refuse an announced oversized body before reading any of it. Never
     * return 1 or 2 here: http-parser reads those as "no body"/"upgrade". */
    bool has_length = (p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED);
    if (has_length && p->content_length > (uint64_t)lim->max_body_bytes) return hp_fail(c, 413);
    if (has_length && p->content_length > 0 &&
        rf__http_sbuf_reserve(&x->body, (size_t)p->content_length) != 0)
        return hp_fail(c, 500);

    /* "Expect: 100-continue": the client waits for a go-ahead before the
     * body. The request is within limits so far, so give it. */
    const char *expect = rf__http_find_header(x, "Expect");
    bool has_body = (p->flags & F_CHUNKED) || (has_length && p->content_length > 0);
    if (expect && strcasecmp(expect, "100-continue") == 0 && has_body && p->http_major == 1 &&
        p->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (rf__http_conn_write(c, cont, sizeof cont - 1, NULL, 0, false) != 0)
            return hp_fail(c, 500);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    if (x->body.len + len > c->server->limits.max_body_bytes) return hp_fail(c, 413);
    return rf__http_sbuf_append(&x->body, at, len) == 0 ? 0 : hp_fail(c, 500);
}

static int on_message_complete(http_parser *p) {
    conn_t *c = p->data;
    rf_http_exchange_t *x = c->cur;
    for (size_t i = 0; i < x->nheaders; i++)
        rf__http_sbuf_rtrim(&x->headers[i].value); /* trailers */
    /* An upgrade (or CONNECT) is answered as a plain request and the
     * connection closed after it: we speak no other protocol. */
    x->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    /* Stop here: the request is served before anything after it is parsed. */
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings rf__http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};
