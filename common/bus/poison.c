/*
 * poison.c: the consumer's defence against poison that kills (see bus/bus.h):
 * which events each process is applying (inbox_batches), how many processes
 * died applying each of them (inbox_started), and the refusal of an event
 * after retry_max such deaths.
 */
#include "bus/bus_internal.h"

#include <stdio.h>
#include <string.h>

#include "runtime/log.h"

/* A poison event may make its consumer crash (or be killed) rather than
 * answer REJECT. Its producer then sees only ack timeouts, which never count
 * toward retry_max (a stopped or restarting consumer times out too), and
 * would resend it forever, each time taking the consumer down again.
 *
 * So the consumer notes, before applying a batch, which events it is about
 * to apply and which process it is: one committed row per batch in
 * inbox_batches (this process's instance id, a batch number, the event ids).
 * The transaction that applies (or defers, or rejects) events takes their
 * ids out of the row, deleting it with the last. A row of another instance
 * that still holds an event when the event comes back means a process died
 * while applying it: the event's count of such deaths goes to inbox_started
 * (`crashes`) and its id leaves that row. A stall (SIGSTOP), a database
 * error or an ordinary restart between batches count nothing; a kill -9
 * mid-batch counts one for that batch's events. Suspects (crashes > 0) are
 * applied last, each alone under a row of its own: if one of them kills the
 * process, only it is charged, not the innocent events that happened to
 * share its batch. After retry_max crashes the event is answered REJECT
 * without being applied, and its producer dead-letters it as usual; a replay
 * starts the count again. The rows are written with asynchronous commit:
 * they must survive this process, not PostgreSQL. */

/* The event ids of msgs[0..n) as a PostgreSQL array literal (in bus->cols[0]). */
static const char *event_id_array(rf_bus_t *bus, const inmsg_t *msgs, size_t n) {
    rf_pgarray_t *ids = &bus->cols[0];
    if (rf_pgarray_open(ids) != 0) return NULL;
    for (size_t i = 0; i < n; i++)
        if (rf_pgarray_add(ids, msgs[i].event_id) != 0) return NULL;
    return rf_pgarray_close(ids);
}

/* Set msgs[i].crashes from rows (event_id, crashes) of res. */
static void crashes_from(inmsg_t *msgs, size_t n, const PGresult *res) {
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t crashes = rf_get_i64(res, r, 1);
        for (size_t i = 0; i < n; i++)
            if (strcmp(msgs[i].event_id, rf_get_str(res, r, 0)) == 0) msgs[i].crashes = crashes;
    }
}

/* Events of msgs[0..n) that rows of other (dead) processes hold: add one
 * crash per such row to their count and take them out of those rows. Sets
 * msgs' crashes. 0 or -1. */
static int started_fold_crashes(rf_bus_t *bus, inmsg_t *msgs, size_t n, const char *ids) {
    const char *p[] = {ids, bus->instance};
    PGresult *res = rf_db_query(
        bus->db,
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),"
        " died AS (SELECT e, count(*) AS n FROM inbox_batches b CROSS JOIN unnest(b.event_ids) e"
        "   WHERE b.instance <> $2 AND e = ANY($1::text[]) GROUP BY e),"
        " counted AS (INSERT INTO inbox_started (event_id, instance, crashes)"
        "   SELECT e, '', n FROM died, async ON CONFLICT (event_id)"
        "   DO UPDATE SET crashes = inbox_started.crashes + EXCLUDED.crashes"
        "   RETURNING event_id, crashes),"
        " taken AS (UPDATE inbox_batches b SET event_ids = ARRAY(SELECT x FROM unnest(b.event_ids)"
        "   x WHERE NOT x = ANY($1::text[])) WHERE b.instance <> $2 AND b.event_ids && $1::text[])"
        " SELECT event_id, crashes FROM counted",
        2, p);
    if (!res) return -1;
    crashes_from(msgs, n, res);
    PQclear(res);
    return rf_db_exec(bus->db,
                      "DELETE FROM inbox_batches WHERE event_ids = '{}'"
                      " AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
                      0, NULL);
}

/* Record that msgs[0..n) are being applied by this process (a new row of
 * inbox_batches), and set each one's crashes. 0, or -1 on a database error. */
int rf__bus_started_record(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    const char *ids = event_id_array(bus, msgs, n);
    if (!ids) return -1;
    rf_num_t batch = rf_i64(++bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    /* One round trip: the row, the crashes already counted, and (when rows
     * of other processes exist) whether any of them holds these events. */
#define RECORD_AND_COUNTED                                                  \
    "WITH async AS (SELECT set_config('synchronous_commit', 'off', true))," \
    " mine AS (INSERT INTO inbox_batches (instance, batch, event_ids)"      \
    "   SELECT $2, $3::bigint, $1::text[] FROM async)"                      \
    " SELECT event_id, crashes, false FROM inbox_started WHERE event_id = ANY($1::text[])"
    PGresult *res = rf_db_query(
        bus->db,
        bus->others_started ? RECORD_AND_COUNTED
            " UNION ALL SELECT '', 0, true WHERE EXISTS (SELECT 1 FROM inbox_batches b"
            "   WHERE (b.instance < $2 OR b.instance > $2) AND b.event_ids && $1::text[])"
                            : RECORD_AND_COUNTED,
        3, p);
#undef RECORD_AND_COUNTED
    if (!res) return -1;
    bus->started_left = n;
    bool died = false;
    for (size_t i = 0; i < n; i++) msgs[i].crashes = 0;
    crashes_from(msgs, n, res);
    for (int r = 0; r < PQntuples(res); r++)
        if (strcmp(rf_get_str(res, r, 2), "t") == 0) died = true;
    PQclear(res);
    return died ? started_fold_crashes(bus, msgs, n, ids) : 0;
}

/* Whether rows of other processes are in inbox_batches (a process died
 * mid-batch, or another replica is applying): only then does each batch
 * look for its events there. Checked at start and every second. */
void rf__bus_started_check_others(rf_bus_t *bus) {
    const char *p[] = {bus->instance};
    PGresult *res = rf_db_query(bus->db,
                                "SELECT EXISTS (SELECT 1 FROM inbox_batches"
                                " WHERE instance < $1 OR instance > $1)",
                                1, p);
    if (!res) return;
    bus->others_started = strcmp(rf_get_str(res, 0, 0), "t") == 0;
    PQclear(res);
}

/* Take msgs[0..n) out of this process's current row (inside the transaction
 * applying them), with their crash counts if they have any. 0 or -1. */
int rf__bus_started_forget(rf_bus_t *bus, const inmsg_t *msgs, size_t n) {
    const char *ids = event_id_array(bus, msgs, n);
    if (!ids) return -1;
    rf_num_t batch = rf_i64(bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    int rc = n >= bus->started_left
                 ? rf_db_exec(bus->db,
                              "DELETE FROM inbox_batches WHERE instance = $2"
                              " AND batch = $3::bigint AND $1::text[] IS NOT NULL",
                              3, p)
                 : rf_db_exec(bus->db,
                              "UPDATE inbox_batches SET event_ids = ARRAY(SELECT x FROM"
                              " unnest(event_ids) x WHERE NOT x = ANY($1::text[]))"
                              " WHERE instance = $2 AND batch = $3::bigint",
                              3, p);
    bool counted = false;
    for (size_t i = 0; i < n; i++) counted |= msgs[i].crashes > 0;
    if (rc == 0 && counted)
        rc =
            rf_db_exec(bus->db, "DELETE FROM inbox_started WHERE event_id = ANY($1::text[])", 1, p);
    return rc;
}

/* msgs[0..n) were committed: they are no longer in the current row. */
void rf__bus_started_forgotten(rf_bus_t *bus, size_t n) {
    bus->started_left = n >= bus->started_left ? 0 : bus->started_left - n;
}

/* Delete this process's current row (asynchronous commit), if it has one.
 * 0 or -1. */
static int started_drop_row(rf_bus_t *bus) {
    if (bus->started_left == 0) return 0;
    rf_num_t batch = rf_i64(bus->started_batch);
    const char *p[] = {bus->instance, batch.s};
    if (rf_db_exec(bus->db,
                   "DELETE FROM inbox_batches WHERE instance = $1 AND batch = $2::bigint"
                   " AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
                   2, p) != 0)
        return -1;
    bus->started_left = 0;
    return 0;
}

/* A suspect is about to be applied alone by this process: a row of its own,
 * after the batch's row is gone with the other suspects still in it (only
 * the suspect being applied is charged if the process dies). 0 or -1. */
int rf__bus_started_again(rf_bus_t *bus, const inmsg_t *m) {
    if (started_drop_row(bus) != 0) return -1;
    const char *ids = event_id_array(bus, m, 1);
    rf_num_t batch = rf_i64(++bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    if (!ids || rf_db_exec(bus->db,
                           "INSERT INTO inbox_batches (instance, batch, event_ids)"
                           " SELECT $2, $3::bigint, $1::text[]"
                           " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async",
                           3, p) != 0)
        return -1;
    bus->started_left = 1;
    return 0;
}

/* After a batch: a row still there (events that failed, or were not
 * answered) is not a crash of this process; delete it. */
void rf__bus_started_done(rf_bus_t *bus) {
    if (rf_db_connected(bus->db)) started_drop_row(bus);
}

/* Answer REJECT to every event that retry_max processes died on, and move
 * the other events that some process died on to the end of msgs. Returns
 * the number of events never involved in a crash (now first). */
size_t rf__bus_started_partition(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    size_t healthy = 0;
    for (size_t i = 0; i < n; i++) {
        inmsg_t *m = &msgs[i];
        if (m->crashes >= bus->cfg.retry_max) {
            if (rf_bus_tx_begin(bus) == 0 && rf__bus_started_forget(bus, m, 1) == 0 &&
                rf_bus_tx_commit(bus) == 0) {
                rf__bus_started_forgotten(bus, 1);
                snprintf(m->reason, sizeof m->reason,
                         "the consumer stopped %lld times while applying it",
                         (long long)m->crashes);
                m->reply = "REJECT";
            } else {
                rf_bus_tx_rollback(bus);
            }
            rf_error("event=poison_suspected event_id=%s return_id=%s crashes=%lld", m->event_id,
                     m->return_id, (long long)m->crashes);
        } else if (m->crashes > 0) {
            rf_warn("event=apply_after_crash event_id=%s return_id=%s crashes=%lld", m->event_id,
                    m->return_id, (long long)m->crashes);
        }
        if (m->crashes == 0 && i != healthy) {
            inmsg_t tmp = msgs[healthy];
            msgs[healthy] = *m;
            *m = tmp;
        }
        if (msgs[healthy].crashes == 0) healthy++;
    }
    return healthy;
}
