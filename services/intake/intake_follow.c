/*
 * intake_follow.c: what intake does with the events the other workers send
 * it. Each event becomes a row of the return's timeline and may move the
 * return's status (intake_status_after). Applying an event only buffers it;
 * the bus's flush writes the whole batch in one statement (timeline rows,
 * then the status moves of the events recorded). An event whose return
 * intake does not know, or that the timeline already holds, is deferred and
 * writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "intake.h"
#include "rf/log.h"
#include "rf/pgarray.h"

enum { RET, EV, TYPE, PRODUCER, AT, BODY, STATUS, RANK, REJECT, NCOL };

/* The batch being applied: one array parameter per column. */
static rf_pgarray_t cols[NCOL];
static size_t buffered;

static void follow_discard(void *arg) {
    (void)arg;
    buffered = 0;
}

rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    if (buffered == 0 && rf_pgarrays_open(cols, NCOL) != 0) goto oom;
    json_t *body = rf_event_body_json(ev);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) goto oom;
    intake_status_t st = intake_status_after(ev);
    const char *v[AT] = {ev->return_id, ev->event_id, rf_event_type_name(ev->type), ev->producer};
    int rc = rf_pgarrays_add_row(cols, AT, v) | rf_pgarray_add_i64(&cols[AT], ev->occurred_at) |
             rf_pgarray_add(&cols[BODY], text) | rf_pgarray_add(&cols[STATUS], st.status) |
             rf_pgarray_add_i64(&cols[RANK], st.rank) |
             rf_pgarray_add(&cols[REJECT], ev->type == RF_EV_RETURN_REJECTED
                                                ? ev->body.return_rejected.reason_code
                                                : NULL);
    free(text);
    if (rc != 0) goto oom;
    buffered++;
    return RF_APPLY_OK;
oom:
    snprintf(why, whylen, "out of memory");
    buffered = 0;
    return RF_APPLY_ERROR;
}

/* Write the buffered events: the timeline rows of known returns (each event
 * once), then, per return, the highest-ranked status among the events just
 * recorded, if it outranks the return's. The events not recorded come back
 * (their return is unknown, or the timeline already had them) and are
 * deferred. */
static int follow_flush(void *arg, rf_bus_t *bus) {
    (void)arg;
    if (buffered == 0) return 0;
    buffered = 0;
    const char *p[NCOL];
    for (int c = 0; c < NCOL; c++) p[c] = rf_pgarray_close(&cols[c]);
    PGresult *res = rf_db_query(
        rf_bus_db(bus),
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        "   $5::bigint[], $6::jsonb[], $7::text[], $8::int[], $9::text[])"
        "   WITH ORDINALITY AS u(r, e, t, p, at, b, s, k, j, i)),"
        " ins AS (INSERT INTO timeline (return_id, event_id, type, producer, occurred_at, body)"
        "   SELECT r, e, t, p, to_timestamp(at / 1000.0), b FROM u"
        "   WHERE EXISTS (SELECT 1 FROM returns x WHERE x.return_id = u.r)"
        "   ORDER BY i ON CONFLICT (event_id) DO NOTHING RETURNING event_id),"
        " moved AS (SELECT DISTINCT ON (u.r) u.r, u.s, u.k FROM u JOIN ins ON ins.event_id = u.e"
        "   WHERE u.s IS NOT NULL ORDER BY u.r, u.k DESC, u.i),"
        " rejected AS (SELECT DISTINCT ON (u.r) u.r, u.j, u.k FROM u"
        "   JOIN ins ON ins.event_id = u.e WHERE u.j IS NOT NULL ORDER BY u.r, u.i DESC),"
        " upd AS (UPDATE returns x SET status = moved.s, status_rank = moved.k,"
        "   reject_reason = CASE WHEN rejected.k > x.status_rank THEN rejected.j"
        "   ELSE x.reject_reason END, updated_at = now()"
        "   FROM moved LEFT JOIN rejected ON rejected.r = moved.r"
        "   WHERE x.return_id = moved.r AND x.status_rank < moved.k)"
        " SELECT u.e, u.r FROM u WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.event_id = u.e)",
        NCOL, p);
    if (!res) return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        char why[160];
        snprintf(why, sizeof why, "return %s is not known to intake", rf_get_str(res, i, 1));
        rc = rf_bus_defer_applied(bus, rf_get_str(res, i, 0), why);
    }
    PQclear(res);
    return rc;
}

void intake_follow_start(rf_worker_t *w) {
    rf_bus_batch_hooks_t hooks = {.flush = follow_flush, .discard = follow_discard};
    rf_bus_set_batch_hooks(rf_worker_bus(w), &hooks);
}
