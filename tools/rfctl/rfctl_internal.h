/*
 * rfctl_internal.h: what the parts of rfctl share. rfctl.c parses the command
 * line and runs a row of the command table (rfctl_commands.c, which also runs
 * the rows that are plain lists); the other rows' handlers live in a file per
 * job (rfctl_status.c, rfctl_return_detail.c, rfctl_actions.c,
 * rfctl_deadletters.c, rfctl_report.c, rfctl_keygen.c) and use the workers'
 * HTTP surfaces (rfctl_http.c) and the printing helpers (rfctl_output.c).
 */
#ifndef RFCTL_INTERNAL_H
#define RFCTL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the workers (rfctl_http.c) ---- */

#define RFCTL_WORKERS 5
enum { RFCTL_INTAKE, RFCTL_REVIEW, RFCTL_WAREHOUSE, RFCTL_REFUND, RFCTL_NOTIFICATION };
extern const char *const rfctl_worker_names[RFCTL_WORKERS];

/* The global options (rfctl.c): --json, and the bearer token (RF_TOKEN or --token). */
extern bool rfctl_json;
extern const char *rfctl_token;

/* host:port of worker w (its RF_*_HTTP, else the workers' default). */
const char *rfctl_worker_addr(int w);
/* The worker named name ("refund"), or -1. */
int rfctl_worker_index(const char *name);

/* One worker's answer to one request. */
#define RFCTL_ERR_SIZE 256 /* CURL_ERROR_SIZE */
typedef struct rfctl_answer {
    long status; /* 0: no answer */
    char err[RFCTL_ERR_SIZE];
    char *body; /* NUL-terminated, or NULL; the caller frees it */
    size_t len;
} rfctl_answer;

/* One request; body (JSON) may be NULL. Fills a; returns a->status. */
long rfctl_http(int w, const char *method, const char *path, json_t *body, rfctl_answer *a);
/* A request expecting a 2xx JSON answer. On failure prints a clear message
 * naming the worker and what it said, and returns NULL. */
json_t *rfctl_call(int w, const char *method, const char *path, json_t *body);
/* Appends "&name=<escaped value>" (or "?name=") to a path; nothing if value is NULL. */
void rfctl_add_param(char *path, size_t cap, const char *name, const char *value);
/* path = prefix + escaped id + tail ("/v1/reviews/" R1 "/approve"). */
void rfctl_item_path(char *path, size_t cap, const char *prefix, const char *id, const char *tail);

/* ---- a subcommand's arguments (rfctl.c) ---- */

/* --name value pairs, and positional arguments. */
typedef struct rfctl_args {
    char names[16][40];
    const char *values[16];
    size_t n;
    const char *pos[8];
    size_t npos;
} rfctl_args;

/* Parses argv against the allowed option names (a space-separated list);
 * --json and --token are always allowed. 0, or 2 after a usage message. */
int rfctl_parse_args(int argc, char **argv, const char *allowed, rfctl_args *a);
/* The value of option name, or NULL. */
const char *rfctl_arg(const rfctl_args *a, const char *name);
/* "90", "90s", "15m", "2h", "3d" -> seconds; -1 if malformed. */
long long rfctl_parse_duration(const char *s);
/* Who does it: --by, else $USER, else "rfctl". */
const char *rfctl_actor(const rfctl_args *a);

/* ---- messages and printing (rfctl_output.c) ---- */

/* "rfctl: <message> (rfctl help)" on stderr; returns 2. */
int rfctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "rfctl: <message>" on stderr; returns 1. */
int rfctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* doc, indented, on stdout. */
void rfctl_print_json(json_t *doc);
/* The end of a command that got doc: prints it with --json, frees it; returns 0. */
int rfctl_done_json(json_t *doc);
/* Each field of doc as "key value", the keys padded to width. */
void rfctl_print_fields(json_t *doc, int width);

/* A table: rows of cells, printed with columns padded to their widest cell. */
#define RFCTL_MAX_COLS 12
typedef struct rfctl_table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, row 0 the header */
} rfctl_table;

/* Adds a row of t->ncols cells (NULL: empty), copied. */
void rfctl_table_add(rfctl_table *t, const char *const *cells);
/* The same with the cells as arguments. */
void rfctl_table_row(rfctl_table *t, ...);
/* Prints the table, then frees its cells. */
void rfctl_table_print(rfctl_table *t);
/* Frees the table's cells without printing them. */
void rfctl_table_discard(rfctl_table *t);

/* A column of a table of items: its header, the field of each item it shows,
 * and how (NULL: rfctl_text). A list of columns ends with an empty one. */
typedef struct rfctl_column {
    const char *header;
    const char *key;
    const char *(*cell)(json_t *item, const char *key);
} rfctl_column;

/* Prints a table of the items (a JSON array), a row each; with indent, the
 * first column is set in by two spaces. Returns the number of items. */
size_t rfctl_print_items(const rfctl_column *columns, json_t *items, bool indent);

/* Field key of o as text: strings as they are, numbers, yes/no; "-" if absent.
 * The formatters return text in a ring of static buffers, valid for the next
 * 63 calls. */
const char *rfctl_text(json_t *o, const char *key);
/* Field key of o as a whole number (0 if absent). */
json_int_t rfctl_int(json_t *o, const char *key);
const char *rfctl_fmt_int(json_int_t v);
/* Seconds as "90s", "15m", "2h05m", "3d04h". */
const char *rfctl_fmt_age(int64_t s);
/* A number of seconds: "4.2s" below two minutes, else as an age; "-" if not a number. */
const char *rfctl_fmt_secs(json_t *v);
/* Fen as yuan: "123.45". */
const char *rfctl_fmt_fen(json_int_t fen);
/* A share 0..1 as "12.5%". */
const char *rfctl_fmt_pct(json_t *share);
/* Milliseconds since the epoch as "2024-05-01 12:00:00Z"; "-" if not a number. */
const char *rfctl_fmt_ms_time(json_t *ms);
/* The same as cells of a column: field key of item formatted so. */
const char *rfctl_cell_fen(json_t *item, const char *key);
const char *rfctl_cell_age(json_t *item, const char *key);
const char *rfctl_cell_pct(json_t *item, const char *key);
const char *rfctl_cell_ms_time(json_t *item, const char *key);
/* A buffer of the ring, RFCTL_FMT_SIZE bytes. */
#define RFCTL_FMT_SIZE 96
char *rfctl_fmt_buffer(void);

/* ---- the command table (rfctl_commands.c) ---- */

typedef struct rfctl_command rfctl_command;

/* A list option and the query parameter it becomes; a duration ("2h") is sent
 * in seconds. */
typedef struct rfctl_param {
    const char *option;
    const char *query;
    bool duration;
} rfctl_param;

#define RFCTL_MAX_PARAMS 4

/* One command: a row of the table. The help lists the rows in order. */
struct rfctl_command {
    const char *name;    /* "status", "returns" */
    const char *sub;     /* "list"; NULL for a command without subcommands */
    const char *help;    /* its line in rfctl help; NULL: not listed on its own */
    const char *summary; /* the rest of that line (a '\n' continues it), or NULL */
    /* Runs it on the arguments after the (sub)command; returns the exit code. */
    int (*run)(const rfctl_command *cmd, int argc, char **argv);
    /* The options it takes (lists: from params), and the usage error when its
     * arguments are wrong. */
    const char *options;
    const char *usage;
    /* Which worker it asks, and where: for lists the route of the list, for
     * commands on one item the route's parts before and after the item's id.
     * Commands that ask several workers name them in their handler. */
    int worker;
    const char *route;
    const char *route_tail;
    /* Lists (run = rfctl_run_list): the options, the answer's array of items
     * (one table row each), the columns, and the noun of the count line
     * ("3 review(s)"), or a footer of its own. The JSON view of a list is the
     * worker's answer as it came. */
    rfctl_param params[RFCTL_MAX_PARAMS];
    const char *items;
    rfctl_column columns[RFCTL_MAX_COLS + 1];
    const char *noun;
    void (*footer)(json_t *answer, json_t *items);
};

extern const rfctl_command rfctl_commands[];
extern const size_t rfctl_command_count;

/* The handlers. */
int rfctl_run_list(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_status(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_returns_show(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_calls(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_review_decide(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_receive(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_refunds_approve(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_dlq_list(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_dlq_show(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_dlq_act(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_report(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_keygen(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_shops_authorize(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_shops_add(const rfctl_command *cmd, int argc, char **argv);
int rfctl_run_shops_disable(const rfctl_command *cmd, int argc, char **argv);

#endif
