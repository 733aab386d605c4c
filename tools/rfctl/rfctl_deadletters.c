/*
 * rfctl_deadletters.c: rfctl dlq. The dead letters of every worker (or one) in
 * one list, each named WORKER:ID (its REF); one shown in full; one replayed or
 * discarded.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

/* "worker:id" -> worker index and id text; -1 if malformed. */
static int parse_dl_ref(const char *ref, char *id, size_t cap) {
    const char *colon = strchr(ref, ':');
    if (!colon) return -1;
    char name[32];
    size_t n = (size_t)(colon - ref);
    if (n >= sizeof name) return -1;
    memcpy(name, ref, n);
    name[n] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) >= cap) return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    snprintf(id, cap, "%s", p);
    return rfctl_worker_index(name);
}

int rfctl_run_dlq_list(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    int only = -1;
    if (rfctl_arg(&o, "worker") && (only = rfctl_worker_index(rfctl_arg(&o, "worker"))) < 0)
        return rfctl_usage_error(
            "--worker must be one of intake, review, warehouse, refund, notification");
    json_t *all = json_array();
    int failed = 0;
    for (int w = 0; w < RFCTL_WORKERS; w++) {
        if (only >= 0 && w != only) continue;
        json_t *doc = rfctl_call(w, "GET", cmd->route, NULL);
        if (!doc) {
            failed++;
            continue;
        }
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(doc, cmd->items), i, d) {
            char ref[64];
            snprintf(ref, sizeof ref, "%s:%s", rfctl_worker_names[w], rfctl_text(d, "id"));
            json_object_set_new(d, "worker", json_string(rfctl_worker_names[w]));
            json_object_set_new(d, "ref", json_string(ref));
            json_array_append(all, d);
        }
        json_decref(doc);
    }
    if (rfctl_json) {
        json_t *doc = json_pack("{s:O, s:i}", cmd->items, all, "unreachable", failed);
        rfctl_print_json(doc);
        json_decref(doc);
    } else {
        printf("%zu %s(s)\n", rfctl_print_items(cmd->columns, all, false), cmd->noun);
    }
    json_decref(all);
    return failed ? 1 : 0;
}

/* The dead letter named by the only argument: its worker (-1 after a usage
 * message) and its id. */
static int dl_ref_arg(const rfctl_command *cmd, int argc, char **argv, char *id, size_t cap) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return -1;
    int w = o.npos == 1 ? parse_dl_ref(o.pos[0], id, cap) : -1;
    if (w < 0)
        rfctl_usage_error("dlq %s WORKER:ID (the REF column of rfctl dlq list, e.g. refund:3)",
                          cmd->sub);
    return w;
}

int rfctl_run_dlq_show(const rfctl_command *cmd, int argc, char **argv) {
    char id[32];
    int w = dl_ref_arg(cmd, argc, argv, id, sizeof id);
    if (w < 0) return 2;
    json_t *doc = rfctl_call(w, "GET", cmd->route, NULL);
    if (!doc) return 1;
    size_t i;
    json_t *d, *found = NULL;
    json_array_foreach(json_object_get(doc, "dead_letters"), i,
                       d) if (strcmp(rfctl_text(d, "id"), id) == 0) found = d;
    if (!found) {
        json_decref(doc);
        return rfctl_fail("no dead letter %s on %s", id, rfctl_worker_names[w]);
    }
    json_object_set_new(found, "worker", json_string(rfctl_worker_names[w]));
    if (rfctl_json) rfctl_print_json(found);
    else rfctl_print_fields(found, 10);
    json_decref(doc);
    return 0;
}

int rfctl_run_dlq_act(const rfctl_command *cmd, int argc, char **argv) {
    char id[32];
    int w = dl_ref_arg(cmd, argc, argv, id, sizeof id);
    if (w < 0) return 2;
    char path[128];
    rfctl_item_path(path, sizeof path, cmd->route, id, cmd->route_tail);
    json_t *doc = rfctl_call(w, "POST", path, NULL);
    if (!doc) return 1;
    if (!rfctl_json)
        printf("%s:%s %s\n", rfctl_worker_names[w], id,
               strcmp(cmd->sub, "replay") == 0 ? "replayed" : "discarded");
    return rfctl_done_json(doc);
}
