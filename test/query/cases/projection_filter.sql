-- tables: bids@ts
SELECT auction, bidder, price * 10 AS cents FROM bids WHERE price >= 20 AND bidder <> 12
