/*
 * http_response.c: the answers of the HTTP server (http/http.h): status
 * line and headers (CORS included), uv_write of the bytes, rf_http_reply and
 * its helpers, and holding answers for group commit (rf_http_hold and
 * rf_http_release). A written answer resumes its connection (http.c); an
 * answer to a connection that went away is discarded.
 */
#include "http/http.h"
#include "http/http_internal.h"

#include "runtime/log.h"

#include <assert.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One uv_write: the request and the bytes it sends, in one allocation. */
typedef struct write_req {
    uv_write_t req;
    bool is_response; /* the answer to a request, as opposed to "100 Continue" */
    size_t len;
    char data[];
} write_req_t;

/* ---- writing ---------------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status) {
    write_req_t *w = (write_req_t *)req;
    conn_t *c = req->data;
    bool is_response = w->is_response;
    free(w);
    if (c->state == CONN_CLOSING) return; /* cancelled by uv_close */
    if (status < 0) {
        rf_debug("event=http_write_failed peer=%s error=%s", c->peer, uv_err_name(status));
        rf__http_conn_close(c);
        return;
    }
    if (is_response) {
        assert(c->responses_queued > 0);
        c->responses_queued--;
        rf__http_conn_process(c); /* next pipelined request, or read again */
    }
}

int rf__http_conn_write(conn_t *c, const char *head, size_t head_len, const char *body,
                        size_t body_len, bool is_response) {
    write_req_t *w = malloc(sizeof *w + head_len + body_len);
    if (!w) {
        rf_warn("event=http_write_failed peer=%s error=ENOMEM", c->peer);
        rf__http_conn_close(c);
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
        rf__http_conn_close(c);
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

int rf__http_conn_send_response(conn_t *c, int status, const char *content_type, const char *body,
                                size_t len, bool keep_alive, bool is_head) {
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
    return rf__http_conn_write(c, head, (size_t)n, no_body ? NULL : body, no_body ? 0 : len, true);
}

/* ---- answering ------------------------------------------------------------ */

void rf_http_reply(rf_http_exchange_t *x, int status, const char *content_type, const char *body,
                   size_t len) {
    assert(x && x->magic == EXCHANGE_MAGIC && "exchange answered twice or never valid");
    assert(status >= 200 && status <= 599);
    assert(body || len == 0);
    conn_t *c = x->conn;
    if (!c) { /* the connection went away: the answer has nowhere to go */
        rf_debug("event=http_reply_discarded method=%s path=%s status=%d", x->method, x->path,
                 status);
        rf__http_exchange_free(x);
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
    rf_debug("event=http_response peer=%s method=%s path=%s status=%d len=%zu", c->peer, x->method,
             x->path, status, len);
    /* body or content_type may point into x (an echo): copy, then free x. */
    c->inflight = NULL;
    x->conn = NULL;
    int rc = rf__http_conn_send_response(c, status, content_type, body ? body : "", len, keep_alive,
                                         x->is_head);
    rf__http_exchange_free(x);
    if (rc == 0 && !keep_alive) rf__http_conn_linger(c);
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

void rf_http_reply_error(rf_http_exchange_t *x, int status, const char *code, const char *message) {
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
