/*
 * platform/douyin.h: the Douyin (抖店开放平台) after-sales protocol, as PLATFORMS.md
 * describes it: push signatures and parsing, API request signing, and the
 * mapping of after-sale records to returnflow's neutral terms. Pure functions.
 */
#ifndef RF_DOUYIN_H
#define RF_DOUYIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* rf_dy_push_sign: MD5(app_key + raw body + app_secret), lowercase hex. */
void rf_dy_push_sign(const char *app_key, const char *body, size_t len, const char *app_secret,
                     char out[33]);

/* rf_dy_push_verify: whether the event-sign header matches the body
 * (compared ignoring case, in constant time). A NULL header is false. */
bool rf_dy_push_verify(const char *app_key, const char *app_secret, const char *body, size_t len,
                       const char *event_sign);

typedef enum rf_dy_sign_method { RF_DY_SIGN_MD5, RF_DY_SIGN_HMAC_SHA256 } rf_dy_sign_method_t;

/* rf_dy_api_sign: the sign of an API call: over secret + "app_key" + key +
 * "method" + method + "param_json" + param_json + "timestamp" + ts + "v" + v
 * + secret; MD5, or HMAC-SHA256 keyed with the secret; lowercase hex into
 * out[65]. */
void rf_dy_api_sign(const char *app_key, const char *app_secret, const char *method,
                    const char *param_json, const char *timestamp, const char *v,
                    rf_dy_sign_method_t how, char out[65]);

/* One message of a push body. */
typedef struct rf_dy_message {
    int tag;          /* 200 created, 201 refund agreed, ... */
    char msg_id[128]; /* the dedup key */
    json_t *data;     /* the payload object (owned); `data` may arrive as a
                          JSON string or an object: both are accepted */
} rf_dy_message_t;

/* rf_dy_push_parse: the body (a JSON array) into a malloc'd array of
 * messages (*out, *n). Returns 0, or -1 with a reason in err naming the
 * element and field. rf_dy_messages_free() frees the array. */
int rf_dy_push_parse(const char *body, size_t len, rf_dy_message_t **out, size_t *n, char *err,
                     size_t errlen);
void rf_dy_messages_free(rf_dy_message_t *msgs, size_t n);

/* rf_dy_neutral_status: requested (6), awaiting_buyer_return (7),
 * return_in_transit (11), completed (12, 14), seller_rejected (27, 29),
 * closed (28); NULL for others (exchange stages), left to a person. */
const char *rf_dy_neutral_status(int aftersale_status);

/* rf_dy_kind: return_refund (0), refund_only (1, 2), exchange (3); NULL for
 * price protection, resend, repair and unknown types. */
const char *rf_dy_kind(int aftersale_type);

#endif
