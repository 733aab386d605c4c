/*
 * rfctl.c: the operator's command-line tool. It talks to the five workers'
 * HTTP surfaces (never to a database) and prints tables for people or, with
 * --json, JSON for scripts.
 *
 *   rfctl [--json] [--token T] COMMAND ...      (rfctl help lists the commands)
 *
 * Configuration: RF_INTAKE_HTTP ... RF_NOTIFICATION_HTTP (host:port, the same
 * defaults as the workers), RF_TOKEN (bearer token; --token overrides).
 *
 * Exit codes: 0 success; 1 the operation failed (a worker refused it or did
 * not answer; for status: a worker is down); 2 usage error.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/curve.h"
#include "proto/proto.h"

#define N_WORKERS 5
static const char *const worker_names[N_WORKERS] = {"intake", "review", "warehouse", "refund",
                                                    "notification"};
static const char *const worker_env[N_WORKERS] = {"RF_INTAKE_HTTP", "RF_REVIEW_HTTP",
                                                  "RF_WAREHOUSE_HTTP", "RF_REFUND_HTTP",
                                                  "RF_NOTIFICATION_HTTP"};
static const char *const worker_default[N_WORKERS] = {"127.0.0.1:8080", "127.0.0.1:8081",
                                                      "127.0.0.1:8082", "127.0.0.1:8083",
                                                      "127.0.0.1:8084"};
enum { W_INTAKE, W_REVIEW, W_WAREHOUSE, W_REFUND, W_NOTIFICATION };

static bool opt_json;
static const char *opt_token;
static long opt_timeout_ms = 5000;

/* ---- output helpers -------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("rfctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (rfctl help)\n", stderr);
    va_end(ap);
    return 2;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("rfctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void print_json(json_t *doc) {
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) puts(s);
    free(s);
}

/* A table: rows of cells, printed with columns padded to their widest cell. */
#define MAX_COLS 12
typedef struct table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, row 0 the header */
} table_t;

static void table_row(table_t *t, ...) {
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
        if (!t->cells) abort();
    }
    va_list ap;
    va_start(ap, t);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrows++;
}

/* Display width of UTF-8 text (counts code points; CJK counted as 2). */
static size_t text_width(const char *s) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue;
        w += *p >= 0xE3 && *p <= 0xED ? 2 : 1;
    }
    return w;
}

/* Frees the table's cells (printed or not). */
static void table_discard(table_t *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

static void table_print(table_t *t) {
    size_t width[MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            fputs(s, stdout);
            if (c + 1 < t->ncols)
                for (size_t k = text_width(s); k < width[c] + 2; k++) putchar(' ');
        }
        putchar('\n');
    }
    table_discard(t);
}

/* Small formatting helpers returning a static ring of buffers. */
static char *fmtbuf(void) {
    static char ring[64][96];
    static unsigned i;
    return ring[i++ % 64];
}

static const char *fmt_i(json_int_t v) {
    char *b = fmtbuf();
    snprintf(b, 96, "%lld", (long long)v);
    return b;
}

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) return fmt_i(json_integer_value(v));
    if (json_is_real(v)) {
        char *b = fmtbuf();
        snprintf(b, 96, "%g", json_real_value(v));
        return b;
    }
    if (json_is_true(v)) return "yes";
    if (json_is_false(v)) return "no";
    return "-";
}

static json_int_t jint(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_number_value(v);
}

static const char *fmt_age(int64_t s) {
    char *b = fmtbuf();
    if (s < 0) s = 0;
    if (s < 120) snprintf(b, 96, "%llds", (long long)s);
    else if (s < 7200) snprintf(b, 96, "%lldm", (long long)(s / 60));
    else if (s < 172800) snprintf(b, 96, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else snprintf(b, 96, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    return b;
}

static const char *fmt_secs(json_t *v) {
    if (!json_is_number(v)) return "-";
    double s = json_number_value(v);
    if (s >= 120) return fmt_age((int64_t)s);
    char *b = fmtbuf();
    snprintf(b, 96, "%.1fs", s);
    return b;
}

static const char *fmt_fen(json_int_t fen) {
    char *b = fmtbuf();
    snprintf(b, 96, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)(llabs(fen) / 100),
             (long long)(llabs(fen) % 100));
    return b;
}

static const char *fmt_pct(json_t *share) {
    if (!json_is_number(share)) return "-";
    char *b = fmtbuf();
    snprintf(b, 96, "%.1f%%", json_number_value(share) * 100.0);
    return b;
}

static const char *fmt_ms_time(json_t *ms) {
    if (!json_is_integer(ms)) return "-";
    time_t t = (time_t)(json_integer_value(ms) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char *b = fmtbuf();
    strftime(b, 96, "%Y-%m-%d %H:%M:%SZ", &tm);
    return b;
}

/* "90", "90s", "15m", "2h", "3d" -> seconds; -1 if malformed. */
static long long parse_duration(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    if (!*end || !strcmp(end, "s")) return v;
    if (!strcmp(end, "m")) return v * 60;
    if (!strcmp(end, "h")) return v * 3600;
    if (!strcmp(end, "d")) return v * 86400;
    return -1;
}

/* ---- HTTP -------------------------------------------------------------------------- */

typedef struct resp {
    long status;    /* 0: no answer */
    char err[CURL_ERROR_SIZE];
    char *body;
    size_t len;
} resp_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
    resp_t *r = arg;
    char *nb = realloc(r->body, r->len + size * n + 1);
    if (!nb) return 0;
    memcpy(nb + r->len, p, size * n);
    r->body = nb;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static const char *worker_addr(int w) {
    const char *e = getenv(worker_env[w]);
    return e && *e ? e : worker_default[w];
}

static int worker_index(const char *name) {
    for (int i = 0; i < N_WORKERS; i++)
        if (!strcmp(worker_names[i], name)) return i;
    return -1;
}

/* One request. body (JSON) may be NULL. Fills r; returns r->status. */
static long http(int w, const char *method, const char *path, json_t *body, resp_t *r) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->err, sizeof r->err, "curl init failed");
        return 0;
    }
    char url[1024], auth[600];
    snprintf(url, sizeof url, "http://%s%s", worker_addr(w), path);
    struct curl_slist *h = NULL;
    char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (data) h = curl_slist_append(h, "Content-Type: application/json");
    if (opt_token && *opt_token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", opt_token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST")) curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "{}");
    if (!data && !strcmp(method, "POST"))
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opt_timeout_ms);
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

/* GET/POST expecting 2xx JSON. On failure prints a clear message naming the
 * worker and what it said, and returns NULL. */
static json_t *call(int w, const char *method, const char *path, json_t *body) {
    resp_t r;
    http(w, method, path, body, &r);
    json_t *doc = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (r.status == 0) {
        fail("%s (%s) did not answer %s %s: %s", worker_names[w], worker_addr(w), method, path,
             r.err[0] ? r.err : "no response");
    } else if (r.status < 200 || r.status > 299) {
        const char *code = json_string_value(json_object_get(doc, "error"));
        const char *msg = json_string_value(json_object_get(doc, "message"));
        const char *hint = r.status == 401   ? " (set RF_TOKEN or pass --token)"
                           : r.status == 404 && code && !strcmp(code, "not_found") &&
                                   msg && !strcmp(msg, "no such route")
                               ? " (this worker does not offer that route: is it up to date?)"
                               : "";
        fail("%s %s on %s: HTTP %ld %s: %s%s", method, path, worker_names[w], r.status,
             code ? code : "error", msg ? msg : (r.body ? r.body : ""), hint);
        json_decref(doc);
        doc = NULL;
    } else if (!doc) {
        fail("%s %s on %s: the answer is not JSON", method, path, worker_names[w]);
    }
    free(r.body);
    return doc;
}

/* Appends "&name=<escaped value>" (or "?name=") to a path buffer. */
static void add_param(char *path, size_t cap, const char *name, const char *value) {
    if (!value) return;
    char *esc = curl_easy_escape(NULL, value, 0);
    size_t used = strlen(path);
    snprintf(path + used, cap - used, "%c%s=%s", strchr(path, '?') ? '&' : '?', name,
             esc ? esc : "");
    curl_free(esc);
}

static int done_json(json_t *doc) {
    if (opt_json) print_json(doc);
    json_decref(doc);
    return 0;
}

/* ---- option parsing ------------------------------------------------------------------ */

/* Options of one subcommand: --name value pairs, and positional arguments. */
typedef struct opts {
    char names[16][40];
    const char *values[16];
    size_t n;
    const char *pos[8];
    size_t npos;
} opts_t;

/* Parses argv against the allowed option names (a space-separated list). */
static int parse_opts(int argc, char **argv, const char *allowed, opts_t *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            opt_json = true;
        } else if (!strncmp(a, "--", 2)) {
            const char *name = a + 2, *eq = strchr(name, '=');
            char nm[40];
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            if (nl >= sizeof nm) return usage_error("unknown option %s", a);
            memcpy(nm, name, nl);
            nm[nl] = '\0';
            char pat[48];
            snprintf(pat, sizeof pat, " %s ", nm);
            char all[256];
            snprintf(all, sizeof all, " %s ", allowed);
            if (strcmp(nm, "token") && !strstr(all, pat))
                return usage_error("unknown option --%s", nm);
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) return usage_error("option --%s needs a value", nm);
            if (!strcmp(nm, "token")) {
                opt_token = val;
                continue;
            }
            if (o->n == 16) return usage_error("too many options");
            snprintf(o->names[o->n], sizeof o->names[o->n], "%s", nm);
            o->values[o->n++] = val;
        } else {
            if (o->npos == 8) return usage_error("too many arguments");
            o->pos[o->npos++] = a;
        }
    }
    return 0;
}

static const char *opt(const opts_t *o, const char *name) {
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->names[i], name)) return o->values[i];
    return NULL;
}

static void opts_free(opts_t *o) { o->n = 0; }

/* ---- status ------------------------------------------------------------------------------ */

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

static int cmd_status(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "", &o)) return 2;
    if (o.npos) return usage_error("status takes no arguments");
    json_t *list = json_array();
    int down = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        resp_t h, m;
        http(w, "GET", "/healthz", NULL, &h);
        json_t *hd = h.body ? json_loads(h.body, 0, NULL) : NULL;
        bool up = h.status == 200 || h.status == 503;
        bool db = json_is_true(json_object_get(hd, "database"));
        json_t *row = json_pack("{s:s, s:s, s:b, s:b}", "worker", worker_names[w], "address",
                                worker_addr(w), "up", up, "database", db);
        if (!up) down++;
        if (up && http(w, "GET", "/metrics", NULL, &m) == 200 && m.body) {
            const char *t = m.body;
            json_int_t outbox = (json_int_t)metric_value(t, "rf_outbox_pending", NULL, false);
            json_int_t oldest_s =
                (json_int_t)metric_value(t, "rf_outbox_oldest_age_seconds", NULL, true);
            json_int_t dl = (json_int_t)metric_value(t, "rf_dead_letters", NULL, false);
            json_int_t applied = (json_int_t)metric_value(t, "rf_inbox_applied_total", NULL, false);
            /* The worker's own queue of work waiting for people. */
            const char *queue = "-";
            json_int_t qn = 0, qage = 0;
            if (w == W_REVIEW) {
                queue = "reviews pending";
                qn = (json_int_t)metric_value(t, "rf_review_tasks", "status=\"pending\"", false);
                qage = (json_int_t)metric_value(t, "rf_review_oldest_pending_age_seconds", NULL, true);
            } else if (w == W_WAREHOUSE) {
                queue = "parcels expected";
                qn = (json_int_t)metric_value(t, "rf_parcels_expected", NULL, false);
                qage = (json_int_t)metric_value(t, "rf_parcels_oldest_expected_age_seconds", NULL, true);
            } else if (w == W_INTAKE) {
                queue = "deadline at risk";
                qn = (json_int_t)metric_value(t, "rf_returns_deadline_at_risk", NULL, false);
            } else if (w == W_REFUND) {
                queue = "waiting goods";
                qn = (json_int_t)metric_value(t, "rf_refund_plans", "status=\"waiting_goods\"", false);
            }
            json_object_set_new(row, "outbox_pending", json_integer(outbox));
            json_object_set_new(row, "outbox_oldest_age_s", json_integer(oldest_s));
            json_object_set_new(row, "inbox_applied", json_integer(applied));
            json_object_set_new(row, "dead_letters", json_integer(dl));
            json_object_set_new(row, "queue", json_string(queue));
            json_object_set_new(row, "queue_depth", json_integer(qn));
            json_object_set_new(row, "queue_oldest_age_s", json_integer(qage));
        }
        if (!up)
            json_object_set_new(row, "error", json_string(h.err[0] ? h.err : "no answer"));
        json_array_append_new(list, row);
        json_decref(hd);
        free(h.body);
        if (up) free(m.body);
    }
    if (opt_json) {
        json_t *doc = json_pack("{s:o, s:i}", "workers", list, "down", down);
        print_json(doc);
        json_decref(doc);
    } else {
        table_t t = {.ncols = 9};
        table_row(&t, "WORKER", "STATE", "DB", "OUTBOX", "OLDEST", "APPLIED", "DEAD", "QUEUE",
                  "DEPTH/OLDEST");
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r) {
            bool up = json_is_true(json_object_get(r, "up"));
            char q[96];
            snprintf(q, sizeof q, "%s/%s", jstr(r, "queue_depth"),
                     fmt_age(jint(r, "queue_oldest_age_s")));
            table_row(&t, jstr(r, "worker"), up ? "up" : "DOWN",
                      up ? (json_is_true(json_object_get(r, "database")) ? "ok" : "DOWN") : "-",
                      up ? jstr(r, "outbox_pending") : "-",
                      up ? fmt_age(jint(r, "outbox_oldest_age_s")) : "-",
                      up ? jstr(r, "inbox_applied") : "-", up ? jstr(r, "dead_letters") : "-",
                      up ? jstr(r, "queue") : "unreachable", up ? q : "-");
        }
        table_print(&t);
        json_decref(list);
    }
    opts_free(&o);
    if (down) fprintf(stderr, "rfctl: %d worker%s down\n", down, down > 1 ? "s" : "");
    return down ? 1 : 0;
}

/* ---- returns ------------------------------------------------------------------------------ */

static int returns_list(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "state shop older-than limit", &o)) return 2;
    char path[1024] = "/v1/returns";
    add_param(path, sizeof path, "state", opt(&o, "state"));
    add_param(path, sizeof path, "shop", opt(&o, "shop"));
    add_param(path, sizeof path, "limit", opt(&o, "limit"));
    if (opt(&o, "older-than")) {
        long long s = parse_duration(opt(&o, "older-than"));
        opts_free(&o);
        if (s < 0) return usage_error("--older-than wants a duration like 90s, 15m, 2h or 3d");
        char b[32];
        snprintf(b, sizeof b, "%lld", s);
        add_param(path, sizeof path, "older_than_s", b);
    } else {
        opts_free(&o);
    }
    json_t *doc = call(W_INTAKE, "GET", path, NULL);
    if (!doc) return 1;
    if (!opt_json) {
        table_t t = {.ncols = 8};
        table_row(&t, "RETURN", "STATUS", "SHOP", "PLATFORM_ID", "TYPE", "REASON", "AMOUNT", "AGE");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "returns"), i, r)
            table_row(&t, jstr(r, "return_id"), jstr(r, "status"), jstr(r, "shop_id"),
                      jstr(r, "platform_return_id"), jstr(r, "kind"), jstr(r, "reason_code"),
                      fmt_fen(jint(r, "requested_amount_fen")), fmt_age(jint(r, "age_s")));
        table_print(&t);
        printf("%zu return(s)\n", json_array_size(json_object_get(doc, "returns")));
    }
    return done_json(doc);
}

static int returns_show(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "", &o)) return 2;
    if (o.npos != 1) return usage_error("returns show RETURN_ID");
    char path[300];
    char *esc = curl_easy_escape(NULL, o.pos[0], 0);
    snprintf(path, sizeof path, "/v1/returns/%s", esc);
    curl_free(esc);
    json_t *doc = call(W_INTAKE, "GET", path, NULL);
    if (!doc) return 1;
    if (!opt_json) {
        printf("return     %s\nstatus     %s%s%s\nplatform   %s %s (shop %s)\norder      %s line %s\n"
               "type       %s x%s, reason %s\namount     %s of %s paid\nrequested  %s\n"
               "deadline   %s\n\ntimeline:\n",
               jstr(doc, "return_id"), jstr(doc, "status"),
               json_is_string(json_object_get(doc, "reject_reason")) ? " / " : "",
               json_is_string(json_object_get(doc, "reject_reason")) ? jstr(doc, "reject_reason") : "",
               jstr(doc, "platform"), jstr(doc, "platform_return_id"), jstr(doc, "shop_id"),
               jstr(doc, "order_id"), jstr(doc, "line_id"), jstr(doc, "type"),
               jstr(doc, "quantity"), jstr(doc, "reason_code"),
               fmt_fen(jint(doc, "requested_amount_fen")), fmt_fen(jint(doc, "paid_amount_fen")),
               fmt_ms_time(json_object_get(doc, "requested_at")),
               fmt_ms_time(json_object_get(doc, "platform_deadline_at")));
        table_t t = {.ncols = 4};
        table_row(&t, "  AT", "EVENT", "BY", "DETAIL");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, "timeline"), i, e) {
            json_t *b = json_object_get(e, "body");
            char detail[200] = "";
            static const char *const keys[] = {"decided_by", "by", "reason_code", "grade",
                                               "amount_fen", "refund_amount_fen", "received_by",
                                               "liability", "audience", NULL};
            size_t used = 0;
            for (const char *const *k = keys; *k && used < sizeof detail; k++) {
                json_t *v = json_object_get(b, *k);
                if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
                    continue;
                used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s=%s",
                                         used ? " " : "", *k, jstr(b, *k));
            }
            char at[64];
            snprintf(at, sizeof at, "  %s", fmt_ms_time(json_object_get(e, "occurred_at")));
            table_row(&t, at, jstr(e, "type"), jstr(e, "producer"), detail);
        }
        table_print(&t);
    }
    opts_free(&o);
    return done_json(doc);
}

/* ---- review ------------------------------------------------------------------------------ */

static int review_list(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "status", &o)) return 2;
    char path[256] = "/v1/reviews";
    add_param(path, sizeof path, "status", opt(&o, "status"));
    opts_free(&o);
    json_t *doc = call(W_REVIEW, "GET", path, NULL);
    if (!doc) return 1;
    if (!opt_json) {
        table_t t = {.ncols = 7};
        table_row(&t, "RETURN", "STATUS", "TYPE", "REASON", "AMOUNT", "NEEDS", "DEADLINE");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "reviews"), i, r)
            table_row(&t, jstr(r, "return_id"), jstr(r, "status"), jstr(r, "kind"),
                      jstr(r, "reason_code"), fmt_fen(jint(r, "requested_amount_fen")),
                      jstr(r, "required_role"), fmt_ms_time(json_object_get(r, "deadline_at")));
        table_print(&t);
        printf("%zu review(s)\n", json_array_size(json_object_get(doc, "reviews")));
    }
    return done_json(doc);
}

static int review_decide(int argc, char **argv, bool approve) {
    opts_t o;
    if (parse_opts(argc, argv, approve ? "amount note by" : "reason note by", &o)) return 2;
    if (o.npos != 1)
        return usage_error(approve ? "review approve RETURN_ID [--amount FEN] [--note TEXT]"
                                   : "review reject RETURN_ID [--reason CODE] [--note TEXT]");
    json_t *body = json_object();
    const char *by = opt(&o, "by") ? opt(&o, "by") : getenv("USER");
    json_object_set_new(body, "by", json_string(by && *by ? by : "rfctl"));
    if (opt(&o, "note")) json_object_set_new(body, "note", json_string(opt(&o, "note")));
    if (opt(&o, "reason")) json_object_set_new(body, "reason_code", json_string(opt(&o, "reason")));
    if (opt(&o, "amount")) {
        char *end;
        long long a = strtoll(opt(&o, "amount"), &end, 10);
        if (*end || a < 0) {
            json_decref(body);
            return usage_error("--amount wants a whole number of fen");
        }
        json_object_set_new(body, "refund_amount_fen", json_integer(a));
    }
    char path[300];
    char *esc = curl_easy_escape(NULL, o.pos[0], 0);
    snprintf(path, sizeof path, "/v1/reviews/%s/%s", esc, approve ? "approve" : "reject");
    curl_free(esc);
    json_t *doc = call(W_REVIEW, "POST", path, body);
    json_decref(body);
    opts_free(&o);
    if (!doc) return 1;
    if (!opt_json) printf("%s: %s\n", jstr(doc, "return_id"), jstr(doc, "status"));
    return done_json(doc);
}

/* ---- receive ------------------------------------------------------------------------------ */

static int cmd_receive(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "condition tracking by", &o)) return 2;
    if (o.npos > 1 || (o.npos == 0 && !opt(&o, "tracking")))
        return usage_error("receive RETURN_ID|--tracking NO [--condition GRADE] [--by NAME]");
    json_t *body = json_object();
    if (o.npos) json_object_set_new(body, "return_id", json_string(o.pos[0]));
    if (opt(&o, "tracking")) json_object_set_new(body, "tracking_no", json_string(opt(&o, "tracking")));
    json_object_set_new(body, "condition",
                        json_string(opt(&o, "condition") ? opt(&o, "condition") : "resellable"));
    const char *by = opt(&o, "by") ? opt(&o, "by") : getenv("USER");
    json_object_set_new(body, "received_by", json_string(by && *by ? by : "rfctl"));
    json_t *doc = call(W_WAREHOUSE, "POST", "/v1/receipts", body);
    json_decref(body);
    opts_free(&o);
    if (!doc) return 1;
    if (!opt_json) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) printf("%-12s %s\n", k, jstr(doc, k));
    }
    return done_json(doc);
}

/* ---- refunds ------------------------------------------------------------------------------ */

static int refunds_list(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "return", &o)) return 2;
    char path[300] = "/v1/refunds";
    add_param(path, sizeof path, "return_id", opt(&o, "return"));
    opts_free(&o);
    json_t *doc = call(W_REFUND, "GET", path, NULL);
    if (!doc) return 1;
    if (!opt_json) {
        table_t t = {.ncols = 5};
        table_row(&t, "REFUND", "RETURN", "AMOUNT", "STATUS", "PLATFORM_REF");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "refunds"), i, r)
            table_row(&t, jstr(r, "refund_id"), jstr(r, "return_id"),
                      fmt_fen(jint(r, "amount_fen")), jstr(r, "status"), jstr(r, "platform_ref"));
        table_print(&t);
        printf("%zu refund(s)\n", json_array_size(json_object_get(doc, "refunds")));
    }
    return done_json(doc);
}

static int refunds_approve(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "note", &o)) return 2;
    if (o.npos != 1) return usage_error("refunds approve RETURN_ID [--note TEXT]");
    json_t *body = json_object();
    if (opt(&o, "note")) json_object_set_new(body, "note", json_string(opt(&o, "note")));
    char path[300];
    char *esc = curl_easy_escape(NULL, o.pos[0], 0);
    snprintf(path, sizeof path, "/v1/refunds/%s/approve", esc);
    curl_free(esc);
    json_t *doc = call(W_REFUND, "POST", path, body);
    json_decref(body);
    opts_free(&o);
    if (!doc) return 1;
    if (!opt_json) printf("%s: %s\n", jstr(doc, "return_id"), jstr(doc, "status"));
    return done_json(doc);
}

/* ---- platform calls ----------------------------------------------------------------------- */

/* rfctl calls RETURN_ID: what review and refund told the platform about a
 * return: one row per request sent (a call and the record fetched after a
 * refusal), with the call's state, the platform's result and the time taken. */
static int cmd_calls(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "", &o)) return 2;
    if (o.npos != 1) return usage_error("calls RETURN_ID");
    char path[300] = "/v1/platform-calls";
    add_param(path, sizeof path, "return_id", o.pos[0]);
    json_t *all = json_pack("{s:s}", "return_id", o.pos[0]);
    opts_free(&o);
    static const int workers[] = {W_REVIEW, W_REFUND};
    table_t t = {.ncols = 10};
    table_row(&t, "WORKER", "CALL", "METHOD", "STATE", "SENT", "OUTCOME", "RESULT", "MS",
              "IDEMPOTENCY_KEY", "PARAM");
    size_t n_calls = 0;
    for (size_t w = 0; w < 2; w++) {
        json_t *doc = call(workers[w], "GET", path, NULL);
        if (!doc) {
            json_decref(all);
            table_discard(&t);
            return 1;
        }
        json_t *calls = json_object_get(doc, "calls");
        json_object_set(all, worker_names[workers[w]], calls ? calls : json_array());
        size_t i, k;
        json_t *c, *q;
        json_array_foreach(calls, i, c) {
            n_calls++;
            const char *state = jstr(c, "state");
            json_array_foreach(json_object_get(c, "requests"), k, q) {
                char *param = json_dumps(json_object_get(q, "param"), JSON_COMPACT);
                table_row(&t, worker_names[workers[w]], fmt_i(jint(c, "call_id")),
                          jstr(q, "method"), k == 0 ? state : "",
                          fmt_ms_time(json_object_get(q, "started_at")), jstr(q, "outcome"),
                          fmt_i(jint(q, "result_code")), fmt_i(jint(q, "duration_ms")),
                          jstr(q, "idempotency_key"), param ? param : "");
                free(param);
            }
            if (json_array_size(json_object_get(c, "requests")) == 0)
                table_row(&t, worker_names[workers[w]], fmt_i(jint(c, "call_id")),
                          jstr(c, "method"), state, "-", "", "", "", jstr(c, "idempotency_key"),
                          jstr(c, "error"));
        }
        json_decref(doc);
    }
    if (!opt_json) {
        table_print(&t);
        printf("%zu call(s)\n", n_calls);
    } else {
        table_discard(&t);
    }
    return done_json(all);
}

/* ---- dead letters ------------------------------------------------------------------------- */

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
    return worker_index(name);
}

static int dlq_list(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "worker", &o)) return 2;
    int only = -1;
    if (opt(&o, "worker") && (only = worker_index(opt(&o, "worker"))) < 0) {
        opts_free(&o);
        return usage_error("--worker must be one of intake, review, warehouse, refund, notification");
    }
    opts_free(&o);
    json_t *all = json_array();
    int failed = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        if (only >= 0 && w != only) continue;
        json_t *doc = call(w, "GET", "/v1/deadletters", NULL);
        if (!doc) {
            failed++;
            continue;
        }
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(doc, "dead_letters"), i, d) {
            char ref[64];
            snprintf(ref, sizeof ref, "%s:%s", worker_names[w], jstr(d, "id"));
            json_object_set_new(d, "worker", json_string(worker_names[w]));
            json_object_set_new(d, "ref", json_string(ref));
            json_array_append(all, d);
        }
        json_decref(doc);
    }
    if (opt_json) {
        json_t *doc = json_pack("{s:O, s:i}", "dead_letters", all, "unreachable", failed);
        print_json(doc);
        json_decref(doc);
    } else {
        table_t t = {.ncols = 7};
        table_row(&t, "REF", "TYPE", "RETURN", "DEST", "ATTEMPTS", "FAILED_AT", "REASON");
        size_t i;
        json_t *d;
        json_array_foreach(all, i, d) {
            char reason[72];
            snprintf(reason, sizeof reason, "%.70s", jstr(d, "reason"));
            table_row(&t, jstr(d, "ref"), jstr(d, "type"), jstr(d, "return_id"), jstr(d, "dest"),
                      jstr(d, "attempts"), jstr(d, "failed_at"), reason);
        }
        table_print(&t);
        printf("%zu dead letter(s)\n", json_array_size(all));
    }
    json_decref(all);
    return failed ? 1 : 0;
}

static int dlq_one(int argc, char **argv, const char *action) {
    opts_t o;
    if (parse_opts(argc, argv, "", &o)) return 2;
    char id[32];
    int w = o.npos == 1 ? parse_dl_ref(o.pos[0], id, sizeof id) : -1;
    if (w < 0)
        return usage_error("dlq %s WORKER:ID (the REF column of rfctl dlq list, e.g. refund:3)",
                           action);
    if (!strcmp(action, "show")) {
        json_t *doc = call(w, "GET", "/v1/deadletters", NULL);
        if (!doc) return 1;
        size_t i;
        json_t *d, *found = NULL;
        json_array_foreach(json_object_get(doc, "dead_letters"), i, d)
            if (!strcmp(jstr(d, "id"), id)) found = d;
        if (!found) {
            json_decref(doc);
            return fail("no dead letter %s on %s", id, worker_names[w]);
        }
        json_object_set_new(found, "worker", json_string(worker_names[w]));
        if (opt_json) print_json(found);
        else {
            const char *k;
            json_t *v;
            json_object_foreach(found, k, v) printf("%-10s %s\n", k, jstr(found, k));
        }
        json_decref(doc);
        return 0;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/deadletters/%s/%s", id, action);
    json_t *doc = call(w, "POST", path, NULL);
    if (!doc) return 1;
    if (!opt_json) printf("%s:%s %s\n", worker_names[w], id, !strcmp(action, "replay") ? "replayed" : "discarded");
    return done_json(doc);
}

/* ---- sla ------------------------------------------------------------------------------------ */

static int cmd_sla(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "within", &o)) return 2;
    char path[128] = "/v1/reports/sla";
    if (opt(&o, "within")) {
        long long s = parse_duration(opt(&o, "within"));
        opts_free(&o);
        if (s < 0) return usage_error("--within wants a duration like 90s, 15m, 2h or 3d");
        char b[32];
        snprintf(b, sizeof b, "%lld", s);
        add_param(path, sizeof path, "within_s", b);
    } else {
        opts_free(&o);
    }
    json_t *doc = call(W_INTAKE, "GET", path, NULL);
    if (!doc) return 1;
    if (!opt_json) {
        table_t t = {.ncols = 7};
        table_row(&t, "RETURN", "STATUS", "PLATFORM", "PLATFORM_ID", "AMOUNT", "DEADLINE", "LEFT");
        size_t i;
        json_t *r;
        size_t passed = 0;
        json_array_foreach(json_object_get(doc, "returns"), i, r) {
            json_int_t left = jint(r, "seconds_left");
            char l[64];
            if (left < 0) {
                snprintf(l, sizeof l, "PASSED %s ago", fmt_age(-left));
                passed++;
            } else {
                snprintf(l, sizeof l, "%s", fmt_age(left));
            }
            table_row(&t, jstr(r, "return_id"), jstr(r, "status"), jstr(r, "platform"),
                      jstr(r, "platform_return_id"), fmt_fen(jint(r, "requested_amount_fen")),
                      fmt_ms_time(json_object_get(r, "platform_deadline_at")), l);
        }
        table_print(&t);
        printf("%zu return(s) awaiting the seller with a deadline within %s; %zu passed\n",
               json_array_size(json_object_get(doc, "returns")), fmt_age(jint(doc, "within_s")),
               passed);
    }
    return done_json(doc);
}

/* ---- report --------------------------------------------------------------------------------- */

static void bar(double share, char *out, size_t cap) {
    size_t n = (size_t)(share * 30 + 0.5), i = 0;
    for (; i < n && i * 3 + 4 < cap; i++) memcpy(out + i * 3, "\xe2\x96\x88", 3); /* █ */
    out[i * 3] = '\0';
}

static void print_report(json_t *rep) {
    json_t *ret = json_object_get(rep, "returns");
    json_t *claims = json_object_get(rep, "claims");
    json_t *quality = json_object_get(rep, "quality");
    json_t *sat = json_object_get(rep, "satisfaction");
    size_t i;
    json_t *r;
    printf("After-sales report: %s returns requested in the last %s days\n\n",
           jstr(ret, "returns"), jstr(ret, "days"));
    printf("Reasons\n");
    table_t t = {.ncols = 4};
    table_row(&t, "  REASON", "COUNT", "SHARE", "");
    json_array_foreach(json_object_get(ret, "reasons"), i, r) {
        char b[128], name[80];
        bar(json_number_value(json_object_get(r, "share")), b, sizeof b);
        snprintf(name, sizeof name, "  %s", jstr(r, "reason"));
        table_row(&t, name, jstr(r, "count"), fmt_pct(json_object_get(r, "share")), b);
    }
    table_print(&t);
    printf("\nTrend by day\n");
    t = (table_t){.ncols = 2};
    table_row(&t, "  DAY", "RETURNS");
    json_array_foreach(json_object_get(ret, "by_day"), i, r) {
        char d[40];
        snprintf(d, sizeof d, "  %s", jstr(r, "day"));
        table_row(&t, d, jstr(r, "count"));
    }
    table_print(&t);
    printf("\nTrend by week\n");
    t = (table_t){.ncols = 2};
    table_row(&t, "  WEEK", "RETURNS");
    json_array_foreach(json_object_get(ret, "by_week"), i, r) {
        char d[40];
        snprintf(d, sizeof d, "  %s", jstr(r, "week"));
        table_row(&t, d, jstr(r, "count"));
    }
    table_print(&t);
    printf("\nBy region\n");
    t = (table_t){.ncols = 3};
    table_row(&t, "  REGION", "RETURNS", "SHARE");
    json_array_foreach(json_object_get(ret, "by_region"), i, r) {
        char d[100];
        snprintf(d, sizeof d, "  %s", jstr(r, "region"));
        table_row(&t, d, jstr(r, "count"), fmt_pct(json_object_get(r, "share")));
    }
    table_print(&t);
    printf("\nBy SKU\n");
    t = (table_t){.ncols = 7};
    table_row(&t, "  SKU", "SUPPLIER", "RETURNS", "UNITS_RET", "UNITS_SOLD", "RETURN_RATE",
              "NOT_AS_DESCRIBED");
    json_array_foreach(json_object_get(ret, "by_sku"), i, r) {
        char d[140];
        snprintf(d, sizeof d, "  %s", jstr(r, "sku_id"));
        table_row(&t, d, jstr(r, "supplier_id"), jstr(r, "returns"), jstr(r, "units_returned"),
                  jstr(r, "units_sold"), fmt_pct(json_object_get(r, "return_rate")),
                  fmt_pct(json_object_get(r, "not_as_described_share")));
    }
    table_print(&t);
    printf("\nBy supplier\n");
    t = (table_t){.ncols = 7};
    table_row(&t, "  SUPPLIER", "RETURNS", "RETURN_RATE", "QUALITY_REASONS", "INSPECTED_FAULTS",
              "CLAIMS", "OWED");
    json_array_foreach(json_object_get(ret, "by_supplier"), i, r) {
        const char *sup = jstr(r, "supplier_id");
        json_int_t nclaims = 0, owed = 0, faults = 0;
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(claims, "claims"), k, c)
            if (!strcmp(jstr(c, "party"), "supplier") && !strcmp(jstr(c, "party_id"), sup)) {
                nclaims += jint(c, "claims");
                owed += jint(c, "owed_fen");
            }
        json_array_foreach(json_object_get(quality, "by_supplier"), k, c)
            if (!strcmp(jstr(c, "supplier_id"), sup)) faults += jint(c, "quality_faults");
        char d[140];
        snprintf(d, sizeof d, "  %s", sup);
        table_row(&t, d, jstr(r, "returns"), fmt_pct(json_object_get(r, "return_rate")),
                  jstr(r, "quality_faults"), fmt_i(faults), fmt_i(nclaims), fmt_fen(owed));
    }
    table_print(&t);
    json_t *ttr = json_object_get(ret, "time_to_refund");
    printf("\nTime from request to refund: %s refunded, p50 %s, p90 %s\n", jstr(ttr, "refunded"),
           fmt_secs(json_object_get(ttr, "p50_s")), fmt_secs(json_object_get(ttr, "p90_s")));
    json_t *survey = json_object_get(sat, "survey");
    printf("Satisfaction: %s survey response(s), average score %s\n", jstr(survey, "responses"),
           jstr(survey, "average"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(survey, "distribution"), k, v)
        printf("  score %s: %s\n", k, jstr(json_object_get(survey, "distribution"), k));
    json_t *msgs = json_object_get(sat, "messages");
    if (json_object_size(msgs)) {
        printf("Messages sent:");
        json_object_foreach(msgs, k, v) printf(" %s %s", k, jstr(msgs, k));
        printf("\n");
    }
    printf("\nSKUs with a high \"not as described\" share (listings need better information)\n");
    t = (table_t){.ncols = 4};
    table_row(&t, "  SKU", "RETURNS", "NOT_AS_DESCRIBED", "SHARE");
    json_array_foreach(json_object_get(ret, "not_as_described_flagged"), i, r) {
        char d[140];
        snprintf(d, sizeof d, "  %s", jstr(r, "sku_id"));
        table_row(&t, d, jstr(r, "returns"), jstr(r, "not_as_described"),
                  fmt_pct(json_object_get(r, "share")));
    }
    if (t.nrows == 1) {
        table_print(&t);
        printf("  (none)\n");
    } else {
        table_print(&t);
    }
}

static int cmd_report(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, "days", &o)) return 2;
    char path[128] = "/v1/reports/returns";
    add_param(path, sizeof path, "days", opt(&o, "days"));
    opts_free(&o);
    json_t *ret = call(W_INTAKE, "GET", path, NULL);
    if (!ret) return 1;
    json_t *claims = call(W_REFUND, "GET", "/v1/reports/claims", NULL);
    json_t *quality = call(W_WAREHOUSE, "GET", "/v1/reports/quality", NULL);
    json_t *sat = call(W_NOTIFICATION, "GET", "/v1/reports/satisfaction", NULL);
    int rc = claims && quality && sat ? 0 : 1;
    json_t *rep = json_pack("{s:o, s:o, s:o, s:o}", "returns", ret, "claims",
                            claims ? claims : json_null(), "quality",
                            quality ? quality : json_null(), "satisfaction",
                            sat ? sat : json_null());
    if (opt_json) print_json(rep);
    else print_report(rep);
    json_decref(rep);
    return rc;
}

/* rfctl keygen DIR [NAME...]: CURVE key pairs for the bus (the five workers by
 * default), as rf-keygen makes them. */
static int cmd_keygen(int argc, char **argv) {
    if (argc < 2) return usage_error("keygen: give the directory for the keys");
    const char *names[64];
    size_t n = 0;
    for (int i = 2; i < argc && n < 64; i++) names[n++] = argv[i];
    if (n == 0)
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) names[n++] = rf_worker_name(i);
    char err[512];
    if (rf_curve_keygen_dir(argv[1], names, n, opt_json ? NULL : stdout, err, sizeof err) != 0) {
        fprintf(stderr, "rfctl: keygen: %s\n", err);
        return 1;
    }
    if (opt_json) printf("{\"dir\": \"%s\", \"keys\": %zu}\n", argv[1], n);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static const char help_text[] =
    "usage: rfctl [--json] [--token TOKEN] COMMAND ...\n"
    "\n"
    "  status                                   every worker: up/down, queues, ages, dead letters\n"
    "  returns list [--state S] [--shop S] [--older-than 2h] [--limit N]\n"
    "  returns show RETURN_ID                   a return and its timeline\n"
    "  review list [--status pending]\n"
    "  review approve RETURN_ID [--amount FEN] [--note TEXT]\n"
    "  review reject RETURN_ID [--reason CODE] [--note TEXT]\n"
    "  receive RETURN_ID|--tracking NO [--condition GRADE] [--by NAME]\n"
    "  refunds list [--return RETURN_ID]\n"
    "  refunds approve RETURN_ID                finance approval of a large refund\n"
    "  calls RETURN_ID                          what review and refund told the platform\n"
    "  dlq list [--worker W]                    dead letters across the workers\n"
    "  dlq show|replay|discard WORKER:ID\n"
    "  sla [--within 1d]                        returns whose platform deadline is near or passed\n"
    "  report [--days 90]                       the after-sales analysis\n"
    "  keygen DIR [NAME...]                     CURVE key pairs for the bus (default: the five\n"
    "                                           workers): DIR/NAME.key and DIR/public_keys\n"
    "\n"
    "Every command takes --json. Workers: RF_INTAKE_HTTP ... RF_NOTIFICATION_HTTP (host:port,\n"
    "default 127.0.0.1:8080 ... 8084). Token: RF_TOKEN or --token.\n"
    "Exit status: 0 done, 1 failed (refused, unreachable, a worker down), 2 usage error.\n";

int main(int argc, char **argv) {
    opt_token = getenv("RF_TOKEN");
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) opt_json = true;
        else if (!strcmp(argv[i], "--token") && i + 1 < argc) opt_token = argv[++i];
        else if (!strncmp(argv[i], "--token=", 8)) opt_token = argv[i] + 8;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help_text, stdout);
            return 0;
        } else if (argv[i][0] == '-') return usage_error("unknown option %s", argv[i]);
        else break;
    }
    if (i >= argc) {
        fputs(help_text, stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    const char *sub = i < argc ? argv[i] : "";
    int rest_c = argc - i - 1;
    char **rest_v = argv + i + 1;
    if (rest_c < 0) rest_c = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!strcmp(cmd, "help")) {
        fputs(help_text, stdout);
        rc = 0;
    } else if (!strcmp(cmd, "status")) rc = cmd_status(argc - i, argv + i);
    else if (!strcmp(cmd, "sla")) rc = cmd_sla(argc - i, argv + i);
    else if (!strcmp(cmd, "report")) rc = cmd_report(argc - i, argv + i);
    else if (!strcmp(cmd, "receive")) rc = cmd_receive(argc - i, argv + i);
    else if (!strcmp(cmd, "calls")) rc = cmd_calls(argc - i, argv + i);
    else if (!strcmp(cmd, "keygen")) rc = cmd_keygen(argc - i + 1, argv + i - 1);
    else if (!strcmp(cmd, "returns") && !strcmp(sub, "list")) rc = returns_list(rest_c, rest_v);
    else if (!strcmp(cmd, "returns") && !strcmp(sub, "show")) rc = returns_show(rest_c, rest_v);
    else if (!strcmp(cmd, "review") && !strcmp(sub, "list")) rc = review_list(rest_c, rest_v);
    else if (!strcmp(cmd, "review") && !strcmp(sub, "approve"))
        rc = review_decide(rest_c, rest_v, true);
    else if (!strcmp(cmd, "review") && !strcmp(sub, "reject"))
        rc = review_decide(rest_c, rest_v, false);
    else if (!strcmp(cmd, "refunds") && !strcmp(sub, "list")) rc = refunds_list(rest_c, rest_v);
    else if (!strcmp(cmd, "refunds") && !strcmp(sub, "approve"))
        rc = refunds_approve(rest_c, rest_v);
    else if (!strcmp(cmd, "dlq") && !strcmp(sub, "list")) rc = dlq_list(rest_c, rest_v);
    else if (!strcmp(cmd, "dlq") &&
             (!strcmp(sub, "show") || !strcmp(sub, "replay") || !strcmp(sub, "discard")))
        rc = dlq_one(rest_c, rest_v, sub);
    else if (!strcmp(cmd, "returns") || !strcmp(cmd, "review") || !strcmp(cmd, "refunds") ||
             !strcmp(cmd, "dlq"))
        rc = usage_error("%s: unknown or missing subcommand '%s'", cmd, sub);
    else rc = usage_error("unknown command '%s'", cmd);
    curl_global_cleanup();
    return rc;
}
