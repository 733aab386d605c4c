/*
 * proto/proto.h: returnflow events in C, derived from proto/events.def.
 *
 * The folder common/proto/ is layer 1 (it uses runtime/ only): proto.c (the
 * types and their names), proto_encode.c and proto_decode.c (msgpack), and
 * proto_json.c (the JSON view for logs, dead letters and the ops page).
 *
 * Structs, the type enum, the codec (msgpack) and the JSON view all come from
 * the X-macros in events.def; nothing here lists a field by hand.
 *
 * Strings inside a decoded or built event are heap copies owned by the event:
 * rf_event_clear() frees them. Setters (rf_event_set_str) copy their input.
 */
#ifndef RF_PROTO_H
#define RF_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Worker bits used by the routing table in events.def. */
enum {
    RF_W_INTAKE = 1 << 0,
    RF_W_REVIEW = 1 << 1,
    RF_W_WAREHOUSE = 1 << 2,
    RF_W_REFUND = 1 << 3,
    RF_W_NOTIFICATION = 1 << 4,
};
#define RF_WORKER_COUNT 5

#include "events.def"

#define RF__CTYPE_STR char *
#define RF__CTYPE_I64 int64_t
#define RF__CTYPE_BOOL bool
#define RF__STRUCT_FIELD(type, name, presence, doc) RF__CTYPE_##type name;

/* rf_body_<name>_t: one struct per event body. */
#define RF__BODY_STRUCT(sym, name, wire, consumers) \
    typedef struct rf_body_##name {                 \
        RF_FIELDS_##name(RF__STRUCT_FIELD)          \
    } rf_body_##name##_t;
RF_EVENTS(RF__BODY_STRUCT)

/* Event types. RF_EV_NONE (0) is "unknown / not set". */
typedef enum rf_event_type {
    RF_EV_NONE = 0,
#define RF__ENUM(sym, name, wire, consumers) RF_EV_##sym,
    RF_EVENTS(RF__ENUM)
#undef RF__ENUM
        RF_EV__COUNT
} rf_event_type_t;

/* One event: envelope plus the body selected by `type`. */
typedef struct rf_event {
    int64_t v;            /* schema version (RF_PROTO_VERSION when built here) */
    char *event_id;       /* ULID text, owned */
    rf_event_type_t type; /* which member of `body` is valid */
    char *return_id;      /* ordering key, owned */
    char *causation_id;   /* event that caused this one, owned, may be "" */
    char *producer;       /* worker name, owned */
    int64_t occurred_at;  /* ms since the epoch */
    union {
#define RF__UNION(sym, name, wire, consumers) rf_body_##name##_t name;
        RF_EVENTS(RF__UNION)
#undef RF__UNION
    } body;
} rf_event_t;

/* Errors returned (negative) by the codec. */
enum {
    RF_PROTO_OK = 0,
    RF_PROTO_EPARSE = -1,   /* not msgpack, truncated, trailing bytes */
    RF_PROTO_ETYPE = -2,    /* a field has the wrong type */
    RF_PROTO_EMISSING = -3, /* a required field is absent */
    RF_PROTO_EVERSION = -4, /* schema version newer than ours */
    RF_PROTO_EUNKNOWN = -5, /* event type we do not know */
    RF_PROTO_ETOOBIG = -6,  /* over RF_PROTO_MAX_BYTES */
    RF_PROTO_ENOMEM = -7,
};

/* Largest encoded event accepted by the decoder. */
#define RF_PROTO_MAX_BYTES (64 * 1024)

/* rf_event_init: zero an event, set v = RF_PROTO_VERSION, and give every
 * string field (envelope and all bodies' fields for `type`) an empty owned
 * string, so a built event never has NULL strings. Returns 0 or -ENOMEM. */
int rf_event_init(rf_event_t *ev, rf_event_type_t type);

/* rf_event_clear: free every owned string and zero the event. Safe on a
 * zeroed or already-cleared event. */
void rf_event_clear(rf_event_t *ev);

/* rf_event_set_str: replace *slot (a string field of ev) with a copy of
 * value (NULL means ""). Returns 0 or -ENOMEM. */
int rf_event_set_str(char **slot, const char *value);

/* rf_event_encode: msgpack bytes of ev into *buf (malloc'd, caller frees) and
 * *len. Returns 0 or a negative RF_PROTO_* error. */
int rf_event_encode(const rf_event_t *ev, uint8_t **buf, size_t *len);

/* rf_event_decode: parse buf[0..len) into ev (which must be zeroed or
 * cleared). Never reads outside the buffer. Unknown fields are ignored;
 * missing required fields, wrong types, unknown types, newer versions and
 * trailing bytes are errors. On error ev is left cleared and err (if not NULL)
 * holds a one-line message naming the field. Returns 0 or RF_PROTO_*. */
int rf_event_decode(const uint8_t *buf, size_t len, rf_event_t *ev, char *err, size_t errlen);

/* rf_event_body_json: the body as a JSON object (new reference), keys are
 * the field names. NULL on allocation failure. */
json_t *rf_event_body_json(const rf_event_t *ev);

/* rf_event_json: envelope + "body" as a JSON object (new reference). */
json_t *rf_event_json(const rf_event_t *ev);

/* rf_event_type_name: "return.requested" etc.; "unknown" for RF_EV_NONE. */
const char *rf_event_type_name(rf_event_type_t type);

/* rf_event_type_from_name: inverse of rf_event_type_name; RF_EV_NONE when
 * the name is unknown. */
rf_event_type_t rf_event_type_from_name(const char *name);

/* rf_event_consumers: RF_W_* mask of the workers that receive `type`. */
unsigned rf_event_consumers(rf_event_type_t type);

/* rf_proto_strerror: text for an RF_PROTO_* code. */
const char *rf_proto_strerror(int code);

/* Descriptor of one field, for generic code (codec, docs, tests). */
typedef enum rf_field_type { RF_FT_STR, RF_FT_I64, RF_FT_BOOL } rf_field_type_t;
typedef struct rf_field_desc {
    const char *name;     /* wire key */
    rf_field_type_t type; /* STR, I64 or BOOL */
    bool required;        /* REQ in events.def */
    size_t offset;        /* offsetof in the body struct (or rf_event_t) */
    const char *doc;      /* one-line meaning */
} rf_field_desc_t;

typedef struct rf_event_desc {
    rf_event_type_t type;
    const char *wire_name;         /* "return.requested" */
    const char *body_name;         /* "return_requested" */
    unsigned consumers;            /* RF_W_* mask */
    const rf_field_desc_t *fields; /* body fields */
    size_t nfields;
} rf_event_desc_t;

/* rf_event_desc: descriptor for a type, NULL for RF_EV_NONE or out of range. */
const rf_event_desc_t *rf_event_desc(rf_event_type_t type);

/* rf_envelope_fields: the envelope's field descriptors (offsets into
 * rf_event_t are not meaningful for `type`, which is handled specially). */
const rf_field_desc_t *rf_envelope_fields(size_t *n);

/* Worker names by bit index: "intake", "review", ... */
const char *rf_worker_name(unsigned bit);

#endif
