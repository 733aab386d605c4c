/*
 * review.h: the review worker's parts, shared by main.c, review.c (policy,
 * event handling, HTTP API) and review_db.c (its SQL).
 */
#ifndef REVIEW_H
#define REVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "rf/bus.h"
#include "rf/db.h"
#include "rf/http.h"
#include "rf/proto.h"
#include "rf/worker.h"

/* Settings (filled by the worker's configuration table). */
extern int64_t review_auto_approve_max_fen; /* refund-only at or under this: automatic */
extern int64_t review_cs_limit_fen;         /* above this a CS supervisor must decide */

/* A review task as stored. */
typedef struct review_task {
    char return_id[64], kind[32], status[16], sku_id[128], supplier_id[128], liability[16];
    int64_t quantity, requested_amount_fen, paid_amount_fen;
} review_task_t;

/* The automatic first look at a request. */
typedef struct review_verdict {
    bool auto_approve;         /* approve now without a person */
    const char *required_role; /* "auto", "cs" or "cs_supervisor" */
} review_verdict_t;

/* review.c: policy */
review_verdict_t review_first_look(const char *kind, int64_t requested_amount_fen);
const char *review_liability(const char *reason_code);
bool review_reject_reason_known(const char *code);
rf_apply_result_t review_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool review_route(void *arg, rf_http_exchange_t *x);
int review_start(void *arg, rf_worker_t *w);

/* review_db.c */
int review_db_insert_task(rf_db_t *db, const rf_event_t *requested, const review_verdict_t *v,
                          const char *liability); /* 1 new, 0 existed */
int review_db_get_task(rf_db_t *db, const char *return_id, review_task_t *out); /* 1/0 */
int review_db_decide(rf_db_t *db, const char *return_id, const char *status,
                     const char *decided_by, const char *reason_code, const char *note);
int review_db_cancel(rf_db_t *db, const char *return_id);
int review_db_mark_disputed(rf_db_t *db, const char *return_id, const char *grade);
json_t *review_db_list(rf_db_t *db, const char *status); /* NULL on db error */

#endif
