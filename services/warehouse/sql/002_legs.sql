-- warehouse: the supplier leg of dropshipped goods (requested -> in_transit ->
-- supplier_received -> supplier_credit_issued | supplier_credit_denied, with
-- the supplier's acceptance window), and the replacement of an exchange
-- shipped by the supplier (reship request).

ALTER TABLE expected_parcels ADD COLUMN kind text NOT NULL DEFAULT 'return_refund';

CREATE TABLE supplier_legs (
    return_id   text PRIMARY KEY,
    supplier_id text NOT NULL DEFAULT '',
    sku_id      text NOT NULL DEFAULT '',
    quantity    integer NOT NULL DEFAULT 1,
    state       text NOT NULL CHECK (state IN ('requested', 'in_transit', 'supplier_received',
                                               'supplier_credit_issued', 'supplier_credit_denied')),
    accept_by   timestamptz NOT NULL,              -- the supplier's acceptance window ends
    tracking_no text,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX supplier_legs_open ON supplier_legs (accept_by)
    WHERE state IN ('requested', 'in_transit');

CREATE TABLE supplier_leg_history (
    id         bigserial PRIMARY KEY,
    return_id  text NOT NULL REFERENCES supplier_legs,
    state      text NOT NULL,
    by_user    text NOT NULL,
    late       boolean NOT NULL DEFAULT false,     -- moved after the acceptance window
    at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reships (
    return_id   text PRIMARY KEY,
    supplier_id text NOT NULL DEFAULT '',
    sku_id      text NOT NULL DEFAULT '',
    quantity    integer NOT NULL DEFAULT 1,
    state       text NOT NULL CHECK (state IN ('requested', 'shipped', 'delivered', 'cancelled')),
    tracking_no text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
