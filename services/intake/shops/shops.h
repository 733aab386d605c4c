/*
 * shops.h: the merchant's shops, as intake's core and feeds see them.
 *
 * Intake owns the shops (the README's "Shops and tokens" says why): a
 * registry of every Kuaishou and Douyin shop the merchant authorised, each
 * with its tokens sealed at rest (runtime/secrets.h). Its parts:
 *
 *   shop_routes.c  the admin API: authorise (a single-use state), the
 *                  platforms' OAuth callbacks, list, register, disable
 *   shop_oauth.c   the token requests to the platforms (code -> tokens,
 *                  refresh), asynchronous on the worker's loop
 *   shop_renew.c   renewal: a timer claims the shops whose access token has
 *                  a third of its life left (one process per shop, replicas
 *                  included) and refreshes them
 *   shop_store.c   the SQL: tokens stored sealed and durably before use, the
 *                  shop.token event to review and refund in the same
 *                  transaction, status changes and their alerts
 *
 * Nothing here logs, answers or counts a token.
 */
#ifndef INTAKE_SHOPS_H
#define INTAKE_SHOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "runtime/config.h"
#include "worker/worker.h"

/* The shops' settings (the worker's configuration table fills them). */
typedef struct intake_shop_settings {
    char public_url[RF_CFG_STR_MAX];       /* RF_INTAKE_PUBLIC_URL: the OAuth redirect's base */
    char ks_app_secret[RF_CFG_STR_MAX];    /* RF_KUAISHOU_APP_SECRET (OAuth) */
    char ks_authorize_url[RF_CFG_STR_MAX]; /* RF_KUAISHOU_AUTHORIZE_URL */
    char ks_scope[RF_CFG_STR_MAX];         /* RF_KUAISHOU_OAUTH_SCOPE */
    char dy_authorize_url[RF_CFG_STR_MAX]; /* RF_DOUYIN_AUTHORIZE_URL */
    int64_t renew_check_ms;                /* RF_SHOPS_RENEW_CHECK_MS */
    int64_t renew_lease_ms;                /* RF_SHOPS_RENEW_LEASE_MS */
} intake_shop_settings_t;

extern intake_shop_settings_t intake_shop_settings;

/* shop_renew.c: load the key, check the settings, start renewal. 0, or -1
 * with the bad setting named in the log (start-up stops). */
int intake_shops_start(rf_worker_t *w);

/* shop_routes.c: the shop routes; true when x was one of them (answered,
 * now or later). */
bool intake_shops_route(rf_worker_t *w, rf_http_exchange_t *x);

/* shop_store.c: the plain access token of a shop for a call, into out.
 * 1 found and usable; 0 no such shop; -2 the shop is not active or its token
 * lapsed; -1 database or key trouble (out is "" unless 1). The caller wipes
 * out after the call. */
int intake_shop_access_token(rf_worker_t *w, const char *platform, const char *shop_id, char *out,
                             size_t cap);

/* shop_renew.c: a call was answered "token invalid": renew the shop's token
 * now (the call is tried again by its owner). */
void intake_shop_token_rejected(rf_worker_t *w, const char *platform, const char *shop_id);

/* shop_store.c: the active shops of a platform (a JSON array of shop ids,
 * owned by the caller; NULL on a database error). */
json_t *intake_shops_active(rf_worker_t *w, const char *platform);

#endif
