/*
 * db/pgarray.h: PostgreSQL array literals built in memory, for statements
 * that write many rows in one go:
 *
 *     INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::bigint[])
 *
 * with one array per column. An array keeps its memory between uses
 * (rf_pgarray_open empties it), so a worker that flushes a batch per
 * transaction allocates nothing in the steady state.
 */
#ifndef RF_PGARRAY_H
#define RF_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct rf_pgarray {
    char *buf; /* "{...": a literal once closed */
    size_t len, cap;
    size_t n; /* elements */
} rf_pgarray_t;

/* Start (or restart) an empty array "{". 0, or -1 when out of memory. */
int rf_pgarray_open(rf_pgarray_t *a);
/* Append text as a quoted element (NULL: a NULL element). 0 or -1. */
int rf_pgarray_add(rf_pgarray_t *a, const char *text);
int rf_pgarray_add_i64(rf_pgarray_t *a, int64_t v);
/* Append bytes as a bytea element in hex ("\\x..."). 0 or -1. */
int rf_pgarray_add_bytea(rf_pgarray_t *a, const uint8_t *data, size_t n);
/* Close the literal and return it (valid until the next open or free). */
const char *rf_pgarray_close(rf_pgarray_t *a);
void rf_pgarray_free(rf_pgarray_t *a);

/* The same for ncol columns at once: open all, append one row (values[c]
 * to column c), free all. */
int rf_pgarrays_open(rf_pgarray_t *cols, int ncol);
int rf_pgarrays_add_row(rf_pgarray_t *cols, int ncol, const char *const *values);
void rf_pgarrays_free(rf_pgarray_t *cols, int ncol);

#endif
