-- An exchange is settled with goods, not money: its plan ends in 'exchange'.
ALTER TABLE plans DROP CONSTRAINT plans_status_check;
ALTER TABLE plans ADD CONSTRAINT plans_status_check
    CHECK (status IN ('waiting_goods', 'refunded', 'failed', 'disputed', 'cancelled', 'exchange'));
