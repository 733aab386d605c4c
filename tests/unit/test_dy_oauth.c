/*
 * test_dy_oauth.c: unit tests for Douyin's shop authorisation
 * (platform/dy_oauth.h): the authorise page's address, the parameters of
 * token.create and token.refresh, their answer (accepted, refused, malformed;
 * expires_in as a life or as a moment) and when a token is renewed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/dy_client.h"
#include "platform/dy_oauth.h"

#define NOW_S 1718000000LL

static void authorize_url_and_params(void **state) {
    (void)state;
    char url[1024];
    int n = rf_dy_authorize_url("https://fxg.jinritemai.com/index.html#/ffa/open/"
                                "applicationAuthorize",
                                "7152331588175513101",
                                "https://returns.example.cn/v1/oauth/douyin/callback",
                                "01M8Z8H070VE098N2M9XX4JVX5", url, sizeof url);
    assert_int_equal(n, (int)strlen(url));
    assert_string_equal(url, "https://fxg.jinritemai.com/index.html#/ffa/open/applicationAuthorize"
                             "?response_type=code&app_id=7152331588175513101&redirect_uri=https%3A"
                             "%2F%2Freturns.example.cn%2Fv1%2Foauth%2Fdouyin%2Fcallback&state="
                             "01M8Z8H070VE098N2M9XX4JVX5");
    /* a page that already has a query (after its route) is joined with '&' */
    rf_dy_authorize_url("http://127.0.0.1:9/auth?x=1", "a", "http://cb", "s", url, sizeof url);
    assert_string_equal(url, "http://127.0.0.1:9/auth?x=1&response_type=code&app_id=a&redirect_uri="
                             "http%3A%2F%2Fcb&state=s");
    assert_int_equal(rf_dy_authorize_url("https://p", "a", "b", "c", url, 20), -1);
    assert_string_equal(url, "");

    json_t *p = rf_dy_code_param("c0de&x");
    char *text = rf_dy_param_json(p);
    assert_string_equal(text, "{\"code\":\"c0de&x\",\"grant_type\":\"authorization_code\"}");
    free(text);
    json_decref(p);
    p = rf_dy_refresh_param("dy-rt-4463798-3-9f86d081884c7d65");
    text = rf_dy_param_json(p);
    assert_string_equal(text, "{\"grant_type\":\"refresh_token\",\"refresh_token\":"
                              "\"dy-rt-4463798-3-9f86d081884c7d65\"}");
    free(text);
    json_decref(p);
    p = rf_dy_code_param("x");
    assert_int_equal(rf_dy_check_param("token.create", p, NULL, 0), 0);
    json_decref(p);
}

static rf_dy_token_answer_t parse(const char *body, rf_dy_tokens_t *t, int *code, char *err) {
    return rf_dy_tokens_parse(body, strlen(body), NOW_S, t, code, err, 256);
}

static void token_answers(void **state) {
    (void)state;
    rf_dy_tokens_t t;
    int code;
    char err[256];
    const char *ok = "{\"code\":10000,\"msg\":\"success\",\"sub_code\":\"\",\"sub_msg\":\"\","
                     "\"log_id\":\"202406101734490102121161491D2B3C\",\"data\":{\"access_token\":"
                     "\"dy-at-4463798-1-56ab24c15b72a457\",\"expires_in\":604800,"
                     "\"refresh_token\":\"dy-rt-4463798-1-069b7d1d3a3a2c3e\",\"scope\":\"SCOPE\","
                     "\"shop_id\":4463798,\"shop_name\":\"深圳优选家居旗舰店\",\"authority_id\":"
                     "\"4463798\",\"auth_subject_type\":\"MiniShop\"}}";
    assert_int_equal(parse(ok, &t, &code, err), RF_DY_TOKENS_OK);
    assert_int_equal(code, 10000);
    assert_string_equal(t.access_token, "dy-at-4463798-1-56ab24c15b72a457");
    assert_string_equal(t.refresh_token, "dy-rt-4463798-1-069b7d1d3a3a2c3e");
    assert_int_equal(t.expires_in_s, 604800);
    assert_int_equal(t.refresh_expires_in_s, 0);
    assert_string_equal(t.shop_id, "4463798");
    assert_string_equal(t.shop_name, "深圳优选家居旗舰店");
    assert_string_equal(t.authority_id, "4463798");

    /* expires_in written as the second it lapses; shop_id as text */
    const char *moment =
        "{\"code\":10000,\"data\":{\"access_token\":\"a1b2c3d4\",\"refresh_token\":"
        "\"r1b2c3d4\",\"expires_in\":1718003600,\"shop_id\":\"18601237\"}}";
    assert_int_equal(parse(moment, &t, &code, err), RF_DY_TOKENS_OK);
    assert_int_equal(t.expires_in_s, 3600);
    assert_string_equal(t.shop_id, "18601237");

    const char *refused =
        "{\"code\":50001,\"msg\":\"平台处理失败\",\"sub_code\":\"dop.token-generate-"
        "failed:token-invalid\",\"sub_msg\":\"生成token失败，token不存在\"}";
    assert_int_equal(parse(refused, &t, &code, err), RF_DY_TOKENS_REFUSED);
    assert_int_equal(code, 50001);
    assert_non_null(strstr(err, "token-invalid"));
    assert_string_equal(t.access_token, "");

    const char *lapsed =
        "{\"code\":10000,\"data\":{\"access_token\":\"dy-at-secret\",\"refresh_token\""
        ":\"dy-rt-secret\",\"expires_in\":1717990000,\"shop_id\":4463798}}";
    assert_int_equal(parse(lapsed, &t, &code, err), RF_DY_TOKENS_BAD);
    assert_null(strstr(err, "dy-at-secret"));
    assert_string_equal(t.access_token, ""); /* nothing half-read is kept */
    const char *no_shop =
        "{\"code\":10000,\"data\":{\"access_token\":\"a\",\"refresh_token\":\"r\","
        "\"expires_in\":30}}";
    assert_int_equal(parse(no_shop, &t, &code, err), RF_DY_TOKENS_BAD);
    assert_non_null(strstr(err, "shop_id"));
    assert_int_equal(parse("<html>", &t, &code, err), RF_DY_TOKENS_BAD);
    assert_int_equal(parse("{\"err_no\":0}", &t, &code, err), RF_DY_TOKENS_BAD);
}

static void renewal_in_the_last_hour(void **state) {
    (void)state;
    int64_t t0 = NOW_S * 1000;
    /* seven days: not before the last hour (an earlier refresh answers the same pair) */
    assert_false(rf_dy_renewal_due(t0 + 3 * 86400000LL, t0, 604800));
    assert_false(rf_dy_renewal_due(t0 + 604800000LL - 3600001, t0, 604800));
    assert_true(rf_dy_renewal_due(t0 + 604800000LL - 3599000, t0, 604800));
    /* thirty seconds: the last third */
    assert_false(rf_dy_renewal_due(t0 + 19000, t0, 30));
    assert_true(rf_dy_renewal_due(t0 + 21000, t0, 30));
    assert_true(rf_dy_renewal_due(t0, t0, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authorize_url_and_params),
        cmocka_unit_test(token_answers),
        cmocka_unit_test(renewal_in_the_last_hour),
    };
    return cmocka_run_group_tests_name("dy_oauth", tests, NULL, NULL);
}
