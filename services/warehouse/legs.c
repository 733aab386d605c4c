/*
 * legs.c: the warehouse's state machines as pure functions: the supplier
 * leg of dropshipped goods going back to the supplier, and the reship of an
 * exchange's replacement.
 *
 *   supplier leg: requested -> in_transit -> supplier_received ->
 *                 supplier_credit_issued | supplier_credit_denied
 *                 (requested -> supplier_received is allowed: handed over)
 *   reship:       requested -> shipped -> delivered
 */
#include <string.h>

#include "warehouse.h"

static const char *const leg_states[] = {"requested",
                                         "in_transit",
                                         "supplier_received",
                                         "supplier_credit_issued",
                                         "supplier_credit_denied",
                                         NULL};

bool warehouse_leg_state_known(const char *state) {
    for (const char *const *s = leg_states; *s; s++)
        if (strcmp(*s, state) == 0) return true;
    return false;
}

bool warehouse_leg_can_move(const char *from, const char *to) {
    if (strcmp(from, "requested") == 0)
        return strcmp(to, "in_transit") == 0 || strcmp(to, "supplier_received") == 0;
    if (strcmp(from, "in_transit") == 0) return strcmp(to, "supplier_received") == 0;
    if (strcmp(from, "supplier_received") == 0)
        return strcmp(to, "supplier_credit_issued") == 0 ||
               strcmp(to, "supplier_credit_denied") == 0;
    return false; /* credit issued or denied: final */
}

bool warehouse_reship_can_move(const char *from, const char *to) {
    if (strcmp(from, "requested") == 0) return strcmp(to, "shipped") == 0;
    if (strcmp(from, "shipped") == 0) return strcmp(to, "delivered") == 0;
    return false;
}

bool warehouse_needs_supplier_leg(const char *destination, const char *disposition) {
    return strcmp(destination, "supplier") == 0 || strcmp(disposition, "return_to_supplier") == 0;
}
