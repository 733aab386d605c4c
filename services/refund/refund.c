/*
 * refund.c: the refund worker's logic.
 *
 * An approved return gets a refund plan. A refund-only (or returnless) return
 * is refunded at once; a return with goods when the inspected goods justify
 * it, and held as disputed when the inspection contradicts the request; an
 * exchange is settled with goods, never money. The amount follows the money
 * rules (money.c) and the line's ledger (never more than was paid for the
 * line across all its refunds). Above the finance threshold a refund waits
 * for a finance approval (POST /v1/refunds/{return_id}/approve). Execution
 * goes through a platform adapter with an idempotency key derived from the
 * return; a failed call is retried with backoff from a timer, then ends in
 * refund.failed (an alert to operations). On Kuaishou the platform pays:
 * the refund is a platform call instead (platform.c), settled here by its answer
 * (refund_platform_settle). When a supplier or carrier is liable, a claim records what they
 * owe, later settled or written off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refund.h"
#include "runtime/ids.h"
#include "runtime/jsonv.h"
#include "runtime/log.h"
#include "platform/platform_calls.h"
#include "platform/shop_tokens.h"

int64_t refund_finance_threshold_fen = 100000;
int64_t refund_return_shipping_fen = 0;
int64_t refund_retry_max = 5;
int64_t refund_retry_base_ms = 500;

static rf_worker_t *worker;
extern rf_pcalls_t *refund_pcalls; /* the money calls to the platform (platform.c) */
static const refund_adapter_t *adapter = &refund_sandbox_adapter;

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

static int emit_claim_opened(rf_bus_t *bus, const char *return_id, const char *claim_id,
                             const char *party, const char *party_id, int64_t amount,
                             const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_CLAIM_OPENED, return_id, causation) != 0) return -1;
    int rc = rf_event_set_str(&ev.body.claim_opened.claim_id, claim_id) |
             rf_event_set_str(&ev.body.claim_opened.party, party) |
             rf_event_set_str(&ev.body.claim_opened.party_id, party_id);
    ev.body.claim_opened.amount_fen = amount;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* The party a plan's claim is against (NULL: none) and its id. */
static const char *claim_party(const refund_plan_t *plan, const char **party_id) {
    const char *party = refund_claim_party(plan->liability);
    *party_id = party && strcmp(party, "supplier") == 0 ? plan->supplier_id : "";
    return party;
}

/* Open a claim against the liable party, if any, and announce it. */
static int open_claim(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan, int64_t amount,
                      const char *causation) {
    const char *party_id, *party = claim_party(plan, &party_id);
    if (!party) return 0;
    char claim_id[RF_ULID_LEN + 1];
    rf_ulid_new(claim_id);
    int opened = refund_db_open_claim(db, claim_id, plan->return_id, party, party_id, amount);
    if (opened <= 0) return opened;
    return emit_claim_opened(bus, plan->return_id, claim_id, party, party_id, amount, causation);
}

static int emit_refund_event(rf_bus_t *bus, rf_event_type_t type, const refund_row_t *r,
                             const char *text, const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, type, r->return_id, causation) != 0) return -1;
    int rc = 0;
    switch (type) {
    case RF_EV_REFUND_ISSUED:
        rc = rf_event_set_str(&ev.body.refund_issued.refund_id, r->refund_id) |
             rf_event_set_str(&ev.body.refund_issued.idempotency_key, r->idempotency_key) |
             rf_event_set_str(&ev.body.refund_issued.platform_ref, text);
        ev.body.refund_issued.amount_fen = r->amount_fen;
        break;
    case RF_EV_REFUND_FAILED:
        rc = rf_event_set_str(&ev.body.refund_failed.refund_id, r->refund_id) |
             rf_event_set_str(&ev.body.refund_failed.error, text);
        ev.body.refund_failed.amount_fen = r->amount_fen;
        break;
    case RF_EV_REFUND_APPROVED:
        rc = rf_event_set_str(&ev.body.refund_approved.refund_id, r->refund_id) |
             rf_event_set_str(&ev.body.refund_approved.approved_by, text);
        ev.body.refund_approved.amount_fen = r->amount_fen;
        break;
    case RF_EV_REFUND_AWAITING_APPROVAL:
        rc = rf_event_set_str(&ev.body.refund_awaiting_approval.refund_id, r->refund_id);
        ev.body.refund_awaiting_approval.amount_fen = r->amount_fen;
        ev.body.refund_awaiting_approval.threshold_fen = refund_finance_threshold_fen;
        break;
    default: rc = -1;
    }
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* What follows a refund the platform made (or refused for good). */
static int refund_issued(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                         const char *platform_ref, const char *causation) {
    refund_row_t r;
    refund_plan_t plan;
    if (refund_db_get_refund(db, return_id, &r) != 1 ||
        refund_db_get_plan(db, return_id, &plan) != 1)
        return -1;
    if (strcmp(r.status, "pending") != 0) return 0; /* settled already */
    if (refund_db_refund_issued(db, r.refund_id, platform_ref) != 0 ||
        refund_db_set_plan_status(db, return_id, "refunded") != 0 ||
        emit_refund_event(bus, RF_EV_REFUND_ISSUED, &r, platform_ref, causation) != 0 ||
        open_claim(bus, db, &plan, r.amount_fen, causation) != 0)
        return -1;
    rf_info("event=refund_issued return_id=%s refund_id=%s amount_fen=%lld platform_ref=%s",
            return_id, r.refund_id, (long long)r.amount_fen, platform_ref);
    return 0;
}

static int refund_failed_final(rf_bus_t *bus, rf_db_t *db, const char *return_id, const char *error,
                               const char *causation) {
    refund_row_t r;
    if (refund_db_get_refund(db, return_id, &r) != 1) return -1;
    if (strcmp(r.status, "pending") != 0) return 0; /* settled already */
    rf_error("event=refund_failed return_id=%s refund_id=%s attempts=%lld error=\"%s\"", return_id,
             r.refund_id, (long long)r.attempts + 1, error);
    if (refund_db_refund_attempt_failed(db, r.refund_id, error, 0, true) != 0 ||
        refund_db_set_plan_status(db, return_id, "failed") != 0 ||
        emit_refund_event(bus, RF_EV_REFUND_FAILED, &r, error, causation) != 0)
        return -1;
    return 0;
}

const char *refund_platform_settle(void *arg, rf_bus_t *bus, rf_db_t *db,
                                   const struct rf_pcall *call, const struct rf_pcall_outcome *o) {
    (void)arg;
    if (o->accepted) {
        char ref[200];
        snprintf(ref, sizeof ref, "%s-%s%s", call->platform, call->platform_return_id,
                 o->already_done ? "-already" : "");
        return refund_issued(bus, db, call->return_id, ref, NULL) == 0 ? RF_PCALL_SUCCEEDED : NULL;
    }
    char why[400];
    snprintf(why, sizeof why, "platform refused %s: %s", call->method,
             o->error ? o->error : "no answer");
    return refund_failed_final(bus, db, call->return_id, why, NULL) == 0 ? RF_PCALL_FAILED : NULL;
}

static void log_attempt_failed(const refund_row_t *r, int64_t delay_ms, const char *err) {
    rf_warn("event=refund_attempt_failed return_id=%s refund_id=%s attempt=%lld"
            " retry_in_ms=%lld error=\"%s\"",
            r->return_id, r->refund_id, (long long)r->attempts + 1, (long long)delay_ms, err);
}

/* One attempt at the platform call for the return's pending refund (inside
 * the caller's transaction). 0 (done, failed, rescheduled or handed to the
 * platform call) or -1 (db). */
static int attempt(rf_bus_t *bus, rf_db_t *db, const char *return_id, const char *causation) {
    refund_row_t r;
    refund_plan_t plan;
    int found = refund_db_get_refund(db, return_id, &r);
    if (found <= 0) return found;
    if (strcmp(r.status, "pending") != 0) return 0;
    if (refund_db_get_plan(db, return_id, &plan) != 1) return -1;
    int handed = refund_platform_call(bus, db, &plan, &r);
    if (handed < 0) return -1;
    if (handed > 0) return refund_db_refund_park(db, r.refund_id); /* the answer settles it */
    char ref[128], err[256] = "";
    refund_call_t call = {r.return_id, r.refund_id, r.idempotency_key, r.amount_fen};
    int ok = adapter->execute(db, &call, ref, sizeof ref, err, sizeof err);
    if (ok < -1) return -1; /* the adapter's own database write failed */
    if (ok == 0) return refund_issued(bus, db, return_id, ref, causation);
    if (r.attempts + 1 >= refund_retry_max)
        return refund_failed_final(bus, db, return_id, err, causation);
    int64_t delay = refund_retry_delay_ms(refund_retry_base_ms, (int)r.attempts + 1);
    if (refund_db_refund_attempt_failed(db, r.refund_id, err, delay, false) != 0) return -1;
    log_attempt_failed(&r, delay, err);
    return 0;
}

/* The first attempt at refund r of plan, before anything of it is written:
 * the platform call (Kuaishou), or the adapter; w says what is written. 0 or
 * -1 (db). */
static int first_attempt(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                         const refund_row_t *r, refund_write_t *w, char *ref, size_t refcap,
                         char *err, size_t errcap) {
    w->refund_status = "pending";
    w->plan_status = "refunding";
    int handed = refund_platform_call(bus, db, plan, r);
    if (handed < 0) return -1;
    if (handed > 0) return 0; /* parked: the platform's answer settles it */
    refund_call_t call = {r->return_id, r->refund_id, r->idempotency_key, r->amount_fen};
    int ok = adapter->execute(db, &call, ref, refcap, err, errcap);
    if (ok < -1) return -1; /* the adapter's own database write failed */
    w->attempts = 1;
    if (ok == 0) {
        w->refund_status = "issued";
        w->plan_status = "refunded";
        w->platform_ref = ref;
        w->party = claim_party(plan, &w->party_id);
        return 0;
    }
    w->error = err;
    if (w->attempts >= refund_retry_max) {
        rf_error("event=refund_failed return_id=%s refund_id=%s attempts=1 error=\"%s\"",
                 r->return_id, r->refund_id, err);
        w->refund_status = "failed";
        w->plan_status = "failed";
        return 0;
    }
    w->next_attempt_ms = refund_retry_delay_ms(refund_retry_base_ms, 1);
    log_attempt_failed(r, w->next_attempt_ms, err);
    return 0;
}

/* The events of a refund just written. */
static int emit_written(rf_bus_t *bus, const refund_row_t *r, const refund_write_t *w,
                        bool claim_opened, const char *causation) {
    if (strcmp(w->refund_status, "awaiting_approval") == 0)
        return emit_refund_event(bus, RF_EV_REFUND_AWAITING_APPROVAL, r, "", causation);
    if (strcmp(w->refund_status, "failed") == 0)
        return emit_refund_event(bus, RF_EV_REFUND_FAILED, r, w->error, causation);
    if (strcmp(w->refund_status, "issued") != 0) return 0;
    rf_info("event=refund_issued return_id=%s refund_id=%s amount_fen=%lld platform_ref=%s",
            r->return_id, r->refund_id, (long long)r->amount_fen, w->platform_ref);
    if (emit_refund_event(bus, RF_EV_REFUND_ISSUED, r, w->platform_ref, causation) != 0) return -1;
    if (!claim_opened) return 0;
    return emit_claim_opened(bus, r->return_id, w->claim_id, w->party, w->party_id, r->amount_fen,
                             causation);
}

/* Compute the refund of a plan and run it now, or hold it for finance; then
 * write the plan (new, or its status), the refund and any claim at once.
 * Inside the caller's transaction; the plan, when not new, is locked. */
static rf_apply_result_t start_refund(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                                      bool plan_is_new, const refund_line_t *line,
                                      const char *causation) {
    if (line->refund_exists) {
        rf_warn("event=refund_already_recorded return_id=%s", plan->return_id);
        return RF_APPLY_OK;
    }
    refund_money_in_t in = {
        .requested_fen = plan->amount_fen,
        .line_paid_fen = plan->line_paid_fen,
        .line_quantity = plan->line_quantity,
        .shipping_fen = plan->shipping_fen,
        .units = plan->quantity,
        .units_before = line->units_before,
        .refunded_before_fen = line->fen_before,
        .seller_at_fault = refund_seller_at_fault(plan->liability),
        .buyer_pays_return = strcmp(plan->cost_bearer, "buyer") == 0 && plan->goods_expected,
        .return_shipping_fen = refund_return_shipping_fen,
        .exchange = strcmp(plan->kind, "exchange") == 0,
    };
    char refund_id[RF_ULID_LEN + 1], claim_id[RF_ULID_LEN + 1], key[128];
    refund_write_t w = {.refund_id = refund_id,
                        .idempotency_key = key,
                        .claim_id = claim_id,
                        .next_attempt_ms = -1};
    if (refund_compute(&in, &w.money) != 0) return RF_APPLY_ERROR;
    rf_ulid_new(refund_id);
    rf_ulid_new(claim_id);
    refund_idempotency_key(plan->return_id, key, sizeof key);
    refund_row_t r = {.amount_fen = w.money.amount_fen};
    snprintf(r.refund_id, sizeof r.refund_id, "%s", refund_id);
    snprintf(r.return_id, sizeof r.return_id, "%s", plan->return_id);
    snprintf(r.status, sizeof r.status, "pending");
    snprintf(r.idempotency_key, sizeof r.idempotency_key, "%s", key);
    bool finance = refund_needs_finance(w.money.amount_fen, refund_finance_threshold_fen);
    rf_info("event=refund_computed return_id=%s amount_fen=%lld goods_fen=%lld shipping_fen=%lld"
            " deduction_fen=%lld cap_fen=%lld requested_fen=%lld finance=%d",
            plan->return_id, (long long)w.money.amount_fen, (long long)w.money.goods_fen,
            (long long)w.money.shipping_fen, (long long)w.money.deduction_fen,
            (long long)w.money.cap_fen, (long long)plan->amount_fen, finance);
    char ref[128], err[256] = "";
    if (finance) {
        w.refund_status = w.plan_status = "awaiting_approval";
        w.next_attempt_ms = 0;
    } else if (first_attempt(bus, db, plan, &r, &w, ref, sizeof ref, err, sizeof err) != 0) {
        return RF_APPLY_ERROR;
    }
    bool claim_opened = false;
    int written = refund_db_write_refund(db, plan, plan_is_new, &w, &claim_opened);
    if (written < 0) return RF_APPLY_ERROR;
    if (written == 0) {
        /* written meanwhile by another transaction: undo this one, and the
         * redelivery finds what it wrote */
        rf_warn("event=refund_write_conflict return_id=%s", plan->return_id);
        return RF_APPLY_ERROR;
    }
    return emit_written(bus, &r, &w, claim_opened, causation) == 0 ? RF_APPLY_OK : RF_APPLY_ERROR;
}

/* The plan of an approval, as first written (waiting for goods). */
static void plan_from_approval(const rf_event_t *ev, refund_plan_t *plan) {
    const rf_body_return_approved_t *b = &ev->body.return_approved;
    *plan = (refund_plan_t){0};
    snprintf(plan->return_id, sizeof plan->return_id, "%s", ev->return_id);
    snprintf(plan->kind, sizeof plan->kind, "%s", b->kind);
    snprintf(plan->liability, sizeof plan->liability, "%s", b->liability);
    snprintf(plan->supplier_id, sizeof plan->supplier_id, "%s", b->supplier_id);
    snprintf(plan->status, sizeof plan->status, "waiting_goods");
    plan->amount_fen = b->refund_amount_fen;
    plan->goods_expected = b->goods_expected;
    snprintf(plan->reason_code, sizeof plan->reason_code, "%s", b->reason_code);
    snprintf(plan->cost_bearer, sizeof plan->cost_bearer, "%s", b->cost_bearer);
    snprintf(plan->line_key, sizeof plan->line_key, "%s", b->line_key);
    plan->quantity = b->quantity > 0 ? b->quantity : 1;
    plan->line_paid_fen = b->line_paid_fen;
    plan->line_quantity = b->line_quantity;
    plan->shipping_fen = b->shipping_fen;
    plan->freight_insured = b->freight_insured;
    snprintf(plan->platform, sizeof plan->platform, "%s", b->platform);
    snprintf(plan->shop_id, sizeof plan->shop_id, "%s", b->shop_id);
    snprintf(plan->platform_return_id, sizeof plan->platform_return_id, "%s",
             b->platform_return_id);
    plan->platform_version = b->platform_version;
}

static rf_apply_result_t on_approved(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev) {
    refund_plan_t plan;
    refund_line_t line;
    plan_from_approval(ev, &plan);
    /* goods expected: the plan waits for the inspection (a plan that
     * exists stays as it is) */
    if (plan.goods_expected)
        return refund_db_insert_plan(db, &plan) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    if (refund_db_line_facts(db, &plan, &line) != 0) return RF_APPLY_ERROR;
    /* a new plan is written with its refund, in its final status */
    if (!line.plan_exists) return start_refund(bus, db, &plan, true, &line, ev->event_id);
    /* A second approval settles a dispute in the buyer's favour. */
    if (refund_db_get_plan(db, ev->return_id, &plan) != 1) return RF_APPLY_ERROR;
    if (strcmp(plan.status, "disputed") != 0) return RF_APPLY_OK;
    plan.amount_fen = ev->body.return_approved.refund_amount_fen;
    plan.goods_expected = false;
    if (refund_db_line_facts(db, &plan, &line) != 0) return RF_APPLY_ERROR; /* now locked */
    return start_refund(bus, db, &plan, false, &line, ev->event_id);
}

static rf_apply_result_t on_inspected(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev, char *why,
                                      size_t whylen) {
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
    refund_line_t line;
    if (refund_db_line_facts(db, &plan, &line) != 0) return RF_APPLY_ERROR;
    return start_refund(bus, db, &plan, false, &line, ev->event_id);
}

static rf_apply_result_t on_cancelled(rf_db_t *db, const rf_event_t *ev) {
    refund_plan_t plan;
    int found = refund_db_get_plan(db, ev->return_id, &plan);
    if (found < 0) return RF_APPLY_ERROR;
    if (!found) return RF_APPLY_OK;
    if (strcmp(plan.status, "waiting_goods") != 0 && strcmp(plan.status, "awaiting_approval") != 0)
        return RF_APPLY_OK; /* already refunded or settled: nothing to stop */
    if (refund_db_refund_cancel(db, ev->return_id) != 0 ||
        refund_db_set_plan_status(db, ev->return_id, "cancelled") != 0)
        return RF_APPLY_ERROR;
    rf_info("event=refund_cancelled return_id=%s was=%s", ev->return_id, plan.status);
    return RF_APPLY_OK;
}

rf_apply_result_t refund_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_APPROVED: return on_approved(bus, db, ev);
    case RF_EV_GOODS_INSPECTED: return on_inspected(bus, db, ev, why, whylen);
    case RF_EV_RETURN_CANCELLED: return on_cancelled(db, ev);
    case RF_EV_SHOP_TOKEN: /* keyed "shop:<platform>:<shop_id>": no plan to look up */
        return rf_shop_tokens_apply(db, ev, why, whylen);
    default:
        snprintf(why, whylen, "refund does not consume %s", rf_event_type_name(ev->type));
        return RF_APPLY_REJECT;
    }
}

/* ---- retries ------------------------------------------------------------------------ */

static uv_timer_t retry_timer;

static void retry_due(uv_timer_t *timer) {
    (void)timer;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    if (!rf_db_connected(db)) return;
    json_t *due = refund_db_due_retries(db);
    size_t i;
    json_t *rid;
    json_array_foreach(due, i, rid) {
        if (rf_bus_tx_begin(bus) != 0) break;
        if (attempt(bus, db, json_string_value(rid), NULL) != 0 || rf_bus_tx_commit(bus) != 0)
            rf_bus_tx_rollback(bus);
    }
    json_decref(due);
}

/* ---- HTTP ----------------------------------------------------------------------------- */

/* POST /v1/refunds/{return_id}/approve (finance) */
static void approve_refund(rf_http_exchange_t *x, const char *return_id) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *by = rf_worker_actor(x, doc, true, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    refund_row_t r;
    int found;
    if (rf_bus_tx_begin(bus) != 0 || (found = refund_db_get_refund(db, return_id, &r)) < 0)
        goto db_err;
    if (!found || strcmp(r.status, "awaiting_approval") != 0) {
        rf_bus_tx_rollback(bus);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no refund for that return");
        else {
            char msg[128];
            snprintf(msg, sizeof msg, "the refund is %s, not awaiting approval", r.status);
            rf_http_reply_error(x, 409, "not_awaiting_approval", msg);
        }
        json_decref(doc);
        return;
    }
    if (refund_db_refund_approve(db, r.refund_id, by) != 0 ||
        refund_db_set_plan_status(db, return_id, "refunding") != 0 ||
        emit_refund_event(bus, RF_EV_REFUND_APPROVED, &r, by, NULL) != 0 ||
        attempt(bus, db, return_id, NULL) != 0 || rf_bus_tx_commit(bus) != 0)
        goto db_err;
    rf_info("event=refund_approved return_id=%s refund_id=%s by=%s amount_fen=%lld", return_id,
            r.refund_id, by, (long long)r.amount_fen);
    refund_row_t now;
    const char *status = "refunding";
    if (refund_db_get_refund(db, return_id, &now) == 1) status = now.status;
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s, s:I, s:s}", "return_id", return_id, "refund_id",
                                 r.refund_id, "amount_fen", (json_int_t)r.amount_fen, "status",
                                 status));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not approve the refund; retry");
    json_decref(doc);
}

/* POST /v1/claims/{claim_id}/settle | /write-off (finance) */
static void close_claim(rf_http_exchange_t *x, const char *claim_id, const char *status) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *by = rf_worker_actor(x, doc, true, &v);
    const char *note = rf_jsonv_str(doc, "note", false, 2000, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    int n = refund_db_claim_close(rf_worker_db(worker), claim_id, status, by, note);
    if (n < 0) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else if (n == 0) rf_http_reply_error(x, 409, "not_open", "no open claim with that id");
    else {
        rf_info("event=claim_closed claim_id=%s status=%s by=%s", claim_id, status, by);
        rf_http_reply_json(x, 200, json_pack("{s:s, s:s}", "claim_id", claim_id, "status", status));
    }
    json_decref(doc);
}

static void reply_list(rf_http_exchange_t *x, const char *key, json_t *list) {
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", key, list));
}

bool refund_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    const char *method = rf_http_method(x), *path = rf_http_path(x);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char id[RF_ID_MAX];
    rf_db_t *db = rf_worker_db(worker);
    if (rf_pcalls_route(db, x)) return true;
    if (get && strcmp(path, "/v1/refunds") == 0) {
        if (rf_http_query_filter(x, "return_id", id, sizeof id) < 0) return true;
        reply_list(x, "refunds", refund_db_list(db, id));
    } else if (get && strcmp(path, "/v1/claims") == 0) {
        if (rf_http_query_filter(x, "party_id", id, sizeof id) < 0) return true;
        reply_list(x, "claims", refund_db_claims(db, id));
    } else if (get && rf_path_match(path, "/v1/suppliers/{}/balance", id, sizeof id)) {
        json_t *doc = refund_db_supplier_balance(db, id);
        if (!doc) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
        else rf_http_reply_json(x, 200, doc);
    } else if (post && rf_path_match(path, "/v1/refunds/{}/approve", id, sizeof id)) {
        approve_refund(x, id);
    } else if (post && rf_path_match(path, "/v1/claims/{}/settle", id, sizeof id)) {
        close_claim(x, id, "settled");
    } else if (post && rf_path_match(path, "/v1/claims/{}/write-off", id, sizeof id)) {
        close_claim(x, id, "written_off");
    } else {
        return false;
    }
    return true;
}

int refund_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    rf_info("event=refund_adapter name=%s sandbox=%d", adapter->name, adapter->sandbox);
    refund_pcalls = rf_pcalls_new(w, refund_platform_settle, NULL);
    if (!refund_pcalls) return -1;
    uv_timer_init(rf_worker_loop(w), &retry_timer);
    uv_unref((uv_handle_t *)&retry_timer);
    uint64_t every = (uint64_t)(refund_retry_base_ms < 200 ? refund_retry_base_ms : 200);
    uv_timer_start(&retry_timer, retry_due, every, every);
    return 0;
}
