/*
 * rf-bench: an open-loop load generator for intake's return API.
 *
 * Sends POST /v1/returns at a fixed rate for a fixed time over a pool of
 * keep-alive connections, whatever the answers' speed (open loop: a request
 * is due at its scheduled time; when every connection is busy it waits, and
 * the wait counts in its latency, so slowness is never hidden). Returns are
 * refund-only under the automatic-approval limit, one per line of the orders
 * the caller created beforehand (--orders/--order-prefix), so the pipeline
 * completes them without a person.
 *
 * Prints one JSON object: requests sent, answered by status, and HTTP latency
 * percentiles. End-to-end figures (intake -> refund issued) are computed by
 * the bench script from the workers' own tables afterwards.
 *
 *   rf-bench --host 127.0.0.1 --port 8080 --rate 1000 --seconds 60 \
 *            --connections 32 --order-prefix BENCH1 --orders 2000 --run RUN1
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <uv.h>

#define MAX_CONNS 256
#define REQ_MAX 1024

typedef struct bench bench_t;

/* One keep-alive connection carrying one request at a time. */
typedef struct conn {
    bench_t *b;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    http_parser parser;
    char req[REQ_MAX];
    bool connected, busy, done_msg;
    uint64_t started_ns; /* when the request was due (open loop) */
    int status;
    char rbuf[16384];
} conn_t;

struct bench {
    uv_loop_t *loop;
    uv_timer_t tick;
    struct sockaddr_in addr;
    conn_t conns[MAX_CONNS];
    int nconns;
    double rate;
    double seconds;
    const char *prefix;
    const char *run;
    long orders;
    uint64_t t0_ns;
    uint64_t scheduled; /* requests due so far */
    uint64_t sent, answered, ok, refused, errors;
    uint64_t *lat_us; /* one latency per answered request */
    size_t nlat, cap_lat;
    bool stopping;
};

static void start_request(conn_t *c);

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int on_message_complete(http_parser *p) {
    conn_t *c = p->data;
    c->status = (int)p->status_code;
    c->done_msg = true;
    return 0;
}

static const http_parser_settings parser_settings = {.on_message_complete = on_message_complete};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void finish(conn_t *c) {
    bench_t *b = c->b;
    uint64_t us = (uv_hrtime() - c->started_ns) / 1000;
    if (b->nlat == b->cap_lat) {
        b->cap_lat = b->cap_lat ? b->cap_lat * 2 : 65536;
        b->lat_us = realloc(b->lat_us, b->cap_lat * sizeof *b->lat_us);
        if (!b->lat_us) abort();
    }
    b->lat_us[b->nlat++] = us;
    b->answered++;
    if (c->status == 202 || c->status == 200) b->ok++;
    else b->refused++;
    c->busy = false;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    conn_t *c = s->data;
    if (n < 0) {
        if (c->busy) c->b->errors++;
        c->busy = false;
        c->connected = false;
        uv_read_stop(s);
        return;
    }
    size_t parsed = http_parser_execute(&c->parser, &parser_settings, buf->base, (size_t)n);
    if (parsed != (size_t)n) {
        c->b->errors++;
        c->busy = false;
        return;
    }
    if (c->done_msg) {
        c->done_msg = false;
        finish(c);
    }
}

static void write_cb(uv_write_t *w, int status) {
    conn_t *c = w->data;
    if (status < 0) {
        c->b->errors++;
        c->busy = false;
    }
}

static void connect_cb(uv_connect_t *r, int status) {
    conn_t *c = r->data;
    if (status < 0) {
        fprintf(stderr, "rf-bench: connect: %s\n", uv_strerror(status));
        exit(1);
    }
    c->connected = true;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* The n-th return of this run: a refund-only request on line n of the orders. */
static void start_request(conn_t *c) {
    bench_t *b = c->b;
    uint64_t n = b->sent++;
    long order = (long)(n % (uint64_t)b->orders);
    char body[512];
    int blen = snprintf(body, sizeof body,
                        "{\"platform\":\"api\",\"platform_return_id\":\"%s-%llu\","
                        "\"order_id\":\"%s-%ld\",\"line_id\":\"L1\",\"type\":\"refund_only\","
                        "\"quantity\":1,\"reason_code\":\"late\",\"requested_amount_fen\":%d}",
                        b->run, (unsigned long long)n, b->prefix, order, 100 + (int)(n % 900));
    int len = snprintf(c->req, sizeof c->req,
                       "POST /v1/returns HTTP/1.1\r\nHost: intake\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                       blen, body);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->busy = true;
    uv_buf_t buf = uv_buf_init(c->req, (unsigned)len);
    c->write_req.data = c;
    uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
}

static void on_tick(uv_timer_t *t) {
    bench_t *b = t->data;
    double elapsed = (double)(uv_hrtime() - b->t0_ns) / 1e9;
    if (elapsed < b->seconds) b->scheduled = (uint64_t)(elapsed * b->rate);
    else b->scheduled = (uint64_t)(b->seconds * b->rate);
    for (int i = 0; i < b->nconns && b->sent < b->scheduled; i++) {
        conn_t *c = &b->conns[i];
        if (!c->connected || c->busy) continue;
        start_request(c);
        /* Due time of this request, so queueing behind busy connections counts. */
        c->started_ns = b->t0_ns + (uint64_t)((double)(b->sent - 1) / b->rate * 1e9);
    }
    bool all_idle = true;
    for (int i = 0; i < b->nconns; i++) all_idle &= !b->conns[i].busy;
    if (b->sent >= (uint64_t)(b->seconds * b->rate) && all_idle) {
        uv_timer_stop(t);
        for (int i = 0; i < b->nconns; i++) uv_close((uv_handle_t *)&b->conns[i].tcp, NULL);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static uint64_t pct(const uint64_t *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

static void usage(void) {
    fprintf(stderr, "usage: rf-bench --port P --rate R --seconds S --orders N --order-prefix X "
                    "--run RUNID [--host H] [--connections C]\n");
    exit(2);
}

int main(int argc, char **argv) {
    bench_t b = {.rate = 1000, .seconds = 10, .nconns = 32, .orders = 0};
    const char *host = "127.0.0.1";
    int port = 8080;
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},         {"rate", 1, 0, 'r'},
        {"seconds", 1, 0, 's'},  {"connections", 1, 0, 'c'},  {"orders", 1, 0, 'o'},
        {"order-prefix", 1, 0, 'x'}, {"run", 1, 0, 'u'},      {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'r': b.rate = atof(optarg); break;
        case 's': b.seconds = atof(optarg); break;
        case 'c': b.nconns = atoi(optarg); break;
        case 'o': b.orders = atol(optarg); break;
        case 'x': b.prefix = optarg; break;
        case 'u': b.run = optarg; break;
        default: usage();
        }
    }
    if (!b.prefix || !b.run || b.orders <= 0 || b.rate <= 0 || b.seconds <= 0 || b.nconns < 1 ||
        b.nconns > MAX_CONNS)
        usage();
    b.loop = uv_default_loop();
    if (uv_ip4_addr(host, port, &b.addr) != 0) usage();
    for (int i = 0; i < b.nconns; i++) {
        conn_t *c = &b.conns[i];
        c->b = &b;
        uv_tcp_init(b.loop, &c->tcp);
        uv_tcp_nodelay(&c->tcp, 1);
        c->tcp.data = c;
        c->connect_req.data = c;
        uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&b.addr, connect_cb);
    }
    uv_run(b.loop, UV_RUN_NOWAIT);
    b.t0_ns = uv_hrtime();
    uv_timer_init(b.loop, &b.tick);
    b.tick.data = &b;
    uv_timer_start(&b.tick, on_tick, 1, 1);
    uv_run(b.loop, UV_RUN_DEFAULT);
    double wall = (double)(uv_hrtime() - b.t0_ns) / 1e9;
    qsort(b.lat_us, b.nlat, sizeof *b.lat_us, cmp_u64);
    printf("{\"sent\": %llu, \"answered\": %llu, \"accepted\": %llu, \"refused\": %llu, "
           "\"errors\": %llu, \"seconds\": %.3f, \"http_p50_ms\": %.2f, \"http_p99_ms\": %.2f, "
           "\"http_p999_ms\": %.2f, \"http_max_ms\": %.2f}\n",
           (unsigned long long)b.sent, (unsigned long long)b.answered,
           (unsigned long long)b.ok, (unsigned long long)b.refused,
           (unsigned long long)b.errors, wall, pct(b.lat_us, b.nlat, 0.5) / 1000.0,
           pct(b.lat_us, b.nlat, 0.99) / 1000.0, pct(b.lat_us, b.nlat, 0.999) / 1000.0,
           b.nlat ? b.lat_us[b.nlat - 1] / 1000.0 : 0.0);
    free(b.lat_us);
    return b.errors ? 1 : 0;
}
