/*
 * rfctl_return_detail.c: the commands about one return. rfctl returns show (the
 * return as intake has it, and its timeline of events) and rfctl calls (what
 * review and refund told the platform about it).
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

/* The fields of an event's body that the timeline shows, in this order. */
static const char *const detail_keys[] = {
    "decided_by",        "by",          "reason_code", "grade",    "amount_fen",
    "refund_amount_fen", "received_by", "liability",   "audience", NULL};

static void print_return(json_t *doc) {
    bool rejected = json_is_string(json_object_get(doc, "reject_reason"));
    printf("return     %s\nstatus     %s%s%s\nplatform   %s %s (shop %s)\norder      %s line %s\n"
           "type       %s x%s, reason %s\namount     %s of %s paid\nrequested  %s\n"
           "deadline   %s\n\ntimeline:\n",
           rfctl_text(doc, "return_id"), rfctl_text(doc, "status"), rejected ? " / " : "",
           rejected ? rfctl_text(doc, "reject_reason") : "", rfctl_text(doc, "platform"),
           rfctl_text(doc, "platform_return_id"), rfctl_text(doc, "shop_id"),
           rfctl_text(doc, "order_id"), rfctl_text(doc, "line_id"), rfctl_text(doc, "type"),
           rfctl_text(doc, "quantity"), rfctl_text(doc, "reason_code"),
           rfctl_fmt_fen(rfctl_int(doc, "requested_amount_fen")),
           rfctl_fmt_fen(rfctl_int(doc, "paid_amount_fen")),
           rfctl_fmt_ms_time(json_object_get(doc, "requested_at")),
           rfctl_fmt_ms_time(json_object_get(doc, "platform_deadline_at")));
    rfctl_table t = {.ncols = 4};
    rfctl_table_row(&t, "  AT", "EVENT", "BY", "DETAIL");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "timeline"), i, e) {
        json_t *b = json_object_get(e, "body");
        char detail[200] = "";
        size_t used = 0;
        for (const char *const *k = detail_keys; *k && used < sizeof detail; k++) {
            json_t *v = json_object_get(b, *k);
            if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) continue;
            used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s=%s",
                                     used ? " " : "", *k, rfctl_text(b, *k));
        }
        char at[64];
        snprintf(at, sizeof at, "  %s", rfctl_fmt_ms_time(json_object_get(e, "occurred_at")));
        rfctl_table_row(&t, at, rfctl_text(e, "type"), rfctl_text(e, "producer"), detail);
    }
    rfctl_table_print(&t);
}

int rfctl_run_returns_show(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos != 1) return rfctl_usage_error("%s", cmd->usage);
    char path[300];
    rfctl_item_path(path, sizeof path, cmd->route, o.pos[0], cmd->route_tail);
    json_t *doc = rfctl_call(cmd->worker, "GET", path, NULL);
    if (!doc) return 1;
    if (!rfctl_json) print_return(doc);
    return rfctl_done_json(doc);
}

/* Adds worker w's platform calls (doc) to the table: a row per request sent
 * (a call and the record fetched after a refusal); returns how many calls. */
static size_t add_calls(rfctl_table *t, int w, json_t *calls) {
    const char *worker = rfctl_worker_names[w];
    size_t i, k;
    json_t *c, *q;
    json_array_foreach(calls, i, c) {
        const char *state = rfctl_text(c, "state");
        char call_id[32];
        snprintf(call_id, sizeof call_id, "%s", rfctl_fmt_int(rfctl_int(c, "call_id")));
        json_array_foreach(json_object_get(c, "requests"), k, q) {
            char *param = json_dumps(json_object_get(q, "param"), JSON_COMPACT);
            rfctl_table_row(t, worker, call_id, rfctl_text(q, "method"), k == 0 ? state : "",
                            rfctl_fmt_ms_time(json_object_get(q, "started_at")),
                            rfctl_text(q, "outcome"), rfctl_fmt_int(rfctl_int(q, "result_code")),
                            rfctl_fmt_int(rfctl_int(q, "duration_ms")),
                            rfctl_text(q, "idempotency_key"), param ? param : "");
            free(param);
        }
        if (json_array_size(json_object_get(c, "requests")) == 0)
            rfctl_table_row(t, worker, call_id, rfctl_text(c, "method"), state, "-", "", "", "",
                            rfctl_text(c, "idempotency_key"), rfctl_text(c, "error"));
    }
    return json_array_size(calls);
}

/* rfctl calls RETURN_ID: what review and refund told the platform about a
 * return: one row per request sent, with the call's state, the platform's
 * result and the time taken. */
int rfctl_run_calls(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos != 1) return rfctl_usage_error("%s", cmd->usage);
    char path[300];
    snprintf(path, sizeof path, "%s", cmd->route);
    rfctl_add_param(path, sizeof path, "return_id", o.pos[0]);
    json_t *all = json_pack("{s:s}", "return_id", o.pos[0]);
    static const int workers[] = {RFCTL_REVIEW, RFCTL_REFUND};
    rfctl_table t = {.ncols = 10};
    rfctl_table_row(&t, "WORKER", "CALL", "METHOD", "STATE", "SENT", "OUTCOME", "RESULT", "MS",
                    "IDEMPOTENCY_KEY", "PARAM");
    size_t n_calls = 0;
    for (size_t w = 0; w < sizeof workers / sizeof workers[0]; w++) {
        json_t *doc = rfctl_call(workers[w], "GET", path, NULL);
        if (!doc) {
            json_decref(all);
            rfctl_table_discard(&t);
            return 1;
        }
        json_t *calls = json_object_get(doc, "calls");
        json_object_set(all, rfctl_worker_names[workers[w]], calls ? calls : json_array());
        n_calls += add_calls(&t, workers[w], calls);
        json_decref(doc);
    }
    if (!rfctl_json) {
        rfctl_table_print(&t);
        printf("%zu call(s)\n", n_calls);
    } else {
        rfctl_table_discard(&t);
    }
    return rfctl_done_json(all);
}
