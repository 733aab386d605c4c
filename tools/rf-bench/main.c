/*
 * rf-bench: an open-loop load generator for intake's return API, and the
 * scripted warehouse that receives the parcels of return-and-refund returns.
 *
 * Sends POST /v1/returns at a fixed rate for a fixed time over a pool of
 * keep-alive connections, whatever the answers' speed (open loop: a request
 * is due at its scheduled time; when every connection is busy it waits, and
 * the wait counts in its latency, so slowness is never hidden). Return n is
 * about line L<n % lines> of order <prefix>-<n / lines> (orders the caller
 * created beforehand, one line per return). A share --mix of them are
 * return-and-refund requests, the rest refund-only under the automatic
 * approval limit; the caller's review policy approves both automatically.
 *
 * With --warehouse-port and --dsn it also plays the warehouse: every 20 ms it
 * lists the parcels the warehouse expects (a read of warehouse.expected_parcels)
 * and posts a receipt for each (POST /v1/receipts, resellable), which makes the
 * warehouse emit goods.received and goods.inspected and the refund follow.
 * It stops once every accepted return-and-refund request has its receipt
 * (or --drain-seconds after the load ends).
 *
 * When intake cannot keep up, requests wait for a free connection and the
 * run would last until the last one is sent; with --give-up-seconds G the
 * requests still unsent G seconds after the load's end are given up and
 * counted as "unsent" (offered, never sent), which bounds the run's length.
 *
 * Prints one JSON object: requests offered, sent, answered by status, given
 * up unsent, receipts posted, and HTTP latency percentiles. End-to-end
 * figures are computed by the bench script from the workers' own tables
 * afterwards.
 *
 *   rf-bench --port 8080 --rate 1000 --seconds 60 --connections 32 \
 *            --order-prefix BENCH1 --orders 2000 --lines 100 --run RUN1 \
 *            --mix 0.3 --warehouse-port 8082 --dsn 'host=127.0.0.1 port=5432 user=postgres'
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <libpq-fe.h>
#include <uthash.h>
#include <uv.h>

#define MAX_CONNS 256
#define REQ_MAX 1024

typedef struct bench bench_t;

/* One keep-alive connection carrying one request at a time. */
typedef struct conn {
    bench_t *b;
    bool warehouse;     /* a receipt connection (else a return-request one) */
    bool return_refund; /* the request in flight is a return-and-refund one */
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
    conn_t wconns[MAX_CONNS]; /* toward the warehouse */
    int nwconns;
    struct sockaddr_in waddr;
    PGconn *pg; /* reads the warehouse's expected parcels */
    uv_timer_t scan;
    struct parcel *parcels; /* every parcel seen expected, by return id */
    char (*due)[64];        /* return ids whose receipt is still to post */
    size_t ndue, capdue, duehead;
    double mix; /* share of return-and-refund requests */
    long lines; /* lines per order */
    double drain_seconds;
    double give_up_seconds; /* after the load's end; < 0: never give up */
    uint64_t offered;       /* rate x seconds */
    bool gave_up;           /* the requests still unsent were given up */
    uint64_t rr_accepted, receipts_ok, receipts_failed;
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

/* A parcel whose receipt was queued (never posted twice). */
typedef struct parcel {
    char return_id[64];
    UT_hash_handle hh;
} parcel_t;

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
    if (c->status == 202 || c->status == 200) {
        b->ok++;
        if (c->return_refund) b->rr_accepted++;
    } else {
        b->refused++;
    }
    c->busy = false;
}

static void finish_receipt(conn_t *c) {
    if (c->status == 200 || c->status == 201) c->b->receipts_ok++;
    else c->b->receipts_failed++;
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
        if (c->warehouse) finish_receipt(c);
        else finish(c);
    }
}

static void write_cb(uv_write_t *w, int status) {
    conn_t *c = w->data;
    if (status < 0) {
        c->b->errors++;
        c->busy = false;
    }
}

/* POST body (blen bytes) to path on c and wait for the answer. */
static void send_request(conn_t *c, const char *path, const char *body, int blen) {
    int len = snprintf(c->req, sizeof c->req,
                       "POST %s HTTP/1.1\r\nHost: returnflow\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                       path, blen, body);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->busy = true;
    uv_buf_t buf = uv_buf_init(c->req, (unsigned)len);
    c->write_req.data = c;
    uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
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

/* The n-th return of this run, on its own order line; a --mix share of them
 * (spread evenly) are return-and-refund requests. */
static void start_request(conn_t *c) {
    bench_t *b = c->b;
    uint64_t n = b->sent++;
    long order = (long)(n / (uint64_t)b->lines) % b->orders;
    long line = (long)(n % (uint64_t)b->lines);
    c->return_refund = (uint64_t)((double)(n + 1) * b->mix) > (uint64_t)((double)n * b->mix);
    char body[512];
    int blen = snprintf(body, sizeof body,
                        "{\"platform\":\"api\",\"platform_return_id\":\"%s-%llu\","
                        "\"order_id\":\"%s-%ld\",\"line_id\":\"L%ld\",\"type\":\"%s\","
                        "\"quantity\":1,\"reason_code\":\"%s\",\"requested_amount_fen\":%d}",
                        b->run, (unsigned long long)n, b->prefix, order, line,
                        c->return_refund ? "return_refund" : "refund_only",
                        c->return_refund ? "size_fit" : "late", 100 + (int)(n % 900));
    send_request(c, "/v1/returns", body, blen);
}

/* Post the receipt of the next due parcel on warehouse connection c. */
static void start_receipt(conn_t *c) {
    bench_t *b = c->b;
    const char *return_id = b->due[b->duehead++];
    char body[256];
    int blen = snprintf(body, sizeof body,
                        "{\"return_id\":\"%s\",\"condition\":\"resellable\","
                        "\"received_by\":\"bench\"}",
                        return_id);
    send_request(c, "/v1/receipts", body, blen);
}

/* The warehouse's expected parcels not yet queued join the due list. */
static void on_scan(uv_timer_t *t) {
    bench_t *b = t->data;
    if (b->duehead == b->ndue) b->duehead = b->ndue = 0;
    PGresult *res = PQexec(b->pg, "SELECT return_id FROM warehouse.expected_parcels"
                                  " WHERE status = 'expected' LIMIT 20000");
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int r = 0; r < PQntuples(res); r++) {
            const char *id = PQgetvalue(res, r, 0);
            parcel_t *p = NULL;
            HASH_FIND_STR(b->parcels, id, p);
            if (p || strlen(id) >= sizeof p->return_id) continue;
            p = calloc(1, sizeof *p);
            if (!p) abort();
            snprintf(p->return_id, sizeof p->return_id, "%s", id);
            HASH_ADD_STR(b->parcels, return_id, p);
            if (b->ndue == b->capdue) {
                b->capdue = b->capdue ? b->capdue * 2 : 4096;
                b->due = realloc(b->due, b->capdue * sizeof *b->due);
                if (!b->due) abort();
            }
            snprintf(b->due[b->ndue++], sizeof *b->due, "%s", id);
        }
    } else {
        fprintf(stderr, "rf-bench: scanning parcels: %s", PQerrorMessage(b->pg));
    }
    PQclear(res);
}

static void on_tick(uv_timer_t *t) {
    bench_t *b = t->data;
    double elapsed = (double)(uv_hrtime() - b->t0_ns) / 1e9;
    if (elapsed < b->seconds) b->scheduled = (uint64_t)(elapsed * b->rate);
    else b->scheduled = b->offered;
    if (!b->gave_up && b->give_up_seconds >= 0 && b->sent < b->offered &&
        elapsed > b->seconds + b->give_up_seconds)
        b->gave_up = true;
    if (b->gave_up) b->scheduled = b->sent;
    for (int i = 0; i < b->nconns && b->sent < b->scheduled; i++) {
        conn_t *c = &b->conns[i];
        if (!c->connected || c->busy) continue;
        start_request(c);
        /* Due time of this request, so queueing behind busy connections counts. */
        c->started_ns = b->t0_ns + (uint64_t)((double)(b->sent - 1) / b->rate * 1e9);
    }
    for (int i = 0; i < b->nwconns && b->duehead < b->ndue; i++) {
        conn_t *c = &b->wconns[i];
        if (c->connected && !c->busy) start_receipt(c);
    }
    bool all_idle = true;
    for (int i = 0; i < b->nconns; i++) all_idle &= !b->conns[i].busy;
    for (int i = 0; i < b->nwconns; i++) all_idle &= !b->wconns[i].busy;
    bool load_done = (b->sent >= b->offered || b->gave_up) && all_idle;
    bool receipts_done = !b->pg || b->receipts_ok + b->receipts_failed >= b->rr_accepted ||
                         elapsed > b->seconds + b->drain_seconds;
    if (load_done && receipts_done) {
        uv_timer_stop(t);
        for (int i = 0; i < b->nconns; i++) uv_close((uv_handle_t *)&b->conns[i].tcp, NULL);
        for (int i = 0; i < b->nwconns; i++) uv_close((uv_handle_t *)&b->wconns[i].tcp, NULL);
        if (b->pg) uv_close((uv_handle_t *)&b->scan, NULL);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static void connect_pool(bench_t *b, conn_t *conns, int n, const struct sockaddr_in *addr,
                         bool warehouse) {
    for (int i = 0; i < n; i++) {
        conn_t *c = &conns[i];
        c->b = b;
        c->warehouse = warehouse;
        uv_tcp_init(b->loop, &c->tcp);
        uv_tcp_nodelay(&c->tcp, 1);
        c->tcp.data = c;
        c->connect_req.data = c;
        uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)addr, connect_cb);
    }
}

static uint64_t pct(const uint64_t *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

static void usage(void) {
    fprintf(stderr, "usage: rf-bench --port P --rate R --seconds S --orders N --order-prefix X "
                    "--run RUNID [--host H] [--connections C] [--lines L] [--mix F]\n"
                    "       [--warehouse-port P --dsn CONNINFO] [--drain-seconds S]"
                    " [--give-up-seconds G]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static bench_t b = {.rate = 1000,
                        .seconds = 10,
                        .nconns = 32,
                        .orders = 0,
                        .lines = 1,
                        .nwconns = 8,
                        .drain_seconds = 120,
                        .give_up_seconds = -1};
    const char *host = "127.0.0.1", *dsn = NULL;
    int port = 8080, wport = 0;
    static const struct option opts[] = {{"host", 1, 0, 'h'},
                                         {"port", 1, 0, 'p'},
                                         {"rate", 1, 0, 'r'},
                                         {"seconds", 1, 0, 's'},
                                         {"connections", 1, 0, 'c'},
                                         {"orders", 1, 0, 'o'},
                                         {"order-prefix", 1, 0, 'x'},
                                         {"run", 1, 0, 'u'},
                                         {"lines", 1, 0, 'l'},
                                         {"mix", 1, 0, 'm'},
                                         {"warehouse-port", 1, 0, 'w'},
                                         {"dsn", 1, 0, 'd'},
                                         {"drain-seconds", 1, 0, 'D'},
                                         {"give-up-seconds", 1, 0, 'G'},
                                         {0, 0, 0, 0}};
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
        case 'l': b.lines = atol(optarg); break;
        case 'm': b.mix = atof(optarg); break;
        case 'w': wport = atoi(optarg); break;
        case 'd': dsn = optarg; break;
        case 'D': b.drain_seconds = atof(optarg); break;
        case 'G': b.give_up_seconds = atof(optarg); break;
        default: usage();
        }
    }
    if (!b.prefix || !b.run || b.orders <= 0 || b.rate <= 0 || b.seconds <= 0 || b.nconns < 1 ||
        b.nconns > MAX_CONNS || b.lines < 1 || b.mix < 0 || b.mix > 1 ||
        (b.mix > 0 && (!wport || !dsn)))
        usage();
    b.offered = (uint64_t)(b.seconds * b.rate + 0.5); /* 0.0107 s x 3000/s is 32 */
    b.loop = uv_default_loop();
    if (uv_ip4_addr(host, port, &b.addr) != 0) usage();
    connect_pool(&b, b.conns, b.nconns, &b.addr, false);
    if (wport) {
        if (!dsn || uv_ip4_addr(host, wport, &b.waddr) != 0) usage();
        b.pg = PQconnectdb(dsn);
        if (PQstatus(b.pg) != CONNECTION_OK) {
            fprintf(stderr, "rf-bench: --dsn: %s", PQerrorMessage(b.pg));
            return 1;
        }
        connect_pool(&b, b.wconns, b.nwconns, &b.waddr, true);
        uv_timer_init(b.loop, &b.scan);
        b.scan.data = &b;
        uv_timer_start(&b.scan, on_scan, 20, 20);
    } else {
        b.nwconns = 0;
    }
    uv_run(b.loop, UV_RUN_NOWAIT);
    b.t0_ns = uv_hrtime();
    uv_timer_init(b.loop, &b.tick);
    b.tick.data = &b;
    uv_timer_start(&b.tick, on_tick, 1, 1);
    uv_run(b.loop, UV_RUN_DEFAULT);
    double wall = (double)(uv_hrtime() - b.t0_ns) / 1e9;
    if (b.nlat) qsort(b.lat_us, b.nlat, sizeof *b.lat_us, cmp_u64);
    printf("{\"offered\": %llu, \"unsent\": %llu, \"sent\": %llu, \"answered\": %llu, "
           "\"accepted\": %llu, \"refused\": %llu, "
           "\"errors\": %llu, \"return_refund_accepted\": %llu, \"receipts\": %llu, "
           "\"receipts_failed\": %llu, \"seconds\": %.3f, \"http_p50_ms\": %.2f, "
           "\"http_p99_ms\": %.2f, \"http_p999_ms\": %.2f, \"http_max_ms\": %.2f}\n",
           (unsigned long long)b.offered, (unsigned long long)(b.offered - b.sent),
           (unsigned long long)b.sent, (unsigned long long)b.answered, (unsigned long long)b.ok,
           (unsigned long long)b.refused, (unsigned long long)b.errors,
           (unsigned long long)b.rr_accepted, (unsigned long long)b.receipts_ok,
           (unsigned long long)b.receipts_failed, wall, pct(b.lat_us, b.nlat, 0.5) / 1000.0,
           pct(b.lat_us, b.nlat, 0.99) / 1000.0, pct(b.lat_us, b.nlat, 0.999) / 1000.0,
           b.nlat ? b.lat_us[b.nlat - 1] / 1000.0 : 0.0);
    free(b.lat_us);
    free(b.due);
    parcel_t *p, *tmp;
    HASH_ITER(hh, b.parcels, p, tmp) {
        HASH_DEL(b.parcels, p);
        free(p);
    }
    if (b.pg) PQfinish(b.pg);
    return b.errors ? 1 : 0;
}
