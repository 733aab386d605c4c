/*
 * dy_oauth.c: Douyin's authorisation requests and answers (platform/dy_oauth.h).
 */
#include "platform/dy_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/kuaishou.h" /* rf_ks_form_encode: the one query encoder */

int rf_dy_authorize_url(const char *page, const char *app_id, const char *redirect_uri,
                        const char *state, char *out, size_t cap) {
    const rf_ks_param_t kv[] = {{"response_type", "code"},
                                {"app_id", app_id},
                                {"redirect_uri", redirect_uri},
                                {"state", state}};
    /* The page is a route after '#': its query is the route's, so a '?'
     * after the '#' (or in a page without one) means one is already there. */
    const char *route = strchr(page, '#');
    bool has_query = strchr(route ? route : page, '?') != NULL;
    char *q = rf_ks_form_encode(kv, sizeof kv / sizeof kv[0]);
    int n = q ? snprintf(out, cap, "%s%c%s", page, has_query ? '&' : '?', q) : -1;
    free(q);
    if (n < 0 || (size_t)n >= cap) {
        if (cap) out[0] = '\0';
        return -1;
    }
    return n;
}

json_t *rf_dy_code_param(const char *code) {
    return json_pack("{s:s, s:s}", "code", code, "grant_type", "authorization_code");
}

json_t *rf_dy_refresh_param(const char *refresh_token) {
    return json_pack("{s:s, s:s}", "grant_type", "refresh_token", "refresh_token", refresh_token);
}

/* Copy a string member into out; false when absent, empty or too long. */
static bool copy_str(json_t *doc, const char *key, char *out, size_t cap) {
    const char *s = json_string_value(json_object_get(doc, key));
    if (!s || !*s || strlen(s) >= cap) return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* An id that may come as a number or as text. */
static bool copy_id(json_t *doc, const char *key, char *out, size_t cap) {
    json_t *v = json_object_get(doc, key);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        int n = snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        return n > 0 && (size_t)n < cap;
    }
    return copy_str(doc, key, out, cap);
}

/* A number of seconds (or digits); -1 when neither. */
static int64_t seconds(json_t *v) {
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19) return atoll(s);
    return -1;
}

static rf_dy_token_answer_t bad(json_t *doc, rf_dy_tokens_t *t, char *err, size_t errlen,
                                const char *why) {
    (void)snprintf(err, errlen, "%s", why);
    memset(t, 0, sizeof *t); /* nothing half-read is used */
    json_decref(doc);
    return RF_DY_TOKENS_BAD;
}

rf_dy_token_answer_t rf_dy_tokens_parse(const char *body, size_t len, int64_t now_s,
                                        rf_dy_tokens_t *t, int *code, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    *code = 0;
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (!json_is_object(doc)) return bad(doc, t, err, errlen, "the token answer is not JSON");
    int64_t c = seconds(json_object_get(doc, "code"));
    if (c < 0 || c > 1000000000)
        return bad(doc, t, err, errlen, "the token answer has no numeric code");
    *code = (int)c;
    if (c != 10000) {
        const char *sub = json_string_value(json_object_get(doc, "sub_code"));
        const char *msg = json_string_value(json_object_get(doc, "msg"));
        const char *sub_msg = json_string_value(json_object_get(doc, "sub_msg"));
        (void)snprintf(err, errlen, "refused: code %d %.80s: %.80s: %.120s", *code, sub ? sub : "",
                       msg ? msg : "", sub_msg ? sub_msg : "");
        json_decref(doc);
        return RF_DY_TOKENS_REFUSED;
    }
    json_t *data = json_object_get(doc, "data");
    int64_t life = seconds(json_object_get(data, "expires_in"));
    json_t *rlife_v = json_object_get(data, "refresh_token_expires_in");
    int64_t rlife = rlife_v ? seconds(rlife_v) : 0;
    if (life > 1000000000) life -= now_s; /* a moment, not a life */
    if (!json_is_object(data)) return bad(doc, t, err, errlen, "the token answer has no data");
    if (!copy_str(data, "access_token", t->access_token, sizeof t->access_token))
        return bad(doc, t, err, errlen, "the token answer has no usable access_token");
    if (!copy_str(data, "refresh_token", t->refresh_token, sizeof t->refresh_token))
        return bad(doc, t, err, errlen, "the token answer has no usable refresh_token");
    if (life <= 0) return bad(doc, t, err, errlen, "the token answer has no future expires_in");
    if (rlife < 0) return bad(doc, t, err, errlen, "refresh_token_expires_in is not seconds");
    if (!copy_id(data, "shop_id", t->shop_id, sizeof t->shop_id))
        return bad(doc, t, err, errlen, "the token answer has no shop_id");
    if (rlife > 1000000000) rlife -= now_s;
    t->expires_in_s = life;
    t->refresh_expires_in_s = rlife > 0 ? rlife : 0;
    (void)copy_str(data, "shop_name", t->shop_name, sizeof t->shop_name);
    (void)copy_id(data, "authority_id", t->authority_id, sizeof t->authority_id);
    (void)copy_str(data, "scope", t->scope, sizeof t->scope);
    json_decref(doc);
    return RF_DY_TOKENS_OK;
}

bool rf_dy_renewal_due(int64_t now_ms, int64_t obtained_ms, int64_t life_s) {
    if (life_s <= 0) return true;
    if (life_s > 10LL * 365 * 86400) life_s = 10LL * 365 * 86400; /* no overflow below */
    int64_t life_ms = life_s * 1000, left_ms = obtained_ms + life_ms - now_ms;
    int64_t window_ms = life_ms / 3 < 3600000 ? life_ms / 3 : 3600000;
    return left_ms < window_ms;
}
