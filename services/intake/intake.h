/*
 * intake.h: the intake worker's parts, shared by main.c, intake.c (the HTTP
 * API), returns.c (taking up a return request), intake_follow.c (the events
 * followed), policy.c, intake_report.c and intake_db.c (its SQL). Nothing
 * outside services/intake includes this; the platform feeds (feeds/) see
 * only the part in returns.h.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "http/http.h"
#include "runtime/ids.h"
#include "proto/proto.h"
#include "worker/worker.h"
#include "returns.h"

/* ---- policy.c: what a shop accepts ------------------------------------------ */

#define INTAKE_CATEGORIES_MAX 16
#define INTAKE_CATEGORY_MAX 32

/* A shop's return policy (defaults: intake_policy_default). */
typedef struct intake_policy {
    int64_t no_reason_days; /* 七天无理由: 7 */
    int64_t quality_days;   /* quality fault window: 15 */
    int64_t tz_offset_min;  /* days are counted in this time zone: +480 (Beijing) */
    bool one_open_per_line; /* refuse a second open return on a line */
    char never[INTAKE_CATEGORIES_MAX][INTAKE_CATEGORY_MAX]; /* no no-reason return */
    size_t n_never;
    /* returnable without a fault only if the buyer did not confirm the exclusion */
    char conditional[INTAKE_CATEGORIES_MAX][INTAKE_CATEGORY_MAX];
    size_t n_conditional;
} intake_policy_t;

/* What the acceptability check looks at. */
typedef struct intake_check_in {
    bool line_found;
    const char *reason_code, *category;
    bool exclusion_confirmed;
    int64_t delivered_at, requested_at; /* ms; delivered_at 0: not delivered yet */
    int64_t quantity, ordered, returned, open_returns;
    const char *open_return_id;
} intake_check_in_t;

void intake_policy_default(intake_policy_t *p);
/* intake_policy_from_json: override p's fields with those present in doc.
 * 0, or -1 with a message naming the field. */
int intake_policy_from_json(json_t *doc, intake_policy_t *p, char *err, size_t errlen);
bool intake_reason_is_fault(const char *reason_code);
/* intake_window_end: the first ms after a window of `days` days counted from
 * the day after delivered_at (in the zone tz_offset_min east of UTC). */
int64_t intake_window_end(int64_t delivered_at, int64_t days, int64_t tz_offset_min);
/* intake_check: NULL when the request is acceptable, else the rejection
 * reason code (order_unknown, duplicate_request, quantity_exceeded,
 * window_expired, category_excluded) with a message for the caller. */
const char *intake_check(const intake_policy_t *p, const intake_check_in_t *in, char *msg,
                         size_t msglen);
/* intake_allocate: share `total` fen among n lines in proportion to weights
 * (largest remainder: floors, then one fen each to the largest remainders,
 * earlier line first on ties), so the shares always add up to total exactly.
 * 0, or -1 on negative input. */
int intake_allocate(int64_t total, const int64_t *weights, size_t n, int64_t *out);

/* The status a return shows, and its rank: a status only ever moves to a
 * higher rank, so a late event from a slow link never moves a return back. */
typedef struct intake_status {
    const char *status; /* NULL: the event does not change the status */
    int rank;
} intake_status_t;

/* intake_follow.c: the events other workers send (timeline and status) */
intake_status_t intake_status_after(const rf_event_t *ev);
rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
void intake_follow_start(rf_worker_t *w);

/* returns.c */
extern int64_t intake_max_backlog; /* RF_INTAKE_MAX_BACKLOG, 0 for no limit */

/* intake.c: the HTTP API */
extern char intake_policy_file[RF_CFG_STR_MAX]; /* RF_INTAKE_POLICY_FILE, "" for none */
bool intake_route(void *arg, rf_http_exchange_t *x);
int intake_start(void *arg, rf_worker_t *w);

/* intake_db.c: SQL (orders, returns and the timeline: returns.h). Each returns -1 on a
 * database error. */
int intake_db_insert_return(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                            const char *shop_id, int64_t paid_amount_fen); /* 1 new, 0 exists */
/* Record a request the policy refused (status rejected with the reason). */
int intake_db_insert_refused(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                             const char *shop_id, const char *reason);
int intake_db_delete_refused(rf_db_t *db, const char *return_id);
/* The shop's policy into p (defaults when the shop has none); 0 or -1. */
int intake_db_load_policy(rf_db_t *db, const char *shop_id, intake_policy_t *p);
int intake_db_store_policy(rf_db_t *db, const char *shop_id, const char *doc_json);
void intake_db_policy_cache_clear(void); /* after storing policies */
/* Status of a return into status (1 found, 0 not). */
int intake_db_get_status(rf_db_t *db, const char *return_id, char *status, size_t cap, int *rank);
/* intake_db_return_json: the return with its timeline (new reference), NULL
 * when unknown; *dberr set on a database error. */
json_t *intake_db_return_json(rf_db_t *db, const char *return_id, bool *dberr);

#endif
