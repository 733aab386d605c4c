/*
 * log.c: the structured logger behind runtime/log.h.
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from several processes sharing a terminal or a pipe do not
 * interleave mid-line.
 */
#include "runtime/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int rf__log_level = RF_LOG_INFO;
static char log_component[32] = "returnflow";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void rf_log_init(const char *component, rf_log_level_t level) {
    snprintf(log_component, sizeof log_component, "%s", component ? component : "returnflow");
    rf__log_level = (int)level;
}

int rf_log_level_parse(const char *text) {
    for (int i = 0; i < 4; i++)
        if (text && strcmp(text, level_names[i]) == 0) return i;
    return -1;
}

void rf__log_write(rf_log_level_t level, const char *fmt, ...) {
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(
        line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s worker=%s ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(tv.tv_usec / 1000), level_names[level < 0 || level > 3 ? 1 : level], log_component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    /* Keep one event on one line whatever the message contained. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
