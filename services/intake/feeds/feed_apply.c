/*
 * feed_apply.c: applying a platform record version (feeds_internal.h), in
 * updateTime order only (intake_feed_decide): a new request becomes a return
 * through the same path as POST /v1/returns (policy checks included), or
 * waits in feed_records (state pending) until its order arrives; a newer
 * version of a known return becomes return.cancelled or return.updated.
 * When an order arrives, the records that waited for it are applied again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"

/* Asks the platform for an order (set at start: intake_feed_fetch_orders_with). */
static int (*fetch_order_of)(const char *platform, const char *shop_id, const char *order_id);

void intake_feed_fetch_orders_with(int (*fetch_order)(const char *platform, const char *shop_id,
                                                      const char *order_id)) {
    fetch_order_of = fetch_order;
}

/* ---- applying one record version ----------------------------------------------------- */

static int emit_cancelled(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                          const intake_feed_record_t *r) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_CANCELLED, return_id, NULL) != 0) return -1;
    char reason[120];
    snprintf(reason, sizeof reason, "%s closed the request (status %s)", r->platform, r->code);
    int rc = rf_event_set_str(&ev.body.return_cancelled.reason, reason);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    if (rc == 0) rc = intake_db_set_status(db, return_id, "cancelled", 9, NULL);
    rf_event_clear(&ev);
    return rc;
}

static int emit_updated(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                        const intake_feed_record_t *r, const intake_feed_known_t *k) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_UPDATED, return_id, NULL) != 0) return -1;
    rf_body_return_updated_t *b = &ev.body.return_updated;
    int rc = rf_event_set_str(&b->platform_status, *r->status ? r->status : "unknown");
    rc |= rf_event_set_str(&b->platform_code, r->code);
    if (strcmp(r->kind, k->kind) != 0) rc |= rf_event_set_str(&b->kind, r->kind);
    /* no number in the record (a list entry): the known one stands */
    rc |= rf_event_set_str(&b->tracking_no, *r->tracking_no ? r->tracking_no : k->tracking_no);
    b->platform_version = r->version;
    b->requested_amount_fen = r->amount_fen;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    rf_event_clear(&ev);
    return rc;
}

/* Create the return of a new request, or leave it waiting for its order. */
static int create_or_wait(rf_worker_t *w, const intake_feed_record_t *r, bool *needs_order) {
    rf_db_t *db = rf_worker_db(w);
    intake_line_info_t line;
    int has_line = intake_db_find_line(db, r->platform, r->order_id, r->line_id, &line);
    if (has_line < 0) return -1;
    if (!has_line) {
        *needs_order = true;
        atomic_fetch_add(&intake_feed_counters.pending, 1);
        return intake_feed_db_store(db, r, "pending", "waiting for the order") == 0 &&
                       intake_feed_db_ask_order(db, r->platform, r->shop_id, r->order_id) == 0
                   ? 0
                   : -1;
    }
    /* a Kuaishou refund of physical goods names no quantity (productNum 0):
     * it is for the line's units not yet in another return */
    int64_t quantity = r->quantity;
    if (quantity < 1) {
        quantity = line.quantity - line.returned_qty;
        if (quantity < 1) quantity = line.quantity;
    }
    intake_return_req_t req = {
        .platform = r->platform,
        .platform_return_id = r->platform_return_id,
        .order_id = r->order_id,
        .line_id = r->line_id,
        .kind = r->kind,
        .reason_code = r->reason_code,
        .reason_text = r->reason_text,
        .quantity = quantity,
        .requested_amount_fen = r->amount_fen,
        .requested_at = r->requested_at > 0 ? r->requested_at : r->version,
        .platform_deadline_at = r->deadline_at,
        .platform_version = r->version,
    };
    intake_create_result_t res;
    intake_return_create_tx(w, &req, true, &res);
    switch (res.outcome) {
    case INTAKE_CREATED:
        atomic_fetch_add(&intake_feed_counters.created, 1);
        return intake_feed_db_store(db, r, "created", "");
    case INTAKE_DUPLICATE: return intake_feed_db_store(db, r, "created", "entered through the API");
    case INTAKE_REFUSED:
    case INTAKE_AMOUNT_EXCEEDED: return intake_feed_db_store(db, r, "refused", res.code);
    case INTAKE_CREATE_DB_ERROR: break;
    }
    return -1;
}

/* Apply r inside the caller's transaction. retry: r is the pending record
 * itself, offered again because its order arrived. The action, or -1. */
static int apply_tx(rf_worker_t *w, const intake_feed_record_t *r, bool retry, bool *needs_order) {
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    intake_feed_known_t k;
    if (intake_feed_db_known(db, r->platform, r->platform_return_id, &k) != 0) return -1;
    if (retry && k.exists && k.version == r->version) k.exists = false;
    intake_feed_action_t a = intake_feed_decide(&k, r);
    char return_id[RF_ID_MAX] = "";
    if (k.has_return && intake_db_find_return(db, r->platform, r->platform_return_id, return_id,
                                              sizeof return_id) < 0)
        return -1;
    int rc = 0;
    switch (a) {
    case INTAKE_FEED_STALE: return (int)a;
    case INTAKE_FEED_NOTE:
        rc = intake_feed_db_store(db, r, k.has_return ? "created" : "noted",
                                  *r->status ? "" : "a status the mapping does not know");
        break;
    case INTAKE_FEED_CREATE: rc = create_or_wait(w, r, needs_order); break;
    case INTAKE_FEED_CANCEL:
        rc = emit_cancelled(bus, db, return_id, r);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    case INTAKE_FEED_UPDATE:
        rc = emit_updated(bus, db, return_id, r, &k);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    }
    return rc == 0 ? (int)a : -1;
}

static void count_action(int a, const intake_feed_record_t *r) {
    if (a == INTAKE_FEED_STALE) atomic_fetch_add(&intake_feed_counters.stale, 1);
    else if (a == INTAKE_FEED_CANCEL) atomic_fetch_add(&intake_feed_counters.cancelled, 1);
    else if (a == INTAKE_FEED_UPDATE) atomic_fetch_add(&intake_feed_counters.updated, 1);
    if (a != INTAKE_FEED_STALE)
        rf_info("event=feed_record_applied platform=%s platform_return_id=%s version=%lld"
                " status=%s code=%s action=%s",
                r->platform, r->platform_return_id, (long long)r->version,
                *r->status ? r->status : "unknown", r->code,
                intake_feed_action_name((intake_feed_action_t)a));
}

static int apply_one(rf_worker_t *w, const intake_feed_record_t *r, bool retry) {
    rf_bus_t *bus = rf_worker_bus(w);
    bool needs_order = false;
    if (rf_bus_tx_begin(bus) != 0) return -1;
    int a = apply_tx(w, r, retry, &needs_order);
    if (a < 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return -1;
    }
    count_action(a, r);
    if (needs_order && fetch_order_of) fetch_order_of(r->platform, r->shop_id, r->order_id);
    return a;
}

int intake_feed_apply(rf_worker_t *w, const intake_feed_record_t *r) {
    return apply_one(w, r, false);
}

int intake_feed_apply_in_tx(rf_worker_t *w, const intake_feed_record_t *r, bool *needs_order) {
    int a = apply_tx(w, r, false, needs_order);
    if (a >= 0) count_action(a, r);
    return a;
}

void intake_feed_order_arrived(rf_worker_t *w, const char *platform, const char *order_id) {
    rf_db_t *db = rf_worker_db(w);
    json_t *list = intake_feed_db_pending(db, platform, order_id);
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        intake_feed_record_t r;
        if (intake_feed_record_from_json(doc, &r) == 0 && apply_one(w, &r, true) >= 0)
            rf_info("event=feed_pending_released platform=%s platform_return_id=%s order_id=%s",
                    platform, r.platform_return_id, order_id);
    }
    json_decref(list);
    const char *p[] = {platform, order_id};
    rf_db_exec(db, "DELETE FROM feed_order_asks WHERE platform = $1 AND order_id = $2", 2, p);
}

int intake_feed_order_fetched(rf_worker_t *w, const char *platform, const char *source,
                              const char *order_id, intake_order_t *o, bool mapped,
                              const char *err) {
    rf_bus_t *bus = rf_worker_bus(w);
    if (!mapped || intake_order_allocate(o) != 0) {
        rf_warn("event=order_unusable platform=%s order_id=%s source=%s error=\"%s\"", platform,
                order_id, source, mapped ? "its lines' shares do not add up" : err);
        const char *p[] = {platform, order_id, mapped ? "its lines' shares do not add up" : err};
        rf_db_exec(rf_worker_db(w),
                   "UPDATE feed_order_asks SET last_error = $3 WHERE platform = $1"
                   " AND order_id = $2",
                   3, p);
        return -1;
    }
    if (rf_bus_tx_begin(bus) != 0 || intake_db_upsert_order(rf_worker_db(w), o) != 0 ||
        rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return -1;
    }
    atomic_fetch_add(&intake_feed_counters.orders_fetched, 1);
    rf_info("event=order_recorded platform=%s shop_id=%s order_id=%s lines=%zu source=%s", platform,
            o->shop_id, o->order_id, o->n_lines, source);
    intake_feed_order_arrived(w, platform, o->order_id);
    return 0;
}
