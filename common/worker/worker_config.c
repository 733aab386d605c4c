/*
 * worker_config.c: the configuration table of a worker (worker/worker.h):
 * the settings every worker has (log level, its database, HTTP address and
 * bus endpoints, delivery tuning, authentication, bus encryption, replicas),
 * their names built from the worker's name, then the service's own. Read
 * from the environment by rf_worker_main, printed by --print-config.
 */
#include "worker/worker.h"
#include "worker/worker_internal.h"

#include <ctype.h>
#include <stdio.h>

static void upper(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

size_t rf__worker_build_config(rf_worker_t *w, rf_config_entry_t *t) {
    const rf_worker_spec_t *spec = w->spec;
    char up[32];
    upper(up, sizeof up, spec->name);
    size_t n = 0, k = 0;
    /* A table, a setting a line or two (clang-format would give each field its own line). */
    /* clang-format off */
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
    /* clang-format on */
    for (size_t i = 0; i < spec->n_config && n < MAX_CONFIG; i++) t[n++] = spec->config[i];
    return n;
}
