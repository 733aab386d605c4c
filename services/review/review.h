/*
 * review.h: the review worker's parts, shared by main.c, review.c (events
 * in, HTTP API, deadline alerts), decide.c (deciding a task), rules.c (the
 * policy), platform.c (the decision calls) and review_db.c (its SQL).
 */
#ifndef REVIEW_H
#define REVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "http/http.h"
#include "proto/proto.h"
#include "worker/worker.h"

/* Settings (filled by the worker's configuration table; the policy's
 * defaults are rules.c's, the rest review.c's). */
extern int64_t review_auto_approve_max_fen;     /* refund-only at or under this: automatic */
extern int64_t review_cs_limit_fen;             /* above this a CS supervisor must decide */
extern int64_t review_return_shipping_cost_fen; /* returnless refund when goods are worth less */
extern int64_t review_deadline_scan_ms;         /* how often tasks are scanned for deadlines */
extern char review_policy_file[RF_CFG_STR_MAX]; /* RF_REVIEW_POLICY_FILE, "" for none */

/* ---- rules.c: the shop's review policy ---------------------------------------- */

#define REVIEW_WORD_MAX 64
#define REVIEW_LIST_MAX 8
#define REVIEW_REJECT_REASONS 7 /* the rejection reasons (rules.c) */
#define REVIEW_RULES_MAX 32

typedef enum review_outcome {
    REVIEW_MANUAL = 0,
    REVIEW_AUTO_APPROVE = 1,
    REVIEW_AUTO_REJECT = 2,
} review_outcome_t;

/* One rule: every condition given must hold (an empty list or a -1 bound is
 * no condition). */
typedef struct review_rule {
    char name[REVIEW_WORD_MAX];
    char kinds[REVIEW_LIST_MAX][REVIEW_WORD_MAX];
    size_t n_kinds;
    char reasons[REVIEW_LIST_MAX][REVIEW_WORD_MAX];
    size_t n_reasons;
    char categories[REVIEW_LIST_MAX][REVIEW_WORD_MAX];
    size_t n_categories;
    char suppliers[REVIEW_LIST_MAX][REVIEW_WORD_MAX];
    size_t n_suppliers;
    int64_t min_amount_fen, max_amount_fen;               /* requested amount */
    int64_t min_buyer_returns_90d, max_buyer_returns_90d; /* the buyer's other returns */
    review_outcome_t outcome;
    char reject_reason[REVIEW_WORD_MAX]; /* for auto_reject */
} review_rule_t;

typedef struct review_policy {
    review_rule_t rules[REVIEW_RULES_MAX]; /* in order; the first match decides */
    size_t n_rules;
    int64_t cs_limit_fen;             /* above it a cs_supervisor decides */
    int64_t return_shipping_cost_fen; /* returnless when goods are worth less */
    bool returnless;                  /* allow returnless refunds at all */
    char return_address_id[64];       /* the merchant's return address id on the platform */
    /* Kuaishou's reasonCode (open.refund.reject.reason) of each rejection
     * reason, in rules.c's order, then "*" (any other); 0: none
     * ("kuaishou_reject_reason_codes" in the policy) */
    int64_t ks_reject_codes[REVIEW_REJECT_REASONS + 1];
    /* Douyin's reject_reason_code (afterSale.rejectReasonCodeList) of each,
     * the same way ("douyin_reject_reason_codes") */
    int64_t dy_reject_codes[REVIEW_REJECT_REASONS + 1];
} review_policy_t;

/* What the rules look at. */
typedef struct review_facts {
    const char *kind, *reason, *category, *supplier_id;
    int64_t amount_fen;        /* requested */
    int64_t buyer_returns_90d; /* the buyer's other requests in the last 90 days */
} review_facts_t;

/* review_policy_default: the defaults from the worker's settings. */
void review_policy_default(review_policy_t *p);
/* review_policy_from_json: override p with doc's fields ("rules" replaces
 * the rules). 0, or -1 with a message. */
int review_policy_from_json(json_t *doc, review_policy_t *p, char *err, size_t errlen);
int review_rule_from_json(json_t *r, review_rule_t *out, char *err, size_t errlen);
bool review_rule_matches(const review_rule_t *r, const review_facts_t *f);
/* review_evaluate: the first matching rule, NULL when none (manual). */
const review_rule_t *review_evaluate(const review_policy_t *p, const review_facts_t *f);
/* review_policy_uses_history: some rule looks at the buyer's other returns. */
bool review_policy_uses_history(const review_policy_t *p);
const char *review_required_role(const review_policy_t *p, int64_t amount_fen);
/* review_cost_bearer: who pays the return shipping: the liable party, or
 * for the buyer's own reasons the freight insurer when the buyer is insured. */
const char *review_cost_bearer(const char *liability, bool freight_insured);
/* review_returnless: approve a return_refund without the goods when getting
 * them back costs more than they are worth. */
bool review_returnless(const review_policy_t *p, const char *kind, int64_t goods_value_fen);
const char *review_liability(const char *reason_code);
bool review_reject_reason_known(const char *code);
/* review_ks_reject_code: the Kuaishou reasonCode the policy gives a
 * rejection reason (its own, else "*"), 0 when none. */
int64_t review_ks_reject_code(const review_policy_t *p, const char *reason);
/* review_dy_reject_code: the same for Douyin's reject_reason_code. */
int64_t review_dy_reject_code(const review_policy_t *p, const char *reason);

/* A review task as stored. */
typedef struct review_task {
    char return_id[64], kind[32], status[16], sku_id[128], supplier_id[128], liability[16];
    int64_t quantity, requested_amount_fen, paid_amount_fen;
    char shop_id[128], reason_code[32], cost_bearer[16], destination[16], line_key[400],
        required_role[16];
    int64_t line_paid_fen, line_quantity, shipping_fen;
    bool freight_insured, returnless;
    char platform[16], platform_return_id[64], category[64], buyer_id[128];
    char platform_state[16];  /* '', pending, accepted, refused, not_sent */
    int64_t platform_version; /* the platform record's version the task knows */
    int64_t deadline_at;      /* the platform's deadline, ms (0: none) */
} review_task_t;

/* review.c: events in, HTTP API, deadline alerts, start-up */
rf_apply_result_t review_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool review_route(void *arg, rf_http_exchange_t *x);
int review_start(void *arg, rf_worker_t *w);

/* A decision to carry out (decide.c). */
typedef struct review_decision {
    bool approve;
    int64_t amount_fen;           /* approve: the refund amount */
    const char *by, *reason_code; /* reason_code: reject only */
    const char *note;
    const char *causation; /* the event behind it, or NULL */
} review_decision_t;

/* ---- decide.c: deciding a task ------------------------------------------------------ */

/* review_decide_request: a new request (return.requested): its task is
 * judged in memory and written once, with the decision when a rule takes it
 * and no platform call must come first; a decision that needs the
 * platform's yes is carried out after the insert. */
rf_apply_result_t review_decide_request(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev);
/* review_carry_out: carry out d (recorded; events now or after the
 * platform's answer). 0, 1 the events wait for the platform's answer, -1 db
 * error, -2 no return address, -3 no Kuaishou reasonCode for the rejection. */
int review_carry_out(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                     const review_decision_t *d);
/* review_platform_settle: the rf_pcall_settle_fn of the review worker. */
struct rf_pcall;
struct rf_pcall_outcome;
const char *review_platform_settle(void *arg, rf_bus_t *bus, rf_db_t *db,
                                   const struct rf_pcall *call,
                                   const struct rf_pcall_outcome *outcome);

/* ---- platform.c: review's decision calls to the platform ------------------------- */

/* review_platform_purpose: the call a decision needs before it takes
 * effect: "approve_return" (Kuaishou returngoods.approve, Douyin
 * afterSale.operate 101) for approving a return_refund (on Kuaishou also an
 * exchange) that brings goods back, "reject" (open.refund.reject,
 * afterSale.operate 102 or 202) for a rejection, NULL for none (other
 * platforms, a refund-only or returnless approval, whose call the refund
 * worker makes, a disputed return, an exchange on Douyin). */
const char *review_platform_purpose(const review_task_t *t, bool approve);
/* review_platform_address: the return address id of the task's destination
 * (the supplier's, or the policy's for the merchant) into out; "" if none. */
int review_platform_address(rf_db_t *db, const review_task_t *t, const review_policy_t *pol,
                            char *out, size_t cap);
/* review_platform_call: write the call of decision d on task t (inside the
 * caller's transaction). 1: the events wait for the platform's answer;
 * 0: no call, or calls off (recorded as not_sent, alerted): emit now;
 * -1: db error; -2: no return address configured for a supplier that takes
 * the goods back (the merchant's may be left out: the shop's default return
 * address; on Douyin the merchant's is required too: afterSale.operate 101
 * needs one); -3: no Kuaishou reasonCode (Douyin reject_reason_code) for the
 * rejection's reason. */
int review_platform_call(rf_bus_t *bus, rf_db_t *db, const review_task_t *t,
                         const review_policy_t *pol, const review_decision_t *d);

/* review_db.c */
/* review_db_create_task: insert task t (required_role as given) with the
 * rule that judged it ("" for none), the destination of its supplier's
 * goods (into t->destination) and, when d is not NULL, decided by d (status
 * approved or rejected, the decision recorded with the decisions), in one
 * statement. 1 new, 0 existed (nothing written), -1 db error. */
int review_db_create_task(rf_db_t *db, review_task_t *t, const char *rule_name,
                          const review_decision_t *d);
/* The buyer's other requests in the task's shop in the last 90 days (0
 * without a buyer id), -1 on a db error. */
int64_t review_db_buyer_returns(rf_db_t *db, const review_task_t *t);
/* The shop's review policy (defaults when none); 0 or -1. */
int review_db_load_policy(rf_db_t *db, const char *shop_id, review_policy_t *p);
int review_db_store_policy(rf_db_t *db, const char *shop_id, const char *doc_json);
void review_db_policy_cache_clear(void); /* after storing policies */
int review_db_store_supplier(rf_db_t *db, const char *supplier_id, const char *destination,
                             const char *return_address_id);
/* The platform's return address id of a supplier ("" when none). */
int review_db_supplier_address(rf_db_t *db, const char *supplier_id, char *out, size_t cap);
int review_db_set_required_role(rf_db_t *db, const char *return_id, const char *role);
/* Where the task's decision stands on the platform. */
int review_db_set_platform_state(rf_db_t *db, const char *return_id, const char *state);
/* Calls already written for the return (numbers each new call's key). */
int64_t review_db_call_count(rf_db_t *db, const char *return_id);
/* The platform's record changed under a decision: the task takes the new
 * version, amount and kind, is pending again (required_role as given) and
 * the change is kept with the decisions. */
int review_db_platform_changed(rf_db_t *db, const char *return_id, int64_t version,
                               int64_t amount_fen, const char *kind, const char *required_role,
                               const char *note);
/* A refusal sends the decision back to a person (required_role kept). */
int review_db_platform_refused(rf_db_t *db, const char *return_id, const char *error);
int review_db_get_task(rf_db_t *db, const char *return_id, review_task_t *out); /* 1/0 */
int review_db_decide(rf_db_t *db, const char *return_id, const char *status, const char *decided_by,
                     const char *reason_code, const char *note);
int review_db_cancel(rf_db_t *db, const char *return_id);
/* The platform's record changed (return.updated): noted with the decisions;
 * arbitration hands an open task to a supervisor. */
int review_db_platform_updated(rf_db_t *db, const rf_event_t *ev);
int review_db_mark_disputed(rf_db_t *db, const char *return_id, const char *grade);
/* Tasks near their deadline, not yet alerted: marks them alerted and returns
 * a JSON array [{return_id, deadline_at, required_role}] (NULL on error). */
json_t *review_db_take_deadline_alerts(rf_db_t *db, int64_t within_ms);
json_t *review_db_list(rf_db_t *db, const char *status); /* NULL on db error */

#endif
