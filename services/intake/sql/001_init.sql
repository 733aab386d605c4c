-- intake: orders from the platform feeds, return requests, and the timeline
-- of every event about each return (intake follows them all to answer
-- "where is return X").

CREATE TABLE orders (
    platform         text NOT NULL,
    order_id         text NOT NULL,          -- platform id: text, never a number
    shop_id          text NOT NULL,
    buyer_id         text NOT NULL DEFAULT '',
    region           text NOT NULL DEFAULT '',
    paid_at          timestamptz,
    delivered_at     timestamptz,            -- buyer signed for the goods
    payment_method   text NOT NULL DEFAULT '',
    shipping_fee_fen bigint NOT NULL DEFAULT 0 CHECK (shipping_fee_fen >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, order_id)
);

CREATE TABLE order_lines (
    platform       text NOT NULL,
    order_id       text NOT NULL,
    line_id        text NOT NULL,
    sku_id         text NOT NULL,
    title          text NOT NULL DEFAULT '',
    category       text NOT NULL DEFAULT '',
    quantity       integer NOT NULL CHECK (quantity > 0),
    unit_price_fen bigint NOT NULL CHECK (unit_price_fen >= 0),
    supplier_id    text NOT NULL DEFAULT '',
    PRIMARY KEY (platform, order_id, line_id),
    FOREIGN KEY (platform, order_id) REFERENCES orders ON DELETE CASCADE
);

CREATE TABLE returns (
    return_id            text PRIMARY KEY,   -- ULID
    platform             text NOT NULL,
    platform_return_id   text NOT NULL,
    shop_id              text NOT NULL,
    order_id             text NOT NULL,
    line_id              text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('refund_only', 'return_refund', 'exchange')),
    quantity             integer NOT NULL CHECK (quantity > 0),
    reason_code          text NOT NULL,
    reason_text          text NOT NULL DEFAULT '',
    requested_amount_fen bigint NOT NULL CHECK (requested_amount_fen >= 0),
    paid_amount_fen      bigint NOT NULL CHECK (paid_amount_fen >= 0),
    requested_at         timestamptz NOT NULL,
    platform_deadline_at timestamptz,
    status               text NOT NULL DEFAULT 'requested',
    status_rank          integer NOT NULL DEFAULT 0,
    reject_reason        text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, platform_return_id),
    FOREIGN KEY (platform, order_id, line_id) REFERENCES order_lines
);
CREATE INDEX returns_status ON returns (status, updated_at);
CREATE INDEX returns_line ON returns (platform, order_id, line_id);

CREATE TABLE timeline (
    id          bigserial PRIMARY KEY,
    return_id   text NOT NULL REFERENCES returns,
    event_id    text NOT NULL UNIQUE,
    type        text NOT NULL,
    producer    text NOT NULL,
    occurred_at timestamptz NOT NULL,
    body        jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timeline_return ON timeline (return_id, occurred_at);
