/*
 * rfctl_report.c: rfctl report, the after-sales analysis. It joins four
 * workers' reports (intake's returns, refund's claims, warehouse's quality
 * findings, notification's satisfaction) into one, printed as sections of
 * tables or, with --json, as one document.
 */
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

/* A bar of up to 30 blocks for a share 0..1, as a cell. */
static const char *bar(json_t *item, const char *key) {
    static char out[128];
    double share = json_number_value(json_object_get(item, key));
    size_t n = (size_t)(share * 30 + 0.5), i = 0;
    for (; i < n && i * 3 + 4 < sizeof out; i++) memcpy(out + i * 3, "\xe2\x96\x88", 3); /* █ */
    out[i * 3] = '\0';
    return out;
}

/* The sections that print a table of one array of the returns report. */
static const struct section {
    const char *title, *items;
    rfctl_column columns[8];
} sections[] = {
    {"Reasons",
     "reasons",
     {{"REASON", "reason"},
      {"COUNT", "count"},
      {"SHARE", "share", rfctl_cell_pct},
      {"", "share", bar}}},
    {"\nTrend by day", "by_day", {{"DAY", "day"}, {"RETURNS", "count"}}},
    {"\nTrend by week", "by_week", {{"WEEK", "week"}, {"RETURNS", "count"}}},
    {"\nBy region",
     "by_region",
     {{"REGION", "region"}, {"RETURNS", "count"}, {"SHARE", "share", rfctl_cell_pct}}},
    {"\nBy SKU",
     "by_sku",
     {{"SKU", "sku_id"},
      {"SUPPLIER", "supplier_id"},
      {"RETURNS", "returns"},
      {"UNITS_RET", "units_returned"},
      {"UNITS_SOLD", "units_sold"},
      {"RETURN_RATE", "return_rate", rfctl_cell_pct},
      {"NOT_AS_DESCRIBED", "not_as_described_share", rfctl_cell_pct}}},
};

static const rfctl_column flagged_columns[] = {{"SKU", "sku_id"},
                                               {"RETURNS", "returns"},
                                               {"NOT_AS_DESCRIBED", "not_as_described"},
                                               {"SHARE", "share", rfctl_cell_pct},
                                               {NULL}};

/* By supplier: the returns report's rows with the warehouse's inspected
 * faults and the refund worker's claims on the supplier added. */
static void print_suppliers(json_t *ret, json_t *claims, json_t *quality) {
    printf("\nBy supplier\n");
    rfctl_table t = {.ncols = 7};
    rfctl_table_row(&t, "  SUPPLIER", "RETURNS", "RETURN_RATE", "QUALITY_REASONS",
                    "INSPECTED_FAULTS", "CLAIMS", "OWED");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ret, "by_supplier"), i, r) {
        const char *sup = rfctl_text(r, "supplier_id");
        json_int_t nclaims = 0, owed = 0, faults = 0;
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(claims, "claims"), k,
                           c) if (strcmp(rfctl_text(c, "party"), "supplier") == 0 &&
                                  strcmp(rfctl_text(c, "party_id"), sup) == 0) {
            nclaims += rfctl_int(c, "claims");
            owed += rfctl_int(c, "owed_fen");
        }
        json_array_foreach(json_object_get(quality, "by_supplier"), k,
                           c) if (strcmp(rfctl_text(c, "supplier_id"), sup) == 0) faults +=
            rfctl_int(c, "quality_faults");
        char d[140];
        snprintf(d, sizeof d, "  %s", sup);
        rfctl_table_row(&t, d, rfctl_text(r, "returns"),
                        rfctl_fmt_pct(json_object_get(r, "return_rate")),
                        rfctl_text(r, "quality_faults"), rfctl_fmt_int(faults),
                        rfctl_fmt_int(nclaims), rfctl_fmt_fen(owed));
    }
    rfctl_table_print(&t);
}

static void print_satisfaction(json_t *ret, json_t *sat) {
    json_t *ttr = json_object_get(ret, "time_to_refund");
    printf("\nTime from request to refund: %s refunded, p50 %s, p90 %s\n",
           rfctl_text(ttr, "refunded"), rfctl_fmt_secs(json_object_get(ttr, "p50_s")),
           rfctl_fmt_secs(json_object_get(ttr, "p90_s")));
    json_t *survey = json_object_get(sat, "survey");
    printf("Satisfaction: %s survey response(s), average score %s\n",
           rfctl_text(survey, "responses"), rfctl_text(survey, "average"));
    const char *k;
    json_t *v;
    json_t *dist = json_object_get(survey, "distribution");
    json_object_foreach(dist, k, v) printf("  score %s: %s\n", k, rfctl_text(dist, k));
    json_t *msgs = json_object_get(sat, "messages");
    if (json_object_size(msgs)) {
        printf("Messages sent:");
        json_object_foreach(msgs, k, v) printf(" %s %s", k, rfctl_text(msgs, k));
        printf("\n");
    }
}

static void print_report(json_t *rep) {
    json_t *ret = json_object_get(rep, "returns");
    printf("After-sales report: %s returns requested in the last %s days\n\n",
           rfctl_text(ret, "returns"), rfctl_text(ret, "days"));
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        printf("%s\n", sections[s].title);
        rfctl_print_items(sections[s].columns, json_object_get(ret, sections[s].items), true);
    }
    print_suppliers(ret, json_object_get(rep, "claims"), json_object_get(rep, "quality"));
    print_satisfaction(ret, json_object_get(rep, "satisfaction"));
    printf("\nSKUs with a high \"not as described\" share (listings need better information)\n");
    if (rfctl_print_items(flagged_columns, json_object_get(ret, "not_as_described_flagged"),
                          true) == 0)
        printf("  (none)\n");
}

int rfctl_run_report(const rfctl_command *cmd, int argc, char **argv) {
    rfctl_args o;
    if (rfctl_parse_args(argc, argv, cmd->options, &o)) return 2;
    char path[128];
    snprintf(path, sizeof path, "%s", cmd->route);
    rfctl_add_param(path, sizeof path, "days", rfctl_arg(&o, "days"));
    json_t *ret = rfctl_call(cmd->worker, "GET", path, NULL);
    if (!ret) return 1;
    json_t *claims = rfctl_call(RFCTL_REFUND, "GET", "/v1/reports/claims", NULL);
    json_t *quality = rfctl_call(RFCTL_WAREHOUSE, "GET", "/v1/reports/quality", NULL);
    json_t *sat = rfctl_call(RFCTL_NOTIFICATION, "GET", "/v1/reports/satisfaction", NULL);
    int rc = claims && quality && sat ? 0 : 1;
    json_t *rep = json_pack(
        "{s:o, s:o, s:o, s:o}", "returns", ret, "claims", claims ? claims : json_null(), "quality",
        quality ? quality : json_null(), "satisfaction", sat ? sat : json_null());
    if (rfctl_json) rfctl_print_json(rep);
    else print_report(rep);
    json_decref(rep);
    return rc;
}
