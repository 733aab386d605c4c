/*
 * runtime/log.h: one structured line per event on stderr.
 *
 * Lines read `ts=... level=info worker=intake <your key=value pairs>`. The
 * level is checked before anything is formatted, so a disabled debug line
 * costs one comparison. Callers never log buyer phone numbers or addresses.
 */
#ifndef RF_LOG_H
#define RF_LOG_H

#include <stdarg.h>

typedef enum rf_log_level {
    RF_LOG_DEBUG = 0,
    RF_LOG_INFO = 1,
    RF_LOG_WARN = 2,
    RF_LOG_ERROR = 3,
} rf_log_level_t;

extern int rf__log_level; /* lines below this level are skipped */

/* rf_log_init: name the process (the `worker=` key) and set the level. */
void rf_log_init(const char *component, rf_log_level_t level);

/* rf_log_level_parse: "debug" | "info" | "warn" | "error" -> level, -1 if none. */
int rf_log_level_parse(const char *text);

void rf__log_write(rf_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* rf_log(level, "event=x return_id=%s", id): writes one line if enabled. */
#define rf_log(level, ...)                                                      \
    do {                                                                        \
        if ((int)(level) >= rf__log_level) rf__log_write((level), __VA_ARGS__); \
    } while (0)
#define rf_debug(...) rf_log(RF_LOG_DEBUG, __VA_ARGS__)
#define rf_info(...) rf_log(RF_LOG_INFO, __VA_ARGS__)
#define rf_warn(...) rf_log(RF_LOG_WARN, __VA_ARGS__)
#define rf_error(...) rf_log(RF_LOG_ERROR, __VA_ARGS__)

#endif
