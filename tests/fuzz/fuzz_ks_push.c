/*
 * fuzz_ks_push.c: libFuzzer target for the Kuaishou push path (common/platform/
 * kuaishou.c): Base64 + AES-CBC decryption with the message key, then the
 * envelope and `info` parse and the neutral mapping of what it names.
 *
 * Each input is tried three ways:
 *   1. as the pushed body (ciphertext): it decrypts or is refused with a
 *      reason; what decrypts is parsed;
 *   2. as the decrypted envelope (plaintext JSON), parsed directly;
 *   3. encrypted with the key and decrypted again: the round trip must give
 *      back the input byte for byte (so a parse bug cannot hide behind the
 *      fuzzer's inability to forge ciphertexts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform/kuaishou.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODw=="

/* Parse a decrypted envelope and map what it says, as the feed does. */
static void parse_envelope(const char *json, size_t len) {
    rf_ks_push_t push;
    char err[256] = "";
    if (rf_ks_push_parse(json, len, &push, err, sizeof err) != 0) {
        if (err[0] == '\0') abort(); /* a refusal must say why */
        return;
    }
    if (!push.test && (!push.event_id[0] || !push.info)) abort();
    if (push.info) {
        json_t *st = json_object_get(push.info, "status");
        json_t *ns = json_object_get(push.info, "negotiateStatus");
        json_t *hw = json_object_get(push.info, "handlingWay");
        (void)rf_ks_neutral_status((int)json_integer_value(st), (int)json_integer_value(ns));
        (void)rf_ks_kind((int)json_integer_value(hw));
    }
    rf_ks_push_clear(&push);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    const char *body = (const char *)data;
    char err[256] = "";
    char *plain = NULL;
    size_t plen = 0;
    if (rf_ks_push_decrypt(body, size, KEY_B64, &plain, &plen, err, sizeof err) == 0) {
        if (plain[plen] != '\0') abort(); /* documented: NUL-terminated */
        parse_envelope(plain, plen);
        free(plain);
    } else if (err[0] == '\0') {
        abort();
    }
    parse_envelope(body, size);
    /* Round trip: the platform's encryption, then ours. */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *cipher = NULL;
    if (rf_ks_push_encrypt(text, size, KEY_B64, &cipher) == 0) {
        plain = NULL;
        if (rf_ks_push_decrypt(cipher, strlen(cipher), KEY_B64, &plain, &plen, err, sizeof err) !=
            0)
            abort();
        if (plen != size || memcmp(plain, data, size) != 0) abort();
        free(plain);
        /* The wrong key must be refused or give other bytes, never crash. */
        if (rf_ks_push_decrypt(cipher, strlen(cipher), "DwAODQwLCgkIBwYFBAMCAQ==", &plain, &plen,
                               err, sizeof err) == 0)
            free(plain);
        free(cipher);
    }
    free(text);
    return 0;
}
