/*
 * db/policy_docs.h: per-shop policy documents kept in a worker's `policies`
 * table (shop_id '*' is the default for every shop), read through a short
 * per-shop cache. The worker says what a policy is: its size, its defaults,
 * and how a JSON document overrides it; intake and review both use this.
 */
#ifndef RF_POLICY_DOCS_H
#define RF_POLICY_DOCS_H

#include <stddef.h>

#include <jansson.h>

#include "db/db.h"
#include "runtime/shop_cache.h"

typedef struct rf_policy_docs {
    size_t size;  /* bytes of one policy value */
    size_t slots; /* shops cached at once */
    void (*set_default)(void *policy);
    /* override policy's fields with those in doc; 0, or -1 with a message */
    int (*apply)(json_t *doc, void *policy, char *err, size_t errlen);
    rf_shop_cache_t *cache; /* made on first use */
} rf_policy_docs_t;

/* rf_policy_docs_load: the shop's policy into policy: the defaults, then the
 * '*' document, then the shop's own on top (an invalid document is logged
 * and skipped). Cached for a few seconds. 0, or -1 on a database error. */
int rf_policy_docs_load(rf_policy_docs_t *docs, rf_db_t *db, const char *shop_id, void *policy);

/* rf_policy_docs_store: upsert the shop's document (JSON text). 0 or -1. */
int rf_policy_docs_store(rf_db_t *db, const char *shop_id, const char *doc_json);

/* rf_policy_docs_forget: empty the cache (after storing documents). */
void rf_policy_docs_forget(rf_policy_docs_t *docs);

#endif
