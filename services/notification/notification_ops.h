/*
 * notification_ops.h: notification's operations routes and metrics
 * (notification_report.c).
 */
#ifndef NOTIFICATION_OPS_H
#define NOTIFICATION_OPS_H

#include "worker/worker.h"

bool notification_ops_route(rf_worker_t *w, rf_http_exchange_t *x);
void notification_metrics(rf_worker_t *w, rf_metrics_out_t *out);

#endif
