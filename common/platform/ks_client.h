/*
 * platform/ks_client.h: signed calls to the Kuaishou open platform's API over the
 * asynchronous HTTP client (http/httpc.h).
 *
 * A call is the method's path on the API host with the common parameters
 * (appkey, method, version=1, param as a JSON string, access_token, timestamp
 * in ms, signMethod, sign; see platform/kuaishou.h for the signature),
 * form-urlencoded: in the body of a POST, or in the query of a GET, by the
 * method's declared verb (rf_ks_method_verb), as the platform's own client
 * (kuaishou-merchant-open-api's execute) sends them. The answer {"result": 1, "data": ...} is success; any other
 * result is the platform's refusal, and the configured rate-limit codes are
 * told apart so the caller backs off instead of giving up.
 */
#ifndef RF_KS_CLIENT_H
#define RF_KS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime/config.h"
#include "http/httpc.h"
#include "platform/kuaishou.h"

typedef struct rf_ks_config {
    char api_url[256]; /* "https://openapi.kwaixiaodian.com" (no trailing slash) */
    char app_key[128];
    char sign_secret[128]; /* the sign secret, not the OAuth app secret */
    char access_token[512];
    rf_ks_sign_method_t sign_method;
    int rate_limit_codes[4];    /* result codes meaning "too many requests"; 0 ends the list */
    int token_invalid_codes[4]; /* result codes meaning "this access token is not (or no
                                   longer) valid": renew it and try once more */
} rf_ks_config_t;

typedef enum rf_ks_outcome {
    RF_KS_OK = 0,        /* result == 1: data holds the answer's data */
    RF_KS_RATE_LIMITED,  /* a rate-limit code: retry later */
    RF_KS_TOKEN_INVALID, /* a token-invalid code: the shop's token lapsed or was revoked */
    RF_KS_REFUSED,       /* another result code: the platform said no (see error) */
    RF_KS_TRANSPORT,     /* no answer, an HTTP error status, or not the platform's JSON */
} rf_ks_outcome_t;

/* result_code: the answer's `result` (0 when there was none); data: the
 * answer's `data` (borrowed for the call; NULL unless RF_KS_OK); raw: the
 * whole answer text (for the record of what the platform said). */
typedef void (*rf_ks_done_fn)(void *arg, rf_ks_outcome_t outcome, int result_code, json_t *data,
                              const char *raw, const char *error);

/* rf_ks_call: send method with param (a JSON object; borrowed) at time
 * now_ms. Returns 0 (cb will be called once) or -1 (nothing sent, no call). */
int rf_ks_call(rf_httpc_t *c, const rf_ks_config_t *cfg, const char *method, json_t *param,
               int64_t now_ms, long timeout_ms, rf_ks_done_fn cb, void *arg);

/* rf_ks_call_keyed: rf_ks_call that also sends idempotency_key (when not
 * NULL or empty) as the Idempotency-Key header, so the platform (or a proxy
 * in front of it) can tell a retry from a new request. */
int rf_ks_call_keyed(rf_httpc_t *c, const rf_ks_config_t *cfg, const char *method, json_t *param,
                     const char *idempotency_key, int64_t now_ms, long timeout_ms, rf_ks_done_fn cb,
                     void *arg);

/* ---- settings shared by every worker that calls the API ----------------------- */

extern char rf_ks_api_url[RF_CFG_STR_MAX];             /* RF_KUAISHOU_API_URL: "" = no calls */
extern char rf_ks_app_key[RF_CFG_STR_MAX];             /* RF_KUAISHOU_APP_KEY */
extern char rf_ks_sign_secret[RF_CFG_STR_MAX];         /* RF_KUAISHOU_SIGN_SECRET */
extern char rf_ks_access_token[RF_CFG_STR_MAX];        /* RF_KUAISHOU_ACCESS_TOKEN */
extern char rf_ks_sign_method[RF_CFG_STR_MAX];         /* RF_KUAISHOU_SIGN_METHOD */
extern char rf_ks_rate_limit_codes[RF_CFG_STR_MAX];    /* RF_KUAISHOU_RATE_LIMIT_CODES */
extern char rf_ks_token_invalid_codes[RF_CFG_STR_MAX]; /* RF_KUAISHOU_TOKEN_INVALID_CODES */

/* The configuration-table rows of those settings, for a worker's table. */
/* A table reads best as rows, so the formatter leaves it as written. */
// clang-format off
#define RF_KS_CONFIG                                                                          \
    {"RF_KUAISHOU_API_URL", RF_CFG_STRING, rf_ks_api_url, "", 0, 0,                           \
     "Kuaishou open-platform API host; empty: no calls (intake: no fetches or polling; "      \
     "review, refund: decisions recorded as not_sent and alerted)"},                          \
    {"RF_KUAISHOU_APP_KEY", RF_CFG_STRING, rf_ks_app_key, "", 0, 0,                           \
     "Kuaishou app key (required with an API URL)"},                                          \
    {"RF_KUAISHOU_SIGN_SECRET", RF_CFG_STRING, rf_ks_sign_secret, "", 0, 0,                   \
     "Kuaishou sign secret (not the OAuth app secret; required with an API URL)"},            \
    {"RF_KUAISHOU_ACCESS_TOKEN", RF_CFG_STRING, rf_ks_access_token, "", 0, 0,                 \
     "a fixed Kuaishou access token, for a shop not authorised through intake's shops "       \
     "(a trial); shops authorised by OAuth need none"},                         \
    {"RF_KUAISHOU_SIGN_METHOD", RF_CFG_STRING, rf_ks_sign_method, "MD5", 0, 0,                \
     "how API requests are signed: MD5 or HMAC_SHA256"},                                      \
    {"RF_KUAISHOU_RATE_LIMIT_CODES", RF_CFG_STRING, rf_ks_rate_limit_codes, "", 0, 0,         \
     "result codes that mean too many requests (comma-separated, at most 4): backed off, "    \
     "not counted as failures"},                                                              \
    {"RF_KUAISHOU_TOKEN_INVALID_CODES", RF_CFG_STRING, rf_ks_token_invalid_codes, "28", 0, 0, \
     "result codes that mean the access token lapsed or was revoked (comma-separated, at "    \
     "most 4): the token is renewed and the call tried once more"}
// clang-format on

/* rf_ks_enabled: an API URL is set. */
bool rf_ks_enabled(void);

/* rf_ks_parse_codes: "803,429" into codes (zero-filled; at most 4 positive
 * codes). 0, or -1 for anything else. */
int rf_ks_parse_codes(const char *text, int codes[4]);

/* rf_ks_settings_load: check the settings above and fill cfg from them (all
 * zero when the API is off). 0, or the number of bad settings, each logged
 * with its name (the caller stops start-up). */
int rf_ks_settings_load(rf_ks_config_t *cfg);

/* rf_ks_form: the signed form body of a call (malloc'd; for tests and the
 * record of outgoing calls). NULL on allocation failure. */
char *rf_ks_form(const rf_ks_config_t *cfg, const char *method, const char *param_json,
                 int64_t now_ms);

#endif
