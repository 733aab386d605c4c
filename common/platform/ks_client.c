/*
 * ks_client.c: signed Kuaishou API calls (platform/ks_client.h).
 */
#include "platform/ks_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"
#include "runtime/secrets.h"

char rf_ks_api_url[RF_CFG_STR_MAX];
char rf_ks_app_key[RF_CFG_STR_MAX];
char rf_ks_sign_secret[RF_CFG_STR_MAX];
char rf_ks_access_token[RF_CFG_STR_MAX];
char rf_ks_sign_method[RF_CFG_STR_MAX] = "MD5";
char rf_ks_rate_limit_codes[RF_CFG_STR_MAX];
char rf_ks_token_invalid_codes[RF_CFG_STR_MAX] = "28";

bool rf_ks_enabled(void) { return rf_ks_api_url[0] != '\0'; }

int rf_ks_parse_codes(const char *text, int codes[4]) {
    memset(codes, 0, 4 * sizeof codes[0]);
    const char *s = text;
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v <= 0 || v > 1000000000 || n == 4) return -1;
        codes[n++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return 0;
}

static int bad_setting(const char *name, const char *why) {
    rf_error("event=bad_setting name=%s error=\"%s\"", name, why);
    return 1;
}

int rf_ks_settings_load(rf_ks_config_t *cfg) {
    int bad = 0;
    memset(cfg, 0, sizeof *cfg);
    if (strcmp(rf_ks_sign_method, "MD5") == 0) cfg->sign_method = RF_KS_SIGN_MD5;
    else if (strcmp(rf_ks_sign_method, "HMAC_SHA256") == 0)
        cfg->sign_method = RF_KS_SIGN_HMAC_SHA256;
    else bad += bad_setting("RF_KUAISHOU_SIGN_METHOD", "must be MD5 or HMAC_SHA256");
    if (rf_ks_parse_codes(rf_ks_rate_limit_codes, cfg->rate_limit_codes) != 0)
        bad += bad_setting("RF_KUAISHOU_RATE_LIMIT_CODES",
                           "must be up to 4 comma-separated positive result codes");
    if (rf_ks_parse_codes(rf_ks_token_invalid_codes, cfg->token_invalid_codes) != 0)
        bad += bad_setting("RF_KUAISHOU_TOKEN_INVALID_CODES",
                           "must be up to 4 comma-separated positive result codes");
    if (!rf_ks_enabled()) return bad;
    size_t n = strlen(rf_ks_api_url);
    while (n > 0 && rf_ks_api_url[n - 1] == '/') rf_ks_api_url[--n] = '\0';
    if (strncmp(rf_ks_api_url, "http://", 7) != 0 && strncmp(rf_ks_api_url, "https://", 8) != 0)
        bad += bad_setting("RF_KUAISHOU_API_URL", "must start with http:// or https://");
    if (n >= sizeof cfg->api_url) bad += bad_setting("RF_KUAISHOU_API_URL", "too long");
    struct {
        const char *name, *value;
        char *dst;
        size_t cap;
    } req[] = {
        {"RF_KUAISHOU_APP_KEY", rf_ks_app_key, cfg->app_key, sizeof cfg->app_key},
        {"RF_KUAISHOU_SIGN_SECRET", rf_ks_sign_secret, cfg->sign_secret, sizeof cfg->sign_secret},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        if (!*req[i].value)
            bad += bad_setting(req[i].name, "required when RF_KUAISHOU_API_URL is set");
        else if (strlen(req[i].value) >= req[i].cap) bad += bad_setting(req[i].name, "too long");
        else snprintf(req[i].dst, req[i].cap, "%s", req[i].value);
    }
    /* A fixed token is optional: shops authorised by OAuth bring their own. */
    if (strlen(rf_ks_access_token) >= sizeof cfg->access_token)
        bad += bad_setting("RF_KUAISHOU_ACCESS_TOKEN", "too long");
    else snprintf(cfg->access_token, sizeof cfg->access_token, "%s", rf_ks_access_token);
    if (!bad) snprintf(cfg->api_url, sizeof cfg->api_url, "%s", rf_ks_api_url);
    return bad;
}

char *rf_ks_form(const rf_ks_config_t *cfg, const char *method, const char *param_json,
                 int64_t now_ms) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    const char *sign_method = cfg->sign_method == RF_KS_SIGN_MD5 ? "MD5" : "HMAC_SHA256";
    rf_ks_param_t p[8] = {
        {"appkey", cfg->app_key},
        {"method", method},
        {"version", "1"},
        {"param", param_json},
        {"access_token", cfg->access_token},
        {"timestamp", ts},
        {"signMethod", sign_method},
    };
    char sign[65];
    if (rf_ks_sign(p, 7, cfg->sign_secret, cfg->sign_method, sign, sizeof sign) != 0) return NULL;
    p[7] = (rf_ks_param_t){"sign", sign};
    return rf_ks_form_encode(p, 8);
}

typedef struct call {
    rf_ks_done_fn cb;
    void *arg;
    int rate_limit_codes[4], token_invalid_codes[4];
} call_t;

static void on_answer(void *arg, long status, const char *body, size_t len, const char *error) {
    call_t *call = arg;
    char why[300];
    json_t *doc = NULL;
    if (status == 0 || status >= 300) {
        if (status) snprintf(why, sizeof why, "HTTP status %ld", status);
        else snprintf(why, sizeof why, "no answer: %s", error ? error : "?");
        call->cb(call->arg, RF_KS_TRANSPORT, 0, NULL, body, why);
        goto done;
    }
    json_error_t jerr;
    doc = json_loadb(body, len, 0, &jerr);
    json_t *result = json_object_get(doc, "result");
    if (!json_is_integer(result)) {
        snprintf(why, sizeof why, "the answer is not the platform's JSON (no integer result)");
        call->cb(call->arg, RF_KS_TRANSPORT, 0, NULL, body, why);
        goto done;
    }
    int code = (int)json_integer_value(result);
    if (code == 1) {
        call->cb(call->arg, RF_KS_OK, 1, json_object_get(doc, "data"), body, NULL);
        goto done;
    }
    const char *msg = json_string_value(json_object_get(doc, "error_msg"));
    snprintf(why, sizeof why, "result %d: %s", code, msg ? msg : "(no error_msg)");
    rf_ks_outcome_t outcome = RF_KS_REFUSED;
    for (int i = 0; i < 4 && call->rate_limit_codes[i]; i++)
        if (call->rate_limit_codes[i] == code) outcome = RF_KS_RATE_LIMITED;
    for (int i = 0; i < 4 && call->token_invalid_codes[i]; i++)
        if (call->token_invalid_codes[i] == code) outcome = RF_KS_TOKEN_INVALID;
    call->cb(call->arg, outcome, code, NULL, body, why);
done:
    json_decref(doc);
    free(call);
}

int rf_ks_call(rf_httpc_t *c, const rf_ks_config_t *cfg, const char *method, json_t *param,
               int64_t now_ms, long timeout_ms, rf_ks_done_fn cb, void *arg) {
    return rf_ks_call_keyed(c, cfg, method, param, NULL, now_ms, timeout_ms, cb, arg);
}

int rf_ks_call_keyed(rf_httpc_t *c, const rf_ks_config_t *cfg, const char *method, json_t *param,
                     const char *idempotency_key, int64_t now_ms, long timeout_ms, rf_ks_done_fn cb,
                     void *arg) {
    char *param_json = json_dumps(param, JSON_COMPACT | JSON_SORT_KEYS);
    char path[256], url[600];
    if (!param_json || rf_ks_method_path(method, path, sizeof path) != 0) {
        free(param_json);
        return -1;
    }
    snprintf(url, sizeof url, "%s%s", cfg->api_url, path);
    char *form = rf_ks_form(cfg, method, param_json, now_ms);
    free(param_json);
    call_t *call = calloc(1, sizeof *call);
    int rc = -1;
    if (form && call) {
        call->cb = cb;
        call->arg = arg;
        memcpy(call->rate_limit_codes, cfg->rate_limit_codes, sizeof call->rate_limit_codes);
        memcpy(call->token_invalid_codes, cfg->token_invalid_codes,
               sizeof call->token_invalid_codes);
        char key_header[300];
        const char *headers[2] = {NULL, NULL};
        if (idempotency_key && *idempotency_key) {
            snprintf(key_header, sizeof key_header, "Idempotency-Key: %s", idempotency_key);
            headers[0] = key_header;
        }
        if (strcmp(rf_ks_method_verb(method), "POST") == 0) {
            rc = rf_httpc_post_headers(c, url, "application/x-www-form-urlencoded;charset=UTF-8",
                                       headers, form, strlen(form), timeout_ms, on_answer, call);
        } else {
            /* GET: the same signed parameters, in the query */
            size_t len = strlen(url) + strlen(form) + 2;
            char *full = malloc(len);
            if (full) {
                snprintf(full, len, "%s?%s", url, form);
                rc = rf_httpc_get_headers(c, full, headers, timeout_ms, on_answer, call);
                rf_secrets_wipe(full, len); /* it holds the shop's token */
            }
            free(full);
        }
    }
    if (rc != 0) free(call);
    if (form) rf_secrets_wipe(form, strlen(form));
    free(form);
    return rc;
}
