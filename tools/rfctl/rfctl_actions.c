/*
 * rfctl_actions.c: the commands that change a return. rfctl review
 * approve|reject (a reviewer's decision), rfctl receive (the warehouse got the
 * parcel) and rfctl refunds approve (finance lets a large refund go out).
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

/* POSTs body (freed here) to the row's route for item id; prints
 * "RETURN_ID: status" from the answer. */
static int post_item(const rfctl_command *cmd, const char *id, json_t *body) {
    char path[300];
    rfctl_item_path(path, sizeof path, cmd->route, id, cmd->route_tail);
    json_t *doc = rfctl_call(cmd->worker, "POST", path, body);
    json_decref(body);
    if (!doc) return 1;
    if (!rfctl_json) printf("%s: %s\n", rfctl_text(doc, "return_id"), rfctl_text(doc, "status"));
    return rfctl_done_json(doc);
}

int rfctl_run_review_decide(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos != 1) return rfctl_usage_error("%s", cmd->usage);
    json_t *body = json_object();
    json_object_set_new(body, "by", json_string(rfctl_actor(&o)));
    const char *note = rfctl_arg(&o, "note"), *reason = rfctl_arg(&o, "reason");
    const char *amount = rfctl_arg(&o, "amount");
    if (note) json_object_set_new(body, "note", json_string(note));
    if (reason) json_object_set_new(body, "reason_code", json_string(reason));
    if (amount) {
        char *end;
        long long a = strtoll(amount, &end, 10);
        if (*end || a < 0) {
            json_decref(body);
            return rfctl_usage_error("--amount wants a whole number of fen");
        }
        json_object_set_new(body, "refund_amount_fen", json_integer(a));
    }
    return post_item(cmd, o.pos[0], body);
}

int rfctl_run_refunds_approve(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos != 1) return rfctl_usage_error("%s", cmd->usage);
    json_t *body = json_object();
    const char *note = rfctl_arg(&o, "note");
    if (note) json_object_set_new(body, "note", json_string(note));
    return post_item(cmd, o.pos[0], body);
}

int rfctl_run_receive(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    const char *tracking = rfctl_arg(&o, "tracking"), *condition = rfctl_arg(&o, "condition");
    if (o.npos > 1 || (o.npos == 0 && !tracking)) return rfctl_usage_error("%s", cmd->usage);
    json_t *body = json_object();
    if (o.npos) json_object_set_new(body, "return_id", json_string(o.pos[0]));
    if (tracking) json_object_set_new(body, "tracking_no", json_string(tracking));
    json_object_set_new(body, "condition", json_string(condition ? condition : "resellable"));
    json_object_set_new(body, "received_by", json_string(rfctl_actor(&o)));
    json_t *doc = rfctl_call(cmd->worker, "POST", cmd->route, body);
    json_decref(body);
    if (!doc) return 1;
    if (!rfctl_json) rfctl_print_fields(doc, 12);
    return rfctl_done_json(doc);
}
