/*
 * test_auth.c: unit tests for bearer tokens and roles (http/auth.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/auth.h"

static char path[64];

static void write_file(const char *text) {
    strcpy(path, "/tmp/rf-test-auth-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void lookup_by_token(void **state) {
    (void)state;
    write_file("# tokens\n"
               "aaaaaaaaaaaaaaaa1 alice cs   # customer service\n"
               "\n"
               "bbbbbbbbbbbbbbbb2 bob cs_supervisor\n"
               "cccccccccccccccc3 carol warehouse\n");
    char err[256];
    rf_auth_t *auth = rf_auth_load(path, err, sizeof err);
    unlink(path);
    assert_non_null(auth);
    const rf_principal_t *p = rf_auth_lookup(auth, "Bearer aaaaaaaaaaaaaaaa1");
    assert_non_null(p);
    assert_string_equal(p->user, "alice");
    assert_int_equal(p->role, RF_ROLE_CS);
    assert_true(p->authenticated);
    p = rf_auth_lookup(auth, "bearer   bbbbbbbbbbbbbbbb2  ");
    assert_non_null(p);
    assert_string_equal(p->user, "bob");
    assert_null(rf_auth_lookup(auth, "Bearer aaaaaaaaaaaaaaaa"));   /* a prefix */
    assert_null(rf_auth_lookup(auth, "Bearer aaaaaaaaaaaaaaaa1x")); /* longer */
    assert_null(rf_auth_lookup(auth, "Basic aaaaaaaaaaaaaaaa1"));
    assert_null(rf_auth_lookup(auth, NULL));
    assert_null(rf_auth_lookup(auth, ""));
    rf_auth_destroy(&auth);
    assert_null(auth);
    rf_auth_destroy(&auth); /* harmless */
}

static void bad_files_are_named(void **state) {
    (void)state;
    const char *cases[][2] = {
        {"short alice cs\n", "line 1"},
        {"aaaaaaaaaaaaaaaa1 alice boss\n", "unknown role"},
        {"aaaaaaaaaaaaaaaa1 alice\n", "expected"},
        {"aaaaaaaaaaaaaaaa1 alice cs\naaaaaaaaaaaaaaaa1 bob admin\n", "already listed"},
        {"# nothing\n", "no token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(cases[i][0]);
        char err[256] = "";
        rf_auth_t *auth = rf_auth_load(path, err, sizeof err);
        unlink(path);
        assert_null(auth);
        assert_non_null(strstr(err, cases[i][1]));
    }
    char err[256];
    assert_null(rf_auth_load("/nonexistent/tokens", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/tokens"));
}

static void roles_and_open_mode(void **state) {
    (void)state;
    assert_int_equal(rf_role_parse("finance"), RF_ROLE_FINANCE);
    assert_int_equal(rf_role_parse("root"), 0);
    assert_string_equal(rf_role_name(RF_ROLE_CS_SUPERVISOR), "cs_supervisor");
    assert_string_equal(rf_role_name(RF_ROLE_CS | RF_ROLE_ADMIN), "?");
    const rf_principal_t *open = rf_auth_open_principal();
    assert_int_equal(open->role, RF_ROLE_ADMIN);
    assert_false(open->authenticated);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_by_token),
        cmocka_unit_test(bad_files_are_named),
        cmocka_unit_test(roles_and_open_mode),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
