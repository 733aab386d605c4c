/*
 * worker.c: the process skeleton shared by the five workers (worker/worker.h).
 */
#include "worker/worker.h"

#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/watchdog.h"

#define MAX_CONFIG 64

extern const char rf_ops_page[]; /* built from common/http/ops.html by deploy/embed-page.sh */

struct rf_worker {
    const rf_worker_spec_t *spec;
    uv_loop_t loop;
    rf_db_t *db;
    rf_bus_t *bus;
    rf_http_server_t *http;
    rf_auth_t *auth; /* NULL: open mode */
    uv_signal_t sigint, sigterm;
    uv_check_t group_check; /* commits the iteration's group of requests */
    /* settings */
    int log_level;
    char db_conninfo[RF_CFG_STR_MAX];
    char http_addr[RF_CFG_STR_MAX];
    char tokens_file[RF_CFG_STR_MAX];
    char bus_bind[RF_CFG_STR_MAX];
    char bus_endpoints[RF_WORKER_COUNT][RF_CFG_STR_MAX];
    int64_t ack_timeout_ms, retry_max, defer_limit_s, lock_wait_ms, batch_max, poll_ms,
        window, http_max_body;
    int64_t db_wait_s;
    int64_t watchdog_s; /* 0: no watchdog */
    rf_watchdog_t *watchdog;
    /* bus encryption and replicas (bus/bus.h) */
    char curve_secret_file[RF_CFG_STR_MAX];
    char curve_public_file[RF_CFG_STR_MAX];
    char own_bus[RF_CFG_STR_MAX]; /* this replica's endpoint, from its RF_<W>_BUS list */
    int64_t replica_id, replica_lease_s;
    /* config table names (built from the worker name) */
    char names[8 + RF_WORKER_COUNT][48];
    char defaults[8 + RF_WORKER_COUNT][96];
};

rf_bus_t *rf_worker_bus(rf_worker_t *w) { return w->bus; }
rf_db_t *rf_worker_db(rf_worker_t *w) { return w->db; }
uv_loop_t *rf_worker_loop(rf_worker_t *w) { return &w->loop; }

static void upper(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

/* The common settings, followed by the service's own. Returns the count. */
static size_t build_config(rf_worker_t *w, rf_config_entry_t *t) {
    const rf_worker_spec_t *spec = w->spec;
    char up[32];
    upper(up, sizeof up, spec->name);
    size_t n = 0, k = 0;
    t[n++] = (rf_config_entry_t){"RF_LOG_LEVEL", RF_CFG_LOGLEVEL, &w->log_level, "info", 0, 0,
                                 "log level: debug, info, warn or error"};
    snprintf(w->names[k], sizeof w->names[k], "RF_%s_DB", up);
    snprintf(w->defaults[k], sizeof w->defaults[k],
             "host=127.0.0.1 port=55432 dbname=returnflow user=rf_%s", spec->name);
    t[n++] = (rf_config_entry_t){w->names[k], RF_CFG_STRING, w->db_conninfo, w->defaults[k], 0, 0,
                                 "libpq connection string of this worker's database role"};
    k++;
    snprintf(w->names[k], sizeof w->names[k], "RF_%s_HTTP", up);
    t[n++] = (rf_config_entry_t){w->names[k], RF_CFG_HOSTPORT, w->http_addr, spec->default_http,
                                 0, 0, "host:port of this worker's HTTP surface"};
    k++;
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++, k++) {
        char wup[32];
        upper(wup, sizeof wup, rf_worker_name(i));
        snprintf(w->names[k], sizeof w->names[k], "RF_%s_BUS", wup);
        snprintf(w->defaults[k], sizeof w->defaults[k], "tcp://127.0.0.1:%u", 5550 + i);
        t[n++] = (rf_config_entry_t){w->names[k], RF_CFG_ENDPOINT, w->bus_endpoints[i],
                                     w->defaults[k], 0, 0,
                                     "ZeroMQ endpoint where that worker receives events"};
    }
    snprintf(w->names[k], sizeof w->names[k], "RF_%s_BUS_BIND", up);
    t[n++] = (rf_config_entry_t){w->names[k], RF_CFG_STRING, w->bus_bind, "", 0, 0,
                                 "endpoint this worker binds (default: its RF_*_BUS value)"};
    k++;
    t[n++] = (rf_config_entry_t){"RF_ACK_TIMEOUT_MS", RF_CFG_INT, &w->ack_timeout_ms, "3000",
                                 50, 600000, "resend an unacknowledged event after this long"};
    t[n++] = (rf_config_entry_t){"RF_RETRY_MAX", RF_CFG_INT, &w->retry_max, "8", 1, 1000,
                                 "refusals of an event before it goes to the dead-letter table"};
    t[n++] = (rf_config_entry_t){"RF_DEFER_LIMIT_S", RF_CFG_INT, &w->defer_limit_s, "3600", 1,
                                 604800,
                                 "how long an event may wait for a prerequisite before it is "
                                 "dead-lettered"};
    t[n++] = (rf_config_entry_t){"RF_LOCK_WAIT_MS", RF_CFG_INT, &w->lock_wait_ms,
                                 "2000", 10, 3600000,
                                 "how long a statement waits for a row or table another "
                                 "transaction holds (events: then deferred)"};
    t[n++] = (rf_config_entry_t){"RF_BATCH_MAX", RF_CFG_INT, &w->batch_max, "256", 1, 10000,
                                 "events applied per consumer transaction"};
    t[n++] = (rf_config_entry_t){"RF_OUTBOX_POLL_MS", RF_CFG_INT, &w->poll_ms, "500", 10, 60000,
                                 "outbox poll interval for resends and catch-up"};
    t[n++] = (rf_config_entry_t){"RF_BUS_WINDOW", RF_CFG_INT, &w->window, "512", 1, 100000,
                                 "events in flight per consumer"};
    t[n++] = (rf_config_entry_t){"RF_HTTP_MAX_BODY", RF_CFG_INT, &w->http_max_body, "1048576",
                                 1024, 67108864, "largest HTTP request body accepted, bytes"};
    t[n++] = (rf_config_entry_t){"RF_AUTH_TOKENS_FILE", RF_CFG_STRING, w->tokens_file, "", 0, 0,
                                 "file of `<token> <user> <role>` lines; empty: no "
                                 "authentication (development only)"};
    t[n++] = (rf_config_entry_t){"RF_DB_WAIT_S", RF_CFG_INT, &w->db_wait_s, "30", 0, 3600,
                                 "how long start-up waits for the database"};
    t[n++] = (rf_config_entry_t){"RF_WATCHDOG_S", RF_CFG_INT, &w->watchdog_s, "60", 0, 3600,
                                 "abort when the event loop has not turned for this long (a "
                                 "stuck handler), so the supervisor restarts the worker; 0: off"};
    t[n++] = (rf_config_entry_t){"RF_CURVE_SECRET_KEY_FILE", RF_CFG_STRING, w->curve_secret_file,
                                 "", 0, 0,
                                 "this worker's CURVE secret key (rf-keygen); with "
                                 "RF_CURVE_PUBLIC_KEYS_FILE every bus link is encrypted"};
    t[n++] = (rf_config_entry_t){"RF_CURVE_PUBLIC_KEYS_FILE", RF_CFG_STRING, w->curve_public_file,
                                 "", 0, 0,
                                 "`<name> <public key>` lines: the only keys allowed on the bus, "
                                 "and each worker's server key"};
    t[n++] = (rf_config_entry_t){"RF_REPLICA_ID", RF_CFG_INT, &w->replica_id, "0", 0,
                                 RF_BUS_MAX_REPLICAS - 1,
                                 "which replica of its worker this process is: it binds that "
                                 "entry of its RF_<W>_BUS list"};
    t[n++] = (rf_config_entry_t){"RF_REPLICA_LEASE_S", RF_CFG_INT, &w->replica_lease_s, "10", 1,
                                 3600,
                                 "a replica silent this long has its unsent events taken over by "
                                 "another"};
    for (size_t i = 0; i < spec->n_config && n < MAX_CONFIG; i++) t[n++] = spec->config[i];
    return n;
}

/* ---- HTTP: common routes --------------------------------------------------------- */

bool rf_path_match(const char *path, const char *pattern, char *out, size_t cap) {
    const char *hole = strstr(pattern, "{}");
    if (!hole) return strcmp(path, pattern) == 0;
    size_t pre = (size_t)(hole - pattern);
    const char *suffix = hole + 2;
    if (strncmp(path, pattern, pre) != 0) return false;
    const char *start = path + pre;
    const char *end = strchr(start, '/');
    if (!end) end = start + strlen(start);
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= cap || strcmp(end, suffix) != 0) return false;
    memcpy(out, start, len);
    out[len] = '\0';
    return true;
}

json_t *rf_worker_json_body(rf_http_exchange_t *x) {
    size_t len;
    const char *body = rf_http_body(x, &len);
    const char *ct = rf_http_header(x, "content-type");
    if (ct && strncmp(ct, "application/json", 16) != 0) {
        rf_http_reply_error(x, 415, "unsupported_media_type",
                            "send the body as application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char msg[300];
        snprintf(msg, sizeof msg, "body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        rf_http_reply_error(x, 400, "bad_json", msg);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rf_http_reply_error(x, 400, "bad_json", "body must be a JSON object");
        return NULL;
    }
    return doc;
}

json_t *rf_worker_query_json(rf_worker_t *w, const char *sql, int n, const char *const *params) {
    if (rf_db_connect(w->db) != 0) return NULL;
    return rf_db_query_json(w->db, sql, n, params, NULL);
}

void rf_worker_reply_query(rf_worker_t *w, rf_http_exchange_t *x, const char *sql, int n,
                           const char *const *params) {
    json_t *doc = rf_worker_query_json(w, sql, n, params);
    if (doc) rf_http_reply_json(x, 200, doc);
    else rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
}

static void serve_health(rf_worker_t *w, rf_http_exchange_t *x) {
    bool db_ok = rf_db_connect(w->db) == 0 && rf_db_exec(w->db, "SELECT 1", 0, NULL) == 0;
    json_t *doc = json_pack("{s:s, s:s, s:b, s:b}", "status", db_ok ? "ok" : "degraded", "worker",
                            w->spec->name, "database", db_ok, "bus", w->bus != NULL);
    rf_http_reply_json(x, db_ok ? 200 : 503, doc);
}

static void metric(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void metric(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        char *nb = realloc(*buf, *cap * 2);
        if (!nb) return;
        *buf = nb;
        *cap *= 2;
    }
}

/* ---- latency histograms (one worker per process: plain statics) ------------------ */

/* Bucket bounds, seconds. */
static const double hist_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define HIST_N (sizeof hist_bounds / sizeof hist_bounds[0])
#define MAX_ROUTE_LABELS 48

typedef struct hist {
    uint64_t buckets[HIST_N]; /* non-cumulative counts per bucket */
    uint64_t count;
    double sum; /* seconds */
} hist_t;

static hist_t apply_hist[RF_EV__COUNT];
static struct {
    char method[8];
    char route[64];
    hist_t h;
} route_hist[MAX_ROUTE_LABELS];
static size_t n_route_hist;

static void hist_observe(hist_t *h, double seconds) {
    size_t i = 0;
    while (i < HIST_N && seconds > hist_bounds[i]) i++;
    if (i < HIST_N) h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}

static void hist_write(rf_metrics_out_t *out, const char *name, const char *labels,
                       const hist_t *h) {
    uint64_t cum = 0;
    for (size_t i = 0; i < HIST_N; i++) {
        cum += h->buckets[i];
        rf_metrics_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, hist_bounds[i],
                          (unsigned long long)cum);
    }
    rf_metrics_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
                      name, labels, (unsigned long long)h->count, name, labels, h->sum, name,
                      labels, (unsigned long long)h->count);
}

/* The route label of a path: segments that are not plain lower-case words
 * (ids: ULIDs, numbers) become "{}", so labels stay few; unknown routes
 * (404) count as "other", and past MAX_ROUTE_LABELS labels too. */
static void route_label(const char *path, bool known, char *out, size_t cap) {
    if (!known) {
        snprintf(out, cap, "other");
        return;
    }
    size_t o = 0;
    for (const char *p = path; *p && o + 3 < cap;) {
        if (*p == '/') {
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '/');
        if (!end) end = p + strlen(p);
        /* a word: starts with a lower-case letter, then [a-z0-9_.-], at most 3 digits */
        bool word = *p >= 'a' && *p <= 'z' && end - p <= 32;
        int digits = 0;
        for (const char *q = p; q < end; q++) {
            if (*q >= '0' && *q <= '9') digits++;
            else if (!((*q >= 'a' && *q <= 'z') || *q == '_' || *q == '-' || *q == '.'))
                word = false;
        }
        if (digits > 3) word = false;
        size_t n = word ? (size_t)(end - p) : 2;
        if (o + n + 1 >= cap) break;
        memcpy(out + o, word ? p : "{}", n);
        o += n;
        p = end;
    }
    out[o] = '\0';
}

/* The histogram of (method, route), made on first use; once all but the
 * last slot are taken, new labels share the last one, ("other", "other"). */
static hist_t *route_hist_for(const char *method, const char *route) {
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_route_hist; i++)
            if (strcmp(route_hist[i].route, route) == 0 &&
                strcmp(route_hist[i].method, method) == 0)
                return &route_hist[i].h;
        if (n_route_hist < MAX_ROUTE_LABELS - 1 ||
            (pass == 1 && n_route_hist < MAX_ROUTE_LABELS)) {
            size_t i = n_route_hist++;
            snprintf(route_hist[i].method, sizeof route_hist[i].method, "%s", method);
            snprintf(route_hist[i].route, sizeof route_hist[i].route, "%s", route);
            return &route_hist[i].h;
        }
        method = route = "other";
    }
    return &route_hist[MAX_ROUTE_LABELS - 1].h; /* not reached */
}

static void observe_route(const char *method, const char *route, double seconds) {
    hist_observe(route_hist_for(method, route), seconds);
}

/* The bus calls this instead of the service's apply, to time it per event type. */
static rf_apply_result_t timed_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    rf_worker_t *w = arg;
    uint64_t t0 = uv_hrtime();
    rf_apply_result_t r = w->spec->apply(w->spec->state, ev, why, whylen);
    if (ev->type > RF_EV_NONE && ev->type < RF_EV__COUNT)
        hist_observe(&apply_hist[ev->type], (double)(uv_hrtime() - t0) / 1e9);
    return r;
}

struct rf_metrics_out {
    char *buf;
    size_t len, cap;
};

void rf_metrics_printf(rf_metrics_out_t *out, const char *fmt, ...) {
    if (!out->buf) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < out->cap - out->len) {
            out->len += (size_t)n;
            return;
        }
        size_t ncap = out->cap * 2 > out->len + (size_t)n + 1 ? out->cap * 2
                                                                : out->len + (size_t)n + 1;
        char *nb = realloc(out->buf, ncap);
        if (!nb) return;
        out->buf = nb;
        out->cap = ncap;
    }
}

/* Histograms and the service's own series, after the common ones. */
static void metrics_extra(rf_worker_t *w, rf_metrics_out_t *out) {
    const char *me = w->spec->name;
    char labels[160];
    rf_metrics_printf(out, "# HELP rf_apply_seconds Time to apply one consumed event, by type.\n"
                           "# TYPE rf_apply_seconds histogram\n");
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        if (!apply_hist[t].count) continue;
        snprintf(labels, sizeof labels, "worker=\"%s\",type=\"%s\"", me,
                 rf_event_type_name((rf_event_type_t)t));
        hist_write(out, "rf_apply_seconds", labels, &apply_hist[t]);
    }
    rf_metrics_printf(out, "# HELP rf_http_request_seconds Time to answer an HTTP request, by "
                           "method and route.\n# TYPE rf_http_request_seconds histogram\n");
    for (size_t i = 0; i < n_route_hist; i++) {
        snprintf(labels, sizeof labels, "worker=\"%s\",method=\"%s\",route=\"%s\"", me,
                 route_hist[i].method, route_hist[i].route);
        hist_write(out, "rf_http_request_seconds", labels, &route_hist[i].h);
    }
    if (w->spec->metrics) w->spec->metrics(w, out);
}

static void serve_metrics(rf_worker_t *w, rf_http_exchange_t *x) {
    rf_bus_stats_t s;
    bool db_ok = rf_bus_stats(w->bus, &s) == 0;
    size_t len = 0, cap = 8192;
    char *buf = malloc(cap);
    if (!buf) {
        rf_http_reply_error(x, 500, "oom", "out of memory");
        return;
    }
    buf[0] = '\0';
    const char *me = w->spec->name;
    metric(&buf, &len, &cap,
           "# HELP rf_up Whether the worker process is running.\n# TYPE rf_up gauge\n"
           "rf_up{worker=\"%s\"} 1\n"
           "# HELP rf_db_up Whether the worker's database answered.\n# TYPE rf_db_up gauge\n"
           "rf_db_up{worker=\"%s\"} %d\n",
           me, me, db_ok ? 1 : 0);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } peer_metrics[] = {
        {"rf_outbox_pending", "gauge", "Outbox rows not yet acknowledged, per destination.",
         offsetof(rf_bus_peer_stats_t, pending)},
        {"rf_outbox_in_flight", "gauge", "Events sent and awaiting an answer.",
         offsetof(rf_bus_peer_stats_t, in_flight)},
        {"rf_outbox_oldest_age_seconds", "gauge", "Age of the oldest unacknowledged row, seconds.",
         offsetof(rf_bus_peer_stats_t, oldest_age_ms)},
        {"rf_events_sent_total", "counter", "Events sent (including resends).",
         offsetof(rf_bus_peer_stats_t, sent)},
        {"rf_events_acked_total", "counter", "Events acknowledged.",
         offsetof(rf_bus_peer_stats_t, acked)},
        {"rf_events_retried_total", "counter", "Events the consumer failed to apply.",
         offsetof(rf_bus_peer_stats_t, retried)},
        {"rf_events_deferred_total", "counter", "Events the consumer could not apply yet.",
         offsetof(rf_bus_peer_stats_t, deferred)},
        {"rf_events_rejected_total", "counter", "Events the consumer refused for good.",
         offsetof(rf_bus_peer_stats_t, rejected)},
        {"rf_ack_timeouts_total", "counter", "Events resent for want of an answer.",
         offsetof(rf_bus_peer_stats_t, timeouts)},
    };
    for (size_t m = 0; m < sizeof peer_metrics / sizeof peer_metrics[0]; m++) {
        metric(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n", peer_metrics[m].name,
               peer_metrics[m].help, peer_metrics[m].name, peer_metrics[m].type);
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
            if (!s.peers[i].name) continue;
            int64_t v = *(const int64_t *)((const char *)&s.peers[i] + peer_metrics[m].off);
            if (peer_metrics[m].off == offsetof(rf_bus_peer_stats_t, oldest_age_ms))
                metric(&buf, &len, &cap, "%s{worker=\"%s\",dest=\"%s\"} %.3f\n",
                       peer_metrics[m].name, me, s.peers[i].name, (double)v / 1000.0);
            else
                metric(&buf, &len, &cap, "%s{worker=\"%s\",dest=\"%s\"} %lld\n",
                       peer_metrics[m].name, me, s.peers[i].name, (long long)v);
        }
    }
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } own_metrics[] = {
        {"rf_inbox_applied_total", "counter", "Events applied.",
         offsetof(rf_bus_stats_t, inbox_applied)},
        {"rf_inbox_duplicates_total", "counter", "Redelivered events acknowledged again.",
         offsetof(rf_bus_stats_t, inbox_duplicates)},
        {"rf_inbox_deferred_total", "counter", "Events deferred until a prerequisite arrives.",
         offsetof(rf_bus_stats_t, inbox_deferred)},
        {"rf_inbox_rejected_total", "counter", "Events refused as poison.",
         offsetof(rf_bus_stats_t, inbox_rejected)},
        {"rf_inbox_failed_total", "counter", "Events whose apply failed in the database.",
         offsetof(rf_bus_stats_t, inbox_failed)},
        {"rf_bus_peers_refused_total", "counter",
         "Bus connections refused: their CURVE key is not listed.",
         offsetof(rf_bus_stats_t, peers_refused)},
        {"rf_dead_letters", "gauge", "Rows in the dead-letter table.",
         offsetof(rf_bus_stats_t, dead_letters)},
    };
    for (size_t m = 0; m < sizeof own_metrics / sizeof own_metrics[0]; m++) {
        int64_t v = *(const int64_t *)((const char *)&s + own_metrics[m].off);
        metric(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n%s{worker=\"%s\"} %lld\n",
               own_metrics[m].name, own_metrics[m].help, own_metrics[m].name, own_metrics[m].type,
               own_metrics[m].name, me, (long long)v);
    }
    rf_metrics_out_t out = {buf, len, cap};
    metrics_extra(w, &out);
    buf = out.buf;
    len = out.len;
    rf_http_reply(x, 200, "text/plain; version=0.0.4", buf, len);
    free(buf);
}

static void serve_dead_letters(rf_worker_t *w, rf_http_exchange_t *x) {
    PGresult *res = rf_db_connect(w->db) == 0
                        ? rf_db_query(w->db,
                                      "SELECT id, event_id, dest, return_id, type, attempts,"
                                      " reason, to_char(failed_at AT TIME ZONE 'UTC',"
                                      " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                      " FROM dead_letter ORDER BY id LIMIT 1000",
                                      0, NULL)
                        : NULL;
    if (!res) {
        rf_http_reply_error(x, 503, "db_unavailable", rf_db_error(w->db));
        return;
    }
    json_t *list = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id",
                            (json_int_t)rf_get_i64(res, r, 0), "event_id", rf_get_str(res, r, 1),
                            "dest", rf_get_str(res, r, 2), "return_id", rf_get_str(res, r, 3),
                            "type", rf_get_str(res, r, 4), "attempts",
                            (json_int_t)rf_get_i64(res, r, 5), "reason", rf_get_str(res, r, 6),
                            "failed_at", rf_get_str(res, r, 7)));
    PQclear(res);
    rf_http_reply_json(x, 200, json_pack("{s:o}", "dead_letters", list));
}

static void serve_dead_letter_action(rf_worker_t *w, rf_http_exchange_t *x, const char *id_text,
                                     bool replay) {
    char *end;
    long long id = strtoll(id_text, &end, 10);
    if (*end || id <= 0) {
        rf_http_reply_error(x, 400, "bad_id", "dead letter id must be a positive integer");
        return;
    }
    const rf_principal_t *who = rf_worker_principal(x);
    int rc = replay ? rf_bus_dead_letter_replay(w->bus, id)
                    : rf_bus_dead_letter_discard(w->bus, id, who ? who->user : "-");
    if (rc < 0) rf_http_reply_error(x, 503, "db_unavailable", rf_db_error(w->db));
    else if (rc == 0) rf_http_reply_error(x, 404, "not_found", "no such dead letter");
    else
        rf_http_reply_json(x, 200,
                           json_pack("{s:I, s:s}", "id", (json_int_t)id, "result",
                                     replay ? "replayed" : "discarded"));
}

const rf_principal_t *rf_worker_principal(rf_http_exchange_t *x) { return rf_http_user(x); }

const char *rf_worker_actor(rf_http_exchange_t *x, json_t *doc, bool required, rf_jsonv_t *v) {
    const rf_principal_t *who = rf_worker_principal(x);
    bool authenticated = who && who->authenticated;
    const char *by = rf_jsonv_str(doc, "by", required && !authenticated, 128, v);
    return authenticated ? who->user : by;
}

/* The rule covering this request, if any. */
static const rf_route_rule_t *rule_for(const rf_worker_t *w, const char *method,
                                       const char *path) {
    static const rf_route_rule_t admin_rules[] = {
        {"POST", "/v1/deadletters/{}/replay", RF_ROLE_ADMIN},
        {"POST", "/v1/deadletters/{}/discard", RF_ROLE_ADMIN},
    };
    char id[64];
    for (size_t i = 0; i < sizeof admin_rules / sizeof admin_rules[0]; i++)
        if (strcmp(method, admin_rules[i].method) == 0 &&
            rf_path_match(path, admin_rules[i].pattern, id, sizeof id))
            return &admin_rules[i];
    for (size_t i = 0; i < w->spec->n_rules; i++) {
        const rf_route_rule_t *r = &w->spec->rules[i];
        if (strcmp(method, r->method) == 0 && rf_path_match(path, r->pattern, id, sizeof id))
            return r;
    }
    return NULL;
}

/* Check the caller against the route's rule; answers 401/403 and returns
 * false when refused. Sets the exchange's principal either way. */
static bool authorize(rf_worker_t *w, rf_http_exchange_t *x, const char *method,
                      const char *path) {
    const rf_principal_t *who = w->auth ? rf_auth_lookup(w->auth, rf_http_header(x, "authorization"))
                                        : rf_auth_open_principal();
    rf_http_set_user(x, who);
    const rf_route_rule_t *rule = rule_for(w, method, path);
    if (!rule) return true;
    if (!who) {
        rf_warn("event=unauthorized method=%s path=%s", method, path);
        rf_http_reply_error(x, 401, "unauthorized",
                            "this action needs a token: send Authorization: Bearer <token>");
        return false;
    }
    if (!(who->role & (rule->roles | RF_ROLE_ADMIN))) {
        char msg[200];
        size_t used = (size_t)snprintf(msg, sizeof msg, "role %s may not do this; it needs",
                                       rf_role_name(who->role));
        for (unsigned bit = 1; bit <= RF_ROLE_ADMIN && used < sizeof msg; bit <<= 1)
            if ((rule->roles | RF_ROLE_ADMIN) & bit)
                used += (size_t)snprintf(msg + used, sizeof msg - used, " %s", rf_role_name(bit));
        rf_warn("event=forbidden method=%s path=%s user=%s role=%s", method, path, who->user,
                rf_role_name(who->role));
        rf_http_reply_error(x, 403, "forbidden", msg);
        return false;
    }
    rf_info("event=action method=%s path=%s user=%s role=%s", method, path, who->user,
            rf_role_name(who->role));
    return true;
}

static bool on_request_dispatch(rf_worker_t *w, rf_http_exchange_t *x, const char *method,
                                const char *path);

static void on_request(rf_http_exchange_t *x, void *arg) {
    rf_worker_t *w = arg;
    const char *method = rf_http_method(x);
    const char *path = rf_http_path(x);
    uint64_t t0 = uv_hrtime();
    char mcopy[8], pcopy[128], label[64];
    snprintf(mcopy, sizeof mcopy, "%s", method); /* borrowed only until the answer */
    snprintf(pcopy, sizeof pcopy, "%s", path);
    /* Requests that may write share one transaction per loop iteration
     * (group commit, db/db.h); reads see only committed data. */
    bool grouped = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && w->bus;
    if (grouped) rf_db_group_enter(w->db);
    bool known = on_request_dispatch(w, x, method, path);
    if (grouped) rf_db_group_leave(w->db);
    route_label(pcopy, known, label, sizeof label);
    observe_route(mcopy, label, (double)(uv_hrtime() - t0) / 1e9);
}

/* Answers x; false when no route matched (answered 404). method and path are
 * not used after the answer. */
static bool on_request_dispatch(rf_worker_t *w, rf_http_exchange_t *x, const char *method,
                                const char *path) {
    char id[64];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(method, "OPTIONS") == 0) { /* CORS preflight from the ops page */
        rf_http_reply(x, 204, NULL, "", 0);
        return true;
    }
    if (get && (strcmp(path, "/ops") == 0 || strcmp(path, "/ops/") == 0)) {
        rf_http_reply(x, 200, "text/html; charset=utf-8", rf_ops_page, strlen(rf_ops_page));
        return true;
    }
    if (!authorize(w, x, method, path)) return true;
    if (w->spec->ops_route && w->spec->ops_route(w, x)) return true;
    if (get && strcmp(path, "/healthz") == 0) serve_health(w, x);
    else if (get && strcmp(path, "/metrics") == 0) serve_metrics(w, x);
    else if (get && strcmp(path, "/v1/deadletters") == 0) serve_dead_letters(w, x);
    else if (post && rf_path_match(path, "/v1/deadletters/{}/replay", id, sizeof id))
        serve_dead_letter_action(w, x, id, true);
    else if (post && rf_path_match(path, "/v1/deadletters/{}/discard", id, sizeof id))
        serve_dead_letter_action(w, x, id, false);
    else if (!w->spec->route || !w->spec->route(w->spec->state, x)) {
        rf_http_reply_error(x, 404, "not_found", "no such route");
        return false;
    }
    return true;
}

/* ---- group commit ------------------------------------------------------------------- */

/* A group of requests opened (its answers wait for its commit), or must end
 * now: commit it, send what it emitted and answer its requests. */
static void on_group(void *arg, rf_db_group_event_t what) {
    rf_worker_t *w = arg;
    if (what == RF_DB_GROUP_OPENED) {
        rf_http_hold(w->http);
        return;
    }
    bool ok = rf_bus_group_commit(w->bus) == 0;
    if (!ok)
        rf_warn("event=group_commit_failed error=\"%s\"", rf_db_error(w->db));
    rf_http_release(w->http, ok);
}

/* After the loop has read what arrived: the requests served share one commit. */
static void on_group_check(uv_check_t *h) {
    rf_worker_t *w = h->data;
    if (rf_db_group_open(w->db)) on_group(w, RF_DB_GROUP_FLUSH);
}

/* ---- life cycle ---------------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum) {
    rf_worker_t *w = h->data;
    rf_info("event=stopping signal=%d", signum);
    uv_stop(&w->loop);
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int connect_db(rf_worker_t *w) {
    int64_t deadline = rf_mono_ms() + w->db_wait_s * 1000;
    for (;;) {
        if (rf_db_connect(w->db) == 0) return 0;
        if (rf_mono_ms() >= deadline) {
            rf_error("event=db_unreachable error=\"%s\"", rf_db_error(w->db));
            return -1;
        }
        rf_warn("event=db_waiting error=\"%s\"", rf_db_error(w->db));
        sleep(1);
    }
}

int rf_worker_main(const rf_worker_spec_t *spec, int argc, char **argv) {
    rf_worker_t *w = calloc(1, sizeof *w);
    if (!w) return 1;
    w->spec = spec;
    rf_config_entry_t table[MAX_CONFIG];
    size_t n = build_config(w, table);
    if (argc > 1 && strcmp(argv[1], "--print-config") == 0) {
        rf_config_print(table, n, stdout);
        free(w);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--print-config]\n(configured by environment variables)\n",
                argv[0]);
        free(w);
        return 2;
    }
    char err[4096];
    int problems = rf_config_load(table, n, err, sizeof err);
    rf_log_init(spec->name, (rf_log_level_t)w->log_level);
    if (problems) {
        fprintf(stderr, "rf-%s: %d bad setting%s, not starting:\n%s", spec->name, problems,
                problems > 1 ? "s" : "", err);
        free(w);
        return 2;
    }
    if (w->tokens_file[0]) {
        w->auth = rf_auth_load(w->tokens_file, err, sizeof err);
        if (!w->auth) {
            fprintf(stderr, "rf-%s: RF_AUTH_TOKENS_FILE: %s; not starting\n", spec->name, err);
            free(w);
            return 2;
        }
    } else {
        rf_warn("event=auth_disabled reason=\"RF_AUTH_TOKENS_FILE is not set: every request acts"
                " as admin; set it outside development\"");
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    uv_loop_init(&w->loop);
    w->db = rf_db_new(w->db_conninfo, spec->name);
    if (w->db) rf_db_set_lock_wait_ms(w->db, w->lock_wait_ms);
    if (!w->db || connect_db(w) != 0) goto out;
    if (rf_db_migrate(w->db, rf_bus_migrations, rf_bus_migrations_count) != 0 ||
        rf_db_migrate(w->db, spec->migrations, spec->n_migrations) != 0)
        goto out;
    rf_bus_config_t bc = {
        .self_name = spec->name,
        .self_bit = spec->bit,
        .ack_timeout_ms = w->ack_timeout_ms,
        .retry_max = w->retry_max,
        .defer_limit_s = w->defer_limit_s,
        .batch_max = w->batch_max,
        .poll_ms = w->poll_ms,
        .window = w->window,
        .curve_secret_key_file = w->curve_secret_file,
        .curve_public_keys_file = w->curve_public_file,
        .replica_id = (unsigned)w->replica_id,
        .replica_lease_s = w->replica_lease_s,
    };
    unsigned self = 0;
    while ((1u << self) != spec->bit) self++;
    int replicas = rf_bus_endpoint_at(w->bus_endpoints[self], (unsigned)w->replica_id, w->own_bus,
                                      sizeof w->own_bus);
    if (replicas < 0) {
        rf_error("event=bus_failed error=\"RF_REPLICA_ID=%lld but the bus endpoint list of %s has"
                 " no such entry\"", (long long)w->replica_id, spec->name);
        goto out;
    }
    bc.replicated = replicas > 1 || w->replica_id > 0;
    bc.bind_endpoint = w->bus_bind[0] ? w->bus_bind : w->own_bus;
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) bc.peer_endpoints[i] = w->bus_endpoints[i];
    w->bus = rf_bus_new(&w->loop, w->db, &bc, spec->apply ? timed_apply : NULL, w, err,
                        sizeof err);
    if (!w->bus) {
        rf_error("event=bus_failed error=\"%s\"", err);
        goto out;
    }
    rf_http_limits_t limits = {.max_header_bytes = 16384,
                               .max_body_bytes = (size_t)w->http_max_body,
                               .idle_timeout_ms = 30000};
    w->http = rf_http_server_new(&w->loop, w->http_addr, &limits, on_request, w, err, sizeof err);
    if (!w->http) {
        rf_error("event=http_failed error=\"%s\"", err);
        goto out;
    }
    rf_db_set_group_hook(w->db, on_group, w);
    uv_check_init(&w->loop, &w->group_check);
    w->group_check.data = w;
    uv_check_start(&w->group_check, on_group_check);
    if (spec->start && spec->start(spec->state, w) != 0) {
        rf_error("event=start_failed");
        goto out;
    }
    uv_signal_init(&w->loop, &w->sigint);
    uv_signal_init(&w->loop, &w->sigterm);
    w->sigint.data = w->sigterm.data = w;
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    if (w->watchdog_s > 0 && !(w->watchdog = rf_watchdog_start(&w->loop, w->watchdog_s)))
        goto out;
    rf_info("event=started http=%s bus=%s pid=%d watchdog_s=%lld", w->http_addr, bc.bind_endpoint,
            (int)getpid(), (long long)w->watchdog_s);
    if (w->watchdog_s > 0 && w->lock_wait_ms >= w->watchdog_s * 1000)
        rf_warn("event=config_warning setting=RF_LOCK_WAIT_MS value=%lld"
                " detail=\"not under RF_WATCHDOG_S (%llds): a lock another transaction holds"
                " that long will abort this worker as hung\"",
                (long long)w->lock_wait_ms, (long long)w->watchdog_s);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    rf_watchdog_stop(&w->watchdog);
    if (w->db && w->http && rf_db_group_open(w->db)) on_group(w, RF_DB_GROUP_FLUSH);
    rf_http_server_destroy(&w->http);
    rf_bus_destroy(&w->bus);
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    rf_db_destroy(&w->db);
    rf_auth_destroy(&w->auth);
    rf_info("event=stopped rc=%d", rc);
    free(w);
    return rc;
}
