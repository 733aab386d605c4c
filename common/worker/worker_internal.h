/*
 * worker/worker_internal.h: what the parts of the worker skeleton
 * (worker/worker.h) share; included only by the files of common/worker:
 *
 *   worker.c          rf_worker_main: start-up, group commit, signals, stop
 *   worker_config.c   the configuration table (common settings, then the
 *                     service's own)
 *   worker_routes.c   the HTTP front door: authorization of routes, the
 *                     built-in routes (/ops, /healthz, dead letters), request
 *                     helpers
 *   worker_metrics.c  /metrics and the latency histograms behind it
 */
#ifndef RF_WORKER_INTERNAL_H
#define RF_WORKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "worker/worker.h"
#include "runtime/watchdog.h"

#define MAX_CONFIG 64

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
    int64_t ack_timeout_ms, retry_max, defer_limit_s, lock_wait_ms, batch_max, poll_ms, window,
        http_max_body;
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

/* ---- worker_config.c ---------------------------------------------------------------- */

/* rf__worker_build_config: the common settings into t (room for MAX_CONFIG
 * entries, pointing into w), followed by the service's own. Returns the
 * count. */
size_t rf__worker_build_config(rf_worker_t *w, rf_config_entry_t *t);

/* ---- worker_routes.c ---------------------------------------------------------------- */

/* rf__worker_on_request: the HTTP server's handler (arg is the worker):
 * authorizes, answers and times every request. */
void rf__worker_on_request(rf_http_exchange_t *x, void *arg);

/* ---- worker_metrics.c --------------------------------------------------------------- */

/* rf__worker_timed_apply: the bus calls this (arg is the worker) instead of
 * the service's apply, to time it per event type. */
rf_apply_result_t rf__worker_timed_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);

/* rf__worker_route_label: the route label of a path: segments that are not
 * plain lower-case words (ids: ULIDs, numbers) become "{}", so labels stay
 * few; unknown routes (404) count as "other". */
void rf__worker_route_label(const char *path, bool known, char *out, size_t cap);

/* rf__worker_observe_route: count one request of (method, route label) that
 * took seconds; past the histograms' room labels count as "other". */
void rf__worker_observe_route(const char *method, const char *route, double seconds);

/* rf__worker_serve_metrics: answer GET /metrics. */
void rf__worker_serve_metrics(rf_worker_t *w, rf_http_exchange_t *x);

#endif
