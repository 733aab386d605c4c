/*
 * worker_routes.c: the HTTP front door of every worker (worker/worker.h):
 * each request is timed, authorized against the route rules (the built-in
 * admin ones, then the service's), and answered by a built-in route (CORS
 * preflight, /ops, /healthz, /metrics, dead letters), the service's
 * operations routes, or the service's own routes; plus the request helpers
 * services use (path patterns, JSON bodies, JSON queries, who is asking).
 */
#include "worker/worker.h"
#include "worker/worker_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

extern const char rf_ops_page[]; /* built from common/http/ops.html by deploy/embed-page.sh */

/* ---- HTTP: common routes --------------------------------------------------------- */

bool rf_path_match(const char *path, const char *pattern, char *out, size_t cap) {
    const char *hole = strstr(pattern, "{}");
    if (!hole) return strcmp(path, pattern) == 0;
    size_t pre = (size_t)(hole - pattern);
    const char *suffix = hole + 2;
    if (strncmp(path, pattern, pre) != 0) return false;
    const char *start = path + pre;
    const char *end = strchr(start, '/');
    if (!end) end = start + strlen(start);
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= cap || strcmp(end, suffix) != 0) return false;
    memcpy(out, start, len);
    out[len] = '\0';
    return true;
}

json_t *rf_worker_json_body(rf_http_exchange_t *x) {
    size_t len;
    const char *body = rf_http_body(x, &len);
    const char *ct = rf_http_header(x, "content-type");
    if (ct && strncmp(ct, "application/json", 16) != 0) {
        rf_http_reply_error(x, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char msg[300];
        snprintf(msg, sizeof msg, "body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        rf_http_reply_error(x, 400, "bad_json", msg);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rf_http_reply_error(x, 400, "bad_json", "body must be a JSON object");
        return NULL;
    }
    return doc;
}

json_t *rf_worker_query_json(rf_worker_t *w, const char *sql, int n, const char *const *params) {
    if (rf_db_connect(w->db) != 0) return NULL;
    return rf_db_query_json(w->db, sql, n, params, NULL);
}

void rf_worker_reply_query(rf_worker_t *w, rf_http_exchange_t *x, const char *sql, int n,
                           const char *const *params) {
    json_t *doc = rf_worker_query_json(w, sql, n, params);
    if (doc) rf_http_reply_json(x, 200, doc);
    else rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
}

static void serve_health(rf_worker_t *w, rf_http_exchange_t *x) {
    bool db_ok = rf_db_connect(w->db) == 0 && rf_db_exec(w->db, "SELECT 1", 0, NULL) == 0;
    json_t *doc = json_pack("{s:s, s:s, s:b, s:b}", "status", db_ok ? "ok" : "degraded", "worker",
                            w->spec->name, "database", db_ok, "bus", w->bus != NULL);
    rf_http_reply_json(x, db_ok ? 200 : 503, doc);
}

static void serve_dead_letters(rf_worker_t *w, rf_http_exchange_t *x) {
    PGresult *res = rf_db_connect(w->db) == 0
                        ? rf_db_query(w->db,
                                      "SELECT id, event_id, dest, return_id, type, attempts,"
                                      " reason, to_char(failed_at AT TIME ZONE 'UTC',"
                                      " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                      " FROM dead_letter ORDER BY id LIMIT 1000",
                                      0, NULL)
                        : NULL;
    if (!res) {
        rf_http_reply_error(x, 503, "db_unavailable", rf_db_error(w->db));
        return;
    }
    json_t *list = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(
            list,
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id",
                      (json_int_t)rf_get_i64(res, r, 0), "event_id", rf_get_str(res, r, 1), "dest",
                      rf_get_str(res, r, 2), "return_id", rf_get_str(res, r, 3), "type",
                      rf_get_str(res, r, 4), "attempts", (json_int_t)rf_get_i64(res, r, 5),
                      "reason", rf_get_str(res, r, 6), "failed_at", rf_get_str(res, r, 7)));
    PQclear(res);
    rf_http_reply_json(x, 200, json_pack("{s:o}", "dead_letters", list));
}

static void serve_dead_letter_action(rf_worker_t *w, rf_http_exchange_t *x, const char *id_text,
                                     bool replay) {
    char *end;
    long long id = strtoll(id_text, &end, 10);
    if (*end || id <= 0) {
        rf_http_reply_error(x, 400, "bad_id", "dead letter id must be a positive integer");
        return;
    }
    const rf_principal_t *who = rf_worker_principal(x);
    int rc = replay ? rf_bus_dead_letter_replay(w->bus, id)
                    : rf_bus_dead_letter_discard(w->bus, id, who ? who->user : "-");
    if (rc < 0) rf_http_reply_error(x, 503, "db_unavailable", rf_db_error(w->db));
    else if (rc == 0) rf_http_reply_error(x, 404, "not_found", "no such dead letter");
    else
        rf_http_reply_json(x, 200,
                           json_pack("{s:I, s:s}", "id", (json_int_t)id, "result",
                                     replay ? "replayed" : "discarded"));
}

const rf_principal_t *rf_worker_principal(rf_http_exchange_t *x) { return rf_http_user(x); }

const char *rf_worker_actor(rf_http_exchange_t *x, json_t *doc, bool required, rf_jsonv_t *v) {
    const rf_principal_t *who = rf_worker_principal(x);
    bool authenticated = who && who->authenticated;
    const char *by = rf_jsonv_str(doc, "by", required && !authenticated, 128, v);
    return authenticated ? who->user : by;
}

/* The rule covering this request, if any. */
static const rf_route_rule_t *rule_for(const rf_worker_t *w, const char *method, const char *path) {
    static const rf_route_rule_t admin_rules[] = {
        {"POST", "/v1/deadletters/{}/replay", RF_ROLE_ADMIN},
        {"POST", "/v1/deadletters/{}/discard", RF_ROLE_ADMIN},
    };
    char id[64];
    for (size_t i = 0; i < sizeof admin_rules / sizeof admin_rules[0]; i++)
        if (strcmp(method, admin_rules[i].method) == 0 &&
            rf_path_match(path, admin_rules[i].pattern, id, sizeof id))
            return &admin_rules[i];
    for (size_t i = 0; i < w->spec->n_rules; i++) {
        const rf_route_rule_t *r = &w->spec->rules[i];
        if (strcmp(method, r->method) == 0 && rf_path_match(path, r->pattern, id, sizeof id))
            return r;
    }
    return NULL;
}

/* Check the caller against the route's rule; answers 401/403 and returns
 * false when refused. Sets the exchange's principal either way. */
static bool authorize(rf_worker_t *w, rf_http_exchange_t *x, const char *method, const char *path) {
    const rf_principal_t *who = w->auth
                                    ? rf_auth_lookup(w->auth, rf_http_header(x, "authorization"))
                                    : rf_auth_open_principal();
    rf_http_set_user(x, who);
    const rf_route_rule_t *rule = rule_for(w, method, path);
    if (!rule) return true;
    if (!who) {
        rf_warn("event=unauthorized method=%s path=%s", method, path);
        rf_http_reply_error(x, 401, "unauthorized",
                            "this action needs a token: send Authorization: Bearer <token>");
        return false;
    }
    if (!(who->role & (rule->roles | RF_ROLE_ADMIN))) {
        char msg[200];
        size_t used = (size_t)snprintf(msg, sizeof msg, "role %s may not do this; it needs",
                                       rf_role_name(who->role));
        for (unsigned bit = 1; bit <= RF_ROLE_ADMIN && used < sizeof msg; bit <<= 1)
            if ((rule->roles | RF_ROLE_ADMIN) & bit)
                used += (size_t)snprintf(msg + used, sizeof msg - used, " %s", rf_role_name(bit));
        rf_warn("event=forbidden method=%s path=%s user=%s role=%s", method, path, who->user,
                rf_role_name(who->role));
        rf_http_reply_error(x, 403, "forbidden", msg);
        return false;
    }
    rf_info("event=action method=%s path=%s user=%s role=%s", method, path, who->user,
            rf_role_name(who->role));
    return true;
}

static bool on_request_dispatch(rf_worker_t *w, rf_http_exchange_t *x, const char *method,
                                const char *path);

void rf__worker_on_request(rf_http_exchange_t *x, void *arg) {
    rf_worker_t *w = arg;
    const char *method = rf_http_method(x);
    const char *path = rf_http_path(x);
    uint64_t t0 = uv_hrtime();
    char mcopy[8], pcopy[128], label[64];
    snprintf(mcopy, sizeof mcopy, "%s", method); /* borrowed only until the answer */
    snprintf(pcopy, sizeof pcopy, "%s", path);
    /* Requests that may write share one transaction per loop iteration
     * (group commit, db/db.h); reads see only committed data. */
    bool grouped = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && w->bus;
    if (grouped) rf_db_group_enter(w->db);
    bool known = on_request_dispatch(w, x, method, path);
    if (grouped) rf_db_group_leave(w->db);
    rf__worker_route_label(pcopy, known, label, sizeof label);
    rf__worker_observe_route(mcopy, label, (double)(uv_hrtime() - t0) / 1e9);
}

/* Answers x; false when no route matched (answered 404). method and path are
 * not used after the answer. */
static bool on_request_dispatch(rf_worker_t *w, rf_http_exchange_t *x, const char *method,
                                const char *path) {
    char id[64];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(method, "OPTIONS") == 0) { /* CORS preflight from the ops page */
        rf_http_reply(x, 204, NULL, "", 0);
        return true;
    }
    if (get && (strcmp(path, "/ops") == 0 || strcmp(path, "/ops/") == 0)) {
        rf_http_reply(x, 200, "text/html; charset=utf-8", rf_ops_page, strlen(rf_ops_page));
        return true;
    }
    if (!authorize(w, x, method, path)) return true;
    if (w->spec->ops_route && w->spec->ops_route(w, x)) return true;
    if (get && strcmp(path, "/healthz") == 0) serve_health(w, x);
    else if (get && strcmp(path, "/metrics") == 0) rf__worker_serve_metrics(w, x);
    else if (get && strcmp(path, "/v1/deadletters") == 0) serve_dead_letters(w, x);
    else if (post && rf_path_match(path, "/v1/deadletters/{}/replay", id, sizeof id))
        serve_dead_letter_action(w, x, id, true);
    else if (post && rf_path_match(path, "/v1/deadletters/{}/discard", id, sizeof id))
        serve_dead_letter_action(w, x, id, false);
    else if (!w->spec->route || !w->spec->route(w->spec->state, x)) {
        rf_http_reply_error(x, 404, "not_found", "no such route");
        return false;
    }
    return true;
}
