-- tables: bids@ts, people@ts
SELECT CAST(bidder AS STRING) AS who, ts FROM bids WHERE price > 30
UNION ALL
SELECT name AS who, ts FROM people WHERE city = 'Oslo'
