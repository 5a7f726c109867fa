-- tables: bids@ts
CREATE VIEW dear AS SELECT auction, price, ts FROM bids WHERE price > 8;
SELECT auction, window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE dear, DESCRIPTOR(ts), INTERVAL '15' SECOND))
GROUP BY auction, window_start, window_end
