/*
 * warehouse.h: the warehouse worker's parts, shared by main.c, warehouse.c
 * (goods handling and HTTP API) and warehouse_db.c (its SQL).
 */
#ifndef WAREHOUSE_H
#define WAREHOUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "db/db.h"
#include "http/http.h"
#include "proto/proto.h"
#include "worker/worker.h"

/* An expected parcel as stored. */
typedef struct warehouse_parcel {
    char return_id[64], sku_id[128], supplier_id[128], status[16], kind[32], destination[16];
    int64_t quantity;
} warehouse_parcel_t;

/* Settings. */
extern int64_t warehouse_supplier_accept_days; /* the supplier's acceptance window */

/* legs.c: the supplier leg and reship state machines */
bool warehouse_leg_state_known(const char *state);
bool warehouse_leg_can_move(const char *from, const char *to);
bool warehouse_reship_can_move(const char *from, const char *to);
/* Goods go on to the supplier: its destination, or a return_to_supplier grade. */
bool warehouse_needs_supplier_leg(const char *destination, const char *disposition);

/* warehouse.c: goods handling */
bool warehouse_grade_known(const char *grade);
/* warehouse_disposition: where goods of that grade go: restock, quarantine,
 * return_to_supplier or scrap. */
const char *warehouse_disposition(const char *grade);
/* warehouse_location: the stock ledger location for a disposition. */
const char *warehouse_location(const char *disposition);
rf_apply_result_t warehouse_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool warehouse_route(void *arg, rf_http_exchange_t *x);
int warehouse_start(void *arg, rf_worker_t *w);

/* warehouse_db.c */
int warehouse_db_expect(rf_db_t *db, const rf_event_t *approved);
int warehouse_db_cancel(rf_db_t *db, const char *return_id);
/* A parcel's receipt as the warehouse records it. */
typedef struct warehouse_receipt {
    const char *receipt_id, *return_id, *tracking_no; /* the parcel by return id, else tracking */
    const char *grade, *disposition;
    const char *location; /* the stock ledger location of the disposition (warehouse_location) */
    const char *received_by;
} warehouse_receipt_t;
/* warehouse_db_receive: find the parcel of receipt rc (into out, with the
 * status it had) and, when it was expected, mark it received, record the
 * receipt and enter its goods in the stock ledger. 1 found, 0 not (nothing
 * written), -1 db error. */
int warehouse_db_receive(rf_db_t *db, const warehouse_receipt_t *rc, warehouse_parcel_t *out);
/* Record the return tracking number of an expected parcel: 1 set, 0 no such
 * parcel still expected. */
int warehouse_db_set_tracking(rf_db_t *db, const char *return_id, const char *tracking_no);
/* Open the supplier leg (requested) of a received parcel; 1 new, 0 existed. */
int warehouse_db_leg_open(rf_db_t *db, const warehouse_parcel_t *p, int64_t accept_days);
/* The leg's state into state (1 found, 0 not); locks it. */
int warehouse_db_leg_state(rf_db_t *db, const char *return_id, char *state, size_t cap, bool *late);
int warehouse_db_leg_move(rf_db_t *db, const char *return_id, const char *state, const char *by,
                          const char *tracking_no, const char *note, bool late);
json_t *warehouse_db_legs(rf_db_t *db, const char *supplier_id, bool overdue_only);
/* Reship of an exchange: open (1 new, 0 existed), state (1/0), move. */
int warehouse_db_reship_open(rf_db_t *db, const warehouse_parcel_t *p);
int warehouse_db_reship_state(rf_db_t *db, const char *return_id, char *state, size_t cap,
                              char *supplier_id, size_t scap);
int warehouse_db_reship_move(rf_db_t *db, const char *return_id, const char *state,
                             const char *tracking_no);
int warehouse_db_unmatched(rf_db_t *db, const char *receipt_id, const char *tracking_no,
                           const char *grade, const char *received_by);

#endif
