-- notification: delivery of each message through its channels (log, HTTP
-- webhook) from a queue with retries and backoff, satisfaction surveys sent
-- after a return completes, and the buyers' answers.

ALTER TABLE messages ALTER COLUMN status SET DEFAULT 'queued';
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('queued', 'sent', 'failed'));
ALTER TABLE messages ADD COLUMN locale text NOT NULL DEFAULT 'zh-CN';
ALTER TABLE messages ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE messages ADD COLUMN delivered_at timestamptz;
ALTER TABLE messages ADD COLUMN last_error text;
ALTER TABLE messages ADD COLUMN delivered_via text;   -- 'log' or 'log+webhook'
CREATE INDEX messages_queue ON messages (next_attempt_at) WHERE status = 'queued';


CREATE TABLE surveys (
    return_id  text PRIMARY KEY,                 -- one survey per return
    due_at     timestamptz NOT NULL,
    notice_id  text,                             -- the survey message, once sent
    sent_at    timestamptz
);
CREATE INDEX surveys_due ON surveys (due_at) WHERE sent_at IS NULL;

CREATE TABLE feedback (
    return_id   text PRIMARY KEY REFERENCES surveys,
    score       integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now()
);
