/*
 * proto.c: the returnflow event descriptor tables, routing table and names,
 * and building and freeing events, all derived from proto/events.def.
 *
 * The X-macros in events.def generate descriptor tables here: one
 * rf_field_desc_t array per body (offsets into rf_body_<name>_t), one for the
 * envelope (offsets into rf_event_t) and one rf_event_desc_t per type. The
 * msgpack encoder (proto_encode.c) and decoder (proto_decode.c),
 * rf_event_init/clear, the JSON view (proto_json.c) and rf-protodoc loop over
 * those tables; no field is named by hand. Only two envelope fields get
 * special treatment, found by their events.def names: `v` (checked against
 * RF_PROTO_VERSION before anything else) and `type` (a string on the wire, an
 * rf_event_type_t in rf_event_t).
 */
#include "proto/proto.h"
#include "proto/proto_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Descriptor tables
 */

#define RF__PRESENCE_REQ true
#define RF__PRESENCE_OPT false

const rf_field_desc_t rf__proto_envelope[ENV__COUNT] = {
#define RF__ENV_DESC(T, n, p, d) {#n, RF_FT_##T, RF__PRESENCE_##p, offsetof(rf_event_t, n), d},
    RF_FIELDS_envelope(RF__ENV_DESC)
#undef RF__ENV_DESC
};

/* desc_<name>(): the descriptor of one event type. Its field table sits in a
 * function only so that a block-scope typedef (body_t) can tell the field
 * macro, which sees nothing but the field, which struct to take offsetof in.
 * Everything is static constant data; the function returns its address. */
#define RF__BODY_DESC(T, n, p, d) {#n, RF_FT_##T, RF__PRESENCE_##p, offsetof(body_t, n), d},
#define RF__DESC_FN(sym, name, wire, consumers)                                               \
    static const rf_event_desc_t *desc_##name(void) {                                         \
        typedef rf_body_##name##_t body_t;                                                    \
        static const rf_field_desc_t fields[] = {RF_FIELDS_##name(RF__BODY_DESC)};            \
        static const rf_event_desc_t desc = {                                                 \
            RF_EV_##sym, wire, #name, (consumers), fields, sizeof fields / sizeof fields[0]}; \
        return &desc;                                                                         \
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
    return rf__proto_envelope;
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

rf_event_type_t rf__proto_type_from_wire(const char *name, size_t n) {
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        const char *w = rf_event_desc((rf_event_type_t)t)->wire_name;
        if (strlen(w) == n && memcmp(w, name, n) == 0) return (rf_event_type_t)t;
    }
    return RF_EV_NONE;
}

rf_event_type_t rf_event_type_from_name(const char *name) {
    return name ? rf__proto_type_from_wire(name, strlen(name)) : RF_EV_NONE;
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

void *rf__proto_field_at(const void *base, const rf_field_desc_t *f) {
    return (char *)base + f->offset;
}

char *rf__proto_dup_n(const char *s, size_t n) {
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    if (n) memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

int rf__proto_each_string(rf_event_t *ev, int (*fn)(char **slot)) {
    for (size_t i = 0; i < ENV__COUNT; i++)
        if (i != ENV_type && rf__proto_envelope[i].type == RF_FT_STR)
            if (fn(rf__proto_field_at(ev, &rf__proto_envelope[i])) != 0) return -1;
    const rf_event_desc_t *d = rf_event_desc(ev->type);
    for (size_t i = 0; d && i < d->nfields; i++)
        if (d->fields[i].type == RF_FT_STR)
            if (fn(rf__proto_field_at(&ev->body, &d->fields[i])) != 0) return -1;
    return 0;
}

static int free_slot(char **slot) {
    free(*slot);
    *slot = NULL;
    return 0;
}

int rf__proto_empty_if_null(char **slot) {
    if (!*slot) *slot = rf__proto_dup_n("", 0);
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
    if (rf__proto_each_string(ev, rf__proto_empty_if_null) != 0) {
        rf_event_clear(ev);
        return RF_PROTO_ENOMEM;
    }
    return 0;
}

void rf_event_clear(rf_event_t *ev) {
    if (!ev) return;
    rf__proto_each_string(ev, free_slot);
    memset(ev, 0, sizeof *ev);
}

/* On RF_PROTO_ENOMEM *slot is left as it was. */
int rf_event_set_str(char **slot, const char *value) {
    assert(slot);
    if (!value) value = "";
    char *copy = rf__proto_dup_n(value, strlen(value));
    if (!copy) return RF_PROTO_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* rf_event_t is written by hand in proto.h: check each envelope member has
 * the C type its events.def line implies (`type` is the enum instead). */
#define RF__ENV_TYPECHECK(T, n, p, d)                                                        \
    _Static_assert(                                                                          \
        _Generic(((rf_event_t *)0)->n, RF__CTYPE_##T : 1, rf_event_type_t : 1, default : 0), \
        "rf_event_t." #n " does not match its type in events.def");
RF_FIELDS_envelope(RF__ENV_TYPECHECK)
#undef RF__ENV_TYPECHECK
