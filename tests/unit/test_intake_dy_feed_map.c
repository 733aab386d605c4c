/*
 * test_intake_dy_feed_map.c: Douyin API answers in intake's neutral terms
 * (feeds/feed_douyin_map.h): an afterSale.Detail answer and an afterSale.List
 * item into a record (19-digit ids kept as text whether numbers or text,
 * fen, ms, kind, reason, arbitration and refunding, the return parcel), and
 * an order.orderDetail answer into an order with its lines. Named
 * test_intake_* so the build links intake's objects (Makefile svc_objs_for).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/intake/feeds/feed_douyin_map.h"

static json_t *load(const char *text) {
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    if (!doc) fail_msg("bad fixture: %s", e.text);
    return doc;
}

/* afterSale.Detail's data as the stand-in (and the SDK's response struct) has it. */
static const char *DETAIL =
    "{\"process_info\":{\"after_sale_info\":{\"after_sale_id\":7301234567890100001,"
    "\"after_sale_status\":11,\"after_sale_type\":0,\"refund_status\":1,"
    "\"refund_total_amount\":9223372036854775000,\"refund_post_amount\":800,"
    "\"apply_time\":1718000000,\"update_time\":1718086400,\"reason\":\"尺码不合适\","
    "\"reason_code\":7,\"reason_remark\":\"穿着偏小\",\"after_sale_apply_count\":2,"
    "\"status_deadline\":1718259200},\"arbitrate_info\":{\"arbitrate_status\":0},"
    "\"logistics_info\":{\"return\":{\"tracking_no\":\"SF1458796325874\",\"company_code\":"
    "\"shunfeng\"}}},\"order_info\":{\"shop_order_id\":6921234567890100001,"
    "\"sku_order_infos\":[{\"sku_order_id\":6921234567890100002,\"item_quantity\":2,"
    "\"product_name\":\"景德镇手绘陶瓷茶杯 青花款\"}]}}";

static void detail_record(void **state) {
    (void)state;
    char err[200];
    assert_int_equal(intake_feed_set_reason_map("douyin", "7:size_fit", err, sizeof err), 0);
    json_t *doc = load(DETAIL);
    intake_feed_record_t r;
    assert_int_equal(intake_feed_from_douyin_detail(doc, "4463798", &r, err, sizeof err), 0);
    assert_string_equal(r.platform, "douyin");
    assert_string_equal(r.platform_return_id, "7301234567890100001");
    assert_string_equal(r.order_id, "6921234567890100001");
    assert_string_equal(r.line_id, "6921234567890100002");
    assert_string_equal(r.shop_id, "4463798");
    assert_string_equal(r.kind, "return_refund");
    assert_string_equal(r.status, "return_in_transit");
    assert_string_equal(r.code, "11");
    assert_string_equal(r.reason_code, "size_fit");
    assert_string_equal(r.reason_text, "尺码不合适; 穿着偏小");
    assert_string_equal(r.tracking_no, "SF1458796325874");
    /* the goods' refund without the refunded shipping, near int64's limit */
    assert_true(r.amount_fen == 9223372036854775000LL - 800);
    assert_true(r.quantity == 2);
    assert_true(r.version == 1718086400000LL && r.requested_at == 1718000000000LL);
    assert_true(r.deadline_at == 1718259200000LL);

    /* an unmapped reason keeps its code and the buyer's words; arbitration
     * overrides the status; refunding likewise */
    json_t *info = json_object_get(json_object_get(doc, "process_info"), "after_sale_info");
    json_object_set_new(info, "reason_code", json_integer(99));
    json_object_set_new(json_object_get(json_object_get(doc, "process_info"), "arbitrate_info"),
                        "arbitrate_status", json_integer(4));
    assert_int_equal(intake_feed_from_douyin_detail(doc, "4463798", &r, err, sizeof err), 0);
    assert_string_equal(r.reason_code, "other");
    assert_string_equal(r.reason_text, "reason_code 99: 尺码不合适; 穿着偏小");
    assert_string_equal(r.status, "arbitration");
    assert_string_equal(r.code, "11/a4");
    json_object_set_new(json_object_get(json_object_get(doc, "process_info"), "arbitrate_info"),
                        "arbitrate_status", json_integer(0));
    json_object_set_new(info, "after_sale_status", json_integer(12));
    json_object_set_new(info, "refund_status", json_integer(2));
    assert_int_equal(intake_feed_from_douyin_detail(doc, "4463798", &r, err, sizeof err), 0);
    assert_string_equal(r.status, "refunding");
    assert_string_equal(r.code, "12/r2");

    /* refunded shipping above the total is not an answer to trust */
    json_object_set_new(info, "refund_post_amount", json_integer(9223372036854775001LL));
    assert_int_equal(intake_feed_from_douyin_detail(doc, "4463798", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "refund_total_amount"));
    json_object_del(json_object_get(doc, "order_info"), "sku_order_infos");
    assert_int_equal(intake_feed_from_douyin_detail(doc, "4463798", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "sku_order_infos"));
    json_decref(doc);
}

static void list_item_record(void **state) {
    (void)state;
    char err[200];
    json_t *item = load(
        "{\"aftersale_info\":{\"aftersale_id\":\"7301234567890100002\",\"aftersale_type\":1,"
        "\"aftersale_status\":6,\"related_id\":\"6921234567890100005\",\"apply_time\":1718000000,"
        "\"update_time\":1718000300,\"status_deadline\":1718172800,\"refund_amount\":4999,"
        "\"refund_post_amount\":0,\"aftersale_num\":1,\"arbitrate_status\":0,\"refund_status\":1,"
        "\"return_logistics_code\":\"\"},\"order_info\":{\"shop_order_id\":\"6921234567890100004\","
        "\"related_order_info\":[{\"sku_order_id\":\"6921234567890100005\"}]},"
        "\"text_part\":{\"reason_text\":\"七天无理由退货\"}}");
    intake_feed_record_t r;
    assert_int_equal(intake_feed_from_douyin_list_item(item, "4463798", &r, err, sizeof err), 0);
    assert_string_equal(r.platform_return_id, "7301234567890100002");
    assert_string_equal(r.order_id, "6921234567890100004");
    assert_string_equal(r.line_id, "6921234567890100005");
    assert_string_equal(r.kind, "refund_only");
    assert_string_equal(r.status, "requested");
    assert_string_equal(r.reason_code, "other");
    assert_string_equal(r.reason_text, "七天无理由退货");
    assert_string_equal(r.tracking_no, "");
    assert_true(r.amount_fen == 4999 && r.version == 1718000300000LL);
    /* an exchange stage the mapping does not know: no status, left to a person */
    json_object_set_new(json_object_get(item, "aftersale_info"), "aftersale_status",
                        json_integer(3));
    json_object_set_new(json_object_get(item, "aftersale_info"), "aftersale_type", json_integer(3));
    assert_int_equal(intake_feed_from_douyin_list_item(item, "4463798", &r, err, sizeof err), 0);
    assert_string_equal(r.status, "");
    assert_string_equal(r.kind, "exchange");
    json_object_del(json_object_get(item, "aftersale_info"), "aftersale_id");
    assert_int_equal(intake_feed_from_douyin_list_item(item, "4463798", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "aftersale_id"));
    json_decref(item);
}

static const char *ORDER =
    "{\"shop_order_detail\":{\"order_id\":\"6921234567890100001\",\"shop_id\":4463798,"
    "\"shop_name\":\"深圳优选家居旗舰店\",\"doudian_open_id\":\"BgXfyq2UbSm8Qf3Jt7zPkA==\","
    "\"pay_type\":2,\"pay_time\":1717600000,\"post_amount\":600,\"promotion_amount\":500,"
    "\"post_insurance_amount\":90,\"post_addr\":{\"province\":{\"name\":\"广东省\",\"id\":\"44\"},"
    "\"city\":{\"name\":\"深圳市\",\"id\":\"440300\"},\"detail\":\"#Jw3x#encrypted#\"},"
    "\"sku_order_list\":[{\"order_id\":\"6921234567890100002\",\"sku_id\":1735962087153223,"
    "\"code\":\"CUP-QH-01\",\"product_name\":\"景德镇手绘陶瓷茶杯 青花款\",\"item_num\":2,"
    "\"origin_amount\":3990,\"supplier_id\":\"SUP-7\",\"first_cid\":20000,"
    "\"logistics_receipt_time\":1717900000},{\"order_id\":6921234567890100003,"
    "\"sku_id\":1735962087153224,\"code\":\"\",\"out_sku_id\":\"\",\"product_name\":\"竹制杯垫\","
    "\"item_num\":1,\"origin_amount\":2147483648000,\"supplier_id\":\"\","
    "\"logistics_receipt_time\":0,\"confirm_receipt_time\":1717800000}]}}";

static void order_detail(void **state) {
    (void)state;
    char err[200], ids[INTAKE_DY_ORDER_IDS(4)];
    intake_order_line_t lines[4];
    intake_order_t o;
    json_t *doc = load(ORDER);
    assert_int_equal(
        intake_feed_order_from_douyin(doc, &o, lines, 4, ids, sizeof ids, err, sizeof err), 0);
    assert_string_equal(o.platform, "douyin");
    assert_string_equal(o.order_id, "6921234567890100001");
    assert_string_equal(o.shop_id, "4463798");
    assert_string_equal(o.buyer_id, "BgXfyq2UbSm8Qf3Jt7zPkA==");
    assert_string_equal(o.region, "广东省深圳市");
    assert_string_equal(o.payment_method, "alipay");
    assert_true(o.paid_at == 1717600000000LL);
    assert_true(o.delivered_at == 1717800000000LL); /* the earliest line's receipt */
    assert_true(o.shipping_fee_fen == 600 && o.discount_fen == 500 && o.freight_insured);
    assert_int_equal(o.n_lines, 2);
    assert_string_equal(lines[0].line_id, "6921234567890100002");
    assert_string_equal(lines[0].sku_id, "CUP-QH-01");
    assert_string_equal(lines[0].title, "景德镇手绘陶瓷茶杯 青花款");
    assert_string_equal(lines[0].category, "");
    assert_string_equal(lines[0].supplier_id, "SUP-7");
    assert_true(lines[0].quantity == 2 && lines[0].unit_price_fen == 3990);
    assert_string_equal(lines[1].line_id, "6921234567890100003"); /* a number, kept as text */
    assert_string_equal(lines[1].sku_id, "1735962087153224");     /* no merchant code */
    assert_string_equal(lines[1].supplier_id, "");
    assert_true(lines[1].unit_price_fen == 2147483648000LL);

    assert_int_equal(
        intake_feed_order_from_douyin(doc, &o, lines, 1, ids, sizeof ids, err, sizeof err), -1);
    json_t *sku = json_array_get(
        json_object_get(json_object_get(doc, "shop_order_detail"), "sku_order_list"), 1);
    json_object_set_new(sku, "item_num", json_integer(0));
    assert_int_equal(
        intake_feed_order_from_douyin(doc, &o, lines, 4, ids, sizeof ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "item_num"));
    json_decref(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detail_record),
        cmocka_unit_test(list_item_record),
        cmocka_unit_test(order_detail),
    };
    return cmocka_run_group_tests_name("intake_dy_feed_map", tests, NULL, NULL);
}
