/*
 * test_ks_client.c: signed Kuaishou API calls (platform/ks_client.h) against the
 * stand-in platform (tests/standin/kuaishou.py, run as a child process), so
 * the signature, form encoding and paging are checked by independent code.
 * Needs python3 and the stand-in; run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/ids.h"
#include "platform/ks_client.h"

#define REFUNDS 230

static FILE *standin; /* pipe to the child: closing it stops the stand-in */
static int port;

static int start_standin(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "python3 tests/standin/kuaishou.py %d > /tmp/rf-ks-port-%d", REFUNDS,
             (int)getpid());
    standin = popen(cmd, "w");
    if (!standin) return -1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/rf-ks-port-%d", (int)getpid());
    for (int i = 0; i < 100 && port == 0; i++) {
        usleep(100000);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%d", &port) != 1) port = 0;
        if (f) fclose(f);
    }
    unlink(path);
    return port ? 0 : -1;
}

static int stop_standin(void **state) {
    (void)state;
    if (standin) pclose(standin);
    return 0;
}

typedef struct answer {
    int calls;
    rf_ks_outcome_t outcome;
    int code;
    char error[300];
    json_t *data;
} answer_t;

static void done(void *arg, rf_ks_outcome_t outcome, int code, json_t *data, const char *raw,
                 const char *error) {
    (void)raw;
    answer_t *a = arg;
    a->calls++;
    a->outcome = outcome;
    a->code = code;
    a->data = data ? json_deep_copy(data) : NULL;
    snprintf(a->error, sizeof a->error, "%s", error ? error : "");
}

static rf_ks_config_t config(rf_ks_sign_method_t how) {
    rf_ks_config_t cfg = {.sign_method = how, .rate_limit_codes = {803}};
    snprintf(cfg.api_url, sizeof cfg.api_url, "http://127.0.0.1:%d", port);
    snprintf(cfg.app_key, sizeof cfg.app_key, "ks-app");
    snprintf(cfg.sign_secret, sizeof cfg.sign_secret, "ks-sign-secret");
    snprintf(cfg.access_token, sizeof cfg.access_token, "ks-token");
    return cfg;
}

static void control_done(void *arg, long status, const char *body, size_t len, const char *error) {
    (void)body, (void)len, (void)error;
    *(long *)arg = status;
}

/* A test control of the stand-in (not part of the platform's protocol). */
static void control(const char *path, const char *form) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    rf_httpc_t *c = rf_httpc_new(&loop);
    char url[128];
    long status = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    assert_int_equal(rf_httpc_post(c, url, "application/x-www-form-urlencoded", form, strlen(form),
                                   5000, control_done, &status),
                     0);
    while (rf_httpc_pending(c)) uv_run(&loop, UV_RUN_ONCE);
    rf_httpc_destroy(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    assert_int_equal(status, 200);
}

static void call(const rf_ks_config_t *cfg, const char *method, json_t *param, answer_t *a) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    rf_httpc_t *c = rf_httpc_new(&loop);
    assert_int_equal(rf_ks_call(c, cfg, method, param, rf_now_ms(), 5000, done, a), 0);
    while (rf_httpc_pending(c)) uv_run(&loop, UV_RUN_ONCE);
    rf_httpc_destroy(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(param);
    assert_int_equal(a->calls, 1);
}

static void signed_calls_are_accepted(void **state) {
    (void)state;
    for (int how = 0; how < 2; how++) {
        rf_ks_config_t cfg = config(how ? RF_KS_SIGN_HMAC_SHA256 : RF_KS_SIGN_MD5);
        answer_t a = {0};
        call(&cfg, "open.seller.order.refund.detail",
             json_pack("{s:s}", "refundId", "2401234567890100007"), &a);
        assert_int_equal(a.outcome, RF_KS_OK);
        /* The id comes back as the platform's number; it fits, and we keep it as text. */
        assert_true(json_integer_value(json_object_get(a.data, "refundId")) ==
                    2401234567890100007LL);
        json_decref(a.data);
    }
    /* A POST method (its parameters in the form body; the stand-in refuses
     * the other verb): approve a refund-only request of the preloaded ones. */
    rf_ks_config_t cfg = config(RF_KS_SIGN_MD5);
    answer_t ok = {0};
    call(
        &cfg, "open.seller.order.refund.approve",
        json_pack("{s:I, s:i}", "refundId", (json_int_t)2401234567890100009LL, "refundAmount", 500),
        &ok);
    assert_int_equal(ok.outcome, RF_KS_OK);
    json_decref(ok.data);
}

static void refusals_are_told_apart(void **state) {
    (void)state;
    rf_ks_config_t bad = config(RF_KS_SIGN_MD5);
    snprintf(bad.sign_secret, sizeof bad.sign_secret, "not-the-secret");
    answer_t a = {0};
    call(&bad, "open.seller.order.refund.detail", json_pack("{s:s}", "refundId", "1"), &a);
    assert_int_equal(a.outcome, RF_KS_REFUSED);
    assert_int_equal(a.code, 402);
    assert_non_null(strstr(a.error, "sign"));

    rf_ks_config_t cfg = config(RF_KS_SIGN_MD5);
    answer_t r = {0};
    call(&cfg, "open.seller.order.refund.detail", json_pack("{s:s}", "refundId", "999"), &r);
    assert_int_equal(r.outcome, RF_KS_REFUSED);

    /* The stand-in rate-limits the next call on demand: told apart from a refusal. */
    control("/_control/ratelimit", "n=1");
    answer_t limited = {0}, after = {0};
    call(&cfg, "open.seller.order.refund.detail",
         json_pack("{s:s}", "refundId", "2401234567890100001"), &limited);
    assert_int_equal(limited.outcome, RF_KS_RATE_LIMITED);
    assert_int_equal(limited.code, 803);
    call(&cfg, "open.seller.order.refund.detail",
         json_pack("{s:s}", "refundId", "2401234567890100001"), &after);
    assert_int_equal(after.outcome, RF_KS_OK);
    json_decref(after.data);

    rf_ks_config_t nowhere = config(RF_KS_SIGN_MD5);
    snprintf(nowhere.api_url, sizeof nowhere.api_url, "http://127.0.0.1:1");
    answer_t t = {0};
    call(&nowhere, "open.seller.order.refund.detail", json_pack("{s:s}", "refundId", "1"), &t);
    assert_int_equal(t.outcome, RF_KS_TRANSPORT);
    assert_true(strlen(t.error) > 0);
}

/* Listing by pcursor: "" first, then the echoed cursor until "nomore". */
static void listing_follows_the_cursor(void **state) {
    (void)state;
    rf_ks_config_t cfg = config(RF_KS_SIGN_HMAC_SHA256);
    int64_t now = rf_now_ms();
    char cursor[64] = "";
    int pages = 0, seen = 0;
    for (;;) {
        answer_t a = {0};
        call(&cfg, "open.seller.order.refund.pcursor.list",
             json_pack("{s:I, s:I, s:i, s:i, s:i, s:i, s:s}", "beginTime",
                       (json_int_t)(now - 7200000), "endTime", (json_int_t)now, "type", 9,
                       "pageSize", 100, "currentPage", pages + 1, "queryType", 1, "pcursor",
                       cursor),
             &a);
        assert_int_equal(a.outcome, RF_KS_OK);
        pages++;
        seen += (int)json_array_size(json_object_get(a.data, "refundOrderInfoList"));
        snprintf(cursor, sizeof cursor, "%s",
                 json_string_value(json_object_get(a.data, "pcursor")));
        json_decref(a.data);
        if (strcmp(cursor, "nomore") == 0) break;
        assert_true(pages < 10);
    }
    assert_int_equal(seen, REFUNDS);
    assert_int_equal(pages, 3);
    /* A window over one day is refused, as the platform does. */
    answer_t wide = {0};
    call(&cfg, "open.seller.order.refund.pcursor.list",
         json_pack("{s:I, s:I, s:i, s:i, s:i, s:s}", "beginTime",
                   (json_int_t)(now - 2 * 86400000LL), "endTime", (json_int_t)now, "type", 9,
                   "pageSize", 100, "currentPage", 1, "pcursor", ""),
         &wide);
    assert_int_equal(wide.outcome, RF_KS_REFUSED);
    assert_non_null(strstr(wide.error, "one day"));
    /* The declared required type and currentPage: without them, refused. */
    answer_t bare = {0};
    call(&cfg, "open.seller.order.refund.pcursor.list",
         json_pack("{s:I, s:I, s:i, s:s}", "beginTime", (json_int_t)(now - 3600000), "endTime",
                   (json_int_t)now, "pageSize", 100, "pcursor", ""),
         &bare);
    assert_int_equal(bare.outcome, RF_KS_REFUSED);
    assert_non_null(strstr(bare.error, "type"));
    /* A method that does not exist (the old open.seller.order.detail): refused. */
    answer_t none = {0};
    call(&cfg, "open.seller.order.detail", json_pack("{s:s}", "oid", "1"), &none);
    assert_int_equal(none.outcome, RF_KS_REFUSED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_calls_are_accepted),
        cmocka_unit_test(refusals_are_told_apart),
        cmocka_unit_test(listing_follows_the_cursor),
    };
    return cmocka_run_group_tests_name("ks_client", tests, start_standin, stop_standin);
}
