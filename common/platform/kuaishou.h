/*
 * platform/kuaishou.h: the Kuaishou (快手电商开放平台) after-sales protocol, as
 * PLATFORMS.md describes it: API request signing, push decryption and
 * parsing, and the mapping of refund records to returnflow's neutral terms.
 *
 * Pure functions: no I/O. Ids are kept as text (they are 16-19 digit
 * numbers); amounts are integer fen; times are ms since the epoch.
 */
#ifndef RF_KUAISHOU_H
#define RF_KUAISHOU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum rf_ks_sign_method { RF_KS_SIGN_MD5, RF_KS_SIGN_HMAC_SHA256 } rf_ks_sign_method_t;

/* One common request parameter. */
typedef struct rf_ks_param {
    const char *key;
    const char *value;
} rf_ks_param_t;

/* rf_ks_sign: the `sign` of a request: the parameters (all but sign) sorted
 * by key, joined as k=v with '&', then "&signSecret=" + secret; MD5 as
 * lowercase hex, or HMAC-SHA256 keyed with the secret as Base64. Computed on
 * the values before URL-encoding. out needs 65 bytes. Returns 0 or -1 (a
 * parameter list longer than 16, or out too small). */
int rf_ks_sign(const rf_ks_param_t *params, size_t n, const char *secret,
               rf_ks_sign_method_t method, char *out, size_t cap);

/* rf_ks_method_path: "/open/seller/order/refund/detail" for
 * "open.seller.order.refund.detail". out needs strlen(method) + 2 bytes. */
int rf_ks_method_path(const char *method, char *out, size_t cap);

/* rf_ks_form_encode: params as k=v joined by '&', keys and values
 * percent-encoded (RFC 3986 unreserved characters kept): a POST's form body,
 * or a GET's query. malloc'd; NULL when out of memory. */
char *rf_ks_form_encode(const rf_ks_param_t *params, size_t n);

/* rf_ks_method_verb: the HTTP verb a method is declared with
 * (kuaishou-merchant-open-api, es/common/constant/api.default.method.js):
 * "GET" for open.order.detail, open.seller.order.refund.detail,
 * open.seller.order.refund.pcursor.list and open.refund.reject.reason; "POST"
 * for open.seller.order.refund.approve, .returngoods.approve,
 * .confirm.receipt, open.refund.reject and open.refund.submit.returnInfo.
 * A method not in that list is GET, as the package's client does. */
const char *rf_ks_method_verb(const char *method);

/* A decrypted push message. */
typedef struct rf_ks_push {
    char event_id[128]; /* eventId: the dedup key */
    char biz_id[64];    /* bizId: the refund id */
    char event[96];     /* topic, e.g. kwaishop_aftersales_addRefund */
    char app_key[96];
    int64_t create_time; /* ms */
    bool test;           /* a heartbeat: answer it, do nothing else */
    json_t *info;        /* the parsed `info` object (owned), NULL for heartbeats */
} rf_ks_push_t;

/* rf_ks_push_decrypt: Base64-decode the body, AES-CBC decrypt it with the
 * Base64-decoded message key and a zero IV, PKCS#5 unpad. The plaintext (a
 * JSON text) is malloc'd into *plain (NUL-terminated). Returns 0, or -1 with a
 * reason in err (bad Base64, wrong key size, bad padding: a wrong key). */
int rf_ks_push_decrypt(const char *body, size_t len, const char *message_key_b64, char **plain,
                       size_t *plain_len, char *err, size_t errlen);

/* rf_ks_push_encrypt: the inverse, as the platform does (for the stand-in and
 * tests): *out is malloc'd Base64 text. Returns 0 or -1. */
int rf_ks_push_encrypt(const char *plain, size_t len, const char *message_key_b64, char **out);

/* rf_ks_push_parse: the decrypted envelope into push (info parsed from its
 * JSON string). Returns 0, or -1 with a reason in err naming the field.
 * rf_ks_push_clear() frees what it holds. */
int rf_ks_push_parse(const char *json, size_t len, rf_ks_push_t *push, char *err, size_t errlen);
void rf_ks_push_clear(rf_ks_push_t *push);

/* rf_ks_neutral_status: the neutral status of a refund record from the pair
 * (status, negotiateStatus): requested, seller_rejected, awaiting_buyer_return,
 * return_in_transit, arbitration, refunding, completed or closed. NULL for a
 * pair the mapping does not know (e.g. 45, an exchange being reshipped): the
 * caller records it for a person rather than guessing. */
const char *rf_ks_neutral_status(int status, int negotiate_status);

/* rf_ks_kind: the neutral return type of a handlingWay: refund_only (10),
 * return_refund (1), exchange (3); NULL for resend (4), repair (5) and
 * anything else. */
const char *rf_ks_kind(int handling_way);

#endif
