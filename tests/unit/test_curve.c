/*
 * test_curve.c: unit tests for CURVE key handling (bus/curve.h) and the bus's
 * endpoint lists (rf_bus_endpoint_at, bus/bus.h): key pairs and their public
 * halves, key files written by rf_curve_keygen_dir and read back (Z85 keys
 * may contain '#'), refusals of loose permissions and malformed lines.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "bus/bus.h"
#include "bus/curve.h"

static void keypair_and_public(void **state) {
    (void)state;
    if (!rf_curve_available()) skip();
    char pub[RF_CURVE_KEY_Z85 + 1], sec[RF_CURVE_KEY_Z85 + 1], pub2[RF_CURVE_KEY_Z85 + 1];
    assert_int_equal(rf_curve_keypair(pub, sec), 0);
    assert_int_equal(strlen(pub), RF_CURVE_KEY_Z85);
    assert_int_equal(rf_curve_public_of(sec, pub2), 0);
    assert_string_equal(pub, pub2);
    assert_int_equal(rf_curve_public_of("too short", pub2), -1);
}

static void keygen_dir_round_trip(void **state) {
    (void)state;
    if (!rf_curve_available()) skip();
    char dir[] = "/tmp/rf-curve-XXXXXX", err[600], path[256];
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"intake", "review"};
    assert_int_equal(rf_curve_keygen_dir(dir, names, 2, NULL, err, sizeof err), 0);
    /* A second run refuses to overwrite. */
    assert_int_equal(rf_curve_keygen_dir(dir, names, 1, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    snprintf(path, sizeof path, "%s/public_keys", dir);
    rf_curve_keyring_t *kr = rf_curve_keyring_load(path, err, sizeof err);
    assert_non_null(kr);
    assert_int_equal(rf_curve_keyring_count(kr), 2);
    char sec[RF_CURVE_KEY_Z85 + 1], pub[RF_CURVE_KEY_Z85 + 1];
    snprintf(path, sizeof path, "%s/review.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(rf_curve_read_secret(path, sec, err, sizeof err), 0);
    assert_int_equal(rf_curve_public_of(sec, pub), 0);
    assert_string_equal(rf_curve_keyring_find(kr, "review"), pub);
    assert_null(rf_curve_keyring_find(kr, "refund"));
    uint8_t bin[RF_CURVE_KEY_BIN];
    assert_non_null(zmq_z85_decode(bin, pub));
    assert_string_equal(rf_curve_keyring_lookup(kr, bin), "review");
    bin[0] ^= 1;
    assert_null(rf_curve_keyring_lookup(kr, bin));
    rf_curve_keyring_destroy(&kr);
    assert_null(kr);
    rf_curve_keyring_destroy(&kr); /* harmless twice */
    /* Readable by others: refused. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(rf_curve_read_secret(path, sec, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    unlink(path);
    snprintf(path, sizeof path, "%s/intake.key", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/public_keys", dir);
    unlink(path);
    rmdir(dir);
}

static void keyring_lines(void **state) {
    (void)state;
    char path[] = "/tmp/rf-keys-XXXXXX", err[600];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* '#' inside a key is part of it; a line starting with '#' is a comment. */
    char pub[RF_CURVE_KEY_Z85 + 1], sec[RF_CURVE_KEY_Z85 + 1];
    bool hash = false;
    for (int i = 0; i < 100000 && !hash && rf_curve_available(); i++) {
        assert_int_equal(rf_curve_keypair(pub, sec), 0);
        hash = strchr(pub, '#') != NULL;
    }
    if (!hash) skip();
    fprintf(f, "# comment\n\n  review  %s\nintake\t%s\n", sec, pub);
    fclose(f);
    rf_curve_keyring_t *kr = rf_curve_keyring_load(path, err, sizeof err);
    assert_non_null(kr);
    assert_string_equal(rf_curve_keyring_find(kr, "intake"), pub);
    assert_int_equal(rf_curve_keyring_count(kr), 2);
    rf_curve_keyring_destroy(&kr);
    f = fopen(path, "w");
    fputs("review not-a-key\n", f);
    fclose(f);
    assert_null(rf_curve_keyring_load(path, err, sizeof err));
    assert_non_null(strstr(err, "line 1"));
    f = fopen(path, "w");
    fclose(f);
    assert_null(rf_curve_keyring_load(path, err, sizeof err));
    assert_non_null(strstr(err, "no public key"));
    unlink(path);
    assert_null(rf_curve_keyring_load("/nonexistent/keys", err, sizeof err));
}

static void endpoint_lists(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(rf_bus_endpoint_at("tcp://a:1", 0, out, sizeof out), 1);
    assert_string_equal(out, "tcp://a:1");
    assert_int_equal(rf_bus_endpoint_at("tcp://a:1", 1, out, sizeof out), -1);
    assert_int_equal(rf_bus_endpoint_at("tcp://a:1,tcp://b:2,tcp://c:3", 1, out, sizeof out), 3);
    assert_string_equal(out, "tcp://b:2");
    assert_int_equal(rf_bus_endpoint_at("tcp://a:1,tcp://b:2,tcp://c:3", 2, out, sizeof out), 3);
    assert_string_equal(out, "tcp://c:3");
    assert_int_equal(rf_bus_endpoint_at("tcp://a-very-long-host-name:1", 0, out, 8), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keypair_and_public),
        cmocka_unit_test(keygen_dir_round_trip),
        cmocka_unit_test(keyring_lines),
        cmocka_unit_test(endpoint_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
