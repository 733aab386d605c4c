/*
 * douyin.c: the Douyin after-sales protocol (platform/douyin.h).
 */
#include "platform/douyin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "runtime/crypto.h"

void rf_dy_push_sign(const char *app_key, const char *body, size_t len, const char *app_secret,
                     char out[33]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    EVP_DigestUpdate(ctx, app_key, strlen(app_key));
    EVP_DigestUpdate(ctx, body, len);
    EVP_DigestUpdate(ctx, app_secret, strlen(app_secret));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    rf_hex(md, mdlen, out);
}

bool rf_dy_push_verify(const char *app_key, const char *app_secret, const char *body, size_t len,
                       const char *event_sign) {
    if (!event_sign) return false;
    char want[33];
    rf_dy_push_sign(app_key, body, len, app_secret, want);
    return rf_equal_nocase_ct(want, event_sign);
}

void rf_dy_api_sign(const char *app_key, const char *app_secret, const char *method,
                    const char *param_json, const char *timestamp, const char *v,
                    rf_dy_sign_method_t how, char out[65]) {
    size_t len = 2 * strlen(app_secret) + strlen(app_key) + strlen(method) + strlen(param_json) +
                 strlen(timestamp) + strlen(v) + 64;
    char *text = malloc(len);
    if (!text) {
        out[0] = '\0';
        return;
    }
    int n = snprintf(text, len, "%sapp_key%smethod%sparam_json%stimestamp%sv%s%s", app_secret,
                     app_key, method, param_json, timestamp, v, app_secret);
    if (how == RF_DY_SIGN_MD5) {
        rf_md5_hex(text, (size_t)n, out);
    } else {
        uint8_t mac[32];
        rf_hmac_sha256(app_secret, strlen(app_secret), text, (size_t)n, mac);
        rf_hex(mac, sizeof mac, out);
    }
    free(text);
}

void rf_dy_messages_free(rf_dy_message_t *msgs, size_t n) {
    for (size_t i = 0; msgs && i < n; i++) json_decref(msgs[i].data);
    free(msgs);
}

int rf_dy_push_parse(const char *body, size_t len, rf_dy_message_t **out, size_t *n, char *err,
                     size_t errlen) {
    *out = NULL;
    *n = 0;
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!json_is_array(doc)) {
        snprintf(err, errlen, "the body is not a JSON array of messages%s%s", doc ? "" : ": ",
                 doc ? "" : jerr.text);
        json_decref(doc);
        return -1;
    }
    size_t count = json_array_size(doc);
    rf_dy_message_t *msgs = calloc(count ? count : 1, sizeof *msgs);
    if (!msgs) {
        json_decref(doc);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *m = json_array_get(doc, i);
        json_t *tag = json_object_get(m, "tag"), *id = json_object_get(m, "msg_id"),
               *data = json_object_get(m, "data");
        if (json_is_string(tag)) msgs[i].tag = atoi(json_string_value(tag));
        else if (json_is_integer(tag)) msgs[i].tag = (int)json_integer_value(tag);
        else {
            snprintf(err, errlen, "message %zu: tag is missing or not a number", i);
            goto fail;
        }
        if (!json_is_string(id) || json_string_length(id) == 0 ||
            json_string_length(id) >= sizeof msgs[i].msg_id) {
            snprintf(err, errlen, "message %zu: msg_id is missing or not a string", i);
            goto fail;
        }
        snprintf(msgs[i].msg_id, sizeof msgs[i].msg_id, "%s", json_string_value(id));
        if (json_is_string(data))
            msgs[i].data = json_loadb(json_string_value(data), json_string_length(data), 0, &jerr);
        else if (json_is_object(data)) msgs[i].data = json_incref(data);
        if (!json_is_object(msgs[i].data)) {
            snprintf(err, errlen, "message %zu: data is not an object (nor a string holding one)",
                     i);
            goto fail;
        }
    }
    json_decref(doc);
    *out = msgs;
    *n = count;
    return 0;
fail:
    rf_dy_messages_free(msgs, count);
    json_decref(doc);
    return -1;
}

const char *rf_dy_neutral_status(int s) {
    switch (s) {
    case 6: return "requested";
    case 7: return "awaiting_buyer_return";
    case 11: return "return_in_transit";
    case 12:
    case 14: return "completed";
    case 27:
    case 29: return "seller_rejected";
    case 28: return "closed";
    default: return NULL;
    }
}

const char *rf_dy_kind(int t) {
    switch (t) {
    case 0: return "return_refund";
    case 1:
    case 2: return "refund_only";
    case 3: return "exchange";
    default: return NULL;
    }
}
