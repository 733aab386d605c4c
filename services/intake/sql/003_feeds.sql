-- intake: the platform feeds. Pushes are spooled to a local file by the feed
-- receiver before they are answered; the worker drains the spool into these
-- tables (deduplicated by the platform's event id), then processes them.

-- Where the drain of each local spool has got to (one row per host:directory,
-- so replicas on several hosts each drain their own).
CREATE TABLE feed_spool_checkpoint (
    spool     text PRIMARY KEY,           -- "<host>:<spool directory>"
    segment   text NOT NULL,              -- spool segment file name
    position  bigint NOT NULL,            -- bytes of it already in the database
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every accepted push message, once per platform event id.
CREATE TABLE feed_pushes (
    seq          bigserial,               -- arrival order (the spool's order)
    platform     text NOT NULL,
    event_id     text NOT NULL,           -- Kuaishou eventId, Douyin msg_id
    topic        text NOT NULL DEFAULT '',-- Kuaishou event, Douyin tag
    biz_id       text NOT NULL DEFAULT '',-- the platform's refund / after-sale id
    push_version bigint NOT NULL DEFAULT 0, -- the record's version the push names, ms (0: none)
    message      jsonb NOT NULL,          -- the decrypted / verified message
    source       text NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text NOT NULL DEFAULT '',
    duplicates   integer NOT NULL DEFAULT 0, -- copies of this event received again
    PRIMARY KEY (platform, event_id)
);
CREATE INDEX feed_pushes_unprocessed ON feed_pushes (platform, seq) WHERE processed_at IS NULL;
CREATE INDEX feed_pushes_biz ON feed_pushes (platform, biz_id);

-- Messages refused at the door (not decryptable, not parseable, bad sign).
CREATE TABLE feed_refused (
    id          bigserial PRIMARY KEY,
    platform    text NOT NULL,
    reason      text NOT NULL,
    body        text NOT NULL,            -- the raw body as received (cut at 64 KiB)
    source      text NOT NULL DEFAULT '', -- the sender's address
    received_at timestamptz NOT NULL,
    segment     text NOT NULL,
    position    bigint NOT NULL,
    UNIQUE (segment, position)            -- the spool position: recorded once
);

-- The newest version of each platform record intake has applied.
CREATE TABLE feed_records (
    platform           text NOT NULL,
    platform_return_id text NOT NULL,
    order_id           text NOT NULL,
    version            bigint NOT NULL,   -- the record's updateTime, ms
    platform_status    text,              -- neutral status; NULL: a pair the mapping does not know
    platform_code      text NOT NULL,     -- the platform's own, e.g. "21/1"
    kind               text,
    amount_fen         bigint NOT NULL,
    tracking_no        text NOT NULL DEFAULT '',
    state              text NOT NULL CHECK (state IN ('noted', 'pending', 'created', 'refused')),
    record             jsonb NOT NULL,    -- the neutral record (kept to create it later)
    note               text NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, platform_return_id)
);
CREATE INDEX feed_records_pending ON feed_records (platform, order_id) WHERE state = 'pending';

-- Orders asked of the platform for returns waiting on them.
CREATE TABLE feed_order_asks (
    platform  text NOT NULL,
    order_id  text NOT NULL,
    asked_at  timestamptz NOT NULL DEFAULT now(),
    attempts  integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    PRIMARY KEY (platform, order_id)
);

-- The poller's durable position: the window being listed and its page cursor.
CREATE TABLE feed_poll_checkpoint (
    platform     text PRIMARY KEY,
    window_begin bigint NOT NULL,         -- ms, inclusive
    window_end   bigint NOT NULL,         -- ms, exclusive; = window_begin: no window open
    pcursor      text NOT NULL DEFAULT '',-- the next page of the open window
    windows_done bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
