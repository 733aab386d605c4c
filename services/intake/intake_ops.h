/*
 * intake_ops.h: intake's operations routes and metrics (intake_report.c).
 */
#ifndef INTAKE_OPS_H
#define INTAKE_OPS_H

#include "worker/worker.h"

bool intake_ops_route(rf_worker_t *w, rf_http_exchange_t *x);
void intake_metrics(rf_worker_t *w, rf_metrics_out_t *out);

#endif
