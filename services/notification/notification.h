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

/* notification_plan: the messages an event calls for (0 or more). */
size_t notification_plan(const rf_event_t *ev, notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]);
rf_apply_result_t notification_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool notification_route(void *arg, rf_http_exchange_t *x);
int notification_start(void *arg, rf_worker_t *w);

/* notification_db.c: 1 recorded, 0 already sent, -1 db error */
int notification_db_record(rf_db_t *db, const char *notice_id, const rf_event_t *ev,
                           const notification_msg_t *m);
json_t *notification_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */

#endif
