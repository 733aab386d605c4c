/*
 * sockets.c: the bus's ZeroMQ sockets in the libuv loop (bus/bus.h has the
 * rules, bus/bus_internal.h the shape of the module): the ROUTER this worker
 * binds and one DEALER per replica of each consumer, each watched on its
 * ZMQ_FD and drained until EAGAIN on every readable notice and before the
 * loop blocks (ZMQ_FD is edge-triggered); the tick that drives timeouts,
 * polls and leases; closing it all; and the figures operations read.
 */
#include "bus/bus_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

#define HEARTBEAT_MS 1000 /* replica lease renewal and takeover check */

/* ---- small helpers ------------------------------------------------------- */

/* The index (in peers[], and for rf_worker_name) of a worker's RF_W_* bit. */
unsigned rf__bus_bit_index(unsigned bit) {
    unsigned i = 0;
    while (i < RF_WORKER_COUNT && (1u << i) != bit) i++;
    return i;
}

/* Copy a frame into dst as text, cut to cap - 1 bytes and NUL-terminated. */
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

/* ---- loop integration ---------------------------------------------------- */

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

/* ---- construction -------------------------------------------------------- */

static int start_poll(rf_bus_t *bus, void *sock, uv_poll_t *poll) {
    int fd;
    size_t fdlen = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &fdlen) != 0) return -1;
    if (uv_poll_init(bus->loop, poll, fd) != 0) return -1;
    poll->data = bus;
    return uv_poll_start(poll, UV_READABLE, on_readable);
}

/* An integer socket option and its value. */
typedef struct {
    int option;
    int value;
} int_option_t;

/* Set integer options on a socket. 0, or -1 (errno set) at the first one
 * refused: a socket without its high-water marks or linger is not the one the
 * delivery rules were written for, so start-up stops. */
static int set_int_options(void *sock, const int_option_t *opts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (zmq_setsockopt(sock, opts[i].option, &opts[i].value, sizeof opts[i].value) != 0)
            return -1;
    return 0;
}

/* Watch a link's DEALER for completed handshakes: a consumer that comes
 * back (a restarted process is a new connection) ends the backoff at once,
 * rather than after up to 30 s of it (see rf__bus_link_handshakes). */
static int link_monitor(rf_bus_t *bus, link_t *link, unsigned replica) {
    char addr[96];
    const int_option_t no_linger[] = {{ZMQ_LINGER, 0}};
    snprintf(addr, sizeof addr, "inproc://rf-link-monitor.%s.%u", link->peer->name, replica);
    if (zmq_socket_monitor(link->sock, addr, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) return -1;
    link->monitor = zmq_socket(bus->zctx, ZMQ_PAIR);
    if (!link->monitor || set_int_options(link->monitor, no_linger, 1) != 0) return -1;
    return zmq_connect(link->monitor, addr);
}

/* Connect one DEALER per replica of a consuming worker. 0 or -1. */
static int peer_connect(rf_bus_t *bus, peer_t *peer, const char *endpoints, char *err,
                        size_t errlen) {
    const int_option_t options[] = {
        {ZMQ_LINGER, 0},
        {ZMQ_IMMEDIATE, 1},
        {ZMQ_SNDHWM, 10000},
        {ZMQ_RECONNECT_IVL, 100},
        {ZMQ_RECONNECT_IVL_MAX, 2000},
    };
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
        if (set_int_options(link->sock, options, sizeof options / sizeof options[0]) != 0) {
            snprintf(err, errlen, "cannot set the options of the link to %s: %s", peer->name,
                     zmq_strerror(errno));
            return -1;
        }
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
    const int_option_t router_options[] = {
        {ZMQ_LINGER, 0}, {ZMQ_ROUTER_MANDATORY, 1}, {ZMQ_RCVHWM, 10000}, {ZMQ_SNDHWM, 10000}};
    const int one = 1;
    bus->router = zmq_socket(bus->zctx, ZMQ_ROUTER);
    if (!bus->router || set_int_options(bus->router, router_options,
                                        sizeof router_options / sizeof router_options[0]) != 0) {
        snprintf(err, errlen, "cannot make the bus socket: %s", zmq_strerror(errno));
        goto err;
    }
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

/* ---- operations ---------------------------------------------------------- */

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

rf_db_t *rf_bus_db(rf_bus_t *bus) { return bus->db; }
