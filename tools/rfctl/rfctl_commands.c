/*
 * rfctl_commands.c: the command table, a row per command (rfctl_internal.h says
 * what a row holds), and the handler of the rows that are plain lists: one
 * worker's list route, its options turned into query parameters, a table of
 * the items with the row's columns and a count line; --json prints the
 * worker's answer. A new list command is a new row.
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

int rfctl_run_list(const rfctl_command *cmd, int argc, char **argv) {
    char allowed[160] = "";
    for (const rfctl_param *p = cmd->params; p < cmd->params + RFCTL_MAX_PARAMS && p->option; p++) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof allowed - used, "%s%s", used ? " " : "", p->option);
    }
    rfctl_args a;
    if (rfctl_parse_args(argc, argv, allowed, &a)) return 2;
    char path[1024];
    snprintf(path, sizeof path, "%s", cmd->route);
    for (const rfctl_param *p = cmd->params; p < cmd->params + RFCTL_MAX_PARAMS && p->option; p++) {
        const char *value = rfctl_arg(&a, p->option);
        char secs[32];
        if (value && p->duration) {
            long long s = rfctl_parse_duration(value);
            if (s < 0)
                return rfctl_usage_error("--%s wants a duration like 90s, 15m, 2h or 3d",
                                         p->option);
            snprintf(secs, sizeof secs, "%lld", s);
            value = secs;
        }
        rfctl_add_param(path, sizeof path, p->query, value);
    }
    json_t *doc = rfctl_call(cmd->worker, "GET", path, NULL);
    if (!doc) return 1;
    if (!rfctl_json) {
        json_t *items = json_object_get(doc, cmd->items);
        size_t n = rfctl_print_items(cmd->columns, items, false);
        if (cmd->footer) cmd->footer(doc, items);
        else printf("%zu %s(s)\n", n, cmd->noun);
    }
    return rfctl_done_json(doc);
}

/* sla's LEFT column: the time left to the platform's deadline, or how long ago
 * it passed. */
static const char *sla_left(json_t *item, const char *key) {
    json_int_t left = rfctl_int(item, key);
    if (left >= 0) return rfctl_fmt_age(left);
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "PASSED %s ago", rfctl_fmt_age(-left));
    return b;
}

/* dlq list's REASON column: the first 70 bytes of the reason. */
static const char *clip_reason(json_t *item, const char *key) {
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "%.70s", rfctl_text(item, key));
    return b;
}

static void sla_footer(json_t *answer, json_t *items) {
    size_t i, passed = 0;
    json_t *r;
    json_array_foreach(items, i, r) if (rfctl_int(r, "seconds_left") < 0) passed++;
    printf("%zu return(s) awaiting the seller with a deadline within %s; %zu passed\n",
           json_array_size(items), rfctl_fmt_age(rfctl_int(answer, "within_s")), passed);
}

const rfctl_command rfctl_commands[] = {
    {.name = "status",
     .help = "status",
     .summary = "every worker: up/down, queues, ages, dead letters",
     .run = rfctl_run_status,
     .options = "",
     .usage = "status takes no arguments"},
    {.name = "returns",
     .sub = "list",
     .help = "returns list [--state S] [--shop S] [--older-than 2h] [--limit N]",
     .run = rfctl_run_list,
     .worker = RFCTL_INTAKE,
     .route = "/v1/returns",
     .params = {{"state", "state"},
                {"shop", "shop"},
                {"limit", "limit"},
                {"older-than", "older_than_s", true}},
     .items = "returns",
     .columns = {{"RETURN", "return_id"},
                 {"STATUS", "status"},
                 {"SHOP", "shop_id"},
                 {"PLATFORM_ID", "platform_return_id"},
                 {"TYPE", "kind"},
                 {"REASON", "reason_code"},
                 {"AMOUNT", "requested_amount_fen", rfctl_cell_fen},
                 {"AGE", "age_s", rfctl_cell_age}},
     .noun = "return"},
    {.name = "returns",
     .sub = "show",
     .help = "returns show RETURN_ID",
     .summary = "a return and its timeline",
     .run = rfctl_run_returns_show,
     .options = "",
     .usage = "returns show RETURN_ID",
     .worker = RFCTL_INTAKE,
     .route = "/v1/returns/"},
    {.name = "review",
     .sub = "list",
     .help = "review list [--status pending]",
     .run = rfctl_run_list,
     .worker = RFCTL_REVIEW,
     .route = "/v1/reviews",
     .params = {{"status", "status"}},
     .items = "reviews",
     .columns = {{"RETURN", "return_id"},
                 {"STATUS", "status"},
                 {"TYPE", "kind"},
                 {"REASON", "reason_code"},
                 {"AMOUNT", "requested_amount_fen", rfctl_cell_fen},
                 {"NEEDS", "required_role"},
                 {"DEADLINE", "deadline_at", rfctl_cell_ms_time}},
     .noun = "review"},
    {.name = "review",
     .sub = "approve",
     .help = "review approve RETURN_ID [--amount FEN] [--note TEXT]",
     .run = rfctl_run_review_decide,
     .options = "amount note by",
     .usage = "review approve RETURN_ID [--amount FEN] [--note TEXT]",
     .worker = RFCTL_REVIEW,
     .route = "/v1/reviews/",
     .route_tail = "/approve"},
    {.name = "review",
     .sub = "reject",
     .help = "review reject RETURN_ID [--reason CODE] [--note TEXT]",
     .run = rfctl_run_review_decide,
     .options = "reason note by",
     .usage = "review reject RETURN_ID [--reason CODE] [--note TEXT]",
     .worker = RFCTL_REVIEW,
     .route = "/v1/reviews/",
     .route_tail = "/reject"},
    {.name = "receive",
     .help = "receive RETURN_ID|--tracking NO [--condition GRADE] [--by NAME]",
     .run = rfctl_run_receive,
     .options = "condition tracking by",
     .usage = "receive RETURN_ID|--tracking NO [--condition GRADE] [--by NAME]",
     .worker = RFCTL_WAREHOUSE,
     .route = "/v1/receipts"},
    {.name = "refunds",
     .sub = "list",
     .help = "refunds list [--return RETURN_ID]",
     .run = rfctl_run_list,
     .worker = RFCTL_REFUND,
     .route = "/v1/refunds",
     .params = {{"return", "return_id"}},
     .items = "refunds",
     .columns = {{"REFUND", "refund_id"},
                 {"RETURN", "return_id"},
                 {"AMOUNT", "amount_fen", rfctl_cell_fen},
                 {"STATUS", "status"},
                 {"PLATFORM_REF", "platform_ref"}},
     .noun = "refund"},
    {.name = "refunds",
     .sub = "approve",
     .help = "refunds approve RETURN_ID",
     .summary = "finance approval of a large refund",
     .run = rfctl_run_refunds_approve,
     .options = "note",
     .usage = "refunds approve RETURN_ID [--note TEXT]",
     .worker = RFCTL_REFUND,
     .route = "/v1/refunds/",
     .route_tail = "/approve"},
    {.name = "shops",
     .sub = "list",
     .help = "shops list [--platform P]",
     .summary = "every shop, its authorisation and token expiry (never a token)",
     .run = rfctl_run_list,
     .worker = RFCTL_INTAKE,
     .route = "/v1/shops",
     .params = {{"platform", "platform"}},
     .items = "shops",
     .columns = {{"PLATFORM", "platform"},
                 {"SHOP", "shop_id"},
                 {"NAME", "name"},
                 {"STATUS", "status"},
                 {"ACCESS_UNTIL", "access_expires_at"},
                 {"RENEWED", "refreshes"},
                 {"WHY", "status_reason", clip_reason}},
     .noun = "shop"},
    {.name = "shops",
     .sub = "authorize",
     .help = "shops authorize --platform P",
     .summary = "the address a shop owner opens to authorise returnflow",
     .run = rfctl_run_shops_authorize,
     .options = "platform",
     .usage = "shops authorize --platform kuaishou|douyin",
     .worker = RFCTL_INTAKE,
     .route = "/v1/shops/authorize"},
    {.name = "shops",
     .sub = "add",
     .help = "shops add --platform P --shop ID",
     .summary = "a shop from a refresh token obtained elsewhere (read from stdin)",
     .run = rfctl_run_shops_add,
     .options = "platform name shop",
     .usage = "shops add --platform kuaishou|douyin [--shop ID] [--name NAME] < "
              "file-with-the-refresh-token (--shop: required for Kuaishou)",
     .worker = RFCTL_INTAKE,
     .route = "/v1/shops"},
    {.name = "shops",
     .sub = "disable",
     .help = "shops disable PLATFORM SHOP_ID",
     .run = rfctl_run_shops_disable,
     .options = "",
     .usage = "shops disable kuaishou|douyin SHOP_ID",
     .worker = RFCTL_INTAKE,
     .route = "/v1/shops/",
     .route_tail = "/disable"},
    {.name = "calls",
     .help = "calls RETURN_ID",
     .summary = "what review and refund told the platform",
     .run = rfctl_run_calls,
     .options = "",
     .usage = "calls RETURN_ID",
     .route = "/v1/platform-calls"},
    {.name = "dlq",
     .sub = "list",
     .help = "dlq list [--worker W]",
     .summary = "dead letters across the workers",
     .run = rfctl_run_dlq_list,
     .options = "worker",
     .route = "/v1/deadletters",
     .items = "dead_letters",
     .columns = {{"REF", "ref"},
                 {"TYPE", "type"},
                 {"RETURN", "return_id"},
                 {"DEST", "dest"},
                 {"ATTEMPTS", "attempts"},
                 {"FAILED_AT", "failed_at"},
                 {"REASON", "reason", clip_reason}},
     .noun = "dead letter"},
    {.name = "dlq",
     .sub = "show",
     .help = "dlq show|replay|discard WORKER:ID",
     .run = rfctl_run_dlq_show,
     .options = "",
     .route = "/v1/deadletters"},
    {.name = "dlq",
     .sub = "replay",
     .run = rfctl_run_dlq_act,
     .options = "",
     .route = "/v1/deadletters/",
     .route_tail = "/replay"},
    {.name = "dlq",
     .sub = "discard",
     .run = rfctl_run_dlq_act,
     .options = "",
     .route = "/v1/deadletters/",
     .route_tail = "/discard"},
    {.name = "sla",
     .help = "sla [--within 1d]",
     .summary = "returns whose platform deadline is near or passed",
     .run = rfctl_run_list,
     .worker = RFCTL_INTAKE,
     .route = "/v1/reports/sla",
     .params = {{"within", "within_s", true}},
     .items = "returns",
     .columns = {{"RETURN", "return_id"},
                 {"STATUS", "status"},
                 {"PLATFORM", "platform"},
                 {"PLATFORM_ID", "platform_return_id"},
                 {"AMOUNT", "requested_amount_fen", rfctl_cell_fen},
                 {"DEADLINE", "platform_deadline_at", rfctl_cell_ms_time},
                 {"LEFT", "seconds_left", sla_left}},
     .footer = sla_footer},
    {.name = "report",
     .help = "report [--days 90]",
     .summary = "the after-sales analysis",
     .run = rfctl_run_report,
     .options = "days",
     .worker = RFCTL_INTAKE,
     .route = "/v1/reports/returns"},
    {.name = "keygen",
     .help = "keygen DIR [NAME...]",
     .summary = "CURVE key pairs for the bus (default: the five\n"
                "workers): DIR/NAME.key and DIR/public_keys",
     .run = rfctl_run_keygen,
     .usage = "keygen: give the directory for the keys"},
};

const size_t rfctl_command_count = sizeof rfctl_commands / sizeof rfctl_commands[0];
