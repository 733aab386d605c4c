/*
 * dispatch.c: the producer's events on their way, in memory (the outbox rows
 * stay the truth): sending a row over the link its return is routed to, the
 * events in flight (one per return, up to `window` per consumer), the chains
 * of newer events that follow one in flight, the consumers' answers, ack
 * timeouts, and the backoff of a link that does not answer.
 */
#include "bus/bus_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

#define RECV_BUDGET 4096  /* replies drained per socket per pass */
#define LINK_DOWN_MS 1000 /* a replica that refused a send is skipped this long */

/* ---- sending ------------------------------------------------------------- */

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

/* ---- chains -------------------------------------------------------------- */

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

/* ---- answers and timeouts ------------------------------------------------ */

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
