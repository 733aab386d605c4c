/*
 * platform/shop_tokens.h: each shop's current access token, as a worker that
 * calls the platform for many shops keeps it (review and refund).
 *
 * Intake owns the shops: it authorises them by OAuth, renews their tokens and,
 * on every new token or status change, emits shop.token (proto/events.def)
 * with the access token sealed (runtime/secrets.h, context
 * "<platform>/<shop_id>/access") and a token_version that grows. A consumer
 * keeps its own copy in its own schema (table shop_tokens, still sealed), so:
 *
 *   - a decision call never waits on intake, nor reads intake's schema: the
 *     worker has the latest token it heard of, even while intake is down;
 *   - the bus, inboxes, dead letters and this table never hold a token in the
 *     clear; only a worker given the key file (RF_SECRETS_KEY_FILE) can open
 *     one, at the moment of the call, and wipes it afterwards;
 *   - one shop's events are ordered (their ordering key is
 *     "shop:<platform>:<shop_id>"), and a stale or repeated one changes
 *     nothing: the row keeps the highest token_version.
 *
 * Without RF_SECRETS_KEY_FILE no shop token can be opened: a call for a shop
 * with no row uses the fixed RF_KUAISHOU_ACCESS_TOKEN (platform/ks_client.h)
 * if set; otherwise the call waits (platform/platform_calls.h).
 */
#ifndef RF_SHOP_TOKENS_H
#define RF_SHOP_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "proto/proto.h"
#include "runtime/config.h"
#include "runtime/secrets.h"

extern char rf_secrets_key_file[RF_CFG_STR_MAX]; /* RF_SECRETS_KEY_FILE: "" = none */

/* The configuration-table row of that setting, for a worker's table (intake,
 * review and refund read the same key). */
/* A table reads best as rows, so the formatter leaves it as written. */
// clang-format off
#define RF_SECRETS_CONFIG                                                                     \
    {"RF_SECRETS_KEY_FILE", RF_CFG_STRING, rf_secrets_key_file, "", 0, 0,                     \
     "file of the key that seals shops' tokens (32 bytes, or 64 hex digits; mode 0600); "     \
     "empty: no shop token can be opened"}
// clang-format on

/* rf_secrets_setting_load: read the key named by RF_SECRETS_KEY_FILE into key.
 * Returns 1 loaded, 0 the setting is empty (no key), or -1 for a bad file
 * (unreadable, readable by group or others, not a key): logged as a bad
 * setting naming RF_SECRETS_KEY_FILE (the caller stops start-up). */
int rf_secrets_setting_load(rf_secrets_key_t *key);

/* rf_shop_tokens_setup: load the key (rf_secrets_setting_load, kept for
 * rf_shop_tokens_get) and create the table shop_tokens in db's schema. 0, or
 * -1 (start-up stops). Called by rf_pcalls_new (platform/platform_calls.h). */
int rf_shop_tokens_setup(rf_db_t *db);

/* rf_shop_tokens_apply: a shop.token event (RF_EV_SHOP_TOKEN), inside the
 * consumer's delivery transaction: the row of (platform, shop_id) takes the
 * event's status, sealed token and expiry only when its token_version is
 * greater than the stored one. RF_APPLY_OK (stored, or stale: nothing
 * changed), RF_APPLY_ERROR (database), RF_APPLY_REJECT (malformed; why says
 * what, never the token). */
rf_apply_result_t rf_shop_tokens_apply(rf_db_t *db, const rf_event_t *ev, char *why, size_t whylen);

#define RF_SHOP_TOKEN_MAX 1024 /* room for a plain access token, with its NUL */

typedef enum rf_shop_token_result {
    RF_SHOP_TOKEN_OK = 0,      /* token holds the plain access token */
    RF_SHOP_TOKEN_NONE,        /* no row: intake never told of this shop */
    RF_SHOP_TOKEN_INACTIVE,    /* the shop's status is not active (see status) */
    RF_SHOP_TOKEN_CANNOT_OPEN, /* active, but no key, or sealed under another key or context */
    RF_SHOP_TOKEN_DB_ERROR,
} rf_shop_token_result_t;

/* A shop's token for one call. Wipe it after the call (rf_shop_token_wipe). */
typedef struct rf_shop_token {
    char token[RF_SHOP_TOKEN_MAX]; /* plain; "" unless RF_SHOP_TOKEN_OK */
    char status[32];               /* active | refresh_failing | reauthorize_needed | disabled */
    int64_t expires_at;            /* ms; 0 when not known */
    int64_t version;               /* token_version of the row */
} rf_shop_token_t;

/* rf_shop_tokens_get: the current token of (platform, shop_id) from db,
 * opened with the key loaded by rf_shop_tokens_setup. */
rf_shop_token_result_t rf_shop_tokens_get(rf_db_t *db, const char *platform, const char *shop_id,
                                          rf_shop_token_t *out);

/* rf_shop_token_wipe: zero t (the plain token above all). */
void rf_shop_token_wipe(rf_shop_token_t *t);

/* rf_shop_tokens_result_name: "ok", "no_row", "not_active", "cannot_open",
 * "db_error" (for logs). */
const char *rf_shop_tokens_result_name(rf_shop_token_result_t r);

/* ---- pure helpers (tested on their own) ------------------------------------------ */

/* rf_shop_tokens_context: the sealing context "<platform>/<shop_id>/access"
 * into out. 0, or -1 when it does not fit. */
int rf_shop_tokens_context(const char *platform, const char *shop_id, char *out, size_t cap);

/* rf_shop_tokens_ordering_key: the envelope return_id of a shop's events,
 * "shop:<platform>:<shop_id>", into out. 0, or -1 when it does not fit. */
int rf_shop_tokens_ordering_key(const char *platform, const char *shop_id, char *out, size_t cap);

/* rf_shop_tokens_check: why a shop.token event is malformed (written to why:
 * an unknown platform or status, no shop id, a version below 1, an active
 * status without a token, an envelope return_id that is not the shop's
 * ordering key), or 0 when it is well formed. -1 when malformed. */
int rf_shop_tokens_check(const rf_event_t *ev, char *why, size_t whylen);

/* rf_shop_tokens_open: open a shop's sealed access token with key into
 * out (cap bytes). Returns its length, or -1 (out is then wiped). */
int rf_shop_tokens_open(const rf_secrets_key_t *key, const char *platform, const char *shop_id,
                        const char *sealed, char *out, size_t cap);

/* How a call picks its token (rf_shop_tokens_pick's decision, pure). */
typedef enum rf_token_choice {
    RF_TOKEN_USE_SHOP = 0, /* the shop's own token */
    RF_TOKEN_USE_FIXED,    /* the fixed RF_KUAISHOU_ACCESS_TOKEN */
    RF_TOKEN_WAIT,         /* none: the call waits and is tried again */
    RF_TOKEN_LATER,        /* the database did not answer: tried again after the lease */
} rf_token_choice_t;

/* rf_shop_tokens_choice: what a call does given the shop's result (a call
 * with no shop_id: RF_SHOP_TOKEN_NONE), whether the shop's open token has
 * lapsed (expires_at passed: intake renews it) and whether a fixed token is
 * set: the shop's token when open and not lapsed; the fixed one only when the
 * shop has no row; else wait (a shop not active, a lapsed token or one that
 * cannot be opened never falls back to the fixed token, another shop's). */
rf_token_choice_t rf_shop_tokens_choice(rf_shop_token_result_t r, bool lapsed, bool fixed_set);

/* rf_shop_tokens_pick: the token a call for (platform, shop_id) carries, into
 * out (cap bytes; wipe it after the call): the shop's (shop_id may be "": a
 * call written before calls were per shop), or fixed (may be "").
 * Returns the choice; with RF_TOKEN_WAIT, *why says why (no_row, not_active,
 * cannot_open, expired), for a log line that names the shop, never a token. */
rf_token_choice_t rf_shop_tokens_pick(rf_db_t *db, const char *platform, const char *shop_id,
                                      const char *fixed, char *out, size_t cap, const char **why);

#endif
