-- tables: bids@ts
SELECT bidder, price, MAX(price) OVER (PARTITION BY bidder ORDER BY ts RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW) AS recent_max
FROM bids
