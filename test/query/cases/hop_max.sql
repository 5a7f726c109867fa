-- tables: bids@ts
SELECT window_start, window_end, MAX(price) AS top, COUNT(DISTINCT auction) AS auctions
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '20' SECOND))
GROUP BY window_start, window_end
