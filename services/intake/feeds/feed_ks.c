/*
 * feed_ks.c: intake's Kuaishou calls, one shop at a time (feeds_internal.h):
 * each with its shop's token and backoff (feed_shops.c; the shop "" is the
 * fixed RF_KUAISHOU_ACCESS_TOKEN of a trial set-up, when one is set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/secrets.h"

#define CALL_TIMEOUT_MS 10000

intake_ks_t intake_ks;

void intake_ks_back_off(intake_feed_shop_t *s, rf_ks_outcome_t outcome, const char *what,
                        const char *error) {
    intake_feed_shop_back_off(s,
                              outcome == RF_KS_RATE_LIMITED    ? "rate_limited"
                              : outcome == RF_KS_TOKEN_INVALID ? "token_invalid"
                                                               : "failed",
                              what, error);
}

int intake_ks_call(intake_feed_shop_t *s, const char *method, json_t *param, rf_ks_done_fn cb,
                   void *arg) {
    if (!intake_ks.enabled || intake_feed_shop_paused(s)) return -1;
    rf_ks_config_t *cfg = malloc(sizeof *cfg);
    if (!cfg) return -1;
    *cfg = intake_ks.cfg;
    int have = intake_feed_shop_token(intake_ks.w, s, intake_ks.cfg.access_token, cfg->access_token,
                                      sizeof cfg->access_token);
    int rc = -1;
    if (have == 1)
        rc = rf_ks_call(intake_ks.http, cfg, method, param, rf_now_ms(), CALL_TIMEOUT_MS, cb, arg);
    else rf_debug("event=kuaishou_call_no_token shop_id=%s method=%s", s->shop_id, method);
    rf_secrets_wipe(cfg, sizeof *cfg);
    free(cfg);
    return rc;
}

bool intake_ks_enabled(void) { return intake_ks.enabled; }

int intake_ks_start(rf_worker_t *w, const intake_feed_settings_t *s, char *err, size_t errlen) {
    intake_ks.w = w;
    intake_ks.s = s;
    if (rf_ks_settings_load(&intake_ks.cfg) != 0) {
        snprintf(err, errlen, "bad Kuaishou API settings (each is named in the log above)");
        return -1;
    }
    if (!rf_ks_enabled()) return 0;
    intake_ks.http = rf_httpc_new(rf_worker_loop(w));
    if (!intake_ks.http) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return -1;
    }
    intake_ks.enabled = true;
    intake_ks_poll_start(w);
    rf_info("event=kuaishou_api_ready url=%s poll_interval_ms=%lld page_size=%lld lag_ms=%lld"
            " fixed_token=%s",
            intake_ks.cfg.api_url, (long long)s->poll_interval_ms, (long long)s->poll_page_size,
            (long long)s->poll_lag_ms, *intake_ks.cfg.access_token ? "yes" : "no");
    return 0;
}
