/*
 * money.c: the refund worker's amount rules, as pure functions on integer fen.
 *
 * The amount of one refund:
 *   goods        what the buyer paid for the returned units: the line's paid
 *                total (after its pro-rata share of the order's discount)
 *                shared over its units, floor(paid * n / qty) cumulatively, so
 *                unit k of the line is worth floor(paid*k/qty) -
 *                floor(paid*(k-1)/qty): the remainder fen fall on the last
 *                units and all units together are worth exactly the paid total,
 *                however the line is split over several returns;
 * + shipping     the line's share of the order's shipping fee, when the seller's
 *                side (merchant, supplier, carrier) is at fault and this return
 *                completes the line (its last units);
 * - deduction    the return shipping the merchant paid, when the buyer bears it
 *                (changed mind, size/fit) and has no freight insurance;
 * = entitlement, then the refund is min(requested, entitlement, cap), where
 *   the cap is what was paid for the line (goods + shipping) minus every
 *   refund already made on the line; never negative; an exchange refunds 0.
 */
#include <string.h>

#include "refund.h"

int64_t refund_units_value(int64_t paid_fen, int64_t quantity, int64_t from, int64_t n) {
    if (quantity <= 0 || n <= 0 || paid_fen <= 0) return 0;
    if (from < 0) from = 0;
    if (from > quantity) from = quantity;
    if (from + n > quantity) n = quantity - from;
    __int128 a = (__int128)paid_fen * (from + n) / quantity;
    __int128 b = (__int128)paid_fen * from / quantity;
    return (int64_t)(a - b);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int refund_compute(const refund_money_in_t *in, refund_money_t *out) {
    *out = (refund_money_t){0};
    if (in->requested_fen < 0 || in->units < 0 || in->line_paid_fen < 0 || in->shipping_fen < 0 ||
        in->return_shipping_fen < 0 || in->refunded_before_fen < 0 || in->units_before < 0)
        return -1;
    if (in->exchange) return 0;
    if (in->line_quantity <= 0) {
        /* No line facts (an event from before they were sent): the approved
         * amount stands, it was already checked against what was paid. */
        out->goods_fen = out->entitlement_fen = out->cap_fen = out->amount_fen = in->requested_fen;
        return 0;
    }
    out->goods_fen =
        refund_units_value(in->line_paid_fen, in->line_quantity, in->units_before, in->units);
    bool completes = in->units_before + in->units >= in->line_quantity;
    if (in->seller_at_fault && completes) out->shipping_fen = in->shipping_fen;
    if (in->buyer_pays_return) out->deduction_fen = in->return_shipping_fen;
    out->entitlement_fen = out->goods_fen + out->shipping_fen - out->deduction_fen;
    if (out->entitlement_fen < 0) out->entitlement_fen = 0;
    out->cap_fen = in->line_paid_fen + in->shipping_fen - in->refunded_before_fen;
    if (out->cap_fen < 0) out->cap_fen = 0;
    out->amount_fen = min64(min64(in->requested_fen, out->entitlement_fen), out->cap_fen);
    return 0;
}

bool refund_seller_at_fault(const char *liability) {
    return strcmp(liability, "merchant") == 0 || strcmp(liability, "supplier") == 0 ||
           strcmp(liability, "carrier") == 0;
}

bool refund_needs_finance(int64_t amount_fen, int64_t threshold_fen) {
    return amount_fen > threshold_fen;
}

int64_t refund_retry_delay_ms(int64_t base_ms, int attempts) {
    if (attempts < 1) attempts = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempts && d < 3600000; i++) d *= 2;
    return d > 3600000 ? 3600000 : d;
}
