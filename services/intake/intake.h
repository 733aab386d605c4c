/*
 * intake.h: the intake worker's parts, shared by main.c, intake.c (logic and
 * HTTP API) and intake_db.c (its SQL). Nothing outside services/intake
 * includes this.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "rf/bus.h"
#include "rf/db.h"
#include "rf/http.h"
#include "rf/proto.h"
#include "rf/worker.h"

/* One order line as sent by a feed. Strings are borrowed from the request. */
typedef struct intake_order_line {
    const char *line_id, *sku_id, *title, *category, *supplier_id;
    int64_t quantity;       /* units ordered */
    int64_t unit_price_fen; /* paid per unit, fen */
} intake_order_line_t;

/* One order as sent by a feed (POST /v1/orders). */
typedef struct intake_order {
    const char *platform, *shop_id, *order_id, *buyer_id, *region, *payment_method;
    int64_t paid_at, delivered_at; /* ms, 0 when unknown */
    int64_t shipping_fee_fen;
    intake_order_line_t *lines;
    size_t n_lines;
} intake_order_t;

/* A return request (POST /v1/returns). Strings borrowed from the request. */
typedef struct intake_return_req {
    const char *platform, *platform_return_id, *order_id, *line_id, *kind, *reason_code,
        *reason_text;
    int64_t quantity, requested_amount_fen, requested_at, platform_deadline_at;
} intake_return_req_t;

/* What intake knows of the ordered line a return is about. */
typedef struct intake_line_info {
    char shop_id[128], buyer_id[128], region[64], sku_id[128], category[64], supplier_id[128];
    int64_t quantity, unit_price_fen, delivered_at; /* delivered_at ms, 0 if unknown */
    int64_t returned_qty; /* units in other returns of this line not rejected/cancelled */
} intake_line_info_t;

/* The status a return shows, and its rank: a status only ever moves to a
 * higher rank, so a late event from a slow link never moves a return back. */
typedef struct intake_status {
    const char *status; /* NULL: the event does not change the status */
    int rank;
} intake_status_t;

/* intake.c: logic */
intake_status_t intake_status_after(const rf_event_t *ev);
bool intake_reason_known(const char *reason_code);
rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool intake_route(void *arg, rf_http_exchange_t *x);
int intake_start(void *arg, rf_worker_t *w);

/* intake_db.c: SQL. Each returns -1 on a database error. */
int intake_db_upsert_order(rf_db_t *db, const intake_order_t *o);
int intake_db_find_line(rf_db_t *db, const char *platform, const char *order_id,
                        const char *line_id, intake_line_info_t *out); /* 1 found, 0 not */
int intake_db_find_return(rf_db_t *db, const char *platform, const char *platform_return_id,
                          char *return_id, size_t cap); /* 1 found, 0 not */
int intake_db_insert_return(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                            const char *shop_id, int64_t paid_amount_fen); /* 1 new, 0 exists */
int intake_db_timeline_add(rf_db_t *db, const rf_event_t *ev); /* 1 added, 0 unknown return */
int intake_db_set_status(rf_db_t *db, const char *return_id, const char *status, int rank,
                         const char *reject_reason);
/* intake_db_return_json: the return with its timeline (new reference), NULL
 * when unknown; *dberr set on a database error. */
json_t *intake_db_return_json(rf_db_t *db, const char *return_id, bool *dberr);

#endif
