/*
 * pgarray.c: PostgreSQL array literals for multi-row statements (see
 * db/pgarray.h). Elements are always double-quoted, with '"' and '\'
 * escaped, which is valid for every element type PostgreSQL parses from
 * text (text, bigint, jsonb, bytea in hex).
 */
#include "db/pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `more` bytes plus the closing "}" and NUL. */
static int reserve(rf_pgarray_t *a, size_t more) {
    size_t need = a->len + more + 2;
    if (need <= a->cap) return 0;
    size_t ncap = a->cap ? a->cap : 256;
    while (ncap < need) ncap *= 2;
    char *nb = realloc(a->buf, ncap);
    if (!nb) return -1;
    a->buf = nb;
    a->cap = ncap;
    return 0;
}

int rf_pgarray_open(rf_pgarray_t *a) {
    a->len = 0;
    a->n = 0;
    if (reserve(a, 1) != 0) return -1;
    a->buf[a->len++] = '{';
    return 0;
}

/* The separator before an element, if it is not the first. */
static void separate(rf_pgarray_t *a) {
    if (a->n++ > 0) a->buf[a->len++] = ',';
}

int rf_pgarray_add(rf_pgarray_t *a, const char *text) {
    if (!text) {
        if (reserve(a, 5) != 0) return -1;
        separate(a);
        memcpy(a->buf + a->len, "NULL", 4);
        a->len += 4;
        return 0;
    }
    if (reserve(a, strlen(text) * 2 + 3) != 0) return -1;
    separate(a);
    char *p = a->buf + a->len;
    *p++ = '"';
    for (const char *t = text; *t; t++) {
        if (*t == '"' || *t == '\\') *p++ = '\\';
        *p++ = *t;
    }
    *p++ = '"';
    a->len = (size_t)(p - a->buf);
    return 0;
}

int rf_pgarray_add_i64(rf_pgarray_t *a, int64_t v) {
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);
    return rf_pgarray_add(a, num);
}

int rf_pgarray_add_bytea(rf_pgarray_t *a, const uint8_t *data, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (reserve(a, 2 * n + 6) != 0) return -1;
    separate(a);
    char *p = a->buf + a->len;
    /* "\\x: the element's text is \x<hex> (a quote, the backslash escaped, x) */
    static const char prefix[4] = {'"', '\\', '\\', 'x'};
    memcpy(p, prefix, sizeof prefix);
    p += sizeof prefix;
    for (size_t i = 0; i < n; i++) {
        *p++ = hex[data[i] >> 4];
        *p++ = hex[data[i] & 15];
    }
    *p++ = '"';
    a->len = (size_t)(p - a->buf);
    return 0;
}

const char *rf_pgarray_close(rf_pgarray_t *a) {
    a->buf[a->len] = '}'; /* reserve always leaves room for "}" and NUL */
    a->buf[a->len + 1] = '\0';
    return a->buf;
}

void rf_pgarray_free(rf_pgarray_t *a) {
    free(a->buf);
    *a = (rf_pgarray_t){0};
}

int rf_pgarrays_open(rf_pgarray_t *cols, int ncol) {
    for (int c = 0; c < ncol; c++)
        if (rf_pgarray_open(&cols[c]) != 0) return -1;
    return 0;
}

int rf_pgarrays_add_row(rf_pgarray_t *cols, int ncol, const char *const *values) {
    for (int c = 0; c < ncol; c++)
        if (rf_pgarray_add(&cols[c], values[c]) != 0) return -1;
    return 0;
}

void rf_pgarrays_free(rf_pgarray_t *cols, int ncol) {
    for (int c = 0; c < ncol; c++) rf_pgarray_free(&cols[c]);
}
