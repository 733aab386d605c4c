/*
 * refund.h: the refund worker's parts, shared by main.c, refund.c (refund
 * decisions and execution) and refund_db.c (its SQL).
 */
#ifndef REFUND_H
#define REFUND_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "http/http.h"
#include "proto/proto.h"
#include "worker/worker.h"

typedef struct refund_plan {
    char return_id[64], kind[32], liability[16], supplier_id[128], status[24];
    int64_t amount_fen; /* the approved (requested) amount */
    bool goods_expected;
    char reason_code[32], cost_bearer[16], line_key[400];
    int64_t quantity, line_paid_fen, line_quantity, shipping_fen;
    bool freight_insured;
    char platform[16], shop_id[128], platform_return_id[64]; /* the platform's ids */
    int64_t platform_version;                                /* of the record review decided on */
} refund_plan_t;

/* Settings (the worker's configuration table; the sandbox's is adapter.c's, the rest
 * refund.c's). */
extern int64_t refund_finance_threshold_fen;   /* above it finance approves first */
extern int64_t refund_return_shipping_fen;     /* deducted when the buyer bears return shipping */
extern int64_t refund_retry_max;               /* platform call attempts before refund.failed */
extern int64_t refund_retry_base_ms;           /* first retry delay; doubles each time */
extern int64_t refund_sandbox_fail_amount_fen; /* sandbox: calls of exactly this amount fail */

/* ---- money.c: amounts in fen ------------------------------------------------- */

typedef struct refund_money_in {
    int64_t requested_fen;       /* the approved amount (the buyer's ask, or the reviewer's) */
    int64_t line_paid_fen;       /* the line's total after its discount share */
    int64_t line_quantity;       /* units ordered; 0 when unknown (old events) */
    int64_t shipping_fen;        /* the line's share of the order's shipping fee */
    int64_t units;               /* units in this return */
    int64_t units_before;        /* units of the line refunded by earlier returns */
    int64_t refunded_before_fen; /* fen refunded on the line by earlier returns */
    bool seller_at_fault;        /* merchant, supplier or carrier liable */
    bool buyer_pays_return;      /* the buyer bears return shipping, uninsured */
    int64_t return_shipping_fen; /* deducted when buyer_pays_return */
    bool exchange;               /* settled with goods: nothing in money */
} refund_money_in_t;

typedef struct refund_money {
    int64_t goods_fen, shipping_fen, deduction_fen; /* the parts */
    int64_t entitlement_fen;                        /* goods + shipping - deduction */
    int64_t cap_fen;                                /* left refundable on the line */
    int64_t amount_fen;                             /* min(requested, entitlement, cap) */
} refund_money_t;

/* refund_units_value: the value of units from+1 .. from+n of a line of
 * `quantity` units paid paid_fen in total (floor cumulative shares: the
 * remainder falls on the last units). */
int64_t refund_units_value(int64_t paid_fen, int64_t quantity, int64_t from, int64_t n);
/* refund_compute: the amount and its parts; 0, or -1 on negative input. */
int refund_compute(const refund_money_in_t *in, refund_money_t *out);
bool refund_seller_at_fault(const char *liability);
bool refund_needs_finance(int64_t amount_fen, int64_t threshold_fen);
/* refund_retry_delay_ms: base * 2^(attempts-1), at most an hour. */
int64_t refund_retry_delay_ms(int64_t base_ms, int attempts);

/* ---- adapter.c: executing a refund on the platform ------------------------------- */

typedef struct refund_call {
    const char *return_id, *refund_id, *idempotency_key;
    int64_t amount_fen;
} refund_call_t;

/* A platform adapter: execute one refund call. The platform dedupes on the
 * idempotency key, so calling again after a crash is never a second refund.
 * 0 with the platform's reference in ref, or -1 with the reason in err. */
typedef struct refund_adapter {
    const char *name;
    bool sandbox; /* says so in every reference and log line */
    int (*execute)(rf_db_t *db, const refund_call_t *call, char *ref, size_t refcap, char *err,
                   size_t errcap);
} refund_adapter_t;

/* The embedded default: records the call in sandbox_calls and succeeds
 * (except calls of refund_sandbox_fail_amount_fen, to exercise failures). */
extern const refund_adapter_t refund_sandbox_adapter;

/* refund.c */
/* refund_after_inspection: true when goods of that grade are refunded; false
 * when the inspection contradicts the request (empty box, wrong item). */
bool refund_after_inspection(const char *grade);
/* refund_claim_party: "supplier" or "carrier" for a liability that is charged
 * on, NULL when the merchant or the buyer bears it. */
const char *refund_claim_party(const char *liability);
/* refund_idempotency_key: the key sent with the platform refund call; one per
 * return, so a retry after a crash can never refund twice. */
void refund_idempotency_key(const char *return_id, char *out, size_t cap);
rf_apply_result_t refund_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool refund_route(void *arg, rf_http_exchange_t *x);
int refund_start(void *arg, rf_worker_t *w);
/* refund_platform_settle: the rf_pcall_settle_fn of the refund worker: the
 * platform's answer to a money call (platform.c) is refund.issued or, for
 * good, refund.failed. */
struct rf_pcall;
struct rf_pcall_outcome;
const char *refund_platform_settle(void *arg, rf_bus_t *bus, rf_db_t *db,
                                   const struct rf_pcall *call,
                                   const struct rf_pcall_outcome *outcome);

/* One refund as stored. */
typedef struct refund_row {
    char refund_id[32], return_id[64], status[24], idempotency_key[128];
    int64_t amount_fen, attempts;
} refund_row_t;

/* ---- platform.c: the money calls to the platform (platform/platform_calls.h) ---------- */

/* refund_platform_purpose: the call that makes the platform pay a plan:
 * "approve_refund" (open.seller.order.refund.approve) when no goods come
 * back, "confirm_receipt" (open.seller.order.refund.confirm.receipt, only
 * in status 22, 30 or 40) when they came back; NULL for an exchange. */
const char *refund_platform_purpose(const refund_plan_t *plan);
/* refund_platform_method: the API method of a purpose (NULL if unknown). */
const char *refund_platform_method(const char *purpose);
/* refund_platform_call: write the call that makes the platform pay the
 * plan's refund r (inside the caller's transaction; r need not be written
 * yet). Returns 1 when the refund now waits for the platform's answer (the
 * caller keeps it from the retry timer: next attempt none), 0 when it does
 * not (calls off: recorded as not_sent and alerted; the adapter carries on
 * as before), -1 db. */
int refund_platform_call(rf_bus_t *bus, rf_db_t *db, const refund_plan_t *plan,
                         const refund_row_t *r);

/* What a refund needs to know of its line and its return before it is written. */
typedef struct refund_line {
    int64_t units_before, fen_before; /* taken by earlier refunds of the line */
    bool plan_exists, refund_exists;  /* this return's */
} refund_line_t;

/* A new refund as it is written, with what it did to its plan. */
typedef struct refund_write {
    const char *refund_id, *idempotency_key;
    refund_money_t money;
    const char *refund_status;               /* awaiting_approval, pending, issued, failed */
    const char *platform_ref;                /* issued: the platform's reference, else NULL */
    const char *error;                       /* the failed attempt's error, or NULL */
    int64_t attempts;                        /* attempts made (0 or 1) */
    int64_t next_attempt_ms;                 /* next attempt in ms from now; -1: none */
    const char *plan_status;                 /* the plan's status after it */
    const char *claim_id, *party, *party_id; /* party NULL: no claim */
} refund_write_t;

/* refund_db.c */
/* Insert the plan (with its status): 1 new, 0 existed. */
int refund_db_insert_plan(rf_db_t *db, const refund_plan_t *plan);
/* refund_db_line_facts: what earlier refunds of the plan's line took (not
 * counting its return) and whether its return has a plan and a refund. 0/-1. */
int refund_db_line_facts(rf_db_t *db, const refund_plan_t *plan, refund_line_t *out);
/* refund_db_write_refund: in one statement, insert the plan with
 * w->plan_status (plan_is_new) or set its status, insert the refund w, and
 * open w's claim (*claim_opened says whether it was new). 1 written, 0 when
 * the plan (plan_is_new) or the refund existed (nothing written), -1 db. */
int refund_db_write_refund(rf_db_t *db, const refund_plan_t *plan, bool plan_is_new,
                           const refund_write_t *w, bool *claim_opened);
int refund_db_get_refund(rf_db_t *db, const char *return_id, refund_row_t *out); /* 1/0 */
int refund_db_refund_issued(rf_db_t *db, const char *refund_id, const char *platform_ref);
int refund_db_refund_attempt_failed(rf_db_t *db, const char *refund_id, const char *error,
                                    int64_t delay_ms, bool final);
/* The refund waits for the platform's answer (platform_calls), not the timer. */
int refund_db_refund_park(rf_db_t *db, const char *refund_id);
int refund_db_refund_approve(rf_db_t *db, const char *refund_id, const char *by);
int refund_db_refund_cancel(rf_db_t *db, const char *return_id);
/* Return ids of pending refunds due for another attempt (JSON array). */
json_t *refund_db_due_retries(rf_db_t *db);
int refund_db_sandbox_call(rf_db_t *db, const refund_call_t *call, const char *ref);
/* Claims: settle or write off an open claim: 1 done, 0 not open/unknown. */
int refund_db_claim_close(rf_db_t *db, const char *claim_id, const char *status, const char *by,
                          const char *note);
json_t *refund_db_supplier_balance(rf_db_t *db, const char *supplier_id);
json_t *refund_db_claims(rf_db_t *db, const char *party_id);
int refund_db_get_plan(rf_db_t *db, const char *return_id, refund_plan_t *out); /* 1/0 */
int refund_db_set_plan_status(rf_db_t *db, const char *return_id, const char *status);
int refund_db_open_claim(rf_db_t *db, const char *claim_id, const char *return_id,
                         const char *party, const char *party_id, int64_t amount_fen);
json_t *refund_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */

#endif
