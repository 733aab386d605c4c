/*
 * policy_docs.c: per-shop policy documents with a short cache
 * (db/policy_docs.h).
 */
#include "db/policy_docs.h"

#include "runtime/log.h"

/* Policies change only when a policy file is loaded at start-up, so a few
 * seconds of caching per shop saves a query and a JSON parse per request. */
#define POLICY_TTL_MS 5000

static int load_uncached(rf_policy_docs_t *docs, rf_db_t *db, const char *shop_id, void *policy) {
    docs->set_default(policy);
    const char *p[] = {shop_id};
    PGresult *res = rf_db_query(db,
                                "SELECT doc::text FROM policies WHERE shop_id IN ('*', $1)"
                                " ORDER BY shop_id = $1",
                                1, p);
    if (!res) return -1;
    /* the default ('*') first, then the shop's own on top of it */
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *doc = json_loads(rf_get_str(res, i, 0), 0, NULL);
        char err[200];
        if (doc && docs->apply(doc, policy, err, sizeof err) != 0)
            rf_warn("event=policy_invalid shop_id=%s error=\"%s\"", shop_id, err);
        json_decref(doc);
    }
    PQclear(res);
    return 0;
}

int rf_policy_docs_load(rf_policy_docs_t *docs, rf_db_t *db, const char *shop_id, void *policy) {
    if (!docs->cache) docs->cache = rf_shop_cache_new(docs->slots, docs->size, POLICY_TTL_MS);
    if (docs->cache && rf_shop_cache_get(docs->cache, shop_id, policy)) return 0;
    if (load_uncached(docs, db, shop_id, policy) != 0) return -1;
    if (docs->cache) rf_shop_cache_put(docs->cache, shop_id, policy);
    return 0;
}

int rf_policy_docs_store(rf_db_t *db, const char *shop_id, const char *doc_json) {
    const char *p[] = {shop_id, doc_json};
    return rf_db_exec(db,
                      "INSERT INTO policies (shop_id, doc) VALUES ($1, $2::jsonb)"
                      " ON CONFLICT (shop_id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()",
                      2, p);
}

void rf_policy_docs_forget(rf_policy_docs_t *docs) {
    if (docs->cache) rf_shop_cache_clear(docs->cache);
}
