-- review: the version of the platform's record each task was decided on,
-- where its decision stands on the platform (the calls themselves are in
-- platform_calls, created by platform/platform_calls.h), and the platform's return
-- address id of each supplier that takes goods back.

ALTER TABLE tasks ADD COLUMN platform_version bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN platform_state text NOT NULL DEFAULT ''
    CHECK (platform_state IN ('', 'pending', 'accepted', 'refused', 'not_sent'));
ALTER TABLE suppliers ADD COLUMN return_address_id text NOT NULL DEFAULT '';
