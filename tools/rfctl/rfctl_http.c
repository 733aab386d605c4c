/*
 * rfctl_http.c: how rfctl reaches the workers. Their names and addresses
 * (RF_INTAKE_HTTP ... RF_NOTIFICATION_HTTP, else the workers' defaults), one
 * HTTP request with the bearer token, a request expecting a JSON answer with a
 * clear message when it fails, and the building of request paths.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

_Static_assert(RFCTL_ERR_SIZE >= CURL_ERROR_SIZE, "curl's error buffer");

const char *const rfctl_worker_names[RFCTL_WORKERS] = {"intake", "review", "warehouse", "refund",
                                                       "notification"};
static const char *const worker_env[RFCTL_WORKERS] = {"RF_INTAKE_HTTP", "RF_REVIEW_HTTP",
                                                      "RF_WAREHOUSE_HTTP", "RF_REFUND_HTTP",
                                                      "RF_NOTIFICATION_HTTP"};
static const char *const worker_default[RFCTL_WORKERS] = {
    "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083", "127.0.0.1:8084"};
static const long timeout_ms = 5000;

const char *rfctl_worker_addr(int w) {
    const char *e = getenv(worker_env[w]);
    return e && *e ? e : worker_default[w];
}

int rfctl_worker_index(const char *name) {
    for (int i = 0; i < RFCTL_WORKERS; i++)
        if (strcmp(rfctl_worker_names[i], name) == 0) return i;
    return -1;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
    rfctl_answer *r = arg;
    char *nb = realloc(r->body, r->len + size * n + 1);
    if (!nb) return 0;
    memcpy(nb + r->len, p, size * n);
    r->body = nb;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

long rfctl_http(int w, const char *method, const char *path, json_t *body, rfctl_answer *r) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->err, sizeof r->err, "curl init failed");
        return 0;
    }
    char url[1024], auth[600];
    snprintf(url, sizeof url, "http://%s%s", rfctl_worker_addr(w), path);
    struct curl_slist *h = NULL;
    char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    bool post = strcmp(method, "POST") == 0;
    if (data) h = curl_slist_append(h, "Content-Type: application/json");
    if (rfctl_token && *rfctl_token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", rfctl_token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (post) curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "{}");
    if (!data && post) h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else r->status = 0;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(data);
    return r->status;
}

json_t *rfctl_call(int w, const char *method, const char *path, json_t *body) {
    rfctl_answer r;
    rfctl_http(w, method, path, body, &r);
    json_t *doc = r.body ? json_loads(r.body, 0, NULL) : NULL;
    const char *name = rfctl_worker_names[w];
    if (r.status == 0) {
        rfctl_fail("%s (%s) did not answer %s %s: %s", name, rfctl_worker_addr(w), method, path,
                   r.err[0] ? r.err : "no response");
    } else if (r.status < 200 || r.status > 299) {
        const char *code = json_string_value(json_object_get(doc, "error"));
        const char *msg = json_string_value(json_object_get(doc, "message"));
        bool no_route = r.status == 404 && code && strcmp(code, "not_found") == 0 && msg &&
                        strcmp(msg, "no such route") == 0;
        const char *hint = r.status == 401 ? " (set RF_TOKEN or pass --token)"
                           : no_route
                               ? " (this worker does not offer that route: is it up to date?)"
                               : "";
        rfctl_fail("%s %s on %s: HTTP %ld %s: %s%s", method, path, name, r.status,
                   code ? code : "error", msg ? msg : (r.body ? r.body : ""), hint);
        json_decref(doc);
        doc = NULL;
    } else if (!doc) {
        rfctl_fail("%s %s on %s: the answer is not JSON", method, path, name);
    }
    free(r.body);
    return doc;
}

void rfctl_add_param(char *path, size_t cap, const char *name, const char *value) {
    if (!value) return;
    char *esc = curl_easy_escape(NULL, value, 0);
    size_t used = strlen(path);
    snprintf(path + used, cap - used, "%c%s=%s", strchr(path, '?') ? '&' : '?', name,
             esc ? esc : "");
    curl_free(esc);
}

void rfctl_item_path(char *path, size_t cap, const char *prefix, const char *id, const char *tail) {
    char *esc = curl_easy_escape(NULL, id, 0);
    snprintf(path, cap, "%s%s%s", prefix, esc ? esc : "", tail ? tail : "");
    curl_free(esc);
}
