/*
 * fuzz_http.c: libFuzzer target for HTTP request handling (the server in common/http/).
 *
 * Each input is written, as a client would, to a real server on a loopback
 * socket run by a libuv loop in this process; the server must answer or close
 * without crashing, reading out of bounds, leaking, or calling the handler
 * for a request it refused. The handler checks what it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <uv.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static rf_http_server_t *server;
static int port;

static void handler(rf_http_exchange_t *x, void *arg) {
    (void)arg;
    size_t len;
    const char *body = rf_http_body(x, &len);
    const char *path = rf_http_path(x);
    if (!body || !path || !rf_http_method(x) || !rf_http_query(x)) abort();
    if (len > 4096) abort(); /* over the limit: must have been refused */
    char v[64];
    rf_http_query_param(x, "a", v, sizeof v);
    rf_http_header(x, "content-type");
    rf_http_reply(x, 200, "text/plain", body, len);
}

static void setup(void) {
    uv_loop_init(&loop);
    rf_http_limits_t limits = {
        .max_header_bytes = 2048, .max_body_bytes = 4096, .idle_timeout_ms = 200};
    char err[200];
    server = rf_http_server_new(&loop, "127.0.0.1:0", &limits, handler, NULL, err, sizeof err);
    if (!server) abort();
    port = rf_http_server_port(server);
}

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    uv_timer_t timer;
    const uint8_t *data;
    size_t size;
    char buf[8192];
    int closes;
} client_t;

static void on_close(uv_handle_t *h) {
    client_t *c = h->data;
    c->closes++;
}

static void finish(client_t *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_close);
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
    (void)s;
    client_t *c = h->data;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    (void)b;
    if (n < 0) finish(s->data);
}

static void on_timeout(uv_timer_t *t) { finish(t->data); }

static void on_shutdown(uv_shutdown_t *r, int status) { (void)r, (void)status; }

static void on_write(uv_write_t *w, int status) {
    client_t *c = w->data;
    if (status < 0) {
        finish(c);
        return;
    }
    c->shutdown.data = c;
    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown);
}

static void on_connect(uv_connect_t *r, int status) {
    client_t *c = r->data;
    if (status < 0) {
        finish(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    uv_buf_t b = uv_buf_init((char *)c->data, (unsigned)c->size);
    c->write.data = c;
    uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_write);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!server) setup();
    if (size > 16384) return 0;
    client_t c = {.data = data, .size = size};
    uv_tcp_init(&loop, &c.tcp);
    uv_timer_init(&loop, &c.timer);
    c.tcp.data = c.timer.data = &c;
    uv_timer_start(&c.timer, on_timeout, 500, 0);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    c.connect.data = &c;
    uv_tcp_connect(&c.connect, &c.tcp, (const struct sockaddr *)&addr, on_connect);
    while (c.closes < 2) uv_run(&loop, UV_RUN_ONCE);
    /* Let the server notice the close and free the connection. */
    for (int i = 0; i < 4; i++) uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
