-- refund: what refund told the platform (agree a refund-only request,
-- confirm the goods' receipt, which makes the platform refund), so money
-- calls reach the platform exactly once and an operator can see what was
-- said (rf/platform_calls.h); and the platform's ids on each plan.

CREATE TABLE platform_calls (
    call_id            bigserial PRIMARY KEY,
    return_id          text NOT NULL,
    platform           text NOT NULL,
    platform_return_id text NOT NULL,
    purpose            text NOT NULL,                  -- approve_refund | confirm_receipt
    method             text NOT NULL,                  -- the platform API method
    param              jsonb NOT NULL,                 -- the business parameters sent
    idempotency_key    text NOT NULL UNIQUE,           -- sent as Idempotency-Key
    platform_version   bigint NOT NULL DEFAULT 0,      -- record version the decision saw
    context            jsonb NOT NULL DEFAULT '{}',    -- the decision (who, amount, reason)
    state              text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed',
                                                      'superseded', 'not_sent')),
    attempts           integer NOT NULL DEFAULT 0,     -- failures (rate limits not counted)
    rate_limited       integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz,
    outcome            text,                           -- what the final answer meant
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    done_at            timestamptz
);
CREATE INDEX platform_calls_due ON platform_calls (next_attempt_at) WHERE state = 'pending';
CREATE INDEX platform_calls_return ON platform_calls (return_id);

CREATE TABLE platform_call_attempts (
    id              bigserial PRIMARY KEY,
    call_id         bigint NOT NULL REFERENCES platform_calls,
    method          text NOT NULL,
    param           jsonb NOT NULL,
    idempotency_key text NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL,
    outcome         text NOT NULL,                     -- ok | refused | rate_limited | transport
    result_code     integer NOT NULL DEFAULT 0,
    answer          text,                              -- the platform's answer, as sent
    error           text
);
CREATE INDEX platform_call_attempts_call ON platform_call_attempts (call_id);

ALTER TABLE plans ADD COLUMN platform text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN shop_id text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN platform_return_id text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN platform_version bigint NOT NULL DEFAULT 0;
