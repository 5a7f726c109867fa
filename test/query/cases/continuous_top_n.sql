-- tables: bids@ts
SELECT auction, price, bidder, rn FROM (
  SELECT auction, price, bidder, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids
) WHERE rn <= 2
