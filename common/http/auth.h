/*
 * http/auth.h: who may do what. Bearer tokens mapped to a person and a role.
 *
 * The roles are the people of the return lifecycle: cs (customer service:
 * reviews within a limit), cs_supervisor (any review), warehouse (receipts),
 * finance (refund approvals) and admin (dead letters, replays; may do
 * everything). Tokens live in a file (RF_AUTH_TOKENS_FILE), one per line:
 *
 *     <token> <user> <role>      # token: 16 or more printable characters
 *
 * Without a tokens file the workers run open (every request acts as user
 * "anonymous" with role admin), which `make run` uses on a developer's
 * machine and which start-up logs as a warning.
 */
#ifndef RF_AUTH_H
#define RF_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum rf_role {
    RF_ROLE_CS = 1u << 0,
    RF_ROLE_CS_SUPERVISOR = 1u << 1,
    RF_ROLE_WAREHOUSE = 1u << 2,
    RF_ROLE_FINANCE = 1u << 3,
    RF_ROLE_ADMIN = 1u << 4,
} rf_role_t;

/* Who is asking: a user name and one role. */
typedef struct rf_principal {
    char user[64];
    unsigned role;      /* one RF_ROLE_* bit */
    bool authenticated; /* false in open mode */
} rf_principal_t;

typedef struct rf_auth rf_auth_t;

/* rf_auth_load: read a tokens file. NULL with a message naming the file and
 * line in err on any problem (unreadable, short token, unknown role, a token
 * listed twice). */
rf_auth_t *rf_auth_load(const char *path, char *err, size_t errlen);

/* rf_auth_destroy: free (and wipe) the tokens; sets *auth_p to NULL. */
void rf_auth_destroy(rf_auth_t **auth_p);

/* rf_auth_lookup: the principal for an Authorization header value
 * ("Bearer <token>"), NULL when absent, malformed or unknown. Compares tokens
 * in constant time. The result is borrowed from auth. */
const rf_principal_t *rf_auth_lookup(const rf_auth_t *auth, const char *authorization);

/* The principal used when no tokens file is configured. */
const rf_principal_t *rf_auth_open_principal(void);

/* rf_role_name: "cs", "cs_supervisor", ...; "?" for anything else. */
const char *rf_role_name(unsigned role);
/* rf_role_parse: the role bit for a name, 0 if unknown. */
unsigned rf_role_parse(const char *name);

#endif
