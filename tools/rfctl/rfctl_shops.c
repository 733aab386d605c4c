/*
 * rfctl_shops.c: the shops' commands that are more than a list (the list is a
 * row of the table): rfctl shops authorize (the address a shop owner opens to
 * authorise the app), shops add (a shop from a refresh token obtained
 * elsewhere, read from standard input so it never shows in ps or a shell's
 * history) and shops disable.
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

static bool platform_ok(const char *p) {
    return p && (strcmp(p, "kuaishou") == 0 || strcmp(p, "douyin") == 0);
}

int rfctl_run_shops_authorize(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    const char *platform = rfctl_arg(&o, "platform");
    if (o.npos != 0 || !platform_ok(platform)) return rfctl_usage_error("%s", cmd->usage);
    char path[200];
    snprintf(path, sizeof path, "%s?platform=%s", cmd->route, platform);
    json_t *doc = rfctl_call(cmd->worker, "GET", path, NULL);
    if (!doc) return 1;
    if (!rfctl_json)
        printf("Open this address in the shop owner's browser (valid %lld minutes, once):\n%s\n",
               (long long)rfctl_int(doc, "expires_in_s") / 60, rfctl_text(doc, "url"));
    return rfctl_done_json(doc);
}

static void print_shop(json_t *doc) {
    json_t *s = json_object_get(doc, "shop");
    printf("%s %s: %s (access token until %s)\n", rfctl_text(s, "platform"),
           rfctl_text(s, "shop_id"), rfctl_text(s, "status"), rfctl_text(s, "access_expires_at"));
}

int rfctl_run_shops_add(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    const char *platform = rfctl_arg(&o, "platform"), *name = rfctl_arg(&o, "name");
    const char *shop = rfctl_arg(&o, "shop");
    if (o.npos != 0 || !platform_ok(platform)) return rfctl_usage_error("%s", cmd->usage);
    char token[2048];
    if (!fgets(token, sizeof token, stdin)) {
        fprintf(stderr, "rfctl: shops add reads the refresh token from standard input\n");
        return 2;
    }
    token[strcspn(token, "\r\n")] = '\0';
    if (!*token) {
        fprintf(stderr, "rfctl: the refresh token on standard input is empty\n");
        return 2;
    }
    json_t *body = json_pack("{s:s, s:s}", "platform", platform, "refresh_token", token);
    memset(token, 0, sizeof token);
    if (name) json_object_set_new(body, "name", json_string(name));
    if (shop) json_object_set_new(body, "shop_id", json_string(shop));
    json_t *doc = rfctl_call(cmd->worker, "POST", cmd->route, body);
    json_decref(body);
    if (!doc) return 1;
    if (!rfctl_json) print_shop(doc);
    return rfctl_done_json(doc);
}

int rfctl_run_shops_disable(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    if (o.npos != 2 || !platform_ok(o.pos[0])) return rfctl_usage_error("%s", cmd->usage);
    char path[400];
    snprintf(path, sizeof path, "%s%s/%s%s", cmd->route, o.pos[0], o.pos[1], cmd->route_tail);
    json_t *body = json_object();
    json_t *doc = rfctl_call(cmd->worker, "POST", path, body);
    json_decref(body);
    if (!doc) return 1;
    if (!rfctl_json) print_shop(doc);
    return rfctl_done_json(doc);
}
