-- tables: bids@ts
SELECT top, COUNT(*) AS auctions FROM (SELECT auction, MAX(price) AS top FROM bids GROUP BY auction) AS m
WHERE top > 10 GROUP BY top
