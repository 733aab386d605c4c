/*
 * shop_renew.c: tokens that renew themselves (shops.h).
 *
 * Every RF_SHOPS_RENEW_CHECK_MS a pass claims the shops whose access token
 * has less than a third of its life left (shop_claim_due: one process per
 * shop at a time, replicas included, with a lease) and asks the platform for
 * a new pair with the refresh token. The platforms rotate refresh tokens, so
 * the new pair is stored (and announced to review and refund) in one
 * transaction before anything uses it, and only over the token the renewal
 * started from. The answer decides:
 *
 *   new pair      stored; the shop is active
 *   refused       the owner revoked the app, or the refresh token expired or
 *                 was used: reauthorize_needed, an ops alert; the other shops go on
 *   no answer     tried again shortly; after a few, or with the access token
 *                 about to lapse, refresh_failing (shown on the ops page)
 *
 * A crash between the platform's answer and the commit leaves the lease to
 * run out; the next attempt uses the stored refresh token, and if the
 * platform had already rotated it, the refusal says so (reauthorize_needed)
 * rather than leaving the shop stranded in silence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shops/shops_internal.h"
#include "platform/shop_tokens.h"
#include "runtime/log.h"

#define CLAIM_MAX 8
#define RETRY_MS 2000

intake_shop_settings_t intake_shop_settings;

static struct {
    rf_worker_t *w;
    rf_httpc_t *http;
    uv_timer_t timer;
    bool started;
} renew;

rf_httpc_t *shop_http(void) { return renew.http; }

typedef struct renewal {
    shop_claim_t claim;
} renewal_t;

static void on_renewed(void *arg, shop_answer_t answer, const shop_tokens_t *t, const char *error) {
    renewal_t *r = arg;
    shop_claim_t *c = &r->claim;
    rf_worker_t *w = renew.w;
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    if (answer == SHOP_ANSWER_FAILED) {
        rf_warn("event=shop_renew_failed platform=%s shop_id=%s error=\"%s\"", c->platform,
                c->shop_id, error ? error : "");
        shop_renew_failed(w, c, error ? error : "no answer", RETRY_MS);
    } else if (rf_bus_tx_begin(bus) == 0) {
        int rc;
        if (answer == SHOP_ANSWER_OK) {
            shop_tokens_t copy = *t;
            /* the answer names the shop; it must be the one renewed */
            snprintf(copy.shop_id, sizeof copy.shop_id, "%s", c->shop_id);
            rc = shop_store_tokens(bus, db, c->platform, &copy, NULL, c->refresh_sealed);
            rf_secrets_wipe(&copy, sizeof copy);
        } else {
            rc = shop_store_status(bus, db, c->platform, c->shop_id, "reauthorize_needed",
                                   error ? error : "the platform refused the refresh token");
        }
        if (rc < 0 || rf_bus_tx_commit(bus) != 0) {
            rf_bus_tx_rollback(bus);
            rf_warn("event=shop_renew_not_stored platform=%s shop_id=%s", c->platform, c->shop_id);
        } else if (answer == SHOP_ANSWER_OK) {
            rf_info("event=shop_renewed platform=%s shop_id=%s expires_in_s=%lld%s", c->platform,
                    c->shop_id, (long long)t->expires_in_s,
                    rc == 0 ? " note=\"renewed elsewhere meanwhile\"" : "");
        }
    }
    rf_secrets_wipe(r, sizeof *r);
    free(r);
}

static void renew_pass(uv_timer_t *timer) {
    (void)timer;
    rf_db_t *db = rf_worker_db(renew.w);
    if (!rf_db_connected(db)) return;
    shop_claim_t *claims = calloc(CLAIM_MAX, sizeof *claims);
    int n = claims ? shop_claim_due(renew.w, claims, CLAIM_MAX, intake_shop_settings.renew_lease_ms)
                   : -1;
    for (int i = 0; i < n; i++) {
        renewal_t *r = calloc(1, sizeof *r);
        if (!r) break;
        r->claim = claims[i];
        if (shop_oauth_refresh(renew.http, r->claim.platform, r->claim.refresh_token, on_renewed,
                               r) != 0) {
            shop_renew_failed(renew.w, &r->claim, "the request could not be started", RETRY_MS);
            rf_secrets_wipe(r, sizeof *r);
            free(r);
        }
    }
    if (claims) {
        rf_secrets_wipe(claims, CLAIM_MAX * sizeof *claims);
        free(claims);
    }
}

void intake_shop_token_rejected(rf_worker_t *w, const char *platform, const char *shop_id) {
    if (!renew.started) return;
    rf_warn("event=shop_token_rejected platform=%s shop_id=%s action=renew", platform, shop_id);
    shop_renew_now(w, platform, shop_id);
    uv_timer_start(&renew.timer, renew_pass, 0, (uint64_t)intake_shop_settings.renew_check_ms);
}

int intake_shops_start(rf_worker_t *w) {
    intake_shop_settings_t *s = &intake_shop_settings;
    renew.w = w;
    size_t n = strlen(s->public_url);
    while (n > 0 && s->public_url[n - 1] == '/') s->public_url[--n] = '\0';
    if (n && strncmp(s->public_url, "http://", 7) != 0 &&
        strncmp(s->public_url, "https://", 8) != 0) {
        rf_error("event=bad_setting name=RF_INTAKE_PUBLIC_URL error=\"must start with http://"
                 " or https://\"");
        return -1;
    }
    if (shop_oauth_setup() != 0) return -1;
    int key = shop_key_load();
    if (key < 0) return -1;
    if (key == 0) {
        /* No key: no shop can be kept; the fixed token (a trial) still works. */
        rf_warn("event=shops_off reason=\"RF_SECRETS_KEY_FILE is not set: no shop can be"
                " authorised\"");
        return 0;
    }
    renew.http = rf_httpc_new(rf_worker_loop(w));
    if (!renew.http || uv_timer_init(rf_worker_loop(w), &renew.timer) != 0) {
        rf_error("event=shops_start_failed error=\"no HTTP client\"");
        return -1;
    }
    renew.started = true;
    uv_timer_start(&renew.timer, renew_pass, 100, (uint64_t)s->renew_check_ms);
    rf_info("event=shops_started renew_check_ms=%lld kuaishou_oauth=%s douyin_oauth=%s",
            (long long)s->renew_check_ms, shop_oauth_configured("kuaishou") ? "on" : "off",
            shop_oauth_configured("douyin") ? "on" : "off");
    return 0;
}
