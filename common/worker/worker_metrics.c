/*
 * worker_metrics.c: GET /metrics of every worker (worker/worker.h): the
 * process and database gauges, the bus's counters per destination and its
 * own, latency histograms of applied events (per type) and of HTTP requests
 * (per method and route), then the service's own series (rf_metrics_printf).
 */
#include "worker/worker.h"
#include "worker/worker_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void rf__worker_route_label(const char *path, bool known, char *out, size_t cap) {
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
        if (n_route_hist < MAX_ROUTE_LABELS - 1 || (pass == 1 && n_route_hist < MAX_ROUTE_LABELS)) {
            size_t i = n_route_hist++;
            snprintf(route_hist[i].method, sizeof route_hist[i].method, "%s", method);
            snprintf(route_hist[i].route, sizeof route_hist[i].route, "%s", route);
            return &route_hist[i].h;
        }
        method = route = "other";
    }
    return &route_hist[MAX_ROUTE_LABELS - 1].h; /* not reached */
}

void rf__worker_observe_route(const char *method, const char *route, double seconds) {
    hist_observe(route_hist_for(method, route), seconds);
}

rf_apply_result_t rf__worker_timed_apply(void *arg, const rf_event_t *ev, char *why,
                                         size_t whylen) {
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
        size_t ncap =
            out->cap * 2 > out->len + (size_t)n + 1 ? out->cap * 2 : out->len + (size_t)n + 1;
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

void rf__worker_serve_metrics(rf_worker_t *w, rf_http_exchange_t *x) {
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
