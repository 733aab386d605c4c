/*
 * notification.h: the notification worker's parts, shared by main.c,
 * notification.c (who is told what) and notification_db.c (its SQL).
 */
#ifndef NOTIFICATION_H
#define NOTIFICATION_H

#include <stddef.h>

#include "rf/bus.h"
#include "rf/db.h"
#include "rf/http.h"
#include "rf/proto.h"
#include "rf/worker.h"

/* One message to send about an event. */
typedef struct notification_msg {
    const char *audience; /* buyer | supplier | ops */
    const char *channel;  /* platform_im | email | ops */
    const char *template_name;
    char body[512];       /* rendered text: no phone numbers or addresses */
} notification_msg_t;

#define NOTIFICATION_MAX_PER_EVENT 3

/* Settings. */
extern char notification_webhook_url[RF_CFG_STR_MAX]; /* "" : log channel only */
extern int64_t notification_webhook_timeout_ms;      /* bound on one webhook call */
extern int64_t notification_retry_max;               /* delivery attempts before failed */
extern int64_t notification_retry_base_ms;           /* first retry delay, doubled */
extern int64_t notification_delivery_ms;             /* delivery queue tick */
extern int64_t notification_survey_delay_ms;         /* survey this long after completion */

/* Amounts in yuan for message text: "12.34" (from integer fen, no floats). */
typedef struct notification_yuan { char s[32]; } notification_yuan_t;
notification_yuan_t notification_yuan(int64_t fen);
/* notification_completes: the event ends the return for the buyer (refund
 * issued, exchange delivered): a survey follows. */
bool notification_completes(const rf_event_t *ev);

/* notification_plan: the messages an event calls for (0 or more). */
size_t notification_plan(const rf_event_t *ev, notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]);
rf_apply_result_t notification_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool notification_route(void *arg, rf_http_exchange_t *x);
int notification_start(void *arg, rf_worker_t *w);

/* notification_db.c: 1 recorded, 0 already sent, -1 db error */
int notification_db_record(rf_db_t *db, const char *notice_id, const rf_event_t *ev,
                           const notification_msg_t *m);
json_t *notification_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */
/* Schedule the return's survey (once): 1 new, 0 existed, -1 error. */
int notification_db_survey_schedule(rf_db_t *db, const char *return_id, int64_t delay_ms);
/* Due surveys: return ids (JSON array), marking them sent with a message
 * each (inside the caller's transaction). */
json_t *notification_db_surveys_due(rf_db_t *db);
int notification_db_survey_sent(rf_db_t *db, const char *return_id, const char *notice_id);
/* Messages due for delivery: JSON array of {notice_id, return_id, audience,
 * channel, template, body, idempotency_key, attempts}. */
json_t *notification_db_queue_due(rf_db_t *db, int limit);
int notification_db_delivered(rf_db_t *db, const char *notice_id, const char *via);
int notification_db_delivery_failed(rf_db_t *db, const char *notice_id, const char *error,
                                    int64_t delay_ms, bool final);
/* Record an answer: 1 new, 0 already answered, -2 no survey sent, -1 error. */
int notification_db_feedback(rf_db_t *db, const char *return_id, int64_t score,
                             const char *comment);

/* channels.c: delivery */
/* notification_deliver_due: deliver up to limit due messages, after sending
 * the due surveys when asked: the log channel at once, its marks in one
 * transaction; the webhook (when configured) by asynchronous calls whose
 * answers mark each message sent, or queued again with backoff, or failed.
 * Returns how many the log channel delivered (0 with the webhook: the next
 * batch waits for the answers), so a caller may come back while batches
 * come back full. */
size_t notification_deliver_due(rf_worker_t *w, size_t limit, bool surveys);
int64_t notification_retry_delay_ms(int64_t base_ms, int attempts);

#endif
