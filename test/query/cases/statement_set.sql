-- tables: bids@ts
-- Three INSERTs run as one job: they share the bids source and the view `dear` (planned once),
-- and each table gets the rows its INSERT gives alone.
CREATE VIEW dear AS SELECT auction, bidder, price, ts FROM bids WHERE price > 8;

CREATE TABLE per_window (auction BIGINT, window_start TIMESTAMP(3), bids BIGINT, top BIGINT)
WITH ('connector' = 'blackhole');
CREATE TABLE per_bidder (bidder BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE cheap (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');

EXECUTE STATEMENT SET
BEGIN
  INSERT INTO per_window
  SELECT auction, window_start, COUNT(*), MAX(price)
  FROM TABLE(TUMBLE(TABLE dear, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY auction, window_start, window_end;
  INSERT INTO per_bidder SELECT bidder, COUNT(*) FROM dear GROUP BY bidder;
  INSERT INTO cheap SELECT auction, price FROM bids WHERE price <= 8;
END;
