/*
 * pcalls_douyin.c: decision calls in Douyin's terms (platform/pcalls_douyin.h):
 * afterSale.operate's param for each decision, its answer's items, and what
 * afterSale.Detail says of a refused call's record. Pure functions.
 */
#include "platform/pcalls_douyin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/douyin.h"

static bool digits(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

static bool is_reject(int type) {
    return type == RF_DY_OP_REJECT_RETURN || type == RF_DY_OP_REJECT_REFUND;
}

static json_t *fail(json_t *doomed, char *err, size_t errlen, const char *why) {
    json_decref(doomed);
    (void)snprintf(err, errlen, "%s", why);
    return NULL;
}

json_t *rf_pcalls_dy_operate_param(const rf_pcalls_dy_op_t *op, char *err, size_t errlen) {
    int t = op->type;
    if (t != RF_DY_OP_AGREE_RETURN && t != RF_DY_OP_REJECT_RETURN && t != RF_DY_OP_AGREE_RECEIPT &&
        t != RF_DY_OP_AGREE_REFUND && t != RF_DY_OP_REJECT_REFUND)
        return fail(NULL, err, errlen, "afterSale.operate: a type returnflow does not send");
    if (!op->aftersale_id || !*op->aftersale_id)
        return fail(NULL, err, errlen, "afterSale.operate: no aftersale_id");
    json_t *item = json_pack("{s:s}", "aftersale_id", op->aftersale_id);
    if (!item) return fail(NULL, err, errlen, "out of memory");
    int rc = 0;
    if (op->version_ms > 0)
        rc |= json_object_set_new(item, "update_time", json_integer(op->version_ms / 1000));
    if (t == RF_DY_OP_AGREE_RETURN) {
        if (!digits(op->address_id))
            return fail(item, err, errlen,
                        "afterSale.operate 101 needs logistics.receiver_address_id (digits)");
        rc |= json_object_set_new(item, "logistics",
                                  json_pack("{s:I}", "receiver_address_id",
                                            (json_int_t)strtoll(op->address_id, NULL, 10)));
    }
    if (is_reject(t)) {
        if (op->reject_reason_code <= 0)
            return fail(item, err, errlen, "a Douyin rejection needs reject_reason_code");
        if (!op->reason || !*op->reason || !op->remark || !*op->remark)
            return fail(item, err, errlen, "a Douyin rejection needs a reason and a remark");
        rc |= json_object_set_new(item, "reject_reason_code",
                                  json_integer((json_int_t)op->reject_reason_code)) |
              json_object_set_new(item, "reason", json_string(op->reason)) |
              json_object_set_new(item, "remark", json_string(op->remark));
    }
    json_t *param = rc == 0 ? json_pack("{s:i, s:[o]}", "type", t, "items", item) : NULL;
    if (!param) return fail(rc == 0 ? NULL : item, err, errlen, "out of memory");
    return param;
}

int rf_pcalls_dy_operate_type(json_t *param) {
    json_t *t = json_object_get(param, "type");
    return json_is_integer(t) ? (int)json_integer_value(t) : 0;
}

/* An integer member, or one written as digits; def when neither. */
static int64_t int_member(json_t *obj, const char *key, int64_t def) {
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s && *s && strspn(s, "0123456789-") == strlen(s)) return strtoll(s, NULL, 10);
    return def;
}

int rf_pcalls_dy_operate_result(json_t *data, int *status_code, char *err, size_t errlen) {
    json_t *items = json_object_get(data, "items");
    *status_code = -1;
    if (!json_is_array(items) || json_array_size(items) == 0) {
        (void)snprintf(err, errlen, "afterSale.operate answered no items");
        return -1;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        int64_t code = int_member(it, "status_code", -1);
        if (code == 0) continue;
        const char *msg = json_string_value(json_object_get(it, "status_msg"));
        json_t *id = json_object_get(it, "aftersale_id");
        char idtext[32] = "?";
        if (json_is_integer(id))
            (void)snprintf(idtext, sizeof idtext, "%lld", (long long)json_integer_value(id));
        else if (json_is_string(id))
            (void)snprintf(idtext, sizeof idtext, "%.30s", json_string_value(id));
        *status_code = (int)code;
        (void)snprintf(err, errlen, "item %s status_code %lld: %.200s", idtext, (long long)code,
                       msg ? msg : "");
        return -1;
    }
    *status_code = 0;
    return 0;
}

json_t *rf_pcalls_dy_detail_param(const char *aftersale_id) {
    return json_pack("{s:s}", "after_sale_id", aftersale_id ? aftersale_id : "");
}

static json_t *after_sale_info(json_t *detail) {
    json_t *info = json_object_get(json_object_get(detail, "process_info"), "after_sale_info");
    return json_is_object(info) ? info : NULL;
}

bool rf_pcalls_dy_target_reached(int type, json_t *detail) {
    json_t *info = after_sale_info(detail);
    if (!info) return false;
    int64_t s = int_member(info, "after_sale_status", -1);
    switch (type) {
    case RF_DY_OP_AGREE_REFUND:
    case RF_DY_OP_AGREE_RECEIPT: return s == 12;
    case RF_DY_OP_AGREE_RETURN: return s == 7 || s == 11 || s == 12;
    case RF_DY_OP_REJECT_RETURN:
    case RF_DY_OP_REJECT_REFUND: return s == 27;
    default: return false;
    }
}

int rf_pcalls_dy_detail_facts(json_t *detail, int64_t *version_ms, int64_t *amount_fen,
                              const char **kind) {
    *version_ms = 0;
    *amount_fen = -1;
    *kind = NULL;
    json_t *info = after_sale_info(detail);
    if (!info) return -1;
    int64_t ut = int_member(info, "update_time", 0);
    *version_ms = ut > 0 ? ut * 1000 : 0;
    int64_t total = int_member(info, "refund_total_amount", -1);
    int64_t post = int_member(info, "refund_post_amount", 0);
    if (total >= 0 && post >= 0 && post <= total) *amount_fen = total - post;
    int64_t type = int_member(info, "after_sale_type", -1);
    if (type >= 0) *kind = rf_dy_kind((int)type);
    return 0;
}
