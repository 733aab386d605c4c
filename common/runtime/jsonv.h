/*
 * runtime/jsonv.h: checked reads of fields from a JSON request body.
 *
 * Each reader records the first problem (naming the field and what was
 * expected) in an rf_jsonv_t and returns a harmless value, so a handler reads
 * every field, then checks v.failed once and answers 400 with v.message.
 */
#ifndef RF_JSONV_H
#define RF_JSONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct rf_jsonv {
    bool failed;       /* a problem was found */
    char field[64];    /* the first field with a problem */
    char message[256]; /* what is wrong with it */
} rf_jsonv_t;

/* rf_jsonv_str: the string at key (borrowed from obj). Absent or null:
 * "" if optional, a problem if required. Not a string, longer than maxlen
 * bytes, empty when required, or holding control characters: a problem. */
const char *rf_jsonv_str(json_t *obj, const char *key, bool required, size_t maxlen, rf_jsonv_t *v);

/* rf_jsonv_i64: the integer at key within [min, max]. Absent: def if
 * optional, a problem if required. Floats, strings and out-of-range values:
 * a problem. */
int64_t rf_jsonv_i64(json_t *obj, const char *key, bool required, int64_t def, int64_t min,
                     int64_t max, rf_jsonv_t *v);

/* rf_jsonv_oneof: the string at key, which must be one of the NULL-ended
 * choices. Absent: def (NULL def means required). */
const char *rf_jsonv_oneof(json_t *obj, const char *key, const char *def,
                           const char *const *choices, rf_jsonv_t *v);

#endif
