/*
 * test_review.c: unit tests for the review worker's policy: the automatic
 * first look, who must decide, and who bears the cost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/review/review.h"

static void first_look(void **state) {
    (void)state;
    review_auto_approve_max_fen = 5000;
    review_cs_limit_fen = 50000;
    review_verdict_t v = review_first_look("refund_only", 5000);
    assert_true(v.auto_approve);
    assert_string_equal(v.required_role, "auto");
    v = review_first_look("refund_only", 5001);
    assert_false(v.auto_approve);
    assert_string_equal(v.required_role, "cs");
    v = review_first_look("return_refund", 100);
    assert_false(v.auto_approve);
    assert_string_equal(v.required_role, "cs");
    v = review_first_look("return_refund", 50000);
    assert_string_equal(v.required_role, "cs");
    v = review_first_look("exchange", 50001);
    assert_string_equal(v.required_role, "cs_supervisor");
    review_auto_approve_max_fen = 0; /* the limit is a setting */
    assert_false(review_first_look("refund_only", 1).auto_approve);
    review_auto_approve_max_fen = 5000;
}

static void liability(void **state) {
    (void)state;
    assert_string_equal(review_liability("quality"), "supplier");
    assert_string_equal(review_liability("wrong_item"), "supplier");
    assert_string_equal(review_liability("not_as_described"), "supplier");
    assert_string_equal(review_liability("damaged"), "carrier");
    assert_string_equal(review_liability("late"), "carrier");
    assert_string_equal(review_liability("changed_mind"), "buyer");
    assert_string_equal(review_liability("size_fit"), "buyer");
    assert_string_equal(review_liability("other"), "merchant");
}

static void reject_reasons(void **state) {
    (void)state;
    assert_true(review_reject_reason_known("window_expired"));
    assert_true(review_reject_reason_known("reviewer_rejected"));
    assert_false(review_reject_reason_known("because"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_look),
        cmocka_unit_test(liability),
        cmocka_unit_test(reject_reasons),
    };
    return cmocka_run_group_tests_name("review", tests, NULL, NULL);
}
