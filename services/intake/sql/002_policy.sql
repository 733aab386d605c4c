-- intake: per-shop return policy, discounts and shipping shared to lines,
-- the buyer's exclusion confirmation, and refused requests kept for analysis.

CREATE TABLE policies (
    shop_id    text PRIMARY KEY,                 -- '*' is the default for every shop
    doc        jsonb NOT NULL,                   -- see README "## Policy"
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE orders ADD COLUMN discount_fen bigint NOT NULL DEFAULT 0 CHECK (discount_fen >= 0);
ALTER TABLE orders ADD COLUMN freight_insured boolean NOT NULL DEFAULT false;
ALTER TABLE order_lines ADD COLUMN exclusion_confirmed boolean NOT NULL DEFAULT false;
-- line total after its pro-rata share of the order discount, and its share of shipping
ALTER TABLE order_lines ADD COLUMN paid_fen bigint;
ALTER TABLE order_lines ADD COLUMN shipping_fen bigint NOT NULL DEFAULT 0;

-- A request refused at once by the policy is still recorded (status rejected,
-- refused true): its order line may be unknown, so the foreign key goes.
ALTER TABLE returns DROP CONSTRAINT IF EXISTS returns_platform_order_id_line_id_fkey;
ALTER TABLE returns ADD COLUMN refused boolean NOT NULL DEFAULT false;
CREATE INDEX returns_open_line ON returns (platform, order_id, line_id)
    WHERE status NOT IN ('rejected', 'cancelled', 'refunded', 'exchanged', 'closed');
