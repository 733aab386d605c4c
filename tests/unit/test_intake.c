/*
 * test_intake.c: unit tests for the intake worker's logic: the status a
 * return shows after each event, and that a status never moves backwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/intake/intake.h"

static intake_status_t status_of(rf_event_type_t type, void (*fill)(rf_event_t *)) {
    rf_event_t ev;
    assert_int_equal(rf_event_init(&ev, type), 0);
    if (fill) fill(&ev);
    intake_status_t st = intake_status_after(&ev);
    rf_event_clear(&ev);
    return st;
}

static void goods_expected(rf_event_t *ev) { ev->body.return_approved.goods_expected = true; }
static void empty_box(rf_event_t *ev) {
    assert_int_equal(rf_event_set_str(&ev->body.goods_inspected.grade, "empty_box"), 0);
}
static void resellable(rf_event_t *ev) {
    assert_int_equal(rf_event_set_str(&ev->body.goods_inspected.grade, "resellable"), 0);
}

static void status_per_event(void **state) {
    (void)state;
    assert_string_equal(status_of(RF_EV_RETURN_REQUESTED, NULL).status, "requested");
    assert_string_equal(status_of(RF_EV_REVIEW_OPENED, NULL).status, "under_review");
    assert_string_equal(status_of(RF_EV_RETURN_APPROVED, NULL).status, "approved");
    assert_string_equal(status_of(RF_EV_RETURN_APPROVED, goods_expected).status,
                        "awaiting_return");
    assert_string_equal(status_of(RF_EV_GOODS_RECEIVED, NULL).status, "received");
    assert_string_equal(status_of(RF_EV_GOODS_INSPECTED, resellable).status, "received");
    assert_string_equal(status_of(RF_EV_GOODS_INSPECTED, empty_box).status, "disputed");
    assert_string_equal(status_of(RF_EV_REFUND_ISSUED, NULL).status, "refunded");
    assert_string_equal(status_of(RF_EV_REFUND_FAILED, NULL).status, "refund_failed");
    assert_string_equal(status_of(RF_EV_RETURN_REJECTED, NULL).status, "rejected");
    assert_string_equal(status_of(RF_EV_RETURN_CANCELLED, NULL).status, "cancelled");
    assert_null(status_of(RF_EV_NOTICE_SENT, NULL).status);
    assert_null(status_of(RF_EV_CLAIM_OPENED, NULL).status);
}

/* The ranks follow the lifecycle, so an event that arrives late on a slow
 * link (goods.received after refund.issued) cannot move a return back. */
static void ranks_follow_the_lifecycle(void **state) {
    (void)state;
    int requested = status_of(RF_EV_RETURN_REQUESTED, NULL).rank;
    int review = status_of(RF_EV_REVIEW_OPENED, NULL).rank;
    int approved = status_of(RF_EV_RETURN_APPROVED, NULL).rank;
    int awaiting = status_of(RF_EV_RETURN_APPROVED, goods_expected).rank;
    int received = status_of(RF_EV_GOODS_RECEIVED, NULL).rank;
    int refunded = status_of(RF_EV_REFUND_ISSUED, NULL).rank;
    int failed = status_of(RF_EV_REFUND_FAILED, NULL).rank;
    assert_true(requested < review && review < approved && approved < awaiting);
    assert_true(awaiting < received && received < failed && failed < refunded);
}

static void reasons(void **state) {
    (void)state;
    assert_true(intake_reason_known("quality"));
    assert_true(intake_reason_known("size_fit"));
    assert_false(intake_reason_known("QUALITY"));
    assert_false(intake_reason_known(""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_per_event),
        cmocka_unit_test(ranks_follow_the_lifecycle),
        cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests_name("intake", tests, NULL, NULL);
}
