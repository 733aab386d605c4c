/*
 * refund_ops.h: refund's operations routes and metrics (refund_report.c).
 */
#ifndef REFUND_OPS_H
#define REFUND_OPS_H

#include "worker/worker.h"

bool refund_ops_route(rf_worker_t *w, rf_http_exchange_t *x);
void refund_metrics(rf_worker_t *w, rf_metrics_out_t *out);

#endif
