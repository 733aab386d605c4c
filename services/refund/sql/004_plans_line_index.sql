-- refund: the index on plans.line_key covers every row. The partial index
-- (line_key <> '') could not serve the prepared statement `line_key = $1`
-- (its plan must hold for any value, '' included), so each refund scanned
-- every plan of every line.
DROP INDEX IF EXISTS plans_line;
CREATE INDEX plans_line ON plans (line_key);
