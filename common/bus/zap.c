/*
 * zap.c: CURVE on the bus's links (the keys themselves: bus/curve.h): this
 * worker's keys and the list of who may connect, loaded before the ROUTER
 * binds, and the ZAP handler that admits only listed client keys to it.
 */
#include "bus/bus_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

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
