/*
 * rules.c: the review worker's policy as pure functions: the ordered rules
 * engine (first matching rule wins: auto_approve, auto_reject with a reason,
 * or manual), the rejection reasons, liability and cost bearer by reason,
 * and the returnless refund decision. A shop's policy is a JSON document (README "## Policy");
 * what it leaves out takes the defaults from the worker's settings.
 */
#include <stdio.h>
#include <string.h>

#include "review.h"

int64_t review_auto_approve_max_fen = 5000;
int64_t review_cs_limit_fen = 50000;
int64_t review_return_shipping_cost_fen = 1000;

static const char *const reject_reasons[] = {
    "window_expired", "category_excluded", "quantity_exceeded", "duplicate_request",
    "order_unknown",  "condition_failed",  "reviewer_rejected", NULL};
_Static_assert(sizeof reject_reasons / sizeof *reject_reasons == REVIEW_REJECT_REASONS + 1,
               "REVIEW_REJECT_REASONS (review.h) counts reject_reasons");

const char *review_liability(const char *reason_code) {
    if (strcmp(reason_code, "quality") == 0 || strcmp(reason_code, "wrong_item") == 0 ||
        strcmp(reason_code, "not_as_described") == 0)
        return "supplier";
    if (strcmp(reason_code, "damaged") == 0 || strcmp(reason_code, "late") == 0) return "carrier";
    if (strcmp(reason_code, "changed_mind") == 0 || strcmp(reason_code, "size_fit") == 0)
        return "buyer";
    return "merchant";
}

static int reject_reason_index(const char *code) {
    for (int i = 0; reject_reasons[i]; i++)
        if (strcmp(reject_reasons[i], code) == 0) return i;
    return -1;
}

bool review_reject_reason_known(const char *code) { return reject_reason_index(code) >= 0; }

static int64_t reject_code(const int64_t codes[REVIEW_REJECT_REASONS + 1], const char *reason) {
    int i = reason ? reject_reason_index(reason) : -1;
    if (i >= 0 && codes[i] > 0) return codes[i];
    return codes[REVIEW_REJECT_REASONS];
}

int64_t review_ks_reject_code(const review_policy_t *p, const char *reason) {
    return reject_code(p->ks_reject_codes, reason);
}

int64_t review_dy_reject_code(const review_policy_t *p, const char *reason) {
    return reject_code(p->dy_reject_codes, reason);
}

/* "kuaishou_reject_reason_codes" ("douyin_reject_reason_codes"):
 * {"<rejection reason>" or "*": the platform's code}, into out. */
static int read_reject_codes(json_t *doc, const char *name, const char *platform_code,
                             int64_t out[REVIEW_REJECT_REASONS + 1], char *err, size_t errlen) {
    json_t *codes = json_object_get(doc, name);
    if (!codes) return 0;
    const char *key;
    json_t *v;
    if (!json_is_object(codes)) goto bad;
    json_object_foreach(codes, key, v) {
        int i = strcmp(key, "*") == 0 ? REVIEW_REJECT_REASONS : reject_reason_index(key);
        if (i < 0 || !json_is_integer(v) || json_integer_value(v) <= 0) goto bad;
        out[i] = (int64_t)json_integer_value(v);
    }
    return 0;
bad:
    snprintf(err, errlen, "%s must map rejection reasons (or \"*\") to %s numbers", name,
             platform_code);
    return -1;
}

static int read_strs(json_t *r, const char *key, char (*dst)[REVIEW_WORD_MAX], size_t *n, char *err,
                     size_t errlen) {
    json_t *a = json_object_get(r, key);
    *n = 0;
    if (!a) return 0;
    if (json_is_string(a)) {
        if (strlen(json_string_value(a)) >= REVIEW_WORD_MAX) goto bad;
        snprintf(dst[(*n)++], REVIEW_WORD_MAX, "%s", json_string_value(a));
        return 0;
    }
    if (!json_is_array(a) || json_array_size(a) > REVIEW_LIST_MAX) goto bad;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || strlen(s) >= REVIEW_WORD_MAX) goto bad;
        snprintf(dst[(*n)++], REVIEW_WORD_MAX, "%s", s);
    }
    return 0;
bad:
    snprintf(err, errlen, "%s must be a string or an array of at most %d strings", key,
             REVIEW_LIST_MAX);
    return -1;
}

static int read_int(json_t *r, const char *key, int64_t *out, char *err, size_t errlen) {
    json_t *v = json_object_get(r, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "%s must be a non-negative integer", key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int review_rule_from_json(json_t *r, review_rule_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->max_amount_fen = out->max_buyer_returns_90d = -1;
    if (!json_is_object(r)) {
        snprintf(err, errlen, "a rule must be an object");
        return -1;
    }
    const char *name = json_string_value(json_object_get(r, "name"));
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    const char *outcome = json_string_value(json_object_get(r, "outcome"));
    if (!outcome) outcome = "";
    if (strcmp(outcome, "auto_approve") == 0) out->outcome = REVIEW_AUTO_APPROVE;
    else if (strcmp(outcome, "auto_reject") == 0) out->outcome = REVIEW_AUTO_REJECT;
    else if (strcmp(outcome, "manual") == 0) out->outcome = REVIEW_MANUAL;
    else {
        snprintf(err, errlen, "rule %s: outcome must be auto_approve, auto_reject or manual",
                 out->name);
        return -1;
    }
    const char *reason = json_string_value(json_object_get(r, "reject_reason"));
    snprintf(out->reject_reason, sizeof out->reject_reason, "%s",
             reason ? reason : "reviewer_rejected");
    if (out->outcome == REVIEW_AUTO_REJECT && !review_reject_reason_known(out->reject_reason)) {
        snprintf(err, errlen, "rule %s: reject_reason %s is not a rejection reason", out->name,
                 out->reject_reason);
        return -1;
    }
    if (read_strs(r, "kind", out->kinds, &out->n_kinds, err, errlen) != 0 ||
        read_strs(r, "reason", out->reasons, &out->n_reasons, err, errlen) != 0 ||
        read_strs(r, "category", out->categories, &out->n_categories, err, errlen) != 0 ||
        read_strs(r, "supplier", out->suppliers, &out->n_suppliers, err, errlen) != 0 ||
        read_int(r, "min_amount_fen", &out->min_amount_fen, err, errlen) != 0 ||
        read_int(r, "max_amount_fen", &out->max_amount_fen, err, errlen) != 0 ||
        read_int(r, "min_buyer_returns_90d", &out->min_buyer_returns_90d, err, errlen) != 0 ||
        read_int(r, "max_buyer_returns_90d", &out->max_buyer_returns_90d, err, errlen) != 0)
        return -1;
    return 0;
}

void review_policy_default(review_policy_t *p) {
    memset(p, 0, sizeof *p);
    p->cs_limit_fen = review_cs_limit_fen;
    p->return_shipping_cost_fen = review_return_shipping_cost_fen;
    p->returnless = true;
    /* refund-only up to the automatic limit, for a buyer with fewer than 3
     * returns in 90 days: approved at once; everything else: a person. */
    review_rule_t *r = &p->rules[p->n_rules++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "small_refund_only");
    snprintf(r->kinds[0], REVIEW_WORD_MAX, "refund_only");
    r->n_kinds = 1;
    r->max_amount_fen = review_auto_approve_max_fen;
    r->max_buyer_returns_90d = 2;
    r->outcome = REVIEW_AUTO_APPROVE;
    r = &p->rules[p->n_rules++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "default_manual");
    r->max_amount_fen = r->max_buyer_returns_90d = -1;
    r->outcome = REVIEW_MANUAL;
}

int review_policy_from_json(json_t *doc, review_policy_t *p, char *err, size_t errlen) {
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "a review policy must be a JSON object");
        return -1;
    }
    if (read_int(doc, "cs_limit_fen", &p->cs_limit_fen, err, errlen) != 0 ||
        read_int(doc, "return_shipping_cost_fen", &p->return_shipping_cost_fen, err, errlen) != 0)
        return -1;
    json_t *rl = json_object_get(doc, "returnless");
    if (rl) p->returnless = json_is_true(rl);
    json_t *addr = json_object_get(doc, "return_address_id");
    if (addr &&
        (!json_is_string(addr) || json_string_length(addr) >= sizeof p->return_address_id)) {
        snprintf(err, errlen, "return_address_id must be the platform's address id (text)");
        return -1;
    }
    if (addr)
        snprintf(p->return_address_id, sizeof p->return_address_id, "%s", json_string_value(addr));
    if (read_reject_codes(doc, "kuaishou_reject_reason_codes", "Kuaishou's reasonCode",
                          p->ks_reject_codes, err, errlen) != 0 ||
        read_reject_codes(doc, "douyin_reject_reason_codes", "Douyin's reject_reason_code",
                          p->dy_reject_codes, err, errlen) != 0)
        return -1;
    json_t *rules = json_object_get(doc, "rules");
    if (!rules) return 0;
    if (!json_is_array(rules) || json_array_size(rules) > REVIEW_RULES_MAX) {
        snprintf(err, errlen, "rules must be an array of at most %d rules", REVIEW_RULES_MAX);
        return -1;
    }
    p->n_rules = 0;
    for (size_t i = 0; i < json_array_size(rules); i++)
        if (review_rule_from_json(json_array_get(rules, i), &p->rules[p->n_rules++], err, errlen) !=
            0)
            return -1;
    return 0;
}

static bool listed(const char (*list)[REVIEW_WORD_MAX], size_t n, const char *v) {
    if (n == 0) return true; /* no condition */
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0) return true;
    return false;
}

bool review_rule_matches(const review_rule_t *r, const review_facts_t *f) {
    return listed(r->kinds, r->n_kinds, f->kind) && listed(r->reasons, r->n_reasons, f->reason) &&
           listed(r->categories, r->n_categories, f->category) &&
           listed(r->suppliers, r->n_suppliers, f->supplier_id) &&
           f->amount_fen >= r->min_amount_fen &&
           (r->max_amount_fen < 0 || f->amount_fen <= r->max_amount_fen) &&
           f->buyer_returns_90d >= r->min_buyer_returns_90d &&
           (r->max_buyer_returns_90d < 0 || f->buyer_returns_90d <= r->max_buyer_returns_90d);
}

const review_rule_t *review_evaluate(const review_policy_t *p, const review_facts_t *f) {
    for (size_t i = 0; i < p->n_rules; i++)
        if (review_rule_matches(&p->rules[i], f)) return &p->rules[i];
    return NULL; /* no rule: a person decides */
}

bool review_policy_uses_history(const review_policy_t *p) {
    for (size_t i = 0; i < p->n_rules; i++)
        if (p->rules[i].min_buyer_returns_90d > 0 || p->rules[i].max_buyer_returns_90d >= 0)
            return true;
    return false;
}

const char *review_required_role(const review_policy_t *p, int64_t amount_fen) {
    return amount_fen > p->cs_limit_fen ? "cs_supervisor" : "cs";
}

const char *review_cost_bearer(const char *liability, bool freight_insured) {
    if (strcmp(liability, "buyer") == 0) return freight_insured ? "insurer" : "buyer";
    return liability;
}

bool review_returnless(const review_policy_t *p, const char *kind, int64_t goods_value_fen) {
    return p->returnless && strcmp(kind, "return_refund") == 0 &&
           p->return_shipping_cost_fen > goods_value_fen;
}
