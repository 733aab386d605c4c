/*
 * fuzz_proto.c: libFuzzer target for the event decoder (common/proto/proto_decode.c).
 *
 * Any input must either decode or be refused with an RF_PROTO_* error,
 * without reading outside the buffer (ASan) or undefined behaviour (UBSan).
 * What decodes must re-encode to bytes that decode to the same event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rf_event_t ev = {0};
    char err[256];
    int rc = rf_event_decode(data, size, &ev, err, sizeof err);
    if (rc != 0) {
        if (rc < RF_PROTO_ENOMEM || rc > 0) abort(); /* not one of the documented codes */
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rf_event_encode(&ev, &buf, &len) != 0) abort();
    rf_event_t again = {0};
    if (rf_event_decode(buf, len, &again, err, sizeof err) != 0) abort();
    if (again.type != ev.type || strcmp(again.event_id, ev.event_id) != 0 ||
        strcmp(again.return_id, ev.return_id) != 0 || again.occurred_at != ev.occurred_at)
        abort();
    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    if (rf_event_encode(&again, &buf2, &len2) != 0 || len2 != len || memcmp(buf, buf2, len) != 0)
        abort(); /* encoding is deterministic */
    json_t *j = rf_event_json(&ev);
    json_decref(j);
    free(buf);
    free(buf2);
    rf_event_clear(&again);
    rf_event_clear(&ev);
    return 0;
}
