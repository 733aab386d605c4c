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
    assert_string_equal(status_of(RF_EV_RETURN_APPROVED, goods_expected).status, "awaiting_return");
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
    /* A refund that was issued shows, whatever decision raced with it. */
    assert_true(refunded > status_of(RF_EV_RETURN_CANCELLED, NULL).rank);
    assert_true(refunded > status_of(RF_EV_RETURN_REJECTED, NULL).rank);
}

static void reasons(void **state) {
    (void)state;
    assert_true(intake_reason_known("quality"));
    assert_true(intake_reason_known("size_fit"));
    assert_false(intake_reason_known("QUALITY"));
    assert_false(intake_reason_known(""));
}

#define DAY 86400000LL
#define HOUR 3600000LL
/* 2026-11-01 00:00 Beijing time (UTC+8) = 2026-10-31 16:00 UTC. */
#define NOV1_BJ 1793462400000LL

/* The window counts whole days from the day after delivery, in Beijing time. */
static void window_end(void **state) {
    (void)state;
    /* delivered 2026-11-01 10:00 Beijing: 7 days are Nov 2..8, closing at
     * Nov 9 00:00 Beijing */
    int64_t delivered = NOV1_BJ + 10 * HOUR;
    assert_int_equal(intake_window_end(delivered, 7, 480), NOV1_BJ + 8 * DAY);
    /* delivered 23:59 Beijing on Nov 1 (15:59 UTC): same day, same end */
    assert_int_equal(intake_window_end(NOV1_BJ + 24 * HOUR - 60000, 7, 480), NOV1_BJ + 8 * DAY);
    /* delivered 00:00 Beijing on Nov 2: a day later */
    assert_int_equal(intake_window_end(NOV1_BJ + DAY, 7, 480), NOV1_BJ + 9 * DAY);
    assert_int_equal(intake_window_end(delivered, 15, 480), NOV1_BJ + 16 * DAY);
}

typedef struct check_case {
    const char *what;
    intake_check_in_t in;
    const char *want; /* NULL: acceptable */
} check_case_t;

static void acceptability(void **state) {
    (void)state;
    intake_policy_t p;
    intake_policy_default(&p);
    int64_t delivered = NOV1_BJ + 10 * HOUR, end7 = NOV1_BJ + 8 * DAY, end15 = NOV1_BJ + 16 * DAY;
#define OK_LINE .line_found = true, .ordered = 3, .delivered_at = delivered, .quantity = 1
    const check_case_t cases[] = {
        {"fine",
         {OK_LINE, .reason_code = "changed_mind", .category = "apparel", .requested_at = end7 - 1},
         NULL},
        {"unknown line", {.reason_code = "quality", .quantity = 1}, "order_unknown"},
        {"an open return on the line",
         {OK_LINE, .reason_code = "quality", .open_returns = 1, .open_return_id = "R1",
          .requested_at = delivered},
         "duplicate_request"},
        {"more than ordered minus returned",
         {.line_found = true,
          .ordered = 3,
          .delivered_at = delivered,
          .quantity = 2,
          .reason_code = "quality",
          .returned = 2,
          .requested_at = delivered},
         "quantity_exceeded"},
        {"all that is left",
         {OK_LINE, .reason_code = "quality", .returned = 2, .requested_at = delivered},
         NULL},
        {"no-reason window closed",
         {OK_LINE, .reason_code = "changed_mind", .requested_at = end7},
         "window_expired"},
        {"quality window still open",
         {OK_LINE, .reason_code = "quality", .requested_at = end7},
         NULL},
        {"quality window closed",
         {OK_LINE, .reason_code = "quality", .requested_at = end15},
         "window_expired"},
        {"not delivered yet: no window",
         {.line_found = true,
          .ordered = 1,
          .quantity = 1,
          .reason_code = "changed_mind",
          .requested_at = end15 * 2},
         NULL},
        {"customised, no reason",
         {OK_LINE, .reason_code = "size_fit", .category = "customised", .requested_at = delivered},
         "category_excluded"},
        {"fresh, quality fault: reviewable",
         {OK_LINE, .reason_code = "quality", .category = "fresh", .requested_at = delivered},
         NULL},
        {"cosmetics, exclusion confirmed",
         {OK_LINE, .reason_code = "changed_mind", .category = "cosmetics",
          .exclusion_confirmed = true, .requested_at = delivered},
         "category_excluded"},
        {"cosmetics, exclusion not confirmed",
         {OK_LINE, .reason_code = "changed_mind", .category = "cosmetics",
          .requested_at = delivered},
         NULL},
        {"food, exclusion confirmed, wrong item sent",
         {OK_LINE, .reason_code = "wrong_item", .category = "food", .exclusion_confirmed = true,
          .requested_at = delivered},
         NULL},
    };
#undef OK_LINE
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[300] = "";
        const char *got = intake_check(&p, &cases[i].in, msg, sizeof msg);
        if (!cases[i].want != !got || (got && strcmp(got, cases[i].want) != 0))
            fail_msg("%s: got %s, want %s (%s)", cases[i].what, got ? got : "acceptable",
                     cases[i].want ? cases[i].want : "acceptable", msg);
        if (got) assert_true(strlen(msg) > 0);
    }
}

static void policy_from_json(void **state) {
    (void)state;
    intake_policy_t p;
    intake_policy_default(&p);
    char err[200];
    json_t *doc = json_loads("{\"no_reason_days\": 10, \"never_without_fault\": [\"toys\"],"
                             " \"one_open_per_line\": false}",
                             0, NULL);
    assert_int_equal(intake_policy_from_json(doc, &p, err, sizeof err), 0);
    json_decref(doc);
    assert_int_equal(p.no_reason_days, 10);
    assert_int_equal(p.quality_days, 15);
    assert_int_equal(p.n_never, 1);
    assert_string_equal(p.never[0], "toys");
    assert_false(p.one_open_per_line);
    doc = json_loads("{\"quality_days\": \"many\"}", 0, NULL);
    assert_int_equal(intake_policy_from_json(doc, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "quality_days"));
    json_decref(doc);
}

/* Discounts and shipping shared over lines: largest remainder, exact sums. */
static void allocation(void **state) {
    (void)state;
    static const struct {
        int64_t total;
        int64_t w[4];
        size_t n;
        int64_t want[4];
    } cases[] = {
        {100, {1, 1, 1}, 3, {34, 33, 33}},    /* tie: the earlier line gets the fen */
        {1000, {3000, 20000}, 2, {130, 870}}, /* 130.43 / 869.57 */
        {800, {9000, 40000, 15000, 9900}, 4, {98, 433, 162, 107}},
        {0, {5, 5}, 2, {0, 0}},
        {7, {0, 0}, 2, {7, 0}},             /* nothing to weigh by: first line */
        {5, {1, 2, 3, 4}, 4, {1, 1, 1, 2}}, /* shares .5 1.0 1.5 2.0: the tie goes first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out[4], sum = 0;
        assert_int_equal(intake_allocate(cases[i].total, cases[i].w, cases[i].n, out), 0);
        for (size_t k = 0; k < cases[i].n; k++) {
            if (out[k] != cases[i].want[k])
                fail_msg("case %zu line %zu: got %lld want %lld", i, k, (long long)out[k],
                         (long long)cases[i].want[k]);
            sum += out[k];
        }
        assert_int_equal(sum, cases[i].total);
    }
    int64_t w[2] = {1, -1}, out[2];
    assert_int_equal(intake_allocate(5, w, 2, out), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_per_event), cmocka_unit_test(ranks_follow_the_lifecycle),
        cmocka_unit_test(reasons),          cmocka_unit_test(window_end),
        cmocka_unit_test(acceptability),    cmocka_unit_test(policy_from_json),
        cmocka_unit_test(allocation),
    };
    return cmocka_run_group_tests_name("intake", tests, NULL, NULL);
}
