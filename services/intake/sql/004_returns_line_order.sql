-- intake: returns_line led with platform, so for "the return with this
-- platform id" (platform = $1 AND platform_return_id = $2) a prepared
-- statement's generic plan could pick it over the unique key and read every
-- return of the platform. Lead with the order instead; every query that uses
-- it gives all three columns.
DROP INDEX returns_line;
CREATE INDEX returns_line ON returns (order_id, line_id, platform);
