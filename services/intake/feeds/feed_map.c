/*
 * feed_map.c: platform after-sales records in neutral terms, and the rule
 * that decides what a new version of a record does (pure functions).
 *
 * Kuaishou refund records and Douyin push payloads as PLATFORMS.md describes
 * them: ids as text, money in fen, times in ms; handlingWay / aftersale_type
 * give the kind, (status, negotiateStatus) / aftersale_status the neutral
 * status (platform/kuaishou.h, platform/douyin.h). The version of a record is its
 * updateTime (Douyin: the newest of its event times, which are seconds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "platform/douyin.h"
#include "platform/kuaishou.h"

/* ---- reason maps ------------------------------------------------------------------- */

#define REASON_MAP_MAX 64

typedef struct reason_entry {
    char code[24];
    char reason[24];
} reason_entry_t;

static reason_entry_t reason_maps[2][REASON_MAP_MAX]; /* [0] kuaishou, [1] douyin */
static size_t reason_counts[2];

static int platform_index(const char *platform) { return strcmp(platform, "douyin") == 0; }

int intake_feed_set_reason_map(const char *platform, const char *spec, char *err, size_t errlen) {
    int p = platform_index(platform);
    reason_counts[p] = 0;
    char buf[RF_CFG_STR_MAX];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') item++;
        if (!*item) continue;
        char *colon = strchr(item, ':');
        if (!colon || colon == item || !intake_reason_known(colon + 1) ||
            (size_t)(colon - item) >= sizeof reason_maps[0][0].code ||
            reason_counts[p] == REASON_MAP_MAX) {
            snprintf(err, errlen, "reason map entry \"%s\" is not code:reason with a known reason",
                     item);
            return -1;
        }
        reason_entry_t *e = &reason_maps[p][reason_counts[p]++];
        snprintf(e->code, sizeof e->code, "%.*s", (int)(colon - item), item);
        snprintf(e->reason, sizeof e->reason, "%s", colon + 1);
    }
    return 0;
}

static const char *map_reason(const char *platform, const char *code) {
    int p = platform_index(platform);
    for (size_t i = 0; i < reason_counts[p]; i++)
        if (strcmp(reason_maps[p][i].code, code) == 0) return reason_maps[p][i].reason;
    return "other";
}

/* ---- field readers ------------------------------------------------------------------ */

/* An id (a long number or a string) as text; false when absent or another type. */
static bool id_text(json_t *doc, const char *key, char *out, size_t cap) {
    json_t *v = json_object_get(doc, key);
    if (json_is_integer(v)) snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < cap)
        snprintf(out, cap, "%s", json_string_value(v));
    else return false;
    return true;
}

/* An integer (or a string of digits); def when absent. */
static int64_t int_field(json_t *doc, const char *key, int64_t def) {
    json_t *v = json_object_get(doc, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && *end == '\0') return n;
    }
    return def;
}

static const char *str_field(json_t *doc, const char *key) {
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

static int missing(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "the record has no usable %s", what);
    return -1;
}

/* ---- Kuaishou ----------------------------------------------------------------------- */

int intake_feed_from_kuaishou(json_t *rec, intake_feed_record_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    snprintf(out->platform, sizeof out->platform, "kuaishou");
    if (!json_is_object(rec)) return missing(err, errlen, "object");
    if (!id_text(rec, "refundId", out->platform_return_id, sizeof out->platform_return_id))
        return missing(err, errlen, "refundId");
    if (!id_text(rec, "oid", out->order_id, sizeof out->order_id))
        return missing(err, errlen, "oid");
    if (!id_text(rec, "skuId", out->line_id, sizeof out->line_id))
        return missing(err, errlen, "skuId");
    out->version = int_field(rec, "updateTime", -1);
    if (out->version < 0) return missing(err, errlen, "updateTime");
    out->amount_fen = int_field(rec, "refundFee", -1);
    if (out->amount_fen < 0) return missing(err, errlen, "refundFee");
    int status = (int)int_field(rec, "status", -1);
    int negotiate = (int)int_field(rec, "negotiateStatus", 0);
    if (status < 0) return missing(err, errlen, "status");
    const char *neutral = rf_ks_neutral_status(status, negotiate);
    snprintf(out->status, sizeof out->status, "%s", neutral ? neutral : "");
    snprintf(out->code, sizeof out->code, "%d/%d", status, negotiate);
    const char *kind = rf_ks_kind((int)int_field(rec, "handlingWay", -1));
    snprintf(out->kind, sizeof out->kind, "%s", kind ? kind : "");
    char code[24];
    snprintf(code, sizeof code, "%lld", (long long)int_field(rec, "refundReason", 0));
    const char *reason = map_reason("kuaishou", code);
    snprintf(out->reason_code, sizeof out->reason_code, "%s", reason);
    const char *desc = str_field(rec, "refundReasonDesc"), *words = str_field(rec, "refundDesc");
    bool unmapped = strcmp(reason, "other") == 0;
    snprintf(out->reason_text, sizeof out->reason_text, "%s%s%s%s%s%s",
             unmapped ? "refundReason " : "", unmapped ? code : "", *desc && unmapped ? ": " : "",
             desc, *words && *desc ? "; " : "", words);
    /* productNum counts only electronic vouchers: it is 0 for physical goods.
     * 0 here means "the line's units" (intake_feed_apply takes them from the
     * order line the refund's skuId names). */
    out->quantity = int_field(rec, "productNum", 0);
    if (out->quantity < 0) out->quantity = 0;
    out->requested_at = int_field(rec, "createTime", 0);
    out->deadline_at = int_field(rec, "expireTime", 0);
    json_t *logistics = json_object_get(rec, "logisticsInfo");
    snprintf(out->tracking_no, sizeof out->tracking_no, "%s", str_field(logistics, "expressNo"));
    return 0;
}

/* ---- Douyin --------------------------------------------------------------------------- */

int intake_feed_from_douyin(json_t *data, intake_feed_record_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    snprintf(out->platform, sizeof out->platform, "douyin");
    if (!json_is_object(data)) return missing(err, errlen, "object");
    if (!id_text(data, "aftersale_id", out->platform_return_id, sizeof out->platform_return_id))
        return missing(err, errlen, "aftersale_id");
    if (!id_text(data, "p_id", out->order_id, sizeof out->order_id))
        return missing(err, errlen, "p_id");
    if (!id_text(data, "s_id", out->line_id, sizeof out->line_id))
        return missing(err, errlen, "s_id");
    id_text(data, "shop_id", out->shop_id, sizeof out->shop_id);
    static const char *const times[] = {"apply_time", "agree_time",  "success_time",
                                        "close_time", "modify_time", "update_time"};
    int64_t newest = -1;
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int64_t t = int_field(data, times[i], -1);
        if (t > newest) newest = t;
    }
    if (newest < 0) return missing(err, errlen, "event time");
    out->version = newest * 1000;
    int status = (int)int_field(data, "aftersale_status", -1);
    if (status < 0) return missing(err, errlen, "aftersale_status");
    const char *neutral = rf_dy_neutral_status(status);
    snprintf(out->status, sizeof out->status, "%s", neutral ? neutral : "");
    snprintf(out->code, sizeof out->code, "%d", status);
    const char *kind = rf_dy_kind((int)int_field(data, "aftersale_type", -1));
    snprintf(out->kind, sizeof out->kind, "%s", kind ? kind : "");
    out->amount_fen = int_field(data, "refund_amount", -1);
    if (out->amount_fen < 0) return missing(err, errlen, "refund_amount");
    char code[24];
    snprintf(code, sizeof code, "%lld", (long long)int_field(data, "reason_code", 0));
    const char *reason = map_reason("douyin", code);
    snprintf(out->reason_code, sizeof out->reason_code, "%s", reason);
    if (strcmp(reason, "other") == 0)
        snprintf(out->reason_text, sizeof out->reason_text, "reason_code %s", code);
    out->quantity = int_field(data, "aftersale_num", 1);
    if (out->quantity < 1) out->quantity = 1;
    out->requested_at = int_field(data, "apply_time", newest) * 1000;
    int64_t deadline = int_field(data, "status_deadline", 0);
    out->deadline_at = deadline > 0 ? deadline * 1000 : 0;
    return 0;
}

/* ---- the neutral record as JSON (kept while it waits for its order) ----------------- */

json_t *intake_feed_record_json(const intake_feed_record_t *r) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I,"
                     " s:I}",
                     "platform", r->platform, "platform_return_id", r->platform_return_id,
                     "order_id", r->order_id, "line_id", r->line_id, "shop_id", r->shop_id, "kind",
                     r->kind, "reason_code", r->reason_code, "reason_text", r->reason_text,
                     "status", r->status, "code", r->code, "tracking_no", r->tracking_no,
                     "quantity", (json_int_t)r->quantity, "amount_fen", (json_int_t)r->amount_fen,
                     "requested_at", (json_int_t)r->requested_at, "deadline_at",
                     (json_int_t)r->deadline_at, "version", (json_int_t)r->version);
}

#define COPY(field) snprintf(out->field, sizeof out->field, "%s", str_field(doc, #field))

int intake_feed_record_from_json(json_t *doc, intake_feed_record_t *out) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc)) return -1;
    COPY(platform);
    COPY(platform_return_id);
    COPY(order_id);
    COPY(line_id);
    COPY(shop_id);
    COPY(kind);
    COPY(reason_code);
    COPY(reason_text);
    COPY(status);
    COPY(code);
    COPY(tracking_no);
    out->quantity = int_field(doc, "quantity", 1);
    out->amount_fen = int_field(doc, "amount_fen", 0);
    out->requested_at = int_field(doc, "requested_at", 0);
    out->deadline_at = int_field(doc, "deadline_at", 0);
    out->version = int_field(doc, "version", 0);
    return *out->platform && *out->platform_return_id ? 0 : -1;
}

/* ---- which update applies ----------------------------------------------------------- */

/* A status in which a request can still be taken up as a new return. */
static bool creatable(const char *status) {
    static const char *const open[] = {
        "requested",         "seller_rejected", "awaiting_buyer_return",
        "return_in_transit", "arbitration",     NULL};
    for (const char *const *s = open; *s; s++)
        if (strcmp(*s, status) == 0) return true;
    return false;
}

/* A record without a tracking number says nothing of it (a Kuaishou list
 * entry has no logisticsInfo): a known number is kept, never cleared. */
intake_feed_action_t intake_feed_decide(const intake_feed_known_t *k,
                                        const intake_feed_record_t *r) {
    if (k->exists && r->version <= k->version) return INTAKE_FEED_STALE;
    if (!k->has_return)
        return creatable(r->status) && *r->kind ? INTAKE_FEED_CREATE : INTAKE_FEED_NOTE;
    bool money_moved = strcmp(k->status, "refunding") == 0 || strcmp(k->status, "completed") == 0;
    if (strcmp(r->status, "closed") == 0 && strcmp(k->status, "closed") != 0 && !money_moved)
        return INTAKE_FEED_CANCEL;
    if (strcmp(r->status, k->status) != 0 || strcmp(r->kind, k->kind) != 0 ||
        r->amount_fen != k->amount_fen ||
        (*r->tracking_no && strcmp(r->tracking_no, k->tracking_no) != 0))
        return INTAKE_FEED_UPDATE;
    return INTAKE_FEED_NOTE;
}

const char *intake_feed_action_name(intake_feed_action_t a) {
    static const char *const names[] = {"stale", "noted", "create", "cancelled", "updated"};
    return a <= INTAKE_FEED_UPDATE ? names[a] : "?";
}

/* ---- Kuaishou order detail ------------------------------------------------------------ */

/* payType as a payment method word ("" when unknown). */
static const char *ks_payment(int64_t pay_type) {
    switch (pay_type) {
    case 1: return "wechat";
    case 2: return "alipay";
    case 3: return "pingan";
    case 88: return "alipay_pay_later";
    case 99: return "bank_transfer";
    default: return "";
    }
}

#define KS_IDS_NEEDED 640 /* oid 64, seller 128, buyer 128, sku 64, goods code 128, region 128 */

int intake_feed_order_from_kuaishou(json_t *doc, intake_order_t *o, intake_order_line_t *lines,
                                    size_t max_lines, char *ids, size_t ids_cap, char *err,
                                    size_t errlen) {
    /* open.order.detail's data: orderBaseInfo, orderItemInfo (one item per
     * order), orderAddress. ids: room for the texts of numeric ids. */
    memset(o, 0, sizeof *o);
    json_t *base = json_object_get(doc, "orderBaseInfo");
    json_t *item = json_object_get(doc, "orderItemInfo");
    json_t *addr = json_object_get(doc, "orderAddress");
    if (!json_is_object(base) || !json_is_object(item) || max_lines < 1 ||
        ids_cap < KS_IDS_NEEDED) {
        snprintf(err, errlen, "the order has no orderBaseInfo or orderItemInfo");
        return -1;
    }
    char *oid = ids, *seller = ids + 64, *buyer = ids + 192, *sku = ids + 320;
    char *code = ids + 384, *region = ids + 512;
    if (!id_text(base, "oid", oid, 64) || !id_text(base, "sellerOpenId", seller, 128)) {
        snprintf(err, errlen, "the order has no orderBaseInfo.oid or sellerOpenId");
        return -1;
    }
    if (!id_text(base, "buyerOpenId", buyer, 128)) *buyer = '\0';
    /* the region: province and city as the address writes them (浙江省杭州市) */
    snprintf(region, 128, "%s%s", str_field(addr, "province"), str_field(addr, "city"));
    if (strlen(region) >= 64) snprintf(region, 64, "%.63s", str_field(addr, "province"));
    o->platform = "kuaishou";
    o->order_id = oid;
    o->shop_id = seller;
    o->buyer_id = buyer;
    o->region = region;
    o->payment_method = ks_payment(int_field(base, "payType", 0));
    o->paid_at = int_field(base, "payTime", 0);
    /* the return window counts from when the buyer signed for the goods
     * (recvTime; 0: not yet), not from sendTime */
    o->delivered_at = int_field(base, "recvTime", 0);
    o->shipping_fee_fen = int_field(base, "expressFee", 0);
    o->discount_fen = int_field(base, "discountFee", 0);
    o->freight_insured = false; /* not in the order detail */
    intake_order_line_t *l = &lines[0];
    memset(l, 0, sizeof *l);
    if (!id_text(item, "skuId", sku, 64)) {
        snprintf(err, errlen, "orderItemInfo has no skuId");
        return -1;
    }
    /* the line is the sku (a refund names its skuId); the merchant's own goods
     * code, when it has one, is the sku in its catalogue. Category and
     * supplier are not the platform's to say: empty. */
    if (!id_text(item, "goodsCode", code, 128)) memcpy(code, sku, strlen(sku) + 1);
    l->line_id = sku;
    l->sku_id = code;
    l->title = str_field(item, "itemTitle");
    l->category = "";
    l->supplier_id = "";
    l->quantity = int_field(item, "num", 0);
    l->unit_price_fen = int_field(item, "price", -1);
    if (l->quantity < 1 || l->unit_price_fen < 0) {
        snprintf(err, errlen, "orderItemInfo needs num >= 1 and price >= 0");
        return -1;
    }
    o->lines = lines;
    o->n_lines = 1;
    return 0;
}
