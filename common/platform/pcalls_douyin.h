/*
 * platform/pcalls_douyin.h: decision calls in Douyin's terms (pure functions),
 * for the platform-call sender (platform/platform_calls.h) and the workers
 * that write the calls (review, refund).
 *
 * Every decision is one afterSale.operate {type, items: [{aftersale_id, ...}]}
 * (doudian-sdk-golang api/afterSale_operate/request: aftersale_id is text,
 * receiver_address_id, reject_reason_code and update_time are integers):
 *
 *   201 agree a refund-only request          (the platform refunds)
 *   101 agree the return                     logistics.receiver_address_id (required for
 *                                            101 by the SDK's comment and the stand-in)
 *   202 reject a refund-only request,
 *   102 reject the return                    reject_reason_code (afterSale.rejectReasonCodeList),
 *                                            reason and remark (the SDK: required to reject)
 *   111 agree the refund once the goods came back
 *
 * update_time, when given, is an optimistic lock: the platform refuses the
 * operation when the record changed since (the SDK: "不传就不校验"; in seconds,
 * as afterSale.Detail and the pushes carry it). The answer's data.items[] each
 * have a status_code (0: done) and status_msg: code 10000 with an item that is
 * not 0 is a refusal too. A refused call is checked with afterSale.Detail
 * {after_sale_id} (text): a record already in the operation's target status
 * counts as done.
 */
#ifndef RF_PCALLS_DOUYIN_H
#define RF_PCALLS_DOUYIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RF_PCALLS_DY_OPERATE "afterSale.operate"
#define RF_PCALLS_DY_DETAIL "afterSale.Detail"

/* afterSale.operate's types returnflow sends. */
enum {
    RF_DY_OP_AGREE_RETURN = 101,
    RF_DY_OP_REJECT_RETURN = 102,
    RF_DY_OP_AGREE_RECEIPT = 111, /* the goods came back: refund */
    RF_DY_OP_AGREE_REFUND = 201,  /* refund only */
    RF_DY_OP_REJECT_REFUND = 202,
};

/* One operation on one after-sale record. */
typedef struct rf_pcalls_dy_op {
    int type;                   /* RF_DY_OP_* */
    const char *aftersale_id;   /* the record (19 digits, sent as text) */
    int64_t version_ms;         /* > 0: sent as update_time (seconds), the lock */
    const char *address_id;     /* 101: the return address id (digits) */
    int64_t reject_reason_code; /* 102, 202: > 0 */
    const char *reason;         /* 102, 202: not empty */
    const char *remark;         /* 102, 202: not empty (the buyer sees it) */
} rf_pcalls_dy_op_t;

/* rf_pcalls_dy_operate_param: afterSale.operate's param of op (new ref), or
 * NULL with why in err: an unknown type, no aftersale id, 101 without a
 * numeric address id, a reject without a code, reason or remark. */
json_t *rf_pcalls_dy_operate_param(const rf_pcalls_dy_op_t *op, char *err, size_t errlen);

/* rf_pcalls_dy_operate_type: the type of an operate param, 0 when none. */
int rf_pcalls_dy_operate_type(json_t *param);

/* rf_pcalls_dy_operate_result: afterSale.operate's answer data (code 10000):
 * 0 when it holds items and each one's status_code is 0; else -1 with the
 * first failing item's status_code in *status_code (-1 when there was no
 * item at all) and "item <id> status_code N: <status_msg>" in err. */
int rf_pcalls_dy_operate_result(json_t *data, int *status_code, char *err, size_t errlen);

/* rf_pcalls_dy_detail_param: afterSale.Detail's param for the record (new ref). */
json_t *rf_pcalls_dy_detail_param(const char *aftersale_id);

/* rf_pcalls_dy_target_reached: whether afterSale.Detail's data already shows
 * what operation type asked for (process_info.after_sale_info.after_sale_status):
 * 201 and 111: 12 (售后成功); 101: 7 (待买家退货) or later on the return's way
 * (11, 12); 102 and 202: 27 (商家一次拒绝). */
bool rf_pcalls_dy_target_reached(int type, json_t *detail);

/* rf_pcalls_dy_detail_facts: afterSale.Detail's data in neutral terms: the
 * version (update_time in ms, as intake's feed reads it), the amount asked
 * (refund_total_amount less refund_post_amount, fen) and the kind
 * (platform/douyin.h rf_dy_kind of after_sale_type, NULL when not known).
 * Each is 0 / -1 / NULL when the record lacks it. 0, or -1 when detail holds
 * no after_sale_info. */
int rf_pcalls_dy_detail_facts(json_t *detail, int64_t *version_ms, int64_t *amount_fen,
                              const char **kind);

#endif
