/*
 * feed_ks.c: intake's Kuaishou calls, one shop at a time (feeds_internal.h).
 *
 * Every call names its shop and goes out with that shop's access token
 * (shops/shops.h; the shop "" is the fixed RF_KUAISHOU_ACCESS_TOKEN of a
 * trial set-up, when one is set). Each shop has its own backoff: a rate
 * limit or a failure pauses that shop's calls only, never another's. An
 * answer saying the token is invalid asks for the shop's renewal at once; the
 * call's owner tries again (pushes, order asks and the poll all come back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/secrets.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define CALL_TIMEOUT_MS 10000

intake_ks_t intake_ks;

static intake_ks_shop_t *shops;
static size_t n_shops, cap_shops;

intake_ks_shop_t *intake_ks_shop(const char *shop_id) {
    for (size_t i = 0; i < n_shops; i++)
        if (strcmp(shops[i].shop_id, shop_id) == 0) return &shops[i];
    if (strlen(shop_id) >= sizeof shops[0].shop_id) return NULL;
    if (n_shops == cap_shops) {
        size_t cap = cap_shops ? 2 * cap_shops : 16;
        intake_ks_shop_t *grown = realloc(shops, cap * sizeof *grown);
        if (!grown) return NULL;
        shops = grown;
        cap_shops = cap;
    }
    intake_ks_shop_t *s = &shops[n_shops++];
    memset(s, 0, sizeof *s);
    snprintf(s->shop_id, sizeof s->shop_id, "%s", shop_id);
    s->backoff_ms = BACKOFF_MIN_MS;
    return s;
}

bool intake_ks_paused(const intake_ks_shop_t *s) { return rf_now_ms() < s->paused_until; }

void intake_ks_back_off(intake_ks_shop_t *s, rf_ks_outcome_t outcome, const char *what,
                        const char *error) {
    if (s->backoff_ms < BACKOFF_MIN_MS) s->backoff_ms = BACKOFF_MIN_MS;
    s->paused_until = rf_now_ms() + s->backoff_ms;
    if (outcome == RF_KS_RATE_LIMITED) atomic_fetch_add(&intake_feed_counters.rate_limited, 1);
    else atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
    rf_warn("event=kuaishou_call_failed shop_id=%s call=%s outcome=%s backoff_ms=%lld"
            " error=\"%s\"",
            s->shop_id, what,
            outcome == RF_KS_RATE_LIMITED    ? "rate_limited"
            : outcome == RF_KS_TOKEN_INVALID ? "token_invalid"
                                             : "failed",
            (long long)s->backoff_ms, error ? error : "");
    if (outcome == RF_KS_TOKEN_INVALID) {
        /* not the platform's trouble: renew, and try again in a second */
        s->paused_until = rf_now_ms() + BACKOFF_MIN_MS;
        if (*s->shop_id) intake_shop_token_rejected(intake_ks.w, "kuaishou", s->shop_id);
        return;
    }
    s->backoff_ms *= 2;
    if (s->backoff_ms > BACKOFF_MAX_MS) s->backoff_ms = BACKOFF_MAX_MS;
}

void intake_ks_succeeded(intake_ks_shop_t *s) { s->backoff_ms = BACKOFF_MIN_MS; }

int intake_ks_call(intake_ks_shop_t *s, const char *method, json_t *param, rf_ks_done_fn cb,
                   void *arg) {
    if (!intake_ks.enabled || intake_ks_paused(s)) return -1;
    rf_ks_config_t *cfg = malloc(sizeof *cfg);
    if (!cfg) return -1;
    *cfg = intake_ks.cfg;
    /* the shop's own token; the fixed one only for a shop not in the
     * registry (a trial set-up), never for a disabled or lapsed one */
    int have = *cfg->access_token ? 1 : 0;
    if (*s->shop_id) {
        char fixed = cfg->access_token[0];
        have = intake_shop_access_token(intake_ks.w, "kuaishou", s->shop_id, cfg->access_token,
                                        sizeof cfg->access_token);
        if (have == 0 && fixed) {
            snprintf(cfg->access_token, sizeof cfg->access_token, "%s", intake_ks.cfg.access_token);
            have = 1;
        }
    }
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
    intake_ks_fetch_start(w);
    intake_ks_poll_start(w);
    rf_info("event=kuaishou_api_ready url=%s poll_interval_ms=%lld page_size=%lld lag_ms=%lld"
            " fixed_token=%s",
            intake_ks.cfg.api_url, (long long)s->poll_interval_ms, (long long)s->poll_page_size,
            (long long)s->poll_lag_ms, *intake_ks.cfg.access_token ? "yes" : "no");
    return 0;
}
