/*
 * feed_apply.c: the worker's side of the platform feeds (feeds.h).
 *
 *  - Drain: the spool the receiver thread writes is read from a checkpoint
 *    kept in PostgreSQL; accepted pushes go to feed_pushes (one row per
 *    platform event id: a copy only counts as a duplicate), refused ones to
 *    feed_refused (the audit), and the checkpoint moves in the same
 *    transaction. A crash between spool and database repeats lines, which
 *    the keys absorb: nothing is lost and nothing is done twice.
 *  - Processing: a Douyin push carries its record; a Kuaishou push carries
 *    only ids, so its record is fetched (feed_poll.c) unless the push is no
 *    newer than what was applied.
 *  - Applying a record version: in updateTime order only (intake_feed_decide):
 *    a new request becomes a return through the same path as POST
 *    /v1/returns (policy checks included), or waits in feed_records (state
 *    pending) until its order arrives; a newer version of a known return
 *    becomes return.cancelled or return.updated.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feeds.h"
#include "rf/ids.h"
#include "rf/log.h"

#define DRAIN_BATCH 500
#define PROCESS_BATCH 100

intake_feed_settings_t intake_feed_settings;

static struct {
    rf_worker_t *w;
    bool receiving;
    char spool_key[PATH_MAX + 300]; /* "<host>:<spool dir>": this spool's checkpoint */
    long long batches_seen; /* intake_feed_counters.batches_durable when last drained */
    int64_t last_process_ms;
    uv_timer_t drain_timer;
} fa;

static bool is_kuaishou(const char *platform) { return strcmp(platform, "kuaishou") == 0; }

/* ---- applying one record version ----------------------------------------------------- */

static int emit_cancelled(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                          const intake_feed_record_t *r) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_CANCELLED, return_id, NULL) != 0) return -1;
    char reason[120];
    snprintf(reason, sizeof reason, "%s closed the request (status %s)", r->platform, r->code);
    int rc = rf_event_set_str(&ev.body.return_cancelled.reason, reason);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    if (rc == 0) rc = intake_db_set_status(db, return_id, "cancelled", 9, NULL);
    rf_event_clear(&ev);
    return rc;
}

static int emit_updated(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                        const intake_feed_record_t *r, const intake_feed_known_t *k) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_UPDATED, return_id, NULL) != 0) return -1;
    rf_body_return_updated_t *b = &ev.body.return_updated;
    int rc = rf_event_set_str(&b->platform_status, *r->status ? r->status : "unknown");
    rc |= rf_event_set_str(&b->platform_code, r->code);
    if (strcmp(r->kind, k->kind) != 0) rc |= rf_event_set_str(&b->kind, r->kind);
    rc |= rf_event_set_str(&b->tracking_no, r->tracking_no);
    b->platform_version = r->version;
    b->requested_amount_fen = r->amount_fen;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    rf_event_clear(&ev);
    return rc;
}

/* Create the return of a new request, or leave it waiting for its order. */
static int create_or_wait(rf_db_t *db, const intake_feed_record_t *r, bool *needs_order) {
    intake_line_info_t line;
    int has_line = intake_db_find_line(db, r->platform, r->order_id, r->line_id, &line);
    if (has_line < 0) return -1;
    if (!has_line) {
        *needs_order = true;
        atomic_fetch_add(&intake_feed_counters.pending, 1);
        return intake_feed_db_store(db, r, "pending", "waiting for the order") == 0 &&
                       intake_feed_db_ask_order(db, r->platform, r->order_id) == 0
                   ? 0
                   : -1;
    }
    intake_return_req_t req = {
        .platform = r->platform,
        .platform_return_id = r->platform_return_id,
        .order_id = r->order_id,
        .line_id = r->line_id,
        .kind = r->kind,
        .reason_code = r->reason_code,
        .reason_text = r->reason_text,
        .quantity = r->quantity,
        .requested_amount_fen = r->amount_fen,
        .requested_at = r->requested_at > 0 ? r->requested_at : r->version,
        .platform_deadline_at = r->deadline_at,
    };
    intake_create_result_t res;
    intake_return_create_tx(&req, r->version, true, &res);
    switch (res.outcome) {
    case INTAKE_CREATED:
        atomic_fetch_add(&intake_feed_counters.created, 1);
        return intake_feed_db_store(db, r, "created", "");
    case INTAKE_DUPLICATE: return intake_feed_db_store(db, r, "created", "entered through the API");
    case INTAKE_REFUSED:
    case INTAKE_AMOUNT_EXCEEDED: return intake_feed_db_store(db, r, "refused", res.code);
    case INTAKE_CREATE_DB_ERROR: break;
    }
    return -1;
}

/* Apply r inside the caller's transaction. retry: r is the pending record
 * itself, offered again because its order arrived. The action, or -1. */
static int apply_tx(rf_worker_t *w, const intake_feed_record_t *r, bool retry,
                    bool *needs_order) {
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    intake_feed_known_t k;
    if (intake_feed_db_known(db, r->platform, r->platform_return_id, &k) != 0) return -1;
    if (retry && k.exists && k.version == r->version) k.exists = false;
    intake_feed_action_t a = intake_feed_decide(&k, r);
    char return_id[RF_ID_MAX] = "";
    if (k.has_return && intake_db_find_return(db, r->platform, r->platform_return_id, return_id,
                                              sizeof return_id) < 0)
        return -1;
    int rc = 0;
    switch (a) {
    case INTAKE_FEED_STALE: return (int)a;
    case INTAKE_FEED_NOTE:
        rc = intake_feed_db_store(db, r, k.has_return ? "created" : "noted",
                                  *r->status ? "" : "a status the mapping does not know");
        break;
    case INTAKE_FEED_CREATE: rc = create_or_wait(db, r, needs_order); break;
    case INTAKE_FEED_CANCEL:
        rc = emit_cancelled(bus, db, return_id, r);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    case INTAKE_FEED_UPDATE:
        rc = emit_updated(bus, db, return_id, r, &k);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    }
    return rc == 0 ? (int)a : -1;
}

static void count_action(int a, const intake_feed_record_t *r) {
    if (a == INTAKE_FEED_STALE) atomic_fetch_add(&intake_feed_counters.stale, 1);
    else if (a == INTAKE_FEED_CANCEL) atomic_fetch_add(&intake_feed_counters.cancelled, 1);
    else if (a == INTAKE_FEED_UPDATE) atomic_fetch_add(&intake_feed_counters.updated, 1);
    if (a != INTAKE_FEED_STALE)
        rf_info("event=feed_record_applied platform=%s platform_return_id=%s version=%lld"
                " status=%s code=%s action=%s",
                r->platform, r->platform_return_id, (long long)r->version,
                *r->status ? r->status : "unknown", r->code,
                intake_feed_action_name((intake_feed_action_t)a));
}

static int apply_one(rf_worker_t *w, const intake_feed_record_t *r, bool retry) {
    rf_bus_t *bus = rf_worker_bus(w);
    bool needs_order = false;
    if (rf_bus_tx_begin(bus) != 0) return -1;
    int a = apply_tx(w, r, retry, &needs_order);
    if (a < 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return -1;
    }
    count_action(a, r);
    if (needs_order && is_kuaishou(r->platform)) intake_ks_fetch_order(r->order_id);
    return a;
}

int intake_feed_apply(rf_worker_t *w, const intake_feed_record_t *r) {
    return apply_one(w, r, false);
}

int intake_feed_apply_in_tx(rf_worker_t *w, const intake_feed_record_t *r, bool *needs_order) {
    int a = apply_tx(w, r, false, needs_order);
    if (a >= 0) count_action(a, r);
    return a;
}

void intake_feed_order_arrived(rf_worker_t *w, const char *platform, const char *order_id) {
    rf_db_t *db = rf_worker_db(w);
    json_t *list = intake_feed_db_pending(db, platform, order_id);
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        intake_feed_record_t r;
        if (intake_feed_record_from_json(doc, &r) == 0 && apply_one(w, &r, true) >= 0)
            rf_info("event=feed_pending_released platform=%s platform_return_id=%s order_id=%s",
                    platform, r.platform_return_id, order_id);
    }
    json_decref(list);
    const char *p[] = {platform, order_id};
    rf_db_exec(db, "DELETE FROM feed_order_asks WHERE platform = $1 AND order_id = $2", 2, p);
}

/* ---- drain: spool -> feed_pushes / feed_refused -------------------------------------- */

static int record_line(rf_db_t *db, const char *segment, int64_t position, json_t *doc) {
    const char *platform = json_string_value(json_object_get(doc, "platform"));
    const char *verdict = json_string_value(json_object_get(doc, "verdict"));
    const char *source = json_string_value(json_object_get(doc, "source"));
    json_t *at = json_object_get(doc, "received_at");
    if (!platform || !verdict) return 0;
    rf_num_t received = rf_i64(json_integer_value(at)), pos = rf_i64(position);
    if (strcmp(verdict, "refused") == 0) {
        const char *p[] = {platform, json_string_value(json_object_get(doc, "reason")),
                           json_string_value(json_object_get(doc, "body")), source ? source : "",
                           received.s, segment, pos.s};
        return rf_db_exec(db,
                          "INSERT INTO feed_refused (platform, reason, body, source, received_at,"
                          " segment, position) VALUES ($1, COALESCE($2, ''), COALESCE($3, ''),"
                          " $4, to_timestamp($5::bigint / 1000.0), $6, $7)"
                          " ON CONFLICT (segment, position) DO NOTHING",
                          7, p);
    }
    char *message = json_dumps(json_object_get(doc, "message"), JSON_COMPACT | JSON_ENCODE_ANY);
    rf_num_t version = rf_i64(json_integer_value(json_object_get(doc, "version")));
    const char *p[] = {platform,
                       json_string_value(json_object_get(doc, "event_id")),
                       json_string_value(json_object_get(doc, "topic")),
                       json_string_value(json_object_get(doc, "biz_id")),
                       version.s,
                       message ? message : "null",
                       source ? source : "",
                       received.s};
    PGresult *res = rf_db_query(
        db,
        "INSERT INTO feed_pushes (platform, event_id, topic, biz_id, push_version, message,"
        " source, received_at) VALUES ($1, $2, COALESCE($3, ''), COALESCE($4, ''), $5, $6::jsonb,"
        " $7, to_timestamp($8::bigint / 1000.0))"
        " ON CONFLICT (platform, event_id) DO UPDATE SET duplicates = feed_pushes.duplicates + 1"
        " RETURNING duplicates",
        8, p);
    free(message);
    if (!res) return -1;
    bool dup = PQntuples(res) > 0 && rf_get_i64(res, 0, 0) > 0;
    PQclear(res);
    atomic_fetch_add(dup ? &intake_feed_counters.deduped : &intake_feed_counters.recorded, 1);
    return 0;
}

/* A spool line the database refused: recorded as refused, with the reason. */
static int unstorable_line(rf_db_t *db, const char *segment, int64_t position, const char *line,
                           size_t len) {
    char reason[300];
    snprintf(reason, sizeof reason, "the database would not store it: %.240s", rf_db_error(db));
    rf_error("event=feed_spool_line_unstorable segment=%s position=%lld error=\"%s\"", segment,
             (long long)position, rf_db_error(db));
    json_t *body = json_stringn(line, len > 65536 ? 65536 : len);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I}", "platform", "unknown", "verdict",
                            "refused", "reason", reason, "body", body ? body : json_string(""),
                            "source", "spool", "received_at", (json_int_t)rf_now_ms());
    int rc = doc ? record_line(db, segment, position, doc) : -1;
    json_decref(doc);
    return rc;
}

static int save_checkpoint(rf_db_t *db, const char *segment, int64_t position) {
    rf_num_t pos = rf_i64(position);
    const char *p[] = {fa.spool_key, segment, pos.s};
    return rf_db_exec(db,
                      "INSERT INTO feed_spool_checkpoint (spool, segment, position)"
                      " VALUES ($1, $2, $3) ON CONFLICT (spool) DO UPDATE SET segment = $2,"
                      " position = $3, updated_at = now()",
                      3, p);
}

/* Whole lines of path from pos into the database, in batches. Returns the
 * position reached (after the last whole line), or -1 on a db error. */
static int64_t drain_segment(rf_db_t *db, const char *dir, const char *name, int64_t pos) {
    char path[RF_CFG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pos;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= pos) {
        close(fd);
        return pos;
    }
    size_t len = (size_t)(st.st_size - pos);
    char *buf = malloc(len + 1);
    ssize_t got = buf ? pread(fd, buf, len, pos) : -1;
    close(fd);
    if (got <= 0) {
        free(buf);
        return pos;
    }
    size_t off = 0;
    int batch = DRAIN_BATCH;
    bool error = false;
    while (off < (size_t)got) {
        if (rf_db_begin(db) != 0) {
            error = true;
            break;
        }
        int lines = 0;
        size_t start = off;
        bool failed = false;
        while (lines < batch && off < (size_t)got) {
            char *nl = memchr(buf + off, '\n', (size_t)got - off);
            if (!nl) break; /* a line still being written */
            size_t line_len = (size_t)(nl - (buf + off));
            json_t *doc = json_loadb(buf + off, line_len, 0, NULL);
            if (!doc)
                rf_warn("event=feed_spool_bad_line segment=%s position=%lld", name,
                        (long long)(pos + (int64_t)off));
            else if (record_line(db, name, pos + (int64_t)off, doc) != 0)
                failed = true;
            json_decref(doc);
            /* One line alone that the database will not take (while it is up):
             * kept in the audit instead, so it cannot hold up the lines after it. */
            if (failed && batch == 1 && rf_db_connected(db)) {
                rf_db_rollback(db);
                failed = rf_db_begin(db) != 0 ||
                         unstorable_line(db, name, pos + (int64_t)off, buf + off, line_len) != 0;
            }
            if (failed) break;
            off = (size_t)(nl - buf) + 1;
            lines++;
        }
        if (failed || (lines > 0 && save_checkpoint(db, name, pos + (int64_t)off) != 0) ||
            rf_db_commit(db) != 0) {
            rf_db_rollback(db);
            off = start;
            /* A batch failed: again line by line, to find the one at fault. */
            if (batch > 1 && rf_db_connected(db)) {
                batch = 1;
                continue;
            }
            error = true;
            break;
        }
        if (off == start) break;
    }
    free(buf);
    return error ? -1 : pos + (int64_t)off;
}

static void drain(void) {
    rf_db_t *db = rf_worker_db(fa.w);
    const char *dir = intake_feed_settings.spool_dir;
    const char *p[] = {fa.spool_key};
    PGresult *res = rf_db_query(
        db, "SELECT segment, position FROM feed_spool_checkpoint WHERE spool = $1", 1, p);
    if (!res) return;
    char segment[128] = "";
    int64_t position = 0;
    if (PQntuples(res) > 0) {
        snprintf(segment, sizeof segment, "%s", rf_get_str(res, 0, 0));
        position = rf_get_i64(res, 0, 1);
    }
    PQclear(res);
    char **names;
    size_t n;
    if (intake_spool_list(dir, &names, &n) != 0) return;
    for (size_t i = 0; i < n; i++) {
        int cmp = strcmp(names[i], segment);
        char path[RF_CFG_STR_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (cmp < 0) { /* drained before */
            unlink(path);
            continue;
        }
        int64_t reached = drain_segment(db, dir, names[i], cmp == 0 ? position : 0);
        if (reached < 0) break;
        if (i + 1 == n) break; /* the segment being written */
        /* A newer segment exists, so this one is complete: move on. */
        if (save_checkpoint(db, names[i + 1], 0) != 0) break;
        unlink(path);
        snprintf(segment, sizeof segment, "%s", names[i + 1]);
        position = 0;
    }
    intake_spool_list_free(names, n);
}

/* ---- processing pushes ---------------------------------------------------------------- */

static void mark_processed(rf_db_t *db, const char *platform, const char *event_id,
                           const char *outcome) {
    const char *p[] = {platform, event_id, outcome};
    rf_db_exec(db,
               "UPDATE feed_pushes SET processed_at = now(), outcome = $3"
               " WHERE platform = $1 AND event_id = $2",
               3, p);
    atomic_fetch_add(&intake_feed_counters.processed, 1);
}

/* Once a Kuaishou record was fetched and applied: the pushes it answers. */
void intake_feed_pushes_answered(rf_worker_t *w, const char *platform, const char *biz_id,
                                 int64_t version, const char *outcome) {
    rf_num_t v = rf_i64(version);
    const char *p[] = {platform, biz_id, v.s, outcome};
    int64_t n = rf_db_exec_count(rf_worker_db(w),
                                 "UPDATE feed_pushes SET processed_at = now(), outcome = $4"
                                 " WHERE platform = $1 AND biz_id = $2 AND processed_at IS NULL"
                                 " AND push_version <= $3::bigint",
                                 4, p);
    if (n > 0) atomic_fetch_add(&intake_feed_counters.processed, n);
}

static int64_t applied_version(rf_db_t *db, const char *platform, const char *prid) {
    const char *p[] = {platform, prid};
    PGresult *res = rf_db_query(db,
                                "SELECT version FROM feed_records WHERE platform = $1"
                                " AND platform_return_id = $2",
                                2, p);
    if (!res) return -1;
    int64_t v = PQntuples(res) > 0 ? rf_get_i64(res, 0, 0) : 0;
    PQclear(res);
    return v;
}

static void process_push(rf_db_t *db, const char *platform, const char *event_id,
                         const char *biz_id, int64_t push_version, json_t *message) {
    if (!is_kuaishou(platform)) {
        intake_feed_record_t r;
        char err[200];
        if (intake_feed_from_douyin(json_object_get(message, "data"), &r, err, sizeof err) != 0) {
            mark_processed(db, platform, event_id, err);
            return;
        }
        int a = intake_feed_apply(fa.w, &r);
        if (a >= 0) mark_processed(db, platform, event_id, intake_feed_action_name(a));
        return;
    }
    int64_t applied = applied_version(db, platform, biz_id);
    if (applied < 0) return;
    if (push_version > 0 && push_version <= applied) {
        atomic_fetch_add(&intake_feed_counters.stale, 1);
        mark_processed(db, platform, event_id, "stale");
        return;
    }
    /* The push carries ids and a status only: the record is fetched. */
    if (intake_ks_enabled()) intake_ks_fetch_refund(biz_id);
}

/* The oldest unprocessed pushes of each platform (Kuaishou's only while its
 * API can be asked: they wait for it, without holding up Douyin's). */
static void process(void) {
    rf_db_t *db = rf_worker_db(fa.w);
    const char *p[] = {intake_ks_enabled() ? "t" : "f"};
    PGresult *res = rf_db_query(
        db,
        "(SELECT platform, event_id, biz_id, push_version, message::text, seq"
        "  FROM feed_pushes WHERE processed_at IS NULL AND platform = 'douyin'"
        "  ORDER BY seq LIMIT 100)"
        " UNION ALL"
        " (SELECT platform, event_id, biz_id, push_version, message::text, seq"
        "  FROM feed_pushes WHERE processed_at IS NULL AND platform = 'kuaishou' AND $1::bool"
        "  ORDER BY seq LIMIT 100)"
        " ORDER BY seq",
        1, p);
    if (!res) return;
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *message = json_loads(rf_get_str(res, i, 4), 0, NULL);
        process_push(db, rf_get_str(res, i, 0), rf_get_str(res, i, 1), rf_get_str(res, i, 2),
                     rf_get_i64(res, i, 3), message);
        json_decref(message);
    }
    PQclear(res);
}

/* Every 50 ms: drain and process when the receiver made a batch durable
 * since the last look, and in any case twice a second (what a failed drain
 * left, fetches to retry). */
static void on_drain_timer(uv_timer_t *t) {
    (void)t;
    if (!rf_db_connected(rf_worker_db(fa.w))) return;
    long long batches = atomic_load(&intake_feed_counters.batches_durable);
    int64_t now = rf_now_ms();
    if (batches == fa.batches_seen && now - fa.last_process_ms < 500) return;
    fa.batches_seen = batches;
    fa.last_process_ms = now;
    if (fa.receiving) drain();
    process();
}

/* ---- operator view -------------------------------------------------------------------- */

bool intake_feed_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/feeds/audit") != 0)
        return false;
    char platform[32] = "", limit_text[16] = "";
    rf_http_query_param(x, "platform", platform, sizeof platform);
    rf_http_query_param(x, "limit", limit_text, sizeof limit_text);
    long limit = *limit_text ? strtol(limit_text, NULL, 10) : 100;
    if (limit < 1 || limit > 1000) limit = 100;
    rf_num_t lim = rf_i64(limit);
    const char *p[] = {platform, lim.s};
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object('refused', COALESCE(json_agg(json_build_object('id', id,"
        " 'platform', platform, 'reason', reason, 'source', source, 'body', body,"
        " 'received_at', (extract(epoch FROM received_at) * 1000)::bigint) ORDER BY id DESC),"
        " '[]'::json), 'total', (SELECT count(*) FROM feed_refused"
        "   WHERE $1 = '' OR platform = $1))"
        " FROM (SELECT * FROM feed_refused WHERE $1 = '' OR platform = $1"
        "   ORDER BY id DESC LIMIT $2::int) a",
        2, p);
    return true;
}

void intake_feed_metrics(rf_metrics_out_t *out) {
    intake_feed_counters_t *c = &intake_feed_counters;
    static const char *const platforms[] = {"kuaishou", "douyin"};
    rf_metrics_printf(out, "# HELP rf_feed_pushes_received_total Push messages accepted at the"
                           " door, by platform.\n# TYPE rf_feed_pushes_received_total counter\n");
    for (int i = 0; i < 2; i++)
        rf_metrics_printf(out, "rf_feed_pushes_received_total{platform=\"%s\"} %lld\n",
                          platforms[i], (long long)atomic_load(&c->received[i]));
    rf_metrics_printf(out, "# HELP rf_feed_pushes_refused_total Push messages refused (bad key,"
                           " sign or body), by platform.\n# TYPE rf_feed_pushes_refused_total"
                           " counter\n");
    for (int i = 0; i < 2; i++)
        rf_metrics_printf(out, "rf_feed_pushes_refused_total{platform=\"%s\"} %lld\n",
                          platforms[i], (long long)atomic_load(&c->refused[i]));
    static const struct {
        const char *name, *help;
        size_t off;
    } simple[] = {
        {"rf_feed_heartbeats_total", "Kuaishou heartbeat pushes answered.",
         offsetof(intake_feed_counters_t, heartbeats)},
        {"rf_feed_spool_errors_total", "Spool writes or syncs that failed (push answered 503).",
         offsetof(intake_feed_counters_t, spool_errors)},
        {"rf_feed_pushes_recorded_total", "Pushes recorded in the database (first copy).",
         offsetof(intake_feed_counters_t, recorded)},
        {"rf_feed_pushes_deduped_total", "Copies of pushes already recorded (same event id).",
         offsetof(intake_feed_counters_t, deduped)},
        {"rf_feed_pushes_processed_total", "Pushes processed.",
         offsetof(intake_feed_counters_t, processed)},
        {"rf_feed_records_stale_total", "Record versions not newer than the applied one.",
         offsetof(intake_feed_counters_t, stale)},
        {"rf_feed_returns_created_total", "Returns created from platform records.",
         offsetof(intake_feed_counters_t, created)},
        {"rf_feed_returns_updated_total", "return.updated emitted.",
         offsetof(intake_feed_counters_t, updated)},
        {"rf_feed_returns_cancelled_total", "return.cancelled emitted for a platform closure.",
         offsetof(intake_feed_counters_t, cancelled)},
        {"rf_feed_returns_pending_total", "Records that waited for their order.",
         offsetof(intake_feed_counters_t, pending)},
        {"rf_feed_fetches_total", "Record and order fetches from the platform API.",
         offsetof(intake_feed_counters_t, fetches)},
        {"rf_feed_fetch_failures_total", "Fetches that failed (retried later).",
         offsetof(intake_feed_counters_t, fetch_failures)},
        {"rf_feed_rate_limited_total", "API answers that were rate limits (backed off).",
         offsetof(intake_feed_counters_t, rate_limited)},
        {"rf_feed_poll_windows_total", "Poll windows listed to the end.",
         offsetof(intake_feed_counters_t, poll_windows)},
        {"rf_feed_poll_pages_total", "Poll list pages processed.",
         offsetof(intake_feed_counters_t, poll_pages)},
        {"rf_feed_orders_fetched_total", "Orders fetched for returns waiting on them.",
         offsetof(intake_feed_counters_t, orders_fetched)},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        rf_metrics_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", simple[i].name,
                          simple[i].help, simple[i].name, simple[i].name,
                          (long long)atomic_load((atomic_llong *)((char *)c + simple[i].off)));
    rf_metrics_printf(out, "# HELP rf_feed_poll_lag_seconds How far the poller's checkpoint is"
                           " behind now.\n# TYPE rf_feed_poll_lag_seconds gauge\n"
                           "rf_feed_poll_lag_seconds %.3f\n",
                      (double)atomic_load(&c->poll_lag_ms) / 1000.0);
}

/* ---- start ------------------------------------------------------------------------------ */

static void stop_receiver(void) { intake_feed_receiver_stop(); }

int intake_feeds_start(rf_worker_t *w) {
    intake_feed_settings_t *s = &intake_feed_settings;
    fa.w = w;
    char err[300];
    if (intake_feed_set_reason_map("kuaishou", s->ks_reason_map, err, sizeof err) != 0 ||
        intake_feed_set_reason_map("douyin", s->dy_reason_map, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_REASON_MAP/RF_DOUYIN_REASON_MAP"
                 " error=\"%s\"",
                 err);
        return -1;
    }
    if ((*s->dy_app_key != '\0') != (*s->dy_app_secret != '\0')) {
        rf_error("event=config_invalid setting=RF_DOUYIN_APP_KEY error=\"RF_DOUYIN_APP_KEY and"
                 " RF_DOUYIN_APP_SECRET go together\"");
        return -1;
    }
    uv_loop_t *loop = rf_worker_loop(w);
    fa.receiving = *s->ks_message_key || *s->dy_app_key;
    if (fa.receiving) {
        /* what an earlier run spooled is drained at the first tick */
        fa.batches_seen = -1;
        if (intake_feed_receiver_start(s, err, sizeof err) != 0) {
            rf_error("event=config_invalid setting=RF_INTAKE_FEED_LISTEN error=\"%s\"", err);
            return -1;
        }
        char host[256] = "", dir[PATH_MAX] = "";
        gethostname(host, sizeof host - 1);
        if (!realpath(s->spool_dir, dir)) snprintf(dir, sizeof dir, "%s", s->spool_dir);
        snprintf(fa.spool_key, sizeof fa.spool_key, "%s:%s", host, dir);
        atexit(stop_receiver);
    }
    if (intake_ks_start(w, s, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_API_URL error=\"%s\"", err);
        return -1;
    }
    uv_timer_init(loop, &fa.drain_timer);
    uv_unref((uv_handle_t *)&fa.drain_timer);
    uv_timer_start(&fa.drain_timer, on_drain_timer, 50, 50);
    return 0;
}
