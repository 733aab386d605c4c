/*
 * review.c: the review worker's logic.
 *
 * Every return request gets a task. The shop's ordered rules (rules.c)
 * approve or reject it at once, or send it to a person (customer service up
 * to a limit, a CS supervisor above it), who approves or rejects it through
 * the HTTP API. Liability and the cost bearer follow from the reason; the
 * destination of the goods from the supplier; a return_refund worth less
 * than its return shipping is approved without the goods. A timer raises
 * review.deadline_near, once per task, before a platform deadline passes. A
 * contradicting inspection brings the task back as disputed. On Kuaishou a
 * decision the platform must accept is told to it first and its events
 * follow the platform's answer (platform.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"
#include "review_ops.h"
#include "runtime/ids.h"
#include "runtime/jsonv.h"
#include "runtime/log.h"
#include "platform/platform_calls.h"

int64_t review_auto_approve_max_fen = 5000;
int64_t review_cs_limit_fen = 50000;
int64_t review_return_shipping_cost_fen = 1000;
int64_t review_deadline_scan_ms = 1000;
char review_policy_file[RF_CFG_STR_MAX];

static rf_worker_t *worker;
rf_pcalls_t *review_pcalls; /* review's decision calls to the platform (platform.c) */

static const char *const reject_reasons[] = {
    "window_expired",   "category_excluded", "quantity_exceeded", "duplicate_request",
    "order_unknown",    "condition_failed",  "reviewer_rejected", NULL};

const char *review_liability(const char *reason_code) {
    if (strcmp(reason_code, "quality") == 0 || strcmp(reason_code, "wrong_item") == 0 ||
        strcmp(reason_code, "not_as_described") == 0)
        return "supplier";
    if (strcmp(reason_code, "damaged") == 0 || strcmp(reason_code, "late") == 0) return "carrier";
    if (strcmp(reason_code, "changed_mind") == 0 || strcmp(reason_code, "size_fit") == 0)
        return "buyer";
    return "merchant";
}

bool review_reject_reason_known(const char *code) {
    for (const char *const *r = reject_reasons; *r; r++)
        if (strcmp(*r, code) == 0) return true;
    return false;
}

/* ---- events out ----------------------------------------------------------------- */

static int emit_approved(rf_bus_t *bus, const review_task_t *t, int64_t amount,
                         const char *decided_by, const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_APPROVED, t->return_id, causation) != 0)
        return -1;
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
    b->goods_expected = strcmp(t->kind, "refund_only") != 0 && !t->returnless &&
                        strcmp(t->status, "disputed") != 0;
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

int review_reopen(rf_bus_t *bus, const review_task_t *t, const char *role,
                  const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_REVIEW_OPENED, t->return_id, causation) != 0)
        return -1;
    int rc = rf_event_set_str(&ev.body.review_opened.task_id, t->return_id) |
             rf_event_set_str(&ev.body.review_opened.required_role, role);
    ev.body.review_opened.deadline_at = t->deadline_at;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

int review_emit_decision(rf_bus_t *bus, const review_task_t *t, const review_decision_t *d) {
    return d->approve ? emit_approved(bus, t, d->amount_fen, d->by, d->causation)
                      : emit_rejected(bus, t->return_id, d->reason_code, d->by, d->note,
                                      d->causation);
}

/* ---- deciding --------------------------------------------------------------------- */

/* The decision a rule takes on task t (the lower of the requested and the
 * paid amount when it approves). */
static review_decision_t rule_decision(const review_task_t *t, const review_rule_t *rule,
                                       const char *causation) {
    int64_t amount = t->requested_amount_fen < t->paid_amount_fen ? t->requested_amount_fen
                                                                   : t->paid_amount_fen;
    review_decision_t d = {rule->outcome == REVIEW_AUTO_APPROVE, amount, "auto",
                           rule->outcome == REVIEW_AUTO_REJECT ? rule->reject_reason : NULL,
                           rule->name, causation};
    return d;
}

static void log_decided(const review_task_t *t, const review_decision_t *d, int waits) {
    rf_info("event=%s return_id=%s by=%s amount_fen=%lld platform=%s", d->approve ? "approved"
            : "rejected", t->return_id, d->by, (long long)d->amount_fen,
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
    review_facts_t facts = {t->kind, t->reason_code, t->category, t->supplier_id,
                            t->requested_amount_fen, history};
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
        if (rc != -2) return rc < 0 ? -1 : 0;
        rf_warn("event=auto_decision_needs_person return_id=%s reason=no_return_address"
                " destination=%s", t->return_id, t->destination);
    }
    const char *role = review_required_role(pol, t->requested_amount_fen);
    if (review_db_set_required_role(db, t->return_id, role) != 0) return -1;
    return review_reopen(bus, t, role, causation);
}

int review_redecide(rf_bus_t *bus, rf_db_t *db, const review_task_t *t, const char *causation) {
    static review_policy_t pol; /* one loop thread */
    const review_rule_t *rule;
    if (review_db_load_policy(db, t->shop_id, &pol) != 0 || judge(db, t, &pol, &rule) != 0)
        return -1;
    return act(bus, db, t, &pol, rule, causation);
}

/* ---- events in ------------------------------------------------------------------ */

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

/* A new request: its task is judged in memory and written once, with the
 * decision when a rule takes it and no platform call must come first; a
 * decision that needs the platform's yes is carried out after the insert. */
static rf_apply_result_t on_requested(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev) {
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
    int inserted =
        review_db_create_task(db, &t, rule ? rule->name : "", decide_now ? &d : NULL);
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

rf_apply_result_t review_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED: return on_requested(bus, db, ev);
    case RF_EV_RETURN_CANCELLED:
        return review_db_cancel(db, ev->return_id) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    case RF_EV_RETURN_UPDATED:
        return review_db_platform_updated(db, ev) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    case RF_EV_GOODS_INSPECTED: {
        const char *g = ev->body.goods_inspected.grade;
        if (strcmp(g, "empty_box") != 0 && strcmp(g, "wrong_item") != 0) return RF_APPLY_OK;
        return review_db_mark_disputed(db, ev->return_id, g) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    }
    default:
        snprintf(why, whylen, "review does not consume %s", rf_event_type_name(ev->type));
        return RF_APPLY_REJECT;
    }
}

/* ---- HTTP: POST /v1/reviews/{id}/approve|reject, GET /v1/reviews --------------- */

static void decide(rf_http_exchange_t *x, const char *return_id, bool approve) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    /* The decider is the token's user; without authentication (development)
     * the body must say who decides. */
    const rf_principal_t *who = rf_worker_principal(x);
    bool authenticated = who && who->authenticated;
    const char *by = rf_worker_actor(x, doc, true, &v);
    const char *note = rf_jsonv_str(doc, "note", false, 2000, &v);
    const char *reason = approve ? NULL : rf_jsonv_str(doc, "reason_code", false, 64, &v);
    int64_t amount = rf_jsonv_i64(doc, "refund_amount_fen", false, -1, 0, INT64_MAX / 2, &v);
    if (!approve && !v.failed && !*reason) reason = "reviewer_rejected";
    if (!approve && !v.failed && !review_reject_reason_known(reason)) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "reason_code %s is not a rejection reason", reason);
    }
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    review_task_t t;
    int found;
    if (rf_bus_tx_begin(bus) != 0 || (found = review_db_get_task(db, return_id, &t)) < 0)
        goto db_err;
    bool disputed = found && strcmp(t.status, "disputed") == 0;
    if (!found || (strcmp(t.status, "pending") != 0 && !disputed)) {
        rf_bus_tx_rollback(bus);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no review task for that return");
        else {
            char msg[128];
            snprintf(msg, sizeof msg, "the return is already %s", t.status);
            rf_http_reply_error(x, 409, "already_decided", msg);
        }
        json_decref(doc);
        return;
    }
    static review_policy_t pol; /* one loop thread */
    if (review_db_load_policy(db, t.shop_id, &pol) != 0) goto db_err;
    int64_t cs_limit = pol.cs_limit_fen;
    if (authenticated && who->role == RF_ROLE_CS && disputed) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 403, "supervisor_only",
                            "a disputed return is decided by a cs_supervisor");
        json_decref(doc);
        return;
    }
    if (authenticated && who->role == RF_ROLE_CS && t.requested_amount_fen > cs_limit) {
        rf_bus_tx_rollback(bus);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%lld fen is above customer service's limit of %lld fen: a cs_supervisor decides",
                 (long long)t.requested_amount_fen, (long long)cs_limit);
        rf_http_reply_error(x, 403, "above_cs_limit", msg);
        json_decref(doc);
        return;
    }
    if (amount < 0) amount = t.requested_amount_fen;
    if (amount > t.paid_amount_fen) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 422, "amount_exceeds_paid",
                            "refund_amount_fen is more than was paid for the line");
        json_decref(doc);
        return;
    }
    review_decision_t d = {approve, amount, by, reason, note, NULL};
    int done = review_carry_out(bus, db, &t, &d);
    if (done == -2) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 422, "no_return_address",
                            "no platform return address is configured for this return's"
                            " destination (review policy return_address_id, or the supplier's)");
        json_decref(doc);
        return;
    }
    if (done < 0 || rf_bus_tx_commit(bus) != 0) goto db_err;
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s, s:s}", "return_id", return_id, "status",
                                 approve ? "approved" : "rejected", "platform",
                                 done == 1 ? "waiting_for_answer" : "not_needed_or_off"));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the decision; retry");
    json_decref(doc);
}

static void list_reviews(rf_http_exchange_t *x) {
    char status[32];
    if (rf_http_query_param(x, "status", status, sizeof status) <= 0) strcpy(status, "pending");
    json_t *list = review_db_list(rf_worker_db(worker), status);
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", "reviews", list));
}

bool review_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    const char *method = rf_http_method(x), *path = rf_http_path(x);
    char id[RF_ID_MAX];
    bool post = strcmp(method, "POST") == 0;
    if (rf_pcalls_route(rf_worker_db(worker), x)) return true;
    if (post && rf_path_match(path, "/v1/reviews/{}/approve", id, sizeof id)) decide(x, id, true);
    else if (post && rf_path_match(path, "/v1/reviews/{}/reject", id, sizeof id))
        decide(x, id, false);
    else if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/reviews") == 0) list_reviews(x);
    else return false;
    return true;
}

/* ---- deadline alerts --------------------------------------------------------------- */

static uv_timer_t deadline_timer;

/* Raise review.deadline_near, once per task, for every undecided task whose
 * platform deadline is within RF_REVIEW_DEADLINE_WARN_S. */
static void scan_deadlines(uv_timer_t *timer) {
    (void)timer;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    if (!rf_db_connected(db) || rf_bus_tx_begin(bus) != 0) return;
    json_t *due = review_db_take_deadline_alerts(db, review_deadline_warn_s * 1000);
    int rc = due ? 0 : -1;
    size_t i;
    json_t *d;
    json_array_foreach(due, i, d) {
        const char *rid = json_string_value(json_object_get(d, "return_id"));
        rf_event_t ev;
        if (!rid || rf_bus_event_init(bus, &ev, RF_EV_REVIEW_DEADLINE_NEAR, rid, NULL) != 0) {
            rc = -1;
            break;
        }
        rf_body_review_deadline_near_t *b = &ev.body.review_deadline_near;
        const char *role = json_string_value(json_object_get(d, "required_role"));
        rc = rf_event_set_str(&b->task_id, rid) | rf_event_set_str(&b->required_role, role);
        b->deadline_at = json_integer_value(json_object_get(d, "deadline_at"));
        if (rc == 0) rc = rf_bus_emit(bus, &ev);
        rf_event_clear(&ev);
        if (rc != 0) break;
        rf_warn("event=deadline_near return_id=%s deadline_at=%lld required_role=%s", rid,
                (long long)b->deadline_at, role ? role : "");
    }
    json_decref(due);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) rf_bus_tx_rollback(bus);
}

/* ---- policy file ---------------------------------------------------------------------- */

/* RF_REVIEW_POLICY_FILE: {"default": {...}, "shops": {id: {...}},
 * "suppliers": {id: {"destination": "supplier"}}}; checked whole first. */
static int load_policy_file(rf_db_t *db) {
    if (!*review_policy_file) return 0;
    json_error_t jerr;
    json_t *doc = json_load_file(review_policy_file, 0, &jerr);
    if (!doc) {
        rf_error("event=policy_file_invalid file=%s line=%d error=\"%s\"", review_policy_file,
                 jerr.line, jerr.text);
        return -1;
    }
    review_policy_t *scratch = malloc(sizeof *scratch);
    char err[200] = "";
    int rc = scratch ? 0 : -1;
    json_t *def = json_object_get(doc, "default"), *shops = json_object_get(doc, "shops"),
           *sups = json_object_get(doc, "suppliers"), *pol;
    const char *key;
    if (rc == 0 && def) {
        review_policy_default(scratch);
        rc = review_policy_from_json(def, scratch, err, sizeof err);
    }
    if (rc == 0 && shops) json_object_foreach(shops, key, pol) {
            review_policy_default(scratch);
            if ((rc = review_policy_from_json(pol, scratch, err, sizeof err)) != 0) break;
        }
    if (rc == 0 && sups) json_object_foreach(sups, key, pol) {
            const char *dest = json_string_value(json_object_get(pol, "destination"));
            if (!dest || (strcmp(dest, "merchant") != 0 && strcmp(dest, "supplier") != 0)) {
                snprintf(err, sizeof err, "suppliers.%s.destination must be merchant or supplier",
                         key);
                rc = -1;
                break;
            }
            json_t *addr = json_object_get(pol, "return_address_id");
            if (addr && !json_is_string(addr)) {
                snprintf(err, sizeof err, "suppliers.%s.return_address_id must be text", key);
                rc = -1;
                break;
            }
        }
    free(scratch);
    if (rc != 0) {
        rf_error("event=policy_file_invalid file=%s error=\"%s\"", review_policy_file, err);
        json_decref(doc);
        return -1;
    }
    rc = rf_db_begin(db);
    if (rc == 0 && def) {
        char *text = json_dumps(def, JSON_COMPACT);
        rc = text ? review_db_store_policy(db, "*", text) : -1;
        free(text);
    }
    if (rc == 0 && shops) json_object_foreach(shops, key, pol) {
            char *text = json_dumps(pol, JSON_COMPACT);
            rc = text ? review_db_store_policy(db, key, text) : -1;
            free(text);
            if (rc != 0) break;
        }
    if (rc == 0 && sups) json_object_foreach(sups, key, pol) {
            rc = review_db_store_supplier(
                db, key, json_string_value(json_object_get(pol, "destination")),
                json_string_value(json_object_get(pol, "return_address_id")));
            if (rc != 0) break;
        }
    if (rc == 0) rc = rf_db_commit(db);
    else rf_db_rollback(db);
    json_decref(doc);
    review_db_policy_cache_clear();
    if (rc == 0) rf_info("event=policy_loaded file=%s", review_policy_file);
    return rc;
}

int review_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    if (load_policy_file(rf_worker_db(w)) != 0) return -1;
    review_pcalls = rf_pcalls_new(w, review_platform_settle, NULL);
    if (!review_pcalls) return -1;
    uv_timer_init(rf_worker_loop(w), &deadline_timer);
    uv_unref((uv_handle_t *)&deadline_timer);
    uv_timer_start(&deadline_timer, scan_deadlines, (uint64_t)review_deadline_scan_ms,
                   (uint64_t)review_deadline_scan_ms);
    return 0;
}
