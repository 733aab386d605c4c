-- refund: what each approved return will be refunded (the plan), the refunds
-- executed (at most one per return), and claims against the party that
-- caused the return.

CREATE TABLE plans (
    return_id      text PRIMARY KEY,
    kind           text NOT NULL,
    amount_fen     bigint NOT NULL CHECK (amount_fen >= 0),
    goods_expected boolean NOT NULL,
    liability      text NOT NULL DEFAULT '',
    supplier_id    text NOT NULL DEFAULT '',
    status         text NOT NULL CHECK (status IN ('waiting_goods', 'refunded', 'failed', 'disputed', 'cancelled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refunds (
    refund_id       text PRIMARY KEY,
    return_id       text NOT NULL UNIQUE REFERENCES plans,   -- never two refunds for one return
    amount_fen      bigint NOT NULL CHECK (amount_fen >= 0),
    idempotency_key text NOT NULL UNIQUE,                    -- sent with the platform call
    status          text NOT NULL CHECK (status IN ('issued', 'failed')),
    platform_ref    text,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE claims (
    claim_id   text PRIMARY KEY,
    return_id  text NOT NULL UNIQUE REFERENCES plans,
    party      text NOT NULL CHECK (party IN ('supplier', 'carrier')),
    party_id   text NOT NULL DEFAULT '',
    amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
    status     text NOT NULL DEFAULT 'open',
    created_at timestamptz NOT NULL DEFAULT now()
);
