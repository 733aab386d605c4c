/*
 * policy.c: the intake worker's acceptability rules, as pure functions.
 *
 * A shop's return policy (window lengths, category exclusions) and the check
 * that decides at once whether a request can be taken at all: the order line
 * exists, the quantity is not more than ordered minus already returned, only
 * one open return per line, the return window (7 days without a reason, 15
 * for a quality fault, counted from the day after delivery in the shop's
 * time zone), and the category exclusions. Also the reasons a request may
 * give, and the pro-rata allocation of an order's discount and shipping fee
 * to its lines.
 */
#include <stdio.h>
#include <string.h>

#include "intake.h"

const char *const intake_reasons[] = {
    "quality",  "wrong_item",       "damaged", "late", "changed_mind",
    "size_fit", "not_as_described", "other",   NULL};

bool intake_reason_known(const char *reason_code) {
    for (const char *const *r = intake_reasons; *r; r++)
        if (strcmp(*r, reason_code) == 0) return true;
    return false;
}

/* Reasons that are the goods' or the seller's fault: always reviewable, and
 * with the longer quality window. */
static const char *const fault_reasons[] = {"quality", "wrong_item", "damaged", "not_as_described",
                                            NULL};

bool intake_reason_is_fault(const char *reason_code) {
    for (const char *const *r = fault_reasons; *r; r++)
        if (strcmp(*r, reason_code) == 0) return true;
    return false;
}

static void set_list(char (*dst)[INTAKE_CATEGORY_MAX], size_t *n, const char *const *src) {
    *n = 0;
    for (; *src && *n < INTAKE_CATEGORIES_MAX; src++)
        snprintf(dst[(*n)++], INTAKE_CATEGORY_MAX, "%s", *src);
}

void intake_policy_default(intake_policy_t *p) {
    static const char *const never[] = {"customised", "fresh",      "perishable", "digital",
                                        "newspaper",  "periodical", NULL};
    static const char *const conditional[] = {"food",        "cosmetics",       "activated",
                                              "near_expiry", "declared_defect", NULL};
    memset(p, 0, sizeof *p);
    p->no_reason_days = 7;
    p->quality_days = 15;
    p->tz_offset_min = 480; /* Beijing time */
    p->one_open_per_line = true;
    set_list(p->never, &p->n_never, never);
    set_list(p->conditional, &p->n_conditional, conditional);
}

static int read_list(json_t *doc, const char *key, char (*dst)[INTAKE_CATEGORY_MAX], size_t *n,
                     char *err, size_t errlen) {
    json_t *a = json_object_get(doc, key);
    if (!a) return 0;
    if (!json_is_array(a) || json_array_size(a) > INTAKE_CATEGORIES_MAX) {
        snprintf(err, errlen, "%s must be an array of at most %d categories", key,
                 INTAKE_CATEGORIES_MAX);
        return -1;
    }
    *n = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || strlen(s) >= INTAKE_CATEGORY_MAX) {
            snprintf(err, errlen, "%s[%zu] must be a category name", key, i);
            return -1;
        }
        snprintf(dst[(*n)++], INTAKE_CATEGORY_MAX, "%s", s);
    }
    return 0;
}

static int read_days(json_t *doc, const char *key, int64_t *out, int64_t max, char *err,
                     size_t errlen) {
    json_t *v = json_object_get(doc, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        snprintf(err, errlen, "%s must be an integer 0..%lld", key, (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int intake_policy_from_json(json_t *doc, intake_policy_t *p, char *err, size_t errlen) {
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "a policy must be a JSON object");
        return -1;
    }
    json_t *one = json_object_get(doc, "one_open_per_line");
    if (one && !json_is_boolean(one)) {
        snprintf(err, errlen, "one_open_per_line must be true or false");
        return -1;
    }
    if (one) p->one_open_per_line = json_is_true(one);
    if (read_days(doc, "no_reason_days", &p->no_reason_days, 365, err, errlen) != 0 ||
        read_days(doc, "quality_days", &p->quality_days, 3650, err, errlen) != 0 ||
        read_days(doc, "tz_offset_min", &p->tz_offset_min, 14 * 60, err, errlen) != 0 ||
        read_list(doc, "never_without_fault", p->never, &p->n_never, err, errlen) != 0 ||
        read_list(doc, "unless_exclusion_confirmed", p->conditional, &p->n_conditional, err,
                  errlen) != 0)
        return -1;
    return 0;
}

#define DAY_MS 86400000LL

int64_t intake_window_end(int64_t delivered_at, int64_t days, int64_t tz_offset_min) {
    int64_t off = tz_offset_min * 60000LL;
    int64_t local = delivered_at + off;
    int64_t day = local >= 0 ? local / DAY_MS : -((-local + DAY_MS - 1) / DAY_MS);
    /* Day 1 is the day after delivery; the window closes at the end of day N. */
    return (day + 1 + days) * DAY_MS - off;
}

static bool in_list(const char (*list)[INTAKE_CATEGORY_MAX], size_t n, const char *category) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], category) == 0) return true;
    return false;
}

const char *intake_check(const intake_policy_t *p, const intake_check_in_t *in, char *msg,
                         size_t msglen) {
    if (!in->line_found) {
        snprintf(msg, msglen, "order line is not known; send the order first");
        return "order_unknown";
    }
    if (p->one_open_per_line && in->open_returns > 0) {
        snprintf(msg, msglen, "the line already has an open return (%s); one at a time",
                 in->open_return_id);
        return "duplicate_request";
    }
    if (in->quantity > in->ordered - in->returned) {
        snprintf(msg, msglen, "quantity %lld exceeds the %lld units ordered and not returned",
                 (long long)in->quantity, (long long)(in->ordered - in->returned));
        return "quantity_exceeded";
    }
    bool fault = intake_reason_is_fault(in->reason_code);
    if (in->delivered_at > 0) {
        int64_t days = fault ? p->quality_days : p->no_reason_days;
        int64_t end = intake_window_end(in->delivered_at, days, p->tz_offset_min);
        if (in->requested_at >= end) {
            snprintf(msg, msglen, "the %lld-day %s window closed at %lld (ms); requested at %lld",
                     (long long)days, fault ? "quality" : "no-reason", (long long)end,
                     (long long)in->requested_at);
            return "window_expired";
        }
    }
    if (!fault && in->category && *in->category) {
        if (in_list(p->never, p->n_never, in->category)) {
            snprintf(msg, msglen, "category %s is never returned without a quality fault",
                     in->category);
            return "category_excluded";
        }
        if (in->exclusion_confirmed && in_list(p->conditional, p->n_conditional, in->category)) {
            snprintf(msg, msglen,
                     "category %s: the buyer confirmed the return exclusion at purchase",
                     in->category);
            return "category_excluded";
        }
    }
    return NULL;
}

int intake_allocate(int64_t total, const int64_t *weights, size_t n, int64_t *out) {
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (weights[i] < 0) return -1;
        sum += weights[i];
    }
    if (n == 0) return total == 0 ? 0 : -1;
    if (total < 0) return -1;
    if (sum == 0) { /* nothing to weigh by: all on the first line */
        for (size_t i = 0; i < n; i++) out[i] = i == 0 ? total : 0;
        return 0;
    }
    /* Floor of each exact share, then the fen left over go one each to the
     * largest remainders (ties: the earlier line). __int128 keeps
     * total * weight exact. */
    int64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (int64_t)(((__int128)total * weights[i]) / sum);
        given += out[i];
    }
    int64_t left = total - given;
    while (left > 0) {
        size_t best = 0;
        __int128 best_rem = -1;
        for (size_t i = 0; i < n; i++) {
            __int128 rem = ((__int128)total * weights[i]) % sum;
            /* a line already given its extra fen this round is skipped by
             * comparing against its floor */
            if (out[i] > (int64_t)(((__int128)total * weights[i]) / sum)) continue;
            if (rem > best_rem) {
                best_rem = rem;
                best = i;
            }
        }
        out[best]++;
        left--;
    }
    return 0;
}
