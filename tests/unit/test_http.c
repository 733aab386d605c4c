/*
 * test_http.c: unit tests for the HTTP server in common/http/ (http/http.h).
 *
 * Each test runs a server on 127.0.0.1:0 on its own libuv loop, driven by a
 * background thread; the test itself is the client, with plain blocking
 * sockets (receive timeout 5 s, so a bug shows as a failure, not a hang).
 * The handler and its timers run on the loop thread only; the two threads
 * share nothing but a few atomic counters. Stopping a fixture destroys the
 * server from the loop thread (uv_async), lets the loop run dry and checks
 * that uv_loop_close() returns 0; ASan/LSan or valgrind check the rest.
 */
#include "http/http.h"
#include "runtime/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- server fixture ------------------------------------------------------- */

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    rf_http_server_t *srv;
    pthread_t thread;
    int port;
    bool running;
    atomic_int requests;       /* requests the handler has seen */
    atomic_int async_answered; /* delayed answers given (sent or discarded) */
} fixture_t;

static const rf_http_limits_t test_limits = {
    .max_header_bytes = 2048,
    .max_body_bytes = 4096,
    .idle_timeout_ms = 10000,
};

/* A delayed answer: the handler keeps the exchange, a timer answers it. */
typedef struct pending {
    uv_timer_t timer;
    rf_http_exchange_t *x;
    fixture_t *fx;
} pending_t;

static void pending_free(uv_handle_t *h) { free(h->data); }

static void pending_fire(uv_timer_t *t) {
    pending_t *p = t->data;
    rf_http_reply(p->x, 200, "text/plain", "async", 5);
    atomic_fetch_add(&p->fx->async_answered, 1);
    uv_close((uv_handle_t *)&p->timer, pending_free);
}

static void answer_later(fixture_t *fx, rf_http_exchange_t *x, unsigned ms) {
    pending_t *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->x = x;
    p->fx = fx;
    uv_timer_init(&fx->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, pending_fire, ms, 0);
}

static void handler(rf_http_exchange_t *x, void *arg) {
    fixture_t *fx = arg;
    atomic_fetch_add(&fx->requests, 1);
    const char *path = rf_http_path(x);
    if (strcmp(path, "/async") == 0) {
        answer_later(fx, x, 50);
    } else if (strcmp(path, "/slow") == 0) {
        answer_later(fx, x, 300);
    } else if (strcmp(path, "/json") == 0) {
        rf_http_reply_json(x, 200, json_pack("{s:b,s:i}", "ok", 1, "n", 1));
    } else if (strcmp(path, "/error") == 0) {
        rf_http_reply_error(x, 404, "not_found", "no \"such\" thing");
    } else if (strcmp(path, "/echo-body") == 0) {
        /* body and content type borrowed from the exchange itself */
        size_t len;
        const char *body = rf_http_body(x, &len);
        rf_http_reply(x, 200, rf_http_header(x, "content-type"), body, len);
    } else if (strcmp(path, "/destroy") == 0) {
        rf_http_server_destroy(&fx->srv);               /* from inside a handler */
        rf_http_reply(x, 200, "text/plain", "gone", 4); /* discarded */
    } else if (strncmp(path, "/echo", 5) == 0) {
        char a[256], b[256], c[16], small[4];
        int ra = rf_http_query_param(x, "a", a, sizeof a);
        int rb = rf_http_query_param(x, "b", b, sizeof b);
        int rc = rf_http_query_param(x, "c", c, sizeof c);
        int rsmall = rf_http_query_param(x, "a", small, sizeof small);
        int rnone = rf_http_query_param(x, "zz", c, sizeof c);
        char f[4];
        int rfilter = rf_http_query_filter(x, "zz", f, sizeof f); /* absent: "" */
        if (rfilter != 0 || f[0] != '\0') rfilter = 99;
        bool has_a = rf_http_query_has(x, "a"), has_zz = rf_http_query_has(x, "zz");
        const char *xt = rf_http_header(x, "X-TEST");
        const char *ct = rf_http_header(x, "content-TYPE");
        size_t blen;
        const char *body = rf_http_body(x, &blen);
        char out[8192];
        int n = snprintf(
            out, sizeof out,
            "method=%s|path=%s|query=%s|a=%s|b=%s|c=%d|a_small=%d|zz=%d|filter=%d|has=%d%d|"
            "x-test=%s|ctype=%s|blen=%zu|body=%.*s|",
            rf_http_method(x), path, rf_http_query(x), ra >= 0 ? a : "<absent>",
            rb >= 0 ? b : "<absent>", rc, rsmall, rnone, rfilter, has_a, has_zz, xt ? xt : "<none>",
            ct ? ct : "<none>", blen, (int)blen, body);
        assert_true(n > 0 && (size_t)n < sizeof out);
        rf_http_reply(x, 200, "text/plain; charset=utf-8", out, (size_t)n);
    } else {
        rf_http_reply_error(x, 404, "not_found", path);
    }
}

static void on_stop(uv_async_t *a) {
    fixture_t *fx = a->data;
    rf_http_server_destroy(&fx->srv);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg) {
    fixture_t *fx = arg;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    return NULL;
}

static fixture_t *fixture_start(const rf_http_limits_t *limits) {
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    char err[256] = "";
    fx->srv = rf_http_server_new(&fx->loop, "127.0.0.1:0", limits, handler, fx, err, sizeof err);
    assert_non_null(fx->srv);
    fx->port = rf_http_server_port(fx->srv);
    assert_true(fx->port > 0);
    assert_int_equal(uv_async_init(&fx->loop, &fx->stop, on_stop), 0);
    fx->stop.data = fx;
    assert_int_equal(pthread_create(&fx->thread, NULL, loop_main, fx), 0);
    fx->running = true;
    return fx;
}

/* Destroys the server on the loop thread, waits for the loop to run dry. */
static void fixture_stop(fixture_t *fx) {
    if (!fx->running) return;
    fx->running = false;
    uv_async_send(&fx->stop);
    assert_int_equal(pthread_join(fx->thread, NULL), 0);
    assert_null(fx->srv);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static int setup(void **state) {
    *state = fixture_start(&test_limits);
    return 0;
}

static int setup_short_idle(void **state) {
    rf_http_limits_t lim = test_limits;
    lim.idle_timeout_ms = 100;
    *state = fixture_start(&lim);
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    fixture_stop(fx);
    free(fx);
    return 0;
}

/* ---- blocking client ------------------------------------------------------ */

static int client_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

typedef struct reader {
    int fd;
    size_t len;
    char buf[65536];
} reader_t;

typedef struct resp {
    int status;
    char head[4096];
    size_t body_len;
    char body[16384];
} resp_t;

static int reader_fill(reader_t *r) {
    if (r->len == sizeof r->buf) return -1;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
    if (n <= 0) return -1;
    r->len += (size_t)n;
    return 0;
}

/* Reads one response (head, then Content-Length bytes of body unless
 * no_body); leaves anything after it in the reader. 0, or -1 at EOF. */
static int read_response(reader_t *r, resp_t *out, bool no_body) {
    char *end;
    while (!(end = memmem(r->buf, r->len, "\r\n\r\n", 4)))
        if (reader_fill(r) != 0) return -1;
    size_t hlen = (size_t)(end - r->buf) + 4;
    assert_true(hlen < sizeof out->head);
    memcpy(out->head, r->buf, hlen);
    out->head[hlen] = '\0';
    out->status = 0;
    assert_int_equal(sscanf(out->head, "HTTP/1.1 %d ", &out->status), 1);
    size_t blen = 0;
    const char *cl = strcasestr(out->head, "\r\nContent-Length:");
    if (cl && !no_body) blen = strtoul(cl + 17, NULL, 10);
    assert_true(blen < sizeof out->body);
    while (r->len < hlen + blen)
        if (reader_fill(r) != 0) return -1;
    memcpy(out->body, r->buf + hlen, blen);
    out->body[blen] = '\0';
    out->body_len = blen;
    memmove(r->buf, r->buf + hlen + blen, r->len - hlen - blen);
    r->len -= hlen + blen;
    return 0;
}

static bool head_has(const resp_t *r, const char *line) {
    return strcasestr(r->head, line) != NULL;
}

/* True when the server closes the connection (EOF or reset) in time. */
static bool wait_closed(int fd) {
    char b[4096];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
}

static reader_t *reader_new(int fd) {
    reader_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->fd = fd;
    return r;
}

static void reader_done(reader_t *r) {
    close(r->fd);
    free(r);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void wait_for(atomic_int *counter, int value) {
    for (int i = 0; i < 500 && atomic_load(counter) < value; i++) usleep(10 * 1000);
    assert_int_equal(atomic_load(counter), value);
}

/* ---- tests --------------------------------------------------------------- */

static void test_get_query_params(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "GET /echo/x%2Fy?a=hello%20world&b=x+y%2Bz%zz&c HTTP/1.1\r\n"
                    "Host: t\r\nX-Test: yes\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_true(head_has(resp, "HTTP/1.1 200 OK\r\n"));
    assert_true(head_has(resp, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert_true(head_has(resp, "\r\nConnection: keep-alive\r\n"));
    assert_non_null(strstr(resp->body, "method=GET|"));
    assert_non_null(strstr(resp->body, "|path=/echo/x%2Fy|")); /* path kept raw */
    assert_non_null(strstr(resp->body, "|query=a=hello%20world&b=x+y%2Bz%zz&c|"));
    assert_non_null(strstr(resp->body, "|a=hello world|"));
    assert_non_null(strstr(resp->body, "|b=x y+z%zz|")); /* bad escape kept */
    assert_non_null(strstr(resp->body, "|c=0|"));        /* present, empty */
    assert_non_null(strstr(resp->body, "|a_small=-2|")); /* longer than outlen-1 */
    assert_non_null(strstr(resp->body, "|zz=-1|"));      /* absent */
    assert_non_null(strstr(resp->body, "|filter=0|"));   /* absent filter reads as "" */
    assert_non_null(strstr(resp->body, "|has=10|"));     /* a present at any length */
    assert_non_null(strstr(resp->body, "|blen=0|body=|"));
    /* no query at all */
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|path=/echo|query=|a=<absent>|"));
    free(resp);
    reader_done(r);
}

static void test_post_body(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\n"
                    "Content-Length: 10\r\n\r\nhello body");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_non_null(strstr(resp->body, "method=POST|"));
    assert_non_null(strstr(resp->body, "|ctype=text/x-test|blen=10|body=hello body|"));
    /* chunked, sent in pieces */
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    usleep(20 * 1000);
    send_str(r->fd, "lo\r\n6\r\n world\r\n0\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|blen=11|body=hello world|"));
    /* the handler answers with the exchange's own body and content type */
    send_str(r->fd, "PUT /echo-body HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-raw\r\n"
                    "Content-Length: 4\r\n\r\nabcd");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_true(head_has(resp, "\r\nContent-Type: application/x-raw\r\n"));
    assert_string_equal(resp->body, "abcd");
    free(resp);
    reader_done(r);
}

static void test_keep_alive_three_requests(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    for (int i = 0; i < 3; i++) {
        char req[128], want[64];
        snprintf(req, sizeof req, "GET /echo?a=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        send_str(r->fd, req);
        assert_int_equal(read_response(r, resp, false), 0);
        assert_int_equal(resp->status, 200);
        assert_true(head_has(resp, "\r\nConnection: keep-alive\r\n"));
        snprintf(want, sizeof want, "|a=%d|", i);
        assert_non_null(strstr(resp->body, want));
    }
    assert_int_equal(atomic_load(&fx->requests), 3);
    /* the last one asks to close */
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_true(head_has(resp, "\r\nConnection: close\r\n"));
    assert_true(wait_closed(r->fd));
    free(resp);
    reader_done(r);
}

static void test_pipelined_requests(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "GET /echo?a=first HTTP/1.1\r\nHost: t\r\n\r\n"
                    "POST /echo?a=second HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|a=first|"));
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|a=second|"));
    assert_non_null(strstr(resp->body, "|body=xyz|"));
    /* an asynchronous answer first: the second still comes after it */
    send_str(r->fd, "GET /async HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /echo?a=after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_string_equal(resp->body, "async");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|a=after|"));
    free(resp);
    reader_done(r);
}

static void test_body_over_limit_413(void **state) {
    fixture_t *fx = *state;
    resp_t *resp = calloc(1, sizeof *resp);
    char *big = malloc(6000);
    assert_non_null(big);
    memset(big, 'b', 6000);

    /* announced by Content-Length: refused before the body is read */
    reader_t *r = reader_new(client_connect(fx->port));
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    send_all(r->fd, big, 5000);
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 413);
    assert_true(head_has(resp, "HTTP/1.1 413 Payload Too Large\r\n"));
    assert_true(head_has(resp, "\r\nConnection: close\r\n"));
    assert_true(head_has(resp, "\r\nContent-Type: application/json\r\n"));
    assert_true(wait_closed(r->fd));
    reader_done(r);

    /* chunked: refused while the body arrives */
    r = reader_new(client_connect(fx->port));
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        send_str(r->fd, "7d0\r\n"); /* 2000 bytes */
        send_all(r->fd, big, 2000);
        send_str(r->fd, "\r\n");
    }
    send_str(r->fd, "0\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 413);
    assert_true(wait_closed(r->fd));
    reader_done(r);
    assert_int_equal(atomic_load(&fx->requests), 0); /* the handler saw neither */
    free(big);
    free(resp);
}

static void test_header_over_limit_431(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    char req[4096];
    char big[3001];
    memset(big, 'h', 3000);
    big[3000] = '\0';
    snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
    send_str(r->fd, req);
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 431);
    assert_true(head_has(resp, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_true(head_has(resp, "\r\nConnection: close\r\n"));
    assert_true(wait_closed(r->fd));
    reader_done(r);
    assert_int_equal(atomic_load(&fx->requests), 0);
    free(resp);
}

static void test_garbage_400(void **state) {
    fixture_t *fx = *state;
    resp_t *resp = calloc(1, sizeof *resp);
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
        "GET /echo HTTP/9x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reader_t *r = reader_new(client_connect(fx->port));
        send_str(r->fd, bad[i]);
        assert_int_equal(read_response(r, resp, false), 0);
        assert_int_equal(resp->status, 400);
        assert_true(head_has(resp, "HTTP/1.1 400 Bad Request\r\n"));
        assert_true(head_has(resp, "\r\nConnection: close\r\n"));
        assert_non_null(strstr(resp->body, "\"error\":\"bad_request\""));
        assert_true(wait_closed(r->fd));
        reader_done(r);
    }
    /* a good request, then garbage on the same connection: 200, then 400 */
    reader_t *r = reader_new(client_connect(fx->port));
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n\x01\x02garbage\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 400);
    assert_true(wait_closed(r->fd));
    reader_done(r);
    assert_int_equal(atomic_load(&fx->requests), 1);
    free(resp);
}

static void test_async_reply(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    double t0 = now_ms();
    send_str(r->fd, "GET /async HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    double elapsed = now_ms() - t0;
    assert_int_equal(resp->status, 200);
    assert_string_equal(resp->body, "async");
    assert_true(elapsed >= 45.0);
    /* the connection carries on after an asynchronous answer */
    send_str(r->fd, "GET /echo?a=next HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|a=next|"));
    assert_int_equal(atomic_load(&fx->async_answered), 1);
    free(resp);
    reader_done(r);
}

static void test_client_closes_before_async_reply(void **state) {
    fixture_t *fx = *state;
    int fd = client_connect(fx->port);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&fx->requests, 1);
    close(fd); /* gone before the answer */
    wait_for(&fx->async_answered, 1);
    /* again, leaving with a reset: the answer's write fails */
    fd = client_connect(fx->port);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&fx->requests, 2);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    wait_for(&fx->async_answered, 2);
    usleep(50 * 1000);
    /* the server still serves others */
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    free(resp);
    reader_done(r);
}

static void test_destroy_with_unanswered_exchange(void **state) {
    fixture_t *fx = *state;
    int fd = client_connect(fx->port);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&fx->requests, 1);
    /* destroy now; the timer answers the detached exchange later (discarded),
     * and only then does the loop run dry */
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->async_answered), 1);
    assert_true(wait_closed(fd));
    close(fd);
}

static void test_header_lookup_case_insensitive(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    /* handler asks for "X-TEST" and "content-TYPE" */
    send_str(r->fd, "POST /echo HTTP/1.1\r\nhost: t\r\nx-tEsT: mixed  \r\n"
                    "CONTENT-TYPE: text/plain\r\ncontent-length: 0\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|x-test=mixed|ctype=text/plain|"));
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|x-test=<none>|ctype=<none>|"));
    free(resp);
    reader_done(r);
}

static void test_expect_100_continue(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                    "Content-Length: 11\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 100);
    assert_string_equal(resp->head, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(r->fd, "hello world");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_non_null(strstr(resp->body, "|body=hello world|"));
    reader_done(r);

    /* over the body limit: a 413, never a 100 */
    r = reader_new(client_connect(fx->port));
    send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                    "Content-Length: 100000\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 413);
    assert_true(wait_closed(r->fd));
    reader_done(r);
    free(resp);
}

static void test_destroy_with_open_connections(void **state) {
    fixture_t *fx = *state;
    resp_t *resp = calloc(1, sizeof *resp);
    int idle = client_connect(fx->port);
    int partial = client_connect(fx->port);
    send_str(partial, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    reader_t *kept = reader_new(client_connect(fx->port));
    send_str(kept->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(kept, resp, false), 0);
    usleep(50 * 1000); /* let the server accept and read everything */
    fixture_stop(fx);  /* asserts uv_loop_close() == 0 */
    assert_true(wait_closed(idle));
    assert_true(wait_closed(partial));
    assert_true(wait_closed(kept->fd));
    close(idle);
    close(partial);
    reader_done(kept);
    free(resp);
}

static void test_destroy_from_handler(void **state) {
    fixture_t *fx = *state;
    int fd = client_connect(fx->port);
    send_str(fd, "GET /destroy HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(wait_closed(fd)); /* the answer was discarded */
    close(fd);
    fixture_stop(fx);
}

static void test_idle_timeout(void **state) {
    fixture_t *fx = *state;
    int fd = client_connect(fx->port);
    double t0 = now_ms();
    assert_true(wait_closed(fd));
    double elapsed = now_ms() - t0;
    assert_true(elapsed >= 80.0 && elapsed < 3000.0);
    close(fd);
    /* activity keeps a connection open; idleness after an answer closes it */
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_true(wait_closed(r->fd));
    reader_done(r);
    free(resp);
}

static void test_json_error_head_and_http10(void **state) {
    fixture_t *fx = *state;
    reader_t *r = reader_new(client_connect(fx->port));
    resp_t *resp = calloc(1, sizeof *resp);
    send_str(r->fd, "GET /json HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_true(head_has(resp, "\r\nContent-Type: application/json\r\n"));
    assert_string_equal(resp->body, "{\"ok\":true,\"n\":1}");
    send_str(r->fd, "GET /error HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 404);
    assert_true(head_has(resp, "HTTP/1.1 404 Not Found\r\n"));
    assert_string_equal(resp->body,
                        "{\"error\":\"not_found\",\"message\":\"no \\\"such\\\" thing\"}");
    /* HEAD: the length is announced, no body is sent */
    send_str(r->fd, "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, true), 0);
    assert_int_equal(resp->status, 200);
    assert_non_null(strcasestr(resp->head, "\r\nContent-Length: "));
    assert_int_equal(r->len, 0);
    send_str(r->fd, "GET /echo?a=after-head HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "method=GET|path=/echo|query=a=after-head|"));
    reader_done(r);

    /* HTTP/1.0 without keep-alive: answered, then closed */
    r = reader_new(client_connect(fx->port));
    send_str(r->fd, "GET /echo HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_true(head_has(resp, "\r\nConnection: close\r\n"));
    assert_true(wait_closed(r->fd));
    reader_done(r);
    /* an upgrade we do not speak: answered as a plain request, then closed */
    r = reader_new(client_connect(fx->port));
    send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_int_equal(resp->status, 200);
    assert_true(head_has(resp, "\r\nConnection: close\r\n"));
    assert_true(wait_closed(r->fd));
    reader_done(r);
    /* absolute-form target */
    r = reader_new(client_connect(fx->port));
    send_str(r->fd, "GET http://t:80/echo?a=abs HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(r, resp, false), 0);
    assert_non_null(strstr(resp->body, "|path=/echo|query=a=abs|"));
    reader_done(r);
    free(resp);
}

static void ignore_handler(rf_http_exchange_t *x, void *arg) {
    (void)arg;
    rf_http_reply(x, 204, NULL, NULL, 0);
}

static void test_server_new_errors(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char err[256];
    const char *bad[] = {"nonsense",       "127.0.0.1", "127.0.0.1:",     "127.0.0.1:65536",
                         "127.0.0.1:http", "1.2.3:80",  "example.com:80", ":80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        rf_http_server_t *s =
            rf_http_server_new(&loop, bad[i], NULL, ignore_handler, NULL, err, sizeof err);
        assert_null(s);
        assert_non_null(strstr(err, bad[i]));
    }
    rf_http_server_t *a =
        rf_http_server_new(&loop, "localhost:0", NULL, ignore_handler, NULL, err, sizeof err);
    assert_non_null(a);
    int port = rf_http_server_port(a);
    assert_true(port > 0);
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
    err[0] = '\0';
    rf_http_server_t *b =
        rf_http_server_new(&loop, taken, NULL, ignore_handler, NULL, err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, taken));
    rf_http_server_destroy(&a);
    assert_null(a);
    rf_http_server_destroy(&a);   /* *NULL is harmless */
    rf_http_server_destroy(NULL); /* so is NULL */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* the server may write to a client that left */
    rf_log_init("test_http", getenv("RF_TEST_DEBUG") ? RF_LOG_DEBUG : RF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_query_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_three_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_limit_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_over_limit_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_closes_before_async_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_unanswered_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_lookup_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_100_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_open_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_from_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup_short_idle, teardown),
        cmocka_unit_test_setup_teardown(test_json_error_head_and_http10, setup, teardown),
        cmocka_unit_test(test_server_new_errors),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
