/*
 * notification_rows.c: rows for one statement, kept as one PostgreSQL array
 * literal per column ({"a","b",NULL}), each passed as one $n::text[] (or
 * another array type) and read back with unnest(...): many rows written by
 * one statement instead of one statement per row.
 */
#include <stdlib.h>
#include <string.h>

#include "notification.h"

/* Every literal stays closed ("{...}" and its NUL) after each row. */
static int set_empty(notification_rows_t *r, int c) {
    if (!r->col[c]) {
        r->cap[c] = 256;
        if (!(r->col[c] = malloc(r->cap[c]))) return -1;
    }
    memcpy(r->col[c], "{}", 3);
    r->len[c] = 2;
    return 0;
}

int notification_rows_init(notification_rows_t *r, int ncols) {
    memset(r, 0, sizeof *r);
    r->ncols = ncols < NOTIFICATION_ROWS_MAX_COLS ? ncols : NOTIFICATION_ROWS_MAX_COLS;
    return notification_rows_reset(r);
}

int notification_rows_reset(notification_rows_t *r) {
    r->n = 0;
    int rc = 0;
    for (int c = 0; c < r->ncols; c++) rc |= set_empty(r, c);
    return rc;
}

void notification_rows_free(notification_rows_t *r) {
    for (int c = 0; c < r->ncols; c++) free(r->col[c]);
    memset(r, 0, sizeof *r);
}

/* Append value v (NULL: SQL NULL) to column c, over its closing brace. */
static int append(notification_rows_t *r, int c, const char *v) {
    size_t worst = v ? 2 * strlen(v) + 2 : 4; /* every byte escaped, quoted; or NULL */
    size_t need = r->len[c] + worst + 3;      /* , } NUL */
    if (need > r->cap[c]) {
        char *grown = realloc(r->col[c], 2 * need);
        if (!grown) return -1;
        r->col[c] = grown;
        r->cap[c] = 2 * need;
    }
    char *out = r->col[c] + r->len[c] - 1;
    if (r->n > 0) *out++ = ',';
    if (!v) {
        memcpy(out, "NULL", 4);
        out += 4;
    } else {
        /* Quoted; a quote or a backslash inside is escaped with a backslash. */
        *out++ = '"';
        for (size_t span; *v; v += span) {
            span = strcspn(v, "\"\\");
            memcpy(out, v, span);
            out += span;
            if (!v[span]) break;
            *out++ = '\\';
            *out++ = v[span];
            span++;
        }
        *out++ = '"';
    }
    memcpy(out, "}", 2);
    r->len[c] = (size_t)(out + 1 - r->col[c]);
    return 0;
}

int notification_rows_add(notification_rows_t *r, const char *const *values) {
    for (int c = 0; c < r->ncols; c++)
        if (!r->col[c] || append(r, c, values[c]) != 0) {
            /* Columns of unequal length would pair the wrong values. */
            notification_rows_reset(r);
            return -1;
        }
    r->n++;
    return 0;
}

const char *notification_rows_literal(const notification_rows_t *r, int c) {
    return c >= 0 && c < r->ncols && r->col[c] ? r->col[c] : "{}";
}
