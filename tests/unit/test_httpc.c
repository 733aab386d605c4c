/*
 * test_httpc.c: unit tests for the asynchronous HTTP client (http/httpc.h),
 * against a real server (http/http.h) on a loopback port in the same loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/httpc.h"

typedef struct result {
    int calls;
    long status;
    char body[256];
    size_t len;
    char error[256];
} result_t;

static rf_http_exchange_t *held[4]; /* /never exchanges, answered at teardown */
static int nheld;
static uv_timer_t slow_timer;
static rf_http_exchange_t *slow_x;

static void answer_slow(uv_timer_t *t) {
    (void)t;
    rf_http_reply(slow_x, 200, "text/plain", "late", 4);
    slow_x = NULL;
}

static void handler(rf_http_exchange_t *x, void *arg) {
    uv_loop_t *loop = arg;
    const char *path = rf_http_path(x);
    size_t len;
    const char *body = rf_http_body(x, &len);
    if (strcmp(path, "/verb") == 0) {
        /* the method, the query and the body's length, as the server saw them */
        char out[256];
        int n = snprintf(out, sizeof out, "%s ?%s %zu", rf_http_method(x), rf_http_query(x), len);
        rf_http_reply(x, 200, "text/plain", out, (size_t)n);
    } else if (strcmp(path, "/echo") == 0) {
        rf_http_reply(x, 200, rf_http_header(x, "content-type"), body, len);
    } else if (strcmp(path, "/unavailable") == 0) {
        rf_http_reply_error(x, 503, "busy", "try later");
    } else if (strcmp(path, "/slow") == 0) {
        slow_x = x;
        uv_timer_init(loop, &slow_timer);
        uv_timer_start(&slow_timer, answer_slow, 150, 0);
    } else if (strcmp(path, "/big") == 0) {
        size_t n = 5u << 20;
        char *big = malloc(n);
        memset(big, 'x', n);
        rf_http_reply(x, 200, "text/plain", big, n);
        free(big);
    } else {
        held[nheld++] = x; /* /never: no answer until teardown */
    }
}

static void done(void *arg, long status, const char *body, size_t len, const char *error) {
    result_t *r = arg;
    r->calls++;
    r->status = status;
    snprintf(r->body, sizeof r->body, "%s", body);
    r->len = len;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static void run_until(uv_loop_t *loop, rf_httpc_t *c) {
    while (rf_httpc_pending(c) > 0) uv_run(loop, UV_RUN_ONCE);
}

static void requests_end_in_one_callback_each(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[200], url[128];
    rf_http_server_t *server =
        rf_http_server_new(&loop, "127.0.0.1:0", NULL, handler, &loop, err, sizeof err);
    assert_non_null(server);
    int port = rf_http_server_port(server);
    rf_httpc_t *c = rf_httpc_new(&loop);
    assert_non_null(c);
    result_t echo = {0}, busy = {0}, slow = {0}, big = {0}, never = {0}, refused = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    assert_int_equal(rf_httpc_post(c, url, "application/json", "{\"a\":1}", 7, 2000, done, &echo),
                     0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/unavailable", port);
    assert_int_equal(rf_httpc_post(c, url, "application/json", "{}", 2, 2000, done, &busy), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", port);
    assert_int_equal(rf_httpc_post(c, url, "text/plain", "", 0, 2000, done, &slow), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
    assert_int_equal(rf_httpc_post(c, url, "text/plain", "", 0, 5000, done, &big), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/never", port);
    assert_int_equal(rf_httpc_post(c, url, "text/plain", "x", 1, 200, done, &never), 0);
    assert_int_equal(
        rf_httpc_post(c, "http://127.0.0.1:1/", "text/plain", "x", 1, 2000, done, &refused), 0);
    assert_int_equal(rf_httpc_pending(c), 6);
    run_until(&loop, c);
    /* A GET: no body, the parameters in the query. */
    result_t got = {0}, posted = {0};
    const char *hdr[] = {"X-Test: 1", NULL};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/verb?a=1&b=%%E4%%B8%%AD", port);
    assert_int_equal(rf_httpc_get_headers(c, url, hdr, 2000, done, &got), 0);
    assert_int_equal(
        rf_httpc_post_headers(c, url, "text/plain", hdr, "xyz", 3, 2000, done, &posted), 0);
    run_until(&loop, c);
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "GET ?a=1&b=%E4%B8%AD 0");
    assert_string_equal(posted.body, "POST ?a=1&b=%E4%B8%AD 3");

    assert_int_equal(echo.calls, 1);
    assert_int_equal(echo.status, 200);
    assert_string_equal(echo.body, "{\"a\":1}");
    assert_int_equal(busy.calls, 1);
    assert_int_equal(busy.status, 503);
    assert_non_null(strstr(busy.body, "busy"));
    assert_int_equal(slow.calls, 1);
    assert_string_equal(slow.body, "late");
    assert_int_equal(big.calls, 1);
    assert_int_equal(big.status, 0);
    assert_non_null(strstr(big.error, "4 MiB"));
    assert_int_equal(never.calls, 1);
    assert_int_equal(never.status, 0);
    assert_true(strlen(never.error) > 0);
    assert_int_equal(refused.calls, 1);
    assert_int_equal(refused.status, 0);
    assert_true(strlen(refused.error) > 0);

    /* Destroyed with a request pending: no callback, nothing leaked. */
    result_t dropped = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/never", port);
    assert_int_equal(rf_httpc_post(c, url, "text/plain", "x", 1, 5000, done, &dropped), 0);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    rf_httpc_destroy(&c);
    assert_null(c);
    rf_httpc_destroy(&c);
    for (int i = 0; i < nheld; i++) rf_http_reply(held[i], 200, "text/plain", "", 0);
    rf_http_server_destroy(&server);
    uv_close((uv_handle_t *)&slow_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(dropped.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_end_in_one_callback_each),
    };
    return cmocka_run_group_tests_name("httpc", tests, NULL, NULL);
}
