/*
 * proto/proto_internal.h: what the parts of the event codec share; included
 * only by the files of common/proto:
 *
 *   proto.c         descriptor tables, routing table and names; building and
 *                   freeing events
 *   proto_encode.c  rf_event_t -> msgpack
 *   proto_decode.c  msgpack -> rf_event_t
 *   proto_json.c    the JSON view
 *
 * Wire format (proto/WIRE.md is the generated, per-event description): one
 * msgpack map holding each envelope field under its name, plus BODY_KEY, a
 * map holding each body field under its name.
 */
#ifndef RF_PROTO_INTERNAL_H
#define RF_PROTO_INTERNAL_H

#include <stddef.h>

#include "proto/proto.h"

/* The key of the body map in the envelope. */
#define BODY_KEY "body"

/* Indices into the envelope table, named after the fields: ENV_v, ENV_type... */
enum {
#define RF__ENV_INDEX(T, n, p, d) ENV_##n,
    RF_FIELDS_envelope(RF__ENV_INDEX)
#undef RF__ENV_INDEX
        ENV__COUNT
};

/* ---- proto.c ------------------------------------------------------------------------ */

/* The envelope's field descriptors (offsets into rf_event_t), in events.def
 * order: rf__proto_envelope[ENV_v] is `v`. */
extern const rf_field_desc_t rf__proto_envelope[ENV__COUNT];

/* The slot of field f in the struct at base (a body, or rf_event_t). */
void *rf__proto_field_at(const void *base, const rf_field_desc_t *f);

/* A NUL-terminated malloc'd copy of s[0..n); NULL when out of memory. */
char *rf__proto_dup_n(const char *s, size_t n);

/* Apply fn to every string slot of ev: the envelope's, then its body's.
 * -1 as soon as fn fails, else 0. */
int rf__proto_each_string(rf_event_t *ev, int (*fn)(char **slot));

/* For rf__proto_each_string: a NULL slot gets an owned ""; -1 when out of
 * memory. */
int rf__proto_empty_if_null(char **slot);

/* Wire name (not NUL-terminated) to type; RF_EV_NONE when unknown. */
rf_event_type_t rf__proto_type_from_wire(const char *name, size_t n);

#endif
