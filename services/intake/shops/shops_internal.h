/*
 * shops_internal.h: what the files of intake's shops share among themselves
 * (intake's core and feeds see shops.h alone).
 */
#ifndef INTAKE_SHOPS_INTERNAL_H
#define INTAKE_SHOPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shops/shops.h"
#include "bus/bus.h"
#include "db/db.h"
#include "http/httpc.h"
#include "platform/ks_oauth.h"
#include "runtime/secrets.h"

#define SHOP_ID_MAX 128
#define SHOP_TOKEN_MAX RF_KS_TOKEN_MAX

/* A pair of tokens as a platform answered it, in the platforms' common terms. */
typedef struct shop_tokens {
    char access_token[SHOP_TOKEN_MAX];
    char refresh_token[SHOP_TOKEN_MAX];
    int64_t expires_in_s;         /* the access token's life */
    int64_t refresh_expires_in_s; /* 0: not said (the old expiry stays) */
    int64_t renew_after_s;        /* when to renew, from now: the platform's rule */
    char shop_id[SHOP_ID_MAX];    /* Kuaishou open_id, Douyin shop_id */
    char shop_name[128];
    char scopes[512];
} shop_tokens_t;

/* ---- shop_store.c ------------------------------------------------------------------ */

/* The key tokens are sealed with (RF_SECRETS_KEY_FILE, loaded at start):
 * 1 loaded, 0 no key set, -1 a bad key file (logged, naming the setting). */
const rf_secrets_key_t *shop_key(void);
int shop_key_load(void);

/* shop_store_tokens: a new pair for a shop (authorised, registered or
 * renewed), sealed, stored and announced (shop.token) in the caller's bus
 * transaction; status active. expect_refresh: the sealed refresh token the
 * renewal started from (the row changes only if it still holds it), or NULL
 * for a new authorisation. 1 stored, 0 the row moved on meanwhile, -1 error. */
int shop_store_tokens(rf_bus_t *bus, rf_db_t *db, const char *platform, const shop_tokens_t *t,
                      const char *name, const char *expect_refresh);

/* shop_store_status: a shop's new status (refresh_failing, reauthorize_needed,
 * disabled) with the reason, announced to review and refund, and for
 * reauthorize_needed an ops alert. In the caller's transaction; 1, 0 (no such
 * shop), -1. */
int shop_store_status(rf_bus_t *bus, rf_db_t *db, const char *platform, const char *shop_id,
                      const char *status, const char *reason);

/* A shop claimed for renewal: its sealed and plain refresh token. */
typedef struct shop_claim {
    char platform[16];
    char shop_id[SHOP_ID_MAX];
    char refresh_sealed[2 * SHOP_TOKEN_MAX];
    char refresh_token[SHOP_TOKEN_MAX];
} shop_claim_t;

/* shop_claim_due: take up to max shops due for renewal (a lease of lease_ms
 * on each; another process skips them). Returns how many, or -1. Shops whose
 * refresh token has expired are marked reauthorize_needed instead. */
int shop_claim_due(rf_worker_t *w, shop_claim_t *out, int max, int64_t lease_ms);

/* shop_renew_failed: the renewal had no answer: keep the shop's tokens, mark
 * it refresh_failing after a few in a row, try again after backoff_ms. */
void shop_renew_failed(rf_worker_t *w, const shop_claim_t *c, const char *why, int64_t backoff_ms);

/* shop_renew_now: make a shop due at once (its token was refused). */
void shop_renew_now(rf_worker_t *w, const char *platform, const char *shop_id);

/* ---- shop_oauth.c ------------------------------------------------------------------- */

typedef enum shop_answer {
    SHOP_ANSWER_OK = 0,
    SHOP_ANSWER_REFUSED, /* the platform said no: a used or revoked token, a bad code */
    SHOP_ANSWER_FAILED,  /* no answer, or not the platform's */
} shop_answer_t;

/* Called once with the platform's answer (t valid only for SHOP_ANSWER_OK). */
typedef void (*shop_tokens_fn)(void *arg, shop_answer_t answer, const shop_tokens_t *t,
                               const char *error);

/* shop_oauth_exchange / shop_oauth_refresh: ask the platform for tokens, by
 * an authorisation code or a refresh token. 0 (cb will be called) or -1. */
int shop_oauth_exchange(rf_httpc_t *http, const char *platform, const char *code, shop_tokens_fn cb,
                        void *arg);
int shop_oauth_refresh(rf_httpc_t *http, const char *platform, const char *refresh_token,
                       shop_tokens_fn cb, void *arg);

/* shop_oauth_authorize_url: the platform's authorise page for state. Its
 * length, or -1 (the platform's OAuth is not configured: why says what). */
int shop_oauth_authorize_url(const char *platform, const char *state, char *out, size_t cap,
                             const char **why);

/* shop_oauth_configured: the platform's API and app secret are set. */
bool shop_oauth_configured(const char *platform);

/* shop_oauth_setup: read the platforms' API settings (at start). 0 or -1. */
int shop_oauth_setup(void);

/* ---- shop_renew.c ------------------------------------------------------------------- */

/* The worker's HTTP client for the token requests. */
rf_httpc_t *shop_http(void);

#endif
