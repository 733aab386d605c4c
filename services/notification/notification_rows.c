/*
 * notification_rows.c: rows for one statement, kept as one PostgreSQL array
 * literal per column (db/pgarray.h), each passed as one $n::text[] (or
 * another array type) and read back with unnest(...): many rows written by
 * one statement instead of one statement per row. The columns stay equally
 * long: a row that cannot be added in full drops every row.
 */
#include <string.h>

#include "notification.h"

int notification_rows_init(notification_rows_t *r, int ncols) {
    memset(r, 0, sizeof *r);
    r->ncols = ncols < NOTIFICATION_ROWS_MAX_COLS ? ncols : NOTIFICATION_ROWS_MAX_COLS;
    return notification_rows_reset(r);
}

int notification_rows_reset(notification_rows_t *r) {
    r->n = 0;
    return rf_pgarrays_open(r->col, r->ncols);
}

void notification_rows_free(notification_rows_t *r) {
    rf_pgarrays_free(r->col, r->ncols);
    memset(r, 0, sizeof *r);
}

int notification_rows_add(notification_rows_t *r, const char *const *values) {
    if (rf_pgarrays_add_row(r->col, r->ncols, values) != 0) {
        /* Columns of unequal length would pair the wrong values. */
        notification_rows_reset(r);
        return -1;
    }
    r->n++;
    return 0;
}

const char *notification_rows_literal(notification_rows_t *r, int c) {
    return c >= 0 && c < r->ncols && r->col[c].buf ? rf_pgarray_close(&r->col[c]) : "{}";
}
