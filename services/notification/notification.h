/*
 * notification.h: the notification worker's parts, shared by main.c,
 * notification.c (who is told what), notification_batch.c (a transaction's
 * messages, recorded together), notification_rows.c (rows as array literals
 * for one statement), notification_policy.c (which notices a shop sends),
 * channels.c (delivery) and notification_db.c (its SQL).
 */
#ifndef NOTIFICATION_H
#define NOTIFICATION_H

#include <stddef.h>

#include "db/pgarray.h"
#include "bus/bus.h"
#include "db/db.h"
#include "http/http.h"
#include "proto/proto.h"
#include "worker/worker.h"

/* The notices notification knows how to write: one per (event, audience),
 * the event qualified by its state where one event type tells different
 * things (reship.updated:shipped). A shop's policy turns each on or off
 * (notification_policy.c has the names and the lean defaults). */
typedef enum notification_kind {
    NK_REQUESTED_BUYER,
    NK_REVIEW_OPENED_OPS,
    NK_DEADLINE_NEAR_OPS,
    NK_APPROVED_BUYER,
    NK_APPROVED_SUPPLIER,
    NK_REJECTED_BUYER,
    NK_CANCELLED_BUYER,
    NK_RECEIVED_BUYER,
    NK_INSPECTED_SUPPLIER,
    NK_AWAITING_APPROVAL_OPS,
    NK_REFUNDED_BUYER,
    NK_REFUND_FAILED_BUYER,
    NK_REFUND_FAILED_OPS,
    NK_OPS_ALERT_OPS,
    NK_ARBITRATION_OPS,
    NK_CLAIM_SUPPLIER,
    NK_RESHIP_REQUESTED_SUPPLIER,
    NK_RESHIP_SHIPPED_BUYER,
    NK_RESHIP_DELIVERED_BUYER,
    NK_SURVEY_BUYER,
    NK__COUNT
} notification_kind_t;

/* One message to send about an event. */
typedef struct notification_msg {
    notification_kind_t kind;
    const char *audience; /* buyer | supplier | ops */
    const char *channel;  /* platform_im | email | ops */
    const char *template_name;
    char body[512]; /* rendered text: no phone numbers or addresses */
} notification_msg_t;

#define NOTIFICATION_MAX_PER_EVENT 3

/* Settings (the channels' are channels.c's, the rest notification.c's). */
extern char notification_webhook_url[RF_CFG_STR_MAX]; /* "" : log channel only */
extern int64_t notification_webhook_timeout_ms;       /* bound on one webhook call */
extern int64_t notification_retry_max;                /* delivery attempts before failed */
extern int64_t notification_retry_base_ms;            /* first retry delay, doubled */
extern int64_t notification_delivery_ms;              /* delivery queue tick */
extern int64_t notification_survey_delay_ms;          /* survey this long after completion */
extern char notification_policy_file[RF_CFG_STR_MAX]; /* RF_NOTIFICATION_POLICY_FILE, "" none */

/* notification_policy.c: which notices a shop sends. A policy is one bit
 * per notification_kind_t. */
typedef struct notification_policy {
    uint32_t on;
} notification_policy_t;
/* The kind's name ("reship.updated:shipped") and audience. */
const char *notification_kind_name(notification_kind_t k);
const char *notification_kind_audience(notification_kind_t k);
/* The built-in defaults: a notice only where someone is told. */
notification_policy_t notification_policy_builtin(void);
static inline bool notification_policy_sends(notification_policy_t p, notification_kind_t k) {
    return (p.on >> k) & 1u;
}
/* notification_policy_parse: override *p with one section of the policy
 * file ({"<event type>[:<state>]": {"<audience>": true|false}}; a plain
 * event type applies to each of its states, and is applied before the
 * qualified keys). 0, or -1 with a message in err (nothing is trusted: the
 * caller drops the whole file). */
int notification_policy_parse(json_t *section, notification_policy_t *p, char *err, size_t errlen);
/* notification_policy_load_doc: the whole document ({"default": {...},
 * "shops": {"<shop_id>": {...}}}), checked whole, replacing what was
 * loaded. 0, or -1 with a message. notification_policy_load: the file
 * named by RF_NOTIFICATION_POLICY_FILE (none: the built-in defaults). */
int notification_policy_load_doc(json_t *doc, char *err, size_t errlen);
int notification_policy_load(void);
/* Shops with a policy of their own (0: every shop has the default). */
size_t notification_policy_shops(void);
/* The policy of shop_id (NULL or unknown: the default); *own is set to
 * whether the shop has its own. */
notification_policy_t notification_policy_of_shop(const char *shop_id, bool *own);
/* Return -> shop, remembered for the returns of shops with their own policy
 * (the only ones whose later events need it): a small cache in front of
 * the return_shops table. notification_shop_remember caches it;
 * notification_shop_cached answers 1 and the shop (borrowed; "" for a
 * return known to have the default), or 0 when unknown. */
void notification_shop_remember(const char *return_id, const char *shop_id);
int notification_shop_cached(const char *return_id, const char **shop_id);
void notification_shop_forget_all(void);

/* Amounts in yuan for message text: "12.34" (from integer fen, no floats). */
typedef struct notification_yuan {
    char s[32];
} notification_yuan_t;
notification_yuan_t notification_yuan(int64_t fen);
/* notification_completes: the event ends the return for the buyer (refund
 * issued, exchange delivered): a survey follows. */
bool notification_completes(const rf_event_t *ev);

/* notification_plan: every message an event can call for (0 or more), each
 * of its kind; the policy then says which are sent (notification_apply). */
size_t notification_plan(const rf_event_t *ev, notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]);
/* notification_survey_msg: the satisfaction survey of return_id. */
void notification_survey_msg(const char *return_id, notification_msg_t *m);
rf_apply_result_t notification_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool notification_route(void *arg, rf_http_exchange_t *x);
int notification_start(void *arg, rf_worker_t *w);

/* notification_rows.c: rows for one statement as one PostgreSQL array
 * literal per column, for unnest($1::text[], ...). */
#define NOTIFICATION_ROWS_MAX_COLS 12
typedef struct notification_rows {
    int ncols;
    size_t n; /* rows */
    rf_pgarray_t col[NOTIFICATION_ROWS_MAX_COLS];
} notification_rows_t;
/* init and reset: no rows. 0 or -1 (out of memory: adding fails). */
int notification_rows_init(notification_rows_t *r, int ncols);
int notification_rows_reset(notification_rows_t *r);
void notification_rows_free(notification_rows_t *r);
/* Add a row of ncols values (NULL: SQL NULL). 0, or -1 (out of memory: every
 * row is dropped, and the caller fails what it was gathering them for). */
int notification_rows_add(notification_rows_t *r, const char *const *values);
/* Column c's literal, "{...}" (borrowed until the next add or reset). */
const char *notification_rows_literal(notification_rows_t *r, int c);

/* notification_batch.c: the messages of one transaction, recorded in one
 * statement and announced (notice.sent) when new. */
typedef enum notification_msg_col {
    MSG_NOTICE_ID,
    MSG_RETURN_ID,
    MSG_SOURCE_EVENT_ID,
    MSG_AUDIENCE,
    MSG_CHANNEL,
    MSG_TEMPLATE,
    MSG_BODY,
    MSG_CAUSATION_ID,
    MSG_ANNOUNCE,
    MSG_COLS
} notification_msg_col_t;
typedef struct notification_batch {
    notification_rows_t messages;  /* columns notification_msg_col_t */
    notification_rows_t completed; /* return ids whose survey is to be scheduled */
    notification_rows_t shops;     /* (return_id, shop_id) of shops with a policy */
    bool webhook;                  /* messages wait for the webhook (else: log, final) */
} notification_batch_t;
int notification_batch_init(notification_batch_t *b); /* 0 or -1 */
int notification_batch_clear(notification_batch_t *b);
void notification_batch_free(notification_batch_t *b);
bool notification_batch_empty(const notification_batch_t *b);
/* Gather message m about return_id from source_event_id (its idempotency key
 * is source_event_id:audience), announced when announce, with causation_id
 * (NULL: none) on its notice.sent. 0 or -1 (out of memory: the batch is
 * dropped; fail the transaction). */
int notification_batch_add(notification_batch_t *b, const char *return_id,
                           const char *source_event_id, const char *causation_id, bool announce,
                           const notification_msg_t *m);
/* Gather a completed return: its survey is scheduled (once), due later. 0 or -1. */
int notification_batch_complete(notification_batch_t *b, const char *return_id);
/* Gather the shop of a return whose shop has its own policy. 0 or -1. */
int notification_batch_shop(notification_batch_t *b, const char *return_id, const char *shop_id);
/* Record what was gathered (one statement), and clear the batch; inside
 * the caller's transaction. Without the webhook a message is delivered by
 * the log channel here and recorded in its final state (one INSERT); with
 * it, it is queued (deliveries). One notice.sent per event that made a new
 * buyer-facing message (the first such message of each causation; a
 * message without causation, a survey sent later, is its own).
 * 0, or -1 (db error: the caller rolls back). */
int notification_batch_write(notification_batch_t *b, rf_bus_t *bus, rf_db_t *db,
                             int64_t survey_delay_ms);

/* notification_db.c */
/* notification_db_record_batch: in one statement, record each message of
 * b->messages unless its idempotency key is recorded (or queued) already:
 * sent by the log channel, final, or queued for the webhook (b->webhook);
 * write the survey row of each new survey message (once; its schedule row
 * leaves), schedule the survey (once) of each return in b->completed, due
 * in survey_delay_ms, and remember b->shops. Answers the new messages, in
 * order, columns in the order of notification_new_col_t; NULL on a db
 * error (caller PQclear()s). */
typedef enum notification_new_col {
    NEW_NOTICE_ID,
    NEW_RETURN_ID,
    NEW_SOURCE_EVENT_ID,
    NEW_AUDIENCE,
    NEW_CHANNEL,
    NEW_TEMPLATE,
    NEW_CAUSATION_ID,
    NEW_ANNOUNCE,
} notification_new_col_t;
PGresult *notification_db_record_batch(rf_db_t *db, notification_batch_t *b,
                                       int64_t survey_delay_ms);
json_t *notification_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */
/* The shop of a return remembered in return_shops: 1 (shop copied), 0 none,
 * -1 db error. */
int notification_db_return_shop(rf_db_t *db, const char *return_id, char *shop, size_t cap);
/* Due surveys, at most limit: return ids (JSON array), locked until the
 * caller's transaction ends. NULL on db error. */
json_t *notification_db_surveys_due(rf_db_t *db, int limit);
/* Queued messages (deliveries) due, oldest first: one row each, columns in
 * the order of notification_due_col_t. NULL on db error (caller PQclear()s). */
typedef enum notification_due_col {
    DUE_NOTICE_ID,
    DUE_RETURN_ID,
    DUE_AUDIENCE,
    DUE_CHANNEL,
    DUE_TEMPLATE,
    DUE_BODY,
    DUE_LOCALE,
    DUE_IDEMPOTENCY_KEY,
    DUE_SOURCE_EVENT_ID,
    DUE_ATTEMPTS,
} notification_due_col_t;
PGresult *notification_db_queue_due(rf_db_t *db, int limit);
/* notification_db_delivery_outcomes: record the outcome of each delivery
 * attempt in one statement; rows of columns notification_outcome_col_t (by
 * idempotency key): status sent (delivered through via), queued (failed:
 * again in delay_ms) or failed (for good, after error). A sent or failed
 * message leaves the queue and is recorded in messages in its final state;
 * only messages still queued change: an outcome is recorded once. 0 or -1. */
typedef enum notification_outcome_col {
    OUT_KEY,
    OUT_STATUS,
    OUT_VIA,
    OUT_ERROR,
    OUT_DELAY_MS,
    OUT_COLS
} notification_outcome_col_t;
int notification_db_delivery_outcomes(rf_db_t *db, notification_rows_t *outcomes);
/* Record an answer: 1 new, 0 already answered, -2 no survey sent, -1 error. */
int notification_db_feedback(rf_db_t *db, const char *return_id, int64_t score,
                             const char *comment);

/* channels.c: delivery */
/* notification_deliver_due: deliver up to limit due messages: the log
 * channel at once, its outcomes in one statement; the webhook (when
 * configured) by asynchronous calls whose answers mark each message sent,
 * or queued again with backoff, or failed, in one statement once the
 * batch's last answer is in. Returns how many the log channel delivered (0
 * with the webhook: the next batch waits for the answers), so a caller may
 * come back while batches come back full. */
size_t notification_deliver_due(rf_worker_t *w, size_t limit);
/* notification_send_surveys: record and announce the messages of up to
 * limit due surveys, in one transaction. Returns how many were sent. */
size_t notification_send_surveys(rf_worker_t *w, size_t limit);
int64_t notification_retry_delay_ms(int64_t base_ms, int attempts);

#endif
