/*
 * feed_drain.c: the worker's drain of the feed spool into PostgreSQL
 * (feeds_internal.h). The spool the receiver thread writes is read from a checkpoint
 * kept per host and spool directory; accepted pushes go to feed_pushes (one
 * row per platform event id: a copy only counts as a duplicate), refused ones
 * to feed_refused (the audit), and the checkpoint moves in the same
 * transaction. A crash between spool and database repeats lines, which the
 * keys absorb: nothing is lost and nothing is done twice. A drained segment
 * is deleted once a newer one exists.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define DRAIN_BATCH 500

static int record_line(rf_db_t *db, const char *segment, int64_t position, json_t *doc) {
    const char *platform = json_string_value(json_object_get(doc, "platform"));
    const char *verdict = json_string_value(json_object_get(doc, "verdict"));
    const char *source = json_string_value(json_object_get(doc, "source"));
    json_t *at = json_object_get(doc, "received_at");
    if (!platform || !verdict) return 0;
    rf_num_t received = rf_i64(json_integer_value(at)), pos = rf_i64(position);
    if (strcmp(verdict, "refused") == 0) {
        const char *p[] = {platform,
                           json_string_value(json_object_get(doc, "reason")),
                           json_string_value(json_object_get(doc, "body")),
                           source ? source : "",
                           received.s,
                           segment,
                           pos.s};
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

static int save_checkpoint(rf_db_t *db, const char *spool_key, const char *segment,
                           int64_t position) {
    rf_num_t pos = rf_i64(position);
    const char *p[] = {spool_key, segment, pos.s};
    return rf_db_exec(db,
                      "INSERT INTO feed_spool_checkpoint (spool, segment, position)"
                      " VALUES ($1, $2, $3) ON CONFLICT (spool) DO UPDATE SET segment = $2,"
                      " position = $3, updated_at = now()",
                      3, p);
}

/* Whole lines of path from pos into the database, in batches. Returns the
 * position reached (after the last whole line), or -1 on a db error. */
static int64_t drain_segment(rf_db_t *db, const char *spool_key, const char *dir, const char *name,
                             int64_t pos) {
    char path[RF_CFG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pos;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= pos) {
        (void)close(fd); /* read only */
        return pos;
    }
    size_t len = (size_t)(st.st_size - pos);
    char *buf = malloc(len + 1);
    ssize_t got = buf ? pread(fd, buf, len, pos) : -1;
    (void)close(fd); /* read only */
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
            else if (record_line(db, name, pos + (int64_t)off, doc) != 0) failed = true;
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
        if (failed ||
            (lines > 0 && save_checkpoint(db, spool_key, name, pos + (int64_t)off) != 0) ||
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

void intake_feed_drain(rf_db_t *db, const char *dir, const char *spool_key) {
    const char *p[] = {spool_key};
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
        int64_t reached = drain_segment(db, spool_key, dir, names[i], cmp == 0 ? position : 0);
        if (reached < 0) break;
        if (i + 1 == n) break; /* the segment being written */
        /* A newer segment exists, so this one is complete: move on. */
        if (save_checkpoint(db, spool_key, names[i + 1], 0) != 0) break;
        unlink(path);
        snprintf(segment, sizeof segment, "%s", names[i + 1]);
        position = 0;
    }
    intake_spool_list_free(names, n);
}
