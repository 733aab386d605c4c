/*
 * auth.c: bearer tokens to principals (http/auth.h).
 */
#include "http/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define TOKEN_MIN 16
#define TOKEN_MAX 128

typedef struct token_entry {
    char token[TOKEN_MAX + 1];
    size_t len;
    rf_principal_t who;
} token_entry_t;

struct rf_auth {
    token_entry_t *entries;
    size_t n;
};

static const struct {
    const char *name;
    unsigned bit;
} roles[] = {
    {"cs", RF_ROLE_CS},
    {"cs_supervisor", RF_ROLE_CS_SUPERVISOR},
    {"warehouse", RF_ROLE_WAREHOUSE},
    {"finance", RF_ROLE_FINANCE},
    {"admin", RF_ROLE_ADMIN},
};

const char *rf_role_name(unsigned role) {
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].bit == role) return roles[i].name;
    return "?";
}

unsigned rf_role_parse(const char *name) {
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0) return roles[i].bit;
    return 0;
}

const rf_principal_t *rf_auth_open_principal(void) {
    static const rf_principal_t open = {"anonymous", RF_ROLE_ADMIN, false};
    return &open;
}

void rf_auth_destroy(rf_auth_t **auth_p) {
    if (!auth_p || !*auth_p) return;
    rf_auth_t *auth = *auth_p;
    if (auth->entries) OPENSSL_cleanse(auth->entries, auth->n * sizeof *auth->entries);
    free(auth->entries);
    free(auth);
    *auth_p = NULL;
}

rf_auth_t *rf_auth_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read tokens file %s: %s", path, strerror(errno));
        return NULL;
    }
    rf_auth_t *auth = calloc(1, sizeof *auth);
    size_t cap = 0;
    char line[512];
    int lineno = 0;
    if (!auth) goto oom;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char token[TOKEN_MAX + 2], user[64], role[32], extra[2];
        int got = sscanf(line, "%129s %63s %31s %1s", token, user, role, extra);
        if (got <= 0) continue; /* blank or comment */
        if (got != 3) {
            snprintf(err, errlen, "%s line %d: expected `<token> <user> <role>`", path, lineno);
            goto fail;
        }
        size_t len = strlen(token);
        if (len < TOKEN_MIN || len > TOKEN_MAX) {
            snprintf(err, errlen, "%s line %d: a token must be %d to %d characters", path, lineno,
                     TOKEN_MIN, TOKEN_MAX);
            goto fail;
        }
        unsigned bit = rf_role_parse(role);
        if (!bit) {
            snprintf(err, errlen,
                     "%s line %d: unknown role '%s' (cs, cs_supervisor, warehouse, finance, admin)",
                     path, lineno, role);
            goto fail;
        }
        for (size_t i = 0; i < auth->n; i++)
            if (auth->entries[i].len == len && memcmp(auth->entries[i].token, token, len) == 0) {
                snprintf(err, errlen, "%s line %d: this token is already listed", path, lineno);
                goto fail;
            }
        if (auth->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            token_entry_t *ne = realloc(auth->entries, ncap * sizeof *ne);
            if (!ne) goto oom;
            auth->entries = ne;
            cap = ncap;
        }
        token_entry_t *e = &auth->entries[auth->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->token, token, len);
        e->len = len;
        snprintf(e->who.user, sizeof e->who.user, "%s", user);
        e->who.role = bit;
        e->who.authenticated = true;
    }
    (void)fclose(f); /* read only */
    OPENSSL_cleanse(line, sizeof line);
    if (auth->n == 0) {
        snprintf(err, errlen, "tokens file %s lists no token", path);
        rf_auth_destroy(&auth);
    }
    return auth;
oom:
    snprintf(err, errlen, "out of memory reading %s", path);
fail:
    fclose(f);
    OPENSSL_cleanse(line, sizeof line);
    rf_auth_destroy(&auth);
    return NULL;
}

const rf_principal_t *rf_auth_lookup(const rf_auth_t *auth, const char *authorization) {
    if (!auth || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return NULL;
    const char *token = authorization + 7;
    while (*token == ' ') token++;
    size_t len = strlen(token);
    while (len && (token[len - 1] == ' ' || token[len - 1] == '\t')) len--;
    if (len < TOKEN_MIN || len > TOKEN_MAX) return NULL;
    /* Look at every entry, comparing in constant time, so the answer's timing
     * does not tell which tokens exist. */
    const rf_principal_t *found = NULL;
    for (size_t i = 0; i < auth->n; i++) {
        const token_entry_t *e = &auth->entries[i];
        char padded[TOKEN_MAX + 1] = {0};
        memcpy(padded, token, len);
        bool same = CRYPTO_memcmp(padded, e->token, TOKEN_MAX) == 0 && e->len == len;
        if (same) found = &e->who;
    }
    return found;
}
