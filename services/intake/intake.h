/*
 * intake.h: the intake worker's parts, shared by main.c, intake.c (logic and
 * HTTP API) and intake_db.c (its SQL). Nothing outside services/intake
 * includes this.
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

/* One order line as sent by a feed. Strings are borrowed from the request. */
typedef struct intake_order_line {
    const char *line_id, *sku_id, *title, *category, *supplier_id;
    int64_t quantity;       /* units ordered */
    int64_t unit_price_fen; /* price per unit before the order's discount, fen */
    bool exclusion_confirmed; /* buyer confirmed "no no-reason return" at purchase */
    int64_t paid_fen;       /* computed: line total after its discount share */
    int64_t shipping_fen;   /* computed: the line's share of the order's shipping fee */
} intake_order_line_t;

/* One order as sent by a feed (POST /v1/orders). */
typedef struct intake_order {
    const char *platform, *shop_id, *order_id, *buyer_id, *region, *payment_method;
    int64_t paid_at, delivered_at; /* ms, 0 when unknown */
    int64_t shipping_fee_fen;
    int64_t discount_fen;   /* order-level discount (coupons), shared pro rata */
    bool freight_insured;   /* the buyer bought freight insurance (运费险) */
    intake_order_line_t *lines;
    size_t n_lines;
} intake_order_t;

/* A return request (POST /v1/returns). Strings borrowed from the request. */
typedef struct intake_return_req {
    const char *platform, *platform_return_id, *order_id, *line_id, *kind, *reason_code,
        *reason_text;
    int64_t quantity, requested_amount_fen, requested_at, platform_deadline_at;
    int64_t platform_version; /* the platform record's version (updateTime, ms); 0: none */
} intake_return_req_t;

/* What intake knows of the ordered line a return is about. */
typedef struct intake_line_info {
    char shop_id[128], buyer_id[128], region[64], sku_id[128], category[64], supplier_id[128];
    int64_t quantity, unit_price_fen, delivered_at; /* delivered_at ms, 0 if unknown */
    int64_t returned_qty; /* units in other returns of this line not rejected/cancelled */
    int64_t paid_fen;     /* line total after its discount share, fen */
    int64_t shipping_fen; /* the line's share of the order's shipping fee */
    bool exclusion_confirmed, freight_insured;
    int64_t open_returns; /* returns of this line still in progress */
    char open_return_id[64];
} intake_line_info_t;

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

/* intake.c: logic */
extern char intake_policy_file[RF_CFG_STR_MAX]; /* RF_INTAKE_POLICY_FILE, "" for none */
extern int64_t intake_max_backlog;              /* RF_INTAKE_MAX_BACKLOG, 0 for no limit */
/* intake_pipeline_busy: intake's events not yet acknowledged (in *backlog)
 * reached RF_INTAKE_MAX_BACKLOG: take no new return now (API: 503 busy;
 * feeds: pushes stay recorded, processed once the pipeline caught up). */
bool intake_pipeline_busy(int64_t *backlog);
intake_status_t intake_status_after(const rf_event_t *ev);
bool intake_reason_known(const char *reason_code);
/* intake_follow.c: the events other workers send (timeline and status) */
rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
void intake_follow_start(rf_worker_t *w);
bool intake_route(void *arg, rf_http_exchange_t *x);
int intake_start(void *arg, rf_worker_t *w);

/* The outcome of creating a return from a request. */
typedef enum intake_create_outcome {
    INTAKE_CREATED,         /* return.requested emitted */
    INTAKE_DUPLICATE,       /* this platform id is already a return (return_id set) */
    INTAKE_REFUSED,         /* the policy refused it (recorded; code and msg set) */
    INTAKE_AMOUNT_EXCEEDED, /* asks back more than was paid (msg set) */
    INTAKE_CREATE_DB_ERROR,
} intake_create_outcome_t;

typedef struct intake_create_result {
    intake_create_outcome_t outcome;
    char return_id[RF_ID_MAX];
    const char *code; /* the refusal's reason code */
    char msg[300];
} intake_create_result_t;

/* intake_return_create_tx: take up a return request inside the caller's open
 * transaction (rf_bus_tx_begin): the policy checks, the record, and
 * return.requested carrying r->platform_version (0 when none). An amount over
 * what was paid is recorded as refused only when record_amount_refusal. The
 * caller commits (or rolls back on INTAKE_CREATE_DB_ERROR). */
void intake_return_create_tx(const intake_return_req_t *r, bool record_amount_refusal,
                             intake_create_result_t *out);
/* allocate_order for feeds: share discount and shipping among o's lines. */
int intake_order_allocate(intake_order_t *o);

/* intake_db.c: SQL. Each returns -1 on a database error. */
int intake_db_upsert_order(rf_db_t *db, const intake_order_t *o);
int intake_db_find_line(rf_db_t *db, const char *platform, const char *order_id,
                        const char *line_id, intake_line_info_t *out); /* 1 found, 0 not */
int intake_db_find_return(rf_db_t *db, const char *platform, const char *platform_return_id,
                          char *return_id, size_t cap); /* 1 found, 0 not */
int intake_db_insert_return(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                            const char *shop_id, int64_t paid_amount_fen); /* 1 new, 0 exists */
/* Record a request the policy refused (status rejected with the reason). */
int intake_db_insert_refused(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                             const char *shop_id, const char *reason);
/* The reason an earlier request with this platform id was refused at intake
 * ("" if it was not refused); 1 found, 0 not. */
int intake_db_refused_reason(rf_db_t *db, const char *return_id, char *reason, size_t cap);
int intake_db_delete_refused(rf_db_t *db, const char *return_id);
/* The shop's policy into p (defaults when the shop has none); 0 or -1. */
int intake_db_load_policy(rf_db_t *db, const char *shop_id, intake_policy_t *p);
int intake_db_store_policy(rf_db_t *db, const char *shop_id, const char *doc_json);
void intake_db_policy_cache_clear(void); /* after storing policies */
/* Status of a return into status (1 found, 0 not). */
int intake_db_get_status(rf_db_t *db, const char *return_id, char *status, size_t cap,
                         int *rank);
int intake_db_timeline_add(rf_db_t *db, const rf_event_t *ev); /* 1 added, 0 unknown return */
int intake_db_set_status(rf_db_t *db, const char *return_id, const char *status, int rank,
                         const char *reject_reason);
/* intake_db_return_json: the return with its timeline (new reference), NULL
 * when unknown; *dberr set on a database error. */
json_t *intake_db_return_json(rf_db_t *db, const char *return_id, bool *dberr);

#endif
