/*
 * replica.c: replicas (see bus/bus.h): the endpoint lists, the rendezvous
 * routing of each return to one usable replica of its consumer, and this
 * replica's lease, with the takeover of the outbox rows of dead replicas.
 */
#include "bus/bus_internal.h"

#include <string.h>
#include <unistd.h>

#include "runtime/log.h"

/* ---- endpoint lists ------------------------------------------------------ */

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

/* ---- routing ------------------------------------------------------------- */

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

/* ---- leases and takeover ------------------------------------------------- */

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
