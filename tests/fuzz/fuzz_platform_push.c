/*
 * fuzz_platform_push.c: libFuzzer target for the platform push paths: the
 * Kuaishou push (Base64, AES-CBC decrypt with the message key, envelope and
 * info parse) and the Douyin push (signature check, array-of-messages parse).
 * The first input byte picks the path; the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rf/douyin.h"
#include "rf/kuaishou.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODw=="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    switch (data[0] % 3) {
    case 0: { /* Kuaishou: ciphertext as pushed */
        char *plain = NULL;
        size_t plen = 0;
        if (rf_ks_push_decrypt(body, len, KEY_B64, &plain, &plen, err, sizeof err) == 0) {
            rf_ks_push_t push;
            if (rf_ks_push_parse(plain, plen, &push, err, sizeof err) == 0) rf_ks_push_clear(&push);
            free(plain);
        } else if (err[0] == '\0') {
            abort(); /* a refusal must say why */
        }
        break;
    }
    case 1: { /* Kuaishou: the decrypted envelope */
        rf_ks_push_t push;
        if (rf_ks_push_parse(body, len, &push, err, sizeof err) == 0) {
            if (!push.test && (!push.event_id[0] || !push.info)) abort();
            rf_ks_push_clear(&push);
        }
        break;
    }
    default: { /* Douyin */
        (void)rf_dy_push_verify("app", "secret", body, len, "00000000000000000000000000000000");
        rf_dy_message_t *msgs = NULL;
        size_t n = 0;
        if (rf_dy_push_parse(body, len, &msgs, &n, err, sizeof err) == 0) {
            for (size_t i = 0; i < n; i++)
                if (!msgs[i].msg_id[0] || !msgs[i].data) abort();
            rf_dy_messages_free(msgs, n);
        }
        break;
    }
    }
    return 0;
}
