/*
 * test_proto.c: unit tests of the event codec (common/proto/).
 *
 * Every test walks the descriptors, so a new event or field in
 * proto/events.def is covered without editing this file. Events that must
 * not decode are built here with msgpack-c's packer (build()), which writes
 * the same bytes as rf_event_encode unless told to drop, retype, duplicate or
 * add keys.
 *
 * Environment:
 *   RF_PROTO_FUZZ_ITER  random buffers to decode (default 200000; the
 *                       single-byte mutations are a quarter of that)
 *   RF_PROTO_FUZZ_SEED  seed of the random tests (default FUZZ_SEED, printed)
 *   RF_PROTODOC         path of the rf-protodoc binary; the WIRE.md test is
 *                       skipped without it
 *   RF_REPO_ROOT        repository root holding proto/WIRE.md (default ".")
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto/proto.h"

#define FUZZ_SEED UINT64_C(0x5eed2024)
#define FUZZ_ITER_DEFAULT 200000L

/* ---------------------------------------------------------------------------
 * Helpers over the descriptors
 */

static const rf_field_desc_t *env_fields(size_t *n) {
    const rf_field_desc_t *f = rf_envelope_fields(n);
    assert_non_null(f);
    return f;
}

static bool is_env_v(const rf_field_desc_t *f) { return f->offset == offsetof(rf_event_t, v); }
static bool is_env_type(const rf_field_desc_t *f) {
    return f->offset == offsetof(rf_event_t, type);
}

static void *slot_of(const void *base, const rf_field_desc_t *f) {
    return (char *)base + f->offset;
}

static const rf_event_desc_t *desc_of(int t) {
    const rf_event_desc_t *d = rf_event_desc((rf_event_type_t)t);
    assert_non_null(d);
    return d;
}

/* Values the round trip cycles through: sign, width and format boundaries. */
static const int64_t i64_values[] = {
    -1234567890123LL,        INT64_MAX,       0, INT64_MIN, -1, 1, 127, 128, -32, -33, 255, 65536,
    (int64_t)UINT32_MAX + 1, 1700000000000LL,
};
#define N_I64 (sizeof i64_values / sizeof i64_values[0])

/* Give one field a value; k varies per field and round. Round 0 gives every
 * field a distinct, non-default value; later rounds visit the edge cases. */
static void set_field(void *base, const rf_field_desc_t *f, unsigned round, unsigned k) {
    void *slot = slot_of(base, f);
    switch (f->type) {
    case RF_FT_STR: {
        char text[400];
        switch (round % 5) {
        case 0: snprintf(text, sizeof text, "退货 %s #%u ✓", f->name, k); break;
        case 1: text[0] = '\0'; break;
        case 2: /* str8 / str16 boundaries: 31, 32, 255, 256 bytes */
            memset(text, 'a' + (char)(k % 26), sizeof text);
            text[(size_t[]){31, 32, 255, 256}[k % 4]] = '\0';
            break;
        case 3: snprintf(text, sizeof text, "📦\t\"quoted\"\n\\ %u", k); break;
        default: snprintf(text, sizeof text, "%u", k); break;
        }
        assert_int_equal(rf_event_set_str((char **)slot, text), 0);
        break;
    }
    case RF_FT_I64:
        *(int64_t *)slot = round == 0 ? (int64_t)(k + 1) * -1000003 * (k % 2 ? -1 : 1)
                                      : i64_values[(k + round) % N_I64];
        break;
    case RF_FT_BOOL: *(bool *)slot = round == 0 ? true : (k + round) % 2; break;
    }
}

/* A built event of type t with every field set (see set_field). */
static void fill_event(rf_event_t *ev, int t, unsigned round) {
    assert_int_equal(rf_event_init(ev, (rf_event_type_t)t), 0);
    size_t n;
    const rf_field_desc_t *env = env_fields(&n);
    unsigned k = (unsigned)t * 100;
    for (size_t i = 0; i < n; i++)
        if (!is_env_v(&env[i]) && !is_env_type(&env[i])) set_field(ev, &env[i], round, k++);
    const rf_event_desc_t *d = desc_of(t);
    for (size_t i = 0; i < d->nfields; i++) set_field(&ev->body, &d->fields[i], round, k++);
}

static void assert_field_equal(const void *a, const void *b, const rf_field_desc_t *f) {
    const void *sa = slot_of(a, f), *sb = slot_of(b, f);
    switch (f->type) {
    case RF_FT_STR:
        assert_non_null(*(char *const *)sa);
        assert_non_null(*(char *const *)sb);
        if (strcmp(*(char *const *)sa, *(char *const *)sb) != 0)
            fail_msg("field %s: \"%s\" != \"%s\"", f->name, *(char *const *)sa, *(char *const *)sb);
        break;
    case RF_FT_I64:
        if (*(const int64_t *)sa != *(const int64_t *)sb)
            fail_msg("field %s: %" PRId64 " != %" PRId64, f->name, *(const int64_t *)sa,
                     *(const int64_t *)sb);
        break;
    case RF_FT_BOOL: assert_int_equal(*(const bool *)sa, *(const bool *)sb); break;
    }
}

static void assert_events_equal(const rf_event_t *a, const rf_event_t *b) {
    size_t n;
    const rf_field_desc_t *env = env_fields(&n);
    assert_int_equal(a->type, b->type);
    for (size_t i = 0; i < n; i++)
        if (!is_env_type(&env[i])) assert_field_equal(a, b, &env[i]);
    const rf_event_desc_t *d = desc_of(a->type);
    for (size_t i = 0; i < d->nfields; i++) assert_field_equal(&a->body, &b->body, &d->fields[i]);
}

static void assert_cleared(const rf_event_t *ev) {
    static const rf_event_t zero;
    assert_memory_equal(ev, &zero, sizeof zero);
}

/* ---------------------------------------------------------------------------
 * build(): msgpack of an event, optionally damaged
 */

enum { AT_NONE, AT_ENV, AT_BODY };
enum { OP_NONE, OP_DROP, OP_WRONG, OP_DUP };

typedef struct mutation {
    int at;               /* where the key below is: AT_ENV (incl. "body") or AT_BODY */
    const char *key;      /* field to act on */
    int op;               /* OP_DROP, OP_WRONG (value replaced by wrong(variant)), OP_DUP */
    rf_field_type_t type; /* the field's type, for OP_WRONG */
    int variant;
    bool extra; /* add unknown keys to envelope and body */
    bool set_v; /* write v_value instead of ev->v */
    int64_t v_value;
    const char *type_name; /* write this instead of the type's wire name */
} mutation_t;

/* A map being written: entries go to their own buffer, counted, so the
 * header can be written once the count is known. */
typedef struct mapbuf {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t n;
} mapbuf_t;

static void mb_init(mapbuf_t *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
    m->n = 0;
}

static void pack_cstr(msgpack_packer *pk, const char *s) {
    assert_int_equal(msgpack_pack_str_with_body(pk, s, strlen(s)), 0);
}

static msgpack_packer *mb_key(mapbuf_t *m, const char *key) {
    m->n++;
    pack_cstr(&m->pk, key);
    return &m->pk;
}

static void mb_finish(mapbuf_t *m, msgpack_packer *out) {
    assert_int_equal(msgpack_pack_map(out, m->n), 0);
    if (m->sb.size) assert_int_equal(out->callback(out->data, m->sb.data, m->sb.size), 0);
    msgpack_sbuffer_destroy(&m->sb);
}

/* Wrong values by field type; the number of variants of each. */
#define N_WRONG_STR 8
#define N_WRONG_I64 7
#define N_WRONG_BOOL 5
#define N_WRONG_MAP 4

static int wrong_count(int type) {
    switch (type) {
    case RF_FT_STR: return N_WRONG_STR;
    case RF_FT_I64: return N_WRONG_I64;
    case RF_FT_BOOL: return N_WRONG_BOOL;
    default: return N_WRONG_MAP; /* -1: the body map */
    }
}

static void pack_wrong(msgpack_packer *pk, int type, int variant) {
    int r = 0;
    if (type == RF_FT_STR) {
        switch (variant) {
        case 0: r = msgpack_pack_int64(pk, 7); break;
        case 1: r = msgpack_pack_true(pk); break;
        case 2: r = msgpack_pack_nil(pk); break;
        case 3: r = msgpack_pack_bin_with_body(pk, "xy", 2); break;
        case 4: r = msgpack_pack_array(pk, 0); break;
        case 5: r = msgpack_pack_map(pk, 0); break;
        case 6: r = msgpack_pack_double(pk, 1.5); break;
        default: r = msgpack_pack_str_with_body(pk, "a\0b", 3); break; /* NUL inside */
        }
    } else if (type == RF_FT_I64) {
        switch (variant) {
        case 0: r = msgpack_pack_str_with_body(pk, "7", 1); break;
        case 1: r = msgpack_pack_false(pk); break;
        case 2: r = msgpack_pack_nil(pk); break;
        case 3: r = msgpack_pack_double(pk, 1.0); break;
        case 4: r = msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1); break;
        case 5: r = msgpack_pack_array(pk, 0); break;
        default: r = msgpack_pack_float(pk, 2.0f); break;
        }
    } else if (type == RF_FT_BOOL) {
        switch (variant) {
        case 0: r = msgpack_pack_int64(pk, 1); break;
        case 1: r = msgpack_pack_str_with_body(pk, "true", 4); break;
        case 2: r = msgpack_pack_nil(pk); break;
        case 3: r = msgpack_pack_int64(pk, 0); break;
        default: r = msgpack_pack_array(pk, 1) || msgpack_pack_true(pk); break;
        }
    } else { /* the body */
        switch (variant) {
        case 0: r = msgpack_pack_array(pk, 0); break;
        case 1: r = msgpack_pack_str_with_body(pk, "{}", 2); break;
        case 2: r = msgpack_pack_nil(pk); break;
        default: r = msgpack_pack_int64(pk, 0); break;
        }
    }
    assert_int_equal(r, 0);
}

/* Unknown keys of many shapes, including a non-string key. */
static void add_extra_keys(mapbuf_t *m) {
    msgpack_packer *pk = mb_key(m, "zz_future_field");
    assert_int_equal(msgpack_pack_map(pk, 2), 0);
    pack_cstr(pk, "nested");
    assert_int_equal(msgpack_pack_array(pk, 3), 0);
    assert_int_equal(msgpack_pack_int64(pk, 1), 0);
    assert_int_equal(msgpack_pack_nil(pk), 0);
    assert_int_equal(msgpack_pack_double(pk, 2.5), 0);
    pack_cstr(pk, "v"); /* a known name, but one level down */
    assert_int_equal(msgpack_pack_int64(pk, 99), 0);
    pk = mb_key(m, "another_new_one");
    assert_int_equal(msgpack_pack_bin_with_body(pk, "\0\1", 2), 0);
    m->n++;
    assert_int_equal(msgpack_pack_int64(&m->pk, 42), 0); /* integer key */
    pack_cstr(&m->pk, "ignored");
    m->n++;
    assert_int_equal(msgpack_pack_bin_with_body(&m->pk, "body", 4), 0); /* bin key "body" */
    assert_int_equal(msgpack_pack_nil(&m->pk), 0);
}

static bool acts_on(const mutation_t *m, int at, const char *key) {
    return m && m->at == at && strcmp(m->key, key) == 0;
}

/* Write one field (or its damaged version) into map mb. */
static void build_field(mapbuf_t *mb, const mutation_t *m, int at, const rf_field_desc_t *f,
                        const void *base, const char *type_name) {
    int op = acts_on(m, at, f->name) ? m->op : OP_NONE;
    if (op == OP_DROP) return;
    for (int copy = 0; copy < (op == OP_DUP ? 2 : 1); copy++) {
        msgpack_packer *pk = mb_key(mb, f->name);
        const void *slot = slot_of(base, f);
        if (op == OP_WRONG) {
            pack_wrong(pk, m->type, m->variant);
        } else if (type_name) {
            pack_cstr(pk, type_name);
        } else if (at == AT_ENV && is_env_v(f) && m && m->set_v) {
            assert_int_equal(msgpack_pack_int64(pk, m->v_value), 0);
        } else if (f->type == RF_FT_STR) {
            pack_cstr(pk, *(char *const *)slot);
        } else if (f->type == RF_FT_I64) {
            assert_int_equal(msgpack_pack_int64(pk, *(const int64_t *)slot), 0);
        } else {
            bool b = *(const bool *)slot;
            assert_int_equal(b ? msgpack_pack_true(pk) : msgpack_pack_false(pk), 0);
        }
    }
}

/* build: the encoding of ev, changed as m says (m may be NULL). *out is
 * malloc'd. */
static void build(const rf_event_t *ev, const mutation_t *m, uint8_t **out, size_t *len) {
    const rf_event_desc_t *d = desc_of(ev->type);
    mapbuf_t top, body;
    mb_init(&top);
    size_t n;
    const rf_field_desc_t *env = env_fields(&n);
    for (size_t i = 0; i < n; i++) {
        const char *tn = NULL;
        if (is_env_type(&env[i])) tn = m && m->type_name ? m->type_name : d->wire_name;
        build_field(&top, m, AT_ENV, &env[i], ev, tn);
    }
    if (m && m->extra) add_extra_keys(&top);
    int op = acts_on(m, AT_ENV, "body") ? m->op : OP_NONE;
    if (op == OP_WRONG) {
        pack_wrong(mb_key(&top, "body"), -1, m->variant);
    } else if (op != OP_DROP) {
        for (int copy = 0; copy < (op == OP_DUP ? 2 : 1); copy++) {
            mb_init(&body);
            for (size_t i = 0; i < d->nfields; i++)
                build_field(&body, m, AT_BODY, &d->fields[i], &ev->body, NULL);
            if (m && m->extra) add_extra_keys(&body);
            mb_finish(&body, mb_key(&top, "body"));
        }
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    mb_finish(&top, &pk);
    *len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
}

/* Decode buf and expect code; on failure the event must be cleared and, when
 * name is given, err must mention it. */
static void expect_decode(const uint8_t *buf, size_t len, int code, const char *name) {
    rf_event_t ev;
    char err[256];
    memset(&ev, 0xab, sizeof ev); /* decode must not trust what is there */
    int rc = rf_event_decode(buf, len, &ev, err, sizeof err);
    if (rc != code)
        fail_msg("expected %d (%s), got %d (%s): %s", code, rf_proto_strerror(code), rc,
                 rf_proto_strerror(rc), err);
    if (rc != 0) {
        assert_cleared(&ev);
        assert_true(err[0] != '\0');
        if (name && !strstr(err, name)) fail_msg("error \"%s\" does not name \"%s\"", err, name);
        assert_null(strchr(err, '\n'));
    }
    rf_event_clear(&ev);
}

static void expect_built(const rf_event_t *ev, const mutation_t *m, int code, const char *name) {
    uint8_t *buf;
    size_t len;
    build(ev, m, &buf, &len);
    expect_decode(buf, len, code, name);
    free(buf);
}

/* ---------------------------------------------------------------------------
 * Tests
 */

/* (a) every type, every field, through encode and decode, over several rounds. */
static void test_round_trip(void **state) {
    (void)state;
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        for (unsigned round = 0; round <= N_I64; round++) {
            rf_event_t ev, back;
            uint8_t *buf, *built;
            size_t len, built_len;
            char err[256];
            fill_event(&ev, t, round);
            assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
            assert_true(len > 0 && len <= RF_PROTO_MAX_BYTES);
            /* build() must agree with the encoder, or the other tests prove nothing */
            build(&ev, NULL, &built, &built_len);
            assert_int_equal(len, built_len);
            assert_memory_equal(buf, built, len);
            free(built);
            int rc = rf_event_decode(buf, len, &back, err, sizeof err);
            if (rc != 0) fail_msg("%s round %u: %s", rf_event_type_name(t), round, err);
            assert_events_equal(&ev, &back);
            free(buf);
            rf_event_clear(&back);
            rf_event_clear(&ev);
        }
    }
}

/* rf_event_init: no NULL strings anywhere, v set, zeroed numbers. */
static void test_init_and_clear(void **state) {
    (void)state;
    for (int t = RF_EV_NONE; t < RF_EV__COUNT; t++) {
        rf_event_t ev;
        assert_int_equal(rf_event_init(&ev, (rf_event_type_t)t), 0);
        assert_int_equal(ev.v, RF_PROTO_VERSION);
        assert_int_equal(ev.type, t);
        size_t n;
        const rf_field_desc_t *env = env_fields(&n);
        for (size_t i = 0; i < n; i++)
            if (env[i].type == RF_FT_STR && !is_env_type(&env[i]))
                assert_string_equal(*(char **)slot_of(&ev, &env[i]), "");
        const rf_event_desc_t *d = rf_event_desc((rf_event_type_t)t);
        for (size_t i = 0; d && i < d->nfields; i++)
            if (d->fields[i].type == RF_FT_STR)
                assert_string_equal(*(char **)slot_of(&ev.body, &d->fields[i]), "");
        rf_event_clear(&ev);
        assert_cleared(&ev);
        rf_event_clear(&ev); /* twice is fine */
    }
    rf_event_t ev;
    assert_int_equal(rf_event_init(&ev, RF_EV__COUNT), RF_PROTO_EUNKNOWN);
    assert_cleared(&ev);
    rf_event_clear(NULL);

    char *s = NULL;
    assert_int_equal(rf_event_set_str(&s, "退货"), 0);
    assert_string_equal(s, "退货");
    assert_int_equal(rf_event_set_str(&s, NULL), 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_encode_errors(void **state) {
    (void)state;
    rf_event_t ev;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 1;
    assert_int_equal(rf_event_init(&ev, RF_EV_NONE), 0);
    assert_int_equal(rf_event_encode(&ev, &buf, &len), RF_PROTO_EUNKNOWN);
    assert_null(buf);
    rf_event_clear(&ev);

    fill_event(&ev, RF_EV__COUNT - 1, 0);
    ev.v = RF_PROTO_VERSION + 1;
    assert_int_equal(rf_event_encode(&ev, &buf, &len), RF_PROTO_EVERSION);
    ev.v = 0;
    assert_int_equal(rf_event_encode(&ev, &buf, &len), RF_PROTO_EVERSION);
    ev.v = RF_PROTO_VERSION;

    char *big = malloc(RF_PROTO_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, 'x', RF_PROTO_MAX_BYTES);
    big[RF_PROTO_MAX_BYTES] = '\0';
    assert_int_equal(rf_event_set_str(&ev.event_id, big), 0);
    free(big);
    assert_int_equal(rf_event_encode(&ev, &buf, &len), RF_PROTO_ETOOBIG);
    assert_null(buf);
    rf_event_clear(&ev);

    /* a zeroed (not initialised) event with v and type set encodes NULLs as "" */
    memset(&ev, 0, sizeof ev);
    ev.v = RF_PROTO_VERSION;
    ev.type = (rf_event_type_t)1;
    assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
    rf_event_t back;
    assert_int_equal(rf_event_decode(buf, len, &back, NULL, 0), 0);
    assert_string_equal(back.event_id, "");
    free(buf);
    rf_event_clear(&back);
}

/* (b) every strict prefix of every type's encoding is rejected. */
static void test_truncation(void **state) {
    (void)state;
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        rf_event_t ev;
        uint8_t *buf;
        size_t len;
        fill_event(&ev, t, 0);
        assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
        for (size_t cut = 0; cut < len; cut++) {
            /* an exact-size copy, so ASan sees any read past the prefix */
            uint8_t *prefix = malloc(cut ? cut : 1);
            assert_non_null(prefix);
            memcpy(prefix, buf, cut);
            expect_decode(prefix, cut, RF_PROTO_EPARSE, NULL);
            free(prefix);
        }
        expect_decode(NULL, 0, RF_PROTO_EPARSE, NULL);
        free(buf);
        rf_event_clear(&ev);
    }
}

/* (c) over RF_PROTO_MAX_BYTES is refused before being read. */
static void test_too_big(void **state) {
    (void)state;
    rf_event_t ev;
    uint8_t *buf;
    size_t len;
    fill_event(&ev, 1, 0);
    assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
    uint8_t *big = calloc(RF_PROTO_MAX_BYTES + 1, 1);
    assert_non_null(big);
    memcpy(big, buf, len); /* a valid event followed by zeros */
    expect_decode(big, RF_PROTO_MAX_BYTES + 1, RF_PROTO_ETOOBIG, NULL);
    expect_decode(big, SIZE_MAX, RF_PROTO_ETOOBIG, NULL);
    free(big);
    free(buf);
    rf_event_clear(&ev);
}

/* Run fn(ev, field, at) over every field of every type's envelope and body. */
static void each_field(void (*fn)(const rf_event_t *ev, const rf_field_desc_t *f, int at)) {
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        rf_event_t ev;
        fill_event(&ev, t, 0);
        size_t n;
        const rf_field_desc_t *env = env_fields(&n);
        for (size_t i = 0; i < n; i++) fn(&ev, &env[i], AT_ENV);
        const rf_event_desc_t *d = desc_of(t);
        for (size_t i = 0; i < d->nfields; i++) fn(&ev, &d->fields[i], AT_BODY);
        rf_event_clear(&ev);
    }
}

static void wrong_types_of(const rf_event_t *ev, const rf_field_desc_t *f, int at) {
    for (int variant = 0; variant < wrong_count(f->type); variant++) {
        mutation_t m = {
            .at = at, .key = f->name, .op = OP_WRONG, .type = f->type, .variant = variant};
        expect_built(ev, &m, RF_PROTO_ETYPE, f->name);
    }
}

/* (d) every field, given each kind of wrong msgpack value, is ETYPE naming it. */
static void test_wrong_types(void **state) {
    (void)state;
    each_field(wrong_types_of);
    rf_event_t ev;
    fill_event(&ev, 1, 0);
    for (int variant = 0; variant < wrong_count(-1); variant++) {
        mutation_t m = {.at = AT_ENV, .key = "body", .op = OP_WRONG, .variant = variant};
        expect_built(&ev, &m, RF_PROTO_ETYPE, "body");
    }
    rf_event_clear(&ev);
}

static void drop_field(const rf_event_t *ev, const rf_field_desc_t *f, int at) {
    mutation_t m = {.at = at, .key = f->name, .op = OP_DROP};
    if (f->required) {
        expect_built(ev, &m, RF_PROTO_EMISSING, f->name);
        return;
    }
    /* an optional field left out reads as its default */
    uint8_t *buf;
    size_t len;
    rf_event_t back;
    build(ev, &m, &buf, &len);
    assert_int_equal(rf_event_decode(buf, len, &back, NULL, 0), 0);
    const void *slot = slot_of(at == AT_ENV ? (void *)&back : (void *)&back.body, f);
    switch (f->type) {
    case RF_FT_STR: assert_string_equal(*(char *const *)slot, ""); break;
    case RF_FT_I64: assert_int_equal(*(const int64_t *)slot, 0); break;
    case RF_FT_BOOL: assert_false(*(const bool *)slot); break;
    }
    free(buf);
    rf_event_clear(&back);
}

/* (e) each required field left out is EMISSING naming it. */
static void test_missing(void **state) {
    (void)state;
    each_field(drop_field);
    rf_event_t ev;
    fill_event(&ev, 1, 0);
    mutation_t m = {.at = AT_ENV, .key = "body", .op = OP_DROP};
    expect_built(&ev, &m, RF_PROTO_EMISSING, "body");
    rf_event_clear(&ev);
}

static void dup_field(const rf_event_t *ev, const rf_field_desc_t *f, int at) {
    mutation_t m = {.at = at, .key = f->name, .op = OP_DUP};
    expect_built(ev, &m, RF_PROTO_EPARSE, f->name);
}

/* A known key given twice is refused (readers could disagree on it). */
static void test_duplicate_keys(void **state) {
    (void)state;
    each_field(dup_field);
    rf_event_t ev;
    fill_event(&ev, 1, 0);
    mutation_t m = {.at = AT_ENV, .key = "body", .op = OP_DUP};
    expect_built(&ev, &m, RF_PROTO_EPARSE, "body");
    rf_event_clear(&ev);
}

/* (f) unknown keys in envelope and body are ignored. */
static void test_unknown_keys(void **state) {
    (void)state;
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        rf_event_t ev, back;
        uint8_t *buf;
        size_t len;
        char err[256];
        fill_event(&ev, t, 0);
        mutation_t m = {.extra = true};
        build(&ev, &m, &buf, &len);
        if (rf_event_decode(buf, len, &back, err, sizeof err) != 0) fail_msg("%s", err);
        assert_events_equal(&ev, &back);
        free(buf);
        rf_event_clear(&back);
        rf_event_clear(&ev);
    }
}

/* (g) versions outside 1..RF_PROTO_VERSION; types we do not know. */
static void test_version_and_type(void **state) {
    (void)state;
    rf_event_t ev;
    fill_event(&ev, 1, 0);
    const int64_t bad_v[] = {RF_PROTO_VERSION + 1, 0, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_v / sizeof bad_v[0]; i++) {
        mutation_t m = {.set_v = true, .v_value = bad_v[i]};
        expect_built(&ev, &m, RF_PROTO_EVERSION, "v");
    }
    /* the version is checked before anything else */
    mutation_t newer = {.set_v = true, .v_value = RF_PROTO_VERSION + 1, .type_name = "x.y"};
    expect_built(&ev, &newer, RF_PROTO_EVERSION, "v");

    const char *bad_types[] = {
        "no.such.type",     "",          "unknown", "return.requested ", "RETURN.REQUESTED",
        "return_requested", "\xff\xfe\n"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        mutation_t m = {.type_name = bad_types[i]};
        expect_built(&ev, &m, RF_PROTO_EUNKNOWN, "type");
    }
    rf_event_clear(&ev);
}

/* (h) bytes after the event, and tops that are not maps. */
static void test_trailing_and_top(void **state) {
    (void)state;
    rf_event_t ev;
    uint8_t *buf;
    size_t len;
    fill_event(&ev, 1, 0);
    assert_int_equal(rf_event_encode(&ev, &buf, &len), 0);
    uint8_t *two = malloc(2 * len);
    assert_non_null(two);
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    expect_decode(two, len + 1, RF_PROTO_EPARSE, NULL); /* one stray byte */
    two[len] = 0xc0;                                    /* a whole nil */
    expect_decode(two, len + 1, RF_PROTO_EPARSE, NULL);
    memcpy(two + len, buf, len);
    expect_decode(two, 2 * len, RF_PROTO_EPARSE, NULL); /* two events */
    free(two);
    free(buf);
    rf_event_clear(&ev);

    static const struct {
        const char *bytes;
        size_t len;
    } tops[] = {
        {"\x90", 1}, /* empty array */
        {"\x01", 1}, /* int */
        {"\xc0", 1}, /* nil */
        {"\xa3"
         "abc",
         4},                         /* string */
        {"\xc1", 1},                 /* never-used format byte */
        {"\x80", 1},                 /* empty map: v missing */
        {"\xdf\x0f\xff\xff\xff", 5}, /* map32 claiming 2^28 pairs */
        {"\xdd\xff\xff\xff\xff", 5}, /* array32 claiming 2^32 items */
        {"\x81\xa1"
         "x\xdd\x7f\xff\xff\xff",
         8},                         /* the same, nested */
        {"\xc6\xff\xff\xff\xff", 5}, /* bin32 of 4 GiB */
    };
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        uint8_t *copy = malloc(tops[i].len);
        assert_non_null(copy);
        memcpy(copy, tops[i].bytes, tops[i].len);
        expect_decode(copy, tops[i].len, i == 5 ? RF_PROTO_EMISSING : RF_PROTO_EPARSE,
                      i == 5 ? "v" : NULL);
        free(copy);
    }

    /* an unknown key whose value nests k arrays deep: with the event's own
     * map that is k + 1 levels, and msgpack-c takes at most 32 */
    rf_event_t ok;
    fill_event(&ok, 1, 0);
    uint8_t *enc;
    size_t enc_len;
    assert_int_equal(rf_event_encode(&ok, &enc, &enc_len), 0);
    assert_true(enc[0] >= 0x80 && enc[0] < 0x8f); /* a fixmap: one more entry fits */
    const size_t depths[] = {31, 32, 100};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        size_t k = depths[i];
        uint8_t *deep = malloc(enc_len + 3 + k + 1);
        assert_non_null(deep);
        deep[0] = (uint8_t)(enc[0] + 1);
        memcpy(deep + 1, enc + 1, enc_len - 1);
        size_t at = enc_len;
        memcpy(deep + at, "\xa2zz", 3);
        at += 3;
        memset(deep + at, 0x91, k); /* [[[...]]] */
        at += k;
        deep[at++] = 0xc0;
        expect_decode(deep, at, k < 32 ? 0 : RF_PROTO_EPARSE, NULL);
        deep[at - 1] = 0x90; /* the innermost item an empty array: one more level */
        expect_decode(deep, at, k < 31 ? 0 : RF_PROTO_EPARSE, NULL);
        free(deep);
    }
    free(enc);
    rf_event_clear(&ok);
}

/* The JSON view: same keys, same values; bad UTF-8 becomes U+FFFD. */
static void test_json(void **state) {
    (void)state;
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        rf_event_t ev;
        fill_event(&ev, t, 0);
        json_t *j = rf_event_json(&ev);
        assert_non_null(j);
        size_t n;
        const rf_field_desc_t *env = env_fields(&n);
        assert_int_equal(json_object_size(j), n + 1);
        assert_string_equal(json_string_value(json_object_get(j, "type")),
                            rf_event_type_name(ev.type));
        json_t *body = json_object_get(j, "body");
        assert_true(json_is_object(body));
        const rf_event_desc_t *d = desc_of(t);
        assert_int_equal(json_object_size(body), d->nfields);
        for (size_t i = 0; i < n + d->nfields; i++) {
            const rf_field_desc_t *f = i < n ? &env[i] : &d->fields[i - n];
            const void *base = i < n ? (const void *)&ev : (const void *)&ev.body;
            json_t *val = json_object_get(i < n ? j : body, f->name);
            assert_non_null(val);
            if (i < n && is_env_type(f)) continue;
            const void *slot = slot_of(base, f);
            switch (f->type) {
            case RF_FT_STR:
                assert_string_equal(json_string_value(val), *(char *const *)slot);
                break;
            case RF_FT_I64:
                assert_true(json_is_integer(val));
                assert_true(json_integer_value(val) == *(const int64_t *)slot);
                break;
            case RF_FT_BOOL: assert_true(json_is_true(val)); break;
            }
        }
        char *text = json_dumps(j, 0);
        assert_non_null(text);
        free(text);
        json_decref(j);
        rf_event_clear(&ev);
    }

    rf_event_t ev;
    fill_event(&ev, 1, 0);
    assert_int_equal(rf_event_set_str(&ev.event_id, "a\xff"
                                                    "b\xc3(\xe9\x80 退"),
                     0);
    json_t *j = rf_event_json(&ev);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event_id")),
                        "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd 退");
    char *text = json_dumps(j, 0);
    assert_non_null(text);
    free(text);
    json_decref(j);
    rf_event_clear(&ev);

    assert_int_equal(rf_event_init(&ev, RF_EV_NONE), 0);
    j = rf_event_body_json(&ev);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    j = rf_event_json(&ev);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "unknown");
    json_decref(j);
    rf_event_clear(&ev);
}

/* Names, routing and descriptors agree with events.def. */
static void test_names_and_routing(void **state) {
    (void)state;
    static const struct {
        rf_event_type_t type;
        const char *wire, *body;
        unsigned consumers;
    } expected[] = {
#define ROW(sym, name, wire, consumers) {RF_EV_##sym, wire, #name, (consumers)},
        RF_EVENTS(ROW)
#undef ROW
    };
    assert_int_equal(sizeof expected / sizeof expected[0], RF_EV__COUNT - 1);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const rf_event_desc_t *d = desc_of(expected[i].type);
        assert_int_equal(d->type, expected[i].type);
        assert_string_equal(d->wire_name, expected[i].wire);
        assert_string_equal(d->body_name, expected[i].body);
        assert_int_equal(d->consumers, expected[i].consumers);
        assert_true(d->nfields > 0);
        assert_int_equal(rf_event_consumers(expected[i].type), expected[i].consumers);
        assert_string_equal(rf_event_type_name(expected[i].type), expected[i].wire);
        assert_int_equal(rf_event_type_from_name(expected[i].wire), expected[i].type);
    }
    assert_null(rf_event_desc(RF_EV_NONE));
    assert_null(rf_event_desc(RF_EV__COUNT));
    assert_null(rf_event_desc((rf_event_type_t)-1));
    assert_string_equal(rf_event_type_name(RF_EV_NONE), "unknown");
    assert_string_equal(rf_event_type_name(RF_EV__COUNT), "unknown");
    assert_int_equal(rf_event_type_from_name("unknown"), RF_EV_NONE);
    assert_int_equal(rf_event_type_from_name(NULL), RF_EV_NONE);
    assert_int_equal(rf_event_consumers(RF_EV_NONE), 0);

    const char *workers[] = {"intake", "review", "warehouse", "refund", "notification"};
    assert_int_equal(sizeof workers / sizeof workers[0], RF_WORKER_COUNT);
    for (unsigned b = 0; b < RF_WORKER_COUNT; b++)
        assert_string_equal(rf_worker_name(b), workers[b]);
    assert_string_equal(rf_worker_name(RF_WORKER_COUNT), "unknown");

    for (int code = RF_PROTO_ENOMEM; code <= RF_PROTO_OK; code++) {
        assert_non_null(rf_proto_strerror(code));
        assert_string_not_equal(rf_proto_strerror(code), "unknown error");
    }
    assert_string_equal(rf_proto_strerror(-100), "unknown error");

    size_t n;
    const rf_field_desc_t *env = env_fields(&n);
    size_t seen_v = 0, seen_type = 0;
    for (size_t i = 0; i < n; i++) {
        seen_v += is_env_v(&env[i]) && strcmp(env[i].name, "v") == 0;
        seen_type += is_env_type(&env[i]) && strcmp(env[i].name, "type") == 0;
        assert_non_null(env[i].doc);
    }
    assert_int_equal(seen_v, 1);
    assert_int_equal(seen_type, 1);
}

/* A small PRNG (splitmix64): the same sequence on every platform. */
static uint64_t rng_state;
static uint64_t rng(void) {
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static long env_long(const char *name, long fallback) {
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 0) : fallback;
}

static bool is_proto_code(int rc) { return rc <= RF_PROTO_OK && rc >= RF_PROTO_ENOMEM; }

/* Decode anything: a valid result must encode and decode again. */
static void decode_any(const uint8_t *buf, size_t len) {
    rf_event_t ev, again;
    char err[128];
    int rc = rf_event_decode(buf, len, &ev, err, sizeof err);
    if (!is_proto_code(rc)) fail_msg("decode returned %d", rc);
    if (rc != 0) {
        assert_cleared(&ev);
        return;
    }
    uint8_t *enc;
    size_t enc_len;
    assert_int_equal(rf_event_encode(&ev, &enc, &enc_len), 0);
    rc = rf_event_decode(enc, enc_len, &again, err, sizeof err);
    if (rc != 0) fail_msg("re-decode failed: %s", err);
    assert_events_equal(&ev, &again);
    json_t *j = rf_event_json(&ev); /* strings may be any bytes now */
    assert_non_null(j);
    char *text = json_dumps(j, 0);
    assert_non_null(text);
    free(text);
    json_decref(j);
    free(enc);
    rf_event_clear(&again);
    rf_event_clear(&ev);
}

/* (i) random buffers and single-byte mutations of valid encodings. */
static void test_fuzz(void **state) {
    (void)state;
    long iter = env_long("RF_PROTO_FUZZ_ITER", FUZZ_ITER_DEFAULT);
    uint64_t seed = (uint64_t)env_long("RF_PROTO_FUZZ_SEED", (long)FUZZ_SEED);
    print_message("fuzz: seed 0x%" PRIx64 ", %ld random buffers, %ld mutations\n", seed, iter,
                  iter / 4);
    rng_state = seed;

    uint8_t *buf = malloc(512);
    assert_non_null(buf);
    for (long i = 0; i < iter; i++) {
        size_t len = rng() % 513;
        for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rng();
        /* a map header half the time, so decoding gets past the first byte */
        if (len && rng() % 2) buf[0] = (uint8_t)(0x80 | (rng() % 16));
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, buf, len);
        decode_any(exact, len);
        free(exact);
    }
    free(buf);

    uint8_t *valid[RF_EV__COUNT];
    size_t valid_len[RF_EV__COUNT];
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) {
        rf_event_t ev;
        fill_event(&ev, t, (unsigned)t % 5);
        assert_int_equal(rf_event_encode(&ev, &valid[t], &valid_len[t]), 0);
        rf_event_clear(&ev);
    }
    long decoded = 0;
    for (long i = 0; i < iter / 4; i++) {
        int t = 1 + (int)(rng() % (RF_EV__COUNT - 1));
        size_t len = valid_len[t], at = rng() % len;
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, valid[t], len);
        copy[at] = (uint8_t)(copy[at] ^ (1 + rng() % 255));
        rf_event_t probe;
        if (rf_event_decode(copy, len, &probe, NULL, 0) == 0) decoded++;
        rf_event_clear(&probe);
        decode_any(copy, len);
        free(copy);
    }
    print_message("fuzz: %ld of %ld mutated events still decoded\n", decoded, iter / 4);
    for (int t = RF_EV_NONE + 1; t < RF_EV__COUNT; t++) free(valid[t]);
}

static char *read_stream(FILE *in, size_t *len) {
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    assert_non_null(data);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, in)) > 0) {
        n += got;
        if (n == cap) {
            data = realloc(data, cap *= 2);
            assert_non_null(data);
        }
    }
    *len = n;
    return data;
}

/* (j) the committed proto/WIRE.md is what rf-protodoc prints now. */
static void test_wire_doc_current(void **state) {
    (void)state;
    const char *tool = getenv("RF_PROTODOC");
    if (!tool || !*tool) {
        print_message("RF_PROTODOC not set: skipping the WIRE.md check\n");
        skip();
    }
    const char *root = getenv("RF_REPO_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/proto/WIRE.md", root && *root ? root : ".");

    FILE *p = popen(tool, "r");
    assert_non_null(p);
    size_t got_len;
    char *got = read_stream(p, &got_len);
    assert_int_equal(pclose(p), 0);

    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t want_len;
    char *want = read_stream(f, &want_len);
    fclose(f);

    if (got_len != want_len || memcmp(got, want, got_len) != 0)
        fail_msg("%s is stale: run `make proto/WIRE.md` and commit it", path);
    free(got);
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_init_and_clear),
        cmocka_unit_test(test_encode_errors),     cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_too_big),           cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing),           cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_unknown_keys),      cmocka_unit_test(test_version_and_type),
        cmocka_unit_test(test_trailing_and_top),  cmocka_unit_test(test_json),
        cmocka_unit_test(test_names_and_routing), cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_wire_doc_current),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
