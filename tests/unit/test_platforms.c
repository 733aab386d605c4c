/*
 * test_platforms.c: unit tests for the platform protocols (platform/kuaishou.h,
 * platform/douyin.h, runtime/crypto.h) against vectors computed independently (Python's
 * hashlib/hmac and the openssl command line), so a mistake in our signing or
 * decryption cannot hide behind a round trip through our own code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/crypto.h"
#include "platform/douyin.h"
#include "platform/kuaishou.h"

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODw==" /* bytes 0..15 */
static const char cipher[] = "vw9sm7ndAiD3WjPirJh7RIiA6go5foJZ0+"
                             "8kUBrc6MW4zd24ecQDPIabFi5NyYSbjLUlmeWc8wa3lWQngBasy0V1Cgol48z7E3vR7gh"
                             "HnM+uA3REK0ySVnNLUsBOx+/1A9rG46LMVfqJw4oCInc8GT5iXgx80QP12/"
                             "c5QJ8fS7pWYaQQhtBr5r55ROI0CVMfFkWJY6vINwomPSqLJW5U4DU5oxQFJG3bjiw5NtF"
                             "fHAFWuStu+lHEn9GlHjmKHm0sjEZITZe9HElKEHhg4/37tugW8VJTW+ealJ1LF8/"
                             "aDQtMvMbcN8VZKccZYqljZ++83tCuJHsiCSzdhVdpSalY/yeRnp34suU/"
                             "yiouE9e04YPKJSHTiIPfhd3l3HBpLpxHFxeRwDa92Cbo0vwzRSOR8w==";
static const char plain[] =
    "{\"eventId\":\"E1\",\"bizId\":\"2401234567890123456\",\"userId\":1,\"openId\":\"o\","
    "\"appKey\":\"ks123\",\"event\":\"kwaishop_aftersales_addRefund\",\"info\":\"{\\\"orderId\\\": "
    "2401234567890123456, \\\"refundId\\\": 2401234567890123456, \\\"handlingWay\\\": 10, "
    "\\\"status\\\": 10, \\\"createTime\\\": 1764000000000}\",\"createTime\":1764000000001}";

static void ks_sign_md5_and_hmac(void **state) {
    (void)state;
    rf_ks_param_t p[] = {
        {"appkey", "ks123"},     {"method", "open.seller.order.refund.detail"},
        {"version", "1"},        {"param", "{\"refundId\":\"2401234567890123456\"}"},
        {"access_token", "tok"}, {"timestamp", "1764000000000"},
        {"signMethod", "MD5"},
    };
    char sign[65];
    assert_int_equal(rf_ks_sign(p, 7, "sec", RF_KS_SIGN_MD5, sign, sizeof sign), 0);
    assert_string_equal(sign, "cc8b0c9c3d1741a0ae9bf70a0149655a");
    p[6].value = "HMAC_SHA256";
    assert_int_equal(rf_ks_sign(p, 7, "sec", RF_KS_SIGN_HMAC_SHA256, sign, sizeof sign), 0);
    assert_string_equal(sign, "bMKCHPfTqnniUuXdbUJeo47ViWfyEYtx2ycCwrDbQVA=");
    /* A changed value or secret changes the signature. */
    p[4].value = "tok2";
    assert_int_equal(rf_ks_sign(p, 7, "sec", RF_KS_SIGN_HMAC_SHA256, sign, sizeof sign), 0);
    assert_string_not_equal(sign, "bMKCHPfTqnniUuXdbUJeo47ViWfyEYtx2ycCwrDbQVA=");
    char path[64];
    /* the declared verbs (kuaishou-merchant-open-api api.default.method.js) */
    assert_string_equal(rf_ks_method_verb("open.order.detail"), "GET");
    assert_string_equal(rf_ks_method_verb("open.seller.order.refund.detail"), "GET");
    assert_string_equal(rf_ks_method_verb("open.seller.order.refund.pcursor.list"), "GET");
    assert_string_equal(rf_ks_method_verb("open.refund.reject.reason"), "GET");
    assert_string_equal(rf_ks_method_verb("open.seller.order.refund.approve"), "POST");
    assert_string_equal(rf_ks_method_verb("open.seller.order.refund.returngoods.approve"), "POST");
    assert_string_equal(rf_ks_method_verb("open.seller.order.refund.confirm.receipt"), "POST");
    assert_string_equal(rf_ks_method_verb("open.refund.reject"), "POST");
    assert_string_equal(rf_ks_method_verb("open.refund.submit.returnInfo"), "POST");
    assert_int_equal(rf_ks_method_path("open.seller.order.refund.detail", path, sizeof path), 0);
    assert_string_equal(path, "/open/seller/order/refund/detail");
}

static void ks_push_decrypts_what_openssl_encrypted(void **state) {
    (void)state;
    char *text = NULL, err[128];
    size_t len = 0;
    assert_int_equal(
        rf_ks_push_decrypt(cipher, strlen(cipher), KEY_B64, &text, &len, err, sizeof err), 0);
    assert_int_equal(len, strlen(plain));
    assert_string_equal(text, plain);
    rf_ks_push_t push;
    assert_int_equal(rf_ks_push_parse(text, len, &push, err, sizeof err), 0);
    assert_string_equal(push.event_id, "E1");
    assert_string_equal(push.biz_id, "2401234567890123456");
    assert_string_equal(push.event, "kwaishop_aftersales_addRefund");
    assert_int_equal(push.create_time, 1764000000001LL);
    assert_false(push.test);
    assert_int_equal(json_integer_value(json_object_get(push.info, "handlingWay")), 10);
    rf_ks_push_clear(&push);
    free(text);
    /* Our encryption is the platform's: it gives openssl's bytes. */
    char *again = NULL;
    assert_int_equal(rf_ks_push_encrypt(plain, strlen(plain), KEY_B64, &again), 0);
    assert_string_equal(again, cipher);
    free(again);
}

static void ks_push_refusals(void **state) {
    (void)state;
    char *text = NULL, err[128];
    size_t len;
    /* Another key: the padding check fails (or, rarely, garbage comes out and
     * the JSON parse refuses it). */
    int rc = rf_ks_push_decrypt(cipher, strlen(cipher), "AQECAwQFBgcICQoLDA0ODw==", &text, &len,
                                err, sizeof err);
    if (rc == 0) {
        rf_ks_push_t push;
        assert_int_equal(rf_ks_push_parse(text, len, &push, err, sizeof err), -1);
        free(text);
    } else {
        assert_non_null(strstr(err, "key"));
    }
    assert_int_equal(rf_ks_push_decrypt("not base64!", 11, KEY_B64, &text, &len, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "Base64"));
    assert_int_equal(
        rf_ks_push_decrypt(cipher, strlen(cipher), "c2hvcnQ=", &text, &len, err, sizeof err), -1);
    assert_int_equal(rf_ks_push_decrypt("AAAA", 4, KEY_B64, &text, &len, err, sizeof err), -1);
    rf_ks_push_t push;
    const char *hb = "{\"test\":true}";
    assert_int_equal(rf_ks_push_parse(hb, strlen(hb), &push, err, sizeof err), 0);
    assert_true(push.test);
    rf_ks_push_clear(&push);
    const char *badinfo =
        "{\"eventId\":\"E\",\"bizId\":\"1\",\"event\":\"x\",\"info\":\"not json\"}";
    assert_int_equal(rf_ks_push_parse(badinfo, strlen(badinfo), &push, err, sizeof err), -1);
    assert_non_null(strstr(err, "info"));
    const char *noid = "{\"bizId\":\"1\",\"event\":\"x\",\"info\":{}}";
    assert_int_equal(rf_ks_push_parse(noid, strlen(noid), &push, err, sizeof err), -1);
    assert_non_null(strstr(err, "eventId"));
    assert_int_equal(rf_ks_push_parse("[1]", 3, &push, err, sizeof err), -1);
}

static void ks_mapping(void **state) {
    (void)state;
    assert_string_equal(rf_ks_neutral_status(10, 1), "requested");
    assert_string_equal(rf_ks_neutral_status(11, 1), "requested");
    assert_string_equal(rf_ks_neutral_status(11, 3), "seller_rejected");
    assert_string_equal(rf_ks_neutral_status(12, 0), "seller_rejected");
    assert_string_equal(rf_ks_neutral_status(22, 2), "awaiting_buyer_return");
    assert_string_equal(rf_ks_neutral_status(30, 2), "awaiting_buyer_return");
    assert_string_equal(rf_ks_neutral_status(40, 2), "return_in_transit");
    assert_string_equal(rf_ks_neutral_status(20, 1), "arbitration");
    assert_string_equal(rf_ks_neutral_status(21, 1), "arbitration");
    assert_string_equal(rf_ks_neutral_status(50, 2), "refunding");
    assert_string_equal(rf_ks_neutral_status(60, 2), "completed");
    assert_string_equal(rf_ks_neutral_status(70, 2), "closed");
    assert_null(rf_ks_neutral_status(45, 2));
    assert_null(rf_ks_neutral_status(99, 1));
    assert_string_equal(rf_ks_kind(1), "return_refund");
    assert_string_equal(rf_ks_kind(10), "refund_only");
    assert_string_equal(rf_ks_kind(3), "exchange");
    assert_null(rf_ks_kind(4));
    assert_null(rf_ks_kind(5));
}

static void dy_signatures(void **state) {
    (void)state;
    const char *body =
        "[{\"tag\":\"200\",\"msg_id\":\"m1\",\"data\":\"{\\\"aftersale_id\\\":7001}\"}]";
    char sign[65];
    rf_dy_push_sign("dyapp", body, strlen(body), "dysec", sign);
    assert_string_equal(sign, "73924b28be67893e420c8245310fb041");
    assert_true(rf_dy_push_verify("dyapp", "dysec", body, strlen(body),
                                  "73924B28BE67893E420C8245310FB041"));
    assert_false(rf_dy_push_verify("dyapp", "other", body, strlen(body),
                                   "73924b28be67893e420c8245310fb041"));
    assert_false(rf_dy_push_verify("dyapp", "dysec", body, strlen(body) - 1,
                                   "73924b28be67893e420c8245310fb041"));
    assert_false(rf_dy_push_verify("dyapp", "dysec", body, strlen(body), NULL));
    rf_dy_api_sign("dyapp", "dysec", "afterSale.Detail", "{\"after_sale_id\":\"7001\"}",
                   "1764000000", "2", RF_DY_SIGN_MD5, sign);
    assert_string_equal(sign, "c3e35440b9ff206867ce0e4c92417eb2");
    rf_dy_api_sign("dyapp", "dysec", "afterSale.Detail", "{\"after_sale_id\":\"7001\"}",
                   "1764000000", "2", RF_DY_SIGN_HMAC_SHA256, sign);
    assert_string_equal(sign, "75c3dd132b84e5409282f2008b11d003c08bd1a94c2f1789b4b9f0247dab80a5");
}

static void dy_push_parse(void **state) {
    (void)state;
    const char *body =
        "[{\"tag\":\"200\",\"msg_id\":\"m1\",\"data\":\"{\\\"aftersale_id\\\":7001}\"},"
        "{\"tag\":206,\"msg_id\":\"m2\",\"data\":{\"aftersale_id\":\"7002\"}}]";
    rf_dy_message_t *m = NULL;
    size_t n = 0;
    char err[128];
    assert_int_equal(rf_dy_push_parse(body, strlen(body), &m, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(m[0].tag, 200);
    assert_string_equal(m[0].msg_id, "m1");
    assert_int_equal(json_integer_value(json_object_get(m[0].data, "aftersale_id")), 7001);
    assert_int_equal(m[1].tag, 206);
    assert_string_equal(json_string_value(json_object_get(m[1].data, "aftersale_id")), "7002");
    rf_dy_messages_free(m, n);
    const char *bad[] = {"{}",
                         "[{\"msg_id\":\"m\",\"data\":{}}]",
                         "[{\"tag\":1,\"data\":{}}]",
                         "[{\"tag\":1,\"msg_id\":\"m\",\"data\":\"nope\"}]",
                         "[1]",
                         "nonsense"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rf_dy_push_parse(bad[i], strlen(bad[i]), &m, &n, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    assert_string_equal(rf_dy_neutral_status(6), "requested");
    assert_string_equal(rf_dy_neutral_status(7), "awaiting_buyer_return");
    assert_string_equal(rf_dy_neutral_status(11), "return_in_transit");
    assert_string_equal(rf_dy_neutral_status(12), "completed");
    assert_string_equal(rf_dy_neutral_status(27), "seller_rejected");
    assert_string_equal(rf_dy_neutral_status(28), "closed");
    assert_null(rf_dy_neutral_status(3));
    assert_string_equal(rf_dy_kind(0), "return_refund");
    assert_string_equal(rf_dy_kind(2), "refund_only");
    assert_null(rf_dy_kind(6));
}

static void base64_edges(void **state) {
    (void)state;
    uint8_t out[16];
    char text[32];
    assert_int_equal(rf_base64_decode("", 0, out, sizeof out), 0);
    assert_int_equal(rf_base64_decode("YQ==", 4, out, sizeof out), 1);
    assert_int_equal(out[0], 'a');
    assert_int_equal(rf_base64_decode("YWI=", 4, out, sizeof out), 2);
    assert_int_equal(rf_base64_decode("Y===", 4, out, sizeof out), -1);
    assert_int_equal(rf_base64_decode("Y=Q=", 4, out, sizeof out), -1);
    assert_int_equal(rf_base64_decode("YWJj\n", 5, out, sizeof out), -1);
    assert_int_equal(rf_base64_encode((const uint8_t *)"abc", 3, text, sizeof text), 4);
    assert_string_equal(text, "YWJj");
    assert_int_equal(rf_base64_encode((const uint8_t *)"abc", 3, text, 4), -1);
    assert_true(rf_equal_nocase_ct("aBc", "AbC"));
    assert_false(rf_equal_nocase_ct("abc", "abd"));
    assert_false(rf_equal_nocase_ct("abc", "abcd"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ks_sign_md5_and_hmac),
        cmocka_unit_test(ks_push_decrypts_what_openssl_encrypted),
        cmocka_unit_test(ks_push_refusals),
        cmocka_unit_test(ks_mapping),
        cmocka_unit_test(dy_signatures),
        cmocka_unit_test(dy_push_parse),
        cmocka_unit_test(base64_edges),
    };
    return cmocka_run_group_tests_name("platforms", tests, NULL, NULL);
}
