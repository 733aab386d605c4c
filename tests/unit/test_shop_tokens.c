/*
 * test_shop_tokens.c: unit tests for the shops' tokens a consumer keeps
 * (platform/shop_tokens.h), without a database: the sealing context and the
 * ordering key, the checks of a shop.token event (and that a malformed one is
 * refused before anything is written), a token sealed by intake opening for
 * its shop only, how a call picks its token, the RF_SECRETS_KEY_FILE setting,
 * and a shop.token event through the codec with its "shop:..." ordering key.
 */
#include <fcntl.h>
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

#include "platform/shop_tokens.h"
#include "proto/proto.h"
#include "runtime/secrets.h"

#define OPEN_ID "3f9c2a7b5e1d4c6a8b0f2e4d6c8a0b1d" /* a Kuaishou seller open_id */
#define DY_SHOP "7391823746512093846"              /* a Douyin shop id */
#define TOKEN "ChFvYXV0aC5hY2Nlc3NUb2tlbhJgR3xVx1-8Zq3b9rLwKk0vQmG7dHhXc2x5Tw3Z.KS/=="

static void key_of(rf_secrets_key_t *k, uint8_t fill) { memset(k->key, fill, sizeof k->key); }

/* A token sealed as intake seals it: context "<platform>/<shop_id>/access". */
static void seal_for(const rf_secrets_key_t *k, const char *platform, const char *shop,
                     const char *slot, const char *token, char *out, size_t cap) {
    char context[200];
    snprintf(context, sizeof context, "%s/%s/%s", platform, shop, slot);
    assert_true(rf_secrets_seal(k, context, token, strlen(token), out, cap) > 0);
}

/* A well-formed shop.token event of an active Kuaishou shop. */
static void event_of(rf_event_t *ev, const char *sealed, int64_t version) {
    assert_int_equal(rf_event_init(ev, RF_EV_SHOP_TOKEN), 0);
    rf_body_shop_token_t *b = &ev->body.shop_token;
    assert_int_equal(
        rf_event_set_str(&ev->return_id, "shop:kuaishou:" OPEN_ID) |
            rf_event_set_str(&ev->event_id, "01JEXAMPLE0000000000000000") |
            rf_event_set_str(&ev->producer, "intake") | rf_event_set_str(&b->platform, "kuaishou") |
            rf_event_set_str(&b->shop_id, OPEN_ID) | rf_event_set_str(&b->status, "active") |
            rf_event_set_str(&b->access_token_sealed, sealed),
        0);
    b->access_expires_at = 1893456000000;
    b->token_version = version;
}

static void context_and_ordering_key(void **state) {
    (void)state;
    char out[128];
    assert_int_equal(rf_shop_tokens_context("kuaishou", OPEN_ID, out, sizeof out), 0);
    assert_string_equal(out, "kuaishou/" OPEN_ID "/access");
    assert_int_equal(rf_shop_tokens_ordering_key("douyin", DY_SHOP, out, sizeof out), 0);
    assert_string_equal(out, "shop:douyin:" DY_SHOP);
    /* what does not fit is refused, not cut */
    assert_int_equal(rf_shop_tokens_context("kuaishou", OPEN_ID, out, 20), -1);
    assert_int_equal(rf_shop_tokens_ordering_key("kuaishou", OPEN_ID, out, 46), -1);
    assert_int_equal(rf_shop_tokens_ordering_key("kuaishou", OPEN_ID, out, 47), 0);
    /* the ordering key fits the bus's ids (RF_ID_MAX 64) */
    assert_true(strlen("shop:kuaishou:" OPEN_ID) < 64);
}

static void event_checks(void **state) {
    (void)state;
    rf_secrets_key_t k;
    key_of(&k, 0x42);
    char sealed[512], why[200];
    seal_for(&k, "kuaishou", OPEN_ID, "access", TOKEN, sealed, sizeof sealed);
    rf_event_t ev;
    event_of(&ev, sealed, 3);
    assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), 0);
    rf_body_shop_token_t *b = &ev.body.shop_token;

    /* each break is told, and a malformed event is refused before any write
     * (no database here: a write would crash) */
    struct {
        char **slot;
        const char *value;
        const char *expect;
    } breaks[] = {
        {&b->platform, "taobao", "platform"},
        {&b->shop_id, "", "shop_id"},
        {&b->status, "expired", "status"},
        {&b->access_token_sealed, "", "access_token_sealed"},
        {&ev.return_id, "shop:kuaishou:someone-else", "return_id"},
        {&ev.return_id, "01JRETURN00000000000000000", "return_id"},
    };
    for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
        char *was = strdup(*breaks[i].slot);
        assert_non_null(was);
        assert_int_equal(rf_event_set_str(breaks[i].slot, breaks[i].value), 0);
        why[0] = '\0';
        assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), -1);
        assert_non_null(strstr(why, breaks[i].expect));
        assert_null(strstr(why, sealed)); /* nothing of the token in the reason */
        assert_int_equal(rf_shop_tokens_apply(NULL, &ev, why, sizeof why), RF_APPLY_REJECT);
        assert_int_equal(rf_event_set_str(breaks[i].slot, was), 0);
        free(was);
        assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), 0);
    }
    b->token_version = 0;
    assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), -1);
    assert_non_null(strstr(why, "token_version"));
    b->token_version = 4;

    /* a shop that is not active comes without a token: well formed */
    assert_int_equal(rf_event_set_str(&b->status, "reauthorize_needed") |
                         rf_event_set_str(&b->access_token_sealed, ""),
                     0);
    b->access_expires_at = 0;
    assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), 0);
    rf_event_clear(&ev);

    /* not a shop.token at all */
    assert_int_equal(rf_event_init(&ev, RF_EV_RETURN_CANCELLED), 0);
    assert_int_equal(rf_shop_tokens_check(&ev, why, sizeof why), -1);
    rf_event_clear(&ev);
}

static void token_opens_for_its_shop_only(void **state) {
    (void)state;
    rf_secrets_key_t k, other;
    key_of(&k, 0x42);
    key_of(&other, 0x43);
    char sealed[512], refresh[512], plain[RF_SHOP_TOKEN_MAX];
    seal_for(&k, "kuaishou", OPEN_ID, "access", TOKEN, sealed, sizeof sealed);
    seal_for(&k, "kuaishou", OPEN_ID, "refresh", TOKEN, refresh, sizeof refresh);
    assert_null(strstr(sealed, TOKEN));
    assert_int_equal(rf_shop_tokens_open(&k, "kuaishou", OPEN_ID, sealed, plain, sizeof plain),
                     (int)strlen(TOKEN));
    assert_string_equal(plain, TOKEN);
    /* another shop's row, another platform, the refresh slot, another key,
     * a changed text: none opens, and nothing is left in out */
    const char *other_shop = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
    assert_int_equal(rf_shop_tokens_open(&k, "kuaishou", other_shop, sealed, plain, sizeof plain),
                     -1);
    assert_string_equal(plain, "");
    assert_int_equal(rf_shop_tokens_open(&k, "douyin", OPEN_ID, sealed, plain, sizeof plain), -1);
    assert_int_equal(rf_shop_tokens_open(&k, "kuaishou", OPEN_ID, refresh, plain, sizeof plain),
                     -1);
    assert_int_equal(rf_shop_tokens_open(&other, "kuaishou", OPEN_ID, sealed, plain, sizeof plain),
                     -1);
    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    assert_int_equal(rf_shop_tokens_open(&k, "kuaishou", OPEN_ID, sealed, plain, sizeof plain), -1);
    assert_int_equal(rf_shop_tokens_open(&k, "kuaishou", OPEN_ID, TOKEN, plain, sizeof plain), -1);
    assert_string_equal(plain, "");

    rf_shop_token_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.token, sizeof t.token, "%s", TOKEN);
    snprintf(t.status, sizeof t.status, "active");
    t.version = 7;
    rf_shop_token_wipe(&t);
    static const rf_shop_token_t zero;
    assert_memory_equal(&t, &zero, sizeof t);
}

static void how_a_call_picks_its_token(void **state) {
    (void)state;
    /* the shop's own token, whatever the fixed one */
    assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_OK, false, true), RF_TOKEN_USE_SHOP);
    assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_OK, false, false), RF_TOKEN_USE_SHOP);
    /* lapsed: wait for intake's renewal, never another shop's fixed token */
    assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_OK, true, true), RF_TOKEN_WAIT);
    /* no row (or a call with no shop): the fixed token, else wait */
    assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_NONE, false, true), RF_TOKEN_USE_FIXED);
    assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_NONE, false, false), RF_TOKEN_WAIT);
    /* a row that is not active, or cannot be opened: wait */
    for (int fixed = 0; fixed < 2; fixed++) {
        assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_INACTIVE, false, fixed),
                         RF_TOKEN_WAIT);
        assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_CANNOT_OPEN, false, fixed),
                         RF_TOKEN_WAIT);
        assert_int_equal(rf_shop_tokens_choice(RF_SHOP_TOKEN_DB_ERROR, false, fixed),
                         RF_TOKEN_LATER);
    }
    assert_string_equal(rf_shop_tokens_result_name(RF_SHOP_TOKEN_NONE), "no_row");
    assert_string_equal(rf_shop_tokens_result_name(RF_SHOP_TOKEN_INACTIVE), "not_active");
    assert_string_equal(rf_shop_tokens_result_name(RF_SHOP_TOKEN_CANNOT_OPEN), "cannot_open");

    /* a call written before calls were per shop (shop_id ""): no database
     * read, the fixed token or wait */
    char out[64];
    const char *why = NULL;
    assert_int_equal(
        rf_shop_tokens_pick(NULL, "kuaishou", "", "fixed-token", out, sizeof out, &why),
        RF_TOKEN_USE_FIXED);
    assert_string_equal(out, "fixed-token");
    assert_int_equal(rf_shop_tokens_pick(NULL, "kuaishou", "", "", out, sizeof out, &why),
                     RF_TOKEN_WAIT);
    assert_string_equal(out, "");
    assert_string_equal(why, "no_row");
    /* a token too long for the caller's buffer is not cut */
    assert_int_equal(rf_shop_tokens_pick(NULL, "kuaishou", "", "fixed-token", out, 5, &why),
                     RF_TOKEN_WAIT);
    assert_string_equal(out, "");
}

/* rf_secrets_setting_load with fd 2 caught: (result, what was logged). */
static int load_caught(const char *path, rf_secrets_key_t *k, char *logged, size_t cap) {
    snprintf(rf_secrets_key_file, sizeof rf_secrets_key_file, "%s", path);
    char name[] = "/tmp/rf-shop-tokens-log-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = rf_secrets_setting_load(k);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, logged, cap - 1);
    logged[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(name);
    return rc;
}

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void key_file_setting(void **state) {
    (void)state;
    rf_secrets_key_t k, want;
    char logged[2000], dir[] = "/tmp/rf-shop-tokens-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/key", dir);
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    for (int i = 0; i < 32; i++) want.key[i] = (uint8_t)i;

    /* empty: allowed, no key */
    assert_int_equal(load_caught("", &k, logged, sizeof logged), 0);
    /* a good file */
    write_file(path, hex, 0600);
    assert_int_equal(load_caught(path, &k, logged, sizeof logged), 1);
    assert_memory_equal(k.key, want.key, sizeof k.key);
    /* group or other readable, the wrong size, missing: refused, naming the setting */
    write_file(path, hex, 0640);
    assert_int_equal(load_caught(path, &k, logged, sizeof logged), -1);
    assert_non_null(strstr(logged, "RF_SECRETS_KEY_FILE"));
    assert_null(strstr(logged, "0a0b0c0d")); /* never the key */
    write_file(path, hex, 0604);
    assert_int_equal(load_caught(path, &k, logged, sizeof logged), -1);
    write_file(path, "0001020304\n", 0600);
    assert_int_equal(load_caught(path, &k, logged, sizeof logged), -1);
    assert_non_null(strstr(logged, "RF_SECRETS_KEY_FILE"));
    unlink(path);
    assert_int_equal(load_caught(path, &k, logged, sizeof logged), -1);
    assert_non_null(strstr(logged, "RF_SECRETS_KEY_FILE"));
    rmdir(dir);
    rf_secrets_key_file[0] = '\0';
}

static void event_through_the_codec(void **state) {
    (void)state;
    rf_secrets_key_t k;
    key_of(&k, 0x42);
    char sealed[512];
    seal_for(&k, "kuaishou", OPEN_ID, "access", TOKEN, sealed, sizeof sealed);
    rf_event_t ev, back;
    event_of(&ev, sealed, 12);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
    /* on the wire the token is sealed only */
    assert_null(memmem(buf, len, TOKEN, strlen(TOKEN)));
    memset(&back, 0, sizeof back);
    char err[200];
    assert_int_equal(rf_event_decode(buf, len, &back, err, sizeof err), 0);
    assert_int_equal(back.type, RF_EV_SHOP_TOKEN);
    assert_string_equal(back.return_id, "shop:kuaishou:" OPEN_ID);
    assert_int_equal(back.body.shop_token.token_version, 12);
    assert_int_equal(rf_shop_tokens_check(&back, err, sizeof err), 0);
    char plain[RF_SHOP_TOKEN_MAX];
    assert_true(rf_shop_tokens_open(&k, back.body.shop_token.platform, back.body.shop_token.shop_id,
                                    back.body.shop_token.access_token_sealed, plain,
                                    sizeof plain) > 0);
    assert_string_equal(plain, TOKEN);
    /* review and refund hear it, no one else */
    unsigned to = rf_event_consumers(RF_EV_SHOP_TOKEN);
    assert_int_equal(to, RF_W_REVIEW | RF_W_REFUND);
    free(buf);
    rf_event_clear(&ev);
    rf_event_clear(&back);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_and_ordering_key),
        cmocka_unit_test(event_checks),
        cmocka_unit_test(token_opens_for_its_shop_only),
        cmocka_unit_test(how_a_call_picks_its_token),
        cmocka_unit_test(key_file_setting),
        cmocka_unit_test(event_through_the_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
