/*
 * dy_client.c: signed Douyin API calls (platform/dy_client.h): the method
 * table, the signed address, the answer's classification, the call, and the
 * settings.
 */
#include "platform/dy_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/kuaishou.h" /* rf_ks_form_encode: the one query encoder */
#include "runtime/log.h"

char rf_dy_api_url[RF_CFG_STR_MAX];
char rf_dy_app_key[RF_CFG_STR_MAX];
char rf_dy_app_secret[RF_CFG_STR_MAX];
char rf_dy_sign_method[RF_CFG_STR_MAX] = "hmac-sha256";
char rf_dy_rate_limit_codes[RF_CFG_STR_MAX] = "60000";
char rf_dy_token_invalid_codes[RF_CFG_STR_MAX] =
    "isv.access-token-expired,isv.access-token-no-existed";

/* ---- the methods -------------------------------------------------------------------- */

/* Every method returnflow calls, as doudian-sdk-golang declares it
 * (api/<method>/request/<method>_request.go: the URL path, and the pointer fields
 * of its Param struct, which the generator uses for the required ones). */
static const rf_dy_method_t methods[] = {
    {"token.create", "POST", false, {"code", "grant_type", NULL}},
    {"token.refresh", "POST", false, {"refresh_token", "grant_type", NULL}},
    {"afterSale.List", "POST", true, {"page", "size", NULL}},
    {"afterSale.Detail", "POST", true, {"after_sale_id", NULL}},
    {"afterSale.operate", "POST", true, {"type", "items", NULL}},
    {"afterSale.rejectReasonCodeList", "POST", true, {NULL}},
    {"order.orderDetail", "POST", true, {"shop_order_id", NULL}},
};

const rf_dy_method_t *rf_dy_method(const char *name) {
    for (size_t i = 0; name && i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].name, name) == 0) return &methods[i];
    return NULL;
}

int rf_dy_method_path(const char *method, char *out, size_t cap) {
    size_t n = strlen(method);
    if (n == 0 || n + 2 > cap) return -1;
    out[0] = '/';
    for (size_t i = 0; i <= n; i++) out[i + 1] = method[i] == '.' ? '/' : method[i];
    return 0;
}

int rf_dy_check_param(const char *method, json_t *param, char *err, size_t errlen) {
    const rf_dy_method_t *m = rf_dy_method(method);
    if (!m) {
        (void)snprintf(err, errlen, "%.80s is not a method the client knows", method);
        return -1;
    }
    if (param && !json_is_object(param)) {
        (void)snprintf(err, errlen, "%s: the parameters are not a JSON object", m->name);
        return -1;
    }
    for (const char *const *k = m->required; *k; k++) {
        json_t *v = json_object_get(param, *k);
        if (!v || json_is_null(v)) {
            (void)snprintf(err, errlen, "%s needs the parameter %s", m->name, *k);
            return -1;
        }
    }
    return 0;
}

/* ---- the request --------------------------------------------------------------------- */

char *rf_dy_param_json(json_t *param) {
    if (!param) return strdup("{}");
    /* compact separators, keys sorted at every level, UTF-8 and '/' as they
     * are: the SDKs' Marshal (Go: a map re-encoded without HTML escaping;
     * PHP: recursive ksort, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) */
    return json_dumps(param, JSON_COMPACT | JSON_SORT_KEYS);
}

char *rf_dy_request_url(const rf_dy_config_t *cfg, const char *method, const char *param_json,
                        const char *access_token, int64_t now_s) {
    char path[128], ts[24], sign[65];
    if (rf_dy_method_path(method, path, sizeof path) != 0) return NULL;
    (void)snprintf(ts, sizeof ts, "%lld", (long long)now_s);
    rf_dy_api_sign(cfg->app_key, cfg->app_secret, method, param_json, ts, "2", cfg->sign_method,
                   sign);
    if (!sign[0]) return NULL;
    rf_ks_param_t p[7] = {
        {"app_key", cfg->app_key},
        {"method", method},
        {"v", "2"},
        {"timestamp", ts},
        {"sign_method", cfg->sign_method == RF_DY_SIGN_MD5 ? "md5" : "hmac-sha256"},
        {"sign", sign},
        {"access_token", access_token ? access_token : ""},
    };
    size_t n = access_token && *access_token ? 7 : 6;
    char *query = rf_ks_form_encode(p, n);
    if (!query) return NULL;
    size_t len = strlen(cfg->api_url) + strlen(path) + strlen(query) + 2;
    char *url = malloc(len);
    if (url) (void)snprintf(url, len, "%s%s?%s", cfg->api_url, path, query);
    free(query);
    return url;
}

/* ---- the answer ---------------------------------------------------------------------- */

static bool listed(const char list[RF_DY_CODES_MAX][RF_DY_CODE_LEN], int code,
                   const char *sub_code) {
    char num[16];
    (void)snprintf(num, sizeof num, "%d", code);
    for (int i = 0; i < RF_DY_CODES_MAX && list[i][0]; i++)
        if (strcmp(list[i], num) == 0 || (*sub_code && strcmp(list[i], sub_code) == 0)) return true;
    return false;
}

/* Cut every occurrence of secret out of text (a platform message that
 * quotes the token it was given). */
static void redact(char *text, const char *secret) {
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4) return;
    for (char *at = strstr(text, secret); at; at = strstr(at, secret)) {
        static const char mark[] = "[token]";
        memmove(at + sizeof mark - 1, at + n, strlen(at + n) + 1);
        memcpy(at, mark, sizeof mark - 1);
        at += sizeof mark - 1;
    }
}

/* An integer member, or one written as digits; def when neither. */
static int int_member(json_t *doc, const char *key, int def) {
    json_t *v = json_object_get(doc, key);
    if (json_is_integer(v)) return (int)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10) return atoi(s);
    return def;
}

rf_dy_outcome_t rf_dy_answer_read(const rf_dy_config_t *cfg, long status, const char *body,
                                  size_t len, const char *transport_error, const char *secret,
                                  rf_dy_answer_t *out) {
    memset(out, 0, sizeof *out);
    if (status != 200) {
        if (status) (void)snprintf(out->error, sizeof out->error, "HTTP status %ld", status);
        else
            (void)snprintf(out->error, sizeof out->error, "no answer: %.200s",
                           transport_error ? transport_error : "?");
        return RF_DY_TRANSPORT;
    }
    json_error_t jerr;
    out->doc = body ? json_loadb(body, len, 0, &jerr) : NULL;
    out->code = int_member(out->doc, "code", -1);
    if (!json_is_object(out->doc) || out->code < 0) {
        out->code = 0;
        (void)snprintf(out->error, sizeof out->error,
                       "the answer is not the platform's JSON (no numeric code)");
        return RF_DY_TRANSPORT;
    }
    const char *sub = json_string_value(json_object_get(out->doc, "sub_code"));
    const char *log_id = json_string_value(json_object_get(out->doc, "log_id"));
    (void)snprintf(out->sub_code, sizeof out->sub_code, "%s", sub ? sub : "");
    (void)snprintf(out->log_id, sizeof out->log_id, "%s", log_id ? log_id : "");
    if (out->code == RF_DY_OK_CODE) {
        out->data = json_object_get(out->doc, "data");
        return RF_DY_OK;
    }
    const char *msg = json_string_value(json_object_get(out->doc, "msg"));
    const char *sub_msg = json_string_value(json_object_get(out->doc, "sub_msg"));
    (void)snprintf(out->error, sizeof out->error, "code %d %.60s: %.80s: %.120s", out->code,
                   out->sub_code, msg ? msg : "", sub_msg ? sub_msg : "");
    redact(out->error, secret);
    if (listed(cfg->token_invalid_codes, out->code, out->sub_code)) return RF_DY_TOKEN_INVALID;
    if (listed(cfg->rate_limit_codes, out->code, out->sub_code)) return RF_DY_RATE_LIMITED;
    return RF_DY_REFUSED;
}

void rf_dy_answer_clear(rf_dy_answer_t *a) {
    json_decref(a->doc);
    a->doc = a->data = NULL;
}

/* ---- the call ------------------------------------------------------------------------ */

typedef struct call {
    rf_dy_done_fn cb;
    void *arg;
    rf_dy_config_t cfg;         /* the lists, for the answer */
    char token[RF_CFG_STR_MAX]; /* to keep it out of the error text; wiped after */
} call_t;

static void on_answer(void *arg, long status, const char *body, size_t len, const char *error) {
    call_t *call = arg;
    rf_dy_answer_t a;
    rf_dy_outcome_t o = rf_dy_answer_read(&call->cfg, status, body, len, error, call->token, &a);
    call->cb(call->arg, o, a.code, a.sub_code, a.data, status ? body : NULL,
             o == RF_DY_OK ? NULL : a.error);
    rf_dy_answer_clear(&a);
    memset(call->token, 0, sizeof call->token);
    free(call);
}

int rf_dy_call(rf_httpc_t *c, const rf_dy_config_t *cfg, const char *method, json_t *param,
               const char *access_token, const char *idempotency_key, int64_t now_ms,
               long timeout_ms, rf_dy_done_fn cb, void *arg) {
    char why[200];
    const rf_dy_method_t *m = rf_dy_method(method);
    bool has_token = access_token && *access_token;
    if (!m || rf_dy_check_param(method, param, why, sizeof why) != 0 ||
        (m->needs_token && !has_token) || (has_token && strlen(access_token) >= RF_CFG_STR_MAX))
        return -1;
    char *body = rf_dy_param_json(param);
    char *url =
        body ? rf_dy_request_url(cfg, method, body, has_token ? access_token : NULL, now_ms / 1000)
             : NULL;
    call_t *call = url ? calloc(1, sizeof *call) : NULL;
    int rc = -1;
    if (call) {
        call->cb = cb;
        call->arg = arg;
        call->cfg = *cfg;
        memset(call->cfg.app_secret, 0, sizeof call->cfg.app_secret); /* not needed after */
        if (has_token) memcpy(call->token, access_token, strlen(access_token) + 1);
        char key_header[300];
        /* x-open-no-old-err-code: the SDKs ask for the code/sub_code answers */
        const char *headers[3] = {"x-open-no-old-err-code: 1", NULL, NULL};
        if (idempotency_key && *idempotency_key) {
            (void)snprintf(key_header, sizeof key_header, "Idempotency-Key: %.250s",
                           idempotency_key);
            headers[1] = key_header;
        }
        rc = rf_httpc_post_headers(c, url, "application/json;charset=UTF-8", headers, body,
                                   strlen(body), timeout_ms, on_answer, call);
    }
    if (rc != 0 && call) {
        memset(call->token, 0, sizeof call->token);
        free(call);
    }
    if (url) memset(url, 0, strlen(url)); /* it holds the token */
    free(url);
    free(body);
    return rc;
}

/* ---- settings ------------------------------------------------------------------------ */

bool rf_dy_enabled(void) { return rf_dy_api_url[0] != '\0'; }

int rf_dy_parse_codes(const char *text, char codes[RF_DY_CODES_MAX][RF_DY_CODE_LEN]) {
    memset(codes, 0, RF_DY_CODES_MAX * RF_DY_CODE_LEN);
    int n = 0;
    for (const char *s = text; *s;) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= RF_DY_CODE_LEN || n == RF_DY_CODES_MAX) return -1;
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)s[i]) && !strchr(".-_:", s[i])) return -1;
        memcpy(codes[n++], s, len);
        s += len;
        if (*s == ',' && !*++s) return -1; /* a trailing comma */
    }
    return 0;
}

static int bad_setting(const char *name, const char *why) {
    rf_error("event=bad_setting name=%s error=\"%s\"", name, why);
    return 1;
}

int rf_dy_settings_load(rf_dy_config_t *cfg) {
    int bad = 0;
    memset(cfg, 0, sizeof *cfg);
    if (strcmp(rf_dy_sign_method, "hmac-sha256") == 0) cfg->sign_method = RF_DY_SIGN_HMAC_SHA256;
    else if (strcmp(rf_dy_sign_method, "md5") == 0) cfg->sign_method = RF_DY_SIGN_MD5;
    else bad += bad_setting("RF_DOUYIN_SIGN_METHOD", "must be hmac-sha256 or md5");
    if (rf_dy_parse_codes(rf_dy_rate_limit_codes, cfg->rate_limit_codes) != 0)
        bad += bad_setting("RF_DOUYIN_RATE_LIMIT_CODES",
                           "must be up to 4 comma-separated codes or sub_codes");
    if (rf_dy_parse_codes(rf_dy_token_invalid_codes, cfg->token_invalid_codes) != 0)
        bad += bad_setting("RF_DOUYIN_TOKEN_INVALID_CODES",
                           "must be up to 4 comma-separated codes or sub_codes");
    if (!rf_dy_enabled()) return bad;
    size_t n = strlen(rf_dy_api_url);
    while (n > 0 && rf_dy_api_url[n - 1] == '/') rf_dy_api_url[--n] = '\0';
    if (strncmp(rf_dy_api_url, "http://", 7) != 0 && strncmp(rf_dy_api_url, "https://", 8) != 0)
        bad += bad_setting("RF_DOUYIN_API_URL", "must start with http:// or https://");
    if (n >= sizeof cfg->api_url) bad += bad_setting("RF_DOUYIN_API_URL", "too long");
    struct {
        const char *name, *value;
        char *dst;
        size_t cap;
    } req[] = {
        {"RF_DOUYIN_APP_KEY", rf_dy_app_key, cfg->app_key, sizeof cfg->app_key},
        {"RF_DOUYIN_APP_SECRET", rf_dy_app_secret, cfg->app_secret, sizeof cfg->app_secret},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        if (!*req[i].value)
            bad += bad_setting(req[i].name, "required when RF_DOUYIN_API_URL is set");
        else if (strlen(req[i].value) >= req[i].cap) bad += bad_setting(req[i].name, "too long");
        else (void)snprintf(req[i].dst, req[i].cap, "%s", req[i].value);
    }
    if (!bad) (void)snprintf(cfg->api_url, sizeof cfg->api_url, "%s", rf_dy_api_url);
    return bad;
}
