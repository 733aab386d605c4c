/*
 * proto_json.c: the JSON view of returnflow events (rf_event_json,
 * rf_event_body_json), driven by the descriptor tables of proto.c: the same
 * keys as the wire, strings repaired to valid UTF-8.
 */
#include "proto/proto.h"
#include "proto/proto_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char lo = 0x80, hi = 0xbf;
    size_t more;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        more = 1;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        more = 2;
        if (s[0] == 0xe0) lo = 0xa0; /* overlong */
        if (s[0] == 0xed) hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        more = 3;
        if (s[0] == 0xf0) lo = 0x90; /* overlong */
        if (s[0] == 0xf4) hi = 0x8f; /* over U+10FFFF */
    } else {
        return 0;
    }
    if (n <= more || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= more; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return more + 1;
}

/* json_text: s as a JSON string. Event strings are not checked for UTF-8
 * when decoded; here each byte that does not start a well-formed sequence is
 * replaced by U+FFFD, so the JSON view is always valid and never fails on
 * bad input. NULL means "". NULL only when out of memory. */
static const char replacement_char[3] = {'\xef', '\xbf', '\xbd'}; /* U+FFFD in UTF-8 */

static json_t *json_text(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *fixed = malloc(3 * n + 1); /* bytes, not a C string: json_stringn takes the length */
    if (!fixed) return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(fixed + out, s + i, k);
            out += k;
            i += k;
        } else {
            memcpy(fixed + out, replacement_char, sizeof replacement_char);
            out += sizeof replacement_char;
            i++;
        }
    }
    j = json_stringn_nocheck(fixed, out);
    free(fixed);
    return j;
}

static json_t *json_value(const rf_field_desc_t *f, const void *base) {
    const void *slot = rf__proto_field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: return json_text(*(char *const *)slot);
    case RF_FT_I64: return json_integer((json_int_t) * (const int64_t *)slot);
    case RF_FT_BOOL: return json_boolean(*(const bool *)slot);
    }
    return NULL;
}

/* An empty object for RF_EV_NONE or an out-of-range type. */
json_t *rf_event_body_json(const rf_event_t *ev) {
    assert(ev);
    json_t *obj = json_object();
    if (!obj) return NULL;
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    for (size_t i = 0; d && i < d->nfields; i++)
        if (json_object_set_new(obj, d->fields[i].name, json_value(&d->fields[i], &ev->body)) != 0)
            goto err;
    return obj;
err:
    json_decref(obj);
    return NULL;
}

/* Same keys as the wire; `type` is the wire name ("unknown" for none). NULL
 * only when out of memory. */
json_t *rf_event_json(const rf_event_t *ev) {
    assert(ev);
    json_t *obj = json_object();
    if (!obj) return NULL;
    for (size_t i = 0; i < ENV__COUNT; i++) {
        json_t *val = i == ENV_type ? json_string(rf_event_type_name(ev->type))
                                    : json_value(&rf__proto_envelope[i], ev);
        if (json_object_set_new(obj, rf__proto_envelope[i].name, val) != 0) goto err;
    }
    if (json_object_set_new(obj, BODY_KEY, rf_event_body_json(ev)) != 0) goto err;
    return obj;
err:
    json_decref(obj);
    return NULL;
}
