/*
 * crypto.c: digests, Base64 and AES-CBC over libcrypto (runtime/crypto.h).
 */
#include "runtime/crypto.h"

#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

void rf_hex(const uint8_t *data, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

void rf_md5_hex(const void *data, size_t len, char out[33]) {
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    rf_hex(md, mdlen, out);
}

void rf_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]) {
    unsigned outlen = 32;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen);
}

int rf_base64_encode(const uint8_t *data, size_t len, char *out, size_t cap) {
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (cap < need) return -1;
    return EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

int rf_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap) {
    if (len % 4 != 0 || cap < len / 4 * 3) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        bool pad_ok = c == '=' && i >= len - 2 && (i == len - 1 || text[len - 1] == '=');
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/' || pad_ok)) return -1;
    }
    if (len == 0) return 0;
    int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
    if (n < 0) return -1;
    /* EVP_DecodeBlock counts padding as zero bytes: take them off. */
    if (text[len - 1] == '=') n--;
    if (text[len - 2] == '=') n--;
    return n;
}

static const EVP_CIPHER *cipher_for(size_t keylen) {
    switch (keylen) {
    case 16: return EVP_aes_128_cbc();
    case 24: return EVP_aes_192_cbc();
    case 32: return EVP_aes_256_cbc();
    default: return NULL;
    }
}

static int aes_cbc(bool encrypt, const uint8_t *key, size_t keylen, const uint8_t iv[16],
                   const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
    const EVP_CIPHER *cipher = cipher_for(keylen);
    if (!cipher || len > (size_t)INT32_MAX - 32 || cap < len + (encrypt ? 16 : 0)) return -1;
    if (!encrypt && (len == 0 || len % 16 != 0)) return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) return -1;
    int n = 0, m = 0,
        ok = EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, encrypt ? 1 : 0) &&
             EVP_CipherUpdate(ctx, out, &n, in, (int)len) && EVP_CipherFinal_ex(ctx, out + n, &m);
    EVP_CIPHER_CTX_free(ctx);
    return ok ? n + m : -1;
}

int rf_aes_cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out, size_t cap) {
    return aes_cbc(false, key, keylen, iv, in, len, out, cap);
}

int rf_aes_cbc_encrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out, size_t cap) {
    return aes_cbc(true, key, keylen, iv, in, len, out, cap);
}

bool rf_equal_nocase_ct(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return false;
    unsigned diff = 0;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
    return diff == 0;
}
