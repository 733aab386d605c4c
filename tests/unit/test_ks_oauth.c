/*
 * test_ks_oauth.c: unit tests for Kuaishou's OAuth requests and answers
 * (platform/ks_oauth.h): the authorise page's address, the two token queries,
 * the token answer (accepted, refused, malformed) and when a token is renewed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform/ks_oauth.h"

static void authorize_url_and_queries(void **state) {
    (void)state;
    char url[1024], q[1024];
    int n = rf_ks_authorize_url("https://open.kwaixiaodian.com/oauth/authorize", "ks6913",
                                "https://returns.example.cn/v1/oauth/kuaishou/callback",
                                "merchant_refund,merchant_order", "01M8Z8H070VE098N2M9XX4JVX5", url,
                                sizeof url);
    assert_int_equal(n, (int)strlen(url));
    assert_string_equal(url, "https://open.kwaixiaodian.com/oauth/authorize?app_id=ks6913"
                             "&redirect_uri=https%3A%2F%2Freturns.example.cn%2Fv1%2Foauth%2F"
                             "kuaishou%2Fcallback&scope=merchant_refund%2Cmerchant_order"
                             "&response_type=code&state=01M8Z8H070VE098N2M9XX4JVX5");
    assert_int_equal(rf_ks_authorize_url("https://p", "a", "b", "c", "d", url, 20), -1);
    n = rf_ks_code_query("ks6913", "s3cr+t/=", "c0de&x", q, sizeof q);
    assert_string_equal(q, "app_id=ks6913&app_secret=s3cr%2Bt%2F%3D&code=c0de%26x"
                           "&grant_type=code");
    assert_int_equal(n, (int)strlen(q));
    rf_ks_refresh_query("ks6913", "s", "ChFvYXV0aC5yZWZyZXNo+/=", q, sizeof q);
    assert_string_equal(q, "app_id=ks6913&app_secret=s&grant_type=refresh_token"
                           "&refresh_token=ChFvYXV0aC5yZWZyZXNo%2B%2F%3D");
    assert_int_equal(rf_ks_refresh_query("ks6913", "s", "tok", q, 10), -1);
}

static void token_answers(void **state) {
    (void)state;
    rf_ks_tokens_t t;
    int result;
    char err[256];
    const char *ok = "{\"result\":1,\"access_token\":\"ChFvYXV0aC5hY2Nlc3NUb2tlbhJg\","
                     "\"expires_in\":172800,\"refresh_token\":\"ChJvYXV0aC5yZWZyZXNoVG9rZW4\","
                     "\"refresh_token_expires_in\":15552000,\"open_id\":\"f4c1e0b2a9d8c7e6\","
                     "\"scopes\":[\"merchant_refund\",\"merchant_order\"]}";
    assert_int_equal(rf_ks_tokens_parse(ok, strlen(ok), &t, &result, err, sizeof err),
                     RF_KS_TOKENS_OK);
    assert_int_equal(result, 1);
    assert_string_equal(t.access_token, "ChFvYXV0aC5hY2Nlc3NUb2tlbhJg");
    assert_string_equal(t.refresh_token, "ChJvYXV0aC5yZWZyZXNoVG9rZW4");
    assert_int_equal(t.expires_in_s, 172800);
    assert_int_equal(t.refresh_expires_in_s, 15552000);
    assert_string_equal(t.open_id, "f4c1e0b2a9d8c7e6");
    assert_string_equal(t.scopes, "merchant_refund,merchant_order");

    const char *refused = "{\"result\":100200100,\"error\":\"invalid_grant\","
                          "\"error_msg\":\"refresh_token 已失效\"}";
    assert_int_equal(rf_ks_tokens_parse(refused, strlen(refused), &t, &result, err, sizeof err),
                     RF_KS_TOKENS_REFUSED);
    assert_int_equal(result, 100200100);
    assert_non_null(strstr(err, "invalid_grant"));
    assert_non_null(strstr(err, "已失效"));
    assert_string_equal(t.access_token, "");

    static const char *const bad[] = {
        "not json",
        "[1]",
        "{\"access_token\":\"a\"}",
        "{\"result\":1,\"refresh_token\":\"r\",\"expires_in\":30}",
        "{\"result\":1,\"access_token\":\"SECRET-ACCESS\",\"expires_in\":30}",
        "{\"result\":1,\"access_token\":\"SECRET-ACCESS\",\"refresh_token\":\"SECRET-REFRESH\"}",
        "{\"result\":1,\"access_token\":\"SECRET-ACCESS\",\"refresh_token\":\"SECRET-REFRESH\","
        "\"expires_in\":0}",
        "{\"result\":1,\"access_token\":\"SECRET-ACCESS\",\"refresh_token\":\"SECRET-REFRESH\","
        "\"expires_in\":30,\"refresh_token_expires_in\":\"soon\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(rf_ks_tokens_parse(bad[i], strlen(bad[i]), &t, &result, err, sizeof err),
                         RF_KS_TOKENS_BAD);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "SECRET")); /* a token never reaches a message */
        assert_string_equal(t.access_token, "");
        assert_string_equal(t.refresh_token, "");
    }
    /* a renewal's answer need not repeat open_id */
    const char *renewed = "{\"result\":1,\"access_token\":\"a2\",\"refresh_token\":\"r2\","
                          "\"expires_in\":30}";
    assert_int_equal(rf_ks_tokens_parse(renewed, strlen(renewed), &t, &result, err, sizeof err),
                     RF_KS_TOKENS_OK);
    assert_string_equal(t.open_id, "");
    assert_int_equal(t.refresh_expires_in_s, 0);
}

static void renewal_when_a_third_is_left(void **state) {
    (void)state;
    const int64_t t0 = 1796345478571; /* a token living 30 s from t0 */
    assert_false(rf_ks_renewal_due(t0, t0, 30));
    assert_false(rf_ks_renewal_due(t0 + 19999, t0, 30)); /* 10.001 s of 30 left */
    assert_false(rf_ks_renewal_due(t0 + 20000, t0, 30)); /* exactly a third left */
    assert_true(rf_ks_renewal_due(t0 + 20001, t0, 30));
    assert_true(rf_ks_renewal_due(t0 + 31000, t0, 30));         /* expired */
    assert_false(rf_ks_renewal_due(t0 + 86400000, t0, 172800)); /* two days: a day in */
    assert_true(rf_ks_renewal_due(t0, t0, 0));                  /* no life: renew now */
    assert_false(rf_ks_renewal_due(t0, t0, INT64_MAX));         /* no overflow */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authorize_url_and_queries),
        cmocka_unit_test(token_answers),
        cmocka_unit_test(renewal_when_a_third_is_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
