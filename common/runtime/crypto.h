/*
 * runtime/crypto.h: the few cryptographic primitives the platform protocols use,
 * over OpenSSL's libcrypto: MD5 and HMAC-SHA256 digests, Base64, AES-CBC with
 * PKCS#5 padding, and a constant-time comparison.
 *
 * Buffers are caller-owned; every function says how large its output can be
 * and returns a length or -1 (bad input, output too small).
 */
#ifndef RF_CRYPTO_H
#define RF_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* rf_md5_hex: lowercase hex MD5 of data into out[33]. */
void rf_md5_hex(const void *data, size_t len, char out[33]);

/* rf_hmac_sha256: raw 32-byte HMAC-SHA256 of data keyed with key. */
void rf_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]);

/* rf_hex: lowercase hex of data into out (2*len+1 bytes). */
void rf_hex(const uint8_t *data, size_t len, char *out);

/* rf_base64_encode: standard Base64 with padding into out (4*ceil(len/3)+1
 * bytes). Returns the length written (without the NUL). */
int rf_base64_encode(const uint8_t *data, size_t len, char *out, size_t cap);

/* rf_base64_decode: standard Base64 (padding required, whitespace not
 * allowed) into out. Returns the decoded length, or -1 when the text is not
 * valid Base64 or out is too small (needs 3*len/4 bytes). */
int rf_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* rf_aes_cbc_decrypt: AES-CBC with PKCS#5 padding; the key size (16, 24 or 32
 * bytes) selects AES-128/192/256; iv is 16 bytes. Returns the plaintext
 * length, or -1 (bad key size, bad padding, not a whole number of blocks,
 * output too small: needs len bytes). */
int rf_aes_cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out, size_t cap);

/* rf_aes_cbc_encrypt: the inverse (for stand-ins and tests); out needs
 * len + 16 bytes. Returns the ciphertext length or -1. */
int rf_aes_cbc_encrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out, size_t cap);

/* rf_equal_nocase_ct: two hex/ASCII strings equal ignoring ASCII case, in time
 * that depends only on their lengths. */
bool rf_equal_nocase_ct(const char *a, const char *b);

#endif
