/*
 * fuzz_dy_push.c: libFuzzer target for the Douyin push path (common/platform/
 * douyin.c): the event-sign check over the raw body, the array-of-messages
 * parse (data as a JSON string or an object) and the neutral mapping of
 * each message's after-sale status and type.
 *
 * Properties: the body's own signature verifies (in either case), a
 * signature of other bytes or a truncated one does not, and every parsed
 * message has its dedup key and payload.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform/douyin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define APP_KEY "dy-app"
#define APP_SECRET "dy-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    const char *body = (const char *)data;
    char sign[33];
    rf_dy_push_sign(APP_KEY, body, size, APP_SECRET, sign);
    if (!rf_dy_push_verify(APP_KEY, APP_SECRET, body, size, sign)) abort();
    char upper[33];
    for (int i = 0; i < 33; i++) upper[i] = (char)toupper((unsigned char)sign[i]);
    if (!rf_dy_push_verify(APP_KEY, APP_SECRET, body, size, upper)) abort();
    if (rf_dy_push_verify(APP_KEY, "other-secret", body, size, sign)) abort();
    sign[31] = '\0';
    if (rf_dy_push_verify(APP_KEY, APP_SECRET, body, size, sign)) abort();
    if (rf_dy_push_verify(APP_KEY, APP_SECRET, body, size, NULL)) abort();
    /* The input's head as a header value: never a match by accident, never a crash. */
    char header[65] = "";
    memcpy(header, data, size < 64 ? size : 64);
    (void)rf_dy_push_verify(APP_KEY, APP_SECRET, body, size, header);

    rf_dy_message_t *msgs = NULL;
    size_t n = 0;
    char err[256] = "";
    if (rf_dy_push_parse(body, size, &msgs, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!msgs[i].msg_id[0] || !msgs[i].data) abort();
            json_t *st = json_object_get(msgs[i].data, "aftersale_status");
            json_t *ty = json_object_get(msgs[i].data, "aftersale_type");
            (void)rf_dy_neutral_status((int)json_integer_value(st));
            (void)rf_dy_kind((int)json_integer_value(ty));
        }
        rf_dy_messages_free(msgs, n);
    } else if (err[0] == '\0') {
        abort();
    }
    return 0;
}
