-- refund: the facts the amount rules need on each plan, refunds that wait for
-- a finance approval or another platform attempt, the sandbox adapter's
-- record of calls, and claims that are settled or written off.

ALTER TABLE plans DROP CONSTRAINT plans_status_check;
ALTER TABLE plans ADD CONSTRAINT plans_status_check
    CHECK (status IN ('waiting_goods', 'awaiting_approval', 'refunding', 'refunded', 'failed',
                      'disputed', 'cancelled', 'exchange'));
ALTER TABLE plans ADD COLUMN reason_code text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN cost_bearer text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN line_key text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN quantity integer NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN line_paid_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN line_quantity integer NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN shipping_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN freight_insured boolean NOT NULL DEFAULT false;
CREATE INDEX plans_line ON plans (line_key) WHERE line_key <> '';

ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('awaiting_approval', 'pending', 'issued', 'failed', 'cancelled'));
ALTER TABLE refunds ADD COLUMN goods_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN shipping_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN deduction_fen bigint NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE refunds ADD COLUMN approved_by text;
ALTER TABLE refunds ADD COLUMN approved_at timestamptz;
ALTER TABLE refunds ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';

-- What the sandbox adapter was asked to do (it says it is a sandbox).
CREATE TABLE sandbox_calls (
    idempotency_key text PRIMARY KEY,                -- a second call is the same refund
    return_id       text NOT NULL,
    refund_id       text NOT NULL,
    amount_fen      bigint NOT NULL,
    platform_ref    text NOT NULL,
    calls           integer NOT NULL DEFAULT 1,
    first_at        timestamptz NOT NULL DEFAULT now(),
    last_at         timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE claims ADD CONSTRAINT claims_status_check
    CHECK (status IN ('open', 'settled', 'written_off'));
ALTER TABLE claims ADD COLUMN closed_by text;
ALTER TABLE claims ADD COLUMN closed_at timestamptz;
ALTER TABLE claims ADD COLUMN note text;
CREATE INDEX claims_party ON claims (party, party_id, status);
