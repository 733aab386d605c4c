/*
 * ids.c: ULIDs and clocks (see runtime/ids.h).
 */
#include "runtime/ids.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int64_t rf_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rf_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rf_ulid_new(char out[RF_ULID_LEN + 1]) {
    static int64_t last_ms = -1;
    static uint8_t last_rand[10];
    int64_t ms = rf_now_ms();
    uint8_t rnd[10];
    if (ms <= last_ms) {
        /* Same (or earlier) millisecond: keep the time, increment the random part. */
        ms = last_ms;
        memcpy(rnd, last_rand, sizeof rnd);
        for (int i = 9; i >= 0; i--)
            if (++rnd[i] != 0) break;
    } else if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* getrandom on Linux does not fail for 10 bytes once booted; be safe anyway. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        for (int i = 0; i < 10; i++) rnd[i] = (uint8_t)((ts.tv_nsec >> (i * 3)) ^ (i * 37));
    }
    last_ms = ms;
    memcpy(last_rand, rnd, sizeof rnd);

    uint8_t bytes[16];
    for (int i = 0; i < 6; i++) bytes[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    memcpy(bytes + 6, rnd, 10);
    /* 128 bits -> 26 base32 digits (the first digit carries 3 bits). */
    int bit = -2; /* 26*5 = 130 bits: two leading zero bits */
    for (int i = 0; i < RF_ULID_LEN; i++, bit += 5) {
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int pos = bit + b;
            unsigned set = pos < 0 ? 0 : (bytes[pos / 8] >> (7 - pos % 8)) & 1u;
            v = (v << 1) | set;
        }
        out[i] = crockford[v];
    }
    out[RF_ULID_LEN] = '\0';
}
