/*
 * notification.h: the notification worker's parts, shared by main.c,
 * notification.c (who is told what), notification_batch.c (a transaction's
 * messages, recorded together), notification_rows.c (rows as array literals
 * for one statement), channels.c (delivery) and notification_db.c (its SQL).
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

/* One message to send about an event. */
typedef struct notification_msg {
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

/* Amounts in yuan for message text: "12.34" (from integer fen, no floats). */
typedef struct notification_yuan {
    char s[32];
} notification_yuan_t;
notification_yuan_t notification_yuan(int64_t fen);
/* notification_completes: the event ends the return for the buyer (refund
 * issued, exchange delivered): a survey follows. */
bool notification_completes(const rf_event_t *ev);

/* notification_plan: the messages an event calls for (0 or more). */
size_t notification_plan(const rf_event_t *ev, notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]);
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
/* Gather a completed return: its survey is scheduled (once). 0 or -1. */
int notification_batch_complete(notification_batch_t *b, const char *return_id);
/* Record what was gathered (one statement), emit notice.sent for each new
 * message to announce, and clear the batch; inside the caller's transaction.
 * 0, or -1 (db error: the caller rolls back). */
int notification_batch_write(notification_batch_t *b, rf_bus_t *bus, rf_db_t *db,
                             int64_t survey_delay_ms);

/* notification_db.c */
/* notification_db_record_batch: in one statement, record each message of
 * b->messages unless its idempotency key is recorded already, mark the
 * survey of each survey message sent, and schedule the survey (once) of each
 * return in b->completed, due in survey_delay_ms. Answers the new messages
 * to announce, in order, columns in the order of notification_new_col_t;
 * NULL on a db error (caller PQclear()s). */
typedef enum notification_new_col {
    NEW_NOTICE_ID,
    NEW_RETURN_ID,
    NEW_SOURCE_EVENT_ID,
    NEW_AUDIENCE,
    NEW_CHANNEL,
    NEW_TEMPLATE,
    NEW_CAUSATION_ID,
} notification_new_col_t;
PGresult *notification_db_record_batch(rf_db_t *db, notification_batch_t *b,
                                       int64_t survey_delay_ms);
json_t *notification_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */
/* Due surveys, at most limit: return ids (JSON array), locked until the
 * caller's transaction ends. NULL on db error. */
json_t *notification_db_surveys_due(rf_db_t *db, int limit);
/* Messages due for delivery, oldest first: one row each, columns in the
 * order of notification_due_col_t. NULL on db error (caller PQclear()s). */
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
 * attempt in one statement; rows of columns notification_outcome_col_t:
 * status sent (delivered through via), queued (failed: again in delay_ms)
 * or failed (for good, after error). Only messages still queued change: an
 * outcome is recorded once. 0 or -1. */
typedef enum notification_outcome_col {
    OUT_NOTICE_ID,
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
