/*
 * feed_douyin_map.c: Douyin's afterSale.Detail, afterSale.List and
 * order.orderDetail answers in neutral terms (feeds/feed_douyin_map.h).
 */
#include "feeds/feed_douyin_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- field readers ------------------------------------------------------------------ */

/* An id (a number or text) as text into out; false when absent or another type. */
static bool id_text(json_t *doc, const char *key, char *out, size_t cap) {
    json_t *v = json_object_get(doc, key);
    int n = -1;
    if (json_is_integer(v)) n = snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0)
        n = snprintf(out, cap, "%s", json_string_value(v));
    return n > 0 && (size_t)n < cap;
}

/* An integer (or a text of digits); def when absent or neither. */
static json_int_t int_field(json_t *doc, const char *key, json_int_t def) {
    json_t *v = json_object_get(doc, key);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_string(v) && json_string_length(v) > 0) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (*end == '\0') return n;
    }
    return def;
}

static const char *str_field(json_t *doc, const char *key) {
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

static int missing(char *err, size_t errlen, const char *what) {
    (void)snprintf(err, errlen, "the record has no usable %s", what);
    return -1;
}

/* Copy key of from into to under name (when present). */
static void carry(json_t *to, const char *name, json_t *from, const char *key) {
    json_t *v = json_object_get(from, key);
    if (v) json_object_set(to, name, v);
}

/* ---- records -------------------------------------------------------------------------- */

/* What the push mapping does not see: arbitration and refunding (PLATFORMS.md),
 * and the buyer's return parcel. */
static void overlay(intake_feed_record_t *out, json_int_t arbitrate, json_int_t refund_status,
                    const char *tracking_no) {
    int status = atoi(out->code);
    if (arbitrate == 1 || arbitrate == 4 || arbitrate == 5) {
        (void)snprintf(out->status, sizeof out->status, "arbitration");
        (void)snprintf(out->code, sizeof out->code, "%d/a%lld", status, (long long)arbitrate);
    } else if (refund_status == 2) {
        (void)snprintf(out->status, sizeof out->status, "refunding");
        (void)snprintf(out->code, sizeof out->code, "%d/r2", status);
    }
    if (tracking_no && *tracking_no && strlen(tracking_no) < sizeof out->tracking_no)
        (void)snprintf(out->tracking_no, sizeof out->tracking_no, "%s", tracking_no);
}

/* The push-shaped payload every record goes through, with the common fields. */
static json_t *payload(const char *shop_id, json_t *info, const char *type_key,
                       const char *status_key) {
    json_t *p = json_object();
    if (!p) return NULL;
    if (shop_id && *shop_id) json_object_set_new(p, "shop_id", json_string(shop_id));
    carry(p, "aftersale_type", info, type_key);
    carry(p, "aftersale_status", info, status_key);
    carry(p, "apply_time", info, "apply_time");
    carry(p, "update_time", info, "update_time");
    carry(p, "status_deadline", info, "status_deadline");
    return p;
}

int intake_feed_from_douyin_detail(json_t *data, const char *shop_id, intake_feed_record_t *out,
                                   char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    json_t *process = json_object_get(data, "process_info");
    json_t *info = json_object_get(process, "after_sale_info");
    json_t *order = json_object_get(data, "order_info");
    json_t *sku = json_array_get(json_object_get(order, "sku_order_infos"), 0);
    if (!json_is_object(info)) return missing(err, errlen, "process_info.after_sale_info");
    if (!json_is_object(sku)) return missing(err, errlen, "order_info.sku_order_infos");
    json_int_t total = int_field(info, "refund_total_amount", -1),
               post = int_field(info, "refund_post_amount", 0);
    if (total < 0 || post < 0 || post > total)
        return missing(err, errlen, "refund_total_amount (with refund_post_amount)");
    json_t *p = payload(shop_id, info, "after_sale_type", "after_sale_status");
    if (!p) return missing(err, errlen, "memory");
    carry(p, "aftersale_id", info, "after_sale_id");
    carry(p, "p_id", order, "shop_order_id");
    carry(p, "s_id", sku, "sku_order_id");
    carry(p, "reason_code", info, "reason_code");
    carry(p, "aftersale_num", info, "after_sale_apply_count");
    json_object_set_new(p, "refund_amount", json_integer(total - post));
    int rc = intake_feed_from_douyin(p, out, err, errlen);
    json_decref(p);
    if (rc != 0) return rc;
    json_t *ret = json_object_get(json_object_get(process, "logistics_info"), "return");
    overlay(out, int_field(json_object_get(process, "arbitrate_info"), "arbitrate_status", 0),
            int_field(info, "refund_status", 0), str_field(ret, "tracking_no"));
    /* the buyer's words after the reason's: "reason_code 7: 尺码不合适; 穿着偏小" */
    const char *reason = str_field(info, "reason"), *remark = str_field(info, "reason_remark");
    size_t used = strlen(out->reason_text);
    (void)snprintf(out->reason_text + used, sizeof out->reason_text - used, "%s%s%s%s",
                   used && *reason ? ": " : "", reason, *remark && (used || *reason) ? "; " : "",
                   remark);
    return 0;
}

int intake_feed_from_douyin_list_item(json_t *item, const char *shop_id, intake_feed_record_t *out,
                                      char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    json_t *info = json_object_get(item, "aftersale_info");
    json_t *order = json_object_get(item, "order_info");
    if (!json_is_object(info)) return missing(err, errlen, "aftersale_info");
    json_t *p = payload(shop_id, info, "aftersale_type", "aftersale_status");
    if (!p) return missing(err, errlen, "memory");
    carry(p, "aftersale_id", info, "aftersale_id");
    carry(p, "p_id", order, "shop_order_id");
    /* related_id: the sku order the after-sale is about; else the first related one */
    if (json_object_get(info, "related_id")) carry(p, "s_id", info, "related_id");
    else
        carry(p, "s_id", json_array_get(json_object_get(order, "related_order_info"), 0),
              "sku_order_id");
    carry(p, "refund_amount", info, "refund_amount");
    carry(p, "aftersale_num", info, "aftersale_num");
    int rc = intake_feed_from_douyin(p, out, err, errlen);
    json_decref(p);
    if (rc != 0) return rc;
    overlay(out, int_field(info, "arbitrate_status", 0), int_field(info, "refund_status", 0),
            str_field(info, "return_logistics_code"));
    (void)snprintf(out->reason_code, sizeof out->reason_code, "other");
    (void)snprintf(out->reason_text, sizeof out->reason_text, "%s",
                   str_field(json_object_get(item, "text_part"), "reason_text"));
    return 0;
}

/* ---- orders --------------------------------------------------------------------------- */

/* pay_type as a payment method word ("" when unknown; the SDK's list). */
static const char *dy_payment(json_int_t pay_type) {
    switch (pay_type) {
    case 0: return "cash_on_delivery";
    case 1: return "wechat";
    case 2: return "alipay";
    case 4: return "bank_card";
    case 5: return "balance";
    case 8: return "dou_installment";
    case 12: return "pay_later";
    default: return "";
    }
}

static int order_bad(char *err, size_t errlen, const char *why) {
    (void)snprintf(err, errlen, "%s", why);
    return -1;
}

/* One sku order into l; its ids (up to 64 bytes) into slot. */
static int order_line(json_t *sku, intake_order_line_t *l, char *slot, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    char *line = slot, *code = slot + 32;
    if (!id_text(sku, "order_id", line, 32))
        return order_bad(err, errlen, "a sku order has no order_id");
    const char *own = str_field(sku, "code");
    if (!*own) own = str_field(sku, "out_sku_id");
    if (*own) l->sku_id = own;
    else if (id_text(sku, "sku_id", code, 32)) l->sku_id = code;
    else return order_bad(err, errlen, "a sku order has no code, out_sku_id or sku_id");
    l->line_id = line;
    l->title = str_field(sku, "product_name");
    l->category = "";
    l->supplier_id = str_field(sku, "supplier_id");
    l->quantity = int_field(sku, "item_num", 0);
    l->unit_price_fen = int_field(sku, "origin_amount", -1);
    if (l->quantity < 1 || l->unit_price_fen < 0)
        return order_bad(err, errlen, "a sku order needs item_num >= 1 and origin_amount >= 0");
    return 0;
}

int intake_feed_order_from_douyin(json_t *doc, intake_order_t *o, intake_order_line_t *lines,
                                  size_t max_lines, char *ids, size_t ids_cap, char *err,
                                  size_t errlen) {
    memset(o, 0, sizeof *o);
    json_t *d = json_object_get(doc, "shop_order_detail");
    if (!d) d = doc;
    json_t *skus = json_object_get(d, "sku_order_list");
    size_t n = json_array_size(skus);
    if (!json_is_object(d) || n == 0)
        return order_bad(err, errlen, "the order has no sku_order_list");
    if (n > max_lines || ids_cap < INTAKE_DY_ORDER_IDS(n))
        return order_bad(err, errlen, "the order has more sku orders than room");
    char *oid = ids, *shop = ids + 64, *region = ids + 128;
    if (!id_text(d, "order_id", oid, 64) || !id_text(d, "shop_id", shop, 64))
        return order_bad(err, errlen, "the order has no order_id or shop_id");
    json_t *addr = json_object_get(d, "post_addr");
    const char *province = str_field(json_object_get(addr, "province"), "name");
    const char *city = str_field(json_object_get(addr, "city"), "name");
    int r = snprintf(region, 128, "%s%s", province, city);
    if (r < 0 || r >= 64) (void)snprintf(region, 64, "%.63s", province);
    o->platform = "douyin";
    o->order_id = oid;
    o->shop_id = shop;
    o->buyer_id = str_field(d, "doudian_open_id");
    o->region = region;
    o->payment_method = dy_payment(int_field(d, "pay_type", -1));
    o->paid_at = int_field(d, "pay_time", 0) * 1000;
    o->shipping_fee_fen = int_field(d, "post_amount", 0);
    o->discount_fen = int_field(d, "promotion_amount", 0);
    o->freight_insured = int_field(d, "post_insurance_amount", 0) > 0;
    if (o->paid_at < 0 || o->shipping_fee_fen < 0 || o->discount_fen < 0)
        return order_bad(err, errlen, "the order's pay_time, post_amount or promotion_amount");
    int64_t delivered = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *sku = json_array_get(skus, i);
        if (order_line(sku, &lines[i], ids + 256 + 64 * i, err, errlen) != 0) return -1;
        /* the return window counts from when the buyer got the goods (the
         * carrier's receipt, else the buyer's confirmation); the earliest line */
        int64_t got = int_field(sku, "logistics_receipt_time", 0);
        if (got <= 0) got = int_field(sku, "confirm_receipt_time", 0);
        if (got > 0 && (delivered == 0 || got < delivered)) delivered = got;
    }
    o->delivered_at = delivered * 1000;
    o->lines = lines;
    o->n_lines = n;
    return 0;
}
