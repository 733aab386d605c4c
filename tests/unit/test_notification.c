/*
 * test_notification.c: unit tests for the notification worker's plan: who
 * is told what about each event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/notification/notification.h"

static size_t plan_for(rf_event_type_t type, void (*fill)(rf_event_t *),
                       notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]) {
    rf_event_t ev;
    assert_int_equal(rf_event_init(&ev, type), 0);
    assert_int_equal(rf_event_set_str(&ev.return_id, "01RET"), 0);
    if (fill) fill(&ev);
    size_t n = notification_plan(&ev, out);
    rf_event_clear(&ev);
    return n;
}

static void supplier_fault(rf_event_t *ev) {
    assert_int_equal(rf_event_set_str(&ev->body.return_approved.liability, "supplier"), 0);
    ev->body.return_approved.refund_amount_fen = 3990;
}
static void refund_of(rf_event_t *ev) { ev->body.refund_issued.amount_fen = 1234; }
static void graded(rf_event_t *ev) {
    assert_int_equal(rf_event_set_str(&ev->body.goods_inspected.grade, "empty_box"), 0);
}
static void resellable(rf_event_t *ev) {
    assert_int_equal(rf_event_set_str(&ev->body.goods_inspected.grade, "resellable"), 0);
}

static void who_is_told(void **state) {
    (void)state;
    notification_msg_t m[NOTIFICATION_MAX_PER_EVENT];
    assert_int_equal(plan_for(RF_EV_RETURN_REQUESTED, NULL, m), 1);
    assert_string_equal(m[0].audience, "buyer");
    assert_int_equal(plan_for(RF_EV_RETURN_APPROVED, supplier_fault, m), 2);
    assert_string_equal(m[0].audience, "buyer");
    assert_string_equal(m[1].audience, "supplier");
    assert_non_null(strstr(m[1].body, "3990"));
    assert_int_equal(plan_for(RF_EV_REFUND_ISSUED, refund_of, m), 1);
    assert_string_equal(m[0].template_name, "refunded");
    assert_non_null(strstr(m[0].body, "1234 fen"));
    assert_non_null(strstr(m[0].body, "01RET"));
    assert_int_equal(plan_for(RF_EV_GOODS_INSPECTED, graded, m), 1);
    assert_non_null(strstr(m[0].body, "empty_box"));
    assert_int_equal(plan_for(RF_EV_GOODS_INSPECTED, resellable, m), 0);
    assert_int_equal(plan_for(RF_EV_NOTICE_SENT, NULL, m), 0);
}

/* Every event type has a plan that fits the array. */
static void every_type_fits(void **state) {
    (void)state;
    notification_msg_t m[NOTIFICATION_MAX_PER_EVENT];
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        size_t n = plan_for((rf_event_type_t)t, NULL, m);
        assert_true(n <= NOTIFICATION_MAX_PER_EVENT);
        for (size_t i = 0; i < n; i++) assert_true(strlen(m[i].body) > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(who_is_told),
        cmocka_unit_test(every_type_fits),
    };
    return cmocka_run_group_tests_name("notification", tests, NULL, NULL);
}
