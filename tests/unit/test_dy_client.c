/*
 * test_dy_client.c: signed Douyin API calls (platform/dy_client.h): the
 * method table, param_json's form, the signed address (against signatures
 * computed by Python's hmac/hashlib), the answer's classification, the
 * settings, and real calls to the stand-in platform (tests/standin/douyin.py,
 * run as a child process), which checks the signature and refuses what the
 * platform refuses. Needs python3; run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform/dy_client.h"
#include "platform/dy_oauth.h"
#include "runtime/ids.h"

#define APP_KEY "7152331588175513101"
#define APP_SECRET "dy-app-secret-0123456789abcdef"
#define SHOP_A "4463798"
#define SHOP_B "18601237"
#define AFTERSALES 7

static FILE *standin; /* pipe to the child: closing it stops the stand-in */
static int port;

static rf_dy_config_t config(rf_dy_sign_method_t how) {
    rf_dy_config_t cfg = {.sign_method = how};
    (void)snprintf(cfg.api_url, sizeof cfg.api_url, "http://127.0.0.1:%d", port);
    (void)snprintf(cfg.app_key, sizeof cfg.app_key, APP_KEY);
    (void)snprintf(cfg.app_secret, sizeof cfg.app_secret, APP_SECRET);
    assert_int_equal(rf_dy_parse_codes("60000", cfg.rate_limit_codes), 0);
    assert_int_equal(rf_dy_parse_codes("isv.access-token-expired,isv.access-token-no-existed",
                                       cfg.token_invalid_codes),
                     0);
    return cfg;
}

/* ---- pure parts ------------------------------------------------------------------------ */

static void method_table_and_paths(void **state) {
    (void)state;
    const rf_dy_method_t *m = rf_dy_method("afterSale.operate");
    assert_non_null(m);
    assert_string_equal(m->verb, "POST");
    assert_true(m->needs_token);
    assert_false(rf_dy_method("token.refresh")->needs_token);
    assert_null(rf_dy_method("afterSale.list")); /* the platform's names are case-sensitive */
    char path[64];
    assert_int_equal(rf_dy_method_path("afterSale.Detail", path, sizeof path), 0);
    assert_string_equal(path, "/afterSale/Detail");
    assert_int_equal(rf_dy_method_path("order.orderDetail", path, 10), -1);
    char err[200];
    json_t *p = json_pack("{s:i}", "page", 0);
    assert_int_equal(rf_dy_check_param("afterSale.List", p, err, sizeof err), -1);
    assert_non_null(strstr(err, "size"));
    json_object_set_new(p, "size", json_integer(100));
    assert_int_equal(rf_dy_check_param("afterSale.List", p, err, sizeof err), 0);
    json_decref(p);
}

static void param_json_is_sorted_and_compact(void **state) {
    (void)state;
    json_t *p = json_pack("{s:i, s:[{s:s, s:s, s:s}], s:i}", "type", 201, "items", "remark",
                          "同意 <退款>/OK", "aftersale_id", "7301234567890100001", "reason", "a",
                          "store_id", 0);
    char *text = rf_dy_param_json(p);
    /* what tests/standin/douyin.py marshal() (the SDKs' rule) writes */
    assert_string_equal(text, "{\"items\":[{\"aftersale_id\":\"7301234567890100001\",\"reason\":"
                              "\"a\",\"remark\":\"同意 <退款>/OK\"}],\"store_id\":0,\"type\":201}");
    free(text);
    json_decref(p);
    text = rf_dy_param_json(NULL);
    assert_string_equal(text, "{}");
    free(text);
}

static void the_signed_address(void **state) {
    (void)state;
    rf_dy_config_t cfg = {.sign_method = RF_DY_SIGN_HMAC_SHA256};
    (void)snprintf(cfg.api_url, sizeof cfg.api_url, "https://openapi-fxg.jinritemai.com");
    (void)snprintf(cfg.app_key, sizeof cfg.app_key, APP_KEY);
    (void)snprintf(cfg.app_secret, sizeof cfg.app_secret, APP_SECRET);
    const char *pj = "{\"after_sale_id\":\"7301234567890100001\"}";
    char *url = rf_dy_request_url(&cfg, "afterSale.Detail", pj, "dy-at-4463798-1/x+y", 1718000000);
    /* the signature as Python's hmac computes it over the SDK's pattern */
    assert_string_equal(url, "https://openapi-fxg.jinritemai.com/afterSale/Detail?app_key="
                             "7152331588175513101&method=afterSale.Detail&v=2&timestamp="
                             "1718000000&sign_method=hmac-sha256&sign=0ee2591b139751f11c26a3a7ad3e0"
                             "f1cb96f2d11321613f13846e2208be88a3d&access_token=dy-at-4463798-1%2Fx"
                             "%2By");
    free(url);
    cfg.sign_method = RF_DY_SIGN_MD5;
    url = rf_dy_request_url(&cfg, "afterSale.Detail", pj, NULL, 1718000000);
    assert_non_null(strstr(url, "&sign_method=md5&sign=266bed359690a491c52cd87c229fbb74"));
    assert_null(strstr(url, "access_token")); /* token.create and token.refresh carry none */
    free(url);
}

static rf_dy_outcome_t classify(const char *body, long status, rf_dy_answer_t *a) {
    rf_dy_config_t cfg = config(RF_DY_SIGN_HMAC_SHA256);
    return rf_dy_answer_read(&cfg, status, body, body ? strlen(body) : 0, "connection refused",
                             "dy-at-secret-token", a);
}

static void answers_are_told_apart(void **state) {
    (void)state;
    rf_dy_answer_t a;
    assert_int_equal(classify("{\"code\":10000,\"msg\":\"success\",\"sub_code\":\"\",\"data\":{"
                              "\"items\":[]},\"log_id\":\"20240612101010\"}",
                              200, &a),
                     RF_DY_OK);
    assert_true(json_is_array(json_object_get(a.data, "items")));
    assert_string_equal(a.log_id, "20240612101010");
    rf_dy_answer_clear(&a);
    /* 40003 is a bad sign and an expired token alike: the sub_code tells */
    assert_int_equal(classify("{\"code\":40003,\"msg\":\"非法的参数\",\"sub_code\":\"isv.signature-"
                              "invalid\",\"sub_msg\":\"签名校验失败\"}",
                              200, &a),
                     RF_DY_REFUSED);
    assert_non_null(strstr(a.error, "isv.signature-invalid"));
    rf_dy_answer_clear(&a);
    assert_int_equal(
        classify("{\"code\":40003,\"sub_code\":\"isv.access-token-expired\",\"sub_msg\""
                 ":\"dy-at-secret-token 已过期\"}",
                 200, &a),
        RF_DY_TOKEN_INVALID);
    assert_int_equal(a.code, 40003);
    assert_null(strstr(a.error, "dy-at-secret-token")); /* the token is cut out */
    assert_non_null(strstr(a.error, "[token]"));
    rf_dy_answer_clear(&a);
    assert_int_equal(classify("{\"code\":\"60000\",\"msg\":\"触发限流\"}", 200, &a),
                     RF_DY_RATE_LIMITED);
    rf_dy_answer_clear(&a);
    assert_int_equal(classify("<html>502</html>", 200, &a), RF_DY_TRANSPORT);
    rf_dy_answer_clear(&a);
    assert_int_equal(classify("{\"code\":10000}", 502, &a), RF_DY_TRANSPORT);
    assert_string_equal(a.error, "HTTP status 502");
    assert_int_equal(classify(NULL, 0, &a), RF_DY_TRANSPORT);
    assert_non_null(strstr(a.error, "connection refused"));
}

static void settings_name_the_bad_one(void **state) {
    (void)state;
    rf_dy_config_t cfg;
    char codes[RF_DY_CODES_MAX][RF_DY_CODE_LEN];
    assert_int_equal(rf_dy_parse_codes("60000,isv.app-call-limited", codes), 0);
    assert_string_equal(codes[1], "isv.app-call-limited");
    assert_int_equal(rf_dy_parse_codes("1,2,3,4,5", codes), -1);
    assert_int_equal(rf_dy_parse_codes("60000,", codes), -1);
    assert_int_equal(rf_dy_parse_codes("a b", codes), -1);
    (void)snprintf(rf_dy_api_url, sizeof rf_dy_api_url, "https://openapi-fxg.jinritemai.com/");
    rf_dy_app_key[0] = '\0';
    (void)snprintf(rf_dy_app_secret, sizeof rf_dy_app_secret, APP_SECRET);
    (void)snprintf(rf_dy_sign_method, sizeof rf_dy_sign_method, "MD5");
    assert_int_equal(rf_dy_settings_load(&cfg), 2); /* the sign method's case, no app key */
    (void)snprintf(rf_dy_sign_method, sizeof rf_dy_sign_method, "md5");
    (void)snprintf(rf_dy_app_key, sizeof rf_dy_app_key, APP_KEY);
    assert_int_equal(rf_dy_settings_load(&cfg), 0);
    assert_string_equal(cfg.api_url, "https://openapi-fxg.jinritemai.com");
    assert_int_equal(cfg.sign_method, RF_DY_SIGN_MD5);
    assert_string_equal(cfg.token_invalid_codes[0], "isv.access-token-expired");
    rf_dy_api_url[0] = '\0';
}

/* ---- against the stand-in ------------------------------------------------------------ */

static int start_standin(void **state) {
    (void)state;
    char cmd[128], path[64];
    (void)snprintf(path, sizeof path, "/tmp/rf-dy-port-%d", (int)getpid());
    (void)snprintf(cmd, sizeof cmd, "python3 tests/standin/douyin.py %d > %s", AFTERSALES, path);
    standin = popen(cmd, "w");
    if (!standin) return -1;
    for (int i = 0; i < 100 && port == 0; i++) {
        usleep(100000);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%d", &port) != 1) port = 0;
        if (f) (void)fclose(f);
    }
    (void)unlink(path);
    return port ? 0 : -1;
}

static int stop_standin(void **state) {
    (void)state;
    if (standin) (void)pclose(standin);
    return 0;
}

typedef struct answer {
    int calls, code;
    rf_dy_outcome_t outcome;
    char sub_code[96], error[300];
    json_t *data;
} answer_t;

static void done(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code, json_t *data,
                 const char *raw, const char *error) {
    (void)raw;
    answer_t *a = arg;
    a->calls++;
    a->outcome = outcome;
    a->code = code;
    a->data = data ? json_deep_copy(data) : NULL;
    (void)snprintf(a->sub_code, sizeof a->sub_code, "%s", sub_code ? sub_code : "");
    (void)snprintf(a->error, sizeof a->error, "%s", error ? error : "");
}

static void call(const rf_dy_config_t *cfg, const char *method, json_t *param, const char *token,
                 answer_t *a) {
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rf_httpc_t *c = rf_httpc_new(&loop);
    assert_int_equal(
        rf_dy_call(c, cfg, method, param, token, "rf-key-1", rf_now_ms(), 5000, done, a), 0);
    while (rf_httpc_pending(c)) uv_run(&loop, UV_RUN_ONCE);
    rf_httpc_destroy(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(param);
    assert_int_equal(a->calls, 1);
}

typedef struct body {
    long status;
    char text[2048];
} body_t;

static void control_done(void *arg, long status, const char *text, size_t len, const char *error) {
    (void)len, (void)error;
    body_t *b = arg;
    b->status = status;
    (void)snprintf(b->text, sizeof b->text, "%s", text ? text : "");
}

/* A test control of the stand-in (not the platform's protocol); its answer. */
static json_t *control(const char *path, const char *form) {
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rf_httpc_t *c = rf_httpc_new(&loop);
    char url[128];
    body_t b = {0};
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    assert_int_equal(rf_httpc_post(c, url, "application/x-www-form-urlencoded", form, strlen(form),
                                   5000, control_done, &b),
                     0);
    while (rf_httpc_pending(c)) uv_run(&loop, UV_RUN_ONCE);
    rf_httpc_destroy(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(b.status, 200);
    json_t *doc = json_loads(b.text, 0, NULL);
    assert_non_null(doc);
    return doc;
}

/* A shop's tokens the platform's way: a code (the authorise page's, here
 * from a control), then token.create through the client. */
static void authorise(const char *shop, rf_dy_tokens_t *t) {
    char form[64];
    (void)snprintf(form, sizeof form, "shop_id=%s", shop);
    json_t *c = control("/_control/code", form);
    rf_dy_config_t cfg = config(RF_DY_SIGN_HMAC_SHA256);
    answer_t a = {0};
    call(&cfg, "token.create", rf_dy_code_param(json_string_value(json_object_get(c, "code"))),
         NULL, &a);
    json_decref(c);
    assert_int_equal(a.outcome, RF_DY_OK);
    json_t *whole = json_pack("{s:i, s:O}", "code", 10000, "data", a.data);
    char *text = json_dumps(whole, 0), err[200];
    int code;
    assert_int_equal(
        rf_dy_tokens_parse(text, strlen(text), rf_now_ms() / 1000, t, &code, err, sizeof err),
        RF_DY_TOKENS_OK);
    assert_string_equal(t->shop_id, shop);
    free(text);
    json_decref(whole);
    json_decref(a.data);
}

static void signed_calls_are_accepted(void **state) {
    (void)state;
    rf_dy_tokens_t t;
    authorise(SHOP_A, &t);
    assert_true(t.expires_in_s > 0 && t.expires_in_s <= 30);
    for (int how = 0; how < 2; how++) {
        rf_dy_config_t cfg = config(how ? RF_DY_SIGN_MD5 : RF_DY_SIGN_HMAC_SHA256);
        answer_t a = {0};
        call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100003"),
             t.access_token, &a);
        assert_int_equal(a.outcome, RF_DY_OK);
        json_t *info = json_object_get(json_object_get(a.data, "process_info"), "after_sale_info");
        assert_true(json_integer_value(json_object_get(info, "after_sale_id")) ==
                    7301234567890100003LL);
        json_decref(a.data);
    }
    /* paging from 0 by update time */
    rf_dy_config_t cfg = config(RF_DY_SIGN_HMAC_SHA256);
    int64_t now_s = rf_now_ms() / 1000;
    int seen = 0;
    for (int page = 0;; page++) {
        answer_t a = {0};
        call(&cfg, "afterSale.List",
             json_pack("{s:i, s:i, s:I, s:I, s:[s]}", "page", page, "size", 3, "update_start_time",
                       (json_int_t)(now_s - 7200), "update_end_time", (json_int_t)now_s, "order_by",
                       "update_time asc"),
             t.access_token, &a);
        assert_int_equal(a.outcome, RF_DY_OK);
        seen += (int)json_array_size(json_object_get(a.data, "items"));
        bool more = json_is_true(json_object_get(a.data, "has_more"));
        json_decref(a.data);
        if (!more) break;
        assert_true(page < 5);
    }
    assert_int_equal(seen, AFTERSALES);
    /* agree a refund-only request (odd ids are type 1 in the stand-in's preload) */
    answer_t op = {0};
    call(&cfg, "afterSale.operate",
         json_pack("{s:i, s:[{s:s}]}", "type", 201, "items", "aftersale_id", "7301234567890100001"),
         t.access_token, &op);
    assert_int_equal(op.outcome, RF_DY_OK);
    json_decref(op.data);
    answer_t again = {0}; /* not twice: the record is no longer waiting for the seller */
    call(&cfg, "afterSale.operate",
         json_pack("{s:i, s:[{s:s}]}", "type", 201, "items", "aftersale_id", "7301234567890100001"),
         t.access_token, &again);
    assert_int_equal(again.outcome, RF_DY_REFUSED);
    assert_int_equal(again.code, 50002);
    /* every body the client sent was the SDKs' canonical param_json, with its key */
    json_t *log = control("/_control/log", "");
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(log, "calls"), i, entry) {
        assert_true(json_is_true(json_object_get(entry, "canonical")));
        assert_string_equal(json_string_value(json_object_get(entry, "idempotency_key")),
                            "rf-key-1");
    }
    assert_true(i >= 5);
    json_decref(log);
}

static void refusals_are_told_apart(void **state) {
    (void)state;
    rf_dy_tokens_t a, b;
    authorise(SHOP_A, &a);
    authorise(SHOP_B, &b);
    rf_dy_config_t bad = config(RF_DY_SIGN_HMAC_SHA256);
    (void)snprintf(bad.app_secret, sizeof bad.app_secret, "not-the-secret");
    answer_t s = {0};
    call(&bad, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100002"),
         a.access_token, &s);
    assert_int_equal(s.outcome, RF_DY_REFUSED);
    assert_string_equal(s.sub_code, "isv.signature-invalid");
    assert_null(strstr(s.error, a.access_token));

    rf_dy_config_t cfg = config(RF_DY_SIGN_HMAC_SHA256);
    answer_t other = {0}; /* shop B's token for shop A's record */
    call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100002"),
         b.access_token, &other);
    assert_int_equal(other.outcome, RF_DY_REFUSED);
    answer_t unknown = {0};
    call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100002"),
         "dy-at-never-issued", &unknown);
    assert_int_equal(unknown.outcome, RF_DY_TOKEN_INVALID);
    assert_string_equal(unknown.sub_code, "isv.access-token-no-existed");

    json_decref(control("/_control/expire", "shop_id=" SHOP_A));
    answer_t lapsed = {0};
    call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100002"),
         a.access_token, &lapsed);
    assert_int_equal(lapsed.outcome, RF_DY_TOKEN_INVALID);
    assert_string_equal(lapsed.sub_code, "isv.access-token-expired");
    /* renewed: the new pair works, the old refresh token no longer does */
    answer_t renewed = {0};
    call(&cfg, "token.refresh", rf_dy_refresh_param(a.refresh_token), NULL, &renewed);
    assert_int_equal(renewed.outcome, RF_DY_OK);
    const char *fresh = json_string_value(json_object_get(renewed.data, "access_token"));
    assert_non_null(fresh);
    assert_string_not_equal(fresh, a.access_token);
    answer_t works = {0};
    call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7301234567890100002"),
         fresh, &works);
    assert_int_equal(works.outcome, RF_DY_OK);
    json_decref(works.data);
    json_decref(renewed.data);
    answer_t reused = {0};
    call(&cfg, "token.refresh", rf_dy_refresh_param(a.refresh_token), NULL, &reused);
    assert_int_equal(reused.outcome, RF_DY_REFUSED);
    assert_int_equal(reused.code, 50001);

    json_decref(control("/_control/ratelimit", "n=1"));
    answer_t limited = {0};
    call(&cfg, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "7309876543210100001"),
         b.access_token, &limited);
    assert_int_equal(limited.outcome, RF_DY_RATE_LIMITED);

    json_t *n = control("/_control/counters", "");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(n, "other_shop_calls"), SHOP_B)), 1);
    assert_true(json_integer_value(
                    json_object_get(json_object_get(n, "expired_token_calls"), SHOP_A)) >= 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(n, "used_refresh_attempts"), SHOP_A)),
        1);
    json_decref(n);

    /* what the client never sends: an unknown method, a missing parameter, a
     * shop call without a token */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rf_httpc_t *c = rf_httpc_new(&loop);
    json_t *p = json_pack("{s:s}", "aftersale_id", "1");
    assert_int_equal(rf_dy_call(c, &cfg, "afterSale.Nope", p, "t", NULL, 0, 1000, done, NULL), -1);
    assert_int_equal(rf_dy_call(c, &cfg, "afterSale.Detail", p, "t", NULL, 0, 1000, done, NULL),
                     -1);
    json_object_set_new(p, "after_sale_id", json_string("1"));
    assert_int_equal(rf_dy_call(c, &cfg, "afterSale.Detail", p, NULL, NULL, 0, 1000, done, NULL),
                     -1);
    json_decref(p);
    rf_httpc_destroy(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    rf_dy_config_t nowhere = config(RF_DY_SIGN_HMAC_SHA256);
    (void)snprintf(nowhere.api_url, sizeof nowhere.api_url, "http://127.0.0.1:1");
    answer_t t = {0};
    call(&nowhere, "afterSale.Detail", json_pack("{s:s}", "after_sale_id", "1"), "tok", &t);
    assert_int_equal(t.outcome, RF_DY_TRANSPORT);
}

int main(void) {
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(method_table_and_paths),
        cmocka_unit_test(param_json_is_sorted_and_compact),
        cmocka_unit_test(the_signed_address),
        cmocka_unit_test(answers_are_told_apart),
        cmocka_unit_test(settings_name_the_bad_one),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(signed_calls_are_accepted),
        cmocka_unit_test(refusals_are_told_apart),
    };
    int failed = cmocka_run_group_tests_name("dy_client", pure, NULL, NULL);
    return failed +
           cmocka_run_group_tests_name("dy_client_standin", live, start_standin, stop_standin);
}
