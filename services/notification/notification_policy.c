/*
 * notification_policy.c: which notices a shop sends (its templates), and the
 * shop of each return where that matters.
 *
 * The lean default: a notice only where someone is told something they act
 * on or wait for. The buyer on approval, rejection, refund issued, refund
 * failed and exchange shipped (and the satisfaction survey); the supplier on
 * a claim; operations on alerts: ops.alert, deadlines at risk, and the two
 * alerts nothing else raises (a refund that failed, a platform's
 * arbitration). Every other notice is off unless a shop turns it on.
 *
 * RF_NOTIFICATION_POLICY_FILE, read at start-up and checked whole (a bad
 * file stops start-up):
 *
 *   {"default": {"return.requested": {"buyer": true}},
 *    "shops": {"S1": {"reship.updated": {"supplier": true, "buyer": true},
 *                     "refund.failed": {"ops": false}}}}
 *
 * Keys are event types, or event type:state for the events that tell
 * different things by state (reship.updated:requested|shipped|delivered,
 * return.updated:arbitration); "survey" is the satisfaction survey. A plain
 * event type applies to each of its states, before the qualified keys. A
 * shop's section applies over the default section, over the built-in
 * defaults.
 *
 * Only return.requested (and return.approved) carry the shop, so for a shop
 * with its own policy notification remembers each return's shop
 * (return_shops, one row per return of such a shop; none for the others, so
 * a deployment without shop sections writes nothing for it), behind a small
 * cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification.h"
#include "runtime/ids.h"
#include "runtime/log.h"

char notification_policy_file[RF_CFG_STR_MAX];

static const struct {
    const char *name, *audience;
    bool on; /* the built-in default */
} kinds[NK__COUNT] = {
    [NK_REQUESTED_BUYER] = {"return.requested", "buyer", false},
    [NK_REVIEW_OPENED_OPS] = {"review.opened", "ops", false},
    [NK_DEADLINE_NEAR_OPS] = {"review.deadline_near", "ops", true},
    [NK_APPROVED_BUYER] = {"return.approved", "buyer", true},
    [NK_APPROVED_SUPPLIER] = {"return.approved", "supplier", false},
    [NK_REJECTED_BUYER] = {"return.rejected", "buyer", true},
    [NK_CANCELLED_BUYER] = {"return.cancelled", "buyer", false},
    [NK_RECEIVED_BUYER] = {"goods.received", "buyer", false},
    [NK_INSPECTED_SUPPLIER] = {"goods.inspected", "supplier", false},
    [NK_AWAITING_APPROVAL_OPS] = {"refund.awaiting_approval", "ops", false},
    [NK_REFUNDED_BUYER] = {"refund.issued", "buyer", true},
    [NK_REFUND_FAILED_BUYER] = {"refund.failed", "buyer", true},
    [NK_REFUND_FAILED_OPS] = {"refund.failed", "ops", true},
    [NK_OPS_ALERT_OPS] = {"ops.alert", "ops", true},
    [NK_ARBITRATION_OPS] = {"return.updated:arbitration", "ops", true},
    [NK_CLAIM_SUPPLIER] = {"claim.opened", "supplier", true},
    [NK_RESHIP_REQUESTED_SUPPLIER] = {"reship.updated:requested", "supplier", false},
    [NK_RESHIP_SHIPPED_BUYER] = {"reship.updated:shipped", "buyer", true},
    [NK_RESHIP_DELIVERED_BUYER] = {"reship.updated:delivered", "buyer", false},
    [NK_SURVEY_BUYER] = {"survey", "buyer", true},
};

const char *notification_kind_name(notification_kind_t k) {
    return k < NK__COUNT ? kinds[k].name : "";
}

const char *notification_kind_audience(notification_kind_t k) {
    return k < NK__COUNT ? kinds[k].audience : "";
}

notification_policy_t notification_policy_builtin(void) {
    notification_policy_t p = {0};
    for (int k = 0; k < NK__COUNT; k++)
        if (kinds[k].on) p.on |= 1u << k;
    return p;
}

/* key names kind k: exactly, or as the plain event type of a qualified kind. */
static bool key_names(const char *key, int k) {
    size_t n = strlen(key);
    return strncmp(kinds[k].name, key, n) == 0 &&
           (kinds[k].name[n] == '\0' || (kinds[k].name[n] == ':' && !strchr(key, ':')));
}

static int apply_key(const char *key, json_t *val, notification_policy_t *p, char *err,
                     size_t errlen) {
    bool any = false;
    for (int k = 0; k < NK__COUNT; k++) any = any || key_names(key, k);
    if (!any) {
        snprintf(err, errlen, "%s: not an event notification writes a notice about", key);
        return -1;
    }
    if (!json_is_object(val)) {
        snprintf(err, errlen, "%s: want {\"<audience>\": true|false}", key);
        return -1;
    }
    const char *aud;
    json_t *on;
    json_object_foreach(val, aud, on) {
        if (!json_is_boolean(on)) {
            snprintf(err, errlen, "%s.%s: want true or false", key, aud);
            return -1;
        }
        bool found = false;
        for (int k = 0; k < NK__COUNT; k++) {
            if (!key_names(key, k) || strcmp(kinds[k].audience, aud) != 0) continue;
            found = true;
            if (json_is_true(on)) p->on |= 1u << k;
            else p->on &= ~(1u << k);
        }
        if (!found) {
            snprintf(err, errlen, "%s.%s: no notice to %s about %s", key, aud, aud, key);
            return -1;
        }
    }
    return 0;
}

int notification_policy_parse(json_t *section, notification_policy_t *p, char *err, size_t errlen) {
    if (!json_is_object(section)) {
        snprintf(err, errlen, "a policy section must be an object");
        return -1;
    }
    /* Plain event types first, then the qualified ones over them. */
    for (int pass = 0; pass < 2; pass++) {
        const char *key;
        json_t *val;
        json_object_foreach(section, key, val) {
            if ((strchr(key, ':') != NULL) != (pass == 1)) continue;
            if (apply_key(key, val, p, err, errlen) != 0) return -1;
        }
    }
    return 0;
}

/* ---- loaded policy ---------------------------------------------------------------------- */

typedef struct shop_policy {
    char *shop_id;
    notification_policy_t policy;
} shop_policy_t;

static notification_policy_t default_policy;
static bool default_ready;
static shop_policy_t *shops;
static size_t n_shops;

static int by_shop(const void *a, const void *b) {
    return strcmp(((const shop_policy_t *)a)->shop_id, ((const shop_policy_t *)b)->shop_id);
}

static void free_shops(shop_policy_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) free(s[i].shop_id);
    free(s);
}

int notification_policy_load_doc(json_t *doc, char *err, size_t errlen) {
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "want {\"default\": {...}, \"shops\": {...}}");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(doc, key, val) {
        if (strcmp(key, "default") != 0 && strcmp(key, "shops") != 0) {
            snprintf(err, errlen, "%s: unknown (want default and shops)", key);
            return -1;
        }
    }
    notification_policy_t def = notification_policy_builtin();
    json_t *d = json_object_get(doc, "default"), *s = json_object_get(doc, "shops");
    if (d && notification_policy_parse(d, &def, err, errlen) != 0) return -1;
    if (s && !json_is_object(s)) {
        snprintf(err, errlen, "shops: want {\"<shop_id>\": {...}}");
        return -1;
    }
    size_t n = s ? json_object_size(s) : 0, i = 0;
    shop_policy_t *list = n ? calloc(n, sizeof *list) : NULL;
    if (n && !list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_object_foreach(s, key, val) {
        char sub[200] = "";
        if (!list || i >= n) break; /* (the object does not change meanwhile) */
        list[i].policy = def;
        list[i].shop_id = strdup(key);
        if (!list[i].shop_id ||
            notification_policy_parse(val, &list[i].policy, sub, sizeof sub) != 0) {
            snprintf(err, errlen, "shops.%s: %s", key, list[i].shop_id ? sub : "out of memory");
            free_shops(list, i + 1);
            return -1;
        }
        i++;
    }
    if (n) qsort(list, n, sizeof *list, by_shop);
    free_shops(shops, n_shops);
    shops = list;
    n_shops = n;
    default_policy = def;
    default_ready = true;
    notification_shop_forget_all();
    return 0;
}

int notification_policy_load(void) {
    if (!*notification_policy_file) {
        default_policy = notification_policy_builtin();
        default_ready = true;
        return 0;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(notification_policy_file, 0, &jerr);
    if (!doc) {
        rf_error("event=policy_file_invalid file=%s line=%d error=\"%s\"", notification_policy_file,
                 jerr.line, jerr.text);
        return -1;
    }
    char err[300] = "";
    int rc = notification_policy_load_doc(doc, err, sizeof err);
    json_decref(doc);
    if (rc != 0) {
        rf_error("event=policy_file_invalid file=%s error=\"%s\"", notification_policy_file, err);
        return -1;
    }
    rf_info("event=policy_loaded file=%s shops=%zu", notification_policy_file, n_shops);
    return 0;
}

size_t notification_policy_shops(void) { return n_shops; }

notification_policy_t notification_policy_of_shop(const char *shop_id, bool *own) {
    if (own) *own = false;
    if (!default_ready) {
        default_policy = notification_policy_builtin();
        default_ready = true;
    }
    if (shop_id && *shop_id && n_shops) {
        shop_policy_t key = {.shop_id = (char *)shop_id};
        const shop_policy_t *hit = bsearch(&key, shops, n_shops, sizeof *shops, by_shop);
        if (hit) {
            if (own) *own = true;
            return hit->policy;
        }
    }
    return default_policy;
}

/* ---- return -> shop cache --------------------------------------------------------------- */

/* Direct-mapped by a hash of the return id: a miss only costs a lookup in
 * return_shops. */
#define SHOP_CACHE_SLOTS 4096
static struct {
    char return_id[RF_ID_MAX];
    char shop_id[RF_ID_MAX]; /* "": the shop has the default */
} cache[SHOP_CACHE_SLOTS];

static size_t slot_of(const char *return_id) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)return_id; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h % SHOP_CACHE_SLOTS;
}

void notification_shop_remember(const char *return_id, const char *shop_id) {
    if (!return_id || strlen(return_id) >= RF_ID_MAX) return;
    size_t s = slot_of(return_id);
    snprintf(cache[s].return_id, sizeof cache[s].return_id, "%s", return_id);
    snprintf(cache[s].shop_id, sizeof cache[s].shop_id, "%s", shop_id ? shop_id : "");
}

int notification_shop_cached(const char *return_id, const char **shop_id) {
    size_t s = slot_of(return_id);
    if (strcmp(cache[s].return_id, return_id) != 0) return 0;
    *shop_id = cache[s].shop_id;
    return 1;
}

void notification_shop_forget_all(void) { memset(cache, 0, sizeof cache); }
