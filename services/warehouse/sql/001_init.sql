-- warehouse: parcels expected back, receipts at the return point (matched or
-- not), inspection grades and dispositions, and the stock ledger.

CREATE TABLE expected_parcels (
    return_id   text PRIMARY KEY,
    sku_id      text NOT NULL DEFAULT '',
    supplier_id text NOT NULL DEFAULT '',
    quantity    integer NOT NULL DEFAULT 1,
    destination text NOT NULL DEFAULT 'merchant',  -- merchant | supplier
    tracking_no text,
    status      text NOT NULL CHECK (status IN ('expected', 'received', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    received_at timestamptz
);
CREATE INDEX expected_parcels_tracking ON expected_parcels (tracking_no) WHERE tracking_no IS NOT NULL;

CREATE TABLE receipts (
    receipt_id  text PRIMARY KEY,
    return_id   text,                                -- NULL: matched nothing
    tracking_no text,
    grade       text NOT NULL,
    disposition text NOT NULL,
    received_by text NOT NULL,
    matched     boolean NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX receipts_one_per_return ON receipts (return_id) WHERE return_id IS NOT NULL;

CREATE TABLE stock_ledger (
    id         bigserial PRIMARY KEY,
    sku_id     text NOT NULL,
    delta      integer NOT NULL,
    location   text NOT NULL,                      -- stock | quarantine | supplier | scrap
    reason     text NOT NULL,
    return_id  text,
    receipt_id text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_ledger_sku ON stock_ledger (sku_id, at);
