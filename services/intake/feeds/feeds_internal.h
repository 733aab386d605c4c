/*
 * feeds_internal.h: what the files of intake's platform feeds share among
 * themselves (intake's core sees feeds.h alone):
 *
 *   feed_map.c      platform record -> neutral record; which update applies
 *   feed_spool.c    the local spool file pushes are written to before answering
 *   feed_receiver.c the push endpoints, on their own thread, loop and address
 *   feed_worker.c   the worker side: start the feeds; drain and process pushes
 *   feed_drain.c    the worker side: drain the spool into PostgreSQL
 *   feed_apply.c    apply records (create, update, cancel, wait for the
 *                   order), the records an arrived order releases
 *   feed_ks.c       Kuaishou API calls, each with its shop's token and backoff
 *   feed_fetch.c    Kuaishou refund and order details
 *   feed_poll.c     Kuaishou's refund list, polled per shop
 *   feed_shops.c    each shop's calls: its token, its backoff
 *   feed_window.c   a poller's durable position per shop
 *   feed_dy.c       Douyin after-sale and order details
 *   feed_dy_poll.c  Douyin's after-sale list, polled per shop
 *   feed_ops.c      the audit route and the feed metrics
 *   feed_db.c       their SQL
 *
 * They reach intake's core through returns.h only. Both headers are included
 * by their path from here, so the unit tests (no -Iservices/intake) find them.
 */
#ifndef INTAKE_FEEDS_INTERNAL_H
#define INTAKE_FEEDS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "feeds.h"
#include "../returns.h"
#include "platform/dy_client.h"
#include "platform/ks_client.h"

/* ---- feed_map.c ------------------------------------------------------------------- */

/* A platform's after-sales record in neutral terms (one version of it). */
typedef struct intake_feed_record {
    char platform[16];           /* kuaishou | douyin */
    char platform_return_id[64]; /* refundId / aftersale_id, as text */
    char order_id[64];           /* oid / p_id */
    char line_id[64];            /* skuId / s_id: the order line */
    char shop_id[128];           /* the platform shop (Kuaishou: the open_id whose token saw it) */
    char kind[24];               /* refund_only | return_refund | exchange; "" unmapped */
    char reason_code[24];        /* the neutral reason (see the reason maps) */
    char reason_text[600];
    char status[32];      /* neutral status; "" for a pair the mapping does not know */
    char code[32];        /* the platform's own status, e.g. "21/1" */
    char tracking_no[64]; /* the buyer's return parcel, "" until shipped */
    int64_t quantity;     /* units; 0: the order line's (Kuaishou productNum 0, physical goods) */
    int64_t amount_fen, requested_at, deadline_at;
    int64_t version; /* updateTime (Douyin: the newest event time), ms */
} intake_feed_record_t;

/* Reason maps: "code:reason,code:reason" (reasons from intake's list). The
 * platforms' reason codes are not documented, so they are settings; a code
 * not in the map is "other" with the code kept in the reason text. 0, or -1
 * with a message naming the bad entry. */
int intake_feed_set_reason_map(const char *platform, const char *spec, char *err, size_t errlen);

/* A Kuaishou refund record (detail or list entry) / a Douyin push payload
 * into out. 0, or -1 with a reason naming the field. */
int intake_feed_from_kuaishou(json_t *rec, intake_feed_record_t *out, char *err, size_t errlen);
int intake_feed_from_douyin(json_t *data, intake_feed_record_t *out, char *err, size_t errlen);
json_t *intake_feed_record_json(const intake_feed_record_t *r);
int intake_feed_record_from_json(json_t *doc, intake_feed_record_t *out);

/* What intake already knows of a platform record. */
typedef struct intake_feed_known {
    bool exists;     /* a version was applied before */
    bool has_return; /* a return (not refused) exists for it */
    int64_t version;
    char status[32], kind[24], tracking_no[64];
    int64_t amount_fen;
} intake_feed_known_t;

typedef enum intake_feed_action {
    INTAKE_FEED_STALE,  /* not newer than what was applied: nothing changes */
    INTAKE_FEED_NOTE,   /* newer, nothing for the return: remember the version */
    INTAKE_FEED_CREATE, /* a new request: create the return (or wait for its order) */
    INTAKE_FEED_CANCEL, /* the buyer withdrew / the platform closed it: return.cancelled */
    INTAKE_FEED_UPDATE, /* status, amount, kind or parcel changed: return.updated */
} intake_feed_action_t;

/* intake_feed_decide: what a record does given what is known. Versions
 * order everything: a record not newer than the applied one is STALE. */
intake_feed_action_t intake_feed_decide(const intake_feed_known_t *k,
                                        const intake_feed_record_t *r);
const char *intake_feed_action_name(intake_feed_action_t a);

/* A Kuaishou order detail (open.order.detail's data: orderBaseInfo,
 * orderItemInfo, orderAddress) into o: one line, its line_id the skuId; the
 * strings point into doc and ids (at least 640 bytes), lines into the
 * caller's array. 0 or -1. */
int intake_feed_order_from_kuaishou(json_t *doc, intake_order_t *o, intake_order_line_t *lines,
                                    size_t max_lines, char *ids, size_t ids_cap, char *err,
                                    size_t errlen);

/* ---- feed_spool.c ----------------------------------------------------------------- */

/* The spool: a directory of append-only segment files of JSON lines, named
 * so that they sort in writing order. Written by the receiver (fsync'd before
 * any answer), read by the worker's drain from a checkpoint kept in the
 * database; a segment is deleted once drained and a newer one exists. */
typedef struct intake_spool intake_spool_t;

#define INTAKE_SPOOL_SEGMENT_BYTES (8 * 1024 * 1024)

intake_spool_t *intake_spool_open(const char *dir, char *err, size_t errlen);
/* Append one line (a '\n' is added); not durable until intake_spool_sync. */
int intake_spool_append(intake_spool_t *s, const char *line, size_t len);
/* fsync what was appended; starts a new segment when this one is full. */
int intake_spool_sync(intake_spool_t *s);
void intake_spool_close(intake_spool_t **s);
/* The segment names in dir, sorted (malloc'd array of malloc'd names). */
int intake_spool_list(const char *dir, char ***names, size_t *n);
void intake_spool_list_free(char **names, size_t n);

/* ---- feed_receiver.c -------------------------------------------------------------- */

/* Feed counters, written by both threads. */
typedef struct intake_feed_counters {
    atomic_llong received[2], heartbeats, refused[2], spool_errors; /* [0] kuaishou [1] douyin */
    atomic_llong recorded, deduped, processed, stale, created, updated, cancelled, pending;
    atomic_llong fetches, fetch_failures, rate_limited, poll_windows, poll_pages, poll_records;
    atomic_llong poll_lag_ms, orders_fetched;
    atomic_llong batches_durable; /* spool syncs: the worker drains when it moves */
} intake_feed_counters_t;

extern intake_feed_counters_t intake_feed_counters;

/* Start the receiver thread (listening before this returns). It shares no
 * handle with the worker's loop: each durable batch bumps
 * intake_feed_counters.batches_durable, which the worker watches. 0, or -1
 * with a message. */
int intake_feed_receiver_start(const intake_feed_settings_t *s, char *err, size_t errlen);
void intake_feed_receiver_stop(void);
int intake_feed_receiver_port(void);

/* ---- feed_apply.c ----------------------------------------------------------------- */

/* Apply one record version (own transaction). The action taken, or -1. */
int intake_feed_apply(rf_worker_t *w, const intake_feed_record_t *r);
/* The same inside the caller's transaction (the poller's pages); *needs_order
 * is set when the record waits for an order. */
int intake_feed_apply_in_tx(rf_worker_t *w, const intake_feed_record_t *r, bool *needs_order);
/* Set at start (feed_worker.c): a record applied in its own transaction
 * that waits for its order asks its platform for it at once through
 * fetch_order (feed_fetch.c's intake_feed_fetch_order). */
void intake_feed_fetch_orders_with(int (*fetch_order)(const char *platform, const char *shop_id,
                                                      const char *order_id));

/* An order fetched from its platform (source: the method), mapped (false:
 * err says why it could not be): its shares allocated, stored in its own
 * transaction, and the returns waiting on it released; an unusable one is
 * noted on its ask (asked again later). 0 or -1. */
int intake_feed_order_fetched(rf_worker_t *w, const char *platform, const char *source,
                              const char *order_id, intake_order_t *o, bool mapped,
                              const char *err);

/* ---- feed_drain.c ----------------------------------------------------------------- */

/* Drain the spool in dir into feed_pushes / feed_refused from the checkpoint
 * named spool_key. */
void intake_feed_drain(rf_db_t *db, const char *dir, const char *spool_key);

/* ---- feed_shops.c: each shop's calls, for both platforms ------------------------- */

/* One shop's calls: its backoff and its poll's position. */
typedef struct intake_feed_shop {
    char platform[16];
    char shop_id[128]; /* "": the fixed RF_KUAISHOU_ACCESS_TOKEN's shop */
    int64_t paused_until, backoff_ms;
    bool listing;               /* a list call is out */
    int64_t win_begin, win_end; /* the window being listed */
    char pcursor[128];
    int64_t page;         /* currentPage of the next list call */
    int64_t next_poll_at; /* ms: when to look at the checkpoint again */
} intake_feed_shop_t;

/* A shop's state, found or added (NULL: out of memory). Pointers last until
 * the next intake_feed_shop call: callbacks keep the shop id, not the pointer. */
intake_feed_shop_t *intake_feed_shop(const char *platform, const char *shop_id);
bool intake_feed_shop_paused(const intake_feed_shop_t *s);
/* A failure or a rate limit pauses this shop's calls for its backoff, then
 * doubles it (capped); a token-invalid answer renews the shop's token and
 * pauses a second. kind: "rate_limited", "token_invalid" or "failed". */
void intake_feed_shop_back_off(intake_feed_shop_t *s, const char *kind, const char *what,
                               const char *error);
void intake_feed_shop_succeeded(intake_feed_shop_t *s);
/* A poller's tick: poll(db, shop) for every active shop of the platform
 * (nothing while the database is away). */
void intake_feed_poll_active(rf_worker_t *w, const char *platform,
                             void (*poll)(rf_db_t *db, intake_feed_shop_t *s));
/* The access token of a call for the shop into out (the fixed one for a
 * Kuaishou shop never authorised, when set). 1, or 0 when there is none now. */
int intake_feed_shop_token(rf_worker_t *w, const intake_feed_shop_t *s, const char *fixed,
                           char *out, size_t cap);

/* ---- feed_window.c: a poller's position per shop ---------------------------------- */

typedef struct intake_poll_limits {
    int64_t start_ms;    /* the first window's beginning; 0: an hour before now */
    int64_t lag_ms;      /* a window ends this far behind now */
    int64_t interval_ms; /* once caught up, a window at least this long */
    int64_t window_ms;   /* the longest window the platform lists at once */
    int64_t reach_ms;    /* how far back the platform lists */
} intake_poll_limits_t;

/* intake_poll_window: the shop's checkpoint into s (win_begin, win_end,
 * pcursor), opening the next window when none is open. false when there is
 * nothing to list yet (or the database did not answer). */
bool intake_poll_window(rf_db_t *db, intake_feed_shop_t *s, const intake_poll_limits_t *lim);
/* intake_poll_advance: move the checkpoint past the page just listed (next:
 * the next page's cursor; "" or "nomore" ends the window), in the page's
 * transaction. 0, or -1 when the checkpoint moved meanwhile. */
int intake_poll_advance(rf_db_t *db, const intake_feed_shop_t *s, const char *next);

/* ---- feed_ks.c, feed_fetch.c, feed_poll.c: the Kuaishou API, per shop ---------- */

typedef struct intake_ks {
    rf_worker_t *w;
    const intake_feed_settings_t *s;
    bool enabled;
    rf_httpc_t *http;
    rf_ks_config_t cfg; /* the app's settings; each call adds its shop's token */
} intake_ks_t;

extern intake_ks_t intake_ks;

/* The Kuaishou API side (off when RF_KUAISHOU_API_URL is empty). */
int intake_ks_start(rf_worker_t *w, const intake_feed_settings_t *s, char *err, size_t errlen);
bool intake_ks_enabled(void);
/* A Kuaishou outcome as the shop's backoff sees it. */
void intake_ks_back_off(intake_feed_shop_t *s, rf_ks_outcome_t outcome, const char *what,
                        const char *error);
/* intake_ks_call: method with the shop's token. 0 (cb will be called) or -1
 * (paused, no token for the shop, or not sent). */
int intake_ks_call(intake_feed_shop_t *s, const char *method, json_t *param, rf_ks_done_fn cb,
                   void *arg);
/* An id as the platform's long integer when it is one, else as text. */
json_t *intake_ks_id_json(const char *id);
/* A record was fetched and applied at version: mark the pushes it answers
 * (no newer version named) processed with outcome. */
void intake_ks_pushes_answered(rf_worker_t *w, const char *platform, const char *biz_id,
                               int64_t version, const char *outcome);
/* Ask for a refund's detail / an order's detail with the shop's token; the
 * answer is applied when it comes. 0 when asked (or already being asked), -1
 * when it cannot be now. */
int intake_ks_fetch_refund(const char *shop_id, const char *refund_id);
int intake_ks_fetch_order(const char *shop_id, const char *order_id);
size_t intake_ks_inflight(void);
void intake_ks_poll_start(rf_worker_t *w);

/* ---- feed_dy.c, feed_dy_poll.c: the Douyin API, per shop ------------------------ */

typedef struct intake_dy {
    rf_worker_t *w;
    const intake_feed_settings_t *s;
    bool enabled;
    rf_httpc_t *http;
    rf_dy_config_t cfg; /* the app's settings; each call adds its shop's token */
} intake_dy_t;

extern intake_dy_t intake_dy;

/* The Douyin API side (off when RF_DOUYIN_API_URL is empty). */
int intake_dy_start(rf_worker_t *w, const intake_feed_settings_t *s, char *err, size_t errlen);
bool intake_dy_enabled(void);
void intake_dy_back_off(intake_feed_shop_t *s, rf_dy_outcome_t outcome, const char *what,
                        const char *error);
/* intake_dy_call: method with the shop's token. 0 (cb will be called) or -1. */
int intake_dy_call(intake_feed_shop_t *s, const char *method, json_t *param, rf_dy_done_fn cb,
                   void *arg);
/* Ask for an after-sale's detail / an order with the shop's token. 0 or -1. */
int intake_dy_fetch_aftersale(const char *shop_id, const char *aftersale_id);
int intake_dy_fetch_order(const char *shop_id, const char *order_id);
void intake_dy_poll_start(rf_worker_t *w);

/* feed_fetch.c: an order a return waits for, asked of its platform with its
 * shop's token (0 asked, -1 not now), and the timer that asks again those
 * still missing, for every platform whose API is on. */
int intake_feed_fetch_order(const char *platform, const char *shop_id, const char *order_id);
void intake_feed_asks_start(rf_worker_t *w);

/* ---- feed_db.c -------------------------------------------------------------------- */

int intake_feed_db_known(rf_db_t *db, const char *platform, const char *prid,
                         intake_feed_known_t *k); /* 0 or -1 */
int intake_feed_db_store(rf_db_t *db, const intake_feed_record_t *r, const char *state,
                         const char *note);
int intake_feed_db_ask_order(rf_db_t *db, const char *platform, const char *shop_id,
                             const char *order_id);
/* The pending records of an order (JSON array of neutral records), NULL on error. */
json_t *intake_feed_db_pending(rf_db_t *db, const char *platform, const char *order_id);

#endif
