/*
 * http.c: the small HTTP/1.1 server behind http/http.h: listening,
 * accepting, reading, closing and lingering connections. Its other parts
 * (parsing, exchanges, answers) are listed in http_internal.h.
 *
 * Every worker serves its health, metrics, API and admin surfaces through
 * this server: one listening TCP socket on a libuv loop, requests parsed with
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
#include "http/http_internal.h"

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
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define DEFAULT_MAX_BODY_BYTES (1024u * 1024u)
#define DEFAULT_IDLE_TIMEOUT_MS 30000u
#define LINGER_MS 2000u /* longest wait for the client to close after our last answer */
#define LISTEN_BACKLOG 128

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
void rf__http_conn_close(conn_t *c) {
    if (c->state == CONN_CLOSING) return;
    rf_debug("event=http_conn_close peer=%s", c->peer);
    c->state = CONN_CLOSING;
    if (c->inflight) {
        c->inflight->conn = NULL;
        c->inflight = NULL;
    }
    rf__http_exchange_free(c->cur);
    c->cur = NULL;
    c->reading = false;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *t) {
    conn_t *c = t->data;
    if (c->state == CONN_OPEN) rf_debug("event=http_idle_timeout peer=%s", c->peer);
    rf__http_conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    conn_t *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0) rf__http_conn_close(c);
    /* else: keep discarding input until the client closes or the timer fires */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* After the last answer is queued: shut the write side down once it is
 * written, discard input until EOF, close at EOF or after LINGER_MS. */
void rf__http_conn_linger(conn_t *c) {
    if (c->state != CONN_OPEN) return;
    c->state = CONN_LINGER;
    rf__http_exchange_free(c->cur);
    c->cur = NULL;
    c->rstart = c->rend = 0;
    c->shutdown_req.data = c;
    int rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc == 0 && !c->reading) {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc == 0) c->reading = true;
    }
    if (rc != 0) {
        rf__http_conn_close(c);
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
    if (rf__http_conn_send_response(c, status, "application/json", body, (size_t)n, false, false) ==
        0)
        rf__http_conn_linger(c);
}

/* ---- reading ----------------------------------------------------------- */

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
void rf__http_conn_process(conn_t *c) {
    while (c->state == CONN_OPEN && !c->inflight && c->responses_queued == 0 &&
           c->rstart < c->rend) {
        size_t avail = c->rend - c->rstart;
        c->fail_status = 0;
        size_t n =
            http_parser_execute(&c->parser, &rf__http_parser_settings, c->rbuf + c->rstart, avail);
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
            else if (status == 413) conn_fail(c, 413, "body_too_large", "request body over limit");
            else if (status == 500) conn_fail(c, 500, "internal", "out of memory");
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
            rf__http_conn_close(c);
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
        rf__http_conn_close(c); /* EOF or error; a half-read request is dropped */
        return;
    }
    if (nread == 0 || c->state == CONN_LINGER) return;
    c->rend += (size_t)nread;
    /* activity: restart the idle timeout */
    uv_timer_start(&c->timer, on_timer, c->server->limits.idle_timeout_ms, 0);
    rf__http_conn_process(c);
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
        rf__http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_peer_name(c);
    rf_debug("event=http_conn_open addr=%s peer=%s", s->addr, c->peer);
    rf__http_conn_process(c); /* starts reading */
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
                                     const rf_http_limits_t *limits, rf_http_handler_fn handler,
                                     void *arg, char *err, size_t errlen) {
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
        (void)close(fd);
        return NULL;
    }

    rf_http_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "http: out of memory for %s", host_port);
        (void)close(fd);
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
        (void)close(fd);
        free(s);
        return NULL;
    }
    s->listener.data = s;
    rc = uv_tcp_open(&s->listener, fd);
    if (rc != 0) (void)close(fd); /* not adopted by the handle */
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
    for (conn_t *c = s->conns; c; c = c->next) rf__http_conn_close(c);
    rf_http_release(s, false); /* kept answers have nowhere to go now: freed */
}
