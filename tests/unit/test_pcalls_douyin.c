/*
 * test_pcalls_douyin.c: decision calls in Douyin's terms
 * (platform/pcalls_douyin.h, platform_calls_terms.c): afterSale.operate's
 * param per decision, what its answer's items say, whether afterSale.Detail
 * shows a call's target, a refetched record's facts, and the per-platform
 * dispatch (refetch method, target check, calls on or off).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/dy_client.h"
#include "platform/pcalls_douyin.h"
#include "platform/platform_calls.h"

#define AFTERSALE "7301234567890123456"

/* The param as the SDKs send it (keys sorted, compact). */
static void assert_param(const rf_pcalls_dy_op_t *op, const char *want) {
    char err[200] = "";
    json_t *p = rf_pcalls_dy_operate_param(op, err, sizeof err);
    if (!p) fail_msg("no param: %s", err);
    char *text = rf_dy_param_json(p);
    assert_string_equal(text, want);
    char why[100];
    assert_int_equal(rf_dy_check_param(RF_PCALLS_DY_OPERATE, p, why, sizeof why), 0);
    assert_int_equal(rf_pcalls_dy_operate_type(p), op->type);
    free(text);
    json_decref(p);
}

static void operate_params(void **state) {
    (void)state;
    rf_pcalls_dy_op_t agree_refund = {.type = RF_DY_OP_AGREE_REFUND, .aftersale_id = AFTERSALE};
    assert_param(&agree_refund, "{\"items\":[{\"aftersale_id\":\"" AFTERSALE "\"}],\"type\":201}");
    rf_pcalls_dy_op_t agree_return = {.type = RF_DY_OP_AGREE_RETURN,
                                      .aftersale_id = AFTERSALE,
                                      .version_ms = 1718000000123,
                                      .address_id = "9001"};
    assert_param(&agree_return, "{\"items\":[{\"aftersale_id\":\"" AFTERSALE
                                "\",\"logistics\":{\"receiver_address_id\":9001},"
                                "\"update_time\":1718000000}],\"type\":101}");
    rf_pcalls_dy_op_t reject = {.type = RF_DY_OP_REJECT_RETURN,
                                .aftersale_id = AFTERSALE,
                                .version_ms = 1718000000000,
                                .reject_reason_code = 3,
                                .reason = "window_expired",
                                .remark = "超过售后期限"};
    assert_param(&reject, "{\"items\":[{\"aftersale_id\":\"" AFTERSALE
                          "\",\"reason\":\"window_expired\",\"reject_reason_code\":3,"
                          "\"remark\":\"超过售后期限\",\"update_time\":1718000000}],\"type\":102}");
    reject.type = RF_DY_OP_REJECT_REFUND;
    reject.version_ms = 0; /* no version known: no lock */
    assert_param(&reject, "{\"items\":[{\"aftersale_id\":\"" AFTERSALE
                          "\",\"reason\":\"window_expired\",\"reject_reason_code\":3,"
                          "\"remark\":\"超过售后期限\"}],\"type\":202}");
    rf_pcalls_dy_op_t receipt = {.type = RF_DY_OP_AGREE_RECEIPT, .aftersale_id = AFTERSALE};
    assert_param(&receipt, "{\"items\":[{\"aftersale_id\":\"" AFTERSALE "\"}],\"type\":111}");
}

static void operate_refusals(void **state) {
    (void)state;
    char err[200];
    rf_pcalls_dy_op_t op = {.type = RF_DY_OP_AGREE_RETURN, .aftersale_id = AFTERSALE};
    assert_null(rf_pcalls_dy_operate_param(&op, err, sizeof err)); /* 101 without an address */
    assert_non_null(strstr(err, "receiver_address_id"));
    op.address_id = "north-gate";
    assert_null(rf_pcalls_dy_operate_param(&op, err, sizeof err)); /* not an address id */
    rf_pcalls_dy_op_t reject = {
        .type = RF_DY_OP_REJECT_REFUND, .aftersale_id = AFTERSALE, .reason = "r", .remark = "m"};
    assert_null(rf_pcalls_dy_operate_param(&reject, err, sizeof err)); /* no code */
    assert_non_null(strstr(err, "reject_reason_code"));
    reject.reject_reason_code = 1;
    reject.remark = "";
    assert_null(rf_pcalls_dy_operate_param(&reject, err, sizeof err)); /* no remark */
    rf_pcalls_dy_op_t odd = {.type = 311, .aftersale_id = AFTERSALE};
    assert_null(rf_pcalls_dy_operate_param(&odd, err, sizeof err));
    rf_pcalls_dy_op_t none = {.type = RF_DY_OP_AGREE_REFUND, .aftersale_id = ""};
    assert_null(rf_pcalls_dy_operate_param(&none, err, sizeof err));
    assert_int_equal(rf_pcalls_dy_operate_type(NULL), 0);
}

static int result_of(const char *data_json, int *code, char *err, size_t errlen) {
    json_t *data = json_loads(data_json, 0, NULL);
    int rc = rf_pcalls_dy_operate_result(data, code, err, errlen);
    json_decref(data);
    return rc;
}

static void operate_answers(void **state) {
    (void)state;
    char err[300];
    int code = 99;
    /* the stand-in's answer, as the SDK's response declares it */
    assert_int_equal(result_of("{\"items\":[{\"aftersale_id\":7301234567890123456,"
                               "\"status_code\":0,\"status_msg\":\"success\"}]}",
                               &code, err, sizeof err),
                     0);
    assert_int_equal(code, 0);
    assert_int_equal(result_of("{\"items\":[{\"aftersale_id\":7301234567890123456,"
                               "\"status_code\":1003,\"status_msg\":\"售后单状态已变更\"}]}",
                               &code, err, sizeof err),
                     -1);
    assert_int_equal(code, 1003);
    assert_non_null(strstr(err, "7301234567890123456"));
    assert_non_null(strstr(err, "售后单状态已变更"));
    assert_int_equal(result_of("{\"items\":[{\"aftersale_id\":\"1\",\"status_code\":\"0\"},"
                               "{\"aftersale_id\":\"2\",\"status_code\":\"7\"}]}",
                               &code, err, sizeof err),
                     -1);
    assert_int_equal(code, 7);
    /* no items, no status, no data: not done */
    assert_int_equal(result_of("{\"items\":[]}", &code, err, sizeof err), -1);
    assert_int_equal(code, -1);
    assert_int_equal(result_of("{\"items\":[{\"aftersale_id\":1}]}", &code, err, sizeof err), -1);
    assert_int_equal(rf_pcalls_dy_operate_result(NULL, &code, err, sizeof err), -1);
}

static json_t *detail(int status, int type) {
    return json_pack("{s:{s:{s:s, s:i, s:i, s:I, s:i, s:i}}}", "process_info", "after_sale_info",
                     "after_sale_id", AFTERSALE, "after_sale_status", status, "after_sale_type",
                     type, "update_time", (json_int_t)1718000050, "refund_total_amount", 4590,
                     "refund_post_amount", 600);
}

static bool reached(int type, int status) {
    json_t *d = detail(status, 0);
    bool b = rf_pcalls_dy_target_reached(type, d);
    bool via = rf_pcalls_reached("douyin", RF_PCALLS_DY_OPERATE, type, d);
    assert_true(b == via);
    json_decref(d);
    return b;
}

static void target_reached(void **state) {
    (void)state;
    /* waiting for the seller (6): nothing done yet */
    assert_false(reached(RF_DY_OP_AGREE_REFUND, 6));
    assert_false(reached(RF_DY_OP_AGREE_RETURN, 6));
    assert_false(reached(RF_DY_OP_REJECT_RETURN, 6));
    /* agreed refund only / received: 售后成功 */
    assert_true(reached(RF_DY_OP_AGREE_REFUND, 12));
    assert_true(reached(RF_DY_OP_AGREE_RECEIPT, 12));
    assert_false(reached(RF_DY_OP_AGREE_RECEIPT, 11));
    /* agreed return: waiting for the buyer, the parcel on its way, done */
    assert_true(reached(RF_DY_OP_AGREE_RETURN, 7));
    assert_true(reached(RF_DY_OP_AGREE_RETURN, 11));
    assert_true(reached(RF_DY_OP_AGREE_RETURN, 12));
    assert_false(reached(RF_DY_OP_AGREE_RETURN, 27));
    /* rejected the first time */
    assert_true(reached(RF_DY_OP_REJECT_RETURN, 27));
    assert_true(reached(RF_DY_OP_REJECT_REFUND, 27));
    assert_false(reached(RF_DY_OP_REJECT_REFUND, 28)); /* closed is not rejected */
    /* no record, another shape, an unknown type */
    assert_false(rf_pcalls_dy_target_reached(RF_DY_OP_AGREE_REFUND, NULL));
    json_t *flat = json_pack("{s:i}", "after_sale_status", 12);
    assert_false(rf_pcalls_dy_target_reached(RF_DY_OP_AGREE_REFUND, flat));
    json_decref(flat);
    assert_false(reached(311, 12));
}

static void detail_facts(void **state) {
    (void)state;
    json_t *d = detail(6, 1);
    rf_pcall_facts_t f;
    assert_int_equal(rf_pcalls_detail_facts("douyin", d, &f), 0);
    assert_int_equal(f.version, 1718000050000LL); /* seconds to ms, as intake's feed */
    assert_int_equal(f.amount_fen, 3990);         /* without the postage */
    assert_string_equal(f.kind, "refund_only");
    json_decref(d);
    json_t *bare = json_pack("{s:{s:{}}}", "process_info", "after_sale_info");
    assert_int_equal(rf_pcalls_detail_facts("douyin", bare, &f), 0);
    assert_int_equal(f.version, 0);
    assert_int_equal(f.amount_fen, -1);
    assert_null(f.kind);
    json_decref(bare);
    assert_int_equal(rf_pcalls_detail_facts("douyin", NULL, &f), -1);
    /* Kuaishou's record, the same way */
    json_t *ks = json_pack("{s:I, s:i, s:i}", "updateTime", (json_int_t)1700000000000, "refundFee",
                           2500, "handlingWay", 10);
    assert_int_equal(rf_pcalls_detail_facts("kuaishou", ks, &f), 0);
    assert_int_equal(f.version, 1700000000000LL);
    assert_int_equal(f.amount_fen, 2500);
    assert_string_equal(f.kind, "refund_only");
    json_decref(ks);
}

static void per_platform(void **state) {
    (void)state;
    json_t *param = NULL;
    assert_string_equal(rf_pcalls_refetch("douyin", AFTERSALE, &param), RF_PCALLS_DY_DETAIL);
    char *text = rf_dy_param_json(param);
    assert_string_equal(text, "{\"after_sale_id\":\"" AFTERSALE "\"}"); /* text, as the SDK */
    free(text);
    json_decref(param);
    assert_string_equal(rf_pcalls_refetch("kuaishou", "2412345678901234567", &param),
                        "open.seller.order.refund.detail");
    assert_int_equal(json_integer_value(json_object_get(param, "refundId")), 2412345678901234567LL);
    json_decref(param);
    /* calls on or off per platform */
    rf_dy_api_url[0] = '\0';
    assert_false(rf_pcalls_platform_enabled("douyin"));
    strcpy(rf_dy_api_url, "http://127.0.0.1:1");
    assert_true(rf_pcalls_platform_enabled("douyin"));
    assert_true(rf_pcalls_enabled());
    assert_false(rf_pcalls_platform_enabled("api"));
    rf_dy_api_url[0] = '\0';
    assert_string_equal(rf_pcalls_api_setting("douyin"), "RF_DOUYIN_API_URL");
    assert_string_equal(rf_pcalls_api_setting("kuaishou"), "RF_KUAISHOU_API_URL");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operate_params),  cmocka_unit_test(operate_refusals),
        cmocka_unit_test(operate_answers), cmocka_unit_test(target_reached),
        cmocka_unit_test(detail_facts),    cmocka_unit_test(per_platform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
