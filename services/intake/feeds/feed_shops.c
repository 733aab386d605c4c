/*
 * feed_shops.c: each shop's calls, for both platforms (feeds_internal.h).
 *
 * Every call intake makes names its shop and goes out with that shop's access
 * token (shops/shops.h). Each shop has its own backoff: a rate limit or a
 * failure pauses that shop's calls only, never another's. An answer saying
 * the token is invalid asks for the shop's renewal at once; the call's owner
 * tries again (pushes, order asks and the polls all come back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

static intake_feed_shop_t *shops;
static size_t n_shops, cap_shops;

intake_feed_shop_t *intake_feed_shop(const char *platform, const char *shop_id) {
    for (size_t i = 0; i < n_shops; i++)
        if (strcmp(shops[i].shop_id, shop_id) == 0 && strcmp(shops[i].platform, platform) == 0)
            return &shops[i];
    if (strlen(shop_id) >= sizeof shops[0].shop_id || strlen(platform) >= sizeof shops[0].platform)
        return NULL;
    if (n_shops == cap_shops) {
        size_t cap = cap_shops ? 2 * cap_shops : 16;
        intake_feed_shop_t *grown = realloc(shops, cap * sizeof *grown);
        if (!grown) return NULL;
        shops = grown;
        cap_shops = cap;
    }
    intake_feed_shop_t *s = &shops[n_shops++];
    memset(s, 0, sizeof *s);
    snprintf(s->platform, sizeof s->platform, "%s", platform);
    snprintf(s->shop_id, sizeof s->shop_id, "%s", shop_id);
    s->backoff_ms = BACKOFF_MIN_MS;
    return s;
}

bool intake_feed_shop_paused(const intake_feed_shop_t *s) { return rf_now_ms() < s->paused_until; }

void intake_feed_shop_back_off(intake_feed_shop_t *s, const char *kind, const char *what,
                               const char *error) {
    if (s->backoff_ms < BACKOFF_MIN_MS) s->backoff_ms = BACKOFF_MIN_MS;
    s->paused_until = rf_now_ms() + s->backoff_ms;
    if (strcmp(kind, "rate_limited") == 0) atomic_fetch_add(&intake_feed_counters.rate_limited, 1);
    else atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
    rf_warn("event=platform_call_failed platform=%s shop_id=%s call=%s outcome=%s"
            " backoff_ms=%lld error=\"%s\"",
            s->platform, s->shop_id, what, kind, (long long)s->backoff_ms, error ? error : "");
    if (strcmp(kind, "token_invalid") == 0) {
        /* not the platform's trouble: renew, and try again in a second */
        s->paused_until = rf_now_ms() + BACKOFF_MIN_MS;
        if (*s->shop_id) intake_shop_token_rejected(intake_ks.w, s->platform, s->shop_id);
        return;
    }
    s->backoff_ms *= 2;
    if (s->backoff_ms > BACKOFF_MAX_MS) s->backoff_ms = BACKOFF_MAX_MS;
}

void intake_feed_shop_succeeded(intake_feed_shop_t *s) { s->backoff_ms = BACKOFF_MIN_MS; }

int intake_feed_shop_token(rf_worker_t *w, const intake_feed_shop_t *s, const char *fixed,
                           char *out, size_t cap) {
    /* the shop's own token; the fixed one only for a shop not in the
     * registry (a trial set-up), never for a disabled or lapsed one */
    out[0] = '\0';
    int have = *s->shop_id ? intake_shop_access_token(w, s->platform, s->shop_id, out, cap) : 0;
    if (have == 1) return 1;
    if (have == 0 && fixed && *fixed) {
        snprintf(out, cap, "%s", fixed);
        return 1;
    }
    rf_debug("event=platform_call_no_token platform=%s shop_id=%s", s->platform, s->shop_id);
    return 0;
}

void intake_feed_poll_active(rf_worker_t *w, const char *platform,
                             void (*poll)(rf_db_t *db, intake_feed_shop_t *s)) {
    rf_db_t *db = rf_worker_db(w);
    if (!rf_db_connected(db)) return;
    json_t *active = intake_shops_active(w, platform);
    size_t i;
    json_t *id;
    json_array_foreach(active, i, id) {
        intake_feed_shop_t *s = intake_feed_shop(platform, json_string_value(id));
        if (s) poll(db, s);
    }
    json_decref(active);
}
