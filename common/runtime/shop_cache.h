/*
 * runtime/shop_cache.h: a small time-limited cache of one value per shop (a
 * shop's policy, say), so a worker does not read it from its database for
 * every request. Fixed number of slots; when full, the oldest entry goes.
 * A value changed in the database is seen within the cache's ttl.
 */
#ifndef RF_SHOP_CACHE_H
#define RF_SHOP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rf_shop_cache rf_shop_cache_t;

/* rf_shop_cache_new: slots entries of value_size bytes each, kept ttl_ms.
 * NULL on allocation failure. */
rf_shop_cache_t *rf_shop_cache_new(size_t slots, size_t value_size, int64_t ttl_ms);
void rf_shop_cache_destroy(rf_shop_cache_t **cache_p);

/* rf_shop_cache_get: copy the shop's value into out if cached and fresh. */
bool rf_shop_cache_get(rf_shop_cache_t *cache, const char *shop_id, void *out);

/* rf_shop_cache_put: remember value (copied) for the shop. */
void rf_shop_cache_put(rf_shop_cache_t *cache, const char *shop_id, const void *value);

/* rf_shop_cache_clear: forget everything (after a policy is stored). */
void rf_shop_cache_clear(rf_shop_cache_t *cache);

#endif
