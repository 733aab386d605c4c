/*
 * platform.c: review's decision calls to the platform (Kuaishou, Douyin).
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
 *
 * On Douyin each decision is afterSale.operate (platform/pcalls_douyin.h):
 * approving a return_refund is type 101 with logistics.receiver_address_id
 * (required there: without one an automatic approval goes to a person); a
 * rejection is 202 for a refund-only request, 102 for a return, with the
 * policy's reject_reason_code for the reason ("douyin_reject_reason_codes"),
 * reason and remark; both carry update_time (the version the decision saw,
 * in seconds) so a record the buyer changed meanwhile is refused, not
 * overwritten. An exchange on Douyin makes no call (as before).
 * What the platform's answer does is decided in decide.c
 * (review_platform_settle).
 */
#include <stdio.h>
#include <string.h>

#include "review.h"
#include "platform/pcalls_douyin.h"
#include "platform/platform_calls.h"
#include "runtime/log.h"

rf_pcalls_t *review_pcalls; /* set by review_start (review.c) */

static bool douyin(const review_task_t *t) { return strcmp(t->platform, "douyin") == 0; }

const char *review_platform_purpose(const review_task_t *t, bool approve) {
    bool ks = strcmp(t->platform, "kuaishou") == 0;
    if ((!ks && !douyin(t)) || strcmp(t->status, "disputed") == 0) return NULL;
    if (douyin(t) && strcmp(t->kind, "exchange") == 0) return NULL;
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

/* afterSale.operate's param of decision d on a Douyin task (NULL: memory).
 * With calls off a decision without its address or code is still recorded
 * (not_sent): the type and the record, for the operator who does it by hand. */
static json_t *dy_param(const review_task_t *t, const review_decision_t *d, const char *address,
                        int64_t reason_code, bool on) {
    const char *remark = d->note && *d->note ? d->note : d->reason_code;
    rf_pcalls_dy_op_t op = {
        .type = d->approve                            ? RF_DY_OP_AGREE_RETURN
                : strcmp(t->kind, "refund_only") == 0 ? RF_DY_OP_REJECT_REFUND
                                                      : RF_DY_OP_REJECT_RETURN,
        .aftersale_id = t->platform_return_id,
        .version_ms = t->platform_version,
        .address_id = address,
        .reject_reason_code = reason_code,
        .reason = d->reason_code,
        .remark = remark,
    };
    char err[200];
    json_t *param = rf_pcalls_dy_operate_param(&op, err, sizeof err);
    if (!param && !on)
        return json_pack("{s:i, s:[{s:s}]}", "type", op.type, "items", "aftersale_id",
                         t->platform_return_id);
    if (!param)
        rf_error("event=platform_call_unwritable return_id=%s error=\"%s\"", t->return_id, err);
    return param;
}

/* The reject code of the task's platform for the decision's reason. */
static int64_t reject_code(const review_task_t *t, const review_policy_t *pol, const char *reason) {
    return douyin(t) ? review_dy_reject_code(pol, reason) : review_ks_reject_code(pol, reason);
}

int review_platform_call(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                         const review_policy_t *pol, const review_decision_t *d) {
    const char *purpose = review_platform_purpose(t, d->approve);
    if (!purpose) return 0;
    char address[64] = "";
    if (d->approve && review_platform_address(db, t, pol, address, sizeof address) != 0) return -1;
    bool to_supplier = strcmp(t->destination, "supplier") == 0;
    bool on = rf_pcalls_platform_enabled(t->platform);
    /* Douyin's 101 always needs an address; Kuaishou's only for a supplier */
    if (d->approve && !*address && (to_supplier || douyin(t)) && on) return -2;
    int64_t reason_code = d->approve ? 0 : reject_code(t, pol, d->reason_code);
    if (!d->approve && reason_code <= 0 && on) return -3;
    int64_t n = review_db_call_count(db, t->return_id);
    if (n < 0) return -1;
    /* the decision's key: the return, what is said, the record's version it
     * was said about, and the call's number (a decision taken again after a
     * refusal is a new call) */
    char key[200];
    snprintf(key, sizeof key, "review-%s-%s-v%lld-%lld", t->return_id, purpose,
             (long long)t->platform_version, (long long)n + 1);
    json_t *param = douyin(t) ? dy_param(t, d, address, reason_code, on)
                              : call_param(t, d, address, reason_code);
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
            .method = douyin(t) ? RF_PCALLS_DY_OPERATE
                      : strcmp(purpose, "reject") == 0
                          ? "open.refund.reject"
                          : "open.seller.order.refund.returngoods.approve",
            .idempotency_key = key,
            .platform_version = t->platform_version,
            .param = param,
            .context = context,
        };
        rc = rf_pcalls_enqueue(db, &c);
        if (rc >= 0 && !on) {
            /* calls off: the decision goes on as before, and operations are
             * told the platform has not heard it */
            char what[200];
            snprintf(what, sizeof what, "calls are off: do it in %s",
                     rf_pcalls_console(t->platform));
            rc = review_db_set_platform_state(db, t->return_id, "not_sent") != 0 ||
                         rf_pcalls_alert(bus, t->return_id, "platform_call_not_sent", c.method,
                                         what) != 0
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
