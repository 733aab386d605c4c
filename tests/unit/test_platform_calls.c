/*
 * test_platform_calls.c: the pure parts of the platform-call sender
 * (platform/platform_calls.h): backoff, when a refetched Kuaishou record already
 * shows what a call asked for, how platform ids are sent, and the rate-limit
 * codes setting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform/platform_calls.h"

static void backoff(void **state) {
    (void)state;
    assert_int_equal(rf_pcalls_backoff_ms(200, 1), 200);
    assert_int_equal(rf_pcalls_backoff_ms(200, 2), 400);
    assert_int_equal(rf_pcalls_backoff_ms(200, 4), 1600);
    assert_int_equal(rf_pcalls_backoff_ms(1000, 40), 3600000); /* at most an hour */
    assert_int_equal(rf_pcalls_backoff_ms(0, 1), 1);
}

static json_t *record(int status, int negotiate) {
    return json_pack("{s:i, s:i, s:I}", "status", status, "negotiateStatus", negotiate,
                     "updateTime", (json_int_t)1700000000000);
}

static bool reached(const char *method, int status, int negotiate) {
    json_t *r = record(status, negotiate);
    bool b = rf_pcalls_target_reached(method, r);
    json_decref(r);
    return b;
}

static void target_reached(void **state) {
    (void)state;
    const char *approve = "open.seller.order.refund.approve";
    const char *goods = "open.seller.order.refund.returngoods.approve";
    const char *confirm = "open.seller.order.refund.confirm.receipt";
    const char *reject = "open.refund.reject";
    /* still waiting for the seller: nothing done yet */
    assert_false(reached(approve, 10, 1));
    assert_false(reached(goods, 11, 1));
    assert_false(reached(reject, 11, 1));
    /* agreed: a refund executing, or waiting for the goods */
    assert_true(reached(approve, 50, 2));
    assert_true(reached(goods, 30, 2));
    assert_true(reached(goods, 40, 2));
    assert_false(reached(goods, 70, 1)); /* closed is not agreed */
    /* rejected */
    assert_true(reached(reject, 11, 3));
    assert_true(reached(reject, 12, 1));
    assert_false(reached(reject, 30, 2));
    /* receipt confirmed: refunding or refunded */
    assert_false(reached(confirm, 30, 2));
    assert_true(reached(confirm, 50, 2));
    assert_true(reached(confirm, 60, 2));
    /* statuses as text, an unknown method, no record */
    json_t *r = json_pack("{s:s, s:s}", "status", "50", "negotiateStatus", "2");
    assert_true(rf_pcalls_target_reached(approve, r));
    assert_false(rf_pcalls_target_reached("open.refund.submit.returnInfo", r));
    json_decref(r);
    assert_false(rf_pcalls_target_reached(approve, NULL));
}

static void id_json(void **state) {
    (void)state;
    json_t *v = rf_pcalls_id_json("2401234567890123456");
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 2401234567890123456LL);
    json_decref(v);
    v = rf_pcalls_id_json("9999999999999999999"); /* does not fit int64: kept as text */
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "9999999999999999999");
    json_decref(v);
    v = rf_pcalls_id_json("R101");
    assert_string_equal(json_string_value(v), "R101");
    json_decref(v);
    v = rf_pcalls_id_json("");
    assert_true(json_is_string(v));
    json_decref(v);
}

static void rate_limit_codes(void **state) {
    (void)state;
    int c[4];
    assert_int_equal(rf_ks_parse_codes("803", c), 0);
    assert_int_equal(c[0], 803);
    assert_int_equal(c[1], 0);
    assert_int_equal(rf_ks_parse_codes("803,429,1,2", c), 0);
    assert_int_equal(c[3], 2);
    assert_int_equal(rf_ks_parse_codes("", c), 0);
    assert_int_equal(c[0], 0);
    assert_int_equal(rf_ks_parse_codes("1,2,3,4,5", c), -1);
    assert_int_equal(rf_ks_parse_codes("803;429", c), -1);
    assert_int_equal(rf_ks_parse_codes("-1", c), -1);
    assert_int_equal(rf_ks_parse_codes("abc", c), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff),
        cmocka_unit_test(target_reached),
        cmocka_unit_test(id_json),
        cmocka_unit_test(rate_limit_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
