/*
 * proto_decode.c: the returnflow event decoder (msgpack -> rf_event_t),
 * driven by the descriptor tables of proto.c.
 *
 * Wire format: see proto_internal.h (proto/WIRE.md is the generated,
 * per-event description). The decoder:
 *   - rejects input over RF_PROTO_MAX_BYTES (ETOOBIG) before reading it;
 *   - rejects anything but exactly one msgpack map filling the whole buffer
 *     (EPARSE: not msgpack, truncated, trailing bytes, nested deeper than
 *     msgpack-c's 32 levels, a known key given twice);
 *   - checks `v` first: absent EMISSING, 1..RF_PROTO_VERSION or EVERSION;
 *   - then `type` (EUNKNOWN when not ours), the other envelope fields, then
 *     the body fields, each: absent and required EMISSING, wrong msgpack type
 *     ETYPE (STR: str without NUL bytes; I64: int within int64; BOOL: bool;
 *     nil is never accepted, optional fields are omitted instead);
 *   - ignores keys it does not know, at both levels, whatever their value.
 * Strings are not checked for UTF-8 by the codec; the JSON view repairs them
 * (see json_text in proto_json.c).
 */
#include "proto/proto.h"
#include "proto/proto_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Item kinds of the msgpack formats 0xc0..0xdf, for mp_scan. */
enum { MP_BAD, MP_FIXED, MP_DATA, MP_ARRAY, MP_MAP };
static const struct {
    unsigned char kind, lenbytes, fixed; /* fixed: bytes after the length */
} mp_formats[32] = {
    [0x00] = {MP_FIXED, 0, 0},  [0x01] = {MP_BAD, 0, 0},   [0x02] = {MP_FIXED, 0, 0},
    [0x03] = {MP_FIXED, 0, 0},  [0x04] = {MP_DATA, 1, 0},  [0x05] = {MP_DATA, 2, 0},
    [0x06] = {MP_DATA, 4, 0},   [0x07] = {MP_DATA, 1, 1},  [0x08] = {MP_DATA, 2, 1},
    [0x09] = {MP_DATA, 4, 1},   [0x0a] = {MP_FIXED, 0, 4}, [0x0b] = {MP_FIXED, 0, 8},
    [0x0c] = {MP_FIXED, 0, 1},  [0x0d] = {MP_FIXED, 0, 2}, [0x0e] = {MP_FIXED, 0, 4},
    [0x0f] = {MP_FIXED, 0, 8},  [0x10] = {MP_FIXED, 0, 1}, [0x11] = {MP_FIXED, 0, 2},
    [0x12] = {MP_FIXED, 0, 4},  [0x13] = {MP_FIXED, 0, 8}, [0x14] = {MP_FIXED, 0, 2},
    [0x15] = {MP_FIXED, 0, 3},  [0x16] = {MP_FIXED, 0, 5}, [0x17] = {MP_FIXED, 0, 9},
    [0x18] = {MP_FIXED, 0, 17}, [0x19] = {MP_DATA, 1, 0},  [0x1a] = {MP_DATA, 2, 0},
    [0x1b] = {MP_DATA, 4, 0},   [0x1c] = {MP_ARRAY, 2, 0}, [0x1d] = {MP_ARRAY, 4, 0},
    [0x1e] = {MP_MAP, 2, 0},    [0x1f] = {MP_MAP, 4, 0},
};

/* Deepest container nesting msgpack-c's unpacker accepts
 * (MSGPACK_EMBED_STACK_SIZE, not exported by its public headers); deeper
 * input makes it fail with a misleading NOMEM_ERROR. */
#define MP_MAX_DEPTH 32

/* mp_scan: walk the msgpack object at p[0..len) without building it and set
 * *end to where it ends. -1 when it is malformed or truncated, nests deeper
 * than MP_MAX_DEPTH, or has a container that declares more elements than
 * there are bytes left (each takes at least one). msgpack-c allocates a
 * container's storage from its header before reading the elements, so
 * without this a 5-byte "map32 of 2^28 pairs" would ask for gigabytes; with
 * it, what msgpack-c builds is bounded by the input's length. */
static int mp_scan(const uint8_t *p, size_t len, size_t *end) {
    uint64_t left[MP_MAX_DEPTH + 1]; /* objects still to read at each level */
    uint64_t pending = 1;            /* their sum */
    int depth = 0;                   /* containers open */
    size_t off = 0;
    left[0] = 1;
    while (pending > 0) {
        while (left[depth] == 0) depth--;
        if (off >= len) return -1;
        unsigned b = p[off++];
        uint64_t skip = 0, children = 0;
        bool container = false;
        left[depth]--;
        pending--;
        if (b >= 0x80 && b <= 0x8f) {
            container = true;
            children = 2 * (uint64_t)(b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            container = true;
            children = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b >= 0xc0 && b <= 0xdf) {
            unsigned kind = mp_formats[b - 0xc0].kind, lenbytes = mp_formats[b - 0xc0].lenbytes;
            uint64_t n = 0;
            if (kind == MP_BAD || len - off < lenbytes) return -1;
            for (unsigned i = 0; i < lenbytes; i++) n = n << 8 | p[off++];
            container = kind == MP_ARRAY || kind == MP_MAP;
            if (container) children = kind == MP_MAP ? 2 * n : n;
            else skip = (kind == MP_DATA ? n : 0) + mp_formats[b - 0xc0].fixed;
        } /* else a fixint: nothing follows */
        uint64_t room = len - off;
        if (skip > room) return -1;
        off += (size_t)skip;
        room -= skip;
        if (pending > room || children > room - pending) return -1;
        if (container && depth >= MP_MAX_DEPTH) return -1;
        if (children > 0) {
            left[++depth] = children;
            pending += children;
        }
    }
    *end = off;
    return 0;
}

static const char *mp_type_name(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_EXT: return "an extension";
    }
    return "something else";
}

/* lookup: *out = the value of key in m, NULL when absent. Keys that are not
 * strings are ignored like unknown ones. A key given twice is EPARSE: which
 * of the two counts would depend on the reader. `where` prefixes names in
 * messages ("" or "body."). */
static int lookup(const msgpack_object_map *m, const char *key, const char *where,
                  const msgpack_object **out, char *err, size_t errlen) {
    size_t n = strlen(key);
    *out = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != n ||
            memcmp(k->via.str.ptr, key, n) != 0)
            continue;
        if (*out)
            return fail(err, errlen, RF_PROTO_EPARSE, "field \"%s%s\" given twice", where, key);
        *out = &m->ptr[i].val;
    }
    return 0;
}

/* A field's value, required or not. */
static int lookup_field(const msgpack_object_map *m, const rf_field_desc_t *f, const char *where,
                        const msgpack_object **out, char *err, size_t errlen) {
    int rc = lookup(m, f->name, where, out, err, errlen);
    if (rc == 0 && !*out && f->required)
        rc = fail(err, errlen, RF_PROTO_EMISSING, "field \"%s%s\" is required", where, f->name);
    return rc;
}

static int wrong_type(const rf_field_desc_t *f, const char *where, const msgpack_object *o,
                      const char *expected, char *err, size_t errlen) {
    return fail(err, errlen, RF_PROTO_ETYPE, "field \"%s%s\": expected %s, got %s", where, f->name,
                expected, mp_type_name(o));
}

/* A STR value: a msgpack str with no NUL byte; *text and *n point into o. */
static int get_text(const rf_field_desc_t *f, const char *where, const msgpack_object *o,
                    const char **text, size_t *n, char *err, size_t errlen) {
    *text = "";
    *n = 0;
    if (o->type != MSGPACK_OBJECT_STR) return wrong_type(f, where, o, "a string", err, errlen);
    *text = o->via.str.ptr;
    *n = o->via.str.size;
    if (*n > 0 && memchr(*text, '\0', *n))
        return fail(err, errlen, RF_PROTO_ETYPE, "field \"%s%s\": string contains a NUL byte",
                    where, f->name);
    return 0;
}

/* Store the value o of field f into the struct at base. */
static int decode_value(const rf_field_desc_t *f, const char *where, const msgpack_object *o,
                        void *base, char *err, size_t errlen) {
    void *slot = rf__proto_field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: {
        const char *text;
        size_t n;
        int rc = get_text(f, where, o, &text, &n, err, errlen);
        if (rc != 0) return rc;
        char *copy = rf__proto_dup_n(text, n);
        if (!copy) return fail(err, errlen, RF_PROTO_ENOMEM, "out of memory");
        free(*(char **)slot);
        *(char **)slot = copy;
        return 0;
    }
    case RF_FT_I64:
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            *(int64_t *)slot = o->via.i64;
        } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (o->via.u64 > INT64_MAX)
                return fail(err, errlen, RF_PROTO_ETYPE,
                            "field \"%s%s\": integer does not fit in int64", where, f->name);
            *(int64_t *)slot = (int64_t)o->via.u64;
        } else {
            return wrong_type(f, where, o, "an integer", err, errlen);
        }
        return 0;
    case RF_FT_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return wrong_type(f, where, o, "a boolean", err, errlen);
        *(bool *)slot = o->via.boolean;
        return 0;
    }
    return fail(err, errlen, RF_PROTO_ETYPE, "field \"%s%s\": bad descriptor", where, f->name);
}

/* Look a field up and store it; an absent optional field is left as is. */
static int decode_field(const msgpack_object_map *m, const rf_field_desc_t *f, const char *where,
                        void *base, char *err, size_t errlen) {
    const msgpack_object *o;
    int rc = lookup_field(m, f, where, &o, err, errlen);
    if (rc == 0 && o) rc = decode_value(f, where, o, base, err, errlen);
    return rc;
}

static int decode_version(const msgpack_object_map *top, rf_event_t *ev, char *err, size_t errlen) {
    int rc = decode_field(top, &rf__proto_envelope[ENV_v], "", ev, err, errlen);
    if (rc == 0 && (ev->v < 1 || ev->v > RF_PROTO_VERSION))
        rc = fail(err, errlen, RF_PROTO_EVERSION,
                  "field \"v\": version %lld, this decoder reads 1..%d", (long long)ev->v,
                  RF_PROTO_VERSION);
    return rc;
}

static int decode_type(const msgpack_object_map *top, rf_event_t *ev, char *err, size_t errlen) {
    const rf_field_desc_t *f = &rf__proto_envelope[ENV_type];
    const msgpack_object *o;
    const char *text;
    size_t n;
    int rc = lookup(top, f->name, "", &o, err, errlen);
    if (rc != 0) return rc;
    if (!o) return fail(err, errlen, RF_PROTO_EMISSING, "field \"%s\" is required", f->name);
    rc = get_text(f, "", o, &text, &n, err, errlen);
    if (rc != 0) return rc;
    ev->type = rf__proto_type_from_wire(text, n);
    if (ev->type != RF_EV_NONE) return 0;
    char shown[48]; /* printable ASCII only: err is one line */
    size_t k = 0;
    for (; k < n && k < sizeof shown - 1; k++)
        shown[k] = text[k] >= 0x20 && text[k] < 0x7f ? text[k] : '?';
    shown[k] = '\0';
    return fail(err, errlen, RF_PROTO_EUNKNOWN, "field \"type\": unknown event type \"%s%s\"",
                shown, n > k ? "..." : "");
}

static int decode_body(const msgpack_object_map *top, rf_event_t *ev, char *err, size_t errlen) {
    const msgpack_object *o;
    int rc = lookup(top, BODY_KEY, "", &o, err, errlen);
    if (rc != 0) return rc;
    if (!o) return fail(err, errlen, RF_PROTO_EMISSING, "field \"" BODY_KEY "\" is required");
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(err, errlen, RF_PROTO_ETYPE, "field \"" BODY_KEY "\": expected a map, got %s",
                    mp_type_name(o));
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    for (size_t i = 0; i < d->nfields; i++) {
        rc = decode_field(&o->via.map, &d->fields[i], BODY_KEY ".", &ev->body, err, errlen);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Fill ev from the top-level map; ev->type is set as soon as it is known so
 * that rf_event_clear frees what was decoded when a later step fails. */
static int decode_event(const msgpack_object_map *top, rf_event_t *ev, char *err, size_t errlen) {
    int rc = decode_version(top, ev, err, errlen);
    if (rc == 0) rc = decode_type(top, ev, err, errlen);
    for (size_t i = 0; rc == 0 && i < ENV__COUNT; i++)
        if (i != ENV_v && i != ENV_type)
            rc = decode_field(top, &rf__proto_envelope[i], "", ev, err, errlen);
    if (rc == 0) rc = decode_body(top, ev, err, errlen);
    if (rc == 0 && rf__proto_each_string(ev, rf__proto_empty_if_null) != 0)
        rc = fail(err, errlen, RF_PROTO_ENOMEM, "out of memory");
    return rc;
}

/* ev is zeroed on entry, not cleared: the contract says it holds nothing. On
 * success err (if given) is set to "". */
int rf_event_decode(const uint8_t *buf, size_t len, rf_event_t *ev, char *err, size_t errlen) {
    assert(ev);
    memset(ev, 0, sizeof *ev);
    if (err && errlen > 0) err[0] = '\0';
    if (len > RF_PROTO_MAX_BYTES)
        return fail(err, errlen, RF_PROTO_ETOOBIG, "event of %zu bytes, the limit is %d", len,
                    RF_PROTO_MAX_BYTES);
    size_t end;
    if (!buf || len == 0 || mp_scan(buf, len, &end) != 0)
        return fail(err, errlen, RF_PROTO_EPARSE, "not msgpack, truncated or nested too deep");
    if (end != len)
        return fail(err, errlen, RF_PROTO_EPARSE, "%zu trailing bytes after the event", len - end);
    if (buf[0] < 0x80 || (buf[0] > 0x8f && buf[0] != 0xde && buf[0] != 0xdf))
        return fail(err, errlen, RF_PROTO_EPARSE, "event is not a msgpack map");

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) rc = fail(err, errlen, RF_PROTO_ENOMEM, "out of memory");
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len || up.data.type != MSGPACK_OBJECT_MAP)
        rc = fail(err, errlen, RF_PROTO_EPARSE, "not msgpack");
    else rc = decode_event(&up.data.via.map, ev, err, errlen);
    msgpack_unpacked_destroy(&up);
    if (rc != 0) rf_event_clear(ev);
    return rc;
}
