-- tables: bids@ts
SELECT DISTINCT bidder, auction > 1 AS later FROM bids
