/*
 * test_secrets.c: unit tests for secrets at rest (runtime/secrets.h): sealing
 * round trips, the context bound into the tag, tampering, another key, and the
 * key file's checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/secrets.h"

/* A token as Kuaishou issues them: long, with punctuation; and a Chinese one. */
static const char *const TOKENS[] = {
    "ChFvYXV0aC5hY2Nlc3NUb2tlbhJgR3xVx1-8Zq3b9rLwKk0vQmG7dHhXc2x5Tw3Zb8a1Yq9m0Vn2Kp5Jr6Ls"
    "4Hd7Fg8Ae3Wc_oP-KuaiShou.Token/==",
    "店铺令牌-快手-1234567890123456789",
    "",
};

static void key_of(rf_secrets_key_t *k, uint8_t fill) { memset(k->key, fill, sizeof k->key); }

static void seal_open_round_trip(void **state) {
    (void)state;
    rf_secrets_key_t k;
    key_of(&k, 0x5a);
    for (size_t i = 0; i < sizeof TOKENS / sizeof *TOKENS; i++) {
        size_t n = strlen(TOKENS[i]), cap = rf_secrets_sealed_size(n);
        char sealed[1024], again[1024], plain[512];
        assert_true(cap <= sizeof sealed);
        int s = rf_secrets_seal(&k, "kuaishou/1234567890123456/access", TOKENS[i], n, sealed, cap);
        assert_int_equal((size_t)s + 1, cap);
        assert_int_equal(strncmp(sealed, "v1.", 3), 0);
        assert_null(strstr(sealed, n ? TOKENS[i] : "\x01")); /* never in the clear */
        /* a fresh nonce each time: the same token seals differently */
        assert_int_equal(rf_secrets_seal(&k, "kuaishou/1234567890123456/access", TOKENS[i], n,
                                         again, sizeof again),
                         s);
        assert_string_not_equal(sealed, again);
        assert_int_equal(
            rf_secrets_open(&k, "kuaishou/1234567890123456/access", sealed, plain, sizeof plain),
            (int)n);
        assert_string_equal(plain, TOKENS[i]);
        /* too small an output: refused, nothing half-written */
        assert_int_equal(rf_secrets_seal(&k, "c", TOKENS[i], n, sealed, cap - 1), -1);
    }
}

static void context_key_and_tampering_refused(void **state) {
    (void)state;
    rf_secrets_key_t k, other;
    key_of(&k, 0x5a);
    key_of(&other, 0x5b);
    const char *tok = TOKENS[0];
    char sealed[1024], plain[512];
    int s = rf_secrets_seal(&k, "kuaishou/1111111111111111/refresh", tok, strlen(tok), sealed,
                            sizeof sealed);
    assert_true(s > 0);
    /* another shop, another slot, another key */
    assert_int_equal(
        rf_secrets_open(&k, "kuaishou/2222222222222222/refresh", sealed, plain, sizeof plain), -1);
    assert_string_equal(plain, "");
    assert_int_equal(
        rf_secrets_open(&k, "kuaishou/1111111111111111/access", sealed, plain, sizeof plain), -1);
    assert_int_equal(
        rf_secrets_open(&other, "kuaishou/1111111111111111/refresh", sealed, plain, sizeof plain),
        -1);
    /* every changed character is refused */
    for (int i = 3; i < s; i += 7) {
        char bad[1024];
        memcpy(bad, sealed, (size_t)s + 1);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_equal(
            rf_secrets_open(&k, "kuaishou/1111111111111111/refresh", bad, plain, sizeof plain), -1);
    }
    /* not a sealed value at all */
    assert_int_equal(rf_secrets_open(&k, "c", tok, plain, sizeof plain), -1);
    assert_int_equal(rf_secrets_open(&k, "c", "v1.", plain, sizeof plain), -1);
    assert_int_equal(rf_secrets_open(&k, "c", "v1.!!!!", plain, sizeof plain), -1);
    /* an output too small for the value */
    assert_int_equal(rf_secrets_open(&k, "kuaishou/1111111111111111/refresh", sealed, plain, 10),
                     -1);
}

static char *write_key_file(const char *content, size_t n, mode_t mode) {
    char *path = strdup("/tmp/rf-test-key-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    return path;
}

static void key_file_checks(void **state) {
    (void)state;
    rf_secrets_key_t k, raw;
    char err[256];
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
    char *p = write_key_file(hex, strlen(hex), 0600);
    assert_int_equal(rf_secrets_key_load(p, &k, err, sizeof err), 0);
    assert_int_equal(k.key[0], 0x00);
    assert_int_equal(k.key[31], 0xff);
    unlink(p);
    free(p);
    p = write_key_file((const char *)k.key, sizeof k.key, 0400);
    assert_int_equal(rf_secrets_key_load(p, &raw, err, sizeof err), 0);
    assert_memory_equal(raw.key, k.key, sizeof k.key);
    unlink(p);
    free(p);
    /* readable by the group: refused, the message names the file and the mend */
    p = write_key_file(hex, strlen(hex), 0640);
    assert_int_equal(rf_secrets_key_load(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "chmod 600"));
    unlink(p);
    free(p);
    /* too short, not hex */
    p = write_key_file("00112233", 8, 0600);
    assert_int_equal(rf_secrets_key_load(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a key"));
    unlink(p);
    free(p);
    const char *nothex = "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    p = write_key_file(nothex, strlen(nothex), 0600);
    assert_int_equal(rf_secrets_key_load(p, &k, err, sizeof err), -1);
    assert_null(strstr(err, "zz11")); /* the file's content is never echoed */
    unlink(p);
    free(p);
    assert_int_equal(rf_secrets_key_load("/nonexistent/rf-key", &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seal_open_round_trip),
        cmocka_unit_test(context_key_and_tampering_refused),
        cmocka_unit_test(key_file_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
