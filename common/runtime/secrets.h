/*
 * runtime/secrets.h: secrets at rest (a shop's access and refresh tokens),
 * sealed with AES-256-GCM under a key read from a file (RF_SECRETS_KEY_FILE).
 *
 * A sealed value is text, safe for a TEXT column or a bus field:
 *     "v1." base64(nonce[12] || ciphertext || tag[16])
 * The nonce is random per seal. The caller names what the value is for
 * (`context`, e.g. "kuaishou/1234567890123456/refresh"), which is bound into
 * the tag as additional data: a value copied onto another shop's row, or from
 * the refresh slot to the access slot, does not open.
 *
 * The key file holds 32 random bytes, raw or as 64 hex digits (a trailing
 * newline is allowed); `openssl rand -hex 32 > key` makes one. A key file that
 * others may read is refused: only the workers that call the platforms read it.
 */
#ifndef RF_SECRETS_H
#define RF_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#define RF_SECRETS_KEY_LEN 32

typedef struct rf_secrets_key {
    uint8_t key[RF_SECRETS_KEY_LEN];
} rf_secrets_key_t;

/* rf_secrets_key_load: read the key from path. Returns 0, or -1 with a
 * message naming the file and the problem in err (never the key). */
int rf_secrets_key_load(const char *path, rf_secrets_key_t *key, char *err, size_t errlen);

/* The length of the sealed text of a plain value of n bytes (with its NUL). */
size_t rf_secrets_sealed_size(size_t n);

/* rf_secrets_seal: seal plain[0, n) for context into out (rf_secrets_sealed_size(n)
 * bytes). Returns the text's length, or -1 (output too small, no randomness). */
int rf_secrets_seal(const rf_secrets_key_t *key, const char *context, const void *plain, size_t n,
                    char *out, size_t cap);

/* rf_secrets_open: the plain value of sealed text for context into out, NUL
 * terminated. Returns its length, or -1 when the text is not a sealed value,
 * was sealed under another key or context, or was changed; out is then wiped. */
int rf_secrets_open(const rf_secrets_key_t *key, const char *context, const char *sealed, char *out,
                    size_t cap);

/* rf_secrets_wipe: zero memory that held a secret (not optimised away). */
void rf_secrets_wipe(void *p, size_t n);

#endif
