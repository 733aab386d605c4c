/*
 * test_common.c: unit tests for the small common modules: configuration
 * (runtime/config.h), ids and clocks (runtime/ids.h), JSON field checks (runtime/jsonv.h),
 * path matching (worker/worker.h) and number helpers (db/db.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/config.h"
#include "db/db.h"
#include "runtime/ids.h"
#include "runtime/jsonv.h"
#include "db/pgarray.h"
#include "worker/worker.h"

static void config_defaults_and_values(void **state) {
    (void)state;
    char name[RF_CFG_STR_MAX], addr[RF_CFG_STR_MAX], ep[RF_CFG_STR_MAX];
    int64_t n = 0;
    int level = -1;
    rf_config_entry_t t[] = {
        {"RFT_NAME", RF_CFG_STRING, name, "dflt", 0, 0, "a name"},
        {"RFT_ADDR", RF_CFG_HOSTPORT, addr, "127.0.0.1:80", 0, 0, "an address"},
        {"RFT_EP", RF_CFG_ENDPOINT, ep, "tcp://127.0.0.1:5550", 0, 0, "an endpoint"},
        {"RFT_N", RF_CFG_INT, &n, "7", 1, 10, "a number"},
        {"RFT_LEVEL", RF_CFG_LOGLEVEL, &level, "info", 0, 0, "a level"},
    };
    unsetenv("RFT_NAME");
    setenv("RFT_ADDR", "0.0.0.0:9000", 1);
    setenv("RFT_EP", "ipc:///tmp/x", 1);
    setenv("RFT_N", "10", 1);
    setenv("RFT_LEVEL", "debug", 1);
    char err[512];
    assert_int_equal(rf_config_load(t, 5, err, sizeof err), 0);
    assert_string_equal(name, "dflt");
    assert_string_equal(addr, "0.0.0.0:9000");
    assert_string_equal(ep, "ipc:///tmp/x");
    assert_int_equal(n, 10);
    assert_int_equal(level, 0);
    assert_string_equal(err, "");
}

static void config_reports_every_problem(void **state) {
    (void)state;
    char req[RF_CFG_STR_MAX], addr[RF_CFG_STR_MAX], ep[RF_CFG_STR_MAX];
    int64_t n = 0;
    int level = 0;
    rf_config_entry_t t[] = {
        {"RFT_REQUIRED", RF_CFG_STRING, req, NULL, 0, 0, "must be set"},
        {"RFT_ADDR", RF_CFG_HOSTPORT, addr, NULL, 0, 0, "an address"},
        {"RFT_EP", RF_CFG_ENDPOINT, ep, NULL, 0, 0, "an endpoint"},
        {"RFT_N", RF_CFG_INT, &n, NULL, 1, 10, "a number"},
        {"RFT_LEVEL", RF_CFG_LOGLEVEL, &level, NULL, 0, 0, "a level"},
    };
    unsetenv("RFT_REQUIRED");
    setenv("RFT_ADDR", "nonsense", 1);
    setenv("RFT_EP", "http://x", 1);
    setenv("RFT_N", "11", 1);
    setenv("RFT_LEVEL", "loud", 1);
    char err[2048];
    assert_int_equal(rf_config_load(t, 5, err, sizeof err), 5);
    const char *names[] = {"RFT_REQUIRED", "RFT_ADDR", "RFT_EP", "RFT_N", "RFT_LEVEL"};
    for (size_t i = 0; i < 5; i++) assert_non_null(strstr(err, names[i]));
    setenv("RFT_N", "5x", 1);
    assert_int_equal(rf_config_load(&t[3], 1, err, sizeof err), 1);
    assert_non_null(strstr(err, "whole number"));
}

static void ulid_shape_and_order(void **state) {
    (void)state;
    char prev[RF_ULID_LEN + 1] = "", cur[RF_ULID_LEN + 1];
    for (int i = 0; i < 100000; i++) {
        rf_ulid_new(cur);
        assert_int_equal(strlen(cur), RF_ULID_LEN);
        assert_int_equal(strspn(cur, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), RF_ULID_LEN);
        assert_true(strcmp(prev, cur) < 0); /* strictly increasing, even within one ms */
        memcpy(prev, cur, sizeof cur);
    }
    int64_t a = rf_mono_ms(), b = rf_mono_ms();
    assert_true(b >= a);
    assert_true(rf_now_ms() > 1600000000000LL);
}

static void jsonv_reads_and_reports(void **state) {
    (void)state;
    json_t *doc = json_loads("{\"s\":\"abc\",\"n\":5,\"f\":1.5,\"id\":2401234567890123456,"
                             "\"ctl\":\"a\\u0001b\",\"k\":\"two\"}",
                             0, NULL);
    assert_non_null(doc);
    rf_jsonv_t v = {0};
    assert_string_equal(rf_jsonv_str(doc, "s", true, 10, &v), "abc");
    assert_int_equal(rf_jsonv_i64(doc, "n", true, 0, 0, 10, &v), 5);
    assert_int_equal(rf_jsonv_i64(doc, "absent", false, 42, 0, 100, &v), 42);
    const char *const choices[] = {"one", "two", NULL};
    assert_string_equal(rf_jsonv_oneof(doc, "k", NULL, choices, &v), "two");
    assert_false(v.failed);

    rf_jsonv_t v1 = {0};
    rf_jsonv_str(doc, "id", true, 64, &v1);
    assert_true(v1.failed);
    assert_string_equal(v1.field, "id");
    assert_non_null(strstr(v1.message, "text"));

    rf_jsonv_t v2 = {0};
    rf_jsonv_i64(doc, "f", true, 0, 0, 10, &v2);
    assert_true(v2.failed);
    rf_jsonv_t v3 = {0};
    rf_jsonv_i64(doc, "n", true, 0, 6, 10, &v3);
    assert_true(v3.failed);
    rf_jsonv_t v4 = {0};
    rf_jsonv_str(doc, "ctl", true, 64, &v4);
    assert_true(v4.failed);
    rf_jsonv_t v5 = {0};
    rf_jsonv_str(doc, "s", true, 2, &v5);
    assert_true(v5.failed);
    rf_jsonv_t v6 = {0};
    rf_jsonv_str(doc, "missing", true, 2, &v6);
    assert_true(v6.failed);
    assert_string_equal(v6.field, "missing");
    rf_jsonv_t v7 = {0};
    rf_jsonv_oneof(doc, "s", NULL, choices, &v7);
    assert_true(v7.failed);
    assert_non_null(strstr(v7.message, "one, two"));
    /* The first problem is the one reported. */
    rf_jsonv_t v8 = {0};
    rf_jsonv_str(doc, "missing", true, 2, &v8);
    rf_jsonv_i64(doc, "f", true, 0, 0, 10, &v8);
    assert_string_equal(v8.field, "missing");
    json_decref(doc);
}

static void path_match(void **state) {
    (void)state;
    char id[16];
    assert_true(rf_path_match("/v1/returns/ABC", "/v1/returns/{}", id, sizeof id));
    assert_string_equal(id, "ABC");
    assert_true(rf_path_match("/v1/reviews/X1/approve", "/v1/reviews/{}/approve", id, sizeof id));
    assert_string_equal(id, "X1");
    assert_false(rf_path_match("/v1/reviews/X1/approve/", "/v1/reviews/{}/approve", id, sizeof id));
    assert_false(rf_path_match("/v1/returns/", "/v1/returns/{}", id, sizeof id));
    assert_false(rf_path_match("/v1/returns/a/b", "/v1/returns/{}", id, sizeof id));
    assert_false(rf_path_match("/v1/returns/0123456789abcdefXYZ", "/v1/returns/{}", id, sizeof id));
    assert_true(rf_path_match("/healthz", "/healthz", id, sizeof id));
    assert_false(rf_path_match("/healthz2", "/healthz", id, sizeof id));
}

static void number_text(void **state) {
    (void)state;
    assert_string_equal(rf_i64(0).s, "0");
    assert_string_equal(rf_i64(-42).s, "-42");
    assert_string_equal(rf_i64(INT64_MAX).s, "9223372036854775807");
    assert_string_equal(rf_i64(INT64_MIN).s, "-9223372036854775808");
}

/* Array literals: quoting, NULL, numbers, bytea, reuse after open. */
static void pgarray_literals(void **state) {
    (void)state;
    rf_pgarray_t a = {0};
    assert_int_equal(rf_pgarray_open(&a), 0);
    assert_string_equal(rf_pgarray_close(&a), "{}");
    assert_int_equal(rf_pgarray_open(&a), 0);
    assert_int_equal(rf_pgarray_add(&a, "plain"), 0);
    assert_int_equal(rf_pgarray_add(&a, "say \"hi\" \\ {x,y}"), 0);
    assert_int_equal(rf_pgarray_add(&a, NULL), 0);
    assert_int_equal(rf_pgarray_add(&a, ""), 0);
    assert_int_equal(rf_pgarray_add_i64(&a, -9223372036854775807LL - 1), 0);
    assert_string_equal(rf_pgarray_close(&a), "{\"plain\",\"say \\\"hi\\\" \\\\ {x,y}\",NULL,\"\","
                                              "\"-9223372036854775808\"}");
    assert_int_equal(a.n, 5);
    const uint8_t bytes[] = {0x00, 0xff, 0x7e};
    assert_int_equal(rf_pgarray_open(&a), 0);
    assert_int_equal(rf_pgarray_add_bytea(&a, bytes, sizeof bytes), 0);
    assert_int_equal(rf_pgarray_add_bytea(&a, bytes, 0), 0);
    assert_string_equal(rf_pgarray_close(&a), "{\"\\\\x00ff7e\",\"\\\\x\"}");
    /* Growth past the first allocation keeps every element. */
    assert_int_equal(rf_pgarray_open(&a), 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(rf_pgarray_add_i64(&a, i), 0);
    const char *lit = rf_pgarray_close(&a);
    assert_non_null(strstr(lit, ",\"999\"}"));
    assert_int_equal(strncmp(lit, "{\"0\",\"1\",", 9), 0);
    rf_pgarray_t cols[2] = {{0}};
    const char *row[2] = {"a", NULL};
    assert_int_equal(rf_pgarrays_open(cols, 2), 0);
    assert_int_equal(rf_pgarrays_add_row(cols, 2, row), 0);
    assert_string_equal(rf_pgarray_close(&cols[0]), "{\"a\"}");
    assert_string_equal(rf_pgarray_close(&cols[1]), "{NULL}");
    rf_pgarrays_free(cols, 2);
    rf_pgarray_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults_and_values),
        cmocka_unit_test(pgarray_literals),
        cmocka_unit_test(config_reports_every_problem),
        cmocka_unit_test(ulid_shape_and_order),
        cmocka_unit_test(jsonv_reads_and_reports),
        cmocka_unit_test(path_match),
        cmocka_unit_test(number_text),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
