/*
 * test_intake_feeds.c: unit tests for intake's platform feeds: Kuaishou and
 * Douyin records in neutral terms (ids as text, fen, ms, kind, reason, status),
 * the version rule that decides what a record does (a late older update never
 * overwrites a newer one), the reason maps, the Kuaishou order mapping, and
 * the spool's segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/intake/feeds/feeds_internal.h"

static json_t *ks_record(int status, int negotiate, int handling_way, long long update_time) {
    return json_pack(
        "{s:I, s:I, s:I, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I,"
        " s:{s:s}}",
        "refundId", (json_int_t)2401234567890123456LL, "oid", (json_int_t)2301234567890123456LL,
        "skuId", (json_int_t)3301234567890123456LL, "refundFee", 12345, "refundReason", 7,
        "refundReasonDesc", "broken", "refundDesc", "arrived cracked", "handlingWay", handling_way,
        "status", status, "negotiateStatus", negotiate, "productNum", 2, "createTime",
        (json_int_t)1700000000000LL, "updateTime", (json_int_t)update_time, "expireTime",
        (json_int_t)1700086400000LL, "logisticsInfo", "expressNo", "SF123");
}

static void kuaishou_record(void **state) {
    (void)state;
    char err[200];
    assert_int_equal(
        intake_feed_set_reason_map("kuaishou", "7:quality,9:size_fit", err, sizeof err), 0);
    intake_feed_record_t r;
    json_t *rec = ks_record(40, 2, 1, 1700000100000LL);
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), 0);
    /* 19-digit ids kept exactly, as text */
    assert_string_equal(r.platform_return_id, "2401234567890123456");
    assert_string_equal(r.order_id, "2301234567890123456");
    assert_string_equal(r.line_id, "3301234567890123456");
    assert_string_equal(r.kind, "return_refund");
    assert_string_equal(r.status, "return_in_transit");
    assert_string_equal(r.code, "40/2");
    assert_string_equal(r.reason_code, "quality");
    assert_string_equal(r.tracking_no, "SF123");
    assert_true(r.amount_fen == 12345 && r.quantity == 2);
    assert_true(r.version == 1700000100000LL && r.requested_at == 1700000000000LL);
    assert_true(r.deadline_at == 1700086400000LL);
    json_decref(rec);

    /* an unmapped reason is "other" with the code kept; refund only; closed */
    rec = ks_record(70, 1, 10, 5);
    json_object_set_new(rec, "refundReason", json_integer(99));
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), 0);
    assert_string_equal(r.kind, "refund_only");
    assert_string_equal(r.status, "closed");
    assert_string_equal(r.reason_code, "other");
    assert_non_null(strstr(r.reason_text, "99"));
    json_decref(rec);

    /* ids as strings are accepted; a status pair the mapping does not know is "" */
    rec = ks_record(45, 2, 3, 5);
    json_object_set_new(rec, "refundId", json_string("2409999999999999999"));
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), 0);
    assert_string_equal(r.platform_return_id, "2409999999999999999");
    assert_string_equal(r.status, "");
    assert_string_equal(r.kind, "exchange");
    json_decref(rec);

    /* productNum 0 (physical goods): the quantity is the order line's (0 here) */
    rec = ks_record(10, 1, 10, 5);
    json_object_set_new(rec, "productNum", json_integer(0));
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), 0);
    assert_int_equal(r.quantity, 0);
    json_decref(rec);

    /* no updateTime: refused, naming the field */
    rec = ks_record(10, 1, 10, 5);
    json_object_del(rec, "updateTime");
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "updateTime"));
    json_decref(rec);
    intake_feed_set_reason_map("kuaishou", "", err, sizeof err);
}

static void douyin_record(void **state) {
    (void)state;
    char err[200];
    intake_feed_record_t r;
    json_t *data = json_pack(
        "{s:s, s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I}", "aftersale_id", "7301234567890123456",
        "p_id", (json_int_t)6301234567890123456LL, "s_id", "6301234567890123457", "shop_id", "dy-1",
        "aftersale_status", 7, "aftersale_type", 0, "refund_amount", 990, "reason_code", 3,
        "apply_time", (json_int_t)1700000000LL, "agree_time", (json_int_t)1700000500LL);
    assert_int_equal(intake_feed_from_douyin(data, &r, err, sizeof err), 0);
    assert_string_equal(r.platform_return_id, "7301234567890123456");
    assert_string_equal(r.order_id, "6301234567890123456");
    assert_string_equal(r.line_id, "6301234567890123457");
    assert_string_equal(r.shop_id, "dy-1");
    assert_string_equal(r.status, "awaiting_buyer_return");
    assert_string_equal(r.kind, "return_refund");
    /* seconds become ms; the version is the newest event time */
    assert_true(r.version == 1700000500000LL && r.requested_at == 1700000000000LL);
    assert_true(r.amount_fen == 990);
    json_decref(data);
    data = json_pack("{s:s}", "aftersale_id", "1");
    assert_int_equal(intake_feed_from_douyin(data, &r, err, sizeof err), -1);
    json_decref(data);
}

static intake_feed_record_t rec_of(const char *status, int64_t version) {
    intake_feed_record_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "%s", status);
    snprintf(r.kind, sizeof r.kind, "refund_only");
    r.amount_fen = 1000;
    r.version = version;
    return r;
}

static intake_feed_known_t known_of(const char *status, int64_t version, bool has_return) {
    intake_feed_known_t k;
    memset(&k, 0, sizeof k);
    k.exists = true;
    k.has_return = has_return;
    k.version = version;
    snprintf(k.status, sizeof k.status, "%s", status);
    snprintf(k.kind, sizeof k.kind, "refund_only");
    k.amount_fen = 1000;
    return k;
}

static void version_order(void **state) {
    (void)state;
    intake_feed_known_t none;
    memset(&none, 0, sizeof none);
    intake_feed_record_t r = rec_of("requested", 100);
    /* new: an open request is created; one closed before intake saw it is noted */
    assert_int_equal(intake_feed_decide(&none, &r), INTAKE_FEED_CREATE);
    intake_feed_record_t closed = rec_of("closed", 100);
    assert_int_equal(intake_feed_decide(&none, &closed), INTAKE_FEED_NOTE);
    /* resend / repair (no neutral kind) is never created */
    intake_feed_record_t resend = rec_of("requested", 100);
    resend.kind[0] = '\0';
    assert_int_equal(intake_feed_decide(&none, &resend), INTAKE_FEED_NOTE);

    /* the newer version applied first: an older one arriving late is stale */
    intake_feed_known_t k = known_of("return_in_transit", 300, true);
    intake_feed_record_t older = rec_of("requested", 200);
    assert_int_equal(intake_feed_decide(&k, &older), INTAKE_FEED_STALE);
    intake_feed_record_t same = rec_of("closed", 300);
    assert_int_equal(intake_feed_decide(&k, &same), INTAKE_FEED_STALE);

    /* newer: closed cancels; arbitration, amount, kind, parcel update */
    intake_feed_record_t c = rec_of("closed", 301);
    assert_int_equal(intake_feed_decide(&k, &c), INTAKE_FEED_CANCEL);
    intake_feed_record_t arb = rec_of("arbitration", 301);
    assert_int_equal(intake_feed_decide(&k, &arb), INTAKE_FEED_UPDATE);
    intake_feed_record_t amount = rec_of("return_in_transit", 301);
    amount.amount_fen = 900;
    assert_int_equal(intake_feed_decide(&k, &amount), INTAKE_FEED_UPDATE);
    intake_feed_record_t kind = rec_of("return_in_transit", 301);
    snprintf(kind.kind, sizeof kind.kind, "return_refund");
    assert_int_equal(intake_feed_decide(&k, &kind), INTAKE_FEED_UPDATE);
    intake_feed_record_t parcel = rec_of("return_in_transit", 301);
    snprintf(parcel.tracking_no, sizeof parcel.tracking_no, "YT1");
    assert_int_equal(intake_feed_decide(&k, &parcel), INTAKE_FEED_UPDATE);
    intake_feed_record_t nothing = rec_of("return_in_transit", 301);
    assert_int_equal(intake_feed_decide(&k, &nothing), INTAKE_FEED_NOTE);

    /* closed after the money moved is an update, not a cancellation */
    intake_feed_known_t paid = known_of("refunding", 300, true);
    assert_int_equal(intake_feed_decide(&paid, &c), INTAKE_FEED_UPDATE);
    /* waiting for its order (no return yet): a newer open version is created */
    intake_feed_known_t waiting = known_of("requested", 300, false);
    intake_feed_record_t newer = rec_of("requested", 400);
    assert_int_equal(intake_feed_decide(&waiting, &newer), INTAKE_FEED_CREATE);
    assert_int_equal(intake_feed_decide(&waiting, &older), INTAKE_FEED_STALE);

    /* whatever order a sequence of versions arrives in, the newest one wins */
    int64_t versions[] = {500, 200, 900, 100, 700};
    intake_feed_known_t seen;
    memset(&seen, 0, sizeof seen);
    for (size_t i = 0; i < 5; i++) {
        intake_feed_record_t v = rec_of("requested", versions[i]);
        if (intake_feed_decide(&seen, &v) != INTAKE_FEED_STALE) {
            seen.exists = true;
            seen.version = v.version;
        }
    }
    assert_true(seen.version == 900);
}

static void reason_map(void **state) {
    (void)state;
    char err[200];
    assert_int_equal(intake_feed_set_reason_map("douyin", "1:quality, 2:late", err, sizeof err), 0);
    assert_int_equal(intake_feed_set_reason_map("douyin", "1:broken", err, sizeof err), -1);
    assert_non_null(strstr(err, "1:broken"));
    assert_int_equal(intake_feed_set_reason_map("douyin", "quality", err, sizeof err), -1);
    assert_int_equal(intake_feed_set_reason_map("douyin", "", err, sizeof err), 0);
}

static void record_json_round_trip(void **state) {
    (void)state;
    char err[200];
    intake_feed_record_t r, back;
    json_t *rec = ks_record(11, 1, 1, 42);
    assert_int_equal(intake_feed_from_kuaishou(rec, &r, err, sizeof err), 0);
    json_t *doc = intake_feed_record_json(&r);
    assert_int_equal(intake_feed_record_from_json(doc, &back), 0);
    assert_memory_equal(&r, &back, sizeof r);
    json_decref(doc);
    json_decref(rec);
}

static void kuaishou_order(void **state) {
    (void)state;
    /* open.order.detail's data, as declared: orderBaseInfo, orderItemInfo
     * (one item), orderAddress */
    json_t *doc = json_pack(
        "{s:{s:I, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:i}, s:{s:I, s:I, s:s, s:i, s:i, s:i, s:s,"
        " s:I}, s:{s:s, s:s}}",
        "orderBaseInfo", "oid", (json_int_t)2301234567890123456LL, "sellerOpenId", "f19a8b7c6d5e",
        "buyerOpenId", "b0a1c2d3e4", "payTime", (json_int_t)1000, "sendTime", (json_int_t)1500,
        "recvTime", (json_int_t)2000, "expressFee", 800, "discountFee", 100, "payType", 2,
        "orderItemInfo", "skuId", (json_int_t)3301234567890123456LL, "itemId",
        (json_int_t)3401234567890123456LL, "itemTitle", "羊毛大衣", "num", 2, "price", 5000,
        "originalPrice", 6000, "goodsCode", "COAT-01", "relSkuId", (json_int_t)0, "orderAddress",
        "province", "浙江省", "city", "杭州市");
    intake_order_t o;
    intake_order_line_t lines[4];
    char ids[64 * 11], err[200];
    assert_int_equal(
        intake_feed_order_from_kuaishou(doc, &o, lines, 4, ids, sizeof ids, err, sizeof err), 0);
    assert_string_equal(o.order_id, "2301234567890123456");
    assert_string_equal(o.shop_id, "f19a8b7c6d5e");
    assert_string_equal(o.buyer_id, "b0a1c2d3e4");
    assert_string_equal(o.region, "浙江省杭州市");
    assert_string_equal(o.payment_method, "alipay");
    /* the window counts from recvTime (signed for), not sendTime */
    assert_true(o.delivered_at == 2000 && o.shipping_fee_fen == 800 && o.discount_fen == 100);
    assert_false(o.freight_insured);
    assert_int_equal(o.n_lines, 1);
    assert_string_equal(lines[0].line_id, "3301234567890123456");
    assert_string_equal(lines[0].sku_id, "COAT-01");
    assert_string_equal(lines[0].title, "羊毛大衣");
    /* not the platform's to say: empty, never invented */
    assert_string_equal(lines[0].category, "");
    assert_string_equal(lines[0].supplier_id, "");
    assert_true(lines[0].quantity == 2 && lines[0].unit_price_fen == 5000);
    assert_int_equal(intake_order_allocate(&o), 0);
    assert_true(lines[0].paid_fen == 10000 - 100);
    /* no goodsCode: the sku is the skuId */
    json_object_del(json_object_get(doc, "orderItemInfo"), "goodsCode");
    assert_int_equal(
        intake_feed_order_from_kuaishou(doc, &o, lines, 4, ids, sizeof ids, err, sizeof err), 0);
    assert_string_equal(lines[0].sku_id, "3301234567890123456");
    json_object_set_new(json_object_get(doc, "orderItemInfo"), "num", json_integer(0));
    assert_int_equal(
        intake_feed_order_from_kuaishou(doc, &o, lines, 4, ids, sizeof ids, err, sizeof err), -1);
    /* the old invented shape (orderItemList at the top) is not an order */
    json_t *old = json_pack("{s:I, s:I, s:[{s:I, s:i, s:i}]}", "oid", (json_int_t)23, "sellerId",
                            (json_int_t)77, "orderItemList", "skuId", (json_int_t)33, "num", 1,
                            "price", 1000);
    assert_int_equal(
        intake_feed_order_from_kuaishou(old, &o, lines, 4, ids, sizeof ids, err, sizeof err), -1);
    json_decref(old);
    json_decref(doc);
}

static void spool_segments(void **state) {
    (void)state;
    char dir[] = "rf-spool-test-XXXXXX"; /* in the working directory */
    assert_non_null(mkdtemp(dir));
    char err[200];
    intake_spool_t *s = intake_spool_open(dir, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(intake_spool_append(s, "{\"a\":1}", 7), 0);
    assert_int_equal(intake_spool_sync(s), 0);
    intake_spool_close(&s);
    /* a second writer (a restart) starts a later segment */
    s = intake_spool_open(dir, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(intake_spool_append(s, "{\"b\":2}", 7), 0);
    assert_int_equal(intake_spool_sync(s), 0);
    intake_spool_close(&s);
    char **names;
    size_t n;
    assert_int_equal(intake_spool_list(dir, &names, &n), 0);
    assert_int_equal(n, 2);
    assert_true(strcmp(names[0], names[1]) < 0);
    char path[256], buf[32];
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "{\"a\":1}\n");
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    intake_spool_list_free(names, n);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kuaishou_record),        cmocka_unit_test(douyin_record),
        cmocka_unit_test(version_order),          cmocka_unit_test(reason_map),
        cmocka_unit_test(record_json_round_trip), cmocka_unit_test(kuaishou_order),
        cmocka_unit_test(spool_segments),
    };
    return cmocka_run_group_tests_name("intake_feeds", tests, NULL, NULL);
}
