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
    assert_non_null(strstr(m[1].body, "39.90 元")); /* zh-CN, amounts in yuan */
    assert_int_equal(plan_for(RF_EV_REFUND_ISSUED, refund_of, m), 1);
    assert_string_equal(m[0].template_name, "refunded");
    assert_non_null(strstr(m[0].body, "12.34 元"));
    assert_non_null(strstr(m[0].body, "退款"));
    assert_non_null(strstr(m[0].body, "01RET"));
    assert_int_equal(plan_for(RF_EV_GOODS_INSPECTED, graded, m), 1);
    assert_non_null(strstr(m[0].body, "empty_box"));
    assert_int_equal(plan_for(RF_EV_GOODS_INSPECTED, resellable, m), 0);
    assert_int_equal(plan_for(RF_EV_NOTICE_SENT, NULL, m), 0);
}

static void reship_of(rf_event_t *ev, const char *state) {
    assert_int_equal(rf_event_set_str(&ev->body.reship_updated.state, state), 0);
}
static void reship_requested(rf_event_t *ev) { reship_of(ev, "requested"); }
static void reship_delivered(rf_event_t *ev) { reship_of(ev, "delivered"); }

/* Alerts go to operations; the supplier hears of the reship; the exchange's
 * end and a refund complete the return (a survey follows). */
static void alerts_and_completion(void **state) {
    (void)state;
    notification_msg_t m[NOTIFICATION_MAX_PER_EVENT];
    assert_int_equal(plan_for(RF_EV_REVIEW_DEADLINE_NEAR, NULL, m), 1);
    assert_string_equal(m[0].audience, "ops");
    assert_string_equal(m[0].template_name, "deadline_near");
    assert_int_equal(plan_for(RF_EV_REFUND_FAILED, NULL, m), 1);
    assert_string_equal(m[0].audience, "ops");
    assert_int_equal(plan_for(RF_EV_REFUND_AWAITING_APPROVAL, NULL, m), 1);
    assert_string_equal(m[0].template_name, "finance_approval_needed");
    assert_int_equal(plan_for(RF_EV_RESHIP_UPDATED, reship_requested, m), 1);
    assert_string_equal(m[0].audience, "supplier");
    assert_int_equal(plan_for(RF_EV_RESHIP_UPDATED, reship_delivered, m), 1);
    assert_string_equal(m[0].template_name, "exchanged");

    rf_event_t ev;
    assert_int_equal(rf_event_init(&ev, RF_EV_REFUND_ISSUED), 0);
    assert_true(notification_completes(&ev));
    rf_event_clear(&ev);
    assert_int_equal(rf_event_init(&ev, RF_EV_RESHIP_UPDATED), 0);
    reship_requested(&ev);
    assert_false(notification_completes(&ev));
    reship_delivered(&ev);
    assert_true(notification_completes(&ev));
    rf_event_clear(&ev);
}

/* Yuan text from integer fen, no floating point. */
static void yuan_text(void **state) {
    (void)state;
    static const struct {
        int64_t fen;
        const char *text;
    } cases[] = {
        {0, "0.00"},
        {1, "0.01"},
        {99, "0.99"},
        {100, "1.00"},
        {123456, "1234.56"},
        {-250, "-2.50"},
        {INT64_MAX, "92233720368547758.07"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(notification_yuan(cases[i].fen).s, cases[i].text);
}

/* The webhook backoff doubles and is bounded. */
static void retry_backoff(void **state) {
    (void)state;
    assert_int_equal(notification_retry_delay_ms(1000, 1), 1000);
    assert_int_equal(notification_retry_delay_ms(1000, 2), 2000);
    assert_int_equal(notification_retry_delay_ms(1000, 4), 8000);
    assert_int_equal(notification_retry_delay_ms(1000, 60), 3600000);
}

/* Rows as PostgreSQL array literals: quotes and backslashes escaped, NULL
 * as SQL NULL, every column closed after each row; reset empties them. */
static void rows_literals(void **state) {
    (void)state;
    notification_rows_t r;
    assert_int_equal(notification_rows_init(&r, 2), 0);
    assert_string_equal(notification_rows_literal(&r, 0), "{}");
    const char *first[] = {"a \"b\" \\c,d{}", NULL};
    const char *second[] = {"", "退款 12.34 元"};
    assert_int_equal(notification_rows_add(&r, first), 0);
    assert_int_equal(notification_rows_add(&r, second), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(notification_rows_literal(&r, 0), "{\"a \\\"b\\\" \\\\c,d{}\",\"\"}");
    assert_string_equal(notification_rows_literal(&r, 1), "{NULL,\"退款 12.34 元\"}");
    char big[3000];
    memset(big, '"', sizeof big - 1); /* grows past the first buffer, all escaped */
    big[sizeof big - 1] = '\0';
    const char *third[] = {big, "x"};
    assert_int_equal(notification_rows_add(&r, third), 0);
    assert_int_equal(strlen(notification_rows_literal(&r, 0)),
                     strlen("{\"a \\\"b\\\" \\\\c,d{}\",\"\",") + 2 * 2999 + 3);
    assert_int_equal(notification_rows_reset(&r), 0);
    assert_int_equal(r.n, 0);
    assert_string_equal(notification_rows_literal(&r, 1), "{}");
    notification_rows_free(&r);
}

/* A batch's messages: their columns in order, announced or not; completed
 * returns listed; clearing empties the batch. */
static void batch_rows(void **state) {
    (void)state;
    notification_batch_t b;
    assert_int_equal(notification_batch_init(&b), 0);
    assert_true(notification_batch_empty(&b));
    notification_msg_t m = {"buyer", "platform_im", "refunded", "退款 12.34 元"};
    notification_msg_t s = {"ops", "ops", "ops_alert", "告警"};
    assert_int_equal(notification_batch_add(&b, "01RET", "01EV", "01EV", true, &m), 0);
    assert_int_equal(notification_batch_add(&b, "01RET", "01EV2", NULL, false, &s), 0);
    assert_int_equal(notification_batch_complete(&b, "01RET"), 0);
    assert_false(notification_batch_empty(&b));
    assert_int_equal(b.messages.n, 2);
    assert_string_equal(notification_rows_literal(&b.messages, MSG_SOURCE_EVENT_ID),
                        "{\"01EV\",\"01EV2\"}");
    assert_string_equal(notification_rows_literal(&b.messages, MSG_AUDIENCE),
                        "{\"buyer\",\"ops\"}");
    assert_string_equal(notification_rows_literal(&b.messages, MSG_CAUSATION_ID),
                        "{\"01EV\",NULL}");
    assert_string_equal(notification_rows_literal(&b.messages, MSG_ANNOUNCE), "{\"t\",\"f\"}");
    const char *ids = notification_rows_literal(&b.messages, MSG_NOTICE_ID);
    assert_int_equal(strlen(ids), 2 + 2 * 28 + 1); /* two quoted ULIDs */
    assert_memory_not_equal(ids + 2, ids + 31, 26);
    assert_string_equal(notification_rows_literal(&b.completed, 0), "{\"01RET\"}");
    assert_int_equal(notification_batch_clear(&b), 0);
    assert_true(notification_batch_empty(&b));
    notification_batch_free(&b);
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
        cmocka_unit_test(alerts_and_completion),
        cmocka_unit_test(yuan_text),
        cmocka_unit_test(retry_backoff),
        cmocka_unit_test(rows_literals),
        cmocka_unit_test(batch_rows),
    };
    return cmocka_run_group_tests_name("notification", tests, NULL, NULL);
}
