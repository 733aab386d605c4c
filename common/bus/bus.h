/*
 * bus/bus.h: durable event delivery between workers over ZeroMQ.
 *
 * The folder common/bus/ is layer 2: it may use runtime/ (log, ids, config),
 * db/ (connection, migrations, arrays) and proto/ (the events' codec), never
 * http/, worker/ or platform/. Its parts, one job each: outbox.c (write and
 * poll), dispatch.c (send, ACK timeouts), sockets.c (links, the ROUTER),
 * inbox.c (apply, dedup), poison.c, dead_letter.c, replica.c, curve.c, zap.c,
 * migrations.c (the delivery tables); what they share is in bus_internal.h,
 * which nothing outside the folder reads.
 *
 * PostgreSQL makes events durable; ZeroMQ only moves them. The rules
 * (DESIGN.md section 4) and how this module keeps them:
 *
 *  - Transactional outbox. A producer calls rf_bus_emit() inside its own
 *    transaction: the event is encoded and written to its schema's `outbox`
 *    table, one row per consuming worker. Nothing is sent before COMMIT:
 *    rf_bus_tx_commit() commits, then hands the new rows to the dispatcher.
 *  - Inbox dedup, ack after commit. A consumer applies a batch of received
 *    events in one transaction, recording each event id in its `inbox` table
 *    in that same transaction, and answers ACK only after COMMIT. An event
 *    already in the inbox is acknowledged again and has no second effect.
 *  - Resend with backoff. The producer keeps every unacknowledged event in its
 *    outbox and resends it after an ack timeout (a consumer that keeps not
 *    answering is tried less and less often, up to every 30 s), after a
 *    backoff when the consumer answered RETRY (its apply failed), or DEFER
 *    (a prerequisite, such as the approval of that return, has not reached it
 *    yet; or another transaction held rows the apply needed for longer than
 *    the connection's lock wait, db/db.h, which is no fault of the event). After `retry_max`
 *    RETRYs, one REJECT (undecodable body, a permanent refusal), or deferrals
 *    for longer than `defer_limit_s`, the event moves to the `dead_letter`
 *    table, from where an operator replays or discards it.
 *  - Poison that kills. A consumer records the events it starts applying
 *    (`inbox_started`, removed by the transaction that applies them); an
 *    event that `retry_max` consumer processes died while applying is
 *    answered REJECT without being applied (see bus/poison.c). Ack timeouts alone
 *    (a stopped or restarting consumer) never dead-letter anything.
 *  - Per-return order. Toward each consumer at most one event per return is
 *    in flight; the next one for that return is sent after the ACK. Different
 *    returns proceed in parallel (up to `window` in flight per consumer).
 *    A newer event whose only predecessors are the one in flight and events
 *    already queued behind it is queued in memory and sent on that ACK; any
 *    other answer (or a timeout) drops the queue and the poll takes over.
 *  - Batching. A consumer records a batch's ids in the inbox with one INSERT;
 *    a transaction's events reach the outbox in one INSERT before COMMIT.
 *  - Catch-up. The outbox is polled by state (what is pending and due), never
 *    by "id greater than the last seen", so late commits are never skipped and
 *    a consumer that was down receives everything once it is back.
 *  - No dropping sockets. Events travel DEALER -> ROUTER (a DEALER blocks at
 *    the high-water mark instead of dropping; we send non-blocking and leave
 *    the row pending). ZMQ_FD is edge-triggered: every socket is drained until
 *    EAGAIN on each readable notice and before each loop iteration blocks.
 *  - Encrypted links (optional). With CURVE keys configured every link is
 *    encrypted and both ends authenticated; only listed keys may connect.
 *  - Replicas (optional). A worker may run as several replicas sharing its
 *    schema. Consumer side: each replica binds its own endpoint; a producer
 *    routes each return to one live replica (rendezvous hashing of the
 *    return id over the replicas that answer), and with one event per return
 *    in flight a return is never in two replicas at once; a replica that
 *    stops answering (send refused, or ack timeouts) leaves the rotation and
 *    its returns move to the others (the shared inbox makes a resend
 *    harmless). Producer side: each outbox row carries the `owner` replica
 *    that wrote it and only the owner sends it; a replica renews its lease
 *    (table replica_lease) every second, and a live replica takes over the
 *    rows of one whose lease is older than replica_lease_s. Whoever sends,
 *    only the oldest row of each return (all owners considered) may be sent,
 *    so per-return order holds across replicas too.
 *
 * Wire frames (all but the body are text):
 *   producer -> consumer: "EV" | event_id | return_id | msgpack body
 *   consumer -> producer: "ACK" | "RETRY" | "DEFER" | "REJECT" | event_id | return_id | reason
 */
#ifndef RF_BUS_H
#define RF_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "db/db.h"
#include "proto/proto.h"

typedef struct rf_bus rf_bus_t;

/* What a consumer's apply function says about one event. */
typedef enum rf_apply_result {
    RF_APPLY_OK = 0,     /* effects written; acknowledge after commit */
    RF_APPLY_DEFER = 1,  /* not applicable yet (a prerequisite is missing); wrote nothing */
    RF_APPLY_REJECT = 2, /* never applicable (a poison event); wrote nothing */
    RF_APPLY_ERROR = -1, /* a database error: the batch is rolled back and retried */
} rf_apply_result_t;

/* rf_bus_apply_fn: apply one new event inside the consumer's transaction.
 * Writes only through the worker's db and emits through rf_bus_emit(). On
 * DEFER or REJECT it writes nothing and puts a one-line reason in why. */
typedef rf_apply_result_t (*rf_bus_apply_fn)(void *arg, const rf_event_t *ev, char *why,
                                             size_t whylen);

typedef struct rf_bus_config {
    const char *self_name;                       /* "intake", ... */
    unsigned self_bit;                           /* RF_W_INTAKE, ... */
    const char *bind_endpoint;                   /* where this worker's ROUTER binds */
    const char *peer_endpoints[RF_WORKER_COUNT]; /* by bit index: where each worker listens */
    int64_t ack_timeout_ms;                      /* resend an unanswered event after this */
    int64_t retry_max;                           /* answered failures before dead-lettering */
    int64_t defer_limit_s;                       /* how long an event may be deferred */
    int64_t batch_max;                           /* events applied per consumer transaction */
    int64_t poll_ms;                             /* outbox poll interval when idle */
    int64_t window;                              /* events in flight per consumer */
    /* Encryption (NULL or "" for both: plain links). With both set every link
     * is CURVE: the ROUTER is a CURVE server admitting only clients whose key
     * is in the public key list (a ZAP handler on inproc://zeromq.zap.01 in
     * this bus's loop, logging every refusal with the key), and each DEALER
     * is a CURVE client that authenticates its server by the key listed under
     * the consumer's worker name (bus/curve.h). */
    const char *curve_secret_key_file;  /* this worker's secret key */
    const char *curve_public_keys_file; /* `<name> <key>` of everyone allowed */
    /* Replicas. peer_endpoints[i] may list several comma-separated endpoints,
     * one per replica of worker i; bind_endpoint is this replica's own. */
    unsigned replica_id;     /* this process among its worker's replicas */
    bool replicated;         /* this worker may run several replicas */
    int64_t replica_lease_s; /* a replica silent this long is taken over */
} rf_bus_config_t;

/* Most replicas of one worker (endpoints in one RF_<W>_BUS list). */
#define RF_BUS_MAX_REPLICAS 16

/* rf_bus_endpoint_at: copy the idx-th (from 0) comma-separated endpoint of
 * list into out. Returns the number of endpoints in the list, or -1 when idx
 * is past the end or an endpoint does not fit in cap. */
int rf_bus_endpoint_at(const char *list, unsigned idx, char *out, size_t cap);

/* rf_bus_new: bind, connect to the consumers of what this worker produces,
 * and start dispatching. The db must be connected and migrated with
 * rf_bus_migrations. apply may be NULL for a worker that consumes nothing.
 * Returns NULL with a message in err on failure. */
rf_bus_t *rf_bus_new(uv_loop_t *loop, rf_db_t *db, const rf_bus_config_t *cfg,
                     rf_bus_apply_fn apply, void *apply_arg, char *err, size_t errlen);

/* Batch hooks: a consumer whose apply function only buffers rows (to write
 * many of them in one statement) flushes them here.
 *   flush:     called once per applied batch, inside its transaction, after
 *              apply has seen every event and before the commit. Returns 0,
 *              or -1 on a database error (the batch is rolled back, then
 *              retried one event per transaction). It may refuse an event it
 *              applied with rf_bus_defer_applied(), if that event wrote
 *              nothing else.
 *   discard:   called before each batch: forget whatever is buffered (what a
 *              rolled-back batch left).
 *   own_dedup: the consumer's own rows are its record of what it applied
 *              (intake: one timeline row per event, unique by event id), so
 *              the bus writes no inbox row: every event is applied unless an
 *              earlier copy is in the same batch, and the flush tells the
 *              copies its table already held with rf_bus_duplicate_applied().
 *              The rule is unchanged (an event has its effect once); the
 *              consumer's unique key keeps it instead of the inbox's. */
typedef struct rf_bus_batch_hooks {
    int (*flush)(void *arg, rf_bus_t *bus);
    void (*discard)(void *arg);
    void *arg;
    bool own_dedup;
} rf_bus_batch_hooks_t;

void rf_bus_set_batch_hooks(rf_bus_t *bus, const rf_bus_batch_hooks_t *hooks);

/* rf_bus_defer_applied: from a flush hook, answer DEFER (with why) to the
 * event event_id of the batch being applied, which apply had accepted: its
 * inbox row goes, and it comes again later. 0, or -1 on a database error or
 * when event_id is not an accepted event of this batch. */
int rf_bus_defer_applied(rf_bus_t *bus, const char *event_id, const char *why);

/* rf_bus_duplicate_applied: from a flush hook of an own_dedup consumer, the
 * event event_id of the batch, which apply had accepted, was applied before
 * (the consumer's table already holds it): it is answered ACK as a duplicate
 * and counted as one. 0, or -1 when event_id is not an accepted event of this
 * batch. */
int rf_bus_duplicate_applied(rf_bus_t *bus, const char *event_id);

/* rf_bus_destroy: close sockets and handles (run the loop afterwards so the
 * close callbacks free memory); sets *bus_p to NULL. */
void rf_bus_destroy(rf_bus_t **bus_p);

/* The tables every worker's schema has for delivery (outbox, inbox,
 * dead_letter); apply them before the worker's own migrations. */
extern const rf_migration_t rf_bus_migrations[];
extern const size_t rf_bus_migrations_count;

/* --- Producing, inside a transaction --------------------------------------- */

/* rf_bus_tx_begin: BEGIN on the worker's db. 0 or -1. */
int rf_bus_tx_begin(rf_bus_t *bus);
/* rf_bus_tx_commit: COMMIT, then dispatch what was emitted. 0 or -1 (then
 * the transaction is rolled back and nothing emitted is sent). */
int rf_bus_tx_commit(rf_bus_t *bus);
/* rf_bus_tx_rollback: ROLLBACK and forget what was emitted. */
void rf_bus_tx_rollback(rf_bus_t *bus);
/* Inside a group of requests sharing one transaction (rf_db_group_enter in
 * db/db.h), commit and rollback act on the request alone, and what it
 * emitted is sent after rf_bus_group_commit: COMMIT the group, then dispatch.
 * 0, or -1 (nothing of the group committed, nothing sent). */
int rf_bus_group_commit(rf_bus_t *bus);

/* rf_bus_event_init: start an event of `type` about return_id: fresh event
 * id, producer, version and time filled in. causation_id may be NULL. The
 * caller fills the body (rf_event_set_str for strings) and passes it to
 * rf_bus_emit, then rf_event_clear()s it. 0 or -1. */
int rf_bus_event_init(rf_bus_t *bus, rf_event_t *ev, rf_event_type_t type, const char *return_id,
                      const char *causation_id);

/* rf_bus_emit: write ev to the outbox for each of its consumers (inside the
 * caller's transaction). 0 or -1 (db error: the caller rolls back). */
int rf_bus_emit(rf_bus_t *bus, const rf_event_t *ev);

/* --- Operations -------------------------------------------------------------- */

typedef struct rf_bus_peer_stats {
    const char *name;      /* consumer worker */
    int64_t pending;       /* outbox rows toward it (unacknowledged) */
    int64_t in_flight;     /* sent, awaiting an answer */
    int64_t oldest_age_ms; /* age of the oldest pending row, 0 if none */
    int64_t sent, acked, retried, deferred, rejected, timeouts; /* since start */
} rf_bus_peer_stats_t;

typedef struct rf_bus_stats {
    rf_bus_peer_stats_t peers[RF_WORKER_COUNT]; /* by bit index; name NULL if not a consumer */
    int64_t inbox_applied;                      /* events applied since start */
    int64_t inbox_duplicates;                   /* redelivered events acknowledged again */
    int64_t inbox_deferred, inbox_rejected, inbox_failed;
    int64_t dead_letters;  /* rows in dead_letter now */
    int64_t peers_refused; /* CURVE clients refused (key not listed) since start */
} rf_bus_stats_t;

/* rf_bus_track_backlog: from now on, count the outbox's rows each second
 * (and now). Only a worker that reads rf_bus_backlog pays for the count. */
void rf_bus_track_backlog(rf_bus_t *bus);

/* rf_bus_backlog: events this worker produced that a consumer has not yet
 * acknowledged (its outbox rows): counted each second once tracked, raised
 * by every commit and lowered by every acknowledgement in between. A
 * producer that takes work from outside uses it to say "busy" rather than
 * queue without bound when the pipeline is behind. */
int64_t rf_bus_backlog(const rf_bus_t *bus);

/* rf_bus_stats: counters, plus outbox and dead-letter figures read from the
 * db (one query). 0 or -1 when the db is unreachable (counters still set). */
int rf_bus_stats(rf_bus_t *bus, rf_bus_stats_t *out);

/* rf_bus_dead_letter_replay: move dead letter `id` back to the outbox with
 * its attempts reset. Returns 1 if moved, 0 if no such id, -1 on db error. */
int rf_bus_dead_letter_replay(rf_bus_t *bus, int64_t id);
/* rf_bus_dead_letter_discard: delete dead letter `id` (recorded in the log).
 * Returns 1, 0 or -1 like replay. */
int rf_bus_dead_letter_discard(rf_bus_t *bus, int64_t id, const char *who);

/* rf_bus_db: the db the bus works on (borrowed). */
rf_db_t *rf_bus_db(rf_bus_t *bus);

#endif
