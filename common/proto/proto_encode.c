/*
 * proto_encode.c: the returnflow event encoder (rf_event_t -> msgpack),
 * driven by the descriptor tables of proto.c. The wire format is described in
 * proto_internal.h; the encoder always writes every field, optional ones
 * included.
 */
#include "proto/proto.h"
#include "proto/proto_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

static int pack_text(msgpack_packer *pk, const char *s) {
    if (!s) s = "";
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int pack_value(msgpack_packer *pk, const rf_field_desc_t *f, const void *base) {
    const void *slot = rf__proto_field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: return pack_text(pk, *(char *const *)slot);
    case RF_FT_I64: return msgpack_pack_int64(pk, *(const int64_t *)slot);
    case RF_FT_BOOL: return *(const bool *)slot ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    return -1;
}

static int pack_body(msgpack_packer *pk, const rf_event_t *ev, const rf_event_desc_t *d) {
    if (msgpack_pack_map(pk, d->nfields) != 0) return -1;
    for (size_t i = 0; i < d->nfields; i++)
        if (pack_text(pk, d->fields[i].name) != 0 || pack_value(pk, &d->fields[i], &ev->body) != 0)
            return -1;
    return 0;
}

static int pack_event(msgpack_packer *pk, const rf_event_t *ev, const rf_event_desc_t *d) {
    if (msgpack_pack_map(pk, ENV__COUNT + 1) != 0) return -1;
    for (size_t i = 0; i < ENV__COUNT; i++) {
        if (pack_text(pk, rf__proto_envelope[i].name) != 0) return -1;
        int rc = i == ENV_type ? pack_text(pk, d->wire_name)
                               : pack_value(pk, &rf__proto_envelope[i], ev);
        if (rc != 0) return -1;
    }
    if (pack_text(pk, BODY_KEY) != 0) return -1;
    return pack_body(pk, ev, d);
}

/* Writes every field, optional ones included (NULL strings as ""). Refuses
 * what no decoder would accept: a type that is not ours (EUNKNOWN), v outside
 * 1..RF_PROTO_VERSION (EVERSION), a result over RF_PROTO_MAX_BYTES (ETOOBIG).
 * *buf is the msgpack_sbuffer's own storage trimmed to *len, so plain
 * malloc'd memory: the caller frees it with free(). On error *buf is NULL. */
int rf_event_encode(const rf_event_t *ev, uint8_t **buf, size_t *len) {
    assert(ev && buf && len);
    *buf = NULL;
    *len = 0;
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    if (!d) return RF_PROTO_EUNKNOWN;
    if (ev->v < 1 || ev->v > RF_PROTO_VERSION) return RF_PROTO_EVERSION;

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = RF_PROTO_ENOMEM;
    if (pack_event(&pk, ev, d) != 0) goto err;
    if (sb.size > RF_PROTO_MAX_BYTES) {
        rc = RF_PROTO_ETOOBIG;
        goto err;
    }
    *len = sb.size;
    char *data = msgpack_sbuffer_release(&sb);
    char *trimmed = realloc(data, *len); /* the sbuffer starts at 8 KiB */
    *buf = (uint8_t *)(trimmed ? trimmed : data);
    return 0;
err:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
