/*
 * jsonv.c: checked reads of JSON request fields (runtime/jsonv.h).
 */
#include "runtime/jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void problem(rf_jsonv_t *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(rf_jsonv_t *v, const char *key, const char *fmt, ...) {
    if (v->failed) return;
    v->failed = true;
    snprintf(v->field, sizeof v->field, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
}

const char *rf_jsonv_str(json_t *obj, const char *key, bool required, size_t maxlen,
                         rf_jsonv_t *v) {
    json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j)) {
        if (required) problem(v, key, "%s is required", key);
        return "";
    }
    if (!json_is_string(j)) {
        problem(v, key, "%s must be a string%s", key,
                json_is_integer(j) ? " (ids are text: send them quoted)" : "");
        return "";
    }
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    if (strlen(s) != len) {
        problem(v, key, "%s must not contain NUL characters", key);
        return "";
    }
    if (len > maxlen) {
        problem(v, key, "%s is longer than %zu bytes", key, maxlen);
        return "";
    }
    if (required && len == 0) {
        problem(v, key, "%s must not be empty", key);
        return "";
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') {
            problem(v, key, "%s contains control characters", key);
            return "";
        }
    return s;
}

int64_t rf_jsonv_i64(json_t *obj, const char *key, bool required, int64_t def, int64_t min,
                     int64_t max, rf_jsonv_t *v) {
    json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j)) {
        if (required) problem(v, key, "%s is required", key);
        return def;
    }
    if (!json_is_integer(j)) {
        problem(v, key, "%s must be a whole number%s", key,
                json_is_real(j) ? " (money is in fen, times in ms)" : "");
        return def;
    }
    json_int_t x = json_integer_value(j);
    if (x < min || x > max) {
        problem(v, key, "%s must be between %lld and %lld", key, (long long)min, (long long)max);
        return def;
    }
    return (int64_t)x;
}

const char *rf_jsonv_oneof(json_t *obj, const char *key, const char *def,
                           const char *const *choices, rf_jsonv_t *v) {
    json_t *j = json_object_get(obj, key);
    if ((!j || json_is_null(j)) && def) return def;
    const char *s = rf_jsonv_str(obj, key, true, 64, v);
    if (v->failed) return def ? def : "";
    for (const char *const *c = choices; *c; c++)
        if (strcmp(*c, s) == 0) return *c;
    char list[200] = "";
    size_t used = 0;
    for (const char *const *c = choices; *c && used < sizeof list; c++)
        used +=
            (size_t)snprintf(list + used, sizeof list - used, "%s%s", c == choices ? "" : ", ", *c);
    problem(v, key, "%s must be one of: %s", key, list);
    return def ? def : "";
}
