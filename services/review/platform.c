/*
 * platform.c: review's decision calls to the platform (Kuaishou).
 *
 * On Kuaishou a decision takes effect only when the platform accepts it:
 * approving a return that brings goods back is
 * open.seller.order.refund.returngoods.approve (refundId, refundAmount in
 * fen, addressId: the return address of the goods' destination, the
 * supplier's own, or the merchant's from the review policy; the merchant's
 * is optional as declared: without it the shop's default return address is
 * used); a rejection is open.refund.reject (refundId, reasonCode: the
 * policy's Kuaishou code for the reason, rejectDesc, refundVersion: the
 * version of the record the decision saw). The call is written with the decision
 * (platform/platform_calls.h sends it, once) and return.approved / return.rejected
 * follow only the platform's yes, so the warehouse never expects a parcel
 * the platform did not agree to. A refund-only (or returnless) approval
 * makes no call here: the refund worker's refund.approve is the refund.
 * What the platform's answer does is decided in decide.c
 * (review_platform_settle).
 */
#include <stdio.h>
#include <string.h>

#include "review.h"
#include "platform/platform_calls.h"

rf_pcalls_t *review_pcalls; /* set by review_start (review.c) */

const char *review_platform_purpose(const review_task_t *t, bool approve) {
    if (strcmp(t->platform, "kuaishou") != 0 || strcmp(t->status, "disputed") == 0) return NULL;
    if (!approve) return "reject";
    if (strcmp(t->kind, "refund_only") == 0 || t->returnless) return NULL;
    return "approve_return";
}

int review_platform_address(rf_db_t *db, const review_task_t *t, const review_policy_t *pol,
                            char *out, size_t cap) {
    if (strcmp(t->destination, "supplier") == 0)
        return review_db_supplier_address(db, t->supplier_id, out, cap);
    snprintf(out, cap, "%s", pol->return_address_id);
    return 0;
}

static json_t *call_param(const review_task_t *t, const review_decision_t *d, const char *address,
                          int64_t reason_code) {
    json_t *param = json_pack("{s:o}", "refundId", rf_pcalls_id_json(t->platform_return_id));
    if (!param) return NULL;
    int rc;
    if (d->approve) {
        rc = json_object_set_new(param, "refundAmount", json_integer(d->amount_fen));
        if (*address) rc |= json_object_set_new(param, "addressId", rf_pcalls_id_json(address));
    } else {
        rc = json_object_set_new(param, "refundVersion", json_integer(t->platform_version)) |
             json_object_set_new(param, "reasonCode", json_integer(reason_code)) |
             json_object_set_new(param, "rejectDesc",
                                 json_string(d->note && *d->note ? d->note : d->reason_code));
    }
    if (rc != 0) {
        json_decref(param);
        return NULL;
    }
    return param;
}

int review_platform_call(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                         const review_policy_t *pol, const review_decision_t *d) {
    const char *purpose = review_platform_purpose(t, d->approve);
    if (!purpose) return 0;
    char address[64] = "";
    if (d->approve && review_platform_address(db, t, pol, address, sizeof address) != 0) return -1;
    bool to_supplier = strcmp(t->destination, "supplier") == 0;
    if (d->approve && !*address && to_supplier && rf_pcalls_enabled()) return -2;
    int64_t reason_code = d->approve ? 0 : review_ks_reject_code(pol, d->reason_code);
    if (!d->approve && reason_code <= 0 && rf_pcalls_enabled()) return -3;
    int64_t n = review_db_call_count(db, t->return_id);
    if (n < 0) return -1;
    /* the decision's key: the return, what is said, the record's version it
     * was said about, and the call's number (a decision taken again after a
     * refusal is a new call) */
    char key[200];
    snprintf(key, sizeof key, "review-%s-%s-v%lld-%lld", t->return_id, purpose,
             (long long)t->platform_version, (long long)n + 1);
    json_t *param = call_param(t, d, address, reason_code);
    json_t *context = json_pack("{s:b, s:I, s:s, s:s?, s:s?, s:s?}", "approve", d->approve,
                                "amount_fen", (json_int_t)d->amount_fen, "by", d->by, "reason_code",
                                d->reason_code, "note", d->note, "causation", d->causation);
    int rc = -1;
    if (param && context) {
        rf_pcall_new_t c = {
            .return_id = t->return_id,
            .platform = t->platform,
            .platform_return_id = t->platform_return_id,
            .shop_id = t->shop_id,
            .purpose = purpose,
            .method = strcmp(purpose, "reject") == 0
                          ? "open.refund.reject"
                          : "open.seller.order.refund.returngoods.approve",
            .idempotency_key = key,
            .platform_version = t->platform_version,
            .param = param,
            .context = context,
        };
        rc = rf_pcalls_enqueue(db, &c);
        if (rc >= 0 && !rf_pcalls_enabled()) {
            /* calls off: the decision goes on as before, and operations are
             * told the platform has not heard it */
            rc = review_db_set_platform_state(db, t->return_id, "not_sent") != 0 ||
                         rf_pcalls_alert(bus, t->return_id, "platform_call_not_sent", c.method,
                                         "calls are off: do it in the Kuaishou seller console") != 0
                     ? -1
                     : 0;
        } else if (rc >= 0) {
            rc = review_db_set_platform_state(db, t->return_id, "pending") != 0 ? -1 : 1;
            rf_pcalls_kick(review_pcalls);
        }
    }
    json_decref(param);
    json_decref(context);
    return rc;
}
