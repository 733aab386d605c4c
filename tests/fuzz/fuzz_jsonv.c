/*
 * fuzz_jsonv.c: libFuzzer target for request-body handling: JSON parsing as
 * rf_worker_json_body does it (jansson, duplicates refused, an object
 * required) and the checked field readers (runtime/jsonv.h) over every field of
 * the neutral request bodies the workers read: the order (with its lines)
 * and the return request of intake, review's approve/reject, warehouse's
 * receipt, supplier-leg and reship bodies, notification's feedback.
 *
 * Properties: what a reader accepts respects its bounds (length, range,
 * choice); the first refusal names its field and says what is wrong, and
 * later reads never overwrite it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runtime/jsonv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum { STR, I64, ONEOF } kind_t;

typedef struct field {
    const char *name;
    kind_t kind;
    bool required;
    int64_t min, max;           /* I64: range; STR: max is the length */
    const char *const *choices; /* ONEOF */
    const char *def;            /* ONEOF default (NULL: required) */
} field_t;

static const char *const kinds[] = {"refund_only", "return_refund", "exchange", NULL};
static const char *const reasons[] = {
    "quality",  "wrong_item",   "damaged", "late", "not_as_described",
    "size_fit", "changed_mind", "other",   NULL};
static const char *const grades[] = {"resellable", "packaging_damaged", "goods_damaged",
                                     "wrong_item", "missing_parts",     "empty_box",
                                     NULL};
static const char *const reship_states[] = {"shipped", "delivered", NULL};

#define T 100000000000LL
#define BIG (INT64_MAX / 2)
static const field_t order[] = {{"platform", STR, true, 0, 32},
                                {"shop_id", STR, true, 0, 128},
                                {"order_id", STR, true, 0, 128},
                                {"buyer_id", STR, false, 0, 128},
                                {"region", STR, false, 0, 64},
                                {"payment_method", STR, false, 0, 64},
                                {"paid_at", I64, false, 0, BIG},
                                {"delivered_at", I64, false, 0, BIG},
                                {"shipping_fee_fen", I64, false, 0, T},
                                {"discount_fen", I64, false, 0, T},
                                {NULL}};
static const field_t order_line[] = {{"line_id", STR, true, 0, 128},
                                     {"sku_id", STR, true, 0, 128},
                                     {"title", STR, false, 0, 500},
                                     {"category", STR, false, 0, 64},
                                     {"supplier_id", STR, false, 0, 128},
                                     {"quantity", I64, true, 1, 100000},
                                     {"unit_price_fen", I64, true, 0, 10000000000LL},
                                     {NULL}};
static const field_t return_req[] = {{"platform", STR, true, 0, 32},
                                     {"platform_return_id", STR, true, 0, 128},
                                     {"order_id", STR, true, 0, 128},
                                     {"line_id", STR, true, 0, 128},
                                     {"type", ONEOF, true, 0, 0, kinds},
                                     {"quantity", I64, true, 1, 100000},
                                     {"reason_code", ONEOF, true, 0, 0, reasons},
                                     {"reason_text", STR, false, 0, 2000},
                                     {"requested_amount_fen", I64, true, 0, 10000000000LL},
                                     {"requested_at", I64, false, 1, BIG},
                                     {"platform_deadline_at", I64, false, 0, BIG},
                                     {NULL}};
static const field_t review_decision[] = {{"note", STR, false, 0, 2000},
                                          {"reason_code", STR, false, 0, 64},
                                          {"refund_amount_fen", I64, false, 0, BIG},
                                          {"by", STR, false, 0, 128},
                                          {NULL}};
static const field_t receipt[] = {{"return_id", STR, false, 0, 64},
                                  {"tracking_no", STR, false, 0, 64},
                                  {"condition", ONEOF, false, 0, 0, grades, "resellable"},
                                  {"received_by", STR, false, 0, 128},
                                  {NULL}};
static const field_t supplier_leg[] = {{"state", STR, true, 0, 32},
                                       {"tracking_no", STR, false, 0, 64},
                                       {"note", STR, false, 0, 2000},
                                       {NULL}};
static const field_t reship[] = {
    {"state", ONEOF, true, 0, 0, reship_states}, {"tracking_no", STR, false, 0, 64}, {NULL}};
static const field_t feedback[] = {{"return_id", STR, true, 0, 63},
                                   {"score", I64, true, 1, 5},
                                   {"comment", STR, false, 0, 2000},
                                   {NULL}};
static const field_t *const bodies[] = {order,        return_req, review_decision, receipt,
                                        supplier_leg, reship,     feedback};

static void read_fields(json_t *obj, const field_t *fields, rf_jsonv_t *v) {
    for (const field_t *f = fields; f->name; f++) {
        bool failed_before = v->failed;
        char field_before[sizeof v->field];
        memcpy(field_before, v->field, sizeof field_before);
        switch (f->kind) {
        case STR: {
            const char *s = rf_jsonv_str(obj, f->name, f->required, (size_t)f->max, v);
            if (!s || strlen(s) > (size_t)f->max) abort();
            for (const char *c = s; *c; c++)
                if ((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') abort();
            if (f->required && !v->failed && s[0] == '\0') abort();
            break;
        }
        case I64: {
            int64_t n = rf_jsonv_i64(obj, f->name, f->required, f->min, f->min, f->max, v);
            if (n < f->min || n > f->max) abort();
            break;
        }
        case ONEOF: {
            const char *s = rf_jsonv_oneof(obj, f->name, f->def, f->choices, v);
            if (!s) abort();
            bool listed = false;
            for (const char *const *c = f->choices; *c; c++) listed |= strcmp(*c, s) == 0;
            if (!v->failed && !listed) abort();
            break;
        }
        }
        /* The first problem stays the one reported. */
        if (failed_before && strcmp(field_before, v->field) != 0) abort();
        if (v->failed && (v->message[0] == '\0' || v->field[0] == '\0')) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (jerr.text[0] == '\0') abort(); /* the 400 quotes it */
        return 0;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        rf_jsonv_t v = {0};
        read_fields(doc, bodies[b], &v);
    }
    /* The order's lines, each an object read with the line fields. */
    json_t *lines = json_object_get(doc, "lines");
    for (size_t i = 0; json_is_array(lines) && i < json_array_size(lines) && i < 200; i++) {
        json_t *l = json_array_get(lines, i);
        if (!json_is_object(l)) continue;
        rf_jsonv_t lv = {0};
        read_fields(l, order_line, &lv);
        (void)json_is_true(json_object_get(l, "exclusion_confirmed"));
    }
    (void)json_is_boolean(json_object_get(doc, "freight_insured"));
    json_decref(doc);
    return 0;
}
