/*
 * kuaishou.c: the Kuaishou after-sales protocol (platform/kuaishou.h).
 */
#include "platform/kuaishou.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/crypto.h"

#define MAX_PARAMS 16

static int by_key(const void *a, const void *b) {
    return strcmp(((const rf_ks_param_t *)a)->key, ((const rf_ks_param_t *)b)->key);
}

int rf_ks_sign(const rf_ks_param_t *params, size_t n, const char *secret,
               rf_ks_sign_method_t method, char *out, size_t cap) {
    if (n > MAX_PARAMS || cap < 65) return -1;
    rf_ks_param_t sorted[MAX_PARAMS];
    memcpy(sorted, params, n * sizeof *params);
    qsort(sorted, n, sizeof *sorted, by_key);
    size_t len = strlen(secret) + 16;
    for (size_t i = 0; i < n; i++) len += strlen(sorted[i].key) + strlen(sorted[i].value) + 2;
    char *text = malloc(len);
    if (!text) return -1;
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, len - used, "%s%s=%s", i ? "&" : "", sorted[i].key,
                                 sorted[i].value);
    used += (size_t)snprintf(text + used, len - used, "&signSecret=%s", secret);
    if (method == RF_KS_SIGN_MD5) {
        rf_md5_hex(text, used, out);
    } else {
        uint8_t mac[32];
        rf_hmac_sha256(secret, strlen(secret), text, used, mac);
        rf_base64_encode(mac, sizeof mac, out, cap);
    }
    free(text);
    return 0;
}

int rf_ks_method_path(const char *method, char *out, size_t cap) {
    size_t len = strlen(method);
    if (cap < len + 2) return -1;
    out[0] = '/';
    for (size_t i = 0; i <= len; i++) out[i + 1] = method[i] == '.' ? '/' : method[i];
    return 0;
}

/* Percent-encode text (RFC 3986 unreserved characters kept) onto out. */
static size_t form_escape(const char *text, char *out) {
    static const char hexd[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hexd[*p >> 4];
            out[n++] = hexd[*p & 15];
        }
    }
    return n;
}

char *rf_ks_form_encode(const rf_ks_param_t *params, size_t n) {
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) cap += 3 * (strlen(params[i].key) + strlen(params[i].value)) + 2;
    char *form = malloc(cap);
    if (!form) return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) form[used++] = '&';
        used += form_escape(params[i].key, form + used);
        form[used++] = '=';
        used += form_escape(params[i].value, form + used);
    }
    form[used] = '\0';
    return form;
}

const char *rf_ks_method_verb(const char *method) {
    static const char *const posted[] = {"open.seller.order.refund.approve",
                                         "open.seller.order.refund.returngoods.approve",
                                         "open.seller.order.refund.confirm.receipt",
                                         "open.refund.reject",
                                         "open.refund.submit.returnInfo",
                                         NULL};
    for (const char *const *m = posted; *m; m++)
        if (strcmp(*m, method) == 0) return "POST";
    return "GET";
}

static const uint8_t zero_iv[16];

/* The app's message key: Base64 of 16, 24 or 32 bytes. */
static int message_key(const char *b64, uint8_t key[32], char *err, size_t errlen) {
    uint8_t buf[48];
    int n = rf_base64_decode(b64, strlen(b64), buf, sizeof buf);
    if (n == 16 || n == 24 || n == 32) memcpy(key, buf, (size_t)n);
    if (n != 16 && n != 24 && n != 32) {
        snprintf(err, errlen, "the message key is not Base64 of a 16, 24 or 32 byte AES key");
        return -1;
    }
    return n;
}

int rf_ks_push_decrypt(const char *body, size_t len, const char *message_key_b64, char **plain,
                       size_t *plain_len, char *err, size_t errlen) {
    *plain = NULL;
    uint8_t key[32];
    int keylen = message_key(message_key_b64, key, err, errlen);
    if (keylen < 0) return -1;
    while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' ')) len--;
    uint8_t *cipher = malloc(len / 4 * 3 + 3);
    char *out = malloc(len + 1);
    int rc = -1;
    if (!cipher || !out) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    int clen = rf_base64_decode(body, len, cipher, len / 4 * 3 + 3);
    if (clen < 0) {
        snprintf(err, errlen, "the body is not Base64");
        goto done;
    }
    int n = rf_aes_cbc_decrypt(key, (size_t)keylen, zero_iv, cipher, (size_t)clen, (uint8_t *)out,
                               len + 1);
    if (n < 0) {
        snprintf(err, errlen, "the body does not decrypt with the message key (wrong key?)");
        goto done;
    }
    out[n] = '\0';
    *plain = out;
    *plain_len = (size_t)n;
    out = NULL;
    rc = 0;
done:
    free(cipher);
    free(out);
    return rc;
}

int rf_ks_push_encrypt(const char *plain, size_t len, const char *message_key_b64, char **out) {
    uint8_t key[32];
    char err[128];
    int keylen = message_key(message_key_b64, key, err, sizeof err);
    if (keylen < 0) return -1;
    uint8_t *cipher = malloc(len + 16);
    size_t cap = 4 * ((len + 16 + 2) / 3) + 1;
    *out = malloc(cap);
    int n = cipher && *out ? rf_aes_cbc_encrypt(key, (size_t)keylen, zero_iv,
                                                (const uint8_t *)plain, len, cipher, len + 16)
                           : -1;
    if (n >= 0) n = rf_base64_encode(cipher, (size_t)n, *out, cap);
    free(cipher);
    if (n < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* A text field that may come as a JSON string or number (ids): as text. */
static bool text_field(json_t *obj, const char *key, char *out, size_t cap, bool required,
                       char *err, size_t errlen) {
    json_t *j = json_object_get(obj, key);
    out[0] = '\0';
    if (json_is_string(j)) {
        if (json_string_length(j) >= cap) {
            snprintf(err, errlen, "%s is too long", key);
            return false;
        }
        snprintf(out, cap, "%s", json_string_value(j));
    } else if (json_is_integer(j)) {
        snprintf(out, cap, "%lld", (long long)json_integer_value(j));
    } else if (j && !json_is_null(j)) {
        snprintf(err, errlen, "%s must be a string or an integer", key);
        return false;
    }
    if (required && !out[0]) {
        snprintf(err, errlen, "%s is missing", key);
        return false;
    }
    return true;
}

void rf_ks_push_clear(rf_ks_push_t *push) {
    json_decref(push->info);
    memset(push, 0, sizeof *push);
}

int rf_ks_push_parse(const char *json, size_t len, rf_ks_push_t *push, char *err, size_t errlen) {
    memset(push, 0, sizeof *push);
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "the decrypted message is not a JSON object: %s",
                 doc ? "wrong type" : jerr.text);
        json_decref(doc);
        return -1;
    }
    json_t *test = json_object_get(doc, "test");
    push->test = json_is_true(test);
    int rc = -1;
    if (!text_field(doc, "eventId", push->event_id, sizeof push->event_id, !push->test, err,
                    errlen) ||
        !text_field(doc, "bizId", push->biz_id, sizeof push->biz_id, !push->test, err, errlen) ||
        !text_field(doc, "event", push->event, sizeof push->event, !push->test, err, errlen) ||
        !text_field(doc, "appKey", push->app_key, sizeof push->app_key, false, err, errlen))
        goto done;
    json_t *ct = json_object_get(doc, "createTime");
    push->create_time = json_is_integer(ct) ? (int64_t)json_integer_value(ct) : 0;
    if (!push->test) {
        json_t *info = json_object_get(doc, "info");
        if (json_is_string(info)) {
            push->info = json_loadb(json_string_value(info), json_string_length(info), 0, &jerr);
        } else if (json_is_object(info)) {
            push->info = json_incref(info);
        }
        if (!json_is_object(push->info)) {
            snprintf(err, errlen, "info is not a JSON object (nor a string holding one)");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(doc);
    if (rc != 0) rf_ks_push_clear(push);
    return rc;
}

const char *rf_ks_neutral_status(int status, int negotiate_status) {
    switch (status) {
    case 10:
    case 11:
        if (negotiate_status == 3) return "seller_rejected";
        if (negotiate_status == 2) return status == 10 ? "refunding" : "awaiting_buyer_return";
        return negotiate_status == 1 || negotiate_status == 0 ? "requested" : NULL;
    case 12: return "seller_rejected";
    case 20:
    case 21:
    case 23: return "arbitration";
    case 22:
    case 30: return "awaiting_buyer_return";
    case 40: return "return_in_transit";
    case 50: return "refunding";
    case 60: return "completed";
    case 70: return "closed";
    default: return NULL;
    }
}

const char *rf_ks_kind(int handling_way) {
    switch (handling_way) {
    case 1: return "return_refund";
    case 10: return "refund_only";
    case 3: return "exchange";
    default: return NULL;
    }
}
