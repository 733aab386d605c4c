/*
 * returns.c: taking up a return request, the same for the neutral API
 * (intake.c) and the platform feeds (feeds/): the shop's acceptability
 * policy (policy.c), the amount asked against what was paid, the record
 * (kept when refused: the data matters for analysis) and return.requested.
 * Also an order's discount and shipping fee shared among its lines, and the
 * backlog limit under which new returns are taken at all.
 */
#include <stdio.h>
#include <string.h>

#include "intake.h"
#include "runtime/log.h"

/* ---- orders ------------------------------------------------------------------------ */

/* Share the order's discount and shipping fee among its lines in proportion
 * to their totals (intake_allocate), giving each line its paid_fen and
 * shipping_fen. -1 when the discount is more than the goods cost. */
int intake_order_allocate(intake_order_t *o) {
    int64_t gross[INTAKE_ORDER_LINES_MAX], share[INTAKE_ORDER_LINES_MAX], total = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        gross[i] = o->lines[i].unit_price_fen * o->lines[i].quantity;
        total += gross[i];
    }
    if (o->discount_fen > total) return -1;
    if (intake_allocate(o->discount_fen, gross, o->n_lines, share) != 0) return -1;
    for (size_t i = 0; i < o->n_lines; i++) o->lines[i].paid_fen = gross[i] - share[i];
    if (intake_allocate(o->shipping_fee_fen, gross, o->n_lines, share) != 0) return -1;
    for (size_t i = 0; i < o->n_lines; i++) o->lines[i].shipping_fen = share[i];
    return 0;
}

/* ---- return requests --------------------------------------------------------------- */

static int emit_requested(rf_bus_t *bus, const char *return_id, const intake_return_req_t *r,
                          const intake_line_info_t *line, int64_t paid) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_REQUESTED, return_id, NULL) != 0) return -1;
    rf_body_return_requested_t *b = &ev.body.return_requested;
    int rc = 0;
    rc |= rf_event_set_str(&b->platform, r->platform);
    rc |= rf_event_set_str(&b->shop_id, line->shop_id);
    rc |= rf_event_set_str(&b->platform_return_id, r->platform_return_id);
    rc |= rf_event_set_str(&b->order_id, r->order_id);
    rc |= rf_event_set_str(&b->line_id, r->line_id);
    rc |= rf_event_set_str(&b->kind, r->kind);
    rc |= rf_event_set_str(&b->reason_code, r->reason_code);
    rc |= rf_event_set_str(&b->reason_text, r->reason_text);
    rc |= rf_event_set_str(&b->buyer_id, line->buyer_id);
    rc |= rf_event_set_str(&b->sku_id, line->sku_id);
    rc |= rf_event_set_str(&b->supplier_id, line->supplier_id);
    rc |= rf_event_set_str(&b->category, line->category);
    rc |= rf_event_set_str(&b->region, line->region);
    b->quantity = r->quantity;
    b->requested_amount_fen = r->requested_amount_fen;
    b->paid_amount_fen = paid;
    b->requested_at = r->requested_at;
    b->platform_deadline_at = r->platform_deadline_at;
    b->platform_version = r->platform_version;
    b->delivered_at = line->delivered_at;
    b->line_paid_fen = line->paid_fen;
    b->line_quantity = line->quantity;
    b->shipping_fen = line->shipping_fen;
    b->freight_insured = line->freight_insured;
    char key[3 * INTAKE_ID_MAX + 3];
    snprintf(key, sizeof key, "%s/%s/%s", r->platform, r->order_id, r->line_id);
    rc |= rf_event_set_str(&b->line_key, key);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(rf_bus_db(bus), &ev) == 1 ? 0 : -1;
    rf_event_clear(&ev);
    return rc;
}

/* What the buyer paid for `quantity` units of the line: the line's paid
 * total shared over its units, floor per unit with the remainder on the last
 * units (the same rule refund uses), here for the first `quantity` units. */
static int64_t line_paid_for(const intake_line_info_t *l, int64_t quantity) {
    if (l->quantity <= 0) return 0;
    int64_t done = l->returned_qty;
    if (done + quantity > l->quantity) done = l->quantity - quantity;
    if (done < 0) done = 0;
    return (int64_t)(((__int128)l->paid_fen * (done + quantity)) / l->quantity) -
           (int64_t)(((__int128)l->paid_fen * done) / l->quantity);
}

void intake_return_create_tx(rf_worker_t *w, const intake_return_req_t *r,
                             bool record_amount_refusal, intake_create_result_t *out) {
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    intake_line_info_t line;
    memset(out, 0, sizeof *out);
    out->outcome = INTAKE_CREATE_DB_ERROR;
    int found = intake_db_find_return(db, r->platform, r->platform_return_id, out->return_id,
                                      sizeof out->return_id);
    if (found < 0) return;
    if (found) {
        char refused[64];
        if (intake_db_refused_reason(db, out->return_id, refused, sizeof refused) < 0) return;
        if (*refused) {
            /* Refused before: the platform may have sent it again with changes
             * (or its order has arrived since): look again; the new outcome
             * replaces the old record. */
            if (intake_db_delete_refused(db, out->return_id) != 0) return;
        } else {
            out->outcome = INTAKE_DUPLICATE;
            return;
        }
    }
    int has_line = intake_db_find_line(db, r->platform, r->order_id, r->line_id, &line);
    if (has_line < 0) return;
    if (!has_line) memset(&line, 0, sizeof line); /* read below as "nothing known" */
    intake_policy_t policy;
    if (intake_db_load_policy(db, has_line ? line.shop_id : "", &policy) != 0) return;
    intake_check_in_t in = {
        .line_found = has_line == 1,
        .reason_code = r->reason_code,
        .category = line.category,
        .exclusion_confirmed = line.exclusion_confirmed,
        .delivered_at = line.delivered_at,
        .requested_at = r->requested_at,
        .quantity = r->quantity,
        .ordered = line.quantity,
        .returned = line.returned_qty,
        .open_returns = line.open_returns,
        .open_return_id = line.open_return_id,
    };
    const char *code = intake_check(&policy, &in, out->msg, sizeof out->msg);
    if (code && !has_line)
        snprintf(out->msg, sizeof out->msg,
                 "order %s line %s on %s is not known; send the order first", r->order_id,
                 r->line_id, r->platform);
    int64_t paid = has_line ? line_paid_for(&line, r->quantity) : 0;
    /* Shipping may be asked back only by the return that completes the line. */
    int64_t ceiling =
        paid + (line.returned_qty + r->quantity == line.quantity ? line.shipping_fen : 0);
    if (!code && r->requested_amount_fen > ceiling) {
        snprintf(out->msg, sizeof out->msg, "requested_amount_fen %lld exceeds the %lld fen paid",
                 (long long)r->requested_amount_fen, (long long)ceiling);
        out->code = "amount_exceeds_paid";
        out->outcome = INTAKE_AMOUNT_EXCEEDED;
        if (!record_amount_refusal) return;
        code = out->code;
    }
    if (code) {
        /* Refused at once, and still recorded: the data matters for analysis. */
        rf_ulid_new(out->return_id);
        if (intake_db_insert_refused(db, out->return_id, r, has_line ? line.shop_id : "", code) !=
            1)
            return;
        out->code = code;
        out->outcome = INTAKE_REFUSED;
        rf_info("event=return_refused return_id=%s platform=%s platform_return_id=%s reason=%s",
                out->return_id, r->platform, r->platform_return_id, code);
        return;
    }
    rf_ulid_new(out->return_id);
    if (intake_db_insert_return(db, out->return_id, r, line.shop_id, ceiling) != 1) return;
    if (emit_requested(bus, out->return_id, r, &line, ceiling) != 0) return;
    out->outcome = INTAKE_CREATED;
    rf_info("event=return_requested return_id=%s platform=%s platform_return_id=%s kind=%s",
            out->return_id, r->platform, r->platform_return_id, r->kind);
}

/* ---- the backlog limit ------------------------------------------------------------- */

int64_t intake_max_backlog;

bool intake_pipeline_busy(rf_worker_t *w, int64_t *backlog) {
    *backlog = rf_bus_backlog(rf_worker_bus(w));
    return intake_max_backlog > 0 && *backlog >= intake_max_backlog;
}
