/*
 * curve.c: CURVE key pairs and key files for the bus (see bus/curve.h).
 */
#include "bus/curve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#define NAME_MAX_LEN 64

typedef struct key_entry {
    char name[NAME_MAX_LEN];        /* who holds the key */
    char z85[RF_CURVE_KEY_Z85 + 1]; /* the key as text */
    uint8_t bin[RF_CURVE_KEY_BIN];  /* the key as bytes */
} key_entry_t;

struct rf_curve_keyring {
    key_entry_t *keys; /* in file order */
    size_t n;
};

bool rf_curve_available(void) { return zmq_has("curve") != 0; }

int rf_curve_keypair(char public_z85[RF_CURVE_KEY_Z85 + 1], char secret_z85[RF_CURVE_KEY_Z85 + 1]) {
    if (!rf_curve_available()) return -1;
    return zmq_curve_keypair(public_z85, secret_z85) == 0 ? 0 : -1;
}

static bool is_z85_key(const char *s) {
    if (strlen(s) != RF_CURVE_KEY_Z85) return false;
    uint8_t bin[RF_CURVE_KEY_BIN];
    return zmq_z85_decode(bin, s) != NULL;
}

int rf_curve_public_of(const char *secret_z85, char public_z85[RF_CURVE_KEY_Z85 + 1]) {
    if (!rf_curve_available() || !is_z85_key(secret_z85)) return -1;
    return zmq_curve_public(public_z85, secret_z85) == 0 ? 0 : -1;
}

int rf_curve_keygen_dir(const char *dir, const char *const *names, size_t n, FILE *report,
                        char *err, size_t errlen) {
    char path[4096];
    if (!rf_curve_available()) {
        snprintf(err, errlen, "this libzmq has no CURVE support (built without libsodium)");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!names[i][0] || strlen(names[i]) >= NAME_MAX_LEN || strpbrk(names[i], " \t/#")) {
            snprintf(err, errlen, "bad key name '%s'", names[i]);
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s.key", dir, names[i]);
        if (access(path, F_OK) == 0) {
            snprintf(err, errlen, "%s exists already; not overwriting a key", path);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char pub[RF_CURVE_KEY_Z85 + 1], sec[RF_CURVE_KEY_Z85 + 1];
        if (rf_curve_keypair(pub, sec) != 0) {
            snprintf(err, errlen, "zmq_curve_keypair failed");
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s.key", dir, names[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            int open_errno = errno;
            if (fd >= 0) (void)close(fd); /* nothing was written: nothing to flush */
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(open_errno));
            return -1;
        }
        fprintf(f, "# returnflow CURVE secret key of %s (public key %s); keep it private\n%s\n",
                names[i], pub, sec);
        if (fclose(f) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        snprintf(path, sizeof path, "%s/public_keys", dir);
        f = fopen(path, "a");
        if (!f) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
        fprintf(f, "%s %s\n", names[i], pub);
        if (fclose(f) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        if (report)
            fprintf(report, "%s: secret key %s/%s.key, public key %s\n", names[i], dir, names[i],
                    pub);
    }
    return 0;
}

/* Split a line into at most 3 blank-separated words; a line whose first
 * non-blank character is `#` is a comment (Z85 keys may contain `#`, so a
 * comment cannot follow a key). Returns the word count. */
static int words(char *line, char *w[3]) {
    const char *first = line + strspn(line, " \t");
    if (*first == '#') return 0;
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 3) return 4;
        w[n++] = t;
    }
    return n;
}

int rf_curve_read_secret(const char *path, char secret_z85[RF_CURVE_KEY_Z85 + 1], char *err,
                         size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s is readable by group or others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        (void)fclose(f); /* opened for reading: closing cannot lose data */
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *w[3];
        int n = words(line, w);
        if (n == 0) continue;
        (void)fclose(f); /* read only */
        if (n != 1 || !is_z85_key(w[0])) {
            snprintf(err, errlen, "%s line %d: expected one 40-character Z85 secret key", path,
                     lineno);
            return -1;
        }
        memcpy(secret_z85, w[0], RF_CURVE_KEY_Z85 + 1);
        return 0;
    }
    (void)fclose(f); /* read only */
    snprintf(err, errlen, "%s holds no key", path);
    return -1;
}

rf_curve_keyring_t *rf_curve_keyring_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    rf_curve_keyring_t *kr = calloc(1, sizeof *kr);
    size_t cap = 0;
    char line[512];
    int lineno = 0;
    if (!kr) goto oom;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *w[3];
        int n = words(line, w);
        if (n == 0) continue;
        if (n != 2 || strlen(w[0]) >= NAME_MAX_LEN || !is_z85_key(w[1])) {
            snprintf(err, errlen, "%s line %d: expected `<name> <40-character Z85 public key>`",
                     path, lineno);
            goto fail;
        }
        if (kr->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            key_entry_t *nk = realloc(kr->keys, ncap * sizeof *nk);
            if (!nk) goto oom;
            kr->keys = nk;
            cap = ncap;
        }
        key_entry_t *k = &kr->keys[kr->n++];
        snprintf(k->name, sizeof k->name, "%s", w[0]);
        memcpy(k->z85, w[1], RF_CURVE_KEY_Z85 + 1);
        if (!zmq_z85_decode(k->bin, k->z85)) {
            snprintf(err, errlen, "%s line %d: the public key is not valid Z85", path, lineno);
            goto fail;
        }
    }
    if (kr->n == 0) {
        snprintf(err, errlen, "%s lists no public key", path);
        goto fail;
    }
    (void)fclose(f); /* read only */
    return kr;
oom:
    snprintf(err, errlen, "out of memory reading %s", path);
fail:
    (void)fclose(f);
    rf_curve_keyring_destroy(&kr);
    return NULL;
}

void rf_curve_keyring_destroy(rf_curve_keyring_t **kr_p) {
    if (!kr_p || !*kr_p) return;
    free((*kr_p)->keys);
    free(*kr_p);
    *kr_p = NULL;
}

const char *rf_curve_keyring_find(const rf_curve_keyring_t *kr, const char *name) {
    for (size_t i = 0; kr && i < kr->n; i++)
        if (strcmp(kr->keys[i].name, name) == 0) return kr->keys[i].z85;
    return NULL;
}

const char *rf_curve_keyring_lookup(const rf_curve_keyring_t *kr,
                                    const uint8_t key[RF_CURVE_KEY_BIN]) {
    for (size_t i = 0; kr && i < kr->n; i++)
        if (memcmp(kr->keys[i].bin, key, RF_CURVE_KEY_BIN) == 0) return kr->keys[i].name;
    return NULL;
}

size_t rf_curve_keyring_count(const rf_curve_keyring_t *kr) { return kr ? kr->n : 0; }
