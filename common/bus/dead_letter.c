/*
 * dead_letter.c: dead letters (see bus/bus.h): the outbox row of an event
 * that will not be delivered moves to the dead_letter table, raising an
 * ops.alert, and from there an operator replays it into the outbox or
 * discards it.
 */
#include "bus/bus_internal.h"

#include <stdio.h>
#include <string.h>

#include "runtime/log.h"

/* Move the outbox row of event_id toward peer to the dead-letter table and,
 * in the same transaction, raise an ops.alert so operations hear of it (not
 * for an alert itself: a broken notification worker must not breed alerts). */
void rf__bus_dead_letter(peer_t *peer, const char *event_id, const char *reason, int64_t attempts) {
    rf_bus_t *bus = peer->bus;
    const char *p[] = {event_id, peer->name, reason};
    if (rf_bus_tx_begin(bus) != 0) return;
    PGresult *res =
        rf_db_query(bus->db,
                    "WITH moved AS (DELETE FROM outbox WHERE event_id = $1 AND dest = $2"
                    " RETURNING *) INSERT INTO dead_letter (event_id, dest, return_id, type,"
                    " payload, attempts, reason, created_at) SELECT event_id, dest, return_id,"
                    " type, payload, attempts, $3, created_at FROM moved RETURNING type, return_id",
                    3, p);
    if (!res) {
        rf_bus_tx_rollback(bus);
        return;
    }
    int rc = 0;
    if (PQntuples(res) > 0 && strcmp(rf_get_str(res, 0, 0), "ops.alert") != 0) {
        rf_event_t ev;
        char subject[160];
        snprintf(subject, sizeof subject, "%s to %s", rf_get_str(res, 0, 0), peer->name);
        rc = rf_bus_event_init(bus, &ev, RF_EV_OPS_ALERT, rf_get_str(res, 0, 1), event_id);
        if (rc == 0) {
            rc = rf_event_set_str(&ev.body.ops_alert.kind, "dead_letter") |
                 rf_event_set_str(&ev.body.ops_alert.subject, subject) |
                 rf_event_set_str(&ev.body.ops_alert.detail, reason);
            if (rc == 0) rc = rf_bus_emit(bus, &ev);
            rf_event_clear(&ev);
        }
    }
    bool moved = PQntuples(res) > 0;
    PQclear(res);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return;
    }
    if (moved)
        rf_error("event=dead_lettered dest=%s event_id=%s attempts=%lld reason=\"%s\"", peer->name,
                 event_id, (long long)attempts, reason);
}

int rf_bus_dead_letter_replay(rf_bus_t *bus, int64_t id) {
    rf_num_t n = rf_i64(id), owner = rf_i64(bus->cfg.replica_id);
    const char *p[] = {n.s, owner.s};
    if (rf_db_connect(bus->db) != 0) return -1;
    int64_t moved = rf_db_exec_count(
        bus->db,
        "WITH moved AS (DELETE FROM dead_letter WHERE id = $1::bigint RETURNING *)"
        " INSERT INTO outbox (event_id, dest, return_id, type, payload, created_at, owner)"
        " SELECT event_id, dest, return_id, type, payload, created_at, $2::integer FROM moved"
        " ON CONFLICT (event_id, dest) DO NOTHING",
        2, p);
    if (moved < 0) return -1;
    if (moved > 0) {
        rf_info("event=dead_letter_replayed id=%lld", (long long)id);
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) bus->peers[i].needs_poll = true;
    }
    return moved > 0 ? 1 : 0;
}

int rf_bus_dead_letter_discard(rf_bus_t *bus, int64_t id, const char *who) {
    rf_num_t n = rf_i64(id);
    const char *p[] = {n.s};
    if (rf_db_connect(bus->db) != 0) return -1;
    PGresult *res = rf_db_query(bus->db,
                                "DELETE FROM dead_letter WHERE id = $1::bigint"
                                " RETURNING event_id, dest, return_id",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found)
        rf_warn("event=dead_letter_discarded id=%lld event_id=%s dest=%s return_id=%s by=%s",
                (long long)id, rf_get_str(res, 0, 0), rf_get_str(res, 0, 1), rf_get_str(res, 0, 2),
                who ? who : "-");
    PQclear(res);
    return found;
}
