/*
 * intake_follow.c: what intake does with the events the other workers send
 * it. Each event becomes a row of the return's timeline and may move the
 * return's status (intake_status_after). Applying an event only buffers it;
 * the bus's flush writes the whole batch in two statements: the timeline
 * rows, then the status moves of the events recorded. The timeline is
 * intake's inbox (the bus's own_dedup): its row, unique by event id, is the
 * record that the event was applied, so an event is one row, not two. One
 * the timeline already holds is a duplicate (answered ACK, no effect); one
 * whose return intake does not know is deferred and writes nothing.
 *
 * Both statements reach returns row by row through its primary key (a
 * subquery per row, "= ANY" of the ids), whatever the planner thinks of the
 * table's size: as joins they were planned as a scan of every return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "intake.h"
#include "runtime/log.h"
#include "db/pgarray.h"

enum { RET, EV, TYPE, PRODUCER, AT, BODY, NCOL };

/* One event of the batch, for the status moves. */
typedef struct followed {
    char return_id[RF_ID_MAX];
    char event_id[RF_ID_MAX];
    intake_status_t status;
    const char *reject; /* a rejection's reason code: the event's own text, valid
                         * until the bus clears the batch's events after the flush */
    bool recorded;      /* its timeline row was written */
} followed_t;

/* The batch being applied: the timeline rows as array parameters, and the
 * events in order. */
static rf_pgarray_t cols[NCOL];
static followed_t *batch;
static size_t buffered, cap;

static void follow_discard(void *arg) {
    (void)arg;
    buffered = 0;
}

/* Room for one more event. 0 or -1. */
static int reserve(void) {
    if (buffered < cap) return 0;
    size_t ncap = cap ? cap * 2 : 256;
    followed_t *nb = realloc(batch, ncap * sizeof *nb);
    if (!nb) return -1;
    batch = nb;
    cap = ncap;
    return 0;
}

intake_status_t intake_status_after(const rf_event_t *ev) {
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED: return (intake_status_t){"requested", 0};
    case RF_EV_REVIEW_OPENED: return (intake_status_t){"under_review", 1};
    case RF_EV_RETURN_APPROVED:
        return ev->body.return_approved.goods_expected ? (intake_status_t){"awaiting_return", 3}
                                                       : (intake_status_t){"approved", 2};
    case RF_EV_GOODS_RECEIVED: return (intake_status_t){"received", 4};
    case RF_EV_GOODS_INSPECTED: {
        const char *g = ev->body.goods_inspected.grade;
        bool contradicts = strcmp(g, "empty_box") == 0 || strcmp(g, "wrong_item") == 0;
        return contradicts ? (intake_status_t){"disputed", 5} : (intake_status_t){"received", 4};
    }
    case RF_EV_REFUND_AWAITING_APPROVAL: return (intake_status_t){"refund_pending_approval", 5};
    case RF_EV_RESHIP_UPDATED: {
        const char *st = ev->body.reship_updated.state;
        if (strcmp(st, "shipped") == 0) return (intake_status_t){"exchange_shipped", 6};
        if (strcmp(st, "delivered") == 0) return (intake_status_t){"exchanged", 8};
        return (intake_status_t){NULL, -1};
    }
    case RF_EV_REFUND_APPROVED: return (intake_status_t){"refunding", 6};
    case RF_EV_REFUND_FAILED: return (intake_status_t){"refund_failed", 7};
    /* Money that moved outranks every decision: a refund issued in a race
     * with a cancellation or rejection still shows as refunded. */
    case RF_EV_REFUND_ISSUED: return (intake_status_t){"refunded", 10};
    case RF_EV_RETURN_REJECTED: return (intake_status_t){"rejected", 9};
    case RF_EV_RETURN_CANCELLED: return (intake_status_t){"cancelled", 9};
    default: return (intake_status_t){NULL, -1};
    }
}

rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    if (buffered == 0 && rf_pgarrays_open(cols, NCOL) != 0) goto oom;
    if (reserve() != 0) goto oom;
    json_t *body = rf_event_body_json(ev);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) goto oom;
    const char *v[AT] = {ev->return_id, ev->event_id, rf_event_type_name(ev->type), ev->producer};
    int rc = rf_pgarrays_add_row(cols, AT, v) | rf_pgarray_add_i64(&cols[AT], ev->occurred_at) |
             rf_pgarray_add(&cols[BODY], text);
    free(text);
    if (rc != 0) goto oom;
    followed_t *f = &batch[buffered++];
    snprintf(f->return_id, sizeof f->return_id, "%s", ev->return_id);
    snprintf(f->event_id, sizeof f->event_id, "%s", ev->event_id);
    f->status = intake_status_after(ev);
    f->reject = ev->type == RF_EV_RETURN_REJECTED ? ev->body.return_rejected.reason_code : NULL;
    f->recorded = false;
    return RF_APPLY_OK;
oom:
    snprintf(why, whylen, "out of memory");
    buffered = 0;
    return RF_APPLY_ERROR;
}

/* Timeline rows of the batch's events whose return intake knows (each event
 * once); marks the recorded ones. 0 or -1. */
static int record_timeline(rf_db_t *db) {
    const char *p[NCOL];
    for (int c = 0; c < NCOL; c++) p[c] = rf_pgarray_close(&cols[c]);
    PGresult *res = rf_db_query(
        db,
        "INSERT INTO timeline (return_id, event_id, type, producer, occurred_at, body)"
        " SELECT r, e, t, p, to_timestamp(at / 1000.0), b::jsonb"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])"
        "   WITH ORDINALITY AS u(r, e, t, p, at, b, i)"
        " WHERE (SELECT true FROM returns x WHERE x.return_id = u.r)"
        " ORDER BY i ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        NCOL, p);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = rf_get_str(res, r, 0);
        for (size_t i = 0; i < buffered; i++)
            if (!batch[i].recorded && strcmp(batch[i].event_id, id) == 0) {
                batch[i].recorded = true;
                break;
            }
    }
    PQclear(res);
    return 0;
}

/* Per return, the highest-ranked status among its recorded events (the
 * first of equals), and the reason of its last rejection; written where it
 * outranks the return's status. 0 or -1. */
static int move_statuses(rf_db_t *db) {
    enum { MR, MS, MK, MJ, MJK, MCOL };
    rf_pgarray_t *m = cols; /* the timeline's arrays were sent: reuse them */
    if (rf_pgarrays_open(m, MCOL) != 0) return -1;
    size_t moves = 0;
    for (size_t i = 0; i < buffered; i++) {
        const followed_t *f = &batch[i];
        if (!f->recorded || !f->status.status) continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = batch[j].recorded && batch[j].status.status &&
                   strcmp(batch[j].return_id, f->return_id) == 0;
        if (seen) continue; /* this return's move was computed at its first event */
        const followed_t *best = f, *rejection = NULL;
        for (size_t j = i; j < buffered; j++) {
            const followed_t *g = &batch[j];
            if (!g->recorded || !g->status.status || strcmp(g->return_id, f->return_id) != 0)
                continue;
            if (g->status.rank > best->status.rank) best = g;
            if (g->reject) rejection = g;
        }
        if (rf_pgarray_add(&m[MR], f->return_id) != 0 ||
            rf_pgarray_add(&m[MS], best->status.status) != 0 ||
            rf_pgarray_add_i64(&m[MK], best->status.rank) != 0 ||
            rf_pgarray_add(&m[MJ], rejection ? rejection->reject : NULL) != 0 ||
            rf_pgarray_add_i64(&m[MJK], rejection ? rejection->status.rank : -1) != 0)
            return -1;
        moves++;
    }
    if (moves == 0) return 0;
    const char *p[MCOL];
    for (int c = 0; c < MCOL; c++) p[c] = rf_pgarray_close(&m[c]);
    return rf_db_exec(
        db,
        "UPDATE returns x SET status = ($2::text[])[array_position($1::text[], x.return_id)],"
        " status_rank = ($3::int[])[array_position($1::text[], x.return_id)],"
        " reject_reason = CASE WHEN ($5::int[])[array_position($1::text[], x.return_id)]"
        "   > x.status_rank THEN ($4::text[])[array_position($1::text[], x.return_id)]"
        "   ELSE x.reject_reason END, updated_at = now()"
        " WHERE x.return_id = ANY($1::text[])"
        " AND x.status_rank < ($3::int[])[array_position($1::text[], x.return_id)]",
        MCOL, p);
}

/* The batch's events not recorded that the timeline already holds: applied
 * in an earlier batch (a redelivery). Marks them; 0 or -1. */
static int mark_duplicates(rf_db_t *db, bool *duplicate) {
    rf_pgarray_t *ids = cols; /* the timeline's arrays were sent: reuse one */
    if (rf_pgarrays_open(ids, 1) != 0) return -1;
    size_t n = 0;
    for (size_t i = 0; i < buffered; i++)
        if (!batch[i].recorded && rf_pgarray_add(&ids[0], batch[i].event_id) == 0) n++;
    if (n == 0) return 0;
    const char *p[] = {rf_pgarray_close(&ids[0])};
    PGresult *res =
        rf_db_query(db, "SELECT event_id FROM timeline WHERE event_id = ANY($1::text[])", 1, p);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < buffered; i++)
            if (!batch[i].recorded && strcmp(batch[i].event_id, rf_get_str(res, r, 0)) == 0)
                duplicate[i] = true;
    PQclear(res);
    return 0;
}

/* Write the buffered events. Those not recorded: a redelivery of one the
 * timeline holds is a duplicate (the timeline is intake's record of what it
 * applied: its inbox); one whose return intake does not know is deferred. */
static int follow_flush(void *arg, rf_bus_t *bus) {
    (void)arg;
    if (buffered == 0) return 0;
    rf_db_t *db = rf_bus_db(bus);
    bool *duplicate = calloc(buffered, sizeof *duplicate);
    int rc = duplicate && record_timeline(db) == 0 && move_statuses(db) == 0 &&
                     mark_duplicates(db, duplicate) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; i < buffered && rc == 0; i++) {
        if (batch[i].recorded) continue;
        if (duplicate[i]) {
            rc = rf_bus_duplicate_applied(bus, batch[i].event_id);
            continue;
        }
        char why[160];
        snprintf(why, sizeof why, "return %s is not known to intake", batch[i].return_id);
        rc = rf_bus_defer_applied(bus, batch[i].event_id, why);
    }
    free(duplicate);
    buffered = 0;
    return rc;
}

void intake_follow_start(rf_worker_t *w) {
    rf_bus_batch_hooks_t hooks = {
        .flush = follow_flush, .discard = follow_discard, .own_dedup = true};
    rf_bus_set_batch_hooks(rf_worker_bus(w), &hooks);
}
