/*
 * test_refund.c: unit tests for the refund worker's decisions: which
 * inspected goods are refunded, who a claim goes to, the idempotency key,
 * and which platform call makes the platform pay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/refund/refund.h"

static void after_inspection(void **state) {
    (void)state;
    assert_true(refund_after_inspection("resellable"));
    assert_true(refund_after_inspection("packaging_damaged"));
    assert_true(refund_after_inspection("goods_damaged"));
    assert_true(refund_after_inspection("missing_parts"));
    assert_false(refund_after_inspection("empty_box"));
    assert_false(refund_after_inspection("wrong_item"));
}

static void claim_party(void **state) {
    (void)state;
    assert_string_equal(refund_claim_party("supplier"), "supplier");
    assert_string_equal(refund_claim_party("carrier"), "carrier");
    assert_null(refund_claim_party("merchant"));
    assert_null(refund_claim_party("buyer"));
}

/* One key per return: whatever event or retry leads to the refund, the
 * platform sees the same key, so it can never pay twice. */
static void idempotency_key(void **state) {
    (void)state;
    char a[128], b[128], c[128];
    refund_idempotency_key("01ABC", a, sizeof a);
    refund_idempotency_key("01ABC", b, sizeof b);
    refund_idempotency_key("01ABD", c, sizeof c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_non_null(strstr(a, "01ABC"));
}

static void platform_purpose(void **state) {
    (void)state;
    refund_plan_t plan;
    memset(&plan, 0, sizeof plan);
    strcpy(plan.kind, "refund_only");
    assert_string_equal(refund_platform_purpose(&plan), "approve_refund");
    assert_string_equal(refund_platform_method("approve_refund"),
                        "open.seller.order.refund.approve");
    strcpy(plan.kind, "return_refund");
    plan.goods_expected = true;
    assert_string_equal(refund_platform_purpose(&plan), "confirm_receipt");
    assert_string_equal(refund_platform_method("confirm_receipt"),
                        "open.seller.order.refund.confirm.receipt");
    plan.goods_expected = false; /* returnless: agreed like a refund-only request */
    assert_string_equal(refund_platform_purpose(&plan), "approve_refund");
    strcpy(plan.kind, "exchange");
    assert_null(refund_platform_purpose(&plan));
    assert_null(refund_platform_method("reject"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(after_inspection),
        cmocka_unit_test(claim_party),
        cmocka_unit_test(idempotency_key),
        cmocka_unit_test(platform_purpose),
    };
    return cmocka_run_group_tests_name("refund", tests, NULL, NULL);
}
