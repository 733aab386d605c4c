-- refund: the platform's ids on each plan, so the money calls (agree a
-- refund-only request, confirm the goods' receipt) can be made; the calls
-- themselves are in platform_calls, created by platform/platform_calls.h.

ALTER TABLE plans ADD COLUMN platform text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN shop_id text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN platform_return_id text NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN platform_version bigint NOT NULL DEFAULT 0;
