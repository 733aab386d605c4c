/*
 * review.c: the review worker's logic.
 *
 * Every return request gets a task (decide.c). The shop's ordered rules
 * (rules.c) approve or reject it at once, or send it to a person (customer
 * service up to a limit, a CS supervisor above it), who approves or rejects
 * it through the HTTP API. Liability and the cost bearer follow from the reason; the
 * destination of the goods from the supplier; a return_refund worth less
 * than its return shipping is approved without the goods. A timer raises
 * review.deadline_near, once per task, before a platform deadline passes. A
 * contradicting inspection brings the task back as disputed. On Kuaishou a
 * decision the platform must accept is told to it first and its events
 * follow the platform's answer (platform.c, decide.c).
 *
 * This file: the events consumed, the HTTP API, the deadline alerts, the
 * policy file and start-up; deciding a task is decide.c's.
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
#include "platform/shop_tokens.h"

int64_t review_deadline_scan_ms = 1000;
char review_policy_file[RF_CFG_STR_MAX];

static rf_worker_t *worker;
extern rf_pcalls_t *review_pcalls; /* review's decision calls to the platform (platform.c) */

/* ---- events in ------------------------------------------------------------------ */

rf_apply_result_t review_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED: return review_decide_request(bus, db, ev);
    case RF_EV_RETURN_CANCELLED:
        return review_db_cancel(db, ev->return_id) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    case RF_EV_RETURN_UPDATED:
        return review_db_platform_updated(db, ev) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    case RF_EV_SHOP_TOKEN: /* keyed "shop:<platform>:<shop_id>": no task to look up */
        return rf_shop_tokens_apply(db, ev, why, whylen);
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
                            "no platform return address is configured for the supplier that"
                            " takes this return's goods back (on Douyin: for any return)");
        json_decref(doc);
        return;
    }
    if (done == -3) {
        rf_bus_tx_rollback(bus);
        bool dy = strcmp(t.platform, "douyin") == 0;
        rf_http_reply_error(x, 422, "no_reject_reason_code",
                            dy ? "no Douyin reject_reason_code is configured for this rejection's"
                                 " reason (review policy douyin_reject_reason_codes)"
                               : "no Kuaishou reasonCode is configured for this rejection's reason"
                                 " (review policy kuaishou_reject_reason_codes)");
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
    int n = rf_http_query_filter(x, "status", status, sizeof status);
    if (n < 0) return;
    if (n == 0) strcpy(status, "pending");
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
