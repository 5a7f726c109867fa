-- tables: bids@ts
SELECT auction, COUNT(*) AS bids, SUM(price) AS total, AVG(price) AS average FROM bids GROUP BY auction
