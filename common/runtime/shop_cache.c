/*
 * shop_cache.c: a per-shop value cache with a time limit (runtime/shop_cache.h).
 */
#include "runtime/shop_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ids.h"

typedef struct slot {
    char shop_id[128];
    int64_t loaded_at; /* rf_mono_ms(); 0: empty */
} slot_t;

struct rf_shop_cache {
    size_t slots, value_size;
    int64_t ttl_ms;
    slot_t *slot;    /* slots entries */
    uint8_t *values; /* slots * value_size bytes */
};

rf_shop_cache_t *rf_shop_cache_new(size_t slots, size_t value_size, int64_t ttl_ms) {
    rf_shop_cache_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = slots;
    c->value_size = value_size;
    c->ttl_ms = ttl_ms;
    c->slot = calloc(slots, sizeof *c->slot);
    c->values = calloc(slots, value_size);
    if (!c->slot || !c->values) rf_shop_cache_destroy(&c);
    return c;
}

void rf_shop_cache_destroy(rf_shop_cache_t **cache_p) {
    if (!cache_p || !*cache_p) return;
    free((*cache_p)->slot);
    free((*cache_p)->values);
    free(*cache_p);
    *cache_p = NULL;
}

static ssize_t find(const rf_shop_cache_t *c, const char *shop_id) {
    for (size_t i = 0; i < c->slots; i++)
        if (c->slot[i].loaded_at && strcmp(c->slot[i].shop_id, shop_id) == 0) return (ssize_t)i;
    return -1;
}

bool rf_shop_cache_get(rf_shop_cache_t *c, const char *shop_id, void *out) {
    ssize_t i = find(c, shop_id);
    if (i < 0 || rf_mono_ms() - c->slot[i].loaded_at >= c->ttl_ms) return false;
    memcpy(out, c->values + (size_t)i * c->value_size, c->value_size);
    return true;
}

void rf_shop_cache_put(rf_shop_cache_t *c, const char *shop_id, const void *value) {
    ssize_t i = find(c, shop_id);
    if (i < 0) { /* an empty slot, else the oldest */
        i = 0;
        for (size_t k = 0; k < c->slots; k++)
            if (c->slot[k].loaded_at < c->slot[i].loaded_at) i = (ssize_t)k;
    }
    snprintf(c->slot[i].shop_id, sizeof c->slot[i].shop_id, "%s", shop_id);
    int64_t now = rf_mono_ms();
    c->slot[i].loaded_at = now > 0 ? now : 1;
    memcpy(c->values + (size_t)i * c->value_size, value, c->value_size);
}

void rf_shop_cache_clear(rf_shop_cache_t *c) { memset(c->slot, 0, c->slots * sizeof *c->slot); }
