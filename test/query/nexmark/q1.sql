-- Query1: Currency conversion
-- Convert each bid value from dollars to euros. Illustrates a simple transformation.

-- The time column is `dateTime`, as in the suite's table definition and its other queries; one
-- revision of the suite renamed it `customTime` in the views over its generator table, and wrote
-- this query with that name.
CREATE TABLE nexmark_q1 (
  auction  BIGINT,
  bidder  BIGINT,
  price  DECIMAL(23, 3),
  dateTime  TIMESTAMP(3),
  extra  VARCHAR
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q1
SELECT
    auction,
    bidder,
    0.908 * price as price, -- convert dollar to euro
    dateTime,
    extra
FROM bid;
