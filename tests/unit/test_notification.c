/*
 * test_notification.c: unit tests for the notification worker's plan: who
 * could be told what about each event, and the policy that says who is.
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
    assert_int_equal(plan_for(RF_EV_REFUND_FAILED, NULL, m), 2);
    assert_string_equal(m[0].audience, "buyer");
    assert_int_equal(m[0].kind, NK_REFUND_FAILED_BUYER);
    assert_string_equal(m[1].audience, "ops");
    assert_string_equal(m[1].template_name, "refund_failed");
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
    notification_msg_t m = {NK_REFUNDED_BUYER, "buyer", "platform_im", "refunded", "退款 12.34 元"};
    notification_msg_t s = {NK_OPS_ALERT_OPS, "ops", "ops", "ops_alert", "告警"};
    assert_int_equal(notification_batch_add(&b, "01RET", "01EV", "01EV", true, &m), 0);
    assert_int_equal(notification_batch_add(&b, "01RET", "01EV2", NULL, false, &s), 0);
    assert_int_equal(notification_batch_complete(&b, "01RET"), 0);
    assert_int_equal(notification_batch_shop(&b, "01RET", "shop-1"), 0);
    assert_false(notification_batch_empty(&b));
    assert_string_equal(notification_rows_literal(&b.shops, 1), "{\"shop-1\"}");
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

/* Every kind's name and audience match what the plan makes. */
static void kinds_match_the_plan(void **state) {
    (void)state;
    notification_msg_t m[NOTIFICATION_MAX_PER_EVENT];
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        size_t n = plan_for((rf_event_type_t)t, NULL, m);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(m[i].audience, notification_kind_audience(m[i].kind));
            const char *name = notification_kind_name(m[i].kind);
            assert_int_equal(strncmp(name, rf_event_type_name((rf_event_type_t)t),
                                     strlen(rf_event_type_name((rf_event_type_t)t))),
                             0);
        }
    }
}

/* The lean default: a notice only where someone is told. */
static void lean_default(void **state) {
    (void)state;
    notification_policy_t p = notification_policy_builtin();
    static const notification_kind_t on[] = {
        NK_APPROVED_BUYER,       NK_REJECTED_BUYER,  NK_REFUNDED_BUYER, NK_REFUND_FAILED_BUYER,
        NK_RESHIP_SHIPPED_BUYER, NK_CLAIM_SUPPLIER,  NK_OPS_ALERT_OPS,  NK_DEADLINE_NEAR_OPS,
        NK_REFUND_FAILED_OPS,    NK_ARBITRATION_OPS, NK_SURVEY_BUYER,
    };
    uint32_t want = 0;
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) want |= 1u << on[i];
    assert_int_equal(p.on, want);
    assert_false(notification_policy_sends(p, NK_REQUESTED_BUYER));
    assert_false(notification_policy_sends(p, NK_APPROVED_SUPPLIER));
    assert_false(notification_policy_sends(p, NK_RESHIP_DELIVERED_BUYER));
}

static json_t *doc_of(const char *text) {
    json_error_t e;
    json_t *d = json_loads(text, 0, &e);
    assert_non_null(d);
    return d;
}

/* A shop turns (event, audience) pairs on and off: a plain event type for
 * each of its states, a qualified key over it; the shop over the default. */
static void shop_policy(void **state) {
    (void)state;
    char err[300] = "";
    json_t *d = doc_of("{\"default\": {\"return.requested\": {\"buyer\": true}},"
                       " \"shops\": {\"S1\": {\"reship.updated:requested\": {\"supplier\": false},"
                       "  \"reship.updated\": {\"supplier\": true, \"buyer\": true},"
                       "  \"refund.failed\": {\"ops\": false}, \"survey\": {\"buyer\": false}},"
                       "  \"S0\": {}}}");
    assert_int_equal(notification_policy_load_doc(d, err, sizeof err), 0);
    json_decref(d);
    assert_int_equal(notification_policy_shops(), 2);
    bool own = true;
    notification_policy_t def = notification_policy_of_shop("other", &own);
    assert_false(own);
    assert_true(notification_policy_sends(def, NK_REQUESTED_BUYER));
    assert_true(notification_policy_sends(def, NK_REFUNDED_BUYER));
    notification_policy_t s1 = notification_policy_of_shop("S1", &own);
    assert_true(own);
    assert_true(notification_policy_sends(s1, NK_REQUESTED_BUYER)); /* from default */
    assert_false(notification_policy_sends(s1, NK_RESHIP_REQUESTED_SUPPLIER));
    assert_true(notification_policy_sends(s1, NK_RESHIP_DELIVERED_BUYER));
    assert_true(notification_policy_sends(s1, NK_RESHIP_SHIPPED_BUYER));
    assert_false(notification_policy_sends(s1, NK_REFUND_FAILED_OPS));
    assert_true(notification_policy_sends(s1, NK_REFUND_FAILED_BUYER));
    assert_false(notification_policy_sends(s1, NK_SURVEY_BUYER));
    notification_policy_t s0 = notification_policy_of_shop("S0", &own);
    assert_true(own);
    assert_int_equal(s0.on, def.on);

    /* The return -> shop cache. */
    const char *shop = NULL;
    assert_int_equal(notification_shop_cached("01RET", &shop), 0);
    notification_shop_remember("01RET", "S1");
    assert_int_equal(notification_shop_cached("01RET", &shop), 1);
    assert_string_equal(shop, "S1");

    /* Bad documents are refused whole and change nothing. */
    static const char *const bad[] = {
        "[]",
        "{\"defaults\": {}}",
        "{\"default\": {\"return.approved\": {\"ops\": true}}}",
        "{\"default\": {\"no.such\": {\"buyer\": true}}}",
        "{\"default\": {\"return.approved\": {\"buyer\": 1}}}",
        "{\"default\": {\"return.approved\": true}}",
        "{\"shops\": {\"S2\": {\"reship.updated:lost\": {\"buyer\": true}}}}",
        "{\"shops\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = doc_of(bad[i]);
        err[0] = '\0';
        assert_int_equal(notification_policy_load_doc(d, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        json_decref(d);
    }
    assert_int_equal(notification_policy_shops(), 2);
    assert_int_equal(notification_shop_cached("01RET", &shop), 1);

    d = doc_of("{}");
    assert_int_equal(notification_policy_load_doc(d, err, sizeof err), 0);
    json_decref(d);
    assert_int_equal(notification_policy_shops(), 0);
    assert_int_equal(notification_policy_of_shop("S1", &own).on, notification_policy_builtin().on);
    assert_false(own);
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
        cmocka_unit_test(kinds_match_the_plan),
        cmocka_unit_test(lean_default),
        cmocka_unit_test(shop_policy),
    };
    return cmocka_run_group_tests_name("notification", tests, NULL, NULL);
}
