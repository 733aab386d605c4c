-- intake: the merchant's shops on each platform, authorised by OAuth, and the
-- tokens intake keeps renewing for them (intake owns shops: see the README's
-- "Shops and tokens"). Tokens are stored sealed (runtime/secrets.h) and never
-- leave this table in the clear: the other workers that call the platform get
-- the access token sealed, by the shop.token event.

CREATE TABLE shops (
    platform              text NOT NULL CHECK (platform IN ('kuaishou', 'douyin')),
    shop_id               text NOT NULL,        -- Kuaishou: the authorisation's open_id; Douyin: shop_id
    name                  text NOT NULL DEFAULT '',
    status                text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'refresh_failing', 'reauthorize_needed', 'disabled')),
    status_reason         text NOT NULL DEFAULT '',
    access_token_sealed   text NOT NULL DEFAULT '',
    refresh_token_sealed  text NOT NULL DEFAULT '',
    scopes                text NOT NULL DEFAULT '',
    access_expires_at     timestamptz,
    refresh_expires_at    timestamptz,
    renew_at              timestamptz,          -- a third of the access token's life left
    token_version         bigint NOT NULL DEFAULT 0,  -- grows with every token or status
    refresh_started_at    timestamptz,          -- a renewal in flight (its lease)
    refresh_failures      integer NOT NULL DEFAULT 0, -- in a row, without an answer
    refreshes             bigint NOT NULL DEFAULT 0,
    last_refresh_at       timestamptz,
    authorized_at         timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, shop_id)
);
-- the renewal pass: shops whose token is due (few rows; partial)
CREATE INDEX shops_renew_due ON shops (renew_at) WHERE status IN ('active', 'refresh_failing');

-- One row per authorisation started from the ops page or rfctl: the state
-- sent to the platform's authorise page, checked when the owner comes back.
CREATE TABLE oauth_states (
    state      text PRIMARY KEY,                -- 32 random bytes, hex
    platform   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Each shop polls its own refund list and asks its own orders: the poll
-- checkpoint and the order asks are per shop ('' is the shop of the fixed
-- RF_KUAISHOU_ACCESS_TOKEN, when one is set).
ALTER TABLE feed_poll_checkpoint ADD COLUMN shop_id text NOT NULL DEFAULT '';
ALTER TABLE feed_poll_checkpoint DROP CONSTRAINT feed_poll_checkpoint_pkey;
ALTER TABLE feed_poll_checkpoint ADD PRIMARY KEY (platform, shop_id);
ALTER TABLE feed_order_asks ADD COLUMN shop_id text NOT NULL DEFAULT '';
