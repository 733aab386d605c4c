/*
 * refund.c: the refund worker's logic.
 *
 * An approved return gets a refund plan. A refund-only return is refunded at
 * once; a return with goods is refunded when the inspected goods justify it,
 * and held as disputed when the inspection contradicts the request. At most
 * one refund is ever recorded per return (a unique key, and the idempotency
 * key sent with the platform call). When a supplier or carrier is liable, a
 * claim is opened against them.
 */
#include <stdio.h>
#include <string.h>

#include "refund.h"
#include "rf/ids.h"
#include "rf/log.h"

static rf_worker_t *worker;

bool refund_after_inspection(const char *grade) {
    return strcmp(grade, "empty_box") != 0 && strcmp(grade, "wrong_item") != 0;
}

const char *refund_claim_party(const char *liability) {
    if (strcmp(liability, "supplier") == 0) return "supplier";
    if (strcmp(liability, "carrier") == 0) return "carrier";
    return NULL;
}

void refund_idempotency_key(const char *return_id, char *out, size_t cap) {
    snprintf(out, cap, "refund-%s", return_id);
}

/* Open a claim against the liable party, if any, and announce it. */
static int open_claim(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                      const char *causation) {
    const char *party = refund_claim_party(plan->liability);
    if (!party) return 0;
    char claim_id[RF_ULID_LEN + 1];
    rf_ulid_new(claim_id);
    const char *party_id = strcmp(party, "supplier") == 0 ? plan->supplier_id : "";
    int opened = refund_db_open_claim(db, claim_id, plan->return_id, party, party_id,
                                      plan->amount_fen);
    if (opened <= 0) return opened;
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_CLAIM_OPENED, plan->return_id, causation) != 0)
        return -1;
    int rc = rf_event_set_str(&ev.body.claim_opened.claim_id, claim_id) |
             rf_event_set_str(&ev.body.claim_opened.party, party) |
             rf_event_set_str(&ev.body.claim_opened.party_id, party_id);
    ev.body.claim_opened.amount_fen = plan->amount_fen;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* Execute the refund of a plan (inside the consumer's transaction). The
 * platform call itself belongs to the platform adapters; here the refund is
 * recorded with its idempotency key, once. */
static rf_apply_result_t issue(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                               const char *causation) {
    char refund_id[RF_ULID_LEN + 1], key[128], ref[64];
    rf_ulid_new(refund_id);
    refund_idempotency_key(plan->return_id, key, sizeof key);
    snprintf(ref, sizeof ref, "local-%s", refund_id);
    int recorded = refund_db_record_refund(db, refund_id, plan->return_id, plan->amount_fen, key,
                                           ref);
    if (recorded < 0) return RF_APPLY_ERROR;
    if (recorded == 0) {
        rf_warn("event=refund_already_issued return_id=%s", plan->return_id);
        return RF_APPLY_OK;
    }
    if (refund_db_set_plan_status(db, plan->return_id, "refunded") != 0) return RF_APPLY_ERROR;
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_REFUND_ISSUED, plan->return_id, causation) != 0)
        return RF_APPLY_ERROR;
    rf_body_refund_issued_t *b = &ev.body.refund_issued;
    int rc = rf_event_set_str(&b->refund_id, refund_id) |
             rf_event_set_str(&b->idempotency_key, key) | rf_event_set_str(&b->platform_ref, ref);
    b->amount_fen = plan->amount_fen;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    if (rc == 0) rc = open_claim(bus, db, plan, causation);
    if (rc != 0) return RF_APPLY_ERROR;
    rf_info("event=refund_issued return_id=%s refund_id=%s amount_fen=%lld", plan->return_id,
            refund_id, (long long)plan->amount_fen);
    return RF_APPLY_OK;
}

static rf_apply_result_t on_approved(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev) {
    int inserted = refund_db_insert_plan(db, ev);
    if (inserted < 0) return RF_APPLY_ERROR;
    if (inserted == 0 || ev->body.return_approved.goods_expected) return RF_APPLY_OK;
    refund_plan_t plan;
    if (refund_db_get_plan(db, ev->return_id, &plan) != 1) return RF_APPLY_ERROR;
    return issue(bus, db, &plan, ev->event_id);
}

static rf_apply_result_t on_inspected(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev,
                                      char *why, size_t whylen) {
    refund_plan_t plan;
    int found = refund_db_get_plan(db, ev->return_id, &plan);
    if (found < 0) return RF_APPLY_ERROR;
    if (!found) {
        snprintf(why, whylen, "no refund plan yet for return %s (approval not seen)",
                 ev->return_id);
        return RF_APPLY_DEFER;
    }
    if (strcmp(plan.status, "waiting_goods") != 0) return RF_APPLY_OK;
    if (strcmp(plan.kind, "exchange") == 0) {
        /* Settled with a replacement, not money: nothing to refund. */
        return refund_db_set_plan_status(db, ev->return_id, "exchange") == 0 ? RF_APPLY_OK
                                                                              : RF_APPLY_ERROR;
    }
    if (!refund_after_inspection(ev->body.goods_inspected.grade)) {
        rf_warn("event=refund_disputed return_id=%s grade=%s", ev->return_id,
                ev->body.goods_inspected.grade);
        return refund_db_set_plan_status(db, ev->return_id, "disputed") == 0 ? RF_APPLY_OK
                                                                              : RF_APPLY_ERROR;
    }
    return issue(bus, db, &plan, ev->event_id);
}

rf_apply_result_t refund_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_APPROVED: return on_approved(bus, db, ev);
    case RF_EV_GOODS_INSPECTED: return on_inspected(bus, db, ev, why, whylen);
    case RF_EV_RETURN_CANCELLED: {
        refund_plan_t plan;
        int found = refund_db_get_plan(db, ev->return_id, &plan);
        if (found < 0) return RF_APPLY_ERROR;
        if (!found || strcmp(plan.status, "waiting_goods") != 0) return RF_APPLY_OK;
        return refund_db_set_plan_status(db, ev->return_id, "cancelled") == 0 ? RF_APPLY_OK
                                                                               : RF_APPLY_ERROR;
    }
    default:
        snprintf(why, whylen, "refund does not consume %s", rf_event_type_name(ev->type));
        return RF_APPLY_REJECT;
    }
}

/* GET /v1/refunds[?return_id=X] */
bool refund_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/refunds") != 0)
        return false;
    char return_id[RF_ID_MAX];
    if (rf_http_query_param(x, "return_id", return_id, sizeof return_id) < 0) return_id[0] = '\0';
    json_t *list = refund_db_list(rf_worker_db(worker), return_id);
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", "refunds", list));
    return true;
}

int refund_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
