/*
 * secrets.c: AES-256-GCM sealing of secrets at rest, over libcrypto
 * (runtime/secrets.h has the format and the rules).
 */
#include "runtime/secrets.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/crypto.h"

#define PREFIX "v1."
#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_PLAIN 4096 /* tokens are a few hundred bytes */

void rf_secrets_wipe(void *p, size_t n) { OPENSSL_cleanse(p, n); }

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key from the file's bytes: 32 raw, or 64 hex digits and optional newline. */
static bool key_from_bytes(const uint8_t *b, size_t n, rf_secrets_key_t *key) {
    if (n == RF_SECRETS_KEY_LEN) {
        memcpy(key->key, b, RF_SECRETS_KEY_LEN);
        return true;
    }
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r')) n--;
    if (n != 2 * RF_SECRETS_KEY_LEN) return false;
    for (size_t i = 0; i < RF_SECRETS_KEY_LEN; i++) {
        int hi = hex_digit(b[2 * i]), lo = hex_digit(b[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        key->key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int rf_secrets_key_load(const char *path, rf_secrets_key_t *key, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    uint8_t buf[2 * RF_SECRETS_KEY_LEN + 3];
    ssize_t n = -1;
    if (fstat(fd, &st) != 0) {
        (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        (void)snprintf(err, errlen, "%s: readable by others (mode %03o); chmod 600 it", path,
                       (unsigned)(st.st_mode & 0777));
    } else {
        n = read(fd, buf, sizeof buf);
        if (n < 0) (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    (void)close(fd); /* read only: nothing to lose */
    if (n < 0) return -1;
    bool ok = key_from_bytes(buf, (size_t)n, key);
    rf_secrets_wipe(buf, sizeof buf);
    if (!ok) {
        (void)snprintf(err, errlen, "%s: not a key (want 32 bytes, or 64 hex digits)", path);
        return -1;
    }
    return 0;
}

size_t rf_secrets_sealed_size(size_t n) {
    size_t raw = NONCE_LEN + n + TAG_LEN;
    return sizeof PREFIX - 1 + 4 * ((raw + 2) / 3) + 1;
}

/* One AES-256-GCM pass; encrypt writes the tag to tag, decrypt checks it. */
static bool gcm(bool encrypt, const rf_secrets_key_t *key, const uint8_t nonce[NONCE_LEN],
                const char *context, const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) return false;
    int len = 0, fin = 0;
    bool ok =
        EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
        EVP_CipherInit_ex(ctx, NULL, NULL, key->key, nonce, encrypt) == 1 &&
        EVP_CipherUpdate(ctx, NULL, &len, (const uint8_t *)context, (int)strlen(context)) == 1 &&
        EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1;
    if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    if (ok) ok = EVP_CipherFinal_ex(ctx, out + len, &fin) == 1;
    if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int rf_secrets_seal(const rf_secrets_key_t *key, const char *context, const void *plain, size_t n,
                    char *out, size_t cap) {
    if (n > MAX_PLAIN || cap < rf_secrets_sealed_size(n)) return -1;
    uint8_t raw[NONCE_LEN + MAX_PLAIN + TAG_LEN];
    int rc = -1;
    if (RAND_bytes(raw, NONCE_LEN) == 1 &&
        gcm(true, key, raw, context, plain, n, raw + NONCE_LEN, raw + NONCE_LEN + n)) {
        memcpy(out, PREFIX, sizeof PREFIX - 1);
        int b = rf_base64_encode(raw, NONCE_LEN + n + TAG_LEN, out + sizeof PREFIX - 1,
                                 cap - (sizeof PREFIX - 1));
        if (b >= 0) rc = (int)(sizeof PREFIX - 1) + b;
    }
    rf_secrets_wipe(raw, sizeof raw);
    return rc;
}

int rf_secrets_open(const rf_secrets_key_t *key, const char *context, const char *sealed, char *out,
                    size_t cap) {
    size_t slen = strlen(sealed);
    if (cap == 0) return -1;
    out[0] = '\0';
    if (slen < sizeof PREFIX - 1 || memcmp(sealed, PREFIX, sizeof PREFIX - 1) != 0) return -1;
    uint8_t raw[NONCE_LEN + MAX_PLAIN + TAG_LEN + 3];
    int m =
        rf_base64_decode(sealed + sizeof PREFIX - 1, slen - (sizeof PREFIX - 1), raw, sizeof raw);
    if (m < NONCE_LEN + TAG_LEN) return -1;
    size_t n = (size_t)m - NONCE_LEN - TAG_LEN;
    if (n + 1 > cap) return -1;
    bool ok =
        gcm(false, key, raw, context, raw + NONCE_LEN, n, (uint8_t *)out, raw + NONCE_LEN + n);
    rf_secrets_wipe(raw, sizeof raw);
    if (!ok || memchr(out, '\0', n)) {
        rf_secrets_wipe(out, n + 1 < cap ? n + 1 : cap);
        return -1;
    }
    out[n] = '\0';
    return (int)n;
}
