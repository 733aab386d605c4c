/*
 * http_request.c: the exchanges of the HTTP server (http/http.h): their
 * storage (small growable strings, headers), allocation and release, and the
 * request accessors handlers use (method, path, query and its parameters,
 * body, headers, peer, the application's per-request pointer).
 */
#include "http/http.h"
#include "http/http_internal.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small growable strings ------------------------------------------- */

int rf__http_sbuf_reserve(sbuf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int rf__http_sbuf_append(sbuf_t *b, const char *data, size_t len) {
    if (rf__http_sbuf_reserve(b, len) != 0) return -1;
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

const char *rf__http_sbuf_str(const sbuf_t *b) { return b->p ? b->p : ""; }

void rf__http_sbuf_free(sbuf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void rf__http_sbuf_rtrim(sbuf_t *b) {
    while (b->len && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\t')) b->p[--b->len] = '\0';
}

/* ---- exchanges ------------------------------------------------------------ */

rf_http_exchange_t *rf__http_exchange_new(void) {
    rf_http_exchange_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->magic = EXCHANGE_MAGIC;
    x->method = "";
    x->path = "";
    x->query = "";
    return x;
}

void rf__http_exchange_free(rf_http_exchange_t *x) {
    if (!x) return;
    assert(x->magic == EXCHANGE_MAGIC);
    for (size_t i = 0; i < x->nheaders; i++) {
        rf__http_sbuf_free(&x->headers[i].name);
        rf__http_sbuf_free(&x->headers[i].value);
    }
    free(x->headers);
    rf__http_sbuf_free(&x->url);
    rf__http_sbuf_free(&x->body);
    free(x->held_type);
    free(x->held_body);
    x->magic = 0;
    free(x);
}

const char *rf__http_find_header(const rf_http_exchange_t *x, const char *name) {
    for (size_t i = 0; i < x->nheaders; i++)
        if (strcasecmp(rf__http_sbuf_str(&x->headers[i].name), name) == 0)
            return rf__http_sbuf_str(&x->headers[i].value);
    return NULL;
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
    return rf__http_sbuf_str(&x->body);
}

const char *rf_http_header(const rf_http_exchange_t *x, const char *name) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    return name ? rf__http_find_header(x, name) : NULL;
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

/* The raw (still encoded) value of parameter name: [*vstart, *vend) of the
 * query, true when present. */
static bool query_find(const char *q, const char *name, size_t *vstart, size_t *vend) {
    size_t qlen = strlen(q), nlen = strlen(name), pos = 0;
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
            *vstart = eq < end ? eq + 1 : end;
            *vend = end;
            return true;
        }
        pos = end + 1;
    }
    return false;
}

int rf_http_query_param(const rf_http_exchange_t *x, const char *name, char *out, size_t outlen) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    size_t j, end;
    if (!name || !query_find(x->query, name, &j, &end)) return -1;
    if (!out || outlen == 0) return -2;
    size_t olen = 0;
    while (j < end) {
        char ch = decode_at(x->query, end, &j);
        if (olen + 1 >= outlen) return -2;
        out[olen++] = ch;
    }
    out[olen] = '\0';
    return (int)olen;
}

bool rf_http_query_has(const rf_http_exchange_t *x, const char *name) {
    assert(x && x->magic == EXCHANGE_MAGIC);
    size_t vstart, vend;
    return name && query_find(x->query, name, &vstart, &vend);
}

int rf_http_query_filter(rf_http_exchange_t *x, const char *name, char *out, size_t outlen) {
    int n = rf_http_query_param(x, name, out, outlen);
    if (n == -1 && outlen > 0) out[0] = '\0';
    if (n != -2) return n < 0 ? 0 : n;
    char msg[160];
    (void)snprintf(msg, sizeof msg, "query parameter %s is longer than %zu bytes", name,
                   outlen ? outlen - 1 : 0);
    rf_http_reply_error(x, 400, "invalid_query", msg);
    return -1;
}

void rf_http_set_user(rf_http_exchange_t *x, const void *user) { x->user = user; }

const void *rf_http_user(const rf_http_exchange_t *x) { return x->user; }

const char *rf_http_peer(const rf_http_exchange_t *x) { return x->conn ? x->conn->peer : ""; }
