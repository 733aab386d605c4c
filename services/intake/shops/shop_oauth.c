/*
 * shop_oauth.c: the token requests to the platforms (shops_internal.h),
 * asynchronous on the worker's loop (http/httpc.h):
 *
 *   Kuaishou  code:    GET  {api}/oauth2/access_token?app_id&app_secret&code&grant_type=code
 *             renew:   POST {api}/oauth2/refresh_token?app_id&app_secret
 *                           &grant_type=refresh_token&refresh_token
 *             (platform/ks_oauth.h; the verbs and the parameters in the query
 *             as kuaishou-merchant-open-api's main.js sends them)
 *   Douyin    code:    token.create  {code, grant_type=authorization_code}
 *             renew:   token.refresh {refresh_token, grant_type=refresh_token}
 *             (signed API calls without an access token, platform/dy_client.h
 *             and dy_oauth.h, as the doudian SDKs make them)
 *
 * When to renew is each platform's rule: Kuaishou with a third of the access
 * token's life left; Douyin likewise, but never earlier than its last hour
 * (before that, token.refresh answers the same pair again).
 *
 * The request's query holds the app secret and a token: it is never logged,
 * and the answer is read by the platform modules, whose errors name no token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shops/shops_internal.h"
#include "platform/dy_client.h"
#include "platform/dy_oauth.h"
#include "platform/ks_client.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define TOKEN_CALL_TIMEOUT_MS 10000

typedef struct token_call {
    shop_tokens_fn cb;
    void *arg;
} token_call_t;

static rf_dy_config_t dy_cfg;

int shop_oauth_setup(void) { return rf_dy_settings_load(&dy_cfg) == 0 ? 0 : -1; }

bool shop_oauth_configured(const char *platform) {
    if (strcmp(platform, "kuaishou") == 0)
        return rf_ks_enabled() && *rf_ks_app_key && *intake_shop_settings.ks_app_secret;
    if (strcmp(platform, "douyin") == 0) return rf_dy_enabled() && *dy_cfg.app_key;
    return false;
}

static void from_ks(const rf_ks_tokens_t *k, shop_tokens_t *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->access_token, sizeof t->access_token, "%s", k->access_token);
    snprintf(t->refresh_token, sizeof t->refresh_token, "%s", k->refresh_token);
    t->expires_in_s = k->expires_in_s;
    t->refresh_expires_in_s = k->refresh_expires_in_s;
    t->renew_after_s = k->expires_in_s * 2 / 3;
    snprintf(t->shop_id, sizeof t->shop_id, "%s", k->open_id);
    snprintf(t->scopes, sizeof t->scopes, "%s", k->scopes);
}

/* Give the platform's answer to the caller once, then wipe what held tokens. */
static void deliver(token_call_t *call, shop_answer_t answer, shop_tokens_t *t, const char *why) {
    call->cb(call->arg, answer, answer == SHOP_ANSWER_OK ? t : NULL,
             answer == SHOP_ANSWER_OK ? NULL : why);
    if (t) rf_secrets_wipe(t, sizeof *t);
    free(call);
}

static void on_ks_answer(void *arg, long status, const char *body, size_t len, const char *error) {
    token_call_t *call = arg;
    char why[300];
    if (status == 0 || status >= 500) {
        snprintf(why, sizeof why, "%s", status ? "the platform answered an HTTP error" : error);
        deliver(call, SHOP_ANSWER_FAILED, NULL, why);
        return;
    }
    rf_ks_tokens_t k;
    shop_tokens_t t;
    int result = 0;
    rf_ks_token_answer_t a = rf_ks_tokens_parse(body, len, &k, &result, why, sizeof why);
    if (a == RF_KS_TOKENS_OK) from_ks(&k, &t);
    rf_secrets_wipe(&k, sizeof k);
    deliver(call,
            a == RF_KS_TOKENS_OK        ? SHOP_ANSWER_OK
            : a == RF_KS_TOKENS_REFUSED ? SHOP_ANSWER_REFUSED
                                        : SHOP_ANSWER_FAILED,
            a == RF_KS_TOKENS_OK ? &t : NULL, why);
}

static int ks_request(rf_httpc_t *http, bool renew, const char *value, shop_tokens_fn cb,
                      void *arg) {
    if (!shop_oauth_configured("kuaishou")) return -1;
    char query[3 * SHOP_TOKEN_MAX + 1024], url[sizeof query + 300];
    int n = renew ? rf_ks_refresh_query(rf_ks_app_key, intake_shop_settings.ks_app_secret, value,
                                        query, sizeof query)
                  : rf_ks_code_query(rf_ks_app_key, intake_shop_settings.ks_app_secret, value,
                                     query, sizeof query);
    token_call_t *call = n >= 0 ? calloc(1, sizeof *call) : NULL;
    int rc = -1;
    if (call) {
        call->cb = cb;
        call->arg = arg;
        snprintf(url, sizeof url, "%s/oauth2/%s?%s", rf_ks_api_url,
                 renew ? "refresh_token" : "access_token", query);
        rc = renew
                 ? rf_httpc_post_headers(http, url, "application/x-www-form-urlencoded", NULL, "",
                                         0, TOKEN_CALL_TIMEOUT_MS, on_ks_answer, call)
                 : rf_httpc_get_headers(http, url, NULL, TOKEN_CALL_TIMEOUT_MS, on_ks_answer, call);
        if (rc != 0) free(call);
    }
    rf_secrets_wipe(query, sizeof query);
    rf_secrets_wipe(url, sizeof url);
    return rc;
}

/* ---- Douyin ------------------------------------------------------------------------- */

static void from_dy(const rf_dy_tokens_t *d, shop_tokens_t *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->access_token, sizeof t->access_token, "%s", d->access_token);
    snprintf(t->refresh_token, sizeof t->refresh_token, "%s", d->refresh_token);
    t->expires_in_s = d->expires_in_s;
    t->refresh_expires_in_s = d->refresh_expires_in_s;
    int64_t lead = d->expires_in_s / 3 < 3600 ? d->expires_in_s / 3 : 3600;
    t->renew_after_s = d->expires_in_s - lead;
    snprintf(t->shop_id, sizeof t->shop_id, "%s", d->shop_id);
    snprintf(t->shop_name, sizeof t->shop_name, "%s", d->shop_name);
    snprintf(t->scopes, sizeof t->scopes, "%s", d->scope);
}

static void on_dy_answer(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                         json_t *data, const char *raw, const char *error) {
    (void)code;
    (void)sub_code;
    (void)data;
    token_call_t *call = arg;
    char why[300];
    if (outcome == RF_DY_TRANSPORT || outcome == RF_DY_RATE_LIMITED || !raw) {
        snprintf(why, sizeof why, "%s", error ? error : "no answer");
        deliver(call, SHOP_ANSWER_FAILED, NULL, why);
        return;
    }
    rf_dy_tokens_t d;
    shop_tokens_t t;
    int answer_code = 0;
    rf_dy_token_answer_t a =
        rf_dy_tokens_parse(raw, strlen(raw), rf_now_ms() / 1000, &d, &answer_code, why, sizeof why);
    if (a == RF_DY_TOKENS_OK) from_dy(&d, &t);
    rf_secrets_wipe(&d, sizeof d);
    deliver(call,
            a == RF_DY_TOKENS_OK        ? SHOP_ANSWER_OK
            : a == RF_DY_TOKENS_REFUSED ? SHOP_ANSWER_REFUSED
                                        : SHOP_ANSWER_FAILED,
            a == RF_DY_TOKENS_OK ? &t : NULL, why);
}

static int dy_request(rf_httpc_t *http, bool renew, const char *value, shop_tokens_fn cb,
                      void *arg) {
    if (!shop_oauth_configured("douyin")) return -1;
    json_t *param = renew ? rf_dy_refresh_param(value) : rf_dy_code_param(value);
    token_call_t *call = param ? calloc(1, sizeof *call) : NULL;
    int rc = -1;
    if (call) {
        call->cb = cb;
        call->arg = arg;
        rc = rf_dy_call(http, &dy_cfg, renew ? "token.refresh" : "token.create", param, NULL, NULL,
                        rf_now_ms(), TOKEN_CALL_TIMEOUT_MS, on_dy_answer, call);
        if (rc != 0) free(call);
    }
    json_decref(param);
    return rc;
}

int shop_oauth_exchange(rf_httpc_t *http, const char *platform, const char *code, shop_tokens_fn cb,
                        void *arg) {
    if (strcmp(platform, "kuaishou") == 0) return ks_request(http, false, code, cb, arg);
    if (strcmp(platform, "douyin") == 0) return dy_request(http, false, code, cb, arg);
    return -1;
}

int shop_oauth_refresh(rf_httpc_t *http, const char *platform, const char *refresh_token,
                       shop_tokens_fn cb, void *arg) {
    if (strcmp(platform, "kuaishou") == 0) return ks_request(http, true, refresh_token, cb, arg);
    if (strcmp(platform, "douyin") == 0) return dy_request(http, true, refresh_token, cb, arg);
    return -1;
}

int shop_oauth_authorize_url(const char *platform, const char *state, char *out, size_t cap,
                             const char **why) {
    const intake_shop_settings_t *s = &intake_shop_settings;
    if (!*s->public_url) {
        *why = "RF_INTAKE_PUBLIC_URL is not set: the platform has nowhere to send the owner back";
        return -1;
    }
    if (!shop_oauth_configured(platform)) {
        *why = "this platform's OAuth is not configured (its API URL, app key and app secret)";
        return -1;
    }
    char redirect[RF_CFG_STR_MAX + 64];
    snprintf(redirect, sizeof redirect, "%s/v1/oauth/%s/callback", s->public_url, platform);
    if (strcmp(platform, "kuaishou") == 0)
        return rf_ks_authorize_url(s->ks_authorize_url, rf_ks_app_key, redirect, s->ks_scope, state,
                                   out, cap);
    if (strcmp(platform, "douyin") == 0)
        return rf_dy_authorize_url(s->dy_authorize_url, dy_cfg.app_key, redirect, state, out, cap);
    *why = "unknown platform";
    return -1;
}
