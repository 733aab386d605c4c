/*
 * shop_store.c: the shops' SQL (shops_internal.h). Tokens are sealed before
 * they reach a statement and opened only for a call; every new token or
 * status is announced to review and refund (shop.token) in the transaction
 * that stores it, so no worker ever uses a token intake has not kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shops/shops_internal.h"
#include "platform/platform_calls.h"
#include "platform/shop_tokens.h"
#include "runtime/log.h"

static rf_secrets_key_t key;
static bool key_loaded;

const rf_secrets_key_t *shop_key(void) { return key_loaded ? &key : NULL; }

int shop_key_load(void) {
    int rc = rf_secrets_setting_load(&key);
    key_loaded = rc == 1;
    return rc;
}

/* "<platform>/<shop_id>/access" and ".../refresh": what each sealed value is for. */
static void context_of(char *out, size_t cap, const char *platform, const char *shop_id,
                       const char *slot) {
    snprintf(out, cap, "%s/%s/%s", platform, shop_id, slot);
}

static int seal(const char *platform, const char *shop_id, const char *slot, const char *plain,
                char *out, size_t cap) {
    char ctx[256];
    context_of(ctx, sizeof ctx, platform, shop_id, slot);
    return key_loaded ? rf_secrets_seal(&key, ctx, plain, strlen(plain), out, cap) : -1;
}

static int open_sealed(const char *platform, const char *shop_id, const char *slot,
                       const char *sealed, char *out, size_t cap) {
    char ctx[256];
    context_of(ctx, sizeof ctx, platform, shop_id, slot);
    return key_loaded ? rf_secrets_open(&key, ctx, sealed, out, cap) : -1;
}

/* shop.token about the shop's row as it now stands (read in the same transaction). */
static int announce(rf_bus_t *bus, rf_db_t *db, const char *platform, const char *shop_id) {
    const char *p[] = {platform, shop_id};
    PGresult *res =
        rf_db_query(db,
                    "SELECT status, CASE WHEN status IN ('active', 'refresh_failing')"
                    " THEN access_token_sealed ELSE '' END,"
                    " COALESCE((extract(epoch FROM access_expires_at) * 1000)::bigint,"
                    " 0), token_version FROM shops WHERE platform = $1 AND shop_id = $2",
                    2, p);
    if (!res) return -1;
    int rc = -1;
    if (PQntuples(res) == 1) {
        char key_text[200];
        snprintf(key_text, sizeof key_text, "shop:%s:%s", platform, shop_id);
        rf_event_t ev;
        if (rf_bus_event_init(bus, &ev, RF_EV_SHOP_TOKEN, key_text, NULL) == 0) {
            rf_body_shop_token_t *b = &ev.body.shop_token;
            rc = rf_event_set_str(&b->platform, platform) | rf_event_set_str(&b->shop_id, shop_id) |
                 rf_event_set_str(&b->status, rf_get_str(res, 0, 0)) |
                 rf_event_set_str(&b->access_token_sealed, rf_get_str(res, 0, 1));
            b->access_expires_at = rf_get_i64(res, 0, 2);
            b->token_version = rf_get_i64(res, 0, 3);
            if (rc == 0) rc = rf_bus_emit(bus, &ev);
            rf_event_clear(&ev);
        }
    }
    PQclear(res);
    return rc;
}

int shop_store_tokens(rf_bus_t *bus, rf_db_t *db, const char *platform, const shop_tokens_t *t,
                      const char *name, const char *expect_refresh) {
    size_t cap = rf_secrets_sealed_size(SHOP_TOKEN_MAX);
    char *access = malloc(cap), *refresh = malloc(cap);
    int rc = -1;
    if (!access || !refresh ||
        seal(platform, t->shop_id, "access", t->access_token, access, cap) < 0 ||
        seal(platform, t->shop_id, "refresh", t->refresh_token, refresh, cap) < 0)
        goto out;
    rf_num_t life = rf_i64(t->expires_in_s), rlife = rf_i64(t->refresh_expires_in_s),
             renew = rf_i64(t->renew_after_s > 0 ? t->renew_after_s : t->expires_in_s * 2 / 3);
    const char *p[] = {platform, t->shop_id, name ? name : "",
                       access,   refresh,    life.s,
                       rlife.s,  t->scopes,  expect_refresh ? expect_refresh : "",
                       renew.s};
    /* A renewal stores only over the token it started from (another process
     * may have renewed meanwhile); an authorisation always stores. The
     * renewal is due when a third of the access token's life is left. */
    int64_t n = rf_db_exec_count(
        db,
        "INSERT INTO shops AS s (platform, shop_id, name, access_token_sealed,"
        " refresh_token_sealed, scopes, access_expires_at, refresh_expires_at, renew_at,"
        " token_version, status, status_reason, refresh_started_at, refresh_failures,"
        " last_refresh_at, authorized_at)"
        " SELECT $1, $2, $3, $4, $5, $8, now() + $6::bigint * interval '1 second',"
        "  CASE WHEN $7::bigint > 0 THEN now() + $7::bigint * interval '1 second' END,"
        "  now() + $10::bigint * interval '1 second', 1, 'active', '', NULL, 0,"
        "  NULL, now()"
        " WHERE $9 = ''"
        " ON CONFLICT (platform, shop_id) DO UPDATE SET"
        "  name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE s.name END,"
        "  access_token_sealed = EXCLUDED.access_token_sealed,"
        "  refresh_token_sealed = EXCLUDED.refresh_token_sealed,"
        "  scopes = CASE WHEN EXCLUDED.scopes <> '' THEN EXCLUDED.scopes ELSE s.scopes END,"
        "  access_expires_at = EXCLUDED.access_expires_at,"
        "  refresh_expires_at = COALESCE(EXCLUDED.refresh_expires_at, s.refresh_expires_at),"
        "  renew_at = EXCLUDED.renew_at, token_version = s.token_version + 1,"
        "  status = 'active', status_reason = '', refresh_started_at = NULL,"
        "  refresh_failures = 0, authorized_at = now(), updated_at = now()",
        10, p);
    if (n == 0 && expect_refresh) {
        n = rf_db_exec_count(
            db,
            "UPDATE shops SET access_token_sealed = $4, refresh_token_sealed = $5,"
            " scopes = CASE WHEN $8 <> '' THEN $8 ELSE scopes END,"
            " access_expires_at = now() + $6::bigint * interval '1 second',"
            " refresh_expires_at = CASE WHEN $7::bigint > 0"
            "  THEN now() + $7::bigint * interval '1 second' ELSE refresh_expires_at END,"
            " renew_at = now() + $10::bigint * interval '1 second',"
            " token_version = token_version + 1, status = 'active', status_reason = '',"
            " refresh_started_at = NULL, refresh_failures = 0, refreshes = refreshes + 1,"
            " last_refresh_at = now(), updated_at = now()"
            " WHERE platform = $1 AND shop_id = $2 AND refresh_token_sealed = $9"
            " AND status <> 'disabled' AND $3 = $3",
            10, p);
    }
    if (n < 0) goto out;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    rc = announce(bus, db, platform, t->shop_id) == 0 ? 1 : -1;
out:
    if (access) rf_secrets_wipe(access, cap);
    if (refresh) rf_secrets_wipe(refresh, cap);
    free(access);
    free(refresh);
    return rc;
}

int shop_store_status(rf_bus_t *bus, rf_db_t *db, const char *platform, const char *shop_id,
                      const char *status, const char *reason) {
    const char *p[] = {platform, shop_id, status, reason ? reason : ""};
    int64_t n = rf_db_exec_count(db,
                                 "UPDATE shops SET status = $3, status_reason = $4,"
                                 " token_version = token_version + 1, refresh_started_at = NULL,"
                                 " updated_at = now() WHERE platform = $1 AND shop_id = $2"
                                 " AND status <> $3",
                                 4, p);
    if (n <= 0) return (int)n;
    if (announce(bus, db, platform, shop_id) != 0) return -1;
    if (strcmp(status, "reauthorize_needed") == 0) {
        char subject[200], key_text[200];
        snprintf(subject, sizeof subject, "%s shop %s must be authorised again", platform, shop_id);
        snprintf(key_text, sizeof key_text, "shop:%s:%s", platform, shop_id);
        if (rf_pcalls_alert(bus, key_text, "shop_reauthorize_needed", subject, reason) != 0)
            return -1;
    }
    rf_warn("event=shop_status platform=%s shop_id=%s status=%s reason=\"%s\"", platform, shop_id,
            status, reason ? reason : "");
    return 1;
}

int intake_shop_access_token(rf_worker_t *w, const char *platform, const char *shop_id, char *out,
                             size_t cap) {
    out[0] = '\0';
    const char *p[] = {platform, shop_id};
    PGresult *res = rf_db_query(rf_worker_db(w),
                                "SELECT access_token_sealed, status IN ('active',"
                                " 'refresh_failing') AND access_expires_at > now()"
                                " FROM shops WHERE platform = $1 AND shop_id = $2",
                                2, p);
    if (!res) return -1;
    int rc = 0;
    if (PQntuples(res) == 1 && strcmp(rf_get_str(res, 0, 1), "t") != 0) rc = -2;
    else if (PQntuples(res) == 1)
        rc =
            open_sealed(platform, shop_id, "access", rf_get_str(res, 0, 0), out, cap) >= 0 ? 1 : -1;
    PQclear(res);
    if (rc == -1)
        rf_error("event=shop_token_unreadable platform=%s shop_id=%s error=\"sealed under another"
                 " key or changed\"",
                 platform, shop_id);
    return rc;
}

json_t *intake_shops_active(rf_worker_t *w, const char *platform) {
    const char *p[] = {platform};
    return rf_db_query_list(rf_worker_db(w),
                            "SELECT shop_id FROM shops WHERE platform = $1"
                            " AND status IN ('active', 'refresh_failing')"
                            " AND access_expires_at > now() ORDER BY shop_id",
                            1, p, false);
}

int shop_claim_due(rf_worker_t *w, shop_claim_t *out, int max, int64_t lease_ms) {
    rf_db_t *db = rf_worker_db(w);
    rf_bus_t *bus = rf_worker_bus(w);
    /* a refresh token past its expiry cannot renew anything: say so */
    PGresult *lapsed = rf_db_query(db,
                                   "SELECT platform, shop_id FROM shops WHERE status IN"
                                   " ('active', 'refresh_failing') AND refresh_expires_at <= now()"
                                   " LIMIT 8",
                                   0, NULL);
    for (int i = 0; lapsed && i < PQntuples(lapsed); i++) {
        if (rf_bus_tx_begin(bus) != 0) break;
        if (shop_store_status(bus, db, rf_get_str(lapsed, i, 0), rf_get_str(lapsed, i, 1),
                              "reauthorize_needed", "the refresh token expired") < 0 ||
            rf_bus_tx_commit(bus) != 0)
            rf_bus_tx_rollback(bus);
    }
    if (lapsed) PQclear(lapsed);
    rf_num_t lease = rf_i64(lease_ms), limit = rf_i64(max);
    const char *p[] = {lease.s, limit.s};
    /* One process renews a shop at a time: the row is locked while claimed
     * (SKIP LOCKED: replicas take other shops) and the lease keeps it from
     * being claimed again until the answer is in or the lease ran out (a
     * crash mid-renewal: the next claim after the lease tries again). */
    PGresult *res = rf_db_query(db,
                                "UPDATE shops SET refresh_started_at = now() WHERE (platform,"
                                " shop_id) IN (SELECT platform, shop_id FROM shops"
                                "  WHERE status IN ('active', 'refresh_failing')"
                                "  AND renew_at <= now() AND (refresh_started_at IS NULL"
                                "   OR refresh_started_at < now() - $1::bigint"
                                "      * interval '1 millisecond')"
                                "  ORDER BY renew_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"
                                " RETURNING platform, shop_id, refresh_token_sealed",
                                2, p);
    if (!res) return -1;
    int n = 0;
    for (int i = 0; i < PQntuples(res) && n < max; i++) {
        shop_claim_t *c = &out[n];
        snprintf(c->platform, sizeof c->platform, "%s", rf_get_str(res, i, 0));
        snprintf(c->shop_id, sizeof c->shop_id, "%s", rf_get_str(res, i, 1));
        snprintf(c->refresh_sealed, sizeof c->refresh_sealed, "%s", rf_get_str(res, i, 2));
        if (open_sealed(c->platform, c->shop_id, "refresh", c->refresh_sealed, c->refresh_token,
                        sizeof c->refresh_token) < 0) {
            rf_error("event=shop_token_unreadable platform=%s shop_id=%s slot=refresh", c->platform,
                     c->shop_id);
            continue;
        }
        n++;
    }
    PQclear(res);
    return n;
}

void shop_renew_failed(rf_worker_t *w, const shop_claim_t *c, const char *why, int64_t backoff_ms) {
    rf_db_t *db = rf_worker_db(w);
    rf_bus_t *bus = rf_worker_bus(w);
    rf_num_t backoff = rf_i64(backoff_ms);
    const char *p[] = {c->platform, c->shop_id, backoff.s, c->refresh_sealed};
    if (rf_bus_tx_begin(bus) != 0) return;
    PGresult *res =
        rf_db_query(db,
                    "UPDATE shops SET refresh_started_at = NULL,"
                    " refresh_failures = refresh_failures + 1,"
                    " renew_at = now() + $3::bigint * interval '1 millisecond'"
                    " WHERE platform = $1 AND shop_id = $2 AND refresh_token_sealed = $4"
                    " RETURNING refresh_failures, status,"
                    " access_expires_at < now() + interval '1 minute'",
                    4, p);
    bool ok = res != NULL;
    /* a few failures in a row, or the access token about to lapse: show it */
    if (ok && PQntuples(res) == 1 && strcmp(rf_get_str(res, 0, 1), "active") == 0 &&
        (rf_get_i64(res, 0, 0) >= 3 || strcmp(rf_get_str(res, 0, 2), "t") == 0))
        ok = shop_store_status(bus, db, c->platform, c->shop_id, "refresh_failing", why) >= 0;
    if (res) PQclear(res);
    if (!ok || rf_bus_tx_commit(bus) != 0) rf_bus_tx_rollback(bus);
}

void shop_renew_now(rf_worker_t *w, const char *platform, const char *shop_id) {
    const char *p[] = {platform, shop_id};
    rf_db_exec(rf_worker_db(w),
               "UPDATE shops SET renew_at = now() WHERE platform = $1 AND shop_id = $2"
               " AND renew_at > now() AND last_refresh_at IS DISTINCT FROM now()"
               " AND (last_refresh_at IS NULL OR last_refresh_at < now() - interval '2 seconds')",
               2, p);
}
