/*
 * rfctl_status.c: rfctl status. Every worker's health (/healthz) and, from its
 * /metrics page, its outbox, inbox and dead letters and the queue of work that
 * waits for people there; a worker down makes the exit code 1.
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

/* Sum (or max) of the samples of metric `name` in a Prometheus text page;
 * `label` ("status=\"pending\"") narrows the samples when not NULL. */
static double metric_value(const char *text, const char *name, const char *label, bool max) {
    double acc = 0;
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || (p[nl] != '{' && p[nl] != ' ')) continue;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        if (len >= sizeof line) continue;
        memcpy(line, p, len);
        line[len] = '\0';
        if (label && !strstr(line, label)) continue;
        const char *sp = strrchr(line, ' ');
        double v = sp ? strtod(sp + 1, NULL) : 0;
        acc = max ? (v > acc ? v : acc) : acc + v;
    }
    return acc;
}

/* Each worker's own queue of work waiting for people: its name, the metric of
 * its depth (narrowed by a label, or not) and of its oldest item's age (or none). */
static const struct queue {
    int worker;
    const char *name, *depth, *label, *oldest;
} queues[] = {
    {RFCTL_REVIEW, "reviews pending", "rf_review_tasks", "status=\"pending\"",
     "rf_review_oldest_pending_age_seconds"},
    {RFCTL_WAREHOUSE, "parcels expected", "rf_parcels_expected", NULL,
     "rf_parcels_oldest_expected_age_seconds"},
    {RFCTL_INTAKE, "deadline at risk", "rf_returns_deadline_at_risk", NULL, NULL},
    {RFCTL_REFUND, "waiting goods", "rf_refund_plans", "status=\"waiting_goods\"", NULL},
};

/* Adds what worker w's metrics page t says to its row. */
static void add_metrics(json_t *row, int w, const char *t) {
    json_int_t outbox = (json_int_t)metric_value(t, "rf_outbox_pending", NULL, false);
    json_int_t oldest_s = (json_int_t)metric_value(t, "rf_outbox_oldest_age_seconds", NULL, true);
    json_int_t dl = (json_int_t)metric_value(t, "rf_dead_letters", NULL, false);
    json_int_t applied = (json_int_t)metric_value(t, "rf_inbox_applied_total", NULL, false);
    const char *queue = "-";
    json_int_t qn = 0, qage = 0;
    for (size_t i = 0; i < sizeof queues / sizeof queues[0]; i++) {
        const struct queue *q = &queues[i];
        if (q->worker != w) continue;
        queue = q->name;
        qn = (json_int_t)metric_value(t, q->depth, q->label, false);
        if (q->oldest) qage = (json_int_t)metric_value(t, q->oldest, NULL, true);
    }
    json_object_set_new(row, "outbox_pending", json_integer(outbox));
    json_object_set_new(row, "outbox_oldest_age_s", json_integer(oldest_s));
    json_object_set_new(row, "inbox_applied", json_integer(applied));
    json_object_set_new(row, "dead_letters", json_integer(dl));
    json_object_set_new(row, "queue", json_string(queue));
    json_object_set_new(row, "queue_depth", json_integer(qn));
    json_object_set_new(row, "queue_oldest_age_s", json_integer(qage));
}

static void print_status(json_t *list) {
    rfctl_table t = {.ncols = 9};
    rfctl_table_row(&t, "WORKER", "STATE", "DB", "OUTBOX", "OLDEST", "APPLIED", "DEAD", "QUEUE",
                    "DEPTH/OLDEST");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        bool up = json_is_true(json_object_get(r, "up"));
        char q[96];
        snprintf(q, sizeof q, "%s/%s", rfctl_text(r, "queue_depth"),
                 rfctl_fmt_age(rfctl_int(r, "queue_oldest_age_s")));
        rfctl_table_row(&t, rfctl_text(r, "worker"), up ? "up" : "DOWN",
                        up ? (json_is_true(json_object_get(r, "database")) ? "ok" : "DOWN") : "-",
                        up ? rfctl_text(r, "outbox_pending") : "-",
                        up ? rfctl_fmt_age(rfctl_int(r, "outbox_oldest_age_s")) : "-",
                        up ? rfctl_text(r, "inbox_applied") : "-",
                        up ? rfctl_text(r, "dead_letters") : "-",
                        up ? rfctl_text(r, "queue") : "unreachable", up ? q : "-");
    }
    rfctl_table_print(&t);
}

int rfctl_run_status(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos) return rfctl_usage_error("%s", cmd->usage);
    json_t *list = json_array();
    int down = 0;
    for (int w = 0; w < RFCTL_WORKERS; w++) {
        rfctl_answer h, m;
        rfctl_http(w, "GET", "/healthz", NULL, &h);
        json_t *hd = h.body ? json_loads(h.body, 0, NULL) : NULL;
        bool up = h.status == 200 || h.status == 503;
        bool db = json_is_true(json_object_get(hd, "database"));
        json_t *row = json_pack("{s:s, s:s, s:b, s:b}", "worker", rfctl_worker_names[w], "address",
                                rfctl_worker_addr(w), "up", up, "database", db);
        if (!up) down++;
        if (up && rfctl_http(w, "GET", "/metrics", NULL, &m) == 200 && m.body)
            add_metrics(row, w, m.body);
        if (!up) json_object_set_new(row, "error", json_string(h.err[0] ? h.err : "no answer"));
        json_array_append_new(list, row);
        json_decref(hd);
        free(h.body);
        if (up) free(m.body);
    }
    if (rfctl_json) {
        json_t *doc = json_pack("{s:o, s:i}", "workers", list, "down", down);
        rfctl_print_json(doc);
        json_decref(doc);
    } else {
        print_status(list);
        json_decref(list);
    }
    if (down) fprintf(stderr, "rfctl: %d worker%s down\n", down, down > 1 ? "s" : "");
    return down ? 1 : 0;
}
