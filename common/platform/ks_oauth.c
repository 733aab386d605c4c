/*
 * ks_oauth.c: Kuaishou's OAuth requests and answers (platform/ks_oauth.h).
 */
#include "platform/ks_oauth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/kuaishou.h"

/* n parameters as a query string into out. Returns its length, or -1. */
static int query(char *out, size_t cap, const rf_ks_param_t *params, size_t n) {
    char *q = rf_ks_form_encode(params, n);
    size_t len = q ? strlen(q) : 0;
    int rc = -1;
    if (q && len < cap) {
        memcpy(out, q, len + 1);
        rc = (int)len;
    }
    free(q);
    if (rc < 0 && cap) out[0] = '\0';
    return rc;
}

int rf_ks_authorize_url(const char *page, const char *app_id, const char *redirect_uri,
                        const char *scope, const char *state, char *out, size_t cap) {
    const rf_ks_param_t kv[] = {{"app_id", app_id},
                                {"redirect_uri", redirect_uri},
                                {"scope", scope},
                                {"response_type", "code"},
                                {"state", state}};
    int n = snprintf(out, cap, "%s?", page);
    if (n < 0 || (size_t)n >= cap) return -1;
    int q = query(out + n, cap - (size_t)n, kv, sizeof kv / sizeof kv[0]);
    return q < 0 ? -1 : n + q;
}

int rf_ks_code_query(const char *app_id, const char *app_secret, const char *code, char *out,
                     size_t cap) {
    const rf_ks_param_t kv[] = {
        {"app_id", app_id}, {"app_secret", app_secret}, {"code", code}, {"grant_type", "code"}};
    return query(out, cap, kv, sizeof kv / sizeof kv[0]);
}

int rf_ks_refresh_query(const char *app_id, const char *app_secret, const char *refresh_token,
                        char *out, size_t cap) {
    const rf_ks_param_t kv[] = {{"app_id", app_id},
                                {"app_secret", app_secret},
                                {"grant_type", "refresh_token"},
                                {"refresh_token", refresh_token}};
    return query(out, cap, kv, sizeof kv / sizeof kv[0]);
}

/* Copy a string member into out; false when absent, empty or too long. */
static bool copy_str(json_t *doc, const char *key, char *out, size_t cap) {
    const char *s = json_string_value(json_object_get(doc, key));
    if (!s || !*s || strlen(s) >= cap) return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* The scopes, an array of names (or a comma-separated text), as "a,b". */
static void copy_scopes(json_t *v, char *out, size_t cap) {
    out[0] = '\0';
    if (json_is_string(v)) {
        (void)snprintf(out, cap, "%s", json_string_value(v));
        return;
    }
    size_t i, used = 0;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", json_string_value(s));
        if (n < 0 || (size_t)n >= cap - used) break; /* the rest does not fit: kept out */
        used += (size_t)n;
    }
}

rf_ks_token_answer_t rf_ks_tokens_parse(const char *body, size_t len, rf_ks_tokens_t *t,
                                        int *result, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    *result = 0;
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (!json_is_object(doc)) {
        (void)snprintf(err, errlen, "the token answer is not a JSON object");
        json_decref(doc);
        return RF_KS_TOKENS_BAD;
    }
    json_t *r = json_object_get(doc, "result");
    if (!json_is_integer(r)) {
        (void)snprintf(err, errlen, "the token answer has no result");
        json_decref(doc);
        return RF_KS_TOKENS_BAD;
    }
    *result = (int)json_integer_value(r);
    if (*result != 1) {
        const char *e = json_string_value(json_object_get(doc, "error"));
        const char *m = json_string_value(json_object_get(doc, "error_msg"));
        (void)snprintf(err, errlen, "refused: result %d, %.60s: %.160s", *result, e ? e : "error",
                       m ? m : "");
        json_decref(doc);
        return RF_KS_TOKENS_REFUSED;
    }
    json_t *life = json_object_get(doc, "expires_in"),
           *rlife = json_object_get(doc, "refresh_token_expires_in");
    rf_ks_token_answer_t rc = RF_KS_TOKENS_BAD;
    if (!copy_str(doc, "access_token", t->access_token, sizeof t->access_token))
        (void)snprintf(err, errlen, "the token answer has no usable access_token");
    else if (!copy_str(doc, "refresh_token", t->refresh_token, sizeof t->refresh_token))
        (void)snprintf(err, errlen, "the token answer has no usable refresh_token");
    else if (!json_is_integer(life) || json_integer_value(life) <= 0)
        (void)snprintf(err, errlen, "the token answer has no positive expires_in");
    else if (rlife && (!json_is_integer(rlife) || json_integer_value(rlife) < 0))
        (void)snprintf(err, errlen, "the token answer's refresh_token_expires_in is not seconds");
    else rc = RF_KS_TOKENS_OK;
    if (rc == RF_KS_TOKENS_OK) {
        t->expires_in_s = json_integer_value(life);
        t->refresh_expires_in_s = rlife ? json_integer_value(rlife) : 0;
        (void)copy_str(doc, "open_id", t->open_id, sizeof t->open_id); /* refresh: may be absent */
        copy_scopes(json_object_get(doc, "scopes"), t->scopes, sizeof t->scopes);
    } else {
        memset(t, 0, sizeof *t); /* nothing half-read is used */
    }
    json_decref(doc);
    return rc;
}

bool rf_ks_renewal_due(int64_t now_ms, int64_t obtained_ms, int64_t life_s) {
    if (life_s <= 0) return true;
    if (life_s > 10LL * 365 * 86400) life_s = 10LL * 365 * 86400; /* no overflow below */
    int64_t life_ms = life_s * 1000, left_ms = obtained_ms + life_ms - now_ms;
    return left_ms * 3 < life_ms;
}
