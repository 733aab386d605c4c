/*
 * inbox.c: the consumer side of the bus (see bus/bus.h): events received on
 * the ROUTER are applied in batches, one transaction each, their ids recorded
 * in the inbox by that same transaction (a redelivered event is acknowledged
 * again and has no second effect), and answered after COMMIT. A failed batch
 * is retried one event per transaction; one that another transaction's lock
 * held up is deferred whole.
 */
#include "bus/bus_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

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

/* An own_dedup consumer's batch: every decoded event is fresh but for a
 * second copy of an id earlier in the batch (the consumer's flush tells the
 * ones applied in an earlier batch). */
static void fresh_in_batch(const rf_event_t *evs, const bool *decoded, size_t n, bool *fresh) {
    for (size_t i = 0; i < n; i++) {
        fresh[i] = decoded[i];
        for (size_t j = 0; j < i && fresh[i]; j++)
            if (decoded[j] && strcmp(evs[j].event_id, evs[i].event_id) == 0) fresh[i] = false;
    }
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
    if ((r == RF_APPLY_DEFER || r == RF_APPLY_REJECT) && !bus->hooks.own_dedup) {
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
    if (bus->hooks.own_dedup) fresh_in_batch(evs, decoded, n, fresh);
    if (rf_db_exec(bus->db, "SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL) != 0 ||
        (!bus->hooks.own_dedup && inbox_insert(bus, evs, decoded, n, fresh) != 0)) {
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
    else
        for (size_t i = 0; i < n; i++) msgs[i].reply = NULL; /* not kept: see fail */
    goto out;
fail:
    if (blocked_by_lock(bus->db)) rc = APPLY_BLOCKED;
    rf_bus_tx_rollback(bus);
    /* nothing of the batch was kept: no answer may say otherwise (an ACK
     * set while applying would make its producer drop an event never
     * applied) */
    for (size_t i = 0; i < n; i++) msgs[i].reply = NULL;
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
        if (!bus->hooks.own_dedup &&
            rf_db_exec(bus->db, "DELETE FROM inbox WHERE event_id = $1", 1, q) != 0)
            return -1;
        m->reply = "DEFER";
        snprintf(m->reason, sizeof m->reason, "%s", why);
        bus->inbox_applied--;
        return 0;
    }
    return -1;
}

int rf_bus_duplicate_applied(rf_bus_t *bus, const char *event_id) {
    for (size_t i = 0; i < bus->n_applying; i++) {
        inmsg_t *m = &bus->applying[i];
        if (!m->reply || strcmp(m->reply, "ACK") != 0 || strcmp(m->event_id, event_id) != 0)
            continue;
        snprintf(m->reason, sizeof m->reason, "duplicate");
        bus->inbox_applied--;
        bus->inbox_duplicates++;
        rf_debug("event=duplicate event_id=%s return_id=%s", m->event_id, m->return_id);
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
        /* Isolate the failing event: one transaction per event. Until its
         * own transaction commits, no event has an answer. */
        for (size_t i = 0; i < n; i++) msgs[i].reply = NULL;
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
