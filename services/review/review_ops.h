/*
 * review_ops.h: review's operations metrics and settings (review_report.c).
 */
#ifndef REVIEW_OPS_H
#define REVIEW_OPS_H

#include <stdint.h>

#include "worker/worker.h"

/* RF_REVIEW_DEADLINE_WARN_S: a pending task whose platform deadline is this
 * close counts as near its deadline. */
extern int64_t review_deadline_warn_s;

bool review_ops_route(rf_worker_t *w, rf_http_exchange_t *x);
void review_metrics(rf_worker_t *w, rf_metrics_out_t *out);

#define REVIEW_OPS_CONFIG                                                                       \
    {                                                                                           \
        "RF_REVIEW_DEADLINE_WARN_S", RF_CFG_INT, &review_deadline_warn_s, "21600", 0, 31536000, \
            "a pending review whose platform deadline is this many seconds away or less is at " \
            "risk "                                                                             \
            "(metrics, rfctl sla, the ops page)"                                                \
    }

#endif
