/*
 * worker.c: the process skeleton shared by the five workers (worker/worker.h):
 * rf_worker_main reads the configuration, connects the database and applies
 * the migrations, starts the bus and the HTTP surface, runs the loop (each
 * iteration's requests share one commit) and stops cleanly on SIGINT/SIGTERM.
 * Its other parts are listed in worker_internal.h.
 */
#include "worker/worker.h"
#include "worker/worker_internal.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/watchdog.h"

rf_bus_t *rf_worker_bus(rf_worker_t *w) { return w->bus; }
rf_db_t *rf_worker_db(rf_worker_t *w) { return w->db; }
uv_loop_t *rf_worker_loop(rf_worker_t *w) { return &w->loop; }

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
    if (!ok) rf_warn("event=group_commit_failed error=\"%s\"", rf_db_error(w->db));
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
    size_t n = rf__worker_build_config(w, table);
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
    (void)signal(SIGPIPE, SIG_IGN); /* a peer that hangs up is an error return, not a death */
    int rc = 1;
    int uv_rc = uv_loop_init(&w->loop);
    if (uv_rc != 0) {
        fprintf(stderr, "rf-%s: cannot start the event loop: %s; not starting\n", spec->name,
                uv_strerror(uv_rc));
        rf_auth_destroy(&w->auth);
        free(w);
        return 1;
    }
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
                 " no such entry\"",
                 (long long)w->replica_id, spec->name);
        goto out;
    }
    bc.replicated = replicas > 1 || w->replica_id > 0;
    bc.bind_endpoint = w->bus_bind[0] ? w->bus_bind : w->own_bus;
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) bc.peer_endpoints[i] = w->bus_endpoints[i];
    w->bus = rf_bus_new(&w->loop, w->db, &bc, spec->apply ? rf__worker_timed_apply : NULL, w, err,
                        sizeof err);
    if (!w->bus) {
        rf_error("event=bus_failed error=\"%s\"", err);
        goto out;
    }
    rf_http_limits_t limits = {.max_header_bytes = 16384,
                               .max_body_bytes = (size_t)w->http_max_body,
                               .idle_timeout_ms = 30000};
    w->http = rf_http_server_new(&w->loop, w->http_addr, &limits, rf__worker_on_request, w, err,
                                 sizeof err);
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
    if (w->watchdog_s > 0 && !(w->watchdog = rf_watchdog_start(&w->loop, w->watchdog_s))) goto out;
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
