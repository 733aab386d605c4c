/*
 * bus/curve.h: CURVE keys for the encrypted, authenticated bus (ZeroMQ CURVE).
 *
 * Keys are Z85 text, 40 characters (32 bytes). Each worker has one key pair
 * (its replicas share it): the secret key in a file of its own (mode 0600),
 * named by RF_CURVE_SECRET_KEY_FILE; and every worker reads the same public
 * key list, named by RF_CURVE_PUBLIC_KEYS_FILE, one `<name> <public-key>` per
 * line (a line starting with `#` is a comment). A worker's ROUTER accepts only clients whose
 * key is in the list; its DEALER toward worker W authenticates W's ROUTER with
 * the key listed under the name W. Names other than the five workers (an
 * operator's tool, say) are allowed to connect but are never servers.
 *
 * `rf-keygen` (tools/rf-keygen, and `rfctl keygen`) writes such files with
 * rf_curve_keypair().
 */
#ifndef RF_CURVE_H
#define RF_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RF_CURVE_KEY_Z85 40 /* characters of a Z85 key, without the NUL */
#define RF_CURVE_KEY_BIN 32 /* bytes of a key */

typedef struct rf_curve_keyring rf_curve_keyring_t;

/* rf_curve_available: whether this libzmq was built with CURVE (libsodium). */
bool rf_curve_available(void);

/* rf_curve_keypair: a fresh key pair, Z85, NUL-terminated. 0, or -1 when
 * libzmq has no CURVE. */
int rf_curve_keypair(char public_z85[RF_CURVE_KEY_Z85 + 1], char secret_z85[RF_CURVE_KEY_Z85 + 1]);

/* rf_curve_keygen_dir: make a key pair for each of names[0..n) in dir
 * (created if missing, mode 0700): dir/<name>.key holds the secret key
 * (mode 0600) and a line `<name> <public-key>` is appended to
 * dir/public_keys. Refuses (writing nothing) when a <name>.key exists
 * already. One line per key written to report (may be NULL). 0, or -1 with a
 * message in err. This is what `rf-keygen` and `rfctl keygen` run. */
int rf_curve_keygen_dir(const char *dir, const char *const *names, size_t n, FILE *report,
                        char *err, size_t errlen);

/* rf_curve_public_of: the public key of a Z85 secret key. 0 or -1 (bad key). */
int rf_curve_public_of(const char *secret_z85, char public_z85[RF_CURVE_KEY_Z85 + 1]);

/* rf_curve_read_secret: read the secret key from path: the first line that is
 * neither empty nor a comment, which must be exactly one 40-character Z85 key.
 * Refuses a file readable by group or others. 0, or -1 with a message in err. */
int rf_curve_read_secret(const char *path, char secret_z85[RF_CURVE_KEY_Z85 + 1], char *err,
                         size_t errlen);

/* rf_curve_keyring_load: read a public key list (see above). NULL with a
 * message naming the file and line in err on failure (an empty list is one). */
rf_curve_keyring_t *rf_curve_keyring_load(const char *path, char *err, size_t errlen);

/* rf_curve_keyring_destroy: free it and set *kr_p to NULL (NULL-safe). */
void rf_curve_keyring_destroy(rf_curve_keyring_t **kr_p);

/* rf_curve_keyring_find: the Z85 key listed under name (borrowed), or NULL. */
const char *rf_curve_keyring_find(const rf_curve_keyring_t *kr, const char *name);

/* rf_curve_keyring_lookup: the name under which a binary public key is
 * listed (borrowed), or NULL when it is not listed. */
const char *rf_curve_keyring_lookup(const rf_curve_keyring_t *kr,
                                    const uint8_t key[RF_CURVE_KEY_BIN]);

/* rf_curve_keyring_count: how many keys are listed. */
size_t rf_curve_keyring_count(const rf_curve_keyring_t *kr);

#endif
