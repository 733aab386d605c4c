/*
 * test_review.c: unit tests for the review worker's policy: the automatic
 * first look, who must decide, and who bears the cost; which decisions the
 * platform must accept first, and the policy's return address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/review/review.h"

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

typedef struct rule_case {
    const char *what;
    review_facts_t f;
    review_outcome_t want;
    const char *rule; /* the rule that decides, "" for none */
} rule_case_t;

/* The default rules: refund-only up to 50 yuan for a buyer with fewer than 3
 * returns in 90 days is automatic; everything else goes to a person. */
static void default_rules(void **state) {
    (void)state;
    review_policy_t p;
    review_policy_default(&p);
    const rule_case_t cases[] = {
        {"small refund-only",
         {"refund_only", "late", "", "", 5000, 2},
         REVIEW_AUTO_APPROVE,
         "small_refund_only"},
        {"over 50 yuan", {"refund_only", "late", "", "", 5001, 0}, REVIEW_MANUAL, "default_manual"},
        {"third return in 90 days",
         {"refund_only", "late", "", "", 100, 3},
         REVIEW_MANUAL,
         "default_manual"},
        {"return with goods",
         {"return_refund", "quality", "", "", 100, 0},
         REVIEW_MANUAL,
         "default_manual"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const review_rule_t *r = review_evaluate(&p, &cases[i].f);
        assert_non_null(r);
        if (r->outcome != cases[i].want || strcmp(r->name, cases[i].rule) != 0)
            fail_msg("%s: got %s (%d)", cases[i].what, r->name, (int)r->outcome);
    }
    assert_string_equal(review_required_role(&p, review_cs_limit_fen), "cs");
    assert_string_equal(review_required_role(&p, review_cs_limit_fen + 1), "cs_supervisor");
    /* the automatic limit is a setting */
    int64_t saved = review_auto_approve_max_fen;
    review_auto_approve_max_fen = 0;
    review_policy_default(&p);
    assert_int_equal(review_evaluate(&p, &cases[0].f)->outcome, REVIEW_MANUAL);
    review_auto_approve_max_fen = saved;
}

/* A shop's own ordered rules: the first match wins. */
static void shop_rules(void **state) {
    (void)state;
    review_policy_t p;
    review_policy_default(&p);
    char err[200];
    json_t *doc = json_loads(
        "{\"cs_limit_fen\": 20000, \"rules\": ["
        " {\"name\": \"fresh_no_reason\", \"category\": \"fresh\","
        "  \"reason\": [\"changed_mind\", \"size_fit\"], \"outcome\": \"auto_reject\","
        "  \"reject_reason\": \"category_excluded\"},"
        " {\"name\": \"serial\", \"min_buyer_returns_90d\": 10, \"outcome\": \"manual\"},"
        " {\"name\": \"trusted_supplier\", \"supplier\": \"sup-9\","
        "  \"max_amount_fen\": 20000, \"outcome\": \"auto_approve\"}]}",
        0, NULL);
    assert_non_null(doc);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), 0);
    json_decref(doc);
    assert_int_equal(p.n_rules, 3);
    assert_int_equal(p.cs_limit_fen, 20000);
    const rule_case_t cases[] = {
        {"fresh, changed mind",
         {"return_refund", "changed_mind", "fresh", "sup-9", 100, 0},
         REVIEW_AUTO_REJECT,
         "fresh_no_reason"},
        {"fresh, quality",
         {"return_refund", "quality", "fresh", "sup-1", 100, 0},
         REVIEW_MANUAL,
         ""},
        {"serial returner of a trusted supplier",
         {"refund_only", "quality", "", "sup-9", 100, 12},
         REVIEW_MANUAL,
         "serial"},
        {"trusted supplier",
         {"return_refund", "quality", "", "sup-9", 20000, 0},
         REVIEW_AUTO_APPROVE,
         "trusted_supplier"},
        {"trusted supplier, too much",
         {"return_refund", "quality", "", "sup-9", 20001, 0},
         REVIEW_MANUAL,
         ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const review_rule_t *r = review_evaluate(&p, &cases[i].f);
        review_outcome_t got = r ? r->outcome : REVIEW_MANUAL;
        const char *name = r ? r->name : "";
        if (got != cases[i].want || strcmp(name, cases[i].rule) != 0)
            fail_msg("%s: got %s (%d)", cases[i].what, name, (int)got);
    }
    assert_string_equal(review_evaluate(&p, &cases[0].f)->reject_reason, "category_excluded");

    doc = json_loads("{\"rules\": [{\"outcome\": \"auto_reject\", \"reject_reason\": \"nope\"}]}",
                     0, NULL);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
    json_decref(doc);
}

/* The buyer's history is counted only for a policy whose rules look at it. */
static void history_needed(void **state) {
    (void)state;
    review_policy_t p;
    review_policy_default(&p);
    assert_true(review_policy_uses_history(&p)); /* small_refund_only: at most 2 */
    char err[200];
    json_t *doc =
        json_loads("{\"rules\": [{\"name\": \"all\", \"outcome\": \"auto_approve\"}]}", 0, NULL);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), 0);
    json_decref(doc);
    assert_false(review_policy_uses_history(&p));
    doc = json_loads("{\"rules\": [{\"name\": \"a\", \"max_amount_fen\": 10,"
                     " \"outcome\": \"auto_approve\"}, {\"name\": \"serial\","
                     " \"min_buyer_returns_90d\": 5, \"outcome\": \"manual\"}]}",
                     0, NULL);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), 0);
    json_decref(doc);
    assert_true(review_policy_uses_history(&p));
}

static void cost_bearer_and_returnless(void **state) {
    (void)state;
    assert_string_equal(review_cost_bearer("buyer", false), "buyer");
    assert_string_equal(review_cost_bearer("buyer", true), "insurer");
    assert_string_equal(review_cost_bearer("supplier", true), "supplier");
    assert_string_equal(review_cost_bearer("carrier", false), "carrier");
    review_policy_t p;
    review_policy_default(&p);
    p.return_shipping_cost_fen = 1000;
    assert_true(review_returnless(&p, "return_refund", 999));
    assert_false(review_returnless(&p, "return_refund", 1000));
    assert_false(review_returnless(&p, "exchange", 10));
    assert_false(review_returnless(&p, "refund_only", 10));
    p.returnless = false;
    assert_false(review_returnless(&p, "return_refund", 10));
}

/* Which decisions are told to the platform before they take effect. */
static void platform_purpose(void **state) {
    (void)state;
    review_task_t t;
    memset(&t, 0, sizeof t);
    strcpy(t.platform, "kuaishou");
    strcpy(t.status, "pending");
    strcpy(t.kind, "return_refund");
    assert_string_equal(review_platform_purpose(&t, true), "approve_return");
    assert_string_equal(review_platform_purpose(&t, false), "reject");
    strcpy(t.kind, "exchange");
    assert_string_equal(review_platform_purpose(&t, true), "approve_return");
    /* refund-only and returnless approvals: refund's refund.approve is the call */
    strcpy(t.kind, "refund_only");
    assert_null(review_platform_purpose(&t, true));
    assert_string_equal(review_platform_purpose(&t, false), "reject");
    strcpy(t.kind, "return_refund");
    t.returnless = true;
    assert_null(review_platform_purpose(&t, true));
    t.returnless = false;
    /* a dispute is settled after the goods came back: no new platform decision */
    strcpy(t.status, "disputed");
    assert_null(review_platform_purpose(&t, true));
    assert_null(review_platform_purpose(&t, false));
    /* a return through the API tells no platform; Douyin is told like Kuaishou */
    strcpy(t.status, "pending");
    strcpy(t.platform, "api");
    assert_null(review_platform_purpose(&t, true));
    strcpy(t.platform, "douyin");
    assert_string_equal(review_platform_purpose(&t, false), "reject");
    assert_string_equal(review_platform_purpose(&t, true), "approve_return");
}

static void policy_return_address(void **state) {
    (void)state;
    review_policy_t p;
    char err[200];
    review_policy_default(&p);
    assert_string_equal(p.return_address_id, "");
    json_t *doc = json_pack("{s:s}", "return_address_id", "9001");
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), 0);
    assert_string_equal(p.return_address_id, "9001");
    json_decref(doc);
    doc = json_pack("{s:i}", "return_address_id", 9001);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "return_address_id"));
    json_decref(doc);
}

static void policy_reject_codes(void **state) {
    (void)state;
    review_policy_t p;
    char err[200];
    review_policy_default(&p);
    assert_int_equal(review_ks_reject_code(&p, "window_expired"), 0); /* none: a person */
    json_t *doc =
        json_pack("{s:{s:i, s:i}}", "kuaishou_reject_reason_codes", "window_expired", 3, "*", 1);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), 0);
    assert_int_equal(review_ks_reject_code(&p, "window_expired"), 3);
    assert_int_equal(review_ks_reject_code(&p, "condition_failed"), 1);
    json_decref(doc);
    doc = json_pack("{s:{s:i}}", "kuaishou_reject_reason_codes", "no_such_reason", 3);
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "kuaishou_reject_reason_codes"));
    json_decref(doc);
    doc = json_pack("{s:{s:s}}", "kuaishou_reject_reason_codes", "*", "1");
    assert_int_equal(review_policy_from_json(doc, &p, err, sizeof err), -1);
    json_decref(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_rules),       cmocka_unit_test(shop_rules),
        cmocka_unit_test(history_needed),      cmocka_unit_test(cost_bearer_and_returnless),
        cmocka_unit_test(liability),           cmocka_unit_test(reject_reasons),
        cmocka_unit_test(platform_purpose),    cmocka_unit_test(policy_return_address),
        cmocka_unit_test(policy_reject_codes),
    };
    return cmocka_run_group_tests_name("review", tests, NULL, NULL);
}
