/*
 * shop_tokens.c: each shop's current access token, kept sealed in the
 * consumer's own schema from intake's shop.token events, and opened only for
 * a call (platform/shop_tokens.h has why tokens travel this way).
 *
 * No function here logs or returns a token except rf_shop_tokens_get and
 * rf_shop_tokens_pick, into the caller's buffer, which the caller wipes.
 */
#include "platform/shop_tokens.h"

#include <stdio.h>
#include <string.h>

#include "runtime/ids.h"
#include "runtime/log.h"

char rf_secrets_key_file[RF_CFG_STR_MAX];

static rf_secrets_key_t the_key; /* loaded by rf_shop_tokens_setup */
static bool have_key;

/* ---- pure helpers ---------------------------------------------------------------- */

int rf_shop_tokens_context(const char *platform, const char *shop_id, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s/access", platform, shop_id);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int rf_shop_tokens_ordering_key(const char *platform, const char *shop_id, char *out, size_t cap) {
    int n = snprintf(out, cap, "shop:%s:%s", platform, shop_id);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static bool one_of(const char *s, const char *const *words) {
    for (; *words; words++)
        if (strcmp(s, *words) == 0) return true;
    return false;
}

int rf_shop_tokens_check(const rf_event_t *ev, char *why, size_t whylen) {
    static const char *const platforms[] = {"kuaishou", "douyin", NULL};
    static const char *const statuses[] = {"active", "refresh_failing", "reauthorize_needed",
                                           "disabled", NULL};
    const rf_body_shop_token_t *b = &ev->body.shop_token;
    char key[RF_ID_MAX * 2];
    if (ev->type != RF_EV_SHOP_TOKEN) snprintf(why, whylen, "not a shop.token event");
    else if (!one_of(b->platform, platforms))
        snprintf(why, whylen, "shop.token: platform must be kuaishou or douyin");
    else if (!*b->shop_id || strlen(b->shop_id) >= 128)
        snprintf(why, whylen, "shop.token: shop_id must be 1 to 127 characters");
    else if (!one_of(b->status, statuses))
        snprintf(why, whylen,
                 "shop.token: status must be active, refresh_failing, reauthorize_needed or"
                 " disabled");
    else if (b->token_version < 1) snprintf(why, whylen, "shop.token: token_version must be >= 1");
    else if (strcmp(b->status, "active") == 0 && !*b->access_token_sealed)
        snprintf(why, whylen, "shop.token: an active shop without access_token_sealed");
    else if (rf_shop_tokens_ordering_key(b->platform, b->shop_id, key, sizeof key) != 0 ||
             strcmp(ev->return_id, key) != 0)
        snprintf(why, whylen, "shop.token: return_id must be shop:<platform>:<shop_id>");
    else return 0;
    return -1;
}

int rf_shop_tokens_open(const rf_secrets_key_t *key, const char *platform, const char *shop_id,
                        const char *sealed, char *out, size_t cap) {
    char context[300];
    if (cap == 0) return -1;
    out[0] = '\0';
    if (rf_shop_tokens_context(platform, shop_id, context, sizeof context) != 0) return -1;
    return rf_secrets_open(key, context, sealed, out, cap);
}

rf_token_choice_t rf_shop_tokens_choice(rf_shop_token_result_t r, bool lapsed, bool fixed_set) {
    switch (r) {
    case RF_SHOP_TOKEN_OK: return lapsed ? RF_TOKEN_WAIT : RF_TOKEN_USE_SHOP;
    case RF_SHOP_TOKEN_NONE: return fixed_set ? RF_TOKEN_USE_FIXED : RF_TOKEN_WAIT;
    case RF_SHOP_TOKEN_DB_ERROR: return RF_TOKEN_LATER;
    default: return RF_TOKEN_WAIT;
    }
}

const char *rf_shop_tokens_result_name(rf_shop_token_result_t r) {
    switch (r) {
    case RF_SHOP_TOKEN_OK: return "ok";
    case RF_SHOP_TOKEN_NONE: return "no_row";
    case RF_SHOP_TOKEN_INACTIVE: return "not_active";
    case RF_SHOP_TOKEN_CANNOT_OPEN: return "cannot_open";
    default: return "db_error";
    }
}

void rf_shop_token_wipe(rf_shop_token_t *t) { rf_secrets_wipe(t, sizeof *t); }

/* ---- the key ------------------------------------------------------------------------ */

int rf_secrets_setting_load(rf_secrets_key_t *key) {
    if (!*rf_secrets_key_file) return 0;
    char err[600];
    if (rf_secrets_key_load(rf_secrets_key_file, key, err, sizeof err) != 0) {
        rf_error("event=bad_setting name=RF_SECRETS_KEY_FILE error=\"%s\"", err);
        return -1;
    }
    return 1;
}

/* ---- the table ---------------------------------------------------------------------- */

/* In the schema of each worker that calls the platform for shops (applied by
 * rf_shop_tokens_setup, like platform_calls' own tables). */
static const rf_migration_t shop_tokens_migrations[] = {
    {"shop_tokens_001",
     "-- each shop's current access token, from intake's shop.token events, still sealed\n"
     "-- (runtime/secrets.h, context '<platform>/<shop_id>/access'); one row per shop\n"
     "CREATE TABLE shop_tokens (\n"
     "    platform            text NOT NULL,\n"
     "    shop_id             text NOT NULL,\n"
     "    status              text NOT NULL,                -- active | refresh_failing | ...\n"
     "    access_token_sealed text NOT NULL DEFAULT '',     -- '' when not active\n"
     "    access_expires_at   timestamptz,\n"
     "    token_version       bigint NOT NULL,              -- the highest heard of\n"
     "    updated_at          timestamptz NOT NULL DEFAULT now(),\n"
     "    PRIMARY KEY (platform, shop_id)\n"
     ");\n"}};

int rf_shop_tokens_setup(rf_db_t *db) {
    int k = rf_secrets_setting_load(&the_key);
    if (k < 0) return -1;
    have_key = k == 1;
    if (!have_key)
        rf_warn("event=shop_tokens_no_key detail=\"no RF_SECRETS_KEY_FILE: no shop's token can be"
                " opened; a call for a shop intake has not told of uses RF_KUAISHOU_ACCESS_TOKEN"
                " if set, other calls wait\"");
    return rf_db_migrate(db, shop_tokens_migrations,
                         sizeof shop_tokens_migrations / sizeof shop_tokens_migrations[0]);
}

rf_apply_result_t rf_shop_tokens_apply(rf_db_t *db, const rf_event_t *ev, char *why,
                                       size_t whylen) {
    if (rf_shop_tokens_check(ev, why, whylen) != 0) return RF_APPLY_REJECT;
    const rf_body_shop_token_t *b = &ev->body.shop_token;
    rf_num_t expires = rf_i64(b->access_expires_at), version = rf_i64(b->token_version);
    const char *p[] = {b->platform, b->shop_id, b->status, b->access_token_sealed,
                       expires.s,   version.s};
    PGresult *res =
        rf_db_query(db,
                    "INSERT INTO shop_tokens (platform, shop_id, status, access_token_sealed,"
                    " access_expires_at, token_version, updated_at)"
                    " VALUES ($1, $2, $3, $4, CASE WHEN $5::bigint > 0"
                    "   THEN to_timestamp($5::bigint / 1000.0) END, $6::bigint, now())"
                    " ON CONFLICT (platform, shop_id) DO UPDATE SET status = EXCLUDED.status,"
                    "   access_token_sealed = EXCLUDED.access_token_sealed,"
                    "   access_expires_at = EXCLUDED.access_expires_at,"
                    "   token_version = EXCLUDED.token_version, updated_at = now()"
                    " WHERE shop_tokens.token_version < EXCLUDED.token_version"
                    " RETURNING token_version",
                    6, p);
    if (!res) return RF_APPLY_ERROR;
    bool stored = PQntuples(res) == 1;
    PQclear(res);
    if (stored)
        rf_info("event=shop_token_stored platform=%s shop_id=%s status=%s token_version=%lld"
                " access_expires_at=%lld",
                b->platform, b->shop_id, b->status, (long long)b->token_version,
                (long long)b->access_expires_at);
    else
        rf_info("event=shop_token_stale platform=%s shop_id=%s token_version=%lld"
                " detail=\"a newer or the same version is stored: nothing changed\"",
                b->platform, b->shop_id, (long long)b->token_version);
    return RF_APPLY_OK;
}

rf_shop_token_result_t rf_shop_tokens_get(rf_db_t *db, const char *platform, const char *shop_id,
                                          rf_shop_token_t *out) {
    memset(out, 0, sizeof *out);
    const char *p[] = {platform, shop_id};
    PGresult *res = rf_db_query(db,
                                "SELECT status, access_token_sealed, COALESCE((extract(epoch FROM"
                                " access_expires_at) * 1000)::bigint, 0), token_version"
                                " FROM shop_tokens WHERE platform = $1 AND shop_id = $2",
                                2, p);
    if (!res) return RF_SHOP_TOKEN_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return RF_SHOP_TOKEN_NONE;
    }
    snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 0));
    out->expires_at = rf_get_i64(res, 0, 2);
    out->version = rf_get_i64(res, 0, 3);
    rf_shop_token_result_t r = RF_SHOP_TOKEN_OK;
    if (strcmp(out->status, "active") != 0) r = RF_SHOP_TOKEN_INACTIVE;
    else if (!have_key || rf_shop_tokens_open(&the_key, platform, shop_id, rf_get_str(res, 0, 1),
                                              out->token, sizeof out->token) < 0)
        r = RF_SHOP_TOKEN_CANNOT_OPEN;
    PQclear(res);
    return r;
}

rf_token_choice_t rf_shop_tokens_pick(rf_db_t *db, const char *platform, const char *shop_id,
                                      const char *fixed, char *out, size_t cap, const char **why) {
    static rf_shop_token_t t; /* one loop thread; wiped before return */
    rf_shop_token_result_t r = RF_SHOP_TOKEN_NONE;
    if (*shop_id) r = rf_shop_tokens_get(db, platform, shop_id, &t);
    bool lapsed = r == RF_SHOP_TOKEN_OK && t.expires_at > 0 && t.expires_at <= rf_now_ms();
    rf_token_choice_t c = rf_shop_tokens_choice(r, lapsed, fixed && *fixed);
    *why = lapsed ? "expired" : rf_shop_tokens_result_name(r);
    const char *src = c == RF_TOKEN_USE_SHOP ? t.token : c == RF_TOKEN_USE_FIXED ? fixed : "";
    if (cap == 0 || strlen(src) >= cap) {
        c = RF_TOKEN_WAIT;
        *why = "too_long";
        src = "";
    }
    if (cap > 0) snprintf(out, cap, "%s", src);
    rf_shop_token_wipe(&t);
    return c;
}
