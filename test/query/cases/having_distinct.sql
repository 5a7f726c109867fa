-- tables: bids@ts
SELECT bidder, COUNT(DISTINCT auction) AS auctions, LISTAGG(CAST(price AS STRING), '/') AS prices
FROM bids GROUP BY bidder HAVING COUNT(*) > 2
