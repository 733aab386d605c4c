-- review: one task per return request, the decisions taken on it (who, when,
-- why) and the liability set for it.

CREATE TABLE tasks (
    return_id            text PRIMARY KEY,
    platform             text NOT NULL,
    shop_id              text NOT NULL,
    platform_return_id   text NOT NULL,
    kind                 text NOT NULL,
    quantity             integer NOT NULL,
    reason_code          text NOT NULL,
    requested_amount_fen bigint NOT NULL,
    paid_amount_fen      bigint NOT NULL,
    sku_id               text NOT NULL DEFAULT '',
    supplier_id          text NOT NULL DEFAULT '',
    category             text NOT NULL DEFAULT '',
    buyer_id             text NOT NULL DEFAULT '',
    deadline_at          timestamptz,            -- the platform's deadline for the seller
    status               text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    required_role        text NOT NULL,          -- cs | cs_supervisor | auto
    liability            text NOT NULL,          -- supplier | carrier | merchant | buyer
    decided_by           text,
    decided_at           timestamptz,
    reject_reason        text,
    note                 text,
    disputed             boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_pending ON tasks (status, deadline_at);

CREATE TABLE decisions (
    id          bigserial PRIMARY KEY,
    return_id   text NOT NULL REFERENCES tasks,
    decision    text NOT NULL,                   -- approved | rejected | cancelled | disputed
    decided_by  text NOT NULL,
    reason_code text,
    note        text,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_return ON decisions (return_id);
