/*
 * bus/bus_internal.h: what the parts of the bus share: its private structs
 * and the internal functions one part calls in another (named rf__bus_*).
 * Included only by files in common/bus/; callers see bus/bus.h alone.
 *
 * Shape of the module:
 *   - one ROUTER socket bound for events this worker consumes (consumer side);
 *   - one DEALER per replica of each other worker for events it produces
 *     (producer side; a "link"), each return routed to one live replica;
 *   - with CURVE keys, a ZAP handler (REP on inproc://zeromq.zap.01) that
 *     admits only listed client keys to the ROUTER;
 *   - a uv_poll per socket on ZMQ_FD, plus a uv_prepare that drains every
 *     socket before the loop blocks (ZMQ_FD is edge-triggered) and a uv_idle
 *     that keeps the loop spinning while a drain stopped at its budget;
 *   - a uv_timer tick: ack timeouts, deleting acknowledged outbox rows in
 *     batches, polling the outbox for what is due, and (replicated) renewing
 *     this replica's lease and taking over the rows of dead replicas.
 *
 * The parts, one job each (their functions' contracts are above their
 * definitions):
 *   sockets.c      the sockets in the loop: construction, draining, the tick,
 *                  closing, the figures for operations
 *   zap.c          CURVE keys and the ZAP handler
 *   outbox.c       producer: emitting inside a transaction, the outbox rows,
 *                  acknowledged rows deleted, the poll, resend with backoff
 *   dispatch.c     producer: events in flight, chains, answers, ack timeouts
 *   replica.c      replicas: endpoint lists, routing, leases and takeover
 *   dead_letter.c  dead letters: moved there, replayed, discarded
 *   inbox.c        consumer: batches applied with inbox dedup, answers
 *   poison.c       consumer: poison that kills (inbox_batches, inbox_started)
 *   migrations.c   the tables
 */
#ifndef RF_BUS_INTERNAL_H
#define RF_BUS_INTERNAL_H

#include "bus/bus.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>
#include <zmq.h>

#include "bus/curve.h"
#include "db/pgarray.h"
#include "runtime/ids.h"

#define TICK_MS 20
#define MAX_FRAME_ID 128
#define DUE_SLOTS 32 /* backed-off due times remembered per consumer */
#define ZAP_DOMAIN "returnflow"

/* An event sent to a consumer and not yet answered; one per return at most. */
typedef struct inflight {
    char return_id[MAX_FRAME_ID]; /* hash key */
    char event_id[MAX_FRAME_ID];  /* the event in flight for that return */
    int64_t sent_at;              /* rf_mono_ms() */
    int link;                     /* the replica it went to */
    UT_hash_handle hh;
} inflight_t;

/* Events of one return emitted in one transaction after the one now in
 * flight toward a consumer: sent one by one as each is acknowledged, without
 * waiting for a poll. Memory only (the outbox rows stay the truth): dropped
 * when anything but an ACK happens to the return, and the poll takes over. */
typedef struct chained {
    char event_id[MAX_FRAME_ID];
    uint8_t *payload;
    size_t len;
    struct chained *next;
} chained_t;

typedef struct chain {
    char return_id[MAX_FRAME_ID]; /* hash key */
    chained_t *head, *tail;
    int64_t n; /* events in it */
    UT_hash_handle hh;
} chain_t;

/* The link to one replica of a consuming worker. */
typedef struct link {
    struct peer *peer;
    char endpoint[256]; /* where that replica's ROUTER listens */
    void *sock;         /* DEALER connected to it */
    uv_poll_t poll;     /* readable notices on ZMQ_FD */
    bool poll_started;
    int64_t timeout_streak; /* ack timeouts since the last answer: it may be stalled */
    int64_t streak_at;      /* rf_mono_ms() of the streak's last step */
    int64_t stalled_until;  /* rf_mono_ms(): send nothing before this (backoff) */
    int64_t down_until;     /* rf_mono_ms(): it refused a send (no connection); skip it */
    bool reported_down;     /* its unreachability was logged (once until it answers) */
    void *monitor;          /* PAIR: the DEALER's completed handshakes (a consumer that
                               (re)started), read each tick */
} link_t;

/* The producer side toward one consuming worker (one link per replica). */
typedef struct peer {
    rf_bus_t *bus;
    unsigned bit;     /* RF_W_* of the consumer */
    const char *name; /* its worker name */
    void *sock;       /* links[0].sock: non-NULL when this worker is a consumer */
    link_t links[RF_BUS_MAX_REPLICAS];
    int n_links;
    inflight_t *inflight; /* by return id, whatever the link */
    int64_t n_inflight;
    chain_t *chains;        /* by return id: what follows its event in flight */
    bool needs_poll;        /* something is pending that the fast path did not send */
    int64_t due[DUE_SLOTS]; /* rf_mono_ms() when rows this worker backed off (retry or
                               deferral) come due, ascending; a full list drops the
                               latest, which the periodic poll finds, up to poll_ms late */
    int n_due;
    int64_t sent, acked, retried, deferred, rejected, timeouts;
} peer_t;

/* An event emitted in the open transaction toward one consumer: written to
 * the outbox (all of the transaction's in one INSERT) just before COMMIT,
 * sent after it. */
typedef struct emitted {
    unsigned bit;
    const char *type; /* static event type name */
    bool held;        /* an older row of that return toward that consumer exists:
                              only the poll (which sends heads) may send this one */
    int64_t ahead;    /* unacknowledged rows of that return toward that consumer
                              before it (-1: unknown); it may follow them in memory
                              when they are exactly the event in flight and its chain */
    char event_id[MAX_FRAME_ID];
    char return_id[MAX_FRAME_ID];
    uint8_t *payload;
    size_t len;
} emitted_t;

/* An acknowledged outbox row waiting for its DELETE. */
typedef struct acked_row {
    char event_id[MAX_FRAME_ID];
    unsigned bit;
} acked_row_t;

/* How many acknowledged rows of one (consumer, return) wait for their
 * DELETE: such rows do not hold back a newer event of that return. */
typedef struct acked_count {
    char key[MAX_FRAME_ID + 2]; /* consumer bit index digit, then the return id */
    int64_t n;
    UT_hash_handle hh;
} acked_count_t;

/* One event received on the ROUTER. */
typedef struct inmsg {
    uint8_t identity[256];
    size_t identity_len;
    char event_id[MAX_FRAME_ID];
    char return_id[MAX_FRAME_ID];
    uint8_t *body;
    size_t body_len;
    /* outcome */
    const char *reply; /* "ACK", "RETRY", "DEFER", "REJECT" or NULL (no answer) */
    char reason[200];
    int64_t crashes; /* earlier processes that died while applying it */
} inmsg_t;

struct rf_bus {
    uv_loop_t *loop;
    rf_db_t *db;
    rf_bus_config_t cfg;
    char self_name[32];
    void *zctx;
    void *router;
    uv_poll_t router_poll;
    bool router_poll_started;
    peer_t peers[RF_WORKER_COUNT];
    /* CURVE (curve_on): our keys, who may connect, and the ZAP handler */
    bool curve_on;
    char curve_secret[RF_CURVE_KEY_Z85 + 1], curve_public[RF_CURVE_KEY_Z85 + 1];
    rf_curve_keyring_t *keyring;
    void *zap;
    uv_poll_t zap_poll;
    bool zap_poll_started;
    int64_t curve_refused;
    /* replicas */
    int64_t last_heartbeat_ms;
    /* the outbox is a queue: rows deleted since its last VACUUM, and when */
    int64_t outbox_dead, last_vacuum_ms;
    rf_bus_apply_fn apply;
    void *apply_arg;
    rf_bus_batch_hooks_t hooks;
    inmsg_t *applying; /* the batch inside apply_batch (for rf_bus_defer_applied) */
    size_t n_applying;
    char instance[RF_ULID_LEN + 1]; /* this process, in inbox_batches */
    int64_t started_batch;          /* its current row there */
    size_t started_left;            /* events still in that row */
    bool others_started;            /* rows of other processes are there */
    bool backlog_tracked;           /* rf_bus_track_backlog: count the outbox each second */
    int64_t backlog;                /* outbox rows (counted each second, kept between) */
    uv_prepare_t prepare;
    uv_idle_t idle;
    uv_timer_t timer;
    int closing_handles;
    /* open transaction (or group of them: see rf_db_group_enter) */
    emitted_t *emitted;
    size_t n_emitted, cap_emitted;
    size_t emit_mark; /* where the current request's events start */
    /* acknowledged rows to delete */
    acked_row_t *acks;
    size_t n_acks, cap_acks;
    acked_count_t *acked_by_return; /* the same rows, counted per (consumer, return) */
    int64_t last_poll_ms;
    inmsg_t *batch;           /* batch_max slots */
    rf_event_t *batch_events; /* the batch decoded (batch_max slots) */
    bool *batch_decoded, *batch_fresh;
    rf_pgarray_t cols[5]; /* array parameters, reused by each multi-row statement */
    /* counters */
    int64_t inbox_applied, inbox_duplicates, inbox_deferred, inbox_rejected, inbox_failed;
    int64_t blocked_until; /* rf_mono_ms(): a batch waited out another transaction's
                              lock; no batch is taken before then (0: none) */
};

/* ---- sockets.c ------------------------------------------------------------ */

unsigned rf__bus_bit_index(unsigned bit);
void rf__bus_copy_frame_text(char *dst, size_t cap, const zmq_msg_t *m);
int rf__bus_send_frames(void *sock, const void *const *data, const size_t *lens, int n);

/* ---- zap.c ---------------------------------------------------------------- */

int rf__bus_curve_setup(rf_bus_t *bus, const rf_bus_config_t *cfg, char *err, size_t errlen);
bool rf__bus_drain_zap(rf_bus_t *bus);

/* ---- outbox.c ------------------------------------------------------------- */

void rf__bus_ack_row(peer_t *peer, const char *event_id, const char *return_id, bool was_in_flight);
void rf__bus_acked_counts_clear(rf_bus_t *bus);
void rf__bus_flush_acks(rf_bus_t *bus);
void rf__bus_discard_emitted(rf_bus_t *bus);
void rf__bus_poll_peer(peer_t *peer);
bool rf__bus_came_due(peer_t *peer, int64_t now);
void rf__bus_record_failure(peer_t *peer, const char *event_id, const char *reason, bool permanent);
void rf__bus_record_deferral(peer_t *peer, const char *event_id, const char *reason);
void rf__bus_vacuum_outbox(rf_bus_t *bus, int64_t now);
void rf__bus_count_backlog(rf_bus_t *bus);

/* ---- dispatch.c ----------------------------------------------------------- */

void rf__bus_dispatch(peer_t *peer, const char *event_id, const char *return_id,
                      const uint8_t *payload, size_t len);
void rf__bus_forget_inflight(peer_t *peer);
bool rf__bus_chain_follows(peer_t *peer, const char *return_id, int64_t ahead);
bool rf__bus_chain_append(peer_t *peer, const char *event_id, const char *return_id,
                          const uint8_t *payload, size_t len);
bool rf__bus_drain_link(link_t *link);
void rf__bus_ack_timeouts(rf_bus_t *bus, int64_t now);
void rf__bus_link_handshakes(link_t *link, int64_t now);

/* ---- replica.c ------------------------------------------------------------ */

int rf__bus_pick_link(const peer_t *peer, const char *return_id, int64_t now);
bool rf__bus_any_link_usable(const peer_t *peer, int64_t now);
void rf__bus_replica_heartbeat(rf_bus_t *bus);

/* ---- dead_letter.c -------------------------------------------------------- */

void rf__bus_dead_letter(peer_t *peer, const char *event_id, const char *reason, int64_t attempts);

/* ---- inbox.c -------------------------------------------------------------- */

bool rf__bus_drain_router(rf_bus_t *bus);

/* ---- poison.c ------------------------------------------------------------- */

int rf__bus_started_record(rf_bus_t *bus, inmsg_t *msgs, size_t n);
void rf__bus_started_check_others(rf_bus_t *bus);
int rf__bus_started_forget(rf_bus_t *bus, const inmsg_t *msgs, size_t n);
void rf__bus_started_forgotten(rf_bus_t *bus, size_t n);
int rf__bus_started_again(rf_bus_t *bus, const inmsg_t *m);
void rf__bus_started_done(rf_bus_t *bus);
size_t rf__bus_started_partition(rf_bus_t *bus, inmsg_t *msgs, size_t n);

#endif
