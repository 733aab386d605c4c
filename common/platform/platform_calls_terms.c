/*
 * platform_calls_terms.c: what the decision calls say on each platform
 * (platform/platform_calls.h): whether a platform's calls are on, how a
 * refused call's record is fetched again, whether it already shows what the
 * call asked for, and its facts in neutral terms. Kuaishou's terms are here;
 * Douyin's are platform/pcalls_douyin.h's. Pure functions but for the settings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform/dy_client.h"
#include "platform/kuaishou.h"
#include "platform/pcalls_douyin.h"
#include "platform/platform_calls.h"

#define KS_DETAIL_METHOD "open.seller.order.refund.detail"

static bool is_douyin(const char *platform) { return platform && strcmp(platform, "douyin") == 0; }
static bool is_kuaishou(const char *platform) {
    return platform && strcmp(platform, "kuaishou") == 0;
}

bool rf_pcalls_platform_enabled(const char *platform) {
    if (is_kuaishou(platform)) return rf_ks_enabled();
    if (is_douyin(platform)) return rf_dy_enabled();
    return false;
}

bool rf_pcalls_enabled(void) { return rf_ks_enabled() || rf_dy_enabled(); }

const char *rf_pcalls_api_setting(const char *platform) {
    return is_douyin(platform) ? "RF_DOUYIN_API_URL" : "RF_KUAISHOU_API_URL";
}

const char *rf_pcalls_console(const char *platform) {
    return is_douyin(platform) ? "the Douyin seller console (抖店后台)"
                               : "the Kuaishou seller console";
}

int64_t rf_pcalls_backoff_ms(int64_t base_ms, int64_t n) {
    const int64_t cap = 3600000;
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int64_t i = 1; i < n && d < cap; i++) d *= 2;
    return d < cap ? d : cap;
}

static int64_t int_field(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return -1;
}

bool rf_pcalls_target_reached(const char *method, json_t *detail) {
    if (!json_is_object(detail)) return false;
    int64_t status = int_field(detail, "status"), negotiate = int_field(detail, "negotiateStatus");
    if (strcmp(method, "open.refund.reject") == 0) return negotiate == 3 || status == 12;
    if (strcmp(method, "open.seller.order.refund.confirm.receipt") == 0)
        return status == 50 || status == 60;
    if (strcmp(method, "open.seller.order.refund.approve") == 0 ||
        strcmp(method, "open.seller.order.refund.returngoods.approve") == 0)
        return negotiate == 2 || status == 22 || status == 30 || status == 40 || status == 50 ||
               status == 60;
    return false;
}

json_t *rf_pcalls_id_json(const char *id) {
    size_t n = strlen(id);
    bool digits = n > 0 && n <= 19;
    for (size_t i = 0; digits && i < n; i++) digits = id[i] >= '0' && id[i] <= '9';
    if (digits) {
        errno = 0;
        long long v = strtoll(id, NULL, 10);
        if (errno == 0) return json_integer(v);
    }
    return json_string(id);
}

const char *rf_pcalls_refetch(const char *platform, const char *platform_return_id,
                              json_t **param) {
    if (is_douyin(platform)) {
        *param = rf_pcalls_dy_detail_param(platform_return_id);
        return RF_PCALLS_DY_DETAIL;
    }
    *param = json_pack("{s:o}", "refundId", rf_pcalls_id_json(platform_return_id));
    return KS_DETAIL_METHOD;
}

bool rf_pcalls_reached(const char *platform, const char *method, int op_type, json_t *detail) {
    if (is_douyin(platform)) return rf_pcalls_dy_target_reached(op_type, detail);
    return rf_pcalls_target_reached(method, detail);
}

int rf_pcalls_detail_facts(const char *platform, json_t *detail, rf_pcall_facts_t *out) {
    *out = (rf_pcall_facts_t){0, -1, NULL};
    if (!json_is_object(detail)) return -1;
    if (is_douyin(platform))
        return rf_pcalls_dy_detail_facts(detail, &out->version, &out->amount_fen, &out->kind);
    json_t *ut = json_object_get(detail, "updateTime");
    json_t *fee = json_object_get(detail, "refundFee");
    json_t *way = json_object_get(detail, "handlingWay");
    out->version = json_is_integer(ut) ? (int64_t)json_integer_value(ut) : 0;
    out->amount_fen = json_is_integer(fee) ? (int64_t)json_integer_value(fee) : -1;
    out->kind = json_is_integer(way) ? rf_ks_kind((int)json_integer_value(way)) : NULL;
    return 0;
}
