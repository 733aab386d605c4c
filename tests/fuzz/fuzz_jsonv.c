/*
 * fuzz_jsonv.c: libFuzzer target for request-body handling: JSON parsing
 * (jansson, as rf_worker_json_body calls it) and the checked field readers
 * (rf/jsonv.h) over the fields of the neutral return and order APIs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rf/jsonv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) return 0;
    static const char *const kinds[] = {"refund_only", "return_refund", "exchange", NULL};
    static const char *const str_fields[] = {"platform", "platform_return_id", "order_id",
                                             "line_id", "reason_text", "shop_id", "buyer_id"};
    static const char *const int_fields[] = {"quantity", "requested_amount_fen", "requested_at",
                                             "platform_deadline_at", "unit_price_fen"};
    rf_jsonv_t v = {0};
    for (size_t i = 0; i < sizeof str_fields / sizeof str_fields[0]; i++) {
        const char *s = rf_jsonv_str(doc, str_fields[i], i < 4, 128, &v);
        if (!s || strlen(s) > 128) abort();
    }
    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        int64_t n = rf_jsonv_i64(doc, int_fields[i], i < 2, 0, 0, 10000000000LL, &v);
        if (n < 0 || n > 10000000000LL) abort();
    }
    const char *k = rf_jsonv_oneof(doc, "type", NULL, kinds, &v);
    if (!k) abort();
    if (v.failed && (v.message[0] == '\0' || v.field[0] == '\0')) abort(); /* say what is wrong */
    json_t *lines = json_object_get(doc, "lines");
    for (size_t i = 0; json_is_array(lines) && i < json_array_size(lines) && i < 64; i++) {
        rf_jsonv_t lv = {0};
        rf_jsonv_str(json_array_get(lines, i), "line_id", true, 128, &lv);
        rf_jsonv_i64(json_array_get(lines, i), "quantity", true, 0, 1, 100000, &lv);
    }
    json_decref(doc);
    return 0;
}
