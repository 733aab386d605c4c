/*
 * outbox.c: the producer side of the bus, in the outbox (see bus/bus.h):
 * events emitted inside the caller's transaction are written there, one row
 * per consumer, just before COMMIT and handed to the dispatcher after it;
 * acknowledged rows are deleted in batches; the poll sends what is due (the
 * oldest row of each return); answered failures and deferrals back off and,
 * past their limits, go to the dead letters. The statements a delivery
 * makes on the outbox, from its INSERT to its DELETE, are all here (but the
 * move to dead_letter: dead_letter.c; the table: migrations.c).
 */
#include "bus/bus_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

#define VACUUM_AFTER_ROWS 5000 /* outbox rows deleted between two VACUUMs */

/* ---- acknowledged rows --------------------------------------------------- */

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

/* Forget the counts (their rows were deleted, or the bus is closing). */
void rf__bus_acked_counts_clear(rf_bus_t *bus) {
    /* The table goes first (HASH_CLEAR frees only uthash's own memory); the
     * items are then freed along their insertion list. */
    acked_count_t *c = bus->acked_by_return;
    HASH_CLEAR(hh, bus->acked_by_return);
    while (c) {
        acked_count_t *next = c->hh.next;
        free(c);
        c = next;
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

/* ---- producing, inside a transaction ------------------------------------- */

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

/* Send a committed event now, or chain it behind the event of its return that
 * is in flight. False: neither was possible, the poll will send it. */
static bool send_or_chain(peer_t *peer, const emitted_t *e) {
    if (!e->held) {
        rf__bus_dispatch(peer, e->event_id, e->return_id, e->payload, e->len);
        return true;
    }
    return rf__bus_chain_follows(peer, e->return_id, e->ahead) &&
           rf__bus_chain_append(peer, e->event_id, e->return_id, e->payload, e->len);
}

/* Send what the committed transaction (or group) emitted, then forget it. */
static void dispatch_emitted(rf_bus_t *bus) {
    bus->backlog += (int64_t)bus->n_emitted;
    for (size_t i = 0; i < bus->n_emitted; i++) {
        emitted_t *e = &bus->emitted[i];
        peer_t *peer = &bus->peers[rf__bus_bit_index(e->bit)];
        /* Replicated, another replica may own an older row of the same
         * return: only the poll (which sees every replica's rows) may send. */
        if (bus->cfg.replicated || !send_or_chain(peer, e)) peer->needs_poll = true;
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

void rf__bus_discard_emitted(rf_bus_t *bus) {
    for (size_t i = 0; i < bus->n_emitted; i++) free(bus->emitted[i].payload);
    bus->n_emitted = 0;
}

/* ---- polling and resend -------------------------------------------------- */

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

/* Backoff after the n-th answered failure: 200 ms doubling, capped at 30 s. */
static double backoff_seconds(int64_t attempts) {
    double s = 0.2;
    for (int64_t i = 1; i < attempts && s < 30.0; i++) s *= 2;
    return s > 30.0 ? 30.0 : s;
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

/* ---- the outbox as a queue ----------------------------------------------- */

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
