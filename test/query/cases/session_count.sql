-- tables: bids@ts
SELECT bidder, window_start, window_end, COUNT(*) AS bids
FROM TABLE(SESSION(TABLE bids PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '8' SECOND))
GROUP BY bidder, window_start, window_end
