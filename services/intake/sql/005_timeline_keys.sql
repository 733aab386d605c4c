-- intake: the timeline gets a row for every event intake hears, about eight
-- per return, and each row paid for two things it did not need:
--  * the foreign key to returns: a trigger per row that looks the return up
--    again and locks it (FOR KEY SHARE, a WAL record on the return's page).
--    Every writer already checks in its own statement that the return exists
--    (the single-row insert with WHERE EXISTS, the follow flush by primary
--    key, deferring events of returns intake does not know yet). The only
--    returns ever deleted are refused ones, which have no events.
--  * an index on the surrogate id. Rows are read by return and looked up by
--    event id (unique, NOT NULL: the table's key); id stays, as the order in
--    which rows were recorded.
ALTER TABLE timeline DROP CONSTRAINT timeline_return_id_fkey;
ALTER TABLE timeline DROP CONSTRAINT timeline_pkey;
