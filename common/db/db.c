/*
 * db.c: the worker's PostgreSQL connection, schema and migrations (db/db.h).
 *
 * Every statement is prepared once per connection and executed by name
 * afterwards (a small cache keyed by the statement's text): the server then
 * parses and plans it once instead of on every call, which is most of the
 * cost of the short statements the workers run.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/log.h"

#define STMT_SLOTS 512            /* prepared statements kept per connection (power of two) */
#define STMT_MAX 384              /* statements past this many run unprepared */
#define MIGRATION_LOCK_WAIT "60s" /* lock_timeout of a migration's transaction */

/* A statement prepared on the current connection. */
typedef struct stmt {
    uint64_t hash; /* of sql; 0: empty slot */
    char *sql;     /* its text (owned) */
    char name[24]; /* server-side name, "rf_<n>" */
} stmt_t;

struct rf_db {
    char *conninfo;           /* libpq connection string */
    char *schema;             /* the worker's own schema */
    PGconn *conn;             /* NULL when disconnected */
    char error[512];          /* last error, one line */
    char sqlstate[6];         /* the server's SQLSTATE for that error ("" if none) */
    int64_t lock_wait_ms;     /* lock_timeout of every statement (rf_db_set_lock_wait_ms) */
    bool in_tx;               /* inside BEGIN .. COMMIT */
    stmt_t stmts[STMT_SLOTS]; /* prepared on conn, by hash of the text (open addressing) */
    size_t n_stmts;
    uint64_t next_stmt; /* names are never reused, so a forgotten one cannot clash */
    /* Group commit (rf_db_group_enter): one transaction for several requests. */
    bool in_scope;       /* a request of the group is being served */
    bool group_open;     /* the group's BEGIN was sent */
    bool group_failed;   /* a request failed with nothing to roll back to */
    bool want_savepoint; /* set a savepoint before this request's first write */
    bool have_savepoint; /* this request's savepoint is set */
    int group_requests;  /* requests in the open group */
    rf_db_group_hook_fn group_hook;
    void *group_hook_arg;
};

static void set_error(rf_db_t *db, const char *what, const char *detail) {
    snprintf(db->error, sizeof db->error, "%s: %s", what, detail ? detail : "");
    db->sqlstate[0] = '\0'; /* set by the caller when the server gave one */
    /* libpq messages end in a newline; keep the error one line. */
    for (char *p = db->error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

static void disconnect(rf_db_t *db);

rf_db_t *rf_db_new(const char *conninfo, const char *schema) {
    rf_db_t *db = calloc(1, sizeof *db);
    if (!db) return NULL;
    /* Never let a dead network block the loop for long on connect. */
    if (!strstr(conninfo, "connect_timeout")) {
        size_t len = strlen(conninfo) + 32;
        db->conninfo = malloc(len);
        bool uri = strstr(conninfo, "://") != NULL;
        if (db->conninfo)
            snprintf(db->conninfo, len, "%s%sconnect_timeout=5", conninfo,
                     !uri                    ? " "
                     : strchr(conninfo, '?') ? "&"
                                             : "?");
    } else {
        db->conninfo = strdup(conninfo);
    }
    db->schema = strdup(schema);
    db->lock_wait_ms = 2000;
    if (!db->conninfo || !db->schema) rf_db_destroy(&db);
    return db;
}

void rf_db_set_lock_wait_ms(rf_db_t *db, int64_t ms) {
    if (ms > 0) db->lock_wait_ms = ms;
}

int64_t rf_db_lock_wait_ms(const rf_db_t *db) { return db->lock_wait_ms; }

void rf_db_destroy(rf_db_t **db_p) {
    if (!db_p || !*db_p) return;
    rf_db_t *db = *db_p;
    disconnect(db);
    free(db->conninfo);
    free(db->schema);
    free(db);
    *db_p = NULL;
}

static void forget_statements(rf_db_t *db) {
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        free(db->stmts[i].sql);
        db->stmts[i].sql = NULL;
        db->stmts[i].hash = 0;
    }
    db->n_stmts = 0;
}

static void disconnect(rf_db_t *db) {
    if (db->conn) PQfinish(db->conn);
    db->conn = NULL;
    db->in_tx = false;
    if (db->group_open) db->group_failed = true; /* its transaction is gone */
    forget_statements(db);                       /* prepared statements die with their connection */
}

static uint64_t sql_hash(const char *sql) {
    uint64_t h = 1469598103934665603ull;
    for (const char *c = sql; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* The slot of sql: its entry, or the empty slot where it belongs. */
static stmt_t *stmt_slot(rf_db_t *db, const char *sql, uint64_t h) {
    for (size_t i = (size_t)h & (STMT_SLOTS - 1);; i = (i + 1) & (STMT_SLOTS - 1)) {
        stmt_t *s = &db->stmts[i];
        if (s->hash == 0 || (s->hash == h && strcmp(s->sql, sql) == 0)) return s;
    }
}

/* Remove a failed statement from the cache (its plan may be stale, say
 * "cached plan must not change result type"); it is prepared afresh, under
 * a new name, next time. Re-inserts the entries after it in its probe run. */
static void stmt_forget(rf_db_t *db, stmt_t *s) {
    free(s->sql);
    s->sql = NULL;
    s->hash = 0;
    db->n_stmts--;
    for (size_t i = ((size_t)(s - db->stmts) + 1) & (STMT_SLOTS - 1); db->stmts[i].hash;
         i = (i + 1) & (STMT_SLOTS - 1)) {
        stmt_t moved = db->stmts[i];
        db->stmts[i].hash = 0;
        db->stmts[i].sql = NULL;
        *stmt_slot(db, moved.sql, moved.hash) = moved;
    }
}

/* The prepared statement for sql (preparing it now if new), or NULL to run
 * it unprepared (cache full). When preparing fails, *res is set to the
 * server's error. */
static stmt_t *stmt_get(rf_db_t *db, const char *sql, int n, PGresult **res) {
    uint64_t h = sql_hash(sql);
    stmt_t *s = stmt_slot(db, sql, h);
    if (s->hash) return s;
    if (db->n_stmts >= STMT_MAX) return NULL;
    char *copy = strdup(sql);
    if (!copy) return NULL;
    char name[24];
    snprintf(name, sizeof name, "rf_%llu", (unsigned long long)db->next_stmt++);
    PGresult *r = PQprepare(db->conn, name, sql, n, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(copy);
        *res = r;
        return NULL;
    }
    PQclear(r);
    s->hash = h;
    s->sql = copy;
    snprintf(s->name, sizeof s->name, "%s", name);
    db->n_stmts++;
    return s;
}

/* Server notices ("relation already exists, skipping") go to the debug log. */
static void on_notice(void *arg, const char *message) {
    (void)arg;
    rf_debug("event=db_notice message=\"%.*s\"", (int)strcspn(message, "\n"), message);
}

int rf_db_connect(rf_db_t *db) {
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) return 0;
    disconnect(db);
    db->conn = PQconnectdb(db->conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        set_error(db, "connect", PQerrorMessage(db->conn));
        disconnect(db);
        return -1;
    }
    PQsetNoticeProcessor(db->conn, on_notice, NULL);
    char *ident = PQescapeIdentifier(db->conn, db->schema, strlen(db->schema));
    if (!ident) {
        set_error(db, "escape schema", PQerrorMessage(db->conn));
        disconnect(db);
        return -1;
    }
    char sql[600];
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA IF NOT EXISTS %s; SET search_path TO %s; "
             "SET lock_timeout = '%lldms'; SET application_name = 'returnflow-%s'",
             ident, ident, (long long)db->lock_wait_ms, db->schema);
    PQfreemem(ident);
    PGresult *res = PQexec(db->conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) set_error(db, "schema", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok) {
        disconnect(db);
        return -1;
    }
    db->error[0] = db->sqlstate[0] = '\0';
    return 0;
}

bool rf_db_connected(const rf_db_t *db) { return db->conn != NULL; }
PGconn *rf_db_conn(rf_db_t *db) { return db->conn; }
const char *rf_db_error(const rf_db_t *db) { return db->error; }
const char *rf_db_sqlstate(const rf_db_t *db) { return db->sqlstate; }

/* ---- group commit ------------------------------------------------------------- */

#define GROUP_MAX \
    48 /* requests per group: keeps subtransactions under PostgreSQL's
                        per-backend cache of 64, past which every snapshot slows */

void rf_db_set_group_hook(rf_db_t *db, rf_db_group_hook_fn hook, void *arg) {
    db->group_hook = hook;
    db->group_hook_arg = arg;
}

bool rf_db_in_group(const rf_db_t *db) { return db->in_scope && db->group_open; }
bool rf_db_group_open(const rf_db_t *db) { return db->group_open; }

void rf_db_group_enter(rf_db_t *db) {
    db->in_scope = true;
    db->want_savepoint = true;
    db->have_savepoint = false;
}

void rf_db_group_leave(rf_db_t *db) { db->in_scope = false; }

/* The group must end before db is used outside it (or when it is full):
 * the hook commits it and answers its requests. */
static void group_flush(rf_db_t *db) {
    if (!db->group_open) return;
    if (db->group_hook) db->group_hook(db->group_hook_arg, RF_DB_GROUP_FLUSH);
    if (db->group_open) rf_db_group_commit(db); /* no hook, or it did not commit */
}

void rf_db_group_flush(rf_db_t *db) {
    if (!db->in_scope) group_flush(db);
}

int rf_db_group_commit(rf_db_t *db) {
    if (!db->group_open) return 0;
    db->group_open = false;
    db->group_requests = 0;
    bool failed = db->group_failed;
    db->group_failed = false;
    db->want_savepoint = db->in_scope;
    db->have_savepoint = false;
    if (!db->conn) return -1;
    if (failed || PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
        rf_db_rollback(db);
        return -1;
    }
    PGresult *res = PQexec(db->conn, "COMMIT");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (!ok) set_error(db, "group commit", PQresultErrorMessage(res));
    PQclear(res);
    db->in_tx = false;
    if (PQstatus(db->conn) != CONNECTION_OK) disconnect(db);
    return ok ? 0 : -1;
}

/* A statement that only reads (no savepoint needed before it). */
static bool sql_reads_only(const char *sql) {
    while (*sql == ' ' || *sql == '\n' || *sql == '(') sql++;
    return strncasecmp(sql, "SELECT", 6) == 0;
}

/* Inside a group, the request's first write is preceded by its savepoint,
 * so that its rollback undoes it alone. 0 or -1. */
static int group_before_statement(rf_db_t *db, const char *sql) {
    if (!db->group_open) return 0;
    if (!db->in_scope) {
        group_flush(db);
        return 0;
    }
    if (db->group_failed) {
        set_error(db, "query", "the group transaction of this request failed");
        return -1;
    }
    if (!db->want_savepoint || sql_reads_only(sql)) return 0;
    PGresult *res = PQexec(db->conn, "SAVEPOINT rf_request");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) set_error(db, "savepoint", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok) return -1;
    db->want_savepoint = false;
    db->have_savepoint = true;
    return 0;
}

PGresult *rf_db_query_bin(rf_db_t *db, const char *sql, int n, const char *const *params,
                          const int *lengths, const int *formats, int result_format) {
    if (db->conn && group_before_statement(db, sql) != 0) return NULL;
    if (!db->conn) {
        set_error(db, "query", "not connected");
        return NULL;
    }
    PGresult *res = NULL;
    stmt_t *s = stmt_get(db, sql, n, &res);
    if (!res)
        res = s ? PQexecPrepared(db->conn, s->name, n, params, lengths, formats, result_format)
                : PQexecParams(db->conn, sql, n, NULL, params, lengths, formats, result_format);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    if (s) stmt_forget(db, s);
    set_error(db, "query", PQresultErrorMessage(res));
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state) snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state);
    rf_warn("event=db_error sqlstate=%s error=\"%s\"", state ? state : "-", db->error);
    PQclear(res);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        rf_warn("event=db_disconnected schema=%s", db->schema);
        disconnect(db);
    }
    return NULL;
}

PGresult *rf_db_query(rf_db_t *db, const char *sql, int n, const char *const *params) {
    return rf_db_query_bin(db, sql, n, params, NULL, NULL, 0);
}

int rf_db_exec(rf_db_t *db, const char *sql, int n, const char *const *params) {
    PGresult *res = rf_db_query(db, sql, n, params);
    if (!res) return -1;
    PQclear(res);
    return 0;
}

int64_t rf_db_exec_count(rf_db_t *db, const char *sql, int n, const char *const *params) {
    PGresult *res = rf_db_query(db, sql, n, params);
    if (!res) return -1;
    int64_t count = atoll(PQcmdTuples(res));
    PQclear(res);
    return count;
}

json_t *rf_db_query_json(rf_db_t *db, const char *sql, int n, const char *const *params,
                         bool *dberr) {
    PGresult *res = rf_db_query(db, sql, n, params);
    if (dberr) *dberr = res == NULL;
    if (!res) return NULL;
    json_t *doc = PQntuples(res) > 0 ? json_loads(rf_get_str(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    return doc;
}

json_t *rf_db_query_list(rf_db_t *db, const char *sql, int n, const char *const *params,
                         bool parse) {
    PGresult *res = rf_db_query(db, sql, n, params);
    if (!res) return NULL;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        const char *v = rf_get_str(res, i, 0);
        json_array_append_new(list, parse ? json_loads(v, 0, NULL) : json_string(v));
    }
    PQclear(res);
    return list;
}

int rf_db_begin(rf_db_t *db) {
    if (db->group_open && (!db->in_scope || db->group_failed || db->group_requests >= GROUP_MAX))
        group_flush(db);
    if (db->in_scope && db->group_open) { /* join the group: a savepoint at the first write */
        db->group_requests++;
        db->want_savepoint = true;
        db->have_savepoint = false;
        return 0;
    }
    if (rf_db_exec(db, "BEGIN", 0, NULL) != 0) return -1;
    db->in_tx = true;
    if (db->in_scope) {
        db->group_open = true;
        db->group_requests = 1;
        db->want_savepoint = true;
        db->have_savepoint = false;
        if (db->group_hook) db->group_hook(db->group_hook_arg, RF_DB_GROUP_OPENED);
    }
    return 0;
}

int rf_db_commit(rf_db_t *db) {
    if (rf_db_in_group(db)) { /* committed with the group */
        db->want_savepoint = true;
        db->have_savepoint = false;
        return 0;
    }
    db->in_tx = false;
    return rf_db_exec(db, "COMMIT", 0, NULL);
}

void rf_db_rollback(rf_db_t *db) {
    if (!db->conn) return;
    if (rf_db_in_group(db)) { /* undo this request alone */
        if (db->have_savepoint) {
            PGresult *res = PQexec(db->conn, "ROLLBACK TO SAVEPOINT rf_request");
            if (PQresultStatus(res) != PGRES_COMMAND_OK) db->group_failed = true;
            PQclear(res);
        } else if (PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
            db->group_failed = true; /* a read failed: nothing to roll back to */
        }
        db->want_savepoint = true;
        db->have_savepoint = false;
        if (PQstatus(db->conn) != CONNECTION_OK) disconnect(db);
        return;
    }
    if (!db->in_scope) group_flush(db);
    PGresult *res = PQexec(db->conn, "ROLLBACK");
    PQclear(res);
    db->in_tx = false;
    if (PQstatus(db->conn) != CONNECTION_OK) disconnect(db);
}

int rf_db_migrate(rf_db_t *db, const rf_migration_t *migrations, size_t n) {
    if (rf_db_exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = migrations[i].name;
        if (rf_db_begin(db) != 0) return -1;
        const char *lock[] = {db->schema};
        /* Another replica of this worker may be migrating at the same time:
         * wait for it longer than an ordinary statement would. */
        if (rf_db_exec(db,
                       "SELECT set_config('lock_timeout', '" MIGRATION_LOCK_WAIT "', true),"
                       " pg_advisory_xact_lock(hashtext($1))",
                       1, lock) != 0)
            goto err;
        const char *p[] = {name};
        PGresult *res = rf_db_query(db, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, p);
        if (!res) goto err;
        bool applied = PQntuples(res) > 0;
        PQclear(res);
        if (applied) {
            rf_db_rollback(db);
            continue;
        }
        /* A migration file holds several statements: simple query protocol. */
        res = PQexec(db->conn, migrations[i].sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
            set_error(db, name, PQresultErrorMessage(res));
            PQclear(res);
            goto err;
        }
        PQclear(res);
        if (rf_db_exec(db, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, p) != 0) goto err;
        if (rf_db_commit(db) != 0) return -1;
        rf_info("event=migrated schema=%s migration=%s", db->schema, name);
    }
    return 0;
err:
    rf_error("event=migration_failed schema=%s error=\"%s\"", db->schema, db->error);
    rf_db_rollback(db);
    return -1;
}

rf_num_t rf_i64(int64_t v) {
    rf_num_t n;
    snprintf(n.s, sizeof n.s, "%lld", (long long)v);
    return n;
}

int64_t rf_get_i64(const PGresult *res, int r, int c) {
    if (PQgetisnull(res, r, c)) return 0;
    return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

const char *rf_get_str(const PGresult *res, int r, int c) {
    return PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c);
}
