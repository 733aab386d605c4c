/*
 * runtime/config.h: configuration from environment variables, as one table.
 *
 * The folder common/runtime/ is the bottom layer of the shared library: logging,
 * configuration, ids and clocks, crypto primitives, secrets at rest, JSON field readers, the
 * watchdog and a per-shop cache. It uses libc and Debian's libraries only, never
 * another folder of common/ (tests/integration/00-layout.py checks).
 *
 * Each worker declares a table of rf_config_entry_t (name, type, target,
 * default, meaning). rf_config_load() reads every entry, checks them all, and
 * reports every bad or missing setting at once, each line naming the variable,
 * so start-up fails with the full list rather than the first problem.
 * `--print-config` on every binary prints the table (used by the test that
 * keeps deploy/env.example and the code in agreement).
 */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum rf_config_type {
    RF_CFG_STRING,   /* char buffer of RF_CFG_STR_MAX bytes; any non-empty text */
    RF_CFG_INT,      /* int64_t within [min, max] */
    RF_CFG_HOSTPORT, /* "host:port", port 0..65535 */
    RF_CFG_ENDPOINT, /* ZeroMQ endpoint "tcp://host:port" or "ipc://path" */
    RF_CFG_LOGLEVEL, /* debug | info | warn | error, stored as int */
} rf_config_type_t;

#define RF_CFG_STR_MAX 512

typedef struct rf_config_entry {
    const char *name;          /* environment variable, e.g. "RF_INTAKE_HTTP" */
    rf_config_type_t type;     /* how the text is checked and stored */
    void *target;              /* char[RF_CFG_STR_MAX], int64_t* or int* (LOGLEVEL) */
    const char *default_value; /* NULL: the variable is required */
    int64_t min, max;          /* bounds for RF_CFG_INT */
    const char *doc;           /* one line: what it is for */
} rf_config_entry_t;

/* rf_config_load: fill every target from the environment (or its default).
 * Writes one line per problem into err (truncated to errlen) and returns the
 * number of problems (0 when all is well). */
int rf_config_load(const rf_config_entry_t *table, size_t n, char *err, size_t errlen);

/* rf_config_print: the table as `NAME<TAB>default<TAB>meaning` lines. */
void rf_config_print(const rf_config_entry_t *table, size_t n, FILE *out);

#endif
