/*
 * decide.c: deciding a review task.
 *
 * A new request's task is judged by the shop's ordered rules (rules.c) and
 * written once, decided when a rule takes it, else put in front of a person
 * (review.opened). A decision, a rule's or a person's, is carried out: told
 * to the platform first when the platform must accept it (platform.c), its
 * events (return.approved, return.rejected) sent now or after the
 * platform's yes.
 *
 * The platform's answer (review_platform_settle): when the platform's record
 * changed under the decision (the buyer changed the request: a stale
 * refundVersion or update_time, or a refusal with a newer record; the
 * record's facts in neutral terms: rf_pcalls_detail_facts) the task takes the new
 * version, amount and kind and is decided again: the rules again for an
 * automatic decision; the same decision, with the new version, for a
 * person's decision that still fits; a person again when the amount or kind
 * changed. Any other refusal sends the task back to a person and alerts
 * operations. Nothing is dropped.
 */
#include <stdio.h>
#include <string.h>

#include "review.h"
#include "platform/platform_calls.h"
#include "runtime/log.h"

/* ---- events out ----------------------------------------------------------------- */

static int emit_approved(rf_bus_t *bus, const review_task_t *t, int64_t amount,
                         const char *decided_by, const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_APPROVED, t->return_id, causation) != 0) return -1;
    rf_body_return_approved_t *b = &ev.body.return_approved;
    int rc = rf_event_set_str(&b->kind, t->kind) | rf_event_set_str(&b->decided_by, decided_by) |
             rf_event_set_str(&b->liability, t->liability) |
             rf_event_set_str(&b->destination, *t->destination ? t->destination : "merchant") |
             rf_event_set_str(&b->sku_id, t->sku_id) |
             rf_event_set_str(&b->supplier_id, t->supplier_id) |
             rf_event_set_str(&b->reason_code, t->reason_code) |
             rf_event_set_str(&b->cost_bearer, t->cost_bearer) |
             rf_event_set_str(&b->line_key, t->line_key) |
             rf_event_set_str(&b->platform, t->platform) |
             rf_event_set_str(&b->shop_id, t->shop_id) |
             rf_event_set_str(&b->platform_return_id, t->platform_return_id);
    b->platform_version = t->platform_version;
    b->refund_amount_fen = amount;
    /* a disputed return settled in the buyer's favour is refunded without
     * further goods; a returnless refund never expects them */
    b->goods_expected =
        strcmp(t->kind, "refund_only") != 0 && !t->returnless && strcmp(t->status, "disputed") != 0;
    b->returnless = t->returnless;
    b->quantity = t->quantity;
    b->line_paid_fen = t->line_paid_fen;
    b->line_quantity = t->line_quantity;
    b->shipping_fen = t->shipping_fen;
    b->freight_insured = t->freight_insured;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

static int emit_rejected(rf_bus_t *bus, const char *return_id, const char *reason_code,
                         const char *decided_by, const char *note, const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_REJECTED, return_id, causation) != 0) return -1;
    rf_body_return_rejected_t *b = &ev.body.return_rejected;
    int rc = rf_event_set_str(&b->reason_code, reason_code) |
             rf_event_set_str(&b->decided_by, decided_by) | rf_event_set_str(&b->note, note);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* Put the task in front of a person (review.opened). 0 or -1. */
static int review_reopen(rf_bus_t *bus, const review_task_t *t, const char *role,
                         const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_REVIEW_OPENED, t->return_id, causation) != 0) return -1;
    int rc = rf_event_set_str(&ev.body.review_opened.task_id, t->return_id) |
             rf_event_set_str(&ev.body.review_opened.required_role, role);
    ev.body.review_opened.deadline_at = t->deadline_at;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* The events of an accepted decision. 0 or -1. */
static int review_emit_decision(rf_bus_t *bus, const review_task_t *t, const review_decision_t *d) {
    return d->approve
               ? emit_approved(bus, t, d->amount_fen, d->by, d->causation)
               : emit_rejected(bus, t->return_id, d->reason_code, d->by, d->note, d->causation);
}

/* ---- deciding --------------------------------------------------------------------- */

/* The decision a rule takes on task t (the lower of the requested and the
 * paid amount when it approves). */
static review_decision_t rule_decision(const review_task_t *t, const review_rule_t *rule,
                                       const char *causation) {
    int64_t amount =
        t->requested_amount_fen < t->paid_amount_fen ? t->requested_amount_fen : t->paid_amount_fen;
    review_decision_t d = {rule->outcome == REVIEW_AUTO_APPROVE,
                           amount,
                           "auto",
                           rule->outcome == REVIEW_AUTO_REJECT ? rule->reject_reason : NULL,
                           rule->name,
                           causation};
    return d;
}

static void log_decided(const review_task_t *t, const review_decision_t *d, int waits) {
    rf_info("event=%s return_id=%s by=%s amount_fen=%lld platform=%s",
            d->approve ? "approved" : "rejected", t->return_id, d->by, (long long)d->amount_fen,
            waits ? "waiting_for_answer" : "-");
}

int review_carry_out(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                     const review_decision_t *d) {
    static review_policy_t pol; /* one loop thread */
    if (review_db_load_policy(db, t->shop_id, &pol) != 0) return -1;
    int waits = review_platform_call(bus, db, t, &pol, d);
    if (waits < 0) return waits;
    if (review_db_decide(db, t->return_id, d->approve ? "approved" : "rejected", d->by,
                         d->reason_code, d->note) != 0)
        return -1;
    log_decided(t, d, waits);
    if (waits) return 1; /* the events follow the platform's answer */
    return review_emit_decision(bus, t, d) == 0 ? 0 : -1;
}

/* The shop's rules (pol) on the task's facts: the first matching rule, NULL
 * for manual, in *rule. The buyer's other requests are counted only when a
 * rule looks at them. 0 or -1. */
static int judge(rf_db_t *db, const review_task_t *t, const review_policy_t *pol,
                 const review_rule_t **rule) {
    bool counted = review_policy_uses_history(pol);
    int64_t history = counted ? review_db_buyer_returns(db, t) : 0;
    if (history < 0) return -1;
    review_facts_t facts = {t->kind,        t->reason_code,          t->category,
                            t->supplier_id, t->requested_amount_fen, history};
    *rule = review_evaluate(pol, &facts);
    char seen[24] = "-";
    if (counted) snprintf(seen, sizeof seen, "%lld", (long long)history);
    rf_info("event=review_rule return_id=%s rule=%s outcome=%d buyer_returns_90d=%s"
            " liability=%s cost_bearer=%s returnless=%d",
            t->return_id, *rule ? (*rule)->name : "-", *rule ? (int)(*rule)->outcome : 0, seen,
            t->liability, t->cost_bearer, t->returnless);
    return 0;
}

/* Act on the rule's outcome: decide at once, or put the task in front of a
 * person (also when an automatic approval has no return address to give). */
static int act(rf_bus_t *bus, rf_db_t *db, const review_task_t *t, const review_policy_t *pol,
               const review_rule_t *rule, const char *causation) {
    review_outcome_t outcome = rule ? rule->outcome : REVIEW_MANUAL;
    if (outcome != REVIEW_MANUAL) {
        review_decision_t d = rule_decision(t, rule, causation);
        int rc = review_carry_out(bus, db, t, &d);
        if (rc != -2 && rc != -3) return rc < 0 ? -1 : 0;
        rf_warn("event=auto_decision_needs_person return_id=%s reason=%s destination=%s",
                t->return_id, rc == -2 ? "no_return_address" : "no_reject_reason_code",
                t->destination);
    }
    const char *role = review_required_role(pol, t->requested_amount_fen);
    if (review_db_set_required_role(db, t->return_id, role) != 0) return -1;
    return review_reopen(bus, t, role, causation);
}

/* Decide task t by the shop's rules again (after the platform's record
 * changed under an automatic decision). 0 or -1. */
static int review_redecide(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                           const char *causation) {
    static review_policy_t pol; /* one loop thread */
    const review_rule_t *rule;
    if (review_db_load_policy(db, t->shop_id, &pol) != 0 || judge(db, t, &pol, &rule) != 0)
        return -1;
    return act(bus, db, t, &pol, rule, causation);
}

/* ---- new requests --------------------------------------------------------------- */

/* The new task of a return request, as it is stored before the rules act
 * (status pending, no platform state yet). */
static void task_from_request(const rf_event_t *ev, review_task_t *t) {
    const rf_body_return_requested_t *b = &ev->body.return_requested;
    *t = (review_task_t){0};
    snprintf(t->return_id, sizeof t->return_id, "%s", ev->return_id);
    snprintf(t->kind, sizeof t->kind, "%s", b->kind);
    snprintf(t->status, sizeof t->status, "pending");
    snprintf(t->sku_id, sizeof t->sku_id, "%s", b->sku_id);
    snprintf(t->supplier_id, sizeof t->supplier_id, "%s", b->supplier_id);
    snprintf(t->liability, sizeof t->liability, "%s", review_liability(b->reason_code));
    t->quantity = b->quantity;
    t->requested_amount_fen = b->requested_amount_fen;
    t->paid_amount_fen = b->paid_amount_fen;
    snprintf(t->shop_id, sizeof t->shop_id, "%s", b->shop_id);
    snprintf(t->reason_code, sizeof t->reason_code, "%s", b->reason_code);
    snprintf(t->cost_bearer, sizeof t->cost_bearer, "%s",
             review_cost_bearer(t->liability, b->freight_insured));
    snprintf(t->line_key, sizeof t->line_key, "%s", b->line_key);
    snprintf(t->required_role, sizeof t->required_role, "cs");
    t->line_paid_fen = b->line_paid_fen;
    t->line_quantity = b->line_quantity;
    t->shipping_fen = b->shipping_fen;
    t->freight_insured = b->freight_insured;
    snprintf(t->platform, sizeof t->platform, "%s", b->platform);
    snprintf(t->platform_return_id, sizeof t->platform_return_id, "%s", b->platform_return_id);
    snprintf(t->category, sizeof t->category, "%s", b->category);
    snprintf(t->buyer_id, sizeof t->buyer_id, "%s", b->buyer_id);
    t->platform_version = b->platform_version;
    t->deadline_at = b->platform_deadline_at;
}

rf_apply_result_t review_decide_request(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev) {
    /* one loop thread: a static policy saves a large allocation per event */
    static review_policy_t policy;
    review_policy_t *pol = &policy;
    review_task_t t;
    const review_rule_t *rule;
    task_from_request(ev, &t);
    if (review_db_load_policy(db, t.shop_id, pol) != 0) return RF_APPLY_ERROR;
    t.returnless = review_returnless(pol, t.kind, t.paid_amount_fen);
    if (judge(db, &t, pol, &rule) != 0) return RF_APPLY_ERROR;
    bool automatic = rule && rule->outcome != REVIEW_MANUAL;
    review_decision_t d = {0};
    if (automatic) d = rule_decision(&t, rule, ev->event_id);
    bool decide_now = automatic && !review_platform_purpose(&t, d.approve);
    snprintf(t.required_role, sizeof t.required_role, "%s",
             automatic ? "auto" : review_required_role(pol, t.requested_amount_fen));
    int inserted = review_db_create_task(db, &t, rule ? rule->name : "", decide_now ? &d : NULL);
    if (inserted < 0) return RF_APPLY_ERROR;
    if (inserted == 0) return RF_APPLY_OK; /* already reviewed */
    int rc;
    if (decide_now) {
        log_decided(&t, &d, 0);
        rc = review_emit_decision(bus, &t, &d);
    } else if (automatic) {
        rc = act(bus, db, &t, pol, rule, ev->event_id);
    } else {
        rc = review_reopen(bus, &t, t.required_role, ev->event_id);
    }
    return rc == 0 ? RF_APPLY_OK : RF_APPLY_ERROR;
}

/* ---- the platform's answer ----------------------------------------------------- */

/* A string of the call's context, NULL when absent. */
static const char *ctx_str(json_t *ctx, const char *key) {
    return json_string_value(json_object_get(ctx, key));
}

/* The record changed under the decision: take it in and decide again. */
static const char *on_conflict(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                               const rf_pcall_t *call, review_decision_t *d,
                               const rf_pcall_facts_t *facts) {
    int64_t version = facts->version;
    int64_t amount = facts->amount_fen >= 0 ? facts->amount_fen : t->requested_amount_fen;
    const char *kind = facts->kind ? facts->kind : t->kind;
    bool changed = amount != t->requested_amount_fen || strcmp(kind, t->kind) != 0;
    static review_policy_t pol; /* one loop thread */
    if (review_db_load_policy(db, t->shop_id, &pol) != 0) return NULL;
    const char *role = review_required_role(&pol, amount);
    char note[400];
    snprintf(note, sizeof note,
             "the platform's record changed while %s was being told (version %lld -> %lld,"
             " amount %lld -> %lld fen, kind %s -> %s)",
             call->method, (long long)call->platform_version, (long long)version,
             (long long)t->requested_amount_fen, (long long)amount, t->kind, kind);
    rf_warn("event=platform_version_conflict return_id=%s call_id=%lld %s", t->return_id,
            (long long)call->call_id, note);
    review_task_t now;
    if (review_db_platform_changed(db, t->return_id, version, amount, kind, role, note) != 0 ||
        review_db_get_task(db, t->return_id, &now) != 1)
        return NULL;
    int rc;
    if (strcmp(d->by, "auto") == 0) rc = review_redecide(bus, db, &now, d->causation);
    else if (!changed) rc = review_carry_out(bus, db, &now, d) < 0 ? -1 : 0;
    else rc = review_reopen(bus, &now, role, d->causation);
    return rc == 0 ? RF_PCALL_SUPERSEDED : NULL;
}

const char *review_platform_settle(void *arg, rf_bus_t *bus, rf_db_t *db,
                                   const struct rf_pcall *call, const struct rf_pcall_outcome *o) {
    (void)arg;
    review_task_t t;
    if (review_db_get_task(db, call->return_id, &t) != 1) return NULL;
    json_t *ctx = call->context;
    const char *by = ctx_str(ctx, "by");
    review_decision_t d = {json_is_true(json_object_get(ctx, "approve")),
                           (int64_t)json_integer_value(json_object_get(ctx, "amount_fen")),
                           by ? by : "auto",
                           ctx_str(ctx, "reason_code"),
                           ctx_str(ctx, "note"),
                           ctx_str(ctx, "causation")};
    if (o->accepted) {
        if (review_db_set_platform_state(db, t.return_id, "accepted") != 0 ||
            review_emit_decision(bus, &t, &d) != 0)
            return NULL;
        return RF_PCALL_SUCCEEDED;
    }
    rf_pcall_facts_t facts;
    rf_pcalls_detail_facts(call->platform, o->detail, &facts);
    if (facts.version > 0 && facts.version != call->platform_version)
        return on_conflict(bus, db, &t, call, &d, &facts);
    /* refused for another reason: a person looks at it again */
    char why[400];
    snprintf(why, sizeof why, "the platform refused %s: %s", call->method,
             o->error ? o->error : "no answer");
    const char *role = strcmp(t.required_role, "auto") == 0 ? "cs" : t.required_role;
    if (review_db_platform_refused(db, t.return_id, why) != 0 ||
        review_db_set_required_role(db, t.return_id, role) != 0 ||
        rf_pcalls_alert(bus, t.return_id, "platform_refused", call->method, why) != 0 ||
        review_reopen(bus, &t, role, d.causation) != 0)
        return NULL;
    return RF_PCALL_FAILED;
}
