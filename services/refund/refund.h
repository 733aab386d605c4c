/*
 * refund.h: the refund worker's parts, shared by main.c, refund.c (refund
 * decisions and execution) and refund_db.c (its SQL).
 */
#ifndef REFUND_H
#define REFUND_H

#include <stdbool.h>
#include <stdint.h>

#include "rf/bus.h"
#include "rf/db.h"
#include "rf/http.h"
#include "rf/proto.h"
#include "rf/worker.h"

typedef struct refund_plan {
    char return_id[64], kind[32], liability[16], supplier_id[128], status[16];
    int64_t amount_fen;
    bool goods_expected;
} refund_plan_t;

/* refund.c */
/* refund_after_inspection: true when goods of that grade are refunded; false
 * when the inspection contradicts the request (empty box, wrong item). */
bool refund_after_inspection(const char *grade);
/* refund_claim_party: "supplier" or "carrier" for a liability that is charged
 * on, NULL when the merchant or the buyer bears it. */
const char *refund_claim_party(const char *liability);
/* refund_idempotency_key: the key sent with the platform refund call; one per
 * return, so a retry after a crash can never refund twice. */
void refund_idempotency_key(const char *return_id, char *out, size_t cap);
rf_apply_result_t refund_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen);
bool refund_route(void *arg, rf_http_exchange_t *x);
int refund_start(void *arg, rf_worker_t *w);

/* refund_db.c */
int refund_db_insert_plan(rf_db_t *db, const rf_event_t *approved); /* 1 new, 0 existed */
int refund_db_get_plan(rf_db_t *db, const char *return_id, refund_plan_t *out); /* 1/0 */
int refund_db_set_plan_status(rf_db_t *db, const char *return_id, const char *status);
/* 1 recorded, 0 when this return already has a refund */
int refund_db_record_refund(rf_db_t *db, const char *refund_id, const char *return_id,
                            int64_t amount_fen, const char *key, const char *platform_ref);
int refund_db_open_claim(rf_db_t *db, const char *claim_id, const char *return_id,
                         const char *party, const char *party_id, int64_t amount_fen);
json_t *refund_db_list(rf_db_t *db, const char *return_id); /* NULL on db error */

#endif
