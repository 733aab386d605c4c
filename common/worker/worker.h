/*
 * worker/worker.h: what every returnflow worker process has in common.
 *
 * The folder common/worker/ is layer 3: it ties runtime/, db/, bus/ and http/
 * into one process (worker.c start and stop, worker_config.c the common
 * settings, worker_routes.c the built-in routes, worker_metrics.c /metrics).
 * Only platform/ and the services stand above it.
 *
 * rf_worker_main() does the wiring so that a service's main.c is a table:
 * configuration from the environment (common entries plus the service's own;
 * every bad setting reported at once), the libuv loop, the PostgreSQL
 * connection with its schema and migrations (delivery tables first), the bus,
 * the HTTP surface with the routes every worker serves, and a clean stop on
 * SIGINT/SIGTERM.
 *
 * Common HTTP routes: GET /healthz, GET /metrics, GET /v1/deadletters,
 * POST /v1/deadletters/{id}/replay, POST /v1/deadletters/{id}/discard (admin).
 * Anything else goes to the service's route function, after the bearer token
 * is checked against the service's route rules (401 without a valid token,
 * 403 with a token of the wrong role).
 */
#ifndef RF_WORKER_H
#define RF_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "http/auth.h"
#include "bus/bus.h"
#include "runtime/config.h"
#include "db/db.h"
#include "http/http.h"
#include "runtime/jsonv.h"

typedef struct rf_worker rf_worker_t;

/* A /metrics page being written (see rf_metrics_printf). */
typedef struct rf_metrics_out rf_metrics_out_t;

/* rf_metrics_printf: append Prometheus text to a /metrics page. */
void rf_metrics_printf(rf_metrics_out_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Who may call a route: requests matching method and pattern (one "{}"
 * placeholder allowed, see rf_path_match) need a token of one of `roles`
 * (admin may always). Routes without a rule need no token. */
typedef struct rf_route_rule {
    const char *method;  /* "POST" */
    const char *pattern; /* "/v1/reviews/{}/approve" */
    unsigned roles;      /* RF_ROLE_* bits */
} rf_route_rule_t;

typedef struct rf_worker_spec {
    const char *name;                 /* "intake": also the schema and the role suffix */
    unsigned bit;                     /* RF_W_INTAKE, ... */
    const char *default_http;         /* "127.0.0.1:8080" */
    const rf_migration_t *migrations; /* the service's own, applied after the bus's */
    size_t n_migrations;
    const rf_config_entry_t *config; /* service-specific settings (may be NULL) */
    size_t n_config;
    const rf_route_rule_t *rules; /* who may call the service's routes */
    size_t n_rules;
    rf_bus_apply_fn apply; /* consumes events (may be NULL) */
    /* route: answer x if it is one of the service's routes and return true;
     * return false to let the worker answer 404. */
    bool (*route)(void *state, rf_http_exchange_t *x);
    /* start: called once the db and bus are up; 0 or -1 (start-up fails). */
    int (*start)(void *state, rf_worker_t *w);
    void *state; /* passed to apply, route and start */
    /* ops_route: the service's operations routes (reports, lists), tried
     * before route; same contract as route. May be NULL. */
    bool (*ops_route)(rf_worker_t *w, rf_http_exchange_t *x);
    /* metrics: append the service's own series to /metrics (may be NULL). */
    void (*metrics)(rf_worker_t *w, rf_metrics_out_t *out);
} rf_worker_spec_t;

/* rf_worker_main: run the worker until SIGINT/SIGTERM. `--print-config`
 * prints the configuration table and exits. Returns the process exit code. */
int rf_worker_main(const rf_worker_spec_t *spec, int argc, char **argv);

/* Borrowed handles, valid while the worker runs. */
rf_bus_t *rf_worker_bus(rf_worker_t *w);
rf_db_t *rf_worker_db(rf_worker_t *w);
uv_loop_t *rf_worker_loop(rf_worker_t *w);

/* rf_worker_principal: who is asking (the open principal when the worker
 * runs without tokens; NULL for a request without a valid token). */
const rf_principal_t *rf_worker_principal(rf_http_exchange_t *x);

/* rf_worker_actor: who does what a request asks: the token's user; without
 * authentication (development) the body's "by" (a problem in v when it is
 * missing and required). Borrowed from the principal or from doc. */
const char *rf_worker_actor(rf_http_exchange_t *x, json_t *doc, bool required, rf_jsonv_t *v);

/* rf_worker_json_body: parse the request body as a JSON object. On failure
 * answers 400 (or 415) with a message saying what is wrong and returns NULL. */
json_t *rf_worker_json_body(rf_http_exchange_t *x);

/* rf_worker_query_json: run a query whose one row, one column is JSON text
 * (json_build_object ...) and parse it. NULL on a db or parse error. */
json_t *rf_worker_query_json(rf_worker_t *w, const char *sql, int n, const char *const *params);

/* rf_worker_reply_query: answer x with rf_worker_query_json's document
 * (200), or 503 db_unavailable. */
void rf_worker_reply_query(rf_worker_t *w, rf_http_exchange_t *x, const char *sql, int n,
                           const char *const *params);

/* rf_path_match: match path against a pattern with one "{}" placeholder,
 * e.g. "/v1/returns/{}/approve"; copies the placeholder text (no '/', at most
 * cap-1 bytes) into out. true on a match. */
bool rf_path_match(const char *path, const char *pattern, char *out, size_t cap);

#endif
