/*
 * shop_routes.c: the shops' admin API (shops.h).
 *
 *   GET  /v1/shops/authorize?platform=kuaishou     {url, state}: the platform's
 *        authorise page with a fresh single-use state (10 minutes)
 *   GET  /v1/oauth/{platform}/callback?code&state  where the platform sends the
 *        owner back: the state is checked (unknown, expired or used: 400 and the
 *        code is never exchanged), the code exchanged, the shop stored
 *   GET  /v1/shops                                 every shop, its status and
 *        expiries; never a token
 *   POST /v1/shops {platform, refresh_token, shop_id, name?} a shop from a
 *        refresh token obtained elsewhere (renewed at once, so the token is
 *        proven; shop_id required for Kuaishou, whose answer names no shop)
 *   POST /v1/shops/{platform}/{shop_id}/disable
 *
 * The callback and the registration wait for the platform's answer (the
 * exchange is answered later from the loop).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "shops/shops_internal.h"
#include "runtime/crypto.h"
#include "runtime/jsonv.h"
#include "runtime/log.h"

#define STATE_LIFE_S 600

static bool known_platform(const char *p) {
    return strcmp(p, "kuaishou") == 0 || strcmp(p, "douyin") == 0;
}

static void reply_shop(rf_worker_t *w, rf_http_exchange_t *x, int status, const char *platform,
                       const char *shop_id);

/* ---- authorise ---------------------------------------------------------------------- */

static void authorize(rf_worker_t *w, rf_http_exchange_t *x) {
    char platform[16];
    if (rf_http_query_param(x, "platform", platform, sizeof platform) <= 0 ||
        !known_platform(platform)) {
        rf_http_reply_error(x, 400, "invalid_query", "platform must be kuaishou or douyin");
        return;
    }
    uint8_t raw[32];
    char state[65], url[4096];
    const char *why = "";
    if (RAND_bytes(raw, sizeof raw) != 1) {
        rf_http_reply_error(x, 503, "no_randomness", "no random state could be made; retry");
        return;
    }
    rf_hex(raw, sizeof raw, state);
    if (shop_oauth_authorize_url(platform, state, url, sizeof url, &why) < 0) {
        rf_http_reply_error(x, 409, "oauth_not_configured", why);
        return;
    }
    rf_num_t life = rf_i64(STATE_LIFE_S);
    const char *p[] = {state, platform, life.s};
    if (rf_db_exec(rf_worker_db(w),
                   "INSERT INTO oauth_states (state, platform, expires_at)"
                   " VALUES ($1, $2, now() + $3::bigint * interval '1 second')",
                   3, p) != 0) {
        rf_http_reply_error(x, 503, "db_unavailable", "could not record the state; retry");
        return;
    }
    rf_info("event=shop_authorize_started platform=%s", platform);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s, s:s, s:i}", "platform", platform, "url", url, "state",
                                 state, "expires_in_s", STATE_LIFE_S));
}

/* ---- the platform's answer, for the callback and the registration ---------------- */

typedef struct pending {
    rf_worker_t *w;
    rf_http_exchange_t *x;
    char platform[16];
    char name[128];
    char shop_id[SHOP_ID_MAX]; /* the shop a registration names (Kuaishou's refresh
                                  answer does not name it) */
    bool renewal;              /* registered from a refresh token */
} pending_t;

static void on_tokens(void *arg, shop_answer_t answer, const shop_tokens_t *t, const char *error) {
    pending_t *pd = arg;
    rf_worker_t *w = pd->w;
    if (answer != SHOP_ANSWER_OK) {
        rf_warn("event=shop_authorize_failed platform=%s answer=%s error=\"%s\"", pd->platform,
                answer == SHOP_ANSWER_REFUSED ? "refused" : "failed", error ? error : "");
        char msg[400];
        snprintf(msg, sizeof msg, "the platform %s: %s",
                 answer == SHOP_ANSWER_REFUSED ? "refused" : "did not answer", error ? error : "");
        rf_http_reply_error(pd->x, 502,
                            answer == SHOP_ANSWER_REFUSED ? "platform_refused" : "platform_failed",
                            msg);
        free(pd);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(w);
    int rc = -1;
    shop_tokens_t *named = NULL;
    if (!*t->shop_id && *pd->shop_id) {
        /* the answer names no shop (a Kuaishou renewal): the one registered */
        named = malloc(sizeof *named);
        if (named) {
            *named = *t;
            snprintf(named->shop_id, sizeof named->shop_id, "%s", pd->shop_id);
            t = named;
        }
    }
    if (*t->shop_id && rf_bus_tx_begin(bus) == 0) {
        rc = shop_store_tokens(bus, rf_worker_db(w), pd->platform, t,
                               *pd->name ? pd->name : t->shop_name, NULL);
        if (rc < 0 || rf_bus_tx_commit(bus) != 0) {
            rf_bus_tx_rollback(bus);
            rc = -1;
        }
    }
    if (!*t->shop_id) {
        rf_http_reply_error(pd->x, 502, "platform_failed", "the platform's answer named no shop");
    } else if (rc < 0) {
        rf_http_reply_error(pd->x, 503, "db_unavailable",
                            "the shop's tokens could not be stored; authorise again");
    } else {
        rf_info("event=shop_authorized platform=%s shop_id=%s via=%s expires_in_s=%lld",
                pd->platform, t->shop_id, pd->renewal ? "refresh_token" : "oauth",
                (long long)t->expires_in_s);
        reply_shop(w, pd->x, pd->renewal ? 201 : 200, pd->platform, t->shop_id);
    }
    if (named) {
        rf_secrets_wipe(named, sizeof *named);
        free(named);
    }
    free(pd);
}

static pending_t *pending_new(rf_worker_t *w, rf_http_exchange_t *x, const char *platform) {
    pending_t *pd = calloc(1, sizeof *pd);
    if (!pd) return NULL;
    pd->w = w;
    pd->x = x;
    snprintf(pd->platform, sizeof pd->platform, "%s", platform);
    return pd;
}

/* ---- the callback ------------------------------------------------------------------- */

static void callback(rf_worker_t *w, rf_http_exchange_t *x, const char *platform) {
    char code[1024], state[80];
    if (rf_http_query_param(x, "state", state, sizeof state) <= 0 ||
        rf_http_query_param(x, "code", code, sizeof code) <= 0) {
        rf_http_reply_error(x, 400, "invalid_query", "the callback needs code and state");
        return;
    }
    /* the state must be ours, for this platform, unexpired and unused: taken
     * once, here, before the code is ever sent anywhere */
    const char *p[] = {state, platform};
    int64_t n = rf_db_exec_count(rf_worker_db(w),
                                 "UPDATE oauth_states SET used_at = now() WHERE state = $1"
                                 " AND platform = $2 AND used_at IS NULL AND expires_at > now()",
                                 2, p);
    if (n < 0) {
        rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; authorise again");
        return;
    }
    if (n == 0) {
        rf_warn("event=oauth_state_refused platform=%s", platform);
        rf_http_reply_error(x, 400, "invalid_state",
                            "unknown, expired or already used state: start the authorisation"
                            " again from the ops page or rfctl shops authorize");
        return;
    }
    pending_t *pd = pending_new(w, x, platform);
    if (!pd || shop_oauth_exchange(shop_http(), platform, code, on_tokens, pd) != 0) {
        free(pd);
        rf_http_reply_error(x, 503, "oauth_not_configured",
                            "the code could not be exchanged: is the platform's OAuth configured?");
    }
    rf_secrets_wipe(code, sizeof code);
}

/* ---- register, list, disable -------------------------------------------------------- */

static void register_shop(rf_worker_t *w, rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    static const char *const platforms[] = {"kuaishou", "douyin", NULL};
    const char *platform = rf_jsonv_oneof(doc, "platform", NULL, platforms, &v);
    const char *refresh = rf_jsonv_str(doc, "refresh_token", true, SHOP_TOKEN_MAX - 1, &v);
    const char *name = rf_jsonv_str(doc, "name", false, 120, &v);
    const char *shop_id = rf_jsonv_str(doc, "shop_id", false, SHOP_ID_MAX - 1, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    /* checked before the token is spent: a renewal rotates it */
    if (strcmp(platform, "kuaishou") == 0 && !*shop_id) {
        rf_http_reply_error(x, 400, "invalid_field",
                            "shop_id (the authorisation's open_id) is required for a Kuaishou shop:"
                            " its refresh answer does not name the shop");
        json_decref(doc);
        return;
    }
    pending_t *pd = pending_new(w, x, platform);
    if (pd) {
        pd->renewal = true;
        snprintf(pd->name, sizeof pd->name, "%s", name);
        snprintf(pd->shop_id, sizeof pd->shop_id, "%s", shop_id);
    }
    if (!pd || !shop_http() ||
        shop_oauth_refresh(shop_http(), platform, refresh, on_tokens, pd) != 0) {
        free(pd);
        rf_http_reply_error(x, 409, "oauth_not_configured",
                            "this platform's OAuth is not configured, or RF_SECRETS_KEY_FILE is"
                            " not set");
    }
    json_decref(doc);
}

#define SHOP_COLUMNS                                                                      \
    "json_build_object('platform', platform, 'shop_id', shop_id, 'name', name, 'status'," \
    " status, 'status_reason', status_reason, 'access_expires_at', access_expires_at,"    \
    " 'refresh_expires_at', refresh_expires_at, 'renew_at', renew_at, 'last_refresh_at'," \
    " last_refresh_at, 'refreshes', refreshes, 'token_version', token_version, 'scopes'," \
    " scopes, 'authorized_at', authorized_at)"

static void reply_shop(rf_worker_t *w, rf_http_exchange_t *x, int status, const char *platform,
                       const char *shop_id) {
    const char *p[] = {platform, shop_id};
    json_t *doc = rf_worker_query_json(w,
                                       "SELECT json_build_object('shop', (SELECT " SHOP_COLUMNS
                                       " FROM shops WHERE platform = $1 AND shop_id = $2))",
                                       2, p);
    if (!doc) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else if (json_is_null(json_object_get(doc, "shop"))) {
        json_decref(doc);
        rf_http_reply_error(x, 404, "not_found", "no such shop");
    } else rf_http_reply_json(x, status, doc);
}

static void list_shops(rf_worker_t *w, rf_http_exchange_t *x) {
    char platform[16] = "";
    if (rf_http_query_param(x, "platform", platform, sizeof platform) == -2 ||
        (*platform && !known_platform(platform))) {
        rf_http_reply_error(x, 400, "invalid_query", "platform must be kuaishou or douyin");
        return;
    }
    const char *p[] = {platform};
    rf_worker_reply_query(w, x,
                          "SELECT json_build_object('shops', COALESCE(json_agg(" SHOP_COLUMNS
                          " ORDER BY platform, shop_id), '[]')) FROM shops"
                          " WHERE $1 = '' OR platform = $1",
                          1, p);
}

static void disable_shop(rf_worker_t *w, rf_http_exchange_t *x, const char *platform,
                         const char *shop_id) {
    rf_bus_t *bus = rf_worker_bus(w);
    int rc = -1;
    if (rf_bus_tx_begin(bus) == 0) {
        rc = shop_store_status(bus, rf_worker_db(w), platform, shop_id, "disabled",
                               "disabled by an operator");
        if (rc < 0 || rf_bus_tx_commit(bus) != 0) {
            rf_bus_tx_rollback(bus);
            rc = -1;
        }
    }
    if (rc < 0) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else reply_shop(w, x, 200, platform, shop_id); /* 0: already disabled, or 404 below */
}

/* "/v1/shops/{platform}/{shop_id}/disable" into its two parts. */
static bool match_disable(const char *path, char *platform, size_t pcap, char *shop_id,
                          size_t scap) {
    const char *prefix = "/v1/shops/", *suffix = "/disable";
    size_t lp = strlen(prefix), ls = strlen(suffix), n = strlen(path);
    if (n <= lp + ls || strncmp(path, prefix, lp) != 0 || strcmp(path + n - ls, suffix) != 0)
        return false;
    const char *a = path + lp, *slash = strchr(a, '/');
    if (!slash || slash == a || (size_t)(slash - a) >= pcap) return false;
    const char *b = slash + 1;
    size_t blen = (size_t)(path + n - ls - b);
    if (blen == 0 || blen >= scap || memchr(b, '/', blen)) return false;
    snprintf(platform, pcap, "%.*s", (int)(slash - a), a);
    snprintf(shop_id, scap, "%.*s", (int)blen, b);
    return true;
}

bool intake_shops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    const char *method = rf_http_method(x), *path = rf_http_path(x);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char platform[16], shop_id[SHOP_ID_MAX];
    if (get && strcmp(path, "/v1/shops/authorize") == 0) authorize(w, x);
    else if (get && strcmp(path, "/v1/oauth/kuaishou/callback") == 0) callback(w, x, "kuaishou");
    else if (get && strcmp(path, "/v1/oauth/douyin/callback") == 0) callback(w, x, "douyin");
    else if (get && strcmp(path, "/v1/shops") == 0) list_shops(w, x);
    else if (post && strcmp(path, "/v1/shops") == 0) register_shop(w, x);
    else if (post && match_disable(path, platform, sizeof platform, shop_id, sizeof shop_id)) {
        if (!known_platform(platform)) rf_http_reply_error(x, 404, "not_found", "no such shop");
        else disable_shop(w, x, platform, shop_id);
    } else return false;
    return true;
}
