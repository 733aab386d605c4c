-- review: per-shop policy (ordered rules, limits), supplier settings
-- (where returned goods go), cost bearer, returnless refunds, line facts for
-- the refund, deadline alerts, and disputes sent back by the warehouse.

CREATE TABLE policies (
    shop_id    text PRIMARY KEY,                -- '*' applies to every shop without its own
    doc        jsonb NOT NULL,                  -- see README "## Policy"
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suppliers (
    supplier_id text PRIMARY KEY,
    destination text NOT NULL DEFAULT 'merchant' CHECK (destination IN ('merchant', 'supplier')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled', 'disputed'));
ALTER TABLE tasks ADD COLUMN rule_name text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN cost_bearer text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN destination text NOT NULL DEFAULT 'merchant';
ALTER TABLE tasks ADD COLUMN returnless boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN freight_insured boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN line_key text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN line_paid_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN line_quantity integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN shipping_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN alerted_at timestamptz;      -- deadline alert raised (once)
CREATE INDEX tasks_buyer ON tasks (shop_id, buyer_id, created_at);
CREATE INDEX tasks_deadline ON tasks (deadline_at) WHERE status = 'pending' AND alerted_at IS NULL;
