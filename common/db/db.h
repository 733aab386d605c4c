/*
 * db/db.h: one worker's PostgreSQL connection (libpq), its schema and its
 * migrations.
 *
 * The folder common/db/ is everything a worker does with PostgreSQL that is not
 * its own SQL: this connection, array parameters (db/pgarray.h) and per-shop policy
 * documents (db/policy_docs.h). It may use common/runtime/ only.
 *
 * A worker owns exactly one schema, named after it, and sets search_path to
 * it, so its SQL never names another schema. Calls are synchronous on the
 * worker's single loop thread (a libpq connection is not thread-safe); the
 * connection is re-established by rf_db_connect() after a failure, which the
 * worker calls from a timer. Every query takes its values as parameters.
 */
#ifndef RF_DB_H
#define RF_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

/* One migration: applied once, in order, in its own transaction. */
typedef struct rf_migration {
    const char *name; /* "001_init": the file name without .sql */
    const char *sql;  /* statements, run with search_path = the worker's schema */
} rf_migration_t;

typedef struct rf_db rf_db_t;

/* rf_db_new: remember conninfo and schema; does not connect. NULL on OOM. */
rf_db_t *rf_db_new(const char *conninfo, const char *schema);

/* rf_db_set_lock_wait_ms: how long a statement waits for a row or table
 * another transaction holds before it fails with SQLSTATE 55P03 (the
 * connection's lock_timeout; default 2000). Takes effect at the next
 * connect; a migration's transaction waits up to 60 s. */
void rf_db_set_lock_wait_ms(rf_db_t *db, int64_t ms);

/* rf_db_lock_wait_ms: that wait. */
int64_t rf_db_lock_wait_ms(const rf_db_t *db);

/* rf_db_destroy: close and free; sets *db_p to NULL. */
void rf_db_destroy(rf_db_t **db_p);

/* rf_db_connect: connect if not connected, create the schema if missing and
 * set search_path to it. Returns 0, or -1 with rf_db_error() set. */
int rf_db_connect(rf_db_t *db);

/* rf_db_connected: false after a connection failure until reconnected. */
bool rf_db_connected(const rf_db_t *db);

/* rf_db_conn: the libpq connection (borrowed), NULL when disconnected. */
PGconn *rf_db_conn(rf_db_t *db);

/* rf_db_error: the last error text ("" if none). */
const char *rf_db_error(const rf_db_t *db);

/* rf_db_sqlstate: the SQLSTATE the server gave with that error ("55P03":
 * lock_timeout expired), or "" (no error yet, or one without a server code:
 * not connected, a lost connection). */
const char *rf_db_sqlstate(const rf_db_t *db);

/* rf_db_query: run sql with n text parameters (NULL entries are SQL NULL).
 * Returns the result (caller PQclear()s) when it is COMMAND_OK or TUPLES_OK;
 * otherwise NULL, with the error logged and kept in rf_db_error(). A lost
 * connection marks the db disconnected. */
PGresult *rf_db_query(rf_db_t *db, const char *sql, int n, const char *const *params);

/* rf_db_query_bin: as rf_db_query with per-parameter lengths and formats
 * (1 = binary, for bytea), and the result format (0 text, 1 binary). */
PGresult *rf_db_query_bin(rf_db_t *db, const char *sql, int n, const char *const *params,
                          const int *lengths, const int *formats, int result_format);

/* rf_db_exec: rf_db_query discarding the result. Returns 0 or -1. */
int rf_db_exec(rf_db_t *db, const char *sql, int n, const char *const *params);

/* rf_db_exec_count: rf_db_exec returning the number of rows affected, -1 on error. */
int64_t rf_db_exec_count(rf_db_t *db, const char *sql, int n, const char *const *params);

/* rf_db_query_json: the first column of the first row, parsed as JSON (a new
 * reference) — for queries that build their answer with json_build_object or
 * json_agg. NULL on a database error, when there is no row, or when the text
 * is not JSON; *dberr (if not NULL) is set true only for a database error. */
json_t *rf_db_query_json(rf_db_t *db, const char *sql, int n, const char *const *params,
                         bool *dberr);

/* rf_db_query_list: the first column of every row as a JSON array (a new
 * reference): strings, or each value parsed as JSON when parse is true.
 * NULL on a database error. */
json_t *rf_db_query_list(rf_db_t *db, const char *sql, int n, const char *const *params,
                         bool parse);

/* Transactions. rf_db_rollback is harmless outside a transaction. */
int rf_db_begin(rf_db_t *db);
int rf_db_commit(rf_db_t *db);
void rf_db_rollback(rf_db_t *db);

/* Group commit. Several requests served in one loop iteration share one
 * transaction, so they share one commit (and its fsync):
 *  - rf_db_group_enter() before serving a request, rf_db_group_leave() after;
 *  - in between, the first rf_db_begin() opens the group (BEGIN); later ones
 *    join it. Each request's first write is preceded by its own savepoint,
 *    so rf_db_rollback() undoes that request alone (a request that failed
 *    before writing anything rolls back nothing); rf_db_commit() only marks
 *    the request done;
 *  - rf_db_group_commit() commits the group. The hook hears when a group
 *    opens (the server then holds its answers) and when it must end: before
 *    the db is used outside a request of the group, or when the group is
 *    full; the hook then commits it (rf_db_group_commit) and answers.
 * A failed group commit loses every request of the group (they are answered
 * 503 by the hook): none was acknowledged. */
typedef enum rf_db_group_event { RF_DB_GROUP_OPENED, RF_DB_GROUP_FLUSH } rf_db_group_event_t;
typedef void (*rf_db_group_hook_fn)(void *arg, rf_db_group_event_t what);
void rf_db_set_group_hook(rf_db_t *db, rf_db_group_hook_fn hook, void *arg);
void rf_db_group_enter(rf_db_t *db);
void rf_db_group_leave(rf_db_t *db);
/* rf_db_in_group: inside a request of an open group (its commit is deferred). */
bool rf_db_in_group(const rf_db_t *db);
/* rf_db_group_open: a group transaction is open. */
bool rf_db_group_open(const rf_db_t *db);
/* rf_db_group_flush: outside a request, end an open group through the hook. */
void rf_db_group_flush(rf_db_t *db);
/* rf_db_group_commit: COMMIT the group (ROLLBACK if a request could not be
 * undone alone). 0, or -1 when nothing of it was committed. */
int rf_db_group_commit(rf_db_t *db);

/* rf_db_migrate: apply, in order, the migrations not yet recorded in the
 * schema's schema_migrations table; serialised between replicas by an
 * advisory lock. Returns 0 or -1 (naming the failed migration in the log). */
int rf_db_migrate(rf_db_t *db, const rf_migration_t *migrations, size_t n);

/* Helpers for text parameters. */
typedef struct rf_num {
    char s[24];
} rf_num_t;
/* rf_i64: decimal text of v, in a value you can take .s of: rf_i64(v).s */
rf_num_t rf_i64(int64_t v);
/* rf_get_i64: column c of row r as int64 (0 when NULL). */
int64_t rf_get_i64(const PGresult *res, int r, int c);
/* rf_get_str: column c of row r ("" when NULL), borrowed from res. */
const char *rf_get_str(const PGresult *res, int r, int c);

#endif
