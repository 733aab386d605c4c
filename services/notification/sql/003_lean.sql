-- notification, lean: a message is written once. Delivered by the log
-- channel within its transaction, it is inserted in messages final; one that
-- waits for the webhook waits in deliveries, whose rows leave when delivered
-- (the message is then inserted in messages, final). The survey row is
-- written once, when the survey is sent; a survey due later waits in
-- survey_schedule. return_shops: the shop of each return whose shop has a
-- notification policy of its own (RF_NOTIFICATION_POLICY_FILE).

CREATE TABLE deliveries (
    idempotency_key text PRIMARY KEY,                -- source event + audience
    notice_id       text NOT NULL,
    return_id       text NOT NULL,                   -- no index: a short queue
    source_event_id text NOT NULL,
    audience        text NOT NULL CHECK (audience IN ('buyer', 'supplier', 'ops')),
    channel         text NOT NULL,
    template_name   text NOT NULL,
    body            text NOT NULL,
    locale          text NOT NULL DEFAULT 'zh-CN',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);

-- Messages still queued move to the queue (and are delivered from there).
INSERT INTO deliveries (idempotency_key, notice_id, return_id, source_event_id, audience,
                        channel, template_name, body, locale, attempts, next_attempt_at,
                        last_error, created_at)
SELECT idempotency_key, notice_id, return_id, source_event_id, audience, channel,
       template_name, body, locale, attempts, next_attempt_at, last_error, created_at
FROM messages WHERE status = 'queued';
DELETE FROM messages WHERE status = 'queued';
DROP INDEX messages_queue;
ALTER TABLE messages ALTER COLUMN status SET DEFAULT 'sent';
-- The idempotency key is the message's key; nothing looks a message up by
-- notice_id (one index fewer per message).
ALTER TABLE messages DROP CONSTRAINT messages_pkey,
    DROP CONSTRAINT messages_idempotency_key_key,
    ADD PRIMARY KEY (idempotency_key);

CREATE TABLE survey_schedule (
    return_id text PRIMARY KEY,
    due_at    timestamptz NOT NULL
);
CREATE INDEX survey_schedule_due ON survey_schedule (due_at);
-- Surveys not yet sent move to the schedule (no feedback can name them:
-- feedback needs a survey sent).
INSERT INTO survey_schedule (return_id, due_at)
SELECT return_id, due_at FROM surveys WHERE sent_at IS NULL;
DELETE FROM surveys WHERE sent_at IS NULL;
DROP INDEX surveys_due;

CREATE TABLE return_shops (
    return_id text PRIMARY KEY,
    shop_id   text NOT NULL
);
