-- notification: every message sent about a return (to the buyer, the
-- supplier or the operations team), at most once per event and audience.

CREATE TABLE messages (
    notice_id       text PRIMARY KEY,
    return_id       text NOT NULL,
    source_event_id text NOT NULL,
    audience        text NOT NULL CHECK (audience IN ('buyer', 'supplier', 'ops')),
    channel         text NOT NULL,
    template_name   text NOT NULL,
    body            text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,           -- source event + audience
    status          text NOT NULL DEFAULT 'sent',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_return ON messages (return_id, created_at);
