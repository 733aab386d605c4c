/*
 * platform.c: the refund worker's money calls to the platform (Kuaishou, Douyin).
 *
 * On Kuaishou the platform pays the buyer; the merchant's part is to say so.
 * A refund-only request (or a return refunded without its goods) is agreed
 * with open.seller.order.refund.approve (refundId, refundAmount in fen) when
 * the refund is issued, after finance's approval when above the limit; a
 * return whose goods came back and passed inspection is confirmed with
 * open.seller.order.refund.confirm.receipt, which makes the platform refund.
 * The call is written with the refund (platform/platform_calls.h sends it, once);
 * the platform's yes is refund.issued, its final no refund.failed and an
 * alert, as the sandbox adapter's failures are (refund.c settles the answer:
 * refund_platform_settle). On Douyin the same two are afterSale.operate
 * (platform/pcalls_douyin.h): type 201 agrees a refund-only request (the
 * platform refunds what was asked), type 111 agrees the refund once the goods
 * came back; neither carries update_time (the plan knows the version review
 * decided on, not the record's since: the buyer's shipping changes it).
 * Other platforms, and an exchange, go through the adapter as before.
 */
#include <stdio.h>
#include <string.h>

#include "refund.h"
#include "runtime/log.h"
#include "platform/pcalls_douyin.h"
#include "platform/platform_calls.h"

rf_pcalls_t *refund_pcalls; /* set by refund_start (refund.c) */

const char *refund_platform_purpose(const refund_plan_t *plan) {
    if (strcmp(plan->kind, "exchange") == 0) return NULL;
    return plan->goods_expected ? "confirm_receipt" : "approve_refund";
}

static bool douyin(const refund_plan_t *plan) { return strcmp(plan->platform, "douyin") == 0; }

/* The param of the call (new ref; NULL: memory). */
static json_t *call_param(const refund_plan_t *plan, const refund_row_t *r, const char *purpose) {
    bool approve = strcmp(purpose, "approve_refund") == 0;
    if (douyin(plan)) {
        char err[200];
        rf_pcalls_dy_op_t op = {.type = approve ? RF_DY_OP_AGREE_REFUND : RF_DY_OP_AGREE_RECEIPT,
                                .aftersale_id = plan->platform_return_id};
        json_t *param = rf_pcalls_dy_operate_param(&op, err, sizeof err);
        if (!param)
            rf_error("event=platform_call_unwritable return_id=%s error=\"%s\"", plan->return_id,
                     err);
        return param;
    }
    json_t *param = json_pack("{s:o}", "refundId", rf_pcalls_id_json(plan->platform_return_id));
    if (param && approve &&
        json_object_set_new(param, "refundAmount", json_integer(r->amount_fen)) != 0) {
        json_decref(param);
        return NULL;
    }
    return param;
}

const char *refund_platform_method(const char *purpose) {
    if (strcmp(purpose, "approve_refund") == 0) return "open.seller.order.refund.approve";
    if (strcmp(purpose, "confirm_receipt") == 0) return "open.seller.order.refund.confirm.receipt";
    return NULL;
}

int refund_platform_call(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                         const refund_row_t *r) {
    if (strcmp(plan->platform, "kuaishou") != 0 && !douyin(plan)) return 0;
    const char *purpose = refund_platform_purpose(plan);
    if (!purpose) return 0;
    char key[200];
    snprintf(key, sizeof key, "%s-%s", r->idempotency_key, purpose);
    json_t *param = call_param(plan, r, purpose);
    json_t *context =
        json_pack("{s:s, s:I}", "refund_id", r->refund_id, "amount_fen", (json_int_t)r->amount_fen);
    if (!param || !context) {
        json_decref(param);
        json_decref(context);
        return -1;
    }
    rf_pcall_new_t c = {
        .return_id = plan->return_id,
        .platform = plan->platform,
        .platform_return_id = plan->platform_return_id,
        .shop_id = plan->shop_id,
        .purpose = purpose,
        .method = douyin(plan) ? RF_PCALLS_DY_OPERATE : refund_platform_method(purpose),
        .idempotency_key = key,
        .platform_version = plan->platform_version,
        .param = param,
        .context = context,
    };
    int rc = rf_pcalls_enqueue(db, &c);
    json_decref(param);
    json_decref(context);
    if (rc < 0) return -1;
    if (!rf_pcalls_platform_enabled(plan->platform)) {
        /* Calls off: the refund goes on as before, and operations are told
         * that the platform still has to hear it. */
        char what[200];
        snprintf(what, sizeof what, "calls are off: do it in %s",
                 rf_pcalls_console(plan->platform));
        if (rc == 1 &&
            rf_pcalls_alert(bus, plan->return_id, "platform_call_not_sent", c.method, what) != 0)
            return -1;
        return 0;
    }
    rf_pcalls_kick(refund_pcalls);
    return 1; /* the caller parks the refund: the platform's answer settles it */
}
