/*
 * warehouse_ops.h: warehouse's operations routes and metrics (warehouse_report.c).
 */
#ifndef WAREHOUSE_OPS_H
#define WAREHOUSE_OPS_H

#include "worker/worker.h"

bool warehouse_ops_route(rf_worker_t *w, rf_http_exchange_t *x);
void warehouse_metrics(rf_worker_t *w, rf_metrics_out_t *out);

#endif
