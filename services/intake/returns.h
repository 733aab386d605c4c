/*
 * returns.h: orders and return requests as intake takes them up: all that
 * intake's platform feeds (feeds/) use of intake's core. intake.h includes
 * it, with the rest of the core.
 *
 *   policy.c      the reasons a request may give
 *   returns.c     an order's lines priced, a return request taken up, the
 *                 pipeline's backlog limit
 *   intake_db.c   the orders, returns and timeline rows the feeds read and write
 */
#ifndef INTAKE_RETURNS_H
#define INTAKE_RETURNS_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "runtime/ids.h"
#include "proto/proto.h"
#include "worker/worker.h"

#define INTAKE_ID_MAX 128          /* platform ids and similar, as the API takes them */
#define INTAKE_ORDER_LINES_MAX 200 /* lines of one order */

/* One order line as sent by a feed. Strings are borrowed from the request. */
typedef struct intake_order_line {
    const char *line_id, *sku_id, *title, *category, *supplier_id;
    int64_t quantity;         /* units ordered */
    int64_t unit_price_fen;   /* price per unit before the order's discount, fen */
    bool exclusion_confirmed; /* buyer confirmed "no no-reason return" at purchase */
    int64_t paid_fen;         /* computed: line total after its discount share */
    int64_t shipping_fen;     /* computed: the line's share of the order's shipping fee */
} intake_order_line_t;

/* One order as sent by a feed (POST /v1/orders). */
typedef struct intake_order {
    const char *platform, *shop_id, *order_id, *buyer_id, *region, *payment_method;
    int64_t paid_at, delivered_at; /* ms, 0 when unknown */
    int64_t shipping_fee_fen;
    int64_t discount_fen; /* order-level discount (coupons), shared pro rata */
    bool freight_insured; /* the buyer bought freight insurance (运费险) */
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

/* ---- policy.c ---------------------------------------------------------------------- */

/* The reason codes a return request may give (NULL-ended). */
extern const char *const intake_reasons[];
bool intake_reason_known(const char *reason_code);

/* ---- returns.c --------------------------------------------------------------------- */

/* allocate_order for feeds: share discount and shipping among o's lines. */
int intake_order_allocate(intake_order_t *o);

/* intake_pipeline_busy: intake's events not yet acknowledged (in *backlog)
 * reached RF_INTAKE_MAX_BACKLOG: take no new return now (API: 503 busy;
 * feeds: pushes stay recorded, processed once the pipeline caught up). */
bool intake_pipeline_busy(rf_worker_t *w, int64_t *backlog);

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
 * transaction (rf_bus_tx_begin on w's bus): the policy checks, the record, and
 * return.requested carrying r->platform_version (0 when none). An amount over
 * what was paid is recorded as refused only when record_amount_refusal. The
 * caller commits (or rolls back on INTAKE_CREATE_DB_ERROR). */
void intake_return_create_tx(rf_worker_t *w, const intake_return_req_t *r,
                             bool record_amount_refusal, intake_create_result_t *out);

/* ---- intake_db.c: orders, returns and their timeline. Each returns -1 on a database error. */

int intake_db_upsert_order(rf_db_t *db, const intake_order_t *o);
int intake_db_find_line(rf_db_t *db, const char *platform, const char *order_id,
                        const char *line_id, intake_line_info_t *out); /* 1 found, 0 not */
int intake_db_find_return(rf_db_t *db, const char *platform, const char *platform_return_id,
                          char *return_id, size_t cap); /* 1 found, 0 not */
/* The reason an earlier request with this platform id was refused at intake
 * ("" if it was not refused); 1 found, 0 not. */
int intake_db_refused_reason(rf_db_t *db, const char *return_id, char *reason, size_t cap);
int intake_db_timeline_add(rf_db_t *db, const rf_event_t *ev); /* 1 added, 0 unknown return */
int intake_db_set_status(rf_db_t *db, const char *return_id, const char *status, int rank,
                         const char *reject_reason);

#endif
