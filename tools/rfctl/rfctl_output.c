/*
 * rfctl_output.c: how rfctl speaks. Error messages (usage errors exit 2,
 * failures 1), JSON on stdout for --json, tables padded to their widest cell
 * (UTF-8 aware), and the formatters of a table's cells: field text, ages,
 * seconds, money in fen, shares, times.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rfctl_internal.h"

/* "rfctl: <message><tail>" on stderr. */
static void message(const char *tail, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void message(const char *tail, const char *fmt, va_list ap) {
    fputs("rfctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

int rfctl_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message(" (rfctl help)\n", fmt, ap);
    va_end(ap);
    return 2;
}

int rfctl_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message("\n", fmt, ap);
    va_end(ap);
    return 1;
}

void rfctl_print_json(json_t *doc) {
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) puts(s);
    free(s);
}

int rfctl_done_json(json_t *doc) {
    if (rfctl_json) rfctl_print_json(doc);
    json_decref(doc);
    return 0;
}

void rfctl_print_fields(json_t *doc, int width) {
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) printf("%-*s %s\n", width, k, rfctl_text(doc, k));
}

/* ---- tables ---- */

void rfctl_table_add(rfctl_table *t, const char *const *cells) {
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        char **grown = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
        if (!grown) abort();
        t->cells = grown;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = cells[c];
        t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "");
    }
    t->nrows++;
}

void rfctl_table_row(rfctl_table *t, ...) {
    const char *cells[RFCTL_MAX_COLS];
    va_list ap;
    va_start(ap, t);
    for (size_t c = 0; c < t->ncols; c++) cells[c] = va_arg(ap, const char *);
    va_end(ap);
    rfctl_table_add(t, cells);
}

/* Display width of UTF-8 text (counts code points; CJK counted as 2). */
static size_t text_width(const char *s) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue;
        w += *p >= 0xE3 && *p <= 0xED ? 2 : 1;
    }
    return w;
}

void rfctl_table_discard(rfctl_table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

void rfctl_table_print(rfctl_table *t) {
    size_t width[RFCTL_MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            fputs(s, stdout);
            if (c + 1 < t->ncols)
                for (size_t k = text_width(s); k < width[c] + 2; k++) putchar(' ');
        }
        putchar('\n');
    }
    rfctl_table_discard(t);
}

/* Adds cells as a row of t; with indent, the first cell set in by two spaces. */
static void add_indented(rfctl_table *t, const char *const *cells, bool indent) {
    const char *row[RFCTL_MAX_COLS];
    char first[160];
    memcpy(row, cells, t->ncols * sizeof *row);
    if (indent) {
        snprintf(first, sizeof first, "  %s", cells[0]);
        row[0] = first;
    }
    rfctl_table_add(t, row);
}

size_t rfctl_print_items(const rfctl_column *columns, json_t *items, bool indent) {
    rfctl_table t = {0};
    const char *cells[RFCTL_MAX_COLS];
    while (t.ncols < RFCTL_MAX_COLS && columns[t.ncols].header) {
        cells[t.ncols] = columns[t.ncols].header;
        t.ncols++;
    }
    if (t.ncols == 0) return 0;
    add_indented(&t, cells, indent);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        for (size_t c = 0; c < t.ncols; c++) {
            const rfctl_column *col = &columns[c];
            cells[c] = col->cell ? col->cell(item, col->key) : rfctl_text(item, col->key);
        }
        add_indented(&t, cells, indent);
    }
    size_t n = t.nrows - 1;
    rfctl_table_print(&t);
    return n;
}

/* ---- cell formatters ---- */

char *rfctl_fmt_buffer(void) {
    static char ring[64][RFCTL_FMT_SIZE];
    static unsigned i;
    return ring[i++ % 64];
}

const char *rfctl_fmt_int(json_int_t v) {
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "%lld", (long long)v);
    return b;
}

const char *rfctl_text(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) return rfctl_fmt_int(json_integer_value(v));
    if (json_is_real(v)) {
        char *b = rfctl_fmt_buffer();
        snprintf(b, RFCTL_FMT_SIZE, "%g", json_real_value(v));
        return b;
    }
    if (json_is_true(v)) return "yes";
    if (json_is_false(v)) return "no";
    return "-";
}

json_int_t rfctl_int(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_number_value(v);
}

const char *rfctl_fmt_age(int64_t s) {
    char *b = rfctl_fmt_buffer();
    long long v = s < 0 ? 0 : (long long)s;
    if (v < 120) snprintf(b, RFCTL_FMT_SIZE, "%llds", v);
    else if (v < 7200) snprintf(b, RFCTL_FMT_SIZE, "%lldm", v / 60);
    else if (v < 172800) snprintf(b, RFCTL_FMT_SIZE, "%lldh%02lldm", v / 3600, v % 3600 / 60);
    else snprintf(b, RFCTL_FMT_SIZE, "%lldd%02lldh", v / 86400, v % 86400 / 3600);
    return b;
}

const char *rfctl_fmt_secs(json_t *v) {
    if (!json_is_number(v)) return "-";
    double s = json_number_value(v);
    if (s >= 120) return rfctl_fmt_age((int64_t)s);
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "%.1fs", s);
    return b;
}

const char *rfctl_fmt_fen(json_int_t fen) {
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)(llabs(fen) / 100),
             (long long)(llabs(fen) % 100));
    return b;
}

const char *rfctl_fmt_pct(json_t *share) {
    if (!json_is_number(share)) return "-";
    char *b = rfctl_fmt_buffer();
    snprintf(b, RFCTL_FMT_SIZE, "%.1f%%", json_number_value(share) * 100.0);
    return b;
}

const char *rfctl_fmt_ms_time(json_t *ms) {
    if (!json_is_integer(ms)) return "-";
    time_t t = (time_t)(json_integer_value(ms) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char *b = rfctl_fmt_buffer();
    if (strftime(b, RFCTL_FMT_SIZE, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) b[0] = '\0';
    return b;
}

const char *rfctl_cell_fen(json_t *item, const char *key) {
    return rfctl_fmt_fen(rfctl_int(item, key));
}

const char *rfctl_cell_age(json_t *item, const char *key) {
    return rfctl_fmt_age(rfctl_int(item, key));
}

const char *rfctl_cell_pct(json_t *item, const char *key) {
    return rfctl_fmt_pct(json_object_get(item, key));
}

const char *rfctl_cell_ms_time(json_t *item, const char *key) {
    return rfctl_fmt_ms_time(json_object_get(item, key));
}
