/*
 * bus.c: durable event delivery over ZeroMQ (see bus/bus.h for the rules).
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
 */
#include "bus/bus_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"

#define RECV_BUDGET 4096       /* replies drained per socket per pass */
#define LINK_DOWN_MS 1000      /* a replica that refused a send is skipped this long */
#define HEARTBEAT_MS 1000      /* replica lease renewal and takeover check */
#define VACUUM_AFTER_ROWS 5000 /* outbox rows deleted between two VACUUMs */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

const rf_migration_t rf_bus_migrations[] = {
    {.name = "000_bus",
     .sql = "CREATE TABLE IF NOT EXISTS outbox (\n"
            "  seq bigserial NOT NULL,\n"
            "  event_id text NOT NULL,\n"
            "  dest text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  payload bytea NOT NULL,\n"
            "  attempts integer NOT NULL DEFAULT 0,\n"
            "  deferrals integer NOT NULL DEFAULT 0,\n"
            "  next_attempt_at timestamptz NOT NULL DEFAULT now(),\n"
            "  last_error text,\n"
            "  created_at timestamptz NOT NULL DEFAULT now(),\n"
            "  PRIMARY KEY (event_id, dest));\n"
            "CREATE INDEX IF NOT EXISTS outbox_dest_return ON outbox (dest, return_id, seq);\n"
            "CREATE TABLE IF NOT EXISTS inbox (\n"
            "  event_id text PRIMARY KEY,\n"
            "  producer text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  applied_at timestamptz NOT NULL DEFAULT now());\n"
            "CREATE TABLE IF NOT EXISTS dead_letter (\n"
            "  id bigserial PRIMARY KEY,\n"
            "  event_id text NOT NULL,\n"
            "  dest text NOT NULL,\n"
            "  return_id text NOT NULL,\n"
            "  type text NOT NULL,\n"
            "  payload bytea NOT NULL,\n"
            "  attempts integer NOT NULL,\n"
            "  reason text NOT NULL,\n"
            "  created_at timestamptz NOT NULL,\n"
            "  failed_at timestamptz NOT NULL DEFAULT now());\n"},
    /* Replicas: who sends each row, and who is alive (bus/bus.h). */
    {.name = "000_bus_replicas",
     .sql = "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS owner integer NOT NULL DEFAULT 0;\n"
            "CREATE TABLE IF NOT EXISTS replica_lease (\n"
            "  replica_id integer PRIMARY KEY,\n"
            "  pid integer NOT NULL,\n"
            "  heartbeat_at timestamptz NOT NULL DEFAULT now());\n"},
    /* Events being applied, and by which process: what a consumer that died
     * mid-apply finds on its next start (see "consumer: poison that kills"). */
    {.name = "000_bus_inbox_started",
     .sql = "CREATE TABLE IF NOT EXISTS inbox_started (\n"
            "  event_id text PRIMARY KEY,\n"
            "  instance text NOT NULL,\n"
            "  crashes integer NOT NULL DEFAULT 0,\n"
            "  started_at timestamptz NOT NULL DEFAULT now());\n"},
    /* The same, one row per batch being applied (inbox_started keeps only
     * the crash counts). */
    {.name = "000_bus_inbox_batches",
     .sql = "CREATE TABLE IF NOT EXISTS inbox_batches (\n"
            "  instance text NOT NULL,\n"
            "  batch bigint NOT NULL,\n"
            "  event_ids text[] NOT NULL,\n"
            "  started_at timestamptz NOT NULL DEFAULT now(),\n"
            "  PRIMARY KEY (instance, batch));\n"},
    /* The poll reads due heads in seq order and stops at its limit. */
    {.name = "000_bus_outbox_dest_seq",
     .sql = "CREATE INDEX IF NOT EXISTS outbox_dest_seq ON outbox (dest, seq);\n"},
};
const size_t rf_bus_migrations_count = sizeof rf_bus_migrations / sizeof rf_bus_migrations[0];

/* ---- small helpers ---------------------------------------------------------- */

unsigned rf__bus_bit_index(unsigned bit) {
    unsigned i = 0;
    while (i < RF_WORKER_COUNT && (1u << i) != bit) i++;
    return i;
}

void rf__bus_copy_frame_text(char *dst, size_t cap, const zmq_msg_t *m) {
    size_t n = zmq_msg_size((zmq_msg_t *)m);
    if (n >= cap) n = cap - 1;
    memcpy(dst, zmq_msg_data((zmq_msg_t *)m), n);
    dst[n] = '\0';
}

/* Send frames as one multipart message without blocking. 0, or -1 (errno). */
int rf__bus_send_frames(void *sock, const void *const *data, const size_t *lens, int n) {
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i < n - 1 ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, data[i], lens[i], flags) < 0) return -1;
    }
    return 0;
}

/* Backoff after the n-th answered failure: 200 ms doubling, capped at 30 s. */
static double backoff_seconds(int64_t attempts) {
    double s = 0.2;
    for (int64_t i = 1; i < attempts && s < 30.0; i++) s *= 2;
    return s > 30.0 ? 30.0 : s;
}

/* ---- producer: dispatch ------------------------------------------------------ */

/* Rendezvous weight of (return, replica): FNV-1a of the return id mixed with
 * the replica index, then a splitmix64 finaliser. The highest weight among
 * the usable replicas wins, so a replica leaving moves only its own returns. */
static uint64_t link_weight(const char *return_id, int link) {
    uint64_t h = 1469598103934665603ull;
    for (const char *c = return_id; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 1099511628211ull;
    }
    h ^= (uint64_t)(link + 1) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static bool link_usable(const link_t *l, int64_t now) {
    return now >= l->stalled_until && now >= l->down_until;
}

/* The replica a return goes to now, or -1 when none may be sent to. */
int rf__bus_pick_link(const peer_t *peer, const char *return_id, int64_t now) {
    if (peer->n_links == 1) return link_usable(&peer->links[0], now) ? 0 : -1;
    int best = -1;
    uint64_t best_w = 0;
    for (int i = 0; i < peer->n_links; i++) {
        if (!link_usable(&peer->links[i], now)) continue;
        uint64_t w = link_weight(return_id, i);
        if (best < 0 || w > best_w) {
            best = i;
            best_w = w;
        }
    }
    return best;
}

bool rf__bus_any_link_usable(const peer_t *peer, int64_t now) {
    for (int i = 0; i < peer->n_links; i++)
        if (link_usable(&peer->links[i], now)) return true;
    return false;
}

/* Try to send one outbox row now. Holds it (for the next poll) when an event
 * of the same return is in flight, the window is full or no replica of the
 * peer is reachable. */
void rf__bus_dispatch(peer_t *peer, const char *event_id, const char *return_id,
                      const uint8_t *payload, size_t len) {
    inflight_t *f = NULL;
    HASH_FIND_STR(peer->inflight, return_id, f);
    if (f && strcmp(f->event_id, event_id) == 0) return; /* this very event is in flight */
    if (f || peer->n_inflight >= peer->bus->cfg.window) {
        peer->needs_poll = true; /* held: sent by a poll once the way is clear */
        return;
    }
    int64_t now = rf_mono_ms();
    int li;
    for (;;) {
        li = rf__bus_pick_link(peer, return_id, now);
        if (li < 0) {
            peer->needs_poll = true; /* held until a replica may be tried again */
            return;
        }
        link_t *l = &peer->links[li];
        const void *data[] = {"EV", event_id, return_id, payload};
        size_t lens[] = {2, strlen(event_id), strlen(return_id), len};
        if (rf__bus_send_frames(l->sock, data, lens, 4) == 0) break;
        if (errno != EAGAIN)
            rf_warn("event=bus_send_failed dest=%s event_id=%s return_id=%s error=\"%s\"",
                    peer->name, event_id, return_id, zmq_strerror(errno));
        if (peer->n_links == 1) return; /* stays pending; the periodic poll retries */
        /* No connection to that replica (ZMQ_IMMEDIATE): take it out of the
         * rotation for a while and give the return to another one. */
        if (!l->reported_down)
            rf_warn("event=replica_unreachable dest=%s replica=%d endpoint=%s", peer->name, li,
                    l->endpoint);
        l->reported_down = true;
        l->down_until = now + LINK_DOWN_MS;
    }
    f = calloc(1, sizeof *f);
    if (!f) return; /* an ack will simply find nothing; the row is still deleted */
    snprintf(f->return_id, sizeof f->return_id, "%s", return_id);
    snprintf(f->event_id, sizeof f->event_id, "%s", event_id);
    f->sent_at = now;
    f->link = li;
    HASH_ADD_STR(peer->inflight, return_id, f);
    peer->n_inflight++;
    peer->sent++;
}

static void inflight_remove(peer_t *peer, inflight_t *f) {
    HASH_DEL(peer->inflight, f);
    free(f);
    peer->n_inflight--;
}

static void acked_key(char *key, unsigned bit, const char *return_id) {
    snprintf(key, MAX_FRAME_ID + 2, "%c%s", '0' + (int)rf__bus_bit_index(bit), return_id);
}

static void acked_count_add(rf_bus_t *bus, unsigned bit, const char *return_id) {
    char key[MAX_FRAME_ID + 2];
    acked_key(key, bit, return_id);
    acked_count_t *c = NULL;
    HASH_FIND_STR(bus->acked_by_return, key, c);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return; /* only makes a newer event wait for the poll */
        memcpy(c->key, key, sizeof c->key);
        HASH_ADD_STR(bus->acked_by_return, key, c);
    }
    c->n++;
}

static int64_t acked_count_of(rf_bus_t *bus, unsigned bit, const char *return_id) {
    char key[MAX_FRAME_ID + 2];
    acked_key(key, bit, return_id);
    acked_count_t *c = NULL;
    HASH_FIND_STR(bus->acked_by_return, key, c);
    return c ? c->n : 0;
}

void rf__bus_acked_counts_clear(rf_bus_t *bus) {
    acked_count_t *c, *tmp;
    HASH_ITER(hh, bus->acked_by_return, c, tmp) {
        HASH_DEL(bus->acked_by_return, c);
        free(c);
    }
}

static void chain_drop(peer_t *peer, chain_t *c) {
    HASH_DEL(peer->chains, c);
    for (chained_t *e = c->head, *next; e; e = next) {
        next = e->next;
        free(e->payload);
        free(e);
    }
    free(c);
}

/* Forget every event in flight toward peer and the chains behind them
 * (rf_bus_destroy). */
void rf__bus_forget_inflight(peer_t *peer) {
    inflight_t *f, *tmp;
    HASH_ITER(hh, peer->inflight, f, tmp) inflight_remove(peer, f);
    chain_t *c, *ctmp;
    HASH_ITER(hh, peer->chains, c, ctmp) chain_drop(peer, c);
}

/* Something other than an ACK happened to the return: the poll sends the
 * rest, in order, once it is due. */
static void chain_forget(peer_t *peer, const char *return_id) {
    chain_t *c = NULL;
    HASH_FIND_STR(peer->chains, return_id, c);
    if (c) {
        chain_drop(peer, c);
        peer->needs_poll = true;
    }
}

/* Whether the `ahead` unacknowledged rows before an event of return_id are
 * exactly the return's event in flight and its chain: then the event may
 * follow them in memory (sent when they are acknowledged). */
bool rf__bus_chain_follows(peer_t *peer, const char *return_id, int64_t ahead) {
    inflight_t *f = NULL;
    HASH_FIND_STR(peer->inflight, return_id, f);
    if (!f || ahead < 1) return false;
    chain_t *c = NULL;
    HASH_FIND_STR(peer->chains, return_id, c);
    return ahead == 1 + (c ? c->n : 0);
}

/* Queue an event to follow the return's event in flight (or its chain).
 * false when it cannot (the caller leaves it to the poll). */
bool rf__bus_chain_append(peer_t *peer, const char *event_id, const char *return_id,
                          const uint8_t *payload, size_t len) {
    chain_t *c = NULL;
    HASH_FIND_STR(peer->chains, return_id, c);
    if (!c) {
        inflight_t *f = NULL;
        HASH_FIND_STR(peer->inflight, return_id, f);
        if (!f) return false; /* its predecessor was not sent: the poll sends both */
        c = calloc(1, sizeof *c);
        if (!c) return false;
        snprintf(c->return_id, sizeof c->return_id, "%s", return_id);
        HASH_ADD_STR(peer->chains, return_id, c);
    }
    chained_t *e = calloc(1, sizeof *e);
    if (!e || !(e->payload = malloc(len ? len : 1))) {
        free(e);
        chain_drop(peer, c);
        return false;
    }
    memcpy(e->payload, payload, len);
    e->len = len;
    snprintf(e->event_id, sizeof e->event_id, "%s", event_id);
    if (c->tail) c->tail->next = e;
    else c->head = e;
    c->tail = e;
    c->n++;
    return true;
}

/* The return's event in flight was acknowledged: send the next one of its
 * chain, if any. */
static void chain_advance(peer_t *peer, const char *return_id) {
    chain_t *c = NULL;
    HASH_FIND_STR(peer->chains, return_id, c);
    if (!c) return;
    chained_t *e = c->head;
    c->head = e->next;
    c->n--;
    if (!c->head) c->tail = NULL;
    rf__bus_dispatch(peer, e->event_id, return_id, e->payload, e->len);
    inflight_t *f = NULL;
    HASH_FIND_STR(peer->inflight, return_id, f);
    bool sent = f && strcmp(f->event_id, e->event_id) == 0;
    free(e->payload);
    free(e);
    if (!sent || !c->head) {
        chain_drop(peer, c);
        if (!sent) peer->needs_poll = true;
    }
}

/* The consumer acknowledged event_id: its outbox row toward peer is deleted
 * by the next rf__bus_flush_acks. was_in_flight: it answered the event in
 * flight for return_id (not a second ACK of a resent one). */
void rf__bus_ack_row(peer_t *peer, const char *event_id, const char *return_id,
                     bool was_in_flight) {
    rf_bus_t *bus = peer->bus;
    if (bus->n_acks == bus->cap_acks) {
        size_t ncap = bus->cap_acks ? bus->cap_acks * 2 : 1024;
        acked_row_t *na = realloc(bus->acks, ncap * sizeof *na);
        if (na) {
            bus->acks = na;
            bus->cap_acks = ncap;
        }
    }
    if (bus->n_acks < bus->cap_acks) {
        snprintf(bus->acks[bus->n_acks].event_id, MAX_FRAME_ID, "%s", event_id);
        bus->acks[bus->n_acks++].bit = peer->bit;
        /* Counted once per row: a second ACK of a resent event
         * must not make a newer row look unblocked. */
        if (was_in_flight) acked_count_add(bus, peer->bit, return_id);
    }
}

/* Delete acknowledged outbox rows, in one statement. */
void rf__bus_flush_acks(rf_bus_t *bus) {
    if (bus->n_acks == 0 || !rf_db_connected(bus->db)) return;
    rf_pgarray_t *ids = &bus->cols[0], *dests = &bus->cols[1];
    if (rf_pgarrays_open(bus->cols, 2) != 0) return;
    for (size_t i = 0; i < bus->n_acks; i++)
        if (rf_pgarray_add(ids, bus->acks[i].event_id) != 0 ||
            rf_pgarray_add(dests, rf_worker_name(rf__bus_bit_index(bus->acks[i].bit))) != 0)
            return;
    const char *p[] = {rf_pgarray_close(ids), rf_pgarray_close(dests)};
    int64_t deleted = rf_db_exec_count(
        bus->db,
        "DELETE FROM outbox o USING unnest($1::text[], $2::text[]) AS a(event_id, dest)"
        " WHERE o.event_id = a.event_id AND o.dest = a.dest",
        2, p);
    if (deleted >= 0) {
        bus->n_acks = 0;
        rf__bus_acked_counts_clear(bus);
        bus->outbox_dead += deleted;
        bus->backlog = bus->backlog > deleted ? bus->backlog - deleted : 0;
    }
}

/* Send what is due toward one peer: the oldest pending row of each return,
 * skipping returns that already have an event in flight. */
void rf__bus_poll_peer(peer_t *peer) {
    rf_bus_t *bus = peer->bus;
    int64_t room = bus->cfg.window - peer->n_inflight;
    if (!rf__bus_any_link_usable(peer, rf_mono_ms()))
        return; /* polled again once the backoff ends */
    peer->needs_poll = false;
    /* Under saturation, wait until a quarter of the window is free: each
     * poll reads the heads in flight too, so polling for a few free slots
     * would read the whole window again and again. */
    if (room <= 0 || (room < bus->cfg.window / 4 && peer->n_inflight > 0)) {
        peer->needs_poll = true;
        return;
    }
    rf_num_t limit = rf_i64(room + peer->n_inflight);
    rf_num_t owner = rf_i64(bus->cfg.replica_id);
    const char *p[] = {peer->name, limit.s, owner.s};
    /* The due heads (no older row of the same return toward this consumer),
     * oldest first: read in seq order, stopping at the limit, so a poll
     * costs what it sends, not the whole backlog. (The head test is a
     * correlated min(), one index probe per row read: as NOT EXISTS the
     * planner may hash the whole outbox instead.) Replicated: the head of
     * each return is found among every replica's rows, and sent only by the
     * replica that owns it. */
    PGresult *res = rf_db_query_bin(
        bus->db,
        bus->cfg.replicated
            ? "SELECT event_id, return_id, payload FROM outbox o"
              " WHERE dest = $1 AND next_attempt_at <= now() AND owner = $3::integer"
              " AND seq = (SELECT min(a.seq) FROM outbox a WHERE a.dest = o.dest"
              " AND a.return_id = o.return_id)"
              " ORDER BY seq LIMIT $2"
            : "SELECT event_id, return_id, payload FROM outbox o"
              " WHERE dest = $1 AND next_attempt_at <= now()"
              " AND seq = (SELECT min(a.seq) FROM outbox a WHERE a.dest = o.dest"
              " AND a.return_id = o.return_id)"
              " ORDER BY seq LIMIT $2",
        bus->cfg.replicated ? 3 : 2, p, NULL, NULL, 1);
    if (!res) return;
    int rows = PQntuples(res);
    for (int r = 0; r < rows && peer->n_inflight < bus->cfg.window; r++) {
        char event_id[MAX_FRAME_ID], return_id[MAX_FRAME_ID];
        snprintf(event_id, sizeof event_id, "%.*s", PQgetlength(res, r, 0), PQgetvalue(res, r, 0));
        snprintf(return_id, sizeof return_id, "%.*s", PQgetlength(res, r, 1),
                 PQgetvalue(res, r, 1));
        int64_t before = peer->sent;
        rf__bus_dispatch(peer, event_id, return_id, (const uint8_t *)PQgetvalue(res, r, 2),
                         (size_t)PQgetlength(res, r, 2));
        if (peer->sent == before && !peer->needs_poll) break; /* unreachable: try later */
    }
    if (rows >= atoi(limit.s)) peer->needs_poll = true; /* more may be waiting */
    PQclear(res);
}

/* A row toward peer was backed off for seconds: poll for it when it is due
 * (times within a tick of one already remembered share its wake-up). */
static void wake_when_due(peer_t *peer, double seconds) {
    int64_t at = rf_mono_ms() + (int64_t)(seconds * 1000.0) + 1;
    int i = 0;
    while (i < peer->n_due && peer->due[i] < at) i++;
    if ((i > 0 && at - peer->due[i - 1] < TICK_MS) ||
        (i < peer->n_due && peer->due[i] - at < TICK_MS) || i == DUE_SLOTS)
        return;
    int keep = peer->n_due < DUE_SLOTS ? peer->n_due : DUE_SLOTS - 1;
    memmove(&peer->due[i + 1], &peer->due[i], (size_t)(keep - i) * sizeof peer->due[0]);
    peer->due[i] = at;
    peer->n_due = keep + 1;
}

/* Forget the due times that have passed; true if there were any. */
bool rf__bus_came_due(peer_t *peer, int64_t now) {
    int n = 0;
    while (n < peer->n_due && peer->due[n] <= now) n++;
    if (n == 0) return false;
    memmove(&peer->due[0], &peer->due[n], (size_t)(peer->n_due - n) * sizeof peer->due[0]);
    peer->n_due -= n;
    return true;
}

/* Move the outbox row of event_id toward peer to the dead-letter table and,
 * in the same transaction, raise an ops.alert so operations hear of it (not
 * for an alert itself: a broken notification worker must not breed alerts). */
void rf__bus_dead_letter(peer_t *peer, const char *event_id, const char *reason, int64_t attempts) {
    rf_bus_t *bus = peer->bus;
    const char *p[] = {event_id, peer->name, reason};
    if (rf_bus_tx_begin(bus) != 0) return;
    PGresult *res =
        rf_db_query(bus->db,
                    "WITH moved AS (DELETE FROM outbox WHERE event_id = $1 AND dest = $2"
                    " RETURNING *) INSERT INTO dead_letter (event_id, dest, return_id, type,"
                    " payload, attempts, reason, created_at) SELECT event_id, dest, return_id,"
                    " type, payload, attempts, $3, created_at FROM moved RETURNING type, return_id",
                    3, p);
    if (!res) {
        rf_bus_tx_rollback(bus);
        return;
    }
    int rc = 0;
    if (PQntuples(res) > 0 && strcmp(rf_get_str(res, 0, 0), "ops.alert") != 0) {
        rf_event_t ev;
        char subject[160];
        snprintf(subject, sizeof subject, "%s to %s", rf_get_str(res, 0, 0), peer->name);
        rc = rf_bus_event_init(bus, &ev, RF_EV_OPS_ALERT, rf_get_str(res, 0, 1), event_id);
        if (rc == 0) {
            rc = rf_event_set_str(&ev.body.ops_alert.kind, "dead_letter") |
                 rf_event_set_str(&ev.body.ops_alert.subject, subject) |
                 rf_event_set_str(&ev.body.ops_alert.detail, reason);
            if (rc == 0) rc = rf_bus_emit(bus, &ev);
            rf_event_clear(&ev);
        }
    }
    bool moved = PQntuples(res) > 0;
    PQclear(res);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return;
    }
    if (moved)
        rf_error("event=dead_lettered dest=%s event_id=%s attempts=%lld reason=\"%s\"", peer->name,
                 event_id, (long long)attempts, reason);
}

/* An answered failure (RETRY or REJECT) or a permanent one: count it, back
 * off, and dead-letter the row past retry_max. */
void rf__bus_record_failure(peer_t *peer, const char *event_id, const char *reason,
                            bool permanent) {
    rf_bus_t *bus = peer->bus;
    if (!rf_db_connected(bus->db)) return;
    int64_t attempts = 0;
    if (!permanent) {
        const char *p[] = {event_id, peer->name, reason};
        PGresult *res = rf_db_query(bus->db,
                                    "UPDATE outbox SET attempts = attempts + 1, last_error = $3"
                                    " WHERE event_id = $1 AND dest = $2 RETURNING attempts",
                                    3, p);
        if (!res) return;
        if (PQntuples(res) == 0) {
            PQclear(res);
            return; /* already acknowledged and deleted */
        }
        attempts = rf_get_i64(res, 0, 0);
        PQclear(res);
    }
    if (permanent || attempts >= bus->cfg.retry_max) {
        rf__bus_dead_letter(peer, event_id, reason, attempts);
        peer->needs_poll = true; /* the next event of that return may go now */
        return;
    }
    char secs[32];
    double backoff = backoff_seconds(attempts);
    snprintf(secs, sizeof secs, "%.3f", backoff);
    const char *p[] = {event_id, peer->name, secs};
    if (rf_db_exec(bus->db,
                   "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $3::float8)"
                   " WHERE event_id = $1 AND dest = $2",
                   3, p) == 0)
        wake_when_due(peer, backoff);
    rf_warn("event=delivery_retry dest=%s event_id=%s attempts=%lld backoff_s=%s reason=\"%s\"",
            peer->name, event_id, (long long)attempts, secs, reason);
}

/* The consumer cannot apply the event yet (a prerequisite is missing): back
 * off without counting it as a failure, up to defer_limit_s after it was
 * written; past that it is dead-lettered, since it will likely never apply.
 * The backoff starts at 25 ms, doubling to 30 s: the usual prerequisite is an
 * event from another producer a few milliseconds behind this one. */
void rf__bus_record_deferral(peer_t *peer, const char *event_id, const char *reason) {
    rf_bus_t *bus = peer->bus;
    if (!rf_db_connected(bus->db)) return;
    rf_num_t limit = rf_i64(bus->cfg.defer_limit_s);
    const char *p[] = {event_id, peer->name, reason, limit.s};
    PGresult *res =
        rf_db_query(bus->db,
                    "UPDATE outbox SET deferrals = deferrals + 1, last_error = $3,"
                    " next_attempt_at = now()"
                    " + make_interval(secs => least(30, 0.025 * 2 ^ least(deferrals, 11)))"
                    " WHERE event_id = $1 AND dest = $2"
                    " RETURNING deferrals, now() - created_at > make_interval(secs => $4::bigint),"
                    " extract(epoch FROM next_attempt_at - now())::float8",
                    4, p);
    if (!res) return;
    bool expired = PQntuples(res) > 0 && strcmp(rf_get_str(res, 0, 1), "t") == 0;
    if (PQntuples(res) > 0 && !expired) wake_when_due(peer, atof(rf_get_str(res, 0, 2)));
    PQclear(res);
    if (expired) {
        char why[300];
        snprintf(why, sizeof why, "deferred for over %llds: %s", (long long)bus->cfg.defer_limit_s,
                 reason);
        rf__bus_record_failure(peer, event_id, why, true);
    }
}

/* Replies from one consumer replica: ACK, RETRY, DEFER or REJECT. Returns true
 * if it hit the budget (more may be queued). */
bool rf__bus_drain_link(link_t *link) {
    peer_t *peer = link->peer;
    for (int n = 0; n < RECV_BUDGET; n++) {
        zmq_msg_t f[4];
        int nf = 0;
        bool bad = false;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, link->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                if (nf == 0) return false; /* EAGAIN: drained */
                bad = true;
                break;
            }
            int more = zmq_msg_more(&m);
            if (nf < 4) f[nf++] = m;
            else {
                zmq_msg_close(&m);
                bad = true;
            }
            if (!more) break;
        }
        if (!bad && nf == 4) {
            char kind[16], event_id[MAX_FRAME_ID], return_id[MAX_FRAME_ID], reason[256];
            rf__bus_copy_frame_text(kind, sizeof kind, &f[0]);
            rf__bus_copy_frame_text(event_id, sizeof event_id, &f[1]);
            rf__bus_copy_frame_text(return_id, sizeof return_id, &f[2]);
            rf__bus_copy_frame_text(reason, sizeof reason, &f[3]);
            inflight_t *fl = NULL;
            HASH_FIND_STR(peer->inflight, return_id, fl);
            bool was_in_flight = fl && strcmp(fl->event_id, event_id) == 0;
            if (was_in_flight) inflight_remove(peer, fl);
            link->timeout_streak = 0; /* it answers: not stalled */
            link->stalled_until = 0;
            if (link->reported_down && peer->n_links > 1)
                rf_info("event=replica_back dest=%s endpoint=%s", peer->name, link->endpoint);
            link->down_until = 0;
            link->reported_down = false;
            if (strcmp(kind, "ACK") == 0) {
                peer->acked++;
                rf__bus_ack_row(peer, event_id, return_id, was_in_flight);
                if (was_in_flight) chain_advance(peer, return_id);
            } else if (strcmp(kind, "RETRY") == 0) {
                chain_forget(peer, return_id);
                peer->retried++;
                rf__bus_record_failure(peer, event_id, reason, false);
            } else if (strcmp(kind, "DEFER") == 0) {
                chain_forget(peer, return_id);
                peer->deferred++;
                rf__bus_record_deferral(peer, event_id, reason);
            } else if (strcmp(kind, "REJECT") == 0) {
                chain_forget(peer, return_id);
                peer->rejected++;
                rf__bus_record_failure(peer, event_id, reason, true);
            } else {
                rf_warn("event=bus_bad_reply dest=%s kind=%s", peer->name, kind);
            }
        } else {
            rf_warn("event=bus_bad_reply dest=%s frames=%d", peer->name, nf);
        }
        for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
    }
    return true;
}

/* ---- consumer: poison that kills ------------------------------------------ */

/* A poison event may make its consumer crash (or be killed) rather than
 * answer REJECT. Its producer then sees only ack timeouts, which never count
 * toward retry_max (a stopped or restarting consumer times out too), and
 * would resend it forever, each time taking the consumer down again.
 *
 * So the consumer notes, before applying a batch, which events it is about
 * to apply and which process it is: one committed row per batch in
 * inbox_batches (this process's instance id, a batch number, the event ids).
 * The transaction that applies (or defers, or rejects) events takes their
 * ids out of the row, deleting it with the last. A row of another instance
 * that still holds an event when the event comes back means a process died
 * while applying it: the event's count of such deaths goes to inbox_started
 * (`crashes`) and its id leaves that row. A stall (SIGSTOP), a database
 * error or an ordinary restart between batches count nothing; a kill -9
 * mid-batch counts one for that batch's events. Suspects (crashes > 0) are
 * applied last, each alone under a row of its own: if one of them kills the
 * process, only it is charged, not the innocent events that happened to
 * share its batch. After retry_max crashes the event is answered REJECT
 * without being applied, and its producer dead-letters it as usual; a replay
 * starts the count again. The rows are written with asynchronous commit:
 * they must survive this process, not PostgreSQL. */

/* The event ids of msgs[0..n) as a PostgreSQL array literal (in bus->cols[0]). */
static const char *event_id_array(rf_bus_t *bus, const inmsg_t *msgs, size_t n) {
    rf_pgarray_t *ids = &bus->cols[0];
    if (rf_pgarray_open(ids) != 0) return NULL;
    for (size_t i = 0; i < n; i++)
        if (rf_pgarray_add(ids, msgs[i].event_id) != 0) return NULL;
    return rf_pgarray_close(ids);
}

/* Set msgs[i].crashes from rows (event_id, crashes) of res. */
static void crashes_from(inmsg_t *msgs, size_t n, const PGresult *res) {
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t crashes = rf_get_i64(res, r, 1);
        for (size_t i = 0; i < n; i++)
            if (strcmp(msgs[i].event_id, rf_get_str(res, r, 0)) == 0) msgs[i].crashes = crashes;
    }
}

/* Events of msgs[0..n) that rows of other (dead) processes hold: add one
 * crash per such row to their count and take them out of those rows. Sets
 * msgs' crashes. 0 or -1. */
static int started_fold_crashes(rf_bus_t *bus, inmsg_t *msgs, size_t n, const char *ids) {
    const char *p[] = {ids, bus->instance};
    PGresult *res = rf_db_query(
        bus->db,
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),"
        " died AS (SELECT e, count(*) AS n FROM inbox_batches b CROSS JOIN unnest(b.event_ids) e"
        "   WHERE b.instance <> $2 AND e = ANY($1::text[]) GROUP BY e),"
        " counted AS (INSERT INTO inbox_started (event_id, instance, crashes)"
        "   SELECT e, '', n FROM died, async ON CONFLICT (event_id)"
        "   DO UPDATE SET crashes = inbox_started.crashes + EXCLUDED.crashes"
        "   RETURNING event_id, crashes),"
        " taken AS (UPDATE inbox_batches b SET event_ids = ARRAY(SELECT x FROM unnest(b.event_ids)"
        "   x WHERE NOT x = ANY($1::text[])) WHERE b.instance <> $2 AND b.event_ids && $1::text[])"
        " SELECT event_id, crashes FROM counted",
        2, p);
    if (!res) return -1;
    crashes_from(msgs, n, res);
    PQclear(res);
    return rf_db_exec(bus->db,
                      "DELETE FROM inbox_batches WHERE event_ids = '{}'"
                      " AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
                      0, NULL);
}

/* Record that msgs[0..n) are being applied by this process (a new row of
 * inbox_batches), and set each one's crashes. 0, or -1 on a database error. */
int rf__bus_started_record(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    const char *ids = event_id_array(bus, msgs, n);
    if (!ids) return -1;
    rf_num_t batch = rf_i64(++bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    /* One round trip: the row, the crashes already counted, and (when rows
     * of other processes exist) whether any of them holds these events. */
#define RECORD_AND_COUNTED                                                  \
    "WITH async AS (SELECT set_config('synchronous_commit', 'off', true))," \
    " mine AS (INSERT INTO inbox_batches (instance, batch, event_ids)"      \
    "   SELECT $2, $3::bigint, $1::text[] FROM async)"                      \
    " SELECT event_id, crashes, false FROM inbox_started WHERE event_id = ANY($1::text[])"
    PGresult *res = rf_db_query(
        bus->db,
        bus->others_started ? RECORD_AND_COUNTED
            " UNION ALL SELECT '', 0, true WHERE EXISTS (SELECT 1 FROM inbox_batches b"
            "   WHERE (b.instance < $2 OR b.instance > $2) AND b.event_ids && $1::text[])"
                            : RECORD_AND_COUNTED,
        3, p);
#undef RECORD_AND_COUNTED
    if (!res) return -1;
    bus->started_left = n;
    bool died = false;
    for (size_t i = 0; i < n; i++) msgs[i].crashes = 0;
    crashes_from(msgs, n, res);
    for (int r = 0; r < PQntuples(res); r++)
        if (strcmp(rf_get_str(res, r, 2), "t") == 0) died = true;
    PQclear(res);
    return died ? started_fold_crashes(bus, msgs, n, ids) : 0;
}

/* Whether rows of other processes are in inbox_batches (a process died
 * mid-batch, or another replica is applying): only then does each batch
 * look for its events there. Checked at start and every second. */
void rf__bus_started_check_others(rf_bus_t *bus) {
    const char *p[] = {bus->instance};
    PGresult *res = rf_db_query(bus->db,
                                "SELECT EXISTS (SELECT 1 FROM inbox_batches"
                                " WHERE instance < $1 OR instance > $1)",
                                1, p);
    if (!res) return;
    bus->others_started = strcmp(rf_get_str(res, 0, 0), "t") == 0;
    PQclear(res);
}

/* Take msgs[0..n) out of this process's current row (inside the transaction
 * applying them), with their crash counts if they have any. 0 or -1. */
int rf__bus_started_forget(rf_bus_t *bus, const inmsg_t *msgs, size_t n) {
    const char *ids = event_id_array(bus, msgs, n);
    if (!ids) return -1;
    rf_num_t batch = rf_i64(bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    int rc = n >= bus->started_left
                 ? rf_db_exec(bus->db,
                              "DELETE FROM inbox_batches WHERE instance = $2"
                              " AND batch = $3::bigint AND $1::text[] IS NOT NULL",
                              3, p)
                 : rf_db_exec(bus->db,
                              "UPDATE inbox_batches SET event_ids = ARRAY(SELECT x FROM"
                              " unnest(event_ids) x WHERE NOT x = ANY($1::text[]))"
                              " WHERE instance = $2 AND batch = $3::bigint",
                              3, p);
    bool counted = false;
    for (size_t i = 0; i < n; i++) counted |= msgs[i].crashes > 0;
    if (rc == 0 && counted)
        rc =
            rf_db_exec(bus->db, "DELETE FROM inbox_started WHERE event_id = ANY($1::text[])", 1, p);
    return rc;
}

/* msgs[0..n) were committed: they are no longer in the current row. */
void rf__bus_started_forgotten(rf_bus_t *bus, size_t n) {
    bus->started_left = n >= bus->started_left ? 0 : bus->started_left - n;
}

/* Delete this process's current row (asynchronous commit), if it has one.
 * 0 or -1. */
static int started_drop_row(rf_bus_t *bus) {
    if (bus->started_left == 0) return 0;
    rf_num_t batch = rf_i64(bus->started_batch);
    const char *p[] = {bus->instance, batch.s};
    if (rf_db_exec(bus->db,
                   "DELETE FROM inbox_batches WHERE instance = $1 AND batch = $2::bigint"
                   " AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
                   2, p) != 0)
        return -1;
    bus->started_left = 0;
    return 0;
}

/* A suspect is about to be applied alone by this process: a row of its own,
 * after the batch's row is gone with the other suspects still in it (only
 * the suspect being applied is charged if the process dies). 0 or -1. */
int rf__bus_started_again(rf_bus_t *bus, const inmsg_t *m) {
    if (started_drop_row(bus) != 0) return -1;
    const char *ids = event_id_array(bus, m, 1);
    rf_num_t batch = rf_i64(++bus->started_batch);
    const char *p[] = {ids, bus->instance, batch.s};
    if (!ids || rf_db_exec(bus->db,
                           "INSERT INTO inbox_batches (instance, batch, event_ids)"
                           " SELECT $2, $3::bigint, $1::text[]"
                           " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async",
                           3, p) != 0)
        return -1;
    bus->started_left = 1;
    return 0;
}

/* After a batch: a row still there (events that failed, or were not
 * answered) is not a crash of this process; delete it. */
void rf__bus_started_done(rf_bus_t *bus) {
    if (rf_db_connected(bus->db)) started_drop_row(bus);
}

/* Answer REJECT to every event that retry_max processes died on, and move
 * the other events that some process died on to the end of msgs. Returns
 * the number of events never involved in a crash (now first). */
size_t rf__bus_started_partition(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    size_t healthy = 0;
    for (size_t i = 0; i < n; i++) {
        inmsg_t *m = &msgs[i];
        if (m->crashes >= bus->cfg.retry_max) {
            if (rf_bus_tx_begin(bus) == 0 && rf__bus_started_forget(bus, m, 1) == 0 &&
                rf_bus_tx_commit(bus) == 0) {
                rf__bus_started_forgotten(bus, 1);
                snprintf(m->reason, sizeof m->reason,
                         "the consumer stopped %lld times while applying it",
                         (long long)m->crashes);
                m->reply = "REJECT";
            } else {
                rf_bus_tx_rollback(bus);
            }
            rf_error("event=poison_suspected event_id=%s return_id=%s crashes=%lld", m->event_id,
                     m->return_id, (long long)m->crashes);
        } else if (m->crashes > 0) {
            rf_warn("event=apply_after_crash event_id=%s return_id=%s crashes=%lld", m->event_id,
                    m->return_id, (long long)m->crashes);
        }
        if (m->crashes == 0 && i != healthy) {
            inmsg_t tmp = msgs[healthy];
            msgs[healthy] = *m;
            *m = tmp;
        }
        if (msgs[healthy].crashes == 0) healthy++;
    }
    return healthy;
}

/* ---- consumer: apply a batch ---------------------------------------------- */

/* Decode msgs[0..n) into evs; an undecodable one, or one whose envelope does
 * not match its frames, is answered REJECT (decoded[i] false). */
static void decode_batch(inmsg_t *msgs, size_t n, rf_event_t *evs, bool *decoded) {
    for (size_t i = 0; i < n; i++) {
        inmsg_t *m = &msgs[i];
        char err[200];
        memset(&evs[i], 0, sizeof evs[i]);
        decoded[i] = false;
        if (rf_event_decode(m->body, m->body_len, &evs[i], err, sizeof err) != 0) {
            snprintf(m->reason, sizeof m->reason, "undecodable: %s", err);
            continue;
        }
        if (!evs[i].event_id[0] || strcmp(evs[i].event_id, m->event_id) != 0 ||
            strcmp(evs[i].return_id, m->return_id) != 0) {
            snprintf(m->reason, sizeof m->reason, "envelope does not match frames");
            rf_event_clear(&evs[i]);
            continue;
        }
        decoded[i] = true;
    }
}

/* Record the decoded events' ids in the inbox, in one statement; fresh[i]
 * is set for the ones not there before (the first of two equal ids in one
 * batch). 0 or -1 (db error). */
static int inbox_insert(rf_bus_t *bus, const rf_event_t *evs, const bool *decoded, size_t n,
                        bool *fresh) {
    enum { EV, PRODUCER, TYPE, RET, NCOL };
    rf_pgarray_t *arr = bus->cols;
    for (size_t i = 0; i < n; i++) fresh[i] = false;
    if (rf_pgarrays_open(arr, NCOL) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        /* Undecodable ones keep their place (the ordinality) with empty ids. */
        const char *v[NCOL] = {decoded[i] ? evs[i].event_id : "", decoded[i] ? evs[i].producer : "",
                               decoded[i] ? rf_event_type_name(evs[i].type) : "",
                               decoded[i] ? evs[i].return_id : ""};
        if (rf_pgarrays_add_row(arr, NCOL, v) != 0) return -1;
    }
    const char *p[] = {rf_pgarray_close(&arr[EV]), rf_pgarray_close(&arr[PRODUCER]),
                       rf_pgarray_close(&arr[TYPE]), rf_pgarray_close(&arr[RET])};
    PGresult *res = rf_db_query(
        bus->db,
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
        " WITH ORDINALITY AS u(e, p, t, r, i) WHERE e <> ''),"
        " ins AS (INSERT INTO inbox (event_id, producer, type, return_id)"
        " SELECT e, p, t, r FROM u ORDER BY i ON CONFLICT DO NOTHING RETURNING event_id)"
        " SELECT min(u.i) FROM u JOIN ins ON ins.event_id = u.e GROUP BY u.e",
        4, p);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t i = rf_get_i64(res, r, 0);
        if (i >= 1 && (size_t)i <= n) fresh[i - 1] = true;
    }
    PQclear(res);
    return 0;
}

/* Apply one decoded event inside the open transaction; its id is already in
 * the inbox when fresh (a DEFER or REJECT takes it out again). */
static rf_apply_result_t apply_one(rf_bus_t *bus, inmsg_t *m, const rf_event_t *ev, bool fresh) {
    if (!fresh) {
        snprintf(m->reason, sizeof m->reason, "duplicate");
        bus->inbox_duplicates++;
        rf_debug("event=duplicate event_id=%s return_id=%s", ev->event_id, ev->return_id);
        return RF_APPLY_OK;
    }
    rf_apply_result_t r =
        bus->apply ? bus->apply(bus->apply_arg, ev, m->reason, sizeof m->reason) : RF_APPLY_REJECT;
    if (r == RF_APPLY_DEFER || r == RF_APPLY_REJECT) {
        const char *q[] = {ev->event_id};
        if (rf_db_exec(bus->db, "DELETE FROM inbox WHERE event_id = $1", 1, q) != 0)
            r = RF_APPLY_ERROR;
    }
    if (r == RF_APPLY_OK) {
        bus->inbox_applied++;
        rf_debug("event=applied type=%s event_id=%s return_id=%s", rf_event_type_name(ev->type),
                 ev->event_id, ev->return_id);
    }
    return r;
}

void rf__bus_discard_emitted(rf_bus_t *bus) {
    for (size_t i = 0; i < bus->n_emitted; i++) free(bus->emitted[i].payload);
    bus->n_emitted = 0;
}

/* A producer that resent an event (its ACK was late) can have two copies of
 * it in one batch: the first is applied, the second is a duplicate. The
 * second must get the first's answer: an ACK for it after the first was
 * deferred or refused would tell the producer to delete the event. */
static void follow_first_copies(inmsg_t *msgs, const bool *decoded, const bool *fresh, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!decoded[i] || fresh[i]) continue;
        for (size_t j = 0; j < i; j++) {
            if (!fresh[j] || strcmp(msgs[j].event_id, msgs[i].event_id) != 0) continue;
            msgs[i].reply = msgs[j].reply;
            snprintf(msgs[i].reason, sizeof msgs[i].reason, "%s", msgs[j].reason);
            break;
        }
    }
}

/* Whether the statement that just failed waited out its lock timeout, or
 * was a deadlock's victim: another transaction holds what the events need,
 * which is no fault of theirs. */
static bool blocked_by_lock(const rf_db_t *db) {
    const char *state = rf_db_sqlstate(db);
    return strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0;
}

#define APPLY_BLOCKED (-2) /* apply_batch: rolled back on another transaction's lock */

/* Apply msgs[0..n) in one transaction. 0 when committed (replies set), -1
 * when rolled back, APPLY_BLOCKED when rolled back because another
 * transaction held what it needed. */
static int apply_batch(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    rf_event_t *evs = bus->batch_events;
    bool *decoded = bus->batch_decoded, *fresh = bus->batch_fresh;
    for (size_t i = 0; i < n; i++) msgs[i].reason[0] = '\0';
    decode_batch(msgs, n, evs, decoded);
    int rc = -1;
    if (bus->hooks.discard) bus->hooks.discard(bus->hooks.arg);
    if (rf_bus_tx_begin(bus) != 0) goto out;
    /* The batch's statements reach their rows by key, so a plan made once
     * serves every event. Left to choose, PostgreSQL kept planning some of
     * them anew for each event (refund's line facts: 9 executions in 10, at
     * twelve times the cost of running them). A row or table another
     * transaction holds (an operator's, a migration's) is waited for the
     * connection's lock_timeout (rf_db_lock_wait_ms): see apply_group. */
    if (rf_db_exec(bus->db, "SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL) != 0 ||
        inbox_insert(bus, evs, decoded, n, fresh) != 0) {
        for (size_t i = 0; i < n; i++)
            snprintf(msgs[i].reason, sizeof msgs[i].reason, "apply failed: %s",
                     rf_db_error(bus->db));
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        inmsg_t *m = &msgs[i];
        rf_apply_result_t r = decoded[i] ? apply_one(bus, m, &evs[i], fresh[i]) : RF_APPLY_REJECT;
        switch (r) {
        case RF_APPLY_OK: m->reply = "ACK"; break;
        case RF_APPLY_DEFER: m->reply = "DEFER"; break;
        case RF_APPLY_REJECT: m->reply = "REJECT"; break;
        case RF_APPLY_ERROR:
            snprintf(m->reason, sizeof m->reason, "apply failed: %s", rf_db_error(bus->db));
            goto fail;
        }
    }
    if (bus->hooks.flush) {
        bus->applying = msgs;
        bus->n_applying = n;
        int flushed = bus->hooks.flush(bus->hooks.arg, bus);
        bus->applying = NULL;
        bus->n_applying = 0;
        if (flushed != 0) {
            for (size_t i = 0; i < n; i++)
                snprintf(msgs[i].reason, sizeof msgs[i].reason, "apply failed: %s",
                         rf_db_error(bus->db));
            goto fail;
        }
    }
    follow_first_copies(msgs, decoded, fresh, n);
    if (rf__bus_started_forget(bus, msgs, n) != 0) goto fail;
    rc = rf_bus_tx_commit(bus);
    if (rc == 0) rf__bus_started_forgotten(bus, n);
    goto out;
fail:
    if (blocked_by_lock(bus->db)) rc = APPLY_BLOCKED;
    rf_bus_tx_rollback(bus);
out:
    for (size_t i = 0; i < n; i++)
        if (decoded[i]) rf_event_clear(&evs[i]);
    return rc;
}

void rf_bus_set_batch_hooks(rf_bus_t *bus, const rf_bus_batch_hooks_t *hooks) {
    bus->hooks = hooks ? *hooks : (rf_bus_batch_hooks_t){0};
}

int rf_bus_defer_applied(rf_bus_t *bus, const char *event_id, const char *why) {
    for (size_t i = 0; i < bus->n_applying; i++) {
        inmsg_t *m = &bus->applying[i];
        if (!m->reply || strcmp(m->reply, "ACK") != 0 || strcmp(m->event_id, event_id) != 0)
            continue;
        const char *q[] = {event_id};
        if (rf_db_exec(bus->db, "DELETE FROM inbox WHERE event_id = $1", 1, q) != 0) return -1;
        m->reply = "DEFER";
        snprintf(m->reason, sizeof m->reason, "%s", why);
        bus->inbox_applied--;
        return 0;
    }
    return -1;
}

static void reply(rf_bus_t *bus, inmsg_t *m) {
    if (!m->reply) return;
    const void *data[] = {m->identity, m->reply, m->event_id, m->return_id, m->reason};
    size_t lens[] = {m->identity_len, strlen(m->reply), strlen(m->event_id), strlen(m->return_id),
                     strlen(m->reason)};
    if (rf__bus_send_frames(bus->router, data, lens, 5) != 0)
        rf_debug("event=reply_not_sent event_id=%s error=\"%s\"", m->event_id, zmq_strerror(errno));
    if (strcmp(m->reply, "ACK") != 0)
        rf_warn("event=event_refused answer=%s event_id=%s return_id=%s reason=\"%s\"", m->reply,
                m->event_id, m->return_id, m->reason);
}

/* msgs[0..n) could not be applied because another transaction holds a row
 * or table they need: answer DEFER (try again soon, not counted as a
 * failure) rather than RETRY, which would dead-letter them after
 * retry_max, and rather than trying them one by one, each waiting out the
 * lock timeout while the loop stands still. */
static void defer_blocked(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    int64_t wait_ms = rf_db_lock_wait_ms(bus->db);
    rf_warn("event=apply_blocked count=%zu lock_wait_ms=%lld error=\"%s\"", n, (long long)wait_ms,
            rf_db_error(bus->db));
    bus->blocked_until = rf_mono_ms() + wait_ms;
    for (size_t i = 0; i < n; i++) {
        msgs[i].reply = "DEFER";
        snprintf(msgs[i].reason, sizeof msgs[i].reason, "blocked by another transaction's lock: %s",
                 rf_db_error(bus->db));
    }
}

/* Apply msgs[0..n) as one batch; if that fails, one transaction per event
 * so that one failing event does not hold the others back. */
static void apply_group(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    if (n == 0) return;
    int rc = apply_batch(bus, msgs, n);
    if (rc == APPLY_BLOCKED) {
        defer_blocked(bus, msgs, n);
    } else if (rc != 0) {
        /* Isolate the failing event: one transaction per event. */
        for (size_t i = 0; i < n; i++) {
            msgs[i].reply = NULL;
            if (!rf_db_connected(bus->db) && rf_db_connect(bus->db) != 0) break;
            rc = apply_batch(bus, &msgs[i], 1);
            if (rc == APPLY_BLOCKED) {
                defer_blocked(bus, &msgs[i], n - i);
                break;
            }
            if (rc != 0) {
                if (rf_db_connected(bus->db)) {
                    /* The database answered: this event itself fails. */
                    msgs[i].reply = "RETRY";
                    bus->inbox_failed++;
                } else {
                    msgs[i].reply = NULL;
                }
            }
        }
    }
}

static void process_batch(rf_bus_t *bus, inmsg_t *msgs, size_t n) {
    for (size_t i = 0; i < n; i++) msgs[i].reply = NULL;
    if (rf_db_connect(bus->db) != 0 || rf__bus_started_record(bus, msgs, n) != 0) {
        /* No answer: the producers resend once we are back. */
        rf_warn("event=batch_dropped reason=db_unavailable count=%zu error=\"%s\"", n,
                rf_db_error(bus->db));
        return;
    }
    /* Events an earlier process died on: refused past retry_max, otherwise
     * applied last and alone, so that the rest of the batch goes through
     * even if one of them kills this process too. */
    size_t healthy = rf__bus_started_partition(bus, msgs, n);
    apply_group(bus, msgs, healthy);
    for (size_t i = healthy; i < n; i++)
        if (msgs[i].crashes < bus->cfg.retry_max && rf__bus_started_again(bus, &msgs[i]) == 0)
            apply_group(bus, &msgs[i], 1);
    rf__bus_started_done(bus);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].reply && strcmp(msgs[i].reply, "DEFER") == 0) bus->inbox_deferred++;
        if (msgs[i].reply && strcmp(msgs[i].reply, "REJECT") == 0) bus->inbox_rejected++;
        reply(bus, &msgs[i]);
    }
}

/* Receive up to batch_max events from the ROUTER and apply them. Returns
 * true when the batch was full (more may be queued). */
bool rf__bus_drain_router(rf_bus_t *bus) {
    size_t n = 0;
    /* After a batch waited out another transaction's lock, the consumer
     * rests as long as it waited before it takes the next one: the loop
     * serves its other sockets (HTTP, the links) at least half the time
     * while the lock is held. A later turn's prepare or tick drains again. */
    if (bus->blocked_until != 0) {
        if (rf_mono_ms() < bus->blocked_until) return false;
        bus->blocked_until = 0;
    }
    while (n < (size_t)bus->cfg.batch_max) {
        zmq_msg_t f[5];
        int nf = 0;
        bool bad = false;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, bus->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                if (nf > 0) bad = true;
                break;
            }
            int more = zmq_msg_more(&m);
            if (nf < 5) f[nf++] = m;
            else {
                zmq_msg_close(&m);
                bad = true;
            }
            if (!more) break;
        }
        if (nf == 0) break; /* EAGAIN */
        if (!bad && nf == 5 && zmq_msg_size(&f[0]) <= sizeof bus->batch[n].identity &&
            zmq_msg_size(&f[1]) == 2 && memcmp(zmq_msg_data(&f[1]), "EV", 2) == 0) {
            inmsg_t *m = &bus->batch[n];
            m->identity_len = zmq_msg_size(&f[0]);
            memcpy(m->identity, zmq_msg_data(&f[0]), m->identity_len);
            rf__bus_copy_frame_text(m->event_id, sizeof m->event_id, &f[2]);
            rf__bus_copy_frame_text(m->return_id, sizeof m->return_id, &f[3]);
            m->body_len = zmq_msg_size(&f[4]);
            m->body = malloc(m->body_len ? m->body_len : 1);
            if (m->body) {
                memcpy(m->body, zmq_msg_data(&f[4]), m->body_len);
                n++;
            }
        } else {
            rf_warn("event=bus_bad_message frames=%d", nf);
        }
        for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
    }
    if (n > 0) process_batch(bus, bus->batch, n);
    for (size_t i = 0; i < n; i++) {
        free(bus->batch[i].body);
        bus->batch[i].body = NULL;
    }
    /* a batch deferred for a lock set blocked_until: rest before the next */
    return bus->blocked_until == 0 && n == (size_t)bus->cfg.batch_max;
}

/* ---- CURVE: the ZAP handler ------------------------------------------------ */

/* Answer ZAP requests (RFC 27) from libzmq's CURVE handshakes on our ROUTER:
 * 200 for a client whose public key is listed, 400 (logged with the key) for
 * anyone else. Returns true if it hit its budget. */
bool rf__bus_drain_zap(rf_bus_t *bus) {
    for (int n = 0; n < 256; n++) {
        zmq_msg_t f[8];
        int nf = 0;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, bus->zap, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            int more = zmq_msg_more(&m);
            if (nf < 8) f[nf++] = m;
            else zmq_msg_close(&m);
            if (!more) break;
        }
        if (nf == 0) return false;
        /* version, request id, domain, address, routing id, mechanism, credentials */
        char mech[32] = "", address[64] = "";
        if (nf >= 6) rf__bus_copy_frame_text(mech, sizeof mech, &f[5]);
        if (nf >= 4) rf__bus_copy_frame_text(address, sizeof address, &f[3]);
        const char *who = NULL;
        bool curve =
            nf == 7 && strcmp(mech, "CURVE") == 0 && zmq_msg_size(&f[6]) == RF_CURVE_KEY_BIN;
        if (curve) who = rf_curve_keyring_lookup(bus->keyring, zmq_msg_data(&f[6]));
        if (!who) {
            char key[RF_CURVE_KEY_Z85 + 1] = "-";
            if (curve) zmq_z85_encode(key, zmq_msg_data(&f[6]), RF_CURVE_KEY_BIN);
            bus->curve_refused++;
            rf_warn("event=bus_peer_refused reason=\"%s\" mechanism=%s key=%s address=%s",
                    curve ? "public key not listed" : "not a CURVE client", mech[0] ? mech : "-",
                    key, address[0] ? address : "-");
        } else {
            rf_debug("event=bus_peer_admitted name=%s address=%s", who, address);
        }
        const char *status = who ? "200" : "400";
        const char *text = who ? "OK" : "unknown key";
        const void *data[] = {
            "1.0", nf >= 2 ? zmq_msg_data(&f[1]) : "", status, text, who ? who : "", ""};
        size_t lens[] = {
            3, nf >= 2 ? zmq_msg_size(&f[1]) : 0, 3, strlen(text), who ? strlen(who) : 0, 0};
        if (rf__bus_send_frames(bus->zap, data, lens, 6) != 0)
            rf_warn("event=zap_reply_failed error=\"%s\"", zmq_strerror(errno));
        for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
    }
    return true;
}

/* ---- replicas: leases and takeover ------------------------------------------ */

/* Renew this replica's lease, and take over the outbox rows of replicas whose
 * lease ran out (they died). The UPDATE moves each row once: a second live
 * replica doing the same finds nothing left to take. */
void rf__bus_replica_heartbeat(rf_bus_t *bus) {
    rf_num_t me = rf_i64(bus->cfg.replica_id), pid = rf_i64((int64_t)getpid()),
             lease = rf_i64(bus->cfg.replica_lease_s);
    const char *p[] = {me.s, pid.s};
    if (rf_db_exec(bus->db,
                   "INSERT INTO replica_lease (replica_id, pid, heartbeat_at)"
                   " VALUES ($1::integer, $2::integer, now()) ON CONFLICT (replica_id)"
                   " DO UPDATE SET pid = EXCLUDED.pid, heartbeat_at = now()",
                   2, p) != 0)
        return;
    const char *q[] = {me.s, lease.s};
    PGresult *res = rf_db_query(
        bus->db,
        "WITH dead AS (SELECT replica_id FROM replica_lease WHERE replica_id <> $1::integer"
        " AND heartbeat_at < now() - make_interval(secs => $2::bigint)),"
        " moved AS (UPDATE outbox SET owner = $1::integer WHERE owner IN (SELECT replica_id FROM"
        " dead) RETURNING owner AS new_owner, dest)"
        " SELECT (SELECT string_agg(replica_id::text, ',') FROM dead), count(*) FROM moved",
        2, q);
    if (!res) return;
    int64_t moved = rf_get_i64(res, 0, 1);
    if (moved > 0) {
        rf_warn("event=replica_takeover replica=%u from_replicas=%s rows=%lld", bus->cfg.replica_id,
                rf_get_str(res, 0, 0), (long long)moved);
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) bus->peers[i].needs_poll = true;
    }
    PQclear(res);
}

/* The outbox is a queue (every row is inserted, then deleted within
 * moments): its dead rows and index entries pile up faster than autovacuum
 * (a pass a minute at most) clears them, and every poll and every emit's
 * count walks them. VACUUM it (a small table: milliseconds) every few
 * thousand deletions, at most once a second. */
void rf__bus_vacuum_outbox(rf_bus_t *bus, int64_t now) {
    if (bus->outbox_dead < VACUUM_AFTER_ROWS || now - bus->last_vacuum_ms < 1000) return;
    PGconn *conn = rf_db_conn(bus->db);
    if (!conn) return;
    PGresult *res = PQexec(conn, "VACUUM outbox");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rf_debug("event=outbox_vacuum_failed error=\"%.*s\"",
                 (int)strcspn(PQresultErrorMessage(res), "\n"), PQresultErrorMessage(res));
    PQclear(res);
    bus->outbox_dead = 0;
    bus->last_vacuum_ms = now;
}

/* ---- loop integration ------------------------------------------------------ */

/* Drain every socket until EAGAIN or its budget. Returns true if a budget
 * was hit and the loop should come back without blocking. */
static bool drain_all(rf_bus_t *bus) {
    bool more = false;
    for (int round = 0; round < 4; round++) {
        bool again = false;
        if (bus->zap) again |= rf__bus_drain_zap(bus);
        if (bus->router) again |= rf__bus_drain_router(bus);
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++)
            for (int l = 0; l < bus->peers[i].n_links; l++)
                again |= rf__bus_drain_link(&bus->peers[i].links[l]);
        more = again;
        if (!again) break;
    }
    return more;
}

static void on_idle(uv_idle_t *h) {
    rf_bus_t *bus = h->data;
    if (!drain_all(bus)) uv_idle_stop(&bus->idle);
}

static void on_prepare(uv_prepare_t *h) {
    rf_bus_t *bus = h->data;
    if (drain_all(bus)) uv_idle_start(&bus->idle, on_idle);
}

static void on_readable(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    rf_bus_t *bus = h->data;
    if (drain_all(bus)) uv_idle_start(&bus->idle, on_idle);
}

/* The outbox's rows, counted (events not yet acknowledged by a consumer). */
void rf__bus_count_backlog(rf_bus_t *bus) {
    PGresult *res = rf_db_query(bus->db, "SELECT count(*) FROM outbox", 0, NULL);
    if (!res) return;
    bus->backlog = rf_get_i64(res, 0, 0);
    PQclear(res);
}

void rf_bus_track_backlog(rf_bus_t *bus) {
    bus->backlog_tracked = true;
    rf__bus_count_backlog(bus);
}

int64_t rf_bus_backlog(const rf_bus_t *bus) { return bus->backlog; }

/* A consumer replica completed a handshake with this link: it (re)started or
 * came back. Whatever backoff its silence earned ends, and what waits for it
 * is sent by the next poll. */
void rf__bus_link_handshakes(link_t *link, int64_t now) {
    bool seen = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int n = zmq_msg_recv(&m, link->monitor, ZMQ_DONTWAIT);
        bool more = n >= 0 && zmq_msg_more(&m);
        if (n >= 6) {
            uint16_t ev;
            memcpy(&ev, zmq_msg_data(&m), sizeof ev);
            if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) seen = true;
        }
        zmq_msg_close(&m);
        if (n < 0) break;
        while (more) { /* the event's second frame: the endpoint */
            zmq_msg_init(&m);
            more = zmq_msg_recv(&m, link->monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
    if (!seen) return;
    if (link->timeout_streak > 1 || link->stalled_until > now || link->down_until > now)
        rf_info("event=consumer_connected dest=%s endpoint=%s streak=%lld backoff_ended=true",
                link->peer->name, link->endpoint, (long long)link->timeout_streak);
    link->timeout_streak = 0;
    link->stalled_until = 0;
    link->down_until = 0;
    link->peer->needs_poll = true;
}

/* Events unanswered for ack_timeout_ms: forget them (the next poll resends
 * them), and back off each link that keeps not answering. */
void rf__bus_ack_timeouts(rf_bus_t *bus, int64_t now) {
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        inflight_t *f, *tmp;
        bool timed_out[RF_BUS_MAX_REPLICAS] = {false};
        HASH_ITER(hh, peer->inflight, f, tmp) {
            if (now - f->sent_at >= bus->cfg.ack_timeout_ms) {
                peer->timeouts++;
                timed_out[f->link] = true;
                rf_debug("event=ack_timeout dest=%s event_id=%s return_id=%s", peer->name,
                         f->event_id, f->return_id);
                chain_forget(peer, f->return_id);
                inflight_remove(peer, f);
                peer->needs_poll = true;
            }
        }
        for (int li = 0; li < peer->n_links; li++) {
            if (!timed_out[li]) continue;
            link_t *link = &peer->links[li];
            /* One step per ack timeout without an answer: the events sent
             * over a few hundred milliseconds expire over as many ticks, and
             * each tick is not a new silence (counted per tick, a consumer
             * silent for one fsync hiccup was backed off for 30 s). */
            if (link->timeout_streak > 0 && now - link->streak_at < bus->cfg.ack_timeout_ms)
                continue;
            link->streak_at = now;
            /* No answer at all: the consumer is down or stalled. Resend, but
             * less and less often (doubling, capped at 30 s) until it answers;
             * with replicas, the others take its returns meanwhile. */
            int64_t wait = bus->cfg.ack_timeout_ms;
            for (int64_t k = 0; k < link->timeout_streak && wait < 30000; k++) wait *= 2;
            if (wait > 30000) wait = 30000;
            link->timeout_streak++;
            link->stalled_until = link->timeout_streak > 1 ? now + wait : 0;
            if (link->timeout_streak > 1) {
                if (peer->n_links > 1)
                    rf_warn("event=consumer_not_answering dest=%s replica=%d endpoint=%s"
                            " streak=%lld backoff_ms=%lld",
                            peer->name, li, link->endpoint, (long long)link->timeout_streak,
                            (long long)wait);
                else
                    rf_warn("event=consumer_not_answering dest=%s streak=%lld backoff_ms=%lld",
                            peer->name, (long long)link->timeout_streak, (long long)wait);
            }
        }
    }
}

static void on_tick(uv_timer_t *h) {
    rf_bus_t *bus = h->data;
    int64_t now = rf_mono_ms();
    if (!rf_db_connected(bus->db) && rf_db_connect(bus->db) != 0) return;
    /* Events unanswered for too long are resent by the next poll. */
    rf__bus_ack_timeouts(bus, now);
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++)
        for (int li = 0; li < bus->peers[i].n_links; li++)
            if (bus->peers[i].links[li].monitor)
                rf__bus_link_handshakes(&bus->peers[i].links[li], now);
    if (now - bus->last_heartbeat_ms >= HEARTBEAT_MS) {
        bus->last_heartbeat_ms = now;
        if (bus->cfg.replicated) rf__bus_replica_heartbeat(bus);
        if (bus->apply) rf__bus_started_check_others(bus);
        if (bus->backlog_tracked) rf__bus_count_backlog(bus);
    }
    rf__bus_flush_acks(bus);
    rf__bus_vacuum_outbox(bus, now);
    bool periodic = now - bus->last_poll_ms >= bus->cfg.poll_ms;
    if (periodic) bus->last_poll_ms = now;
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        if (rf__bus_came_due(peer, now)) peer->needs_poll = true; /* a retry or deferral is due */
        if (peer->sock && (periodic || peer->needs_poll)) rf__bus_poll_peer(peer);
    }
}

/* ---- construction ------------------------------------------------------------ */

static int start_poll(rf_bus_t *bus, void *sock, uv_poll_t *poll) {
    int fd;
    size_t fdlen = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &fdlen) != 0) return -1;
    if (uv_poll_init(bus->loop, poll, fd) != 0) return -1;
    poll->data = bus;
    return uv_poll_start(poll, UV_READABLE, on_readable);
}

int rf_bus_endpoint_at(const char *list, unsigned idx, char *out, size_t cap) {
    int count = 0;
    bool found = false;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((unsigned)count == idx) {
            if (len >= cap) return -1;
            memcpy(out, p, len);
            out[len] = '\0';
            found = true;
        }
        count++;
        if (!end) break;
        p = end + 1;
    }
    return found ? count : -1;
}

/* Load the keys and start the ZAP handler (before the ROUTER binds). 0 or -1. */
int rf__bus_curve_setup(rf_bus_t *bus, const rf_bus_config_t *cfg, char *err, size_t errlen) {
    bool has_secret = cfg->curve_secret_key_file && cfg->curve_secret_key_file[0];
    bool has_public = cfg->curve_public_keys_file && cfg->curve_public_keys_file[0];
    if (!has_secret && !has_public) return 0;
    if (!has_secret || !has_public) {
        snprintf(err, errlen, "CURVE needs both a secret key file and a public key list");
        return -1;
    }
    if (!rf_curve_available()) {
        snprintf(err, errlen, "CURVE keys are configured but this libzmq has no CURVE support");
        return -1;
    }
    char why[600];
    if (rf_curve_read_secret(cfg->curve_secret_key_file, bus->curve_secret, why, sizeof why) != 0 ||
        rf_curve_public_of(bus->curve_secret, bus->curve_public) != 0) {
        snprintf(err, errlen, "CURVE secret key: %s", why);
        return -1;
    }
    bus->keyring = rf_curve_keyring_load(cfg->curve_public_keys_file, why, sizeof why);
    if (!bus->keyring) {
        snprintf(err, errlen, "CURVE public keys: %s", why);
        return -1;
    }
    const char *mine = rf_curve_keyring_find(bus->keyring, cfg->self_name);
    if (!mine || strcmp(mine, bus->curve_public) != 0) {
        snprintf(err, errlen,
                 "CURVE: %s lists no key for %s matching its secret key (public key %s)",
                 cfg->curve_public_keys_file, cfg->self_name, bus->curve_public);
        return -1;
    }
    bus->zap = zmq_socket(bus->zctx, ZMQ_REP);
    int zero = 0;
    if (!bus->zap || zmq_setsockopt(bus->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(bus->zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot start the CURVE authentication handler: %s",
                 zmq_strerror(errno));
        return -1;
    }
    bus->curve_on = true;
    return 0;
}

/* Watch a link's DEALER for completed handshakes: a consumer that comes
 * back (a restarted process is a new connection) ends the backoff at once,
 * rather than after up to 30 s of it (see rf__bus_link_handshakes). */
static int link_monitor(rf_bus_t *bus, link_t *link, unsigned replica) {
    char addr[96];
    int zero = 0;
    snprintf(addr, sizeof addr, "inproc://rf-link-monitor.%s.%u", link->peer->name, replica);
    if (zmq_socket_monitor(link->sock, addr, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) return -1;
    link->monitor = zmq_socket(bus->zctx, ZMQ_PAIR);
    if (!link->monitor) return -1;
    zmq_setsockopt(link->monitor, ZMQ_LINGER, &zero, sizeof zero);
    return zmq_connect(link->monitor, addr);
}

/* Connect one DEALER per replica of a consuming worker. 0 or -1. */
static int peer_connect(rf_bus_t *bus, peer_t *peer, const char *endpoints, char *err,
                        size_t errlen) {
    int zero = 0, one = 1, hwm = 10000, ivl = 100, ivl_max = 2000;
    const char *server_key = NULL;
    if (bus->curve_on) {
        server_key = rf_curve_keyring_find(bus->keyring, peer->name);
        if (!server_key) {
            snprintf(err, errlen, "CURVE: %s lists no public key for %s",
                     bus->cfg.curve_public_keys_file, peer->name);
            return -1;
        }
    }
    for (unsigned r = 0;; r++) {
        link_t *link = &peer->links[r];
        int count = rf_bus_endpoint_at(endpoints, r, link->endpoint, sizeof link->endpoint);
        if (count < 0 || count > RF_BUS_MAX_REPLICAS) {
            snprintf(err, errlen, "bad endpoint list for %s: '%s' (at most %d, comma-separated)",
                     peer->name, endpoints, RF_BUS_MAX_REPLICAS);
            return -1;
        }
        link->peer = peer;
        link->sock = zmq_socket(bus->zctx, ZMQ_DEALER);
        if (!link->sock) {
            snprintf(err, errlen, "cannot make a socket: %s", zmq_strerror(errno));
            return -1;
        }
        peer->n_links++;
        zmq_setsockopt(link->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(link->sock, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt(link->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(link->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(link->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        if (bus->curve_on && (zmq_setsockopt(link->sock, ZMQ_CURVE_SERVERKEY, server_key,
                                             RF_CURVE_KEY_Z85 + 1) != 0 ||
                              zmq_setsockopt(link->sock, ZMQ_CURVE_PUBLICKEY, bus->curve_public,
                                             RF_CURVE_KEY_Z85 + 1) != 0 ||
                              zmq_setsockopt(link->sock, ZMQ_CURVE_SECRETKEY, bus->curve_secret,
                                             RF_CURVE_KEY_Z85 + 1) != 0)) {
            snprintf(err, errlen, "cannot set CURVE keys toward %s: %s", peer->name,
                     zmq_strerror(errno));
            return -1;
        }
        if (link_monitor(bus, link, r) != 0) {
            snprintf(err, errlen, "cannot watch the bus link to %s: %s", peer->name,
                     zmq_strerror(errno));
            return -1;
        }
        if (zmq_connect(link->sock, link->endpoint) != 0) {
            snprintf(err, errlen, "cannot connect the bus to %s at %s: %s", peer->name,
                     link->endpoint, zmq_strerror(errno));
            return -1;
        }
        if ((int)r + 1 == count) break;
    }
    peer->sock = peer->links[0].sock;
    return 0;
}

rf_bus_t *rf_bus_new(uv_loop_t *loop, rf_db_t *db, const rf_bus_config_t *cfg,
                     rf_bus_apply_fn apply, void *apply_arg, char *err, size_t errlen) {
    rf_bus_t *bus = calloc(1, sizeof *bus);
    if (!bus) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bus->loop = loop;
    bus->db = db;
    bus->cfg = *cfg;
    if (bus->cfg.replica_lease_s <= 0) bus->cfg.replica_lease_s = 10;
    snprintf(bus->self_name, sizeof bus->self_name, "%s", cfg->self_name);
    bus->apply = apply;
    bus->apply_arg = apply_arg;
    rf_ulid_new(bus->instance);
    if (apply) rf__bus_started_check_others(bus);
    bus->batch = calloc((size_t)cfg->batch_max, sizeof *bus->batch);
    bus->batch_events = calloc((size_t)cfg->batch_max, sizeof *bus->batch_events);
    bus->batch_decoded = calloc((size_t)cfg->batch_max, sizeof *bus->batch_decoded);
    bus->batch_fresh = calloc((size_t)cfg->batch_max, sizeof *bus->batch_fresh);
    bus->zctx = zmq_ctx_new();
    if (!bus->batch || !bus->batch_events || !bus->batch_decoded || !bus->batch_fresh ||
        !bus->zctx) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    if (rf__bus_curve_setup(bus, cfg, err, errlen) != 0) goto err;
    int zero = 0, one = 1, hwm = 10000;
    bus->router = zmq_socket(bus->zctx, ZMQ_ROUTER);
    zmq_setsockopt(bus->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(bus->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(bus->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(bus->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (bus->curve_on &&
        (zmq_setsockopt(bus->router, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
         zmq_setsockopt(bus->router, ZMQ_CURVE_SECRETKEY, bus->curve_secret,
                        RF_CURVE_KEY_Z85 + 1) != 0 ||
         zmq_setsockopt(bus->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)) {
        snprintf(err, errlen, "cannot make the bus socket a CURVE server: %s", zmq_strerror(errno));
        goto err;
    }
    if (zmq_bind(bus->router, cfg->bind_endpoint) != 0) {
        snprintf(err, errlen, "cannot bind the bus at %s: %s", cfg->bind_endpoint,
                 zmq_strerror(errno));
        goto err;
    }
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        peer->bus = bus;
        peer->bit = 1u << i;
        peer->name = rf_worker_name(i);
        if (peer->bit == cfg->self_bit) continue;
        if (peer_connect(bus, peer, cfg->peer_endpoints[i], err, errlen) != 0) goto err;
    }
    if (start_poll(bus, bus->router, &bus->router_poll) != 0) {
        snprintf(err, errlen, "cannot watch the bus socket");
        goto err;
    }
    bus->router_poll_started = true;
    if (bus->zap) {
        if (start_poll(bus, bus->zap, &bus->zap_poll) != 0) {
            snprintf(err, errlen, "cannot watch the CURVE authentication socket");
            goto err;
        }
        bus->zap_poll_started = true;
    }
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        for (int l = 0; l < peer->n_links; l++) {
            if (start_poll(bus, peer->links[l].sock, &peer->links[l].poll) != 0) {
                snprintf(err, errlen, "cannot watch the bus socket to %s", peer->name);
                goto err;
            }
            peer->links[l].poll_started = true;
        }
    }
    uv_prepare_init(loop, &bus->prepare);
    bus->prepare.data = bus;
    uv_prepare_start(&bus->prepare, on_prepare);
    uv_idle_init(loop, &bus->idle);
    bus->idle.data = bus;
    uv_timer_init(loop, &bus->timer);
    bus->timer.data = bus;
    uv_timer_start(&bus->timer, on_tick, TICK_MS, TICK_MS);
    bus->last_poll_ms = 0; /* first tick polls everything: catch-up after a restart */
    if (bus->curve_on || cfg->replicated)
        rf_info("event=bus_started bind=%s curve=%s allowed_keys=%zu replica=%u replicated=%s",
                cfg->bind_endpoint, bus->curve_on ? "on" : "off",
                rf_curve_keyring_count(bus->keyring), cfg->replica_id,
                cfg->replicated ? "yes" : "no");
    else rf_info("event=bus_started bind=%s", cfg->bind_endpoint);
    return bus;
err:
    rf_bus_destroy(&bus);
    return NULL;
}

static void on_handle_closed(uv_handle_t *h) {
    rf_bus_t *bus = h->data;
    if (--bus->closing_handles == 0) free(bus);
}

void rf_bus_destroy(rf_bus_t **bus_p) {
    if (!bus_p || !*bus_p) return;
    rf_bus_t *bus = *bus_p;
    *bus_p = NULL;
    rf__bus_discard_emitted(bus);
    free(bus->emitted);
    free(bus->acks);
    rf__bus_acked_counts_clear(bus);
    free(bus->batch);
    free(bus->batch_events);
    free(bus->batch_decoded);
    free(bus->batch_fresh);
    rf_pgarrays_free(bus->cols, (int)(sizeof bus->cols / sizeof bus->cols[0]));
    uv_handle_t *handles[3 + 2 + RF_WORKER_COUNT * RF_BUS_MAX_REPLICAS];
    int nh = 0;
    if (bus->prepare.loop) handles[nh++] = (uv_handle_t *)&bus->prepare;
    if (bus->idle.loop) handles[nh++] = (uv_handle_t *)&bus->idle;
    if (bus->timer.loop) handles[nh++] = (uv_handle_t *)&bus->timer;
    if (bus->router_poll_started) handles[nh++] = (uv_handle_t *)&bus->router_poll;
    if (bus->zap_poll_started) handles[nh++] = (uv_handle_t *)&bus->zap_poll;
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        rf__bus_forget_inflight(peer);
        for (int l = 0; l < peer->n_links; l++)
            if (peer->links[l].poll_started) handles[nh++] = (uv_handle_t *)&peer->links[l].poll;
    }
    /* libuv must stop watching the fds before ZeroMQ closes them. */
    bus->closing_handles = nh + 1;
    for (int i = 0; i < nh; i++) uv_close(handles[i], on_handle_closed);
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++)
        for (int l = 0; l < bus->peers[i].n_links; l++) {
            link_t *link = &bus->peers[i].links[l];
            if (link->monitor) {
                zmq_socket_monitor(link->sock, NULL, 0);
                zmq_close(link->monitor);
            }
            if (link->sock) zmq_close(link->sock);
        }
    if (bus->router) zmq_close(bus->router);
    if (bus->zap) zmq_close(bus->zap);
    rf_curve_keyring_destroy(&bus->keyring);
    if (bus->zctx) zmq_ctx_term(bus->zctx);
    if (--bus->closing_handles == 0) free(bus);
}

/* ---- producing ------------------------------------------------------------------ */

/* Write the transaction's emitted events to the outbox in one INSERT, and
 * mark the ones that must wait behind an older row of the same return toward
 * the same consumer (held: only the poll, which sends heads, may send them).
 * Older means: a row already in the outbox and not acknowledged (an
 * acknowledged row awaiting its DELETE does not count), or an earlier event
 * of this same transaction. Writes emitted[from..]. 0 or -1 (db error: the
 * caller rolls back). */
static int write_emitted(rf_bus_t *bus, size_t from) {
    size_t n = bus->n_emitted - from;
    if (n == 0) return 0;
    emitted_t *emitted = bus->emitted + from;
    enum { EV, DEST, RET, TYPE, PAYLOAD, NCOL };
    rf_pgarray_t *arr = bus->cols;
    if (rf_pgarrays_open(arr, NCOL) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        emitted_t *e = &emitted[i];
        const char *v[PAYLOAD] = {e->event_id, rf_worker_name(rf__bus_bit_index(e->bit)),
                                  e->return_id, e->type};
        if (rf_pgarrays_add_row(arr, PAYLOAD, v) != 0 ||
            rf_pgarray_add_bytea(&arr[PAYLOAD], e->payload, e->len) != 0)
            return -1;
    }
    rf_num_t owner = rf_i64(bus->cfg.replica_id);
    const char *p[] = {rf_pgarray_close(&arr[EV]),      rf_pgarray_close(&arr[DEST]),
                       rf_pgarray_close(&arr[RET]),     rf_pgarray_close(&arr[TYPE]),
                       rf_pgarray_close(&arr[PAYLOAD]), owner.s};
    /* Rows come back in the order of the arrays (one INSERT ... SELECT from
     * unnest); the count sees only rows older than this statement. */
    PGresult *res = rf_db_query(
        bus->db,
        "INSERT INTO outbox (event_id, dest, return_id, type, payload, owner)"
        " SELECT e, d, r, t, b, $6::integer"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])"
        " AS u(e, d, r, t, b)"
        " RETURNING event_id, dest, (SELECT count(*) FROM outbox o WHERE o.dest = outbox.dest"
        " AND o.return_id = outbox.return_id AND o.event_id <> outbox.event_id)",
        6, p);
    if (!res) return -1;
    bool in_order = PQntuples(res) == (int)n;
    for (size_t i = 0; i < n; i++) {
        emitted_t *e = &emitted[i];
        if (!in_order || strcmp(rf_get_str(res, (int)i, 0), e->event_id) != 0 ||
            strcmp(rf_get_str(res, (int)i, 1), rf_worker_name(rf__bus_bit_index(e->bit))) != 0) {
            in_order = false;
            e->held = true; /* cannot tell: the poll sends it in order */
            e->ahead = -1;
            continue;
        }
        /* Rows ahead: older ones not acknowledged, and this write's earlier
         * ones of the same return (the count does not see them). */
        e->ahead = rf_get_i64(res, (int)i, 2) - acked_count_of(bus, e->bit, e->return_id);
        for (size_t j = 0; j < i; j++)
            if (emitted[j].bit == e->bit && strcmp(emitted[j].return_id, e->return_id) == 0)
                e->ahead++;
        e->held = e->ahead != 0;
    }
    PQclear(res);
    return 0;
}

int rf_bus_tx_begin(rf_bus_t *bus) {
    rf_db_group_flush(bus->db); /* outside a request: an open group commits first */
    if (!rf_db_group_open(bus->db)) rf__bus_discard_emitted(bus);
    if (rf_db_connect(bus->db) != 0 || rf_db_begin(bus->db) != 0) return -1;
    bus->emit_mark = bus->n_emitted;
    return 0;
}

/* Send what the committed transaction (or group) emitted, then forget it. */
static void dispatch_emitted(rf_bus_t *bus) {
    bus->backlog += (int64_t)bus->n_emitted;
    for (size_t i = 0; i < bus->n_emitted; i++) {
        emitted_t *e = &bus->emitted[i];
        peer_t *peer = &bus->peers[rf__bus_bit_index(e->bit)];
        /* Replicated, another replica may own an older row of the same
         * return: only the poll (which sees every replica's rows) may send. */
        if (bus->cfg.replicated) peer->needs_poll = true;
        else if (!e->held) rf__bus_dispatch(peer, e->event_id, e->return_id, e->payload, e->len);
        else if (!rf__bus_chain_follows(peer, e->return_id, e->ahead) ||
                 !rf__bus_chain_append(peer, e->event_id, e->return_id, e->payload, e->len))
            peer->needs_poll = true;
    }
    rf__bus_discard_emitted(bus);
}

int rf_bus_tx_commit(rf_bus_t *bus) {
    if (write_emitted(bus, bus->emit_mark) != 0 || rf_db_commit(bus->db) != 0) {
        rf_bus_tx_rollback(bus);
        return -1;
    }
    if (rf_db_in_group(bus->db)) { /* sent once the group commits */
        bus->emit_mark = bus->n_emitted;
        return 0;
    }
    dispatch_emitted(bus);
    return 0;
}

void rf_bus_tx_rollback(rf_bus_t *bus) {
    bool group = rf_db_in_group(bus->db);
    rf_db_rollback(bus->db);
    if (!group) {
        rf__bus_discard_emitted(bus);
        return;
    }
    for (size_t i = bus->emit_mark; i < bus->n_emitted; i++) free(bus->emitted[i].payload);
    bus->n_emitted = bus->emit_mark; /* this request's events only */
}

int rf_bus_group_commit(rf_bus_t *bus) {
    int rc = rf_db_group_commit(bus->db);
    if (rc == 0) dispatch_emitted(bus);
    else rf__bus_discard_emitted(bus);
    bus->emit_mark = 0;
    return rc;
}

int rf_bus_event_init(rf_bus_t *bus, rf_event_t *ev, rf_event_type_t type, const char *return_id,
                      const char *causation_id) {
    if (rf_event_init(ev, type) != 0) return -1;
    char id[RF_ULID_LEN + 1];
    rf_ulid_new(id);
    if (rf_event_set_str(&ev->event_id, id) != 0 ||
        rf_event_set_str(&ev->return_id, return_id) != 0 ||
        rf_event_set_str(&ev->causation_id, causation_id) != 0 ||
        rf_event_set_str(&ev->producer, bus->self_name) != 0) {
        rf_event_clear(ev);
        return -1;
    }
    ev->occurred_at = rf_now_ms();
    return 0;
}

int rf_bus_emit(rf_bus_t *bus, const rf_event_t *ev) {
    unsigned consumers = rf_event_consumers(ev->type) & ~bus->cfg.self_bit;
    if (!consumers) return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rf_event_encode(ev, &buf, &len) != 0) return -1;
    int rc = 0;
    for (unsigned i = 0; i < RF_WORKER_COUNT && rc == 0; i++) {
        if (!(consumers & (1u << i))) continue;
        if (bus->n_emitted == bus->cap_emitted) {
            size_t ncap = bus->cap_emitted ? bus->cap_emitted * 2 : 64;
            emitted_t *ne = realloc(bus->emitted, ncap * sizeof *ne);
            if (!ne) {
                rc = -1; /* nothing is written: the caller rolls back */
                break;
            }
            bus->emitted = ne;
            bus->cap_emitted = ncap;
        }
        emitted_t *e = &bus->emitted[bus->n_emitted];
        e->payload = malloc(len);
        if (!e->payload) {
            rc = -1;
            break;
        }
        memcpy(e->payload, buf, len);
        e->len = len;
        e->bit = 1u << i;
        e->type = rf_event_type_name(ev->type);
        e->held = false;
        e->ahead = -1;
        snprintf(e->event_id, sizeof e->event_id, "%s", ev->event_id);
        snprintf(e->return_id, sizeof e->return_id, "%s", ev->return_id);
        bus->n_emitted++;
    }
    free(buf);
    return rc;
}

/* ---- operations ------------------------------------------------------------------ */

int rf_bus_stats(rf_bus_t *bus, rf_bus_stats_t *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < RF_WORKER_COUNT; i++) {
        peer_t *peer = &bus->peers[i];
        if (!peer->sock) continue;
        rf_bus_peer_stats_t *s = &out->peers[i];
        s->name = peer->name;
        s->in_flight = peer->n_inflight;
        s->sent = peer->sent;
        s->acked = peer->acked;
        s->retried = peer->retried;
        s->deferred = peer->deferred;
        s->rejected = peer->rejected;
        s->timeouts = peer->timeouts;
    }
    out->inbox_applied = bus->inbox_applied;
    out->inbox_duplicates = bus->inbox_duplicates;
    out->inbox_deferred = bus->inbox_deferred;
    out->inbox_rejected = bus->inbox_rejected;
    out->inbox_failed = bus->inbox_failed;
    out->peers_refused = bus->curve_refused;
    if (rf_db_connect(bus->db) != 0) return -1;
    PGresult *res = rf_db_query(
        bus->db,
        "SELECT dest, count(*), (extract(epoch FROM now() - min(created_at)) * 1000)::bigint"
        " FROM outbox GROUP BY dest UNION ALL"
        " SELECT '', count(*), 0 FROM dead_letter",
        0, NULL);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *dest = rf_get_str(res, r, 0);
        if (*dest == '\0') {
            out->dead_letters = rf_get_i64(res, r, 1);
            continue;
        }
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++)
            if (out->peers[i].name && strcmp(out->peers[i].name, dest) == 0) {
                out->peers[i].pending = rf_get_i64(res, r, 1);
                out->peers[i].oldest_age_ms = rf_get_i64(res, r, 2);
            }
    }
    PQclear(res);
    return 0;
}

int rf_bus_dead_letter_replay(rf_bus_t *bus, int64_t id) {
    rf_num_t n = rf_i64(id), owner = rf_i64(bus->cfg.replica_id);
    const char *p[] = {n.s, owner.s};
    if (rf_db_connect(bus->db) != 0) return -1;
    int64_t moved = rf_db_exec_count(
        bus->db,
        "WITH moved AS (DELETE FROM dead_letter WHERE id = $1::bigint RETURNING *)"
        " INSERT INTO outbox (event_id, dest, return_id, type, payload, created_at, owner)"
        " SELECT event_id, dest, return_id, type, payload, created_at, $2::integer FROM moved"
        " ON CONFLICT (event_id, dest) DO NOTHING",
        2, p);
    if (moved < 0) return -1;
    if (moved > 0) {
        rf_info("event=dead_letter_replayed id=%lld", (long long)id);
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) bus->peers[i].needs_poll = true;
    }
    return moved > 0 ? 1 : 0;
}

int rf_bus_dead_letter_discard(rf_bus_t *bus, int64_t id, const char *who) {
    rf_num_t n = rf_i64(id);
    const char *p[] = {n.s};
    if (rf_db_connect(bus->db) != 0) return -1;
    PGresult *res = rf_db_query(bus->db,
                                "DELETE FROM dead_letter WHERE id = $1::bigint"
                                " RETURNING event_id, dest, return_id",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found)
        rf_warn("event=dead_letter_discarded id=%lld event_id=%s dest=%s return_id=%s by=%s",
                (long long)id, rf_get_str(res, 0, 0), rf_get_str(res, 0, 1), rf_get_str(res, 0, 2),
                who ? who : "-");
    PQclear(res);
    return found;
}

rf_db_t *rf_bus_db(rf_bus_t *bus) { return bus->db; }
