-- tables: bids@ts
SELECT * FROM bids MATCH_RECOGNIZE (
  PARTITION BY auction ORDER BY ts
  MEASURES A.price AS first_price, C.price AS last_price, MATCH_ROWTIME() AS at_time
  PATTERN (A B C)
  DEFINE B AS B.price > A.price, C AS C.price > B.price
)
