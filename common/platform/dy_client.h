/*
 * platform/dy_client.h: signed calls to the Douyin shop open platform's API
 * (抖店开放平台) over the asynchronous HTTP client (http/httpc.h), as the
 * platform's own SDKs send them (doudian-sdk-golang 1.1.0, core/
 * doudian_op_api_client.go and utils/sign_util.go; the PHP SDK's
 * DouDianOpClient.php and SignUtil.php say the same):
 *
 *   POST {api}/{method with '.' as '/'}?app_key=&method=&v=2&timestamp=<s>
 *        &sign_method=hmac-sha256|md5&sign=[&access_token=]
 *   body: param_json, the business parameters as compact JSON with every
 *         object's keys sorted (recursively), "/" and non-ASCII unescaped
 *   sign: secret + "app_key" + key + "method" + method + "param_json" + body
 *         + "timestamp" + ts + "v" + "2" + secret; HMAC-SHA256 keyed with the
 *         secret (or MD5), lowercase hex (platform/douyin.h rf_dy_api_sign)
 *
 * Every call of a shop carries that shop's access token; token.create and
 * token.refresh carry none. The answer is {"code", "msg", "sub_code",
 * "sub_msg", "data", "log_id"}: code 10000 is success. The platform puts
 * several causes under one code (40003 holds a bad sign, a stale timestamp
 * and an expired or unknown access token), so the configured rate-limit and
 * token-invalid lists match either a code ("60000") or a sub_code
 * ("isv.access-token-expired"). No token or secret appears in any message
 * these functions write.
 */
#ifndef RF_DY_CLIENT_H
#define RF_DY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/httpc.h"
#include "platform/douyin.h"
#include "runtime/config.h"

#define RF_DY_OK_CODE 10000 /* the answer's code on success */
#define RF_DY_CODES_MAX 4   /* entries of a rate-limit or token-invalid list */
#define RF_DY_CODE_LEN 64   /* the longest code or sub_code of such a list, with its NUL */

typedef struct rf_dy_config {
    char api_url[256]; /* "https://openapi-fxg.jinritemai.com" (no trailing slash) */
    char app_key[128];
    char app_secret[128];
    rf_dy_sign_method_t sign_method;
    char rate_limit_codes[RF_DY_CODES_MAX][RF_DY_CODE_LEN];    /* "60000", or a sub_code; "" ends */
    char token_invalid_codes[RF_DY_CODES_MAX][RF_DY_CODE_LEN]; /* the shop's token lapsed or is
                                                                  unknown: renew, try once more */
} rf_dy_config_t;

typedef enum rf_dy_outcome {
    RF_DY_OK = 0,        /* code 10000: data holds the answer's data */
    RF_DY_RATE_LIMITED,  /* a rate-limit code: retry later */
    RF_DY_TOKEN_INVALID, /* a token-invalid code: the shop's token lapsed or was revoked */
    RF_DY_REFUSED,       /* another code: the platform said no (see error) */
    RF_DY_TRANSPORT,     /* no answer, an HTTP status other than 200, or not the platform's JSON */
} rf_dy_outcome_t;

/* One method the client may call, as the SDKs declare it (their request
 * struct's pointer fields are the required ones). */
typedef struct rf_dy_method {
    const char *name;        /* "afterSale.Detail" */
    const char *verb;        /* "POST": the SDKs post every method */
    bool needs_token;        /* false for token.create and token.refresh only */
    const char *required[4]; /* business parameters that must be present; NULL ends */
} rf_dy_method_t;

/* rf_dy_method: the table entry of name, NULL for a method not in it:
 * token.create, token.refresh, afterSale.List, afterSale.Detail,
 * afterSale.operate, afterSale.rejectReasonCodeList, order.orderDetail. */
const rf_dy_method_t *rf_dy_method(const char *name);

/* rf_dy_method_path: "/afterSale/Detail" for "afterSale.Detail". Returns 0,
 * or -1 when out (cap bytes) is too small or the name is empty. */
int rf_dy_method_path(const char *method, char *out, size_t cap);

/* rf_dy_param_json: the param_json text of param (an object; NULL is {}):
 * compact, keys sorted at every level. malloc'd; NULL on failure. */
char *rf_dy_param_json(json_t *param);

/* rf_dy_request_url: the signed address of one call: api_url, the method's
 * path and the query (access_token only when given and not empty), the
 * timestamp now_s seconds. malloc'd; NULL on failure. */
char *rf_dy_request_url(const rf_dy_config_t *cfg, const char *method, const char *param_json,
                        const char *access_token, int64_t now_s);

/* What an answer said. */
typedef struct rf_dy_answer {
    int code;          /* the answer's code, 0 when there was none */
    char sub_code[96]; /* "" when none */
    char log_id[64];   /* the platform's id of the request, for support */
    json_t *doc;       /* the parsed answer (owned; NULL unless it was JSON) */
    json_t *data;      /* doc's data (borrowed from doc; NULL unless RF_DY_OK) */
    char error[300];   /* why it is not OK ("" when OK) */
} rf_dy_answer_t;

/* rf_dy_answer_read: classify an answer (status: the HTTP status, 0 when
 * none came; transport_error: why, then). secret, when not NULL or empty, is
 * cut out of the error text (the call's access token). rf_dy_answer_clear()
 * frees doc. */
rf_dy_outcome_t rf_dy_answer_read(const rf_dy_config_t *cfg, long status, const char *body,
                                  size_t len, const char *transport_error, const char *secret,
                                  rf_dy_answer_t *out);
void rf_dy_answer_clear(rf_dy_answer_t *a);

/* code: the answer's code (0 when none); sub_code: its sub_code ("" when
 * none); data: the answer's data (borrowed for the call; NULL unless
 * RF_DY_OK); raw: the whole answer text (for the record of what the platform
 * said; NULL when none came). */
typedef void (*rf_dy_done_fn)(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                              json_t *data, const char *raw, const char *error);

/* rf_dy_call: send method with param (an object; borrowed) for the shop
 * whose access_token is given (NULL or "" for token.create and token.refresh;
 * a method that needs one refuses to go without), at now_ms.
 * idempotency_key, when not NULL or empty, goes as the Idempotency-Key
 * header. A method not in the table, or a required parameter missing, is not
 * sent. Returns 0 (cb will be called once) or -1 (nothing sent, no call). */
int rf_dy_call(rf_httpc_t *c, const rf_dy_config_t *cfg, const char *method, json_t *param,
               const char *access_token, const char *idempotency_key, int64_t now_ms,
               long timeout_ms, rf_dy_done_fn cb, void *arg);

/* rf_dy_check_param: whether param holds every parameter method requires
 * (0), or -1 with the missing one (or the unknown method) named in err. */
int rf_dy_check_param(const char *method, json_t *param, char *err, size_t errlen);

/* ---- settings shared by every worker that calls the API ----------------------- */

extern char rf_dy_api_url[RF_CFG_STR_MAX];             /* RF_DOUYIN_API_URL: "" = no calls */
extern char rf_dy_app_key[RF_CFG_STR_MAX];             /* RF_DOUYIN_APP_KEY */
extern char rf_dy_app_secret[RF_CFG_STR_MAX];          /* RF_DOUYIN_APP_SECRET */
extern char rf_dy_sign_method[RF_CFG_STR_MAX];         /* RF_DOUYIN_SIGN_METHOD */
extern char rf_dy_rate_limit_codes[RF_CFG_STR_MAX];    /* RF_DOUYIN_RATE_LIMIT_CODES */
extern char rf_dy_token_invalid_codes[RF_CFG_STR_MAX]; /* RF_DOUYIN_TOKEN_INVALID_CODES */

/* The configuration-table rows of those settings, for a worker's table. The
 * app key and secret also sign Douyin's pushes (platform/douyin.h). */
/* A table reads best as rows, so the formatter leaves it as written. */
// clang-format off
#define RF_DY_CONFIG                                                                          \
    {"RF_DOUYIN_API_URL", RF_CFG_STRING, rf_dy_api_url, "", 0, 0,                             \
     "Douyin open-platform API host (https://openapi-fxg.jinritemai.com); empty: no calls"},  \
    {"RF_DOUYIN_APP_KEY", RF_CFG_STRING, rf_dy_app_key, "", 0, 0,                             \
     "Douyin app key: API calls and push event-sign (required with an API URL)"},             \
    {"RF_DOUYIN_APP_SECRET", RF_CFG_STRING, rf_dy_app_secret, "", 0, 0,                       \
     "Douyin app secret: API signs and push event-sign (required with an API URL)"},          \
    {"RF_DOUYIN_SIGN_METHOD", RF_CFG_STRING, rf_dy_sign_method, "hmac-sha256", 0, 0,          \
     "how API requests are signed: hmac-sha256 (the SDKs' default) or md5"},                  \
    {"RF_DOUYIN_RATE_LIMIT_CODES", RF_CFG_STRING, rf_dy_rate_limit_codes, "60000", 0, 0,      \
     "answer codes or sub_codes that mean too many requests (comma-separated, at most 4): "   \
     "backed off, not counted as failures"},                                                  \
    {"RF_DOUYIN_TOKEN_INVALID_CODES", RF_CFG_STRING, rf_dy_token_invalid_codes,               \
     "isv.access-token-expired,isv.access-token-no-existed", 0, 0,                            \
     "answer codes or sub_codes that mean the shop's access token lapsed or is unknown "      \
     "(comma-separated, at most 4): the token is renewed and the call tried once more"}
// clang-format on

/* rf_dy_enabled: an API URL is set. */
bool rf_dy_enabled(void);

/* rf_dy_parse_codes: "60000,isv.app-call-limited" into codes (zero-filled;
 * at most 4 entries, each digits, letters, '.', '-', '_' or ':'). 0, or -1. */
int rf_dy_parse_codes(const char *text, char codes[RF_DY_CODES_MAX][RF_DY_CODE_LEN]);

/* rf_dy_settings_load: check the settings above and fill cfg from them (all
 * zero but the lists when the API is off). 0, or the number of bad settings,
 * each logged with its name (the caller stops start-up). */
int rf_dy_settings_load(rf_dy_config_t *cfg);

#endif
