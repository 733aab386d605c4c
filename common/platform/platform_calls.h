/*
 * platform/platform_calls.h: decisions told to a platform (Kuaishou, Douyin), once,
 * surviving a crash, and on the record.
 *
 * The folder common/platform/ speaks to the shopping platforms: the Kuaishou and
 * Douyin protocols (platform/kuaishou.h, platform/douyin.h: pure functions), the
 * signed Kuaishou API client (platform/ks_client.h), Kuaishou's OAuth
 * (platform/ks_oauth.h), the shops' tokens a caller keeps (platform/shop_tokens.h)
 * and this queue of decision calls. It is the top layer: it may use every other folder of common/ (runtime,
 * db, bus, http, worker), and nothing of common/ uses it.
 *
 * A worker that decides something the platform must hear (review: approve a
 * return, reject; refund: agree a refund, confirm receipt) writes a *call*
 * into its own platform_calls table in the same transaction as the decision
 * (state pending). This module sends due calls asynchronously on the
 * worker's loop, never blocking it, by the call's platform: Kuaishou's with
 * platform/ks_client.h, Douyin's with platform/dy_client.h (their terms:
 * platform_calls_terms.c and platform/pcalls_douyin.h), each with its
 * idempotency key as the Idempotency-Key header, and records every request
 * (method, param JSON, key: never the secret) with the platform's answer,
 * outcome and timing in platform_call_attempts.
 *
 *   - accepted (result 1): the worker's settle callback runs, in a bus
 *     transaction, and emits what follows (return.approved, refund.issued...);
 *   - rate limited: retried later with backoff, not counted as a failure;
 *   - no answer / not the platform's JSON: retried with backoff, counted;
 *     after RF_PLATFORM_CALL_RETRY_MAX the call is settled as failed;
 *   - refused (on Douyin also an afterSale.operate item whose status_code is
 *     not 0): the record is fetched again (open.seller.order.refund.detail,
 *     afterSale.Detail).
 *     A record already in the call's target state (a retry after a crash whose
 *     first attempt went through) counts as accepted; otherwise the worker's
 *     settle callback gets the refusal and the fresh record (a newer version
 *     is a conflict: it re-decides and writes a new call, or gives up).
 *
 * A call is for one shop (shop_id) and carries that shop's current token
 * (platform/shop_tokens.h), read when it is sent: the shop's own; the fixed
 * RF_KUAISHOU_ACCESS_TOKEN only for a Kuaishou shop with no row there (and
 * for calls with no shop_id; Douyin has no fixed token); with neither (a shop not active, a token lapsed or that
 * cannot be opened) the call is not sent now but looked at again a few
 * seconds later, not counted as a failure, and event=platform_call_no_token
 * names the shop. An answer that the token is invalid
 * (RF_KUAISHOU_TOKEN_INVALID_CODES, RF_DOUYIN_TOKEN_INVALID_CODES) is recorded (outcome token_invalid) and
 * the call tried once more shortly with the token read again, not counted;
 * a second one in a row is a counted failure with the usual backoff.
 *
 * Pending calls are sent at start and from a timer, so a crash between the
 * decision and the platform's answer loses nothing: the call is sent again
 * with the same key. Calls are on or off per platform: with no
 * RF_KUAISHOU_API_URL (RF_DOUYIN_API_URL) a call of that platform is
 * recorded as not_sent (an operator does it in the platform's seller console)
 * and the worker raises an alert; nothing is sent.
 */
#ifndef RF_PLATFORM_CALLS_H
#define RF_PLATFORM_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "runtime/config.h"
#include "db/db.h"
#include "http/http.h"
#include "platform/dy_client.h"
#include "platform/ks_client.h"
#include "platform/shop_tokens.h"
#include "worker/worker.h"

/* Settings of the workers that make decision calls (review, refund), besides
 * the Kuaishou and Douyin API settings of platform/ks_client.h (RF_KS_CONFIG)
 * and platform/dy_client.h (RF_DY_CONFIG) and the key that opens shops'
 * tokens (RF_SECRETS_CONFIG, platform/shop_tokens.h). A worker that takes
 * RF_PCALLS_CONFIG takes none of those on its own (a name twice in one table). */
extern int64_t rf_pcalls_timeout_ms;    /* RF_PLATFORM_CALL_TIMEOUT_MS */
extern int64_t rf_pcalls_retry_max;     /* RF_PLATFORM_CALL_RETRY_MAX */
extern int64_t rf_pcalls_retry_base_ms; /* RF_PLATFORM_CALL_RETRY_BASE_MS */

/* The configuration-table rows of those settings, for a worker's table. */
/* A table reads best as rows, so the formatter leaves it as written. */
// clang-format off
#define RF_PCALLS_CONFIG                                                                      \
    RF_KS_CONFIG,                                                                             \
    RF_DY_CONFIG,                                                                             \
    RF_SECRETS_CONFIG,                                                                        \
    {"RF_PLATFORM_CALL_TIMEOUT_MS", RF_CFG_INT, &rf_pcalls_timeout_ms, "10000", 100, 600000,  \
     "a platform call must be answered within this many ms"},                                 \
    {"RF_PLATFORM_CALL_RETRY_MAX", RF_CFG_INT, &rf_pcalls_retry_max, "8", 1, 1000,            \
     "failed attempts (no answer) before a platform call is given up and alerted"},           \
    {"RF_PLATFORM_CALL_RETRY_BASE_MS", RF_CFG_INT, &rf_pcalls_retry_base_ms, "1000", 10,      \
     3600000, "delay before a platform call is retried, doubled each time (at most an hour)"}
// clang-format on

typedef struct rf_pcalls rf_pcalls_t;

/* A call as stored (every pointer borrowed for the callback). */
typedef struct rf_pcall {
    int64_t call_id;
    const char *return_id, *platform, *platform_return_id;
    const char *shop_id; /* whose token the call carries ("" for calls of before) */
    const char *purpose; /* the worker's name for it: approve_return, reject, ... */
    const char *method;  /* open.seller.order.refund.returngoods.approve, ... */
    const char *idempotency_key;
    int64_t platform_version; /* the record's version the decision saw (0: unknown) */
    json_t *param;            /* the business parameters sent */
    json_t *context;          /* the worker's own facts of the decision */
} rf_pcall_t;

/* The final outcome of a call. */
typedef struct rf_pcall_outcome {
    bool accepted;     /* the platform did it (now, or before: already_done) */
    bool already_done; /* refused, but the record is already in the target state */
    int result_code;   /* the platform's result of the refusal (0: no answer) */
    const char *error; /* why not, when not accepted */
    json_t *detail;    /* the record fetched again after a refusal, or NULL */
} rf_pcall_outcome_t;

/* Final states a settle callback returns. */
#define RF_PCALL_SUCCEEDED "succeeded"
#define RF_PCALL_FAILED "failed"
#define RF_PCALL_SUPERSEDED "superseded" /* a conflict: a new call replaces this one */

/* rf_pcall_settle_fn: act on a call's final outcome inside the open bus
 * transaction (emit events, write the worker's tables, write a new call).
 * Returns one of the states above, or NULL to roll back (tried again later). */
typedef const char *(*rf_pcall_settle_fn)(void *arg, rf_bus_t *bus, rf_db_t *db,
                                          const rf_pcall_t *call,
                                          const rf_pcall_outcome_t *outcome);

/* rf_pcalls_new: the sender for worker w (call from the worker's start
 * hook). Checks the settings (rf_ks_settings_load, rf_dy_settings_load):
 * with a platform's API URL, its app key and secret are required (Kuaishou's
 * fixed token is optional) and its sign method must be one it knows; RF_SECRETS_KEY_FILE, when set, must be a good key file; a
 * bad setting is logged naming it and NULL is returned (start-up stops).
 * Creates its tables and shop_tokens (rf_shop_tokens_setup). With calls off
 * on no platform it returns a sender that sends nothing. */
rf_pcalls_t *rf_pcalls_new(rf_worker_t *w, rf_pcall_settle_fn settle, void *arg);

/* rf_pcalls_platform_enabled: calls to platform ("kuaishou", "douyin") are
 * on: its API URL is set. false for any other platform (no calls). */
bool rf_pcalls_platform_enabled(const char *platform);

/* rf_pcalls_enabled: some platform's calls are on. */
bool rf_pcalls_enabled(void);

/* rf_pcalls_api_setting: the API URL setting of platform, for messages
 * ("RF_DOUYIN_API_URL"); rf_pcalls_console: where an operator does a call
 * that was not sent ("the Douyin seller console (抖店后台)"). */
const char *rf_pcalls_api_setting(const char *platform);
const char *rf_pcalls_console(const char *platform);

/* A call to write (strings copied by the database). */
typedef struct rf_pcall_new {
    const char *return_id, *platform, *platform_return_id, *purpose, *method, *idempotency_key;
    const char *shop_id; /* the return's shop: the call carries its token (NULL: "") */
    int64_t platform_version;
    json_t *param;   /* borrowed */
    json_t *context; /* borrowed; NULL for {} */
} rf_pcall_new_t;

/* rf_pcalls_enqueue: write the call in the caller's transaction, pending
 * (or not_sent when calls are off). Returns 1 written, 0 when a call with
 * that idempotency key exists (the same decision again), -1 db error. */
int rf_pcalls_enqueue(rf_db_t *db, const rf_pcall_new_t *c);

/* rf_pcalls_kick: send due calls now (after the decision's commit). */
void rf_pcalls_kick(rf_pcalls_t *p);

/* rf_pcalls_alert: emit ops.alert {kind, subject, detail} about return_id in
 * the caller's transaction. 0 or -1. */
int rf_pcalls_alert(rf_bus_t *bus, const char *return_id, const char *kind, const char *subject,
                    const char *detail);

/* rf_pcalls_route: GET /v1/platform-calls?return_id=ID (every call with its
 * attempts). true when the request was this route (and answered). */
bool rf_pcalls_route(rf_db_t *db, rf_http_exchange_t *x);

/* rf_pcalls_metrics: rf_platform_calls{worker,state} (calls by state) and
 * rf_platform_call_oldest_pending_age_seconds on a /metrics page. */
void rf_pcalls_metrics(rf_worker_t *w, rf_metrics_out_t *out, const char *worker_name);

/* ---- pure helpers (tested on their own) ------------------------------------------ */

/* rf_pcalls_backoff_ms: base * 2^(n-1), at most an hour; n >= 1. */
int64_t rf_pcalls_backoff_ms(int64_t base_ms, int64_t n);

/* rf_pcalls_target_reached: true when the Kuaishou refund record `detail`
 * (open.seller.order.refund.detail's data) already shows what method asks
 * for: agreed (negotiateStatus 2, or past waiting for the seller) for the two
 * approves, rejected (negotiateStatus 3, or status 12) for open.refund.reject,
 * refunding or refunded (status 50, 60) for confirm.receipt. */
bool rf_pcalls_target_reached(const char *method, json_t *detail);

/* rf_pcalls_refetch: the method that fetches a refused call's record again
 * (Kuaishou: open.seller.order.refund.detail {refundId}; Douyin:
 * afterSale.Detail {after_sale_id}), its param into *param (new ref). */
const char *rf_pcalls_refetch(const char *platform, const char *platform_return_id, json_t **param);

/* rf_pcalls_reached: whether the refetched record shows what the call asked
 * for: rf_pcalls_target_reached (by method) on Kuaishou,
 * rf_pcalls_dy_target_reached (by afterSale.operate's type op_type) on Douyin. */
bool rf_pcalls_reached(const char *platform, const char *method, int op_type, json_t *detail);

/* A refetched record in neutral terms. */
typedef struct rf_pcall_facts {
    int64_t version;    /* ms, as intake's feeds version it; 0: not known */
    int64_t amount_fen; /* the amount asked; -1: not known */
    const char *kind;   /* refund_only | return_refund | exchange; NULL: not known */
} rf_pcall_facts_t;

/* rf_pcalls_detail_facts: the facts of a refetched record (an outcome's
 * detail) of platform: Kuaishou's updateTime, refundFee, handlingWay;
 * Douyin's after_sale_info (platform/pcalls_douyin.h). 0, or -1 for no record. */
int rf_pcalls_detail_facts(const char *platform, json_t *detail, rf_pcall_facts_t *out);

/* rf_pcalls_id_json: a platform id as the API wants it: a JSON integer when
 * the text is a decimal number that fits int64, else the text. New ref. */
json_t *rf_pcalls_id_json(const char *id);

#endif
