/*
 * feed_poll.c: intake's calls to the Kuaishou open platform (feeds_internal.h), all
 * asynchronous on the worker's loop (platform/ks_client.h):
 *
 *  - refund detail for a push that carries only ids (then the pushes the
 *    record answers are marked processed);
 *  - order detail for a return waiting on an order intake does not know;
 *  - the poller: open.seller.order.refund.pcursor.list (GET) of every refund
 *    (type 9) by update time (queryType 2) in windows of at most one day,
 *    ending a small lag behind now, page by page to "nomore" (currentPage
 *    counts the pages of the window: 1 with the empty pcursor). The window and its next pcursor are kept
 *    in feed_poll_checkpoint and move in the same transaction as the page's
 *    records, so a restart resumes at the page it stopped at: no window is
 *    skipped or listed again. Rate limits and failures back off
 *    exponentially (1 s doubling, capped at 60 s).
 * Off when RF_KUAISHOU_API_URL is empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define DAY_MS 86400000LL
#define INFLIGHT_MAX 16
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define CALL_TIMEOUT_MS 10000

typedef enum fetch_kind { FETCH_REFUND, FETCH_ORDER } fetch_kind_t;

typedef struct fetch {
    fetch_kind_t kind;
    char id[64];
} fetch_t;

static struct {
    rf_worker_t *w;
    const intake_feed_settings_t *s;
    bool enabled;
    rf_httpc_t *http;
    rf_ks_config_t cfg;
    char inflight[INFLIGHT_MAX][64]; /* "r:<refundId>" / "o:<oid>" */
    int64_t paused_until, backoff_ms;
    uv_timer_t poll_timer, ask_timer;
    bool listing;
    int64_t win_begin, win_end; /* the window of the outstanding list call */
    char pcursor[128];
    int64_t page; /* currentPage of the outstanding list call */
} ks;

bool intake_ks_enabled(void) { return ks.enabled; }

size_t intake_ks_inflight(void) {
    size_t n = 0;
    for (size_t i = 0; i < INFLIGHT_MAX; i++) n += ks.inflight[i][0] != '\0';
    return n;
}

/* A failure or a rate limit: pause every call for the current backoff, then
 * double it (capped). */
static void back_off(rf_ks_outcome_t outcome, const char *what, const char *error) {
    if (ks.backoff_ms < BACKOFF_MIN_MS) ks.backoff_ms = BACKOFF_MIN_MS;
    ks.paused_until = rf_now_ms() + ks.backoff_ms;
    if (outcome == RF_KS_RATE_LIMITED) atomic_fetch_add(&intake_feed_counters.rate_limited, 1);
    else atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
    rf_warn("event=kuaishou_call_failed call=%s outcome=%s backoff_ms=%lld error=\"%s\"", what,
            outcome == RF_KS_RATE_LIMITED ? "rate_limited" : "failed", (long long)ks.backoff_ms,
            error ? error : "");
    ks.backoff_ms *= 2;
    if (ks.backoff_ms > BACKOFF_MAX_MS) ks.backoff_ms = BACKOFF_MAX_MS;
}

static void succeeded(void) { ks.backoff_ms = BACKOFF_MIN_MS; }

static bool paused(void) { return rf_now_ms() < ks.paused_until; }

/* ---- fetches --------------------------------------------------------------------------- */

static int inflight_slot(const char *key, bool take) {
    int free_slot = -1;
    for (int i = 0; i < INFLIGHT_MAX; i++) {
        if (strcmp(ks.inflight[i], key) == 0) return -2; /* already asked */
        if (!ks.inflight[i][0] && free_slot < 0) free_slot = i;
    }
    if (take && free_slot >= 0) snprintf(ks.inflight[free_slot], sizeof ks.inflight[0], "%s", key);
    return free_slot;
}

static void inflight_done(const char *key) {
    for (int i = 0; i < INFLIGHT_MAX; i++)
        if (strcmp(ks.inflight[i], key) == 0) ks.inflight[i][0] = '\0';
}

/* An id as the platform's long integer when it is one, else as text. */
static json_t *id_json(const char *id) {
    char *end;
    long long v = strtoll(id, &end, 10);
    return *id && *end == '\0' ? json_integer(v) : json_string(id);
}

/* A Kuaishou record was fetched and applied at version: mark the pushes it
 * answers (no newer version named) processed with outcome. */
static void pushes_answered(rf_worker_t *w, const char *platform, const char *biz_id,
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

static void refund_fetched(const char *refund_id, json_t *data) {
    intake_feed_record_t r;
    char err[200];
    if (intake_feed_from_kuaishou(data, &r, err, sizeof err) != 0) {
        rf_warn("event=kuaishou_record_unusable refund_id=%s error=\"%s\"", refund_id, err);
        pushes_answered(ks.w, "kuaishou", refund_id, INT64_MAX / 2, err);
        return;
    }
    int a = intake_feed_apply(ks.w, &r);
    if (a >= 0)
        pushes_answered(ks.w, "kuaishou", refund_id, r.version,
                        intake_feed_action_name((intake_feed_action_t)a));
}

static void order_fetched(const char *oid, json_t *data) {
    intake_order_t o;
    intake_order_line_t lines[64];
    char ids[64 * (3 + 2 * 64)], err[200];
    rf_bus_t *bus = rf_worker_bus(ks.w);
    if (intake_feed_order_from_kuaishou(data, &o, lines, 64, ids, sizeof ids, err, sizeof err) !=
            0 ||
        intake_order_allocate(&o) != 0) {
        rf_warn("event=kuaishou_order_unusable order_id=%s error=\"%s\"", oid, err);
        const char *p[] = {oid, err};
        rf_db_exec(rf_worker_db(ks.w),
                   "UPDATE feed_order_asks SET last_error = $2 WHERE platform = 'kuaishou'"
                   " AND order_id = $1",
                   2, p);
        return;
    }
    if (rf_bus_tx_begin(bus) != 0 || intake_db_upsert_order(rf_worker_db(ks.w), &o) != 0 ||
        rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return;
    }
    atomic_fetch_add(&intake_feed_counters.orders_fetched, 1);
    rf_info("event=order_recorded platform=kuaishou order_id=%s lines=%zu source=order.detail",
            o.order_id, o.n_lines);
    intake_feed_order_arrived(ks.w, "kuaishou", o.order_id);
}

static void on_fetched(void *arg, rf_ks_outcome_t outcome, int result_code, json_t *data,
                       const char *raw, const char *error) {
    (void)result_code;
    (void)raw;
    fetch_t *f = arg;
    char key[80];
    snprintf(key, sizeof key, "%c:%s", f->kind == FETCH_REFUND ? 'r' : 'o', f->id);
    inflight_done(key);
    const char *what = f->kind == FETCH_REFUND ? "refund.detail" : "order.detail";
    if (outcome == RF_KS_REFUSED) {
        /* The platform said no: no pause. An order is asked again later; the
         * pushes of a refund it will not show are closed with the answer (the
         * poller still brings the record if it exists). */
        atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
        rf_warn("event=kuaishou_call_refused call=%s id=%s error=\"%s\"", what, f->id,
                error ? error : "");
        if (f->kind == FETCH_REFUND)
            pushes_answered(ks.w, "kuaishou", f->id, INT64_MAX / 2, error ? error : "refused");
    } else if (outcome != RF_KS_OK) {
        back_off(outcome, what, error);
    } else {
        succeeded();
        if (f->kind == FETCH_REFUND) refund_fetched(f->id, data);
        else order_fetched(f->id, data);
    }
    free(f);
}

static int fetch(fetch_kind_t kind, const char *id) {
    if (!ks.enabled || paused()) return -1;
    char key[80];
    snprintf(key, sizeof key, "%c:%s", kind == FETCH_REFUND ? 'r' : 'o', id);
    int slot = inflight_slot(key, false);
    if (slot == -2) return 0;
    if (slot < 0) return -1; /* busy: the next pass asks */
    fetch_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->kind = kind;
    snprintf(f->id, sizeof f->id, "%s", id);
    json_t *param = kind == FETCH_REFUND ? json_pack("{s:o}", "refundId", id_json(id))
                                         : json_pack("{s:o}", "oid", id_json(id));
    int rc =
        rf_ks_call(ks.http, &ks.cfg,
                   kind == FETCH_REFUND ? "open.seller.order.refund.detail" : "open.order.detail",
                   param, rf_now_ms(), CALL_TIMEOUT_MS, on_fetched, f);
    json_decref(param);
    if (rc != 0) {
        free(f);
        return -1;
    }
    inflight_slot(key, true);
    atomic_fetch_add(&intake_feed_counters.fetches, 1);
    return 0;
}

int intake_ks_fetch_refund(const char *refund_id) { return fetch(FETCH_REFUND, refund_id); }
int intake_ks_fetch_order(const char *order_id) { return fetch(FETCH_ORDER, order_id); }

/* Orders still asked for (a failed or lost fetch): again every few seconds. */
static void on_ask_timer(uv_timer_t *t) {
    (void)t;
    rf_db_t *db = rf_worker_db(ks.w);
    if (!rf_db_connected(db) || paused()) return;
    json_t *list = rf_db_query_list(db,
                                    "UPDATE feed_order_asks SET asked_at = now(),"
                                    " attempts = attempts + 1 WHERE (platform, order_id) IN"
                                    " (SELECT platform, order_id FROM feed_order_asks"
                                    "  WHERE platform = 'kuaishou'"
                                    "  AND asked_at < now() - interval '5 seconds'"
                                    "  ORDER BY asked_at LIMIT 8) RETURNING order_id",
                                    0, NULL, false);
    size_t i;
    json_t *oid;
    json_array_foreach(list, i, oid) intake_ks_fetch_order(json_string_value(oid));
    json_decref(list);
}

/* ---- the poller -------------------------------------------------------------------------- */

static void schedule_poll(uint64_t delay_ms);

/* Move the checkpoint past the page just listed (in the page's transaction). */
static int advance(rf_db_t *db, const char *next) {
    bool done = !*next || strcmp(next, "nomore") == 0;
    rf_num_t begin = rf_i64(ks.win_begin), end = rf_i64(ks.win_end);
    const char *p[] = {begin.s, end.s, ks.pcursor, done ? "" : next, done ? "t" : "f"};
    int64_t n = rf_db_exec_count(
        db,
        "UPDATE feed_poll_checkpoint SET"
        " window_begin = CASE WHEN $5::bool THEN window_end ELSE window_begin END,"
        " pcursor = $4, windows_done = windows_done + CASE WHEN $5::bool THEN 1 ELSE 0 END,"
        " updated_at = now()"
        " WHERE platform = 'kuaishou' AND window_begin = $1::bigint AND window_end = $2::bigint"
        " AND pcursor = $3",
        5, p);
    if (n == 1 && done) atomic_fetch_add(&intake_feed_counters.poll_windows, 1);
    return n == 1 ? 0 : -1;
}

static void on_listed(void *arg, rf_ks_outcome_t outcome, int result_code, json_t *data,
                      const char *raw, const char *error) {
    (void)arg;
    (void)result_code;
    (void)raw;
    ks.listing = false;
    if (outcome != RF_KS_OK) {
        back_off(outcome, "refund.pcursor.list", error);
        schedule_poll((uint64_t)ks.backoff_ms);
        return;
    }
    succeeded();
    json_t *list = json_object_get(data, "refundOrderInfoList");
    const char *next = json_string_value(json_object_get(data, "pcursor"));
    rf_bus_t *bus = rf_worker_bus(ks.w);
    size_t n = json_array_size(list);
    intake_feed_record_t *recs = calloc(n ? n : 1, sizeof *recs);
    bool *needs_order = calloc(n ? n : 1, sizeof *needs_order);
    bool *usable = calloc(n ? n : 1, sizeof *usable);
    bool *fetched = calloc(n ? n : 1, sizeof *fetched);
    bool ok = recs && needs_order && usable && fetched && rf_bus_tx_begin(bus) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        char err[200];
        json_t *entry = json_array_get(list, i);
        usable[i] = intake_feed_from_kuaishou(entry, &recs[i], err, sizeof err) == 0;
        if (!usable[i]) {
            rf_warn("event=kuaishou_record_unusable source=poll error=\"%s\"", err);
            continue;
        }
        /* A list entry (the declared list view) has no logisticsInfo: a return
         * on its way back is applied from its detail, which names the parcel
         * (applied from the entry only when the detail cannot be asked now;
         * a known tracking number then stays). */
        if (!json_object_get(entry, "logisticsInfo") &&
            strcmp(recs[i].status, "return_in_transit") == 0 &&
            intake_ks_fetch_refund(recs[i].platform_return_id) == 0) {
            fetched[i] = true;
            continue;
        }
        ok = intake_feed_apply_in_tx(ks.w, &recs[i], &needs_order[i]) >= 0;
    }
    if (ok) ok = advance(rf_worker_db(ks.w), next ? next : "") == 0;
    if (ok) ok = rf_bus_tx_commit(bus) == 0;
    if (!ok) {
        rf_bus_tx_rollback(bus);
        back_off(RF_KS_TRANSPORT, "refund.pcursor.list", "the page could not be recorded");
        schedule_poll((uint64_t)ks.backoff_ms);
    } else {
        atomic_fetch_add(&intake_feed_counters.poll_pages, 1);
        ks.page = next && *next && strcmp(next, "nomore") != 0 ? ks.page + 1 : 1;
        atomic_fetch_add(&intake_feed_counters.poll_records, (long long)n);
        for (size_t i = 0; i < n; i++) {
            if (!usable[i] || fetched[i]) continue;
            pushes_answered(ks.w, "kuaishou", recs[i].platform_return_id, recs[i].version,
                            "applied from the poll");
            if (needs_order[i]) intake_ks_fetch_order(recs[i].order_id);
        }
        rf_debug("event=kuaishou_poll_page begin=%lld end=%lld records=%zu next=%s",
                 (long long)ks.win_begin, (long long)ks.win_end, n, next ? next : "");
        schedule_poll(0);
    }
    free(recs);
    free(needs_order);
    free(usable);
    free(fetched);
}

/* The checkpoint, opening the next window when none is open. false when
 * there is nothing to list yet (or the database did not answer). */
static bool current_window(rf_db_t *db) {
    int64_t now = rf_now_ms();
    rf_num_t start = rf_i64(ks.s->poll_start_ms > 0 ? ks.s->poll_start_ms : now - 3600000);
    const char *p0[] = {start.s};
    if (rf_db_exec(db,
                   "INSERT INTO feed_poll_checkpoint (platform, window_begin, window_end)"
                   " VALUES ('kuaishou', $1, $1) ON CONFLICT DO NOTHING",
                   1, p0) != 0)
        return false;
    PGresult *res = rf_db_query(db,
                                "SELECT window_begin, window_end, pcursor FROM"
                                " feed_poll_checkpoint WHERE platform = 'kuaishou'",
                                0, NULL);
    if (!res || PQntuples(res) == 0) {
        if (res) PQclear(res);
        return false;
    }
    ks.win_begin = rf_get_i64(res, 0, 0);
    ks.win_end = rf_get_i64(res, 0, 1);
    snprintf(ks.pcursor, sizeof ks.pcursor, "%s", rf_get_str(res, 0, 2));
    PQclear(res);
    atomic_store(&intake_feed_counters.poll_lag_ms, now - ks.win_begin);
    if (ks.win_end > ks.win_begin) return true; /* a window is open: resume it */
    if (ks.win_begin < now - 89 * DAY_MS) {
        /* The platform lists 90 days back at most: what is older is out of reach. */
        int64_t reachable = now - 89 * DAY_MS;
        rf_warn("event=kuaishou_poll_gap from=%lld to=%lld reason=\"older than the platform"
                " lists\"",
                (long long)ks.win_begin, (long long)reachable);
        rf_num_t old = rf_i64(ks.win_begin), r = rf_i64(reachable);
        const char *pp[] = {old.s, r.s};
        if (rf_db_exec_count(db,
                             "UPDATE feed_poll_checkpoint SET window_begin = $2, window_end = $2"
                             " WHERE platform = 'kuaishou' AND window_begin = $1::bigint"
                             " AND window_end = $1::bigint",
                             2, pp) != 1)
            return false;
        ks.win_begin = reachable;
    }
    int64_t end = now - ks.s->poll_lag_ms;
    if (end > ks.win_begin + DAY_MS) end = ks.win_begin + DAY_MS;
    /* Caught up: wait until a poll interval's worth has passed (or a whole day). */
    if (end <= ks.win_begin ||
        (end - ks.win_begin < ks.s->poll_interval_ms && end < ks.win_begin + DAY_MS))
        return false;
    rf_num_t b = rf_i64(ks.win_begin), e = rf_i64(end);
    const char *p[] = {b.s, e.s};
    if (rf_db_exec_count(db,
                         "UPDATE feed_poll_checkpoint SET window_end = $2, pcursor = '',"
                         " updated_at = now() WHERE platform = 'kuaishou'"
                         " AND window_begin = $1::bigint AND window_end = $1::bigint",
                         2, p) != 1)
        return false;
    ks.win_end = end;
    ks.pcursor[0] = '\0';
    return true;
}

static void on_poll_timer(uv_timer_t *t) {
    (void)t;
    rf_db_t *db = rf_worker_db(ks.w);
    if (ks.listing) return;
    if (!rf_db_connected(db) || paused()) {
        schedule_poll(paused() ? (uint64_t)(ks.paused_until - rf_now_ms()) : 1000);
        return;
    }
    if (!current_window(db)) {
        schedule_poll((uint64_t)ks.s->poll_interval_ms);
        return;
    }
    /* the declared request: beginTime, endTime, type (9: every refund; 8 would
     * be those waiting for a refund only), pageSize, currentPage and pcursor
     * required; queryType 2: by update time. A window resumed after a restart
     * is past its first page: its page number counts on from 2. */
    if (!ks.pcursor[0]) ks.page = 1;
    else if (ks.page < 2) ks.page = 2;
    json_t *param = json_pack("{s:I, s:I, s:i, s:I, s:I, s:i, s:s}", "beginTime",
                              (json_int_t)ks.win_begin, "endTime", (json_int_t)ks.win_end, "type",
                              9, "pageSize", (json_int_t)ks.s->poll_page_size, "currentPage",
                              (json_int_t)ks.page, "queryType", 2, "pcursor", ks.pcursor);
    int rc = rf_ks_call(ks.http, &ks.cfg, "open.seller.order.refund.pcursor.list", param,
                        rf_now_ms(), CALL_TIMEOUT_MS, on_listed, NULL);
    json_decref(param);
    if (rc == 0) ks.listing = true;
    else schedule_poll(1000);
}

static void schedule_poll(uint64_t delay_ms) {
    uv_timer_start(&ks.poll_timer, on_poll_timer, delay_ms, 0);
}

/* ---- start ---------------------------------------------------------------------------------- */

int intake_ks_start(rf_worker_t *w, const intake_feed_settings_t *s, char *err, size_t errlen) {
    ks.w = w;
    ks.s = s;
    ks.backoff_ms = BACKOFF_MIN_MS;
    if (rf_ks_settings_load(&ks.cfg) != 0) {
        snprintf(err, errlen, "bad Kuaishou API settings (each is named in the log above)");
        return -1;
    }
    if (!rf_ks_enabled()) return 0;
    uv_loop_t *loop = rf_worker_loop(w);
    ks.http = rf_httpc_new(loop);
    if (!ks.http) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return -1;
    }
    ks.enabled = true;
    uv_timer_init(loop, &ks.ask_timer);
    uv_unref((uv_handle_t *)&ks.ask_timer);
    uv_timer_start(&ks.ask_timer, on_ask_timer, 2000, 2000);
    uv_timer_init(loop, &ks.poll_timer);
    uv_unref((uv_handle_t *)&ks.poll_timer);
    if (s->poll_interval_ms > 0) schedule_poll(500);
    rf_info("event=kuaishou_api_ready url=%s poll_interval_ms=%lld page_size=%lld lag_ms=%lld",
            ks.cfg.api_url, (long long)s->poll_interval_ms, (long long)s->poll_page_size,
            (long long)s->poll_lag_ms);
    return 0;
}
