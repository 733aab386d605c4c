/*
 * feed_window.c: a poller's durable position, per shop (feeds_internal.h):
 * the window of update times being listed and the cursor of its next page,
 * in feed_poll_checkpoint (platform, shop_id). The window moves only in the
 * transaction of the page that finishes it, so a restart resumes at the page
 * it stopped at: no window is skipped or listed again.
 */
#include <stdio.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"

/* The shop's checkpoint, opening the next window when none is open. false
 * when there is nothing to list yet (or the database did not answer). */
bool intake_poll_window(rf_db_t *db, intake_feed_shop_t *s, const intake_poll_limits_t *lim) {
    int64_t now = rf_now_ms();
    rf_num_t start = rf_i64(lim->start_ms > 0 ? lim->start_ms : now - 3600000);
    const char *p0[] = {start.s, s->shop_id, s->platform};
    if (rf_db_exec(db,
                   "INSERT INTO feed_poll_checkpoint (platform, shop_id, window_begin, window_end)"
                   " VALUES ($3, $2, $1, $1) ON CONFLICT DO NOTHING",
                   3, p0) != 0)
        return false;
    const char *p1[] = {s->shop_id, s->platform};
    PGresult *res = rf_db_query(db,
                                "SELECT window_begin, window_end, pcursor FROM"
                                " feed_poll_checkpoint WHERE platform = $2"
                                " AND shop_id = $1",
                                2, p1);
    if (!res || PQntuples(res) == 0) {
        if (res) PQclear(res);
        return false;
    }
    s->win_begin = rf_get_i64(res, 0, 0);
    s->win_end = rf_get_i64(res, 0, 1);
    snprintf(s->pcursor, sizeof s->pcursor, "%s", rf_get_str(res, 0, 2));
    PQclear(res);
    int64_t lag = now - s->win_begin;
    if (lag > atomic_load(&intake_feed_counters.poll_lag_ms) || !*s->shop_id)
        atomic_store(&intake_feed_counters.poll_lag_ms, lag);
    if (s->win_end > s->win_begin) return true; /* a window is open: resume it */
    int64_t begin = s->win_begin;
    if (begin < now - lim->reach_ms) {
        /* The platform lists so far back at most: what is older is out of reach. */
        begin = now - lim->reach_ms;
        rf_warn("event=poll_gap platform=%s shop_id=%s from=%lld to=%lld reason=\"older than the"
                " platform lists\"",
                s->platform, s->shop_id, (long long)s->win_begin, (long long)begin);
    }
    int64_t end = now - lim->lag_ms;
    if (end > begin + lim->window_ms) end = begin + lim->window_ms;
    /* Caught up: wait until a poll interval's worth has passed (or a whole day). */
    if (end <= begin || (end - begin < lim->interval_ms && end < begin + lim->window_ms))
        return false;
    rf_num_t old = rf_i64(s->win_begin), b = rf_i64(begin), e = rf_i64(end);
    const char *p[] = {old.s, b.s, e.s, s->shop_id, s->platform};
    if (rf_db_exec_count(db,
                         "UPDATE feed_poll_checkpoint SET window_begin = $2, window_end = $3,"
                         " pcursor = '', updated_at = now() WHERE platform = $5"
                         " AND shop_id = $4 AND window_begin = $1::bigint"
                         " AND window_end = $1::bigint",
                         5, p) != 1)
        return false;
    s->win_begin = begin;
    s->win_end = end;
    s->pcursor[0] = '\0';
    return true;
}

/* Move the shop's checkpoint past the page just listed (in the page's transaction). */
int intake_poll_advance(rf_db_t *db, const intake_feed_shop_t *s, const char *next) {
    bool done = !*next || strcmp(next, "nomore") == 0;
    rf_num_t begin = rf_i64(s->win_begin), end = rf_i64(s->win_end);
    const char *p[] = {begin.s,          end.s,      s->pcursor, done ? "" : next,
                       done ? "t" : "f", s->shop_id, s->platform};
    int64_t n = rf_db_exec_count(
        db,
        "UPDATE feed_poll_checkpoint SET"
        " window_begin = CASE WHEN $5::bool THEN window_end ELSE window_begin END,"
        " pcursor = $4, windows_done = windows_done + CASE WHEN $5::bool THEN 1 ELSE 0 END,"
        " updated_at = now()"
        " WHERE platform = $7 AND shop_id = $6 AND window_begin = $1::bigint"
        " AND window_end = $2::bigint AND pcursor = $3",
        7, p);
    if (n == 1 && done) atomic_fetch_add(&intake_feed_counters.poll_windows, 1);
    return n == 1 ? 0 : -1;
}
