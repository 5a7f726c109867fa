-- tables: bids@ts
SELECT auction, price, SUM(price) OVER (PARTITION BY auction ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS last_two
FROM bids
