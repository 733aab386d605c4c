/*
 * proto.c: the returnflow event codec, JSON view and routing table, all
 * derived from proto/events.def.
 *
 * The X-macros in events.def generate descriptor tables here: one
 * rf_field_desc_t array per body (offsets into rf_body_<name>_t), one for the
 * envelope (offsets into rf_event_t) and one rf_event_desc_t per type. The
 * msgpack encoder and decoder, rf_event_init/clear, the JSON view and
 * rf-protodoc loop over those tables; no field is named by hand. Only two
 * envelope fields get special treatment, found by their events.def names:
 * `v` (checked against RF_PROTO_VERSION before anything else) and `type`
 * (a string on the wire, an rf_event_type_t in rf_event_t).
 *
 * Wire format (proto/WIRE.md is the generated, per-event description): one
 * msgpack map holding each envelope field under its name, plus "body", a map
 * holding each body field under its name. The encoder always writes every
 * field, optional ones included. The decoder:
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
 * (see json_text).
 */
#include "proto/proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

/* The key of the body map in the envelope. */
#define BODY_KEY "body"

/* ---------------------------------------------------------------------------
 * Descriptor tables
 */

#define RF__PRESENCE_REQ true
#define RF__PRESENCE_OPT false

/* Indices into the envelope table, named after the fields: ENV_v, ENV_type... */
enum {
#define RF__ENV_INDEX(T, n, p, d) ENV_##n,
    RF_FIELDS_envelope(RF__ENV_INDEX)
#undef RF__ENV_INDEX
        ENV__COUNT
};

/* rf_event_t is written by hand in proto.h: check each envelope member has
 * the C type its events.def line implies (`type` is the enum instead). */
#define RF__ENV_TYPECHECK(T, n, p, d)                                                      \
    _Static_assert(_Generic(((rf_event_t *)0)->n, RF__CTYPE_##T: 1, rf_event_type_t: 1,    \
                            default: 0),                                                  \
                   "rf_event_t." #n " does not match its type in events.def");
RF_FIELDS_envelope(RF__ENV_TYPECHECK)
#undef RF__ENV_TYPECHECK

static const rf_field_desc_t envelope[] = {
#define RF__ENV_DESC(T, n, p, d) {#n, RF_FT_##T, RF__PRESENCE_##p, offsetof(rf_event_t, n), d},
    RF_FIELDS_envelope(RF__ENV_DESC)
#undef RF__ENV_DESC
};

/* desc_<name>(): the descriptor of one event type. Its field table sits in a
 * function only so that a block-scope typedef (body_t) can tell the field
 * macro, which sees nothing but the field, which struct to take offsetof in.
 * Everything is static constant data; the function returns its address. */
#define RF__BODY_DESC(T, n, p, d) {#n, RF_FT_##T, RF__PRESENCE_##p, offsetof(body_t, n), d},
#define RF__DESC_FN(sym, name, wire, consumers)                                           \
    static const rf_event_desc_t *desc_##name(void) {                                     \
        typedef rf_body_##name##_t body_t;                                                \
        static const rf_field_desc_t fields[] = {RF_FIELDS_##name(RF__BODY_DESC)};         \
        static const rf_event_desc_t desc = {                                             \
            RF_EV_##sym, wire, #name, (consumers), fields, sizeof fields / sizeof fields[0]}; \
        return &desc;                                                                     \
    }
RF_EVENTS(RF__DESC_FN)
#undef RF__DESC_FN
#undef RF__BODY_DESC

typedef const rf_event_desc_t *(*desc_fn_t)(void);
static const desc_fn_t desc_fns[RF_EV__COUNT] = {
#define RF__DESC_PTR(sym, name, wire, consumers) [RF_EV_##sym] = desc_##name,
    RF_EVENTS(RF__DESC_PTR)
#undef RF__DESC_PTR
};

static const char *const worker_names[] = {"intake", "review", "warehouse", "refund",
                                           "notification"};
_Static_assert(sizeof worker_names / sizeof worker_names[0] == RF_WORKER_COUNT,
               "one name per worker bit");
_Static_assert(RF_W_NOTIFICATION == 1 << (RF_WORKER_COUNT - 1), "worker bits are 0..4");

const rf_event_desc_t *rf_event_desc(rf_event_type_t type) {
    if ((int)type <= RF_EV_NONE || (int)type >= RF_EV__COUNT) return NULL;
    return desc_fns[type]();
}

const rf_field_desc_t *rf_envelope_fields(size_t *n) {
    if (n) *n = ENV__COUNT;
    return envelope;
}

/* "unknown" for a bit index outside 0..RF_WORKER_COUNT-1. */
const char *rf_worker_name(unsigned bit) {
    return bit < RF_WORKER_COUNT ? worker_names[bit] : "unknown";
}

/* "unknown" for RF_EV_NONE and for any value outside the enum. */
const char *rf_event_type_name(rf_event_type_t type) {
    const rf_event_desc_t *d = rf_event_desc(type);
    return d ? d->wire_name : "unknown";
}

/* Wire name (not NUL-terminated) to type; RF_EV_NONE when unknown. */
static rf_event_type_t type_from_wire(const char *name, size_t n) {
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        const char *w = rf_event_desc((rf_event_type_t)t)->wire_name;
        if (strlen(w) == n && memcmp(w, name, n) == 0) return (rf_event_type_t)t;
    }
    return RF_EV_NONE;
}

rf_event_type_t rf_event_type_from_name(const char *name) {
    return name ? type_from_wire(name, strlen(name)) : RF_EV_NONE;
}

/* 0 for RF_EV_NONE and out-of-range values. */
unsigned rf_event_consumers(rf_event_type_t type) {
    const rf_event_desc_t *d = rf_event_desc(type);
    return d ? d->consumers : 0;
}

/* Never NULL; "unknown error" for codes that are not RF_PROTO_*. */
const char *rf_proto_strerror(int code) {
    switch (code) {
    case RF_PROTO_OK: return "ok";
    case RF_PROTO_EPARSE: return "malformed event (not msgpack, truncated or trailing bytes)";
    case RF_PROTO_ETYPE: return "field has the wrong type";
    case RF_PROTO_EMISSING: return "required field missing";
    case RF_PROTO_EVERSION: return "unsupported schema version";
    case RF_PROTO_EUNKNOWN: return "unknown event type";
    case RF_PROTO_ETOOBIG: return "event too big";
    case RF_PROTO_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}

/* ---------------------------------------------------------------------------
 * Building and freeing events
 */

static void *field_at(const void *base, const rf_field_desc_t *f) {
    return (char *)base + f->offset;
}

static char *dup_n(const char *s, size_t n) {
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    if (n) memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* Apply fn to every string slot of ev: the envelope's, then its body's. */
static int each_string(rf_event_t *ev, int (*fn)(char **slot)) {
    for (size_t i = 0; i < ENV__COUNT; i++)
        if (i != ENV_type && envelope[i].type == RF_FT_STR)
            if (fn(field_at(ev, &envelope[i])) != 0) return -1;
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    for (size_t i = 0; d && i < d->nfields; i++)
        if (d->fields[i].type == RF_FT_STR)
            if (fn(field_at(&ev->body, &d->fields[i])) != 0) return -1;
    return 0;
}

static int free_slot(char **slot) {
    free(*slot);
    *slot = NULL;
    return 0;
}

static int empty_if_null(char **slot) {
    if (!*slot) *slot = dup_n("", 0);
    return *slot ? 0 : -1;
}

/* An out-of-range type gives RF_PROTO_EUNKNOWN and a zeroed event; on
 * RF_PROTO_ENOMEM the event is left cleared. */
int rf_event_init(rf_event_t *ev, rf_event_type_t type) {
    assert(ev);
    memset(ev, 0, sizeof *ev);
    if (type != RF_EV_NONE && !rf_event_desc(type)) return RF_PROTO_EUNKNOWN;
    ev->v = RF_PROTO_VERSION;
    ev->type = type;
    if (each_string(ev, empty_if_null) != 0) {
        rf_event_clear(ev);
        return RF_PROTO_ENOMEM;
    }
    return 0;
}

void rf_event_clear(rf_event_t *ev) {
    if (!ev) return;
    each_string(ev, free_slot);
    memset(ev, 0, sizeof *ev);
}

/* On RF_PROTO_ENOMEM *slot is left as it was. */
int rf_event_set_str(char **slot, const char *value) {
    assert(slot);
    if (!value) value = "";
    char *copy = dup_n(value, strlen(value));
    if (!copy) return RF_PROTO_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Encoding
 */

static int pack_text(msgpack_packer *pk, const char *s) {
    if (!s) s = "";
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int pack_value(msgpack_packer *pk, const rf_field_desc_t *f, const void *base) {
    const void *slot = field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: return pack_text(pk, *(char *const *)slot);
    case RF_FT_I64: return msgpack_pack_int64(pk, *(const int64_t *)slot);
    case RF_FT_BOOL:
        return *(const bool *)slot ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    return -1;
}

static int pack_body(msgpack_packer *pk, const rf_event_t *ev, const rf_event_desc_t *d) {
    if (msgpack_pack_map(pk, d->nfields) != 0) return -1;
    for (size_t i = 0; i < d->nfields; i++)
        if (pack_text(pk, d->fields[i].name) != 0 ||
            pack_value(pk, &d->fields[i], &ev->body) != 0)
            return -1;
    return 0;
}

static int pack_event(msgpack_packer *pk, const rf_event_t *ev, const rf_event_desc_t *d) {
    if (msgpack_pack_map(pk, ENV__COUNT + 1) != 0) return -1;
    for (size_t i = 0; i < ENV__COUNT; i++) {
        if (pack_text(pk, envelope[i].name) != 0) return -1;
        int rc = i == ENV_type ? pack_text(pk, d->wire_name) : pack_value(pk, &envelope[i], ev);
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

/* ---------------------------------------------------------------------------
 * Decoding
 */

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
    [0x00] = {MP_FIXED, 0, 0},  [0x01] = {MP_BAD, 0, 0},    [0x02] = {MP_FIXED, 0, 0},
    [0x03] = {MP_FIXED, 0, 0},  [0x04] = {MP_DATA, 1, 0},   [0x05] = {MP_DATA, 2, 0},
    [0x06] = {MP_DATA, 4, 0},   [0x07] = {MP_DATA, 1, 1},   [0x08] = {MP_DATA, 2, 1},
    [0x09] = {MP_DATA, 4, 1},   [0x0a] = {MP_FIXED, 0, 4},  [0x0b] = {MP_FIXED, 0, 8},
    [0x0c] = {MP_FIXED, 0, 1},  [0x0d] = {MP_FIXED, 0, 2},  [0x0e] = {MP_FIXED, 0, 4},
    [0x0f] = {MP_FIXED, 0, 8},  [0x10] = {MP_FIXED, 0, 1},  [0x11] = {MP_FIXED, 0, 2},
    [0x12] = {MP_FIXED, 0, 4},  [0x13] = {MP_FIXED, 0, 8},  [0x14] = {MP_FIXED, 0, 2},
    [0x15] = {MP_FIXED, 0, 3},  [0x16] = {MP_FIXED, 0, 5},  [0x17] = {MP_FIXED, 0, 9},
    [0x18] = {MP_FIXED, 0, 17}, [0x19] = {MP_DATA, 1, 0},   [0x1a] = {MP_DATA, 2, 0},
    [0x1b] = {MP_DATA, 4, 0},   [0x1c] = {MP_ARRAY, 2, 0},  [0x1d] = {MP_ARRAY, 4, 0},
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
    return fail(err, errlen, RF_PROTO_ETYPE, "field \"%s%s\": expected %s, got %s", where,
                f->name, expected, mp_type_name(o));
}

/* A STR value: a msgpack str with no NUL byte; *text and *n point into o. */
static int get_text(const rf_field_desc_t *f, const char *where, const msgpack_object *o,
                    const char **text, size_t *n, char *err, size_t errlen) {
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
    void *slot = field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: {
        const char *text;
        size_t n;
        int rc = get_text(f, where, o, &text, &n, err, errlen);
        if (rc != 0) return rc;
        char *copy = dup_n(text, n);
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
    int rc = decode_field(top, &envelope[ENV_v], "", ev, err, errlen);
    if (rc == 0 && (ev->v < 1 || ev->v > RF_PROTO_VERSION))
        rc = fail(err, errlen, RF_PROTO_EVERSION,
                  "field \"v\": version %lld, this decoder reads 1..%d", (long long)ev->v,
                  RF_PROTO_VERSION);
    return rc;
}

static int decode_type(const msgpack_object_map *top, rf_event_t *ev, char *err, size_t errlen) {
    const rf_field_desc_t *f = &envelope[ENV_type];
    const msgpack_object *o;
    const char *text;
    size_t n;
    int rc = lookup(top, f->name, "", &o, err, errlen);
    if (rc != 0) return rc;
    if (!o) return fail(err, errlen, RF_PROTO_EMISSING, "field \"%s\" is required", f->name);
    rc = get_text(f, "", o, &text, &n, err, errlen);
    if (rc != 0) return rc;
    ev->type = type_from_wire(text, n);
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
        if (i != ENV_v && i != ENV_type) rc = decode_field(top, &envelope[i], "", ev, err, errlen);
    if (rc == 0) rc = decode_body(top, ev, err, errlen);
    if (rc == 0 && each_string(ev, empty_if_null) != 0)
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
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = fail(err, errlen, RF_PROTO_ENOMEM, "out of memory");
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len || up.data.type != MSGPACK_OBJECT_MAP)
        rc = fail(err, errlen, RF_PROTO_EPARSE, "not msgpack");
    else
        rc = decode_event(&up.data.via.map, ev, err, errlen);
    msgpack_unpacked_destroy(&up);
    if (rc != 0) rf_event_clear(ev);
    return rc;
}

/* ---------------------------------------------------------------------------
 * JSON view
 */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char lo = 0x80, hi = 0xbf;
    size_t more;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        more = 1;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        more = 2;
        if (s[0] == 0xe0) lo = 0xa0; /* overlong */
        if (s[0] == 0xed) hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        more = 3;
        if (s[0] == 0xf0) lo = 0x90; /* overlong */
        if (s[0] == 0xf4) hi = 0x8f; /* over U+10FFFF */
    } else {
        return 0;
    }
    if (n <= more || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= more; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return more + 1;
}

/* json_text: s as a JSON string. Event strings are not checked for UTF-8
 * when decoded; here each byte that does not start a well-formed sequence is
 * replaced by U+FFFD, so the JSON view is always valid and never fails on
 * bad input. NULL means "". NULL only when out of memory. */
static json_t *json_text(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *fixed = malloc(3 * n + 1);
    if (!fixed) return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(fixed + out, s + i, k);
            out += k;
            i += k;
        } else {
            memcpy(fixed + out, "\xef\xbf\xbd", 3);
            out += 3;
            i++;
        }
    }
    j = json_stringn_nocheck(fixed, out);
    free(fixed);
    return j;
}

static json_t *json_value(const rf_field_desc_t *f, const void *base) {
    const void *slot = field_at(base, f);
    switch (f->type) {
    case RF_FT_STR: return json_text(*(char *const *)slot);
    case RF_FT_I64: return json_integer((json_int_t) * (const int64_t *)slot);
    case RF_FT_BOOL: return json_boolean(*(const bool *)slot);
    }
    return NULL;
}

/* An empty object for RF_EV_NONE or an out-of-range type. */
json_t *rf_event_body_json(const rf_event_t *ev) {
    assert(ev);
    json_t *obj = json_object();
    if (!obj) return NULL;
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    for (size_t i = 0; d && i < d->nfields; i++)
        if (json_object_set_new(obj, d->fields[i].name, json_value(&d->fields[i], &ev->body)) != 0)
            goto err;
    return obj;
err:
    json_decref(obj);
    return NULL;
}

/* Same keys as the wire; `type` is the wire name ("unknown" for none). NULL
 * only when out of memory. */
json_t *rf_event_json(const rf_event_t *ev) {
    assert(ev);
    json_t *obj = json_object();
    if (!obj) return NULL;
    for (size_t i = 0; i < ENV__COUNT; i++) {
        json_t *val = i == ENV_type ? json_string(rf_event_type_name(ev->type))
                                    : json_value(&envelope[i], ev);
        if (json_object_set_new(obj, envelope[i].name, val) != 0) goto err;
    }
    if (json_object_set_new(obj, BODY_KEY, rf_event_body_json(ev)) != 0) goto err;
    return obj;
err:
    json_decref(obj);
    return NULL;
}
