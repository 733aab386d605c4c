/*
 * config.c: environment configuration by table (see runtime/config.h).
 */
#include "runtime/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

static void add_problem(char *err, size_t errlen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_problem(char *err, size_t errlen, size_t *used, const char *fmt, ...) {
    if (!err || *used >= errlen) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err + *used, errlen - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
    if (*used >= errlen) *used = errlen - 1;
}

static bool parse_int(const char *text, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0') return false;
    *out = (int64_t)v;
    return true;
}

static bool valid_hostport(const char *text) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text) return false;
    int64_t port;
    return parse_int(colon + 1, &port) && port >= 0 && port <= 65535;
}

static bool valid_one_endpoint(const char *text) {
    if (strncmp(text, "tcp://", 6) == 0) return valid_hostport(text + 6);
    if (strncmp(text, "ipc://", 6) == 0) return text[6] != '\0';
    return false;
}

/* One endpoint, or several separated by commas (one per replica of a worker). */
static bool valid_endpoint(const char *text) {
    char one[RF_CFG_STR_MAX];
    for (;;) {
        const char *comma = strchr(text, ',');
        size_t len = comma ? (size_t)(comma - text) : strlen(text);
        if (len >= sizeof one) return false;
        memcpy(one, text, len);
        one[len] = '\0';
        if (!valid_one_endpoint(one)) return false;
        if (!comma) return true;
        text = comma + 1;
    }
}

int rf_config_load(const rf_config_entry_t *table, size_t n, char *err, size_t errlen) {
    int problems = 0;
    size_t used = 0;
    if (err && errlen) err[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const rf_config_entry_t *e = &table[i];
        const char *text = getenv(e->name);
        if (text && *text == '\0') text = NULL;
        if (!text) text = e->default_value;
        if (!text) {
            add_problem(err, errlen, &used, "%s is required but not set (%s)\n", e->name, e->doc);
            problems++;
            continue;
        }
        bool ok = true;
        switch (e->type) {
        case RF_CFG_STRING:
        case RF_CFG_HOSTPORT:
        case RF_CFG_ENDPOINT:
            ok = strlen(text) < RF_CFG_STR_MAX &&
                 (e->type != RF_CFG_HOSTPORT || valid_hostport(text)) &&
                 (e->type != RF_CFG_ENDPOINT || valid_endpoint(text));
            if (ok) snprintf((char *)e->target, RF_CFG_STR_MAX, "%s", text);
            break;
        case RF_CFG_INT: {
            int64_t v;
            ok = parse_int(text, &v) && v >= e->min && v <= e->max;
            if (ok) *(int64_t *)e->target = v;
            else {
                add_problem(err, errlen, &used,
                            "%s=\"%s\" is not a whole number in [%lld, %lld] (%s)\n", e->name, text,
                            (long long)e->min, (long long)e->max, e->doc);
                problems++;
                continue;
            }
            break;
        }
        case RF_CFG_LOGLEVEL: {
            int level = rf_log_level_parse(text);
            ok = level >= 0;
            if (ok) *(int *)e->target = level;
            break;
        }
        }
        if (!ok) {
            static const char *const expect[] = {"text shorter than 512 bytes", "", "host:port",
                                                 "tcp://host:port or ipc://path",
                                                 "debug|info|warn|error"};
            add_problem(err, errlen, &used, "%s=\"%s\" is invalid: expected %s (%s)\n", e->name,
                        text, expect[e->type], e->doc);
            problems++;
        }
    }
    return problems;
}

void rf_config_print(const rf_config_entry_t *table, size_t n, FILE *out) {
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\t%s\t%s\n", table[i].name,
                table[i].default_value ? table[i].default_value : "(required)", table[i].doc);
}
