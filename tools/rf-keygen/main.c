/*
 * rf-keygen: make CURVE key pairs for the bus (bus/curve.h).
 *
 *   rf-keygen DIR [NAME...]   a key pair per NAME (default: the five workers):
 *                             DIR/NAME.key (secret, 0600) and a line per key
 *                             in DIR/public_keys
 *   rf-keygen --print         one key pair on stdout: `public secret`
 *
 * Then give each worker RF_CURVE_SECRET_KEY_FILE=DIR/<worker>.key and every
 * worker RF_CURVE_PUBLIC_KEYS_FILE=DIR/public_keys.
 */
#include <stdio.h>
#include <string.h>

#include "bus/curve.h"
#include "proto/proto.h"

int main(int argc, char **argv) {
    char err[512];
    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        char pub[RF_CURVE_KEY_Z85 + 1], sec[RF_CURVE_KEY_Z85 + 1];
        if (rf_curve_keypair(pub, sec) != 0) {
            fprintf(stderr, "rf-keygen: this libzmq has no CURVE support\n");
            return 1;
        }
        printf("%s %s\n", pub, sec);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: rf-keygen DIR [NAME...] | rf-keygen --print\n");
        return 2;
    }
    const char *names[64];
    size_t n = 0;
    if (argc > 2) {
        for (int i = 2; i < argc && n < 64; i++) names[n++] = argv[i];
    } else {
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) names[n++] = rf_worker_name(i);
    }
    if (rf_curve_keygen_dir(argv[1], names, n, stdout, err, sizeof err) != 0) {
        fprintf(stderr, "rf-keygen: %s\n", err);
        return 1;
    }
    return 0;
}
